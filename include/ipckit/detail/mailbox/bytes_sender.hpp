#pragma once
// The sending end of a mailbox of variable-size messages, bytes<Max>, whose slots are records
// (detail/ring/record.hpp): the mailbox sender's close protocol and checks (sender.hpp, with the
// kind's `sending` policy), the verbs of every bytes sender (detail/endpoint/bytes_verbs.hpp),
// and loans of n bytes of a slot to write a message in place (detail/queue/record_lending.hpp).
// Only the message's own bytes are written into its slot, never the whole slot.

#include <ipckit/detail/endpoint/bytes_verbs.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/mailbox/endpoint.hpp>
#include <ipckit/detail/queue/lending.hpp>
#include <ipckit/detail/queue/record_lending.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <cstddef>
#include <iterator>
#include <memory>
#include <span>
#include <utility>

namespace ipckit::detail {

/// The sending end of a mailbox of bytes<Max>. Blocking: send waits while the mailbox is full;
/// a deadline or timeout may follow the message. Non-blocking: would_block at once then. A
/// message longer than Max is too_large at once, nothing sent. Either returns closed once the
/// mailbox is closed (or removed) or its owner has gone; a message that send accepted (ok) is
/// delivered unless a process_owned mailbox's owner goes. Zero copy: loan(n) lends n bytes of
/// the next slot (one loan at a time; the sender's other verbs are in_use while it is out).
/// Restricted thread-safe: one thread at a time.
template <class Box, mode_policy Mode>
class mailbox_bytes_sender
    : public lender<mailbox_endpoint<Box, producer_role, typename Box::sending::cursor, Mode, mailbox_bells<producer_role>>,
                    ring_ticket<typename Box::message_type>>,
      public bytes_send_verbs<mailbox_bytes_sender<Box, Mode>, Box::message_type::max, Mode>,
      public bytes_send_batch_verbs<mailbox_bytes_sender<Box, Mode>, Box::message_type::max, Mode>,
      public loan_verbs<mailbox_bytes_sender<Box, Mode>, Mode, std::size_t> {
    using slot = typename Box::message_type;  // record<Max>
    static constexpr std::size_t Max = slot::max;
    using base = lender<mailbox_endpoint<Box, producer_role, typename Box::sending::cursor, Mode, mailbox_bells<producer_role>>,
                        ring_ticket<slot>>;
    using verbs = bytes_send_verbs<mailbox_bytes_sender, Max, Mode>;
    using batch_verbs = bytes_send_batch_verbs<mailbox_bytes_sender, Max, Mode>;
    using loans = loan_verbs<mailbox_bytes_sender, Mode, std::size_t>;

public:
    using loan_type = record_loan<base, Max>;

    /// send(span [, deadline]), send(string_view [, deadline]) (bytes_send_verbs): sends a copy
    /// of the message: ok, or too_large (over Max: nothing sent), closed (closed, removed, owner
    /// gone: not sent), corrupt. Blocking: waits for room, or timed_out (not sent). Non-blocking:
    /// would_block when full. in_use while a loan is outstanding.
    using verbs::send;
    /// send(spans [, deadline]), send(records [, deadline]) (bytes_send_batch_verbs): sends
    /// copies of several messages, in order, and returns how many (fewer than all: the deadline
    /// passed, the mailbox closed part way, or, non-blocking, it filled); too_large at once,
    /// nothing sent, if any is longer than Max. Each attempt claims a run of slots (one claim
    /// and one look at the state; broadcast: a slot at a time) and wakes the receivers once.
    using batch_verbs::send;

    /// loan(n), loan(n, deadline) (loan_verbs): zero copy: lends n bytes (n <= Max, else
    /// too_large) of the next slot to write a message in place; the loan's commit() (all n) or commit(k) (the first k) sends it, and a loan
    /// dropped uncommitted sends nothing. Waits (blocking) or fails (non-blocking) as send does;
    /// a loan granted counts as a send that has begun: a close after it does not refuse its
    /// commit (the mailbox's receivers wait for it, as for any send in progress), and a sender
    /// killed holding it loses that one message. One loan at a time per sender (in_use).
    using loans::loan;

private:
    friend mailbox_handle<Box>;
    friend verbs;
    friend batch_verbs;
    friend loans;

    mailbox_bytes_sender(std::shared_ptr<segment> seg, const options& opt)
        : base(std::move(seg), opt, [](auto& cursor, auto& sh, std::size_t place, const segment& s) {
              return Box::sending::attach(cursor, sh, place, s);
          }) {}

    /// bytes_send_verbs' primitive; m is at most Max bytes there.
    errc send_until(std::span<const std::byte> m, clock::time_point deadline) noexcept {
        if (this->lent_out()) return errc::in_use;
        return this->run_sending([&] { return this->template publish_in_place<slot>([m](slot& r) noexcept { write_record(r, m); }); },
                   deadline);
    }

    /// bytes_send_batch_verbs' primitive: each attempt sends what fits, a run of slots under one
    /// claim and one look at the state (two where the ring wraps; a slot at a time where the ring
    /// lends no runs: broadcast), and wakes the receivers once; it would_block until the rest is
    /// sent.
    template <class It>
    errc send_batch_until(It& next, It end, std::size_t& sent, clock::time_point deadline) noexcept {
        if (this->lent_out()) return errc::in_use;
        return this->run_sending(
            [this, &next, end, &sent] {
                std::size_t n = 0;
                errc e = errc::ok;
                while (next != end) {
                    ring_ticket<slot> t;
                    if constexpr (record_run_producer<typename Box::sending::cursor, Max>) {
                        if (e = this->claim_run(static_cast<std::size_t>(std::distance(next, end)), t); e != errc::ok)
                            break;
                        write_records<Max>(this->cursor(), t, next);
                        this->cursor().commit_run(t, t.count);
                    } else {
                        if (e = this->claim(t); e != errc::ok) break;
                        write_record(*t.slot, *next);
                        ++next;
                        this->cursor().commit(t);
                    }
                    n += static_cast<std::size_t>(t.count);
                }
                if (n == 0) return e;
                sent += n;
                this->progress();
                return next == end ? errc::ok : errc::would_block;
            },
            deadline);
    }

    result<loan_type> lend_until(std::size_t n, clock::time_point deadline) noexcept {
        if (n > Max) return unexpected(errc::too_large);
        if (this->lent_out()) return unexpected(errc::in_use);
        ring_ticket<slot> t;
        const errc e = this->run_sending([&] { return this->claim(t); }, deadline);
        if (e != errc::ok) return unexpected(e);
        return this->template lend_claimed<loan_type>(t, n);
    }
};

}  // namespace ipckit::detail
