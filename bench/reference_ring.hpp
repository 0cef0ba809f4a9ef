#pragma once
// The reference: the least that a single-producer single-consumer ring in shared memory has to
// do, and so the physical limit that ipckit is measured against. Two 64-bit indices on their
// own cache lines and the slots; each side caches the other's index and spins (no wake-ups,
// no checks, no liveness, no deadlines).
//
//   0      tail   written by the producer only
//   128    head   written by the consumer only
//   256    slots  T[N]

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bench {

/// The CPU's spin-wait hint.
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

template <class T, std::size_t N>
struct reference_ring {
    alignas(128) std::atomic<std::uint64_t> tail{0};
    alignas(128) std::atomic<std::uint64_t> head{0};
    alignas(128) T slots[N];

    class producer {
    public:
        explicit producer(reference_ring& r) noexcept : r_(&r) {}
        void send(const T& m) noexcept {
            // SYNC POINT READ: head, paired with the consumer's release store below.
            if (tail_ - head_ == N)
                while (tail_ - (head_ = r_->head.load(std::memory_order_acquire)) == N) spin_pause();
            std::memcpy(static_cast<void*>(&r_->slots[tail_ % N]), &m, sizeof(T));
            // SYNC POINT WRITE: the slot; READ by the consumer's acquire load of tail.
            r_->tail.store(++tail_, std::memory_order_release);
        }

    private:
        reference_ring* r_;
        std::uint64_t tail_ = 0, head_ = 0;  // ours, and our copy of the consumer's
    };

    class consumer {
    public:
        explicit consumer(reference_ring& r) noexcept : r_(&r) {}
        void receive(T& m) noexcept {
            // SYNC POINT READ: tail, paired with the producer's release store above.
            if (head_ == tail_)
                while ((tail_ = r_->tail.load(std::memory_order_acquire)) == head_) spin_pause();
            std::memcpy(static_cast<void*>(&m), &r_->slots[head_ % N], sizeof(T));
            // SYNC POINT WRITE: our read of the slot is done; READ by the producer's acquire load.
            r_->head.store(++head_, std::memory_order_release);
        }

    private:
        reference_ring* r_;
        std::uint64_t head_ = 0, tail_ = 0;  // ours, and our copy of the producer's
    };
};

}  // namespace bench
