#pragma once
// Waiting for an accepted socket's first byte, on the I/O thread (io_thread.hpp), before a
// deadline, without taking it: a listener that also serves a foreign protocol on its address
// (acceptor.hpp, listener_access) tells from it whether the peer begins ipckit's handshake
// (hello.hpp: its magic's first byte) or speaks something else. Only such a listener waits so;
// it then sends its own hello after the client's first byte, where another listener sends it at
// once. An ipckit client sends its hello without waiting for the listener's (handshake.hpp), so
// the handshake takes no longer.

#include <ipckit/detail/net/socket.hpp>
#include <ipckit/detail/net/timed_op.hpp>
#include <ipckit/error.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>

namespace ipckit::detail {

/// How the wait ended: ok and the byte, or why not (the socket is closed then).
struct first_byte_result {
    errc result = errc::ok;
    std::byte byte{};
    std::string why;
};

class first_byte_op : public timed_socket_op<first_byte_op, first_byte_result> {
public:
    /// Calls `done` on the I/O thread once: when a byte can be read, the peer closed, or at
    /// `timeout`. On ok `done` may take socket(), its byte still unread.
    first_byte_op(net_socket socket, done_fn done) : timed_socket_op(std::move(socket), std::move(done)) {}

    void start(std::chrono::milliseconds timeout) {
        arm(timeout, {errc::timed_out, {}, "the peer sent nothing within " + std::to_string(timeout.count()) + " ms"});
        socket_.async_wait(net_socket::wait_read,
                           [self = shared_from_this()](const boost::system::error_code& ec) { self->on_readable(ec); });
    }

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
};

}  // namespace ipckit::detail
