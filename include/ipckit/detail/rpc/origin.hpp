#pragma once
// rpc::origin: the connection a request came on, for a handler that keeps state per connection
// (the binder's names, which go when the server that registered them disconnects).
//
// A handler whose first parameter is an rpc::origin gets its request's (it is not one of the
// method's arguments on the wire, nor in the signature a bad_arguments error states). A server
// numbers its connections from 1, never reusing a number; server::on_disconnect(f) calls f(id)
// once a connection has ended. open() is false from the moment the connection ended, before f
// runs: a handler that runs late, for a request of a connection already gone, can tell, and
// one that checks open() under the same lock as f runs under never keeps state f will not drop.
//
// The cost is per connection, not per request: an origin is two words, copied into each
// request's job without a reference count; open() takes a lock, and only the handlers that ask pay it.

#include <cstdint>
#include <mutex>
#include <set>

namespace ipckit::detail::rpc {

/// A server's connections that have not ended, by number. Outlives every handler it is asked from.
class open_connections {
public:
    /// A new connection: its number.
    std::uint64_t add() {
        std::lock_guard lock(m_);
        open_.insert(++last_);
        return last_;
    }
    void end(std::uint64_t connection) {
        std::lock_guard lock(m_);
        open_.erase(connection);
    }
    [[nodiscard]] bool contains(std::uint64_t connection) const {
        std::lock_guard lock(m_);
        return open_.count(connection) != 0;
    }

private:
    mutable std::mutex m_;
    std::set<std::uint64_t> open_;
    std::uint64_t last_ = 0;
};

}  // namespace ipckit::detail::rpc

namespace ipckit::rpc {

class origin {
public:
    origin(std::uint64_t connection, const detail::rpc::open_connections& open) noexcept
        : connection_(connection), open_(&open) {}

    /// The connection's number, unique in its server's life.
    [[nodiscard]] std::uint64_t connection() const noexcept { return connection_; }
    /// Whether the connection is still open.
    [[nodiscard]] bool open() const { return open_->contains(connection_); }

private:
    std::uint64_t connection_;
    const detail::rpc::open_connections* open_;
};

}  // namespace ipckit::rpc
