#pragma once
// The roster of one side of a queue (its senders, or its receivers): who holds each of its
// Max places, and which ring position each is in the middle of claiming.
//
// A place's holder word is vacant (0, nobody came yet), closed (1, its holder let go, or was
// let go of after it died), or the packed identity (pid + start time) of the process that
// holds it; it is claimed by CAS. `attached` counts places held by live-or-dead holders that
// have not let go, so that a peer of a side of many can tell with one load that nobody is there.
// A place is counted before its claim and uncounted after it is let go, so a process killed
// between the two steps of either leaves the count one too high, never too low (a count too low
// would wrap, and a place still held would read as let go): state() asks the places themselves
// before it says anything but ok on a count. A side of one place is told by its place's word.
//
// Deaths. A process that dies holding a place never lets go of it. Someone else does, on its
// behalf ("retires" the place: dead id -> the retirer's own id -> closed, as release()), the
// first of:
//   - the next process that attaches to this side (claim): it replaces one dead holder, by
//     taking over its place in place (dead id -> its own: still counted) or, if that holder
//     was caught in a claim (below), by standing in for it from a free place; then it retires
//     every other dead holder's place;
//   - a peer on the other side that finds every holder here dead (state(true) == peer_dead):
//     it reports peer_dead and retires them (retire_dead), so that from then on the closed rule
//     applies: closed once everyone who came has let go, until somebody new comes.
// `retirements` counts the places retired for dead holders nobody replaced, ever, so that every
// endpoint on the other side can report such a death once (see endpoint_core::ended).
//
// The closed rule, as state() tells it to the other side: a side of one place (a single
// producer, say) ends when its holder lets go, like the writer of a pipe; a side of many places
// does not end because nobody holds one at the moment, since more may come: it ends only when
// the queue is closed as a whole or removed, which seals both of its rosters (seal()). Every
// holder of a side of many dying is peer_dead, once, and then the other side waits on.
//
// `pending` is what lets a peer recover from a process killed between claiming a ring position
// and finishing with it: the claimant writes pending = pos + 1 (or a run of positions claimed
// at once: detail/sync/pending.hpp) before its claiming CAS and clears it (release) after it has
// published. A position that some process claimed, that is
// still unfinished, and that no live place lists as pending, was abandoned by a dead process.
// Retiring a place leaves its pending word as the dead holder left it, so a dead claim stays
// listed (by a place no live process holds) until the peer that recovers it comes by. Hence a
// newcomer takes over a dead holder's place in place only if its pending word is clear, and
// prefers free places whose word is clear; only when no other place is left (a side of one
// place whose holder was killed holding a view, say) does it take a place that lists a dead
// claim, and clear the word. The claim is then listed nowhere, which live_claimant() reads as
// it reads a dead holder's: no live process holds it, so the peer recovers it all the same.

#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/pending.hpp>
#include <ipckit/detail/shm/layout.hpp>
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
    std::atomic<std::uint64_t> pending{0};  ///< the ring positions being claimed/finished (pending.hpp); 0 for none
    std::atomic<std::uint32_t> asleep{0};   ///< 1 while the holder counts itself among a doorbell's sleepers

    /// Whether a holder word names a process (live or dead) rather than nobody.
    [[nodiscard]] static constexpr bool names_holder(std::uint64_t h) noexcept { return h != vacant && h != closed; }

    /// Whether the holder word names a process that still runs (a system call or two).
    [[nodiscard]] bool held_by_live_process() const noexcept {
        const std::uint64_t cur = holder.load(std::memory_order_acquire);
        return names_holder(cur) && sys::is_alive(sys::process_id::unpack(cur));
    }
};
static_assert(std::is_standard_layout_v<roster_place>);

/// Shared layout:
///   0             attached      places held and not let go
///   +4            ever          1 once any place was claimed (a record: state() reads the places)
///   +8            retirements   places let go of on behalf of a dead holder, ever (wraps)
///   +12           sealed        1 once the queue was closed as a whole or removed (seal())
///   cache_line    places        roster_place[Max], a cache line each
template <std::size_t Max>
struct roster {
    static_assert(Max >= 1);

    alignas(cache_line) std::atomic<std::uint32_t> attached{0};
    std::atomic<std::uint32_t> ever{0};
    std::atomic<std::uint32_t> retirements{0};
    std::atomic<std::uint32_t> sealed{0};
    roster_place places[Max];

    /// Marks the queue closed as a whole (close() on its handle, or its removal): from now on
    /// state() says closed, whoever holds a place. Never undone. The caller wakes the sleepers.
    void seal() noexcept {
        // SYNC POINT WRITE: READ by state() and is_sealed(); seq_cst, before the caller's ring().
        sealed.store(1, std::memory_order_seq_cst);
    }
    /// Whether seal() was called. A load.
    [[nodiscard]] bool is_sealed() const noexcept { return sealed.load(std::memory_order_acquire) != 0; }
    /// Whether nobody holds a place now (let go, or let go of after a death): the count, or,
    /// where it is not 0 (perhaps one too high after a kill: see the top), the places
    /// themselves, up to the first held. Loads only.
    [[nodiscard]] bool nobody_holds() const noexcept {
        if (attached.load(std::memory_order_acquire) == 0) return true;
        for (const auto& p : places)
            if (roster_place::names_holder(p.holder.load(std::memory_order_acquire))) return false;
        return true;
    }

    /// Takes a place for `me`, and retires every other place whose holder died. In order of
    /// preference: the place of a dead holder whose pending word is clear (taken over in place:
    /// still counted, nothing to count again), a free place whose word is clear, the place of a
    /// dead holder caught in a claim, a free place whose word lists a dead claim (clearing the
    /// word: see the top). `bell_of(i)` is the doorbell the holder of place i sleeps on. Returns
    /// the index, or nullopt when every place is held by a live process (`holder` then names one
    /// of them). System calls: a liveness question per place held, twice when some holder died.
    template <class BellOf>
    std::optional<std::size_t> claim(const sys::process_id& me, BellOf&& bell_of,
                                     sys::process_id* holder = nullptr) noexcept {
        bool any_dead = false;
        std::optional<std::size_t> taken = take_over(me, true, any_dead, holder);
        bool in_place = taken.has_value();
        if (!taken) taken = take_free(me, true);
        if (!taken && any_dead) {
            taken = take_over(me, false, any_dead, holder);
            in_place = taken.has_value();
        }
        if (!taken) taken = take_free(me, false);
        if (!taken || !any_dead) return taken;
        // Now that we hold a place (so `attached` never reads 0 while we come), the other dead
        // holders' places are retired. A newcomer in a free place stands for the first of them:
        // that one's death is not counted as one nobody replaced.
        bool stand_in = !in_place;
        for (std::size_t i = 0; i < Max; ++i) {
            const std::uint64_t cur = places[i].holder.load(std::memory_order_acquire);
            if (i == *taken || !dead_holder(cur, me)) continue;
            if (retire(i, cur, me, bell_of, !stand_in)) stand_in = false;
        }
        return taken;
    }

    /// Lets go of place `i`, held by `me`.
    void release(std::size_t i, const sys::process_id& me) noexcept {
        std::uint64_t cur = me.pack();
        // SYNC POINT WRITE: everything this holder published; READ by state().
        if (!places[i].holder.compare_exchange_strong(cur, roster_place::closed, std::memory_order_acq_rel,
                                                      std::memory_order_relaxed))
            return;
        // Never below 0: a count already too low (a place its holder claimed before counting it,
        // as ipckit once did, or a scribble) stays at 0 rather than wrapping, and heals.
        std::uint32_t n = attached.load(std::memory_order_relaxed);
        while (n != 0 && !attached.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        }
    }

    /// Retires place `i` for its holder `dead`, a process that died (the caller asked the OS),
    /// acting as `me`: takes the place, takes the dead one off the sleepers of `bell_of(i)`,
    /// counts the retirement (unless `count` is false: a newcomer that stands for the dead one)
    /// and lets go of the place, leaving its pending word as it was. Returns false if the place
    /// was no longer `dead`'s. Killed half-way, the place stays held by `me`, dead in turn:
    /// whoever finds it next retires it again.
    template <class BellOf>
    bool retire(std::size_t i, std::uint64_t dead, const sys::process_id& me, BellOf&& bell_of,
                bool count = true) noexcept {
        auto& p = places[i];
        std::uint64_t cur = dead;
        // SYNC POINT WRITE/READ: acq_rel, as a takeover. The CAS from the dead holder's id meets
        // one of:
        //   1. the place is still the dead one's: ours now, and nobody else touches it while we
        //      hold it (attachers and retirers take only free places and dead holders' places);
        //   2. an attacher took it over first: a live holder's, which keeps it and its count;
        //   3. another retirer took it first: it does what follows;
        //   4. it is closed, or held by a newcomer, after one of those: nothing left to do.
        // Each of them CASes from the dead id, so exactly one acts for the dead holder. Taking
        // the place before touching its sleeper registration means that a newcomer that took it
        // over keeps its own.
        if (!p.holder.compare_exchange_strong(cur, me.pack(), std::memory_order_acq_rel, std::memory_order_acquire))
            return false;
        forget_sleeper(bell_of(i), p.asleep);
        // SYNC POINT WRITE: before release() lowers `attached`; READ by a peer's ended() after
        // it saw closed.
        if (count) retirements.fetch_add(1, std::memory_order_acq_rel);
        release(i, me);
        return true;
    }

    /// Retires every place whose holder has died, acting as `me` (see retire). For a peer that
    /// has just reported peer_dead. System calls: one liveness question per place held.
    template <class BellOf>
    void retire_dead(const sys::process_id& me, BellOf&& bell_of) noexcept {
        for (std::size_t i = 0; i < Max; ++i) {
            const std::uint64_t cur = places[i].holder.load(std::memory_order_acquire);
            if (dead_holder(cur, me)) (void)retire(i, cur, me, bell_of);
        }
    }

    /// The state of this side as its peer sees it (the closed rule, at the top): closed once
    /// sealed; else ok while someone is (or may still be) there; closed, for a side of one
    /// place, once its holder has let go; peer_dead (ask_os only) once every holder that has
    /// not let go is dead and at least one such holder remains (until a peer retires them, or a
    /// newcomer takes over). Without ask_os, two loads and no system call.
    [[nodiscard]] errc state(bool ask_os) const noexcept {
        // SYNC POINT READ: paired with seal(): the queue was closed as a whole or removed.
        if (sealed.load(std::memory_order_acquire) != 0) return errc::closed;
        if constexpr (Max == 1) {
            // SYNC POINT READ: paired with release()'s CAS: what the leaver published is visible.
            const std::uint64_t h = places[0].holder.load(std::memory_order_acquire);
            if (h == roster_place::vacant) return errc::ok;  // nobody came yet (one may be coming)
            if (h == roster_place::closed) return errc::closed;  // let go, or let go of after it died
            return !ask_os || sys::is_alive(sys::process_id::unpack(h)) ? errc::ok : errc::peer_dead;
        } else {
            // SYNC POINT READ: paired with release(): what the leavers published is visible.
            if (attached.load(std::memory_order_acquire) == 0) return errc::ok;  // more may come: only seal() ends it
            if (!ask_os) return errc::ok;
            // peer_dead only if a place is still held by a process that died. No place held
            // while `attached` is not 0 is a count one too high (see the top): nobody is there.
            bool dead_holder = false;
            for (const auto& p : places) {
                const std::uint64_t cur = p.holder.load(std::memory_order_acquire);
                if (!roster_place::names_holder(cur)) continue;
                if (sys::is_alive(sys::process_id::unpack(cur))) return errc::ok;
                dead_holder = true;
            }
            return dead_holder ? errc::peer_dead : errc::ok;
        }
    }

    /// Whether a live process holds a place whose pending word lists `pos_plus_1` (alone, or in
    /// a run: detail/sync/pending.hpp).
    [[nodiscard]] bool live_claimant(std::uint64_t pos_plus_1) const noexcept {
        for (const auto& p : places) {
            // SYNC POINT READ: acquire, paired with the claimant's release clear of pending
            // after it published: if we see it cleared, we see what it published.
            if (pending_lists(p.pending.load(std::memory_order_acquire), pos_plus_1) && p.held_by_live_process())
                return true;
        }
        return false;
    }

private:
    /// Whether holder word `h`, read by `me`, names a process that has died (a system call or
    /// two; none for a place nobody holds or one `me` holds).
    static bool dead_holder(std::uint64_t h, const sys::process_id& me) noexcept {
        return roster_place::names_holder(h) && h != me.pack() && !sys::is_alive(sys::process_id::unpack(h));
    }

    /// Takes over, for `me`, the first place whose holder died and, if `clear_only`, whose
    /// pending word is clear; `any_dead` says whether some holder had died, `holder` names a
    /// live one.
    std::optional<std::size_t> take_over(const sys::process_id& me, bool clear_only, bool& any_dead,
                                         sys::process_id* holder) noexcept {
        for (std::size_t i = 0; i < Max; ++i) {
            auto& p = places[i];
            std::uint64_t cur = p.holder.load(std::memory_order_acquire);
            if (!roster_place::names_holder(cur)) continue;
            if (!dead_holder(cur, me)) {
                if (holder != nullptr) *holder = sys::process_id::unpack(cur);
                continue;
            }
            any_dead = true;
            // A dead holder never lets go, so its pending word no longer changes.
            if (clear_only && p.pending.load(std::memory_order_acquire) != 0) continue;
            // SYNC POINT WRITE/READ: acq_rel, so a successor sees all its predecessor did. The
            // CAS from the dead holder's id meets one of:
            //   1. the place is still the dead one's: ours, still counted in `attached` (the
            //      dead one never let go);
            //   2. another attacher took it over first: a live holder's now, we look on;
            //   3. a retirer (an attacher, or a peer that found everyone here dead) took it
            //      first: it lets go of it, and take_free() may find it closed.
            // Each of them CASes from the dead id, so exactly one acts for the dead holder.
            if (!p.holder.compare_exchange_strong(cur, me.pack(), std::memory_order_acq_rel, std::memory_order_acquire))
                continue;
            // Ours now: it lists only what we claim (a dead claim it listed is forgotten: see
            // the top of this file).
            p.pending.store(0, std::memory_order_release);
            return i;
        }
        return std::nullopt;
    }

    /// Takes, for `me`, the first place nobody holds and, if `clear_only`, whose pending word
    /// is clear.
    std::optional<std::size_t> take_free(const sys::process_id& me, bool clear_only) noexcept {
        for (std::size_t i = 0; i < Max; ++i) {
            auto& p = places[i];
            std::uint64_t cur = p.holder.load(std::memory_order_acquire);
            if (roster_place::names_holder(cur)) continue;
            if (clear_only && p.pending.load(std::memory_order_acquire) != 0) continue;
            // Counted first, and uncounted if the claim fails: killed in between, one too many.
            attached.fetch_add(1, std::memory_order_acq_rel);
            ever.store(1, std::memory_order_release);
            // SYNC POINT WRITE/READ: acq_rel, so a successor sees all its predecessor did. A
            // failure is another attacher that took it first (or took it and let go again
            // meanwhile): we look on.
            if (!p.holder.compare_exchange_strong(cur, me.pack(), std::memory_order_acq_rel, std::memory_order_acquire)) {
                attached.fetch_sub(1, std::memory_order_acq_rel);
                continue;
            }
            p.pending.store(0, std::memory_order_release);
            return i;
        }
        return std::nullopt;
    }
};

/// For an inspector, which knows a roster's Max only at run time: where its places start, and
/// the bytes a roster<max> takes.
inline constexpr std::size_t roster_places_offset = offsetof(roster<1>, places);
constexpr std::size_t roster_bytes(std::size_t max) noexcept { return roster_places_offset + max * sizeof(roster_place); }
static_assert(sizeof(roster<1>) == roster_bytes(1) && sizeof(roster<3>) == roster_bytes(3) &&
                  sizeof(roster<64>) == roster_bytes(64),
              "roster_bytes() must say what a roster<Max> takes, or inspectors misread what follows it");

}  // namespace ipckit::detail
