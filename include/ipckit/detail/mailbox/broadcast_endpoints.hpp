#pragma once
// The endpoints of a broadcast mailbox: what its senders do (each a place in the senders'
// roster; the sender itself is every mailbox's, detail/mailbox/sender.hpp), and its receivers,
// each a place in the receiver table at the end of the segment (broadcast_layout.hpp), which
// holds its cursor and gates the senders while held. Both are mailbox endpoints
// (detail/mailbox/endpoint.hpp): the endpoint core's state, move and close, and its one verb loop.

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/mailbox/broadcast_layout.hpp>
#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/endpoint.hpp>
#include <ipckit/detail/ring/broadcast.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace ipckit::detail {

/// Where a broadcast mailbox's receivers hold their places (endpoint_core's own_places): a
/// place in the receiver table at the end of its segment, which also holds the receiver's
/// cursor, and which gates the senders while held. They sleep on the data bell.
template <class Box>
struct broadcast_receiver_places {
    static constexpr bool own_places = true;

    static doorbell& sleep_bell(auto& sh, std::size_t /*place*/) noexcept { return sh.data_bell; }
    static void wake_on_close(auto& /*sh*/) noexcept {}  // release() wakes the senders
    static std::atomic<std::uint32_t>& asleep(auto& sh, const segment& /*seg*/, std::size_t place) noexcept {
        return places_of(sh)[place].place.asleep;
    }

    /// A place for `me`: first one nobody holds, then one whose holder died. The places of dead
    /// receivers are given up first, so that "am I alone?" is answered for the living (and a
    /// restarted receiver finds what its dead predecessor had not read; of several dead, the
    /// one furthest behind, which is given up last: give_up_dead_places). Raises the table's
    /// high-water mark before the cursor is stored (senders scan up to it). System calls.
    static std::optional<std::size_t> claim(auto& sh, const segment& seg, const sys::process_id& me) noexcept {
        const std::size_t count = Box::places_in(seg.size());
        broadcast_place* places = places_of(sh);
        give_up_dead_places(sh, places, count, me.pack());
        for (int pass = 0; pass < 2; ++pass) {
            for (std::size_t i = 0; i < count; ++i) {
                auto& holder = places[i].place.holder;
                std::uint64_t h = holder.load(std::memory_order_acquire);
                bool won = false;
                if (!holds(h)) {
                    // SYNC POINT WRITE: seq_cst, before the high-water mark and the cursor.
                    won = holder.compare_exchange_strong(h, me.pack(), std::memory_order_seq_cst);
                } else if (pass == 1) {
                    won = give_up_if_dead(sh, places, count, i, me.pack(), me.pack());
                }
                if (!won) continue;
                broadcast_ring<typename Box::message_type, Box::capacity>::raise(sh.ring.high, i + 1);
                return i;
            }
        }
        return std::nullopt;
    }

    /// Lets go of `place`: senders are no longer held back by it, and those waiting for it wake.
    /// The places of dead receivers are given up first, until a live started one is found, so
    /// that "am I the last?" is answered for the living: the last live receiver to leave keeps
    /// where it stopped for the next one, even beside a receiver that died and was not yet found
    /// (which would otherwise gate senders at its own cursor, past what this one had not read).
    /// System calls, one per other place held, until a live started one.
    static void release(auto& sh, const segment& seg, std::size_t place, const sys::process_id& me) noexcept {
        const std::size_t count = Box::places_in(seg.size());
        broadcast_place* places = places_of(sh);
        const std::size_t high = static_cast<std::size_t>(std::min<std::uint64_t>(sh.ring.high.load(), count));
        for (std::size_t i = 0; i < high; ++i) {
            if (i == place || !holds(places[i].place.holder.load(std::memory_order_acquire))) continue;
            if (give_up_if_dead(sh, places, count, i, me.pack(), roster_place::closed)) continue;
            if (places[i].place.pending.load(std::memory_order_acquire) == 1 &&
                holds(places[i].place.holder.load(std::memory_order_acquire)))
                break;  // a receiver that stays (live, or another of this process): not the last
        }
        (void)give_up_place(sh, places, count, place, me.pack(), me.pack(), roster_place::closed);
        sh.space_bell.ring();
    }
};

/// What a broadcast mailbox does for its senders (mailbox_sender, detail/mailbox/sender.hpp):
/// the broadcast ring's producer cursor, which scans the receiver table; while the ring is full
/// and a receiver that holds senders back has died, it gives up every dead receiver's place.
template <class Box>
struct broadcast_sending {
    using cursor = broadcast_producer<typename Box::message_type, Box::capacity>;

    static bool attach(cursor& c, typename Box::shared& sh, std::size_t place, const segment& seg) noexcept {
        c.attach(sh.ring, places_of(sh), Box::places_in(seg.size()), sh.senders.places[place].pending);
        return true;
    }
    static bool check(cursor& c, typename Box::shared& sh, const segment& seg, const sys::process_id& me) noexcept {
        bool dead = false;
        c.for_each_laggard([&](std::size_t /*i*/, std::uint64_t holder) {
            dead = dead || !sys::is_alive(sys::process_id::unpack(holder));
        });
        // Every dead receiver's place, not the laggard's alone: one given up while other dead
        // ones, further on, still gated would let senders pass what it had not read.
        return dead && give_up_dead_places(sh, places_of(sh), Box::places_in(seg.size()), me.pack());
    }
};

/// What every receiver of a broadcast mailbox is, whatever it carries: a place in the receiver
/// table (broadcast_receiver_places) holding its cursor, whose attempts run until they do not
/// would_block, waking when something new is published or the mailbox is closed and drained.
template <class Box, mode_policy Mode>
class broadcast_receiving_end
    : public mailbox_endpoint<Box, consumer_role, broadcast_consumer<typename Box::message_type, Box::capacity>, Mode,
                              broadcast_receiver_places<Box>> {
    using base = mailbox_endpoint<Box, consumer_role, broadcast_consumer<typename Box::message_type, Box::capacity>,
                                  Mode, broadcast_receiver_places<Box>>;
    friend watch_access;

public:
    broadcast_receiving_end(broadcast_receiving_end&&) noexcept = default;
    broadcast_receiving_end& operator=(broadcast_receiving_end&& o) noexcept {
        if (this != &o) {
            close();
            base::operator=(std::move(o));
        }
        return *this;
    }
    ~broadcast_receiving_end() { close(); }

    /// Lets go now, as destruction would (endpoint_core::close), giving the place up with where
    /// this receiver stopped, not with whatever the table's copy of its cursor says now
    /// (broadcast_consumer::settle).
    void close() noexcept {
        if (this->owns_place_here()) this->cursor().settle();
        base::close();
    }

protected:
    broadcast_receiving_end(std::shared_ptr<segment> seg, const options& opt)
        : base(std::move(seg), opt, [](auto& cursor, auto& sh, std::size_t place, const segment& s) {
              if (!cursor.attach(sh.ring, places_of(sh), Box::places_in(s.size()), place)) return false;
              // A sender that went to sleep while our placeholder cursor held it back may go on now.
              sh.space_bell.ring();
              return true;
          }) {}

    /// Runs a receiver's `attempt` as a verb until `deadline`. An attempt that moved past
    /// tombstones (abandoned loans, dead senders' slots) wakes the senders, whatever it
    /// returned: this receiver may be the one that held them back.
    template <class Attempt>
    errc attempt_until(Attempt&& attempt, clock::time_point deadline) noexcept {
        return this->run_until(
            [&] {
                const errc e = attempt();
                if (progress_made(this->cursor())) this->progress();
                return e;
            },
            [this] { return ready(); }, [this] { return this->recover(); }, deadline);
    }

    /// What an attempt whose claim (or pop) said `e` returns: closed instead of would_block once
    /// the mailbox is closed and every message it accepted has been read.
    errc unless_drained(errc e) noexcept { return e == errc::would_block && drained() ? errc::closed : e; }

private:
    /// Its readiness, for a waitset (endpoint_core::may_not_wait): what receive waits for; no
    /// peers end it (drained() says closed).
    bool watched_ready(bool ask_os) noexcept {
        return this->may_not_wait([this] { return ready(); }, [this] { return this->recover(); }, nullptr, ask_os);
    }

    /// Whether a blocked receive should look again: something new, or closed and drained.
    bool ready() noexcept { return this->cursor().has_data() || drained(); }

    /// Whether the mailbox is closed and every message it accepted has been read.
    bool drained() noexcept {
        return closed_and_drained(this->control(), [this] { return this->cursor().caught_up(); });
    }
};

/// The receiving end of a broadcast mailbox of fixed-size messages: gets every message sent
/// while it is attached, in order. Blocking: receive waits for the next one (a deadline or
/// timeout may be given). Non-blocking: receive returns would_block at once when there is
/// nothing new. Either returns closed only once the mailbox is closed (or removed) and every
/// message it accepted has been received. Closing (close() or destruction) stops holding
/// senders back. Restricted thread-safe: one thread at a time.
template <class Box, mode_policy Mode>
class broadcast_receiver : public broadcast_receiving_end<Box, Mode>,
                           public receive_verbs<broadcast_receiver<Box, Mode>, typename Box::message_type, Mode> {
    using base = broadcast_receiving_end<Box, Mode>;
    using T = typename Box::message_type;
    using verbs = receive_verbs<broadcast_receiver, T, Mode>;

public:
    /// receive(), receive(deadline), receive(out), receive(out, deadline) (receive_verbs):
    /// receives a copy of the next message. Blocking: waits for one; closed once the mailbox is
    /// closed and drained; timed_out. Non-blocking: would_block when there is nothing new.
    using verbs::receive;

private:
    friend mailbox_handle<Box>;
    friend verbs;

    broadcast_receiver(std::shared_ptr<segment> seg, const options& opt) : base(std::move(seg), opt) {}

    errc receive_until(T& out, clock::time_point deadline) noexcept {
        return this->attempt_until([&] { return attempt(out); }, deadline);
    }

    errc attempt(T& out) noexcept {
        const errc e = this->cursor().try_pop(out);
        if (e == errc::ok) {
            this->sh().space_bell.notify(this->light_fence_);
            return errc::ok;
        }
        return this->unless_drained(e);
    }
};

}  // namespace ipckit::detail
