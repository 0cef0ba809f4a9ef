#pragma once
// A look at what a named segment holds without attaching to it: its header, read once and
// trusted only if it is ready and validates, and the start of its body. For a layer that must
// know what a name holds before (or instead of) opening it as its own type: a mailbox that
// names the policy another program opened it with, a removal that knows no type. Like every
// header read, it lives in the segment layer; nothing here waits for a creator or takes a lock.

#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/segment.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace ipckit::detail {

/// If the object open as `f` (the segment `name`, for messages) is at least header_size +
/// body_bytes long and its header is ready and validates, calls fn(description, body), with
/// `body` the first body_bytes after the header, mapped read-write for the call only, and returns
/// true. False if it is too small, or its header cannot be trusted (being made, damaged, not
/// ipckit's): nothing else is read. Throws what mapping it throws.
template <class Fn>
bool peek_open(const sys::file& f, std::string_view name, std::size_t body_bytes, Fn&& fn) {
    const std::string what = "segment '" + std::string(name) + "'";
    const auto size = static_cast<std::size_t>(f.status(what).st_size);
    if (size < header_size + body_bytes) return false;
    const sys::mapping m(f, header_size + body_bytes, what);
    const header_snapshot h = snapshot_header(*static_cast<const segment_header*>(m.data()), size);
    if (!h.valid) return false;
    fn(std::string_view(h.description), static_cast<void*>(static_cast<char*>(m.data()) + header_size));
    return true;
}

/// The object the segment `name` is now, open; an empty file (get() < 0) if there is none.
/// Throws what opening it throws (permission_denied, ...), never not_found.
inline sys::file open_if_exists(std::string_view name) {
    try {
        return sys::shm_open_existing(os_name(name));
    } catch (const error& e) {
        if (e.reason() == errc::not_found) return {};
        throw;
    }
}

/// peek_open on the segment `name` if it exists (false if not): the name may name another
/// object by a later look, so nothing else is read. Never throws not_found.
template <class Fn>
bool peek_segment(std::string_view name, std::size_t body_bytes, Fn&& fn) {
    const sys::file f = open_if_exists(name);
    return f.get() >= 0 && peek_open(f, name, body_bytes, std::forward<Fn>(fn));
}

}  // namespace ipckit::detail
