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

namespace ipckit::detail {

/// If the segment `name` exists, is at least header_size + body_bytes long and its header is
/// ready and validates, calls fn(description, body), with `body` the first body_bytes after the
/// header, mapped read-write for the call only, and returns true. False if there is no such
/// segment, or it is too small, or its header cannot be trusted (being made, damaged, not
/// ipckit's): the name may name another object by now, so nothing else is read. Throws what
/// opening and mapping it throw (permission_denied, ...), never not_found.
template <class Fn>
bool peek_segment(std::string_view name, std::size_t body_bytes, Fn&& fn) {
    const std::string what = "segment '" + std::string(name) + "'";
    sys::file f;
    try {
        f = sys::shm_open_existing(os_name(name));
    } catch (const error& e) {
        if (e.reason() == errc::not_found) return false;
        throw;
    }
    const auto size = static_cast<std::size_t>(f.status(what).st_size);
    if (size < header_size + body_bytes) return false;
    const sys::mapping m(f, header_size + body_bytes, what);
    const header_snapshot h = snapshot_header(*static_cast<const segment_header*>(m.data()), size);
    if (!h.valid) return false;
    fn(std::string_view(h.description), static_cast<void*>(static_cast<char*>(m.data()) + header_size));
    return true;
}

}  // namespace ipckit::detail
