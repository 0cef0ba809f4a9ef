#pragma once
// What a bounded queue of bytes<Max> holds in shared memory after its segment header (a byte
// ring: detail/ring/bytes.hpp), where an inspector finds each part, and what it reads there.

#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/queue/fixed_layout.hpp>
#include <ipckit/detail/ring/bytes.hpp>
#include <ipckit/detail/ring/bytes_consumer.hpp>
#include <ipckit/detail/ring/bytes_producer.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/segment_info.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace ipckit::detail {

/// What lives in a byte queue's segment after the header.
///   data_bell    the receiver sleeps here while the queue is empty
///   space_bell   senders sleep here while the ring is full
///   senders      roster of up to MaxP senders (who, and which position each is reserving)
///   receivers    roster of the one receiver
///   ring         indices and records (detail/ring/bytes.hpp)
template <std::size_t Max, std::size_t N, std::size_t MaxP, std::size_t MaxC>
struct bytes_queue_shared {
    static constexpr bool multi_producer = MaxP > 1;
    using ring_type = bytes_ring<N, multi_producer>;
    using producer_type = bytes_producer<Max, N, multi_producer>;
    using consumer_type = bytes_consumer<Max, N, multi_producer>;

    alignas(cache_line) doorbell data_bell;
    std::atomic<std::uint32_t> closed{0};  ///< as queue_shared's (detail/queue/fixed_layout.hpp)
    alignas(cache_line) doorbell space_bell;
    roster<MaxP> senders;
    roster<MaxC> receivers;
    ring_type ring;
};

/// For an inspector: a bytes_queue_shared's parts lie where queue_offsets() says, with align 8,
/// and its ring keeps `read` after head and the records a cache line further on.
template <std::size_t MaxP, bool Multi>
constexpr bool bytes_offsets_hold() noexcept {
    using shared = bytes_queue_shared<64, 64, MaxP, 1>;
    using ring = typename shared::ring_type;
    constexpr queue_shared_offsets o = queue_offsets(MaxP, 1, alignof(std::uint64_t));
    return offsetof(shared, senders) == o.senders && offsetof(shared, receivers) == o.receivers &&
           offsetof(shared, ring) == o.ring && offsetof(ring, tail) == 0 && offsetof(ring, head) == cache_line &&
           offsetof(ring, words) == 2 * cache_line && Multi == shared::multi_producer;
}
static_assert(bytes_offsets_hold<1, false>() && bytes_offsets_hold<64, true>(),
              "queue_offsets() must say where bytes_queue_shared's parts lie, or inspectors misread byte queues");

/// For an inspector: the messages among the records of a byte ring of `n` bytes whose records
/// are `words`, from head to tail as read in `r`: a walk of their headers, checked as the consumer
/// checks them. It stops at a record not yet written (messages behind it are not counted).
/// nullopt if the consumer freed records meanwhile (`head` moved), or a record runs past the
/// tail read and `tail` moved since (see below); throws inspect_fault for a record that cannot be.
inline std::optional<std::uint64_t> count_records(const std::atomic<std::uint64_t>* words, std::uint64_t n,
                                                  const std::atomic<std::uint64_t>& head,
                                                  const std::atomic<std::uint64_t>& tail, const ring_indices& r) {
    std::uint64_t messages = 0;
    std::uint64_t pos = r.head;
    std::optional<std::string> fault;
    while (pos < r.tail && !fault) {
        // SYNC POINT READ: acquire, paired with a producer's release store of the header.
        const std::uint64_t w = words[(pos % n) / bytes_record::header].load(std::memory_order_acquire);
        const auto kind = bytes_record::kind_of(w);
        const std::uint64_t size = bytes_record::size_of(w);
        if (kind == bytes_record::none) break;  // being reserved or written
        const bool fits = size >= bytes_record::header && size % bytes_record::header == 0 && size <= n - pos % n;
        if (!fits || (kind == bytes_record::message && bytes_record::length_of(w) > size - bytes_record::header))
            fault = "has a record at position " + std::to_string(pos) + " that cannot be (header word " +
                    std::to_string(w) + ")";
        else if (kind == bytes_record::message)
            ++messages;
        pos += size;
    }
    if (head.load(std::memory_order_acquire) != r.head) return std::nullopt;  // walked over freed records
    if (!fault && pos > r.tail) {
        // The tail is not monotonic (mpsc): a loan that gave back the end of its run moved it
        // back, and a sender claimed from there, past the tail read ("Loans of records" in
        // detail/ring/bytes.hpp). Read again rather than call that damage.
        if (tail.load(std::memory_order_acquire) != r.tail) return std::nullopt;
        fault = "has records that run past its tail";
    }
    if (fault) throw inspect_fault(*fault);
    return messages;
}

/// For an inspector: the endpoints, depth (bytes, and the messages among them) and counters
/// (bytes) of a queue of bytes<Max> described by `d`, whose body is `v`. Reads only; throws
/// inspect_fault.
inline void inspect_bytes_queue(const body_view& v, const queue_description& d, segment_info& out) {
    const queue_shared_offsets o = queue_offsets(d.producers, d.consumers, alignof(std::uint64_t));
    add_roster(v, o.senders, d.producers, "sender", out);
    add_roster(v, o.receivers, d.consumers, "receiver", out);
    const std::uint64_t n = d.capacity_value;
    if (n < 16 || n % bytes_record::header != 0 || n > bytes_record::max_size)
        throw inspect_fault("describes a ring of " + std::to_string(n) + " bytes, which no byte queue has");
    const auto r = read_ring(v, o.ring, cache_line, n);
    if (!r) {
        out.note = "its indices kept moving: depth not read";
        return;
    }
    out.depth_bytes = r->tail - r->head;
    out.sent_bytes = r->tail;
    out.received_bytes = r->head;
    const auto* tail = v.at<std::atomic<std::uint64_t>>(o.ring, "ring's tail");
    const auto* head = v.at<std::atomic<std::uint64_t>>(o.ring + cache_line, "ring's head");
    const auto* words = v.at<std::atomic<std::uint64_t>>(o.ring + 2 * cache_line, "ring of records",
                                                         static_cast<std::size_t>(n / bytes_record::header));
    for (int attempt = 0; attempt < 4 && !out.depth_messages; ++attempt) {
        const auto again = attempt == 0 ? r : read_ring(v, o.ring, cache_line, n);
        if (again) out.depth_messages = count_records(words, n, *head, *tail, *again);
    }
}

}  // namespace ipckit::detail
