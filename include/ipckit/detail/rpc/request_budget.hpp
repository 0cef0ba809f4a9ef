#pragma once
// The bytes of the requests that a server's connections have handed to its handler threads and
// that are not done yet, all connections together, against one limit (server_options::
// max_queued_bytes). A request counts what it holds, not its length on the wire: unpacked, each
// element of its arrays and maps is a msgpack::object of 24 bytes, and a nil is one byte on the
// wire (wire.hpp, held_size).
//
// A connection's reader takes a request's bytes before it gives the request to a handler, and
// waits while they do not fit; the handler gives them back when the request is done. So what a
// server holds of requests is bounded whatever many clients send at once: the readers stop
// reading, the clients' sends wait as on a full socket, and nothing is dropped. One request
// larger than the whole limit still goes, when nothing else is held: it is never refused for
// its size alone (the frame limit does that).

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace ipckit::detail::rpc {

class request_budget {
public:
    using time_point = std::chrono::steady_clock::time_point;

    explicit request_budget(std::size_t limit) noexcept : limit_(limit) {}

    /// Takes `n` bytes, waiting until they fit or until `deadline`; whether it took them.
    bool take(std::size_t n, time_point deadline) {
        std::unique_lock lock(m_);
        if (!room_.wait_until(lock, deadline, [&] { return used_ == 0 || n <= limit_ - std::min(used_, limit_); }))
            return false;
        used_ += n;
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

private:
    const std::size_t limit_;
    mutable std::mutex m_;  // guards used_
    std::condition_variable room_;
    std::size_t used_ = 0;
};

}  // namespace ipckit::detail::rpc
