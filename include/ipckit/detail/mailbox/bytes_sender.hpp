#pragma once
// The sending end of a mailbox of bytes<Max>, whatever its delivery: its ring's slots are
// record<Max> (detail/ring/record.hpp, detail/mailbox/slots.hpp), a send writes only the
// message's own bytes into the slot it claims, and a loan lends n bytes of that slot to write
// in place. Both claim under the close protocol (control.hpp: claim_unless_closed), so a
// message is accepted at its claim: a send racing the close returns ok (received) or closed
// (nothing sent), and a loan granted before the close is received once committed.

#include <ipckit/detail/endpoint/bytes_verbs.hpp>
#include <ipckit/detail/mailbox/sender.hpp>
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

/// The sending end of a mailbox of bytes<Max> (Box::message_type is record<Max>). Blocking: send
/// and loan wait while the mailbox is full (broadcast: while the slowest receiver is a ring
/// behind); a deadline or timeout may follow. Non-blocking: would_block at once then. Either
/// returns closed once the mailbox is closed (or removed); a message longer than Max is too_large
/// at once, nothing sent. An outstanding loan makes the other verbs in_use; closing the sender
/// abandons it. Restricted thread-safe: one thread at a time.
template <class Box, mode_policy Mode>
class mailbox_bytes_sender
    : public lender<mailbox_sending_end<Box, Mode>, ring_ticket<typename Box::message_type>>,
      public bytes_send_verbs<mailbox_bytes_sender<Box, Mode>, Box::message_type::max, Mode> {
    using slot = typename Box::message_type;
    static_assert(is_record<slot>, "mailbox_bytes_sender: the mailbox's slots must be record<Max>");
    static constexpr std::size_t max = slot::max;
    using base = lender<mailbox_sending_end<Box, Mode>, ring_ticket<slot>>;
    using verbs = bytes_send_verbs<mailbox_bytes_sender, max, Mode>;

public:
    using loan_type = record_loan<base, max>;

    /// send(span [, deadline]), send(string_view [, deadline]) (bytes_send_verbs): sends a copy
    /// of the message: ok, or too_large (longer than Max), closed (closed or removed: not sent),
    /// in_use (a loan is outstanding), corrupt. Blocking: waits for room, or timed_out (not
    /// sent). Non-blocking: would_block when full.
    using verbs::send;

    /// Zero copy: lends n bytes of the next slot to write a message in place; commit() (or
    /// commit(k), k <= n) sends it, to every receiver as a send would. too_large at once if
    /// n > Max; otherwise waits (blocking) or fails (non-blocking) as send does, and closed if
    /// the mailbox closes first. One loan at a time per sender.
    result<loan_type> loan(std::size_t n) noexcept { return loan_until(n, clock::time_point::max()); }
    template <deadline D>
    result<loan_type> loan(std::size_t n, D deadline) noexcept {
        return loan_until(n, blocking_deadline<Mode>(deadline));
    }

private:
    friend mailbox_handle<Box>;
    friend verbs;

    mailbox_bytes_sender(std::shared_ptr<segment> seg, const options& opt) : base(std::move(seg), opt) {}

    errc send_until(std::span<const std::byte> m, clock::time_point deadline) noexcept {
        if (this->lent_out()) return errc::in_use;
        return this->attempt_until(
            [&] { return this->template publish_written<slot>([m](slot& r) noexcept { write_record(r, m); }); },
            deadline);
    }

    /// What a loan claims through: the next slot, unless the mailbox is closed.
    struct unless_closed {
        mailbox_bytes_sender& end;
        errc try_claim(ring_ticket<slot>& t) noexcept { return end.claim_unless_closed(t); }
    };

    result<loan_type> loan_until(std::size_t n, clock::time_point deadline) noexcept {
        if (n > max) return unexpected(errc::too_large);
        return this->template lend<loan_type>(
            [&](auto claim) {
                return this->attempt_until(
                    [&] {
                        unless_closed c{*this};
                        return claim(c);
                    },
                    deadline);
            },
            n);
    }
};

}  // namespace ipckit::detail
