#pragma once
// The broadcast ring, in shared memory: many senders, and any number of receivers that each
// read every message, in order.
//
// Senders claim positions by CAS on `tail`, write the slot and publish it by a release store of
// the slot's sequence (pos + 1), as in Vyukov's ring. A slot is not freed by its readers: each
// receiver has its own read cursor (the next position it will read) in a table in the segment,
// and a sender may claim position pos only once every gating cursor has passed pos - N. Senders
// keep the minimum they last computed in `gate` and scan the table only when that cached value
// says the ring is full (the Disruptor's gating sequence). So a slow receiver makes senders wait
// once it is N messages behind, and a receiver is never overtaken: a slot is rewritten only after
// everyone who gates has copied it.
//
// Which cursors gate: those of table places whose holder word is held (not vacant, not closed).
// A place is started once its attach has stored its real start in its cursor (the `started`
// flag, kept in its roster `pending` word); before that, and again from the moment its give-up
// has moved base, it is unstarted. A started place gates at its cursor. An unstarted one gates
// at its cursor or at `base`, whichever is lower: a sender that finds any unstarted place held
// takes base into its minimum, as it does when it finds no place held at all. So while nothing
// but unstarted places is held (a receiver attaching, or killed in its attach and not yet
// found dead), senders fill the ring up to base and then wait, just as with no place held.
//
// A receiver that attaches starts at `tail` when it finds another table place held (by a live
// or a dead receiver, started or not), and at `base` when it finds none: it is alone. A started
// place stops gating only after base has been moved for it, while it still gates: by its
// receiver when it leaves, or, when it died, by whoever holds the place on its behalf
// meanwhile. If no other started place is held, base becomes that cursor; otherwise base is
// only raised to it. An unstarted place moves base not at all when it is given up: its cursor
// is a placeholder or a start nobody read from, and base, which gated senders through it, is
// still the cursor of the last started receiver that left. A place that is only unstarted does
// not count as another receiver for a leaver, so the last live receiver to leave sets base to
// where it stopped even beside one killed in its attach. So a receiver that attaches alone gets
// every message the last one before it had not read, and with no place held, base gates. Base
// is lowered only to the cursor of a started place that still gates, which no sender has passed,
// and which every gate computed since is at most (a scan found the place held and read its
// cursor or less, or found it gone and read base after it); raising it to such a cursor passes
// no live receiver either, since a started place always gates at its own cursor, whatever base
// says. A give-up repeated after a helper was killed half-way finds the place started (then
// moves base to the same cursor again) or unstarted (then leaves it). Receivers that attach or
// leave at the same moment may each see the other held (or started): then both start at the
// tail, or base ends at the furthest of their cursors.
//
// The attach race. A sender's scan may run while a receiver attaches; a gate computed without
// the new receiver must not exceed where it starts. The receiver stores a provisional cursor
// of 0 (it holds everyone back for a moment), bumps `epoch`, scans the table for other held
// places, and only then picks its start and stores it. A sender reads epoch before and after
// its scan and keeps a result only if it did not change. A place given up keeps a cursor of 0
// until its next holder stores its own (mailbox/broadcast_layout.hpp, give_up_place), so a scan
// that sees the place held before the provisional cursor reads 0 as well, never the cursor of
// the holder before, which may be past base. Any scan it keeps either saw such a 0 or the
// provisional cursor, or finished before the bump, when every cursor it read was <= the tail
// the receiver reads afterwards (a cursor never passes the tail), and, if the receiver is
// alone, <= the cursor of the last receiver that left, which set base while it still gated.
// Until the receiver marks its place started, a scan also takes base into its minimum, which
// only lowers it: the argument holds as it is.
// All of these are seq_cst, and so is the claiming CAS on tail, so the argument holds in the
// C++ model and not only on x86.
//
// A sender killed between its claim and its publish: as in detail/ring/mpmc.hpp, it listed
// the position in its roster place's `pending` first; a receiver stuck on a slot claimed by no
// live process turns it into a tombstone (bit 63) that every receiver skips.
//
// Shared memory is not trusted: positions are used modulo N, the table size is the caller's
// (validated against the mapping), and a slot ahead of the cursor is `corrupt`, not a spin.
// This file makes no system call: liveness questions are passed in.
//
// A receiver's cursor in the table is shared memory too, but this receiver keeps its own count
// (`next_`) and only ever stores it there. A cursor scribbled back only holds senders back (the
// next advance stores the count over it); one scribbled forward lets senders reuse slots this
// receiver has not read, which it then finds ahead of it (`corrupt`) or changed under its read
// (still_holds). What would deliver a message twice is giving the place up with the scribbled
// cursor: base would go back onto messages read. So a receiver that closes puts its cursor back
// to its own count first (settle()), and the give-up reads that. A dead receiver's cursor is
// taken as found: nothing else records how far it read, but for a view. A view holds its
// message's slot across calls, so the cursor stays on it (keeping senders off the slot) and
// the place's `viewing` word says the message is taken (hold()); a dead holder's give-up moves
// base past it (broadcast_place::taken_to), so the next receiver alone does not get it again.
//
// Stamps, as in detail/ring/mpmc.hpp: the sequence word says which position a slot holds, and
// `stamp` (pos + 1, stored with release after the message and before its sequence) says that a
// whole message was committed there. A receiver checks both before it reads; a recoverer that
// finds the stamp of pos under a sequence that says unpublished publishes the message instead
// of burying it (a sender killed between the two stores, or a sequence put back by a
// scribble). A sender checks, before it claims, that the slot holds no position past the one
// a lap back: a tail moved back would otherwise rewrite messages that receivers may be reading.

#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/detail/sync/pending.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/error.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

namespace ipckit::detail {

template <shm_safe T>
struct broadcast_slot {
    std::atomic<std::uint64_t> seq{0};    ///< pos + 1 once position pos is published here; 0 before the first lap
    std::atomic<std::uint64_t> stamp{0};  ///< pos + 1 of the last message committed here; 0 before any
    T value;
};

/// One place of the receiver table, 256 bytes:
///   0     place    holder (who), asleep (on data_bell), and `pending` used as the "started" flag:
///                  1 once the holder's attach stored its real start in `next`, 0 before and from
///                  its give-up on (an unstarted place gates at min(next, base))
///   128   next     the next position this receiver reads; gates senders while the place is held
///   +8    viewing  next + 1 while its holder holds a view of the message at next, else 0
struct broadcast_place {
    roster_place place;
    alignas(cache_line) std::atomic<std::uint64_t> next{0};
    std::atomic<std::uint64_t> viewing{0};

    /// Where the holder of this place, which nobody moves now (dead, or leaving), stopped: its
    /// cursor, or past the message at it if it was holding a view of that message (taken: the
    /// message goes with it, as a view's does on every kind). `viewing` is believed only as
    /// next + 1, so a scribbled one moves nothing further.
    [[nodiscard]] std::uint64_t taken_to() const noexcept {
        const std::uint64_t n = next.load(std::memory_order_seq_cst);
        return viewing.load(std::memory_order_seq_cst) == n + 1 ? n + 1 : n;
    }
};
static_assert(sizeof(broadcast_place) == 2 * cache_line && std::is_standard_layout_v<broadcast_place>,
              "each receiver's cursor must have a cache line to itself");

/// Whether a table place's holder word says somebody (live or dead) holds it.
inline bool holds(std::uint64_t holder) noexcept {
    return holder != roster_place::vacant && holder != roster_place::closed;
}

/// Shared layout:
///   0             tail      next position to claim; CAS among senders
///   cache_line    gate      senders' cached minimum of the gating cursors (only grows)
///   +8            base      where a receiver attaching alone starts: the last one's cursor
///   +16           epoch     bumped by every receiver that attaches
///   +24           high      1 + the highest table place ever claimed (scans stop there)
///   2*cache_line  slots     broadcast_slot<T>[N]
template <shm_safe T, std::size_t N>
struct broadcast_ring {
    static_assert(N >= 1 && N < (std::uint64_t{1} << 40));
    alignas(cache_line) std::atomic<std::uint64_t> tail{0};
    alignas(cache_line) std::atomic<std::uint64_t> gate{0};
    std::atomic<std::uint64_t> base{0};
    std::atomic<std::uint64_t> epoch{0};
    std::atomic<std::uint64_t> high{0};
    alignas(cache_line > alignof(broadcast_slot<T>) ? cache_line : alignof(broadcast_slot<T>)) broadcast_slot<T> slots[N];

    /// Raises `word` to at least `v`.
    static void raise(std::atomic<std::uint64_t>& word, std::uint64_t v) noexcept {
        std::uint64_t cur = word.load(std::memory_order_seq_cst);
        while (cur < v && !word.compare_exchange_weak(cur, v, std::memory_order_seq_cst)) {
        }
    }

    /// What the holder of a started receiver place does while the place still gates, before it
    /// lets go of it (its receiver leaving, or whoever found it dead, holding the place on its
    /// behalf): moves base for its cursor `next`. `last`: no other started place is held (places
    /// held but unstarted gate at base at most, so they keep what this one leaves); then base
    /// becomes `next`, back or forth. Otherwise base is only raised to it: another started
    /// receiver stays, and whichever of them leaves last sets base. An unstarted place's give-up
    /// calls nothing here (mailbox/broadcast_layout.hpp, give_up_place).
    /// A cursor is never past the tail; one that is (the cursor or the tail was scribbled) is
    /// taken as it is, not cut down to the tail: the next receiver to attach alone then finds
    /// base past the tail (corrupt), where a tail moved back would hand it messages read before.
    void give_up(std::uint64_t next, bool last) noexcept {
        // SYNC POINT WRITE: seq_cst, before the place stops gating and before its started flag
        // goes to 0; READ by a receiver that attaches alone (its scan no longer sees this place
        // held, so it sees this store), and by senders' scans, which read base after every
        // holder and started flag (a scan that finds this place gone or unstarted sees it).
        if (last)
            base.store(next, std::memory_order_seq_cst);
        else
            raise(base, next);
    }

    /// Receiver places held now (live or dead, started or not) among `places[0..min(high,
    /// count))`, not counting place `except`: a snapshot. A receiver's "am I alone?" on attach
    /// (on leave, only started places count: started_places).
    static std::size_t held_places(const std::atomic<std::uint64_t>& high, const broadcast_place* places,
                                   std::size_t count, std::size_t except = ~std::size_t{0}) noexcept {
        const auto h = static_cast<std::size_t>(std::min<std::uint64_t>(high.load(std::memory_order_seq_cst), count));
        std::size_t n = 0;
        for (std::size_t i = 0; i < h; ++i)
            if (i != except && holds(places[i].place.holder.load(std::memory_order_seq_cst))) ++n;
        return n;
    }

    /// Started receiver places held now (live or dead, their attach finished) among
    /// `places[0..min(high, count))`, not counting place `except`: a snapshot. A leaver's "am I
    /// the last?" (give_up_place): an unstarted place gates at base at most, so it does not
    /// count as a receiver that stays.
    static std::size_t started_places(const std::atomic<std::uint64_t>& high, const broadcast_place* places,
                                      std::size_t count, std::size_t except) noexcept {
        const auto h = static_cast<std::size_t>(std::min<std::uint64_t>(high.load(std::memory_order_seq_cst), count));
        std::size_t n = 0;
        for (std::size_t i = 0; i < h; ++i)
            if (i != except && holds(places[i].place.holder.load(std::memory_order_seq_cst)) &&
                places[i].place.pending.load(std::memory_order_seq_cst) == 1)
                ++n;
        return n;
    }
};

/// A sender's cursor. Restricted thread-safe: one thread at a time.
template <shm_safe T, std::size_t N>
class broadcast_producer {
public:
    /// Attaches to `ring` and the receiver table `places[0..count)`, claiming through `pending`.
    void attach(broadcast_ring<T, N>& ring, broadcast_place* places, std::size_t count,
                std::atomic<std::uint64_t>& pending) noexcept {
        ring_ = &ring;
        places_ = places;
        count_ = count;
        pending_ = &pending;
        gate_ = ring.gate.load(std::memory_order_acquire);
    }

    /// Claims the next position for writing: ok, would_block (a gating receiver is N behind)
    /// or corrupt. The claim must end in commit() or abandon(). No system call.
    errc try_claim(ring_ticket<T>& t) noexcept {
        std::uint64_t pos = ring_->tail.load(std::memory_order_relaxed);
        for (;;) {
            // A failure after a lost CAS takes back the position that CAS listed in `pending`
            // (withdraw_claim): the sender that won it may die holding it.
            if (pos - gate_ >= N) {  // also when gate_ > pos: a stale or scribbled cache
                if (const errc e = refresh(pos); e != errc::ok) return withdraw_claim(*pending_, e);
            }
            // The slot holds a lap before pos at most. A later one: others claimed pos (and
            // published at it) since we read the tail, or the tail was moved back.
            const std::uint64_t held = ring_->slots[pos % N].seq.load(std::memory_order_relaxed) & ~seq_tombstone;
            if (held > pos + 1 - std::min<std::uint64_t>(pos + 1, N)) {
                // SYNC POINT READ: a newer sequence, paired with its sender's release store,
                // which came after its claim: the tail below shows that claim.
                std::atomic_thread_fence(std::memory_order_acquire);
                const std::uint64_t now = ring_->tail.load(std::memory_order_relaxed);
                if (now == pos) return withdraw_claim(*pending_, errc::corrupt);
                pos = now;
                continue;
            }
            pending_->store(pos + 1, std::memory_order_relaxed);  // ordered before the claim by the CAS
            // SYNC POINT WRITE/READ: seq_cst, see the attach race at the top of this file.
            if (ring_->tail.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst, std::memory_order_relaxed))
                break;
        }
        t = {&ring_->slots[pos % N].value, pos};
        return errc::ok;
    }

    /// Publishes the message written at a claimed position.
    void commit(const ring_ticket<T>& t) noexcept {
        // SYNC POINT WRITE: value; READ by a recoverer's acquire load of the stamp.
        ring_->slots[t.pos % N].stamp.store(t.pos + 1, std::memory_order_release);
        finish(t, t.pos + 1);
    }
    /// Gives a claimed position up: receivers skip it.
    void abandon(const ring_ticket<T>& t) noexcept { finish(t, (t.pos + 1) | seq_tombstone); }

    /// Whether a claim might succeed now (loads only; scans the table if the cache says full).
    bool has_room() noexcept {
        const std::uint64_t pos = ring_->tail.load(std::memory_order_acquire);
        return pos - gate_ < N || refresh(pos) != errc::would_block;
    }

    /// Nothing to recover here: receivers claim no slot, and a dead receiver that holds the tail
    /// back is its mailbox's to retire (for_each_laggard).
    template <class LiveClaimant>
    bool recover(LiveClaimant&&) noexcept {
        return false;
    }

    /// Calls `f(i, holder)` for each held table place that holds the tail back (N or more
    /// behind): by its cursor, or, unstarted, by base (refresh gates it at the lower of the two),
    /// so that one killed in its attach is found too: the receivers a blocked sender waits for.
    template <class F>
    void for_each_laggard(F&& f) const noexcept {
        const std::uint64_t pos = ring_->tail.load(std::memory_order_acquire);
        for (std::size_t i = 0; i < high(); ++i) {
            const std::uint64_t h = places_[i].place.holder.load(std::memory_order_acquire);
            if (!holds(h)) continue;
            std::uint64_t c = places_[i].next.load(std::memory_order_acquire);
            if (places_[i].place.pending.load(std::memory_order_acquire) != 1)  // unstarted: see refresh
                c = std::min(c, ring_->base.load(std::memory_order_acquire));
            if (pos - c >= N) f(i, h);
        }
    }

private:
    std::size_t high() const noexcept {
        return static_cast<std::size_t>(std::min<std::uint64_t>(ring_->high.load(std::memory_order_seq_cst), count_));
    }

    /// Recomputes the gate from the table: ok if position `pos` may be claimed now.
    errc refresh(std::uint64_t pos) noexcept {
        const std::uint64_t g = ring_->gate.load(std::memory_order_acquire);
        // The gate never passes the tail (it is a minimum of cursors, each <= the tail): one
        // that does was scribbled, and waiting for room behind it would wait for ever.
        if (g > ring_->tail.load(std::memory_order_seq_cst)) return errc::corrupt;
        gate_ = std::max(gate_, g);
        if (gate_ > pos) gate_ = g;  // our `pos` is stale: claims went on meanwhile
        if (pos - gate_ < N) return errc::ok;
        for (int attempt = 0; attempt < 4; ++attempt) {
            // SYNC POINT READ: epoch, holders, cursors, started flags and base, seq_cst; paired
            // with the attach of a receiver (broadcast_consumer::attach), the release stores of
            // cursors, and give-ups (give_up_place: base, then the flag, then the holder word).
            const std::uint64_t e = ring_->epoch.load(std::memory_order_seq_cst);
            std::uint64_t m = ~std::uint64_t{0};
            bool any = false, unstarted = false;
            for (std::size_t i = 0; i < high(); ++i) {
                if (!holds(places_[i].place.holder.load(std::memory_order_seq_cst))) continue;
                m = std::min(m, places_[i].next.load(std::memory_order_seq_cst));
                if (places_[i].place.pending.load(std::memory_order_seq_cst) != 1) unstarted = true;
                any = true;
            }
            // An unstarted place (an attach not finished, or killed) gates at base at most: its
            // give-up does not move base, which still holds what the last started receiver left.
            // Base is read after every holder word and started flag, as with no place held: a
            // started place this scan found given up, or unstarted again, wrote base before it
            // let go (or cleared its flag), and this load sees that write or a later one.
            if (!any || unstarted) m = std::min(m, ring_->base.load(std::memory_order_seq_cst));
            if (ring_->epoch.load(std::memory_order_seq_cst) != e) continue;  // a receiver attached meanwhile
            if (m > pos) {
                // Others claimed (and receivers read) past our stale `pos`: the CAS will tell. A
                // cursor past the tail itself was scribbled.
                return m > ring_->tail.load(std::memory_order_seq_cst) ? errc::corrupt : errc::ok;
            }
            broadcast_ring<T, N>::raise(ring_->gate, m);
            gate_ = std::max(gate_, m);
            return pos - gate_ < N ? errc::ok : errc::would_block;
        }
        return errc::would_block;  // receivers keep attaching: look again on the next attempt
    }

    void finish(const ring_ticket<T>& t, std::uint64_t seq) noexcept {
        // SYNC POINT WRITE: value; READ by each receiver's acquire load of seq.
        ring_->slots[t.pos % N].seq.store(seq, std::memory_order_release);
        // SYNC POINT WRITE: after the publish; READ by a recoverer's live_claimant().
        pending_->store(0, std::memory_order_release);
    }

    broadcast_ring<T, N>* ring_ = nullptr;
    broadcast_place* places_ = nullptr;
    std::size_t count_ = 0;
    std::atomic<std::uint64_t>* pending_ = nullptr;
    std::uint64_t gate_ = 0;
};

/// A receiver's cursor. Restricted thread-safe: one thread at a time.
template <shm_safe T, std::size_t N>
class broadcast_consumer {
public:
    /// Starts reading at table place `place`, which the caller has just claimed (and given up
    /// for a dead predecessor, if any): see the attach race at the top of this file. Returns
    /// false if the ring's indices are inconsistent.
    bool attach(broadcast_ring<T, N>& ring, broadcast_place* places, std::size_t count, std::size_t me) noexcept {
        ring_ = &ring;
        cursor_ = &places[me].next;
        viewing_ = &places[me].viewing;
        // SYNC POINT WRITE: provisional cursor, epoch, then the scan and the start: all seq_cst.
        places[me].place.pending.store(0, std::memory_order_seq_cst);  // "started": not yet
        cursor_->store(0, std::memory_order_seq_cst);
        viewing_->store(0, std::memory_order_seq_cst);
        ring.epoch.fetch_add(1, std::memory_order_seq_cst);
        const bool alone = broadcast_ring<T, N>::held_places(ring.high, places, count, me) == 0;
        next_ = alone ? ring.base.load(std::memory_order_seq_cst) : ring.tail.load(std::memory_order_seq_cst);
        cursor_->store(next_, std::memory_order_seq_cst);
        // SYNC POINT WRITE: after the start; READ by senders' scans (the place gates at its
        // cursor now, no longer at base at most) and by leavers' started_places.
        places[me].place.pending.store(1, std::memory_order_seq_cst);
        const std::uint64_t tail = ring.tail.load(std::memory_order_seq_cst);
        return next_ <= tail && tail - next_ <= N;
    }

    /// Before the caller gives its place up (which moves base for the cursor the table holds,
    /// ring.give_up): puts that cursor back to where this receiver stopped, its own count. The
    /// table is shared memory; a cursor scribbled back (or forward) since the last advance would
    /// otherwise become base, and the next receiver to attach alone would get messages this one
    /// had read (or lose some it had not). So is its `viewing` word, which says no view is held.
    /// Two stores on close, none on the data path.
    void settle() noexcept {
        // SYNC POINT WRITE: seq_cst, before give_up reads it back (same thread) and before the
        // place stops gating; READ by senders' scans, like advance()'s stores.
        cursor_->store(next_, std::memory_order_seq_cst);
        viewing_->store(0, std::memory_order_seq_cst);  // its view, if any, was released: nothing held
    }

    /// Claims the next message for reading in place: ok, would_block (nothing new) or corrupt.
    /// Skips tombstones. The claim must end in release(). No system call.
    errc try_claim(ring_ticket<const T>& t) noexcept {
        if (tail_moved_) return errc::corrupt;
        for (;;) {
            auto& slot = ring_->slots[next_ % N];
            // SYNC POINT READ: seq, paired with the sender's release store: value is written.
            const std::uint64_t seq = slot.seq.load(std::memory_order_acquire);
            const std::uint64_t want = next_ + 1;
            if (seq == want) {
                // Published at our position, but the message committed there is another's: the
                // sequence was moved onto a slot never written at it.
                if (slot.stamp.load(std::memory_order_relaxed) != want) return errc::corrupt;
                t = {&slot.value, next_};
                return errc::ok;
            }
            if (seq == (want | seq_tombstone)) {
                // A tombstone over a whole message: the sequence was moved (recover() publishes
                // a message written whole, never buries it).
                if (slot.stamp.load(std::memory_order_relaxed) == want) return errc::corrupt;
                advance();
                progressed_ = true;
                continue;
            }
            // An older lap (not yet published) or a slot ahead of us, which gating rules out.
            return (seq & ~seq_tombstone) < want ? errc::would_block : errc::corrupt;
        }
    }

    /// Done reading the claimed message: senders may reuse its slot once everyone is.
    void release(const ring_ticket<const T>& /*t*/) noexcept {
        advance();
        if (std::exchange(holding_, false)) viewing_->store(0, std::memory_order_relaxed);
    }

    /// Marks the claimed message (at the cursor) held by a view across calls: `viewing`, beside
    /// the cursor, which stays where it is and so keeps senders off the slot. Whoever gives up
    /// the place of a receiver killed holding it moves base past that message (taken_to), so a
    /// receiver that attaches alone after it does not get it again.
    void hold(const ring_ticket<const T>& /*t*/) noexcept {
        viewing_->store(next_ + 1, std::memory_order_relaxed);
        holding_ = true;
    }

    /// Whether the last claim moved past tombstones (take_progress in ring/cursor.hpp: senders
    /// held back by this receiver want that). Resets the flag.
    bool take_progress() noexcept { return std::exchange(progressed_, false); }

    /// Takes a copy of the next message into `out`: ok, would_block or corrupt.
    errc try_pop(T& out) noexcept {
        ring_ticket<const T> t;
        const errc e = try_claim(t);
        if (e != errc::ok) return e;
        std::memcpy(static_cast<void*>(&out), t.slot, sizeof(T));
        if (!still_holds(t)) return errc::corrupt;
        release(t);
        return errc::ok;
    }

    /// After reading the claimed message (a copy, or in place): whether its slot still holds it,
    /// so that what was read is whole. Gating is what keeps it so: this receiver's cursor stays
    /// at t.pos until release(), and no sender claims t.pos + N before every gating cursor has
    /// passed t.pos, so a claim may be held (a view, a message left for a bigger buffer) for as
    /// long as the receiver likes. This is the seqlock reader's second look that catches what
    /// gating cannot rule out (a scribbled word): false means the read may be torn; report it,
    /// do not deliver it.
    bool still_holds(const ring_ticket<const T>& t) const noexcept {
        // SYNC POINT READ: the read before a second look at seq; paired with a sender's release
        // store of seq for a later lap, which would come after its rewrite.
        std::atomic_thread_fence(std::memory_order_acquire);
        return ring_->slots[t.pos % N].seq.load(std::memory_order_relaxed) == t.pos + 1;
    }

    /// Whether a pop might succeed now (or will report corruption).
    bool has_data() const noexcept {
        if (tail_moved_) return true;  // so a blocked receive or a waitset comes to try_claim's corrupt
        const std::uint64_t seq = ring_->slots[next_ % N].seq.load(std::memory_order_acquire);
        return (seq & ~seq_tombstone) >= next_ + 1;
    }

    /// Whether every position claimed so far has been read (or skipped).
    bool caught_up() const noexcept { return ring_->tail.load(std::memory_order_seq_cst) <= next_; }

    /// Called by a receiver stuck on an unpublished slot: if a sender claimed the position and
    /// no live process lists it as pending, finishes it for them: a tombstone, or the message
    /// itself if it was written whole. Returns whether it did, or found the tail moved further
    /// than gating allows (then try_claim says corrupt from here on).
    template <class LiveClaimant>
    bool recover(LiveClaimant&& live_claimant) noexcept {
        const std::uint64_t pos = next_;
        auto& slot = ring_->slots[pos % N];
        std::uint64_t seq = slot.seq.load(std::memory_order_acquire);
        if ((seq & ~seq_tombstone) >= pos + 1) return false;  // published meanwhile
        const std::uint64_t tail = ring_->tail.load(std::memory_order_acquire);
        if (tail <= pos) return false;  // nobody claimed it
        // Our cursor gates, so no sender claims N or more past it: a tail further on was moved
        // there (burying its positions one by one would take for ever). try_claim says corrupt.
        if (tail - pos > N) return tail_moved_ = true;
        if (live_claimant(pos + 1)) return false;
        // SYNC POINT READ: stamp, paired with commit()'s release store: value is written.
        const bool whole = slot.stamp.load(std::memory_order_acquire) == pos + 1;
        // The CAS, from an unpublished sequence, meets one of these:
        //   1. The stamp is not pos's: the claimant died before its commit, and nothing whole
        //      lies here: a tombstone, which every receiver skips.
        //   2. The stamp is pos's: the whole message was written and its publish is missing (the
        //      sender died between its two stores, or the sequence was put back by a scribble):
        //      publish it, as its sender did or was about to.
        //   3. The CAS fails: the sender published meanwhile (or another receiver finished the
        //      slot): nothing to do.
        // SYNC POINT WRITE (case 2): value, re-published; READ by receivers' acquire of seq.
        return slot.seq.compare_exchange_strong(seq, whole ? pos + 1 : (pos + 1) | seq_tombstone,
                                                std::memory_order_acq_rel);
    }

    [[nodiscard]] std::uint64_t next() const noexcept { return next_; }

private:
    void advance() noexcept {
        ++next_;
        // SYNC POINT WRITE: our copy of the slot is done; READ by a sender's scan, after which
        // it may claim the position N ahead.
        cursor_->store(next_, std::memory_order_release);
    }

    broadcast_ring<T, N>* ring_ = nullptr;
    std::atomic<std::uint64_t>* cursor_ = nullptr;
    std::atomic<std::uint64_t>* viewing_ = nullptr;
    std::uint64_t next_ = 0;
    bool holding_ = false;  ///< hold() marked the claim at next_ in viewing_
    bool tail_moved_ = false;  ///< recover() found the tail more than N past our cursor
    bool progressed_ = false;  ///< take_progress()
};

// The cursor contract (detail/ring/cursor.hpp), checked on one instance of each.
static_assert(claiming_producer<broadcast_producer<std::uint64_t, 8>, std::uint64_t> &&
                  attaches_to<broadcast_producer<std::uint64_t, 8>, broadcast_ring<std::uint64_t, 8>, broadcast_place*,
                              std::size_t, std::atomic<std::uint64_t>>,
              "broadcast_producer must meet the producer cursor contract");
static_assert(claiming_consumer<broadcast_consumer<std::uint64_t, 8>, std::uint64_t> &&
                  attaches_to<broadcast_consumer<std::uint64_t, 8>, broadcast_ring<std::uint64_t, 8>, broadcast_place*,
                              std::size_t, std::size_t>,
              "broadcast_consumer must meet the consumer cursor contract");
static_assert(view_holding_consumer<broadcast_consumer<std::uint64_t, 8>, std::uint64_t>,
              "broadcast_consumer must mark a view's message taken: its cursor stays on it");

}  // namespace ipckit::detail
