#pragma once
// Bounded queues of variable-size messages, bytes<Max>: a byte ring of N bytes (bounded<N>
// counts bytes here, not messages) for one sender or many, and one receiver, with zero-copy
// loans (write a message in place) and views (read one in place).
//
//   using frames = ipckit::queue<ipckit::bytes<1500>, ipckit::bounded<1 << 20>>;   // 1 MiB ring
//   auto tx = frames::create("net.frames").sender();
//   tx.send("hello");                                  // a std::string_view or span of bytes
//   auto rx = frames::open("net.frames").receiver();
//   std::array<std::byte, 1500> buf;
//   if (auto n = rx.receive(buf)) use(buf.data(), *n);
//
// How much fits. Each message takes 8 bytes of header plus its length rounded up to 8, in one
// piece; a message that would cross the end of the ring leaves the rest of the ring unused
// until the receiver passes it. A message fits at all if it is at most Max bytes and its record
// at most N bytes (queue::max_message is the smaller bound); a longer one is too_large at once,
// with nothing sent. A queue of N bytes holds at least N / (8 + Max rounded up to 8) messages
// of the largest size at once, and at most N / 8 empty ones.
//
// Verbs. A sender sends a std::span<const std::byte> or a std::string_view. A receiver receives
// into a caller's buffer, returning the length; if the buffer is too small it returns too_large
// and the message stays first in the queue, so that a bigger buffer can take it (receive()
// without a buffer returns a std::vector and always fits). Blocking endpoints wait (with
// deadline overloads), non-blocking ones return would_block, as for fixed-size queues.
//
// Loans and views. sender.loan(n) reserves room for n bytes in the ring and returns a loan
// whose data() the caller fills in place; commit() (or commit(k), k <= n) publishes it, and a
// loan destroyed uncommitted is given back (nothing is published, nothing leaks).
// receiver.receive_view() returns a view of the next message in place; its bytes stay valid
// and are not reused until the view is released (destroyed, or release()). An endpoint has at
// most one loan or view outstanding: while it has one, its other verbs return in_use. A loan
// or view refers to the ring, not to its endpoint: moving the endpoint is fine, but release
// it before the endpoint is closed or destroyed, and in the process that made it.
// sender.loan_records(budget) lends up to `budget` bytes of the ring for several messages at
// once: reserve(n) / commit(n) each in place, as into an ipckit::records, then publish() sends
// them all with one publication (bytes_records_loan.hpp).
//
// Crashes. A sender killed between reserving room and committing it (in a send with many
// senders, or holding a loan) leaves a record that the receiver skips once no live sender lists
// it as pending: a blocking receive finds it within about options::liveness_interval, a
// non-blocking one on its first call after that which would block on it. A receiver killed
// holding a view takes that message with it; the next receiver continues after it.
//
// One receiver at a time (Consumers = single): see bytes_queue below for why. Several consumers
// get a queue of record slots instead (detail/queue/record_queue.hpp).
//
// The pieces: what lives in the segment (bytes_layout.hpp), the endpoints and what they lend
// (bytes_endpoints.hpp), and here the queue handle that makes them.

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/queue/bytes_endpoints.hpp>
#include <ipckit/detail/queue/bytes_layout.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/ring/bytes.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <cstddef>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// A bounded queue of variable-size messages of up to Max bytes, in a ring of N bytes in a
/// named shared-memory segment: what ipckit::queue<bytes<Max>, bounded<N>, ...> is.
///
/// Many senders, one receiver. A byte ring frees its records in ring order, so with several
/// receivers each would wait for the slowest record taken before its own (a held view would
/// stop every receiver), and a receiver killed in the middle of a record would need a second
/// layer of claims to be recovered from. So a byte ring has one receiver, and queue_for gives
/// several consumers a queue of record slots instead (detail/queue/record_queue.hpp).
template <std::size_t Max, std::size_t N, cardinality_policy Producers, cardinality_policy Consumers,
          wait_policy Wait, ownership_policy Ownership>
class bytes_queue : public queue_handle<bytes_queue<Max, N, Producers, Consumers, Wait, Ownership>> {
    static_assert(Consumers::max == 1,
                  "a byte ring has one receiver (its records are freed in ring order); several consumers of "
                  "bytes<Max> get record slots (ipckit::queue routes them to detail::record_queue)");

public:
    using message_type = bytes<Max>;
    using wait_type = Wait;
    using ownership_type = Ownership;
    /// The ring's size in bytes (bounded<N> counts bytes for bytes<Max>, not messages).
    static constexpr std::size_t capacity = N;
    /// The longest message a send accepts: Max, or less if the ring is smaller than its record.
    static constexpr std::size_t max_message = std::min<std::size_t>(Max, N - bytes_record::header);
    static constexpr std::size_t max_senders = Producers::max;
    static constexpr std::size_t max_receivers = Consumers::max;
    /// Records are freed in ring order: one receiver (see above), so receiver_busy suggests no multi_of.
    static constexpr bool one_receiver_only = true;

    using shared = bytes_queue_shared<Max, capacity, max_senders, max_receivers>;
    /// Where its endpoints sleep, and whom closing wakes (close()).
    template <class Role>
    using bells = role_bells<Role>;
    template <mode_policy Mode>
    using sender_type = bytes_sender<bytes_queue, Mode>;
    template <mode_policy Mode>
    using receiver_type = bytes_receiver<bytes_queue, Mode>;
    /// A message being written in place: what sender.loan(n) returns.
    using loan = bytes_loan<bytes_queue>;
    /// Room for several messages being written in place: what sender.loan_records(budget) returns.
    using records_loan = bytes_records_loan<bytes_queue>;
    /// A message being read in place: what receiver.receive_view() returns.
    using view = bytes_view<bytes_queue>;
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a queue must be standard layout");
    static_assert(alignof(shared) <= header_size, "the shared part must be placeable after the segment header");

    /// Whether a message of `length` bytes can be sent at all.
    static constexpr bool fits(std::size_t length) noexcept { return length <= max_message; }

    /// The description and size a segment must match to be this queue.
    static segment_layout layout() {
        return {describe_queue<Producers, Consumers, Ownership>("bytes<" + std::to_string(Max) + ">",
                                                                "bounded<" + std::to_string(capacity) + " bytes>"),
                header_size + sizeof(shared)};
    }

    /// How much is waiting now (every kind's depth(): the part of the capacity in use, in the
    /// capacity's unit), here bytes of the ring: records, headers, padding. A snapshot, stale as
    /// soon as it is returned. 0 if the indices are corrupt.
    [[nodiscard]] std::size_t depth() const noexcept {
        return tail_minus_head(this->template shared_part<shared>().ring, capacity);
    }

private:
    friend queue_handle<bytes_queue>;
    bytes_queue(segment&& s, const options& opt) : queue_handle<bytes_queue>(std::move(s), opt) {}

    // Value-initialises the ring: the records start all zero, as the multi-producer protocol needs.
    static void init(void* body) { ::new (body) shared; }

};

}  // namespace ipckit::detail
