#pragma once
// Non-blocking transfers on a connected stream socket, its shutdown and its close: what a
// connection's threads do on its fd themselves (net/link.hpp), leaving Asio's socket object to
// the I/O thread's asynchronous operations.
//
// Each transfer moves what it can now: the bytes moved, and `ec` set on failure
// (std::errc::operation_would_block when nothing could move; EINTR is retried). A receive of
// 0 bytes into a non-empty buffer, with no error, is the end of the peer's stream.

#include <cerrno>
#include <cstddef>
#include <span>
#include <system_error>

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

inline void close_fd(int fd) noexcept { ::close(fd); }

}  // namespace ipckit::detail::sys
