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
#include <ipckit/detail/mailbox/endpoint.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <cstddef>
#include <memory>
#include <utility>

namespace ipckit::detail {

/// What every mailbox sender is, whatever it carries: a mailbox endpoint on the senders' side,
/// attached through the kind's `sending` policy, whose attempts (a send, a loan's claim) run
/// until they do not would_block: the one verb loop, waking when there is room or the mailbox
/// closes, and letting the kind free what dead processes hold the senders back with.
template <class Box, mode_policy Mode>
class mailbox_sending_end
    : public mailbox_endpoint<Box, producer_role, typename Box::sending::cursor, Mode, mailbox_bells<producer_role>> {
    using base = mailbox_endpoint<Box, producer_role, typename Box::sending::cursor, Mode, mailbox_bells<producer_role>>;

protected:
    mailbox_sending_end(std::shared_ptr<segment> seg, const options& opt)
        : base(std::move(seg), opt, [](auto& cursor, auto& sh, std::size_t place, const segment& s) {
              return Box::sending::attach(cursor, sh, place, s);
          }) {}

    /// Runs a sender's `attempt` (ok, would_block, closed, corrupt) as a verb until `deadline`.
    template <class Attempt>
    errc attempt_until(Attempt&& attempt, clock::time_point deadline) noexcept {
        return this->run_until(
            attempt, [this] { return this->cursor().has_room() || !this->control().is_open(); },
            [this] { return Box::sending::check(this->cursor(), this->sh(), *this->segment_, this->me_); }, deadline);
    }
};

/// The sending end of a mailbox of fixed-size messages. Blocking: send waits while the mailbox
/// is full (broadcast: while the slowest receiver is N messages behind); a deadline or timeout
/// may follow the message. Non-blocking: send returns would_block at once then. Either returns
/// closed once the mailbox is closed (or removed) or its owner has gone; a message that send
/// accepted (ok) is delivered (broadcast: to every receiver attached when it was sent) unless a
/// process_owned mailbox's owner goes. Restricted thread-safe: one thread at a time.
template <class Box, mode_policy Mode>
class mailbox_sender : public mailbox_sending_end<Box, Mode>,
                       public send_verbs<mailbox_sender<Box, Mode>, typename Box::message_type, Mode> {
    using base = mailbox_sending_end<Box, Mode>;
    using T = typename Box::message_type;
    using verbs = send_verbs<mailbox_sender, T, Mode>;

public:
    /// send(m), send(m, deadline) (send_verbs): sends a copy of `m`: ok, or closed (closed,
    /// removed, owner gone: not sent), corrupt. Blocking: waits for room, or timed_out (not sent).
    /// Non-blocking: would_block when full.
    using verbs::send;

private:
    friend mailbox_handle<Box>;
    friend verbs;

    mailbox_sender(std::shared_ptr<segment> seg, const options& opt) : base(std::move(seg), opt) {}

    errc send_until(const T& m, clock::time_point deadline) noexcept {
        return this->attempt_until([&] { return this->publish(m); }, deadline);
    }
};

}  // namespace ipckit::detail
