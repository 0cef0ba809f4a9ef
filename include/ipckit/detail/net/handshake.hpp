#pragma once
// One handshake in flight on the I/O thread (io_thread.hpp): send this end's hello, read the
// peer's (hello.hpp), compare them, all before a deadline. The same operation serves both
// ends, and a listener at its cap uses it to send a refusal (after reading the client's hello,
// so that closing does not reset a stream holding unread bytes).

#include <ipckit/detail/net/hello.hpp>
#include <ipckit/detail/net/socket.hpp>
#include <ipckit/detail/net/timed_op.hpp>
#include <ipckit/error.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace ipckit::detail {

/// How a handshake ended: ok (and the longest message both ends accept), or why not.
struct handshake_result {
    errc result = errc::ok;
    std::string why;
    std::size_t max_message = 0;
};

class handshake_op : public timed_socket_op<handshake_op, handshake_result> {
public:
    /// Takes `socket` (connected or accepted), sends `mine`, and calls `done` on the I/O thread
    /// once, when both hellos are through, or at the first failure, or at `timeout`. On success
    /// `done` may take socket() for its connection.
    handshake_op(net_socket socket, hello mine, done_fn done)
        : timed_socket_op(std::move(socket), std::move(done)), mine_(std::move(mine)) {}

    void start(std::chrono::milliseconds timeout) {
        auto self = shared_from_this();
        arm(timeout, {errc::timed_out,
                      "the peer sent no handshake within " + std::to_string(timeout.count()) +
                          " ms (is it an ipckit connection?)",
                      0});
        wire_ = encode_hello(mine_);
        asio::async_write(socket_, asio::buffer(wire_), [self](const boost::system::error_code& ec, std::size_t) {
            // A failed write usually shows in the read too, which says more (e.g. the peer's
            // refusal), so it decides only once the read is through.
            self->wrote_ = true;
            self->write_error_ = ec;
            self->maybe_finish();
        });
        asio::async_read(socket_, asio::buffer(head_), [self](const boost::system::error_code& ec, std::size_t) {
            self->on_head(ec);
        });
    }

private:
    void on_head(const boost::system::error_code& ec) {
        if (ec) return fail_read(ec);
        auto head = decode_hello_head(head_.data());
        if (head.fault != errc::ok) return finish({head.fault, head.why});
        peer_ = head.h;
        description_.resize(head.description_length);  // at most hello_max_description: checked
        auto self = shared_from_this();
        asio::async_read(socket_, asio::buffer(description_), [self](const boost::system::error_code& e, std::size_t) {
            self->on_description(e);
        });
    }

    void on_description(const boost::system::error_code& ec) {
        if (ec) return fail_read(ec);
        peer_.description.assign(reinterpret_cast<const char*>(description_.data()), description_.size());
        if (mine_.verdict == hello_verdict::refused) return finish({errc::no_space, mine_.description});
        if (peer_.verdict == hello_verdict::refused)
            return finish({errc::no_space, "the listener refused the connection: " + quoted(peer_.description, 512)});
        auto m = match_hello(mine_, peer_);
        if (m.result != errc::ok) return finish({m.result, m.why});
        read_ = true;
        max_message_ = m.max_message;
        maybe_finish();
    }

    void fail_read(const boost::system::error_code& ec) {
        if (ec == asio::error::operation_aborted) return;  // finished already (deadline or failure)
        if (ec == asio::error::eof)
            return finish({errc::peer_dead, "the peer closed the connection during the handshake"});
        finish({errc::peer_dead, "the handshake failed: " + ec.message()});
    }

    void maybe_finish() {
        if (!wrote_ || !read_) return;
        if (write_error_) return finish({errc::peer_dead, "sending the handshake failed: " + write_error_.message()});
        finish({errc::ok, {}, max_message_});
    }

    hello mine_;
    hello peer_;
    std::vector<std::byte> wire_;
    std::array<std::byte, hello_fixed_size> head_{};
    std::vector<std::byte> description_;
    std::size_t max_message_ = 0;
    boost::system::error_code write_error_;
    bool wrote_ = false;
    bool read_ = false;
};

}  // namespace ipckit::detail
