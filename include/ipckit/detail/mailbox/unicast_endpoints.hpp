#pragma once
// The endpoints of a mailbox with delivery exclusive, any or round_robin: what its senders do
// (the sender itself is every mailbox's, detail/mailbox/sender.hpp), and its receiver, which
// takes turns with the others under round_robin.
//
// round_robin. The control block's turn word names the receivers' roster place whose turn it
// is. Only that receiver takes a message; then it passes the turn to the next place that is
// held, in place order, cyclically. Whoever finds the turn on a place nobody holds (its
// receiver closed) passes it on at once; a waiter that finds the turn on a place whose holder
// has died (checked about once per liveness interval) gives that place up for the dead holder,
// and passes it on. So n receivers that all keep up get messages 0, n, 2n... / 1, n+1... in
// place order, and no message ever waits for a receiver that is gone. The turn word also counts
// passes, and every pass is a CAS from the exact value that allowed it (the turn a receiver
// popped under, the dead place's turn a waiter found): a stale pass fails and changes nothing.
// A waiter retires a dead holder's place (roster::retire: it takes the place by CAS first)
// before it touches the place's sleeper registration or its turn, so a receiver that took the
// place over meanwhile keeps both. A receiver that attaches takes over a dead holder's place
// in preference to a free one (roster::claim), and with it that place's turns.

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/endpoint.hpp>
#include <ipckit/detail/queue/fixed_endpoints.hpp>
#include <ipckit/detail/queue/lending.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/deadline.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// What a mailbox with delivery exclusive, any or round_robin does for its senders
/// (mailbox_sender, detail/mailbox/sender.hpp): Vyukov's ring's producer cursor; while full, it
/// frees a slot that a dead receiver took and never gave back, and notices that a
/// process_owned mailbox's owner has died.
template <class Box>
struct unicast_sending {
    using cursor = typename Box::shared::producer_type;

    static bool attach(cursor& c, typename Box::shared& sh, std::size_t place, const segment& /*seg*/) noexcept {
        return c.attach(sh.ring, sh.senders.places[place].pending);
    }
    static bool check(cursor& c, typename Box::shared& sh, const segment& /*seg*/, const sys::process_id& /*me*/) noexcept {
        const bool freed = c.recover([&sh](std::uint64_t p) { return sh.receivers.live_claimant(p); });
        if constexpr (std::is_same_v<typename Box::ownership_type, process_owned>) {
            const std::uint64_t owner = sh.control.owner.load(std::memory_order_acquire);
            if (sh.control.is_open() && owner != 0 && !sys::is_alive(sys::process_id::unpack(owner))) {
                owner_gone<typename Box::shared>(&sh);
                return true;
            }
        }
        return freed;
    }
};

/// What every receiver of a mailbox with delivery exclusive, any or round_robin does, whatever
/// it takes out of a slot: a mailbox endpoint that claims the next message for this receiver -
/// round_robin: only on its turn, which it then passes on - and sleeps, checks and sees the close
/// as the top of this file says. The receiver of fixed-size messages (mailbox_receiver, below)
/// and that of bytes<Max> (unicast_bytes_receiver.hpp) are this, with their verbs and what they
/// lend (a view: a message read in place). Restricted thread-safe: one thread at a time.
template <class Box, mode_policy Mode>
class unicast_receiving
    : public mailbox_endpoint<Box, consumer_role, typename Box::shared::consumer_type, Mode, mailbox_bells<consumer_role>> {
    using base = mailbox_endpoint<Box, consumer_role, typename Box::shared::consumer_type, Mode, mailbox_bells<consumer_role>>;
    static constexpr bool turns = std::is_same_v<typename Box::delivery_type, round_robin>;
    static constexpr std::uint64_t place_mask = 0xffff'ffffULL;
    friend watch_access;

public:
    unicast_receiving(unicast_receiving&&) noexcept = default;
    unicast_receiving& operator=(unicast_receiving&&) noexcept = default;

protected:
    using slot_type = typename Box::message_type;

    unicast_receiving(std::shared_ptr<segment> seg, const options& opt)
        : base(std::move(seg), opt, [](auto& cursor, auto& sh, std::size_t place, const segment&) {
              return cursor.attach(sh.ring, sh.receivers.places[place].pending);
          }) {}

    /// `attempt` as a verb: until it does not would_block (blocking), or once.
    template <class Attempt>
    errc run(Attempt&& attempt, clock::time_point deadline) noexcept {
        return this->run_until(attempt, [this] { return ready(); }, [this] { return check(); }, deadline);
    }

    /// Claims the next message for this receiver with `claim(cursor)` (a pop, or a claim in
    /// place that the caller releases, waking the senders then): round_robin, only on its turn,
    /// which passes on with the claim. ok, would_block (nothing, or another receiver's turn),
    /// closed (closed and drained), corrupt.
    template <class Claim>
    errc take_turn(Claim&& claim) noexcept {
        [[maybe_unused]] std::uint64_t turn = 0;  // round_robin: the turn that lets us pop, the one we pass
        if constexpr (turns) {
            for (std::size_t passes = 0;; ++passes) {
                turn = this->control().turn.load(std::memory_order_acquire);
                const std::uint64_t place = turn & place_mask;
                if (place >= Box::max_receivers) return errc::corrupt;  // checked before use
                if (place == this->place_) break;
                if (!held(place)) {
                    // Its receiver has gone: on to the next one. A pass lands on a held place,
                    // ours at the latest, so this goes round more than the places only if ours
                    // is not held either: its holder word was scribbled (else, receivers coming
                    // and going all the while: the next attempt looks again).
                    if (passes > Box::max_receivers) return held(this->place_) ? errc::would_block : errc::corrupt;
                    pass(turn, place);
                    continue;
                }
                return drained() ? errc::closed : errc::would_block;  // another receiver's turn
            }
        }
        const errc e = claim(this->cursor());
        if (progress_made(this->cursor())) [[unlikely]]
            passed_tombstones();
        if (e == errc::ok) {
            if constexpr (turns) {
                // The turn we were given, not a fresh look: if it was a predecessor's at this
                // place (given before we took the place over) and has been passed on since,
                // the CAS fails and the turn stays where it is, rather than being taken from
                // the receiver that has it now.
                pass(turn, this->place_);
                this->sh().data_bell.notify(this->light_fence_);  // the next receiver's turn
            }
            return errc::ok;
        }
        if (e == errc::would_block && drained()) return errc::closed;
        return e;
    }

    /// Its readiness, for a waitset (endpoint_core::may_not_wait): what receive waits for, its
    /// check once per liveness interval; no peers end it (its ready() says closed).
    bool watched_ready(bool ask_os) noexcept {
        return this->may_not_wait([this] { return ready(); }, [this] { return check(); }, nullptr, ask_os);
    }

private:
    /// After a claim that freed tombstones on the way (abandoned loans, sends that raced close,
    /// dead senders' slots), whatever it returned: senders asleep on a full ring want the room;
    /// round_robin receivers off their turn, the mailbox drained.
    void passed_tombstones() noexcept {
        this->progress();
        if constexpr (turns) this->sh().data_bell.notify(this->light_fence_);
    }

    /// Whether a blocked receive should look again.
    bool ready() noexcept {
        if constexpr (turns) {
            const std::uint64_t place = this->control().turn.load(std::memory_order_acquire) & place_mask;
            if (place >= Box::max_receivers || (place != this->place_ && !held(place))) return true;
            if (place != this->place_) return drained();
        }
        return this->cursor().has_data() || drained();
    }

    /// Whether the mailbox is closed and every message it accepted has been taken.
    bool drained() noexcept {
        return closed_and_drained(this->control(), [this] {
            const auto& ring = this->sh().ring;
            return ring.tail.load(std::memory_order_acquire) == ring.head.load(std::memory_order_acquire);
        });
    }

    /// Whether roster place `p` is held (by a live or a dead process).
    bool held(std::uint64_t p) const noexcept {
        return roster_place::names_holder(this->sh().receivers.places[p].holder.load(std::memory_order_acquire));
    }

    /// Passes the turn, which `turn` gave to place `from`, to the next place held after it.
    void pass(std::uint64_t turn, std::uint64_t from) noexcept {
        std::uint64_t next = from;
        for (std::uint64_t k = 1; k <= Box::max_receivers; ++k) {
            const std::uint64_t p = (from + k) % Box::max_receivers;
            if (held(p)) {
                next = p;
                break;
            }
        }
        const std::uint64_t passed = (((turn >> 32) + 1) << 32) | next;
        // SYNC POINT WRITE: acq_rel, so the next receiver's pop comes after ours; a stale `turn`
        // (someone passed meanwhile) fails and changes nothing.
        (void)this->control().turn.compare_exchange_strong(turn, passed, std::memory_order_acq_rel);
    }

    /// System calls, about once per liveness interval while it would block: skips a slot that
    /// a dead sender claimed and never published; round_robin: gives up the place of a dead
    /// receiver whose turn it is, so that the turn passes on. Whether it did either.
    bool check() noexcept {
        const bool skipped = this->recover();
        if constexpr (turns) {
            const std::uint64_t turn = this->control().turn.load(std::memory_order_acquire);
            const std::uint64_t place = turn & place_mask;
            if (place >= Box::max_receivers || place == this->place_) return skipped;
            auto& receivers = this->sh().receivers;
            const std::uint64_t h = receivers.places[place].holder.load(std::memory_order_acquire);
            if (!roster_place::names_holder(h)) return skipped;
            if (sys::is_alive(sys::process_id::unpack(h))) return skipped;
            // Retire the place for the dead holder: roster::retire takes it first, so if a new
            // receiver took it over since we looked, we touch neither its sleeper registration
            // nor its turn. Killed in the middle, the place stays held by us, dead in turn: the
            // next check() finds it and does all this again.
            if (!receivers.retire(place, h, this->me_,
                                  [this](std::size_t) -> doorbell& { return this->sh().data_bell; }))
                return skipped;
            pass(turn, place);
            this->sh().data_bell.ring();
            return true;
        }
        return skipped;
    }
};

/// The receiving end of a mailbox of fixed-size messages. Blocking: receive waits for a message
/// (and, round_robin, for its turn); a deadline or timeout may be given. Non-blocking: receive
/// returns would_block at once (round_robin: also when it is another receiver's turn). Either
/// returns closed only once the mailbox is closed (or removed) and every message it accepted
/// has been received. Zero copy: receive_view() lends the next message to read in place (one
/// view at a time; the receiver's other verbs are in_use while it is out). Restricted
/// thread-safe: one thread at a time.
template <class Box, mode_policy Mode>
class mailbox_receiver : public lender<unicast_receiving<Box, Mode>, ring_ticket<const typename Box::message_type>>,
                         public receive_verbs<mailbox_receiver<Box, Mode>, typename Box::message_type, Mode>,
                         public receive_batch_verbs<mailbox_receiver<Box, Mode>, typename Box::message_type, Mode>,
                         public view_verbs<mailbox_receiver<Box, Mode>, Mode> {
    using T = typename Box::message_type;
    using base = lender<unicast_receiving<Box, Mode>, ring_ticket<const T>>;
    using verbs = receive_verbs<mailbox_receiver, T, Mode>;
    using batch_verbs = receive_batch_verbs<mailbox_receiver, T, Mode>;
    using views = view_verbs<mailbox_receiver, Mode>;

public:
    using view_type = fixed_view<base, T>;

    /// receive(), receive(deadline), receive(out), receive(out, deadline) (receive_verbs):
    /// receives a copy of the next message for this receiver. Blocking: waits for one; closed
    /// once the mailbox is closed and drained; timed_out. Non-blocking: would_block. in_use
    /// while a view is outstanding.
    using verbs::receive;
    /// receive(span), receive(span, deadline) (receive_batch_verbs; exclusive and any
    /// mailboxes): takes copies of up to span.size() messages, at least one (blocking: waits for
    /// one), with one claim and one wake-up, and returns how many. in_use while a view is out.
    using batch_verbs::receive;

    /// receive_view(), receive_view(deadline) (view_verbs): zero copy: the next message for this
    /// receiver, read in place; its slot stays taken (the
    /// senders cannot reuse it) until the view is released or destroyed, or the receiver
    /// closes. Waits or fails as receive does. A receiver killed holding a view takes that one
    /// message with it. One view at a time per receiver (in_use).
    using views::receive_view;

private:
    friend mailbox_handle<Box>;
    friend verbs;
    friend batch_verbs;
    friend views;
    using base::base;

    errc receive_batch_until(std::span<T> out, std::size_t& got, clock::time_point deadline) noexcept {
        static_assert(!std::is_same_v<typename Box::delivery_type, round_robin>,
                      "a round_robin mailbox passes the turn after every message: receive one at a time");
        got = 0;
        if (out.empty()) return errc::ok;
        if (this->lent_out()) return errc::in_use;
        return this->run(
            [&] {
                const errc e = this->take_turn([&](auto& cursor) { return cursor.try_pop_n(out.data(), out.size(), got); });
                if (e == errc::ok) this->progress();  // the slots are the senders' again: one wake for the batch
                return e;
            },
            deadline);
    }

    errc receive_until(T& out, clock::time_point deadline) noexcept {
        if (this->lent_out()) return errc::in_use;
        return this->run(
            [&] {
                const errc e = this->take_turn([&out](auto& cursor) { return cursor.try_pop(out); });
                if (e == errc::ok) this->progress();  // the slot is the senders' again
                return e;
            },
            deadline);
    }

    result<view_type> view_until(clock::time_point deadline) noexcept {
        if (this->lent_out()) return unexpected(errc::in_use);
        ring_ticket<const T> t;
        const errc e = this->run([&] { return this->take_turn([&t](auto& cursor) { return cursor.try_claim(t); }); },
                                 deadline);
        if (e != errc::ok) return unexpected(e);
        return this->template lend_claimed<view_type>(t);
    }
};

}  // namespace ipckit::detail
