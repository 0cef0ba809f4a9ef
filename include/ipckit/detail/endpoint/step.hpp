#pragma once
// What a kind supplies to the one verb loop (endpoint_core::run_verb, detail/endpoint/core.hpp):
// a verb_step, its one attempt, what it waits for, how it recovers a dead peer's claim and how
// it asks after the other side (when the other side ends the verb); the optional extras (recovery
// for a kind the other side never ends, a second phase once committed); and step_of / unending_step, steps made of
// callables.

#include <ipckit/error.hpp>

#include <concepts>

namespace ipckit::detail {

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
///     bool claim_held()       loads only: whether the last recover() stopped at a claim that a
///                             live process on the other side made and has not finished (a
///                             message it is still writing, a loan it holds). Where the other
///                             side has closed, the verb waits for that claim rather than
///                             ending closed: what it carries was sent before the close, and
///                             so were the messages behind it. False for a step without claims.
///
/// When does the other side end a verb: that is what peers() says, and the only thing in which
/// kinds differ here. A queue's step asks its roster (the closed rule); a kind whose verbs never
/// end because of the other side (a mailbox: its senders and receivers come and go, and it ends
/// when closed as a whole, which its attempt() reports) returns ok from peers().
template <class S>
concept verb_step = requires(S& s, bool ask_os) {
    { s.attempt() } noexcept -> std::same_as<errc>;
    { s.ready() } noexcept -> std::same_as<bool>;
    { s.recover() } noexcept -> std::same_as<bool>;
    { s.peers(ask_os) } noexcept -> std::same_as<errc>;
};

/// A step whose other side never ends its verbs (a mailbox: see peers() above) says
/// `static constexpr bool unending = true`, and its peers() returns ok. The loop then never
/// concludes closed or peer_dead for it (its attempt says closed), and since nobody else will,
/// it finishes what dead processes left itself: a non-blocking verb that would block calls
/// recover() and attempts once more, at most once per liveness interval (a clock read, a vDSO
/// call, on would_block; no system call otherwise).
template <class S>
concept never_ended_by_peers = verb_step<S> && requires { requires S::unending; };

/// A step with two phases, for a verb that puts something out for the other side and then waits
/// for it to be taken (a rendezvous send: its offer). Besides a verb_step's members:
///
///     bool committed()        loads only: whether what is out has been taken, so that the
///                             verb's outcome is no longer its own to decide: the loop then
///                             waits on without a deadline, until attempt() says how it ended
///                             (ok, or the taker's death as the attempt's own error)
///     bool give_up()          the loop is about to end the verb without success (timed_out,
///                             closed, peer_dead): takes back what is out, if anything. True:
///                             nothing is out any more, and the verb ends so; false: the other
///                             side took it first (committed() now holds), and the loop goes on.
///
/// Blocking verbs only: a non-blocking one cannot wait for what it put out.
template <class S>
concept committing_step = verb_step<S> && requires(S& s, const S& cs) {
    { cs.committed() } noexcept -> std::same_as<bool>;
    { s.give_up() } noexcept -> std::same_as<bool>;
};

/// The claim_held() of a step whose recover() never stops at a live claim.
struct never_held {
    bool operator()() const noexcept { return false; }
};

/// A verb_step made of four callables, and a fifth for claim_held(), for kinds that write their
/// step inline.
template <class Attempt, class Ready, class Recover, class Peers, class Held = never_held>
struct step_of {
    Attempt attempt_;
    Ready ready_;
    Recover recover_;
    Peers peers_;
    Held held_{};
    // Always inline: the verb loop calls attempt() from two places (settle and drain), which
    // made clang 14 keep it out of line, a call a message (bench/ipckit_per_message.cpp).
    [[gnu::always_inline]] errc attempt() noexcept { return attempt_(); }
    bool ready() noexcept { return ready_(); }
    bool recover() noexcept { return recover_(); }
    errc peers(bool ask_os) noexcept { return peers_(ask_os); }
    bool claim_held() noexcept { return held_(); }
};
template <class Attempt, class Ready, class Recover, class Peers>
step_of(Attempt, Ready, Recover, Peers) -> step_of<Attempt, Ready, Recover, Peers>;
template <class Attempt, class Ready, class Recover, class Peers, class Held>
step_of(Attempt, Ready, Recover, Peers, Held) -> step_of<Attempt, Ready, Recover, Peers, Held>;

/// A verb_step of a kind whose other side never ends its verbs (a mailbox): an attempt (which
/// itself says closed once the channel is closed as a whole), what it waits for, and `check`,
/// its recovery from dead processes (system calls), made about once per liveness interval
/// while it would block, whether it waits or polls (never_ended_by_peers).
template <class Attempt, class Ready, class Check>
struct unending_step {
    static constexpr bool unending = true;
    Attempt attempt_;
    Ready ready_;
    Check check_;
    [[gnu::always_inline]] errc attempt() noexcept { return attempt_(); }
    bool ready() noexcept { return ready_(); }
    bool recover() noexcept { return check_(); }
    static errc peers(bool /*ask_os*/) noexcept { return errc::ok; }
};
template <class Attempt, class Ready, class Check>
unending_step(Attempt, Ready, Check) -> unending_step<Attempt, Ready, Check>;

}  // namespace ipckit::detail
