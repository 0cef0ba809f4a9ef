// One thread serving many clients through a waitset: pending accepts and messages on any of
// several connections, reported by id, with a deadline; and the same from a user's own event
// loop, through the waitset's fd (poll) or Asio (async_wait in the test's io_context); and
// queue receivers beside connections in one wait, shm:// ones among them, with a client in
// another process; and a forked child's copy of its parent's waitset, destroyed there, leaves
// the parent's be. (Every kind's readiness, across processes: contract/contract_waitset_test.cpp.)

#include "catch.hpp"
#include "contract/child_report.hpp"
#include "net_support.hpp"

#include <ipckit/net.hpp>
#include <ipckit/queue.hpp>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <poll.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::all_transports;
using ipckit_test::as_expected;
using ipckit_test::bind_address;
using ipckit_test::child_report;
using ipckit_test::patience;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;

namespace {
using msg = ipckit::bytes<256>;
std::string text(const std::vector<std::byte>& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }
bool has(const std::vector<ipckit::waitset::id>& ids, ipckit::waitset::id k) {
    return std::find(ids.begin(), ids.end(), k) != ids.end();
}
/// As a user's own event loop drives a waitset: poll(2) on its fd (within patience each time),
/// then wait(0ms), until a wait reports something. The fd may turn readable with nothing ready
/// (a liveness check is due, once per interval): that wait finds nothing, and it polls again.
/// Empty if a poll timed out.
std::vector<ipckit::waitset::id> ready_through_fd(ipckit::waitset& ws) {
    pollfd p{ws.native_handle(), POLLIN, 0};
    const int patience_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(patience).count());
    for (;;) {
        if (::poll(&p, 1, patience_ms) != 1) return {};
        if (auto ready = ws.wait(std::chrono::milliseconds(0))) return *ready;
    }
}
}  // namespace

TEST_CASE("net waitset: nothing ready is timed_out at the deadline", "[unit]") {
    ipckit::waitset empty;
    CHECK(empty.wait(10ms).error() == errc::timed_out);
    auto srv = ipckit::listener<msg>::bind("tcp://127.0.0.1:0");
    auto cli = ipckit::connect<msg>(srv.address(), patience);
    auto end = srv.accept(patience).value();
    ipckit::waitset ws;
    ws.add(srv);
    ws.add(end);
    CHECK(ws.wait(10ms).error() == errc::timed_out);
}

TEST_CASE("net waitset: one thread accepts, learns which client sent, and answers that one", "[unit]") {
    for (const auto kind : all_transports) {
        INFO(ipckit_test::to_string(kind));
        auto srv = ipckit::listener<msg>::bind(bind_address(kind));
        ipckit::waitset ws;
        const auto srv_id = ws.add(srv);

        std::vector<ipckit::connection<msg>> clients;
        for (int i = 0; i < 3; ++i) clients.push_back(ipckit::connect<msg>(srv.address(), patience));

        // Accept all three as the waitset reports them.
        std::map<ipckit::waitset::id, ipckit::connection<msg>> served;
        while (served.size() < 3) {
            auto ready = ws.wait(patience);
            REQUIRE(ready.has_value());
            REQUIRE(has(*ready, srv_id));
            for (;;) {
                auto c = srv.accept(0ms);
                if (!c) {
                    REQUIRE(c.error() == errc::timed_out);
                    break;
                }
                const auto key = ws.add(*c);
                served.emplace(key, std::move(*c));
            }
        }
        CHECK(ws.size() == 4);

        // Client 1 speaks: exactly its connection is ready, and the answer goes back to it.
        REQUIRE(clients[1].send("who am i").has_value());
        auto ready = ws.wait(patience);
        REQUIRE(ready.has_value());
        REQUIRE(ready->size() == 1);
        auto& from = served.at(ready->front());
        CHECK(text(from.receive(0ms).value()) == "who am i");
        REQUIRE(from.send("client one").has_value());
        CHECK(text(clients[1].receive(patience).value()) == "client one");
        CHECK(clients[0].receive(10ms).error() == errc::timed_out);
        CHECK(ws.wait(10ms).error() == errc::timed_out);  // all taken

        // A client that closes is ready too, with closed; removed, it is gone from the set.
        clients[2].close();
        ready = ws.wait(patience);
        REQUIRE(ready.has_value());
        REQUIRE(ready->size() == 1);
        CHECK(served.at(ready->front()).receive(0ms).error() == errc::closed);
        ws.remove(ready->front());
        CHECK(ws.size() == 3);
        CHECK(ws.wait(10ms).error() == errc::timed_out);

        // Several at once are reported together.
        REQUIRE(clients[0].send("a").has_value());
        REQUIRE(clients[1].send("b").has_value());
        std::vector<ipckit::waitset::id> seen;
        while (seen.size() < 2) {
            ready = ws.wait(patience);
            REQUIRE(ready.has_value());
            for (const auto key : *ready) {
                REQUIRE(served.at(key).receive(0ms).has_value());
                seen.push_back(key);
            }
        }
        CHECK(seen.size() == 2);
    }
}

TEST_CASE("net waitset: its fd wakes a user's poll, and stays readable until a wait finds nothing", "[unit]") {
    auto srv = ipckit::listener<msg>::bind("tcp://127.0.0.1:0");
    auto cli = ipckit::connect<msg>(srv.address(), patience);
    auto end = srv.accept(patience).value();
    ipckit::waitset ws;
    const auto key = ws.add(end);
    pollfd p{ws.native_handle(), POLLIN, 0};
    const int patience_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(patience).count());

    CHECK(ws.wait(0ms).error() == errc::timed_out);  // what add() signalled is gone with it
    CHECK(::poll(&p, 1, 0) == 0);

    REQUIRE(cli.send("one").has_value());
    REQUIRE(cli.send("two").has_value());
    REQUIRE(::poll(&p, 1, patience_ms) == 1);
    auto ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{key});
    CHECK(text(end.receive(0ms).value()) == "one");
    // "two" may sit in the connection's buffer with its socket read dry: the fd says come back.
    REQUIRE(::poll(&p, 1, patience_ms) == 1);
    ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(text(end.receive(0ms).value()) == "two");
    REQUIRE(::poll(&p, 1, 0) == 1);
    CHECK(ws.wait(0ms).error() == errc::timed_out);  // nothing left: the fd goes quiet
    CHECK(::poll(&p, 1, 0) == 0);
}

TEST_CASE("net waitset: async_wait in a user's io_context reports the ready connections", "[unit]") {
    for (const auto kind : all_transports) {
        INFO(ipckit_test::to_string(kind));
        auto srv = ipckit::listener<msg>::bind(bind_address(kind));
        auto cli = ipckit::connect<msg>(srv.address(), patience);
        auto end = srv.accept(patience).value();
        boost::asio::io_context io;
        ipckit::waitset ws;
        const auto key = ws.add(end);
        CHECK(ws.wait(0ms).error() == errc::timed_out);

        int calls = 0;
        std::error_code got_ec;
        std::vector<ipckit::waitset::id> got;
        auto handler = [&](std::error_code ec, std::vector<ipckit::waitset::id> ids) {
            ++calls;
            got_ec = ec;
            got = std::move(ids);
        };
        ws.async_wait(io.get_executor(), handler);
        io.run_for(10ms);
        CHECK(calls == 0);  // nothing yet

        REQUIRE(cli.send("wake").has_value());
        io.restart();
        while (calls == 0 && io.run_one_for(patience) != 0) {
        }
        REQUIRE(calls == 1);
        CHECK(!got_ec);
        CHECK(got == std::vector<ipckit::waitset::id>{key});
        CHECK(text(end.receive(0ms).value()) == "wake");

        // A waitset destroyed with a wait pending cancels it.
        {
            ipckit::waitset gone;
            gone.add(end);
            CHECK(gone.wait(0ms).error() == errc::timed_out);
            gone.async_wait(io.get_executor(), handler);
        }
        io.restart();
        while (calls == 1 && io.run_one_for(patience) != 0) {
        }
        REQUIRE(calls == 2);
        CHECK(got_ec == std::errc::operation_canceled);
    }
}

TEST_CASE("net waitset: a connection added twice is reported under both ids, and removing one keeps the other", "[unit]") {
    auto srv = ipckit::listener<msg>::bind("tcp://127.0.0.1:0");
    auto cli = ipckit::connect<msg>(srv.address(), patience);
    auto end = srv.accept(patience).value();
    ipckit::waitset ws;
    const auto first = ws.add(end);
    const auto second = ws.add(end);
    REQUIRE(cli.send("both").has_value());
    auto ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{first, second});
    ws.remove(first);
    ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{second});
    CHECK(text(end.receive(0ms).value()) == "both");
    CHECK(ws.wait(0ms).error() == errc::timed_out);
    REQUIRE(cli.send("still watched").has_value());  // its socket is still in the epoll set
    ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{second});
}

TEST_CASE("net waitset: a queue and a connection in one wait: timed_out when neither is ready, else the one that is", "[unit]") {
    using jobs = ipckit::queue<int, ipckit::bounded<8>>;
    const scoped_name name("waitset_mixed");
    auto q = jobs::create(name);
    auto rx = q.receiver();
    auto tx = q.sender();
    auto srv = ipckit::listener<msg>::bind("tcp://127.0.0.1:0");
    auto cli = ipckit::connect<msg>(srv.address(), patience);
    auto end = srv.accept(patience).value();

    ipckit::waitset ws;
    const auto queue_id = ws.add(rx);
    const auto conn_id = ws.add(end);
    CHECK(ws.size() == 2);
    CHECK(ws.wait(20ms).error() == errc::timed_out);

    REQUIRE(tx.send(7).has_value());
    auto ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{queue_id});
    CHECK(rx.receive(0ms).value() == 7);
    CHECK(ws.wait(20ms).error() == errc::timed_out);

    REQUIRE(cli.send("hello").has_value());
    ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{conn_id});
    CHECK(text(end.receive(0ms).value()) == "hello");

    // Removed, the queue is not reported, though a message is in.
    ws.remove(queue_id);
    REQUIRE(tx.send(8).has_value());
    CHECK(ws.wait(20ms).error() == errc::timed_out);
    CHECK(rx.receive(0ms).value() == 8);
}

TEST_CASE("net waitset: a message on a watched queue wakes a user's poll on its fd", "[unit]") {
    using jobs = ipckit::queue<int, ipckit::bounded<8>>;
    const scoped_name name("waitset_poll");
    auto q = jobs::create(name);
    auto rx = q.receiver();
    auto tx = q.sender();
    ipckit::waitset ws;
    const auto key = ws.add(rx);
    (void)ws.native_handle();  // handed out: from here the bells stay armed between waits
    CHECK(ws.wait(0ms).error() == errc::timed_out);  // nothing yet: the queue's bell is armed now
    REQUIRE(tx.send(1).has_value());
    CHECK(ready_through_fd(ws) == std::vector<ipckit::waitset::id>{key});
    CHECK(rx.receive(0ms).value() == 1);
    // the fd was left readable: come back until a wait finds none
    CHECK(ws.wait(0ms).error() == errc::timed_out);
}

TEST_CASE("net waitset: removing one queue from a waitset whose fd a user polls leaves the others watched", "[unit]") {
    using jobs = ipckit::queue<int, ipckit::bounded<8>>;
    const scoped_name first_name("waitset_rm1"), second_name("waitset_rm2");
    auto first = jobs::create(first_name);
    auto second = jobs::create(second_name);
    auto rx1 = first.receiver();
    auto rx2 = second.receiver();
    auto tx2 = second.sender();
    ipckit::waitset ws;
    const auto k1 = ws.add(rx1);
    const auto k2 = ws.add(rx2);
    (void)ws.native_handle();  // handed out: from here the bells stay armed between waits
    CHECK(ws.wait(0ms).error() == errc::timed_out);  // both bells armed, the fd idle
    ws.remove(k1);  // outside a wait, as a user's own loop may
    REQUIRE(tx2.send(2).has_value());
    CHECK(ready_through_fd(ws) == std::vector<ipckit::waitset::id>{k2});
}

TEST_CASE("net waitset: a forked child that destroys its copy of its parent's waitset leaves the parent's watching",
          "[process]") {
    using jobs = ipckit::queue<int, ipckit::bounded<8>>;
    const scoped_name name("waitset_fork");
    // No liveness check within the test's patience, which would raise the waitset's fd anyway
    // (as a due check does): only the queue's bell may wake it.
    auto q = jobs::create(name, ipckit_test::quick_liveness(std::chrono::hours(1)));
    auto rx = q.receiver();
    auto tx = q.sender();
    auto srv = ipckit::listener<msg>::bind("tcp://127.0.0.1:0");
    auto cli = ipckit::connect<msg>(srv.address(), patience);
    auto end = srv.accept(patience).value();

    // The parent's waitset, mid-use at the fork: its bridge thread runs, its fd is handed out,
    // so its queue's bell stays armed between waits, and the socket is in its epoll set.
    std::optional<ipckit::waitset> ws(std::in_place);
    const auto queue_id = ws->add(rx);
    const auto conn_id = ws->add(end);
    (void)ws->native_handle();
    REQUIRE(ws->wait(0ms).error() == errc::timed_out);

    child_report report;
    signal_pipe destroyed;
    auto c = report.spawn([&](child_report&) {
        ws.reset();  // as a child that returns through its scope would
        destroyed.post();
    });
    REQUIRE(report.reached(c, destroyed) == as_expected);
    REQUIRE(report.finish(c) == as_expected);

    // The parent's waitset still hears both, asleep when they come: the queue's bell (on which
    // it is still counted among the sleepers), and the socket.
    REQUIRE(ws->wait(0ms).error() == errc::timed_out);
    REQUIRE(tx.send(1).has_value());
    CHECK(ready_through_fd(*ws) == std::vector<ipckit::waitset::id>{queue_id});
    CHECK(rx.receive(0ms).value() == 1);
    REQUIRE(ws->wait(0ms).error() == errc::timed_out);
    REQUIRE(cli.send("after").has_value());
    CHECK(ready_through_fd(*ws) == std::vector<ipckit::waitset::id>{conn_id});
    CHECK(text(end.receive(0ms).value()) == "after");
}

TEST_CASE("net waitset: no message of a sender in another process is missed, however the two interleave", "[process]") {
    // A small queue, so that the sender often waits for room and the waitset often sleeps: each
    // message must wake it (a missed wake-up would leave it asleep until the deadline).
    using jobs = ipckit::queue<int, ipckit::bounded<4>>;
    const scoped_name name("waitset_stress");
    auto q = jobs::create(name);
    constexpr int count = 20000;
    ipckit_test::child sender([&] {
        auto tx = q.sender();
        for (int i = 0; i < count; ++i)
            if (!tx.send(i, patience)) return 1;
        return 0;
    });
    auto rx = q.receiver<ipckit::non_blocking>();
    ipckit::waitset ws;
    ws.add(rx);
    int next = 0;
    while (next < count) {
        const auto ready = ws.wait(patience);
        REQUIRE(ready.has_value());
        for (auto m = rx.receive(); m; m = rx.receive()) {
            REQUIRE(*m == next);
            ++next;
        }
    }
    CHECK(sender.wait() == 0);
}

TEST_CASE("net waitset: a shm:// listener and connection, a tcp connection and a queue in one wait, the shm:// client in another process", "[process]") {
    // Everything that forks first: the shm:// listener and the queue start no thread; the tcp
    // ends (their I/O thread) and the waitset (its bridge thread) come after the fork.
    using jobs = ipckit::queue<int, ipckit::bounded<8>>;
    const scoped_name name("waitset_shm");
    auto q = jobs::create(name);
    auto rx = q.receiver();
    auto tx = q.sender();
    auto shm_srv = ipckit::listener<msg>::bind(bind_address(ipckit_test::net_kind::shm));
    const std::string shm_address = shm_srv.address();

    child_report report;
    signal_pipe next;
    ipckit_test::child c = report.spawn([&](child_report& r) {
        auto cli = ipckit::connect<msg>(shm_address, patience);
        r.check(cli.send("from the child").has_value(), "the first send");
        r.check(next.wait(), "the word to send again");
        r.check(cli.send("again").has_value(), "the second send");
        r.check(next.wait(), "the word to close");
        cli.close();
    });

    auto tcp_srv = ipckit::listener<msg>::bind("tcp://127.0.0.1:0");
    auto tcp_cli = ipckit::connect<msg>(tcp_srv.address(), patience);
    auto tcp_end = tcp_srv.accept(patience).value();

    ipckit::waitset ws;
    const auto srv_id = ws.add(shm_srv);
    const auto tcp_id = ws.add(tcp_end);
    const auto queue_id = ws.add(rx);

    // The child's connect waits to be accepted: the listener is reported (maybe again, while
    // the request is not taken), and accept then finds it.
    std::optional<ipckit::connection<msg>> shm_end;
    while (!shm_end) {
        auto ready = ws.wait(patience);
        REQUIRE(ready.has_value());
        REQUIRE(*ready == std::vector<ipckit::waitset::id>{srv_id});
        if (auto a = shm_srv.accept(0ms)) shm_end.emplace(std::move(*a));
    }
    const auto shm_id = ws.add(*shm_end);
    auto ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{shm_id});
    CHECK(text(shm_end->receive(0ms).value()) == "from the child");
    CHECK(ws.wait(20ms).error() == errc::timed_out);  // nothing else is in

    // Each endpoint is reported alone when it alone has something, the shm:// one woken by
    // the child's send while the waitset may sleep.
    next.post();
    ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{shm_id});
    CHECK(text(shm_end->receive(0ms).value()) == "again");

    REQUIRE(tcp_cli.send("over tcp").has_value());
    ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{tcp_id});
    CHECK(text(tcp_end.receive(0ms).value()) == "over tcp");

    REQUIRE(tx.send(5).has_value());
    ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{queue_id});
    CHECK(rx.receive(0ms).value() == 5);

    // The child closes: its connection is ready, and says closed.
    next.post();
    ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{shm_id});
    CHECK(shm_end->receive(0ms).error() == errc::closed);
    CHECK(report.finish(c) == as_expected);

    // Moved, the connection is still watched; removed, it is not reported though it has ended.
    auto moved = std::move(*shm_end);
    ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{shm_id});
    ws.remove(shm_id);
    CHECK(ws.wait(20ms).error() == errc::timed_out);

    // A shm:// listener closed while added is ready (accept says closed) until removed.
    shm_srv.close();
    ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{srv_id});
    CHECK(shm_srv.accept(0ms).error() == errc::closed);
    ws.remove(srv_id);
    CHECK(ws.wait(20ms).error() == errc::timed_out);
}

TEST_CASE("net waitset: a shm:// listener closed while added frees its name: a connect finds nothing there, and the "
          "name binds again",
          "[unit]") {
    auto srv = ipckit::listener<msg>::bind(bind_address(ipckit_test::net_kind::shm));
    const std::string address = srv.address();
    ipckit::waitset ws;
    const auto srv_id = ws.add(srv);
    srv.close();
    const auto ready = ws.wait(patience);
    REQUIRE(ready.has_value());
    CHECK(*ready == std::vector<ipckit::waitset::id>{srv_id});
    // Not a connection that waits for ever on a listener that will never accept it.
    CHECK(ipckit_test::setup_errc([&] { return ipckit::connect<msg>(address, patience); }) == errc::not_found);
    CHECK(ipckit_test::shm_segments_of(address).empty());

    auto again = ipckit::listener<msg>::bind(address);  // not already_exists
    ws.remove(srv_id);                                  // the old listener's last holder leaves the new one be
    auto c = ipckit::connect<msg>(address, patience);
    CHECK(again.accept(patience).has_value());
}
