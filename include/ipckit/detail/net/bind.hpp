#pragma once
// Binding a listener's socket to an address: resolve a tcp host (port 0: the system picks),
// or make the Unix socket, replacing a stale socket file that nothing listens on any more.
// A taken address is already_exists, naming it.

#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/net/io_thread.hpp>
#include <ipckit/detail/net/socket.hpp>
#include <ipckit/detail/sys/dir_lock.hpp>
#include <ipckit/detail/sys/fd.hpp>
#include <ipckit/detail/sys/socket.hpp>
#include <ipckit/error.hpp>

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <filesystem>
#include <optional>
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
/// The probe does not wait: a live listener whose backlog is full would keep a blocking
/// connect waiting until it accepts, and that may be never; its EAGAIN means live, as a
/// connection made or in progress does. Only a refusal means stale.
inline bool stale_unix_socket(const std::string& path) {
    std::error_code fs;
    if (!std::filesystem::is_socket(path, fs)) return false;  // never remove anything else
    asio::io_context here;
    net_socket probe(here);
    boost::system::error_code ec;
    const net_endpoint where(asio::local::stream_protocol::endpoint{path});
    open_cloexec(probe, where.protocol(), ec);
    if (!ec) probe.native_non_blocking(true, ec);
    if (ec) return false;
    // Asio's connect waits for a connection in progress even on a non-blocking socket: the
    // probe calls connect(2) itself.
    return sys::connect_refused(probe.native_handle(), where.data(), static_cast<socklen_t>(where.size()));
}

/// The directory a Unix socket's path is in.
inline std::string directory_of(const std::string& path) {
    const std::string dir = std::filesystem::path(path).parent_path().string();
    return dir.empty() ? "." : dir;
}

/// Removes `path` if it still names `ours`, the socket file a listener bound (by device and
/// inode: sys::socket_file_at): once its file was unlinked (by hand, or by a listener that found
/// it stale), another listener may have bound the path since, and removing that one's file
/// would leave it unreachable. The look and the removal are made under the directory's lock,
/// which ipckit binders hold while they judge a file stale and replace it (sys/dir_lock.hpp).
inline void remove_socket_file(const std::string& path, const sys::file_identity& ours) noexcept {
    try {
        const sys::directory_lock removing(directory_of(path));
        if (!ours.same_as(sys::socket_file_at(path))) return;
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
    } catch (...) {
        // out of memory: the file stays, as a listener that crashed leaves it (found stale later)
    }
}

/// A listening socket on `a`, on the I/O thread's context.
inline net_acceptor bind_acceptor(const net_address& a) {
    const std::string text = a.str();
    const net_endpoint where = a.transport == net_transport::tcp ? resolve_for_bind(a) : unix_endpoint(a);
    net_acceptor acceptor(io_thread::context());
    boost::system::error_code ec;
    // A Unix path is bound and listened on under its directory's lock (sys/dir_lock.hpp), so
    // that another ipckit binder never finds it bound but not yet listening, which a probe
    // cannot tell from a stale file.
    std::optional<sys::directory_lock> binding;
    if (a.transport == net_transport::unix_path) binding.emplace(directory_of(a.path));
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
