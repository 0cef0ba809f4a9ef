#pragma once
// What a segment's layout is made of, as a user who writes a kind of their own (or reads
// segment::create's signature) sees it: the cache line every shared structure is padded to, and
// segment_layout, what a segment must hold to be opened as a given kind.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ipckit {

/// Fixed, not std::hardware_destructive_interference_size: a segment's layout must not depend
/// on compiler flags, or two programs built differently could not share it. 128 covers the
/// adjacent-line prefetcher of x86 and the 128-byte lines of some Arm cores.
inline constexpr std::size_t cache_line = 128;

namespace detail {
/// FNV-1a, 64 bits: the fingerprint of a layout description, and the checksum of a segment
/// header (which goes on from the sum of the fields before, `h`).
inline constexpr std::uint64_t fnv1a_basis = 0xcbf29ce484222325ULL;
constexpr std::uint64_t fnv1a(std::string_view s, std::uint64_t h = fnv1a_basis) noexcept {
    for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}
}  // namespace detail

/// What a segment must hold for a caller to use it: a readable description (shown when two
/// programs disagree), its fingerprint, and the exact size of the segment, header included.
struct segment_layout {
    std::string description;
    /// Bytes of the whole segment, header included. To open: 0 takes the segment at the size its
    /// creator gave it, for a kind whose size its description does not fix (a broadcast
    /// mailbox's receiver table), which then checks the size against what its body says.
    std::size_t size = 0;
    [[nodiscard]] std::uint64_t fingerprint() const noexcept { return detail::fnv1a(description); }
};

}  // namespace ipckit
