#pragma once
// The kinds fuzz_segments scribbles on. The trial (fuzz_segments.cpp) is written once against
// this shape:
//
//   setup(name, rng, traffic)   in the parent: creates the queue, mailbox or domain and puts
//                               traffic through it (the traffic record says what was sent and
//                               what received), leaving some messages unread and the indices
//                               past a lap; returns what the parent holds during the trial
//   segments(name)              the segments to scribble on, each with its regions
//                               (fuzz_layout.hpp), read from the segments as they are now
//   probe(name, prober)         in a forked child, after the scribbles: open, receive, send,
//                               create (fuzz_probe.hpp)

#include "chaos_codec.hpp"
#include "chaos_driver.hpp"
#include "fuzz_layout.hpp"
#include "fuzz_probe.hpp"
#include "support.hpp"

#include <ipckit/ipckit.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace chaos {

/// What went through a kind's segments before the scribbles.
struct traffic {
    std::map<std::uint32_t, std::uint64_t> sent;                 ///< producer -> seq 0..n-1 accepted
    std::set<std::pair<std::uint32_t, std::uint64_t>> received;  ///< (producer, seq) received

    void got(const delivery& d) {
        if (d.intact) received.insert({d.id.producer, d.id.seq});
    }
};

/// A segment to scribble on: its name, its size now, and where its words lie.
struct segment_regions {
    std::string name;
    std::size_t size = 0;
    region_map map;
};

/// The regions of segment `seg`: its header's, and what add(map, body) adds, given a read-only
/// image of its body as `Shared` (only if the segment is big enough to hold one).
template <class Shared, class Add>
segment_regions map_segment(const std::string& seg, Add&& add) {
    segment_regions out{seg, 0, {}};
    add_header(out.map);
    const int fd = ::shm_open(ipckit::detail::os_name(seg).c_str(), O_RDONLY, 0);
    if (fd < 0) return out;
    struct stat st {};
    if (::fstat(fd, &st) == 0) out.size = static_cast<std::size_t>(st.st_size);
    if (out.size >= header_size + sizeof(Shared)) {
        void* p = ::mmap(nullptr, out.size, PROT_READ, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            add(out.map, reinterpret_cast<const Shared*>(static_cast<const char*>(p) + header_size));
            ::munmap(p, out.size);
        }
    }
    ::close(fd);
    return out;
}

/// The regions every ring queue's shared part has: two bells, two rosters, the ring.
template <class Shared, std::size_t MaxP, std::size_t MaxC>
void add_ring_queue(region_map& m, const Shared* image, std::size_t at = header_size) {
    add_bell(m, at + offsetof(Shared, data_bell), "data_bell");
    add_bell(m, at + offsetof(Shared, space_bell), "space_bell");
    add_roster<MaxP>(m, at + offsetof(Shared, senders), "senders");
    add_roster<MaxC>(m, at + offsetof(Shared, receivers), "receivers");
    add_ring(m, at + offsetof(Shared, ring), &image->ring);
}

/// Puts traffic through `rx` from `txs` (producer i sends as id i) in rounds of sends and
/// receives, each verb trying once: the ring laps and ends with messages unread.
template <class Codec, class Tx, class Rx>
void churn(std::vector<Tx>& txs, Rx& rx, rng& r, traffic& t, std::size_t burst) {
    const std::size_t rounds = static_cast<std::size_t>(r.between(2, 6));
    for (std::size_t round = 0; round < rounds; ++round) {
        for (std::uint64_t k = r.between(1, burst); k > 0; --k) {
            const auto i = static_cast<std::uint32_t>(r.below(txs.size()));
            if (Codec::send(txs[i], i, t.sent[i], steady::now()) != errc::ok) break;
            ++t.sent[i];
        }
        if (round + 1 == rounds) break;  // the last round leaves its messages unread
        for (std::uint64_t k = r.between(0, burst); k > 0; --k) {
            delivery d;
            if (Codec::receive(rx, steady::now(), d) != errc::ok) break;
            t.got(d);
        }
    }
}

// ---- queues and mailboxes that one process can drive ----------------------------------------

/// A queue or mailbox Q (not process_owned mailbox, not rendezvous) with `Senders` senders in the
/// parent and one receiver.
template <class Q, class Codec, std::size_t Senders>
struct ring_fuzz {
    static std::shared_ptr<void> setup(const std::string& name, rng& r, traffic& t) {
        auto q = std::make_shared<Q>(Q::create(name, probe_options()));
        std::vector<decltype(q->sender())> txs;
        for (std::size_t i = 0; i < Senders; ++i) txs.push_back(q->sender());
        auto rx = q->receiver();
        churn<Codec>(txs, rx, r, t, 12);
        return q;
    }
    static std::vector<segment_regions> segments(const std::string& name) {
        using shared = typename Q::shared;
        return {map_segment<shared>(name, [](region_map& m, const shared* image) { add_body(m, image); })};
    }
    static void probe(const std::string& name, prober& p) { probe_queue<Q, Codec>(name, p); }

private:
    template <class Shared>
    static void add_body(region_map& m, const Shared* image) {
        if constexpr (requires { image->control; }) add_mailbox_control(m, header_size + offsetof(Shared, control));
        if constexpr (requires { image->places; }) {
            add_broadcast(m, image);
        } else if constexpr (requires { image->room; }) {
            add_lanes(m, image);
        } else {
            add_ring_queue<Shared, Q::max_senders, Q::max_receivers>(m, image);
        }
    }
    /// A lanes queue: the receiver's bell, the closed word, each sender's room bell (the first
    /// few), the rosters and the lanes.
    template <class Shared>
    static void add_lanes(region_map& m, const Shared* image) {
        constexpr std::size_t at = header_size;
        add_bell(m, at + offsetof(Shared, data_bell), "data_bell");
        m.add(at + offsetof(Shared, closed), sizeof(image->closed), region_class::control, "closed");
        for (std::size_t i = 0; i < Q::max_senders && i < entries_mapped; ++i)
            add_bell(m,
                     at + offsetof(Shared, room) + i * sizeof(image->room[0]) +
                         offsetof(ipckit::detail::lane_bell, bell),
                     "room[" + std::to_string(i) + "]");
        add_roster<Q::max_senders>(m, at + offsetof(Shared, senders), "senders");
        add_roster<Q::max_receivers>(m, at + offsetof(Shared, receivers), "receivers");
        add_ring(m, at + offsetof(Shared, ring), &image->ring);
    }
    /// A broadcast mailbox: its senders, ring and receiver table (the first few places).
    template <class Shared>
    static void add_broadcast(region_map& m, const Shared* image) {
        constexpr std::size_t at = header_size;
        add_bell(m, at + offsetof(Shared, data_bell), "data_bell");
        add_bell(m, at + offsetof(Shared, space_bell), "space_bell");
        m.add(at + offsetof(Shared, places), sizeof(std::uint64_t), region_class::control, "places");
        add_roster<Q::max_senders>(m, at + offsetof(Shared, senders), "senders");
        add_ring(m, at + offsetof(Shared, ring), &image->ring);
        using place = ipckit::detail::broadcast_place;
        for (std::size_t i = 0; i < entries_mapped; ++i) {
            const std::size_t p = at + Shared::table_offset + i * sizeof(place);
            add_place(m, p + offsetof(place, place), "table[" + std::to_string(i) + "]");
            m.add(p + offsetof(place, next), sizeof(std::uint64_t), region_class::index,
                  "table[" + std::to_string(i) + "].next");
            m.add(p + offsetof(place, viewing), sizeof(std::uint64_t), region_class::index,
                  "table[" + std::to_string(i) + "].viewing");
        }
    }
};

// ---- kinds that need a second process for their traffic ------------------------------------

/// Forks a child that opens Q and sends `count` messages as producer 0 (blocking, patiently),
/// while this process receives `take` of them; returns once the child has ended. False if
/// anything failed.
template <class Q, class Codec, class Rx>
bool send_from_child(const std::string& name, std::uint64_t count, Rx& rx, std::uint64_t take, traffic& t) {
    ipckit_test::child c([&] {
        auto tx = Q::open(name, probe_options()).sender();
        for (std::uint64_t i = 0; i < count; ++i)
            if (Codec::send(tx, 0, i, steady::now() + ipckit_test::patience) != errc::ok) return 1;
        return 0;
    });
    for (std::uint64_t i = 0; i < take; ++i) {
        delivery d;
        if (Codec::receive(rx, steady::now() + ipckit_test::patience, d) != errc::ok) return false;
        t.got(d);
    }
    if (c.wait() != 0) return false;
    t.sent[0] = count;
    return true;
}

/// A rendezvous (a send waits for a receiver) or a process_owned mailbox (its owner, the parent,
/// only receives): a child sends, the parent receives all but up to `Unread` of them (at most
/// the capacity: the child must be able to finish). Up to 24 messages: the indices lap.
template <class Q, class Codec, std::size_t Unread, bool OwnerOnly>
struct two_process_fuzz {
    static std::shared_ptr<void> setup(const std::string& name, rng& r, traffic& t) {
        auto q = std::make_shared<Q>(Q::create(name, probe_options()));
        auto rx = q->receiver();
        const std::uint64_t count = r.between(1, 24);
        const std::uint64_t left = r.below(std::min<std::uint64_t>(count, Unread) + 1);
        if (!send_from_child<Q, Codec>(name, count, rx, count - left, t))
            throw ipckit::error(errc::system_error, "the traffic before the scribbles did not go through");
        return q;
    }
    static std::vector<segment_regions> segments(const std::string& name) {
        using shared = typename Q::shared;
        return {map_segment<shared>(name, [](region_map& m, const shared* image) { add_body(m, image); })};
    }
    static void probe(const std::string& name, prober& p) { probe_queue<Q, Codec>(name, p, !OwnerOnly); }

private:
    template <class Shared>
    static void add_body(region_map& m, const Shared* image) {
        if constexpr (requires { image->offers; }) {
            add_bell(m, header_size + offsetof(Shared, data_bell), "data_bell");
            add_roster<Q::max_senders>(m, header_size + offsetof(Shared, senders), "senders");
            add_roster<Q::max_receivers>(m, header_size + offsetof(Shared, receivers), "receivers");
            using offer = ipckit::detail::rendezvous_offer<typename Q::message_type>;
            for (std::size_t i = 0; i < entries_mapped; ++i)
                add_offer<typename Q::message_type>(m, header_size + offsetof(Shared, offers) + i * sizeof(offer), i);
        } else {
            add_mailbox_control(m, header_size + offsetof(Shared, control));
            add_ring_queue<Shared, Q::max_senders, Q::max_receivers>(m, image);
        }
    }
};

// ---- the unbounded queue: a head and its chunks ----------------------------------------------

template <class Q>
struct unbounded_fuzz {
    static std::shared_ptr<void> setup(const std::string& name, rng& r, traffic& t) {
        auto q = std::make_shared<Q>(Q::create(name, probe_options()));
        std::vector<decltype(q->sender())> txs;
        for (std::size_t i = 0; i < 2; ++i) txs.push_back(q->sender());
        auto rx = q->receiver();
        churn<fixed_codec>(txs, rx, r, t, 3 * Q::slots_per_chunk / 2);
        return q;
    }
    static std::vector<segment_regions> segments(const std::string& name) {
        using shared = typename Q::shared;
        std::vector<segment_regions> out;
        out.push_back(map_segment<shared>(name, [](region_map& m, const shared*) {
            add_chain_control(m, header_size + offsetof(shared, chain));
            add_bell(m, header_size + offsetof(shared, data_bell), "data_bell");
            add_bell(m, header_size + offsetof(shared, chunk_bell), "chunk_bell");
            add_roster<Q::max_senders>(m, header_size + offsetof(shared, senders), "senders");
            add_roster<1>(m, header_size + offsetof(shared, receivers), "receivers");
        }));
        for (const auto& chunk : ipckit::detail::segment_names(name + ".")) {
            using body = typename Q::chunk_type;
            out.push_back(map_segment<body>(chunk, [](region_map& m, const body*) {
                add_chunk<typename Q::message_type, Q::slots_per_chunk>(m, header_size);
            }));
        }
        return out;
    }
    static void probe(const std::string& name, prober& p) { probe_queue<Q, fixed_codec>(name, p); }
};

// ---- node links: a domain's registry and its links ------------------------------------------

/// Traffic: a child joins as "a" and "b", a sends to b, b reads some, and the child ends without
/// leaving (both members die), so that the link stays with messages unread. The probe drains the
/// old link as its receiver would (the way undelivered() reads one), then joins as a and b again
/// and sends over a fresh link.
struct node_fuzz {
    static constexpr std::size_t max_message = 256;
    using node = ipckit::basic_node<max_message, 2048>;
    using link = node::link_queue;
    using codec = bytes_codec<node::max_message>;
    static constexpr std::uint32_t a_id = 1;

    static ipckit::node_options options() {
        ipckit::node_options o;
        static_cast<ipckit::options&>(o) = probe_options();
        o.members = 8;
        return o;
    }

    static std::shared_ptr<void> setup(const std::string& domain, rng& r, traffic& t) {
        const std::uint64_t sent = r.between(1, 24), read = sent - r.below(std::min<std::uint64_t>(sent, 5) + 1);
        ipckit_test::child c([&] {
            node a(domain, "a", options()), b(domain, "b", options());
            std::array<std::byte, max_message> buf;
            for (std::uint64_t i = 0; i < sent; ++i) {
                const std::size_t n = encode(a_id, i, max_message, buf);
                if (!a.sender().send("b", std::span<const std::byte>(buf.data(), n), ipckit_test::patience)) return 1;
                if (i < read && !b.receiver().receive("a", std::span<std::byte>(buf), ipckit_test::patience)) return 2;
            }
            std::fflush(nullptr);
            ::_exit(0);  // without leaving: both members die, their links stay
        });
        if (c.wait() != 0) throw ipckit::error(errc::system_error, "the node traffic before the scribbles failed");
        t.sent[a_id] = sent;
        for (std::uint64_t i = 0; i < read; ++i) t.received.insert({a_id, i});
        return nullptr;
    }

    static std::vector<segment_regions> segments(const std::string& domain) {
        std::vector<segment_regions> out;
        out.push_back(map_segment<ipckit::detail::registry_head>(
            domain, [](region_map& m, const ipckit::detail::registry_head*) { add_registry(m, 3); }));
        for (const auto& l : ipckit::detail::list_links(domain)) {
            using shared = link::shared;
            out.push_back(map_segment<shared>(l.segment, [](region_map& m, const shared* image) {
                add_ring_queue<shared, 1, 1>(m, image);
            }));
        }
        return out;
    }

    static void probe(const std::string& domain, prober& p) {
        for (const auto& l : ipckit::detail::list_links(domain)) {
            auto q = p.setup(step::open, [&] { return link::open(l.segment, probe_options()); });
            if (!q) continue;
            auto rx = p.setup(step::attach_receiver, [&] { return q->receiver(); });
            if (rx) p.receive_all<codec>(*rx);
        }
        auto b = p.setup(step::join, [&] { return std::make_unique<node>(domain, "b", options()); });
        auto a = p.setup(step::join, [&] { return std::make_unique<node>(domain, "a", options()); });
        if (!a || !b) return;
        std::array<std::byte, max_message> buf;
        for (std::uint64_t i = 0; i < 3; ++i) {
            const std::size_t n = encode(probe_producer, i, max_message, buf);
            const auto s = (*a)->sender().send("b", std::span<const std::byte>(buf.data(), n), probe_wait);
            p.sent(probe_producer, i, errc_of(s));
            if (!s) break;
        }
        for (int i = 0; i < 4; ++i) {
            auto r = (*b)->receiver().receive("a", std::span<std::byte>(buf), probe_wait);
            if (!r) {
                p.result(step::receive, r.error());
                break;
            }
            const auto id = decode(std::span<const std::byte>(buf.data(), *r), max_message);
            p.delivered(id.value_or(identity{}), id.has_value());
        }
    }
};

}  // namespace chaos
