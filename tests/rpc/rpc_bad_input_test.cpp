// Bad input, across processes over shm, a Unix path and tcp: each gets an error that names what
// was wrong, and the server goes on serving.

#include "../catch.hpp"
#include "rpc_support.hpp"

#include <ipckit/rpc.hpp>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using ipckit_test::contains;
using ipckit_test::in_child;
using ipckit_test::patience;
using ipckit_test::rpc_transports;
using ipckit_test::served;
namespace rpc = ipckit::rpc;

namespace {

/// The calculator, and how many connections the server dropped as corrupt.
void calculator_counting_corrupt(rpc::server& s) {
    ipckit_test::calculator(s);
    s.bind("corrupt_count", [&s] { return s.corrupt_connections(); });
}

/// 0 if `r` failed with `code` and a message containing `needle`; else `fail`.
template <class R>
int expect_error(const rpc::result<R>& r, rpc::errc code, std::string_view needle, int fail) {
    if (r.has_value()) return fail;
    if (r.error().code != code) {
        std::fprintf(stderr, "expected %s, got %s: %s\n", rpc::to_string(code), rpc::to_string(r.error().code),
                     r.error().message.c_str());
        return fail;
    }
    if (!contains(r.error().message, needle)) {
        std::fprintf(stderr, "'%s' does not say '%s'\n", r.error().message.c_str(), std::string(needle).c_str());
        return fail;
    }
    return 0;
}

/// 0 if the server still answers add.
int still_serving(rpc::client& c, int fail) {
    auto r = c.call<std::int64_t>("add", 40, 2, patience);
    return r && *r == 42 ? 0 : fail;
}

}  // namespace

TEST_CASE("rpc bad input: unknown methods, wrong arguments and throwing handlers are named errors", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, ipckit_test::calculator);
        const int failed = in_child([&] {
            rpc::client c(srv.address());
            if (int e = expect_error(c.call<std::int64_t>("nope", 1, patience), rpc::errc::unknown_method, "'nope'", 2)) return e;
            if (int e = expect_error(c.call<std::int64_t>("add", 1, patience), rpc::errc::bad_arguments,
                                     "add takes 2 arguments, not 1: add(int64, int64) -> int64", 3))
                return e;
            if (int e = expect_error(c.call<std::int64_t>("add", std::string("one"), 2, patience), rpc::errc::bad_arguments,
                                     "argument 1 of add is a string", 4))
                return e;
            if (int e = expect_error(c.call<std::int64_t>("add", 1.5, 2, patience), rpc::errc::bad_arguments,
                                     "add(int64, int64) -> int64", 5))
                return e;
            if (int e = expect_error(c.call<std::int64_t>("fail", std::string("the disk is on fire"), patience),
                                     rpc::errc::remote, "the disk is on fire", 6))
                return e;
            if (int e = expect_error(c.call<std::string>("add", 1, 2, patience), rpc::errc::bad_reply,
                                     "does not convert to string", 7))
                return e;
            return still_serving(c, 8);
        });
        CHECK(failed == 0);
    }
}

TEST_CASE("rpc bad input: an oversize request or reply is too_large, and the server goes on", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, ipckit_test::calculator);
        const int failed = in_child([&] {
            rpc::client c(srv.address());
            const std::string huge(ipckit::detail::rpc::max_frame, 'x');
            if (int e = expect_error(c.call<std::string>("echo", huge, patience), rpc::errc::too_large, "was not sent", 2))
                return e;
            if (int e = expect_error(c.call<std::string>("big", static_cast<std::uint32_t>(ipckit::detail::rpc::max_frame), patience),
                                     rpc::errc::too_large, "the reply of big", 3))
                return e;
            return still_serving(c, 4);
        });
        CHECK(failed == 0);
    }
}

TEST_CASE("rpc bad input: a malformed frame drops that connection as corrupt, others go on", "[process]") {
    using frame = ipckit::detail::rpc::frame;
    const std::vector<std::vector<unsigned char>> malformed = {
        {0xc1},                                  // a byte MessagePack never uses
        {0x94, 0x00, 0x01},                      // an array of 4 that ends after 2
        {0x92, 0x00, 0x01},                      // an array of 2: no such message
        {0x94, 0x03, 0x01, 0xa1, 'f', 0x90},     // message type 3
        {0x94, 0x00, 0xa1, 'x', 0xa1, 'f', 0x90},  // a msgid that is a string
        {0x94, 0x00, 0x01, 0x01, 0x90},          // a method that is an integer
        {0x94, 0x00, 0x01, 0xa1, 'f', 0x01},     // params that are not an array
        {0x94, 0x00, 0x01, 0xa1, 'f', 0x90, 0x00},  // a byte after the message
        {0x94, 0x00, 0x01, 0xa1, 'f', 0xdd, 0xff, 0xff, 0xff, 0xff},  // params claiming 4G elements
        {0x94, 0x01, 0x01, 0xc0, 0xc0},          // a response sent to the server
    };
    std::vector<unsigned char> deep(100, 0x91);  // arrays nested 100 deep
    deep.push_back(0xc0);
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, calculator_counting_corrupt);
        auto bad = malformed;
        bad.push_back(deep);
        int expected = 0;
        for (const auto& b : bad) {
            INFO("frame " << expected);
            const int failed = in_child([&] {
                auto raw = ipckit::connect<frame>(srv.address(), patience);
                if (!raw.send(std::as_bytes(std::span(b.data(), b.size())), patience)) return 2;
                auto end = raw.receive(patience);  // the server drops the connection: no reply
                if (end) return 3;
                return end.error() == ipckit::errc::closed || end.error() == ipckit::errc::peer_dead ? 0 : 4;
            });
            CHECK(failed == 0);
            ++expected;
        }
        const int failed = in_child([&] {
            rpc::client c(srv.address());
            auto n = c.call<std::uint64_t>("corrupt_count", patience);
            if (!n) return 2;
            if (*n != static_cast<std::uint64_t>(expected)) return 3;
            return still_serving(c, 4);
        });
        CHECK(failed == 0);
    }
}

TEST_CASE("rpc bad input: a reply after the deadline is discarded, never given to a later call", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        rpc::server_options o;
        o.threads = 2;
        served srv(
            kind,
            [](rpc::server& s) {
                ipckit_test::calculator(s);
                struct gate {
                    std::mutex m;
                    std::condition_variable cv;
                    bool open = false;
                };
                auto g = std::make_shared<gate>();
                s.bind("slow", [g] {
                    std::unique_lock lock(g->m);
                    g->cv.wait(lock, [&] { return g->open; });
                    return std::int64_t{-1};
                });
                s.bind("release", [g] {
                    std::lock_guard lock(g->m);
                    g->open = true;
                    g->cv.notify_all();
                });
            },
            o);
        const int failed = in_child([&] {
            rpc::client c(srv.address());
            if (int e = expect_error(c.call<std::int64_t>("slow", 200ms), rpc::errc::timed_out, "slow", 2)) return e;
            if (!c.call<void>("release", patience)) return 3;
            for (std::int64_t i = 0; i < 20; ++i) {  // slow's reply comes meanwhile, and is dropped
                auto r = c.call<std::int64_t>("add", i, 0, patience);
                if (!r || *r != i) return 4;
            }
            return c.in_flight() == 0 ? 0 : 5;
        });
        CHECK(failed == 0);
    }
}

TEST_CASE("rpc: a plain MessagePack-RPC request without ipckit's hello is answered", "[process]") {
    using frame = ipckit::detail::rpc::frame;
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, ipckit_test::calculator);
        const int failed = in_child([&] {
            auto raw = ipckit::connect<frame>(srv.address(), patience);
            msgpack::sbuffer b;
            msgpack::packer<msgpack::sbuffer> pk(b);
            pk.pack_array(4);
            pk.pack(0);
            pk.pack(7u);
            pk.pack(std::string("add"));
            pk.pack(std::vector<int>{1, 2});
            if (!raw.send(std::as_bytes(std::span(b.data(), b.size())), patience)) return 2;
            auto reply = raw.receive(patience);
            if (!reply) return 3;
            auto h = msgpack::unpack(reinterpret_cast<const char*>(reply->data()), reply->size());
            const auto v = h.get().as<std::tuple<int, std::uint32_t, msgpack::type::nil_t, std::int64_t>>();
            return std::get<0>(v) == 1 && std::get<1>(v) == 7u && std::get<3>(v) == 3 ? 0 : 4;
        });
        CHECK(failed == 0);
    }
}
