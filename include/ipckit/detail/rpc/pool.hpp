#pragma once
// The server's handler threads: N threads taking jobs in the order they were posted.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace ipckit::detail::rpc {

class pool {
public:
    /// Starts `threads` threads (at least one), each of which calls `at_start` first. Throws
    /// std::system_error (having joined those it made) if the system makes no more.
    explicit pool(std::size_t threads, const std::function<void()>& at_start = {}) {
        if (threads == 0) threads = 1;
        try {
            for (std::size_t i = 0; i < threads; ++i)
                threads_.emplace_back([this, at_start] {
                    if (at_start) at_start();
                    work();
                });
        } catch (...) {
            stop();
            throw;
        }
    }
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;
    ~pool() { stop(); }

    /// Queues a job; the first idle thread takes it (FIFO).
    void post(std::function<void()> job) {
        {
            std::lock_guard lock(m_);
            if (stopping_) return;
            jobs_.push_back(std::move(job));
        }
        cv_.notify_one();
    }

    /// Runs what is queued, then joins the threads.
    void stop() noexcept {
        {
            std::lock_guard lock(m_);
            stopping_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }

private:
    void work() {
        std::unique_lock lock(m_);
        for (;;) {
            cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping, and nothing left
            auto job = std::move(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            job();
            lock.lock();
        }
    }

    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace ipckit::detail::rpc
