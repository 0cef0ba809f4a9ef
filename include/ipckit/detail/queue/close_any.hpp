#pragma once
// Closing a bounded queue whose type is known only at run time: what a removal that knows no
// type does first (ipckit::remove_any, `ipckit rm --force`), so that the endpoints attached to
// the queue wake and see `closed`, as they do when Q::remove(name) closes it. close_queue
// (detail/endpoint/roles.hpp) writes the same words through a typed queue_shared; here they are
// found from the queue's description, by the layout functions an inspector reads by (each
// beside its kind's layout, and held to it there by static_asserts): the closed word where the
// kind has one, the seal of both rosters, then a ring of every bell an endpoint may sleep on.
// An unbounded queue's removal closes it untyped already (remove_unbounded_queue).

#include <ipckit/detail/queue/bytes_layout.hpp>
#include <ipckit/detail/queue/fixed_layout.hpp>
#include <ipckit/detail/queue/lanes.hpp>
#include <ipckit/detail/queue/lanes_inspect.hpp>
#include <ipckit/detail/queue/rendezvous_slots.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/shm/peek.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <cstddef>  // offsetof
#include <cstdint>
#include <optional>
#include <string_view>

namespace ipckit::detail {

/// Some of each kind's shared parts, to hold close_words() to where they lie.
using close_probe_ring = queue_shared<std::uint64_t, 4, 1, 1>;
using close_probe_many = queue_shared<char, 4, 64, 3>;
using close_probe_bytes = bytes_queue_shared<64, 64, 2, 1>;
using close_probe_lanes = lanes_shared<std::uint64_t, 4, 3>;
using close_probe_rendezvous = rendezvous_shared<std::uint64_t, 2, 2>;

/// Where a ring queue keeps its closed word: on data_bell's line, the same for every ring kind.
inline constexpr std::size_t closed_word_offset = offsetof(close_probe_ring, closed);
static_assert(offsetof(close_probe_many, closed) == closed_word_offset && offsetof(close_probe_ring, data_bell) == 0 &&
                  offsetof(close_probe_ring, space_bell) == cache_line &&
                  offsetof(close_probe_bytes, closed) == closed_word_offset &&
                  offsetof(close_probe_bytes, space_bell) == cache_line &&
                  offsetof(close_probe_lanes, closed) == closed_word_offset &&
                  offsetof(close_probe_lanes, room) == cache_line && sizeof(lane_bell) == cache_line &&
                  offsetof(close_probe_rendezvous, data_bell) == 0 &&
                  offsetof(rendezvous_offer<char>, bell) == offsetof(rendezvous_offer<lanes_probe_256>, bell) &&
                  offsetof(roster<1>, sealed) == offsetof(roster<64>, sealed),
              "close_words() must find the words close_queue writes, or a removal that knows no type closes nothing");

/// Where the close of a bounded queue writes, within the first `extent` bytes of its body: the
/// closed word (ring kinds), the seal of the rosters at `senders` and `receivers`, data_bell at
/// the start, and `bells` more bells from `first_bell`, `bell_stride` apart (a ring queue's
/// space_bell, each lane's room bell, each rendezvous offer's bell).
struct queue_close_words {
    bool closed_word = false;
    std::size_t senders = 0;
    std::size_t receivers = 0;
    std::size_t first_bell = 0;
    std::size_t bell_stride = 0;
    std::size_t bells = 0;
    std::size_t extent = 0;
};

/// The words the close of the bounded queue described by `d` writes; nullopt for an unbounded
/// queue (its head is another layout), and for a message so large or so aligned that no queue
/// of it could have been made (the sums below stay far from overflow: sides are at most 4096).
inline std::optional<queue_close_words> close_words(const queue_description& d) noexcept {
    if (d.kind == queue_description::unbounded || d.message.size > (std::uint64_t{1} << 40) ||
        d.message.align > (std::size_t{1} << 20))
        return std::nullopt;
    queue_close_words w;
    if (d.kind == queue_description::zero) {
        const rendezvous_offsets o = rendezvous_layout(d);
        w.senders = o.senders;
        w.receivers = o.receivers;
        w.first_bell = o.offers + offsetof(rendezvous_offer<char>, bell);
        w.bell_stride = o.offer_size;
        w.bells = d.producers;
        w.extent = o.offers + d.producers * o.offer_size;
        return w;
    }
    w.closed_word = true;
    w.first_bell = cache_line;
    if (d.lanes) {
        const lanes_offsets o = lanes_layout(d.producers, 0, d.message.size, d.message.align);
        w.senders = o.senders;
        w.receivers = o.receivers;
        w.bell_stride = cache_line;
        w.bells = d.producers;
    } else {
        // A byte ring's parts, and a record queue's, lie where a fixed queue's do; the
        // message's alignment moves only the ring, after the rosters.
        const queue_shared_offsets o = queue_offsets(d.producers, d.consumers, d.message.align);
        w.senders = o.senders;
        w.receivers = o.receivers;
        w.bells = 1;
    }
    w.extent = w.receivers + roster_bytes(1);  // the receivers' roster has a place at least
    return w;
}

/// The object of type T at `offset` in the body `b`.
template <class T>
T& in_body(char* b, std::size_t offset) noexcept {
    return *static_cast<T*>(static_cast<void*>(b + offset));
}

/// Writes the close `w` says into the queue whose body is `body` (mapped for at least w.extent
/// bytes): what close_queue does for a typed one, in its order.
inline void close_queue_at(void* body, const queue_close_words& w) noexcept {
    char* const b = static_cast<char*>(body);
    // SYNC POINT WRITE: as close_queue's (READ by a sender's load before its attempt; the
    // seals' seq_cst stores and the rings order it for anyone they wake).
    if (w.closed_word) in_body<std::atomic<std::uint32_t>>(b, closed_word_offset).store(1, std::memory_order_relaxed);
    in_body<roster<1>>(b, w.senders).seal();  // seal() writes the roster's header, the same for every Max
    in_body<roster<1>>(b, w.receivers).seal();
    in_body<doorbell>(b, 0).ring();  // data_bell
    for (std::size_t i = 0; i < w.bells; ++i) in_body<doorbell>(b, w.first_bell + i * w.bell_stride).ring();
}

/// Q::remove(name) for a bounded queue of whatever type and policies (an inspector's removal
/// knows neither): closes it through its description, so that its endpoints wake and see
/// closed after every message it accepted, then removes its name if that still names it (not a
/// queue another process created under it since). A segment `name` that is not a ready bounded
/// queue is removed by name alone. False if there was none. Throws invalid_name,
/// permission_denied.
inline bool remove_queue_of_any_type(std::string_view name) {
    validate_name(name);
    const sys::file f = open_if_exists(name);
    if (f.get() < 0) return false;
    std::optional<queue_close_words> words;
    (void)peek_open(f, name, 0, [&](std::string_view description, void*) {
        if (const auto q = parse_queue_description(description)) words = close_words(*q);
    });
    if (!words) return remove_segment(name);
    // Mapped again, as far as the words lie; its description, read again, says where to write,
    // within what was mapped.
    (void)peek_open(f, name, words->extent, [&](std::string_view description, void* body) {
        const auto q = parse_queue_description(description);
        if (const auto now = q ? close_words(*q) : std::nullopt; now && now->extent <= words->extent)
            close_queue_at(body, *now);
    });
    (void)sys::shm_remove_if_same(os_name(name), f);
    return true;
}

}  // namespace ipckit::detail
