// Calls across processes over shm, a Unix path and tcp: typed arguments and results of every
// kind promised, many calls in flight on one client matched by id, notifications, a server
// and client that a forked child destroys its copies of, left to their process, and a
// handler's stop() that ends run(); the longest durations in client_options mean no limit.

#include "../catch.hpp"
#include "rpc_support.hpp"

#include <ipckit/node.hpp>
#include <ipckit/rpc.hpp>

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using ipckit_test::as_expected;
using ipckit_test::child_report;
using ipckit_test::in_child;
using ipckit_test::patience;
using ipckit_test::returned;
using ipckit_test::rpc_transports;
using ipckit_test::served;
namespace rpc = ipckit::rpc;

TEST_CASE("rpc: typed arguments and results of every kind cross processes", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, ipckit_test::calculator);
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  r.expect(returned(c.call<std::int64_t>("add", 2, 40, patience), 42, "add(2, 40)"));
                  r.expect(returned(c.call<std::string>("echo", std::string("héllo")), std::string("héllo"), "echo(héllo)"));
                  r.expect(returned(c.call<bool>("negate", false), true, "negate(false)"));
                  r.expect(returned(c.call<double>("half", 5.0), 2.5, "half(5.0)"));
                  r.expect(returned(c.call<std::vector<unsigned char>>("reverse", std::vector<unsigned char>{1, 2, 0, 255}),
                                    std::vector<unsigned char>{255, 0, 2, 1}, "reverse({1, 2, 0, 255})"));
                  r.expect(returned(c.call<double>("sum", std::vector<double>{1.5, 2.5, -1}), 3.0, "sum({1.5, 2.5, -1})"));
                  const std::map<std::string, std::int64_t> m{{"a", 1}, {"b", 2}};
                  r.expect(returned(c.call<std::optional<std::int64_t>>("lookup", m, std::string("b")),
                                    std::optional<std::int64_t>(2), "lookup({a: 1, b: 2}, b)"));
                  r.expect(returned(c.call<std::optional<std::int64_t>>("lookup", m, std::string("z")),
                                    std::optional<std::int64_t>(), "lookup({a: 1, b: 2}, z)"));
                  auto p = c.call<ipckit_test::point>("scale", ipckit_test::point{1, -2, "p"}, 3.0);
                  r.expect(returned(p, "scale({1, -2, p}, 3.0)"));
                  r.check(p->x == 3 && p->y == -6 && p->label == "p*", "scale({1, -2, p}, 3.0) to return {3, -6, p*}");
                  r.expect(returned(c.call<void>("nothing"), "nothing()"));
              }) == as_expected);
    }
}

TEST_CASE("rpc: many calls in flight on one client, each reply matched to its call", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        rpc::server_options o;
        o.threads = 4;  // replies come back in any order
        served srv(kind, ipckit_test::calculator, o);
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  std::vector<std::future<rpc::result<std::int64_t>>> calls;
                  for (std::int64_t i = 0; i < 200; ++i) calls.push_back(c.async_call<std::int64_t>("add", i, 1000 * i, patience));
                  for (std::int64_t i = 0; i < 200; ++i)
                      r.expect(returned(calls[static_cast<std::size_t>(i)].get(), 1001 * i,
                                        "add(" + std::to_string(i) + ", " + std::to_string(1000 * i) + ")"));
                  r.expect_value(c.in_flight(), 0);
              }) == as_expected);
    }
}

TEST_CASE("rpc: notifications run without a reply, in order with one handler thread", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        rpc::server_options o;
        o.threads = 1;
        served srv(
            kind,
            [](rpc::server& s) {
                auto notes = std::make_shared<std::vector<std::int64_t>>();
                s.bind("note", [notes](std::int64_t n) { notes->push_back(n); });
                s.bind("notes", [notes] { return *notes; });
            },
            o);
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  for (std::int64_t i = 0; i < 50; ++i) r.expect(returned(c.notify("note", i), "notify(note, " + std::to_string(i) + ")"));
                  auto all = c.call<std::vector<std::int64_t>>("notes", patience);  // after the notes: one thread, FIFO
                  r.expect(returned(all, "notes()"));
                  r.expect_value(all->size(), 50);
                  for (std::size_t i = 0; i < 50; ++i) r.expect_value(static_cast<std::uint64_t>((*all)[i]), i);
              }) == as_expected);
    }
}

namespace {
/// In a child process, with `srv` made (and its methods the calculator's): starts it and a
/// client, then forks a grandchild once their threads run; the grandchild makes a client of its
/// own in its copy's place, then destroys its copies, as one that returns through their scope
/// would, and the child's server and client must go on serving and calling. `after` checks more
/// once the grandchild is gone.
void outlives_a_forked_copy(child_report& r, std::unique_ptr<rpc::server>& srv, const std::function<void()>& after = {}) {
    ipckit_test::calculator(*srv);
    srv->start();
    std::optional<rpc::client> cli(std::in_place, srv->address());
    r.expect(returned(cli->call<std::int64_t>("add", 1, 2, patience), 3, "add(1, 2) before the fork"));

    child_report grandchild_report;
    ipckit_test::signal_pipe destroyed;
    const std::string address = srv->address();
    auto grandchild = grandchild_report.spawn([&](child_report& g) {
        cli = rpc::client(address);  // a client of its own, over its copy of its parent's
        g.expect(returned(cli->call<std::int64_t>("add", 2, 2, patience), 4, "the grandchild's own add(2, 2)"));
        cli.reset();
        srv.reset();
        destroyed.post();
    });
    r.expect(grandchild_report.reached(grandchild, destroyed));
    r.expect(grandchild_report.finish(grandchild));

    r.expect(returned(cli->call<std::int64_t>("add", 3, 4, patience), 7, "add(3, 4) after the fork"));
    rpc::client another(srv->address());
    r.expect(returned(another.call<std::int64_t>("add", 5, 6, patience), 11, "a new client's add(5, 6)"));
    if (after) after();
}
}  // namespace

TEST_CASE("rpc: a forked child that destroys its copies of its parent's server and client leaves them to the parent",
          "[process]") {
    // In a child each time: the test process itself makes no server.
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        CHECK(in_child([&](child_report& r) {
                  auto srv = std::make_unique<rpc::server>(ipckit_test::bind_address(kind));
                  outlives_a_forked_copy(r, srv);
              }) == as_expected);
    }
    // A server's name in a domain stays its process's too.
    const std::string domain = ipckit_test::unique_name("rpcfork");
    ipckit::remove_domain(domain);
    CHECK(in_child([&](child_report& r) {
              std::unique_ptr<rpc::server> srv(new rpc::server(rpc::server::in_domain(domain, "calc")));
              outlives_a_forked_copy(r, srv, [&] {
                  auto by_name = rpc::client::in_domain(domain, "calc");
                  r.expect(returned(by_name.call<std::int64_t>("add", 7, 8, patience), 15, "add(7, 8) by name"));
              });
          }) == as_expected);
    ipckit::remove_domain(domain);
}

TEST_CASE("rpc: client_options::default_deadline and reconnect_timeout at their longest mean no limit", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, ipckit_test::calculator);
        CHECK(in_child([&](child_report& r) {
                  rpc::client_options o;
                  o.default_deadline = std::chrono::milliseconds::max();
                  rpc::client c(srv.address(), o);
                  r.expect(returned(c.call<std::int64_t>("add", 2, 40), 42, "add(2, 40) with no deadline"));
              }) == as_expected);
        CHECK(in_child([&](child_report& r) {
                  rpc::client_options o;
                  o.reconnect_timeout = std::chrono::milliseconds::max();
                  try {
                      rpc::client c(srv.address(), o);
                      r.expect(returned(c.call<std::int64_t>("add", 2, 40, patience), 42, "add(2, 40)"));
                      r.expect(returned(c.notify("nothing"), "notify(nothing)"));
                  } catch (const ipckit::error& e) {
                      r.check(false, std::string("a client with no limit on (re)connecting to connect; it threw: ") + e.what());
                  }
              }) == as_expected);
    }
}

TEST_CASE("rpc: a handler that calls stop() ends run(), and the server accepts no more", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        child_report report;
        ipckit_test::signal_pipe returned_from_run;
        auto c = report.spawn([&](child_report& r) {
            rpc::server srv(ipckit_test::bind_address(kind));
            srv.bind("quit", [&srv] { srv.stop(); });
            const std::string address = srv.address();
            std::thread caller([&] {
                rpc::client quitter(address);
                r.expect(returned(quitter.notify("quit"), "notify(quit)"));
            });
            srv.run();
            returned_from_run.post();
            caller.join();
            try {
                rpc::client late(address);
                r.check(false, "a connect to a stopped server to fail");
            } catch (const ipckit::error&) {
            }
        });
        CHECK(report.reached(c, returned_from_run) == as_expected);
        CHECK(report.finish(c) == as_expected);
    }
}
