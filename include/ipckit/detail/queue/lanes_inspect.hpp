#pragma once
// What an inspector reads of a queue of lanes (queue<T, bounded<N>, lanes<Max>>), knowing its
// policies only at run time: where lanes_shared's parts lie, and the lanes' depth summed.

#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/queue/lanes.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/segment_info.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>  // offsetof
#include <cstdint>
#include <optional>
#include <string>

namespace ipckit::detail {

/// Where the parts of a lanes_shared lie for `lanes` lanes of `n` messages of `size` bytes
/// aligned to `align`: the rosters, in_use, and the first lane, each lane `lane_bytes` long
/// (an spsc_ring: its tail at its start, its head a cache line on).
struct lanes_offsets {
    std::size_t senders;
    std::size_t receivers;
    std::size_t in_use;
    std::size_t first_lane;
    std::size_t lane_bytes;
};
constexpr lanes_offsets lanes_layout(std::size_t lanes, std::size_t n, std::size_t size, std::size_t align) noexcept {
    const std::size_t a = std::max(cache_line, align);
    const std::size_t senders = cache_line + lanes * cache_line;  // data_bell's line, then a room bell's line per lane
    const std::size_t receivers = senders + roster_bytes(lanes);
    const std::size_t in_use = align_up(receivers + roster_bytes(1), a);
    const std::size_t slots = align_up(2 * cache_line, a);
    return {senders, receivers, in_use, in_use + a, align_up(slots + n * size, a)};
}
template <class T, std::size_t N, std::size_t MaxP>
constexpr bool lanes_layout_holds() noexcept {
    using shared = lanes_shared<T, N, MaxP>;
    using ring = typename shared::ring_type;
    using lane = spsc_ring<T, N>;
    constexpr lanes_offsets o = lanes_layout(MaxP, N, sizeof(T), alignof(T));
    return offsetof(shared, senders) == o.senders && offsetof(shared, receivers) == o.receivers &&
           offsetof(shared, ring) == o.in_use && offsetof(shared, ring) + offsetof(ring, lanes) == o.first_lane &&
           sizeof(lane) == o.lane_bytes && offsetof(lane, head) == cache_line;
}
struct alignas(256) lanes_probe_256 {
    char c;
};
static_assert(lanes_layout_holds<std::uint64_t, 4, 1>() && lanes_layout_holds<char, 3, 5>() &&
                  lanes_layout_holds<std::uint64_t, 16, 64>() && lanes_layout_holds<lanes_probe_256, 2, 3>(),
              "lanes_layout() must say where lanes_shared's parts lie, or inspectors misread lanes");

/// For an inspector: the endpoints, depth and counters of a queue of lanes described by `d`,
/// whose body is `v`: every lane below in_use read as a ring of its own, and summed. Reads
/// only; throws inspect_fault.
inline void inspect_lanes_queue(const body_view& v, const queue_description& d, segment_info& out) {
    if (d.message.size == 0 || d.capacity_value > v.size() / d.message.size)
        throw inspect_fault("says each lane holds " + std::to_string(d.capacity_value) + " messages of " +
                            std::to_string(d.message.size) + " bytes, more than its body of " +
                            std::to_string(v.size()) + " bytes can");
    const lanes_offsets o = lanes_layout(d.producers, d.capacity_value, d.message.size, d.message.align);
    add_roster(v, o.senders, d.producers, "sender", out);
    add_roster(v, o.receivers, 1, "receiver", out);
    out.capacity_messages = d.capacity_value * d.producers;
    const auto* in_use = v.at<std::atomic<std::uint32_t>>(o.in_use, "lanes in use");
    const std::size_t lanes = std::min<std::size_t>(in_use->load(std::memory_order_acquire), d.producers);
    ring_indices sum;
    for (std::size_t i = 0; i < lanes; ++i) {
        const auto r = read_ring(v, o.first_lane + i * o.lane_bytes, cache_line, d.capacity_value);
        if (!r) return set_message_counts(std::nullopt, out);
        sum.head += r->head;
        sum.tail += r->tail;
    }
    set_message_counts(sum, out);
}

}  // namespace ipckit::detail
