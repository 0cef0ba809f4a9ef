#pragma once
// The bytes that every client's reply cache holds, together, against one limit.
//
// Each reply_cache adds what it stores and takes back what it evicts (and, when it goes, what it
// still held), so `used` is the server's whole reply memory. The caches do not evict for it
// themselves: the client table does, when `over()` says so, from the client that holds most
// (client_table::trim, session.hpp), down to `target()`, an eighth below the limit, so that a
// server at its limit scans its clients once in a while, not once a reply.

#include <atomic>
#include <cstddef>

namespace ipckit::detail::rpc {

class reply_budget {
public:
    explicit reply_budget(std::size_t limit) noexcept : limit_(limit) {}

    void add(std::size_t n) noexcept { used_.fetch_add(n, std::memory_order_relaxed); }
    void remove(std::size_t n) noexcept { used_.fetch_sub(n, std::memory_order_relaxed); }

    [[nodiscard]] std::size_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
    [[nodiscard]] bool over() const noexcept { return used() > limit_; }
    /// Where a trim stops.
    [[nodiscard]] std::size_t target() const noexcept { return limit_ - limit_ / 8; }

private:
    const std::size_t limit_;
    std::atomic<std::size_t> used_{0};
};

}  // namespace ipckit::detail::rpc
