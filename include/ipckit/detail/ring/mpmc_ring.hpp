#pragma once
// Vyukov's bounded ring as it lies in shared memory (detail/ring/mpmc.hpp has its protocol and
// its cursors): the slots with their sequences and stamps, the two indices, a run of slots as a
// loan of several lends it, and what both cursors hold and how they compare sequences.

#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/detail/sync/pending.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ipckit::detail {

/// One slot. Not padded to a cache line: neighbours share lines, as in Vyukov's ring, so that
/// a small message costs a fraction of a line rather than one each.
template <shm_safe T>
struct mpmc_slot {
    std::atomic<std::uint64_t> seq;
    std::atomic<std::uint64_t> stamp;  ///< pos + 1 of the last message committed here; 0 before any
    T value;
};

/// Shared layout:
///   0             tail    next position to produce; claimed by CAS among producers
///   cache_line    head    next position to consume; claimed by CAS among consumers
///   2*cache_line  slots   mpmc_slot<T>[N], sequences initialised to their index, stamps to 0
template <shm_safe T, std::size_t N>
struct mpmc_ring {
    static_assert(N > 0 && N < (std::uint64_t{1} << 40));
    alignas(cache_line) std::atomic<std::uint64_t> tail{0};
    alignas(cache_line) std::atomic<std::uint64_t> head{0};
    alignas(cache_line > alignof(mpmc_slot<T>) ? cache_line : alignof(mpmc_slot<T>)) mpmc_slot<T> slots[N];

    mpmc_ring() noexcept {
        for (std::size_t i = 0; i < N; ++i) {
            slots[i].seq.store(i, std::memory_order_relaxed);
            slots[i].stamp.store(0, std::memory_order_relaxed);
        }
    }

    static constexpr bool consistent(std::uint64_t head, std::uint64_t tail) noexcept {
        return head <= tail && tail - head <= N;
    }
};

/// The values of a run of slots of an mpmc ring, in order: what a loan of several lends. Indexed
/// and iterated as a span is, but the values lie a slot apart.
template <shm_safe T>
class mpmc_slots {
public:
    class iterator {
    public:
        using value_type = T;
        using difference_type = std::ptrdiff_t;
        iterator() noexcept = default;
        T& operator*() const noexcept { return s_->value; }
        T* operator->() const noexcept { return &s_->value; }
        iterator& operator++() noexcept {
            ++s_;
            return *this;
        }
        iterator operator++(int) noexcept { return iterator(s_++); }
        bool operator==(const iterator&) const noexcept = default;

    private:
        friend mpmc_slots;
        explicit iterator(mpmc_slot<T>* s) noexcept : s_(s) {}
        mpmc_slot<T>* s_ = nullptr;
    };

    mpmc_slots() noexcept = default;
    mpmc_slots(mpmc_slot<T>* first, std::size_t n) noexcept : first_(first), n_(n) {}

    [[nodiscard]] std::size_t size() const noexcept { return n_; }
    [[nodiscard]] bool empty() const noexcept { return n_ == 0; }
    T& operator[](std::size_t i) const noexcept { return first_[i].value; }
    iterator begin() const noexcept { return iterator(first_); }
    iterator end() const noexcept { return iterator(first_ + n_); }

private:
    mpmc_slot<T>* first_ = nullptr;
    std::size_t n_ = 0;
};

/// Sequences are compared as signed distances, as in Vyukov's queue.
constexpr std::int64_t distance(std::uint64_t a, std::uint64_t b) noexcept { return static_cast<std::int64_t>(a - b); }

/// What both cursors hold: the ring, and the roster word through which they claim positions
/// (a claim in progress is listed there, so that recovery can tell a dead claimant's slot).
template <shm_safe T, std::size_t N>
class mpmc_cursor {
public:
    /// Attaches to `ring`, claiming positions through `pending`; false if its indices are
    /// inconsistent.
    bool attach(mpmc_ring<T, N>& ring, std::atomic<std::uint64_t>& pending) noexcept {
        ring_ = &ring;
        pending_ = &pending;
        std::uint64_t head;
        return consistent_now(ring, head);
    }

protected:
    /// Lists [pos, pos + m) in `pending`, then claims it by moving `index` (the tail, or the
    /// head) from pos to pos + m: by CAS where others of this side move it too (Multi), by a
    /// store otherwise. false where another moved it first, `pos` then being where it is now.
    template <bool Multi>
    bool claim_listed(std::atomic<std::uint64_t>& index, std::uint64_t& pos, std::uint64_t m) noexcept {
        pending_->store(pending_word(pos, m), std::memory_order_relaxed);  // ordered before the claim by its release
        if constexpr (Multi) {
            return index.compare_exchange_weak(pos, pos + m, std::memory_order_acq_rel, std::memory_order_relaxed);
        } else {
            index.store(pos + m, std::memory_order_release);
            return true;
        }
    }

    mpmc_ring<T, N>* ring_ = nullptr;
    std::atomic<std::uint64_t>* pending_ = nullptr;
};

}  // namespace ipckit::detail
