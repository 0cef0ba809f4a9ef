#pragma once
// An incarnation: a 64-bit number that names one life of a client or server process, so that
// a request id (incarnation, sequence) is never reused by a restarted program.

#include <ipckit/detail/sys/process.hpp>

#include <chrono>
#include <cstdint>
#include <random>

namespace ipckit::detail::rpc {

inline std::uint64_t new_incarnation() {
    std::random_device rd;
    std::uint64_t x = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    x ^= static_cast<std::uint64_t>(sys::this_pid()) << 20;
    x ^= static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return x == 0 ? 1 : x;  // 0 means "unknown" (a server that does not say hello)
}

}  // namespace ipckit::detail::rpc
