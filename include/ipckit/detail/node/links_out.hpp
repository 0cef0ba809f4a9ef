#pragma once
// A member's outgoing links: one single-producer link to each peer it has sent to, made on the
// first send to it (or opened, if the peer's receive made it first), and the links whose
// receiver left or died holding messages it never read, kept until undelivered() hands them back
// (a link read to the end is removed as soon as its receiver is known to be gone).
//
// A send makes no system call while its link has room: the queue's send, then the peer's bell
// rung only if the peer sleeps in a receive (three loads). The registry is read on every send
// (two loads) to see whether the receiver still holds the place it held when the link was made;
// the OS is asked about it once per liveness interval while the link is full, each link on its
// own clock (so that a send to another peer, tried first, cannot use the check up). When the
// receiver has gone, the send returns closed (it left) or peer_dead (it died), the message of
// that call is not sent, and the link is retired: the next send to that name makes a fresh link
// to the name's new incarnation. Making a link also retires every link whose receiver has gone
// (two loads per live link; a system call and an unlink per link retired), so that a sender
// that never sends to a departed peer again (a server replying to short-lived clients) does not
// keep a descriptor, a mapping and a segment per client for as long as it runs; the next send
// to such a name still returns closed or peer_dead (the last 256 are remembered), as it would
// have from the link.
//
// Restricted thread-safe: one thread at a time, that of the node.

#include <ipckit/deadline.hpp>
#include <ipckit/detail/sys/exception_errc.hpp>
#include <ipckit/detail/node/link_name.hpp>
#include <ipckit/detail/node/membership.hpp>
#include <ipckit/detail/node/sweep.hpp>
#include <ipckit/detail/ring/bytes.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipckit::detail {

template <class LinkQueue>
class outgoing_links {
public:
    using clock = deadline_clock;
    using message_type = std::vector<std::byte>;

    /// Sends a copy of `msg` to the member `to`: blocking (until `deadline`) or one attempt.
    /// What it returns is said at basic_node's sender.
    status send(membership& m, std::string_view to, std::span<const std::byte> msg, clock::time_point deadline,
                bool block) noexcept {
        try {
            outgoing* o = find(to);
            if (o == nullptr) {
                if (const auto gone = forget_departed(to)) return unexpected(*gone);
            }
            if (o != nullptr && !m.members().current(o->who)) {
                // The receiver left or rejoined: this link is over; the message is not sent.
                const errc e = receiver_state(m, *o, false);
                retire(o);
                return unexpected(e);
            }
            if (o == nullptr) o = open(m, to);
            if (o == nullptr) return unexpected(errc::not_found);
            const errc e = block ? send_blocking(m, *o, msg, deadline) : send_now(m, *o, msg);
            if (e == errc::ok) {
                m.slot_of(o->who).bell.notify(m.light_fence());
                return {};
            }
            if (e == errc::closed || e == errc::peer_dead) retire(o);
            return unexpected(e);
        } catch (...) {
            return unexpected(current_exception_errc());
        }
    }

    /// Hands back, in the order sent, every message sent to `to` into a link whose receiver left
    /// or died without reading it, and removes those links. Links whose receiver lives stay (the
    /// call asks the OS).
    result<std::vector<message_type>> undelivered(membership& m, std::string_view to) noexcept {
        try {
            (void)forget_departed(to);
            std::vector<message_type> out;
            for (std::size_t i = 0; i < out_.size();) {
                outgoing& o = *out_[i];
                if (o.peer == to && receiver_state(m, o, true) != errc::ok)
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
                std::optional<typename LinkQueue::template receiver_type<non_blocking>> rx;
                try {
                    rx.emplace(r.q.template receiver<non_blocking>());
                } catch (const error& e) {
                    if (e.reason() != errc::receiver_busy) throw;
                    ++i;  // the old receiver still runs, leaving: its messages are not lost, only not yet ours
                    continue;
                }
                for (;;) {
                    auto msg = rx->receive();
                    if (!msg) break;
                    out.push_back(std::move(*msg));
                }
                rx.reset();
                remove_link_quietly(r.link);
                retired_.erase(retired_.begin() + static_cast<std::ptrdiff_t>(i));
            }
            return out;
        } catch (...) {
            return unexpected(current_exception_errc());
        }
    }

    /// The outgoing half of leaving, after the name was given back: closes every link, wakes
    /// each receiver (asleep in receive(this) or receive_any, it sees this member gone and
    /// returns closed after the messages already sent), removes the links whose receiver is gone
    /// too, and wakes the receivers of links to this member made by their receive(this).
    void leave(membership& m) noexcept {
        std::vector<std::string> rung;
        for (auto& o : out_) {
            o->tx.close();
            m.slot_of(o->who).bell.ring();
            try {
                rung.push_back(o->link);
            } catch (...) {
            }
            if (m.members().incarnation_state(o->who.incarnation, true) != errc::ok) remove_link_quietly(o->link);
        }
        for (auto& r : retired_) remove_link_quietly(r->link);
        out_.clear();
        retired_.clear();
        departed_.clear();
        try {
            for (const auto& l : list_links(m.domain())) {
                if (l.from_incarnation != m.me().incarnation || l.from != m.name()) continue;
                if (std::find(rung.begin(), rung.end(), l.segment) != rung.end()) continue;
                if (const auto peer = m.members().find_incarnation(l.to_incarnation)) m.slot_of(*peer).bell.ring();
            }
        } catch (...) {
        }
    }

private:
    using sender_type = typename LinkQueue::template sender_type<blocking>;

    struct outgoing {
        std::string peer;
        member_ref who;
        std::string link;
        LinkQueue q;
        sender_type tx;
        clock::time_point next_check{};  ///< when to ask the OS about the receiver next
    };
    struct retired_link {
        std::string peer;
        std::string link;
        LinkQueue q;
        std::optional<sender_type> tx;
    };
    /// A receiver whose link open() retired before any send to it found it gone: what the next
    /// send to its name returns instead.
    struct departed {
        std::string peer;
        errc why;
    };
    static constexpr std::size_t departed_kept = 256;

    outgoing* find(std::string_view to) noexcept {
        for (auto& o : out_)
            if (o->peer == to) return o.get();
        return nullptr;
    }

    /// Makes (or opens) the link to the live member `to`; nullptr when there is none. Retires
    /// first every link whose receiver left or rejoined since it was made.
    outgoing* open(membership& m, std::string_view to) {
        for (std::size_t i = 0; i < out_.size();) {
            if (m.members().current(out_[i]->who)) {
                ++i;
                continue;
            }
            if (departed_.size() == departed_kept) departed_.erase(departed_.begin());
            departed_.push_back(departed{out_[i]->peer, receiver_state(m, *out_[i], false)});
            retire(i);
        }
        const auto who = m.members().find(to);
        if (!who) return nullptr;
        std::string link = make_link_name(m.domain(), m.name(), m.me().incarnation, to, who->incarnation);
        LinkQueue q = LinkQueue::open_or_create(link, m.link_options());
        sender_type tx = q.template sender<blocking>();
        out_.push_back(std::make_unique<outgoing>(outgoing{std::string(to), *who, std::move(link), q, std::move(tx)}));
        member_slot& peer = m.slot_of(*who);
        // SYNC POINT WRITE: the link exists; READ by the peer's incoming_links::refresh() (acquire).
        peer.links.fetch_add(1, std::memory_order_acq_rel);
        peer.bell.notify(m.light_fence());
        return out_.back().get();
    }

    /// How the receiver of `o` stands: ok, closed (it left) or peer_dead. With ask_os, asks.
    static errc receiver_state(membership& m, outgoing& o, bool ask_os) noexcept {
        if (!m.members().current(o.who)) {
            const errc e = o.tx.peer();
            return e == errc::peer_dead ? e : errc::closed;  // it left, or it died and rejoined
        }
        if (!ask_os) return errc::ok;
        const errc e = o.tx.peer();
        if (e != errc::ok) return e;
        return m.members().incarnation_state(o.who.incarnation, true);
    }

    /// Ends out_[i], whose receiver has gone: moves it to the links whose messages undelivered()
    /// hands back, or, when it holds none, removes it now. Its receiver is gone and this is its
    /// only sender, so an empty link stays empty: keeping it would only hold a file descriptor,
    /// a mapping and its segment, one per departed receiver, until undelivered() or leave().
    void retire(std::size_t i) {
        outgoing& o = *out_[i];
        if (o.q.depth() == 0) {
            remove_link_quietly(o.link);
        } else {
            retired_.push_back(std::make_unique<retired_link>(retired_link{o.peer, o.link, o.q, std::nullopt}));
            retired_.back()->tx.emplace(std::move(o.tx));
        }
        out_.erase(out_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    /// What the next send to `to` returns, if open() retired its link before a send found its
    /// receiver gone (and forgets it: that send is the one told).
    std::optional<errc> forget_departed(std::string_view to) noexcept {
        for (auto d = departed_.begin(); d != departed_.end(); ++d) {
            if (d->peer != to) continue;
            const errc why = d->why;
            departed_.erase(d);
            return why;
        }
        return std::nullopt;
    }

    void retire(outgoing* o) {
        for (std::size_t i = 0; i < out_.size(); ++i)
            if (out_[i].get() == o) return retire(i);
    }

    /// Blocks in slices that end when the link's clock says to look at the receiver's
    /// membership (the queue alone cannot tell a receiver that never attached from a dead one),
    /// the clock send_now keeps too, across calls: a loop of sends each shorter than the
    /// liveness interval still finds a dead receiver.
    static errc send_blocking(membership& m, outgoing& o, std::span<const std::byte> msg,
                              clock::time_point deadline) noexcept {
        // First without a clock read: a link with room takes the message at once.
        if (const auto r = o.tx.send(msg, clock::time_point::min()); r || r.error() != errc::timed_out)
            return r ? errc::ok : r.error();
        for (;;) {
            const auto r = o.tx.send(msg, std::min(deadline, o.next_check));
            if (r) return errc::ok;
            if (r.error() != errc::timed_out) return r.error();
            const auto now = clock::now();
            if (now >= o.next_check) {
                o.next_check = now + m.liveness();
                if (const errc e = receiver_state(m, o, true); e != errc::ok) return e;
            }
            if (now >= deadline) return errc::timed_out;
        }
    }

    /// One attempt: no system call while the link has room (a deadline already past makes the
    /// blocking sender return at once), and a look at the receiver once per liveness interval
    /// while it has none.
    errc send_now(membership& m, outgoing& o, std::span<const std::byte> msg) noexcept {
        const bool room = o.q.depth() + bytes_record::size_for(msg.size()) <= LinkQueue::capacity;
        errc e = errc::would_block;
        if (room) {
            const auto r = o.tx.send(msg, clock::time_point::min());
            e = r ? errc::ok : r.error() == errc::timed_out ? errc::would_block : r.error();
        }
        if (e == errc::would_block) {
            if (const errc s = receiver_state(m, o, false); s != errc::ok) return s;
            const auto now = clock::now();
            if (now >= o.next_check) {
                o.next_check = now + m.liveness();
                if (const errc s = receiver_state(m, o, true); s != errc::ok) return s;
            }
        }
        return e;
    }

    std::vector<std::unique_ptr<outgoing>> out_;
    std::vector<std::unique_ptr<retired_link>> retired_;
    std::vector<departed> departed_;
};

}  // namespace ipckit::detail
