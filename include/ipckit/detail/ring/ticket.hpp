#pragma once
// A position a cursor has claimed in its ring: where the message lives, and which position to
// publish (commit, abandon) or give back (release) when the caller is done with it in place.

#include <cstdint>

namespace ipckit::detail {

template <class T>
struct ring_ticket {
    T* slot = nullptr;
    std::uint64_t pos = 0;
};

}  // namespace ipckit::detail
