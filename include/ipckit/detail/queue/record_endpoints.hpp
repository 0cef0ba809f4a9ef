#pragma once
// The sender and the receiver of a bounded queue of bytes<Max> kept in record slots (several
// consumers: detail/queue/record_queue.hpp), and what they lend for zero copy: a loan of n bytes
// of a slot and a view of a message in its slot (detail/queue/record_lending.hpp), one at a time
// per endpoint, through the endpoint as a fixed-size queue's are (detail/queue/lending.hpp).
// Their public verbs are every bytes endpoint's (detail/endpoint/bytes_verbs.hpp).

#include <ipckit/detail/endpoint/bytes_verbs.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/queue/lending.hpp>
#include <ipckit/detail/queue/record_lending.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <cstddef>
#include <span>
#include <utility>

namespace ipckit::detail {

/// The sending end of a queue of bytes<Max> in record slots. Blocking: send and loan wait for a
/// free slot (a deadline or timeout may follow). Non-blocking: they return would_block at once.
/// A message longer than Max is too_large at once, in either mode, with nothing written. Closing
/// (close() or destruction) abandons an outstanding loan; the receivers get `closed` once the
/// queue was closed as a whole (or every sender of a single-producer queue closed) and they have
/// taken every message.
template <class Queue, mode_policy Mode>
class record_sender
    : public lender<endpoint<Queue, producer_role, typename Queue::shared::producer_type, Mode>,
                    ring_ticket<typename Queue::record_type>>,
      public bytes_send_verbs<record_sender<Queue, Mode>, Queue::max_message, Mode>,
      public bytes_send_batch_verbs<record_sender<Queue, Mode>, Queue::max_message, Mode>,
      public loan_verbs<record_sender<Queue, Mode>, Mode, std::size_t> {
    using record_type = typename Queue::record_type;
    using base = lender<endpoint<Queue, producer_role, typename Queue::shared::producer_type, Mode>,
                        ring_ticket<record_type>>;
    using verbs = bytes_send_verbs<record_sender, Queue::max_message, Mode>;
    using batch_verbs = bytes_send_batch_verbs<record_sender, Queue::max_message, Mode>;
    using loans = loan_verbs<record_sender, Mode, std::size_t>;

public:
    using loan_type = record_loan<base, Queue::max_message>;

    /// send(m [, deadline]) with m a std::span<const std::byte> or std::string_view
    /// (bytes_send_verbs): sends a copy of m's bytes. Blocking: waits for a free slot, then ok;
    /// or timed_out (not sent), closed / peer_dead (every receiver is gone and the queue is
    /// full), corrupt. Non-blocking: ok, would_block, closed or corrupt, at once. too_large at
    /// once past Max; in_use while a loan is outstanding.
    using verbs::send;
    /// send(spans [, deadline]), send(records [, deadline]) (bytes_send_batch_verbs): sends
    /// copies of several messages, in order, and returns how many: blocking, waiting for free
    /// slots until all are sent (fewer if the deadline passes or every receiver is gone first);
    /// non-blocking, as many as fit now. too_large at once, nothing sent, if any is longer than
    /// Max. Each attempt claims a run of free slots at once (one CAS among several senders; a
    /// second claim where the ring wraps), fills them and wakes the receivers once.
    using batch_verbs::send;

    /// loan(n), loan(n, deadline) (loan_verbs): zero copy: lends n bytes of the next slot to
    /// write a message in place; commit() (all n) or commit(k) (the first k) sends it. Waits
    /// (blocking) or fails (non-blocking) as send does; too_large at once if n > Max. One loan
    /// at a time per sender.
    using loans::loan;

    /// loan_records (a byte ring's loan of room for several messages at once) does not compile
    /// here: a slot holds one message, so there is no run of room to lend side by side.
    template <class... Args>
    void loan_records(Args&&...) noexcept {
        static_assert(always_false<void(Args...)>,
                      "loan_records lends room for several messages side by side in a byte ring, which a queue of "
                      "bytes<Max> has with one receiver; with several receivers each message has a slot of its own: "
                      "use loan(n) per message, or send(records) for a batch");
    }

private:
    friend Queue;
    friend queue_handle<Queue>;
    friend verbs;
    friend batch_verbs;
    friend loans;
    using base::base;

    /// bytes_send_batch_verbs' primitive: each attempt sends what fits, a run of slots under one
    /// claim (two where the ring wraps), and wakes the receivers once; it would_block until the
    /// rest is sent.
    template <class It>
    errc send_batch_until(It& next, It end, std::size_t& sent, clock::time_point deadline) noexcept {
        if (this->lent_out()) return errc::in_use;
        return this->run_batch_until(
            [this, &next, end, &sent](auto& cursor) noexcept {
                std::size_t n = 0;
                const errc e = push_records<Queue::max_message>(cursor, next, end, n);
                if (n == 0) return e;
                sent += n;
                this->progress();
                return next == end ? errc::ok : errc::would_block;
            },
            sent, deadline);
    }

    errc send_until(std::span<const std::byte> m, clock::time_point deadline) noexcept {
        if (this->lent_out()) return errc::in_use;
        return this->run_until([m](auto& cursor) { return push_record<Queue::max_message>(cursor, m); }, deadline);
    }

    result<loan_type> lend_until(std::size_t n, clock::time_point deadline) noexcept {
        if (n > Queue::max_message) return unexpected(errc::too_large);
        return this->template lend<loan_type>([&](auto op) { return this->template run_until<false>(op, deadline); }, n);
    }
};

/// The receiving end of a queue of bytes<Max> in record slots: each message goes to exactly one
/// receiver, whole. Blocking: receive waits for a message (a deadline or timeout may be given).
/// Non-blocking: would_block at once. Either way closed or peer_dead only after every message
/// sent has been received.
///
/// A buffer too small for the message this receiver claimed: too_large, and the message stays
/// this receiver's next (with several receivers, "stays first" cannot mean more): its slot is
/// kept claimed here (parked), the next receive or receive_view takes it, and close() or
/// destruction gives it back to the senders unread (the message is lost, as when a receiver is
/// killed holding it). Closing also releases an outstanding view.
template <class Queue, mode_policy Mode>
class record_receiver
    : public lender<endpoint<Queue, consumer_role, typename Queue::shared::consumer_type, Mode>,
                    ring_ticket<const typename Queue::record_type>>,
      public bytes_receive_verbs<record_receiver<Queue, Mode>, Mode>,
      public bytes_receive_batch_verbs<record_receiver<Queue, Mode>, Mode>,
      public view_verbs<record_receiver<Queue, Mode>, Mode> {
    using record_type = typename Queue::record_type;
    using ticket = ring_ticket<const record_type>;
    using base = lender<endpoint<Queue, consumer_role, typename Queue::shared::consumer_type, Mode>, ticket>;
    using verbs = bytes_receive_verbs<record_receiver, Mode>;
    using batch_verbs = bytes_receive_batch_verbs<record_receiver, Mode>;
    using views = view_verbs<record_receiver, Mode>;

public:
    using view_type = record_view<base, Queue::max_message>;

    record_receiver(record_receiver&& o) noexcept
        : base(std::move(o)), parked_(std::exchange(o.parked_, {})), lost_(std::exchange(o.lost_, false)) {}
    record_receiver& operator=(record_receiver&& o) noexcept {
        if (this != &o) {
            drop_parked();
            base::operator=(std::move(o));
            parked_ = std::exchange(o.parked_, {});
            lost_ = std::exchange(o.lost_, false);
        }
        return *this;
    }
    ~record_receiver() { drop_parked(); }

    /// receive(buffer [, deadline]) -> length, receive([deadline]) -> vector
    /// (bytes_receive_verbs): the next message. Blocking: waits for one; closed or peer_dead once
    /// the senders have gone and the queue is empty; timed_out. Non-blocking: would_block when
    /// empty. too_large if `buffer` is too small (the message stays this receiver's next: see
    /// above); in_use while a view is outstanding; corrupt if a slot says a length past Max
    /// (that slot is given back, and its message lost).
    using verbs::receive;
    /// receive(records [, deadline]) (bytes_receive_batch_verbs): this receiver's next messages,
    /// as many as are there and fit, at least one (blocking: waits for one), claimed one slot at
    /// a time; the first that does not fit stays this receiver's next (parked, as above;
    /// too_large if that is the first of all). The senders are woken once. A scribbled length
    /// after the first ends the batch, and the next call says corrupt.
    using batch_verbs::receive;

    /// receive_view(), receive_view(deadline) (view_verbs): zero copy: the next message, read in
    /// place; its slot stays taken until the view goes. Waits or fails as receive does. One view
    /// at a time per receiver.
    using views::receive_view;

    /// Lets go now, as destruction would: a parked message's slot and an outstanding view are
    /// given back.
    void close() noexcept {
        drop_parked();
        base::close();
    }

private:
    friend Queue;
    friend queue_handle<Queue>;
    friend verbs;
    friend batch_verbs;
    friend views;
    friend watch_access;
    using base::base;

    /// For a waitset: a parked message makes receive return at once, whatever the ring holds.
    bool watched_ready(bool ask_os) noexcept {
        return (parked_.t.slot != nullptr && this->shared_ != nullptr) || base::watched_ready(ask_os);
    }

    /// A claimed slot whose message this receiver has not taken yet (see above), and its length
    /// as record_length checked it. slot == nullptr: none.
    struct parked {
        ticket t;
        std::size_t length = 0;
    };

    /// bytes_receive_verbs' primitive: take(message) on this receiver's next message, in place.
    /// A message not taken stays parked; one taken frees its slot and wakes the senders.
    template <class Take>
    errc receive_until(Take& take, clock::time_point deadline) noexcept {
        if (this->lent_out()) return errc::in_use;
        if (std::exchange(lost_, false)) return errc::corrupt;
        if (parked_.t.slot != nullptr) {
            const errc e = take(record_bytes(*parked_.t.slot, parked_.length));
            if (e == errc::ok) {
                this->cursor().release(std::exchange(parked_, {}).t);
                this->progress();
            }
            return e;
        }
        return this->run_until(
            [this, &take](auto& cursor) {
                errc e = this->claim(cursor);
                if (e != errc::ok) return e;
                e = take(record_bytes(*parked_.t.slot, parked_.length));
                if (e == errc::ok) cursor.release(std::exchange(parked_, {}).t);  // run_until wakes the senders
                return e;
            },
            deadline);
    }

    /// bytes_receive_batch_verbs' primitive: take(message) on this receiver's next messages, in
    /// place, a parked one first, until one is refused (it stays parked) or none is there now.
    template <class Take>
    errc receive_batch_until(Take& take, std::size_t& got, clock::time_point deadline) noexcept {
        got = 0;
        if (this->lent_out()) return errc::in_use;
        if (std::exchange(lost_, false)) return errc::corrupt;
        if (parked_.t.slot != nullptr) {
            if (const errc e = take(record_bytes(*parked_.t.slot, parked_.length)); e != errc::ok) return e;
            this->cursor().release(std::exchange(parked_, {}).t);
            got = 1;
            take_more(this->cursor(), take, got);
            this->progress();
            return errc::ok;
        }
        return this->run_until([this, &take, &got](auto& cursor) { return this->take_more(cursor, take, got); },
                               deadline);  // run_until wakes the senders on ok
    }

    /// One attempt of a batch: claims and takes messages while there are any and take takes
    /// them (one it refuses stays parked): ok where it took any, else why not.
    template <class Cursor, class Take>
    errc take_more(Cursor& cursor, Take& take, std::size_t& got) noexcept {
        errc e = errc::ok;
        while ((e = claim(cursor)) == errc::ok) {
            if (e = take(record_bytes(*parked_.t.slot, parked_.length)); e != errc::ok) break;
            cursor.release(std::exchange(parked_, {}).t);
            ++got;
        }
        lost_ = got > 0 && e == errc::corrupt;  // its message is lost: the next call says so
        return got > 0 ? errc::ok : e;
    }

    /// Claims the next message into parked_, its length checked: corrupt past Max, and then the
    /// slot is given back (its message cannot be read) and the senders woken.
    template <class Cursor>
    errc claim(Cursor& cursor) noexcept {
        ticket t;
        const errc e = cursor.try_claim(t);
        if (e != errc::ok) return e;
        std::size_t length = 0;
        if (record_length(*t.slot, length) != errc::ok) {
            cursor.release(t);
            this->progress();
            return errc::corrupt;
        }
        parked_ = {t, length};
        return errc::ok;
    }

    result<view_type> view_until(clock::time_point deadline) noexcept {
        if (this->lent_out()) return unexpected(errc::in_use);
        if (std::exchange(lost_, false)) return unexpected(errc::corrupt);
        if (parked_.t.slot == nullptr) {
            const errc e = this->template run_until<false>([this](auto& cursor) { return this->claim(cursor); }, deadline);
            if (e != errc::ok) return unexpected(e);
        }
        const parked p = std::exchange(parked_, {});
        return this->template lend_claimed<view_type>(p.t, p.length);
    }

    /// Gives a parked message's slot back unread, in the process that claimed it (a forked
    /// child's copy of this receiver holds nothing).
    void drop_parked() noexcept {
        if (parked_.t.slot == nullptr) return;
        if (this->shared_ != nullptr && sys::this_pid() == this->me_.pid) {
            this->cursor().release(parked_.t);
            this->progress();
        }
        parked_ = {};
    }

    parked parked_;
    bool lost_ = false;  ///< a batch met a scribbled length after its first message (see receive)
};

}  // namespace ipckit::detail
