// Lost messages and dead processes, across processes over shm, a Unix path and tcp: every call
// runs exactly once while replies are dropped and connections cut; a server killed mid-call is
// peer_dead at once; a client killed mid-call leaves the server serving; a restarted server
// gets the idempotent calls again and never the others.

#include "../catch.hpp"
#include "rpc_support.hpp"

#include <ipckit/rpc.hpp>

#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using ipckit_test::in_child;
using ipckit_test::killed_by_sigkill;
using ipckit_test::patience;
using ipckit_test::rpc_transports;
using ipckit_test::served;
using ipckit_test::signal_pipe;
namespace rpc = ipckit::rpc;

namespace {

/// incr(token) counts the runs for each token and returns that token's count; total() all runs.
void counter(rpc::server& s) {
    struct counts {
        std::mutex m;
        std::map<std::uint64_t, std::uint64_t> by_token;
        std::uint64_t total = 0;
    };
    auto c = std::make_shared<counts>();
    s.bind("incr", [c](std::uint64_t token) {
        std::lock_guard lock(c->m);
        ++c->total;
        return ++c->by_token[token];
    });
    s.bind("total", [c] {
        std::lock_guard lock(c->m);
        return c->total;
    }, rpc::idempotent);
}

/// A method that tells `started` it runs, then never returns (until its process is killed);
/// `idempotent`: declared so (rpc::idempotent), and then retried on a new server incarnation.
void blocking(rpc::server& s, const signal_pipe& started, const std::string& name, bool idempotent = false) {
    auto never_returns = [&started] {
        started.post();
        std::mutex m;
        std::condition_variable cv;
        std::unique_lock lock(m);
        cv.wait(lock, [] { return false; });
        return std::int64_t{0};
    };
    if (idempotent)
        s.bind(name, never_returns, rpc::idempotent);
    else
        s.bind(name, never_returns);
}

}  // namespace

TEST_CASE("rpc faults: every call runs exactly once while replies are dropped and connections cut", "[process]") {
    constexpr std::uint64_t calls = 300;
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        rpc::server_options o;
        o.threads = 2;
        o.fault_hook = [](std::string_view method, std::uint32_t msgid) {
            if (method != "incr") return rpc::fault_action::deliver;
            if (msgid % 11 == 3) return rpc::fault_action::cut_connection;
            if (msgid % 3 == 1) return rpc::fault_action::drop_reply;
            return rpc::fault_action::deliver;
        };
        served srv(kind, counter, o);
        const int failed = in_child([&] {
            rpc::client_options co;
            co.retry_interval = 20ms;  // a dropped reply is asked for again soon
            rpc::client c(srv.address(), co);
            // half one at a time, half 16 in flight at once
            for (std::uint64_t t = 0; t < calls / 2; ++t) {
                auto r = c.call<std::uint64_t>("incr", t, patience);
                if (!r) {
                    std::fprintf(stderr, "incr %llu: %s: %s\n", static_cast<unsigned long long>(t),
                                 rpc::to_string(r.error().code), r.error().message.c_str());
                    return 2;
                }
                if (*r != 1) return 3;  // ran twice
            }
            for (std::uint64_t t = calls / 2; t < calls; t += 16) {
                std::vector<std::future<rpc::result<std::uint64_t>>> batch;
                for (std::uint64_t i = t; i < t + 16 && i < calls; ++i) batch.push_back(c.async_call<std::uint64_t>("incr", i, patience));
                for (auto& f : batch) {
                    auto r = f.get();
                    if (!r) {
                        std::fprintf(stderr, "incr: %s: %s\n", rpc::to_string(r.error().code), r.error().message.c_str());
                        return 4;
                    }
                    if (*r != 1) return 5;
                }
            }
            auto total = c.call<std::uint64_t>("total", patience);
            if (!total) return 6;
            return *total == calls ? 0 : 7;  // exactly once each
        });
        CHECK(failed == 0);
    }
}

TEST_CASE("rpc faults: a server killed mid-call is peer_dead at the client, without a hang", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        signal_pipe started;
        served srv(kind, [&](rpc::server& s) { blocking(s, started, "block"); });
        ipckit_test::child client([&] {
            rpc::client c(srv.address());
            auto r = c.call<std::int64_t>("block", patience);
            if (r) return 2;
            if (r.error().code != rpc::errc::peer_dead) {
                std::fprintf(stderr, "%s: %s\n", rpc::to_string(r.error().code), r.error().message.c_str());
                return 3;
            }
            return ipckit_test::contains(r.error().message, "may or may not have run") ? 0 : 4;
        });
        REQUIRE(started.wait());
        CHECK(srv.kill() == killed_by_sigkill);
        CHECK(client.wait() == 0);
    }
}

TEST_CASE("rpc faults: a client killed mid-call leaves the server serving the others", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        signal_pipe started;
        served srv(kind, [&](rpc::server& s) {
            ipckit_test::calculator(s);
            blocking(s, started, "block");
        });
        ipckit_test::child doomed([&] {
            rpc::client c(srv.address());
            (void)c.call<std::int64_t>("block", patience);
            return 2;
        });
        REQUIRE(started.wait());
        CHECK(doomed.kill() == killed_by_sigkill);
        const int failed = in_child([&] {
            rpc::client c(srv.address());
            for (std::int64_t i = 0; i < 50; ++i) {
                auto r = c.call<std::int64_t>("add", i, 1, patience);
                if (!r || *r != i + 1) return 2;
            }
            return 0;
        });
        CHECK(failed == 0);
    }
}

TEST_CASE("rpc faults: a restarted server gets the idempotent calls again, the others end peer_dead", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        signal_pipe started;
        auto first = std::make_unique<served>(kind, [&](rpc::server& s) {
            blocking(s, started, "charge");
            blocking(s, started, "balance", true);  // blocks in the first server, as charge does
        });
        const std::string address = first->address();
        ipckit_test::child client([&] {
            rpc::client_options co;
            co.retry_interval = 50ms;
            rpc::client c(address, co);
            auto charge = c.async_call<std::int64_t>("charge", patience);
            auto balance = c.async_call<std::int64_t>("balance", patience);
            auto ch = charge.get();
            auto b = balance.get();
            if (ch || ch.error().code != rpc::errc::peer_dead) return 2;  // never run twice
            if (!b) {
                std::fprintf(stderr, "balance: %s: %s\n", rpc::to_string(b.error().code), b.error().message.c_str());
                return 3;
            }
            return *b == 7 ? 0 : 4;  // answered by the second server
        });
        REQUIRE(started.wait());
        REQUIRE(started.wait());
        CHECK(first->kill() == killed_by_sigkill);
        served second(address, [](rpc::server& s) {
            s.bind("charge", [] { return std::int64_t{1}; });
            s.bind("balance", [] { return std::int64_t{7}; }, rpc::idempotent);
        });
        CHECK(client.wait() == 0);
    }
}
