#pragma once
// Turning errno into ipckit::error, with a message that says what was being done.

#include <ipckit/error.hpp>

#include <cerrno>
#include <cstring>
#include <string>

namespace ipckit::detail::sys {

/// The ipckit errc that an errno from a set-up call stands for.
inline errc errc_from_errno(int err) noexcept {
    switch (err) {
    case EEXIST: return errc::already_exists;
    case ENOENT: return errc::not_found;
    case EACCES:
    case EPERM: return errc::permission_denied;
    case ENOSPC:
    case ENOMEM:
    case EFBIG: return errc::no_space;
    case ENAMETOOLONG: return errc::invalid_name;
    default: return errc::system_error;
    }
}

/// Throws ipckit::error for errno `err`: "<what>: <strerror> (<hint>)".
[[noreturn]] inline void throw_errno(int err, const std::string& what, const std::string& hint = {}) {
    std::string msg = what + ": " + std::strerror(err);
    if (!hint.empty()) msg += ". " + hint;
    throw error(errc_from_errno(err), msg);
}

}  // namespace ipckit::detail::sys
