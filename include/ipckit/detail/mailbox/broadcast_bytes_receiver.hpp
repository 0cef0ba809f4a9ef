#pragma once
// The receiving end of a broadcast mailbox of bytes<Max>: every receiver reads the same
// record<Max> slot (detail/ring/record.hpp), copying out only the message's own bytes, or in
// place through a view (zero copy: the sender wrote once, every receiver reads those bytes).
//
// Why a view or a copy is never overwritten while it is read. A receiver's cursor gates the
// senders (detail/ring/broadcast.hpp): no sender claims position p + N until every held
// cursor has passed p, and this receiver's cursor stays at p until it lets the message go
// (release: a copy taken, a view released). So a view may be held as long as the receiver
// likes - it holds the senders back, as a slow receiver does - and a message left for a bigger
// buffer simply stays at the cursor: "is this receiver's next" needs nothing parked. After each
// read the receiver still looks at the slot's sequence once more (still_holds, a seqlock
// reader's check), so that a slot moved on by a scribble is reported corrupt, never delivered.
// The length is read once, checked against Max (record_length), and never read again.

#include <ipckit/detail/endpoint/bytes_verbs.hpp>
#include <ipckit/detail/mailbox/broadcast_endpoints.hpp>
#include <ipckit/detail/queue/lending.hpp>
#include <ipckit/detail/queue/record_lending.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <utility>

namespace ipckit::detail {

/// The receiving end of a broadcast mailbox of bytes<Max>: gets every message sent while it is
/// attached, in order. Blocking: receive and receive_view wait for the next one (a deadline or
/// timeout may be given). Non-blocking: would_block at once when there is nothing new. Either
/// returns closed only once the mailbox is closed (or removed) and every message it accepted
/// has been received. A buffer too small: too_large, and the message stays this receiver's next
/// (the other receivers are not affected). An outstanding view makes the other verbs in_use;
/// closing the receiver (close() or destruction) releases it and stops holding senders back.
/// Restricted thread-safe: one thread at a time.
template <class Box, mode_policy Mode>
class broadcast_bytes_receiver
    : public lender<broadcast_receiving_end<Box, Mode>, ring_ticket<const typename Box::message_type>>,
      public bytes_receive_verbs<broadcast_bytes_receiver<Box, Mode>, Mode>,
      public view_verbs<broadcast_bytes_receiver<Box, Mode>, Mode> {
    using slot = typename Box::message_type;
    static_assert(is_record<slot>, "broadcast_bytes_receiver: the mailbox's slots must be record<Max>");
    using base = lender<broadcast_receiving_end<Box, Mode>, ring_ticket<const slot>>;
    using verbs = bytes_receive_verbs<broadcast_bytes_receiver, Mode>;
    using views = view_verbs<broadcast_bytes_receiver, Mode>;

public:
    using view_type = record_view<base, slot::max>;

    /// receive(buffer [, deadline]) -> length, receive([deadline]) -> vector
    /// (bytes_receive_verbs): a copy of the next message. Blocking: waits for one; closed once
    /// the mailbox is closed and drained; timed_out. Non-blocking: would_block when there is
    /// nothing new. too_large: the buffer is too small (the message stays next); corrupt: its
    /// slot says a length over Max, or moved on while it was read; in_use: a view is out.
    using verbs::receive;

    /// receive_view(), receive_view(deadline) (view_verbs): zero copy: the next message, read in
    /// place in its slot, which no sender reuses until the view is released. Waits or fails as receive does. One view at a time per receiver.
    using views::receive_view;

private:
    friend mailbox_handle<Box>;
    friend verbs;
    friend views;

    broadcast_bytes_receiver(std::shared_ptr<segment> seg, const options& opt) : base(std::move(seg), opt) {}

    /// bytes_receive_verbs' primitive: take(message) in place; the message goes only if take
    /// says ok, and only if its slot still held it afterwards.
    template <class Take>
    errc receive_until(Take& take, clock::time_point deadline) noexcept {
        if (this->lent_out()) return errc::in_use;
        return this->attempt_until(
            [&] {
                ring_ticket<const slot> t;
                std::size_t length = 0;
                const errc e = checked_claim(t, length);
                if (e != errc::ok) return this->unless_drained(e);
                const errc took = take(record_bytes(*t.slot, length));
                if (!this->cursor().still_holds(t)) return errc::corrupt;
                if (took != errc::ok) return took;  // stays at the cursor: this receiver's next
                this->cursor().release(t);
                this->progress();
                return errc::ok;
            },
            deadline);
    }

    /// The next message claimed at the cursor, and its length checked against Max.
    errc checked_claim(ring_ticket<const slot>& t, std::size_t& length) noexcept {
        const errc e = this->cursor().try_claim(t);
        return e == errc::ok ? record_length(*t.slot, length) : e;
    }

    /// What a view claims through: checked_claim, keeping the length for the view.
    struct checked {
        broadcast_bytes_receiver& end;
        std::size_t& length;
        errc try_claim(ring_ticket<const slot>& t) noexcept { return end.checked_claim(t, length); }
    };

    result<view_type> view_until(clock::time_point deadline) noexcept {
        std::size_t length = 0;
        return this->template lend<view_type>(
            [&](auto claim) {
                return this->attempt_until(
                    [&] {
                        checked c{*this, length};
                        return this->unless_drained(claim(c));
                    },
                    deadline);
            },
            length);
    }
};

}  // namespace ipckit::detail
