#pragma once
// The shm:// transport: a connection as a pair of ipckit queues in shared memory, with the same
// listener, accept and connect as the sockets.
//
//   listener "shm://app"   creates its door "app.door" (the cap: shm_door.hpp) and queue "app" of
//                          connect requests (many senders, one receiver);
//                          its layout names the message type, so a client of another type is
//                          incompatible_layout at connect, naming both
//   connect                takes a place at the door (no_space past the cap, saying so), creates
//                          "app.<id>.up" (client -> server) and "app.<id>.down" (the id: its pid
//                          and random bits), attaches its ends, and sends the request {id,
//                          its place, its process id}
//                          (timed_out if the listener's 64 places stay full until the
//                          connect's deadline: those of its ring, or its queue's 64 senders'
//                          places, which clients waiting for room in the ring hold; not_found
//                          if the listener closed as it asked and took nothing:
//                          shm_rendezvous.hpp)
//   accept                 takes a request whose door place still holds its client (else a
//                          rejection: peer_dead), opens both queues and removes their names;
//                          queues that are not there are a rejection (not_found), queues not
//                          ready within the handshake deadline one (timed_out), and accept goes
//                          on to the next
//
// The queues give the rest: backpressure (a bounded ring each way), closed after the peer's
// messages when it closes, peer_dead when its process dies (options::liveness_interval of the
// queues). A connection that is not yet accepted buffers up to its ring, as a socket's backlog,
// and its queues outlive the client (system_owned; accept removes their names once it has them,
// shm_names.hpp): a client that sends, closes and exits before accept is drained, then closed;
// one killed before accept, drained, then peer_dead. The connection cap, the handshake deadline
// and rejections are the listener's, as for sockets (shm_rendezvous.hpp, shm_door.hpp).
//
// A client not yet accepted has no peer on its receiving queue, so the queues alone would never
// tell it that the listener was killed: while the listener has not taken its queues, the client
// looks (shm_unclaimed::look, system calls) about once per queue liveness interval. A blocking
// verb waits in slices of that interval and looks between them; a non-blocking one looks on the
// same cadence when it would block; a waitset looks when it asks the OS (watched_ready). Once
// the listener is found gone, the queues' names are removed and the next verb (the first a
// waitset reports) says peer_dead; the endpoints are closed then, so later verbs say closed.
// Once the listener has taken the queues, nothing is looked at any more: the verbs are the
// bare queues'.
//
// connection<Message, Mode> calls the typed verbs below directly (no virtual call per message);
// the duplex interface serves callers that know no Message. A waitset watches the connection
// as the queue receiver it receives from (watch(): net/waitset.hpp), so nothing is
// added to either verb for it.

#include <ipckit/detail/net/duplex.hpp>
#include <ipckit/detail/net/shm_names.hpp>
#include <ipckit/detail/net/watch.hpp>
#include <ipckit/detail/endpoint/verbs.hpp>
#include <ipckit/detail/endpoint/watched.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/queue.hpp>
#include <ipckit/records.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace ipckit::detail {

/// The queue that carries Message one way: system_owned, so that it outlives a client that
/// ends before accept (who removes its name: shm_names.hpp).
template <class Message>
struct shm_queue_for {
    using type = queue<Message, bounded<1024>, single, single, adaptive, system_owned>;
};
template <std::size_t Max>
struct shm_queue_for<bytes<Max>> {
    static constexpr std::size_t ring = std::max<std::size_t>(256 * 1024, 4 * ((Max + 7) / 8 * 8 + 8));
    using type = queue<bytes<Max>, bounded<ring>, single, single, adaptive, system_owned>;
};

/// A connect request: the client's queue pair, and its place at the listener's door (shm_door.hpp).
/// Its type names Message, so the request queue's layout does too.
template <class Message>
struct shm_request {
    std::uint64_t id;
    std::uint64_t place;   ///< the door's place the client took
    std::uint64_t client;  ///< what that place holds: the client's packed process id
};
template <class Message>
using shm_request_queue = queue<shm_request<Message>, bounded<64>, multi, single>;

template <class Message, mode_policy Mode>
class shm_duplex final : public duplex {
    using queue_type = typename shm_queue_for<Message>::type;
    static constexpr bool fixed = !is_bytes<Message>;
    static constexpr bool blocks = std::is_same_v<Mode, blocking>;

public:
    /// `unclaimed`: a client's, which removes its queues' names if it ends before any accept.
    shm_duplex(ipckit::sender<queue_type, Mode> tx, ipckit::receiver<queue_type, Mode> rx, shm_unclaimed unclaimed = {})
        : unclaimed_(std::move(unclaimed)), tx_(std::move(tx)), rx_(std::move(rx)),
          asking_(unclaimed_.watching()), every_(watch_access::liveness(rx_)),
          next_look_((clock::now() + every_).time_since_epoch().count()) {}
    shm_duplex(const shm_duplex&) = delete;
    shm_duplex& operator=(const shm_duplex&) = delete;
    ~shm_duplex() override = default;  // the endpoints first, then unclaimed_ looks (members go in reverse)

    // ---- the typed verbs: what connection<Message, Mode> calls, straight into the queues -----
    // No virtual call, no staging, no copy but the queue's own: the fast path is the bare
    // queue's. `deadline` is forever (time_point::max(), which the queue's deadline verbs take
    // as none) or a blocking endpoint's deadline; a non-blocking one makes one attempt. One
    // call each, not a choice between two: both would be inlined, and the bigger body made
    // g++ -O3 stop inlining the ring's push (27% more instructions per message than the bare
    // queue; 9% once inlined, in a one-process callgrind count). A client not yet accepted
    // goes through while_asking instead (see top), which is kept out of line for that reason:
    // what is inlined is a flag's test and the one call.

    status send(const Message& m, time_point deadline) noexcept requires fixed {
        if (asking_.load(std::memory_order_relaxed)) [[unlikely]]
            return while_asking(side::sending, [&](time_point d) noexcept { return send_now(m, d); }, deadline);
        return send_now(m, deadline);
    }
    /// too_large past max_message(), nothing sent (the queue checks it).
    status send(std::span<const std::byte> m, time_point deadline) noexcept requires(!fixed) {
        if (asking_.load(std::memory_order_relaxed)) [[unlikely]]
            return while_asking(side::sending, [&](time_point d) noexcept { return send_now(m, d); }, deadline);
        return send_now(m, deadline);
    }
    status receive(Message& out, time_point deadline) noexcept requires fixed {
        if (asking_.load(std::memory_order_relaxed)) [[unlikely]]
            return while_asking(side::receiving, [&](time_point d) noexcept { return receive_now(out, d); }, deadline);
        return receive_now(out, deadline);
    }
    /// too_large if `buffer` is too small: the message stays first in line (the queue's rule).
    result<std::size_t> receive(std::span<std::byte> buffer, time_point deadline) noexcept requires(!fixed) {
        if (asking_.load(std::memory_order_relaxed)) [[unlikely]]
            return while_asking(side::receiving, [&](time_point d) noexcept { return receive_now(buffer, d); }, deadline);
        return receive_now(buffer, deadline);
    }
    result<std::vector<std::byte>> receive(time_point deadline) noexcept requires(!fixed) {
        if (asking_.load(std::memory_order_relaxed)) [[unlikely]]
            return while_asking(side::receiving, [&](time_point d) noexcept { return receive_now(d); }, deadline);
        return receive_now(deadline);
    }

    // Batches: the queues' own batch verbs (one publication, one wake per batch): a span of T;
    // for bytes<Max> a span of spans or records (the byte queue checks every length first).
    template <class Batch>
    result<std::size_t> send_many(const Batch& ms, time_point deadline) noexcept {
        if (asking_.load(std::memory_order_relaxed)) [[unlikely]]
            return while_asking(side::sending, [&](time_point d) noexcept { return send_many_now(ms, d); }, deadline);
        return send_many_now(ms, deadline);
    }
    /// Into `out` (a span of T, or records, cleared first): the next message, waiting until
    /// `deadline`, then those here now that fit; records too small for the first: too_large (it
    /// stays first).
    template <class Out>
    result<std::size_t> receive_many(Out& out, time_point deadline) noexcept {
        if (asking_.load(std::memory_order_relaxed)) [[unlikely]]
            return while_asking(side::receiving, [&](time_point d) noexcept { return receive_many_now(out, d); }, deadline);
        return receive_many_now(out, deadline);
    }

    // ---- duplex: for a caller that knows no Message --------------------------------------------

    errc send(const void* p, std::size_t n, time_point deadline, bool) noexcept override {
        if (n > max_message()) return errc::too_large;
        status s;
        if constexpr (fixed) {
            Message m;
            std::memcpy(&m, p, sizeof m);
            s = send(m, deadline);
        } else {
            s = send(std::span<const std::byte>(static_cast<const std::byte*>(p), n), deadline);
        }
        return s ? errc::ok : s.error();
    }

    /// One message at a time, through the one above.
    errc send(batch_fn ms, std::size_t& sent, time_point deadline, bool may_block) noexcept override {
        for (; sent < ms.size(); ++sent) {
            const auto m = ms(sent);
            if (const errc e = send(m.data(), m.size(), deadline, may_block); e != errc::ok) return e;
        }
        return errc::ok;
    }

    /// One message (at least one is all a receive promises).
    errc receive(take_fn take, std::size_t, time_point deadline, bool) noexcept override {
        if (!staged_) {
            // The message waits here until `take` accepts it (too_large leaves it first in line).
            if constexpr (fixed) {
                if (const status s = receive(one_, deadline); !s) return s.error();
            } else {
                auto r = receive(deadline);
                if (!r) return r.error();
                many_ = std::move(*r);
            }
            staged_ = true;
        }
        errc e = errc::ok;
        if constexpr (fixed)
            e = take(reinterpret_cast<const std::byte*>(&one_), sizeof one_);
        else
            e = take(many_.data(), many_.size());
        if (e == errc::ok) staged_ = false;
        return e;
    }

    /// A send is in the queue when it returns: nothing is ever buffered.
    errc flush(time_point, bool) noexcept override { return errc::ok; }
    void close(time_point) noexcept override {
        tx_.close();
        rx_.close();
    }
    [[nodiscard]] std::string fault() const override { return {}; }
    [[nodiscard]] std::size_t max_message() const noexcept override {
        if constexpr (fixed)
            return sizeof(Message);
        else
            return queue_type::max_message;
    }

    /// What a waitset watches: the queue receiver the typed receives take from (its senders'
    /// doorbell, closed and peer_dead as the queue's), asked through watched_ready, so that an
    /// unaccepted client whose listener has gone is ready too. Only the waitset's thread, which
    /// is the receiving thread too, calls it; the duplex must stay where it is while watched.
    [[nodiscard]] receiver_watch watch() noexcept {
        return receiver_watch(rx_, this, [](void* self, bool ask_os) noexcept {
            return static_cast<shm_duplex*>(self)->watched_ready(ask_os);
        });
    }

private:
    enum side : std::size_t { sending, receiving };

    /// Whether a receive would not wait (watch_access::ready), or, while unaccepted, the
    /// listener has gone: looked at when the waitset asks the OS (about once per liveness
    /// interval), and then the receive's to report.
    bool watched_ready(bool ask_os) noexcept {
        if (watch_access::ready(rx_, ask_os)) return true;
        if (ask_os && asking_.load(std::memory_order_relaxed)) look(true);
        return lost_.load(std::memory_order_relaxed) && !told_[side::receiving];
    }

    // The bare queues' verbs: `deadline` is forever (time_point::max(), which the queue's
    // deadline verbs take as none) or a blocking endpoint's deadline; a non-blocking one makes
    // one attempt.
    status send_now(const Message& m, time_point deadline) noexcept requires fixed {
        if constexpr (blocks)
            return tx_.send(m, deadline);
        else
            return tx_.send(m);
    }
    status send_now(std::span<const std::byte> m, time_point deadline) noexcept requires(!fixed) {
        if constexpr (blocks)
            return tx_.send(m, deadline);
        else
            return tx_.send(m);
    }
    status receive_now(Message& out, time_point deadline) noexcept requires fixed {
        if constexpr (blocks)
            return rx_.receive(out, deadline);
        else
            return rx_.receive(out);
    }
    result<std::size_t> receive_now(std::span<std::byte> buffer, time_point deadline) noexcept requires(!fixed) {
        if constexpr (blocks)
            return rx_.receive(buffer, deadline);
        else
            return rx_.receive(buffer);
    }
    result<std::vector<std::byte>> receive_now(time_point deadline) noexcept requires(!fixed) {
        if constexpr (blocks)
            return rx_.receive(deadline);
        else
            return rx_.receive();
    }
    template <class Batch>
    result<std::size_t> send_many_now(const Batch& ms, time_point deadline) noexcept {
        if constexpr (blocks)
            return tx_.send(ms, deadline);
        else
            return tx_.send(ms);
    }
    template <class Out>
    result<std::size_t> receive_many_now(Out& out, time_point deadline) noexcept {
        if constexpr (blocks)
            return rx_.receive(out, deadline);
        else
            return rx_.receive(out);
    }

    /// A verb of a client not yet accepted (see top), on `by`'s side: `verb(deadline)`, a
    /// blocking one in slices that end where the next look is due, looking once one is due
    /// (after a verb that went through too, so that an accepted client that never waits stops
    /// looking); peer_dead, once, when the listener is found gone. Out of line: the verbs' fast
    /// path stays the bare queue's.
    template <class Verb>
    [[gnu::noinline]] auto while_asking(side by, Verb&& verb, time_point deadline) noexcept -> decltype(verb(deadline)) {
        for (;;) {
            if (lost_.load(std::memory_order_relaxed)) {
                if (std::exchange(told_[by], true)) return verb(deadline);  // its endpoint is closed: closed
                return unexpected(give_up(by));
            }
            if (!asking_.load(std::memory_order_relaxed)) return verb(deadline);  // taken: the bare queue's
            const time_point due{clock::duration(next_look_.load(std::memory_order_relaxed))};
            const bool slice = blocks && deadline > due;
            auto r = verb(slice ? due : deadline);
            look(false);
            if (r || (r.error() != errc::timed_out && r.error() != errc::would_block)) return r;
            if (!slice && !lost_.load(std::memory_order_relaxed)) return r;
        }
    }
    /// Asks whether the listener took the queues or has gone (shm_unclaimed::look), if a look
    /// is due (or `now`); either side's thread, or the waitset's.
    void look(bool now) noexcept {
        const auto t = clock::now().time_since_epoch().count();
        if (!now && t < next_look_.load(std::memory_order_relaxed)) return;
        const std::lock_guard lock(look_m_);
        if (lost_.load(std::memory_order_relaxed)) return;  // for good: the names may be gone already
        next_look_.store(t + std::chrono::duration_cast<clock::duration>(every_).count(), std::memory_order_relaxed);
        switch (unclaimed_.look()) {
        case shm_unclaimed::claim::pending: return;
        case shm_unclaimed::claim::taken: asking_.store(false, std::memory_order_relaxed); return;
        case shm_unclaimed::claim::lost: lost_.store(true, std::memory_order_relaxed); return;
        }
    }
    /// The listener went without taking the queues: their names go, `by`'s endpoint closes
    /// (its later verbs say closed), and this verb says peer_dead.
    errc give_up(side by) noexcept {
        {
            const std::lock_guard lock(look_m_);
            unclaimed_.forget();
        }
        if (by == side::sending)
            tx_.close();
        else
            rx_.close();
        return errc::peer_dead;
    }

    shm_unclaimed unclaimed_;  // first, so that it goes last: after both endpoints have let go
    ipckit::sender<queue_type, Mode> tx_;
    ipckit::receiver<queue_type, Mode> rx_;
    // A client's, until the listener takes its queues (or is found gone): see top. Its sending
    // and its receiving thread may differ (a connection's two sides may be used at once), so
    // what both read is atomic (relaxed: each is a flag on its own, and a look that sets one
    // publishes nothing else), and a look (unclaimed_, next_look_'s update) is under look_m_.
    std::atomic<bool> asking_{false};  // the listener has not taken the queues yet: the verbs look
    std::atomic<bool> lost_{false};    // the listener went without taking them: each side says peer_dead
    bool told_[2] = {false, false};    // ... which that side's verb has said (each side's own)
    const std::chrono::nanoseconds every_;  // how often a look is due: the queues' liveness interval
    std::atomic<clock::rep> next_look_;     // when the next is due, in clock ticks
    std::mutex look_m_;
    // duplex::receive's (the typed verbs need none of this):
    bool staged_ = false;
    Message one_{};                 // fixed: the staged message (bytes<Max>: an empty tag)
    std::vector<std::byte> many_;   // bytes: the staged message
};

}  // namespace ipckit::detail
