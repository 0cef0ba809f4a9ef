#pragma once
// Helpers for the inspection tests (inspect_test.cpp, ipckit_tool_test.cpp): a segment's file,
// overwriting it as a stray write would, files that ipckit did not make, and segments left
// behind by processes killed at the wrong moment.

#include "messages.hpp"
#include "support.hpp"

#include <ipckit/inspect.hpp>
#include <ipckit/queue.hpp>
#include <ipckit/segment.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace ipckit_test {

/// The file of segment `name`.
inline std::string file_of(const std::string& name) { return std::string(ipckit::detail::sys::shm_dir) + "/ipckit." + name; }

/// Removes segment `name` by its name alone, as `rm /dev/shm/ipckit.<name>` would: how a test
/// leaves an unbounded queue's chunks behind (ipckit::remove_segment refuses to).
inline bool unlink_only(const std::string& name) {
    return ipckit::detail::sys::shm_remove(ipckit::detail::os_name(name));
}

/// The segment `name` as list_segments() shows it (failing the test if it is not there).
inline ipckit::segment_info listed(const std::string& name) {
    for (auto& s : ipckit::list_segments())
        if (s.name == name) return s;
    FAIL("list_segments() does not list " << name);
    return {};
}

/// Overwrites `n` bytes of segment `name`'s file at `offset`.
inline void scribble(const std::string& name, std::size_t offset, const void* bytes, std::size_t n) {
    const int fd = ::open(file_of(name).c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    const auto written = ::pwrite(fd, bytes, n, static_cast<off_t>(offset));
    ::close(fd);
    REQUIRE(written == static_cast<ssize_t>(n));
}

/// Creates segment `name`'s file with `bytes` in it, as something other than ipckit would.
inline void write_foreign(const std::string& name, const std::vector<unsigned char>& bytes) {
    const int fd = ::open(file_of(name).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    const auto written = bytes.empty() ? 0 : ::write(fd, bytes.data(), bytes.size());
    ::close(fd);
    REQUIRE(written == static_cast<ssize_t>(bytes.size()));
}

/// A layout no queue has, for segments made by hand.
inline ipckit::segment_layout test_layout(const std::string& what) { return {"ipckit_test::" + what, 4096}; }

/// Forks a child that starts creating segment `name`, to be killed before it finishes
/// initialising it: it returns the child, blocked in its init (which waits on `hold`, which
/// nobody writes), for the caller to kill.
inline child creator_killed_half_way(const std::string& name, signal_pipe& started, signal_pipe& hold) {
    child_report report;
    child c = report.spawn([&](child_report& r) {
        (void)ipckit::segment::create<ipckit::system_owned>(name, test_layout("half"), {}, [&](void*) {
            started.post();
            r.block_until_killed(hold);
        });
    });
    REQUIRE(report.reached(c, started) == as_expected);
    return c;
}

/// Forks a child that creates the process_owned queue Q as `name`, sends `k` ticks, and is
/// killed: the queue is left behind without its owner. Returns once it is killed.
template <class Q>
void queue_whose_owner_was_killed(const std::string& name, std::uint64_t k = 0) {
    signal_pipe created, hold;
    child_report report;
    child owner = report.spawn([&](child_report& r) {
        auto q = Q::create(name);
        auto tx = q.sender();
        r.expect(send_all(tx, 0, k));
        created.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(owner, created) == as_expected);
    REQUIRE(owner.kill() == killed_by_sigkill);
}

}  // namespace ipckit_test
