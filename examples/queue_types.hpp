#pragma once
// From flags chosen at run time to the queue type fixed at compile time: the one place where
// the example programs turn settings into an ipckit::queue or mailbox type and call on it.
//
// Only ipckit's public API is used here; copy it along with the programs (common.hpp lists them).

#include "command_line.hpp"

#include <cstddef>
#include <type_traits>

namespace example {

template <class T>
inline constexpr std::type_identity<T> type{};

/// Every queue the programs make: system_owned, so that the queue and the messages in it outlive
/// the process that created it, and a producer may start (and even finish, if the queue holds
/// everything) before the consumer, who removes it at the end.
template <class Message, class Capacity, class Producers = ipckit::single, class Consumers = ipckit::single,
          class Wait = ipckit::adaptive>
using queue_of = ipckit::queue<Message, Capacity, Producers, Consumers, Wait, ipckit::system_owned>;

/// Every mailbox the programs make (--mailbox): system_owned, like the queues, and of the one
/// capacity the kind offers: the default ring's 4096 messages of 8 B, or 2 MiB of bytes (slots of
/// 8 + 64 KiB each, 31 of them, whatever a message's length).
template <class Message, class Delivery>
using mailbox_of = ipckit::mailbox<Message,
                                   ipckit::bounded<ipckit::is_bytes<Message> ? byte_ring : ring_slots(size_classes[0])>,
                                   Delivery, ipckit::system_owned>;

/// Calls f(std::type_identity<M>{}) with M the mailbox of `Message` that --mailbox chose: one type
/// per delivery, so 8 with both message kinds (with_queue_type).
template <class Message, class F>
int with_mailbox_type(mailbox_kind m, F&& f) {
    switch (m) {
    case mailbox_kind::exclusive: return f(type<mailbox_of<Message, ipckit::exclusive>>);
    case mailbox_kind::any: return f(type<mailbox_of<Message, ipckit::any>>);
    case mailbox_kind::round_robin: return f(type<mailbox_of<Message, ipckit::round_robin>>);
    case mailbox_kind::broadcast: return f(type<mailbox_of<Message, ipckit::broadcast>>);
    case mailbox_kind::none: break;
    }
    return 2;  // not reached: with_queue_type asks only for a mailbox
}

/// The default ring for fixed payloads of P bytes.
template <std::size_t P>
using ring_of = ipckit::bounded<ring_slots(P)>;
static_assert(std::is_same_v<ring_of<size_classes[0]>, ipckit::bounded<fixed_capacities[1]>>,
              "--capacity 4096 at 8 B is the default ring: one queue type, not two");

/// Calls f(std::type_identity<Q>{}) with Q the queue type that the flags in `s` describe, and
/// returns what f returns. f is written once, as a template lambda:
///
///   with_queue_type(s, [&]<class Q>(std::type_identity<Q>) { return run<Q>(s); });
///
/// and compiled for every type this can choose: those in the table under "What can be chosen",
/// 15 queues and 8 mailboxes. A program that never waits on its handle (the demo) passes waits::adaptive_only
/// to compile two fewer: the wait policy is not part of the queue's layout, so each program on a
/// queue may choose its own.
enum class waits { as_given, adaptive_only };
template <waits Waits = waits::as_given, class F>
int with_queue_type(const settings& s, F&& f) {
    using ipckit::multi;
    using small = sample<size_classes[0]>;  // what every kind but the default 1 x 1 ring carries
    const bool several = s.producers > 1 || s.consumers > 1;

    if (s.mailbox != mailbox_kind::none) {  // parse_command_line let through only --size 8 for fixed
        if (s.message == message_kind::bytes) return with_mailbox_type<variable>(s.mailbox, f);
        return with_mailbox_type<small>(s.mailbox, f);
    }
    if (s.message == message_kind::bytes && s.capacity == capacity_kind::zero) {
        if (several) return f(type<queue_of<variable, ipckit::zero_capacity, multi, multi>>);
        return f(type<queue_of<variable, ipckit::zero_capacity>>);
    }
    if (s.message == message_kind::bytes && s.capacity == capacity_kind::unbounded) {
        if constexpr (unbounded_offered) {  // one consumer
            if (s.producers > 1) return f(type<queue_of<variable, ipckit::unbounded<>, multi>>);
            return f(type<queue_of<variable, ipckit::unbounded<>>>);
        }
        return 2;  // not reached: parse_command_line refused it
    }
    if (s.message == message_kind::bytes) {
        using ring = ipckit::bounded<byte_ring>;
        if (s.consumers > 1) return f(type<queue_of<variable, ring, multi, multi>>);  // record slots
        if (s.producers > 1) return f(type<queue_of<variable, ring, multi>>);  // a byte ring: one consumer
        return f(type<queue_of<variable, ring>>);
    }
    switch (s.capacity) {
    case capacity_kind::ring:
        if (several) return f(type<queue_of<small, ring_of<size_classes[0]>, multi, multi>>);
        if (s.payload == size_classes[2]) return f(type<queue_of<sample<size_classes[2]>, ring_of<size_classes[2]>>>);
        if (s.payload == size_classes[1]) return f(type<queue_of<sample<size_classes[1]>, ring_of<size_classes[1]>>>);
        if constexpr (Waits == waits::as_given) {
            if (s.wait == wait_kind::spin)
                return f(type<queue_of<small, ring_of<size_classes[0]>, ipckit::single, ipckit::single, ipckit::spin>>);
            if (s.wait == wait_kind::futex)
                return f(type<queue_of<small, ring_of<size_classes[0]>, ipckit::single, ipckit::single, ipckit::futex>>);
        }
        return f(type<queue_of<small, ring_of<size_classes[0]>>>);
    case capacity_kind::given:
        if (s.capacity_n == fixed_capacities[0]) {
            if (several) return f(type<queue_of<small, ipckit::bounded<fixed_capacities[0]>, multi, multi>>);
            return f(type<queue_of<small, ipckit::bounded<fixed_capacities[0]>>>);
        }
        if (several) return f(type<queue_of<small, ipckit::bounded<fixed_capacities[1]>, multi, multi>>);
        return f(type<queue_of<small, ipckit::bounded<fixed_capacities[1]>>>);
    case capacity_kind::zero:
        if (several) return f(type<queue_of<small, ipckit::zero_capacity, multi, multi>>);
        return f(type<queue_of<small, ipckit::zero_capacity>>);
    case capacity_kind::unbounded:
        if constexpr (unbounded_offered) {  // one consumer
            if (s.producers > 1) return f(type<queue_of<small, ipckit::unbounded<>, multi>>);
            return f(type<queue_of<small, ipckit::unbounded<>>>);
        }
        break;
    }
    return 2;  // not reached: parse_command_line refused what this build does not have
}

}  // namespace example
