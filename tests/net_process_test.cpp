// Connections between processes, over tcp and Unix sockets: SIGKILL of either end mid-stream is
// peer_dead after what arrived, an orderly close drains, then closed. Over shm:// too, and what
// only shm:// has: a listener killed before it accepts (its clients have no peer on their
// queues yet), and a client whose pid a dead unaccepted client had.
//
// Both ends run in forked children, but in the two cases about fork itself: a child forked
// after its parent's I/O thread started (a fork copies only the calling thread) connects with a
// thread of its own, and one that closes its copies of the parent's ends leaves them be. The
// server passes its tcp port to the client through a pipe, and tells the parent through another
// when it is time to kill. Children use no Catch2 macros and report what went wrong through
// child_report.

#include "catch.hpp"
#include "messages.hpp"
#include "net_support.hpp"

#include <ipckit/net.hpp>

#include <csignal>
#include <cstdint>
#include <span>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::all_net_kinds;
using ipckit_test::as_expected;
using ipckit_test::bind_address;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::patience;

namespace {
struct numbered {
    std::uint64_t seq;
    std::uint64_t check;  // seq * a constant: a torn or shifted message shows
};
constexpr std::uint64_t mix = 0x9e3779b97f4a7c15ULL;

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
/// posts `got`, then receives in order until the end, which must be `expected_end` (errc(corrupt)
/// there: a message out of order or torn), after at least `at_least` messages in all.
void serve(child_report& r, const std::string& address, const ipckit_test::signal_pipe& port,
           const ipckit_test::signal_pipe& got, std::uint64_t first, errc expected_end, std::uint64_t at_least) {
    auto srv = ipckit::listener<numbered>::bind(address);
    port.post_value(port_of(srv.address()));
    auto c = srv.accept(patience);
    r.expect(err(c), errc::ok);
    std::uint64_t count = 0;
    for (; count < first; ++count) {
        auto m = c->receive(patience);
        r.expect(err(m), errc::ok);
        r.expect_value(m->seq, count);
        r.expect_value(m->check, count * mix);
    }
    got.post();
    r.expect(drain_in_order(*c, count), expected_end);
    r.check(count >= at_least,
            "at least " + std::to_string(at_least) + " messages before the end (it got " + std::to_string(count) + ")");
}

/// A server child for a client that has gone before accept: binds, passes its port on `port`,
/// waits for the parent's word on `gone`, then accepts and receives exactly `n` messages in
/// order, then `expected_end`.
void serve_late(child_report& r, const std::string& address, const ipckit_test::signal_pipe& port,
                const ipckit_test::signal_pipe& gone, std::uint64_t n, errc expected_end) {
    auto srv = ipckit::listener<numbered>::bind(address);
    port.post_value(port_of(srv.address()));
    r.check(gone.wait(), "the parent's word that the client has gone");
    auto c = srv.accept(patience);
    r.expect(err(c), errc::ok);
    std::uint64_t count = 0;
    r.expect(drain_in_order(*c, count), expected_end);
    r.expect_value(count, n);
}

/// A client child's connection: waits for the server's port on `port`, then connects.
ipckit::connection<numbered> connect_client(child_report& r, const std::string& address,
                                            const ipckit_test::signal_pipe& port) {
    const auto p = port.wait_value();
    r.check(p.has_value(), "the server's port");
    return ipckit::connect<numbered>(with_port(address, *p), patience);
}

/// Sends numbered messages 0 to n - 1 on `c` as one batch, and waits until the socket has taken
/// them all. For a client whose server reads only once it has gone: a batch is one write, which
/// the kernel takes whole, where n sends one by one may each be a write of their own on a slow
/// machine (ASan, a loaded CPU), and a Unix socket counts each write's buffer overhead against
/// the sender's limit (about 208 KiB: a few hundred small writes). Sent one by one, they could
/// leave the client blocked with part of them unwritten, and close() gives those up after its
/// timeout.
void send_batch(child_report& r, ipckit::connection<numbered>& c, std::uint64_t n) {
    std::vector<numbered> batch;
    for (std::uint64_t i = 0; i < n; ++i) batch.push_back(numbered{i, i * mix});
    const auto sent = c.send(std::span<const numbered>(batch));
    r.expect(err(sent), errc::ok);
    if (sent) r.expect_value(*sent, n);
    r.expect(err(c.flush()), errc::ok);
}

/// A client child for a server that reads only once the client has gone: waits for the port,
/// connects, sends `n` numbered messages (send_batch), then closes.
void send_batch_and_close(child_report& r, const std::string& address, const ipckit_test::signal_pipe& port,
                          std::uint64_t n) {
    auto c = connect_client(r, address, port);
    send_batch(r, c, n);
    c.close();
}

/// A client child: waits for the port, connects, sends `n` numbered messages (0: until it
/// fails or is killed), then closes.
void stream(child_report& r, const std::string& address, const ipckit_test::signal_pipe& port, std::uint64_t n) {
    auto c = connect_client(r, address, port);
    for (std::uint64_t i = 0; n == 0 || i < n; ++i) r.expect(err(c.send(numbered{i, i * mix})), errc::ok);
    c.close();
}
}  // namespace

TEST_CASE("net process: a client killed mid-stream is peer_dead at the server, after what it sent", "[process]") {
    for (const auto kind : ipckit_test::all_transports) {
        INFO(ipckit_test::to_string(kind));
        const std::string address = bind_address(kind);
        ipckit_test::signal_pipe port;
        ipckit_test::signal_pipe got;
        child_report server_report, client_report;
        child server =
            server_report.spawn([&](child_report& r) { serve(r, address, port, got, 1000, errc::peer_dead, 1000); });
        child client = client_report.spawn([&](child_report& r) { stream(r, address, port, 0); });
        REQUIRE(server_report.reached(server, got) == as_expected);
        CHECK(client_report.ended(client.kill(), killed_by_sigkill) == as_expected);
        CHECK(server_report.finish(server) == as_expected);
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
        child_report server_report, client_report;
        child server =
            server_report.spawn([&](child_report& r) { serve(r, address, port, got, 1000, errc::peer_dead, 0); });
        child client = client_report.spawn([&](child_report& r) {
            auto c = connect_client(r, address, port);
            for (std::uint64_t i = 0;; ++i) {
                if (const auto s = c.send(numbered{i, i * mix}, patience); !s) {
                    r.expect(s.error(), errc::peer_dead);
                    return;
                }
            }
        });
        REQUIRE(server_report.reached(server, got) == as_expected);
        CHECK(server_report.ended(server.kill(), killed_by_sigkill) == as_expected);
        CHECK(client_report.finish(client) == as_expected);
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
        child_report server_report, client_report;
        child server = server_report.spawn([&](child_report& r) { serve(r, address, port, got, 0, errc::closed, n); });
        // The client exits as soon as close() returns: close() wrote everything first.
        child client = client_report.spawn([&](child_report& r) { stream(r, address, port, n); });
        CHECK(client_report.finish(client) == as_expected);
        CHECK(server_report.finish(server) == as_expected);
    }
}

TEST_CASE("net process: a child forked after its parent's I/O thread started connects with a thread of its own",
          "[process]") {
    constexpr std::uint64_t n = 1000;
    if (ipckit_test::under_asan()) {
        // clang 14's ASan allocator is not fork-safe: a child forked while the parent's I/O
        // thread held an allocator lock deadlocks at its own thread's first malloc (seen in CI:
        // the child's I/O thread waiting in SizeClassAllocator64 for ever, about 1 run in 8).
        WARN("skipped under ASan: its allocator is not safe to fork while another thread allocates");
        return;
    }
    for (const auto kind : ipckit_test::all_transports) {
        INFO(ipckit_test::to_string(kind));
        // Bound before the fork: the parent's I/O thread runs, and the child has none of it.
        auto srv = ipckit::listener<numbered>::bind(bind_address(kind));
        const std::string address = srv.address();
        child_report client_report;
        child client = client_report.spawn([&](child_report& r) {
            auto c = ipckit::connect<numbered>(address, patience);
            for (std::uint64_t i = 0; i < n; ++i) r.expect(err(c.send(numbered{i, i * mix})), errc::ok);
            c.close();
        });
        auto c = srv.accept(patience);
        REQUIRE(err(c) == errc::ok);
        std::uint64_t count = 0;
        CHECK(drain_in_order(*c, count) == errc::closed);
        CHECK(count == n);
        CHECK(client_report.finish(client) == as_expected);
    }
}

TEST_CASE("net process: a forked child that closes or destroys its copies of its parent's listener and connections "
          "leaves them to the parent",
          "[process]") {
    for (const auto kind : ipckit_test::all_transports) {
        INFO(ipckit_test::to_string(kind));
        auto srv = ipckit::listener<numbered>::bind(bind_address(kind));
        auto client = ipckit::connect<numbered>(srv.address(), patience);
        auto served = srv.accept(patience);
        REQUIRE(err(served) == errc::ok);
        REQUIRE(err(client.send(numbered{0, 0})) == errc::ok);
        child_report report;
        child c = report.spawn([&](child_report&) {
            // As a child that returns through their scope would: each copy closed, or destroyed.
            client.close();
            { const auto gone = std::move(*served); }
            { const auto gone = std::move(srv); }
        });
        REQUIRE(report.finish(c) == as_expected);
        // The parent's ends go on both ways, and its listener still accepts.
        const auto first = served->receive(patience);
        REQUIRE(err(first) == errc::ok);
        CHECK(first->seq == 0);
        REQUIRE(err(served->send(numbered{1, mix})) == errc::ok);
        const auto second = client.receive(patience);
        REQUIRE(err(second) == errc::ok);
        CHECK(second->seq == 1);
        auto another = ipckit::connect<numbered>(srv.address(), patience);
        CHECK(err(srv.accept(patience)) == errc::ok);
    }
}

// Fewer than any transport holds before accept (the shm:// ring: 1024 messages; a socket's
// buffers, sent as one batch: send_batch), so that the client is never held up by the server,
// which accepts only once the client has gone.
constexpr std::uint64_t before_accept = 500;

TEST_CASE("net process: a client that sends, closes and exits before accept is drained, then closed", "[process]") {
    for (const auto kind : ipckit_test::all_transports) {
        INFO(ipckit_test::to_string(kind));
        const std::string address = bind_address(kind);
        ipckit_test::signal_pipe port, gone;
        child_report server_report, client_report;
        child server = server_report.spawn(
            [&](child_report& r) { serve_late(r, address, port, gone, before_accept, errc::closed); });
        child client =
            client_report.spawn([&](child_report& r) { send_batch_and_close(r, address, port, before_accept); });
        CHECK(client_report.finish(client) == as_expected);
        gone.post();
        CHECK(server_report.finish(server) == as_expected);
        // Both ended in order: nothing of the connection is left behind (shm://: its queues).
        CHECK(ipckit_test::shm_segments_of(address).empty());
        ipckit_test::remove_leftovers(address);
    }
}

TEST_CASE("net process: a client killed before accept is drained, then peer_dead", "[process]") {
    for (const auto kind : ipckit_test::all_transports) {
        INFO(ipckit_test::to_string(kind));
        const std::string address = bind_address(kind);
        ipckit_test::signal_pipe port, gone, sent, hold;
        child_report server_report, client_report;
        child server = server_report.spawn(
            [&](child_report& r) { serve_late(r, address, port, gone, before_accept, errc::peer_dead); });
        child client = client_report.spawn([&](child_report& r) {
            auto c = connect_client(r, address, port);
            send_batch(r, c, before_accept);
            sent.post();
            r.block_until_killed(hold);
        });
        REQUIRE(client_report.reached(client, sent) == as_expected);
        CHECK(client_report.ended(client.kill(), killed_by_sigkill) == as_expected);
        gone.post();
        CHECK(server_report.finish(server) == as_expected);
        CHECK(ipckit_test::shm_segments_of(address).empty());
        ipckit_test::remove_leftovers(address);
    }
}

TEST_CASE("net process: a send that finds the peer gone is peer_dead, and what the peer sent is still received",
          "[process]") {
    // The client sends more than the server's read buffer holds (as one batch: send_batch),
    // closes and exits; only then does the server send, and its write fails. A failed write ends
    // only the write side: the messages still in the server's socket, and the close frame after
    // them, are received.
    constexpr std::uint64_t n = 2000;
    // Unix sockets only. shm:// has no write that fails; and over tcp the outcome is the
    // kernel's, not ipckit's: a client that exits with bytes still unsent (our window full) has
    // its orphaned connection aborted by the first bytes we send it (TCPAbortOnData), and those
    // bytes are lost before they reach us (see the closing note of this case's issue).
    for (const auto kind : {ipckit_test::net_kind::unix_path, ipckit_test::net_kind::unix_abstract}) {
        INFO(ipckit_test::to_string(kind));
        const std::string address = bind_address(kind);
        ipckit_test::signal_pipe port, gone;
        child_report server_report, client_report;
        child server = server_report.spawn([&](child_report& r) {
            ipckit::net_options o;
            o.receive_buffer = 16 * 1024;
            auto srv = ipckit::listener<numbered>::bind(address, o);
            port.post_value(port_of(srv.address()));
            auto c = srv.accept(patience);
            r.expect(err(c), errc::ok);
            r.check(gone.wait(), "the parent's word that the client exited");
            errc e = errc::ok;
            for (std::uint64_t i = 0; e == errc::ok; ++i) e = err(c->send(numbered{i, i * mix}, patience));
            r.expect(e, errc::peer_dead);
            std::uint64_t count = 0;
            const errc end = drain_in_order(*c, count);
            r.check(end == errc::closed && count == n, "all " + std::to_string(n) + " messages, then closed (it got " +
                                                           std::to_string(count) + ", then " + ipckit::to_string(end) +
                                                           ": " + c->fault() + ")");
        });
        child client = client_report.spawn([&](child_report& r) { send_batch_and_close(r, address, port, n); });
        CHECK(client_report.finish(client) == as_expected);
        gone.post();
        CHECK(server_report.finish(server) == as_expected);
        ipckit_test::remove_leftovers(address);
    }
}

TEST_CASE("net process: a shm:// client whose listener is killed before accepting it is peer_dead, in a blocking "
          "receive, a send, a non-blocking receive and a waitset, and its queues go",
          "[process]") {
    // A shm:// client has no peer on its queues until accept; it learns of the listener's death
    // by asking the OS about once per liveness interval, as a socket's client learns at once.
    const std::string address = bind_address(ipckit_test::net_kind::shm);
    ipckit_test::signal_pipe bound, hold;
    child_report report;
    child server = report.spawn([&](child_report& r) {
        auto srv = ipckit::listener<numbered>::bind(address);
        bound.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(server, bound) == as_expected);
    auto both = ipckit::connect<numbered>(address, patience);  // received from and sent on at once
    auto polled = ipckit::connect<numbered, ipckit::non_blocking>(address, patience);
    auto watched = ipckit::connect<numbered>(address, patience);
    ipckit::waitset ws;
    const auto watched_id = ws.add(watched);
    CHECK(report.ended(server.kill(), killed_by_sigkill) == as_expected);

    errc received = errc::ok;
    std::thread receiver([&] { received = err(both.receive(patience)); });
    // The sends fill the queue (nobody takes them), then the one that would wait ends.
    errc sent = errc::ok;
    for (std::uint64_t i = 0; sent == errc::ok; ++i) sent = err(both.send(numbered{i, i * mix}, patience));
    receiver.join();
    CHECK(received == errc::peer_dead);
    CHECK(sent == errc::peer_dead);
    CHECK(err(both.receive(patience)) == errc::closed);  // the death is reported once each way
    CHECK(err(both.send(numbered{0, 0}, patience)) == errc::closed);
    errc polled_end = errc::would_block;
    CHECK(ipckit_test::eventually([&] { return (polled_end = err(polled.receive())) != errc::would_block; }));
    CHECK(polled_end == errc::peer_dead);
    const auto ready = ws.wait(patience);
    REQUIRE(err(ready) == errc::ok);
    CHECK(*ready == std::vector<ipckit::waitset::id>{watched_id});
    CHECK(err(watched.receive(0ms)) == errc::peer_dead);

    // Only the killed listener's own segments are left, none of its clients' queues.
    const std::string name = ipckit::parse_address(address).path;
    for (const auto& s : ipckit_test::shm_segments_of(address)) {
        INFO(s);
        CHECK(!ipckit::detail::shm_is_connection_name(name, s));
    }
    ipckit_test::remove_leftovers(address);
}

TEST_CASE("net process: a shm:// client given the pid of a dead client that was never accepted connects, and leaves "
          "that client's queues and messages be",
          "[process]") {
    using queue_type = ipckit::detail::shm_queue_for<numbered>::type;
    auto srv = ipckit::listener<numbered>::bind(bind_address(ipckit_test::net_kind::shm));
    const std::string address = srv.address();
    const std::string name = ipckit::parse_address(address).path;
    ipckit_test::signal_pipe next_id, made;
    child_report report;
    child client = report.spawn([&](child_report& r) {
        // The id this process's next connect would take, were an id its pid and a count alone
        // (as a fresh process's first connect would: the same whenever its pid comes round).
        next_id.post_value(ipckit::detail::shm_connection_id() + 1);
        r.check(made.wait(), "the word that the dead client's queues are made");
        auto c = ipckit::connect<numbered>(address, patience);
        r.expect(err(c.send(numbered{1, mix})), errc::ok);
        c.close();
    });
    // A client of the child's pid that died unaccepted: its queues under that id, a message in
    // them, and its request sent.
    const auto id = next_id.wait_value();
    REQUIRE(id.has_value());
    {
        auto up = queue_type::create(ipckit::detail::shm_up_name(name, *id));
        auto down = queue_type::create(ipckit::detail::shm_down_name(name, *id));
        REQUIRE(err(up.sender().send(numbered{0, 0})) == errc::ok);
        auto requests = ipckit::detail::shm_request_queue<numbered>::open(name).sender();
        REQUIRE(err(requests.send(ipckit_test::placed_request<numbered>(name, *id), patience)) == errc::ok);
    }
    made.post();
    CHECK(report.finish(client) == as_expected);
    // Both are accepted, in the order they asked, each with its own message.
    for (const std::uint64_t seq : {std::uint64_t{0}, std::uint64_t{1}}) {
        INFO("the client whose message is " << seq);
        auto c = srv.accept(patience);
        REQUIRE(err(c) == errc::ok);
        const auto m = c->receive(patience);
        REQUIRE(err(m) == errc::ok);
        CHECK(m->seq == seq);
        CHECK(err(c->receive(patience)) == errc::closed);
    }
    CHECK(srv.rejected() == 0);
}

TEST_CASE("net process: a shm:// client accepted by a listener that closes at once is connected, never told "
          "not_found",
          "[process]") {
    // A server that accepts one client, then closes its listener at once: the close may land
    // just as the client looks, after its request, whether the listener is still there. A race,
    // so many rounds (it showed in about 1 in 75 on one core); the accepted client must be
    // connected each time, with its message through.
    for (int round = 0; round < 300; ++round) {
        auto srv = ipckit::listener<numbered>::bind(bind_address(ipckit_test::net_kind::shm));
        const std::string address = srv.address();
        errc accepted = errc::ok, received = errc::ok;
        std::thread server([&] {
            auto c = srv.accept(patience);
            accepted = err(c);
            srv.close();
            if (c) received = err(c->receive(patience));
        });
        errc connected = errc::ok;
        try {
            auto c = ipckit::connect<numbered>(address, patience);
            connected = err(c.send(numbered{1, mix}));
        } catch (const ipckit::error& e) {
            connected = e.reason();
        }
        server.join();
        INFO("round " << round);
        REQUIRE(accepted == errc::ok);  // the server's accept, once the client asked
        REQUIRE(connected == errc::ok);
        REQUIRE(received == errc::ok);
        ipckit_test::remove_leftovers(address);
    }
}

namespace {
/// Options of a listener with room for one connection.
ipckit::net_options one_place() {
    ipckit::net_options o;
    o.max_connections = 1;
    return o;
}
/// A client of `srv`, a listener with one_place(), connects, is accepted, and its message
/// arrives; it then holds the one place.
void connects_in_the_one_place(ipckit::listener<numbered>& srv) {
    auto c = ipckit::connect<numbered>(srv.address(), patience, one_place());
    auto end = srv.accept(patience);
    REQUIRE(err(end) == errc::ok);
    REQUIRE(err(c.send(numbered{1, mix})) == errc::ok);
    const auto m = end->receive(patience);
    REQUIRE(err(m) == errc::ok);
    CHECK(m->seq == 1);
    CHECK(srv.live_connections() == 1);
}
}  // namespace

TEST_CASE("net process: a shm:// client killed after taking its place at the door, before it asked, leaves the "
          "place to the next client at the cap",
          "[process]") {
    auto srv = ipckit::listener<numbered>::bind(bind_address(ipckit_test::net_kind::shm), one_place());
    const std::string name = ipckit::parse_address(srv.address()).path;
    using queue_type = ipckit::detail::shm_queue_for<numbered>::type;
    child dead([&] {
        auto door = ipckit::detail::shm_door::open(name);
        (void)door.enter(ipckit::detail::sys::self().pack());  // the one place
        const std::uint64_t id = ipckit::detail::shm_connection_id();  // and its queues, as connect makes them
        (void)queue_type::create(ipckit::detail::shm_up_name(name, id));
        (void)queue_type::create(ipckit::detail::shm_down_name(name, id));
        ::raise(SIGKILL);
        return 0;
    });
    REQUIRE(dead.wait() == killed_by_sigkill);
    REQUIRE(srv.live_connections() == 1);
    REQUIRE(ipckit_test::shm_segments_of(srv.address()).size() == 4);  // its request queue, door and the pair
    connects_in_the_one_place(srv);  // the dead client's
    // The dead one's pair went with its place: nobody would ever have taken it.
    CHECK(ipckit_test::shm_segments_of(srv.address()).size() == 2);
}

TEST_CASE("net process: a shm:// client that holds its place at the door while it connects keeps it: the next "
          "client at the cap is refused, saying so",
          "[process]") {
    auto srv = ipckit::listener<numbered>::bind(bind_address(ipckit_test::net_kind::shm), one_place());
    const std::string name = ipckit::parse_address(srv.address()).path;
    ipckit_test::signal_pipe entered, hold;
    child_report report;
    child slow = report.spawn([&](child_report& r) {
        auto door = ipckit::detail::shm_door::open(name);
        r.check(door.enter(ipckit::detail::sys::self().pack()).has_value(), "the one place");
        entered.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(slow, entered) == as_expected);
    try {
        (void)ipckit::connect<numbered>(srv.address(), patience, one_place());
        FAIL("connected past the cap, in a live client's place");
    } catch (const ipckit::error& e) {
        CHECK(e.reason() == errc::no_space);
        CHECK(std::string(e.what()).find("at its cap of 1") != std::string::npos);
    }
    CHECK(srv.live_connections() == 1);
    CHECK(report.ended(slow.kill(), killed_by_sigkill) == as_expected);
    connects_in_the_one_place(srv);  // and once it is dead, the next one takes its place
}

TEST_CASE("net process: a shm:// client killed after it asked, whose place went to the next client at the cap, is "
          "refused with the reason, and that next client accepted",
          "[process]") {
    auto srv = ipckit::listener<numbered>::bind(bind_address(ipckit_test::net_kind::shm), one_place());
    const std::string address = srv.address();
    ipckit_test::signal_pipe asked;
    child_report report;
    child dead = report.spawn([&](child_report& r) {
        auto c = ipckit::connect<numbered>(address, patience, one_place());  // its request is in; not accepted
        r.expect(err(c.send(numbered{0, 0})), errc::ok);
        asked.post();
        ::raise(SIGKILL);
    });
    REQUIRE(report.reached(dead, asked) == as_expected);
    CHECK(report.ended(dead.wait(), killed_by_sigkill) == as_expected);
    connects_in_the_one_place(srv);  // the dead one's place; its accept goes past the dead one's request
    const auto r = srv.rejections();
    REQUIRE(r.size() == 1);
    CHECK(r[0].reason == errc::peer_dead);
    CHECK(r[0].what.find("does not hold its client") != std::string::npos);
}
