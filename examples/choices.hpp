#pragma once
// What the example programs can be asked for: the kinds of queue, the sizes, capacities and
// waits that each build compiles, and their names on the command line.
//
// Only ipckit's public API is used here; copy it along with the programs (common.hpp lists them).

#include "message.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <string_view>

namespace example {

// The programs show each kind of queue once, not every combination: every queue type they can
// choose is compiled into each of them, and each type costs build time (half a second or more
// per program on a small machine). The full matrix of message sizes, sides, capacities and wait
// policies is the benchmark's (bench/). Compiled here, 14 queue types and 8 mailbox types (one
// per delivery and message kind):
//
//   kind                  message                   producers x consumers   wait
//   default ring, 1 x 1   fixed: 8 B, 1 KiB, 64 KiB single x single         adaptive; spin and
//                                                                           futex at 8 B
//   default ring, several fixed: 8 B                multi x multi           adaptive
//   --capacity N          fixed: 8 B, 64 slots      single x single, or     adaptive
//                         (or 4096: the default)    multi x multi
//   --capacity zero       fixed: 8 B                the same                adaptive
//   --capacity unbounded  fixed: 8 B                single or multi x       adaptive
//                                                   single
//   --message bytes       any size, a 2 MiB ring    the same                adaptive
//     with --capacity zero or unbounded: a rendezvous, or a chain of 1 MiB chunks, as above
//   --mailbox DELIVERY    fixed: 8 B, 4096 slots;   up to 63 x 64 (exclusive: adaptive
//   (exclusive, any,      bytes: any size, 2 MiB    x 1), system_owned
//   round_robin,          of 64 KiB record slots
//   broadcast)
//
// Several producers or consumers make both sides multi where the kind allows it (an unbounded
// queue has one consumer; bytes with one consumer are a byte ring of multi producers, with
// several consumers record slots of 64 KiB, multi on both sides). The fixed payload sizes are size classes: --size
// goes into the smallest that holds it, and the consumer's report says which. Any other
// combination parse_command_line refuses, naming what is offered instead.

enum class wait_kind { spin, futex, adaptive };
enum class message_kind { fixed, bytes };
/// --mailbox: a system_owned ipckit::mailbox of this delivery instead of a queue (none: a queue).
enum class mailbox_kind { none, exclusive, any, round_robin, broadcast };
enum class capacity_kind {
    ring,       // the default: about 2 MiB (ring_slots(payload) for fixed messages)
    given,      // --capacity N, rounded up to one of the compiled capacities
    zero,       // a rendezvous
    unbounded,  // a chain of chunks
};

/// The payload sizes ("size classes") a fixed message is compiled in; --size picks the smallest
/// that holds it. All three with one producer, one consumer and the default capacity; the
/// first, the default --size, for every other kind.
inline constexpr std::array<std::size_t, 3> size_classes{8, 1024, max_size};

/// Slots in the default ring for fixed payloads of `payload` bytes (a sample<payload>): about
/// 2 MiB of ring, at most 4096 slots, at least 16, and a power of two (so that finding slot
/// index % N is cheap).
constexpr std::size_t ring_slots(std::size_t payload) noexcept {
    return std::bit_floor(std::clamp<std::size_t>((std::size_t{2} << 20) / (sizeof(stamp) + payload), 16, 4096));
}
static_assert(sizeof(sample<size_classes[0]>) == sizeof(stamp) + size_classes[0] &&
              sizeof(sample<size_classes[1]>) == sizeof(stamp) + size_classes[1] &&
              sizeof(sample<size_classes[2]>) == sizeof(stamp) + size_classes[2]);

/// The capacities --capacity N can pick, the first that is >= N: for fixed messages, a small ring
/// (where the producer feels the consumer's pace) or the default ring at 8 B; for variable-size
/// messages, bytes of ring (bounded<N> counts bytes there), the default one only.
inline constexpr std::array<std::size_t, 2> fixed_capacities{64, ring_slots(size_classes[0])};
inline constexpr std::size_t byte_ring = std::size_t{2} << 20;

/// Producers and consumers: single, or ipckit::multi, which has room for 64 endpoints a side.
/// The demo holds one sender place itself while several producers start (see demo.cpp).
inline constexpr unsigned max_producers = 63;
inline constexpr unsigned max_consumers = 64;

/// Whether this build of ipckit has unbounded queues.
#if __has_include(<ipckit/detail/queue/unbounded.hpp>)
inline constexpr bool unbounded_offered = true;
#else
inline constexpr bool unbounded_offered = false;
#endif

inline std::string_view to_string(mailbox_kind m) noexcept {
    switch (m) {
    case mailbox_kind::exclusive: return "exclusive";
    case mailbox_kind::any: return "any";
    case mailbox_kind::round_robin: return "round_robin";
    case mailbox_kind::broadcast: return "broadcast";
    case mailbox_kind::none: break;
    }
    return "none";
}

inline std::string_view to_string(wait_kind w) noexcept {
    switch (w) {
    case wait_kind::spin: return "spin";
    case wait_kind::futex: return "futex";
    case wait_kind::adaptive: break;
    }
    return "adaptive";
}

}  // namespace example
