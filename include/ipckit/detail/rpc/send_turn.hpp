#pragma once
// One sender at a time on a connection, waited for with a deadline: what the rpc client's
// threads take around each send (caller.hpp), so that none sends under the client's own lock.
// close() ends every wait for the turn at once, and no one takes it after (the client closed).
//
// Not a std::timed_mutex: its try_lock_until is pthread_mutex_clocklock, which GCC 12's
// ThreadSanitizer does not intercept (it then reports the unlock as one of an unlocked mutex).

#include <condition_variable>
#include <mutex>

namespace ipckit::detail::rpc {

template <class Clock>
class send_turn {
public:
    /// Waits until no one else sends, or until `deadline` or close(): whether the turn is this thread's.
    [[nodiscard]] bool take_until(typename Clock::time_point deadline) {
        std::unique_lock lock(m_);
        if (!free_.wait_until(lock, deadline, [&] { return !busy_ || closed_; }) || closed_) return false;
        busy_ = true;
        return true;
    }
    /// Takes the turn only if no one else has it and it is not closed.
    [[nodiscard]] bool try_take() {
        std::lock_guard lock(m_);
        if (busy_ || closed_) return false;
        busy_ = true;
        return true;
    }
    /// Ends this thread's turn.
    void give() {
        {
            std::lock_guard lock(m_);
            busy_ = false;
        }
        free_.notify_one();
    }
    /// Ends every wait for the turn, now and later (false); a turn held is still given back.
    void close() {
        {
            std::lock_guard lock(m_);
            closed_ = true;
        }
        free_.notify_all();
    }
    [[nodiscard]] bool closed() {
        std::lock_guard lock(m_);
        return closed_;
    }

private:
    std::mutex m_;
    std::condition_variable free_;
    bool busy_ = false;
    bool closed_ = false;
};

}  // namespace ipckit::detail::rpc
