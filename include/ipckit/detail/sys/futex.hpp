#pragma once
// futex(2) on words that live in shared memory.
//
// Never FUTEX_PRIVATE_FLAG: the waiter and the waker are in different processes, each with its
// own mapping of the word. Never std::atomic::wait either: its waiter table is per process.
// Deadlines are absolute on CLOCK_MONOTONIC (FUTEX_WAIT_BITSET without FUTEX_CLOCK_REALTIME),
// which is the clock of std::chrono::steady_clock on Linux.

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace ipckit::detail::sys {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "a futex word must be a plain, lock-free 32-bit atomic");

using clock = std::chrono::steady_clock;

enum class futex_result {
    ok,             ///< woken (or spuriously returned): re-check the condition
    value_changed,  ///< the word no longer held `expected` when we tried to sleep
    interrupted,    ///< a signal arrived
    timed_out,      ///< the deadline passed
};

inline timespec to_timespec(clock::time_point t) noexcept {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

/// Sleeps while `word` holds `expected`, until woken or `deadline` (clock::time_point::max()
/// for none). Callers loop: every result may be followed by a re-check of their condition.
inline futex_result futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                               clock::time_point deadline) noexcept {
    timespec ts{};
    const timespec* timeout = nullptr;
    if (deadline != clock::time_point::max()) {
        ts = to_timespec(deadline);
        timeout = &ts;
    }
    const long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET,
                              expected, timeout, nullptr, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0) return futex_result::ok;
    switch (errno) {
    case EAGAIN: return futex_result::value_changed;
    case EINTR: return futex_result::interrupted;
    case ETIMEDOUT: return futex_result::timed_out;
    default: return futex_result::ok;  // EFAULT/EINVAL cannot happen on a mapped, aligned word
    }
}

/// Wakes up to `count` waiters on `word`; returns how many were woken.
inline int futex_wake(std::atomic<std::uint32_t>& word, int count = INT_MAX) noexcept {
    const long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, count,
                              nullptr, nullptr, 0);
    return rc < 0 ? 0 : static_cast<int>(rc);
}

}  // namespace ipckit::detail::sys
