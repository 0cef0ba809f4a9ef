#pragma once
// A MessagePack-RPC client as one in another language is, for the rpc tests: msgpack-cxx and a
// raw Boost.Asio socket, nothing of ipckit (rpc_plain_test.cpp, rpc_netns_test.cpp).

#include "rpc_support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>

#include <msgpack.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <tuple>

#include <poll.h>

namespace ipckit_test {

/// A MessagePack-RPC client as one in another language is: it connects a socket to the host and
/// port (or the Unix path) and writes and reads MessagePack arrays, nothing else.
class foreign_client {
public:
    /// `address` as the server prints it: tcp://HOST:PORT or unix:///PATH.
    explicit foreign_client(const std::string& address) : socket_(io_) {
        namespace asio = boost::asio;
        if (address.rfind("tcp://", 0) == 0) {
            const auto hostport = address.substr(6);
            const auto colon = hostport.rfind(':');
            asio::ip::tcp::resolver r(io_);
            const auto found = r.resolve(hostport.substr(0, colon), hostport.substr(colon + 1));
            socket_.connect(found.begin()->endpoint());
        } else {
            socket_.connect(asio::local::stream_protocol::endpoint(address.substr(7)));
        }
    }

    /// [0, msgid, method, [args...]]
    template <class... A>
    void request(std::uint32_t msgid, const std::string& method, const A&... args) {
        msgpack::sbuffer b;
        msgpack::pack(b, std::make_tuple(0, msgid, method, std::make_tuple(args...)));
        write(b.data(), b.size());
    }
    /// [2, method, [args...]]
    template <class... A>
    void notify(const std::string& method, const A&... args) {
        msgpack::sbuffer b;
        msgpack::pack(b, std::make_tuple(2, method, std::make_tuple(args...)));
        write(b.data(), b.size());
    }
    /// Bytes as they are; false if the stream would not take them all (the server closed it).
    bool write(const void* p, std::size_t n) {
        boost::system::error_code ec;
        boost::asio::write(socket_, boost::asio::buffer(p, n), ec);
        return !ec;
    }

    /// Ends the sending half (shutdown(SHUT_WR)), as a client that has sent all its requests
    /// may; it reads on.
    void end_sending() {
        boost::system::error_code ignored;
        socket_.shutdown(boost::asio::socket_base::shutdown_send, ignored);
    }

    /// The next response, as [1, msgid, error, result]; none if the stream ended, or nothing
    /// came within patience, or what came is not a response.
    struct response {
        msgpack::object_handle h;
        std::uint32_t msgid = 0;
        msgpack::object error;
        msgpack::object result;
    };
    std::optional<response> next() {
        auto h = next_object();
        if (!h) return std::nullopt;
        const auto& o = h->get();
        if (o.type != msgpack::type::ARRAY || o.via.array.size != 4 || o.via.array.ptr[0].as<int>() != 1) {
            std::fprintf(stderr, "not a response\n");
            return std::nullopt;
        }
        response r;
        r.msgid = o.via.array.ptr[1].as<std::uint32_t>();
        r.error = o.via.array.ptr[2];
        r.result = o.via.array.ptr[3];
        r.h = std::move(*h);
        return r;
    }
    /// The raw bytes the server sends until it ends the stream; none if it did not end it
    /// within patience. (Not after next(): it reads past the unpacker.)
    std::optional<std::string> rest() {
        const auto deadline = std::chrono::steady_clock::now() + patience;
        std::string got;
        for (;;) {
            if (!readable_before(deadline)) return std::nullopt;
            char b[4096];
            boost::system::error_code ec;
            const auto n = socket_.read_some(boost::asio::buffer(b), ec);
            if (ec) return got;  // the end: eof, or a reset when our bytes were left unread
            got.append(b, n);
        }
    }

private:
    std::optional<msgpack::object_handle> next_object() {
        const auto deadline = std::chrono::steady_clock::now() + patience;
        for (;;) {
            msgpack::object_handle h;
            if (unpacker_.next(h)) return h;
            if (ended_) return std::nullopt;
            if (!readable_before(deadline)) return std::nullopt;
            unpacker_.reserve_buffer(64 * 1024);
            boost::system::error_code ec;
            const auto n = socket_.read_some(boost::asio::buffer(unpacker_.buffer(), unpacker_.buffer_capacity()), ec);
            if (ec) ended_ = true;
            else unpacker_.buffer_consumed(n);
        }
    }

    bool readable_before(std::chrono::steady_clock::time_point deadline) {
        for (;;) {
            pollfd p{socket_.native_handle(), POLLIN, 0};
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
            if (rc > 0) return true;
            if (rc == 0) break;
        }
        std::fprintf(stderr, "nothing from the server within patience\n");
        return false;
    }

    boost::asio::io_context io_;
    boost::asio::generic::stream_protocol::socket socket_;
    msgpack::unpacker unpacker_;
    bool ended_ = false;
};

}  // namespace ipckit_test
