#pragma once
// What every queue endpoint has in common, whatever the queue carries: a roster place held,
// the segment kept alive, the cursor, one attempt with its wake-up, and the one verb loop.
//
// The verb loop (endpoint_core::run_verb) is the same for every kind: attempt; if it would
// block and everyone on the other side has let go, look once more (finishing what a dead one
// left half done), then say closed or peer_dead; else wait until the deadline. A kind supplies
// only a verb_step: its one attempt (which wakes the other side on success), what it waits for,
// how it recovers a dead peer's claim, and how it asks after the other side.
//
// A ring queue kind provides `Queue::shared` with data_bell, closed (the word close_queue sets,
// on data_bell's line), space_bell, senders and receivers (rosters) and ring, plus
// Queue::max_senders / max_receivers and Queue::bells<Role> (role_bells over those bells, or the
// kind's own: a lanes queue's senders sleep on a bell per lane, and its shared part has no
// space_bell); its cursors meet the contract of detail/ring/cursor.hpp. A queue kind whose endpoints keep something else than one segment
// alive (the unbounded queue keeps its chain's head) names it as endpoint_core's Handle.
//
// The pieces, one idea each: verbs.hpp (the public send/receive verb mixins), roles.hpp (the
// two sides, their bells, the close protocol), step.hpp (what a kind gives the verb loop),
// core.hpp (endpoint_core: the state every endpoint has, the closed rule and the verb loop).
// This file: an endpoint of a ring queue over them, and the ring's fill level.

#include <ipckit/detail/endpoint/core.hpp>
#include <ipckit/detail/endpoint/roles.hpp>
#include <ipckit/detail/endpoint/step.hpp>
#include <ipckit/detail/endpoint/verbs.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// How far a ring's tail is ahead of its head now, at most `limit`: what size() and the like
/// report, a snapshot stale as soon as it is returned. The two are read apart and may be from
/// different moments, so a head past the tail reads as 0 rather than as corrupt.
template <class Ring>
[[nodiscard]] std::size_t tail_minus_head(const Ring& ring, std::uint64_t limit) noexcept {
    const std::uint64_t head = ring.head.load(std::memory_order_acquire);
    const std::uint64_t tail = ring.tail.load(std::memory_order_acquire);
    if (head > tail) return 0;
    return static_cast<std::size_t>(std::min<std::uint64_t>(tail - head, limit));
}

/// An endpoint of a ring queue: the core, the ring cursor, and its verbs' step for the loop.
template <class Queue, class Role, class Cursor, mode_policy Mode>
    requires(std::same_as<Role, producer_role> ? producer_cursor<Cursor> : consumer_cursor<Cursor>)
class endpoint : public endpoint_core<Queue, Role, typename Queue::template bells<Role>> {
    using core = endpoint_core<Queue, Role, typename Queue::template bells<Role>>;
    using bells = typename Queue::template bells<Role>;
    friend watch_access;

public:
    endpoint(endpoint&& o) noexcept : core(std::move(o)), cursor_(o.cursor_) {}
    endpoint& operator=(endpoint&& o) noexcept {
        core::operator=(std::move(o));
        cursor_ = o.cursor_;
        return *this;
    }

protected:
    endpoint(std::shared_ptr<segment> seg, const options& opt) : core(std::move(seg), opt) {
        if (!attach_cursor()) {
            const std::string queue_name = this->name();
            this->abandon_place();
            throw error(errc::corrupt, "queue '" + queue_name + "' has inconsistent indices: remove it and create it again");
        }
        // A receiver's attach may have finished a dead predecessor's last step, its reads, which
        // frees room a sender may sleep on: wake the senders, as a receiver's close does.
        if constexpr (std::same_as<Role, consumer_role>) bells::wake_on_close(*this->shared_);
    }

    /// Binds the cursor to the ring and to this endpoint's roster place: its pending word, and
    /// its index where the ring gives each place a part of its own (a lane: detail/ring/lanes.hpp).
    bool attach_cursor() noexcept {
        auto& ring = this->shared_->ring;
        auto& pending = Role::own(*this->shared_).places[this->place_].pending;
        if constexpr (attaches_to<Cursor, decltype(ring), decltype(pending), std::size_t>)
            return cursor_.attach(ring, pending, this->place_);
        else
            return cursor_.attach(ring, pending);
    }

    /// A verb: one attempt of `op` on the cursor (non_blocking; `deadline` means nothing then),
    /// or attempts until success, the other side's end, or `deadline` (blocking): run_verb. With
    /// Progress, a success is progress the other side may be sleeping on, and wakes it; a claim
    /// for work in place (a loan, a view) calls progress() when it is done. The primitive of
    /// send_verbs and receive_verbs.
    template <bool Progress = true, class Op>
    errc run_until(Op&& op, clock::time_point deadline) noexcept {
        step_of step{[this, &op]() noexcept {
                         if constexpr (std::is_same_v<Role, producer_role>) {
                             // Closed as a whole: refused, nothing written. SYNC POINT READ: the
                             // closer's store (close_queue); a load of the line that progress()
                             // reads anyway.
                             if (this->shared_->closed.load(std::memory_order_relaxed) != 0) return errc::closed;
                         }
                         const errc e = op(cursor_);
                         // And what the cursor did on the way that the other side may sleep
                         // on (progress_made: tombstones freed), whatever the op returned.
                         const bool made = progress_made(cursor_);
                         if ((Progress && e == errc::ok) || made) progress();
                         return e;
                     },
                     [this]() noexcept { return ready(); }, [this]() noexcept { return recover(); },
                     [this](bool ask_os) noexcept { return this->peers_state(ask_os); },
                     [this]() noexcept { return this->claim_held_; }};
        return this->template run_verb<Mode, typename Queue::wait_type>(step, deadline);
    }
    /// A batch send: run_until of `op`, each attempt of which sends what fits, counting it in
    /// `sent` and waking the other side itself. Where it ends peer_dead part way (sent > 0), the
    /// caller returns the count (batch_result), not the death: the death stays this endpoint's
    /// to report, at its next verb (endpoint_core::keep_unreported).
    template <class Op>
    errc run_batch_until(Op&& op, const std::size_t& sent, clock::time_point deadline) noexcept {
        const auto before = this->report_mark();
        const errc e = run_until<false>(op, deadline);
        if (e == errc::peer_dead && sent > 0) this->keep_unreported(before);
        return e;
    }
    /// A verb with no deadline.
    template <bool Progress = true, class Op>
    errc run(Op&& op) noexcept {
        return run_until<Progress>(op, clock::time_point::max());
    }
    /// A blocking verb with a deadline (a steady_clock time point) or a timeout (a duration).
    template <bool Progress = true, class Op, deadline D>
    errc run(Op&& op, D deadline) noexcept {
        return run_until<Progress>(op, blocking_deadline<Mode>(deadline));
    }

    /// Wakes the other side's sleepers, if any: after a publish or a release. On the role's bell,
    /// or where the kind's bells say the cursor's progress concerns only some of the other side
    /// (a lane freed: its sender), on theirs.
    void progress() noexcept {
        if constexpr (requires { bells::progress_bell(*this->shared_, cursor_); })
            bells::progress_bell(*this->shared_, cursor_).notify(this->light_fence_);
        else
            Role::wake_peers(*this->shared_).notify(this->light_fence_);
    }

    Cursor& cursor() noexcept { return cursor_; }

private:
    /// Finishes a slot that a dead process on the other side claimed and left unfinished; notes
    /// whether it stopped at one a live process holds (claim_held_).
    bool recover() noexcept {
        return this->recover_noting_claims(
            cursor_, [this](std::uint64_t p) noexcept { return Role::peers(*this->shared_).live_claimant(p); });
    }

protected:
    /// A receiver's readiness, for a waitset (endpoint_core::may_not_wait). Protected: a receiver
    /// that keeps a message of its own (record_receiver's parked one) adds it.
    bool watched_ready(bool ask_os) noexcept
        requires std::same_as<Role, consumer_role>
    {
        return this->may_not_wait([this]() noexcept { return ready(); }, [this]() noexcept { return recover(); },
                                  [this](bool ask) noexcept {
                                      return this->peers_unless_claim_held(ask, [this]() noexcept { return recover(); });
                                  },
                                  ask_os);
    }

private:

    bool ready() noexcept {
        if constexpr (std::is_same_v<Role, producer_role>)
            return cursor_.has_room();
        else
            return cursor_.has_data();
    }

    Cursor cursor_;
};

}  // namespace ipckit::detail
