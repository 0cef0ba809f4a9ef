#pragma once
// queue: the seed's buffer between producer and consumer processes, composed from policies,
// with sender and receiver endpoints whose verbs block or not by their Mode.
//
//   queue<Message,     T (fixed size, trivially copyable) or bytes<Max> (variable size)
//         Capacity,    bounded<N>, zero_capacity (rendezvous) or unbounded<ChunkBytes>
//         Producers,   single or multi / multi_of<N>, or lanes<N> (an SPSC lane per sender)
//         Consumers,   single or multi / multi_of<N>
//         Wait,        spin, futex or adaptive (the default)
//         Ownership>   process_owned (the default) or system_owned
//
//   using ticks = ipckit::queue<tick, ipckit::bounded<4096>>;   // SPSC, adaptive wait
//   auto tx = ticks::create("market.ticks").sender();            // process A
//   auto rx = ticks::open("market.ticks").receiver();            // process B
//
// Guarantees: each message is delivered whole, once, in the order sent. A blocked verb returns
// timed_out at its deadline, closed when the closed rule says the other side has ended (a single
// sender or receiver closed its endpoint; a side of many: the queue was closed as a whole with
// q.close(), or removed), and peer_dead within about options::liveness_interval once the peer's
// process died; messages sent before either are received first. The data path never throws, never locks, and makes a system call only to
// wake a peer that sleeps (or, in a blocking verb, to sleep).
//
// Thread safety: a queue handle may be shared; each endpoint is restricted thread-safe (one
// thread at a time). One sender and one receiver may be attached at a time (single/single);
// a second attach gets sender_busy / receiver_busy while the first one's process lives.

#include <ipckit/detail/queue/fixed.hpp>
#include <ipckit/detail/queue/rendezvous.hpp>
#include <ipckit/detail/queue/unbounded.hpp>
#include <ipckit/detail/queue/bytes.hpp>
#include <ipckit/detail/queue/record_queue.hpp>
#include <ipckit/detail/queue/lanes.hpp>
// [kind includes]
#include <ipckit/policy.hpp>

#include <type_traits>

namespace ipckit {

namespace detail {

/// Which implementation serves a combination of policies. A combination with no
/// specialisation here is one ipckit does not offer; the static_assert says why.
template <class Message, class Capacity, class Producers, class Consumers, class Wait, class Ownership>
struct queue_for {
    static constexpr bool fixed = !is_bytes<Message>;
    static_assert(!fixed || std::is_trivially_copyable_v<Message>,
                  "ipckit::queue<T, ...>: a message is copied byte for byte into another process, so T must be "
                  "trivially copyable (no std::string, no pointers into the heap, no virtual functions); "
                  "for variable-size data use ipckit::bytes<Max>");
    static_assert(!fixed || std::is_standard_layout_v<Message>,
                  "ipckit::queue<T, ...>: T must be standard layout, so that every program sees the same bytes");
    static_assert(!fixed || std::is_default_constructible_v<Message>,
                  "ipckit::queue<T, ...>: T must be default-constructible (a receiver makes one to copy into)");
    static_assert(!message_policy<Message>, "ipckit::queue: this combination of message kind and capacity is not offered");
};

template <message T, std::size_t N, class P, class C, class W, class O>
struct queue_for<T, bounded<N>, P, C, W, O> {
    using type = fixed_queue<T, N, P, C, W, O>;
};

/// bytes<Max> over bounded<N>: N counts bytes of storage here, not messages. One consumer: a
/// byte ring of N bytes. Several: N / sizeof(record<Max>) slots of Vyukov's ring
/// (detail/queue/record_queue.hpp), each message in one slot.
template <std::size_t Max, std::size_t N, class P, class C, class W, class O>
struct queue_for<bytes<Max>, bounded<N>, P, C, W, O> {
    static_assert(!bytes_in_slots(C::max) || record_slots(Max, N) >= 2,
                  "ipckit::queue<bytes<Max>, bounded<N>, Producers, Consumers> with several consumers keeps each "
                  "message in a slot of 8 + Max (rounded up to 8) bytes, and needs 2 slots or more: make N at least "
                  "2 * (8 + Max rounded up to 8), or Max smaller");
    using type = std::conditional_t<bytes_in_slots(C::max), record_queue<Max, N, P, C, W, O>,
                                    bytes_queue<Max, N, P, C, W, O>>;
};

/// zero_capacity: the seed's rendezvous. A send must block (rendezvous_sender says why if not).
template <message T, class P, class C, class W, class O>
struct queue_for<T, zero_capacity, P, C, W, O> {
    using type = rendezvous_queue<T, P, C, W, O>;
};
/// bytes<Max> over zero_capacity: the same rendezvous, each offer slot a record<Max>.
template <std::size_t Max, class P, class C, class W, class O>
struct queue_for<bytes<Max>, zero_capacity, P, C, W, O> {
    using type = rendezvous_queue<bytes<Max>, P, C, W, O>;
};

/// unbounded<ChunkBytes>: a chain of chunks, grown by the senders, freed as the one receiver
/// reads them (detail/queue/unbounded.hpp).
template <message T, std::size_t B, class P, class C, class W, class O>
    requires(!is_bytes<T>)
struct queue_for<T, unbounded<B>, P, C, W, O> {
    static_assert(C::max == 1,
                  "ipckit::queue<T, unbounded<...>, Producers, Consumers>: an unbounded queue has a single consumer "
                  "(Consumers = single): the receiver frees each chunk as soon as it has read it, which needs one "
                  "reader going through the chain in order. For many consumers use bounded<N>, or let one receiver "
                  "hand the messages on");
    using type = unbounded_queue<T, B, P, W, O>;
};
/// bytes<Max> over unbounded<B>: the same chain, each message a record<Max> slot written and
/// read in place (detail/queue/unbounded.hpp).
template <std::size_t Max, std::size_t B, class P, class C, class W, class O>
struct queue_for<bytes<Max>, unbounded<B>, P, C, W, O> {
    static_assert(C::max == 1,
                  "ipckit::queue<bytes<Max>, unbounded<...>, Producers, Consumers>: an unbounded queue has a single "
                  "consumer (Consumers = single): the receiver frees each chunk as soon as it has read it, which needs "
                  "one reader going through the chain in order. For many consumers use bounded<N>, or let one "
                  "receiver hand the messages on");
    using type = unbounded_queue<bytes<Max>, B, P, W, O>;
};

/// The kind for a combination: lanes<Max> senders pick the lanes queue (detail/queue/lanes.hpp),
/// every other cardinality queue_for above.
template <class Message, class Capacity, class Producers, class Consumers, class Wait, class Ownership>
struct queue_kind : queue_for<Message, Capacity, Producers, Consumers, Wait, Ownership> {
    static_assert(!is_lanes<Consumers>,
                  "ipckit::queue<..., Producers, lanes<Max>>: lanes belong to senders (one lane each, merged by one "
                  "receiver); for many receivers use multi");
};
template <class Message, class Capacity, std::size_t Max, class Consumers, class Wait, class Ownership>
struct queue_kind<Message, Capacity, lanes<Max>, Consumers, Wait, Ownership>
    : lanes_for<Message, Capacity, Max, Consumers, Wait, Ownership> {};

}  // namespace detail

/// A queue in a named shared-memory segment; see the top of this file for the policies.
template <class Message, capacity_policy Capacity, cardinality_policy Producers = single,
          cardinality_policy Consumers = single, wait_policy Wait = adaptive,
          ownership_policy Ownership = process_owned>
using queue = typename detail::queue_kind<Message, Capacity, Producers, Consumers, Wait, Ownership>::type;

/// The sending end of queue Q, in Mode: what Q::sender<Mode>() returns.
template <class Queue, mode_policy Mode = blocking>
using sender = typename Queue::template sender_type<Mode>;
/// The receiving end of queue Q, in Mode: what Q::receiver<Mode>() returns.
template <class Queue, mode_policy Mode = blocking>
using receiver = typename Queue::template receiver_type<Mode>;

}  // namespace ipckit
