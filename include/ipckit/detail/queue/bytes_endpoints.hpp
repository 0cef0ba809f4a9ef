#pragma once
// The sender and the receiver of a bounded queue of bytes<Max> (detail/queue/bytes.hpp), and
// what they lend for zero copy: a loan (room in the ring to write a message in place) and a
// view (a message read in place); a loan of room for several messages is in
// bytes_records_loan.hpp. All go back straight to the ring, not through their endpoint, so
// that a move of the endpoint leaves them be; the endpoint keeps track of the one it lent all
// the same, and ends it when it closes first (detail/queue/lending.hpp: lending_endpoint).

#include <ipckit/detail/endpoint/bytes_verbs.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/queue/bytes_layout.hpp>
#include <ipckit/detail/queue/bytes_records_loan.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/queue/lending.hpp>
#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// The Ends of room lent from a byte ring for a message written in place: what a loan holds is
/// its reservation and its sender's pending word, and it goes back straight to the ring (as a
/// skip record, with many senders).
template <class Queue>
struct bytes_loan_ends {
    using lender = typename Queue::shared;
    struct held {
        bytes_reservation r;
        std::atomic<std::uint64_t>* pending = nullptr;
        bool light_fence = false;
    };

    static void give_back(lender& sh, const held& h) noexcept {
        lender::producer_type::abandon(sh.ring, *h.pending, h.r);
        if constexpr (lender::multi_producer) sh.data_bell.notify(h.light_fence);  // a skip record to pass
    }
};

/// A message being written in place, from sender.loan(n). Move-only. data() is n bytes of the
/// ring; commit() publishes them, commit(k) only the first k. Destroyed uncommitted, it gives
/// the room back (many senders: as a record the receiver skips). Its sender ends it if it closes
/// first (detail/queue/lending.hpp).
template <class Queue>
class bytes_loan : public lent<bytes_loan_ends<Queue>> {
    using ends = bytes_loan_ends<Queue>;
    using shared = typename Queue::shared;
    using producer = typename shared::producer_type;

public:
    /// An empty loan: nothing to write, commit() returns closed.
    bytes_loan() noexcept = default;

    /// The bytes to write: size() of them, in the ring. Empty once committed or abandoned.
    [[nodiscard]] std::span<std::byte> data() const noexcept {
        if (!*this) return {};
        return {this->lender_->ring.payload(this->held_.r.pos), static_cast<std::size_t>(this->held_.r.capacity)};
    }
    /// How many bytes were lent (0 once committed or abandoned).
    [[nodiscard]] std::size_t size() const noexcept {
        return *this ? static_cast<std::size_t>(this->held_.r.capacity) : 0;
    }

    /// Publishes all size() bytes. closed if the loan is no longer open.
    status commit() noexcept { return commit(size()); }
    /// Publishes the first `length` bytes: too_large (and the loan stays open) if length > size(),
    /// closed if the loan is no longer open.
    status commit(std::size_t length) noexcept {
        if (!*this) return unexpected(errc::closed);
        if (length > this->held_.r.capacity) return unexpected(errc::too_large);
        shared& sh = *this->end();
        producer::commit(sh.ring, *this->held_.pending, this->held_.r, length);
        sh.data_bell.notify(this->held_.light_fence);
        return {};
    }
    /// Gives the room back unpublished, as destruction does.
    void abandon() noexcept { this->give_back(); }

private:
    template <class Q, mode_policy M>
    friend class bytes_sender;
    bytes_loan(shared* sh, const typename ends::held& h) noexcept : lent<ends>(sh, h) {}
};

/// The Ends of a message of a byte ring read in place: what a view holds is the record found,
/// and it goes back straight to the ring.
template <class Queue>
struct bytes_view_ends {
    using lender = typename Queue::shared;
    struct held {
        bytes_found found;
        bool light_fence = false;
    };

    static void give_back(lender& sh, const held& h) noexcept {
        lender::consumer_type::release(sh.ring, h.found);
        sh.space_bell.notify(h.light_fence);
    }
};

/// A message being read in place, from receiver.receive_view(). Move-only. data() stays valid,
/// and the bytes are not reused, until the view is released (destroyed, or release()). Its
/// receiver releases it if it closes first (detail/queue/lending.hpp).
template <class Queue>
class bytes_view : public lent<bytes_view_ends<Queue>> {
    using ends = bytes_view_ends<Queue>;
    using shared = typename Queue::shared;

public:
    /// An empty view.
    bytes_view() noexcept = default;

    /// The message, in the ring. Empty once released.
    [[nodiscard]] std::span<const std::byte> data() const noexcept {
        if (!*this) return {};
        return {this->lender_->ring.payload(this->held_.found.pos), static_cast<std::size_t>(this->held_.found.length)};
    }
    /// The message as characters.
    [[nodiscard]] std::string_view text() const noexcept {
        const auto d = data();
        return {reinterpret_cast<const char*>(d.data()), d.size()};
    }
    [[nodiscard]] std::size_t size() const noexcept {
        return *this ? static_cast<std::size_t>(this->held_.found.length) : 0;
    }

    /// Lets the ring reuse the message's bytes, as destruction does.
    void release() noexcept { this->give_back(); }

private:
    template <class Q, mode_policy M>
    friend class bytes_receiver;
    bytes_view(shared* sh, const typename ends::held& h) noexcept : lent<ends>(sh, h) {}
};

/// The cursor of a byte queue's side `Role`.
template <class Queue, class Role>
using bytes_cursor = std::conditional_t<std::same_as<Role, producer_role>, typename Queue::shared::producer_type,
                                        typename Queue::shared::consumer_type>;

/// What both ends of a byte queue are: a ring endpoint with its role's cursor, which wakes the
/// other side for records it published or freed on the way to no message, and which keeps track
/// of what it lent (Lent: its loan's or its view's Ends).
template <class Queue, class Role, mode_policy Mode, class Lent>
class bytes_endpoint : public lending_endpoint<endpoint<Queue, Role, bytes_cursor<Queue, Role>, Mode>, Lent> {
    using base = lending_endpoint<endpoint<Queue, Role, bytes_cursor<Queue, Role>, Mode>, Lent>;

protected:
    using base::base;

    /// After an attempt: a wrap marker published (a sender) or skip records freed (the
    /// receiver) on the way are progress the other side may sleep on although no message came
    /// of it, so it is woken here, unless the endpoint wakes it already (after a success, when
    /// woken_on_ok).
    void wake_after(errc e, bool woken_on_ok, auto& cursor) noexcept {
        if (cursor.take_progress() && (e != errc::ok || !woken_on_ok)) this->progress();
    }
};

/// The sending end of a byte queue. Blocking: send and loan wait for room (a deadline or
/// timeout may follow). Non-blocking: they return would_block at once. A message longer than
/// Queue::max_message is too_large at once, in either mode. Closing (close() or destruction)
/// tells the receiver, which gets `closed` once every sender has closed and it has taken every
/// message; it abandons the sender's outstanding loan, if any.
template <class Queue, mode_policy Mode>
class bytes_sender : public bytes_endpoint<Queue, producer_role, Mode, bytes_loan_ends<Queue>>,
                     public bytes_send_verbs<bytes_sender<Queue, Mode>, Queue::max_message, Mode>,
                     public bytes_send_batch_verbs<bytes_sender<Queue, Mode>, Queue::max_message, Mode>,
                     public loan_verbs<bytes_sender<Queue, Mode>, Mode, std::size_t>,
                     public bytes_loan_records_verbs<bytes_sender<Queue, Mode>, Mode> {
    using base = bytes_endpoint<Queue, producer_role, Mode, bytes_loan_ends<Queue>>;
    using verbs = bytes_send_verbs<bytes_sender, Queue::max_message, Mode>;
    using batch_verbs = bytes_send_batch_verbs<bytes_sender, Queue::max_message, Mode>;
    using loans = loan_verbs<bytes_sender, Mode, std::size_t>;
    using records_loans = bytes_loan_records_verbs<bytes_sender, Mode>;
    using held = typename bytes_loan_ends<Queue>::held;

public:
    using loan_type = bytes_loan<Queue>;
    using records_loan_type = bytes_records_loan<Queue>;

    /// send(m [, deadline]) with m a std::span<const std::byte> or std::string_view
    /// (bytes_send_verbs): sends a copy of m's bytes. Blocking: waits for room, then ok; or
    /// timed_out (not sent), closed / peer_dead (the receiver is gone and the ring is full),
    /// corrupt. Non-blocking: ok, would_block, closed or corrupt, at once. Either: too_large at
    /// once if m is longer than Queue::max_message; in_use while a loan of this sender is
    /// outstanding.
    using verbs::send;
    /// send(spans [, deadline]), send(records [, deadline]) (bytes_send_batch_verbs): sends
    /// copies of several messages, in order, and returns how many: blocking, waiting for room
    /// until all are sent (fewer if the deadline passes or the receiver is gone first);
    /// non-blocking, as many as fit now. too_large at once, nothing sent, if any is longer than
    /// Queue::max_message. Each attempt publishes what fits with one index publication (one
    /// claim per run of the ring, with many senders) and wakes the receiver once.
    using batch_verbs::send;

    /// loan(n), loan(n, deadline) (loan_verbs): zero copy: lends `n` bytes of the ring to write
    /// a message in place (see bytes_loan); commit the loan to send it. Waits (blocking) or fails
    /// (non-blocking) as send does; too_large at once if n > Queue::max_message. One loan at a
    /// time per sender.
    using loans::loan;
    /// loan_records(budget), loan_records(budget, deadline) (bytes_loan_records_verbs): zero
    /// copy, several messages at once: lends up to `budget` bytes of the ring, side by side, to
    /// write messages in place one after another and send them together with one publication
    /// (see bytes_records_loan). It lends at least min(budget, the record of a message of
    /// Queue::max_message bytes: 8 + max_message rounded up to 8), and more, up to budget, as is
    /// free now before the end of the ring; it waits (blocking) or fails (non-blocking) for that
    /// least as loan does. invalid_argument at once for a budget of 0, too_large for one under 8
    /// (not even an empty message's record). Budget is counted as the ring counts: each message
    /// takes 8 bytes and its length rounded up to 8. One loan at a time per sender: in_use while
    /// one of either kind is outstanding.
    using records_loans::loan_records;

private:
    friend Queue;
    friend queue_handle<Queue>;
    friend verbs;
    friend batch_verbs;
    friend loans;
    friend records_loans;
    using base::base;

    /// bytes_send_batch_verbs' primitive: each attempt sends what fits and wakes the receiver
    /// once; it would_block until the rest is sent, so a blocking send waits for room as a
    /// single send does.
    template <class It>
    errc send_batch_until(It& next, It end, std::size_t& sent, clock::time_point deadline) noexcept {
        return this->run_batch_until(
            [this, &next, end, &sent](auto& cursor) noexcept {
                std::size_t n = 0;
                const errc e = cursor.try_send_n(next, end, n);
                this->wake_after(e, n > 0, cursor);
                if (e != errc::ok) return e;
                sent += n;
                if (n > 0) this->progress();
                return next == end ? errc::ok : errc::would_block;
            },
            sent, deadline);
    }

    /// bytes_send_verbs' primitive.
    errc send_until(std::span<const std::byte> m, clock::time_point deadline) noexcept {
        return this->run_until(push(m), deadline);
    }

    auto push(std::span<const std::byte> m) noexcept {
        return [this, m](auto& cursor) {
            const errc e = cursor.try_send(m.data(), m.size());
            this->wake_after(e, true, cursor);
            return e;
        };
    }

    result<loan_type> lend_until(std::size_t n, clock::time_point deadline) noexcept {
        if (!Queue::fits(n)) return unexpected(errc::too_large);
        return lend<loan_type>([n](auto& cursor, bytes_reservation& r) { return cursor.try_loan(n, r); }, deadline);
    }

    result<records_loan_type> lend_records_until(std::size_t budget, clock::time_point deadline) noexcept {
        if (budget == 0) return unexpected(errc::invalid_argument);
        if (budget < bytes_record::header) return unexpected(errc::too_large);
        // In the ring's units (8 bytes), within one lap.
        const std::uint64_t most = std::min<std::uint64_t>(budget, Queue::capacity) / bytes_record::header * bytes_record::header;
        const std::uint64_t least = std::min(most, bytes_record::size_for(Queue::max_message));
        return lend<records_loan_type>(
            [least, most](auto& cursor, bytes_reservation& r) { return cursor.try_loan_run(least, most, r); }, deadline);
    }

    /// Runs claim(cursor, reservation) as this sender's verb (waiting or not as it does), and
    /// lends what it reserved as a `Loan`, which this sender keeps track of. The cursor says
    /// in_use while one is outstanding.
    template <class Loan, class Claim>
    result<Loan> lend(Claim claim, clock::time_point deadline) noexcept {
        bytes_reservation r;
        std::atomic<std::uint64_t>* pending = nullptr;
        const errc e = this->template run_until<false>(
            [this, &claim, &r, &pending](auto& cursor) {
                const errc got = claim(cursor, r);
                if (got == errc::ok) pending = &cursor.pending();
                this->wake_after(got, false, cursor);
                return got;
            },
            deadline);
        if (e != errc::ok) return unexpected(e);
        if constexpr (std::is_same_v<Loan, loan_type>) {
            return this->template lend_in_place<Loan>(this->shared_, r, pending, this->light_fence_);
        } else {  // a loan of records has state of its own
            result<Loan> out = Loan(this->shared_, held{r, pending, this->light_fence_});
            this->keep(*out);
            return out;
        }
    }
};

/// The receiving end of a byte queue. Blocking: the verbs wait for a message (a deadline or
/// timeout may be given). Non-blocking: they return would_block at once. Either way they
/// return closed or peer_dead only after every message the senders sent has been received.
/// Closing (close() or destruction) releases its outstanding view, if any.
template <class Queue, mode_policy Mode>
class bytes_receiver : public bytes_endpoint<Queue, consumer_role, Mode, bytes_view_ends<Queue>>,
                       public bytes_receive_verbs<bytes_receiver<Queue, Mode>, Mode>,
                       public bytes_receive_batch_verbs<bytes_receiver<Queue, Mode>, Mode>,
                       public view_verbs<bytes_receiver<Queue, Mode>, Mode> {
    using base = bytes_endpoint<Queue, consumer_role, Mode, bytes_view_ends<Queue>>;
    using verbs = bytes_receive_verbs<bytes_receiver, Mode>;
    using batch_verbs = bytes_receive_batch_verbs<bytes_receiver, Mode>;
    using views = view_verbs<bytes_receiver, Mode>;
    using shared = typename Queue::shared;

public:
    using view_type = bytes_view<Queue>;

    /// receive(buffer [, deadline]) -> length, receive([deadline]) -> vector
    /// (bytes_receive_verbs): the oldest message. If it is longer than the buffer: too_large,
    /// and the message stays first in the queue, so that a bigger buffer can take it (the vector
    /// always fits; no_space if it cannot be allocated, and the message stays). Blocking: waits
    /// for a message; closed or peer_dead once the senders have gone and the queue is empty;
    /// timed_out. Non-blocking: would_block when empty. in_use while a view is outstanding;
    /// corrupt if the ring is damaged.
    using verbs::receive;
    /// receive(records [, deadline]) (bytes_receive_batch_verbs): the oldest messages, as many
    /// as are there and fit, at least one (blocking: waits for one); the first that does not fit
    /// stays first in the queue (too_large if that is the first of all). Their bytes go back to
    /// the senders with one index publication and one wake-up.
    using batch_verbs::receive;

    /// receive_view(), receive_view(deadline) (view_verbs): zero copy: the oldest message, read
    /// in place (see bytes_view). It counts as received; its bytes stay until the view goes.
    /// Waits or fails as receive does. One view at a time per receiver.
    using views::receive_view;

private:
    friend Queue;
    friend queue_handle<Queue>;
    friend verbs;
    friend batch_verbs;
    friend views;
    using base::base;

    /// bytes_receive_batch_verbs' primitive: take(message) on the messages there are, in place,
    /// until one is refused (it stays first); those taken are freed at once, and the senders
    /// woken once (run_until, on ok).
    template <class Take>
    errc receive_batch_until(Take& take, std::size_t& got, clock::time_point deadline) noexcept {
        return run_recovering(
            [this, &take, &got](auto& cursor) {
                const errc e = cursor.take_n(take, got);
                this->wake_after(e, true, cursor);
                return e;
            },
            deadline);
    }

    /// bytes_receive_verbs' primitive: take(message) on the oldest message, in place; consumed
    /// if take returns ok, left first otherwise.
    template <class Take>
    errc receive_until(Take& take, clock::time_point deadline) noexcept {
        return run_recovering(taking(true,
                                     [&take](auto& cursor, const bytes_found& f) {
                                         const errc e = take(std::span<const std::byte>(
                                             cursor.payload(f), static_cast<std::size_t>(f.length)));
                                         if (e == errc::ok) cursor.consume(f);
                                         return e;
                                     }),
                              deadline);
    }

    /// run(op), and for a non-blocking receiver of many senders one more thing: a blocking
    /// receiver skips the record of a sender that died between reserving and committing it
    /// (the endpoint's wait loop calls recover()), but a non-blocking one never waits. So when
    /// it would block on such a record, it asks too, at most once per liveness interval (a
    /// clock read while stalled; the system calls only then). Never on its fast path.
    template <bool Progress = true, class Op>
    errc run_recovering(Op&& op, clock::time_point deadline = clock::time_point::max()) noexcept {
        errc e = this->template run_until<Progress>(op, deadline);
        if constexpr (std::same_as<Mode, non_blocking> && shared::multi_producer) {
            if (e == errc::would_block && this->cursor().stalled()) {
                const auto now = clock::now();
                if (now >= next_recovery_) {
                    next_recovery_ = now + this->liveness_;
                    if (this->cursor().recover([this](std::uint64_t p) { return this->shared_->senders.live_claimant(p); }))
                        e = this->template run<Progress>(op);
                }
            }
        }
        return e;
    }

    /// An attempt that runs take(cursor, found) on the message at the head, if there is one, and
    /// then wakes the senders for skip records freed on the way (wake_after).
    template <class Take>
    auto taking(bool woken_on_ok, Take take) noexcept {
        return [this, woken_on_ok, take](auto& cursor) mutable {
            bytes_found f;
            errc e = cursor.peek(f);
            if (e == errc::ok) e = take(cursor, f);
            this->wake_after(e, woken_on_ok, cursor);
            return e;
        };
    }

    result<view_type> view_until(clock::time_point deadline) noexcept {
        bytes_found held;
        const errc e = run_recovering<false>(taking(false,
                                                    [&held](auto& cursor, const bytes_found& f) {
                                                        cursor.hold(f);
                                                        held = f;
                                                        return errc::ok;
                                                    }),
                                             deadline);
        if (e != errc::ok) return unexpected(e);
        return this->template lend_in_place<view_type>(this->shared_, held, this->light_fence_);
    }

    clock::time_point next_recovery_{};
};

}  // namespace ipckit::detail
