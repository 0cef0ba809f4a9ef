#pragma once
// Sleeping and waking across processes, and the one wait loop every blocking verb uses.
//
// A doorbell is a futex word (seq) and a count of sleepers, both in shared memory. The side that
// makes progress (publishes a message, frees a slot) calls notify(): a load of `sleepers`, and a
// system call only if somebody sleeps. The side that waits spins first if its Wait policy says
// so, then registers as a sleeper, re-checks, and sleeps on seq.
//
// Lost wake-ups are impossible because each side orders its store before its load:
//   notifier: store index (release)            ; light fence ; load sleepers, armed
//   sleeper:  sleepers += 1, armed = 1         ; heavy fence ; load seq ; load index
// The light fence is a compiler barrier when the process registered for global expedited
// membarriers, and the heavy fence is that membarrier (see sys/cpu.hpp). Either the notifier sees
// the sleeper, or the sleeper sees the index. Sleeps are also cut into slices of the liveness
// interval, so a dead peer is noticed even though nobody will ring.
//
// Watchers. A waitset watching receivers (net/waitset.hpp) is a waiter like the others, on many
// bells at once: on each bell it enlist()s (counted in sleepers, and armed, as a sleeper is),
// then one heavy fence for all, then loads each seq, then re-checks each receiver's readiness on
// the waitset's thread, and only then has a bridge thread (net/bell_bridge.hpp) sleep in
// futex_waitv on those seqs (plus a word of its own). A notifier therefore sees the watcher
// exactly as it sees a sleeper, and rings (a system call) only for the first message after each
// arming; a ring after the seq loads makes futex_waitv return at once. As a sleeper does, it
// re-arms (rearm()) rather than sleep where a notifier has already spent the arming, and
// leave()s once it stops watching. No watcher: notify() is what it was (two loads). A process
// killed while watching stays counted (it has no `asleep` word): notify() then also loads
// `armed`, on the same line, and makes a system call only once per arming by a live waiter.

#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/detail/sys/futex.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace ipckit::detail {

using clock = sys::clock;

struct doorbell {
    std::atomic<std::uint32_t> seq{0};       ///< futex word; bumped by every ring
    std::atomic<std::uint32_t> sleepers{0};  ///< processes registered to sleep on seq
    std::atomic<std::uint32_t> armed{0};     ///< 1 from a sleeper's arming until the first notify rings

    /// After publishing progress: wakes the sleepers, if any. No system call when there are
    /// none, and one per sleep rather than one per message while a woken sleeper waits for a
    /// CPU (it stays counted in sleepers until it runs).
    void notify(bool light_fence_registered) noexcept {
        sys::light_fence(light_fence_registered);
        // SYNC POINT READ: sleepers and armed, paired with the sleeper's stores + heavy fence.
        if (sleepers.load(std::memory_order_relaxed) != 0 && armed.load(std::memory_order_relaxed) != 0 &&
            armed.exchange(0, std::memory_order_acq_rel) != 0)
            ring();
    }

    /// A waiter's registration (wait_until's, and a waitset's: see Watchers above): counted in
    /// sleepers and armed. Follow with the heavy fence, then the acquire load of seq.
    void enlist() noexcept {
        // SYNC POINT WRITE: sleepers and armed, READ by notify()'s loads after its light fence.
        sleepers.fetch_add(1, std::memory_order_seq_cst);
        armed.store(1, std::memory_order_relaxed);  // before the fence, like the count
    }
    /// Arms again, still counted (a watcher that found the arming spent): then the heavy fence
    /// and the seq load again.
    void rearm() noexcept {
        // SYNC POINT WRITE: READ by notify()'s load and exchange of armed, as enlist()'s.
        armed.store(1, std::memory_order_relaxed);
    }
    /// Counted no more.
    void leave() noexcept { sleepers.fetch_sub(1, std::memory_order_relaxed); }

    /// Wakes every sleeper unconditionally (after a close, which must never be missed).
    void ring() noexcept {
        // SYNC POINT WRITE: everything before it; READ by the sleeper's acquire load of seq.
        seq.fetch_add(1, std::memory_order_seq_cst);
        sys::futex_wake(seq);
    }
};
static_assert(sizeof(doorbell) == 12 && std::is_standard_layout_v<doorbell>);

/// Takes a waiter that was killed asleep off `bell`'s count, so that notify() does not make a
/// system call for it forever. Called by the process that takes over the waiter's place.
inline void forget_sleeper(doorbell& bell, std::atomic<std::uint32_t>& asleep) noexcept {
    if (asleep.exchange(0, std::memory_order_acq_rel) != 0) bell.sleepers.fetch_sub(1, std::memory_order_relaxed);
}

/// Waits on `bell` until ready() holds, the deadline passes, or peer(ask_os) reports the peer
/// gone. ready() is re-checked after the peer is found gone, so messages published before a
/// close are still taken. peer(false) must be cheap (a load); peer(true) may ask the OS, and is
/// called once `next_os_check` has come, which it then moves a liveness interval on: the
/// caller keeps that clock across calls (an endpoint's own), so that calls each shorter than
/// the interval (a receive(50ms) in a loop) still ask, and a dead peer is still found. `asleep`
/// is the waiter's own word in shared memory, 1 while it is counted in bell.sleepers, so that
/// whoever takes over from a waiter that was killed asleep can take it off the count (see
/// forget_sleeper). Returns ok, timed_out, closed or peer_dead.
template <wait_policy Wait, class Ready, class Peer>
errc wait_until(doorbell& bell, std::atomic<std::uint32_t>& asleep, Ready&& ready, Peer&& peer,
                clock::time_point deadline, std::chrono::nanoseconds liveness_interval,
                clock::time_point& next_os_check) noexcept {
    auto now = clock::now();
    // ok to keep waiting, otherwise why to stop.
    auto why_stop = [&](clock::time_point t) -> errc {
        if (t >= deadline) return errc::timed_out;
        const bool ask_os = t >= next_os_check;
        if (ask_os) next_os_check = t + liveness_interval;
        return peer(ask_os);
    };

    if constexpr (Wait::spin_for > std::chrono::nanoseconds::zero()) {
        clock::time_point spin_end = clock::time_point::max();
        if constexpr (Wait::may_sleep) spin_end = now + Wait::spin_for;
        for (unsigned i = 1;; ++i) {
            if (ready()) return errc::ok;
            sys::cpu_relax();
            if (i % 64 == 0) {
                now = clock::now();
                if (const errc e = why_stop(now); e != errc::ok) return ready() ? errc::ok : e;
                if (now >= spin_end) break;
            }
        }
    }

    if constexpr (Wait::may_sleep) {
        for (;;) {
            bell.enlist();
            asleep.store(1, std::memory_order_relaxed);
            sys::heavy_fence();
            // SYNC POINT READ: seq, paired with ring(); taken before the checks below so that a
            // ring after them makes futex_wait return at once.
            const std::uint32_t seq = bell.seq.load(std::memory_order_acquire);
            errc e = ready() ? errc::ok : why_stop(clock::now());
            // A notifier whose progress this waiter already took may have spent the arming
            // (armed = 0, then ring) before the seq load above: sleeping now, on that ring's seq,
            // would leave every later notify seeing armed == 0, and the next message would wait
            // for the liveness slice. The acquire load of seq makes such an exchange visible, so
            // an armed of 0 here means: arm again first.
            if (e == errc::ok && !ready() && bell.armed.load(std::memory_order_acquire) != 0)
                (void)sys::futex_wait(bell.seq, seq, std::min(deadline, next_os_check));
            asleep.store(0, std::memory_order_relaxed);
            bell.leave();
            if (ready()) return errc::ok;
            if (e != errc::ok) return e;
        }
    }
    return errc::ok;  // not reached: a policy that may not sleep spins until it returns above
}

}  // namespace ipckit::detail
