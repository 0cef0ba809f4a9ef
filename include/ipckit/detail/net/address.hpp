#pragma once
// Addresses of the socket transports, as text: what a listener binds and a client connects to.
//
//   tcp://HOST:PORT    HOST an IPv4 address (127.0.0.1), an IPv6 one in brackets ([::1]) or a
//                      host name (resolved when bound or connected); PORT 0 to 65535, 0 = any
//   unix:///path       a Unix socket at an absolute path in the file system
//   unix://@name       a Unix socket in Linux's abstract namespace (no file; gone with its socket)
//   shm://name         ipckit's own shared-memory rings, named as a queue is, but shorter:
//                      its connections' queues are named after it, with up to 26 characters
//                      more (".<id>.down", shm_names.hpp), so at most max_shm_name (174)
//
// parse_address() checks only the text: a malformed address throws ipckit::error with
// errc::invalid_argument, saying what is wrong and what a right one looks like. Nothing here
// touches the OS.

#include <ipckit/error.hpp>
#include <ipckit/segment.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ipckit::detail {

enum class net_transport { tcp, unix_path, unix_abstract, shm };

/// A parsed address. `host` is for tcp only (without brackets), `port` likewise; `path` is the
/// Unix path, the abstract name (without '@') or the shm name.
struct net_address {
    net_transport transport = net_transport::tcp;
    std::string host;
    std::uint16_t port = 0;
    std::string path;

    /// The address written back in its canonical form ("tcp://[::1]:7000").
    [[nodiscard]] std::string str() const {
        switch (transport) {
        case net_transport::tcp:
            return "tcp://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                   std::to_string(port);
        case net_transport::unix_path: return "unix://" + path;
        case net_transport::unix_abstract: return "unix://@" + path;
        case net_transport::shm: return "shm://" + path;
        }
        return {};
    }
    friend bool operator==(const net_address&, const net_address&) = default;
};

/// The longest Unix socket path: sockaddr_un's 108 bytes less the terminating (or, for an
/// abstract name, leading) NUL.
inline constexpr std::size_t max_unix_path = 107;

/// The most characters a shm:// listener's name gets after it: a connection's ".<id>.down", an id
/// of up to 20 digits (shm_names.hpp asserts it).
inline constexpr std::size_t shm_name_room = 26;
/// The longest shm:// name: a segment name's longest, less that room.
inline constexpr std::size_t max_shm_name = max_name_length - shm_name_room;

/// What every address error ends with: the forms that are right.
inline constexpr std::string_view address_forms =
    "an address is tcp://HOST:PORT (e.g. tcp://127.0.0.1:7000, tcp://[::1]:7000, tcp://localhost:0), "
    "unix:///absolute/path, unix://@abstract-name or shm://name";

[[noreturn]] inline void bad_address(std::string_view text, const std::string& why) {
    throw error(errc::invalid_argument,
                "invalid address '" + std::string(text) + "': " + why + "; " + std::string(address_forms));
}

inline bool host_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
}

inline net_address parse_tcp_address(std::string_view text, std::string_view rest) {
    net_address a;
    a.transport = net_transport::tcp;
    std::string_view host;
    std::string_view port;
    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) bad_address(text, "the IPv6 address has no closing ']'");
        host = rest.substr(1, close - 1);
        if (host.empty()) bad_address(text, "the brackets hold no IPv6 address");
        for (const char c : host)
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
                bad_address(text, std::string("'") + c + "' cannot appear in an IPv6 address");
        const auto after = rest.substr(close + 1);
        if (after.empty() || after.front() != ':') bad_address(text, "the IPv6 address must be followed by :PORT");
        port = after.substr(1);
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string_view::npos) bad_address(text, "it has no port (add :PORT, or :0 for any)");
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            bad_address(text, "an IPv6 address goes in brackets, as in tcp://[::1]:7000");
        if (host.empty()) bad_address(text, "the host is empty (use 0.0.0.0 for every interface, 127.0.0.1 for loopback)");
        if (host.size() > 253) bad_address(text, "the host name is longer than 253 characters");
        for (const char c : host)
            if (!host_char(c)) bad_address(text, std::string("'") + c + "' cannot appear in a host name");
    }
    if (port.empty()) bad_address(text, "the port is empty (use 0 to let the system choose one)");
    std::uint32_t p = 0;
    for (const char c : port) {
        if (c < '0' || c > '9') bad_address(text, "the port '" + std::string(port) + "' is not a number");
        p = p * 10 + static_cast<std::uint32_t>(c - '0');
        if (p > 65535) bad_address(text, "the port " + std::string(port) + " is past 65535");
    }
    a.host = std::string(host);
    a.port = static_cast<std::uint16_t>(p);
    return a;
}

inline net_address parse_unix_address(std::string_view text, std::string_view rest) {
    net_address a;
    if (!rest.empty() && rest.front() == '@') {
        a.transport = net_transport::unix_abstract;
        a.path = std::string(rest.substr(1));
        if (a.path.empty()) bad_address(text, "the abstract name after '@' is empty");
        if (a.path.size() > max_unix_path - 1)
            bad_address(text, "the abstract name is longer than " + std::to_string(max_unix_path - 1) + " characters");
        if (a.path.find('\0') != std::string::npos) bad_address(text, "the abstract name holds a NUL character");
        return a;
    }
    if (rest.empty() || rest.front() != '/')
        bad_address(text, "a Unix socket path must be absolute (three slashes: unix:///run/app.sock) or an "
                          "abstract name (unix://@app)");
    a.transport = net_transport::unix_path;
    a.path = std::string(rest);
    if (a.path.size() > max_unix_path)
        bad_address(text, "the path is longer than the " + std::to_string(max_unix_path) +
                              " characters a Unix socket address holds");
    if (a.path.back() == '/') bad_address(text, "the path names a directory, not a socket");
    if (a.path.find('\0') != std::string::npos) bad_address(text, "the path holds a NUL character");
    return a;
}

/// Parses `text` as one of the forms at the top of this file; throws invalid_argument if it is
/// none of them.
inline net_address parse_address(std::string_view text) {
    const auto sep = text.find("://");
    if (sep == std::string_view::npos) bad_address(text, "it has no scheme");
    const auto scheme = text.substr(0, sep);
    const auto rest = text.substr(sep + 3);
    if (scheme == "tcp") return parse_tcp_address(text, rest);
    if (scheme == "unix") return parse_unix_address(text, rest);
    if (scheme == "shm") {
        try {
            check_name(rest, max_name_length, "shm", true);
        } catch (const error& e) {
            bad_address(text, e.what());
        }
        if (rest.size() > max_shm_name)
            bad_address(text, "the shm name is " + std::to_string(rest.size()) + " characters long, past the " +
                                  std::to_string(max_shm_name) + " a listener's may be: its connections' queues are "
                                  "named after it, with up to " + std::to_string(shm_name_room) +
                                  " characters more (\".<id>.down\"), within the " + std::to_string(max_name_length) +
                                  " of a segment name");
        net_address a;
        a.transport = net_transport::shm;
        a.path = std::string(rest);
        return a;
    }
    bad_address(text, "unknown scheme '" + std::string(scheme) + "'");
}

}  // namespace ipckit::detail
