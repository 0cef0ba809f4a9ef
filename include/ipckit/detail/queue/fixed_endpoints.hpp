#pragma once
// The sender and the receiver of a bounded queue of fixed-size messages (detail/queue/fixed.hpp),
// and what they lend for zero copy: a loan (a slot to write in place) and a view (a message
// read in place), one at a time per endpoint (detail/queue/lending.hpp).

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/queue/lending.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <cstddef>
#include <span>

namespace ipckit::detail {

/// A slot of a queue lent to a sender (zero copy), shaped as every loan is (bytes_loan too):
/// write the message in place through data(), then commit(), which returns ok, or closed if
/// the loan is no longer open. Destroyed or abandon()ed uncommitted, it sends nothing.
/// Move-only; an empty (default-constructed, moved-from, committed) loan is false. It follows
/// its sender through a move of either; if the sender is closed or destroyed first, the loan is
/// abandoned and commit() returns closed (detail/queue/lending.hpp).
template <class Lender, class T>
class fixed_loan : public lent<through_endpoint<Lender>> {
    using ends = through_endpoint<Lender>;

public:
    fixed_loan() noexcept = default;

    /// The message to write, in its slot. Only while the loan is open.
    [[nodiscard]] T& data() const noexcept { return *this->held_.slot; }
    /// The bytes lent: sizeof(T), or 0 once the loan is no longer open.
    [[nodiscard]] std::size_t size() const noexcept { return *this ? sizeof(T) : 0; }

    /// Publishes the message: the receivers may take it from now on. closed if the loan is no
    /// longer open.
    status commit() noexcept {
        Lender* sender = this->end();
        if (sender == nullptr) return unexpected(errc::closed);
        ends::publish(*sender, this->held_);
        return {};
    }
    /// Gives the slot back unpublished, as destruction does.
    void abandon() noexcept { this->give_back(); }

private:
    friend Lender;
    fixed_loan(Lender* sender, ring_ticket<T> t) noexcept : lent<ends>(sender, t) {}
};

/// Several slots of a queue lent to a sender at once (zero copy), from sender.loan_n(n): up to n
/// free slots side by side, shaped as every loan is. data() is the slots to write the messages
/// in (a std::span<T>, or where the ring's slots carry more than the message, a range of T
/// indexed and iterated as one), size() how many (data().size()). commit() publishes them all,
/// commit(m) only the first m, in order, with one index publication and one wake-up; the rest
/// go back as an abandoned loan's slot does. Destroyed or abandon()ed uncommitted, it sends
/// nothing. It follows its sender as a loan of one does (detail/queue/lending.hpp).
template <class Lender, class T>
class fixed_loans : public lent<through_endpoint<Lender>> {
    using ends = through_endpoint<Lender>;

public:
    fixed_loans() noexcept = default;

    /// The slots lent, to write in place. Empty once the loan is no longer open.
    [[nodiscard]] auto data() const noexcept {
        using slots = decltype(ends::slots_of(*this->lender_, this->held_));
        return *this ? ends::slots_of(*this->lender_, this->held_) : slots{};
    }
    /// How many slots were lent (0 once the loan is no longer open).
    [[nodiscard]] std::size_t size() const noexcept { return *this ? static_cast<std::size_t>(this->held_.count) : 0; }

    /// Publishes all size() messages. closed if the loan is no longer open.
    status commit() noexcept { return commit(size()); }
    /// Publishes the first m messages, in order, and gives the other slots back: too_large (and
    /// the loan stays open) if m > size(), closed if the loan is no longer open.
    status commit(std::size_t m) noexcept {
        if (!*this) return unexpected(errc::closed);
        if (m > this->held_.count) return unexpected(errc::too_large);
        ends::publish_run(*this->end(), this->held_, m);
        return {};
    }
    /// Gives every slot back unpublished, as destruction does.
    void abandon() noexcept { this->give_back(); }

private:
    friend Lender;
    fixed_loans(Lender* sender, ring_ticket<T> t) noexcept : lent<ends>(sender, t) {}
};

/// A message read in place (zero copy), shaped as every view is (bytes_view too): data() is
/// valid while the view is open; its slot goes back to the senders when the view is destroyed
/// or release()d. Move-only; an empty (default-constructed, moved-from, released) view is
/// false. It follows its receiver through a move of either; if the receiver is closed or
/// destroyed first, the view is released (detail/queue/lending.hpp).
template <class Lender, class T>
class fixed_view : public lent<through_endpoint<Lender>> {
    using ends = through_endpoint<Lender>;

public:
    fixed_view() noexcept = default;

    /// The message, in its slot. Only while the view is open.
    [[nodiscard]] const T& data() const noexcept { return *this->held_.slot; }
    /// The message's bytes: sizeof(T), or 0 once released.
    [[nodiscard]] std::size_t size() const noexcept { return *this ? sizeof(T) : 0; }

    /// Gives the slot back now, as destruction does.
    void release() noexcept { this->give_back(); }

private:
    friend Lender;
    fixed_view(Lender* receiver, ring_ticket<const T> t) noexcept : lent<ends>(receiver, t) {}
};

/// The sending end of a queue. Blocking: send waits while the queue is full (a deadline or
/// timeout may follow the message). Non-blocking: send returns would_block at once. Closing
/// (close() or destruction) tells the receivers, which get `closed` once every sender has
/// closed and they have taken every message; an outstanding loan is abandoned then.
template <class Queue, mode_policy Mode>
class fixed_sender
    : public lender<endpoint<Queue, producer_role, typename Queue::shared::producer_type, Mode>,
                    ring_ticket<typename Queue::message_type>>,
      public send_verbs<fixed_sender<Queue, Mode>, typename Queue::message_type, Mode>,
      public send_batch_verbs<fixed_sender<Queue, Mode>, typename Queue::message_type, Mode>,
      public loan_verbs<fixed_sender<Queue, Mode>, Mode>,
      public loan_n_verbs<fixed_sender<Queue, Mode>, Mode> {
    using T = typename Queue::message_type;
    using base = lender<endpoint<Queue, producer_role, typename Queue::shared::producer_type, Mode>, ring_ticket<T>>;
    using verbs = send_verbs<fixed_sender, T, Mode>;
    using batch_verbs = send_batch_verbs<fixed_sender, T, Mode>;
    using loans = loan_verbs<fixed_sender, Mode>;
    using loans_n = loan_n_verbs<fixed_sender, Mode>;

public:
    using loan_type = fixed_loan<base, T>;
    using loans_type = fixed_loans<base, T>;

    /// send(m), send(m, deadline) (send_verbs): sends a copy of `m`. Blocking: waits for room,
    /// then ok; or timed_out (not sent), closed / peer_dead (every receiver is gone and the queue
    /// is full), corrupt. Non-blocking: ok, would_block, closed or corrupt, at once. in_use while
    /// a loan is outstanding.
    using verbs::send;
    /// send(span), send(span, deadline) (send_batch_verbs): sends copies of several messages, in
    /// order, and returns how many: blocking, waiting for room until all are sent (fewer if the
    /// deadline passes or every receiver is gone first); non-blocking, as many as fit now. Each
    /// attempt publishes what fits with one index publication and rings the bell at most once.
    using batch_verbs::send;

    /// loan(), loan(deadline) (loan_verbs): zero copy: lends the next slot to write a message in
    /// place; commit() the loan to send it. Waits (blocking) or fails (non-blocking) as send
    /// does. One loan at a time per sender.
    using loans::loan;
    /// loan_n(n), loan_n(n, deadline) (loan_n_verbs): zero copy, several at once: lends up to n
    /// free slots side by side (to the ring's wrap at most; at least one, waiting or failing as
    /// loan() does) to write messages in place; commit(m) sends the first m (see fixed_loans).
    /// invalid_argument for n == 0. It is this sender's one loan (in_use).
    using loans_n::loan_n;

private:
    friend Queue;
    friend queue_handle<Queue>;
    friend verbs;
    friend batch_verbs;
    friend loans;
    friend loans_n;
    using base::base;

    result<loan_type> lend_until(clock::time_point deadline) noexcept {
        return this->template lend<loan_type>([&](auto op) { return this->template run_until<false>(op, deadline); });
    }
    result<loans_type> lend_n_until(std::size_t n, clock::time_point deadline) noexcept {
        if (n == 0) return unexpected(errc::invalid_argument);
        return this->template lend_by<loans_type>(
            [n](auto& cursor, ring_ticket<T>& t) { return cursor.try_claim_run(n, t); },
            [&](auto op) { return this->template run_until<false>(op, deadline); });
    }

    errc send_until(const T& m, clock::time_point deadline) noexcept {
        return this->lent_out() ? errc::in_use : this->run_until(push(m), deadline);
    }

    errc send_batch_until(std::span<const T> ms, std::size_t& sent, clock::time_point deadline) noexcept {
        sent = 0;
        if (ms.empty()) return errc::ok;  // nothing to send, whatever else is out: as every kind
        if (this->lent_out()) return errc::in_use;
        // Each attempt publishes what fits and wakes the receivers once; it would_block until
        // the rest is sent, so a blocking send waits for room as a single send does.
        return this->run_batch_until(
            [this, ms, &sent](auto& cursor) noexcept {
                std::size_t n = 0;
                const errc e = cursor.try_push_n(ms.data() + sent, ms.size() - sent, n);
                if (e != errc::ok) return e;
                sent += n;
                this->progress();
                return sent == ms.size() ? errc::ok : errc::would_block;
            },
            sent, deadline);
    }

    static auto push(const T& m) noexcept {
        return [&m](auto& cursor) { return cursor.try_push(m); };
    }
};

/// The receiving end of a queue. Blocking: receive waits for a message (a deadline or timeout
/// may be given). Non-blocking: receive returns would_block at once. Either way it returns
/// closed or peer_dead only after every message the senders sent has been received. Closing
/// releases an outstanding view.
template <class Queue, mode_policy Mode>
class fixed_receiver
    : public lender<endpoint<Queue, consumer_role, typename Queue::shared::consumer_type, Mode>,
                    ring_ticket<const typename Queue::message_type>>,
      public receive_verbs<fixed_receiver<Queue, Mode>, typename Queue::message_type, Mode>,
      public receive_batch_verbs<fixed_receiver<Queue, Mode>, typename Queue::message_type, Mode>,
      public view_verbs<fixed_receiver<Queue, Mode>, Mode> {
    using T = typename Queue::message_type;
    using base = lender<endpoint<Queue, consumer_role, typename Queue::shared::consumer_type, Mode>, ring_ticket<const T>>;
    using verbs = receive_verbs<fixed_receiver, T, Mode>;
    using batch_verbs = receive_batch_verbs<fixed_receiver, T, Mode>;
    using views = view_verbs<fixed_receiver, Mode>;

public:
    using view_type = fixed_view<base, T>;

    /// receive(), receive(deadline), receive(out), receive(out, deadline) (receive_verbs):
    /// receives a copy of the oldest message. Blocking: waits for one; closed or peer_dead once
    /// the senders have gone and the queue is empty; timed_out. Non-blocking: would_block when
    /// empty. in_use while a view is outstanding.
    using verbs::receive;
    /// receive(span), receive(span, deadline) (receive_batch_verbs): takes copies of up to
    /// span.size() of the oldest messages, at least one (blocking: waits for one), and returns
    /// how many; their slots go back with one index publication and one wake-up.
    using batch_verbs::receive;

    /// receive_view(), receive_view(deadline) (view_verbs): zero copy: the oldest message, read
    /// in place; its slot stays taken until the view goes. Waits or fails as receive does. One
    /// view at a time per receiver.
    using views::receive_view;

private:
    friend Queue;
    friend queue_handle<Queue>;
    friend verbs;
    friend batch_verbs;
    friend views;
    using base::base;

    result<view_type> view_until(clock::time_point deadline) noexcept {
        return this->template lend<view_type>([&](auto op) { return this->template run_until<false>(op, deadline); });
    }

    errc receive_until(T& out, clock::time_point deadline) noexcept {
        return this->lent_out() ? errc::in_use : this->run_until(pop(out), deadline);
    }

    errc receive_batch_until(std::span<T> out, std::size_t& got, clock::time_point deadline) noexcept {
        got = 0;
        if (out.empty()) return errc::ok;  // as send_batch_until
        if (this->lent_out()) return errc::in_use;
        return this->run_until([out, &got](auto& cursor) noexcept { return cursor.try_pop_n(out.data(), out.size(), got); },
                               deadline);
    }

    static auto pop(T& out) noexcept {
        return [&out](auto& cursor) { return cursor.try_pop(out); };
    }
};

}  // namespace ipckit::detail
