#pragma once
// What the socket transport tests share: an address per transport that no other test process
// uses, and a raw client that speaks the wire protocol by hand (to play a broken peer).

#include "support.hpp"

#include <ipckit/inspect.hpp>
#include <ipckit/net.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <filesystem>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ipckit_test {

/// The transports every connection test runs over, all on this machine.
enum class net_kind { tcp, unix_path, unix_abstract, shm };

inline const char* to_string(net_kind k) {
    switch (k) {
    case net_kind::tcp: return "tcp";
    case net_kind::unix_path: return "unix path";
    case net_kind::unix_abstract: return "unix abstract";
    case net_kind::shm: return "shm";
    }
    return "?";
}

/// An address to bind for `k`: tcp on loopback with port 0, or a Unix name unique to this
/// process and call.
inline std::string bind_address(net_kind k) {
    switch (k) {
    case net_kind::tcp: return "tcp://127.0.0.1:0";
    case net_kind::unix_path: return "unix:///tmp/" + unique_name("sock");
    case net_kind::unix_abstract: return "unix://@" + unique_name("sock");
    case net_kind::shm: return "shm://" + unique_name("conn");
    }
    return {};
}

/// The socket transports: what the tests of framing, handshakes, liveness and caps run over.
inline constexpr net_kind all_net_kinds[] = {net_kind::tcp, net_kind::unix_path, net_kind::unix_abstract};
/// Every transport: what the tests of the verbs and their results run over.
inline constexpr net_kind all_transports[] = {net_kind::tcp, net_kind::unix_path, net_kind::unix_abstract, net_kind::shm};

/// The segments a shm:// `address` has now: its listener's request queue and door, and its
/// connections' queues ("<name>.<id>.up/down"). None for a socket address.
inline std::vector<std::string> shm_segments_of(const std::string& address) {
    const auto a = ipckit::parse_address(address);
    std::vector<std::string> out;
    if (a.transport != ipckit::net_transport::shm) return out;
    for (const auto& s : ipckit::list_segments())
        if (s.name == a.path || s.name.rfind(a.path + ".", 0) == 0) out.push_back(s.name);
    return out;
}

/// A connect request for the queue pair `id`, holding a place at the door of the shm:// listener
/// `name` as a client's request does: held by this process until the listener takes it.
template <class Message>
ipckit::detail::shm_request<Message> placed_request(const std::string& name, std::uint64_t id) {
    auto door = ipckit::detail::shm_door::open(name);
    const std::uint64_t me = ipckit::detail::sys::self().pack();
    const auto place = door.enter(me);
    if (!place) throw std::runtime_error("no free place at the door of shm://" + name);
    return {id, place->place, me};
}

/// Removes what an end killed with SIGKILL leaves of `address`: a Unix path's socket file, or
/// a shm:// listener's segments (shm_segments_of).
inline void remove_leftovers(const std::string& address) {
    const auto a = ipckit::parse_address(address);
    if (a.transport == ipckit::net_transport::unix_path) {
        std::error_code ignored;
        std::filesystem::remove(a.path, ignored);
    }
    for (const auto& s : shm_segments_of(address)) ipckit::remove_segment(s);
}

/// A listener over `kind` and a connected pair: the client's end, and the end it accepted.
template <class M, class Mode = ipckit::blocking>
struct pair_over {
    explicit pair_over(net_kind kind, const ipckit::net_options& o = {})
        : srv(ipckit::listener<M>::bind(bind_address(kind), o)),
          client(ipckit::connect<M, Mode>(srv.address(), patience, o)),
          server(srv.template accept<Mode>(patience).value()) {}
    ipckit::listener<M> srv;
    ipckit::connection<M, Mode> client;
    ipckit::connection<M, Mode> server;
};

/// A client socket that writes and reads whatever a test says: garbage, a hello, frames.
class raw_client {
public:
    explicit raw_client(const std::string& address) : socket_(io_) {
        const auto a = ipckit::parse_address(address);
        if (a.transport == ipckit::net_transport::tcp) {
            boost::asio::ip::tcp::resolver r(io_);
            const auto found = r.resolve(a.host, std::to_string(a.port));
            socket_.connect(ipckit::detail::net_endpoint(found.begin()->endpoint()));
        } else {
            socket_.connect(ipckit::detail::unix_endpoint(a));
        }
    }
    void write(const std::vector<std::byte>& b) { boost::asio::write(socket_, boost::asio::buffer(b)); }
    /// Sends the hello of an end carrying Message, and reads the listener's.
    template <class Message>
    void handshake() {
        write(ipckit::detail::encode_hello(ipckit::detail::hello_for<Message>()));
        std::vector<std::byte> head(ipckit::detail::hello_fixed_size);
        boost::asio::read(socket_, boost::asio::buffer(head));
        const auto h = ipckit::detail::decode_hello_head(head.data());
        std::vector<std::byte> rest(h.description_length);
        boost::asio::read(socket_, boost::asio::buffer(rest));
    }
    /// A frame header claiming `length` bytes of `type`, and `payload` after it.
    void frame(ipckit::detail::frame_type type, std::uint32_t length, std::size_t payload = 0) {
        std::vector<std::byte> b(ipckit::detail::frame_header_size + payload, std::byte{'x'});
        ipckit::detail::encode_frame_header(b.data(), type, length);
        write(b);
    }
    void close() {
        boost::system::error_code ignored;
        socket_.close(ignored);
    }
    /// The socket itself, for a test that writes to it from another thread (a flood) or
    /// shuts it down to end such a write.
    [[nodiscard]] int native_handle() { return socket_.native_handle(); }

private:
    boost::asio::io_context io_;
    ipckit::detail::net_socket socket_;
};

/// A raw client that has done its handshake with `srv` as an end carrying M, and the
/// connection `srv` accepted for it: a peer that then writes what a test says.
template <class M>
struct raw_peer {
    explicit raw_peer(ipckit::listener<M>& srv) : raw(srv.address()), end((raw.handshake<M>(), srv.accept(patience).value())) {}
    raw_client raw;
    ipckit::connection<M> end;
};

}  // namespace ipckit_test
