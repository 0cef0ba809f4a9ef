#pragma once
// The receiver of a mailbox of variable-size messages, bytes<Max>, with delivery exclusive, any
// or round_robin: a unicast receiver (unicast_endpoints.hpp: turns, close, checks) whose slots
// are records (detail/ring/record.hpp), with the verbs of every bytes receiver
// (detail/endpoint/bytes_verbs.hpp) and views of the message in place
// (detail/queue/record_lending.hpp).
//
// A message that does not fit. receive(buffer) with a buffer too small for the next message
// returns too_large, and the message stays this receiver's next: its slot, claimed already
// (round_robin: on this receiver's turn, which has passed on), is parked in the receiver as a
// view of its own, so that the next receive or receive_view of this receiver gets it - with
// several receivers, "stays first" means "is this receiver's next"; no other receiver can get
// it. A receiver that closes (or is destroyed) with a message parked gives its slot back, and
// the message is lost with it, as one a receiver killed holding it takes with it.
//
// A length read from a slot is checked against Max before any use (record_length): a scribbled
// one is corrupt, and the slot is given back.

#include <ipckit/detail/endpoint/bytes_verbs.hpp>
#include <ipckit/detail/mailbox/unicast_endpoints.hpp>
#include <ipckit/detail/queue/lending.hpp>
#include <ipckit/detail/queue/record_lending.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// The receiving end of a mailbox of bytes<Max> with delivery exclusive, any or round_robin.
/// Blocking: receive waits for a message (and, round_robin, for its turn); a deadline or
/// timeout may be given. Non-blocking: would_block at once (round_robin: also off its turn).
/// Either returns closed only once the mailbox is closed (or removed) and every message it
/// accepted has been received. Zero copy: receive_view() lends the next message to read in
/// place (one view at a time; the receiver's other verbs are in_use while it is out).
/// Restricted thread-safe: one thread at a time.
template <class Box, mode_policy Mode>
class unicast_bytes_receiver
    : public lender<unicast_receiving<Box, Mode>, ring_ticket<const typename Box::message_type>>,
      public bytes_receive_verbs<unicast_bytes_receiver<Box, Mode>, Mode>,
      public bytes_receive_batch_verbs<unicast_bytes_receiver<Box, Mode>, Mode>,
      public view_verbs<unicast_bytes_receiver<Box, Mode>, Mode> {
    using slot = typename Box::message_type;  // record<Max>
    static constexpr std::size_t Max = slot::max;
    using base = lender<unicast_receiving<Box, Mode>, ring_ticket<const slot>>;
    using verbs = bytes_receive_verbs<unicast_bytes_receiver, Mode>;
    using batch_verbs = bytes_receive_batch_verbs<unicast_bytes_receiver, Mode>;
    using views = view_verbs<unicast_bytes_receiver, Mode>;

public:
    using view_type = record_view<base, Max>;

    unicast_bytes_receiver(unicast_bytes_receiver&&) noexcept = default;
    unicast_bytes_receiver& operator=(unicast_bytes_receiver&&) noexcept = default;

    /// receive(buffer [, deadline]) -> length, receive([deadline]) -> vector (bytes_receive_verbs):
    /// the next message for this receiver. A buffer too small: too_large, and the message stays
    /// this receiver's next. Blocking: waits for one; closed once the mailbox is closed and
    /// drained; timed_out. Non-blocking: would_block. in_use while a view is outstanding.
    using verbs::receive;
    /// receive(records [, deadline]) (bytes_receive_batch_verbs; exclusive and any only): this
    /// receiver's next messages, as many as are there and fit, at least one (blocking: waits for
    /// one), claimed one slot at a time; the first that does not fit stays this receiver's next
    /// (parked; too_large if that is the first of all). The senders are woken once. A scribbled
    /// length after the first ends the batch, and the next call says corrupt.
    using batch_verbs::receive;

    /// receive_view(), receive_view(deadline) (view_verbs): zero copy: the next message for this
    /// receiver, read in place; its slot stays taken until
    /// the view is released or destroyed, or the receiver closes. Waits or fails as receive
    /// does. A receiver killed holding a view takes that one message with it. One view at a time
    /// per receiver (in_use).
    using views::receive_view;

private:
    friend mailbox_handle<Box>;
    friend verbs;
    friend batch_verbs;
    friend views;
    friend watch_access;
    using base::base;

    /// Its readiness, for a waitset: ready at once with a message parked (its next receive
    /// returns it without waiting), else as every unicast receiver (unicast_receiving).
    bool watched_ready(bool ask_os) noexcept {
        return static_cast<bool>(parked_) || base::watched_ready(ask_os);
    }

    /// bytes_receive_verbs' primitive: `take` the next message in place; one it does not take
    /// stays this receiver's next (parked).
    template <class Take>
    errc receive_until(Take& take, clock::time_point deadline) noexcept {
        if (this->lent_out() && !parked_) return errc::in_use;
        if (std::exchange(lost_, false)) return errc::corrupt;
        if (parked_) return take_parked(take);
        ring_ticket<const slot> t;
        std::size_t length = 0;
        const errc e = this->run([&] { return claim(t, length); }, deadline);
        if (e != errc::ok) return e;
        const errc took = take(record_bytes(*t.slot, length));
        if (took == errc::ok) {
            release(t);
            return errc::ok;
        }
        this->template lend_claimed_into<view_type>(parked_, t, length);
        return took;
    }

    /// bytes_receive_batch_verbs' primitive: take(message) on this receiver's next messages, in
    /// place, a parked one first, then as many as are there now, until one is refused (it stays
    /// parked); one wake-up of the senders for all the slots given back.
    template <class Take>
    errc receive_batch_until(Take& take, std::size_t& got, clock::time_point deadline) noexcept {
        static_assert(!std::is_same_v<typename Box::delivery_type, round_robin>,
                      "a round_robin mailbox passes the turn after every message: receive one at a time");
        got = 0;
        if (this->lent_out() && !parked_) return errc::in_use;
        if (std::exchange(lost_, false)) return errc::corrupt;
        if (parked_) {
            if (const errc e = take_parked(take); e != errc::ok) return e;
        } else {
            ring_ticket<const slot> t;
            std::size_t length = 0;
            if (const errc e = this->run([&] { return claim(t, length); }, deadline); e != errc::ok) return e;
            if (const errc e = take_or_park(take, t, length); e != errc::ok) return e;
        }
        got = 1;
        for (;;) {
            ring_ticket<const slot> t;
            std::size_t length = 0;
            const errc claimed = claim(t, length);
            lost_ = claimed == errc::corrupt;  // its message is lost: the next call says so
            if (claimed != errc::ok || take_or_park(take, t, length) != errc::ok) break;
            ++got;
        }
        this->progress();
        return errc::ok;
    }

    /// take(message) on the claimed slot t: given back if taken, else parked.
    errc take_or_park(auto& take, const ring_ticket<const slot>& t, std::size_t length) noexcept {
        const errc took = take(record_bytes(*t.slot, length));
        if (took == errc::ok)
            this->cursor().release(t);
        else
            this->template lend_claimed_into<view_type>(parked_, t, length);
        return took;
    }

    result<view_type> view_until(clock::time_point deadline) noexcept {
        if (parked_) return std::move(parked_);
        if (this->lent_out()) return unexpected(errc::in_use);
        if (std::exchange(lost_, false)) return unexpected(errc::corrupt);
        ring_ticket<const slot> t;
        std::size_t length = 0;
        const errc e = this->run([&] { return claim(t, length); }, deadline);
        if (e != errc::ok) return unexpected(e);
        return this->template lend_claimed<view_type>(t, length);
    }

    /// One attempt: claims the next message for this receiver (on its turn) and checks its
    /// length; a scribbled length is corrupt, and its slot is given back.
    errc claim(ring_ticket<const slot>& t, std::size_t& length) noexcept {
        const errc e = this->take_turn([&t](auto& cursor) { return cursor.try_claim(t); });
        if (e != errc::ok) return e;
        if (record_length(*t.slot, length) != errc::ok) {
            release(t);
            return errc::corrupt;
        }
        return errc::ok;
    }

    errc take_parked(auto& take) noexcept {
        const errc took = take(parked_.data());
        if (took == errc::ok) parked_.release();
        return took;
    }

    /// Gives a slot read in place back to the senders, and wakes them.
    void release(const ring_ticket<const slot>& t) noexcept {
        this->cursor().release(t);
        this->progress();
    }

    view_type parked_;  ///< the message a take refused, this receiver's next; empty if none
    bool lost_ = false;  ///< a batch met a scribbled length after its first message (see receive)
};

}  // namespace ipckit::detail
