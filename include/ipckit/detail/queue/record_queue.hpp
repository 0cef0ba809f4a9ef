#pragma once
// Bounded queues of variable-size messages, bytes<Max>, for several consumers (SPMC, MPMC):
// Vyukov's ring (detail/ring/mpmc.hpp) of record<Max> slots (detail/ring/record.hpp), with the
// fixed-size queue's layout, claims, crash recovery and endpoints' loop, and the verbs of every
// bytes endpoint.
//
//   using jobs = ipckit::queue<ipckit::bytes<1024>, ipckit::bounded<1 << 20>, ipckit::multi, ipckit::multi>;
//   auto tx = jobs::create("work.jobs").sender();
//   tx.send("resize img-17.png");                     // a std::string_view or span of bytes
//   auto rx = jobs::open("work.jobs").receiver();      // in each worker process
//   std::array<std::byte, 1024> buf;
//   if (auto n = rx.receive(buf)) use(buf.data(), *n);
//
// How much fits. bounded<N> counts bytes of storage, as for every bytes<Max> kind: each message
// takes one slot of sizeof(record<Max>) = 8 + Max rounded up to 8 bytes whatever its length (as
// in Boost's message_queue and POSIX message queues), so the queue holds N / sizeof(record<Max>)
// messages; it must hold 2 or more (a static_assert says so otherwise). A message of 0 to Max
// bytes fits; a longer one is too_large at once, with nothing sent.
//
// Delivery. Each message goes to exactly one receiver, whole; each sender's messages are taken
// in the order it sent them (receivers running side by side may finish them in any order).
//
// A receive buffer too small: too_large, and the message stays this receiver's next (its slot
// stays claimed by this receiver until a bigger buffer or a view takes it, or the receiver
// closes: then it is lost). Loans and views lend a slot through their endpoint, one at a time,
// as a fixed-size queue's do (record_lending.hpp).
//
// Crashes, as in the fixed MPMC ring: a sender killed holding a claimed slot leaves it to be
// skipped (its message was never sent); a receiver killed holding one (mid-copy, a view, a
// parked message) loses that message, and its slot is freed for the senders once no live
// process lists it.
//
// The pieces: the shared part and the inspector's reading (record_layout.hpp), the endpoints
// (record_endpoints.hpp), and here the queue handle that makes them.

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/queue/record_endpoints.hpp>
#include <ipckit/detail/queue/record_layout.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <cstddef>
#include <string>
#include <utility>

namespace ipckit::detail {

/// A bounded queue of messages of up to Max bytes, in N bytes of record slots in a named
/// shared-memory segment: what ipckit::queue<bytes<Max>, bounded<N>, Producers, Consumers> is for
/// Consumers of more than one (see the top of this file).
template <std::size_t Max, std::size_t N, cardinality_policy Producers, cardinality_policy Consumers,
          wait_policy Wait, ownership_policy Ownership>
class record_queue
    : public queue_handle<record_queue<Max, N, Producers, Consumers, Wait, Ownership>>,
      public kind_constants<bytes<Max>, Wait, Ownership, N, Producers::max, Consumers::max,
                            record_queue_shared<Max, N, Producers::max, Consumers::max>>,
      public endpoint_types<record_queue<Max, N, Producers, Consumers, Wait, Ownership>, record_sender, record_receiver> {
public:
    using typename record_queue::kind_constants::shared;
    /// What a slot holds: a length and up to Max bytes.
    using record_type = record<Max>;
    /// The longest message a send accepts.
    static constexpr std::size_t max_message = Max;
    /// How many messages it holds at once: N bytes of slots of sizeof(record<Max>).
    static constexpr std::size_t slots = record_slots(Max, N);
    /// Where its endpoints sleep, and whom closing wakes (close()).
    template <class Role>
    using bells = role_bells<Role>;
    template <mode_policy Mode>
    using sender_type = record_sender<record_queue, Mode>;
    template <mode_policy Mode>
    using receiver_type = record_receiver<record_queue, Mode>;

    /// Whether a message of `length` bytes can be sent at all.
    static constexpr bool fits(std::size_t length) noexcept { return length <= max_message; }

    /// The description and size a segment must match to be this queue: bytes<Max> and N bytes
    /// are named, so opening it with another Max or N is incompatible_layout saying which.
    static segment_layout layout() {
        return {describe_queue<Producers, Consumers, Ownership>("bytes<" + std::to_string(Max) + ">",
                                                                "bounded<" + std::to_string(N) + " bytes>"),
                header_size + sizeof(shared)};
    }

    /// How much is waiting now (every kind's depth(): the part of the capacity in use, in the
    /// capacity's unit), here bytes of storage: slots in use times sizeof(record<Max>), whatever
    /// the lengths of the messages in them; depth() / sizeof(record_type) messages. A snapshot,
    /// stale as soon as it is returned. 0 if the indices are corrupt.
    [[nodiscard]] std::size_t depth() const noexcept {
        return tail_minus_head(this->template shared_part<shared>().ring, slots) * sizeof(record_type);
    }

private:
    friend queue_handle<record_queue>;
    record_queue(segment&& s, const options& opt) : queue_handle<record_queue>(std::move(s), opt) {}
};

}  // namespace ipckit::detail
