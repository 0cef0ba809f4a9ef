#pragma once
// What the cursors of the rings share: the ticket of a claimed position (where the message
// lives, and which position to publish (commit, abandon) or give back (release) when the caller
// is done with it in place), and the consistency check of a ring that others are moving.

#include <atomic>
#include <cstdint>

namespace ipckit::detail {

/// The bit a slot's sequence word carries when its position was given up rather than
/// published (an abandoned claim, or a dead claimant's, finished by recover()): consumers skip
/// the position. The same in every ring whose slots carry a sequence word (mpmc, broadcast).
inline constexpr std::uint64_t seq_tombstone = std::uint64_t{1} << 63;

/// A claimed position, or a run of `count` positions from `pos` whose slots lie side by side in
/// the ring (a loan of several: try_claim_run; `slot` is the first). A producer's abandon gives
/// back all `count` of them.
template <class T>
struct ring_ticket {
    T* slot = nullptr;
    std::uint64_t pos = 0;
    std::uint64_t count = 1;
};

/// A run of positions claimed at once (a batch): `count` of them from `pos`.
struct ring_run {
    std::uint64_t pos = 0;
    std::uint64_t count = 0;
};

/// Whether `ring`, whose head and tail other processes may be moving while we look, is
/// consistent (Ring::consistent on the values of one moment): head is loaded around tail until
/// it did not move, so that the three loads describe one moment, and head_seen gets that head.
/// Loaded once each, head and tail could be a lap apart with nothing wrong. A ring that never
/// keeps still for 64 tries counts as consistent (head_seen 0): the data path checks every
/// index it uses.
template <class Ring>
bool consistent_now(const Ring& ring, std::uint64_t& head_seen) noexcept {
    head_seen = 0;
    for (int i = 0; i < 64; ++i) {
        const std::uint64_t h = ring.head.load(std::memory_order_acquire);
        const std::uint64_t t = ring.tail.load(std::memory_order_acquire);
        if (ring.head.load(std::memory_order_acquire) != h) continue;
        head_seen = h;
        return Ring::consistent(h, t);
    }
    return true;
}

}  // namespace ipckit::detail
