// Connections between processes, over tcp and Unix sockets: SIGKILL of either end mid-stream is
// peer_dead after what arrived, an orderly close drains, then closed.
//
// Both ends run in forked children, and the test process itself makes no listener or
// connection, so that every fork happens before any I/O thread exists (it does not survive a
// fork) however many test cases ran before. The server passes its tcp port to the client
// through a pipe, and tells the parent through another when it is time to kill. Children use
// no Catch2 macros and report through their exit status.

#include "catch.hpp"
#include "net_support.hpp"

#include <ipckit/net.hpp>

#include <cstdint>
#include <string>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::all_net_kinds;
using ipckit_test::bind_address;
using ipckit_test::patience;

namespace {
struct numbered {
    std::uint64_t seq;
    std::uint64_t check;  // seq * a constant: a torn or shifted message shows
};
constexpr std::uint64_t mix = 0x9e3779b97f4a7c15ULL;

/// How a child says what went wrong (0: all as expected).
enum child_code : int { ok = 0, no_port = 2, send_failed = 3, no_accept = 4, out_of_order = 5, wrong_end = 6, too_few = 7 };

/// The address a child connects to: the bound one, its tcp port passed through a pipe.
std::uint64_t port_of(const std::string& address) { return ipckit::parse_address(address).port; }
std::string with_port(std::string address, std::uint64_t port) {
    auto a = ipckit::parse_address(address);
    a.port = static_cast<std::uint16_t>(port);
    return a.str();
}

/// Receives numbered messages in order until an error, which it returns; `count` says how many.
errc drain_in_order(ipckit::connection<numbered>& c, std::uint64_t& count) {
    for (;;) {
        auto m = c.receive(patience);
        if (!m) return m.error();
        if (m->seq != count || m->check != count * mix) return errc::corrupt;
        ++count;
    }
}


/// A server child: binds, passes its port on `port`, accepts, checks `first` messages in order,
/// posts `got`, then receives in order until the end, which must be `expected_end`.
int serve(const std::string& address, const ipckit_test::signal_pipe& port, const ipckit_test::signal_pipe& got,
          std::uint64_t first, errc expected_end, std::uint64_t at_least) {
    auto srv = ipckit::listener<numbered>::bind(address);
    port.post_value(port_of(srv.address()));
    auto c = srv.accept(patience);
    if (!c) return no_accept;
    std::uint64_t count = 0;
    for (; count < first; ++count) {
        auto m = c->receive(patience);
        if (!m || m->seq != count || m->check != count * mix) return out_of_order;
    }
    got.post();
    const errc end = drain_in_order(*c, count);
    if (end == errc::corrupt) return out_of_order;
    if (end != expected_end) return wrong_end;
    return count >= at_least ? ok : too_few;
}

/// A client child: waits for the port, connects, sends `n` numbered messages (0: until it
/// fails or is killed), then closes.
int stream(const std::string& address, const ipckit_test::signal_pipe& port, std::uint64_t n) {
    const auto p = port.wait_value();
    if (!p) return no_port;
    auto c = ipckit::connect<numbered>(with_port(address, *p), patience);
    for (std::uint64_t i = 0; n == 0 || i < n; ++i)
        if (!c.send(numbered{i, i * mix})) return send_failed;
    c.close();
    return ok;
}
}  // namespace

TEST_CASE("net process: a client killed mid-stream is peer_dead at the server, after what it sent", "[process]") {
    for (const auto kind : ipckit_test::all_transports) {
        INFO(ipckit_test::to_string(kind));
        const std::string address = bind_address(kind);
        ipckit_test::signal_pipe port;
        ipckit_test::signal_pipe got;
        const pid_t server = ipckit_test::spawn([&] { return serve(address, port, got, 1000, errc::peer_dead, 1000); });
        const pid_t client = ipckit_test::spawn([&] { return stream(address, port, 0); });
        REQUIRE(got.wait());
        CHECK(ipckit_test::kill_child(client) == ipckit_test::killed_by_sigkill);
        CHECK(ipckit_test::wait_child(server) == ok);
        ipckit_test::remove_leftovers(address);
    }
}

TEST_CASE("net process: a server killed mid-stream is peer_dead at the client", "[process]") {
    for (const auto kind : ipckit_test::all_transports) {
        INFO(ipckit_test::to_string(kind));
        const std::string address = bind_address(kind);
        ipckit_test::signal_pipe port;
        ipckit_test::signal_pipe got;
        // The client streams until its send fails: peer_dead is the only way it may.
        const pid_t server = ipckit_test::spawn([&] { return serve(address, port, got, 1000, errc::peer_dead, 0); });
        const pid_t client = ipckit_test::spawn([&] {
            const auto p = port.wait_value();
            if (!p) return static_cast<int>(no_port);
            auto c = ipckit::connect<numbered>(with_port(address, *p), patience);
            for (std::uint64_t i = 0;; ++i) {
                const auto s = c.send(numbered{i, i * mix}, patience);
                if (!s) return s.error() == errc::peer_dead ? static_cast<int>(ok) : static_cast<int>(wrong_end);
            }
        });
        REQUIRE(got.wait());
        CHECK(ipckit_test::kill_child(server) == ipckit_test::killed_by_sigkill);
        CHECK(ipckit_test::wait_child(client) == ok);
        ipckit_test::remove_leftovers(address);
    }
}

TEST_CASE("net process: an orderly close across processes drains every message, then closed", "[process]") {
    constexpr std::uint64_t n = 100'000;
    for (const auto kind : ipckit_test::all_transports) {
        INFO(ipckit_test::to_string(kind));
        const std::string address = bind_address(kind);
        ipckit_test::signal_pipe port;
        ipckit_test::signal_pipe got;
        const pid_t server = ipckit_test::spawn([&] { return serve(address, port, got, 0, errc::closed, n); });
        // The client exits as soon as close() returns: close() wrote everything first.
        const pid_t client = ipckit_test::spawn([&] { return stream(address, port, n); });
        CHECK(ipckit_test::wait_child(client) == ok);
        CHECK(ipckit_test::wait_child(server) == ok);
    }
}
