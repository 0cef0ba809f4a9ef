#pragma once
// Bare file descriptors: closing one, and which file one (or a path) is, by device and inode.
// An identity is how ipckit tells "the same file" from "another file now under the same name
// or number": a segment's descriptor in a forked child, a Unix listener's socket file.

#include <string>

#include <sys/stat.h>
#include <unistd.h>

namespace ipckit::detail::sys {

inline void close_fd(int fd) noexcept { ::close(fd); }

/// A file by device and inode; known is false when it could not be had.
struct file_identity {
    dev_t dev = 0;
    ino_t ino = 0;
    bool known = false;

    /// The same file: both known, same device and inode.
    [[nodiscard]] bool same_as(const file_identity& o) const noexcept {
        return known && o.known && dev == o.dev && ino == o.ino;
    }
};

/// The file open as `fd`.
inline file_identity identity_of(int fd) noexcept {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return {};
    return {st.st_dev, st.st_ino, true};
}

/// The socket file at `path` (not following a symbolic link); unknown if there is none, or if
/// what is there is not a socket.
inline file_identity socket_file_at(const std::string& path) noexcept {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return {};
    return {st.st_dev, st.st_ino, true};
}

}  // namespace ipckit::detail::sys
