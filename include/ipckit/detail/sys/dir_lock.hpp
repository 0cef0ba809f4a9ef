#pragma once
// An exclusive flock(2) on a directory, held for a few system calls. ipckit's Unix listeners
// take it on a socket file's directory while they bind and listen, and judge a file found there
// stale, remove it and bind in its place, so that of two binding one stale path at once, one
// replaces the file and the other then finds the first's live socket (already_exists), rather
// than each removing the other's file and both listening, one at a path that no longer leads
// to it.
//
// The kernel drops the lock when its holder dies. The wait for it is bounded: a holder keeps it
// for microseconds, but a program other than ipckit may flock the directory for its own
// reasons, or a child forked during a hold may keep the description open; past the bound the
// caller goes on without it, as it would for a directory it cannot open (it is then unguarded
// against a racing binder, as before the lock, and nothing worse).

#include <cerrno>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

namespace ipckit::detail::sys {

class directory_lock {
public:
    directory_lock() noexcept = default;
    /// Takes the lock on `dir`, waiting up to about a second; held() says whether it did.
    explicit directory_lock(const std::string& dir) noexcept
        : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
        if (fd_ < 0) return;
        for (int attempt = 0; attempt < 1000; ++attempt) {
            if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
            if (errno != EWOULDBLOCK && errno != EINTR) break;
            struct timespec pause {0, 1'000'000};
            ::nanosleep(&pause, nullptr);
        }
        ::close(fd_);
        fd_ = -1;
    }
    directory_lock(const directory_lock&) = delete;
    directory_lock& operator=(const directory_lock&) = delete;
    directory_lock(directory_lock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    directory_lock& operator=(directory_lock&& o) noexcept {
        if (this != &o) {
            release();
            fd_ = o.fd_;
            o.fd_ = -1;
        }
        return *this;
    }
    ~directory_lock() { release(); }

    [[nodiscard]] bool held() const noexcept { return fd_ >= 0; }

private:
    /// Unlocks before closing: a child forked meanwhile shares the description, and closing
    /// only this descriptor would leave the lock to it.
    void release() noexcept {
        if (fd_ < 0) return;
        ::flock(fd_, LOCK_UN);
        ::close(fd_);
        fd_ = -1;
    }

    int fd_ = -1;
};

}  // namespace ipckit::detail::sys
