#pragma once
// What every one-shot operation on a socket on the I/O thread (io_thread.hpp) shares: the socket
// it works on, a deadline timer, and a `done` callback called exactly once, when the operation
// succeeds, fails or runs out of time. A failure closes the socket. first_byte.hpp and
// handshake.hpp are such operations.

#include <ipckit/detail/net/socket.hpp>
#include <ipckit/error.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <utility>

namespace ipckit::detail {

/// The base of an operation `Derived` (CRTP, owned through a shared_ptr) whose outcome is a
/// `Result` with an `errc result` member.
template <class Derived, class Result>
class timed_socket_op : public std::enable_shared_from_this<Derived> {
public:
    using done_fn = std::function<void(Derived&, Result)>;

    /// The socket; on success `done` may take it.
    net_socket& socket() noexcept { return socket_; }

protected:
    timed_socket_op(net_socket socket, done_fn done)
        : socket_(std::move(socket)), timer_(socket_.get_executor()), done_(std::move(done)) {}

    /// Finishes the operation with `on_timeout` unless it finished before `timeout` from now.
    void arm(std::chrono::milliseconds timeout, Result on_timeout) {
        timer_.expires_after(timeout);
        timer_.async_wait([self = this->shared_from_this(), r = std::move(on_timeout)](const boost::system::error_code& ec) mutable {
            if (!ec) self->finish(std::move(r));
        });
    }

    /// Calls `done` with `r`, once: later calls (a late timer, a late read) do nothing. A failure
    /// closes the socket.
    void finish(Result r) {
        if (finished_) return;
        finished_ = true;
        timer_.cancel();
        if (r.result != errc::ok) {
            boost::system::error_code ignored;
            socket_.close(ignored);
        }
        done_(static_cast<Derived&>(*this), std::move(r));
    }

    net_socket socket_;

private:
    asio::steady_timer timer_;
    done_fn done_;
    bool finished_ = false;
};

}  // namespace ipckit::detail
