#pragma once
// One client connection on the server side, and the client it speaks for.
//
// A connection is an ipckit connection (each message one frame), or a plain MessagePack-RPC
// stream from a client in another language (plain_stream.hpp); the server treats both alike.
// The session's reader thread receives; handler threads send replies to whichever session is
// the client's current one (a client that reconnected gets its replies on the new connection).
// Sends and the close are serialized by send_m_: a connection is restricted thread-safe.
//
// A client that does not read. A reply that cannot go out within the server's send_timeout
// closes the connection, whichever kind it is: otherwise each later reply to that client would
// hold a handler thread as long again, one after another, and every other client would wait
// behind them. A client that comes back on a new connection gets its replies from the reply
// cache. And the reader takes no more requests from a connection while
// server_options::max_queued_per_connection of them wait for a handler or run (begun /
// finished), nor while all connections' requests fill the server's request budget
// (request_budget.hpp): the peer's sends then wait, as on a full socket, rather than the
// server's memory growing with what clients send faster than it is served.

#include <ipckit/detail/rpc/plain_stream.hpp>
#include <ipckit/detail/rpc/reply_budget.hpp>
#include <ipckit/detail/rpc/reply_cache.hpp>
#include <ipckit/detail/rpc/wire.hpp>
#include <ipckit/net.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
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

    /// One message, waiting up to `deadline` for room; closed once close() was called. Any
    /// other failure ends the connection for its later replies (a client that does not read:
    /// see the top), and cuts it: its reader closes it at its next wake, as only the reader may
    /// close a framed connection it may be receiving on. A plain stream is shut down at once,
    /// as it may hold a part of the message (a shutdown is safe beside the reader's read).
    ipckit::errc send(const char* p, std::size_t n, time_point deadline) noexcept {
        std::lock_guard lock(send_m_);
        if (closed_) return ipckit::errc::closed;
        ipckit::errc e = ipckit::errc::ok;
        auto* plain = std::get_if<plain_stream>(&stream_);
        if (plain) {
            e = plain->write(p, n, deadline);
        } else if (const auto s = std::get<connection<frame>>(stream_).send(std::as_bytes(std::span(p, n)), deadline); !s) {
            e = s.error();
        }
        if (e != ipckit::errc::ok) {
            closed_ = true;
            cut = true;
            if (plain) plain->shutdown();
        }
        return e;
    }
    /// For the reader, once it is done with the connection: ends it and lets it go at once, so
    /// that its place under the listener's max_connections is free for the next client now,
    /// not when the accept thread next reaps the session (a reply still running holds the
    /// session, and its send says closed).
    void close() noexcept {
        std::lock_guard lock(send_m_);
        close_locked();
        stream_.emplace<std::monostate>();
    }

    /// For the reader, once receive() said ended: whether the peer may still read its replies
    /// (a plain client that ended only its sending half; an ipckit connection ends both ways).
    [[nodiscard]] bool peer_may_read() const noexcept {
        const auto* plain = std::get_if<plain_stream>(&stream_);
        return plain != nullptr && plain->half_closed();
    }

    /// For the reader: waits until fewer than `max` of this connection's requests are queued
    /// or running, or until `deadline`; whether there is room for one more.
    bool room_for_one(std::size_t max, time_point deadline) {
        std::unique_lock lock(queued_m_);
        return room_.wait_until(lock, deadline, [&] { return queued_ < max; });
    }
    /// A request of this connection was given to a handler thread; it calls finished() when done.
    void begun() {
        std::lock_guard lock(queued_m_);
        ++queued_;
    }
    void finished() {
        {
            std::lock_guard lock(queued_m_);
            --queued_;
        }
        room_.notify_one();
    }

    std::thread reader;
    std::atomic<bool> cut{false};   // a handler thread asked for the connection to be dropped
    std::atomic<bool> done{false};  // the reader has finished

private:
    void close_locked() noexcept {
        closed_ = true;
        if (auto* plain = std::get_if<plain_stream>(&stream_)) plain->shutdown();
        else if (auto* framed = std::get_if<connection<frame>>(&stream_)) framed->close();
    }

    std::variant<std::monostate, connection<frame>, plain_stream> stream_;  // monostate once closed
    std::mutex send_m_;
    bool closed_ = false;
    std::mutex queued_m_;  // guards queued_
    std::condition_variable room_;
    std::size_t queued_ = 0;  // requests of this connection queued for or running on a handler thread
};

/// What the server remembers of one client incarnation: its replies, and where to send them.
struct client_state {
    client_state(std::size_t cache, bool deduplicate, std::shared_ptr<reply_budget> budget = nullptr)
        : replies(cache, std::move(budget)), dedupe(deduplicate) {}
    std::mutex m;                     // guards what follows
    reply_cache replies;
    std::weak_ptr<session> current;   // the connection it last said hello on
    std::uint64_t last_used = 0;
    const bool dedupe;                // false: an anonymous connection (no hello), each request runs
};

/// The client incarnations a server knows, bounded: past max, those that nothing holds (no
/// connection, no call running) go, least recently used first. And their replies, bounded in bytes all together (trim).
///
/// At most once past max. A client forgotten with its reply cache may come back, and send again
/// a request that ran. So the table keeps, for each forgotten client, the newest sequence its
/// cache admitted (about 80 bytes with its map node and order entry, where the cache held up to
/// its capacity of replies), and a client that says hello again under that incarnation gets a
/// cache for which every sequence up to it is expired. These records are bounded too
/// (forgotten_per_client: 16 for each client the table may remember, the oldest dropped first);
/// only a client that comes back after that many others were forgotten can have a request run
/// twice.
class client_table {
public:
    client_table(std::size_t max, std::size_t cache, std::size_t cache_bytes)
        : max_(max), cache_(cache), budget_(std::make_shared<reply_budget>(cache_bytes)) {}

    std::shared_ptr<client_state> attach(std::uint64_t incarnation, const std::shared_ptr<session>& s) {
        std::lock_guard lock(m_);
        auto& slot = clients_[incarnation];
        if (!slot) {
            slot = std::make_shared<client_state>(cache_, true, budget_);
            if (const auto f = forgotten_.find(incarnation); f != forgotten_.end()) {
                slot->replies.expire_through(f->second.newest);
                forgotten_.erase(f);
            }
        }
        std::shared_ptr<client_state> c = slot;  // held: evict() below never forgets it
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
    /// The bytes of the replies that all clients' caches hold.
    [[nodiscard]] std::size_t reply_bytes() const noexcept { return budget_->used(); }

    /// If the replies are over the budget: the clients that hold the most drop their oldest,
    /// levelled (the largest down to the next largest, and so on), until the replies are an
    /// eighth below it. Call it holding no client's mutex.
    void trim() {
        if (!budget_->over()) return;
        std::lock_guard lock(m_);
        while (budget_->used() > budget_->target()) {
            std::vector<std::pair<std::size_t, client_state*>> held;  // bytes, client
            for (auto& [inc, c] : clients_) {
                std::lock_guard clock(c->m);
                if (const std::size_t b = c->replies.bytes(); b > 0) held.emplace_back(b, c.get());
            }
            const std::size_t used = budget_->used();
            if (used <= budget_->target()) return;
            const std::size_t level = water_level(held, used - budget_->target());
            bool dropped = false;
            for (const auto& [b, c] : held) {
                if (b <= level) break;
                std::lock_guard clock(c->m);
                for (; c->replies.bytes() > level; dropped = true) c->replies.drop_oldest();
            }
            if (!dropped) return;  // what is over, clients already forgotten hold until their last reply is sent
        }
    }

private:
    /// Sorts `held` largest first and returns the level to which lowering the largest frees at
    /// least `excess` bytes.
    static std::size_t water_level(std::vector<std::pair<std::size_t, client_state*>>& held, std::size_t excess) {
        std::sort(held.begin(), held.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
        std::size_t sum = 0;
        for (std::size_t k = 0; k < held.size(); ++k) {
            sum += held[k].first;
            const std::size_t next = k + 1 < held.size() ? held[k + 1].first : 0;
            const std::size_t lowered = k + 1;  // the clients above `next`
            if (sum - lowered * next >= excess) return (sum - std::min(sum, excess)) / lowered;
        }
        return 0;
    }

    void evict() {
        struct idle_client {
            std::uint64_t last_used, incarnation, newest;
        };
        std::vector<idle_client> idle;
        for (auto& [inc, c] : clients_) {
            std::lock_guard clock(c->m);
            // Idle: its last connection has gone, and no older one of its own still reads for
            // it (each connection holds its client's state): forgotten under such a reader, a
            // request that reader has yet to read would run again, once through the client's
            // next connection and once through the forgotten cache. New holders come only
            // through attach(), under m_, so a count of one stays one.
            if (c->current.expired() && c.use_count() == 1) idle.push_back({c->last_used, inc, c->replies.newest()});
        }
        std::sort(idle.begin(), idle.end(), [](const auto& a, const auto& b) { return a.last_used < b.last_used; });
        for (std::size_t i = 0; i < idle.size() && clients_.size() > max_; ++i) {
            clients_.erase(idle[i].incarnation);
            remember(idle[i].incarnation, idle[i].newest);
        }
    }

    /// Keeps the newest sequence of a client forgotten (see the class), dropping the oldest
    /// such records past forgotten_per_client × max.
    void remember(std::uint64_t incarnation, std::uint64_t newest) {
        if (newest == 0) return;  // it made no call: nothing can come again
        const std::uint64_t stamp = ++forgotten_stamp_;
        forgotten_.insert_or_assign(incarnation, forgotten_client{newest, stamp});
        forgotten_order_.emplace_back(stamp, incarnation);
        const std::size_t most = max_ * forgotten_per_client;
        while (forgotten_order_.size() > most) {
            const auto [old_stamp, old] = forgotten_order_.front();
            forgotten_order_.pop_front();
            if (const auto f = forgotten_.find(old); f != forgotten_.end() && f->second.stamp == old_stamp) forgotten_.erase(f);
        }
    }

    struct forgotten_client {
        std::uint64_t newest;  // the newest sequence its cache admitted
        std::uint64_t stamp;   // which of forgotten_order_'s entries is its own
    };
    static constexpr std::size_t forgotten_per_client = 16;

    mutable std::mutex m_;
    std::size_t max_;
    std::size_t cache_;
    std::shared_ptr<reply_budget> budget_;
    std::map<std::uint64_t, std::shared_ptr<client_state>> clients_;
    std::uint64_t tick_ = 0;
    std::map<std::uint64_t, forgotten_client> forgotten_;                // by incarnation
    std::deque<std::pair<std::uint64_t, std::uint64_t>> forgotten_order_;  // stamp, incarnation: oldest first
    std::uint64_t forgotten_stamp_ = 0;
};

}  // namespace ipckit::detail::rpc
