#pragma once
// A producer's cursor of the chain behind an unbounded queue: claims a position (CAS among many
// producers, a store for one), writes and stamps its slot, and grows the chain by one chunk when
// the tail reaches its end, exactly one producer at a time. The protocol, the layout and what
// happens when a process dies: detail/chain/chain_layout.hpp.

#include <ipckit/detail/chain/chain_layout.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/error.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

namespace ipckit::detail {

/// A producer's cursor. Restricted thread-safe: one thread at a time. `Multi`: other producers
/// exist, so positions are claimed by CAS.
template <shm_safe T, std::size_t S, bool Multi, class Chunks>
    requires chunk_source<Chunks, chain_chunk<T, S>>
class chain_producer {
public:
    explicit chain_producer(Chunks chunks) noexcept : chunks_(std::move(chunks)) {}

    /// Attaches to `c` as process `me` (packed id), claiming through `pending`; false if the
    /// chain's indices are inconsistent.
    bool attach(chain_control& c, std::atomic<std::uint64_t>& pending, std::uint64_t me) noexcept {
        c_ = &c;
        pending_ = &pending;
        me_ = me;
        const std::uint64_t first = c.first_live.load(std::memory_order_acquire);
        const std::uint64_t hd = c.head.load(std::memory_order_acquire);
        tail_ = c.tail.load(std::memory_order_acquire);
        const std::uint64_t next = c.chunk_next.load(std::memory_order_acquire);
        return c.slots == S && c.consistent(first, hd, tail_, next, c.first_live.load(std::memory_order_acquire));
    }

    /// Appends `m`: ok; closed (the queue was removed: at once, whether or not a chunk is needed); no_space (the cap is reached);
    /// would_block (another live producer is creating the chunk we need: see busy_grower());
    /// corrupt; or the OS's errc from creating a chunk. Makes system calls only to create or
    /// map a chunk, once per chunk.
    errc try_push(const T& m) noexcept {
        return try_push_with([&m](T& slot) noexcept { std::memcpy(static_cast<void*>(&slot), &m, sizeof(T)); });
    }

    /// As try_push, writing the message in place: write(T& slot) noexcept fills the slot of the
    /// position claimed, between the claim and the publish (a record<Max> writes only its
    /// message's bytes, not the whole slot).
    template <class Write>
    errc try_push_with(Write&& write) noexcept {
        grew_ = false;
        for (;;) {
            std::uint64_t pos = Multi ? c_->tail.load(std::memory_order_acquire) : tail_;
            // SYNC POINT READ: chunk_next, paired with the grower's release store: the chunk exists.
            const std::uint64_t next = c_->chunk_next.load(std::memory_order_acquire);
            // Removed (retire_chain): closed, with nothing written, though the chunk we write into
            // is still mapped: the receiver may never reach it. A load of the line just read.
            // SYNC POINT READ: grower, paired with retire_chain's CAS to retired. A push that
            // read it just before that CAS races with the removal, and may still go through.
            if (c_->grower.load(std::memory_order_relaxed) == chain_control::retired) return errc::closed;
            if (next > (std::uint64_t{1} << 62) / S || pos > next * S) return errc::corrupt;
            const std::uint64_t k = pos / S;
            if (k == next) {
                if (const errc e = grow(k); e != errc::ok) return e;
                continue;
            }
            chain_chunk<T, S>* chunk = chunks_.mapped(k);
            if (chunk == nullptr) {
                const errc e = chunks_.open(k);
                if (e == errc::not_found) {
                    // Removed: once every position in it was read, so the tail has moved on and
                    // another producer claimed the rest. A single producer's own tail cannot
                    // have moved: only a scribbled shared tail says so, and looking again would
                    // loop for ever on the same chunk.
                    if (Multi && c_->tail.load(std::memory_order_acquire) / S != k) continue;
                    return c_->grower.load(std::memory_order_acquire) == chain_control::retired ? errc::closed
                                                                                               : errc::corrupt;
                }
                if (e != errc::ok) return e;
                chunk = chunks_.mapped(k);
            }
            pending_->store(pos + 1, std::memory_order_relaxed);  // ordered before the claim by its release
            if constexpr (Multi) {
                // SYNC POINT WRITE: pending; READ by a recoverer's acquire load of tail.
                if (!c_->tail.compare_exchange_strong(pos, pos + 1, std::memory_order_acq_rel,
                                                      std::memory_order_relaxed)) {
                    // Not ours: list nothing, or a dead claimant of pos could never be recovered
                    // while we wait elsewhere.
                    pending_->store(0, std::memory_order_relaxed);
                    continue;
                }
            } else {
                // SYNC POINT WRITE: pending; READ by a recoverer's acquire load of tail.
                c_->tail.store(pos + 1, std::memory_order_release);
                tail_ = pos + 1;
            }
            auto& slot = chunk->slots[pos % S];
            if (slot.state.load(std::memory_order_relaxed) != chain_slot<T>::empty) {
                // Written before: the tail was moved back over it. Ours now, and not to write.
                pending_->store(0, std::memory_order_relaxed);
                return errc::corrupt;
            }
            write(slot.value);
            // SYNC POINT WRITE: value; READ by a recoverer's acquire load of the stamp.
            slot.stamp.store(chain_slot<T>::stamp_of(pos), std::memory_order_release);
            // SYNC POINT WRITE: value; READ by the consumer's acquire load of state.
            slot.state.store(chain_slot<T>::full, std::memory_order_release);
            // SYNC POINT WRITE: after the publish; READ by a recoverer's live_claimant().
            pending_->store(0, std::memory_order_release);
            if (pos % S == S - 1) chunks_.drop();  // its last position: nobody writes it again
            return errc::ok;
        }
    }

    /// Whether a push might not would_block now: after a would_block, once the grower it found
    /// busy has let go of `grower` or published the chunk. Loads only.
    bool has_room() noexcept {
        return c_->grower.load(std::memory_order_acquire) != busy_ ||
               c_->chunk_next.load(std::memory_order_acquire) != awaited_;
    }

    /// Nothing to recover here: the consumer claims nothing, and a grower that died is taken
    /// over by the next try_push that needs its chunk.
    template <class LiveClaimant>
    bool recover(LiveClaimant&&) noexcept {
        return false;
    }

    /// After would_block: the process that holds `grower`, and the chunk it is creating.
    [[nodiscard]] std::uint64_t busy_grower() const noexcept { return busy_; }
    [[nodiscard]] std::uint64_t awaited_chunk() const noexcept { return awaited_; }
    /// Whether the last try_push let go of `grower` (others waiting for it should look again).
    [[nodiscard]] bool grew() const noexcept { return grew_; }

private:
    /// Creates chunk k (== chunk_next as read), or finds that someone else did: ok, then the
    /// caller looks again. Exactly one producer at a time holds `grower` while it creates.
    errc grow(std::uint64_t k) noexcept {
        std::uint64_t g = c_->grower.load(std::memory_order_acquire);
        for (;;) {
            if (g == chain_control::retired) return errc::closed;
            if (c_->chunk_next.load(std::memory_order_acquire) != k) return errc::ok;  // someone else did
            if (g == chain_control::idle) {
                // SYNC POINT WRITE/READ: acq_rel, so we see what the previous grower published.
                if (c_->grower.compare_exchange_weak(g, me_, std::memory_order_acq_rel, std::memory_order_acquire))
                    break;
                continue;
            }
            if (chunks_.alive(g)) {  // a system call; only on the way to a new chunk
                busy_ = g;
                awaited_ = k;
                return errc::would_block;
            }
            // It died in the middle: take over (a CAS, so that one of several takes it).
            if (c_->grower.compare_exchange_strong(g, me_, std::memory_order_acq_rel, std::memory_order_acquire))
                break;
        }
        errc e = errc::ok;
        bool created = false;
        // chunk_next may have moved between our look and our CAS: look again while we hold it.
        if (c_->chunk_next.load(std::memory_order_acquire) == k) {
            const std::uint64_t first = c_->first_live.load(std::memory_order_acquire);
            if (first > k)
                e = errc::corrupt;
            else if (k + 1 - first > c_->max_chunks())
                e = errc::no_space;
            else
                e = chunks_.create(k);
            created = e == errc::ok;
            // SYNC POINT WRITE: chunk k exists; READ by everyone's acquire load of chunk_next.
            if (created) c_->chunk_next.store(k + 1, std::memory_order_release);
        }
        // SYNC POINT WRITE: chunk_next and the chunk; READ by the next grower's acq_rel CAS and
        // by retire_chain's.
        std::uint64_t mine = me_;
        const bool let_go = c_->grower.compare_exchange_strong(mine, chain_control::idle, std::memory_order_acq_rel,
                                                               std::memory_order_relaxed);
        grew_ = true;
        // The CAS fails where:
        //   1. a remover retired the chain meanwhile (retired stays): it waits for a live grower
        //      only up to its patience, so we were stopped past it, and its sweep of the chunks
        //      may have come before our create. The queue is gone: remove chunk k ourselves, or
        //      nobody will. (Its sweep after our create removed it already: no harm.)
        //   2. the word was scribbled: not ours to judge, and the chunk may be in use. Leave it.
        if (!let_go && mine == chain_control::retired) {
            if (created) {
                chunks_.drop();
                chunks_.remove(k);
            }
            return errc::closed;
        }
        return e;
    }

    Chunks chunks_;
    chain_control* c_ = nullptr;
    std::atomic<std::uint64_t>* pending_ = nullptr;
    std::uint64_t me_ = 0;
    std::uint64_t tail_ = 0;  // single producer: tail, which only it writes
    std::uint64_t busy_ = 0;
    std::uint64_t awaited_ = 0;
    bool grew_ = false;
};

// The cursor contract (detail/ring/cursor.hpp): a chain pushes and pops whole messages, so its
// cursors meet the loop's part of it, not the slot claim's.
static_assert(producer_cursor<chain_producer<std::uint64_t, 4, true, chunk_source_archetype<chain_chunk<std::uint64_t, 4>>>> &&
                  attaches_to<chain_producer<std::uint64_t, 4, false, chunk_source_archetype<chain_chunk<std::uint64_t, 4>>>,
                              chain_control, std::atomic<std::uint64_t>, std::uint64_t>,
              "chain_producer must meet the producer cursor contract");

}  // namespace ipckit::detail
