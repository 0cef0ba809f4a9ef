#pragma once
// What lets one thread wait on many connections and listeners at once (ipckit::waitset): each
// watched link or acceptor signals the waitsets watching it when it may have become ready (a
// message arrived, a connection is waiting for accept, or it ended). A signal only wakes the
// waiter, which then asks each endpoint whether it is ready: readiness is read from the
// endpoints themselves, never from the signals, so a signal lost in a race costs nothing.
//
// Lock order: an endpoint's mutex, then a waitset's (signal() is called under the endpoint's);
// a waiting waitset never holds its own mutex while it asks an endpoint.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace ipckit::detail {

/// The waitset's side: a counter of signals and a condition variable to sleep on.
class watch_core {
public:
    void signal() noexcept {
        {
            std::lock_guard lock(m_);
            ++epoch_;
        }
        cv_.notify_all();
    }
    [[nodiscard]] std::uint64_t epoch() const noexcept {
        std::lock_guard lock(m_);
        return epoch_;
    }
    /// Sleeps until a signal after `seen`, or `deadline`; false at the deadline.
    bool wait_past(std::uint64_t seen, std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(m_);
        if (deadline == std::chrono::steady_clock::time_point::max()) {
            cv_.wait(lock, [&] { return epoch_ != seen; });
            return true;
        }
        return cv_.wait_until(lock, deadline, [&] { return epoch_ != seen; });
    }

private:
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::uint64_t epoch_ = 0;
};

/// The endpoint's side: the waitsets watching it. Guarded by the endpoint's own mutex.
class watch_list {
public:
    void add(std::shared_ptr<watch_core> w) { watchers_.push_back(std::move(w)); }
    void remove(const watch_core* w) noexcept {
        std::erase_if(watchers_, [&](const auto& p) { return p.get() == w; });
    }
    void signal() const noexcept {
        for (const auto& w : watchers_) w->signal();
    }

private:
    std::vector<std::shared_ptr<watch_core>> watchers_;
};

}  // namespace ipckit::detail
