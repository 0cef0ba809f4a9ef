#pragma once
// ipckit::listener: where clients connect, over any transport (see <ipckit/net.hpp>).

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/net/acceptor.hpp>
#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/net/bind.hpp>
#include <ipckit/detail/net/connection.hpp>
#include <ipckit/detail/net/hello.hpp>
#include <ipckit/detail/net/made_here.hpp>
#include <ipckit/detail/net/options.hpp>
#include <ipckit/detail/net/shm_rendezvous.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipckit {

using net_rejection = detail::net_rejection;

class waitset;
namespace detail {
struct listener_access;
}

/// Where clients connect: bound to an address, it accepts connections carrying Message.
/// Destroying it stops accepting (and removes its Unix socket file, if the path still names
/// it); connections already accepted live on.
template <class Message, mode_policy AcceptMode = blocking>
class listener {
    static_assert(message_policy<Message>,
                  "ipckit::listener<Message>: Message must be a trivially copyable, standard-layout T, or bytes<Max>");

public:
    /// Binds `address` (tcp port 0: the system picks one; address() tells which). Throws
    /// ipckit::error: invalid_argument (a malformed address), already_exists (taken),
    /// permission_denied, not_found (a host name that does not resolve), system_error.
    static listener bind(std::string_view address, const net_options& o = {}) { return bind_serving(address, o, {}); }

    /// The address bound, with the port the system chose: what a client passes to connect().
    [[nodiscard]] std::string address() const { return state_ ? state_->address() : address_.str(); }

    /// The next client that completed its handshake, as a connection in Mode; or would_block,
    /// timed_out, closed (the listener was closed). Never throws.
    template <mode_policy Mode = blocking>
    result<connection<Message, Mode>> accept() noexcept {
        return take<Mode>(detail::clock::time_point::max(), std::is_same_v<AcceptMode, blocking>);
    }
    template <mode_policy Mode = blocking, ipckit::deadline D>
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
    /// Connections counted against the cap now (in handshake, or asked for, waiting for accept,
    /// or accepted and not yet gone).
    [[nodiscard]] std::size_t live_connections() const noexcept {
        return state_ ? state_->live() : shm_ ? shm_->live() : 0;
    }

    /// Stops accepting; a blocked accept returns closed; the address is free to bind again (a
    /// shm:// name too, while a waitset still holds the listener). In a forked child, a copy of
    /// its parent's listener is only forgotten: the parent goes on accepting (detail/net/made_here.hpp).
    void close() noexcept {
        if (!made_.here()) {
            detail::forget(shm_);
            return detail::forget(state_);
        }
        if (shm_) {
            shm_->close();
            shm_.reset();
        }
        if (!state_) return;
        state_->close();
        if (address_.transport == detail::net_transport::unix_path) detail::remove_socket_file(address_.path, file_);
        state_.reset();
    }

    listener(listener&&) noexcept = default;
    listener& operator=(listener&& o) noexcept {
        if (this != &o) {
            close();
            state_ = std::move(o.state_);
            shm_ = std::move(o.shm_);
            address_ = std::move(o.address_);
            file_ = o.file_;
            options_ = o.options_;
            made_ = o.made_;
        }
        return *this;
    }
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    ~listener() { close(); }

private:
    friend class waitset;
    friend struct detail::listener_access;

    /// bind(), and sockets (not shm://) whose first byte is not ipckit's handshake go to
    /// `foreign` (acceptor.hpp) instead of being refused.
    static listener bind_serving(std::string_view address, const net_options& given, detail::foreign_stream_fn foreign) {
        const net_options o = detail::usable(given);
        const auto a = detail::parse_address(address);

        if (a.transport == detail::net_transport::shm) {
            listener l(nullptr, a, o);
            try {
                l.shm_ = std::make_shared<detail::shm_acceptor<Message>>(a.path, o);
            } catch (const error& e) {
                throw error(e.reason(), "binding " + a.str() + ": " + e.what());
            }
            return l;
        }
        auto acceptor = detail::bind_acceptor(a);
        const std::string real = detail::address_of(acceptor.local_endpoint(), a);
        auto state = std::make_shared<detail::acceptor_state>(std::move(acceptor), real, detail::hello_for<Message>(), o,
                                                             std::move(foreign));
        state->start();
        listener l(std::move(state), a, o);
        if (a.transport == detail::net_transport::unix_path) l.file_ = detail::sys::socket_file_at(a.path);
        return l;
    }

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
    detail::sys::file_identity file_;  // a Unix path's socket file, which close() removes if still there
    net_options options_;
    detail::made_here made_;  // where close() may act
};

namespace detail {
/// For a layer above net that serves another protocol beside ipckit's on a listener's address
/// (rpc::server: plain MessagePack-RPC streams); not part of the public API.
struct listener_access {
    template <class Message>
    static listener<Message> bind(std::string_view address, const net_options& o, foreign_stream_fn foreign) {
        return listener<Message>::bind_serving(address, o, std::move(foreign));
    }
};
}  // namespace detail

}  // namespace ipckit
