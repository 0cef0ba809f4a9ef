#pragma once
// The policy classes that compose a queue, and the concepts that check their shape.
//
//   queue<Message, Capacity, Producers, Consumers, Wait, Ownership>   with endpoints in a Mode
//
// Each policy is a tag type or a small struct; a user may write their own wait policy.

#include <ipckit/detail/shm/layout.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace ipckit {

// ---- Message --------------------------------------------------------------------------------

/// A fixed-size message: copied byte for byte between processes, so it must be trivially
/// copyable and standard layout (no pointers, no std::string, no virtual functions), and
/// default-constructible (a receiver makes one to copy into).
template <class T>
concept message = detail::shm_safe<T> && std::is_default_constructible_v<T> && !std::is_const_v<T> &&
                  !std::is_volatile_v<T>;

/// Variable-size messages (the seed's "variable size"): records of 0 to Max bytes, sent from a
/// std::span<const std::byte> or std::string_view and received into a caller's buffer or an
/// owned vector. Each record is contiguous in shared memory, so it can be read in place.
template <std::size_t Max>
struct bytes {
    static_assert(Max > 0 && Max <= (std::size_t{1} << 30), "bytes<Max>: Max must be between 1 and 1 GiB");
    static constexpr std::size_t max = Max;
};

template <class M>
inline constexpr bool is_bytes = false;
template <std::size_t Max>
inline constexpr bool is_bytes<bytes<Max>> = true;

/// What a queue carries: a fixed-size message type, or bytes<Max>.
template <class M>
concept message_policy = message<M> || is_bytes<M>;

// ---- Capacity -------------------------------------------------------------------------------

/// Bounded buffering (the seed: "limited/fixed buffer size"): at most N messages wait in the
/// queue; a sender waits while it is full and a receiver while it is empty.
template <std::size_t N>
struct bounded {
    static_assert(N > 0, "bounded<0> has no room for a message: zero capacity is a rendezvous, not a bounded queue");
    static_assert(N <= (std::size_t{1} << 40), "bounded<N>: N is larger than any shared-memory segment could hold");
    static constexpr std::size_t capacity = N;
};

/// Zero capacity (the seed's rendezvous): no buffer at all. A send returns only once a receiver
/// has taken its message, so both sides meet; several senders and receivers pair off one to
/// one. A send must block (a non-blocking send on zero capacity does not compile).
struct zero_capacity {
    static constexpr std::size_t capacity = 0;
};

/// Unbounded buffering (the seed's "unlimited size"): the sender never waits. The queue grows
/// by chaining segments of ChunkBytes each, freed as the receiver consumes them; a hard cap
/// (unbounded_options::cap_bytes, by default a safe share of the free space in /dev/shm) turns
/// "unlimited" into no_space rather than a SIGBUS.
template <std::size_t ChunkBytes = (std::size_t{1} << 20)>
struct unbounded {
    static_assert(ChunkBytes >= 4096, "unbounded<ChunkBytes>: a chunk must be at least 4096 bytes");
    static constexpr std::size_t chunk_bytes = ChunkBytes;
};

template <class C>
inline constexpr bool is_unbounded = false;
template <std::size_t B>
inline constexpr bool is_unbounded<unbounded<B>> = true;

template <class C>
concept capacity_policy = requires {
    { C::capacity } -> std::convertible_to<std::size_t>;
} || is_unbounded<C>;

// ---- Producers, Consumers -------------------------------------------------------------------

/// One endpoint at a time sends (or receives) on the queue: the seed's link between exactly
/// two processes.
struct single {
    static constexpr std::string_view name = "single";
    static constexpr std::size_t max = 1;
};

/// Up to Max endpoints (in any processes) send (or receive) on the queue at once; each message
/// goes to exactly one receiver, and each sender's messages keep their order.
template <std::size_t Max>
struct multi_of {
    static_assert(Max >= 2 && Max <= 4096, "multi_of<Max>: Max must be between 2 and 4096 (single is 1)");
    static constexpr std::string_view name = "multi";
    static constexpr std::size_t max = Max;
};
using multi = multi_of<64>;

/// Up to Max senders, each with a lane of its own: an SPSC ring per sender, which the one
/// receiver merges round robin (detail/ring/lanes.hpp). Beside `multi` rather than instead of
/// it, because each pays where the other does not: a sender never contends with another (no
/// CAS on its send; preempted or killed mid-send, it holds up only its own lane), but the
/// segment holds Max rings and the receiver looks at each lane in turn. Producers only, on a
/// bounded queue of fixed-size messages with a single consumer; bounded<N> is then N messages
/// per lane (a sender's room never depends on the others': a total would need a shared count,
/// an atomic RMW on every send, the very contention lanes remove). No default Max: the segment
/// grows with it.
template <std::size_t Max>
struct lanes {
    static_assert(Max >= 1 && Max <= 4096, "lanes<Max>: Max must be between 1 and 4096");
    static constexpr std::string_view name = "lanes";
    static constexpr std::size_t max = Max;
};

template <class P>
inline constexpr bool is_lanes = false;
template <std::size_t Max>
inline constexpr bool is_lanes<lanes<Max>> = true;

template <class P>
concept cardinality_policy = requires {
    { P::max } -> std::convertible_to<std::size_t>;
    { P::name } -> std::convertible_to<std::string_view>;
} && (P::max >= 1);

// ---- Wait -----------------------------------------------------------------------------------

/// Busy-waits with the CPU's pause hint and never sleeps: the lowest latency, a whole core
/// burnt while waiting. Still notices deadlines and a peer's death.
struct spin {
    static constexpr std::string_view name = "spin";
    static constexpr std::chrono::nanoseconds spin_for = std::chrono::nanoseconds::max();
    static constexpr bool may_sleep = false;
};

/// Sleeps on a futex at once: no CPU while waiting, a kernel wake-up per wait.
struct futex {
    static constexpr std::string_view name = "futex";
    static constexpr std::chrono::nanoseconds spin_for{0};
    static constexpr bool may_sleep = true;
};

/// Spins for a short while, then sleeps on a futex: spinning latency when traffic flows, no CPU
/// when it does not. The default.
struct adaptive {
    static constexpr std::string_view name = "adaptive";
    static constexpr std::chrono::nanoseconds spin_for = std::chrono::microseconds(50);
    static constexpr bool may_sleep = true;
};

/// How a blocked endpoint waits: spin up to `spin_for`, then sleep on a futex if `may_sleep`.
/// The waker side does not depend on it, so a spinning sender may feed a sleeping receiver.
template <class W>
concept wait_policy = requires {
    { W::spin_for } -> std::convertible_to<std::chrono::nanoseconds>;
    { W::may_sleep } -> std::convertible_to<bool>;
    { W::name } -> std::convertible_to<std::string_view>;
} && (W::may_sleep || W::spin_for > std::chrono::nanoseconds::zero());  // it must wait somehow

// ---- Mode -----------------------------------------------------------------------------------

/// The seed's blocking (synchronous) send / receive: wait for room / for a message, with an
/// optional deadline.
struct blocking {};
/// The seed's non-blocking (asynchronous) send / receive: return would_block at once, without
/// a system call.
struct non_blocking {};

template <class M>
concept mode_policy = std::same_as<M, blocking> || std::same_as<M, non_blocking>;

// ---- Ownership ------------------------------------------------------------------------------

/// The segment belongs to the process that created it: it lives while that process holds any
/// handle or endpoint of it (whichever thread made it, however it was opened), and is removed
/// when the last of them goes; if the process dies first, it is gone too (open says not_found,
/// and the next create replaces it).
struct process_owned {
    static constexpr std::uint32_t id = 1;
    static constexpr const char* name = "process_owned";
};
/// The segment and its messages stay until ipckit::remove_segment(name), across every process's exit.
struct system_owned {
    static constexpr std::uint32_t id = 2;
    static constexpr const char* name = "system_owned";
};

template <class O>
concept ownership_policy = std::same_as<O, process_owned> || std::same_as<O, system_owned>;

// ---- Delivery (mailbox) --------------------------------------------------------------------
// The seed's question "P1 sends, P2 and P3 both receive: who gets the message?", answered per
// mailbox. The id goes into the mailbox's layout description, so that opening a mailbox with
// another delivery policy is incompatible_layout.

/// One receiver at a time; a second one gets receiver_busy until the first one leaves or dies.
struct exclusive {
    static constexpr std::uint32_t id = 1;
    static constexpr const char* name = "exclusive";
};
/// Competing receivers: each message goes to exactly one of them, whichever takes it first.
struct any {
    static constexpr std::uint32_t id = 2;
    static constexpr const char* name = "any";
};
/// Receivers take turns in order, each message to exactly one of them.
struct round_robin {
    static constexpr std::uint32_t id = 3;
    static constexpr const char* name = "round_robin";
};
/// Every attached receiver gets every message, in order.
struct broadcast {
    static constexpr std::uint32_t id = 4;
    static constexpr const char* name = "broadcast";
};

template <class D>
concept delivery_policy = std::same_as<D, exclusive> || std::same_as<D, any> || std::same_as<D, round_robin> ||
                          std::same_as<D, broadcast>;

}  // namespace ipckit
