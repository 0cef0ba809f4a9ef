#pragma once
// node: direct communication between named processes (the seed's symmetric and asymmetric
// addressing), over one link per ordered pair of members, made on first use.
//
//   ipckit::node alice("chat", "alice");           // joins domain "chat" under a unique name
//   auto tx = alice.sender();                      // the verbs live on endpoints, as on a queue
//   auto rx = alice.receiver();
//   tx.send("bob", "hi");                          // symmetric: to a name
//   auto m = rx.receive("bob", 100ms);             // only from bob, with a deadline
//   auto [from, m2] = rx.receive_any();            // asymmetric: learn who sent it
//
// Domain. A registry segment named after the domain (detail/node/registry.hpp), system_owned: created
// by the first member to join, it outlives its members until ipckit::remove_domain(domain), which
// removes it with every link (remove_segment(domain) would leave the links behind, and split a
// domain that still runs). A name held by a live process cannot be joined again (name_taken);
// the name of a member whose process died is free at once, so a crashed process can rejoin
// under its old name.
//
// Links. The link from A to B is a single-producer, single-consumer queue of bytes<MaxMessage> in
// a ring of LinkBytes bytes, named after the domain, both names and both incarnations
// (detail/node/link_name.hpp). Whichever of A's first send to B and B's first receive from A comes
// first creates it (detail/node/links_out.hpp, links_in.hpp). A member that rejoins is a new
// incarnation, so a restarted peer gets fresh links. The sender rings B's member doorbell after
// each send only if B sleeps in a receive, so the fast path of a send is the queue's send plus
// three loads.
//
// Departures. When B's peer A leaves (its node is destroyed), B receives everything A sent, then
// `closed`, at once (a B asleep in receive("A") or receive_any is woken); when A's process dies,
// everything A sent, then `peer_dead`, within about a liveness interval. When the receiver B dies
// or leaves, A's sends to it go on being accepted while the link has room; a send returns
// peer_dead (B died) or closed (B left) once the link is full, or as soon as B has rejoined (the
// message of that call is not sent). Every message accepted and never read by B is then handed
// back by undelivered("B"), and the next send to B uses a fresh link to its new incarnation.
// Messages of a link the sender never takes back are dropped with it when the sender leaves.
//
// Verbs. As on a queue, the verbs live on endpoints whose type carries the Mode: sender<Mode>()
// gives a node_sender with send(to, m), receiver<Mode>() a node_receiver with receive(from) and
// receive_any(); blocking (the default) waits, with a deadline or timeout as last argument if
// wanted, non_blocking returns would_block at once and takes no deadline (that does not compile).
// The endpoints are light (a shared pointer to the node's state): make as many as wanted, of
// either mode; they stay valid across a move of the node, and once it has left (or is destroyed)
// their verbs return closed. receive(from) takes messages from one peer only; receive_any() from
// whichever peer has one, rotating fairly over the peers, and returns the sender's name with the
// message. Each receive returns a std::vector of the message's size, or, given a buffer, copies
// the message into it and returns its length (no allocation: the choice for small messages); a
// buffer too small for the next message is too_large, and that message stays first, for a bigger
// one. When a peer has gone, receive_any() reports it once, as (name, closed) or (name,
// peer_dead), after the last of its messages. Set-up on first use (creating or opening a link)
// may fail; the data path never throws, so such a failure is returned as its errc (one mapping
// for every kind: detail/sys/exception_errc.hpp). When a new incoming link cannot be opened
// (no file descriptor left: system_error; /dev/shm unreadable), receive_any() still returns the
// messages of the links it has, and then that failure, with an empty name, instead of waiting; it
// looks for the link again on the next call, so nothing is skipped for good.
//
// Set-up on the data path. The first send to a peer, the first receive from it, and a
// receive_any() after a new link appeared, take the domain's registry lock (to look the peer up)
// or read /dev/shm. The lock is held for a scan of the member slots; a holder that dies is
// stolen from within about 10 ms, while one that still runs but does not let go (stopped by
// SIGSTOP or a debugger) holds those calls up, deadline or not, for at most 20 liveness
// intervals (1 s to 60 s): then they, and joining, give up with timed_out, naming the holder.
// Later sends and receives to a known peer take no lock.
//
// Bad input. Sending to or receiving from oneself is invalid_argument; a name that is not a live
// member is not_found (receive(from) too: a peer that has not joined yet cannot be waited for);
// an invalid member or domain name throws invalid_name; a full domain throws no_space; a domain
// name used by a queue, or by members of another node type or capacity, throws
// incompatible_layout.
//
// Thread safety: restricted thread-safe, one thread at a time per node, its endpoints included.
// Movable, not copyable: the membership moves with it (endpoints made before the move go on
// working); a moved-from node is empty, and the verbs of endpoints made from it return closed.
// A forked child inherits the node but not its membership: it must not use it.

#include <ipckit/deadline.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/node/link_name.hpp>
#include <ipckit/detail/node/links_in.hpp>
#include <ipckit/detail/node/links_out.hpp>
#include <ipckit/detail/node/membership.hpp>
#include <ipckit/detail/node/sweep.hpp>
#include <ipckit/detail/queue/bytes.hpp>
#include <ipckit/error.hpp>
#include <ipckit/node_options.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/queue.hpp>
#include <ipckit/segment.hpp>

#include <concepts>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipckit {

/// What receive_any returns: the sender's name (empty for would_block and timed_out) and the
/// message (R = std::vector<std::byte>), or its length in the caller's buffer (R = std::size_t),
/// or why there is none.
template <class R>
struct node_envelope {
    std::string from;
    result<R> message;
};

namespace detail {
/// What a node and its endpoints share: the membership and both halves of the links.
template <class LinkQueue, class Wait>
struct node_state {
    node_state(std::string_view domain, std::string_view name, const node_options& opt, const std::string& kind)
        : member(domain, name, opt, kind) {}
    membership member;
    outgoing_links<LinkQueue> out;
    incoming_links<LinkQueue, Wait> in;
    bool left = false;
};
}  // namespace detail

/// The sending endpoint of a node, in Mode: what node.sender<Mode>() returns.
template <class Node, mode_policy Mode>
class node_sender {
public:
    using mode = Mode;

    /// Sends a copy of `m` to the member `to`. Blocking: waits for room in the link (until the
    /// deadline or timeout, if given). Returns ok; too_large (longer than Node::max_message);
    /// invalid_argument (to is this node); not_found (no live member `to`); closed / peer_dead
    /// (the receiver left / died: see the top of node.hpp; the message is not sent);
    /// would_block (non_blocking, the link is full); timed_out (not sent); closed once the node
    /// has left.
    status send(std::string_view to, std::span<const std::byte> m) noexcept {
        return send_until(to, m, deadline_clock::time_point::max());
    }
    status send(std::string_view to, std::string_view m) noexcept { return send(to, detail::as_bytes(m)); }
    template <deadline D>
    status send(std::string_view to, std::span<const std::byte> m, D d) noexcept {
        return send_until(to, m, detail::blocking_deadline<Mode>(d));
    }
    template <deadline D>
    status send(std::string_view to, std::string_view m, D d) noexcept {
        return send(to, detail::as_bytes(m), d);
    }

private:
    friend Node;
    using state = typename Node::state;
    explicit node_sender(std::shared_ptr<state> s) noexcept : s_(std::move(s)) {}

    status send_until(std::string_view to, std::span<const std::byte> m, deadline_clock::time_point d) noexcept {
        if (!Node::link_queue::fits(m.size())) return unexpected(errc::too_large);
        if (!s_ || s_->left) return unexpected(errc::closed);
        if (to == s_->member.name()) return unexpected(errc::invalid_argument);
        return s_->out.send(s_->member, to, m, d, std::same_as<Mode, blocking>);
    }

    std::shared_ptr<state> s_;
};

/// The receiving endpoint of a node, in Mode: what node.receiver<Mode>() returns.
template <class Node, mode_policy Mode>
class node_receiver {
public:
    using mode = Mode;
    using message_type = typename Node::message_type;
    using envelope = node_envelope<message_type>;

    /// The next message from `from`, in the order sent. Blocking: waits for one (until the
    /// deadline or timeout, if given). Returns the message; closed / peer_dead once `from` has
    /// left / died and every message it sent has been received (once: the next call looks
    /// `from` up again); invalid_argument (from is this node); not_found (no live member
    /// `from`, and nothing left from a departed one); would_block (non_blocking, nothing yet);
    /// timed_out; no_space (the vector could not be allocated: the message stays first, for
    /// the next call); closed once the node has left.
    result<message_type> receive(std::string_view from) noexcept {
        return receive_until(from, deadline_clock::time_point::max(), links::as_vector);
    }
    template <deadline D>
    result<message_type> receive(std::string_view from, D d) noexcept {
        return receive_until(from, detail::blocking_deadline<Mode>(d), links::as_vector);
    }

    /// As receive(from), into `buffer`: returns the message's length. A message longer than
    /// the buffer is too_large, and stays first from `from`, for a bigger buffer.
    result<std::size_t> receive(std::string_view from, std::span<std::byte> buffer) noexcept {
        return receive_until(from, deadline_clock::time_point::max(), links::into(buffer));
    }
    template <deadline D>
    result<std::size_t> receive(std::string_view from, std::span<std::byte> buffer, D d) noexcept {
        return receive_until(from, detail::blocking_deadline<Mode>(d), links::into(buffer));
    }

    /// The next message from any member, with the sender's name. Each sender's messages come in
    /// order; senders with messages waiting take turns. A departed peer is reported once, as
    /// (name, closed) or (name, peer_dead), after its last message. would_block (non_blocking)
    /// and timed_out come with an empty name, and so does the failure to open a new incoming
    /// link (system_error when out of file descriptors, ...), returned when no other link has a
    /// message; the next call tries that link again.
    envelope receive_any() noexcept {
        return receive_any_until<message_type>(deadline_clock::time_point::max(), links::as_vector);
    }
    template <deadline D>
    envelope receive_any(D d) noexcept {
        return receive_any_until<message_type>(detail::blocking_deadline<Mode>(d), links::as_vector);
    }

    /// As receive_any(), into `buffer`: the message member is the message's length. A message
    /// longer than the buffer is (its sender, too_large), and stays first on its link.
    node_envelope<std::size_t> receive_any(std::span<std::byte> buffer) noexcept {
        return receive_any_until<std::size_t>(deadline_clock::time_point::max(), links::into(buffer));
    }
    template <deadline D>
    node_envelope<std::size_t> receive_any(std::span<std::byte> buffer, D d) noexcept {
        return receive_any_until<std::size_t>(detail::blocking_deadline<Mode>(d), links::into(buffer));
    }

    /// How much is waiting from `from` (every kind's depth()): bytes of its links' rings, records
    /// included, as on a queue of bytes<Max>; 0 with no link from `from` (or once the node has
    /// left). A snapshot.
    [[nodiscard]] std::size_t depth(std::string_view from) const noexcept {
        if (!s_ || s_->left) return 0;
        return s_->in.depth(s_->member, from);
    }

private:
    friend Node;
    using state = typename Node::state;
    using links = decltype(state::in);
    static constexpr bool block = std::same_as<Mode, blocking>;
    explicit node_receiver(std::shared_ptr<state> s) noexcept : s_(std::move(s)) {}

    template <class Take>
    auto receive_until(std::string_view from, deadline_clock::time_point d, Take take) noexcept
        -> typename links::template taken<Take> {
        if (!s_ || s_->left) return unexpected(errc::closed);
        if (from == s_->member.name()) return unexpected(errc::invalid_argument);
        return s_->in.receive(s_->member, from, d, block, take);
    }
    template <class R, class Take>
    node_envelope<R> receive_any_until(deadline_clock::time_point d, Take take) noexcept {
        if (!s_ || s_->left) return {{}, unexpected(errc::closed)};
        return s_->in.template receive_any<node_envelope<R>>(s_->member, d, block, take);
    }

    std::shared_ptr<state> s_;
};

/// A member of a domain: see the top of this file. MaxMessage bounds one message; LinkBytes is
/// the ring of each link (a message takes 8 bytes plus its length rounded up to 8); Wait is how
/// a blocked verb waits. Members of one domain must agree on MaxMessage and LinkBytes.
template <std::size_t MaxMessage = 4096, std::size_t LinkBytes = 64 * 1024, wait_policy Wait = adaptive>
class basic_node {
public:
    using link_queue = queue<bytes<MaxMessage>, bounded<LinkBytes>, single, single, Wait, system_owned>;
    using message_type = std::vector<std::byte>;
    /// The longest message send accepts (longer: too_large).
    static constexpr std::size_t max_message = link_queue::max_message;
    template <class R>
    using basic_envelope = node_envelope<R>;
    using envelope = node_envelope<message_type>;
    template <mode_policy Mode = blocking>
    using sender_type = node_sender<basic_node, Mode>;
    template <mode_policy Mode = blocking>
    using receiver_type = node_receiver<basic_node, Mode>;

    /// Joins `domain` (creating it if there is none) under `name`. Throws invalid_name,
    /// name_taken (a live member has `name`), no_space (the domain is full, or /dev/shm),
    /// incompatible_layout (`domain` names something else, or a domain of another node type or
    /// capacity), invalid_argument (members out of 1..4096).
    basic_node(std::string_view domain, std::string_view name, const node_options& opt = {})
        : s_(std::make_shared<state>(domain, name, opt, kind())) {
        try {
            detail::sweep_links<link_queue>(s_->member);  // links that are over (sweep.hpp)
        } catch (...) {
            // only housekeeping: the next join or leave sweeps again
        }
    }

    basic_node(basic_node&&) noexcept = default;
    /// Leaves the domain as this node, then becomes `o`.
    basic_node& operator=(basic_node&& o) noexcept {
        if (this != &o) {
            leave();
            s_ = std::move(o.s_);
        }
        return *this;
    }
    basic_node(const basic_node&) = delete;
    basic_node& operator=(const basic_node&) = delete;
    ~basic_node() { leave(); }

    /// This member's name and domain (empty for a moved-from node).
    [[nodiscard]] const std::string& name() const noexcept { return s_ ? s_->member.name() : nothing(); }
    [[nodiscard]] const std::string& domain() const noexcept { return s_ ? s_->member.domain() : nothing(); }

    /// The names of the domain's live members, this one included (none for a moved-from node).
    [[nodiscard]] std::vector<std::string> members() const {
        std::vector<std::string> out;
        if (!s_) return out;
        for (auto& m : s_->member.members().members()) out.push_back(std::move(m.first));
        return out;
    }

    /// An endpoint that sends to members by name, in Mode.
    template <mode_policy Mode = blocking>
    [[nodiscard]] sender_type<Mode> sender() const noexcept {
        return sender_type<Mode>(s_);
    }
    /// An endpoint that receives from members, by name or from any, in Mode.
    template <mode_policy Mode = blocking>
    [[nodiscard]] receiver_type<Mode> receiver() const noexcept {
        return receiver_type<Mode>(s_);
    }

    /// Hands back, in the order sent, every message this node's sends to `to` put into a link
    /// whose receiver left or died without reading it, and removes those links. Messages on a
    /// link whose receiver lives stay there (the call checks with the OS). Returns no_space if
    /// the messages cannot be allocated; closed once the node has left.
    result<std::vector<message_type>> undelivered(std::string_view to) noexcept {
        if (!s_ || s_->left) return unexpected(errc::closed);
        return s_->out.undelivered(s_->member, to);
    }

    /// Leaves the domain now, as destruction does: the name is free again, every link's peer
    /// sees closed after the messages already sent, and the domain's links whose receiver is gone
    /// are removed (with any messages it never read that undelivered() did not take back). The
    /// endpoints' verbs return closed afterwards.
    void leave() noexcept {
        if (!s_ || s_->left) return;
        s_->left = true;
        if (!s_->member.in_joining_process()) return;
        s_->member.leave();  // first the name, then each peer: see membership::leave
        s_->out.leave(s_->member);
        s_->in.leave(s_->member);
        try {
            detail::sweep_links<link_queue>(s_->member);
        } catch (...) {
        }
    }

private:
    template <class N, mode_policy M>
    friend class node_sender;
    template <class N, mode_policy M>
    friend class node_receiver;
    using state = detail::node_state<link_queue, Wait>;

    static std::string kind() {
        return "links of bytes<" + std::to_string(MaxMessage) + "> in bounded<" + std::to_string(LinkBytes) + " bytes>";
    }
    static const std::string& nothing() noexcept {
        static const std::string empty;
        return empty;
    }

    std::shared_ptr<state> s_;
};

/// A node with the default message size (4096 bytes), link ring (64 KiB) and wait (adaptive).
using node = basic_node<>;

/// Removes the domain `domain`: its registry and every link of it (every segment named
/// "<domain>.<from>.<to>.<hex>.<hex>"), of whatever node type. For when none of its members runs:
/// a running member keeps what it has mapped, but is no longer found by anyone, and new members
/// make a new domain that the old ones do not see. Returns false if there was nothing to remove.
/// Throws invalid_name, permission_denied, or what listing /dev/shm throws.
inline bool remove_domain(std::string_view domain) {
    detail::validate_node_name(domain, max_domain_name, "domain");
    bool removed = remove_segment(domain);
    for (const auto& l : detail::list_links(domain)) removed = remove_segment(l.segment) || removed;
    return removed;
}

}  // namespace ipckit
