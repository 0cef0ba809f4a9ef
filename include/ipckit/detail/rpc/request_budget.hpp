#pragma once
// The bytes of the requests that a server's connections have handed to its handler threads and
// that are not done yet, all connections together, against one limit (server_options::
// max_queued_bytes).
//
// A connection's reader takes a request's bytes before it gives the request to a handler, and
// waits while they do not fit; the handler gives them back when the request is done. So what a
// server holds of requests is bounded whatever many clients send at once: the readers stop
// reading, the clients' sends wait as on a full socket, and nothing is dropped. One request
// larger than the whole limit still goes, when nothing else is held: it is never refused for
// its size alone (the frame limit does that).
//
// Readers take in the order they came: one whose request does not fit yet holds back those
// behind it, whose smaller requests would fit. Otherwise a stream of small requests from some
// connections, each fitting in what the others leave, would keep a large one waiting for ever.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <list>
#include <mutex>

namespace ipckit::detail::rpc {

class request_budget {
public:
    explicit request_budget(std::size_t limit) noexcept : limit_(limit) {}

    /// Takes `n` bytes once the readers before this one have taken theirs and they fit. Gives
    /// up, leaving the line, as soon as `give_up()` says so: it asks before it takes, and after
    /// each wake or `poll` of waiting. Whether it took them.
    template <class GiveUp>
    bool take(std::size_t n, std::chrono::milliseconds poll, GiveUp&& give_up) {
        std::unique_lock lock(m_);
        const auto me = line_.insert(line_.end(), n);
        const auto fits = [&] { return me == line_.begin() && (used_ == 0 || n <= limit_ - std::min(used_, limit_)); };
        for (;; room_.wait_for(lock, poll)) {
            if (give_up()) {
                line_.erase(me);
                lock.unlock();
                room_.notify_all();  // the reader behind may be first now
                return false;
            }
            if (fits()) break;
        }
        line_.erase(me);
        used_ += n;
        lock.unlock();
        room_.notify_all();  // the next in line may fit too
        return true;
    }
    void give_back(std::size_t n) {
        {
            std::lock_guard lock(m_);
            used_ -= n;
        }
        room_.notify_all();
    }
    [[nodiscard]] std::size_t used() const {
        std::lock_guard lock(m_);
        return used_;
    }
    /// How many readers wait in line.
    [[nodiscard]] std::size_t waiting() const {
        std::lock_guard lock(m_);
        return line_.size();
    }

private:
    const std::size_t limit_;
    mutable std::mutex m_;  // guards used_ and line_
    std::condition_variable room_;
    std::size_t used_ = 0;
    std::list<std::size_t> line_;  // the bytes each waiting reader asks for, first come first
};

}  // namespace ipckit::detail::rpc
