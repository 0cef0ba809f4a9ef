// Bad input, across processes over shm, a Unix path and tcp: each gets an error that names what
// was wrong, and the server goes on serving.

#include "../catch.hpp"
#include "rpc_support.hpp"

#include <ipckit/rpc.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using ipckit_test::as_expected;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::failed_with;
using ipckit_test::in_child;
using ipckit_test::patience;
using ipckit_test::returned;
using ipckit_test::rpc_transports;
using ipckit_test::served;
using ipckit::errc;
namespace rpc = ipckit::rpc;

namespace {

/// The calculator, and `name`, which returns what `gauge` reads of the server (a count or a size).
template <class Gauge>
std::function<void(rpc::server&)> calculator_and(std::string name, Gauge gauge) {
    return [name, gauge](rpc::server& s) {
        ipckit_test::calculator(s);
        s.bind(name, [&s, gauge] { return std::uint64_t{gauge(s)}; });
    };
}

/// as_expected if the server still answers add.
std::string still_serving(rpc::client& c) { return returned(c.call<std::int64_t>("add", 40, 2, patience), 42, "add(40, 2) afterwards"); }

}  // namespace

TEST_CASE("rpc bad input: unknown methods, wrong arguments and throwing handlers are named errors", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, ipckit_test::calculator);
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  r.expect(failed_with(c.call<std::int64_t>("nope", 1, patience), rpc::errc::unknown_method, "'nope'", "nope(1)"));
                  r.expect(failed_with(c.call<std::int64_t>("add", 1, patience), rpc::errc::bad_arguments,
                                       "add takes 2 arguments, not 1: add(int64, int64) -> int64", "add(1)"));
                  r.expect(failed_with(c.call<std::int64_t>("add", std::string("one"), 2, patience), rpc::errc::bad_arguments,
                                       "argument 1 of add is a string", "add(one, 2)"));
                  r.expect(failed_with(c.call<std::int64_t>("add", 1.5, 2, patience), rpc::errc::bad_arguments,
                                       "add(int64, int64) -> int64", "add(1.5, 2)"));
                  r.expect(failed_with(c.call<std::int64_t>("fail", std::string("the disk is on fire"), patience),
                                       rpc::errc::remote, "the disk is on fire", "fail(the disk is on fire)"));
                  r.expect(failed_with(c.call<std::string>("add", 1, 2, patience), rpc::errc::bad_reply,
                                       "does not convert to string", "add(1, 2) as a string"));
                  r.expect(still_serving(c));
              }) == as_expected);
    }
}

TEST_CASE("rpc bad input: an oversize request or reply is too_large, and the server goes on", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, ipckit_test::calculator);
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  const std::string huge(ipckit::detail::rpc::max_frame, 'x');
                  r.expect(failed_with(c.call<std::string>("echo", huge, patience), rpc::errc::too_large, "was not sent",
                                       "echo(a frame of x)"));
                  r.expect(failed_with(c.call<std::string>("big", static_cast<std::uint32_t>(ipckit::detail::rpc::max_frame), patience),
                                       rpc::errc::too_large, "the reply of big", "big(a frame)"));
                  r.expect(still_serving(c));
              }) == as_expected);
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
        served srv(kind, calculator_and("corrupt_count", [](const rpc::server& s) { return s.corrupt_connections(); }));
        auto bad = malformed;
        bad.push_back(deep);
        std::uint64_t expected = 0;
        for (const auto& b : bad) {
            INFO("frame " << expected);
            CHECK(in_child([&](child_report& r) {
                      auto raw = ipckit::connect<frame>(srv.address(), patience);
                      r.expect(err(raw.send(std::as_bytes(std::span(b.data(), b.size())), patience)), errc::ok);
                      auto end = raw.receive(patience);  // the server drops the connection: no reply
                      r.check(!end, "no reply to a malformed frame");
                      r.check(end.error() == errc::closed || end.error() == errc::peer_dead,
                              "the connection to end closed or peer_dead, not " + ipckit_test::errc_text(end.error()));
                  }) == as_expected);
            ++expected;
        }
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  r.expect(returned(c.call<std::uint64_t>("corrupt_count", patience), expected, "corrupt_count()"));
                  r.expect(still_serving(c));
              }) == as_expected);
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
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  r.expect(failed_with(c.call<std::int64_t>("slow", 200ms), rpc::errc::timed_out, "slow", "slow()"));
                  r.expect(returned(c.call<void>("release", patience), "release()"));
                  for (std::int64_t i = 0; i < 20; ++i)  // slow's reply comes meanwhile, and is dropped
                      r.expect(returned(c.call<std::int64_t>("add", i, 0, patience), i, "add(" + std::to_string(i) + ", 0)"));
                  r.expect_value(c.in_flight(), 0);
              }) == as_expected);
    }
}

TEST_CASE("rpc: a plain MessagePack-RPC request without ipckit's hello is answered", "[process]") {
    using frame = ipckit::detail::rpc::frame;
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, ipckit_test::calculator);
        CHECK(in_child([&](child_report& r) {
                  auto raw = ipckit::connect<frame>(srv.address(), patience);
                  msgpack::sbuffer b;
                  msgpack::packer<msgpack::sbuffer> pk(b);
                  pk.pack_array(4);
                  pk.pack(0);
                  pk.pack(7u);
                  pk.pack(std::string("add"));
                  pk.pack(std::vector<int>{1, 2});
                  r.expect(err(raw.send(std::as_bytes(std::span(b.data(), b.size())), patience)), errc::ok);
                  auto reply = raw.receive(patience);
                  r.expect(err(reply), errc::ok);
                  auto h = msgpack::unpack(reinterpret_cast<const char*>(reply->data()), reply->size());
                  const auto v = h.get().as<std::tuple<int, std::uint32_t, msgpack::type::nil_t, std::int64_t>>();
                  r.check(std::get<0>(v) == 1 && std::get<1>(v) == 7u && std::get<3>(v) == 3, "the response [1, 7, nil, 3]");
              }) == as_expected);
    }
}

namespace {

/// Sends the request [0, msgid, method, [args...]] on a raw connection; whether it went.
template <class... A>
bool send_request(ipckit::connection<ipckit::detail::rpc::frame>& raw, std::uint32_t msgid, std::string_view method,
                  const A&... args) {
    msgpack::sbuffer b;
    ipckit::detail::rpc::pack_request(b, msgid, method, args...);
    return raw.send(std::as_bytes(std::span(b.data(), b.size())), patience).has_value();
}

}  // namespace

TEST_CASE("rpc bad input: a client that never reads its replies is dropped, and others are answered meanwhile",
          "[process]") {
    using frame = ipckit::detail::rpc::frame;
    rpc::server_options o;
    o.threads = 1;
    o.send_timeout = 1s;  // were the hog not dropped, each of its 200 replies would wait this long: 200 s
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(
            kind,
            [](rpc::server& s) {
                ipckit_test::calculator(s);
                s.bind("faults", [&s] { return s.faults(); });
            },
            o);
        CHECK(in_child([&](child_report& r) {
                  auto hog = ipckit::connect<frame>(srv.address(), patience);
                  // 200 replies of 200 kB, 40 MB: more than any transport holds for a peer that never reads.
                  // The server may drop the hog before it has sent them all.
                  for (std::uint32_t id = 1; id <= 200 && send_request(hog, id, "big", std::uint32_t{200'000}); ++id) {
                  }
                  rpc::client c(srv.address());
                  r.expect(still_serving(c));
                  // The server says it dropped the hog (a reply waited send_timeout for it), and
                  // only then does the hog read: read before, its replies would go through.
                  r.check(ipckit_test::eventually([&] {
                      const auto f = c.call<std::vector<std::string>>("faults", patience);
                      return f && std::any_of(f->begin(), f->end(), [](const std::string& s) {
                                 return s.find("did not read its replies") != std::string::npos;
                             });
                  }),
                          "the server to say it dropped the hog");
                  // The hog's connection ends once what was sent before the close is read.
                  std::optional<errc> end;
                  for (int i = 0; i <= 200 && !end; ++i)
                      if (auto m = hog.receive(patience); !m) end = m.error();
                  r.check(end && (*end == errc::closed || *end == errc::peer_dead),
                          "the hog's connection to end closed or peer_dead, not " +
                              (end ? ipckit_test::errc_text(*end) : std::string("go on")));
              }) == as_expected);
    }
}

TEST_CASE("rpc bad input: a connection that names one client after another keeps at most max_clients of them",
          "[process]") {
    using frame = ipckit::detail::rpc::frame;
    rpc::server_options o;
    o.max_clients = 4;
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, calculator_and("clients", [](const rpc::server& s) { return s.clients(); }), o);
        CHECK(in_child([&](child_report& r) {
                  auto raw = ipckit::connect<frame>(srv.address(), patience);
                  for (std::uint64_t incarnation = 1000; incarnation < 1020; ++incarnation) {
                      r.check(send_request(raw, ipckit::detail::rpc::hello_msgid, ipckit::detail::rpc::hello_method,
                                           incarnation),
                              "hello " + std::to_string(incarnation) + " sent");
                      r.expect(err(raw.receive(patience)), errc::ok);  // its answer: the server has taken it in
                  }
                  rpc::client c(srv.address());  // a client of its own: one more
                  const auto n = c.call<std::uint64_t>("clients", patience);
                  r.expect(returned(n, "clients()"));
                  r.check(!n || *n <= 4, "at most max_clients (4) clients remembered, not " + (n ? std::to_string(*n) : ""));
                  r.expect(still_serving(c));
              }) == as_expected);
    }
}

TEST_CASE("rpc bad input: clients whose replies are large keep at most reply_cache_bytes of them at the server",
          "[process]") {
    rpc::server_options o;
    o.reply_cache_bytes = 1'000'000;  // below 3 clients x 6 replies x 150 kB = 2.7 MB
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, calculator_and("cached", [](const rpc::server& s) { return s.cached_reply_bytes(); }), o);
        CHECK(in_child([&](child_report& r) {
                  std::vector<std::unique_ptr<rpc::client>> clients;
                  for (int i = 0; i < 3; ++i) clients.push_back(std::make_unique<rpc::client>(srv.address()));
                  std::uint64_t last = 0;  // what cached() said last
                  for (int round = 0; round < 6; ++round) {
                      for (auto& c : clients) {
                          const auto reply = c->call<std::string>("big", std::uint32_t{150'000}, patience);
                          r.check(reply && reply->size() == 150'000, "big(150000) whole, round " + std::to_string(round));
                          const auto cached = c->call<std::uint64_t>("cached", patience);
                          r.expect(returned(cached, "cached()"));
                          if (cached) last = *cached;
                          r.check(cached && *cached <= 1'000'000,
                                  "at most reply_cache_bytes (1000000) of replies kept, not " +
                                      (cached ? std::to_string(*cached) : std::string()));
                      }
                  }
                  r.check(last >= 150'000, "the newest large replies still kept, not " + std::to_string(last) + " bytes");
                  r.expect(still_serving(*clients.front()));
              }) == as_expected);
    }
}

TEST_CASE("rpc bad input: many connections sending faster than the server serves hold at most max_queued_bytes, and "
          "lose nothing",
          "[process]") {
    using frame = ipckit::detail::rpc::frame;
    rpc::server_options o;
    o.threads = 1;
    o.max_queued_bytes = 1'000'000;  // 9 requests of 100 kB; 4 connections send 40
    ipckit_test::shared_memory flag(sizeof(std::atomic<bool>));
    auto& sent_all = *new (flag.data()) std::atomic<bool>(false);
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        sent_all = false;
        served srv(
            kind,
            [&sent_all](rpc::server& s) {
                // Runs until the server holds 8 of them (or all were sent): how many bytes it held then.
                s.bind("hold", [&s, &sent_all](const std::string&) {
                    const auto until = std::chrono::steady_clock::now() + patience;
                    while (s.queued_request_bytes() < 800'000 && !sent_all && std::chrono::steady_clock::now() < until)
                        std::this_thread::sleep_for(1ms);
                    return std::uint64_t{s.queued_request_bytes()};
                });
            },
            o);
        CHECK(in_child([&](child_report& r) {
                  std::vector<ipckit::connection<frame>> raw;
                  for (int i = 0; i < 4; ++i) raw.push_back(ipckit::connect<frame>(srv.address(), patience));
                  const std::string blob(100'000, 'x');
                  for (std::uint32_t id = 1; id <= 10; ++id)
                      for (auto& c : raw) r.check(send_request(c, id, "hold", blob), "request " + std::to_string(id) + " sent");
                  sent_all = true;
                  for (auto& c : raw)
                      for (std::uint32_t id = 1; id <= 10; ++id) {
                          auto m = c.receive(patience);
                          r.expect(err(m), errc::ok);
                          if (!m) break;
                          std::string why;
                          const auto reply = ipckit::detail::rpc::parse(m->data(), m->size(), why);
                          r.check(reply && reply->msgid == id && reply->error.is_nil(), "reply " + std::to_string(id) + " ok");
                          const auto held = reply ? reply->result.as<std::uint64_t>() : 0;
                          r.check(held <= 1'000'000, "at most max_queued_bytes (1000000) of requests held, not " +
                                                         std::to_string(held));
                      }
              }) == as_expected);
    }
}

TEST_CASE("rpc bad input: a request is charged to max_queued_bytes at what it holds unpacked, 24 bytes an element, "
          "not its length on the wire",
          "[process]") {
    constexpr std::size_t n = 20'000;  // bools: a byte each on the wire, a msgpack::object each unpacked
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, [](rpc::server& s) {
            ipckit_test::calculator(s);
            s.bind("held", [&s](const std::vector<bool>&) { return std::uint64_t{s.queued_request_bytes()}; });
        });
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  const auto held = c.call<std::uint64_t>("held", std::vector<bool>(n, false), patience);
                  r.expect(returned(held, "held(20000 bools)"));
                  // The one request queued: about 20 kB on the wire, more than 480 kB held.
                  const auto got = held ? *held : 0;
                  r.check(got >= n * (1 + sizeof(msgpack::object)) && got < n * (1 + sizeof(msgpack::object)) + 1000,
                          "the request charged at its bytes and an object per element (" +
                              std::to_string(n * (1 + sizeof(msgpack::object))) + " and a little), not " +
                              std::to_string(got));
                  r.expect(still_serving(c));
              }) == as_expected);
    }
}

TEST_CASE("rpc bad input: an unbound method with a name of nearly a frame is unknown_method, named short", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, ipckit_test::calculator);
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  // The request fits a frame (14 bytes beside the name at most); a sentence quoting the name whole would not.
                  const std::string name(ipckit::detail::rpc::max_frame - 16, 'm');
                  const auto got = c.call<std::int64_t>(name, 1, patience);
                  r.expect(failed_with(got, rpc::errc::unknown_method,
                                       "'" + std::string(64, 'm') + "... (" + std::to_string(name.size()) + " bytes)'",
                                       "a method of a long name"));
                  r.check(!got && got.error().message.size() < 200,
                          "a short sentence, not one of " + std::to_string(got ? 0 : got.error().message.size()) + " bytes");
                  r.expect(still_serving(c));
              }) == as_expected);
    }
}
