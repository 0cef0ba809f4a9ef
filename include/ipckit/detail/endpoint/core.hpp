#pragma once
// What every queue endpoint has in common, whatever the queue carries and whatever its cursor:
// a roster place held (or its own place, for a side that keeps them elsewhere), the segment or
// other handle kept alive, closing that tells the other side, the closed rule, and THE VERB
// LOOP (run_verb, with settle and drain): attempt; if it would block and everyone on the other
// side has let go, look once more (finishing what a dead one left half done), then say closed
// or peer_dead; else wait until the deadline.

#include <ipckit/detail/endpoint/roles.hpp>
#include <ipckit/detail/endpoint/step.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

struct watch_access;  // endpoint/watched.hpp: what a waitset reads of a receiver it watches

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

/// The policy that allows a queue kind more endpoints: multi_of<N>, unless the kind names its own
/// (`static constexpr const char* more_endpoints`, as a lanes queue does: lanes<N>).
template <class Queue>
constexpr const char* more_endpoints() noexcept {
    if constexpr (requires { Queue::more_endpoints; })
        return Queue::more_endpoints;
    else
        return "multi_of<N>";
}

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
/// sender when it would wait for room, and (every kind) on every send once the queue was closed
/// as a whole (close_queue, detail/endpoint/roles.hpp). Every endpoint on a side of many dying
/// is peer_dead, once (after their messages), and then the other side waits on for newcomers.
/// Restricted thread-safe: one thread at a time.
template <class Queue, class Role, class Bells = role_bells<Role>, endpoint_handle Handle = segment>
class endpoint_core {
    friend watch_access;

protected:
    using shared = typename Queue::shared;

public:
    endpoint_core(endpoint_core&& o) noexcept
        : segment_(std::move(o.segment_)), shared_(std::exchange(o.shared_, nullptr)), me_(o.me_), place_(o.place_),
          light_fence_(o.light_fence_), liveness_(o.liveness_), reported_(o.reported_),
          next_check_(o.next_check_) {}
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
            next_check_ = o.next_check_;
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
        if (owns_place_here()) {
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
          liveness_(liveness_of(opt)), next_check_(clock::now() + liveness_) {
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
                                             ? std::string(". Close one first, or allow more with ") +
                                                   more_endpoints<Queue>()
                                             : ". Close it first: this kind of queue has a single consumer"));
        }
        place_ = *place;
        // A predecessor killed asleep is still counted among the sleepers of our bell.
        forget_sleeper(sleep_bell(), asleep());
    }

    /// Whether this endpoint is open and holds its place for this process: not closed, and not
    /// a forked child's copy of its parent's endpoint (which must leave the parent's place be).
    [[nodiscard]] bool owns_place_here() const noexcept { return shared_ != nullptr && sys::this_pid() == me_.pid; }

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
        // caller's acquire load (of the place's word, or of `attached`) saw.
        const std::uint32_t r = Role::peers(*shared_).retirements.load(std::memory_order_acquire);
        if (r == reported_) return errc::closed;
        reported_ = r;
        return errc::peer_dead;
    }

    /// The other side as a verb sees it: its roster's state(ask_os) (the closed rule), and,
    /// where that is ok because nobody holds a place of a side of many, peer_dead if places were
    /// retired there for dead holders since this endpoint last reported a death: another
    /// endpoint of this side retired them, and the death is still this one's to report, once.
    /// Loads only without ask_os.
    [[nodiscard]] errc peers_state(bool ask_os) const noexcept {
        const auto& peers = Role::peers(*shared_);
        const errc e = peers.state(ask_os);
        // SYNC POINT READ: retirements after the places, paired with roster::retire's count
        // before its release.
        if (e == errc::ok && peers.nobody_holds() && peers.retirements.load(std::memory_order_acquire) != reported_)
            return errc::peer_dead;
        return e;
    }

    /// `cursor.recover(live_claimant)`, the recovery of a cursor whose claims the other side's
    /// roster lists: notes in claim_held_ whether it stopped at a claim a live process holds
    /// (a step's claim_held(), step.hpp).
    template <class Cursor, class LiveClaimant>
    bool recover_noting_claims(Cursor& cursor, LiveClaimant&& live_claimant) noexcept {
        claim_held_ = false;
        return cursor.recover([this, &live_claimant](std::uint64_t p) noexcept {
            const bool live = live_claimant(p);
            claim_held_ = claim_held_ || live;
            return live;
        });
    }
    /// peers_state(ask_os) for a receiver's waitset: ok while the other side closed but a claim
    /// is still held, as `recover` (recover_noting_claims) finds afresh.
    template <class Recover>
    errc peers_unless_claim_held(bool ask_os, Recover&& recover) noexcept {
        return unless_claim_held(peers_state(ask_os), recover, [this]() noexcept { return claim_held_; });
    }

    /// Which deaths over there this endpoint has reported, to give to keep_unreported.
    [[nodiscard]] std::uint32_t report_mark() const noexcept { return reported_; }
    /// Takes back the reports made since report_mark() said `mark`: a verb that returns
    /// something else than the peer_dead it met (a batch that sent part of itself returns the
    /// count) leaves the death for this endpoint's next verb to report.
    void keep_unreported(std::uint32_t mark) noexcept { reported_ = mark; }

    /// What a verb returns when its wait found every holder on the other side dead
    /// (state(true) == peer_dead), with nothing left to take from them: peer_dead, once; their
    /// places are let go of, so that the next look sees the closed rule. System calls.
    [[nodiscard]] errc report_dead() noexcept {
        retire_dead_peers();
        reported_ = Role::peers(*shared_).retirements.load(std::memory_order_acquire);
        return errc::peer_dead;
    }

    /// For a waitset watching this receiver (endpoint/watched.hpp), on the waitset's thread:
    /// whether its receive may return at once now. Only "maybe": a receive may still find
    /// nothing (would_block, timed_out) where a message was taken by someone else first, or by
    /// this receiver between the look and the report. Ready: `ready()` holds (what the verb
    /// sleeps until), or the other side has ended it: `peers(ask_os)`, the step's, says closed or
    /// peer_dead (a kind whose other side never ends its verbs, a mailbox, passes nullptr: its
    /// ready() says when it is closed). With ask_os (about once per liveness interval, as a
    /// waiting verb) it first finishes what a dead peer left (`recover()`) and asks the OS; dead
    /// peers' places are then let go of, as peer() does, so that the verb reports peer_dead at
    /// once. A closed receiver is ready: its verbs say closed.
    template <class Ready, class Recover, class Peers>
    bool may_not_wait(Ready&& ready, Recover&& recover, Peers&& peers, bool ask_os) noexcept {
        if (shared_ == nullptr) return true;
        if (ask_os) (void)recover();
        if (ready()) return true;
        if constexpr (std::is_null_pointer_v<std::remove_cvref_t<Peers>>) {
            return false;
        } else {
            const errc e = peers(ask_os);
            if (e == errc::peer_dead) retire_dead_peers();
            return e != errc::ok;
        }
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
    /// system call unless the attempt makes one; a step never_ended_by_peers recovers and
    /// attempts once more on a would_block at most once per liveness interval. Either way
    /// closed / peer_dead only once the attempt finds nothing left to do (settle).
    ///
    /// The second phase (committing_step, blocking only): where the verb would end without
    /// success, the step first gives up what it put out (give_up); if the other side took it
    /// first, the verb is committed and the loop waits on, without the deadline, for the
    /// attempt to say how it ended.
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
                        return unless_claim_held(step, step.peers(ask_os));  // a fresh look at the claims
                    },
                    committed(step) ? clock::time_point::max() : deadline, liveness_, next_check_);
                if constexpr (!never_ended_by_peers<Step>) {
                    if (w == errc::peer_dead) {
                        if (const errc d = drain(step, w); d != errc::would_block) return d;
                        continue;  // committed: wait on
                    }
                }
                // closed: the next settle() looks once more, then says closed (or peer_dead).
                if (w == errc::ok || w == errc::closed || !give_up(step)) continue;
                return w;
            }
        } else {
            static_assert(!committing_step<Step>, "a step with a second phase waits for it: blocking verbs only");
            errc e = settle(step);
            if constexpr (never_ended_by_peers<Step>) {
                if (e == errc::would_block) {
                    const auto now = clock::now();
                    if (now >= next_check_) {
                        next_check_ = now + liveness_;
                        (void)step.recover();
                        e = settle(step);
                    }
                }
            }
            return e;
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
        if constexpr (never_ended_by_peers<Step>) {
            return e;  // the other side never ends it: the attempt says closed
        } else {
            if (e != errc::would_block) return e;
            const errc end = step.peers(false);
            if (end != errc::closed && end != errc::peer_dead) return e;
            return drain(step, end);
        }
    }

    /// Where the other side has ended (`end`: closed, or peer_dead): looks again, finishing each
    /// claim it left unfinished, until an attempt does not would_block (its result) or nothing
    /// is left to finish; then `end`, as ended() or report_dead() say it. Messages first. A
    /// committing step that cannot give up (the other side took what it put out): would_block,
    /// for the loop to wait on.
    template <verb_step Step>
    errc drain(Step& step, errc end) noexcept {
        for (;;) {
            const errc e = step.attempt();
            if (e != errc::would_block) return e;
            if (end == errc::closed && claim_held(step)) {
                // Still held at the last look: looked at again (system calls) once per liveness
                // interval, as the OS is asked, so that a non-blocking verb polled meanwhile
                // makes none. A blocking one looks afresh when it wakes (unless_claim_held).
                const auto now = clock::now();
                if (now < next_check_) return errc::would_block;
                next_check_ = now + liveness_;
            }
            if (step.recover()) continue;
            if (end == errc::closed && claim_held(step)) return errc::would_block;  // for the loop to wait on
            // A claim finished between the attempt and recover's look (published, then its
            // listing cleared: recover saw it published, or saw no listing, which it reads after
            // the publish) is visible now: one more attempt before the end.
            if (const errc last = step.attempt(); last != errc::would_block) return last;
            if (!give_up(step)) return errc::would_block;
            return end == errc::closed ? ended() : report_dead();
        }
    }

    /// Whether the last step.recover() stopped at a claim a live process holds (claim_held);
    /// never, for a step without claims.
    template <verb_step Step>
    static bool claim_held(Step& step) noexcept {
        if constexpr (requires { step.claim_held(); })
            return step.claim_held();
        else
            return false;
    }
    /// `end`, the other side's state, as a verb that waits on it takes it: ok (not ended yet)
    /// where it closed while a live process of it still holds a claim, as `recover()` finds
    /// afresh and `held()` then says (what an earlier look noted may be gone). Loads only,
    /// unless the other side closed.
    template <class Recover, class Held>
    static errc unless_claim_held(errc end, Recover&& recover, Held&& held) noexcept {
        if (end != errc::closed) return end;
        (void)recover();
        return held() ? errc::ok : end;
    }
    template <verb_step Step>
    static errc unless_claim_held(Step& step, errc end) noexcept {
        if constexpr (requires { step.claim_held(); })
            return unless_claim_held(end, [&step]() noexcept { return step.recover(); }, [&step]() noexcept { return step.claim_held(); });
        else
            return end;
    }

    /// A committing_step's committed() and give_up(); for any other step, never committed and
    /// nothing to give up.
    template <verb_step Step>
    static bool committed(const Step& step) noexcept {
        if constexpr (committing_step<Step>)
            return step.committed();
        else
            return false;
    }
    template <verb_step Step>
    static bool give_up(Step& step) noexcept {
        if constexpr (committing_step<Step>)
            return step.give_up();
        else
            return true;
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
    clock::time_point next_check_;  ///< when a verb next asks the OS about the other side (and recovers)
    bool claim_held_ = false;  ///< the last recover_noting_claims() stopped at a live process's claim
};

}  // namespace ipckit::detail
