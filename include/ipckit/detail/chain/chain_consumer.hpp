#pragma once
// The consumer's cursor of the chain behind an unbounded queue: reads positions in order, skips
// dead ones, removes each chunk once it has read its last position, and finishes the claims of
// producers that died between claim and publish. The protocol, the layout and what happens when
// a process dies: detail/chain/chain_layout.hpp.

#include <ipckit/detail/chain/chain_layout.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/error.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

namespace ipckit::detail {

/// The consumer's cursor. Restricted thread-safe: one thread at a time, and one consumer per
/// chain (its roster has one place).
template <shm_safe T, std::size_t S, class Chunks>
    requires chunk_source<Chunks, chain_chunk<T, S>>
class chain_consumer {
public:
    explicit chain_consumer(Chunks chunks) noexcept : chunks_(std::move(chunks)) {}

    /// Attaches to `c`; false if its indices are inconsistent. Removes the chunks a previous
    /// consumer read to the end but was killed before removing.
    /// (A single consumer claims nothing, so it has no use for a pending word, nor for its id.)
    bool attach(chain_control& c, std::atomic<std::uint64_t>& /*pending*/, std::uint64_t /*me*/) noexcept {
        c_ = &c;
        const std::uint64_t first = c.first_live.load(std::memory_order_acquire);
        const std::uint64_t hd = c.head.load(std::memory_order_acquire);
        const std::uint64_t tl = c.tail.load(std::memory_order_acquire);
        // first_live and head are ours alone now: one look at each is enough. A head that is
        // not its check's (nor one short of it: see the top of this file) was moved.
        const std::uint64_t taken = ~c.head_check.load(std::memory_order_acquire);
        if (taken != hd && taken != hd + 1) return false;
        head_ = taken;
        if (c.slots != S || !c.consistent(first, head_, tl, c.chunk_next.load(std::memory_order_acquire), first))
            return false;
        // SYNC POINT WRITE: the predecessor's last read is over; READ by a consumer that takes over.
        if (head_ != hd) advance_head();
        for (std::uint64_t k = first; k < head_ / S; ++k) chunks_.remove(k);
        // SYNC POINT WRITE: those chunks are gone; READ by a grower's cap check.
        c.first_live.store(head_ / S, std::memory_order_release);
        return true;
    }

    /// Takes the oldest message into `out`: ok, would_block (empty), closed (a chunk it needs
    /// was removed with the queue) or corrupt. Skips dead positions. Makes system calls only
    /// to map the next chunk and remove the one it has finished, once per chunk.
    errc try_pop(T& out) noexcept {
        return try_take([&out](const T& m) noexcept {
            std::memcpy(static_cast<void*>(&out), &m, sizeof(T));
            return errc::ok;
        });
    }

    /// As try_pop, reading the oldest message in place: take(const T& slot) noexcept -> errc.
    /// ok: taken, the position is read. Anything else: the message stays the oldest (head does
    /// not move), and try_take returns what take returned (a buffer too small for a record).
    template <class Take>
    errc try_take(Take&& take) noexcept {
        for (;;) {
            const std::uint64_t k = head_ / S;
            chain_chunk<T, S>* chunk = chunks_.mapped(k);
            if (chunk == nullptr) {
                // SYNC POINT READ: chunk_next, paired with the grower's release store.
                const std::uint64_t next = c_->chunk_next.load(std::memory_order_acquire);
                if (k >= next) return k > next ? errc::corrupt : errc::would_block;
                const errc e = chunks_.open(k);
                if (e == errc::not_found)
                    return c_->grower.load(std::memory_order_acquire) == chain_control::retired ? errc::closed
                                                                                               : errc::corrupt;
                if (e != errc::ok) return e;
                chunk = chunks_.mapped(k);
            }
            auto& slot = chunk->slots[head_ % S];
            // SYNC POINT READ: state, paired with the producer's release store: value is written.
            const std::uint32_t st = slot.state.load(std::memory_order_acquire);
            if (st == chain_slot<T>::empty) return errc::would_block;
            // The stamp agrees with the state: full holds the message of this position, dead does
            // not (a message written whole is published, never marked dead: see recover()).
            const bool whole = slot.stamp.load(std::memory_order_relaxed) == chain_slot<T>::stamp_of(head_);
            if (st == chain_slot<T>::full && whole) {
                if (const errc e = take(static_cast<const T&>(slot.value)); e != errc::ok) return e;
            } else if (st != chain_slot<T>::dead || whole) {
                return errc::corrupt;
            }
            ++head_;
            // SYNC POINT WRITE: head; READ by a consumer that takes over, and by size().
            advance_head();
            if (head_ % S == 0) {
                // Read to the end: nobody needs it any more.
                chunks_.drop();
                chunks_.remove(k);
                // SYNC POINT WRITE: chunk k is gone; READ by a grower's cap check.
                c_->first_live.store(k + 1, std::memory_order_release);
            }
            if (st == chain_slot<T>::full) return errc::ok;
        }
    }

    /// Whether a pop would not block now. No system call.
    bool has_data() noexcept {
        chain_chunk<T, S>* chunk = chunks_.mapped(head_ / S);
        if (chunk == nullptr) return head_ / S < c_->chunk_next.load(std::memory_order_acquire);  // to be mapped
        return chunk->slots[head_ % S].state.load(std::memory_order_acquire) != chain_slot<T>::empty;
    }

    /// Called by a consumer stuck on an empty slot: finishes each position from the head on
    /// that a producer claimed (the tail moved past it) and left unpublished, when no live
    /// process lists it as pending: marks it dead, or publishes its message if it was written
    /// whole. Stops at the first one a live producer is writing, or at a published one.
    /// Returns whether it finished any.
    template <class LiveClaimant>
    bool recover(LiveClaimant&& live_claimant) noexcept {
        chain_chunk<T, S>* chunk = chunks_.mapped(head_ / S);
        if (chunk == nullptr) return false;
        // SYNC POINT READ: tail, paired with the claimant's CAS: its pending word is visible.
        const std::uint64_t tl = c_->tail.load(std::memory_order_acquire);
        bool any = false;
        for (std::uint64_t pos = head_; pos < tl && pos / S == head_ / S; ++pos) {
            auto& slot = chunk->slots[pos % S];
            std::uint32_t st = slot.state.load(std::memory_order_acquire);
            if (st != chain_slot<T>::empty || live_claimant(pos + 1)) break;
            // SYNC POINT READ: stamp, paired with the producer's release store: value is written.
            const bool whole = slot.stamp.load(std::memory_order_acquire) == chain_slot<T>::stamp_of(pos);
            // The CAS, from empty, meets one of these:
            //   1. No stamp of pos: the producer died before its message was whole: dead, skipped.
            //   2. The stamp of pos: the whole message was written and the publish that follows
            //      its stamp is missing (its producer died between the two stores, or the state
            //      was put back to empty by a scribble): publish it, as its producer was about to.
            //   3. The CAS fails: the producer published meanwhile: stop here.
            // SYNC POINT WRITE (case 2): value, re-published; READ by our acquire load of state.
            if (!slot.state.compare_exchange_strong(st, whole ? chain_slot<T>::full : chain_slot<T>::dead,
                                                    std::memory_order_acq_rel))
                break;
            any = true;
        }
        return any;
    }

private:
    /// Publishes head_: its check first, then head (a release store: our reads are done).
    void advance_head() noexcept {
        c_->head_check.store(~head_, std::memory_order_relaxed);
        c_->head.store(head_, std::memory_order_release);
    }

    Chunks chunks_;
    chain_control* c_ = nullptr;
    std::uint64_t head_ = 0;
};

// The cursor contract (detail/ring/cursor.hpp): a chain pushes and pops whole messages, so its
// cursors meet the loop's part of it, not the slot claim's.
static_assert(consumer_cursor<chain_consumer<std::uint64_t, 4, chunk_source_archetype<chain_chunk<std::uint64_t, 4>>>> &&
                  attaches_to<chain_consumer<std::uint64_t, 4, chunk_source_archetype<chain_chunk<std::uint64_t, 4>>>,
                              chain_control, std::atomic<std::uint64_t>, std::uint64_t>,
              "chain_consumer must meet the consumer cursor contract");

}  // namespace ipckit::detail
