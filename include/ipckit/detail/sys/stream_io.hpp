#pragma once
// Non-blocking transfers on a connected stream socket, its shutdown and its close: what a
// connection's threads do on its fd themselves (net/link.hpp), leaving Asio's socket object to
// the I/O thread's asynchronous operations.
//
// Each transfer moves what it can now: the bytes moved, and `ec` set on failure
// (std::errc::operation_would_block when nothing could move; EINTR is retried). A receive of
// 0 bytes into a non-empty buffer, with no error, is the end of the peer's stream.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <span>
#include <system_error>

#include <ipckit/detail/sys/fd.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace ipckit::detail::sys {

/// Sends the parts, in order, as far as the socket takes them (no SIGPIPE on a closed peer).
inline std::size_t send_some(int fd, std::span<iovec> parts, std::error_code& ec) noexcept {
    msghdr m{};
    m.msg_iov = parts.data();
    m.msg_iovlen = parts.size();
    for (;;) {
        const ssize_t n = ::sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            ec.clear();
            return static_cast<std::size_t>(n);
        }
        if (errno != EINTR) {
            ec.assign(errno, std::system_category());
            return 0;
        }
    }
}

/// Reads what the socket holds, up to `n` bytes at `p`.
inline std::size_t receive_some(int fd, void* p, std::size_t n, std::error_code& ec) noexcept {
    for (;;) {
        const ssize_t got = ::recv(fd, p, n, MSG_DONTWAIT);
        if (got >= 0) {
            ec.clear();
            return static_cast<std::size_t>(got);
        }
        if (errno != EINTR) {
            ec.assign(errno, std::system_category());
            return 0;
        }
    }
}

/// Ends the sending half of the stream (SHUT_WR), or both (SHUT_RDWR), which wakes a thread
/// polling the socket. Errors (the peer already gone) change nothing for the caller.
inline void shutdown_socket(int fd, int how) noexcept { ::shutdown(fd, how); }

/// For a TCP socket whose peer sends nothing ipckit can watch (no heartbeats): has the kernel
/// probe an idle connection after `idle` and end it (reads fail with ETIMEDOUT) once 3 probes a
/// third of `idle` apart went unanswered, so that a peer whose host vanished, or whose link was
/// cut, is noticed within about 2 * idle. Nothing for a socket that is not TCP (a Unix socket's
/// peer cannot vanish unnoticed); errors change nothing for the caller.
inline void probe_when_idle(int fd, std::chrono::milliseconds idle) noexcept {
    int protocol = 0;
    socklen_t length = sizeof protocol;
    if (::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) != 0 || protocol != IPPROTO_TCP) return;
    const auto seconds = [](std::chrono::milliseconds t) {
        return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(t.count() / 1000, 1, 32767));
    };
    const int on = 1, count = 3, after = seconds(idle), every = seconds(idle / 3);
    (void)::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &after, sizeof after);
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &every, sizeof every);
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

}  // namespace ipckit::detail::sys
