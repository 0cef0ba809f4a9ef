#pragma once
// The roster of one side of a queue (its senders, or its receivers): who holds each of its
// Max places, and which ring position each is in the middle of claiming.
//
// A place's holder word is vacant (0, nobody came yet), closed (1, its holder let go), or the
// packed identity (pid + start time) of the process that holds it; it is claimed by CAS, and
// taken over when its holder has died. `pending` is what lets a
// peer recover from a process killed between claiming a ring position and finishing with it:
// the claimant writes pending = pos + 1 before its claiming CAS and clears it (release) after
// it has published. A position that some process claimed, that is still unfinished, and that
// no live place lists as pending, was abandoned by a dead process.
//
// `attached` counts places held by live-or-dead holders that have not let go, so that a peer
// can tell "closed" (everyone let go) with a single load.

#include <ipckit/detail/layout.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace ipckit::detail {

struct roster_place {
    static constexpr std::uint64_t vacant = 0;
    static constexpr std::uint64_t closed = 1;

    alignas(cache_line) std::atomic<std::uint64_t> holder{vacant};
    std::atomic<std::uint64_t> pending{0};  ///< pos + 1 of the ring position being claimed/finished; 0 for none
    std::atomic<std::uint32_t> asleep{0};   ///< 1 while the holder counts itself among a doorbell's sleepers

    /// Whether the holder word names a process that still runs (a system call or two).
    [[nodiscard]] bool held_by_live_process() const noexcept {
        const std::uint64_t cur = holder.load(std::memory_order_acquire);
        return cur != vacant && cur != closed && sys::is_alive(sys::process_id::unpack(cur));
    }
};
static_assert(std::is_standard_layout_v<roster_place>);

template <std::size_t Max>
struct roster {
    static_assert(Max >= 1);

    alignas(cache_line) std::atomic<std::uint32_t> attached{0};  ///< places held and not let go
    std::atomic<std::uint32_t> ever{0};                          ///< 1 once any place was held
    roster_place places[Max];

    /// Takes a vacant, closed or dead place for `me`: its index, or nullopt when every place is
    /// held by a live process (`holder` then names one of them).
    std::optional<std::size_t> claim(const sys::process_id& me, sys::process_id* holder = nullptr) noexcept {
        // First a place nobody holds; only then one whose holder died (that costs system calls).
        for (int pass = 0; pass < 2; ++pass) {
            for (std::size_t i = 0; i < Max; ++i) {
                auto& h = places[i].holder;
                std::uint64_t cur = h.load(std::memory_order_acquire);
                const bool free = cur == roster_place::vacant || cur == roster_place::closed;
                if (!free && (pass == 0 || cur == me.pack() || sys::is_alive(sys::process_id::unpack(cur)))) {
                    if (holder != nullptr) *holder = sys::process_id::unpack(cur);
                    continue;
                }
                // SYNC POINT WRITE/READ: acq_rel, so a successor sees all its predecessor did.
                if (!h.compare_exchange_strong(cur, me.pack(), std::memory_order_acq_rel, std::memory_order_acquire))
                    continue;
                // A dead holder never let go: it is still counted.
                if (free) attached.fetch_add(1, std::memory_order_acq_rel);
                ever.store(1, std::memory_order_release);
                places[i].pending.store(0, std::memory_order_release);
                return i;
            }
        }
        return std::nullopt;
    }

    /// Lets go of place `i`, held by `me`.
    void release(std::size_t i, const sys::process_id& me) noexcept {
        std::uint64_t cur = me.pack();
        // SYNC POINT WRITE: everything this holder published; READ by state().
        if (places[i].holder.compare_exchange_strong(cur, roster_place::closed, std::memory_order_acq_rel,
                                                     std::memory_order_relaxed))
            attached.fetch_sub(1, std::memory_order_acq_rel);
    }

    /// The state of this side as its peer sees it: ok while someone is (or may still be)
    /// there, closed once everyone who came has let go, peer_dead (ask_os only) once every
    /// holder that has not let go is dead and at least one such holder remains. Without ask_os,
    /// two loads and no system call.
    [[nodiscard]] errc state(bool ask_os) const noexcept {
        // SYNC POINT READ: paired with release(): what the leavers published is visible.
        const std::uint32_t held = attached.load(std::memory_order_acquire);
        if (held == 0) {
            if (ever.load(std::memory_order_acquire) == 0) return errc::ok;  // nobody came yet
            // A first claim between the two loads (it counts itself, then sets ever) would read
            // as closed: having seen ever, a second look at attached sees that count.
            return attached.load(std::memory_order_acquire) == 0 ? errc::closed : errc::ok;
        }
        if (held > Max) return errc::ok;  // a scribbled counter: fall back to asking each place
        if (!ask_os) return errc::ok;
        // peer_dead only if a place is still held by a process that died. Places all vacant or
        // closed while `attached` is not 0 are a release between its two steps (the place is
        // closed, the count not yet lowered), or a holder killed between them: both let go.
        bool dead_holder = false;
        for (const auto& p : places) {
            const std::uint64_t cur = p.holder.load(std::memory_order_acquire);
            if (cur == roster_place::vacant || cur == roster_place::closed) continue;
            if (sys::is_alive(sys::process_id::unpack(cur))) return errc::ok;
            dead_holder = true;
        }
        return dead_holder ? errc::peer_dead : errc::closed;
    }

    /// Whether a live process holds a place whose pending claim is `pos_plus_1`.
    [[nodiscard]] bool live_claimant(std::uint64_t pos_plus_1) const noexcept {
        for (const auto& p : places) {
            // SYNC POINT READ: acquire, paired with the claimant's release clear of pending
            // after it published: if we see it cleared, we see what it published.
            if (p.pending.load(std::memory_order_acquire) == pos_plus_1 && p.held_by_live_process()) return true;
        }
        return false;
    }
};

}  // namespace ipckit::detail
