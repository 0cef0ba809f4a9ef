#pragma once
// From an address (address.hpp) to Asio endpoints, and from an OS error to an ipckit::error
// that names the address. Unix and TCP sockets are both generic stream sockets here, so one
// connection type serves both.
//
// Close-on-exec. Every socket ipckit makes is close-on-exec from its first instant (opened
// here, or accepted with accept4, acceptor.hpp): a program that a process of ours starts (a
// handler that runs a helper) must not inherit a listening socket, which would keep the
// address bound after our process died, nor a connection, which would keep the peer from
// seeing that death. Asio opens and accepts without the flag, so ipckit opens its own.

#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/sys/fd.hpp>
#include <ipckit/detail/sys/socket.hpp>
#include <ipckit/error.hpp>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>

namespace ipckit::detail {

namespace asio = boost::asio;
using net_protocol = asio::generic::stream_protocol;
using net_socket = net_protocol::socket;
using net_endpoint = net_protocol::endpoint;
/// The clock of every deadline, as the queues' (sync/doorbell.hpp names the same type).
using clock = std::chrono::steady_clock;

/// Opens `s` (a socket or an acceptor, closed) for `p`, close-on-exec (see the top).
template <class Socket>
void open_cloexec(Socket& s, const net_protocol& p, boost::system::error_code& ec) {
    const int fd = sys::open_socket(p.family(), p.type(), p.protocol());
    if (fd < 0) {
        ec.assign(errno, boost::system::system_category());
        return;
    }
    s.assign(p, fd, ec);
    if (ec) sys::close_fd(fd);
}

/// The endpoint of a Unix address (a path, or an abstract name with its leading NUL).
inline net_endpoint unix_endpoint(const net_address& a) {
    if (a.transport == net_transport::unix_abstract)
        return net_endpoint(asio::local::stream_protocol::endpoint(std::string(1, '\0') + a.path));
    return net_endpoint(asio::local::stream_protocol::endpoint(a.path));
}

/// The address a bound or connected endpoint has, written as parse_address() reads it.
inline std::string address_of(const net_endpoint& e, const net_address& asked) {
    if (asked.transport != net_transport::tcp) return asked.str();
    asio::ip::tcp::endpoint t;
    if (e.size() > t.capacity()) return asked.str();
    std::memcpy(t.data(), e.data(), e.size());
    t.resize(e.size());
    net_address real = asked;
    real.host = t.address().to_string();
    real.port = t.port();
    return real.str();
}

/// What `ec` from the OS means for a set-up verb on `address`, as an ipckit::error.
inline error net_error(const boost::system::error_code& ec, const std::string& address, const std::string& doing) {
    namespace e = asio::error;
    errc code = errc::system_error;
    std::string hint;
    if (ec == e::address_in_use) {
        code = errc::already_exists;
        hint = "; another socket is bound there: pick another port (0 lets the system choose) or path";
    } else if (ec == e::connection_refused) {
        code = errc::not_found;
        hint = "; nothing listens there: start the listener first, or check the address";
    } else if (ec == boost::system::errc::no_such_file_or_directory) {
        code = errc::not_found;
        hint = "; no socket has that path: start the listener first, or check the path";
    } else if (ec == e::access_denied || ec == boost::system::errc::operation_not_permitted) {
        code = errc::permission_denied;
        hint = "; the system refused access (a port below 1024, or the path's permissions)";
    } else if (ec == e::host_not_found || ec == e::host_not_found_try_again || ec == e::no_data) {
        code = errc::not_found;
        hint = "; the host name does not resolve";
    } else if (ec == e::network_unreachable || ec == e::host_unreachable) {
        code = errc::not_found;
        hint = "; no route to that host";
    } else if (ec == e::timed_out) {
        code = errc::timed_out;
    } else if (ec == boost::system::errc::address_not_available) {
        code = errc::invalid_argument;
        hint = "; that address belongs to no interface of this machine";
    }
    return error(code, doing + " " + address + " failed: " + ec.message() + hint);
}

}  // namespace ipckit::detail
