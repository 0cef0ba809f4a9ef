#pragma once
// The sending end of every mailbox, whatever its delivery: a mailbox endpoint (endpoint.hpp)
// that publishes under the close protocol (control.hpp). What differs between kinds is named by
// the kind's `sending` policy:
//
//     using cursor = ...;                          the ring's producer cursor
//     static bool attach(cursor&, Box::shared&, std::size_t place, const segment&) noexcept
//                                                  starts the cursor for the sender at roster place
//                                                  `place`; false: inconsistent indices
//     static bool check(cursor&, Box::shared&, const segment&, const sys::process_id& me) noexcept
//                                                  system calls, about once per liveness interval
//                                                  while the mailbox is full: frees what dead
//                                                  processes hold the senders back with; whether
//                                                  it freed (or closed) anything

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/endpoint.hpp>
#include <ipckit/detail/queue/fixed_endpoints.hpp>
#include <ipckit/detail/queue/lending.hpp>
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

/// The sending end of a mailbox. Blocking: send waits while the mailbox is full (broadcast:
/// while the slowest receiver is N messages behind); a deadline or timeout may follow the
/// message. Non-blocking: send returns would_block at once then. Either returns closed once the
/// mailbox is closed (or removed) or its owner has gone; a message that send accepted (ok) is
/// delivered (broadcast: to every receiver attached when it was sent) unless a process_owned
/// mailbox's owner goes. Zero copy: loan() lends the next slot to write in place, loan_n(n)
/// several side by side (one loan at a time; the sender's other verbs are in_use while it is
/// out). Restricted thread-safe: one thread at a time.
template <class Box, mode_policy Mode>
class mailbox_sender
    : public lender<mailbox_endpoint<Box, producer_role, typename Box::sending::cursor, Mode, mailbox_bells<producer_role>>,
                    ring_ticket<typename Box::message_type>>,
      public send_verbs<mailbox_sender<Box, Mode>, typename Box::message_type, Mode>,
      public send_batch_verbs<mailbox_sender<Box, Mode>, typename Box::message_type, Mode>,
      public loan_verbs<mailbox_sender<Box, Mode>, Mode>,
      public loan_n_verbs<mailbox_sender<Box, Mode>, Mode> {
    using T = typename Box::message_type;
    using base = lender<mailbox_endpoint<Box, producer_role, typename Box::sending::cursor, Mode, mailbox_bells<producer_role>>,
                        ring_ticket<T>>;
    using verbs = send_verbs<mailbox_sender, T, Mode>;
    using batch_verbs = send_batch_verbs<mailbox_sender, T, Mode>;
    using loans = loan_verbs<mailbox_sender, Mode>;
    using loans_n = loan_n_verbs<mailbox_sender, Mode>;

public:
    using loan_type = fixed_loan<base, T>;
    using loans_type = fixed_loans<base, T>;

    /// send(m), send(m, deadline) (send_verbs): sends a copy of `m`: ok, or closed (closed,
    /// removed, owner gone: not sent), corrupt. Blocking: waits for room, or timed_out (not sent).
    /// Non-blocking: would_block when full. in_use while a loan is outstanding.
    using verbs::send;
    /// send(span), send(span, deadline) (send_batch_verbs; exclusive, any and round_robin
    /// mailboxes): sends copies of several messages, in order, and returns how many: blocking,
    /// waiting for room until all are sent (fewer if the deadline passes or the mailbox closes
    /// first); non-blocking, as many as fit now. Each attempt claims what fits with one CAS.
    using batch_verbs::send;

    /// loan(), loan(deadline) (loan_verbs): zero copy: lends the next slot to write a message in
    /// place; the loan's commit() sends it
    /// (ok, or closed once the sender has closed), and a loan dropped uncommitted sends nothing.
    /// Waits (blocking) or fails (non-blocking) as send does, with the same results; a loan
    /// granted counts as a send that has begun: a close after it does not refuse its commit
    /// (the mailbox's receivers wait for it, as for any send in progress), and a sender killed
    /// holding it loses that one message. One loan at a time per sender (in_use).
    using loans::loan;
    /// loan_n(n), loan_n(n, deadline) (loan_n_verbs; exclusive, any and round_robin mailboxes):
    /// zero copy, several at once: lends up to n free slots side by side (to the ring's wrap at
    /// most; at least one, waiting or failing as loan() does), claimed with one CAS under the
    /// close protocol as a batch send's run is; commit(m) sends the first m, in order, and the
    /// rest go back as tombstones the receivers skip (see fixed_loans). Granted, it counts as a
    /// send that has begun, as a loan of one does: a close after it does not refuse its commit.
    /// A sender killed holding it loses what it lent, nothing else. invalid_argument for n == 0;
    /// it is this sender's one loan (in_use).
    using loans_n::loan_n;

private:
    friend mailbox_handle<Box>;
    friend verbs;
    friend batch_verbs;
    friend loans;
    friend loans_n;

    mailbox_sender(std::shared_ptr<segment> seg, const options& opt)
        : base(std::move(seg), opt, [](auto& cursor, auto& sh, std::size_t place, const segment& s) {
              return Box::sending::attach(cursor, sh, place, s);
          }) {}

    errc send_until(const T& m, clock::time_point deadline) noexcept {
        return this->lent_out() ? errc::in_use : this->run_sending([&] { return this->publish(m); }, deadline);
    }

    result<loan_type> lend_until(clock::time_point deadline) noexcept {
        return lend_claimed_by<loan_type>([this](ring_ticket<T>& t) { return this->claim(t); }, deadline);
    }

    result<loans_type> lend_n_until(std::size_t n, clock::time_point deadline) noexcept {
        using cursor_type = typename Box::sending::cursor;
        static_assert(requires(cursor_type& c, ring_ticket<T>& t) { c.try_claim_run(std::size_t{1}, t); },
                      "loans of several need a mailbox whose ring claims runs: exclusive, any or round_robin (a "
                      "broadcast mailbox lends one slot a call: loan())");
        if (n == 0) return unexpected(errc::invalid_argument);
        return lend_claimed_by<loans_type>([this, n](ring_ticket<T>& t) { return this->claim_run(n, t); }, deadline);
    }

    /// A loan (Lent) of what claim(ticket) claims under the close protocol, run as a send is
    /// (waiting for room, or one attempt); in_use while one is outstanding.
    template <class Lent, class Claim>
    result<Lent> lend_claimed_by(Claim claim, clock::time_point deadline) noexcept {
        if (this->lent_out()) return unexpected(errc::in_use);
        ring_ticket<T> t;
        const errc e = this->run_sending([&] { return claim(t); }, deadline);
        if (e != errc::ok) return unexpected(e);
        return this->template lend_claimed<Lent>(t);
    }

    errc send_batch_until(std::span<const T> ms, std::size_t& sent, clock::time_point deadline) noexcept {
        using cursor_type = typename Box::sending::cursor;
        static_assert(requires(cursor_type& c, ring_run& r) { c.try_claim_n(std::size_t{1}, r); },
                      "batch sends need a mailbox whose ring claims runs: exclusive, any or round_robin (a "
                      "broadcast mailbox sends one message a call)");
        sent = 0;
        if (ms.empty()) return errc::ok;
        if (this->lent_out()) return errc::in_use;
        return this->run_sending(
            [this, ms, &sent] {
                std::size_t n = 0;
                const errc e = publish_n_unless_closed(this->control(), this->sh().data_bell, this->cursor(),
                                                       ms.data() + sent, ms.size() - sent, n, this->light_fence_);
                if (e != errc::ok) return e;
                sent += n;
                return sent == ms.size() ? errc::ok : errc::would_block;
            },
            deadline);
    }
};

}  // namespace ipckit::detail
