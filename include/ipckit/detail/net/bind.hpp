#pragma once
// Binding a listener's socket to an address: resolve a tcp host (port 0: the system picks),
// or make the Unix socket, replacing a stale socket file that nothing listens on any more.
// A taken address is already_exists, naming it.

#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/net/io_thread.hpp>
#include <ipckit/detail/net/socket.hpp>
#include <ipckit/error.hpp>

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <filesystem>
#include <string>
#include <system_error>

namespace ipckit::detail {

using net_acceptor = asio::basic_socket_acceptor<net_protocol>;

/// The endpoint a listener binds for a tcp address: its host resolved (passive, the first
/// answer), its port as given.
inline net_endpoint resolve_for_bind(const net_address& a) {
    asio::io_context here;  // a synchronous resolve needs a context, never run
    asio::ip::tcp::resolver r(here);
    boost::system::error_code ec;
    const auto found = r.resolve(a.host, std::to_string(a.port),
                                 asio::ip::tcp::resolver::passive | asio::ip::tcp::resolver::numeric_service, ec);
    if (ec) throw net_error(ec, a.str(), "resolving");
    if (found.empty()) throw error(errc::not_found, "resolving " + a.str() + " found no address");
    return net_endpoint(found.begin()->endpoint());
}

/// Whether `path` is a socket file that nothing listens on any more (connect is refused).
inline bool stale_unix_socket(const std::string& path) {
    std::error_code fs;
    if (!std::filesystem::is_socket(path, fs)) return false;  // never remove anything else
    asio::io_context here;
    net_socket probe(here);
    boost::system::error_code ec;
    const net_endpoint where(asio::local::stream_protocol::endpoint{path});
    open_cloexec(probe, where.protocol(), ec);
    if (!ec) probe.connect(where, ec);
    return ec == asio::error::connection_refused;
}

/// A listening socket on `a`, on the I/O thread's context.
inline net_acceptor bind_acceptor(const net_address& a) {
    const std::string text = a.str();
    const net_endpoint where = a.transport == net_transport::tcp ? resolve_for_bind(a) : unix_endpoint(a);
    net_acceptor acceptor(io_thread::context());
    boost::system::error_code ec;
    for (int attempt = 0;; ++attempt) {
        open_cloexec(acceptor, where.protocol(), ec);
        if (ec) throw net_error(ec, text, "opening a socket for");
        if (a.transport == net_transport::tcp) acceptor.set_option(net_acceptor::reuse_address(true), ec);
        acceptor.bind(where, ec);
        if (ec == asio::error::address_in_use && a.transport == net_transport::unix_path && attempt == 0 &&
            stale_unix_socket(a.path)) {
            acceptor.close(ec);
            std::error_code fs;
            std::filesystem::remove(a.path, fs);  // left by a listener that died
            continue;
        }
        if (ec) throw net_error(ec, text, "binding");
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) throw net_error(ec, text, "listening on");
        acceptor.non_blocking(true, ec);  // the accept loop takes connections until it would block
        if (ec) throw net_error(ec, text, "listening on");
        return acceptor;
    }
}

}  // namespace ipckit::detail
