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
// A ring queue kind provides `Queue::shared` with data_bell, space_bell, senders and receivers
// (rosters) and ring, plus Queue::max_senders / max_receivers; its cursors meet the contract of
// detail/ring/cursor.hpp. A queue kind whose endpoints keep something else than one segment
// alive (the unbounded queue keeps its chain's head) names it as endpoint_core's Handle.

#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// As time_point_of, for a verb of an endpoint in `Mode`: a deadline given to a non_blocking
/// endpoint does not compile, with the reason.
template <mode_policy Mode, deadline D>
clock::time_point blocking_deadline(D d) noexcept {
    static_assert(std::same_as<Mode, blocking>,
                  "a non_blocking endpoint returns at once, so a deadline means nothing: use a blocking endpoint");
    return time_point_of(d);
}

template <class>
inline constexpr bool always_false = false;

inline status to_status(errc e) noexcept { return e == errc::ok ? status{} : status{unexpected(e)}; }

/// The public send verbs of a sender of fixed-size messages `T`, on top of the one primitive
/// its kind implements (and befriends this mixin for):
///
///     errc Derived::send_until(const T& m, clock::time_point deadline) noexcept
///
/// Blocking endpoint: sends m, waiting as that kind waits until `deadline` (time_point::max():
/// no deadline), and returns ok or why not (timed_out once the deadline has passed). Non-blocking
/// endpoint: one attempt, would_block where a blocking one would wait; `deadline` is then always
/// time_point::max() and means nothing. The verbs below read no clock unless given a timeout,
/// and a non_blocking endpoint's verbs take none (that does not compile), so its send stays free
/// of clock reads and system calls as far as its primitive is.
///
///     status send(const T& m)               no deadline (blocking) or one attempt
///     status send(const T& m, D deadline)   blocking only: a steady_clock time point or a duration
///
/// What each returns is said where each kind names this mixin.
template <class Derived, class T, mode_policy Mode>
class send_verbs {
public:
    status send(const T& m) noexcept { return to_status(derived().send_until(m, clock::time_point::max())); }
    template <deadline D>
    status send(const T& m, D deadline) noexcept {
        return to_status(derived().send_until(m, blocking_deadline<Mode>(deadline)));
    }

private:
    Derived& derived() noexcept { return static_cast<Derived&>(*this); }
};

/// The public receive verbs of a receiver of fixed-size messages `T`, on top of the one
/// primitive its kind implements (and befriends this mixin for):
///
///     errc Derived::receive_until(T& out, clock::time_point deadline) noexcept
///
/// Blocking endpoint: writes the next message into `out`, waiting as that kind waits until
/// `deadline` (time_point::max(): no deadline), and returns ok or why not (timed_out once the
/// deadline has passed); `out` is written only on ok. Non-blocking endpoint: one attempt,
/// would_block where a blocking one would wait; `deadline` is then always time_point::max()
/// and means nothing. No clock read here but for a timeout, which a non_blocking endpoint's
/// verbs do not take (that does not compile).
///
///     result<T> receive()                    the message, or why not
///     result<T> receive(D deadline)          blocking only: a steady_clock time point or a duration
///     status receive(T& out)                 into `out` (no copy through a result; for large messages)
///     status receive(T& out, D deadline)     blocking only
///
/// What each returns is said where each kind names this mixin.
template <class Derived, class T, mode_policy Mode>
class receive_verbs {
public:
    result<T> receive() noexcept { return as_result(clock::time_point::max()); }
    template <deadline D>
    result<T> receive(D deadline) noexcept {
        return as_result(blocking_deadline<Mode>(deadline));
    }
    status receive(T& out) noexcept { return to_status(derived().receive_until(out, clock::time_point::max())); }
    template <deadline D>
    status receive(T& out, D deadline) noexcept {
        return to_status(derived().receive_until(out, blocking_deadline<Mode>(deadline)));
    }

private:
    Derived& derived() noexcept { return static_cast<Derived&>(*this); }

    result<T> as_result(clock::time_point deadline) noexcept {
        T out;
        const errc e = derived().receive_until(out, deadline);
        if (e != errc::ok) return unexpected(e);
        return out;
    }
};

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

/// Which roster and doorbells each side of a queue uses, so that sender and receiver share
/// one implementation (endpoint) below.
struct producer_role {
    static constexpr const char* name = "sender";
    static constexpr errc busy = errc::sender_busy;
    static auto& own(auto& sh) noexcept { return sh.senders; }
    static auto& peers(auto& sh) noexcept { return sh.receivers; }
    static doorbell& wake_peers(auto& sh) noexcept { return sh.data_bell; }  // after progress
    static doorbell& sleep_on(auto& sh) noexcept { return sh.space_bell; }   // while blocked
};
struct consumer_role {
    static constexpr const char* name = "receiver";
    static constexpr errc busy = errc::receiver_busy;
    static auto& own(auto& sh) noexcept { return sh.receivers; }
    static auto& peers(auto& sh) noexcept { return sh.senders; }
    static doorbell& wake_peers(auto& sh) noexcept { return sh.space_bell; }
    static doorbell& sleep_on(auto& sh) noexcept { return sh.data_bell; }
};

/// Where an endpoint of a ring queue sleeps, where the holder of a place on the other side
/// sleeps (peer_sleep_bell: for retiring a dead one's place), and whom it wakes when it closes:
/// the role's doorbells. A queue kind whose endpoints sleep elsewhere (the rendezvous) brings
/// its own.
template <class Role>
struct role_bells {
    static doorbell& sleep_bell(auto& sh, std::size_t /*place*/) noexcept { return Role::sleep_on(sh); }
    static doorbell& peer_sleep_bell(auto& sh, std::size_t /*place*/) noexcept { return Role::wake_peers(sh); }
    static void wake_on_close(auto& sh) noexcept { Role::wake_peers(sh).ring(); }
};

/// One verb of one kind, as endpoint_core::run_verb runs it. Every member is noexcept:
///
///     errc attempt()          one try: ok (having woken whoever waits for this progress),
///                             would_block, or why not (closed, corrupt, no_space, ...). No
///                             system call on the fast path.
///     bool ready()            loads only: whether attempt() might not would_block now; what
///                             the loop sleeps until.
///     bool recover()          finishes what a process on the other side claimed and died
///                             before finishing (cursor.recover); whether it finished any. May
///                             make system calls; called off the fast path only.
///     errc peers(bool ask_os) the other side: ok (someone is there, or may come), closed
///                             (everyone who came has let go) or, with ask_os only, peer_dead
///                             (everyone left there has died). A load without ask_os.
///
/// A kind whose verbs never end because of the other side returns ok from peers().
template <class S>
concept verb_step = requires(S& s, bool ask_os) {
    { s.attempt() } noexcept -> std::same_as<errc>;
    { s.ready() } noexcept -> std::same_as<bool>;
    { s.recover() } noexcept -> std::same_as<bool>;
    { s.peers(ask_os) } noexcept -> std::same_as<errc>;
};

/// A verb_step made of four callables, for kinds that write their step inline.
template <class Attempt, class Ready, class Recover, class Peers>
struct step_of {
    Attempt attempt_;
    Ready ready_;
    Recover recover_;
    Peers peers_;
    errc attempt() noexcept { return attempt_(); }
    bool ready() noexcept { return ready_(); }
    bool recover() noexcept { return recover_(); }
    errc peers(bool ask_os) noexcept { return peers_(ask_os); }
};
template <class Attempt, class Ready, class Recover, class Peers>
step_of(Attempt, Ready, Recover, Peers) -> step_of<Attempt, Ready, Recover, Peers>;

/// Closes the queue whose shared part is `sh` as a whole (close() on its handle, or its
/// removal): both rosters sealed, so that every endpoint, now or later, sees `closed` (see
/// detail/sync/roster.hpp), and every sleeper on either side woken to see it. Bells: where the
/// kind's endpoints sleep (role_bells for ring queues).
template <template <class> class Bells, class Shared>
void close_queue(Shared& sh) noexcept {
    sh.senders.seal();
    sh.receivers.seal();
    Bells<producer_role>::wake_on_close(sh);
    Bells<consumer_role>::wake_on_close(sh);
}

/// What an endpoint keeps alive: a segment by default; anything with name() and body() (the
/// start of Queue::shared), such as an unbounded queue's chain head.
template <class H>
concept endpoint_handle = requires(const H& h) {
    { h.name() } -> std::convertible_to<const std::string&>;
    { h.body() } -> std::same_as<void*>;
};

/// Whether the endpoints of one side hold their places somewhere of their own rather than in
/// their role's roster (a broadcast mailbox's receivers hold a place in a table of its segment).
/// Such a Bells policy says `static constexpr bool own_places = true` and provides, besides its
/// bells, for the endpoint_core's shared part `sh` and Handle `h`:
///     std::optional<std::size_t> claim(sh, h, const sys::process_id& me)   a place, or none free
///     void release(sh, h, std::size_t place, const sys::process_id& me)    lets go of it
///     std::atomic<std::uint32_t>& asleep(sh, h, std::size_t place)         its sleeper word
template <class Bells>
concept own_places = requires { requires Bells::own_places; };

/// Whether a queue kind can have more than one receiver at all: a kind that cannot says so with
/// `static constexpr bool one_receiver_only = true`, and receiver_busy then suggests no multi_of.
template <class Queue>
inline constexpr bool allows_many_receivers = !requires { requires Queue::one_receiver_only; };

/// What every endpoint of every queue kind has: the segment (or other Handle) kept alive, a
/// roster place held (or sender_busy / receiver_busy), closing that tells the other side (and
/// does nothing in a forked child), the liveness settings, and how a verb reports the other
/// side's end: closed, or peer_dead once for each death there that nobody replaced (ended,
/// report_dead; detail/sync/roster.hpp says who lets go of a dead process's place).
///
/// The closed rule, one for every kind: where the other side is a single endpoint (a
/// single-producer queue's sender, a single-consumer queue's receiver), it ends when that
/// endpoint closes, like a pipe's end of file; where it may be many, it ends only when the
/// queue is closed as a whole (close() on its handle) or removed, not because nobody happens to
/// be attached at the moment. A receiver sees `closed` only after it has taken every message; a
/// sender when it would wait for room. Every endpoint on a side of many dying is peer_dead, once
/// (after their messages), and then the other side waits on for newcomers. Restricted
/// thread-safe: one thread at a time.
template <class Queue, class Role, class Bells = role_bells<Role>, endpoint_handle Handle = segment>
class endpoint_core {
protected:
    using shared = typename Queue::shared;

public:
    endpoint_core(endpoint_core&& o) noexcept
        : segment_(std::move(o.segment_)), shared_(std::exchange(o.shared_, nullptr)), me_(o.me_), place_(o.place_),
          light_fence_(o.light_fence_), liveness_(o.liveness_), reported_(o.reported_) {}
    endpoint_core& operator=(endpoint_core&& o) noexcept {
        if (this != &o) {
            close();
            segment_ = std::move(o.segment_);
            shared_ = std::exchange(o.shared_, nullptr);
            me_ = o.me_;
            place_ = o.place_;
            light_fence_ = o.light_fence_;
            liveness_ = o.liveness_;
            reported_ = o.reported_;
        }
        return *this;
    }
    endpoint_core(const endpoint_core&) = delete;
    endpoint_core& operator=(const endpoint_core&) = delete;
    ~endpoint_core() { close(); }

    /// The name of the queue.
    [[nodiscard]] const std::string& name() const noexcept { return segment_->name(); }

    /// Lets go now, as destruction would. Where this endpoint is its side's only one (a
    /// single-producer queue's sender...), the other side sees `closed` once it has taken every
    /// message; on a side of many, closing one endpoint ends nothing (close the queue as a whole
    /// for that). Verbs on a closed endpoint return closed.
    void close() noexcept {
        // A forked child inherits its parent's endpoints; closing one there must not close the
        // parent's.
        if (shared_ == nullptr) return;
        if (sys::this_pid() == me_.pid) {
            release_place();
            Bells::wake_on_close(*shared_);
        }
        shared_ = nullptr;
    }

    /// Asks the OS about the other side now: ok (someone is there, or may come), closed (the
    /// queue was closed as a whole or removed; or the single endpoint over there has let go) or
    /// peer_dead (everyone left there has died). peer_dead also lets go of the dead ones' places
    /// on their behalf, so the next look follows the closed rule; this endpoint's verbs still
    /// report the death once, after the messages sent before it. System calls; the
    /// non-blocking data path never makes one.
    [[nodiscard]] errc peer() noexcept {
        if (shared_ == nullptr) return errc::closed;
        const errc e = Role::peers(*shared_).state(true);
        if (e == errc::peer_dead) retire_dead_peers();
        return e;
    }

protected:
    endpoint_core(std::shared_ptr<Handle> seg, const options& opt)
        : segment_(std::move(seg)), shared_(static_cast<shared*>(segment_->body())), me_(sys::self()),
          light_fence_(sys::register_light_fence()),
          liveness_(liveness_of(opt)) {
        // Deaths on the other side that are older than this endpoint are not its to report. (A
        // broadcast mailbox's receivers are a table of its own, not a roster.)
        if constexpr (requires(shared& sh) { sh.senders.retirements; sh.receivers.retirements; })
            reported_ = Role::peers(*shared_).retirements.load(std::memory_order_acquire);
        sys::process_id holder{};
        std::optional<std::size_t> place;
        if constexpr (own_places<Bells>)
            place = Bells::claim(*shared_, *segment_, me_);
        else
            place = Role::own(*shared_).claim(
                me_, [this](std::size_t i) -> doorbell& { return Bells::sleep_bell(*shared_, i); }, &holder);
        if (!place) {
            std::string who = "process " + std::to_string(holder.pid);
            if (holder.pid == me_.pid) who += " (this one)";
            constexpr bool sender = std::is_same_v<Role, producer_role>;
            constexpr std::size_t max = sender ? Queue::max_senders : Queue::max_receivers;
            throw error(Role::busy, "queue '" + name() + "' already has " +
                                        (max == 1 ? std::string("a ") + Role::name + ": " + who
                                                  : "its " + std::to_string(max) + " " + Role::name + "s, the last " + who) +
                                        (sender || allows_many_receivers<Queue>
                                             ? ". Close one first, or allow more with multi_of<N>"
                                             : ". Close it first: this kind of queue has a single consumer"));
        }
        place_ = *place;
        // A predecessor killed asleep is still counted among the sleepers of our bell.
        forget_sleeper(sleep_bell(), asleep());
    }

    /// The bell this endpoint sleeps on, and its own word that says it is asleep there.
    [[nodiscard]] doorbell& sleep_bell() const noexcept { return Bells::sleep_bell(*shared_, place_); }
    [[nodiscard]] std::atomic<std::uint32_t>& asleep() const noexcept {
        if constexpr (own_places<Bells>)
            return Bells::asleep(*shared_, *segment_, place_);
        else
            return Role::own(*shared_).places[place_].asleep;
    }
    /// Gives the place back (when the endpoint's constructor fails after claiming it).
    void abandon_place() noexcept {
        release_place();
        shared_ = nullptr;
    }

    /// What a verb returns where it would block and the other side has all let go
    /// (state(false) == closed): peer_dead if places over there were retired for holders that
    /// died unreplaced since this endpoint last reported a death (by anyone: this endpoint, a
    /// peer of it, a newcomer over there), closed otherwise. A load.
    [[nodiscard]] errc ended() noexcept {
        // SYNC POINT READ: paired with roster::retire's count before its release, which the
        // caller's acquire load of `attached` saw.
        const std::uint32_t r = Role::peers(*shared_).retirements.load(std::memory_order_acquire);
        if (r == reported_) return errc::closed;
        reported_ = r;
        return errc::peer_dead;
    }

    /// The other side as a verb sees it: its roster's state(ask_os) (the closed rule), and,
    /// where that is ok because a side of many is vacant, peer_dead if places were retired
    /// there for dead holders since this endpoint last reported a death: another endpoint of
    /// this side retired them, and the death is still this one's to report, once. Loads only
    /// without ask_os.
    [[nodiscard]] errc peers_state(bool ask_os) const noexcept {
        const auto& peers = Role::peers(*shared_);
        const errc e = peers.state(ask_os);
        // SYNC POINT READ: retirements, paired with roster::retire's count before its release.
        if (e == errc::ok && peers.vacant() && peers.retirements.load(std::memory_order_acquire) != reported_)
            return errc::peer_dead;
        return e;
    }

    /// What a verb returns when its wait found every holder on the other side dead
    /// (state(true) == peer_dead), with nothing left to take from them: peer_dead, once; their
    /// places are let go of, so that the next look sees the closed rule. System calls.
    [[nodiscard]] errc report_dead() noexcept {
        retire_dead_peers();
        reported_ = Role::peers(*shared_).retirements.load(std::memory_order_acquire);
        return errc::peer_dead;
    }

    /// Lets go of this endpoint's place.
    void release_place() noexcept {
        if constexpr (own_places<Bells>)
            Bells::release(*shared_, *segment_, place_, me_);
        else
            Role::own(*shared_).release(place_, me_);
    }

    /// THE VERB LOOP. Blocking (Mode): attempts `step` until it does not would_block, sleeping
    /// on this endpoint's bell until step.ready() between attempts, asking the OS about the
    /// other side (step.peers(true), after step.recover()) about once per liveness interval,
    /// until `deadline` (time_point::max(): none): ok, timed_out, closed, peer_dead, or the
    /// attempt's own error. Non-blocking: one attempt (`deadline` means nothing then), and no
    /// system call unless the attempt makes one. Either way closed / peer_dead only once the
    /// attempt finds nothing left to do (settle).
    template <mode_policy Mode, wait_policy Wait, verb_step Step>
    errc run_verb(Step& step, clock::time_point deadline) noexcept {
        if constexpr (std::same_as<Mode, blocking>) {
            for (;;) {
                const errc e = settle(step);
                if (e != errc::would_block) return e;
                const errc w = wait_until<Wait>(
                    sleep_bell(), asleep(), [&step]() noexcept { return step.ready(); },
                    [&step](bool ask_os) noexcept {
                        // A dead process may hold what we wait for: finish it for them.
                        if (ask_os) (void)step.recover();
                        return step.peers(ask_os);
                    },
                    deadline, liveness_);
                if (w == errc::peer_dead) return drain(step, w);
                // closed: the next settle() looks once more, then says closed (or peer_dead).
                if (w != errc::ok && w != errc::closed) return w;
            }
        } else {
            return settle(step);
        }
    }

    /// One attempt, and where it would block with the other side ended (closed) or gone with a
    /// death to report (peer_dead, without asking the OS: see peers_state): what they published
    /// before they let go is visible now, so look again, finishing each claim they left
    /// unfinished (or it hides what lies behind it), until there is nothing more; then ended()
    /// or report_dead(). A closed endpoint (or one moved from): closed.
    template <verb_step Step>
    errc settle(Step& step) noexcept {
        if (shared_ == nullptr) return errc::closed;
        errc e = step.attempt();
        if (e != errc::would_block) return e;
        const errc end = step.peers(false);
        if (end != errc::closed && end != errc::peer_dead) return e;
        return drain(step, end);
    }

    /// Where the other side has ended (`end`: closed, or peer_dead): looks again, finishing each
    /// claim it left unfinished, until an attempt does not would_block (its result) or nothing
    /// is left to finish; then `end`, as ended() or report_dead() say it. Messages first.
    template <verb_step Step>
    errc drain(Step& step, errc end) noexcept {
        for (;;) {
            const errc e = step.attempt();
            if (e != errc::would_block) return e;
            if (!step.recover()) return end == errc::closed ? ended() : report_dead();
        }
    }

    /// Retires the places of the holders on the other side that have died.
    void retire_dead_peers() noexcept {
        Role::peers(*shared_).retire_dead(
            me_, [this](std::size_t i) -> doorbell& { return Bells::peer_sleep_bell(*shared_, i); });
    }

    std::shared_ptr<Handle> segment_;
    shared* shared_;
    sys::process_id me_;
    std::size_t place_ = 0;
    bool light_fence_;
    std::chrono::nanoseconds liveness_;
    std::uint32_t reported_ = 0;  ///< the other side's retirements when this endpoint last reported a death
};

/// An endpoint of a ring queue: the core, the ring cursor, and its verbs' step for the loop.
template <class Queue, class Role, class Cursor, mode_policy Mode>
    requires(std::same_as<Role, producer_role> ? producer_cursor<Cursor> : consumer_cursor<Cursor>)
class endpoint : public endpoint_core<Queue, Role> {
    using core = endpoint_core<Queue, Role>;

public:
    endpoint(endpoint&& o) noexcept : core(std::move(o)), cursor_(o.cursor_) {}
    endpoint& operator=(endpoint&& o) noexcept {
        core::operator=(std::move(o));
        cursor_ = o.cursor_;
        return *this;
    }

protected:
    endpoint(std::shared_ptr<segment> seg, const options& opt) : core(std::move(seg), opt) {
        if (!cursor_.attach(this->shared_->ring, Role::own(*this->shared_).places[this->place_].pending)) {
            const std::string queue_name = this->name();
            this->abandon_place();
            throw error(errc::corrupt, "queue '" + queue_name + "' has inconsistent indices: remove it and create it again");
        }
    }

    /// A verb: one attempt of `op` on the cursor (non_blocking; `deadline` means nothing then),
    /// or attempts until success, the other side's end, or `deadline` (blocking): run_verb. With
    /// Progress, a success is progress the other side may be sleeping on, and wakes it; a claim
    /// for work in place (a loan, a view) calls progress() when it is done. The primitive of
    /// send_verbs and receive_verbs.
    template <bool Progress = true, class Op>
    errc run_until(Op&& op, clock::time_point deadline) noexcept {
        step_of step{[this, &op]() noexcept {
                         const errc e = op(cursor_);
                         if constexpr (Progress)
                             if (e == errc::ok) progress();
                         return e;
                     },
                     [this]() noexcept { return ready(); }, [this]() noexcept { return recover(); },
                     [this](bool ask_os) noexcept { return this->peers_state(ask_os); }};
        return this->template run_verb<Mode, typename Queue::wait_type>(step, deadline);
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

    /// Wakes the other side's sleepers, if any: after a publish or a release.
    void progress() noexcept { Role::wake_peers(*this->shared_).notify(this->light_fence_); }

    Cursor& cursor() noexcept { return cursor_; }

private:
    /// Finishes a slot that a dead process on the other side claimed and left unfinished.
    bool recover() noexcept {
        return cursor_.recover([this](std::uint64_t p) { return Role::peers(*this->shared_).live_claimant(p); });
    }

    bool ready() noexcept {
        if constexpr (std::is_same_v<Role, producer_role>)
            return cursor_.has_room();
        else
            return cursor_.has_data();
    }

    Cursor cursor_;
};

}  // namespace ipckit::detail
