#pragma once
// One client connection on the server side, and the client it speaks for.
//
// A connection is an ipckit connection (each message one frame), or a plain MessagePack-RPC
// stream from a client in another language (plain_stream.hpp); the server treats both alike.
// The session's reader thread receives; handler threads send replies to whichever session is
// the client's current one (a client that reconnected gets its replies on the new connection).
// Sends and the close are serialized by send_m_: a connection is restricted thread-safe.

#include <ipckit/detail/rpc/plain_stream.hpp>
#include <ipckit/detail/rpc/reply_cache.hpp>
#include <ipckit/detail/rpc/wire.hpp>
#include <ipckit/net.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

namespace ipckit::detail::rpc {

class session {
public:
    using time_point = std::chrono::steady_clock::time_point;

    explicit session(connection<frame> c) : stream_(std::in_place_type<connection<frame>>, std::move(c)) {}
    /// A plain MessagePack-RPC client's socket (the listener's foreign stream), probed when it
    /// is silent for `liveness` (plain_stream.hpp).
    session(net_socket s, std::function<void()> released, std::chrono::milliseconds liveness)
        : stream_(std::in_place_type<plain_stream>, std::move(s), std::move(released), liveness) {}
    session(const session&) = delete;
    session& operator=(const session&) = delete;
    ~session() {
        if (reader.joinable()) reader.join();
    }

    /// For the reader thread only: the next message, waiting until `deadline` (idle then).
    incoming receive(time_point deadline) noexcept {
        if (auto* plain = std::get_if<plain_stream>(&stream_)) return plain->receive(deadline);
        auto m = std::get<connection<frame>>(stream_).receive(deadline);
        incoming in;
        if (!m) {
            in.found = m.error() == ipckit::errc::timed_out ? incoming::what::idle : incoming::what::ended;
            return in;  // closed, peer_dead, corrupt: this connection is over
        }
        in.msg = parse(m->data(), m->size(), in.why);
        in.found = in.msg ? incoming::what::message : incoming::what::corrupt;
        return in;
    }

    /// One message, waiting up to `deadline` for room; closed once close() was called.
    ipckit::errc send(const char* p, std::size_t n, time_point deadline) noexcept {
        std::lock_guard lock(send_m_);
        if (closed_) return ipckit::errc::closed;
        if (auto* plain = std::get_if<plain_stream>(&stream_)) {
            const auto e = plain->write(p, n, deadline);
            if (e != ipckit::errc::ok) close_locked();  // a part of the message may be in the stream
            return e;
        }
        const auto s = std::get<connection<frame>>(stream_).send(std::as_bytes(std::span(p, n)), deadline);
        return s ? ipckit::errc::ok : s.error();
    }
    void close() noexcept {
        std::lock_guard lock(send_m_);
        close_locked();
    }

    std::thread reader;
    std::atomic<bool> cut{false};   // a handler thread asked for the connection to be dropped
    std::atomic<bool> done{false};  // the reader has finished

private:
    void close_locked() noexcept {
        closed_ = true;
        if (auto* plain = std::get_if<plain_stream>(&stream_)) plain->shutdown();
        else std::get<connection<frame>>(stream_).close();
    }

    std::variant<connection<frame>, plain_stream> stream_;
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
