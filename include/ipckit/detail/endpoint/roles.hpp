#pragma once
// The two sides of a queue: which roster and doorbells a sender and a receiver use (so that
// both share one endpoint implementation), where each sleeps and whom it wakes, and how a
// queue is closed as a whole: the close protocol, written once for every kind.

#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/error.hpp>

#include <cstddef>

namespace ipckit::detail {

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

/// Whether a queue kind's senders read a `closed` word of their own before each send (a ring
/// queue's, on the line of its data bell, which every send reads anyway); the other kinds'
/// senders refuse through the sealed roster of their receivers (every rendezvous send asks it,
/// an unbounded queue's whenever it needs a new chunk... see each kind).
template <class Shared>
concept has_closed_word = requires(Shared& sh) { sh.closed.load(); };

/// Closes the queue whose shared part is `sh` as a whole (close() on its handle, or its
/// removal): every send from now on refused (closed, nothing written: the closed word, where
/// the kind has one), both rosters sealed, so that every endpoint, now or later, sees `closed`
/// (see detail/sync/roster.hpp), and every sleeper on either side woken to see it. Bells: where
/// the kind's endpoints sleep (role_bells for ring queues).
template <template <class> class Bells, class Shared>
void close_queue(Shared& sh) noexcept {
    // SYNC POINT WRITE: READ by a sender's load before its attempt (endpoint::run_until); the
    // seal's seq_cst store and the rings below order it for anyone woken by them.
    if constexpr (has_closed_word<Shared>) sh.closed.store(1, std::memory_order_relaxed);
    sh.senders.seal();
    sh.receivers.seal();
    Bells<producer_role>::wake_on_close(sh);
    Bells<consumer_role>::wake_on_close(sh);
}

}  // namespace ipckit::detail
