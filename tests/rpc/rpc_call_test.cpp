// Calls across processes over shm, a Unix path and tcp: typed arguments and results of every
// kind promised, many calls in flight on one client matched by id, and notifications.

#include "../catch.hpp"
#include "rpc_support.hpp"

#include <ipckit/rpc.hpp>

#include <cstdint>
#include <future>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using ipckit_test::in_child;
using ipckit_test::patience;
using ipckit_test::rpc_transports;
using ipckit_test::served;
namespace rpc = ipckit::rpc;

TEST_CASE("rpc: typed arguments and results of every kind cross processes", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, ipckit_test::calculator);
        const int failed = in_child([&] {
            rpc::client c(srv.address());
            int bad = 0;
            auto check = [&](bool ok) { bad = bad * 2 + (ok ? 0 : 1); };  // which one failed, in the code
            auto sum = c.call<std::int64_t>("add", 2, 40, patience);
            check(sum && *sum == 42);
            auto e = c.call<std::string>("echo", std::string("héllo"));
            check(e && *e == "héllo");
            auto n = c.call<bool>("negate", false);
            check(n && *n);
            auto h = c.call<double>("half", 5.0);
            check(h && *h == 2.5);
            auto r = c.call<std::vector<unsigned char>>("reverse", std::vector<unsigned char>{1, 2, 0, 255});
            check(r && *r == std::vector<unsigned char>{255, 0, 2, 1});
            auto s = c.call<double>("sum", std::vector<double>{1.5, 2.5, -1});
            check(s && *s == 3.0);
            const std::map<std::string, std::int64_t> m{{"a", 1}, {"b", 2}};
            auto found = c.call<std::optional<std::int64_t>>("lookup", m, std::string("b"));
            auto missing = c.call<std::optional<std::int64_t>>("lookup", m, std::string("z"));
            check(found && *found == std::optional<std::int64_t>(2) && missing && !*missing);
            auto p = c.call<ipckit_test::point>("scale", ipckit_test::point{1, -2, "p"}, 3.0);
            check(p && p->x == 3 && p->y == -6 && p->label == "p*");
            auto v = c.call<void>("nothing");
            check(v.has_value());
            return bad > 100 ? 100 : bad;
        });
        CHECK(failed == 0);
    }
}

TEST_CASE("rpc: many calls in flight on one client, each reply matched to its call", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        rpc::server_options o;
        o.threads = 4;  // replies come back in any order
        served srv(kind, ipckit_test::calculator, o);
        const int failed = in_child([&] {
            rpc::client c(srv.address());
            std::vector<std::future<rpc::result<std::int64_t>>> calls;
            for (std::int64_t i = 0; i < 200; ++i) calls.push_back(c.async_call<std::int64_t>("add", i, 1000 * i, patience));
            for (std::int64_t i = 0; i < 200; ++i) {
                auto r = calls[static_cast<std::size_t>(i)].get();
                if (!r) return 2;
                if (*r != 1001 * i) return 3;
            }
            return c.in_flight() == 0 ? 0 : 4;
        });
        CHECK(failed == 0);
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
        const int failed = in_child([&] {
            rpc::client c(srv.address());
            for (std::int64_t i = 0; i < 50; ++i)
                if (!c.notify("note", i)) return 2;
            auto all = c.call<std::vector<std::int64_t>>("notes", patience);  // after the notes: one thread, FIFO
            if (!all) return 3;
            if (all->size() != 50) return 4;
            for (std::int64_t i = 0; i < 50; ++i)
                if ((*all)[static_cast<std::size_t>(i)] != i) return 5;
            return 0;
        });
        CHECK(failed == 0);
    }
}
