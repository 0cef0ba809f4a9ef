#pragma once
// A plain MessagePack-RPC client's connection on the server side: what clients in other
// languages (msgpack-rpc for Python, Ruby, Go...) send over tcp or unix, a stream of concatenated
// MessagePack arrays with no handshake and no framing. rpc::server takes such a socket from its
// listener when its first byte is not ipckit's handshake (detail/net/acceptor.hpp), and a
// session (session.hpp) reads it here, where an ipckit client's frames come through its
// connection.
//
// Untrusted input. msgpack::unpacker is fed at most read_chunk bytes a read, and a message still
// incomplete after max_frame bytes is too large: like a malformed one, it ends the connection
// (corrupt, and the server goes on). So the read buffer holds at most about a frame and a chunk,
// and a string, blob or extension is at most max_frame bytes. Arrays and maps need more care
// than in a frame: a frame's limits are those of its own length, known before it is unpacked
// (wire.hpp), while here a header is taken at its word, and msgpack-cxx makes room for its
// elements (an object of 24 bytes each) before they come. So plain_limits() believes a header
// only up to max_frame / max_depth elements (8192; a map half as many pairs), and nesting stops
// at max_depth: however the headers nest, the room made for elements not yet come is at most
// about 6 MiB (32 levels of 192 KiB), beside what the objects already come cost, which is
// bounded as a full frame's are. A client with a longer list sends it as a blob, or uses an
// ipckit client.
//
// Replies go out as plain MessagePack, written straight to the socket by the handler thread
// that has one (its session serializes sends). A reply the socket does not take before its
// deadline (a client that does not read) ends the connection: a part of a message left in the
// stream would garble every later one.
//
// Lifetime. The client's first byte must come within net_options::handshake_timeout of its
// connect (the listener waits that long for it); then the stream lasts until the client ends
// it, a read or write fails, or the server drops it. A message begun must be whole within
// net_options::liveness_interval of the read that brought its first byte (counted only while
// the reader reads, not while it holds back for the server's queues): a client that sends a
// part of one and falls silent, or trickles it, is dropped as corrupt, or a few such sockets
// would hold the server's connections (max_connections) for ever. A client idle between
// messages is not timed: it stays. There are no heartbeats: a MessagePack-RPC
// client would not understand them. Over tcp the kernel probes an idle stream instead (TCP
// keepalive, after net_options::liveness_interval of silence; sys::probe_when_idle), so that a
// client whose host vanished or whose link was cut, which never sends its end, is dropped
// within about twice that, with its reader thread, rather than held for ever. A client that
// ends its sending half (shutdown(SHUT_WR)) after its requests still reads: its connection lasts
// until their replies have gone. A close reads the same as that end, so a client that closed is
// held, and open() to its handlers, until its requests are done.
//
// Reads: the session's reader thread only. write() and shutdown(): under the session's send
// mutex. The socket is non-blocking; waits are poll(2) with a deadline (sys/poll.hpp).

#include <ipckit/detail/net/socket.hpp>
#include <ipckit/detail/rpc/wire.hpp>
#include <ipckit/detail/sys/poll.hpp>
#include <ipckit/detail/sys/stream_io.hpp>
#include <ipckit/error.hpp>

#include <msgpack.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>

namespace ipckit::detail::rpc {

/// What a plain stream's messages may hold (see above): elements of arrays and maps believed
/// from their headers are shared among max_depth levels of nesting.
inline msgpack::unpack_limit plain_limits() {
    constexpr std::size_t elements = max_frame / max_depth;
    return msgpack::unpack_limit(elements, elements / 2, max_frame, max_frame, max_frame, max_depth);
}

class plain_stream {
public:
    /// What one read asks the socket for.
    static constexpr std::size_t read_chunk = 64 * 1024;
    using time_point = std::chrono::steady_clock::time_point;

    /// `released` is called once when the stream is gone (its listener counts it). A tcp stream
    /// silent for `liveness` is probed, and a message begun must be whole within it (see the top).
    plain_stream(net_socket socket, std::function<void()> released, std::chrono::milliseconds liveness)
        : socket_(std::move(socket)),
          unpacker_(&copy_everything, nullptr, read_chunk, plain_limits()),
          released_(std::move(released)),
          whole_within_(std::max(liveness, std::chrono::milliseconds{1})) {
        boost::system::error_code ignored;
        socket_.non_blocking(true, ignored);
        socket_.native_non_blocking(true, ignored);
        fd_ = socket_.native_handle();
        sys::probe_when_idle(fd_, liveness);
    }
    ~plain_stream() {
        boost::system::error_code ignored;
        socket_.close(ignored);
        if (released_) released_();
    }
    plain_stream(const plain_stream&) = delete;
    plain_stream& operator=(const plain_stream&) = delete;

    /// The next message, waiting for bytes until `deadline` (idle then).
    incoming receive(time_point deadline) noexcept {
        for (;;) {
            try {
                msgpack::object_handle h;
                const std::size_t before = unpacker_.parsed_size() + unpacker_.nonparsed_size();
                if (unpacker_.next(h)) {
                    begun_.reset();
                    incoming in;
                    in.msg = check(std::move(h), in.why);
                    if (in.msg) {
                        in.msg->bytes = before - unpacker_.nonparsed_size();  // parsed before, and now
                        in.msg->held = held_size(in.msg->bytes, elements_of(in.msg->handle.get()));
                    }
                    in.found = in.msg ? incoming::what::message : incoming::what::corrupt;
                    return in;
                }
            } catch (const std::exception& e) {
                return corrupt(std::string("malformed MessagePack: ") + e.what());
            } catch (...) {
                return corrupt("malformed MessagePack");
            }
            if (unpacker_.message_size() > max_frame)
                return corrupt("a message is longer than " + std::to_string(max_frame) + " bytes, the most a request may be");
            if (ended_) return {incoming::what::ended, std::nullopt, {}};
            // A message begun is timed from the read that brought its first byte (see the top).
            time_point wait_until = deadline;
            if (unpacker_.message_size() == 0) {
                begun_.reset();
            } else {
                const auto now = std::chrono::steady_clock::now();
                if (!begun_) begun_ = now;
                const time_point due = whole_by();
                if (now >= due) return stalled();
                wait_until = std::min(deadline, due);
            }
            if (!sys::wait_readable(fd_, wait_until)) {
                if (begun_ && std::chrono::steady_clock::now() >= whole_by()) return stalled();
                return {};
            }
            try {
                unpacker_.reserve_buffer(read_chunk);
            } catch (...) {
                return corrupt("out of memory reading a message");
            }
            boost::system::error_code ec;
            const std::size_t n =
                socket_.receive(asio::buffer(unpacker_.buffer(), std::min(read_chunk, unpacker_.buffer_capacity())), 0, ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again || ec == asio::error::interrupted) continue;
            if (ec || n == 0) {
                ended_ = true;  // what came before the end is still taken
                half_closed_ = !ec || ec == asio::error::eof;
                continue;
            }
            unpacker_.buffer_consumed(n);
        }
    }

    /// Writes `n` bytes, waiting for room until `deadline`: ok, or timed_out / peer_dead, after
    /// which the stream may hold a part of them and must end.
    errc write(const char* p, std::size_t n, time_point deadline) noexcept {
        std::size_t done = 0;
        while (done < n) {
            boost::system::error_code ec;
            done += socket_.send(asio::buffer(p + done, n - done), 0, ec);
            if (!ec || ec == asio::error::interrupted) continue;
            if (ec != asio::error::would_block && ec != asio::error::try_again) return errc::peer_dead;
            if (!sys::wait_writable(fd_, deadline)) return errc::timed_out;
        }
        return errc::ok;
    }

    /// Whether receive() found the client's orderly end of its sending half (shutdown(SHUT_WR),
    /// or a close): a client that only half-closed still reads its replies.
    [[nodiscard]] bool half_closed() const noexcept { return half_closed_; }

    /// Ends the stream both ways; a reader asleep in receive() wakes and reads its end.
    void shutdown() noexcept {
        boost::system::error_code ignored;
        socket_.shutdown(net_socket::shutdown_both, ignored);
    }

private:
    /// Strings and blobs are copied into the message's zone: a message owns what it points to.
    static bool copy_everything(msgpack::type::object_type, std::size_t, void*) { return false; }
    static incoming corrupt(std::string why) { return {incoming::what::corrupt, std::nullopt, std::move(why)}; }
    /// When the message begun (begun_) must be whole: the latest time_point if that overflows.
    [[nodiscard]] time_point whole_by() const noexcept {
        if (whole_within_ >= std::chrono::duration_cast<std::chrono::milliseconds>(time_point::max() - *begun_))
            return time_point::max();
        return *begun_ + whole_within_;
    }
    incoming stalled() noexcept {
        try {
            return corrupt("a message is still incomplete " + std::to_string(whole_within_.count()) + " ms after its first byte (" +
                           std::to_string(unpacker_.message_size()) +
                           " bytes of it came); a message must be whole within net_options::liveness_interval");
        } catch (...) {
            return {incoming::what::corrupt, std::nullopt, {}};
        }
    }

    net_socket socket_;
    int fd_ = -1;
    msgpack::unpacker unpacker_;
    std::function<void()> released_;
    std::chrono::milliseconds whole_within_;  // how long a message begun may take (see the top)
    std::optional<time_point> begun_;         // when the message begun, if any, was first read
    bool ended_ = false;
    bool half_closed_ = false;
};

}  // namespace ipckit::detail::rpc
