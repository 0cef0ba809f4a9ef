#pragma once
// What a bounded queue of fixed-size messages holds in shared memory after its segment header
// (the SPSC ring for one sender and one receiver, Vyukov's ring for many of either), where an
// inspector finds each part, and what it reads there.

#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/ring/mpmc.hpp>
#include <ipckit/detail/ring/spsc.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment_info.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace ipckit::detail {

/// What lives in a queue's segment after the header, and the cursor each side uses: the SPSC
/// ring when there is one producer and one consumer, Vyukov's ring otherwise.
///   data_bell    receivers sleep here while the queue is empty
///   closed       1 once the queue was closed as a whole: senders refuse (close_queue). On
///                data_bell's line, which every send reads anyway (is a receiver asleep?)
///   space_bell   senders sleep here while it is full
///   senders      roster of up to MaxP senders (who, and which position each is claiming)
///   receivers    roster of up to MaxC receivers
///   ring         indices and slots (detail/ring/spsc.hpp or mpmc.hpp)
template <message T, std::size_t N, std::size_t MaxP, std::size_t MaxC>
struct queue_shared {
    static constexpr bool spsc = MaxP == 1 && MaxC == 1;
    static_assert(spsc || N >= 2,
                  "a queue with multi producers or consumers needs bounded<2> or more: with one slot, its "
                  "per-slot sequence cannot tell a full slot from a free one");
    using ring_type = std::conditional_t<spsc, spsc_ring<T, N>, mpmc_ring<T, N>>;
    using producer_type = std::conditional_t<spsc, spsc_producer<T, N>, mpmc_producer<T, N, (MaxP > 1)>>;
    using consumer_type = std::conditional_t<spsc, spsc_consumer<T, N>, mpmc_consumer<T, N, (MaxC > 1)>>;

    alignas(cache_line) doorbell data_bell;
    std::atomic<std::uint32_t> closed{0};
    alignas(cache_line) doorbell space_bell;
    roster<MaxP> senders;
    roster<MaxC> receivers;
    ring_type ring;
};

/// For an inspector, which knows the policies only at run time: where the parts of a
/// queue_shared lie for up to `maxp` senders and `maxc` receivers and a message aligned to
/// `align` (bytes_queue_shared's lie at the same places, with align 8). Each ring keeps its tail
/// at its start and its head a cache line on.
struct queue_shared_offsets {
    std::size_t senders;
    std::size_t receivers;
    std::size_t ring;
};
constexpr queue_shared_offsets queue_offsets(std::size_t maxp, std::size_t maxc, std::size_t align) noexcept {
    const std::size_t senders = 2 * cache_line;
    const std::size_t receivers = senders + roster_bytes(maxp);
    return {senders, receivers, align_up(receivers + roster_bytes(maxc), std::max(cache_line, align))};
}
template <class T, std::size_t MaxP, std::size_t MaxC>
constexpr bool queue_offsets_hold() noexcept {
    using shared = queue_shared<T, 4, MaxP, MaxC>;
    using ring = typename shared::ring_type;
    constexpr queue_shared_offsets o = queue_offsets(MaxP, MaxC, alignof(T));
    return offsetof(shared, senders) == o.senders && offsetof(shared, receivers) == o.receivers &&
           offsetof(shared, ring) == o.ring && offsetof(ring, tail) == 0 && offsetof(ring, head) == cache_line;
}
struct alignas(256) inspect_probe_256 {
    char c;
};
static_assert(queue_offsets_hold<std::uint64_t, 1, 1>() && queue_offsets_hold<char, 64, 3>() &&
                  queue_offsets_hold<std::uint64_t, 2, 64>() && queue_offsets_hold<inspect_probe_256, 1, 1>(),
              "queue_offsets() must say where queue_shared's parts lie, or inspectors misread queues");

/// For an inspector: the endpoints, depth and counters of a bounded queue of fixed-size
/// messages described by `d`, whose body is `v`. Reads only; throws inspect_fault.
inline void inspect_fixed_queue(const body_view& v, const queue_description& d, segment_info& out) {
    const queue_shared_offsets o = queue_offsets(d.producers, d.consumers, d.message.align);
    add_roster(v, o.senders, d.producers, "sender", out);
    add_roster(v, o.receivers, d.consumers, "receiver", out);
    set_message_counts(read_ring(v, o.ring, cache_line, d.capacity_value), out);
}

}  // namespace ipckit::detail
