#pragma once
// Kind adapters: every kind of channel the contract scenarios run on, each as a small struct
// that says how to make one, attach its ends, send and receive a tick, and what the kind
// promises (constexpr flags). A scenario is written once against this shape and instantiated
// for the kinds whose flags say they make its promise.
//
// A new kind gets the whole suite by adding its adapter to the lists below: give it this shape,
// then name it in the lists whose promises it makes (connections over tcp, unix and shm do so
// from net_kinds.hpp).
//
// The shape of a kind K:
//   K::place                       a unique name, cleaned up at set-up and when it goes
//   K::create(place)               makes the channel in this process; keep what it returns for
//                                  as long as the channel should live (a handle, or nothing)
//   K::sender<Mode>(place, id)     attaches sender number `id` (0, 1, ...) in this process
//   K::receiver<Mode>(place)       attaches a receiver in this process
//   K::send(tx, seq [, deadline])  sends tick `seq`; the errc it returned
//   K::receive(rx, seq [, deadline])  receives a tick into seq; the errc (corrupt if torn)
//   K::open_other(place)           opens the channel as the same kind with another message
//                                  type (throws incompatible_layout, if all is well)
//   K::watch(waitset, rx)          (the kinds of IPCKIT_CONTRACT_WAITSET_KINDS) adds the
//                                  receiver to an ipckit::waitset; returns its id
// Every channel is made with quick liveness checks (support.hpp's quick_liveness), so that a
// dead peer is noticed within a few milliseconds.
//
// Flags (what the kind promises):
//   multi_producer    senders in several processes at once, each one's ticks in its order
//   holds             how many ticks a sender can leave waiting without a receiver taking them
//                     (0: a rendezvous)
//   bounded           a sender can find it full (then would_block, or timed_out at a deadline)
//   peer_query        a receiver has peer(), which asks whether the sender lives
//   non_blocking_send a sender<non_blocking> exists (not for a rendezvous: nowhere to leave it)
//   side_of_one_ends  the closed rule's first half: a side that is a single endpoint (a queue's
//                     one sender, or one receiver) ends the channel when it closes, like a
//                     pipe's end of file. Not a mailbox's: its senders and receivers come and
//                     go, and it ends only when closed as a whole or removed
//   travels          (optional) a sent message takes a moment to reach the receiver (a
//                     socket's I/O thread carries it): a non-blocking receive just after a
//                     send may find nothing yet. Use receive_sent() there.
// Which promises about dead peers and creators a kind makes: the lists at the bottom.

#include "../messages.hpp"
#include "../node_support.hpp"
#include "../support.hpp"
#include "../unbounded_support.hpp"
#include "batch_verbs.hpp"
#include "net_kinds.hpp"

#include <ipckit/mailbox.hpp>
#include <ipckit/node.hpp>
#include <ipckit/queue.hpp>
#include <ipckit/records.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ipckit_test::contract {

// What every scenario uses, so that `using namespace ipckit_test::contract;` is all it says.
using ipckit::errc;
using ipckit_test::block_until_killed;
using ipckit_test::child;
using ipckit_test::killed_by_sigkill;
using ipckit_test::patience;
using ipckit_test::signal_pipe;

/// The sender of tick `seq`: its top 32 bits (contract scenarios number ticks (sender << 32) | i).
constexpr std::uint64_t tick_of(std::uint64_t sender, std::uint64_t i) noexcept { return (sender << 32) | i; }
constexpr std::uint64_t sender_of(std::uint64_t seq) noexcept { return seq >> 32; }
constexpr std::uint64_t index_of(std::uint64_t seq) noexcept { return seq & 0xffff'ffffULL; }

/// A deadline already past: a blocking verb that would wait returns timed_out at once. The
/// earliest there is, so that no kind may compute with it carelessly (a node's blocking send
/// once took deadline - now, which overflowed, and waited for ever).
inline std::chrono::steady_clock::time_point already_past() { return std::chrono::steady_clock::time_point::min(); }

/// Whether K's messages take a moment to reach its receiver (K::travels; false if K lacks it).
template <class K>
constexpr bool travels = [] {
    if constexpr (requires { K::travels; }) return K::travels;
    else return false;
}();

/// A non-blocking receive of a message already sent: where K's messages travel, it looks again
/// while the message is on its way (would_block), up to patience.
template <class K>
errc receive_sent(auto& rx, std::uint64_t& seq) {
    errc e = K::receive(rx, seq);
    if constexpr (travels<K>)
        if (e == errc::would_block) (void)eventually([&] { return (e = K::receive(rx, seq)) != errc::would_block; });
    return e;
}

/// A scenario's channel of kind K: a unique place, and the channel made there (K::create), kept
/// for as long as this lives. It stands for its place wherever a kind's verb takes one.
template <class K>
struct made {
    typename K::place place;
    decltype(K::create(std::declval<const typename K::place&>())) keep = K::create(place);
    operator const typename K::place&() const noexcept { return place; }  // NOLINT(google-explicit-constructor)
};

// ---- the ends of a queue or mailbox: handles with sender() and receiver() ---------------------

/// Channels opened by name, with a handle that attaches endpoints (queues, mailboxes), whose
/// messages are ticks. Q is the channel's type.
template <class Q, class Other, class Place = scoped_name>
struct handle_kind {
    using channel = Q;
    using place = Place;
    /// Quick liveness checks, as the options every kind takes (a broadcast mailbox's own
    /// broadcast_options, which the others take as their base).
    static ipckit::broadcast_options quick() { return {quick_liveness(), 0}; }
    static Q create(const place& p) { return Q::create(p, quick()); }
    /// Opens p as the same kind with another message type (incompatible_layout, if all is well).
    static void open_other(const place& p) { (void)Other::open(p, quick()); }
    template <class Mode = ipckit::blocking>
    static auto sender(const place& p, unsigned /*id*/ = 0) {
        return Q::open(p, quick()).template sender<Mode>();
    }
    template <class Mode = ipckit::blocking>
    static auto receiver(const place& p) {
        return Q::open(p, quick()).template receiver<Mode>();
    }
    static errc send(auto& tx, std::uint64_t seq, auto... deadline) { return err(tx.send(make_tick(seq), deadline...)); }
    static ipckit::waitset::id watch(ipckit::waitset& ws, auto& rx) { return ws.add(rx); }
    static errc receive(auto& rx, std::uint64_t& seq, auto... deadline) {
        const auto r = rx.receive(deadline...);
        if (!r) return r.error();
        if (r->check != check_of(r->seq)) return errc::corrupt;
        seq = r->seq;
        return errc::ok;
    }
};

/// A queue of bytes<Max>: a tick's bytes are the message.
template <class Q, class Other, class Place = scoped_name>
struct bytes_kind : handle_kind<Q, Other, Place> {
    static errc send(auto& tx, std::uint64_t seq, auto... deadline) {
        const tick t = make_tick(seq);
        return err(tx.send(std::as_bytes(std::span(&t, 1)), deadline...));
    }
    static errc receive(auto& rx, std::uint64_t& seq, auto... deadline) {
        std::array<std::byte, 2 * sizeof(tick)> buf{};
        const auto n = rx.receive(std::span(buf), deadline...);
        if (!n) return n.error();
        tick t{};
        if (*n != sizeof t) return errc::corrupt;
        std::memcpy(&t, buf.data(), sizeof t);
        if (t.check != check_of(t.seq)) return errc::corrupt;
        seq = t.seq;
        return errc::ok;
    }
};

/// What the queue kinds share: a receiver can ask whether its sender lives.
struct queue_promises {
    static constexpr bool peer_query = true;
    static constexpr bool non_blocking_send = true;
    static constexpr bool side_of_one_ends = true;
};

template <class P, class C, class M = tick>
using fixed = ipckit::queue<M, ipckit::bounded<8>, P, C>;
template <class P, class C>
struct fixed_kind : handle_kind<fixed<P, C>, fixed<P, C, std::uint64_t>>, batch_verbs {};

struct fixed_spsc : fixed_kind<ipckit::single, ipckit::single>, queue_promises {
    static constexpr bool multi_producer = false, bounded = true;
    static constexpr std::uint64_t holds = 8;
};
struct fixed_mpsc : fixed_kind<ipckit::multi, ipckit::single>, queue_promises {
    static constexpr bool multi_producer = true, bounded = true;
    static constexpr std::uint64_t holds = 8;
};
struct fixed_spmc : fixed_kind<ipckit::single, ipckit::multi>, queue_promises {
    static constexpr bool multi_producer = false, bounded = true;
    static constexpr std::uint64_t holds = 8;
};
struct fixed_mpmc : fixed_kind<ipckit::multi, ipckit::multi>, queue_promises {
    static constexpr bool multi_producer = true, bounded = true;
    static constexpr std::uint64_t holds = 8;
};

/// A lane per sender (lanes<8>: every scenario's senders find one), merged by the one receiver;
/// bounded<8> is 8 per lane, so each sender can leave `holds` ticks waiting.
struct fixed_lanes : fixed_kind<ipckit::lanes<8>, ipckit::single>, queue_promises {
    static constexpr bool multi_producer = true, bounded = true;
    static constexpr std::uint64_t holds = 8;
};

template <class P, std::size_t Max = 64>
using bytes = ipckit::queue<ipckit::bytes<Max>, ipckit::bounded<1024>, P>;

/// Ticks a byte ring of 1024 bytes holds, exactly: records of 8 + 16 bytes, the last 16 bytes
/// of the lap a wrap marker.
inline constexpr std::uint64_t byte_ring_ticks = 1024 / ipckit::detail::bytes_record::size_for(sizeof(tick));

struct bytes_spsc : bytes_kind<bytes<ipckit::single>, bytes<ipckit::single, 65>>, queue_promises, records_batch_verbs {
    static constexpr bool multi_producer = false, bounded = true;
    static constexpr std::uint64_t holds = byte_ring_ticks;
};
struct bytes_mpsc : bytes_kind<bytes<ipckit::multi>, bytes<ipckit::multi, 65>>, queue_promises, records_batch_verbs {
    static constexpr bool multi_producer = true, bounded = true;
    static constexpr std::uint64_t holds = byte_ring_ticks;
};

/// Several consumers of bytes<Max>: 8 record slots (detail/queue/record_queue.hpp).
template <class P, std::size_t Max = 64>
using bytes_multi = ipckit::queue<ipckit::bytes<Max>, ipckit::bounded<8 * sizeof(ipckit::detail::record<Max>)>, P,
                                  ipckit::multi>;

struct bytes_spmc : bytes_kind<bytes_multi<ipckit::single>, bytes_multi<ipckit::single, 65>>, queue_promises,
                    records_batch_verbs {
    static constexpr bool multi_producer = false, bounded = true;
    static constexpr std::uint64_t holds = 8;
};
struct bytes_mpmc : bytes_kind<bytes_multi<ipckit::multi>, bytes_multi<ipckit::multi, 65>>, queue_promises,
                    records_batch_verbs {
    static constexpr bool multi_producer = true, bounded = true;
    static constexpr std::uint64_t holds = 8;
};

struct rendezvous_spsc : handle_kind<ipckit::queue<tick, ipckit::zero_capacity>, ipckit::queue<std::uint64_t, ipckit::zero_capacity>>,
                         queue_promises {
    static constexpr bool multi_producer = false, bounded = true, non_blocking_send = false;
    static constexpr std::uint64_t holds = 0;
};
struct rendezvous_mpmc : handle_kind<ipckit::queue<tick, ipckit::zero_capacity, ipckit::multi, ipckit::multi>,
                                     ipckit::queue<std::uint64_t, ipckit::zero_capacity, ipckit::multi, ipckit::multi>>,
                         queue_promises {
    static constexpr bool multi_producer = true, bounded = true, non_blocking_send = false;
    static constexpr std::uint64_t holds = 0;
};

/// bytes<Max> in a rendezvous: each offer slot a record<Max>.
template <class P, class C, std::size_t Max = 64>
using rendezvous_bytes = ipckit::queue<ipckit::bytes<Max>, ipckit::zero_capacity, P, C>;
struct rendezvous_bytes_spsc : bytes_kind<rendezvous_bytes<ipckit::single, ipckit::single>,
                                          rendezvous_bytes<ipckit::single, ipckit::single, 65>>,
                               queue_promises {
    static constexpr bool multi_producer = false, bounded = true, non_blocking_send = false;
    static constexpr std::uint64_t holds = 0;
};
struct rendezvous_bytes_mpmc : bytes_kind<rendezvous_bytes<ipckit::multi, ipckit::multi>,
                                          rendezvous_bytes<ipckit::multi, ipckit::multi, 65>>,
                               queue_promises {
    static constexpr bool multi_producer = true, bounded = true, non_blocking_send = false;
    static constexpr std::uint64_t holds = 0;
};

/// Chunks of 4 KiB: `holds` ticks fill more than one, so a scenario crosses a chunk boundary.
struct unbounded_spsc : handle_kind<ipckit::queue<tick, ipckit::unbounded<4096>>,
                                    ipckit::queue<std::uint64_t, ipckit::unbounded<4096>>, scoped_queue>,
                        queue_promises {
    static constexpr bool multi_producer = false, bounded = false;
    static constexpr std::uint64_t holds = 4096 / sizeof(tick) + 10;
};
struct unbounded_mpsc : handle_kind<ipckit::queue<tick, ipckit::unbounded<4096>, ipckit::multi>,
                                    ipckit::queue<std::uint64_t, ipckit::unbounded<4096>, ipckit::multi>, scoped_queue>,
                        queue_promises {
    static constexpr bool multi_producer = true, bounded = false;
    static constexpr std::uint64_t holds = 4096 / sizeof(tick) + 10;
    /// The chunks of the queue that exist now.
    static std::size_t chunks(const place& p) { return chunks_of(p).size(); }
};

/// bytes<Max> on the same chain of 4 KiB chunks, each message a record<Max> slot.
template <class P, std::size_t Max = 64>
using unbounded_bytes = ipckit::queue<ipckit::bytes<Max>, ipckit::unbounded<4096>, P>;
struct unbounded_bytes_spsc : bytes_kind<unbounded_bytes<ipckit::single>, unbounded_bytes<ipckit::single, 65>, scoped_queue>,
                              queue_promises {
    static constexpr bool multi_producer = false, bounded = false;
    static constexpr std::uint64_t holds = unbounded_bytes<ipckit::single>::slots_per_chunk + 10;
};
struct unbounded_bytes_mpsc : bytes_kind<unbounded_bytes<ipckit::multi>, unbounded_bytes<ipckit::multi, 65>, scoped_queue>,
                              queue_promises {
    static constexpr bool multi_producer = true, bounded = false;
    static constexpr std::uint64_t holds = unbounded_bytes<ipckit::multi>::slots_per_chunk + 10;
    /// The chunks of the queue that exist now.
    static std::size_t chunks(const place& p) { return chunks_of(p).size(); }
};

// ---- mailboxes: senders and receivers come and go independently ------------------------------

/// Mailboxes report no peer's death (neither side's leaving ends the other); system_owned, so
/// that a sender may sit in the receiver's process.
template <class Delivery, class M = tick>
using mailbox = ipckit::mailbox<M, ipckit::bounded<8>, Delivery, ipckit::system_owned>;
template <class Delivery>
struct mailbox_kind : handle_kind<mailbox<Delivery>, mailbox<Delivery, std::uint64_t>> {
    static constexpr bool multi_producer = true, bounded = true, peer_query = false, non_blocking_send = true;
    static constexpr bool side_of_one_ends = false;
    static constexpr std::uint64_t holds = 8;
};
struct mailbox_exclusive : mailbox_kind<ipckit::exclusive>, batch_verbs {};
struct mailbox_any : mailbox_kind<ipckit::any>, batch_verbs {};
struct mailbox_round_robin : mailbox_kind<ipckit::round_robin> {};
struct mailbox_broadcast : mailbox_kind<ipckit::broadcast> {};

/// Mailboxes of bytes<Max>, every delivery: bounded<N> counts bytes, here 8 slots of bytes<64> (a record of 8 +
/// 64 bytes each); another Max is another layout.
template <class Delivery, std::size_t Max = 64>
using bytes_mailbox = ipckit::mailbox<ipckit::bytes<Max>, ipckit::bounded<8 * sizeof(ipckit::detail::record<64>)>,
                                      Delivery, ipckit::system_owned>;
template <class Delivery>
struct bytes_mailbox_kind : bytes_kind<bytes_mailbox<Delivery>, bytes_mailbox<Delivery, 65>> {
    static constexpr bool multi_producer = true, bounded = true, peer_query = false, non_blocking_send = true;
    static constexpr bool side_of_one_ends = false;
    static constexpr std::uint64_t holds = 8;
};
struct mailbox_bytes_exclusive : bytes_mailbox_kind<ipckit::exclusive>, records_batch_verbs {};
struct mailbox_bytes_any : bytes_mailbox_kind<ipckit::any>, records_batch_verbs {};
struct mailbox_bytes_round_robin : bytes_mailbox_kind<ipckit::round_robin> {};
struct mailbox_bytes_broadcast : bytes_mailbox_kind<ipckit::broadcast> {};

// ---- node links: members of a domain, one link per ordered pair --------------------------------

/// Sender number id is member "p<id>", sending to member "rx". A node may send only to a member
/// that has joined, and receive(from) only from one: attach the receiver, then the senders, and
/// receive once they have attached. Any: the receiver takes from every sender with receive_any
/// (asymmetric addressing); else from sender 0 alone with receive("p0") (symmetric).
template <bool Any>
struct node_kind {
    using node = ipckit::node;
    using place = scoped_domain;
    static constexpr bool multi_producer = Any, bounded = true, peer_query = false, non_blocking_send = true;
    static constexpr std::uint64_t holds = 8;

    static ipckit::node_options liveness() {
        ipckit::node_options opt;
        static_cast<ipckit::options&>(opt) = quick_liveness();
        return opt;
    }
    /// The domain is made by its first member: nothing to keep.
    static int create(const place&) { return 0; }
    /// Sender id's member name. (Appended, not "p" + ...: g++ 12 gives a false -Wrestrict there.)
    static std::string member(std::uint64_t id) {
        std::string name = "p";
        name += std::to_string(id);
        return name;
    }
    /// Joins p as a member of another node type (incompatible_layout, if all is well).
    static void open_other(const place& p) { ipckit::basic_node<64, 1024> other(p, "other", liveness()); }

    /// A member and its endpoint in Mode: the member lives as long as the end.
    template <class Mode, bool Sending>
    struct end {
        node self;
        std::conditional_t<Sending, typename node::template sender_type<Mode>, typename node::template receiver_type<Mode>>
            verbs = make(self);
        static auto make(const node& n) {
            if constexpr (Sending) return n.template sender<Mode>();
            else return n.template receiver<Mode>();
        }
    };
    template <class Mode = ipckit::blocking>
    static std::unique_ptr<end<Mode, true>> sender(const place& p, unsigned id = 0) {
        return std::make_unique<end<Mode, true>>(end<Mode, true>{node(p, member(id), liveness())});
    }
    template <class Mode = ipckit::blocking>
    static std::unique_ptr<end<Mode, false>> receiver(const place& p) {
        return std::make_unique<end<Mode, false>>(end<Mode, false>{node(p, "rx", liveness())});
    }
    template <class Mode>
    static errc send(std::unique_ptr<end<Mode, true>>& tx, std::uint64_t seq, auto... deadline) {
        const tick t = make_tick(seq);
        return err(tx->verbs.send("rx", std::as_bytes(std::span(&t, 1)), deadline...));
    }
    template <class Mode>
    static errc receive(std::unique_ptr<end<Mode, false>>& rx, std::uint64_t& seq, auto... deadline) {
        std::array<std::byte, 2 * sizeof(tick)> buf{};
        std::string from = "p0";
        auto n = take(rx->verbs, from, std::span(buf), deadline...);
        if (!n) return n.error();
        tick t{};
        if (*n != sizeof t) return errc::corrupt;
        std::memcpy(&t, buf.data(), sizeof t);
        if (t.check != check_of(t.seq) || from != member(sender_of(t.seq))) return errc::corrupt;
        seq = t.seq;
        return errc::ok;
    }

private:
    /// One message into buf, and who sent it.
    static ipckit::result<std::size_t> take(auto& rx, std::string& from, std::span<std::byte> buf, auto... deadline) {
        if constexpr (Any) {
            auto e = rx.receive_any(buf, deadline...);
            from = e.from;
            return e.message;
        } else {
            return rx.receive(from, buf, deadline...);
        }
    }
};
struct node_any : node_kind<true> {};
struct node_from : node_kind<false> {};

}  // namespace ipckit_test::contract

// ---- the lists: one per promise, each the kinds that make it ---------------------------------
// A scenario file says `using namespace ipckit_test::contract;` and instantiates its
// TEMPLATE_TEST_CASE over one of these (one ctest entry per scenario and kind). A new kind goes
// into every list whose promise it makes.

/// Exactly-once, in-order delivery per sender; blocking, non-blocking and deadline behaviour;
/// another message type is incompatible_layout. Connections (net_kinds.hpp) over each transport.
#define IPCKIT_CONTRACT_ALL_KINDS                                                                          \
    fixed_spsc, fixed_mpsc, fixed_lanes, fixed_spmc, bytes_spmc, fixed_mpmc, bytes_mpmc, bytes_spsc, bytes_mpsc, rendezvous_spsc, rendezvous_mpmc, \
        unbounded_mpsc, mailbox_exclusive, mailbox_any, mailbox_round_robin, mailbox_broadcast, \
        mailbox_bytes_exclusive, mailbox_bytes_any, mailbox_bytes_round_robin, mailbox_bytes_broadcast, node_any, node_from, \
        tcp_connection, unix_connection, shm_connection, \
        rendezvous_bytes_spsc, rendezvous_bytes_mpmc, unbounded_bytes_mpsc

/// A receiver gets every tick of a killed sender, then peer_dead once.
#define IPCKIT_CONTRACT_PEER_DEATH_KINDS \
    fixed_spsc, fixed_mpsc, fixed_lanes, fixed_mpmc, bytes_mpmc, bytes_spsc, bytes_mpsc, rendezvous_spsc, rendezvous_mpmc, unbounded_mpsc, \
        node_any, node_from, tcp_connection, unix_connection, shm_connection, \
        rendezvous_bytes_spsc, rendezvous_bytes_mpmc, unbounded_bytes_mpsc

/// The fixed-size rings that several senders share, whose senders lend slots with loan(). A loan
/// given back unsent (abandon) leaves its slot to be passed over, which frees it (a bytes ring's
/// records are skipped alike, but a wake of its own: bytes_endpoints.hpp); a loan still held when
/// the channel closes is waited for, with what was sent behind it.
#define IPCKIT_CONTRACT_SHARED_LOAN_KINDS \
    fixed_mpsc, fixed_mpmc, mailbox_exclusive, mailbox_any, mailbox_round_robin, mailbox_broadcast

/// The kinds whose receiver, when the channel is closed, waits for a loan a live sender still
/// holds: those above, and the rings of a single sender and the lanes, whose loans are listed
/// for it (spsc_producer::hold).
#define IPCKIT_CONTRACT_LOAN_ACROSS_CLOSE_KINDS IPCKIT_CONTRACT_SHARED_LOAN_KINDS, fixed_spsc, fixed_lanes

/// A sender attached after a killed one takes over its place: its close ends the stream. (Not a
/// connection's: its sender is one end, for its life; another client is another connection.)
#define IPCKIT_CONTRACT_SENDER_TAKEOVER_KINDS \
    fixed_spsc, fixed_mpsc, fixed_lanes, fixed_mpmc, bytes_mpmc, bytes_spsc, bytes_mpsc, unbounded_mpsc, rendezvous_mpmc, \
        rendezvous_bytes_mpmc, unbounded_bytes_mpsc

/// A sender on a full channel gets peer_dead once its receiver is killed; a receiver attached
/// after the killed one takes its place. (Not a connection's: what the killed end had taken off
/// the socket dies with it, and nobody takes its place; a sender's peer_dead when its receiver
/// is killed is net_process_test's "a server killed mid-stream".)
#define IPCKIT_CONTRACT_RECEIVER_DEATH_KINDS \
    fixed_spsc, fixed_lanes, fixed_spmc, bytes_spmc, fixed_mpmc, bytes_mpmc, bytes_mpsc, rendezvous_spsc, rendezvous_mpmc, \
        rendezvous_bytes_spsc, rendezvous_bytes_mpmc

/// create() replaces a process_owned channel whose creator was killed. (A connection has no
/// creator: a listener killed leaves its address to the next bind, net_process_test.)
#define IPCKIT_CONTRACT_DEAD_CREATOR_KINDS \
    fixed_spsc, fixed_mpsc, fixed_lanes, fixed_spmc, bytes_spmc, fixed_mpmc, bytes_mpmc, bytes_spsc, bytes_mpsc, rendezvous_spsc, rendezvous_mpmc, \
        unbounded_mpsc, \
        rendezvous_bytes_spsc, rendezvous_bytes_mpmc, unbounded_bytes_mpsc

/// The closed rule: every kind that can be closed as a whole (close() on its handle) and
/// removed. (A node's links end with their members instead; a connection with its ends: see
/// IPCKIT_CONTRACT_SENDER_CLOSE_KINDS.)
#define IPCKIT_CONTRACT_CLOSED_KINDS                                                                         \
    fixed_spsc, fixed_mpsc, fixed_lanes, fixed_spmc, bytes_spmc, fixed_mpmc, bytes_mpmc, bytes_spsc, bytes_mpsc, rendezvous_spsc, rendezvous_mpmc, \
        unbounded_spsc, unbounded_mpsc, mailbox_exclusive, mailbox_any, mailbox_round_robin, mailbox_broadcast, \
        mailbox_bytes_exclusive, mailbox_bytes_any, mailbox_bytes_round_robin, mailbox_bytes_broadcast, \
        rendezvous_bytes_spsc, rendezvous_bytes_mpmc, unbounded_bytes_spsc, unbounded_bytes_mpsc

/// The closed rule's first half, as a receiver that waits while its single sender sends and
/// closes sees it: the kinds of one sender whose close ends them, and socket connections (an
/// orderly close: the peer drains, then closed, whenever it accepts: shm_connection's queues
/// outlive its client, shm_names.hpp).
#define IPCKIT_CONTRACT_SENDER_CLOSE_KINDS \
    fixed_spsc, fixed_spmc, bytes_spmc, bytes_spsc, rendezvous_spsc, unbounded_spsc, tcp_connection, unix_connection, \
        shm_connection, \
        rendezvous_bytes_spsc, unbounded_bytes_spsc

/// A waitset reports a receiver ready when a message arrives, and not before: every queue and
/// mailbox kind, and connections over each transport. (Not node links: a waitset watches none
/// yet.)
#define IPCKIT_CONTRACT_WAITSET_KINDS                                                                        \
    fixed_spsc, fixed_mpsc, fixed_lanes, fixed_spmc, bytes_spmc, fixed_mpmc, bytes_mpmc, bytes_spsc, bytes_mpsc, rendezvous_spsc, rendezvous_mpmc, \
        unbounded_spsc, unbounded_mpsc, mailbox_exclusive, mailbox_any, mailbox_round_robin, mailbox_broadcast, \
        mailbox_bytes_exclusive, mailbox_bytes_any, mailbox_bytes_round_robin, mailbox_bytes_broadcast, \
        tcp_connection, unix_connection, shm_connection, \
        rendezvous_bytes_spsc, rendezvous_bytes_mpmc, unbounded_bytes_spsc, unbounded_bytes_mpsc

/// ... and when its single sender closes: the waitset kinds of IPCKIT_CONTRACT_SENDER_CLOSE_KINDS.
#define IPCKIT_CONTRACT_WAITSET_SENDER_CLOSE_KINDS \
    fixed_spsc, fixed_spmc, bytes_spmc, bytes_spsc, rendezvous_spsc, unbounded_spsc, tcp_connection, unix_connection, \
        shm_connection, \
        rendezvous_bytes_spsc, unbounded_bytes_spsc

/// ... and when its sender is killed: the waitset kinds of IPCKIT_CONTRACT_PEER_DEATH_KINDS.
#define IPCKIT_CONTRACT_WAITSET_PEER_DEATH_KINDS                                                             \
    fixed_spsc, fixed_mpsc, fixed_lanes, fixed_mpmc, bytes_mpmc, bytes_spsc, bytes_mpsc, rendezvous_spsc, rendezvous_mpmc, unbounded_mpsc, \
        tcp_connection, unix_connection, shm_connection, \
        rendezvous_bytes_spsc, rendezvous_bytes_mpmc, unbounded_bytes_mpsc

/// The closed rule, where a sender waits for room: the closed kinds less the unbounded ones.
#define IPCKIT_CONTRACT_CLOSED_BOUNDED_KINDS                                                                 \
    fixed_spsc, fixed_mpsc, fixed_lanes, fixed_spmc, bytes_spmc, fixed_mpmc, bytes_mpmc, bytes_spsc, bytes_mpsc, rendezvous_spsc, rendezvous_mpmc, \
        mailbox_exclusive, mailbox_any, mailbox_round_robin, mailbox_broadcast, \
        mailbox_bytes_exclusive, mailbox_bytes_any, mailbox_bytes_round_robin, mailbox_bytes_broadcast, \
        rendezvous_bytes_spsc, rendezvous_bytes_mpmc

/// Batch verbs: send(span) says how many were sent, exactly, when it meets a full channel, a
/// deadline or its receiver's end; receive(span) takes up to its size. (The bounded queues of
/// fixed-size messages, the mailboxes that take one message at a time from a ring: exclusive
/// and any, and connections, bytes<Max> ones through records (queues and mailboxes of bytes<Max>
/// too); kinds gain batch verbs from K::send_batch and K::receive_batch: batch_verbs.hpp. A kind
/// that holds no fixed count says how many surely fill it, K::fills; one whose ends meet at their
/// first verb has K::meet(rx).)
#define IPCKIT_CONTRACT_BATCH_KINDS fixed_spsc, fixed_mpsc, fixed_lanes, fixed_spmc, fixed_mpmc, mailbox_exclusive, mailbox_any, \
        tcp_connection, unix_connection, shm_connection, \
        bytes_spsc, bytes_mpsc, bytes_spmc, bytes_mpmc, mailbox_bytes_exclusive, mailbox_bytes_any

/// ... and a sender killed in the middle of a batch: the batch kinds of IPCKIT_CONTRACT_PEER_DEATH_KINDS.
#define IPCKIT_CONTRACT_BATCH_PEER_DEATH_KINDS fixed_spsc, fixed_mpsc, fixed_lanes, fixed_mpmc, tcp_connection, unix_connection, \
        shm_connection, bytes_spsc, bytes_mpsc, bytes_mpmc

/// ... and a receiver dead while a batch send waits for room: the batch kinds of
/// IPCKIT_CONTRACT_RECEIVER_DEATH_KINDS.
#define IPCKIT_CONTRACT_BATCH_RECEIVER_DEATH_KINDS \
    fixed_spsc, fixed_lanes, fixed_spmc, fixed_mpmc, bytes_spmc, bytes_mpmc, bytes_mpsc

/// ... and the closed rule: the batch kinds of IPCKIT_CONTRACT_CLOSED_KINDS.
#define IPCKIT_CONTRACT_BATCH_CLOSED_KINDS fixed_spsc, fixed_mpsc, fixed_lanes, fixed_spmc, fixed_mpmc, mailbox_exclusive, mailbox_any, \
        bytes_spsc, bytes_mpsc, bytes_spmc, bytes_mpmc, mailbox_bytes_exclusive, mailbox_bytes_any

/// The batch verbs' own promises for bytes<Max> (records of any size up to Max, too_large, a
/// records too small): the bytes queues and mailboxes of IPCKIT_CONTRACT_BATCH_KINDS.
#define IPCKIT_CONTRACT_BYTES_BATCH_KINDS \
    bytes_spsc, bytes_mpsc, bytes_spmc, bytes_mpmc, mailbox_bytes_exclusive, mailbox_bytes_any

/// The closed rule, where a receiver waits on with no sender attached: the closed kinds of many
/// senders (a single sender's close is the end instead).
#define IPCKIT_CONTRACT_CLOSED_MANY_SENDER_KINDS                                                   \
    fixed_mpsc, fixed_lanes, fixed_mpmc, bytes_mpmc, bytes_mpsc, rendezvous_mpmc, unbounded_mpsc, mailbox_exclusive, mailbox_any, \
        mailbox_round_robin, mailbox_broadcast, \
        mailbox_bytes_exclusive, mailbox_bytes_any, mailbox_bytes_round_robin, mailbox_bytes_broadcast, \
        rendezvous_bytes_mpmc, unbounded_bytes_mpsc
