#pragma once
// Socket calls that net/ makes on a descriptor itself, beside Asio: opening and accepting
// close-on-exec (so that a program that execs does not hand its connections on), and a connect
// that does not wait. A connected stream's transfers are in stream_io.hpp.

#include <cerrno>

#include <sys/socket.h>

namespace ipckit::detail::sys {

/// A new socket, close-on-exec; -1 with errno set on failure.
inline int open_socket(int family, int type, int protocol) noexcept {
    return ::socket(family, type | SOCK_CLOEXEC, protocol);
}

/// The next connection waiting on listening socket `fd`, close-on-exec; -1 with errno set
/// when there is none (EAGAIN) or it failed.
inline int accept_connection(int fd) noexcept { return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC); }

/// Whether a connect of non-blocking socket `fd` to `to` is refused at once (ECONNREFUSED):
/// nothing listens there. A connection made, in progress or held back by a full backlog
/// (EAGAIN on a Unix socket) is not refused.
inline bool connect_refused(int fd, const sockaddr* to, socklen_t length) noexcept {
    return ::connect(fd, to, length) != 0 && errno == ECONNREFUSED;
}

}  // namespace ipckit::detail::sys
