#pragma once
// The bounded ring for many producers and/or many consumers, in shared memory.
//
// Vyukov's bounded MPMC queue: each slot carries a 64-bit sequence that says whose turn it is.
// For ring position pos (slot pos % N):
//     seq == pos        free: the producer that claims pos may write it
//     seq == pos + 1    full: the consumer that claims pos may read it
//     seq == pos + N    read: free for the producer of the next lap
// Producers claim positions by CAS on tail, consumers by CAS on head (a single producer or
// consumer stores instead). Each producer's messages keep their order; a message is
// published whole, by the release store of its sequence.
//
// A process killed between claiming a position and finishing with it would leave that slot
// stuck, and everyone behind it. So each claimant first writes the position into its roster
// place (`pending`), and a peer stuck on a slot may ask recover_*(), which finishes the slot for
// the dead claimant if no live process lists it as pending: a slot a dead producer was
// writing becomes a tombstone (bit 63 of seq) that consumers skip; a slot a dead consumer was
// reading is freed (its message died with it). This file makes no system call: the caller
// passes the liveness question in.
//
// Shared memory is not trusted: indices are only used modulo N, and a slot that claims to be
// ahead of its index ends in `corrupt` rather than a spin.
//
// Stamps. The sequence word is itself a stamp of the position a slot holds, so a head moved
// back finds slots a lap ahead (corrupt) and a tail moved forward claims slots that were free.
// What it cannot tell is a message published and then had its sequence put back to "free"
// (seq == pos): to recover(), that is a dead producer's claim, and the message would be skipped
// as a tombstone. So each slot also carries `stamp`, pos + 1 of the last message committed
// there, stored with release after the message and before its sequence. A recoverer that finds
// the stamp of pos knows that the whole message was written: it publishes it rather than
// burying it (see consumer recover()). A consumer checks the stamp too before it claims a
// full slot: a sequence moved forward onto a slot never written at pos is corrupt, not read;
// and a sequence older than any lap-1 state is corrupt, not "empty" for ever. What is left: a
// head moved forward inside its range skips the messages it passes over, and producers later
// free their slots as a dead consumer's. Telling that from a consumer killed while holding
// them needs evidence this ring does not keep (the dead consumer's roster `pending` word).
//
// Batches (try_claim_n with commit_n or abandon_n, or both as try_push_n; try_pop_n). One CAS on
// the tail claims a run of positions: the first as a single claim checks it, then each following
// slot while it is free for this lap (seq == its position; one still being read ends the run); one
// CAS on the head claims a run of slots that are plainly full (a message with its stamp, or a
// tombstone without). Each slot is then published, or given back, by its own sequence store, in
// order, as a single claim's is: the sequences are what the other side reads, so a run costs one
// index RMW and n plain stores. The run is listed in `pending` as a run (detail/sync/pending.hpp)
// from before its CAS until its last slot is finished, so a recoverer leaves every slot of it alone
// while its claimant lives. A claimant killed part way: the slots it published are delivered (a
// consumer's: given back, their messages gone with it); the rest of its run is unlisted once it is
// dead, and recover() finishes them from the head (tombstones, or messages written whole), each as
// it finishes a single claim, all those in a row in one call. Wake-ups: the consumer gives every
// slot of its run back in the call that read it, before the endpoint's notify() looks for a
// producer asleep on the space bell (doorbell.hpp: a sleeper lists itself, then looks at the ring
// again), so space released lazily, once per batch, is never released too late for a sleeper to see
// it.
//
// Loans of several slots (try_claim_run, commit_run). A producer claims a run as a batch does (one
// CAS, the run listed in `pending`), but only up to the ring's wrap, and the caller writes the
// values in place. commit_run(m) then publishes the first m as commit_n does (stamp, then sequence,
// slot by slot in order) and gives the rest back as abandon does (tombstones), and unlists the run
// last. A producer killed holding the run leaves every slot of it unpublished and unstamped at this
// position: recover() buries them from the head, as for a batch. The values are not side by side
// (each slot carries its sequence and stamp), so the run is lent as mpmc_slots<T>, a strided view.

#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/ring/mpmc_ring.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/detail/sync/pending.hpp>
#include <ipckit/error.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

namespace ipckit::detail {

/// What a claim that looked past the common case found (claim_run_looking): ok, with the run
/// [pos, pos + m) claimed and `seq` the first slot's sequence (a consumer's), or why not.
/// Returned by value, so that the common case's own run stays in registers.
struct looked_claim {
    errc e = errc::ok;
    std::uint64_t pos = 0, m = 0, seq = 0;
};

/// A producer's cursor. Restricted thread-safe: one thread at a time. `Multi`: other
/// producers exist, so positions are claimed by CAS.
template <shm_safe T, std::size_t N, bool Multi>
class mpmc_producer : public mpmc_cursor<T, N> {
    using mpmc_cursor<T, N>::ring_;
    using mpmc_cursor<T, N>::pending_;

public:

    /// Claims the next position for writing in place: ok, would_block (full) or corrupt. The
    /// claim must end in commit() or abandon(). No system call.
    errc try_claim(ring_ticket<T>& t) noexcept {
        std::uint64_t pos = 0, m = 0;
        if (const errc e = claim_run(1, pos, m); e != errc::ok) return e;
        t = {&ring_->slots[pos % N].value, pos};
        return errc::ok;
    }

    /// Claims a run of as many of n (> 0) positions as are free at the tail now (at most
    /// pending_run_max), with one CAS: ok (`run`: at least one), would_block (full) or corrupt.
    /// The run must end in commit_n() or abandon_n(). No system call.
    errc try_claim_n(std::size_t n, ring_run& run) noexcept {
        std::uint64_t pos = 0, m = 0;
        if (const errc e = claim_run(n, pos, m); e != errc::ok) return e;
        run = {pos, m};
        return errc::ok;
    }

    /// Publishes copies of the run.count messages at `src` in the claimed run, in order: each
    /// slot's stamp and sequence as commit() stores them.
    void commit_n(const ring_run& run, const T* src) noexcept {
        for (std::uint64_t i = 0; i < run.count; ++i) {
            mpmc_slot<T>& slot = ring_->slots[(run.pos + i) % N];
            std::memcpy(static_cast<void*>(&slot.value), src + i, sizeof(T));
            // SYNC POINT WRITE: value; READ by a recoverer's acquire load of the stamp.
            slot.stamp.store(run.pos + i + 1, std::memory_order_release);
            // SYNC POINT WRITE: value; READ by the consumer's acquire load of seq.
            slot.seq.store(run.pos + i + 1, std::memory_order_release);
        }
        // SYNC POINT WRITE: after the run's last publish; READ by a recoverer's live_claimant().
        // Until here the whole run is listed, so no slot of it is buried while we write it.
        pending_->store(0, std::memory_order_release);
    }

    /// Gives up a claimed run: consumers skip every position of it.
    void abandon_n(const ring_run& run) noexcept {
        for (std::uint64_t i = 0; i < run.count; ++i)
            // SYNC POINT WRITE: READ by the consumer's acquire load of seq (a tombstone).
            ring_->slots[(run.pos + i) % N].seq.store((run.pos + i + 1) | seq_tombstone, std::memory_order_release);
        pending_->store(0, std::memory_order_release);
    }

    /// Publishes copies of as many of the n (> 0) messages at `src` as there are free positions
    /// at the tail now: try_claim_n, then commit_n. ok (`pushed` says how many, at least one),
    /// would_block (full; none) or corrupt. No system call.
    errc try_push_n(const T* src, std::size_t n, std::size_t& pushed) noexcept {
        pushed = 0;
        ring_run run;
        if (const errc e = try_claim_n(n, run); e != errc::ok) return e;
        commit_n(run, src);
        pushed = static_cast<std::size_t>(run.count);
        return errc::ok;
    }

    /// Publishes the message written at a claimed position.
    void commit(const ring_ticket<T>& t) noexcept {
        // SYNC POINT WRITE: value; READ by a recoverer's acquire load of the stamp.
        ring_->slots[t.pos % N].stamp.store(t.pos + 1, std::memory_order_release);
        finish(t, t.pos + 1);
    }
    /// Gives up a claimed position (or a run of them, from try_claim_run): consumers skip it.
    void abandon(const ring_ticket<T>& t) noexcept {
        if (t.count == 1) return finish(t, (t.pos + 1) | seq_tombstone);
        abandon_n({t.pos, t.count});
    }

    /// Claims a run of up to n (> 0) free positions whose slots lie side by side, to the ring's
    /// wrap at most, with one CAS, for writing in place: ok (`t.count` of them from t.slot, at
    /// least one), would_block (full) or corrupt. It must end in commit_run() or abandon(). No
    /// system call.
    errc try_claim_run(std::size_t n, ring_ticket<T>& t) noexcept {
        std::uint64_t pos = 0, m = 0;
        if (const errc e = claim_run(n, pos, m, true); e != errc::ok) return e;
        t = {&ring_->slots[pos % N].value, pos, m};
        return errc::ok;
    }
    /// Publishes the first m (<= t.count) values written in place in a claimed run, in order,
    /// each as commit() does, and gives the rest back as abandon() does; then unlists the run.
    void commit_run(const ring_ticket<T>& t, std::uint64_t m) noexcept {
        for (std::uint64_t i = 0; i < t.count; ++i) {
            mpmc_slot<T>& slot = ring_->slots[(t.pos + i) % N];
            if (i < m) {
                // SYNC POINT WRITE: value; READ by a recoverer's acquire load of the stamp.
                slot.stamp.store(t.pos + i + 1, std::memory_order_release);
                // SYNC POINT WRITE: value; READ by the consumer's acquire load of seq.
                slot.seq.store(t.pos + i + 1, std::memory_order_release);
            } else {
                // SYNC POINT WRITE: READ by the consumer's acquire load of seq (a tombstone).
                slot.seq.store((t.pos + i + 1) | seq_tombstone, std::memory_order_release);
            }
        }
        // SYNC POINT WRITE: after the run's last store; READ by a recoverer's live_claimant().
        pending_->store(0, std::memory_order_release);
    }
    /// The values of a claimed run, a slot apart.
    mpmc_slots<T> slots_of(const ring_ticket<T>& t) const noexcept {
        return {&ring_->slots[t.pos % N], static_cast<std::size_t>(t.count)};
    }

    /// Publishes a copy of `m`: ok, would_block (full) or corrupt. No system call.
    errc try_push(const T& m) noexcept { return push_copy(*this, m); }

    /// Whether a push might succeed now (or will report corruption).
    bool has_room() const noexcept {
        const std::uint64_t pos = ring_->tail.load(std::memory_order_acquire);
        return distance(ring_->slots[pos % N].seq.load(std::memory_order_acquire) & ~seq_tombstone, pos) >= 0;
    }

    /// Called by a producer that is stuck because the ring is full: frees the slots from the
    /// tail on that consumers claimed and died reading, as long as they come in a row (a
    /// consumer killed in a batch's run leaves several; one a call would hold the producers up
    /// a liveness interval a slot). `live_claimant(p)` says whether a live consumer lists p as
    /// pending. Returns whether it freed any.
    template <class LiveClaimant>
    bool recover(LiveClaimant&& live_claimant) noexcept {
        const std::uint64_t tail = ring_->tail.load(std::memory_order_acquire);
        const std::uint64_t head = ring_->head.load(std::memory_order_acquire);
        bool freed = false;
        // Position pos needs the slot of pos - N, which a consumer claimed only if head > pos - N.
        for (std::uint64_t pos = tail; pos >= N && pos - N < head && pos - tail < N; ++pos) {
            const std::uint64_t prev = pos - N;  // the position whose slot we need
            auto& slot = ring_->slots[pos % N];
            std::uint64_t seq = slot.seq.load(std::memory_order_acquire);
            // Full, and claimed by a consumer (head moved past it), but not released.
            if ((seq & ~seq_tombstone) != prev + 1) break;
            if (live_claimant(prev + 1)) break;
            // The dead consumer never released it; free it for this lap.
            if (!slot.seq.compare_exchange_strong(seq, prev + N, std::memory_order_acq_rel)) break;
            freed = true;
        }
        return freed;
    }

private:
    /// Claims a run of up to `want` (>= 1) free positions from the tail, [pos, pos + m) with
    /// 1 <= m, listing it in `pending` before the one CAS (or store) that claims it all: ok,
    /// would_block (full) or corrupt. A further position joins the run only if its slot is
    /// free for this lap now (seq == its position): a slot that a consumer still reads ends it.
    /// With `to_wrap`, the run also stops at the ring's last slot, so that its slots lie side by side.
    /// The common case (the slot at the tail free, the claim uncontested) is this, small enough
    /// for a compiler to inline into every verb; everything else is claim_run_looking's.
    errc claim_run(std::uint64_t want, std::uint64_t& pos_out, std::uint64_t& m, bool to_wrap = false) noexcept {
        std::uint64_t pos = ring_->tail.load(std::memory_order_relaxed);
        // SYNC POINT READ: seq, as in claim_run_looking.
        const std::uint64_t seq = ring_->slots[pos % N].seq.load(std::memory_order_acquire) & ~seq_tombstone;
        std::uint64_t run = 0;
        if (seq == pos && take(want, to_wrap, pos, run)) {
            pos_out = pos;
            m = run;
            return errc::ok;
        }
        const looked_claim c = claim_run_looking(want, pos, to_wrap);
        pos_out = c.pos;
        m = c.m;
        return c.e;
    }

    /// claim_run from position `pos` on, whatever it meets there: out of line, so that the
    /// common case stays small.
    [[gnu::noinline, gnu::cold]] looked_claim claim_run_looking(std::uint64_t want, std::uint64_t pos,
                                                                bool to_wrap) noexcept {
        std::uint64_t m = 0;
        for (;;) {
            // SYNC POINT READ: seq, paired with the release store of the consumer that freed it.
            // A tombstone of lap-1 (a dead producer's position, not yet skipped) is lap-1 too:
            // with its bit, the distance would read as a slot far ahead of the tail.
            const std::uint64_t seq = ring_->slots[pos % N].seq.load(std::memory_order_acquire) & ~seq_tombstone;
            const std::int64_t d = distance(seq, pos);
            if (d == 0) {
                if (take(want, to_wrap, pos, m)) break;
                // Another producer moved the tail: look again from there.
            } else if (d < 0) {
                // The slot still holds lap-1: being written (pos - N) or full (pos - N + 1):
                // the ring is full. Any older sequence was moved back: corrupt.
                return {withdraw_claim(*pending_, seq + N == pos || seq + N == pos + 1 ? errc::would_block : errc::corrupt)};
            } else {
                const std::uint64_t now = ring_->tail.load(std::memory_order_relaxed);
                if (now == pos) return {withdraw_claim(*pending_, errc::corrupt)};  // a slot ahead of the tail: impossible
                pos = now;
            }
        }
        return {errc::ok, pos, m};
    }

    /// Claims [pos, pos + m), pos's slot found free: m is 1, or up to `want` (and the wrap,
    /// with `to_wrap`) with each further slot free for this lap now. Lists the run in `pending`
    /// before the CAS (or store) that claims it; false where another producer moved the tail
    /// first, `pos` then being the tail now.
    bool take(std::uint64_t want, bool to_wrap, std::uint64_t& pos, std::uint64_t& m) noexcept {
        m = 1;
        const std::uint64_t limit =
            want == 1 ? 1 : std::min<std::uint64_t>({want, to_wrap ? N - pos % N : N, pending_run_max});
        if (limit > 1 && pos + limit < pending_run_limit)
            // SYNC POINT READ: each further seq, paired with the release store of the
            // consumer that freed it: its read of the slot is over before we write.
            while (m < limit && ring_->slots[(pos + m) % N].seq.load(std::memory_order_acquire) == pos + m) ++m;
        return this->template claim_listed<Multi>(ring_->tail, pos, m);
    }

    void finish(const ring_ticket<T>& t, std::uint64_t seq) noexcept {
        // SYNC POINT WRITE: value; READ by the consumer's acquire load of seq.
        ring_->slots[t.pos % N].seq.store(seq, std::memory_order_release);
        // SYNC POINT WRITE: after the publish; READ by a recoverer's live_claimant().
        pending_->store(0, std::memory_order_release);
    }

};

/// A consumer's cursor. Restricted thread-safe: one thread at a time. `Multi`: other
/// consumers exist, so positions are claimed by CAS.
template <shm_safe T, std::size_t N, bool Multi>
class mpmc_consumer : public mpmc_cursor<T, N> {
    using mpmc_cursor<T, N>::ring_;
    using mpmc_cursor<T, N>::pending_;

public:

    /// Claims the oldest message for reading in place: ok, would_block (empty) or corrupt.
    /// Skips the tombstones of dead producers. The claim must end in release(). No system call.
    errc try_claim(ring_ticket<const T>& t) noexcept {
        for (;;) {
            std::uint64_t pos = 0, m = 0, seq = 0;
            if (const errc e = claim_run(1, pos, m, seq); e != errc::ok) return e;
            t = {&ring_->slots[pos % N].value, pos};
            if ((seq & seq_tombstone) == 0) return errc::ok;
            release(t);  // a dead producer's position, or an abandoned claim: nothing to read
            progressed_ = true;
        }
    }

    /// Takes copies of up to n of the oldest messages into `out`, in order: one claim (a CAS)
    /// of the run of full positions at the head (at most pending_run_max), then each slot given
    /// back as release() does, right after its read, in the same call (so a producer asleep on a
    /// full ring is woken by the endpoint's notify() after it: see the top of this file).
    /// Tombstones in the run are skipped. ok (`popped` says how many, at least one),
    /// would_block (empty; none) or corrupt. n > 0. No system call.
    errc try_pop_n(T* out, std::size_t n, std::size_t& popped) noexcept {
        popped = 0;
        for (;;) {
            std::uint64_t pos = 0, m = 0, seq = 0;
            if (const errc e = claim_run(n, pos, m, seq); e != errc::ok) return e;
            std::size_t got = 0;
            for (std::uint64_t i = 0; i < m; ++i) {
                mpmc_slot<T>& slot = ring_->slots[(pos + i) % N];
                // Ours until released: its sequence is the one claim_run() read (acquire).
                if (i > 0) seq = slot.seq.load(std::memory_order_relaxed);
                if ((seq & seq_tombstone) == 0) std::memcpy(static_cast<void*>(out + got++), &slot.value, sizeof(T));
                // SYNC POINT WRITE: our read of value is done; READ by the producer of the next lap.
                slot.seq.store(pos + i + N, std::memory_order_release);
            }
            // SYNC POINT WRITE: after the run's last release; READ by a recoverer's
            // live_claimant(). Until here the whole run is listed, so no slot of it is freed
            // under our read.
            pending_->store(0, std::memory_order_release);
            if (got > 0) {
                popped = got;
                return errc::ok;
            }
            progressed_ = true;  // tombstones alone, freed
        }
    }

    /// Whether the last claim freed tombstones' slots on its way (take_progress in
    /// ring/cursor.hpp: producers asleep on a full ring want them). Resets the flag.
    bool take_progress() noexcept { return std::exchange(progressed_, false); }

    /// Gives a claimed slot back to the producers, once the message has been read.
    void release(const ring_ticket<const T>& t) noexcept {
        // SYNC POINT WRITE: our read of value is done; READ by the producer of the next lap.
        ring_->slots[t.pos % N].seq.store(t.pos + N, std::memory_order_release);
        pending_->store(0, std::memory_order_release);
    }

    /// Takes a copy of the oldest message into `out`: ok, would_block (empty) or corrupt.
    errc try_pop(T& out) noexcept { return pop_copy(*this, out); }

    /// Whether a pop might succeed now (or will report corruption).
    bool has_data() const noexcept {
        const std::uint64_t pos = ring_->head.load(std::memory_order_acquire);
        return broken_ || distance(ring_->slots[pos % N].seq.load(std::memory_order_acquire) & ~seq_tombstone,
                                   pos + 1) >= 0;
    }

    /// Called by a consumer that is stuck on an empty-looking slot: finishes, for them, the
    /// positions from the head on that producers claimed and left unpublished, as long as they
    /// come in a row and no live process lists them: each a tombstone that try_pop skips, or
    /// the message itself if it was written whole. A producer killed in a batch's run (or
    /// holding a loan of several) leaves several; one a call would hold every consumer up a
    /// liveness interval a slot. Returns whether it finished any (or found the indices
    /// inconsistent, which the next claim reports).
    template <class LiveClaimant>
    bool recover(LiveClaimant&& live_claimant) noexcept {
        const std::uint64_t head = ring_->head.load(std::memory_order_acquire);
        const std::uint64_t tail = ring_->tail.load(std::memory_order_acquire);
        // A tail more than a lap ahead of a head that kept still meanwhile was scribbled:
        // finishing positions up to it would never end, so the next try_claim reports corrupt.
        if (broken_ || (tail > head && tail - head > N && ring_->head.load(std::memory_order_acquire) == head)) {
            broken_ = true;
            return true;
        }
        if (tail <= head || tail - head > N) return false;
        bool finished = false;
        for (std::uint64_t pos = head; pos < tail && finish_unpublished(pos, live_claimant); ++pos) finished = true;
        return finished;
    }

    /// Messages waiting, as a snapshot.
    std::uint64_t available() const noexcept {
        const std::uint64_t head = ring_->head.load(std::memory_order_acquire);
        const std::uint64_t tail = ring_->tail.load(std::memory_order_acquire);
        return mpmc_ring<T, N>::consistent(head, tail) ? tail - head : 0;
    }

private:
    /// Claims a run of up to `want` (>= 1) full positions (messages or tombstones) from the
    /// head, [pos, pos + m) with 1 <= m, listing it in `pending` before the one CAS (or store)
    /// that claims it all; `seq` gets the first slot's sequence. ok, would_block (empty) or
    /// corrupt. The first position is checked as a single claim always was; a further one joins
    /// the run only if its slot is plainly full for this lap (its stamp agreeing), so anything
    /// doubtful is left for the next claim to look at alone. The common case (the slot at the
    /// head holds its position's message, the claim uncontested) is this, small enough for a
    /// compiler to inline into every verb; everything else is claim_run_looking's.
    errc claim_run(std::uint64_t want, std::uint64_t& pos_out, std::uint64_t& m, std::uint64_t& seq) noexcept {
        std::uint64_t pos = ring_->head.load(std::memory_order_relaxed);
        const mpmc_slot<T>& slot = ring_->slots[pos % N];
        // SYNC POINT READ: seq, as in claim_run_looking.
        const std::uint64_t first = slot.seq.load(std::memory_order_acquire);
        std::uint64_t run = 0;
        if (!broken_ && first == pos + 1 && slot.stamp.load(std::memory_order_relaxed) == pos + 1 && take(want, pos, run)) {
            pos_out = pos;
            m = run;
            seq = first;
            return errc::ok;
        }
        const looked_claim c = claim_run_looking(want, pos);
        pos_out = c.pos;
        m = c.m;
        seq = c.seq;
        return c.e;
    }

    /// claim_run from position `pos` on, whatever it meets there: out of line, so that the
    /// common case stays small.
    [[gnu::noinline, gnu::cold]] looked_claim claim_run_looking(std::uint64_t want, std::uint64_t pos) noexcept {
        if (broken_) return {errc::corrupt};
        std::uint64_t m = 0, seq = 0;
        for (;;) {
            const mpmc_slot<T>* slot = &ring_->slots[pos % N];
            // SYNC POINT READ: seq, paired with the producer's release store: value (and the
            // stamp) is written.
            seq = slot->seq.load(std::memory_order_acquire);
            const std::int64_t d = distance(seq & ~seq_tombstone, pos + 1);
            if (d == 0) {
                // The stamp agrees with the sequence: a full slot holds the message of pos,
                // a tombstone does not (a whole message is published, never buried: see
                // recover()).
                const bool whole = slot->stamp.load(std::memory_order_relaxed) == pos + 1;
                if (whole == ((seq & seq_tombstone) != 0)) {
                    // Either others took pos meanwhile and the next lap was committed there
                    // (the head moved on: look again), or the sequence was moved: full over a
                    // slot never written at pos, or a tombstone over a message: corrupt.
                    // SYNC POINT READ: a newer stamp, paired with its commit's release store,
                    // which came after the claim of pos: the head below shows that claim.
                    std::atomic_thread_fence(std::memory_order_acquire);
                    const std::uint64_t now = ring_->head.load(std::memory_order_relaxed);
                    if (now == pos) return {errc::corrupt};
                    pos = now;
                    continue;
                }
                if (take(want, pos, m)) break;
                // Another consumer moved the head: look again from there.
            } else if (d < 0) {
                // Free (not yet written, or being written), or lap-1 still being read (its
                // consumer took it but has not released it): empty. Any older sequence was
                // moved back: corrupt.
                const std::uint64_t s = seq & ~seq_tombstone;
                if (s == pos) return {withdraw_claim(*pending_, errc::would_block)};
                if (s + N != pos + 1) return {withdraw_claim(*pending_, errc::corrupt)};
                // While lap-1 is held no producer can claim pos: a tail past pos (seq read
                // again after it, in case the holder let go and pos was claimed meanwhile)
                // means that the message of pos was published and its sequence moved back.
                if (ring_->tail.load(std::memory_order_acquire) > pos &&
                    slot->seq.load(std::memory_order_acquire) == seq)
                    return {withdraw_claim(*pending_, errc::corrupt)};
                return {withdraw_claim(*pending_, errc::would_block)};
            } else {
                const std::uint64_t now = ring_->head.load(std::memory_order_relaxed);
                if (now == pos) return {withdraw_claim(*pending_, errc::corrupt)};  // a slot ahead of the head: impossible
                pos = now;
            }
        }
        return {errc::ok, pos, m, seq};
    }

    /// Claims [pos, pos + m), pos's slot found full: m is 1, or up to `want` with each further
    /// slot plainly full. Lists the run in `pending` before the CAS (or store) that claims it;
    /// false where another consumer moved the head first, `pos` then being the head now.
    bool take(std::uint64_t want, std::uint64_t& pos, std::uint64_t& m) noexcept {
        m = 1;
        const std::uint64_t limit = want == 1 ? 1 : std::min<std::uint64_t>({want, N, pending_run_max});
        if (limit > 1 && pos + limit < pending_run_limit)
            while (m < limit && plainly_full(pos + m)) ++m;
        return this->template claim_listed<Multi>(ring_->head, pos, m);
    }

    /// recover() at position pos: if a producer claimed it (the caller read a tail past it)
    /// and left it unpublished, and no live process lists it, finishes it; whether it did.
    template <class LiveClaimant>
    bool finish_unpublished(std::uint64_t pos, LiveClaimant& live_claimant) noexcept {
        auto& slot = ring_->slots[pos % N];
        std::uint64_t seq = slot.seq.load(std::memory_order_acquire);
        if (seq != pos || live_claimant(pos + 1)) return false;  // published (or finished), or its claimant lives
        // SYNC POINT READ: stamp, paired with commit()'s release store: value is written.
        const bool whole = slot.stamp.load(std::memory_order_acquire) == pos + 1;
        // The CAS, from "free at pos", meets one of these:
        //   1. The stamp is not pos's: the claimant never reached its commit (it died claiming
        //      or writing), so nothing whole lies here: a tombstone, skipped by consumers.
        //   2. The stamp is pos's: commit() had written the whole message, and the publish that
        //      follows its stamp is missing: the claimant died between the two stores, or the
        //      sequence was put back to free under a published message. Either way the slot
        //      holds what was sent at pos: publish it, as its sender did or was about to.
        //   3. The CAS fails: the producer published meanwhile (or another consumer finished
        //      the slot): nothing to do.
        // SYNC POINT WRITE (case 2): value, re-published; READ by consumers' acquire of seq.
        return slot.seq.compare_exchange_strong(seq, whole ? pos + 1 : (pos + 1) | seq_tombstone,
                                                std::memory_order_acq_rel);
    }

    /// Whether the slot of position q is full for its lap now, plainly: a message whose stamp
    /// is q's, or a tombstone whose stamp is not.
    bool plainly_full(std::uint64_t q) const noexcept {
        const mpmc_slot<T>& slot = ring_->slots[q % N];
        // SYNC POINT READ: seq, paired with the producer's (or recoverer's) release store: value
        // and the stamp are written.
        const std::uint64_t s = slot.seq.load(std::memory_order_acquire);
        const bool whole = slot.stamp.load(std::memory_order_relaxed) == q + 1;
        return s == q + 1 ? whole : s == ((q + 1) | seq_tombstone) && !whole;
    }

    bool broken_ = false;  ///< recover() found the indices inconsistent: every claim is corrupt
    bool progressed_ = false;  ///< take_progress()
};

// The cursor contract (detail/ring/cursor.hpp), checked on one instance of each.
static_assert(claiming_producer<mpmc_producer<std::uint64_t, 8, true>, std::uint64_t> &&
                  claiming_producer<mpmc_producer<std::uint64_t, 8, false>, std::uint64_t> &&
                  attaches_to<mpmc_producer<std::uint64_t, 8, true>, mpmc_ring<std::uint64_t, 8>, std::atomic<std::uint64_t>>,
              "mpmc_producer must meet the producer cursor contract");
static_assert(claiming_consumer<mpmc_consumer<std::uint64_t, 8, true>, std::uint64_t> &&
                  claiming_consumer<mpmc_consumer<std::uint64_t, 8, false>, std::uint64_t> &&
                  attaches_to<mpmc_consumer<std::uint64_t, 8, true>, mpmc_ring<std::uint64_t, 8>, std::atomic<std::uint64_t>>,
              "mpmc_consumer must meet the consumer cursor contract");

static_assert(batch_producer<mpmc_producer<std::uint64_t, 8, true>, std::uint64_t> && batch_consumer<mpmc_consumer<std::uint64_t, 8, true>, std::uint64_t>,
              "the ring's cursors must meet the batch contract");

}  // namespace ipckit::detail
