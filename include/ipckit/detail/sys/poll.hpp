#pragma once
// Waiting for file descriptors to become readable, until a deadline: one socket (a connection's
// receive), or many at once through an epoll set with an eventfd beside them (a waitset, whose
// epoll fd a user's own event loop can watch in turn).
//
// Deadlines are absolute on steady_clock (CLOCK_MONOTONIC), as the futex waits'. Every wait may
// return early (a signal, a spurious wake-up): callers re-check their condition and loop.

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <ipckit/detail/sys/os_error.hpp>

namespace ipckit::detail::sys {

/// Milliseconds from now until `deadline`, rounded up, for poll(2) and epoll_wait(2): -1 for
/// none (time_point::max()), 0 once it has passed.
inline int poll_timeout(std::chrono::steady_clock::time_point deadline) noexcept {
    if (deadline == std::chrono::steady_clock::time_point::max()) return -1;
    // Compared before subtracting: a deadline far in the past (time_point::min(), "already
    // past") would overflow the difference, and read as far in the future.
    const auto now = std::chrono::steady_clock::now();
    if (deadline <= now) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    return ms > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(ms);
}

/// Sleeps until `fd` is readable (data, end of stream, an error or a hang-up), a signal, or
/// `deadline`. False only when the deadline passed with `fd` not readable.
inline bool wait_readable(int fd, std::chrono::steady_clock::time_point deadline) noexcept {
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, poll_timeout(deadline));
    return rc != 0;  // -1 (EINTR): let the caller look again
}

/// Sleeps until `fd` can take more bytes (or has an error or a hang-up), a signal, or
/// `deadline`. False only when the deadline passed with `fd` not writable.
inline bool wait_writable(int fd, std::chrono::steady_clock::time_point deadline) noexcept {
    pollfd p{fd, POLLOUT, 0};
    const int rc = ::poll(&p, 1, poll_timeout(deadline));
    return rc != 0;  // -1 (EINTR): let the caller look again
}

/// A non-blocking eventfd: a counter any thread can raise, readable while it is non-zero.
class event_fd {
public:
    event_fd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
        if (fd_ < 0) throw_errno(errno, "eventfd");
    }
    ~event_fd() { ::close(fd_); }
    event_fd(const event_fd&) = delete;
    event_fd& operator=(const event_fd&) = delete;

    [[nodiscard]] int fd() const noexcept { return fd_; }
    /// Makes the fd readable (it stays so until drain()).
    void raise() const noexcept {
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(fd_, &one, sizeof one);  // only fails at 2^64-1
    }
    /// Makes it unreadable again.
    void drain() const noexcept {
        std::uint64_t count = 0;
        [[maybe_unused]] const auto n = ::read(fd_, &count, sizeof count);  // EAGAIN when zero: fine
    }

private:
    int fd_;
};

/// An epoll set of fds, level-triggered on readability: its own fd is readable while any of
/// theirs is.
class epoll_set {
public:
    epoll_set() : fd_(::epoll_create1(EPOLL_CLOEXEC)) {
        if (fd_ < 0) throw_errno(errno, "epoll_create1");
    }
    ~epoll_set() { ::close(fd_); }
    epoll_set(const epoll_set&) = delete;
    epoll_set& operator=(const epoll_set&) = delete;

    [[nodiscard]] int fd() const noexcept { return fd_; }
    void add(int fd) {
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.fd = fd;
        if (::epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &e) != 0) throw_errno(errno, "epoll_ctl(ADD, " + std::to_string(fd) + ")");
    }
    void remove(int fd) noexcept { ::epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr); }
    /// Sleeps until one of the fds is readable, a signal, or `deadline`; false at the deadline.
    bool wait(std::chrono::steady_clock::time_point deadline) const noexcept {
        epoll_event e{};
        return ::epoll_wait(fd_, &e, 1, poll_timeout(deadline)) != 0;
    }

private:
    int fd_;
};

}  // namespace ipckit::detail::sys
