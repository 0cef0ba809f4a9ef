#pragma once
// Sockets: the queues' verbs between processes on one machine or many, chosen by an address.
//
//   #include <ipckit/net.hpp>
//   using msg = ipckit::bytes<64 * 1024>;
//   auto srv = ipckit::listener<msg>::bind("tcp://127.0.0.1:0");   // or unix:///run/app.sock, unix://@app, shm://app
//   std::printf("listening on %s\n", srv.address().c_str());      // the real port
//   auto c = srv.accept(5s);                                        // result<connection<msg>>
//   auto req = c->receive(100ms);                                   // timed_out, closed, peer_dead, ...
//
//   auto cli = ipckit::connect<msg>("tcp://127.0.0.1:7000", 2s);   // throws ipckit::error on failure
//   cli.send("hello");
//
// A connection is duplex and carries a fixed-size T (both ends the same T and byte order) or
// bytes<Max>. Its verbs are the queues': send, receive, receive into a caller's buffer, with
// deadlines on a blocking connection; they never throw and return would_block, timed_out,
// closed (the peer closed, after its messages), peer_dead (its stream ended without a close,
// a reset, or silence past net_options::liveness_interval), too_large or corrupt (the peer
// sent a damaged stream; the connection is dropped). Setting up (bind, connect) throws
// ipckit::error naming the address. This header is not part of <ipckit/ipckit.hpp>: only the
// programs that include it need Boost.Asio (header-only) and a thread.
//
// Transports. tcp:// and unix:// frame messages on a socket (detail/net/frame.hpp, after the
// handshake of hello.hpp); shm:// carries them on a pair of ipckit queues (shm_duplex.hpp), so
// the same program runs over any of them by its address alone. Where they differ: a shm://
// sender learns that the peer closed only once its ring is full; a shm:// listener has no
// connection cap or rejections of its own yet, and a waitset watches sockets only.
//
// Design (sockets).
// - Threading: one I/O thread per process (detail/net/io_thread.hpp), started by the first
//   listener or connection, runs an Asio io_context that owns every socket: reads, writes,
//   accepts, handshakes, heartbeats and liveness timers. No socket is touched by two threads.
// - A connection's user side and its I/O side meet in its link (detail/net/link.hpp): a
//   bounded buffer of frames to write and a bounded inbox of received messages, under a mutex.
//   A send appends a frame and, if no write is in flight, posts one; sends made meanwhile are
//   coalesced into the next write. A receive takes from the inbox.
// - A blocking verb with a deadline is a condition-variable wait until that deadline on the
//   user's thread, woken by the I/O thread when the inbox gains a message, the send buffer
//   gains room, or the connection ends; deadlines inside the I/O thread (handshake, connect,
//   liveness) are Asio steady timers. A non-blocking verb takes the mutex and returns.
// - A waitset (one thread, many clients) is signalled by the links and acceptors it watches
//   (detail/net/watch.hpp) and then asks each whether it is ready; it sleeps on a condition
//   variable until the deadline in between.
// - Fork before the first listener or connection (the I/O thread does not survive a fork).
//
// Thread safety: restricted thread-safe, as a queue endpoint: one thread at a time per
// connection or listener; different ones may be used from different threads at once.

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/net/acceptor.hpp>
#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/net/bind.hpp>
#include <ipckit/detail/net/connector.hpp>
#include <ipckit/detail/net/hello.hpp>
#include <ipckit/detail/net/link.hpp>
#include <ipckit/detail/net/options.hpp>
#include <ipckit/detail/net/shm_rendezvous.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipckit {

/// An address, parsed: see detail/net/address.hpp for the forms. Throws invalid_argument.
using net_address = detail::net_address;
using net_transport = detail::net_transport;
using net_rejection = detail::net_rejection;
inline net_address parse_address(std::string_view text) { return detail::parse_address(text); }

class waitset;

/// One end of a connection: duplex, carrying Message (a fixed-size T or bytes<Max>), its verbs
/// blocking or not by Mode. Destroying it closes it (see close()).
template <class Message, mode_policy Mode = blocking>
class connection {
    static_assert(message_policy<Message>,
                  "ipckit::connection<Message>: Message must be a trivially copyable, standard-layout T, or bytes<Max>");
    static constexpr bool fixed = !is_bytes<Message>;
    static constexpr bool may_block = std::is_same_v<Mode, blocking>;

public:
    /// The longest message this connection carries: sizeof(T), or the smaller Max of both ends.
    [[nodiscard]] std::size_t max_message() const noexcept { return link_->max_message(); }

    // ---- fixed-size T ------------------------------------------------------------------------

    /// Sends a copy of `m`: ok, or would_block / timed_out (the peer does not read), closed,
    /// peer_dead, corrupt.
    status send(const Message& m) noexcept requires fixed { return send_bytes(&m, sizeof m, forever()); }
    template <detail::deadline D>
    status send(const Message& m, D deadline) noexcept requires fixed {
        return send_bytes(&m, sizeof m, detail::blocking_deadline<Mode>(deadline));
    }
    /// The next message, or would_block / timed_out / closed / peer_dead / corrupt.
    result<Message> receive() noexcept requires fixed { return receive_value(forever()); }
    template <detail::deadline D>
    result<Message> receive(D deadline) noexcept requires fixed {
        return receive_value(detail::blocking_deadline<Mode>(deadline));
    }
    /// Into `out`, written only on ok.
    status receive(Message& out) noexcept requires fixed { return receive_into(out, forever()); }
    template <detail::deadline D>
    status receive(Message& out, D deadline) noexcept requires fixed {
        return receive_into(out, detail::blocking_deadline<Mode>(deadline));
    }

    // ---- bytes<Max> --------------------------------------------------------------------------

    /// Sends the bytes of `m` as one message: ok, too_large (past max_message(), nothing sent),
    /// or as for a fixed-size send.
    status send(std::span<const std::byte> m) noexcept requires(!fixed) { return send_bytes(m.data(), m.size(), forever()); }
    template <detail::deadline D>
    status send(std::span<const std::byte> m, D deadline) noexcept requires(!fixed) {
        return send_bytes(m.data(), m.size(), detail::blocking_deadline<Mode>(deadline));
    }
    status send(std::string_view s) noexcept requires(!fixed) { return send(std::as_bytes(std::span(s.data(), s.size()))); }
    template <detail::deadline D>
    status send(std::string_view s, D deadline) noexcept requires(!fixed) {
        return send(std::as_bytes(std::span(s.data(), s.size())), deadline);
    }
    /// The next message into `buffer`, returning its length; too_large if it does not fit (the
    /// message stays first in line, so a bigger buffer can take it).
    result<std::size_t> receive(std::span<std::byte> buffer) noexcept requires(!fixed) {
        return receive_span(buffer, forever());
    }
    template <detail::deadline D>
    result<std::size_t> receive(std::span<std::byte> buffer, D deadline) noexcept requires(!fixed) {
        return receive_span(buffer, detail::blocking_deadline<Mode>(deadline));
    }
    /// The next message in a vector of its size (no_space if that cannot be allocated).
    result<std::vector<std::byte>> receive() noexcept requires(!fixed) { return receive_vector(forever()); }
    template <detail::deadline D>
    result<std::vector<std::byte>> receive(D deadline) noexcept requires(!fixed) {
        return receive_vector(detail::blocking_deadline<Mode>(deadline));
    }

    // ---- both --------------------------------------------------------------------------------

    /// Orderly close: what was sent is written (waiting up to net_options::close_timeout), then
    /// a close frame; the peer receives everything, then closed. Later verbs here return closed.
    void close() noexcept {
        if (link_) link_->close(detail::deadline_after(close_timeout_));
    }
    /// Why the connection ended, in words; empty while it is open or after an orderly close.
    [[nodiscard]] std::string fault() const { return link_ ? link_->fault() : std::string(); }
    /// The address this connection was made to (connect) or accepted on (listener).
    [[nodiscard]] const std::string& address() const noexcept { return address_; }

    connection(connection&&) noexcept = default;
    connection& operator=(connection&& o) noexcept {
        if (this != &o) {
            close();
            link_ = std::move(o.link_);
            address_ = std::move(o.address_);
            close_timeout_ = o.close_timeout_;
        }
        return *this;
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() { close(); }

    /// Made by connect() and listener::accept().
    connection(std::shared_ptr<detail::duplex> l, std::string address, std::chrono::milliseconds close_timeout)
        : link_(std::move(l)), address_(std::move(address)), close_timeout_(close_timeout) {}

private:
    friend class waitset;
    static constexpr detail::clock::time_point forever() noexcept { return detail::clock::time_point::max(); }

    status send_bytes(const void* p, std::size_t n, detail::clock::time_point deadline) noexcept {
        if (!link_) return unexpected(errc::closed);
        return detail::to_status(link_->send(p, n, deadline, may_block));
    }
    status receive_into(Message& out, detail::clock::time_point deadline) noexcept {
        if (!link_) return unexpected(errc::closed);
        auto take = [&](const std::byte* p, std::size_t n) {
            if (n != sizeof(Message)) return errc::corrupt;  // the transport checked it already
            std::memcpy(&out, p, n);
            return errc::ok;
        };
        return detail::to_status(link_->receive(detail::take_fn(take), deadline, may_block));
    }
    result<Message> receive_value(detail::clock::time_point deadline) noexcept {
        Message out{};
        if (auto s = receive_into(out, deadline); !s) return unexpected(s.error());
        return out;
    }
    result<std::size_t> receive_span(std::span<std::byte> buffer, detail::clock::time_point deadline) noexcept {
        if (!link_) return unexpected(errc::closed);
        std::size_t got = 0;
        auto take = [&](const std::byte* p, std::size_t n) {
            if (n > buffer.size()) return errc::too_large;
            if (n != 0) std::memcpy(buffer.data(), p, n);
            got = n;
            return errc::ok;
        };
        const errc e = link_->receive(detail::take_fn(take), deadline, may_block);
        if (e != errc::ok) return unexpected(e);
        return got;
    }
    result<std::vector<std::byte>> receive_vector(detail::clock::time_point deadline) noexcept {
        if (!link_) return unexpected(errc::closed);
        std::vector<std::byte> out;
        auto take = [&](const std::byte* p, std::size_t n) {
            try {
                out.assign(p, p + n);
            } catch (...) {
                return errc::no_space;
            }
            return errc::ok;
        };
        const errc e = link_->receive(detail::take_fn(take), deadline, may_block);
        if (e != errc::ok) return unexpected(e);
        return out;
    }

    std::shared_ptr<detail::duplex> link_;  // a socket's link, or a pair of shm queues
    std::string address_;
    std::chrono::milliseconds close_timeout_{};
};

/// Where clients connect: bound to an address, it accepts connections carrying Message.
/// Destroying it stops accepting (and removes its Unix socket file); connections already
/// accepted live on.
template <class Message, mode_policy AcceptMode = blocking>
class listener {
    static_assert(message_policy<Message>,
                  "ipckit::listener<Message>: Message must be a trivially copyable, standard-layout T, or bytes<Max>");

public:
    /// Binds `address` (tcp port 0: the system picks one; address() tells which). Throws
    /// ipckit::error: invalid_argument (a malformed address), already_exists (taken),
    /// permission_denied, not_found (a host name that does not resolve), system_error.
    static listener bind(std::string_view address, const net_options& o = {}) {
        const auto a = detail::parse_address(address);
        if (a.transport == detail::net_transport::shm) {
            listener l(nullptr, a, o);
            try {
                l.shm_ = std::make_shared<detail::shm_acceptor<Message>>(a.path);
            } catch (const error& e) {
                throw error(e.reason(), "binding " + a.str() + ": " + e.what());
            }
            return l;
        }
        auto acceptor = detail::bind_acceptor(a);
        const std::string real = detail::address_of(acceptor.local_endpoint(), a);
        auto state = std::make_shared<detail::acceptor_state>(std::move(acceptor), real, detail::hello_for<Message>(), o);
        state->start();
        return listener(std::move(state), a, o);
    }

    /// The address bound, with the port the system chose: what a client passes to connect().
    [[nodiscard]] std::string address() const { return state_ ? state_->address() : address_.str(); }

    /// The next client that completed its handshake, as a connection in Mode; or would_block,
    /// timed_out, closed (the listener was closed). Never throws.
    template <mode_policy Mode = blocking>
    result<connection<Message, Mode>> accept() noexcept {
        return take<Mode>(detail::clock::time_point::max(), std::is_same_v<AcceptMode, blocking>);
    }
    template <mode_policy Mode = blocking, detail::deadline D>
    result<connection<Message, Mode>> accept(D deadline) noexcept {
        return take<Mode>(detail::blocking_deadline<AcceptMode>(deadline), true);
    }

    /// The last few connections refused or dropped before accept (bad handshake, the cap), with
    /// why; and how many in all.
    [[nodiscard]] std::vector<net_rejection> rejections() const {
        return state_ ? state_->rejections() : shm_ ? shm_->rejections() : std::vector<net_rejection>{};
    }
    [[nodiscard]] std::uint64_t rejected() const noexcept {
        return state_ ? state_->rejected() : shm_ ? shm_->rejected() : 0;
    }
    /// Connections counted against the cap now (in handshake, waiting for accept, or accepted);
    /// sockets only (a shm:// listener has no cap yet: 0).
    [[nodiscard]] std::size_t live_connections() const noexcept { return state_ ? state_->live() : 0; }

    /// Stops accepting; a blocked accept returns closed.
    void close() noexcept {
        if (shm_) {
            shm_->close();
            shm_.reset();
        }
        if (!state_) return;
        state_->close();
        if (address_.transport == detail::net_transport::unix_path) {
            std::error_code ignored;
            std::filesystem::remove(address_.path, ignored);
        }
        state_.reset();
    }

    listener(listener&&) noexcept = default;
    listener& operator=(listener&& o) noexcept {
        if (this != &o) {
            close();
            state_ = std::move(o.state_);
            shm_ = std::move(o.shm_);
            address_ = std::move(o.address_);
            options_ = o.options_;
        }
        return *this;
    }
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    ~listener() { close(); }

private:
    friend class waitset;
    listener(std::shared_ptr<detail::acceptor_state> s, detail::net_address a, const net_options& o)
        : state_(std::move(s)), address_(std::move(a)), options_(o) {}

    template <mode_policy Mode>
    result<connection<Message, Mode>> take(detail::clock::time_point deadline, bool may_block) noexcept {
        if (!state_ && !shm_) return unexpected(errc::closed);
        std::shared_ptr<detail::duplex> d;
        if (shm_) {
            auto l = shm_->template take<Mode>(deadline, may_block);
            if (!l) return unexpected(l.error());
            d = std::move(*l);
        } else {
            auto l = state_->take(deadline, may_block);
            if (!l) return unexpected(l.error());
            d = std::move(*l);
        }
        try {
            return connection<Message, Mode>(std::move(d), address(), options_.close_timeout);
        } catch (...) {
            return unexpected(errc::no_space);
        }
    }

    std::shared_ptr<detail::acceptor_state> state_;  // sockets
    std::shared_ptr<detail::shm_acceptor<Message>> shm_;  // shm://
    detail::net_address address_;
    net_options options_;
};

/// One thread serving many clients: waits on any connections and listeners at once, with a
/// deadline, and says which are ready, so that the thread then receives from (or accepts on)
/// exactly those; a reply goes to whichever connection it chooses.
///
///   ipckit::waitset ws;
///   const auto srv_id = ws.add(srv);
///   for (;;) {
///       auto ready = ws.wait(1s);                        // timed_out if none by then
///       if (!ready) continue;
///       for (const auto id : *ready) {
///           if (id == srv_id) { auto c = srv.accept(0ms); ... ws.add(*c); ... }
///           else { auto m = conn(id).receive(0ms); ... }  // a message, or the connection's end
///       }
///   }
///
/// Ready means the verb would not wait: a connection holds a message or has ended (closed,
/// peer_dead, corrupt: remove it then, or it stays ready), a listener holds a connection or
/// was closed. An endpoint keeps what the waitset needs alive, so one destroyed while added
/// reads as ended until removed. Restricted thread-safe: one thread at a time.
class waitset {
public:
    using id = std::size_t;

    waitset() = default;
    waitset(const waitset&) = delete;
    waitset& operator=(const waitset&) = delete;
    ~waitset() {
        for (auto& e : entries_) unwatch(e);
    }

    /// Watches a connection; returns the id wait() reports it by.
    template <class Message, mode_policy Mode>
    id add(const connection<Message, Mode>& c) {
        if (!c.link_) throw error(errc::invalid_argument, "waitset::add: the connection was moved from");
        entry e{next_++, std::dynamic_pointer_cast<detail::link>(c.link_), nullptr};
        if (!e.link)
            throw error(errc::invalid_argument, "waitset::add: " + c.address() +
                                                    " is a shm:// connection; a waitset watches socket connections "
                                                    "and listeners only, so far");
        e.link->watch(core_);
        entries_.push_back(std::move(e));
        core_->signal();  // it may be ready already
        return entries_.back().key;
    }
    /// Watches a listener's pending accepts; returns the id wait() reports it by.
    template <class Message, mode_policy Mode>
    id add(const listener<Message, Mode>& l) {
        if (l.shm_)
            throw error(errc::invalid_argument, "waitset::add: " + l.address() +
                                                    " is a shm:// listener; a waitset watches socket connections and "
                                                    "listeners only, so far");
        entry e{next_++, nullptr, l.state_};
        if (!e.acceptor) throw error(errc::invalid_argument, "waitset::add: the listener was closed or moved from");
        e.acceptor->watch(core_);
        entries_.push_back(std::move(e));
        core_->signal();
        return entries_.back().key;
    }
    /// Stops watching `key` (nothing if it is not added).
    void remove(id key) noexcept {
        std::erase_if(entries_, [&](entry& e) {
            if (e.key != key) return false;
            unwatch(e);
            return true;
        });
    }
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

    /// The ids of the endpoints ready now, waiting until there is at least one (no deadline),
    /// or by `deadline` (a duration or a steady_clock time point): else timed_out.
    result<std::vector<id>> wait() noexcept { return wait_until(detail::clock::time_point::max()); }
    template <detail::deadline D>
    result<std::vector<id>> wait(D deadline) noexcept {
        return wait_until(detail::time_point_of(deadline));
    }

private:
    struct entry {
        id key;
        std::shared_ptr<detail::link> link;
        std::shared_ptr<detail::acceptor_state> acceptor;
    };

    void unwatch(entry& e) noexcept {
        if (e.link) e.link->unwatch(core_.get());
        if (e.acceptor) e.acceptor->unwatch(core_.get());
    }

    result<std::vector<id>> wait_until(detail::clock::time_point deadline) noexcept {
        try {
            std::vector<id> ready;
            for (;;) {
                // Read the epoch first: a signal after it wakes the sleep below, so an endpoint
                // that turns ready while the others are asked is never missed.
                const auto seen = core_->epoch();
                for (const auto& e : entries_)
                    if (e.link ? e.link->ready() : e.acceptor->ready()) ready.push_back(e.key);
                if (!ready.empty()) return ready;
                if (!core_->wait_past(seen, deadline)) return unexpected(errc::timed_out);
            }
        } catch (...) {
            return unexpected(errc::no_space);
        }
    }

    std::shared_ptr<detail::watch_core> core_ = std::make_shared<detail::watch_core>();
    std::vector<entry> entries_;
    id next_ = 0;
};

/// Connects to a listener at `address` carrying the same Message, within `deadline` (a
/// duration or a steady_clock time point; net_options::connect_timeout if none). Throws
/// ipckit::error naming the address: invalid_argument, not_found (nothing listens there; no
/// such host or path), timed_out, incompatible_layout (the listener carries another message
/// type; it says which), no_space (the listener is at its connection cap), permission_denied,
/// peer_dead (the peer dropped the connection during the handshake), system_error.
template <class Message, mode_policy Mode = blocking, detail::deadline D = std::chrono::milliseconds>
connection<Message, Mode> connect(std::string_view address, D deadline, const net_options& o = {}) {
    static_assert(message_policy<Message>,
                  "ipckit::connect<Message>: Message must be a trivially copyable, standard-layout T, or bytes<Max>");
    auto a = detail::parse_address(address);
    auto when = detail::time_point_of(deadline);
    if (when == detail::clock::time_point::max()) when = detail::deadline_after(o.connect_timeout);
    const std::string text = a.str();
    if (a.transport == detail::net_transport::shm)
        return connection<Message, Mode>(detail::shm_connect<Message, Mode>(a.path, when), text, o.close_timeout);
    auto op = std::make_shared<detail::connect_op>(std::move(a), detail::hello_for<Message>(), o, when);
    return connection<Message, Mode>(op->run(), text, o.close_timeout);
}

template <class Message, mode_policy Mode = blocking>
connection<Message, Mode> connect(std::string_view address, const net_options& o = {}) {
    return connect<Message, Mode>(address, o.connect_timeout, o);
}

}  // namespace ipckit
