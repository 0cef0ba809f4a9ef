#pragma once
// A coarse monotonic clock (CLOCK_MONOTONIC_COARSE): the kernel's time at its last tick, 1 to 10
// ms behind, read from the vDSO without the cycle counter, in a few nanoseconds. For a rate
// limit on a fast path (once per liveness interval, say), where steady_clock's read would cost
// a fifth of a message.

#include <chrono>

#include <time.h>

namespace ipckit::detail::sys {

inline std::chrono::nanoseconds coarse_now() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace ipckit::detail::sys
