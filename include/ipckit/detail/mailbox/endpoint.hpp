#pragma once
// What every mailbox endpoint is, whatever its delivery: the endpoint core (detail/endpoint/:
// the segment kept alive, a place held, move and close, and the one verb loop), a ring cursor,
// and how a mailbox's verbs run on that loop.
//
// Unlike a queue's endpoints, a mailbox's do not end when the other side comes and goes:
// senders and receivers are independent users of the mailbox, which ends only when it is closed
// as a whole (Mailbox::close, Mailbox::remove) or, process_owned, its owner goes. So its verbs'
// step (unending_step, detail/endpoint/step.hpp) asks no roster whether the other side is there;
// instead, about once per liveness interval while it would block, it lets the kind `check()`
// (system calls: recovery from dead peers, a dead owner), and the kind's attempt returns closed
// once the control block says so.

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/handle.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sys/coarse_clock.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <chrono>
#include <cstddef>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// Where a mailbox endpoint sleeps (its role's bell), and whom a closing receiver wakes: the
/// other receivers, which may be waiting for its turn to pass (round_robin).
template <class Role>
struct mailbox_bells {
    static doorbell& sleep_bell(auto& sh, std::size_t /*place*/) noexcept { return Role::sleep_on(sh); }
    static void wake_on_close(auto& sh) noexcept {
        if constexpr (std::is_same_v<Role, consumer_role>) sh.data_bell.ring();
    }
};

/// A mailbox endpoint of kind `Box` on side `Role`, with ring cursor `Cursor`, in `Mode`; Bells
/// says where it sleeps, whom closing wakes, and (own_places) where it holds its place.
/// Restricted thread-safe: one thread at a time.
template <class Box, class Role, class Cursor, mode_policy Mode, class Bells>
class mailbox_endpoint : public endpoint_core<Box, Role, Bells> {
    using core = endpoint_core<Box, Role, Bells>;

public:
    mailbox_endpoint(mailbox_endpoint&& o) noexcept : core(std::move(o)), cursor_(o.cursor_) {}
    mailbox_endpoint& operator=(mailbox_endpoint&& o) noexcept {
        core::operator=(std::move(o));
        cursor_ = o.cursor_;
        return *this;
    }

private:
    using core::peer;  // a queue's notion; a mailbox's peers come and go freely

protected:
    /// Attaches the cursor with attach(cursor, shared, place, segment) once the core holds a
    /// place; false from it means inconsistent indices: corrupt, and the place is given back.
    template <class Attach>
    mailbox_endpoint(std::shared_ptr<segment> seg, const options& opt, Attach&& attach) : core(std::move(seg), opt) {
        if (!attach(cursor_, *this->shared_, this->place_, std::as_const(*this->segment_))) {
            const std::string box_name = this->name();
            this->abandon_place();
            throw error(errc::corrupt,
                        "mailbox '" + box_name + "' has inconsistent indices: remove it and create it again");
        }
    }

    /// A verb: `attempt` (ok, would_block, closed, corrupt) once (non_blocking) or until it does
    /// not would_block (blocking), through the one verb loop (endpoint_core::run_verb) with an
    /// unending_step: the other side never ends it, the attempt says closed; it sleeps until
    /// `ready()`, and `check()` (system calls; whether it finished or freed anything) runs about
    /// once per liveness interval while it would block, whether it waits or polls.
    template <class Attempt, class Ready, class Check>
    errc run_until(Attempt&& attempt, Ready&& ready, Check&& check, clock::time_point deadline) noexcept {
        unending_step step{attempt, ready, check};
        return this->template run_verb<Mode, typename Box::wait_type>(step, deadline);
    }

    /// A sender's verb: `attempt` (a send or a loan's claim) through run_until, sleeping until
    /// there is room or the mailbox has closed; its check is the kind's (Box::sending::check:
    /// what dead processes hold the senders back with).
    template <class Attempt>
        requires std::same_as<Role, producer_role>
    errc run_sending(Attempt&& attempt, clock::time_point deadline) noexcept {
        if constexpr (std::is_same_v<typename Box::ownership_type, process_owned>) look_at_owner();
        return run_until(
            attempt, [this] { return cursor_.has_room() || !control().is_open(); },
            [this] { return Box::sending::check(cursor_, sh(), *this->segment_, this->me_); }, deadline);
    }

    /// process_owned: asks about the owner about once per liveness interval on every send, not
    /// only while one waits for room (the check). The owner is the mailbox's one receiver: dead,
    /// nothing drains the mailbox, and sends would be accepted and lost until it filled. Read
    /// on the coarse clock: a few nanoseconds a send.
    void look_at_owner() noexcept {
        const std::chrono::nanoseconds now = sys::coarse_now();
        if (now < next_owner_look_) return;
        next_owner_look_ = now + this->liveness_;
        (void)Box::sending::check(cursor_, sh(), *this->segment_, this->me_);
    }

    [[nodiscard]] typename Box::shared& sh() const noexcept { return *this->shared_; }
    [[nodiscard]] mailbox_control& control() const noexcept { return this->shared_->control; }
    Cursor& cursor() noexcept { return cursor_; }
    [[nodiscard]] const Cursor& cursor() const noexcept { return cursor_; }

    /// A sender's attempt: sends a copy of `m` unless the mailbox is closed (control.hpp).
    template <class T>
    errc publish(const T& m) noexcept {
        return publish_unless_closed<T>(
            control(), sh().data_bell, cursor_,
            [&m](T& slot) noexcept { std::memcpy(static_cast<void*>(&slot), &m, sizeof(T)); }, this->light_fence_);
    }
    /// A sender's attempt: sends the message that `write(slot)` writes in place into a slot of
    /// type Slot, unless the mailbox is closed (control.hpp).
    template <class Slot, class Write>
    errc publish_in_place(Write&& write) noexcept {
        return publish_unless_closed<Slot>(control(), sh().data_bell, cursor_, write, this->light_fence_);
    }
    /// A sender's attempt at a loan: claims the next slot into `t` unless the mailbox is closed
    /// (control.hpp); the loan's commit or abandon finishes it (lender::finish).
    template <class Slot>
    errc claim(ring_ticket<Slot>& t) noexcept {
        return claim_unless_closed(control(), sh().data_bell, cursor_, t, this->light_fence_);
    }
    /// The same for a run of up to n (> 0) slots side by side (a cursor with try_claim_run),
    /// finished by the cursor's commit_run.
    template <class Slot>
    errc claim_run(std::size_t n, ring_ticket<Slot>& t) noexcept {
        return claim_unless_closed(control(), sh().data_bell, cursor_, t, this->light_fence_,
                                   [this, n, &t] { return cursor_.try_claim_run(n, t); });
    }

    /// Wakes the other side's sleepers, if any: after a publish, or after a receiver gave a slot
    /// back (what a lender calls when its loan or view ends).
    void progress() noexcept { Role::wake_peers(sh()).notify(this->light_fence_); }

    /// Finishes a slot that a dead process on the other side claimed and left unfinished;
    /// whether there was one.
    bool recover() noexcept {
        return cursor_.recover([this](std::uint64_t p) { return Role::peers(*this->shared_).live_claimant(p); });
    }

private:
    Cursor cursor_;
    std::chrono::nanoseconds next_owner_look_{};  ///< process_owned senders: see look_at_owner
};

}  // namespace ipckit::detail
