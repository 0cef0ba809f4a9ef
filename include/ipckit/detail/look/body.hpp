#pragma once
// For an inspector (ipckit/inspect.hpp): what the body of a segment with a valid header holds,
// read by its kind's own inspect function as its description names it, for every kind there is:
// queues (and a node's links among them), mailboxes, an unbounded queue's chunks, domains; and a
// shm:// listener's door.

#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/mailbox/broadcast_layout.hpp>
#include <ipckit/detail/mailbox/description.hpp>
#include <ipckit/detail/mailbox/unicast_layout.hpp>
#include <ipckit/detail/net/shm_door.hpp>
#include <ipckit/detail/node/link_name.hpp>
#include <ipckit/detail/node/registry.hpp>
#include <ipckit/detail/queue/bytes.hpp>
#include <ipckit/detail/queue/fixed.hpp>
#include <ipckit/detail/queue/lanes_inspect.hpp>
#include <ipckit/detail/queue/record_layout.hpp>
#include <ipckit/detail/queue/rendezvous.hpp>
#include <ipckit/detail/queue/unbounded.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment_info.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace ipckit::detail {

/// A queue's description, read into `info` and its body inspected by its kind's function.
inline void inspect_queue(const body_view& v, const queue_description& q, segment_info& info) {
    info.kind = segment_kind::queue;
    info.message_type = q.message.type;
    info.message_size = q.message.size;
    info.message_align = q.message.align;
    info.capacity = q.capacity;
    info.max_senders = q.producers;
    info.max_receivers = q.consumers;
    switch (q.kind) {
    case queue_description::bounded:
        if (q.message.bytes) {
            info.capacity_bytes = q.capacity_value;
            if (bytes_in_slots(q.consumers))
                inspect_record_queue(v, q, info);
            else
                inspect_bytes_queue(v, q, info);
        } else if (q.lanes) {
            inspect_lanes_queue(v, q, info);
        } else {
            info.capacity_messages = q.capacity_value;
            inspect_fixed_queue(v, q, info);
        }
        break;
    case queue_description::zero: inspect_rendezvous(v, q, info); break;
    case queue_description::unbounded: inspect_unbounded_head(v, q, info.name, info); break;
    }
    // A node's link: named after its domain, its ends and their incarnations (detail/node/link_name.hpp).
    const auto dot = info.name.find('.');
    if (q.kind == queue_description::bounded && q.message.bytes && q.producers == 1 && q.consumers == 1 &&
        info.ownership == system_owned::name && dot != std::string::npos &&
        parse_link_name(std::string_view(info.name).substr(0, dot), info.name)) {
        info.kind = segment_kind::link;
        info.queue = info.name.substr(0, dot);
    }
}

/// A shm:// listener's door "<listener>.door": its connection cap and the places taken. It has no
/// kind of its own in segment_info; its note says what it is.
inline void inspect_shm_door(const body_view& v, segment_info& info) {
    const std::uint64_t refused = v.word(offsetof(shm_door_body, refused), "count of refused clients");
    const auto places = shm_door::places_in(v.size());
    if (!places)
        throw inspect_fault("is " + std::to_string(v.size()) + " bytes, too small for a shm:// listener's door");
    const std::uint64_t cap = *places;
    std::uint64_t held = 0;  // places not free
    std::uint64_t dead = 0;  // of them, those left by a client that died connecting
    for (std::size_t i = 0; i < *places; ++i) {
        const std::uint64_t w = v.word(sizeof(shm_door_body) + i * sizeof(std::uint64_t), "door place");
        if (w == shm_door::free_place) continue;
        ++held;
        if (w != shm_door::taken_place && !v.live().alive(w)) ++dead;
    }
    constexpr std::string_view suffix = ".door";
    const std::string_view name = info.name;
    const std::string listener(name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix
                                   ? name.substr(0, name.size() - suffix.size())
                                   : name);
    info.capacity = std::to_string(cap) + " connections";
    info.note = "the door of shm:// listener '" + listener + "', which counts its connections against its cap: " +
                std::to_string(held) + " of " + std::to_string(cap) + " places taken" +
                (dead == 0 ? std::string()
                           : " (" + std::to_string(dead) + " by " + (dead == 1 ? "a client" : "clients") +
                                 " that died connecting, which a client that finds no place free takes over)") +
                ", " + std::to_string(refused) + (refused == 1 ? " client" : " clients") + " refused";
}

/// The chain base that a chunk says it belongs to, filled by inspect_body for judge_chunk.
struct body_facts {
    std::uint64_t chunk_base = 0;
};

/// Reads what the description of a valid header says and inspects the body by its kind. Throws
/// inspect_fault.
inline void inspect_body(const body_view& v, segment_info& info, body_facts& facts) {
    const std::string& d = info.description;
    if (const auto q = parse_queue_description(d)) {
        inspect_queue(v, *q, info);
    } else if (const auto m = parse_mailbox_description(d)) {
        info.kind = m->delivery == broadcast::name ? segment_kind::broadcast : segment_kind::mailbox;
        info.message_type = m->message.type;
        info.message_size = m->message.size;
        info.message_align = m->message.align;
        info.capacity = m->capacity;
        info.capacity_messages = m->slots;
        info.delivery = m->delivery;
        if (info.kind == segment_kind::broadcast)
            inspect_broadcast(v, *m, info);
        else
            inspect_mailbox(v, *m, info);
    } else if (const auto c = parse_chunk_description(d)) {
        info.kind = segment_kind::unbounded_chunk;
        const std::string suffix = "." + std::to_string(c->seq);
        const bool named = info.name.size() > suffix.size() &&
                           info.name.compare(info.name.size() - suffix.size(), suffix.size(), suffix) == 0;
        if (!named || (c->queue && *c->queue != info.name.substr(0, info.name.size() - suffix.size())))
            throw inspect_fault("says it is chunk " + std::to_string(c->seq) + " of queue '" + c->queue.value_or("?") +
                                "', which is not what its name says");
        info.queue = info.name.substr(0, info.name.size() - suffix.size());
        const auto [base, index] = inspect_chunk(v, c->seq);
        facts.chunk_base = base;
        info.chunk_index = index;
    } else if (const auto dm = parse_domain_description(d)) {
        info.kind = segment_kind::domain;
        info.capacity = std::to_string(dm->capacity) + " members";
        info.max_receivers = dm->capacity;
        inspect_domain(v, dm->capacity, info);
    } else if (d == shm_door_description) {
        inspect_shm_door(v, info);
    } else {
        for (const auto& [prefix, kind] : {std::pair{"ipckit::queue<", segment_kind::queue},
                                           std::pair{"ipckit::mailbox<", segment_kind::mailbox},
                                           std::pair{"ipckit::domain<", segment_kind::domain}})
            if (d.rfind(prefix, 0) == 0) info.kind = kind;
        info.note = info.kind == segment_kind::unknown
                        ? "this ipckit does not know what its description names"
                        : "its description was cut short in the header (200 characters), so its layout cannot be read";
    }
}

}  // namespace ipckit::detail
