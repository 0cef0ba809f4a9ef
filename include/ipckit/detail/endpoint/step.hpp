#pragma once
// What a kind supplies to the one verb loop (endpoint_core::run_verb, detail/endpoint/core.hpp):
// a verb_step, its one attempt, what it waits for, how it recovers a dead peer's claim and how
// it asks after the other side; and step_of, a step made of four callables.

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

}  // namespace ipckit::detail
