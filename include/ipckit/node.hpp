#pragma once
// node: direct communication between named processes (the seed's symmetric and asymmetric
// addressing), over one link per ordered pair of members, made on first use.
//
//   ipckit::node alice("chat", "alice");           // joins domain "chat" under a unique name
//   alice.send("bob", "hi");                       // symmetric: to a name
//   auto m = alice.receive("bob", 100ms);          // only from bob, with a deadline
//   auto [from, m2] = alice.receive_any();         // asymmetric: learn who sent it
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
// (detail/node/link_name.hpp). Whichever of A's first send to B and B's first receive from A comes first
// creates it. A member that rejoins is a new incarnation, so a restarted peer gets fresh links.
// The sender rings B's member doorbell after each send only if B sleeps in a receive, so the
// fast path of a send is the queue's send plus three loads.
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
// Verbs. send, receive and receive_any block by default (a deadline or timeout may follow) or
// take non_blocking as template argument: send<ipckit::non_blocking>(to, m) returns would_block
// at once. receive(from) takes messages from one peer only; receive_any() from whichever peer
// has one, rotating fairly over the peers, and returns the sender's name with the message. Each
// receive returns a std::vector of the message's size, or, given a buffer, copies the message
// into it and returns its length (no allocation: the choice for small messages); a buffer too
// small for the next message is too_large, and that message stays first, for a bigger one. When a
// peer has gone, receive_any() reports it once, as (name, closed) or (name, peer_dead), after the
// last of its messages. Set-up on first use (creating or opening a link) may fail; the data path
// never throws, so such a failure is returned as its errc (no_space, corrupt, ...). When a new
// incoming link cannot be opened (no file descriptor left: system_error; /dev/shm unreadable),
// receive_any() still returns the messages of the links it has, and then that failure, with an
// empty name, instead of waiting; it looks for the link again on the next call, so nothing is
// skipped for good.
//
// Set-up on the data path. The first send to a peer, the first receive from it, and a
// receive_any() after a new link appeared, take the domain's registry lock (to look the peer up)
// or read /dev/shm. The lock is held for a scan of the member slots; a holder that dies is
// stolen from within about 10 ms, but a holder that is stopped (SIGSTOP, a debugger)
// holds up those calls, deadline or not, until it runs again. Later sends and receives to a
// known peer take no lock.
//
// Bad input. Sending to or receiving from oneself is invalid_argument; a name that is not a live
// member is not_found (receive(from) too: a peer that has not joined yet cannot be waited for);
// an invalid member or domain name throws invalid_name; a full domain throws no_space; a domain
// name used by a queue, or by members of another node type or capacity, throws
// incompatible_layout.
//
// Thread safety: restricted thread-safe, one thread at a time per node. Not copyable or
// movable. A forked child inherits the node but not its membership: it must not use it.

#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/node/link_name.hpp>
#include <ipckit/detail/node/registry.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/queue.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipckit {

/// Set-up options of a node: those of its links, and the domain's capacity.
struct node_options : options {
    /// How many members the domain holds at once; fixed by the first member to join (creating
    /// the domain), and every later member must ask for the same.
    std::size_t members = 64;
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

    /// What receive_any returns: the sender's name (empty for would_block and timed_out) and the
    /// message (R = message_type), or its length in the caller's buffer (R = std::size_t), or
    /// why there is none.
    template <class R>
    struct basic_envelope {
        std::string from;
        result<R> message;
    };
    using envelope = basic_envelope<message_type>;

    /// Joins `domain` (creating it if there is none) under `name`. Throws invalid_name,
    /// name_taken (a live member has `name`), no_space (the domain is full, or /dev/shm),
    /// incompatible_layout (`domain` names something else, or a domain of another node type or
    /// capacity), invalid_argument (members out of 1..4096).
    basic_node(std::string_view domain, std::string_view name, const node_options& opt = {})
        : domain_(domain), name_(name), opt_(opt),
          registry_((detail::validate_node_name(name, max_member_name, "member"), domain), opt.members, kind(), opt),
          self_(detail::sys::self()), me_(registry_.join(name, self_)), light_fence_(detail::sys::register_light_fence()),
          liveness_(std::clamp(opt.liveness_interval, std::chrono::milliseconds(1), std::chrono::milliseconds(3'600'000))) {
        try {
            sweep();  // links left by members that are all gone
        } catch (...) {
            // only housekeeping: the next join or leave sweeps again
        }
    }

    basic_node(const basic_node&) = delete;
    basic_node& operator=(const basic_node&) = delete;
    ~basic_node() { leave(); }

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] const std::string& domain() const noexcept { return domain_; }

    /// The names of the domain's live members, this one included.
    [[nodiscard]] std::vector<std::string> members() const {
        std::vector<std::string> out;
        for (auto& m : registry_.members()) out.push_back(std::move(m.first));
        return out;
    }

    // ---- send ---------------------------------------------------------------------------------

    /// Sends a copy of `m` to the member `to`. Blocking: waits for room in the link. Returns
    /// ok; too_large (longer than max_message); invalid_argument (to is this node); not_found
    /// (no live member `to`); closed / peer_dead (the receiver left / died: see the top of
    /// this file; the message is not sent); would_block (non_blocking, the link is full);
    /// timed_out (not sent); closed after leave().
    template <mode_policy Mode = blocking>
    status send(std::string_view to, std::span<const std::byte> m) noexcept {
        if constexpr (std::same_as<Mode, blocking>)
            return send_until(to, m, clock::time_point::max(), true);
        else
            return send_until(to, m, clock::time_point::min(), false);
    }
    template <mode_policy Mode = blocking>
    status send(std::string_view to, std::string_view m) noexcept {
        return send<Mode>(to, as_bytes(m));
    }
    template <detail::deadline D>
    status send(std::string_view to, std::span<const std::byte> m, D deadline) noexcept {
        return send_until(to, m, detail::time_point_of(deadline), true);
    }
    template <detail::deadline D>
    status send(std::string_view to, std::string_view m, D deadline) noexcept {
        return send(to, as_bytes(m), deadline);
    }

    // ---- receive ------------------------------------------------------------------------------

    /// The next message from `from`, in the order sent. Blocking: waits for one. Returns the
    /// message; closed / peer_dead once `from` has left / died and every message it sent has
    /// been received (once: the next call looks `from` up again); invalid_argument (from is
    /// this node); not_found (no live member `from`, and nothing left from a departed one);
    /// would_block (non_blocking, nothing yet); timed_out; no_space (the vector could not be
    /// allocated: the message stays first, for the next call).
    template <mode_policy Mode = blocking>
    result<message_type> receive(std::string_view from) noexcept {
        return receive_until(from, clock::time_point::max(), std::same_as<Mode, blocking>, as_vector);
    }
    template <detail::deadline D>
    result<message_type> receive(std::string_view from, D deadline) noexcept {
        return receive_until(from, detail::time_point_of(deadline), true, as_vector);
    }

    /// As receive(from), into `buffer`: returns the message's length. A message longer than
    /// the buffer is too_large, and stays first from `from`, for a bigger buffer.
    template <mode_policy Mode = blocking>
    result<std::size_t> receive(std::string_view from, std::span<std::byte> buffer) noexcept {
        return receive_until(from, clock::time_point::max(), std::same_as<Mode, blocking>, into(buffer));
    }
    template <detail::deadline D>
    result<std::size_t> receive(std::string_view from, std::span<std::byte> buffer, D deadline) noexcept {
        return receive_until(from, detail::time_point_of(deadline), true, into(buffer));
    }

    /// The next message from any member, with the sender's name. Each sender's messages come in
    /// order; senders with messages waiting take turns. A departed peer is reported once, as
    /// (name, closed) or (name, peer_dead), after its last message. would_block (non_blocking)
    /// and timed_out come with an empty name, and so does the failure to open a new incoming
    /// link (system_error when out of file descriptors, ...), returned when no other link has a
    /// message; the next call tries that link again.
    template <mode_policy Mode = blocking>
    envelope receive_any() noexcept {
        return receive_any_until(clock::time_point::max(), std::same_as<Mode, blocking>, as_vector);
    }
    template <detail::deadline D>
    envelope receive_any(D deadline) noexcept {
        return receive_any_until(detail::time_point_of(deadline), true, as_vector);
    }

    /// As receive_any(), into `buffer`: the message member is the message's length. A message
    /// longer than the buffer is (its sender, too_large), and stays first on its link.
    template <mode_policy Mode = blocking>
    basic_envelope<std::size_t> receive_any(std::span<std::byte> buffer) noexcept {
        return receive_any_until(clock::time_point::max(), std::same_as<Mode, blocking>, into(buffer));
    }
    template <detail::deadline D>
    basic_envelope<std::size_t> receive_any(std::span<std::byte> buffer, D deadline) noexcept {
        return receive_any_until(detail::time_point_of(deadline), true, into(buffer));
    }

    // ---- accounting and leaving ---------------------------------------------------------------

    /// Hands back, in the order sent, every message this node's sends to `to` put into a link
    /// whose receiver left or died without reading it, and removes those links. Messages on a
    /// link whose receiver lives stay there (the call checks with the OS). Returns no_space if
    /// the messages cannot be allocated.
    result<std::vector<message_type>> undelivered(std::string_view to) noexcept {
        try {
            std::vector<message_type> out;
            for (std::size_t i = 0; i < out_.size();) {
                outgoing& o = *out_[i];
                if (o.peer == to && receiver_state(o, true) != errc::ok)
                    retire(i);
                else
                    ++i;
            }
            for (std::size_t i = 0; i < retired_.size();) {
                retired_link& r = *retired_[i];
                if (r.peer != to) {
                    ++i;
                    continue;
                }
                r.tx.reset();
                std::optional<typename link_queue::template receiver_type<non_blocking>> rx;
                try {
                    rx.emplace(r.q.template receiver<non_blocking>());
                } catch (const error& e) {
                    if (e.reason() != errc::receiver_busy) throw;
                    ++i;  // the old receiver still runs, leaving: its messages are not lost, only not yet ours
                    continue;
                }
                for (;;) {
                    auto m = rx->receive();
                    if (!m) break;
                    out.push_back(std::move(*m));
                }
                rx.reset();
                remove_quietly(r.link);
                retired_.erase(retired_.begin() + static_cast<std::ptrdiff_t>(i));
            }
            return out;
        } catch (const error& e) {
            return unexpected(e.reason());
        } catch (...) {
            return unexpected(errc::no_space);
        }
    }

    /// Leaves the domain now, as destruction does: the name is free again, every link's peer
    /// sees closed after the messages already sent, and links whose both ends are gone are
    /// removed (with any messages a dead receiver never read that undelivered() did not take
    /// back). Verbs afterwards return closed.
    void leave() noexcept {
        if (left_) return;
        left_ = true;
        // A forked child inherits the node, not the membership.
        if (detail::sys::this_pid() != self_.pid) return;
        // First give the name back, then look at each peer (seq_cst both): of two members
        // leaving at once, at least one sees the other gone and removes their links.
        registry_.leave(me_);
        std::vector<std::string> rung;
        for (auto& o : out_) {
            o->tx.close();
            // A peer asleep in receive(this) or receive_any wakes, sees this node's place given
            // back, and returns closed after the messages already sent.
            registry_.slot(o->who.slot).bell.ring();
            try {
                rung.push_back(o->link);
            } catch (...) {
            }
            if (registry_.incarnation_state(o->who.incarnation, true) != errc::ok) remove_quietly(o->link);
        }
        for (auto& r : retired_) remove_quietly(r->link);
        for (auto& in : in_) {
            in->rx.close();
            if (registry_.incarnation_state(in->peer_incarnation, true) != errc::ok) remove_quietly(in->link);
        }
        out_.clear();
        retired_.clear();
        in_.clear();
        try {
            // Links to this node made by their receivers (a receive(this) before any send):
            // wake those receivers too.
            for (const auto& l : detail::list_links(domain_)) {
                if (l.from_incarnation != me_.incarnation || l.from != name_) continue;
                if (std::find(rung.begin(), rung.end(), l.segment) != rung.end()) continue;
                if (const auto peer = registry_.find_incarnation(l.to_incarnation)) registry_.slot(peer->slot).bell.ring();
            }
        } catch (...) {
        }
        try {
            sweep();
        } catch (...) {
        }
    }

private:
    using clock = detail::clock;
    using sender_type = typename link_queue::template sender_type<blocking>;
    using receiver_type = typename link_queue::template receiver_type<non_blocking>;

    struct outgoing {
        std::string peer;
        detail::member_ref who;
        std::string link;
        link_queue q;
        sender_type tx;
    };
    struct retired_link {
        std::string peer;
        std::string link;
        link_queue q;
        std::optional<sender_type> tx;
    };
    struct incoming {
        std::string peer;
        std::uint64_t peer_incarnation;
        std::optional<detail::member_ref> who;  ///< the sender's place; nullopt: it was gone when found
        std::string link;
        link_queue q;
        receiver_type rx;
    };

    static std::string kind() {
        return "links of bytes<" + std::to_string(MaxMessage) + "> in bounded<" + std::to_string(LinkBytes) + " bytes>";
    }
    static std::span<const std::byte> as_bytes(std::string_view s) noexcept {
        return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
    }
    /// How a receive takes the next message from a link: as a vector, or into a caller's buffer.
    static constexpr auto as_vector = [](receiver_type& rx) noexcept { return rx.receive(); };
    static auto into(std::span<std::byte> buffer) noexcept {
        return [buffer](receiver_type& rx) noexcept { return rx.receive(buffer); };
    }
    /// Whether a receive that failed with `e` left the message first on its link: the buffer
    /// was too small, or the vector could not be allocated. The link stays, for the next call.
    static constexpr bool stays(errc e) noexcept { return e == errc::too_large || e == errc::no_space; }
    static void remove_quietly(const std::string& link) noexcept {
        try {
            remove_segment(link);
        } catch (...) {
        }
    }
    detail::member_slot& my_slot() const noexcept { return registry_.slot(me_.slot); }

    // ---- links out ----------------------------------------------------------------------------

    outgoing* find_out(std::string_view to) noexcept {
        for (auto& o : out_)
            if (o->peer == to) return o.get();
        return nullptr;
    }

    /// Makes (or opens) the link to the live member `to`; nullptr when there is none.
    outgoing* open_out(std::string_view to) {
        const auto who = registry_.find(to);
        if (!who) return nullptr;
        std::string link = detail::make_link_name(domain_, name_, me_.incarnation, to, who->incarnation);
        link_queue q = link_queue::open_or_create(link, opt_);
        sender_type tx = q.template sender<blocking>();
        out_.push_back(std::make_unique<outgoing>(outgoing{std::string(to), *who, std::move(link), q, std::move(tx)}));
        detail::member_slot& peer = registry_.slot(who->slot);
        // SYNC POINT WRITE: the link exists; READ by the peer's refresh_incoming() (acquire).
        peer.links.fetch_add(1, std::memory_order_acq_rel);
        peer.bell.notify(light_fence_);
        return out_.back().get();
    }

    /// How the receiver of `o` stands: ok, closed (it left) or peer_dead. With ask_os, asks.
    errc receiver_state(outgoing& o, bool ask_os) noexcept {
        if (!registry_.current(o.who)) {
            const errc e = o.tx.peer();
            return e == errc::peer_dead ? e : errc::closed;  // it left, or it died and rejoined
        }
        if (!ask_os) return errc::ok;
        const errc e = o.tx.peer();
        if (e != errc::ok) return e;
        return registry_.incarnation_state(o.who.incarnation, true);
    }

    /// Moves out_[i] to the links whose messages undelivered() hands back.
    void retire(std::size_t i) {
        outgoing& o = *out_[i];
        retired_.push_back(std::make_unique<retired_link>(retired_link{o.peer, o.link, o.q, std::nullopt}));
        retired_.back()->tx.emplace(std::move(o.tx));
        out_.erase(out_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    void retire(outgoing* o) {
        for (std::size_t i = 0; i < out_.size(); ++i)
            if (out_[i].get() == o) return retire(i);
    }

    status send_until(std::string_view to, std::span<const std::byte> m, clock::time_point deadline, bool block) noexcept {
        if (!link_queue::fits(m.size())) return unexpected(errc::too_large);
        if (left_) return unexpected(errc::closed);
        if (to == name_) return unexpected(errc::invalid_argument);
        try {
            outgoing* o = find_out(to);
            if (o != nullptr && !registry_.current(o->who)) {
                // The receiver left or rejoined: this link is over; the message is not sent.
                const errc e = receiver_state(*o, false);
                retire(o);
                return unexpected(e);
            }
            if (o == nullptr) o = open_out(to);
            if (o == nullptr) return unexpected(errc::not_found);
            errc e = block ? send_blocking(*o, m, deadline) : send_now(*o, m);
            if (e == errc::ok) {
                registry_.slot(o->who.slot).bell.notify(light_fence_);
                return {};
            }
            if (e == errc::closed || e == errc::peer_dead) retire(o);
            return unexpected(e);
        } catch (const error& e) {
            return unexpected(e.reason());
        } catch (...) {
            return unexpected(errc::no_space);
        }
    }

    /// Blocks in slices of the liveness interval, between which it checks the receiver's
    /// membership: the queue alone cannot tell a receiver that never attached from a dead one.
    errc send_blocking(outgoing& o, std::span<const std::byte> m, clock::time_point deadline) noexcept {
        // First without a clock read: a link with room takes the message at once.
        if (const auto r = o.tx.send(m, clock::time_point::min()); r || r.error() != errc::timed_out)
            return r ? errc::ok : r.error();
        for (;;) {
            const auto now = clock::now();
            const auto slice = deadline - now > liveness_ ? now + liveness_ : deadline;
            const auto r = o.tx.send(m, slice);
            if (r) return errc::ok;
            if (r.error() != errc::timed_out) return r.error();
            if (slice == deadline) return errc::timed_out;
            if (const errc e = receiver_state(o, true); e != errc::ok) return e;
        }
    }

    /// One attempt: no system call while the link has room (a deadline already past makes the
    /// blocking sender return at once), and a look at the receiver once per liveness interval
    /// while it has none.
    errc send_now(outgoing& o, std::span<const std::byte> m) noexcept {
        const bool room = o.q.bytes_in_use() + detail::bytes_record::size_for(m.size()) <= LinkBytes;
        errc e = errc::would_block;
        if (room) {
            const auto r = o.tx.send(m, clock::time_point::min());
            e = r ? errc::ok : r.error() == errc::timed_out ? errc::would_block : r.error();
        }
        if (e == errc::would_block) {
            if (const errc s = receiver_state(o, false); s != errc::ok) return s;
            const auto now = clock::now();
            if (now >= next_send_check_) {
                next_send_check_ = now + liveness_;
                if (const errc s = receiver_state(o, true); s != errc::ok) return s;
            }
        }
        return e;
    }

    // ---- links in -----------------------------------------------------------------------------

    /// Opens the links to this node that appeared since the last look: only when some sender
    /// bumped this member's link counter, so the directory is not read on every receive. Returns
    /// ok, or why a link could not be opened (the directory unreadable, no file descriptor left,
    /// ...): the counter then counts as unseen, and the next call looks again. A link that is
    /// gone (not_found), or that is no link of this node type (corrupt, incompatible_layout,
    /// receiver_busy), is skipped for good.
    errc refresh_incoming() noexcept {
        try {
            // SYNC POINT READ: paired with open_out()'s bump, after which the link exists.
            const std::uint32_t now = my_slot().links.load(std::memory_order_acquire);
            if (seen_links_ && *seen_links_ == now) return errc::ok;
            errc failed = errc::ok;
            for (auto& l : detail::list_links(domain_)) {
                if (l.to != name_ || l.to_incarnation != me_.incarnation) continue;
                if (std::any_of(in_.begin(), in_.end(), [&](const auto& in) { return in->link == l.segment; }))
                    continue;
                if (std::find(dropped_.begin(), dropped_.end(), l.segment) != dropped_.end()) continue;
                try {
                    link_queue q = link_queue::open(l.segment, opt_);
                    receiver_type rx = q.template receiver<non_blocking>();
                    in_.push_back(std::make_unique<incoming>(incoming{std::move(l.from), l.from_incarnation,
                                                                      registry_.find_incarnation(l.from_incarnation),
                                                                      std::move(l.segment), q, std::move(rx)}));
                } catch (const error& e) {
                    const errc why = e.reason();
                    if (why == errc::not_found || why == errc::corrupt || why == errc::incompatible_layout ||
                        why == errc::receiver_busy)
                        continue;
                    if (failed == errc::ok) failed = why;  // the rest are still opened if they can be
                }
            }
            if (failed == errc::ok) seen_links_ = now;
            return failed;
        } catch (const error& e) {
            return e.reason();
        } catch (...) {
            return errc::no_space;
        }
    }

    /// The link from `from` whose sender is the oldest incarnation: a predecessor's messages
    /// come before its successor's (incarnations only grow within a domain).
    incoming* find_in(std::string_view from) noexcept {
        incoming* oldest = nullptr;
        for (auto& in : in_)
            if (in->peer == from && (oldest == nullptr || in->peer_incarnation < oldest->peer_incarnation))
                oldest = in.get();
        return oldest;
    }

    /// The link from the live member `from`, made now if it does not exist: receive(from) may
    /// come before from's first send. nullptr when there is no such member.
    incoming* open_in(std::string_view from) {
        const auto who = registry_.find(from);
        if (!who) return nullptr;
        std::string link = detail::make_link_name(domain_, from, who->incarnation, name_, me_.incarnation);
        link_queue q = link_queue::open_or_create(link, opt_);
        receiver_type rx = q.template receiver<non_blocking>();
        in_.push_back(
            std::make_unique<incoming>(incoming{std::string(from), who->incarnation, who, std::move(link), q, std::move(rx)}));
        return in_.back().get();
    }

    /// Whether the sender of `in` still holds its place in the registry: two loads. A sender
    /// that leaves gives its place back before it rings, so a receiver woken by that ring sees
    /// it gone at once (a dead sender still holds its place: sender_state() asks the OS).
    bool sender_current(const incoming& in) const noexcept { return in.who && registry_.current(*in.who); }

    /// For wait_until: ok while the sender holds its place (ask_os: and runs); once it has given
    /// it back, closed or peer_dead (its link's roster tells which).
    errc sender_watch(incoming& in, bool ask_os) noexcept {
        if (!sender_current(in)) {
            const errc e = in.rx.peer();
            return e == errc::peer_dead ? e : errc::closed;
        }
        return ask_os ? sender_state(in) : errc::ok;
    }

    /// How the sender of `in` stands: the link's sender roster first (closed / peer_dead once
    /// it attached), then its membership (a sender that never attached). ask_os only.
    errc sender_state(incoming& in) noexcept {
        const errc e = in.rx.peer();
        if (e != errc::ok) return e;
        return registry_.incarnation_state(in.peer_incarnation, true);
    }

    /// Forgets `in` (its sender is gone and it is drained) and removes its segment.
    void drop(incoming* in) noexcept {
        for (std::size_t i = 0; i < in_.size(); ++i) {
            if (in_[i].get() != in) continue;
            in->rx.close();
            remove_quietly(in->link);
            try {
                dropped_.push_back(in->link);
                if (dropped_.size() > 256) dropped_.erase(dropped_.begin());
            } catch (...) {
            }
            in_.erase(in_.begin() + static_cast<std::ptrdiff_t>(i));
            if (rotor_ > i) --rotor_;
            return;
        }
    }

    /// The end of `in`: one more look for a message that raced the news, then `why`.
    template <class Take>
    auto ending(incoming* in, errc why, Take& take) noexcept -> decltype(take(in->rx)) {
        auto m = take(in->rx);
        if (m || stays(m.error())) return m;
        if (m.error() != errc::would_block && m.error() != errc::closed) why = m.error();
        drop(in);
        return unexpected(why);
    }

    template <class Take>
    auto receive_until(std::string_view from, clock::time_point deadline, bool block, Take take) noexcept
        -> decltype(take(std::declval<receiver_type&>())) {
        if (left_) return unexpected(errc::closed);
        if (from == name_) return unexpected(errc::invalid_argument);
        try {
            // A link that cannot be opened now is another peer's, or is opened below (open_in).
            (void)refresh_incoming();
            incoming* in = find_in(from);
            if (in == nullptr) in = open_in(from);
            if (in == nullptr) {
                // `from` may have made its link, sent, and left between the first look and the
                // registry's answer: its link counter bump came before it left, so look again.
                (void)refresh_incoming();
                in = find_in(from);
            }
            if (in == nullptr) return unexpected(errc::not_found);
            for (;;) {
                auto m = take(in->rx);
                if (m || stays(m.error())) return m;
                if (m.error() != errc::would_block) return ending(in, m.error(), take);
                if (!block) {
                    const auto now = clock::now();
                    const bool ask_os = now >= next_receive_check_;
                    if (ask_os) next_receive_check_ = now + liveness_;
                    const errc e = sender_watch(*in, ask_os);
                    return e == errc::ok ? m : ending(in, e, take);
                }
                const errc e = detail::wait_until<Wait>(
                    my_slot().bell, my_slot().asleep, [in] { return in->q.bytes_in_use() != 0; },
                    [this, in](bool ask_os) { return sender_watch(*in, ask_os); }, deadline, liveness_);
                if (e == errc::timed_out) return unexpected(e);
                if (e != errc::ok) return ending(in, e, take);
            }
        } catch (const error& e) {
            return unexpected(e.reason());
        } catch (...) {
            return unexpected(errc::no_space);
        }
    }

    template <class Take>
    auto receive_any_until(clock::time_point deadline, bool block, Take take) noexcept
        -> basic_envelope<typename decltype(take(std::declval<receiver_type&>()))::value_type> {
        if (left_) return {{}, unexpected(errc::closed)};
        try {
            bool ask_os = false;
            for (;;) {
                // A link that cannot be opened now does not hold up the others: their messages come
                // first, and the failure is returned instead of waiting (or would_block).
                const errc failed = refresh_incoming();
                if (!block) {
                    const auto now = clock::now();
                    if (now >= next_receive_check_) {
                        next_receive_check_ = now + liveness_;
                        ask_os = true;
                    }
                }
                const std::size_t n = in_.size();
                for (std::size_t k = 0; k < n; ++k) {
                    const std::size_t i = (rotor_ + k) % n;
                    incoming* in = in_[i].get();
                    auto m = take(in->rx);
                    if (m || stays(m.error())) {
                        if (m) rotor_ = (i + 1) % n;
                        return {in->peer, std::move(m)};
                    }
                    errc why = m.error();
                    if (why == errc::would_block && (ask_os || !sender_current(*in))) why = sender_state(*in);
                    if (why == errc::would_block || why == errc::ok) continue;
                    std::string peer = in->peer;
                    return {std::move(peer), ending(in, why, take)};
                }
                if (failed != errc::ok) return {{}, unexpected(failed)};
                if (!block) return {{}, unexpected(errc::would_block)};
                detail::member_slot& me = my_slot();
                const std::uint32_t seen = seen_links_.value_or(0);
                const errc e = detail::wait_until<Wait>(
                    me.bell, me.asleep,
                    [this, &me, seen] {
                        if (me.links.load(std::memory_order_acquire) != seen) return true;
                        // A message, or a sender that gave its place back (leave() rings after it).
                        return std::any_of(in_.begin(), in_.end(), [this](const auto& in) {
                            return in->q.bytes_in_use() != 0 || !sender_current(*in);
                        });
                    },
                    // Once per liveness interval, stop waiting and look at each sender.
                    [](bool os) { return os ? errc::peer_dead : errc::ok; }, deadline, liveness_);
                if (e == errc::timed_out) return {{}, unexpected(e)};
                ask_os = e != errc::ok;
            }
        } catch (const error& e) {
            return {{}, unexpected(e.reason())};
        } catch (...) {
            return {{}, unexpected(errc::no_space)};
        }
    }

    // ---- stale links --------------------------------------------------------------------------

    /// Removes the domain's links whose both ends are gone (left, or died): those that nobody can
    /// send on or receive from any more. Reads the directory and asks the OS about each end. A
    /// segment is removed only if it opens as a link of this node type: a queue that merely has
    /// a link's name ("<domain>.x.y.1.2"), or one still being made, stays.
    void sweep() {
        options quick = opt_;
        quick.init_timeout = std::chrono::milliseconds(0);
        for (const auto& l : detail::list_links(domain_)) {
            if (registry_.live(l.from_incarnation) || registry_.live(l.to_incarnation)) continue;
            try {
                (void)link_queue::open(l.segment, quick);
            } catch (...) {
                continue;
            }
            remove_quietly(l.segment);
        }
    }

    std::string domain_;
    std::string name_;
    node_options opt_;
    detail::registry registry_;
    detail::sys::process_id self_;
    detail::member_ref me_;
    bool light_fence_;
    std::chrono::nanoseconds liveness_;
    std::vector<std::unique_ptr<outgoing>> out_;
    std::vector<std::unique_ptr<retired_link>> retired_;
    std::vector<std::unique_ptr<incoming>> in_;
    std::vector<std::string> dropped_;
    std::optional<std::uint32_t> seen_links_;
    std::size_t rotor_ = 0;
    clock::time_point next_send_check_{};
    clock::time_point next_receive_check_{};
    bool left_ = false;
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
