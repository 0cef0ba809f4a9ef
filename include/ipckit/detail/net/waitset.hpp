#pragma once
// ipckit::waitset: one thread waiting on many connections, listeners, and queue and mailbox
// receivers (see <ipckit/net.hpp>).

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/endpoint/watched.hpp>
#include <ipckit/detail/net/acceptor.hpp>
#include <ipckit/detail/net/bell_bridge.hpp>
#include <ipckit/detail/net/connection.hpp>
#include <ipckit/detail/net/link.hpp>
#include <ipckit/detail/net/listener.hpp>
#include <ipckit/detail/net/made_here.hpp>
#include <ipckit/detail/net/watch.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/detail/sys/futex.hpp>
#include <ipckit/detail/sys/poll.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace ipckit {

/// One thread serving many clients: waits on any connections, listeners, and queue and mailbox
/// receivers at once, with a deadline, and says which are ready, so that the thread then
/// receives from (or accepts on) exactly those; a reply goes to whichever connection it chooses.
///
///   ipckit::waitset ws;
///   const auto srv_id = ws.add(srv);
///   for (;;) {
///       auto ready = ws.wait(1s);                        // timed_out if none by then
///       if (!ready) continue;
///       for (const auto id : *ready) {
///           if (id == srv_id) { auto c = srv.accept(0ms); ... ws.add(*c); ... }
///           else { auto m = conn(id).receive(0ms); ... }  // a message, or the connection's end
///       }
///   }
///
/// Ready means the verb would not wait: a connection holds a message or has ended (closed,
/// peer_dead, corrupt: remove it then, or it stays ready), a listener holds a connection or
/// was closed. Waiting first writes out what the watched connections buffered (link.hpp), as
/// a blocking receive does. An endpoint keeps what the waitset needs alive, so one destroyed
/// while added reads as ended until removed. Restricted thread-safe: one thread at a time, and
/// a connection added is received from on that thread too (a wait reads its socket).
///
/// Queue and mailbox receivers (every kind and delivery policy, either mode): ready when a
/// message may be in, or their receive would end at once (closed; peer_dead: the waitset asks
/// the OS about their senders once per liveness interval, as a waiting receive does, and a
/// dead one's death is then the next receive's to report). Only "maybe ready": a receiver that
/// others take from too (multi consumers, a mailbox's any or round_robin) may find nothing, and
/// so may one that was received from between the wait and its report: would_block or
/// timed_out then, and it is reported again only once there is more. Such a receiver must stay
/// where it is, neither moved nor destroyed, until removed (the waitset holds it by its address;
/// closed, it reads as ready). Its senders ring its doorbell as they would for the receiver
/// itself: a thread of the waitset's, started with its first such receiver, sleeps there
/// (futex_waitv(2): Linux 5.16 or later) while the waitset waits. A fork copies no thread: a
/// forked child makes a waitset of its own, and its copy of its parent's, which it must not use,
/// is only forgotten when destroyed (the parent's goes on watching).
///
/// shm:// connections and listeners are pairs of queues and a queue of connect requests
/// (shm_duplex.hpp, shm_rendezvous.hpp), so the waitset watches them as it watches those
/// receivers, bridge thread and "maybe ready" included: a connection is ready when a message
/// may be in, or its peer closed (after what it sent) or died, or, not yet accepted, its
/// listener died (looked at when the waitset asks the OS: the receive then says peer_dead); a
/// listener when a connect request may be in (accept may still reject it: would_block then), or
/// it was closed. Unlike a bare receiver, they may move: the waitset holds their queues until
/// removed (a closed listener's name is free at once all the same). As a connection is
/// received from, a shm:// listener is accepted from on the waitset's thread (a wait reads its
/// request queue as accept does).
///
/// In a user's own event loop: native_handle() is an fd (an epoll set over the connections'
/// sockets and an eventfd that the listeners and the I/O thread raise) that turns readable
/// when an endpoint may be ready; then wait(0ms) says which. Once native_handle() or
/// async_wait() was used, a wait() that reports endpoints leaves the fd readable, so that the
/// loop comes back until a wait finds none (a connection may hold more messages than one
/// receive takes, with its socket read dry). With Asio, async_wait(executor, handler) does
/// this and calls handler(error_code, ids) on that executor with the ready ids, never with none.
class waitset {
public:
    using id = std::size_t;

    waitset() { epoll_.add(core_->fd()); }
    waitset(const waitset&) = delete;
    waitset& operator=(const waitset&) = delete;
    /// In a forked child, a copy of its parent's waitset is only forgotten: the parent's goes on
    /// watching (detail/net/made_here.hpp). Its bell bridge is not in the child, its epoll set
    /// and the Asio descriptor's registration are shared with the parent, and so are the bells
    /// it is counted on.
    ~waitset() {
        if (!made_.here()) {
            detail::forget(descriptor_);
            detail::forget(entries_);
            detail::forget(bridge_);
            detail::forget(core_);
            return;
        }
        if (descriptor_) {
            boost::system::error_code ignored;
            descriptor_->cancel(ignored);
            descriptor_->release();  // the fd is epoll_'s
        }
        while (!entries_.empty()) remove(entries_.back().key);
        bridge_.reset();
    }

    /// Watches a connection; returns the id wait() reports it by. A shm:// one is watched as
    /// the queue receiver it receives from (see above: "maybe ready", a bridge thread), which
    /// the waitset keeps alive while added, so the connection itself may move.
    template <class Message, mode_policy Mode>
    id add(const connection<Message, Mode>& c) {
        if (!c.link_) throw error(errc::invalid_argument, "waitset::add: the connection was moved from");
        if (c.shm_) return add_receiver(c.shm_->watch(), c.address(), c.link_);
        entry e{next_++, std::dynamic_pointer_cast<detail::link>(c.link_), nullptr, std::nullopt, nullptr};
        if (!e.link)
            throw error(errc::invalid_argument, "waitset::add: " + c.address() +
                                                    " is neither a socket nor a shm:// connection; a waitset cannot "
                                                    "watch it");
        entries_.reserve(entries_.size() + 1);
        if (users_of(e) == 0) {  // the same connection added again shares its watch
            epoll_.add(e.link->native_handle());
            e.link->watch(core_);
        }
        entries_.push_back(std::move(e));
        core_->signal();  // it may be ready already
        return entries_.back().key;
    }
    /// Watches a listener's pending accepts; returns the id wait() reports it by. A shm:// one
    /// is watched as the queue receiver of its connect requests, as a shm:// connection is
    /// (a request in: maybe ready, for accept may reject it; closed: ready), and the waitset
    /// keeps that queue until the listener is removed; its name goes when the listener closes.
    template <class Message, mode_policy Mode>
    id add(const listener<Message, Mode>& l) {
        if (l.shm_) return add_receiver(detail::receiver_watch(l.shm_->receiving_end()), l.address(), l.shm_);
        entry e{next_++, nullptr, l.state_, std::nullopt, nullptr};
        if (!e.acceptor) throw error(errc::invalid_argument, "waitset::add: the listener was closed or moved from");
        entries_.reserve(entries_.size() + 1);
        if (users_of(e) == 0) e.acceptor->watch(core_);
        entries_.push_back(std::move(e));
        core_->signal();
        return entries_.back().key;
    }
    /// Watches a queue or mailbox receiver (see above); returns the id wait() reports it by.
    template <class Receiver>
        requires detail::watchable_receiver<Receiver>
    id add(Receiver& r) {
        return add_receiver(detail::receiver_watch(r), "'" + detail::watch_access::name(r) + "'", nullptr);
    }
    /// Stops watching `key` (nothing if it is not added).
    void remove(id key) noexcept {
        const auto it = std::find_if(entries_.begin(), entries_.end(), [&](const entry& e) { return e.key == key; });
        if (it == entries_.end()) return;
        const bool had_bell = it->receiver.has_value();
        if (had_bell) disarm();  // while its bell is still mapped
        if (users_of(*it) == 1) unwatch(*it);
        entries_.erase(it);
        // The disarm stopped watching the other bells too: a user's loop asleep on the fd would
        // never hear of them again. Wake it, so its next wait arms what is left.
        if (had_bell) core_->signal();
    }
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

    /// The ids of the endpoints ready now, waiting until there is at least one (no deadline),
    /// or by `deadline` (a duration or a steady_clock time point): else timed_out.
    result<std::vector<id>> wait() noexcept { return wait_until(detail::clock::time_point::max()); }
    template <ipckit::deadline D>
    result<std::vector<id>> wait(D deadline) noexcept {
        return wait_until(ipckit::detail::time_point_of(deadline));
    }

    /// An fd for a user's poll/epoll/select: readable when an endpoint may be ready (see above).
    /// It belongs to the waitset: do not close it.
    [[nodiscard]] int native_handle() noexcept {
        exported_ = true;
        return epoll_.fd();
    }

    /// With Asio: once an endpoint is ready, calls `handler(std::error_code, std::vector<id>)`
    /// through `executor` (a user's io_context's) with the ready ids; with an error (and no ids)
    /// if the wait failed or was cancelled. One wait at a time; the waitset must outlive it or be
    /// destroyed (which cancels it: operation_aborted) before its io_context is. The first call's
    /// executor is the one every later call uses.
    template <class Executor, class Handler>
    void async_wait(const Executor& executor, Handler&& handler) {
        exported_ = true;
        if (!descriptor_) descriptor_.emplace(executor, epoll_.fd());
        // Ready already? Then at once: an fd that turned readable before the wait began may give
        // Asio's edge-triggered reactor no edge to see.
        auto ready = wait_until(detail::clock::now());
        if (ready || ready.error() != errc::timed_out) {
            boost::asio::post(executor, [h = std::forward<Handler>(handler), r = std::move(ready)]() mutable {
                if (!r) return h(make_error_code(r.error()), std::vector<id>{});
                h(std::error_code(), std::move(*r));
            });
            return;
        }
        descriptor_->async_wait(boost::asio::posix::descriptor_base::wait_read,
                                [this, executor, h = std::forward<Handler>(handler)](const boost::system::error_code& ec) mutable {
                                    if (ec) return h(std::error_code(ec), std::vector<id>{});  // `this` may be gone
                                    async_wait(executor, std::move(h));
                                });
    }

private:
    struct entry {
        id key;
        std::shared_ptr<detail::link> link;
        std::shared_ptr<detail::acceptor_state> acceptor;
        std::optional<detail::receiver_watch> receiver;
        /// What keeps `receiver` where it is: a shm:// connection's or listener's (shared with
        /// the endpoint, so one destroyed while added reads as closed until removed).
        std::shared_ptr<const void> owner;
    };

    /// Watches `w`, a receiver named `name` in errors; `owner` keeps it alive while added (a
    /// shm:// connection's queues, a shm:// listener's request queue; none for a user's own).
    id add_receiver(detail::receiver_watch w, const std::string& name, std::shared_ptr<const void> owner) {
        if (!bridge_ && !detail::sys::has_futex_wait_any())
            throw error(errc::invalid_argument, "waitset::add: " + name +
                                                    ": watching a queue, mailbox or shm:// endpoint needs "
                                                    "futex_waitv(2), Linux 5.16 or later");
        entry e{next_++, nullptr, nullptr, std::move(w), std::move(owner)};
        std::size_t bells = 0;
        for_each_bell([&](detail::doorbell& b) { bells += &b == e.receiver->bell ? 0U : 1U; });
        if (e.receiver->bell != nullptr && bells + 1 >= detail::sys::futex_waitv_max)
            throw error(errc::invalid_argument,
                        "waitset::add: " + name + ": a waitset watches at most " +
                            std::to_string(detail::sys::futex_waitv_max - 1) +
                            " queues, mailboxes and shm:// endpoints (futex_waitv's limit); use another waitset");
        entries_.reserve(entries_.size() + 1);
        if (!bridge_) bridge_ = std::make_unique<detail::bell_bridge>(core_);
        disarm();  // the next wait arms the new set
        if (next_os_check_ == detail::clock::time_point::max())
            next_os_check_ = detail::clock::now() + e.receiver->liveness;
        entries_.push_back(std::move(e));
        core_->signal();  // it may be ready already
        return entries_.back().key;
    }

    /// How many entries watch the same endpoint as `e` (it included, once added).
    [[nodiscard]] std::size_t users_of(const entry& e) const noexcept {
        return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(), [&](const entry& o) {
            if (e.receiver) return o.receiver && o.receiver->receiver == e.receiver->receiver;
            return e.link ? o.link == e.link : o.acceptor == e.acceptor;
        }));
    }

    // ---- queue and mailbox receivers: their bells (sync/doorbell.hpp, Watchers) -------------

    /// Calls f(bell) for the bell of each receiver watched, each bell once. No allocation.
    template <class F>
    void for_each_bell(F&& f) const noexcept {
        for (std::size_t i = 0; i < entries_.size(); ++i) {
            const auto& r = entries_[i].receiver;
            if (!r || r->bell == nullptr) continue;
            const bool first = std::none_of(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(i),
                                            [&](const entry& o) { return o.receiver && o.receiver->bell == r->bell; });
            if (first) f(*r->bell);
        }
    }
    /// Counted among the sleepers of every bell and armed (enlisted_), or armed again, then the
    /// heavy fence: each seq loaded after this is one that a ring from now on moves. The words
    /// and seqs for the bridge.
    std::vector<detail::sys::futex_watch> arm() {
        std::vector<detail::sys::futex_watch> out;
        for_each_bell([&](detail::doorbell& b) { enlisted_ ? b.rearm() : b.enlist(); });
        enlisted_ = true;
        detail::sys::heavy_fence();
        // SYNC POINT READ: each seq, paired with doorbell::ring(); before the receivers are asked.
        for_each_bell([&](detail::doorbell& b) { out.push_back({&b.seq, b.seq.load(std::memory_order_acquire)}); });
        return out;
    }
    /// Whether a notifier spent an arming (armed = 0, then its ring) that the seqs loaded may
    /// already include: then arm again rather than sleep (as wait_until does).
    [[nodiscard]] bool arming_spent() const noexcept {
        bool spent = false;
        // SYNC POINT READ: armed, paired with notify()'s exchange; seq's acquire load ordered it.
        for_each_bell([&](detail::doorbell& b) { spent = spent || b.armed.load(std::memory_order_acquire) == 0; });
        return spent;
    }
    /// Counted no more on any bell; the bridge sleeps on nothing.
    void disarm() noexcept {
        if (!enlisted_) return;
        for_each_bell([](detail::doorbell& b) { b.leave(); });
        enlisted_ = false;
        try {
            bridge_->disarm();
        } catch (...) {  // not reached: disarm() allocates nothing
        }
    }
    /// Whether the next liveness check of the receivers' senders is due (then the next is set).
    bool os_check_due() noexcept {
        const auto now = detail::clock::now();
        if (now < next_os_check_) return false;
        auto every = std::chrono::nanoseconds::max();
        for (const auto& e : entries_)
            if (e.receiver) every = std::min(every, e.receiver->liveness);
        next_os_check_ = every == std::chrono::nanoseconds::max() ? detail::clock::time_point::max() : now + every;
        return true;
    }
    void unwatch(entry& e) noexcept {
        if (e.link) {
            epoll_.remove(e.link->native_handle());
            e.link->unwatch(core_.get());
        }
        if (e.acceptor) e.acceptor->unwatch(core_.get());
    }

    result<std::vector<id>> wait_until(detail::clock::time_point deadline) noexcept {
        try {
            std::vector<id> ready;
            for (bool woke_late = false;;) {
                // Drain first: a signal after it, or a socket turning readable after its
                // endpoint is asked, wakes the sleep below, so no endpoint is missed. The bells
                // are armed before their receivers are asked, for the same reason.
                core_->drain();
                const bool receivers =
                    std::any_of(entries_.begin(), entries_.end(), [](const entry& e) { return e.receiver.has_value(); });
                const auto watches = receivers ? arm() : std::vector<detail::sys::futex_watch>{};
                const bool ask_os = receivers && os_check_due();
                for (auto& e : entries_)
                    if (e.receiver ? e.receiver->ready(ask_os) : e.link ? e.link->ready() : e.acceptor->ready())
                        ready.push_back(e.key);
                if (!ready.empty()) {
                    disarm();
                    if (exported_) core_->signal();  // come back: more may be ready (see above)
                    return ready;
                }
                if (receivers) {
                    if (arming_spent()) continue;
                    bridge_->arm(watches, next_os_check_);  // raises the eventfd on a ring, or when a check is due
                }
                // Woken past the deadline, and the endpoints asked once more: nothing ready is
                // timed_out. A connection whose peer floods heartbeats stays readable without
                // ever being ready (link::ready reads a pass at a time), and would otherwise
                // keep this loop going for as long as the peer sends.
                if (woke_late || !epoll_.wait(deadline)) {
                    if (!exported_) disarm();  // nobody waits now; a user's own loop still does
                    return unexpected(errc::timed_out);
                }
                woke_late = detail::clock::now() >= deadline;
            }
        } catch (...) {
            disarm();
            return unexpected(errc::no_space);
        }
    }

    std::shared_ptr<detail::watch_core> core_ = std::make_shared<detail::watch_core>();
    detail::sys::epoll_set epoll_;
    std::vector<entry> entries_;
    std::unique_ptr<detail::bell_bridge> bridge_;  ///< with the first queue or mailbox receiver
    bool enlisted_ = false;  ///< counted among the sleepers of the receivers' bells, while a wait arms them
    /// When the receivers' senders are next asked after (os_check_due).
    detail::clock::time_point next_os_check_ = detail::clock::time_point::max();
    std::optional<boost::asio::posix::stream_descriptor> descriptor_;
    id next_ = 0;
    bool exported_ = false;
    detail::made_here made_;  // where the destructor may act
};

}  // namespace ipckit
