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
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <span>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace ipckit::detail::sys {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "a futex word must be a plain, lock-free 32-bit atomic");

using clock = std::chrono::steady_clock;

#ifdef SYS_futex_waitv
inline constexpr long futex_waitv_syscall = SYS_futex_waitv;
#else
inline constexpr long futex_waitv_syscall = 449;  // the same number on every architecture
#endif

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

/// One word of a futex_waitv(2) sleep: sleep while `word` holds `expected`.
struct futex_watch {
    std::atomic<std::uint32_t>* word;
    std::uint32_t expected;
};

/// The most words one futex_waitv(2) sleeps on (FUTEX_WAITV_MAX).
inline constexpr std::size_t futex_waitv_max = 128;

/// Sleeps while every word of `watches` holds its expected value (at most futex_waitv_max of
/// them), until one is woken (futex_wake on it), `deadline`, or a signal: futex_waitv(2), Linux
/// 5.16 or later. value_changed when one no longer held its value when we tried to sleep.
/// Shared (not private) words, like futex_wait's, so that futex_wake wakes it from any process.
inline futex_result futex_wait_any(std::span<const futex_watch> watches, clock::time_point deadline) noexcept {
    struct waitv {  // struct futex_waitv of <linux/futex.h>, which older headers lack
        std::uint64_t val;
        std::uint64_t uaddr;
        std::uint32_t flags;
        std::uint32_t reserved;
    };
    constexpr std::uint32_t size_u32 = 2;  // FUTEX2_SIZE_U32 (FUTEX_32)
    waitv v[futex_waitv_max]{};
    const std::size_t n = watches.size() < futex_waitv_max ? watches.size() : futex_waitv_max;
    for (std::size_t i = 0; i < n; ++i)
        v[i] = waitv{watches[i].expected, reinterpret_cast<std::uintptr_t>(watches[i].word), size_u32, 0};
    timespec ts{};
    const timespec* timeout = nullptr;
    if (deadline != clock::time_point::max()) {
        ts = to_timespec(deadline);
        timeout = &ts;
    }
    const long rc = ::syscall(futex_waitv_syscall, v, static_cast<unsigned>(n), 0u, timeout, CLOCK_MONOTONIC);
    if (rc >= 0) return futex_result::ok;
    switch (errno) {
    case EAGAIN: return futex_result::value_changed;
    case EINTR: return futex_result::interrupted;
    case ETIMEDOUT: return futex_result::timed_out;
    default: return futex_result::ok;
    }
}

/// Whether futex_waitv(2) works here (Linux 5.16 or later, and not refused by a seccomp
/// filter): a wait on one word that no longer holds the value expected must say EAGAIN at
/// once. (ENOSYS before 5.16; EPERM from a sandbox, which a wait would otherwise read as a
/// wake-up, and spin on.)
inline bool has_futex_wait_any() noexcept {
    std::atomic<std::uint32_t> word{1};
    const futex_watch w{&word, 0};
    return futex_wait_any(std::span<const futex_watch>(&w, 1), clock::time_point::max()) == futex_result::value_changed;
}

/// Wakes up to `count` waiters on `word`; returns how many were woken.
inline int futex_wake(std::atomic<std::uint32_t>& word, int count = INT_MAX) noexcept {
    const long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, count,
                              nullptr, nullptr, 0);
    return rc < 0 ? 0 : static_cast<int>(rc);
}

}  // namespace ipckit::detail::sys
