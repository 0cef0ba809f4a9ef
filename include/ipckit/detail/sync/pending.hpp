#pragma once
// What a roster place's `pending` word says (detail/sync/roster.hpp): which ring positions its
// holder is in the middle of claiming or finishing, so that a recoverer leaves them alone while
// the holder lives.
//
//   0                                   nothing
//   pos + 1                             one position (bit 63 clear): every ring's single claim
//   run bit | (count - 1) << 55 | first + 1
//                                       a run of `count` positions from `first` (1 < count <=
//                                       pending_run_max), claimed at once by a batch of
//                                       Vyukov's ring (detail/ring/mpmc.hpp)
//
// A run is listed whole from before its claim until the last position of it is finished, so a
// position inside it is never read as unlisted while its claimant lives, whichever of its slots
// that claimant is finishing. A run starts below pending_run_limit (2^55: years of positions at
// any rate a ring reaches); a claim beyond it is of one position at a time, which the word says
// as it always did.

#include <ipckit/error.hpp>

#include <atomic>
#include <cstdint>

namespace ipckit::detail {

inline constexpr std::uint64_t pending_run_bit = std::uint64_t{1} << 63;
/// The most positions one word lists.
inline constexpr std::uint64_t pending_run_max = 256;
/// A run's first + 1 + count stays below this.
inline constexpr std::uint64_t pending_run_limit = std::uint64_t{1} << 55;

/// The word that lists `count` positions from `first`: a run where count > 1 (the caller keeps
/// first + count below pending_run_limit and count <= pending_run_max), else pos + 1.
constexpr std::uint64_t pending_word(std::uint64_t first, std::uint64_t count) noexcept {
    return count <= 1 ? first + 1 : pending_run_bit | ((count - 1) << 55) | (first + 1);
}

/// Whether word `w` lists position pos (given as pos + 1).
constexpr bool pending_lists(std::uint64_t w, std::uint64_t pos_plus_1) noexcept {
    if ((w & pending_run_bit) == 0) return w == pos_plus_1;
    const std::uint64_t first_plus_1 = w & (pending_run_limit - 1);
    const std::uint64_t count = ((w & ~pending_run_bit) >> 55) + 1;
    return pos_plus_1 >= first_plus_1 && pos_plus_1 - first_plus_1 < count;
}

static_assert(pending_lists(pending_word(5, 1), 6) && !pending_lists(pending_word(5, 1), 7) &&
                  pending_lists(pending_word(5, 256), 6) && pending_lists(pending_word(5, 256), 261) &&
                  !pending_lists(pending_word(5, 256), 262) && !pending_lists(pending_word(5, 256), 5) &&
                  !pending_lists(0, 1),
              "a pending word lists exactly its position, or exactly its run");

/// A claim that lost its race (CAS) and then found nothing must not leave its position in
/// `pending`: a live process listing a position it does not hold would keep a recoverer from
/// finishing that position for the dead process that does.
inline errc withdraw_claim(std::atomic<std::uint64_t>& pending, errc why) noexcept {
    pending.store(0, std::memory_order_relaxed);
    return why;
}

}  // namespace ipckit::detail
