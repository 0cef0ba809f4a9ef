#pragma once
// The bridge between a waitset's epoll set and the doorbells of the queue and mailbox receivers
// it watches: a doorbell is a futex word in shared memory, which epoll cannot watch, so one
// thread per waitset (started with its first such receiver) sleeps in futex_waitv(2) on the
// bells the waitset armed, plus a word of its own (`orders_`), and raises the waitset's eventfd
// (watch_core) when one rings or when the waitset's next liveness check is due.
//
// The bridge only sleeps: the waitset's own thread arms the bells, loads their seqs and checks
// the receivers (sync/doorbell.hpp, Watchers), then hands the words and the seqs it loaded here
// (arm). A ring after those loads moves a seq, so futex_waitv returns at once or is woken: no
// wake-up is missed. After telling the waitset once, the bridge sleeps on its own word alone
// until armed again, so a receiver nobody drains does not keep it spinning. It never touches a
// receiver, only words in segments the waitset keeps mapped; a word it still sleeps on after
// the waitset let go of it costs nothing (the kernel's wait holds no reference to it).
//
// Lock order: m_, then nothing. The waitset's thread calls arm, disarm and the destructor.

#include <ipckit/detail/net/watch.hpp>
#include <ipckit/detail/sys/futex.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace ipckit::detail {

class bell_bridge {
public:
    explicit bell_bridge(std::shared_ptr<watch_core> core) : core_(std::move(core)), thread_([this] { run(); }) {}
    bell_bridge(const bell_bridge&) = delete;
    bell_bridge& operator=(const bell_bridge&) = delete;
    ~bell_bridge() {
        {
            const std::lock_guard lock(m_);
            stop_ = true;
        }
        new_orders();
        thread_.join();
    }

    /// Sleeps on `watches` (each word while it holds its seq) until one moves or `until`
    /// passes, then raises the waitset's eventfd, once. Replaces what it slept on before; the
    /// same orders again change nothing.
    void arm(std::vector<sys::futex_watch> watches, sys::clock::time_point until) {
        {
            const std::lock_guard lock(m_);
            if (armed_ && until == until_ &&
                std::equal(watches.begin(), watches.end(), watches_.begin(), watches_.end(), same))
                return;
            watches_ = std::move(watches);
            until_ = until;
            armed_ = true;
        }
        new_orders();
    }
    /// Sleeps on nothing (but its own word) until armed again.
    void disarm() {
        {
            const std::lock_guard lock(m_);
            if (!armed_) return;
            armed_ = false;
            watches_.clear();
        }
        new_orders();
    }

private:
    static bool same(const sys::futex_watch& a, const sys::futex_watch& b) noexcept {
        return a.word == b.word && a.expected == b.expected;
    }

    void new_orders() noexcept {
        // SYNC POINT WRITE: orders_ after the orders (under m_); READ by run()'s futex_waitv on
        // it, which then returns, and its load after the wait.
        orders_.fetch_add(1, std::memory_order_release);
        sys::futex_wake(orders_);
    }

    void run() noexcept {
        std::vector<sys::futex_watch> mine;
        mine.reserve(sys::futex_waitv_max);
        for (;;) {
            std::uint32_t seen = 0;
            sys::clock::time_point until = sys::clock::time_point::max();
            {
                const std::lock_guard lock(m_);
                if (stop_) return;
                // SYNC POINT READ: orders_, paired with new_orders(): taken with the orders it
                // covers, so that newer ones make the wait below return at once.
                seen = orders_.load(std::memory_order_acquire);
                mine.clear();
                if (armed_) {
                    mine.insert(mine.end(), watches_.begin(), watches_.end());
                    until = until_;
                }
            }
            mine.push_back({&orders_, seen});
            const auto r = sys::futex_wait_any(mine, until);
            if (r == sys::futex_result::interrupted || orders_.load(std::memory_order_acquire) != seen) continue;
            if (mine.size() == 1 && r != sys::futex_result::timed_out) continue;  // nothing armed: a spurious return
            {
                const std::lock_guard lock(m_);
                if (orders_.load(std::memory_order_relaxed) != seen) continue;  // newer orders: sleep on those
                armed_ = false;  // told once; the waitset arms again when it waits again
                watches_.clear();
            }
            core_->signal();
        }
    }

    std::shared_ptr<watch_core> core_;
    std::mutex m_;
    std::vector<sys::futex_watch> watches_;               ///< guarded by m_
    sys::clock::time_point until_ = sys::clock::time_point::max();  ///< guarded by m_
    bool armed_ = false;                                  ///< guarded by m_
    bool stop_ = false;                                   ///< guarded by m_
    std::atomic<std::uint32_t> orders_{0};                ///< bumped by every new order: the bridge's own futex word
    std::thread thread_;                                  ///< last: started once the rest is made
};

}  // namespace ipckit::detail
