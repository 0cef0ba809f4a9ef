#pragma once
// Waiting for an accepted socket's first byte, on the I/O thread (io_thread.hpp), before a
// deadline, without taking it: a listener that also serves a foreign protocol on its address
// (acceptor.hpp, listener_access) tells from it whether the peer begins ipckit's handshake
// (hello.hpp: its magic's first byte) or speaks something else. Only such a listener waits so;
// it then sends its own hello after the client's first byte, where another listener sends it at
// once. An ipckit client sends its hello without waiting for the listener's (handshake.hpp), so
// the handshake takes no longer.

#include <ipckit/detail/net/socket.hpp>
#include <ipckit/error.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace ipckit::detail {

/// How the wait ended: ok and the byte, or why not (the socket is closed then).
struct first_byte_result {
    errc result = errc::ok;
    std::byte byte{};
    std::string why;
};

class first_byte_op : public std::enable_shared_from_this<first_byte_op> {
public:
    using done_fn = std::function<void(first_byte_op&, first_byte_result)>;

    /// Calls `done` on the I/O thread once: when a byte can be read, the peer closed, or at
    /// `timeout`. On ok `done` may take socket(), its byte still unread.
    first_byte_op(net_socket socket, done_fn done)
        : socket_(std::move(socket)), timer_(socket_.get_executor()), done_(std::move(done)) {}

    void start(std::chrono::milliseconds timeout) {
        auto self = shared_from_this();
        timer_.expires_after(timeout);
        timer_.async_wait([self, timeout](const boost::system::error_code& ec) {
            if (!ec)
                self->finish({errc::timed_out, {}, "the peer sent nothing within " + std::to_string(timeout.count()) + " ms"});
        });
        socket_.async_wait(net_socket::wait_read, [self](const boost::system::error_code& ec) { self->on_readable(ec); });
    }

    net_socket& socket() noexcept { return socket_; }

private:
    void on_readable(const boost::system::error_code& ec) {
        if (ec == asio::error::operation_aborted) return;  // finished already (the deadline)
        if (ec) return finish({errc::peer_dead, {}, "waiting for the peer's first byte failed: " + ec.message()});
        std::byte b{};
        boost::system::error_code e;
        const std::size_t n = socket_.receive(asio::buffer(&b, 1), net_socket::message_peek, e);
        if (e == asio::error::would_block || e == asio::error::try_again)
            return socket_.async_wait(net_socket::wait_read,
                                      [self = shared_from_this()](const boost::system::error_code& c) { self->on_readable(c); });
        if (e == asio::error::eof || (!e && n == 0))
            return finish({errc::peer_dead, {}, "the peer closed the connection before sending anything"});
        if (e) return finish({errc::peer_dead, {}, "reading the peer's first byte failed: " + e.message()});
        finish({errc::ok, b, {}});
    }

    void finish(first_byte_result r) {
        if (finished_) return;
        finished_ = true;
        timer_.cancel();
        if (r.result != errc::ok) {
            boost::system::error_code ignored;
            socket_.close(ignored);
        }
        done_(*this, std::move(r));
    }

    net_socket socket_;
    asio::steady_timer timer_;
    done_fn done_;
    bool finished_ = false;
};

}  // namespace ipckit::detail
