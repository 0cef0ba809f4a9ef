#pragma once
// A member's incoming links: one single-consumer link from each peer that sent to it (or that
// it asked to receive from first), found in /dev/shm when a sender bumps the member's link
// counter, and the two ways to take a message from them: receive(from), from one peer only, and
// receive_any(), from whichever has one, rotating fairly over the peers.
//
// receive(from) makes no system call while a message waits: the link's receive. A sender that
// left gives its place in the registry back before it rings, so a receiver woken by that ring
// sees it gone at once (two loads); a sender that died still holds its place, and the OS is asked
// about it once per liveness interval while its link is empty: each link on its own clock,
// whether the receive blocks or not, so that neither the link looked at first nor live senders
// that keep the receiver from waiting can keep a dead sender from being reported. So
// receive_any, passing empty links on its way to a message, asks about each of them at most once
// per liveness interval (a clock read per call that passes one). A departed sender is
// reported once, closed or peer_dead, after the last of its messages; its link is then removed.
//
// A name can have links from two incarnations at once: a sender killed (or gone) with messages
// still on its link, and its successor under the same name that sent too. The predecessor's
// messages and its end come first, as from one sender in order: receive(from) takes the oldest
// incarnation's link (find), and receive_any passes over every other one (shadowed, kept up to
// date whenever a link is added or dropped, so a pass reads one flag per link) and does not wake
// for it, until the older link has been reported and dropped.
//
// Restricted thread-safe: one thread at a time, that of the node.

#include <ipckit/deadline.hpp>
#include <ipckit/detail/sys/exception_errc.hpp>
#include <ipckit/detail/node/link_name.hpp>
#include <ipckit/detail/node/membership.hpp>
#include <ipckit/detail/node/sweep.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

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

namespace ipckit::detail {

template <class LinkQueue, wait_policy Wait>
class incoming_links {
public:
    using clock = deadline_clock;
    using receiver_type = typename LinkQueue::template receiver_type<non_blocking>;

    /// How a receive takes the next message from a link: as a vector, or into a caller's buffer.
    static constexpr auto as_vector = [](receiver_type& rx) noexcept { return rx.receive(); };
    static auto into(std::span<std::byte> buffer) noexcept {
        return [buffer](receiver_type& rx) noexcept { return rx.receive(buffer); };
    }
    template <class Take>
    using taken = decltype(std::declval<Take&>()(std::declval<receiver_type&>()));

    /// The next message from `from` (blocking until `deadline`, or one attempt). What it returns
    /// is said at basic_node's receiver.
    template <class Take>
    taken<Take> receive(membership& m, std::string_view from, clock::time_point deadline, bool block, Take take) noexcept {
        try {
            // A link that cannot be opened now is another peer's, or is opened below (open).
            (void)refresh(m);
            incoming* in = find(from);
            if (in == nullptr) in = open(m, from);
            if (in == nullptr) {
                // `from` may have made its link, sent, and left between the first look and the
                // registry's answer: its link counter bump came before it left, so look again.
                (void)refresh(m);
                in = find(from);
            }
            if (in == nullptr) return unexpected(errc::not_found);
            for (;;) {
                auto msg = take(in->rx);
                if (msg || stays(msg.error())) return msg;
                if (msg.error() != errc::would_block) return ending(in, msg.error(), take);
                if (!block) {
                    std::optional<clock::time_point> now;
                    const errc e = sender_watch(m, *in, due(m, *in, now));
                    return e == errc::ok ? msg : ending(in, e, take);
                }
                const errc e = wait_until<Wait>(
                    m.slot().bell, m.slot().asleep, [in] { return in->q.depth() != 0; },
                    [&m, in](bool ask_os) { return sender_watch(m, *in, ask_os); }, deadline, m.liveness(),
                    in->next_check);
                if (e == errc::timed_out) return unexpected(e);
                if (e != errc::ok) return ending(in, e, take);
            }
        } catch (...) {
            return unexpected(current_exception_errc());
        }
    }

    /// The next message from any peer, as Envelope{sender's name, message}: blocking until
    /// `deadline`, or one attempt. What it returns is said at basic_node's receiver.
    template <class Envelope, class Take>
    Envelope receive_any(membership& m, clock::time_point deadline, bool block, Take take) noexcept {
        try {
            bool ask_os = false;  // after a wait's liveness tick: about every empty link's sender
            for (;;) {
                // A link that cannot be opened now does not hold up the others: their messages come
                // first, and the failure is returned instead of waiting (or would_block).
                const errc failed = refresh(m);
                std::optional<clock::time_point> now;  // read at the first empty link, if any
                const std::size_t n = in_.size();
                for (std::size_t k = 0; k < n; ++k) {
                    const std::size_t i = (rotor_ + k) % n;
                    incoming* in = in_[i].get();
                    if (in->shadowed) continue;  // a successor's link: its predecessor's comes first
                    auto msg = take(in->rx);
                    if (msg || stays(msg.error())) {
                        if (msg) rotor_ = (i + 1) % n;
                        return {in->peer, std::move(msg)};
                    }
                    errc why = msg.error();
                    // due() first: a look forced by a wait's tick also starts the link's interval anew.
                    if (why == errc::would_block && (!sender_current(m, *in) || due(m, *in, now) || ask_os))
                        why = sender_state(m, *in);
                    if (why == errc::would_block || why == errc::ok) continue;
                    std::string peer = in->peer;
                    return {std::move(peer), ending(in, why, take)};
                }
                if (failed != errc::ok) return {{}, unexpected(failed)};
                if (!block) return {{}, unexpected(errc::would_block)};
                member_slot& me = m.slot();
                const std::uint32_t seen = seen_links_.value_or(0);
                // The links' own clocks (due) ask about each sender on the next pass; this one
                // only ends a wait that long to make that pass.
                auto tick = clock::now() + m.liveness();
                const errc e = wait_until<Wait>(
                    me.bell, me.asleep,
                    [this, &m, &me, seen] {
                        if (me.links.load(std::memory_order_acquire) != seen) return true;
                        // A message, or a sender that gave its place back (leave() rings after it), on
                        // a link the pass would look at.
                        return std::any_of(in_.begin(), in_.end(), [&m](const auto& in) {
                            return !in->shadowed && (in->q.depth() != 0 || !sender_current(m, *in));
                        });
                    },
                    // Once per liveness interval, stop waiting and look at each sender.
                    [](bool os) { return os ? errc::peer_dead : errc::ok; }, deadline, m.liveness(), tick);
                if (e == errc::timed_out) return {{}, unexpected(e)};
                ask_os = e != errc::ok;
            }
        } catch (...) {
            return {{}, unexpected(current_exception_errc())};
        }
    }

    /// How much is waiting on the links from `from`, in bytes of ring (records included); 0
    /// with none. A snapshot; reads /dev/shm when a new link appeared, as a receive does.
    std::size_t depth(membership& m, std::string_view from) noexcept {
        (void)refresh(m);
        std::size_t n = 0;
        for (const auto& in : in_)
            if (in->peer == from) n += in->q.depth();
        return n;
    }

    /// The incoming half of leaving: closes every link, and removes those whose sender is gone,
    /// and those with nothing on them: closed, no more can come, and a link this member made by
    /// receiving from a sender that never sent on it would stay as long as that sender lives (a
    /// sender's undelivered() reads its own mapping, which a removal leaves).
    void leave(membership& m) noexcept {
        for (auto& in : in_) {
            in->rx.close();
            if (in->q.depth() == 0 || m.members().incarnation_state(in->peer_incarnation, true) != errc::ok)
                remove_link_quietly(in->link);
        }
        in_.clear();
    }

private:
    struct incoming {
        std::string peer;
        std::uint64_t peer_incarnation;
        std::optional<member_ref> who;  ///< the sender's place; nullopt: it was gone when found
        std::string link;
        LinkQueue q;
        receiver_type rx;
        clock::time_point next_check{};  ///< when to ask the OS about the sender next
        /// A link from `peer` of an older incarnation is open too: receive_any passes this one
        /// over until that one is dropped (shade).
        bool shadowed = false;
    };

    /// Whether to ask the OS about the sender of `in` now, its link being empty: once per
    /// liveness interval for each link. `now` is read at the first call that needs it.
    static bool due(const membership& m, incoming& in, std::optional<clock::time_point>& now) noexcept {
        if (!now) now = clock::now();
        if (*now < in.next_check) return false;
        in.next_check = *now + m.liveness();
        return true;
    }

    /// Whether a receive that failed with `e` left the message first on its link: the buffer
    /// was too small, or the vector could not be allocated. The link stays, for the next call.
    static constexpr bool stays(errc e) noexcept { return e == errc::too_large || e == errc::no_space; }

    /// Opens the links to this member that appeared since the last look: only when some sender
    /// bumped this member's link counter, so the directory is not read on every receive. Returns
    /// ok, or why a link could not be opened (the directory unreadable, no file descriptor left,
    /// ...): the counter then counts as unseen, and the next call looks again. A link that is
    /// gone (not_found), or that is no link of this node type (corrupt, incompatible_layout,
    /// receiver_busy), is skipped until the counter moves again.
    ///
    /// A link is opened without waiting for its creator (init_timeout 0): a sender bumps the
    /// counter only once its link is ready, so one not ready yet is being made by a sender whose
    /// own bump comes later and brings this look back. Waiting would gain nothing, and a sender
    /// killed while making its link would hold up every later look for init_timeout.
    errc refresh(membership& m) noexcept {
        try {
            // SYNC POINT READ: paired with outgoing_links::open()'s bump, after which the link exists.
            const std::uint32_t now = m.slot().links.load(std::memory_order_acquire);
            if (seen_links_ && *seen_links_ == now) return errc::ok;
            options ready_only = m.link_options();
            ready_only.init_timeout = std::chrono::milliseconds(0);
            errc failed = errc::ok;
            for (auto& l : list_links(m.domain())) {
                if (l.to != m.name() || l.to_incarnation != m.me().incarnation) continue;
                if (std::any_of(in_.begin(), in_.end(), [&](const auto& in) { return in->link == l.segment; }))
                    continue;
                if (std::find(dropped_.begin(), dropped_.end(), l.segment) != dropped_.end()) continue;
                try {
                    LinkQueue q = LinkQueue::open(l.segment, ready_only);
                    receiver_type rx = q.template receiver<non_blocking>();
                    in_.push_back(std::make_unique<incoming>(incoming{std::move(l.from), l.from_incarnation,
                                                                      m.members().find_incarnation(l.from_incarnation),
                                                                      std::move(l.segment), q, std::move(rx)}));
                    shade(in_.back()->peer);
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
        } catch (...) {
            return current_exception_errc();
        }
    }

    /// The link from `from` whose sender is the oldest incarnation: a predecessor's messages
    /// come before its successor's (incarnations only grow within a domain).
    incoming* find(std::string_view from) noexcept {
        incoming* oldest = nullptr;
        for (auto& in : in_)
            if (in->peer == from && (oldest == nullptr || in->peer_incarnation < oldest->peer_incarnation))
                oldest = in.get();
        return oldest;
    }

    /// Marks which links from `peer` receive_any passes over: all but the oldest incarnation's
    /// (find). Called whenever a link from `peer` is added or dropped.
    void shade(std::string_view peer) noexcept {
        const incoming* oldest = find(peer);
        for (auto& in : in_)
            if (in->peer == peer) in->shadowed = in.get() != oldest;
    }

    /// The link from the live member `from`, made now if it does not exist: receive(from) may
    /// come before from's first send. nullptr when there is no such member.
    incoming* open(membership& m, std::string_view from) {
        const auto who = m.members().find(from);
        if (!who) return nullptr;
        std::string link = make_link_name(m.domain(), from, who->incarnation, m.name(), m.me().incarnation);
        LinkQueue q = LinkQueue::open_or_create(link, m.link_options());
        receiver_type rx = q.template receiver<non_blocking>();
        in_.push_back(
            std::make_unique<incoming>(incoming{std::string(from), who->incarnation, who, std::move(link), q, std::move(rx)}));
        shade(from);
        return in_.back().get();
    }

    /// Whether the sender of `in` still holds its place in the registry: two loads. A sender
    /// that leaves gives its place back before it rings, so a receiver woken by that ring sees
    /// it gone at once (a dead sender still holds its place: sender_state() asks the OS).
    static bool sender_current(const membership& m, const incoming& in) noexcept {
        return in.who && m.members().current(*in.who);
    }

    /// For wait_until: ok while the sender holds its place (ask_os: and runs); once it has given
    /// it back, closed or peer_dead (its link's roster tells which).
    static errc sender_watch(const membership& m, incoming& in, bool ask_os) noexcept {
        if (!sender_current(m, in)) {
            const errc e = in.rx.peer();
            return e == errc::peer_dead ? e : errc::closed;
        }
        return ask_os ? sender_state(m, in) : errc::ok;
    }

    /// How the sender of `in` stands: the link's sender roster first (closed / peer_dead once
    /// it attached), then its membership (a sender that never attached). ask_os only.
    static errc sender_state(const membership& m, incoming& in) noexcept {
        const errc e = in.rx.peer();
        if (e != errc::ok) return e;
        return m.members().incarnation_state(in.peer_incarnation, true);
    }

    /// Forgets `in` (its sender is gone and it is drained) and removes its segment.
    void drop(incoming* in) noexcept {
        for (std::size_t i = 0; i < in_.size(); ++i) {
            if (in_[i].get() != in) continue;
            in->rx.close();
            remove_link_quietly(in->link);
            try {
                dropped_.push_back(in->link);
                if (dropped_.size() > 256) dropped_.erase(dropped_.begin());
            } catch (...) {
            }
            std::string peer = std::move(in->peer);
            in_.erase(in_.begin() + static_cast<std::ptrdiff_t>(i));
            if (rotor_ > i) --rotor_;
            shade(peer);  // a successor's link, if any, is next
            return;
        }
    }

    /// The end of `in`: one more look for a message that raced the news, then `why`.
    template <class Take>
    taken<Take> ending(incoming* in, errc why, Take& take) noexcept {
        auto msg = take(in->rx);
        if (msg || stays(msg.error())) return msg;
        if (msg.error() != errc::would_block && msg.error() != errc::closed) why = msg.error();
        drop(in);
        return unexpected(why);
    }

    std::vector<std::unique_ptr<incoming>> in_;
    std::vector<std::string> dropped_;
    std::optional<std::uint32_t> seen_links_;
    std::size_t rotor_ = 0;
};

}  // namespace ipckit::detail
