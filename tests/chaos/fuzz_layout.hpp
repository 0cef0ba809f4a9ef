#pragma once
// Where the words worth scribbling on lie in each kind of segment, found from the layout structs
// themselves (offsetof, sizeof), never from numbers written down here: the segment header's
// fields, indices (head, tail, read, gate...), sequence and state words of slots, record headers
// of byte rings, payloads, roster places and doorbells. fuzz_segments.cpp aims most of its
// scribbles at these regions, and tells from a region's class whether a scribble may have
// changed a message's content (which no queue can detect) or only where messages stand.

#include <ipckit/ipckit.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace chaos {

enum class region_class {
    header,    ///< the segment header (detail::segment_header)
    control,   ///< a mailbox's or a chain's control block, a registry's head
    index,     ///< head, tail, read, gate, base... positions in a ring or chain
    sequence,  ///< a slot's sequence or state word
    record,    ///< a byte ring's record header word
    payload,   ///< a message's bytes
    roster,    ///< a roster place: holder, pending, asleep; the counts
    bell,      ///< a doorbell's words
};
inline constexpr const char* region_class_names[] = {"header", "control", "index",  "sequence",
                                                     "record", "payload", "roster", "bell"};
inline const char* name_of(region_class c) { return region_class_names[static_cast<int>(c)]; }

struct region {
    std::size_t offset;  ///< from the start of the segment (its header included)
    std::size_t size;    ///< 1, 4 or 8 for a word; more for a payload or a name
    region_class what;
    std::string name;    ///< e.g. "ring.head", "slots[3].seq"
};

/// The regions of one segment, built field by field.
class region_map {
public:
    void add(std::size_t offset, std::size_t size, region_class what, std::string name) {
        regions_.push_back({offset, size, what, std::move(name)});
    }
    [[nodiscard]] const std::vector<region>& regions() const noexcept { return regions_; }
    /// The region holding byte `offset`, if any.
    [[nodiscard]] const region* at(std::size_t offset) const noexcept {
        for (const auto& r : regions_)
            if (offset >= r.offset && offset < r.offset + r.size) return &r;
        return nullptr;
    }

private:
    std::vector<region> regions_;
};

using ipckit::detail::header_size;

#define CHAOS_FIELD(map, base, type, field, cls, label) \
    (map).add((base) + offsetof(type, field), sizeof(type::field), (cls), (label))

inline void add_header(region_map& m) {
    using h = ipckit::detail::segment_header;
    CHAOS_FIELD(m, 0, h, magic, region_class::header, "header.magic");
    CHAOS_FIELD(m, 0, h, layout_version, region_class::header, "header.layout_version");
    CHAOS_FIELD(m, 0, h, state, region_class::header, "header.state");
    CHAOS_FIELD(m, 0, h, size, region_class::header, "header.size");
    CHAOS_FIELD(m, 0, h, fingerprint, region_class::header, "header.fingerprint");
    CHAOS_FIELD(m, 0, h, creator, region_class::header, "header.creator");
    CHAOS_FIELD(m, 0, h, ownership, region_class::header, "header.ownership");
    CHAOS_FIELD(m, 0, h, description_length, region_class::header, "header.description_length");
    CHAOS_FIELD(m, 0, h, description, region_class::header, "header.description");
}

/// Whether `r` is a header word that says what the segment is, so that a segment whose word
/// changed must not open (README: corrupt, or incompatible_layout for another layout or
/// policy): magic, layout version, state, size, fingerprint, ownership. (The creator and the
/// description only inform.)
inline bool is_checked_on_open(const region& r) {
    using h = ipckit::detail::segment_header;
    for (const std::size_t at : {offsetof(h, magic), offsetof(h, layout_version), offsetof(h, state), offsetof(h, size),
                                 offsetof(h, fingerprint), offsetof(h, ownership)})
        if (r.offset == at && r.what == region_class::header) return true;
    return false;
}

inline void add_bell(region_map& m, std::size_t at, const std::string& name) {
    using b = ipckit::detail::doorbell;
    CHAOS_FIELD(m, at, b, seq, region_class::bell, name + ".seq");
    CHAOS_FIELD(m, at, b, sleepers, region_class::bell, name + ".sleepers");
    CHAOS_FIELD(m, at, b, armed, region_class::bell, name + ".armed");
}

/// How many entries of each table (roster places, lanes, room bells, offers, broadcast places)
/// the maps cover: the ones a trial's few endpoints take.
inline constexpr std::size_t entries_mapped = 4;

inline void add_place(region_map& m, std::size_t at, const std::string& name) {
    using p = ipckit::detail::roster_place;
    CHAOS_FIELD(m, at, p, holder, region_class::roster, name + ".holder");
    CHAOS_FIELD(m, at, p, pending, region_class::roster, name + ".pending");
    CHAOS_FIELD(m, at, p, asleep, region_class::roster, name + ".asleep");
}

/// A roster's counts and its first `used` places (the ones a trial's endpoints take).
template <std::size_t Max>
void add_roster(region_map& m, std::size_t at, const std::string& name, std::size_t used = entries_mapped) {
    using r = ipckit::detail::roster<Max>;
    CHAOS_FIELD(m, at, r, attached, region_class::roster, name + ".attached");
    CHAOS_FIELD(m, at, r, ever, region_class::roster, name + ".ever");
    for (std::size_t i = 0; i < Max && i < used; ++i)
        add_place(m, at + offsetof(r, places) + i * sizeof(ipckit::detail::roster_place),
                  name + ".places[" + std::to_string(i) + "]");
}

/// An SPSC ring (`name`: "ring", or a lane's "lanes[i]"): each index with its check and
/// where its last step started, and the slots.
template <class T, std::size_t N>
void add_ring(region_map& m, std::size_t at, const ipckit::detail::spsc_ring<T, N>*, const std::string& name = "ring") {
    using r = ipckit::detail::spsc_ring<T, N>;
    CHAOS_FIELD(m, at, r, tail, region_class::index, name + ".tail");
    CHAOS_FIELD(m, at, r, tail_check, region_class::index, name + ".tail_check");
    CHAOS_FIELD(m, at, r, tail_from, region_class::index, name + ".tail_from");
    CHAOS_FIELD(m, at, r, head, region_class::index, name + ".head");
    CHAOS_FIELD(m, at, r, head_check, region_class::index, name + ".head_check");
    CHAOS_FIELD(m, at, r, head_from, region_class::index, name + ".head_from");
    for (std::size_t i = 0; i < N; ++i)
        m.add(at + offsetof(r, slots) + i * sizeof(T), sizeof(T), region_class::payload,
              name + ".slots[" + std::to_string(i) + "]");
}

/// Lanes: how many are in use, and the first `used` lanes (the ones a trial's senders take).
template <class T, std::size_t N, std::size_t Lanes>
void add_ring(region_map& m, std::size_t at, const ipckit::detail::lanes_ring<T, N, Lanes>*,
              std::size_t used = entries_mapped) {
    using r = ipckit::detail::lanes_ring<T, N, Lanes>;
    CHAOS_FIELD(m, at, r, in_use, region_class::index, "ring.in_use");
    for (std::size_t i = 0; i < Lanes && i < used; ++i)
        add_ring(m, at + offsetof(r, lanes) + i * sizeof(ipckit::detail::spsc_ring<T, N>),
                 static_cast<const ipckit::detail::spsc_ring<T, N>*>(nullptr), "lanes[" + std::to_string(i) + "]");
}

template <class T, std::size_t N>
void add_ring(region_map& m, std::size_t at, const ipckit::detail::mpmc_ring<T, N>*) {
    using r = ipckit::detail::mpmc_ring<T, N>;
    using s = ipckit::detail::mpmc_slot<T>;
    CHAOS_FIELD(m, at, r, tail, region_class::index, "ring.tail");
    CHAOS_FIELD(m, at, r, head, region_class::index, "ring.head");
    for (std::size_t i = 0; i < N; ++i) {
        const std::size_t slot = at + offsetof(r, slots) + i * sizeof(s);
        const std::string name = "ring.slots[" + std::to_string(i) + "]";
        CHAOS_FIELD(m, slot, s, seq, region_class::sequence, name + ".seq");
        CHAOS_FIELD(m, slot, s, value, region_class::payload, name + ".value");
    }
}

/// A byte ring: its indices, and its records as they lie now (read from `image`, the segment's
/// bytes): from head to tail, each record's header word, then its payload.
template <std::size_t N, bool Multi>
void add_ring(region_map& m, std::size_t at, const ipckit::detail::bytes_ring<N, Multi>* image) {
    using r = ipckit::detail::bytes_ring<N, Multi>;
    using rec = ipckit::detail::bytes_record;
    CHAOS_FIELD(m, at, r, tail, region_class::index, "ring.tail");
    CHAOS_FIELD(m, at, r, head, region_class::index, "ring.head");
    CHAOS_FIELD(m, at, r, read, region_class::index, "ring.read");
    const std::uint64_t head = image->head.load(), tail = image->tail.load();
    const std::size_t words = at + offsetof(r, words);
    for (std::uint64_t pos = head, n = 0; pos < tail && tail - head <= N && n < N / 8; ++n) {
        const std::uint64_t w = image->words[(pos % N) / 8];
        const std::uint64_t size = rec::size_of(w);
        m.add(words + pos % N, 8, region_class::record, "record@" + std::to_string(pos));
        if (size < 8 || size > N - pos % N) break;
        if (size > 8) m.add(words + pos % N + 8, size - 8, region_class::payload, "payload@" + std::to_string(pos));
        pos += size;
    }
}

template <class T, std::size_t N>
void add_ring(region_map& m, std::size_t at, const ipckit::detail::broadcast_ring<T, N>*) {
    using r = ipckit::detail::broadcast_ring<T, N>;
    using s = ipckit::detail::broadcast_slot<T>;
    CHAOS_FIELD(m, at, r, tail, region_class::index, "ring.tail");
    CHAOS_FIELD(m, at, r, gate, region_class::index, "ring.gate");
    CHAOS_FIELD(m, at, r, base, region_class::index, "ring.base");
    CHAOS_FIELD(m, at, r, epoch, region_class::index, "ring.epoch");
    CHAOS_FIELD(m, at, r, high, region_class::index, "ring.high");
    for (std::size_t i = 0; i < N; ++i) {
        const std::size_t slot = at + offsetof(r, slots) + i * sizeof(s);
        const std::string name = "ring.slots[" + std::to_string(i) + "]";
        CHAOS_FIELD(m, slot, s, seq, region_class::sequence, name + ".seq");
        CHAOS_FIELD(m, slot, s, value, region_class::payload, name + ".value");
    }
}

inline void add_mailbox_control(region_map& m, std::size_t at) {
    using c = ipckit::detail::mailbox_control;
    CHAOS_FIELD(m, at, c, state, region_class::control, "control.state");
    CHAOS_FIELD(m, at, c, owner, region_class::control, "control.owner");
    CHAOS_FIELD(m, at, c, turn, region_class::control, "control.turn");
}

inline void add_chain_control(region_map& m, std::size_t at) {
    using c = ipckit::detail::chain_control;
    CHAOS_FIELD(m, at, c, magic, region_class::control, "chain.magic");
    CHAOS_FIELD(m, at, c, version, region_class::control, "chain.version");
    CHAOS_FIELD(m, at, c, mode, region_class::control, "chain.mode");
    CHAOS_FIELD(m, at, c, base, region_class::control, "chain.base");
    CHAOS_FIELD(m, at, c, cap, region_class::control, "chain.cap");
    CHAOS_FIELD(m, at, c, chunk_bytes, region_class::control, "chain.chunk_bytes");
    CHAOS_FIELD(m, at, c, slots, region_class::control, "chain.slots");
    CHAOS_FIELD(m, at, c, grower, region_class::index, "chain.grower");
    CHAOS_FIELD(m, at, c, chunk_next, region_class::index, "chain.chunk_next");
    CHAOS_FIELD(m, at, c, tail, region_class::index, "chain.tail");
    CHAOS_FIELD(m, at, c, head, region_class::index, "chain.head");
    CHAOS_FIELD(m, at, c, first_live, region_class::index, "chain.first_live");
}

template <class T, std::size_t S>
void add_chunk(region_map& m, std::size_t at) {
    using k = ipckit::detail::chain_chunk<T, S>;
    using c = ipckit::detail::chunk_control;
    using s = ipckit::detail::chain_slot<T>;
    const std::size_t control = at + offsetof(k, control);
    CHAOS_FIELD(m, control, c, magic, region_class::control, "chunk.magic");
    CHAOS_FIELD(m, control, c, base, region_class::control, "chunk.base");
    CHAOS_FIELD(m, control, c, index, region_class::control, "chunk.index");
    for (std::size_t i = 0; i < S; ++i) {
        const std::size_t slot = at + offsetof(k, slots) + i * sizeof(s);
        const std::string name = "chunk.slots[" + std::to_string(i) + "]";
        CHAOS_FIELD(m, slot, s, state, region_class::sequence, name + ".state");
        CHAOS_FIELD(m, slot, s, value, region_class::payload, name + ".value");
    }
}

template <class T>
void add_offer(region_map& m, std::size_t at, std::size_t i) {
    using o = ipckit::detail::rendezvous_offer<T>;
    const std::string name = "offers[" + std::to_string(i) + "]";
    CHAOS_FIELD(m, at, o, state, region_class::sequence, name + ".state");
    add_bell(m, at + offsetof(o, bell), name + ".bell");
    CHAOS_FIELD(m, at, o, value, region_class::payload, name + ".value");
}

/// A domain's registry: its head and its first `used` member slots.
inline void add_registry(region_map& m, std::size_t used) {
    using h = ipckit::detail::registry_head;
    using s = ipckit::detail::member_slot;
    CHAOS_FIELD(m, header_size, h, lock, region_class::control, "registry.lock");
    CHAOS_FIELD(m, header_size, h, next_incarnation, region_class::control, "registry.next_incarnation");
    for (std::size_t i = 0; i < used; ++i) {
        const std::size_t at = header_size + sizeof(h) + i * sizeof(s);
        const std::string name = "members[" + std::to_string(i) + "]";
        CHAOS_FIELD(m, at, s, holder, region_class::roster, name + ".holder");
        CHAOS_FIELD(m, at, s, incarnation, region_class::roster, name + ".incarnation");
        CHAOS_FIELD(m, at, s, links, region_class::roster, name + ".links");
        CHAOS_FIELD(m, at, s, name_length, region_class::roster, name + ".name_length");
        CHAOS_FIELD(m, at, s, name, region_class::roster, name + ".name");
        add_bell(m, at + offsetof(s, bell), name + ".bell");
        CHAOS_FIELD(m, at, s, asleep, region_class::roster, name + ".asleep");
    }
}

#undef CHAOS_FIELD

}  // namespace chaos
