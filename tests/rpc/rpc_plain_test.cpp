// A MessagePack-RPC client in another language, over tcp and a Unix path: it sends plain
// MessagePack on the bare stream, with no ipckit handshake and no frames, and reads plain
// MessagePack back. The client here is written as such a client would be, with msgpack-cxx and
// a raw Boost.Asio socket and nothing of ipckit. The servers run in child processes, the
// clients in others (rpc_support.hpp says why).

#include "../catch.hpp"
#include "../netns_support.hpp"
#include "foreign_client.hpp"
#include "rpc_support.hpp"

#include <ipckit/rpc.hpp>


#include <msgpack.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using ipckit_test::as_expected;
using ipckit_test::child_report;
using ipckit_test::contains;
using ipckit_test::foreign_client;
using ipckit_test::in_child;
using ipckit_test::net_kind;
using ipckit_test::patience;
using ipckit_test::served;
namespace rpc = ipckit::rpc;

namespace {

/// The transports a foreign client reaches a server over.
constexpr net_kind plain_transports[] = {net_kind::tcp, net_kind::unix_path};

/// as_expected if `r` is the success of request `msgid` carrying `want`; else what it was.
template <class T>
std::string expect_result(const std::optional<foreign_client::response>& r, std::uint32_t msgid, const T& want) {
    const std::string which = "the response to request " + std::to_string(msgid);
    if (!r) return which + " did not come (the stream ended, or nothing came within patience)";
    if (r->msgid != msgid) return "a response to request " + std::to_string(r->msgid) + " came where " + which + " was expected";
    if (!r->error.is_nil()) return which + " was an error where a result was expected";
    T got{};
    try {
        r->result.convert(got);
    } catch (...) {
        return which + " carried a result of another type than the one expected";
    }
    return got == want ? ipckit_test::as_expected : which + " carried another value than the one expected";
}

/// as_expected if `r` is request `msgid`'s error (a string containing `needle`) with a nil
/// result; else what it was.
std::string expect_error(const std::optional<foreign_client::response>& r, std::uint32_t msgid, std::string_view needle) {
    const std::string which = "the response to request " + std::to_string(msgid);
    if (!r) return which + " did not come (the stream ended, or nothing came within patience)";
    if (r->msgid != msgid) return "a response to request " + std::to_string(r->msgid) + " came where " + which + " was expected";
    if (r->error.type != msgpack::type::STR || !r->result.is_nil())
        return which + " was not an error string with a nil result";
    const std::string e = r->error.as<std::string>();
    if (contains(e, needle)) return ipckit_test::as_expected;
    return which + " said '" + e + "' where it expected '" + std::string(needle) + "'";
}

/// The calculator, a counter, notes taken by notification, and how many connections were
/// dropped as corrupt.
void services(rpc::server& s) {
    ipckit_test::calculator(s);
    auto count = std::make_shared<std::atomic<std::int64_t>>(0);
    s.bind("bump", [count] { return ++*count; });
    auto notes = std::make_shared<std::vector<std::string>>();  // one handler thread: see below
    s.bind("note", [notes](std::string n) { notes->push_back(std::move(n)); });
    s.bind("notes", [notes] { return *notes; });
    s.bind("corrupt_count", [&s] { return s.corrupt_connections(); });
}

/// held(i) returns i once open() has been called.
void gated(rpc::server& s) {
    auto opened = std::make_shared<std::promise<void>>();
    auto gate = opened->get_future().share();
    s.bind("held", [gate](std::int64_t i) {
        gate.wait();
        return i;
    });
    s.bind("open", [opened] { opened->set_value(); });
}

/// One handler thread: requests run in the order they came, so a call after a notification
/// sees what the notification did.
rpc::server_options in_order() {
    rpc::server_options o;
    o.threads = 1;
    return o;
}

}  // namespace

TEST_CASE("rpc plain clients: a MessagePack-RPC client without ipckit calls typed methods, gets errors, notifies",
          "[process]") {
    for (const auto kind : plain_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, services, in_order());
        CHECK(in_child([&](child_report& r) {
            foreign_client c(srv.address());
            c.request(1, "add", 2, 40);
            r.expect(expect_result(c.next(), 1, std::int64_t{42}));
            c.request(2, "scale", ipckit_test::point{1, 2, "p"}, 2.0);
            auto scaled = c.next();
            r.check(scaled && scaled->msgid == 2 && scaled->error.is_nil(), "a result for request 2 (scale)");
            const auto p = scaled->result.as<ipckit_test::point>();
            r.check(p.x == 2 && p.y == 4 && p.label == "p*", "the point scaled: {2, 4, \"p*\"}");
            c.request(3, "fail", std::string("the disk is on fire"));
            r.expect(expect_error(c.next(), 3, "remote: the disk is on fire"));
            c.request(4, "nope", 1);
            r.expect(expect_error(c.next(), 4, "unknown_method: no method 'nope'"));
            c.request(5, "add", std::string("one"), 2);
            r.expect(expect_error(c.next(), 5, "add(int64, int64) -> int64"));
            c.notify("note", std::string("first"));
            c.notify("note", std::string("second"));
            c.request(6, "notes");
            r.expect(expect_result(c.next(), 6, std::vector<std::string>{"first", "second"}));
        }) == as_expected);
    }
}

TEST_CASE("rpc plain clients: pipelined requests are each answered once, matched by msgid", "[process]") {
    for (const auto kind : plain_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, services);  // several handler threads: replies may come in any order
        CHECK(in_child([&](child_report& r) {
            foreign_client c(srv.address());
            constexpr std::uint32_t n = 64;
            msgpack::sbuffer all;  // every request in one write, as a pipelining client sends them
            for (std::uint32_t i = 0; i < n; ++i)
                msgpack::pack(all, std::make_tuple(0, 100 + i, std::string("add"), std::make_tuple(i, 1000 * i)));
            r.check(c.write(all.data(), all.size()), "the server to take every request");
            std::set<std::uint32_t> answered;
            for (std::uint32_t k = 0; k < n; ++k) {
                auto got = c.next();
                r.check(got && got->msgid >= 100 && got->msgid < 100 + n && answered.insert(got->msgid).second,
                        "a response to a request not answered before");
                const std::int64_t i = got->msgid - 100;
                r.expect(expect_result(got, got->msgid, 1001 * i));
            }
        }) == as_expected);
    }
}

TEST_CASE("rpc plain clients: a client that ends its sending half after its requests gets every reply", "[process]") {
    for (const auto kind : plain_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, gated);
        CHECK(in_child([&](child_report& r) {
            foreign_client c(srv.address());
            constexpr std::uint32_t n = 3;  // fewer than the handler threads: open still runs
            for (std::uint32_t i = 1; i <= n; ++i) c.request(i, "held", std::int64_t{i});
            c.end_sending();
            // the server most likely reads the end while the requests are held; either way it answers
            r.expect(ipckit_test::returned(rpc::client(srv.address()).call<void>("open", patience), "open()"));
            std::set<std::uint32_t> answered;
            for (std::uint32_t k = 0; k < n; ++k) {
                auto got = c.next();
                r.check(got && got->msgid >= 1 && got->msgid <= n && answered.insert(got->msgid).second,
                        "a response to a held request not answered before");
                r.expect(expect_result(got, got->msgid, std::int64_t{got->msgid}));
            }
        }) == as_expected);
    }
}

TEST_CASE("rpc plain clients: without ipckit.hello each request runs, with it a repeated msgid runs once", "[process]") {
    for (const auto kind : plain_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, services, in_order());
        CHECK(in_child([&](child_report& r) {
            {
                foreign_client anonymous(srv.address());
                anonymous.request(7, "bump");
                anonymous.request(7, "bump");
                r.expect(expect_result(anonymous.next(), 7, std::int64_t{1}));
                r.expect(expect_result(anonymous.next(), 7, std::int64_t{2}));
            }
            foreign_client c(srv.address());
            c.request(0, "ipckit.hello", std::uint64_t{0x5eed});
            auto hello = c.next();
            r.check(hello && hello->msgid == 0 && hello->error.is_nil() && hello->result.type == msgpack::type::MAP,
                    "the hello's reply, a map");
            c.request(7, "bump");
            r.expect(expect_result(c.next(), 7, std::int64_t{3}));
            c.request(7, "bump");  // the same request again, once answered: from the reply cache
            r.expect(expect_result(c.next(), 7, std::int64_t{3}));
            c.request(8, "bump");
            r.expect(expect_result(c.next(), 8, std::int64_t{4}));
        }) == as_expected);
    }
}

TEST_CASE("rpc plain clients: a request sent before the client's ipckit.hello is answered too", "[process]") {
    for (const auto kind : plain_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, gated);
        CHECK(in_child([&](child_report& r) {
            foreign_client c(srv.address());
            c.request(7, "held", std::int64_t{7});
            c.request(0, "ipckit.hello", std::uint64_t{0x5eed});
            auto hello = c.next();  // held(7) waits for open()
            r.check(hello && hello->msgid == 0 && hello->error.is_nil(), "the hello's reply");
            r.expect(ipckit_test::returned(rpc::client(srv.address()).call<void>("open", patience), "open()"));
            r.expect(expect_result(c.next(), 7, std::int64_t{7}));
        }) == as_expected);
    }
}

TEST_CASE("rpc plain clients: a client is not forgotten while an old connection of its own still has a request "
          "unread, so that request runs once when the client sends it again on a new connection",
          "[process]") {
    rpc::server_options o;
    o.threads = 2;                    // held() on one, the rest on the other
    o.max_clients = 1;                // every other client's hello forgets the idle ones
    o.max_queued_per_connection = 1;  // the first connection reads nothing more while held() runs
    served srv(
        net_kind::unix_path,
        [](rpc::server& s) {
            gated(s);
            auto count = std::make_shared<std::atomic<std::int64_t>>(0);
            s.bind("bump", [count] { return ++*count; });
        },
        o);
    constexpr std::uint64_t me = 0x5eed;
    const auto hello = [](foreign_client& c, std::uint64_t incarnation) {
        c.request(0, "ipckit.hello", incarnation);
        const auto r = c.next();
        return r && r->msgid == 0 && r->error.is_nil();
    };
    CHECK(in_child([&](child_report& r) {
        foreign_client first(srv.address());
        r.check(hello(first, me), "the first connection's hello");
        first.request(1, "bump");
        r.expect(expect_result(first.next(), 1, std::int64_t{1}));
        first.request(2, "held", std::int64_t{2});
        first.request(3, "bump");  // unread while held(2) runs
        {
            foreign_client second(srv.address());  // the client's latest connection, which then goes
            r.check(hello(second, me), "the second connection's hello");
        }
        // Other clients come and go; each of their hellos would forget this one if it were idle
        // (a request it made before is then expired).
        std::optional<foreign_client> now;
        for (std::uint64_t round = 0; round < 50; ++round) {
            {
                foreign_client other(srv.address());
                r.check(hello(other, 0x1000 + round), "another client's hello");
            }
            now.emplace(srv.address());
            r.check(hello(*now, me), "a new connection's hello");
            now->request(1, "bump");
            r.expect(expect_result(now->next(), 1, std::int64_t{1}));  // from the cache: not forgotten
        }
        now->request(3, "bump");  // request 3 again, as a client that had no reply does
        r.expect(expect_result(now->next(), 3, std::int64_t{2}));
        r.expect(ipckit_test::returned(rpc::client(srv.address()).call<void>("open", patience), "open()"));
        // The first connection reads request 3 now: answered there from the cache, not run
        // again. (held(2)'s reply went to the client's latest connection.)
        r.expect(expect_result(first.next(), 3, std::int64_t{2}));
        r.expect(ipckit_test::returned(rpc::client(srv.address()).call<std::int64_t>("bump", patience), std::int64_t{3}, "bump()"));
    }) == as_expected);
}

TEST_CASE("rpc plain clients: a request is held at its length on the wire and an object an element, however the "
          "stream cut it",
          "[process]") {
    for (const auto kind : plain_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(
            kind,
            [](rpc::server& s) {
                services(s);
                s.bind("held", [&s](const std::string&) { return std::uint64_t{s.queued_request_bytes()}; });
            },
            in_order());
        CHECK(in_child([&](child_report& r) {
            foreign_client c(srv.address());
            msgpack::sbuffer one;
            msgpack::pack(one, std::make_tuple(0, 1, std::string("held"), std::make_tuple(std::string(3000, 'p'))));
            r.check(c.write(one.data(), 1000) && c.write(one.data() + 1000, one.size() - 1000), "a request in two writes");
            // The one request held: itself, and an object for it, its 4 elements and its 1 param.
            constexpr std::uint64_t objects = 6 * sizeof(msgpack::object);
            r.expect(expect_result(c.next(), 1, std::uint64_t{one.size()} + objects));
            c.request(2, "held", std::string("q"));
            msgpack::sbuffer two;
            msgpack::pack(two, std::make_tuple(0, 2, std::string("held"), std::make_tuple(std::string("q"))));
            r.expect(expect_result(c.next(), 2, std::uint64_t{two.size()} + objects));
        }) == as_expected);
    }
}

TEST_CASE("rpc plain clients: garbage or an oversize message drops that stream, an ipckit client goes on", "[process]") {
    std::vector<std::vector<unsigned char>> bad = {
        {0xc1},                                             // a byte MessagePack never uses
        {0xdd, 0xff, 0xff, 0xff, 0xff},                     // an array header claiming 4G elements
        {0x94, 0x00, 0x01, 0xa1, 'f', 0xdd, 0xff, 0xff, 0xff, 0xff},  // params claiming 4G elements
        {0x94, 0x00, 0x01, 0xa3, 's', 'u', 'm', 0x91, 0xdc, 0x20, 0x01},  // a list of 8193, past a plain client's 8192
        {0x92, 0x00, 0x01},                                 // an array of 2: no such message
        {0x81, 0xa1, 'a', 0x01},                            // a map, not an array
        {0x94, 0x01, 0x01, 0xc0, 0xc0},                     // a response sent to the server
    };
    // A string header claiming 1 GiB, then more than a request may hold: dropped at the limit,
    // without waiting for (or making room for) the gigabyte.
    std::vector<unsigned char> oversize = {0x94, 0x00, 0x01, 0xdb, 0x40, 0x00, 0x00, 0x00};
    oversize.resize(oversize.size() + ipckit::detail::rpc::max_frame + 4096, 'x');
    bad.push_back(oversize);
    std::vector<unsigned char> deep(100, 0x91);  // arrays nested 100 deep
    deep.push_back(0xc0);
    bad.push_back(deep);
    for (const auto kind : plain_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, services);
        CHECK(in_child([&](child_report& r) {
            rpc::client ipckit_client(srv.address());  // connected throughout
            std::uint64_t dropped = 0;
            for (const auto& b : bad) {
                foreign_client c(srv.address());
                (void)c.write(b.data(), b.size());  // the server may close before it took them all
                r.check(c.rest() == "", "the stream dropped, without a reply");
                ++dropped;
                auto sum = ipckit_client.call<std::int64_t>("add", 40, 2, patience);
                r.expect(ipckit_test::returned(sum, 42, "add(40, 2)"));
            }
            foreign_client after(srv.address());
            after.request(1, "sum", std::vector<double>(8192, 0.5));  // the longest list it may send
            r.expect(expect_result(after.next(), 1, 4096.0));
            auto n = ipckit_client.call<std::uint64_t>("corrupt_count", patience);
            r.expect(ipckit_test::returned(n, dropped, "corrupt_count()"));
        }) == as_expected);
    }
}

TEST_CASE("rpc plain clients: a server with plain_clients off refuses them", "[process]") {
    rpc::server_options off;
    off.plain_clients = false;
    served srv(net_kind::tcp, services, off);
    CHECK(in_child([&](child_report& r) {
        foreign_client c(srv.address());
        c.request(1, "add", 1, 2);
        const auto got = c.rest();  // ipckit's handshake, then the end: no reply
        r.check(got && got.value().rfind("ipcknet", 0) == 0, "ipckit's handshake, then the end of the stream");
        rpc::client ipckit_client(srv.address());
        auto sum = ipckit_client.call<std::int64_t>("add", 1, 2, patience);
        r.expect(ipckit_test::returned(sum, 3, "add(1, 2)"));
    }) == as_expected);
}

TEST_CASE("rpc plain clients: a client that left frees its place under max_connections for the next one at once",
          "[process]") {
    // A place at the cap is the connection's, not its session's: it is free when the server
    // says the client left (on_disconnect), not some time later. With one place for a watcher
    // and one for the clients that come and go, each of those clients is served.
    rpc::server_options o;
    o.net.max_connections = 2;
    const auto counting = [](rpc::server& s) {
        ipckit_test::calculator(s);
        auto left = std::make_shared<std::atomic<std::uint64_t>>(0);
        s.on_disconnect([left](std::uint64_t) { ++*left; });
        s.bind("left", [left] { return left->load(); });
    };
    for (const auto kind : plain_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, counting, o);
        CHECK(in_child([&](child_report& r) {
            foreign_client watcher(srv.address());
            std::uint32_t msgid = 0;
            for (std::uint64_t i = 1; i <= 10; ++i) {
                {
                    foreign_client c(srv.address());
                    c.request(1, "add", 1, 2);
                    r.expect(expect_result(c.next(), 1, std::int64_t{3}));
                }
                r.check(ipckit_test::eventually([&] {
                    watcher.request(++msgid, "left");
                    const auto got = watcher.next();
                    return got && got->msgid == msgid && got->error.is_nil() && got->result.as<std::uint64_t>() >= i;
                }),
                        "the server to say client " + std::to_string(i) + " left");
            }
        }) == as_expected);
    }
}

TEST_CASE("rpc plain clients: a tcp client whose link is cut is dropped, with its thread, within about twice the "
          "liveness interval",
          "[process]") {
    // A plain client sends no heartbeats and, its link cut, never sends its end either: without
    // the kernel's probes of the idle stream its session (and reader thread) would stay for ever.
    if (const auto why = ipckit_test::cannot_run(); !why.empty()) {
        WARN("skipped: " << why);
        return;
    }
    ipckit_test::two_namespaces ns;
    if (!ns.ok()) {
        WARN("skipped: the system refused to make the namespaces or the veth pair (see ip's messages above)");
        return;
    }
    ipckit_test::signal_pipe port, talked, hold;
    child_report server_report, client_report;
    ipckit_test::child server = server_report.spawn([&](child_report& r) {
        r.expect_value(ipckit_test::enter(ns.a), true);
        rpc::server_options o;
        o.net.liveness_interval = 1s;  // probes after 1 s of silence, dropped after 3 unanswered: about 4 s
        rpc::server srv("tcp://10.213.7.1:0", o);
        ipckit_test::calculator(srv);
        std::promise<void> dropped;
        std::once_flag once;
        srv.on_disconnect([&](std::uint64_t) { std::call_once(once, [&] { dropped.set_value(); }); });
        srv.start();
        port.post_value(ipckit::parse_address(srv.address()).port);
        r.check(dropped.get_future().wait_for(30s) == std::future_status::ready,
                "the server dropped the cut client within 30 s (its probes take about 4 s)");
    });
    ipckit_test::child client = client_report.spawn([&](child_report& r) {
        r.expect_value(ipckit_test::enter(ns.b), true);
        const auto p = port.wait_value();
        r.expect_value(p.has_value(), true);
        foreign_client c("tcp://10.213.7.1:" + std::to_string(*p));
        c.request(1, "add", 2, 3);
        r.expect(expect_result<std::int64_t>(c.next(), 1, 5));
        talked.post();
        r.block_until_killed(hold);
    });
    port.close_write();
    talked.close_write();
    const bool did_talk = talked.wait();
    if (did_talk) CHECK(ns.cut());
    CHECK(server_report.finish(server) == as_expected);
    CHECK(client_report.ended(client.kill(), ipckit_test::killed_by_sigkill) == as_expected);
    CHECK(did_talk);
}

TEST_CASE("rpc plain clients: requests of many small elements are held back at max_queued_bytes counted unpacked, "
          "24 bytes an element",
          "[process]") {
    // Each request: 3 lists of 6000 bools (a plain client's list holds at most 8192), about 18 kB
    // on the wire and 450 kB unpacked. Two do not fit in 600 kB: the second is not read while the
    // first is held, though their wire bytes would fit 30 times.
    constexpr std::size_t n = 18'000;
    constexpr std::uint64_t held_one = n * (1 + sizeof(msgpack::object));
    const std::vector<std::vector<bool>> bools(3, std::vector<bool>(n / 3, false));
    const auto total = [](const std::vector<std::vector<bool>>& b) {
        std::uint64_t t = 0;
        for (const auto& v : b) t += v.size();
        return t;
    };
    rpc::server_options o;
    o.threads = 4;
    o.max_queued_bytes = 600'000;
    for (const auto kind : plain_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(
            kind,
            [total](rpc::server& s) {
                auto opened = std::make_shared<std::promise<void>>();
                auto gate = opened->get_future().share();
                s.bind("hold", [gate, total](const std::vector<std::vector<bool>>& b) {
                    (void)gate.wait_for(patience);
                    return total(b);
                });
                s.bind("count", total);
                s.bind("open", [opened] { opened->set_value(); });
                s.bind("queued", [&s] { return std::uint64_t{s.queued_request_bytes()}; });
            },
            o);
        CHECK(in_child([&](child_report& r) {
            foreign_client heavy(srv.address());
            foreign_client side(srv.address());
            heavy.request(1, "hold", bools);
            heavy.request(2, "count", bools);
            // Until the first is queued (the queued() call itself holds a hundred bytes or so).
            std::uint64_t queued = 0;
            const auto until = std::chrono::steady_clock::now() + patience;
            for (std::uint32_t id = 1; queued < 10'000 && std::chrono::steady_clock::now() < until; ++id) {
                side.request(id, "queued");
                const auto got = side.next();
                if (!got) break;
                queued = got->result.as<std::uint64_t>();
            }
            r.check(queued >= held_one && queued < held_one + 1000,
                    "the held request alone queued, charged " + std::to_string(held_one) + " and a little, not " +
                        std::to_string(queued));
            side.request(1000, "open");
            r.check(side.next().has_value(), "open() answered");
            // The first one's reply comes first: the second was read only once the first was done.
            r.expect(expect_result(heavy.next(), 1, std::uint64_t{n}));
            r.expect(expect_result(heavy.next(), 2, std::uint64_t{n}));
        }) == as_expected);
    }
}

TEST_CASE("rpc plain clients: a client that sends a part of a message and falls silent is dropped after "
          "liveness_interval, an idle one stays",
          "[process]") {
    rpc::server_options o;
    o.net.liveness_interval = 300ms;
    for (const auto kind : plain_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, services, o);
        CHECK(in_child([&](child_report& r) {
            foreign_client idle(srv.address());
            idle.request(1, "add", 1, 2);
            r.expect(expect_result(idle.next(), 1, std::int64_t{3}));  // then silent, between messages
            msgpack::sbuffer one;
            msgpack::pack(one, std::make_tuple(0, 1, std::string("add"), std::make_tuple(40, 2)));
            foreign_client partial(srv.address());
            r.check(partial.write(one.data(), one.size() - 1), "all of a request but its last byte");
            foreign_client first_byte(srv.address());
            r.check(first_byte.write(one.data(), 1), "a request's first byte");
            foreign_client other(srv.address());
            other.request(1, "add", 40, 2);
            r.expect(expect_result(other.next(), 1, std::int64_t{42}));
            r.check(partial.rest() == "", "the stream of a request never finished dropped, without a reply");
            r.check(first_byte.rest() == "", "the stream of a message's first byte dropped, without a reply");
            idle.request(2, "corrupt_count");
            r.expect(expect_result(idle.next(), 2, std::uint64_t{2}));  // the idle client is still served
        }) == as_expected);
    }
}
