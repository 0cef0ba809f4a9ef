#pragma once
// The single-producer single-consumer ring that lives in shared memory.
//
// Two 64-bit monotonic indices on their own cache lines, and N slots. The producer owns tail,
// the consumer owns head; each keeps its own index in process memory and a cached copy of the
// other's, so the shared lines move between cores only when the cache runs out (the rigtorp /
// folly ProducerConsumerQueue scheme). No system call, no lock: a process killed at any point
// leaves the ring consistent, and a message is published whole or not at all.
//
// The indices in shared memory are not trusted: every value read from them is checked
// (0 <= tail - head <= N) before use, and a slot is addressed as index % N, so a corrupt or
// hostile peer can make us report `corrupt` but never touch memory outside the ring.

#include <ipckit/detail/layout.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/error.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>

namespace ipckit::detail {

/// Shared layout:
///   0            tail   written by the producer only
///   cache_line   head   written by the consumer only
///   2*cache_line slots  T[N], each written by the producer before it publishes tail
template <shm_safe T, std::size_t N>
struct spsc_ring {
    static_assert(N > 0);
    alignas(cache_line) std::atomic<std::uint64_t> tail{0};
    alignas(cache_line) std::atomic<std::uint64_t> head{0};
    alignas(cache_line > alignof(T) ? cache_line : alignof(T)) T slots[N];

    /// Whether head and tail, as read, describe a possible state of the ring.
    static constexpr bool consistent(std::uint64_t head, std::uint64_t tail) noexcept {
        return head <= tail && tail - head <= N;
    }
};

/// The producer's cursor. Restricted thread-safe: one thread at a time.
template <shm_safe T, std::size_t N>
class spsc_producer {
public:
    spsc_producer() noexcept = default;
    /// Attaches to `ring`; false if its indices are inconsistent. (A single producer claims no
    /// positions, so it has no use for a pending word.)
    bool attach(spsc_ring<T, N>& ring, std::atomic<std::uint64_t>& /*pending*/) noexcept {
        ring_ = &ring;
        tail_ = ring.tail.load(std::memory_order_relaxed);
        head_cache_ = ring.head.load(std::memory_order_acquire);
        return spsc_ring<T, N>::consistent(head_cache_, tail_);
    }

    /// Claims the next slot for writing in place: ok, would_block (full) or corrupt. No
    /// system call. Nothing is published until commit().
    errc try_claim(ring_ticket<T>& t) noexcept {
        if (tail_ - head_cache_ >= N) {
            if (const errc e = refresh(); e != errc::ok) return e;
            if (tail_ - head_cache_ >= N) return errc::would_block;
        }
        t = {&ring_->slots[tail_ % N], tail_};
        return errc::ok;
    }

    /// Publishes the message written at the claimed slot.
    void commit(const ring_ticket<T>&) noexcept {
        ++tail_;
        // SYNC POINT WRITE: slots[tail_-1]; READ by the consumer's acquire load of tail.
        ring_->tail.store(tail_, std::memory_order_release);
    }
    /// Gives up the claimed slot: it was never published, so there is nothing to undo.
    void abandon(const ring_ticket<T>&) noexcept {}

    /// Publishes a copy of `m`: ok, would_block (full) or corrupt. No system call.
    errc try_push(const T& m) noexcept {
        ring_ticket<T> t;
        const errc e = try_claim(t);
        if (e != errc::ok) return e;
        std::memcpy(static_cast<void*>(t.slot), &m, sizeof(T));
        commit(t);
        return errc::ok;
    }

    /// Whether a push would not block now (or the ring is corrupt: the push will say so).
    bool has_room() noexcept { return tail_ - head_cache_ < N || refresh() != errc::ok || tail_ - head_cache_ < N; }

    /// Nothing to recover: the single consumer holds no claim while it reads.
    template <class LiveClaimant>
    bool recover(LiveClaimant&&) noexcept {
        return false;
    }

private:
    errc refresh() noexcept {
        // SYNC POINT READ: head, paired with the consumer's release store: its reads of the
        // slots it freed are done.
        const std::uint64_t head = ring_->head.load(std::memory_order_acquire);
        if (!spsc_ring<T, N>::consistent(head, tail_)) return errc::corrupt;
        head_cache_ = head;
        return errc::ok;
    }

    spsc_ring<T, N>* ring_ = nullptr;
    std::uint64_t tail_ = 0;
    std::uint64_t head_cache_ = 0;
};

/// The consumer's cursor. Restricted thread-safe: one thread at a time.
template <shm_safe T, std::size_t N>
class spsc_consumer {
public:
    spsc_consumer() noexcept = default;
    /// Attaches to `ring`; false if its indices are inconsistent.
    bool attach(spsc_ring<T, N>& ring, std::atomic<std::uint64_t>& /*pending*/) noexcept {
        ring_ = &ring;
        head_ = ring.head.load(std::memory_order_relaxed);
        tail_cache_ = ring.tail.load(std::memory_order_acquire);
        return spsc_ring<T, N>::consistent(head_, tail_cache_);
    }

    /// Claims the oldest message for reading in place: ok, would_block (empty) or corrupt. No
    /// system call. The slot stays the consumer's until release().
    errc try_claim(ring_ticket<const T>& t) noexcept {
        if (head_ == tail_cache_) {
            if (const errc e = refresh(); e != errc::ok) return e;
            if (head_ == tail_cache_) return errc::would_block;
        }
        t = {&ring_->slots[head_ % N], head_};
        return errc::ok;
    }

    /// Gives the claimed slot back to the producer.
    void release(const ring_ticket<const T>&) noexcept {
        ++head_;
        // SYNC POINT WRITE: our reads of the slot are done; READ by the producer's refresh().
        ring_->head.store(head_, std::memory_order_release);
    }

    /// Takes a copy of the oldest message into `out`: ok, would_block (empty) or corrupt.
    errc try_pop(T& out) noexcept {
        ring_ticket<const T> t;
        const errc e = try_claim(t);
        if (e != errc::ok) return e;
        std::memcpy(static_cast<void*>(&out), t.slot, sizeof(T));
        release(t);
        return errc::ok;
    }

    /// Whether a pop would not block now (or the ring is corrupt: the pop will say so).
    bool has_data() noexcept { return head_ != tail_cache_ || refresh() != errc::ok || head_ != tail_cache_; }

    /// Nothing to recover: the single producer publishes a message whole or not at all.
    template <class LiveClaimant>
    bool recover(LiveClaimant&&) noexcept {
        return false;
    }

    /// Messages waiting, as far as this consumer knows after a fresh look.
    std::uint64_t available() noexcept {
        (void)refresh();
        return tail_cache_ - head_;
    }

private:
    errc refresh() noexcept {
        // SYNC POINT READ: tail, paired with the producer's release store: the slots below it
        // are written.
        const std::uint64_t tail = ring_->tail.load(std::memory_order_acquire);
        if (!spsc_ring<T, N>::consistent(head_, tail)) return errc::corrupt;
        tail_cache_ = tail;
        return errc::ok;
    }

    spsc_ring<T, N>* ring_ = nullptr;
    std::uint64_t head_ = 0;
    std::uint64_t tail_cache_ = 0;
};

}  // namespace ipckit::detail
