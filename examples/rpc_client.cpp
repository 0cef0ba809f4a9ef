// rpc_client: calls rpc_server N times and checks every answer, and that each call ran once.
//
//   rpc_client --connect ADDRESS --calls N [--in-flight K]
//   rpc_client --domain NAME --name SERVER --calls N [--in-flight K]
//   rpc_client --binder ADDRESS --name SERVER --calls N [--in-flight K]
//
// Ends with "N calls, F failed, T executed twice" (exit status 0 only if F and T are 0), then
// the call rate. K calls are kept in flight at once (default 1: one call after the other). N is 1
// to 10^9, K 1 to 128 (half of client_options::max_in_flight: each call is two requests); any
// other value is a usage error (exit status 2).

#include "number.hpp"

#include <ipckit/rpc.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <future>
#include <random>
#include <string>
#include <string_view>

namespace rpc = ipckit::rpc;
using namespace std::chrono_literals;

namespace {

// Each call's tally token is base + i, and the bases of two runs are 10^9 apart or more: so that
// no token repeats across runs, a run makes at most 10^9 calls.
constexpr std::uint64_t max_calls = 1'000'000'000;
// Each call is two requests (add and tally); the client refuses more than max_in_flight at once.
const std::uint64_t max_in_flight = rpc::client_options{}.max_in_flight / 2;

/// Exits with 2, saying `why` (if anything) and how to call the program.
[[noreturn]] void usage(const std::string& why = {}) {
    if (!why.empty()) std::fprintf(stderr, "rpc_client: %s\n", why.c_str());
    std::fprintf(stderr, "usage: rpc_client (--connect ADDRESS | --domain NAME --name SERVER | --binder ADDRESS --name SERVER)"
                         " --calls N [--in-flight K]\n"
                         "  N: 1 to %llu; K: 1 to %llu (default 1)\n",
                 static_cast<unsigned long long>(max_calls), static_cast<unsigned long long>(max_in_flight));
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::string connect, domain, binder, name;
    std::uint64_t calls = 0;
    std::size_t in_flight = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view opt = argv[i];
        if (opt == "--connect") connect = argv[i + 1];
        else if (opt == "--domain") domain = argv[i + 1];
        else if (opt == "--binder") binder = argv[i + 1];
        else if (opt == "--name") name = argv[i + 1];
        else if (opt == "--calls") calls = example::number(opt, argv[i + 1], 1, max_calls, usage);
        else if (opt == "--in-flight")
            in_flight = static_cast<std::size_t>(example::number(opt, argv[i + 1], 1, max_in_flight, usage));
        else usage("unknown option " + std::string(opt));
    }
    // one of: --connect; --domain --name; --binder --name
    const int ways = int(!connect.empty()) + int(!domain.empty()) + int(!binder.empty());
    if (argc % 2 == 0 || calls == 0 || ways != 1 || connect.empty() == name.empty()) usage();
    try {
        rpc::client c = !connect.empty() ? rpc::client(connect)
                        : !domain.empty() ? rpc::client::in_domain(domain, name)
                                          : rpc::client::at_binder(binder, name);
        // Tokens unique to this run: the server counts how often it saw each.
        const std::uint64_t base = std::random_device{}() * 1'000'000'000ULL;
        std::uint64_t failed = 0, twice = 0;
        struct call {
            std::uint64_t i;
            std::future<rpc::result<std::int64_t>> sum;
            std::future<rpc::result<std::uint64_t>> tally;
        };
        std::deque<call> window;
        auto settle = [&](call& k) {
            const auto s = k.sum.get();
            const auto t = k.tally.get();
            const auto want = static_cast<std::int64_t>(3 * k.i);
            if (!s || *s != want || !t) {
                if (failed++ < 5)
                    std::fprintf(stderr, "call %llu failed: %s\n", static_cast<unsigned long long>(k.i),
                                 !s ? s.error().message.c_str() : !t ? t.error().message.c_str() : "a wrong sum");
            } else if (*t != 1) {
                ++twice;
            }
        };
        const auto start = std::chrono::steady_clock::now();
        for (std::uint64_t i = 0; i < calls; ++i) {
            const auto a = static_cast<std::int64_t>(i);
            window.push_back({i, c.async_call<std::int64_t>("add", a, 2 * a, 10s),
                              c.async_call<std::uint64_t>("tally", base + i, 10s)});
            if (window.size() >= in_flight) {
                settle(window.front());
                window.pop_front();
            }
        }
        for (auto& k : window) settle(k);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("%llu calls, %llu failed, %llu executed twice\n", static_cast<unsigned long long>(calls),
                    static_cast<unsigned long long>(failed), static_cast<unsigned long long>(twice));
        std::printf("%.0f calls/s (%llu round trips of 2 calls each, %zu in flight)\n",
                    2.0 * static_cast<double>(calls) / secs, static_cast<unsigned long long>(calls), in_flight);
        return failed == 0 && twice == 0 ? 0 : 1;
    } catch (const ipckit::error& e) {
        std::fprintf(stderr, "rpc_client: %s\n", e.what());
        return 1;
    }
}
