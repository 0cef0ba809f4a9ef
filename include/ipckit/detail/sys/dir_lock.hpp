#pragma once
// An exclusive flock(2) on a directory, held for a few system calls. ipckit's Unix listeners
// take it on a socket file's directory while they bind and listen, and judge a file found there
// stale, remove it and bind in its place; and a closing listener takes it while it checks that
// the path still names its own file and removes it. So of two binding one stale path at once,
// one replaces the file and the other then finds the first's live socket (already_exists),
// rather than each removing the other's file and both listening, one at a path that no longer
// leads to it.
//
// The kernel drops the lock when its holder dies. The wait for it is bounded: a holder keeps it
// for microseconds, but a program other than ipckit may flock the directory for its own
// reasons; past the bound the caller goes on without it, as it does for a directory it cannot
// open (it is then unguarded against a racing binder, as before the lock, and nothing worse).

#include <ipckit/detail/sys/shm.hpp>

#include <string>

#include <fcntl.h>
#include <time.h>

namespace ipckit::detail::sys {

class directory_lock {
public:
    /// Takes the lock on `dir`, waiting up to about a second (past that, or for a directory it
    /// cannot open, it holds nothing).
    explicit directory_lock(const std::string& dir) noexcept
        : dir_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
        if (dir_.get() < 0) return;
        for (int attempt = 0; attempt < 1000; ++attempt) {
            if (try_lock(dir_, true)) {
                held_ = true;
                return;
            }
            struct timespec pause {0, 1'000'000};
            ::nanosleep(&pause, nullptr);
        }
    }
    directory_lock(const directory_lock&) = delete;
    directory_lock& operator=(const directory_lock&) = delete;
    /// Unlocks before the descriptor closes: a child forked meanwhile shares the description,
    /// and closing only this descriptor would leave the lock to it.
    ~directory_lock() {
        if (held_) unlock(dir_);
    }

private:
    file dir_;
    bool held_ = false;
};

}  // namespace ipckit::detail::sys
