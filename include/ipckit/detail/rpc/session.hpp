#pragma once
// One client connection on the server side, and the client it speaks for.
//
// The session's reader thread receives; handler threads send replies to whichever session is
// the client's current one (a client that reconnected gets its replies on the new connection).
// Sends and the close are serialized by send_m_: a connection is restricted thread-safe.

#include <ipckit/detail/rpc/reply_cache.hpp>
#include <ipckit/detail/rpc/wire.hpp>
#include <ipckit/net.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <utility>
#include <vector>

namespace ipckit::detail::rpc {

class session {
public:
    explicit session(connection<frame> c) : conn_(std::move(c)) {}
    session(const session&) = delete;
    session& operator=(const session&) = delete;
    ~session() {
        if (reader.joinable()) reader.join();
    }

    /// One frame, waiting up to `deadline` for room; closed once close() was called.
    ipckit::errc send(const char* p, std::size_t n, std::chrono::steady_clock::time_point deadline) noexcept {
        std::lock_guard lock(send_m_);
        if (closed_) return ipckit::errc::closed;
        const auto s = conn_.send(std::as_bytes(std::span(p, n)), deadline);
        return s ? ipckit::errc::ok : s.error();
    }
    void close() noexcept {
        std::lock_guard lock(send_m_);
        closed_ = true;
        conn_.close();
    }
    /// For the reader thread only.
    connection<frame>& receiving() noexcept { return conn_; }

    std::thread reader;
    std::atomic<bool> cut{false};   // a handler thread asked for the connection to be dropped
    std::atomic<bool> done{false};  // the reader has finished

private:
    connection<frame> conn_;
    std::mutex send_m_;
    bool closed_ = false;
};

/// What the server remembers of one client incarnation: its replies, and where to send them.
struct client_state {
    client_state(std::size_t cache, bool deduplicate) : replies(cache), dedupe(deduplicate) {}
    std::mutex m;                     // guards what follows
    reply_cache replies;
    std::weak_ptr<session> current;   // the connection it last said hello on
    std::uint64_t last_used = 0;
    const bool dedupe;                // false: an anonymous connection (no hello), each request runs
};

/// The client incarnations a server knows, bounded: past max, those without a live connection
/// go, least recently used first.
class client_table {
public:
    client_table(std::size_t max, std::size_t cache) : max_(max), cache_(cache) {}

    std::shared_ptr<client_state> attach(std::uint64_t incarnation, const std::shared_ptr<session>& s) {
        std::lock_guard lock(m_);
        auto& c = clients_[incarnation];
        if (!c) c = std::make_shared<client_state>(cache_, true);
        {
            std::lock_guard clock(c->m);
            c->current = s;
            c->last_used = ++tick_;
        }
        if (clients_.size() > max_) evict();
        return c;
    }
    [[nodiscard]] std::size_t size() const {
        std::lock_guard lock(m_);
        return clients_.size();
    }

private:
    void evict() {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> idle;  // last_used, incarnation
        for (auto& [inc, c] : clients_) {
            std::lock_guard clock(c->m);
            if (c->current.expired()) idle.emplace_back(c->last_used, inc);
        }
        std::sort(idle.begin(), idle.end());
        for (std::size_t i = 0; i < idle.size() && clients_.size() > max_; ++i) clients_.erase(idle[i].second);
    }

    mutable std::mutex m_;
    std::size_t max_;
    std::size_t cache_;
    std::map<std::uint64_t, std::shared_ptr<client_state>> clients_;
    std::uint64_t tick_ = 0;
};

}  // namespace ipckit::detail::rpc
