#pragma once
// What a bounded queue of bytes<Max> with several consumers holds in shared memory after its
// segment header: a bounded queue of fixed-size messages (fixed_layout.hpp: Vyukov's ring,
// rosters, bells) whose message is a record<Max> slot (detail/ring/record.hpp), and what an
// inspector reads there. One consumer reads a byte ring instead (bytes_layout.hpp):
// bytes_in_slots says which, for queue_for and for an inspector alike.

#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/queue/fixed_layout.hpp>
#include <ipckit/detail/ring/mpmc.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/segment_info.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ipckit::detail {

/// Whether a bounded queue of bytes<Max> for up to `max_consumers` receivers keeps its messages
/// in record slots (several receivers) rather than in a byte ring (one: detail/queue/bytes.hpp).
constexpr bool bytes_in_slots(std::size_t max_consumers) noexcept { return max_consumers > 1; }

/// The bytes one message of bytes<Max> takes in a slot: its length and complement words (8
/// bytes) and Max bytes rounded up to 8 (sizeof(record<Max>)). bounded<N> holds N / record_bytes_of(Max) slots.
constexpr std::size_t record_bytes_of(std::size_t max) noexcept { return 8 + record_capacity(max); }
static_assert(record_bytes_of(64) == sizeof(record<64>) && record_bytes_of(1) == sizeof(record<1>) &&
                  record_bytes_of(1500) == sizeof(record<1500>),
              "record_bytes_of must say what a record<Max> slot takes, or inspectors misread record queues");

/// The slots of a queue of bytes<Max> in bounded<N> (N bytes of storage).
constexpr std::size_t record_slots(std::size_t max, std::size_t n) noexcept { return n / record_bytes_of(max); }

/// What lives in a record queue's segment after the header: a fixed queue's parts, of slots of
/// record<Max>.
template <std::size_t Max, std::size_t N, std::size_t MaxP, std::size_t MaxC>
using record_queue_shared = queue_shared<record<Max>, record_slots(Max, N), MaxP, MaxC>;

/// For an inspector: the endpoints, depth and counters of a queue of bytes<Max> kept in record
/// slots, described by `d` (capacity_value: N bytes), whose body is `v`. Messages, and bytes
/// of storage as depth() counts them (slots in use times the slot's size). Reads only; throws
/// inspect_fault.
inline void inspect_record_queue(const body_view& v, const queue_description& d, segment_info& out) {
    const std::uint64_t slots = record_slots(d.message.size, d.capacity_value);
    if (d.message.size == 0 || d.message.size > (std::size_t{1} << 30) || slots < 2)
        throw inspect_fault("describes " + std::to_string(slots) + " slots of bytes<" + std::to_string(d.message.size) +
                            ">, which no queue of several consumers has");
    const queue_shared_offsets o = queue_offsets(d.producers, d.consumers, alignof(record<1>));
    add_roster(v, o.senders, d.producers, "sender", out);
    add_roster(v, o.receivers, d.consumers, "receiver", out);
    out.capacity_messages = slots;
    const auto r = read_ring(v, o.ring, cache_line, slots);
    set_message_counts(r, out);
    if (r) out.depth_bytes = (r->tail - r->head) * record_bytes_of(d.message.size);
}

}  // namespace ipckit::detail
