// A MessagePack-RPC client in another language, over tcp and a Unix path: it sends plain
// MessagePack on the bare stream, with no ipckit handshake and no frames, and reads plain
// MessagePack back. The client here is written as such a client would be, with msgpack-cxx and
// a raw Boost.Asio socket and nothing of ipckit. The servers run in child processes, the
// clients in others (rpc_support.hpp says why).

#include "../catch.hpp"
#include "rpc_support.hpp"

#include <ipckit/rpc.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>

#include <msgpack.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <poll.h>

using namespace std::chrono_literals;
using ipckit_test::as_expected;
using ipckit_test::child_report;
using ipckit_test::contains;
using ipckit_test::in_child;
using ipckit_test::net_kind;
using ipckit_test::patience;
using ipckit_test::served;
namespace rpc = ipckit::rpc;

namespace {

/// The transports a foreign client reaches a server over.
constexpr net_kind plain_transports[] = {net_kind::tcp, net_kind::unix_path};

/// A MessagePack-RPC client as one in another language is: it connects a socket to the host and
/// port (or the Unix path) and writes and reads MessagePack arrays, nothing else.
class foreign_client {
public:
    /// `address` as the server prints it: tcp://HOST:PORT or unix:///PATH.
    explicit foreign_client(const std::string& address) : socket_(io_) {
        namespace asio = boost::asio;
        if (address.rfind("tcp://", 0) == 0) {
            const auto hostport = address.substr(6);
            const auto colon = hostport.rfind(':');
            asio::ip::tcp::resolver r(io_);
            const auto found = r.resolve(hostport.substr(0, colon), hostport.substr(colon + 1));
            socket_.connect(found.begin()->endpoint());
        } else {
            socket_.connect(asio::local::stream_protocol::endpoint(address.substr(7)));
        }
    }

    /// [0, msgid, method, [args...]]
    template <class... A>
    void request(std::uint32_t msgid, const std::string& method, const A&... args) {
        msgpack::sbuffer b;
        msgpack::pack(b, std::make_tuple(0, msgid, method, std::make_tuple(args...)));
        write(b.data(), b.size());
    }
    /// [2, method, [args...]]
    template <class... A>
    void notify(const std::string& method, const A&... args) {
        msgpack::sbuffer b;
        msgpack::pack(b, std::make_tuple(2, method, std::make_tuple(args...)));
        write(b.data(), b.size());
    }
    /// Bytes as they are; false if the stream would not take them all (the server closed it).
    bool write(const void* p, std::size_t n) {
        boost::system::error_code ec;
        boost::asio::write(socket_, boost::asio::buffer(p, n), ec);
        return !ec;
    }

    /// The next response, as [1, msgid, error, result]; none if the stream ended, or nothing
    /// came within patience, or what came is not a response.
    struct response {
        msgpack::object_handle h;
        std::uint32_t msgid = 0;
        msgpack::object error;
        msgpack::object result;
    };
    std::optional<response> next() {
        auto h = next_object();
        if (!h) return std::nullopt;
        const auto& o = h->get();
        if (o.type != msgpack::type::ARRAY || o.via.array.size != 4 || o.via.array.ptr[0].as<int>() != 1) {
            std::fprintf(stderr, "not a response\n");
            return std::nullopt;
        }
        response r;
        r.msgid = o.via.array.ptr[1].as<std::uint32_t>();
        r.error = o.via.array.ptr[2];
        r.result = o.via.array.ptr[3];
        r.h = std::move(*h);
        return r;
    }
    /// The raw bytes the server sends until it ends the stream; none if it did not end it
    /// within patience. (Not after next(): it reads past the unpacker.)
    std::optional<std::string> rest() {
        const auto deadline = std::chrono::steady_clock::now() + patience;
        std::string got;
        for (;;) {
            if (!readable_before(deadline)) return std::nullopt;
            char b[4096];
            boost::system::error_code ec;
            const auto n = socket_.read_some(boost::asio::buffer(b), ec);
            if (ec) return got;  // the end: eof, or a reset when our bytes were left unread
            got.append(b, n);
        }
    }

private:
    std::optional<msgpack::object_handle> next_object() {
        const auto deadline = std::chrono::steady_clock::now() + patience;
        for (;;) {
            msgpack::object_handle h;
            if (unpacker_.next(h)) return h;
            if (ended_) return std::nullopt;
            if (!readable_before(deadline)) return std::nullopt;
            unpacker_.reserve_buffer(64 * 1024);
            boost::system::error_code ec;
            const auto n = socket_.read_some(boost::asio::buffer(unpacker_.buffer(), unpacker_.buffer_capacity()), ec);
            if (ec) ended_ = true;
            else unpacker_.buffer_consumed(n);
        }
    }

    bool readable_before(std::chrono::steady_clock::time_point deadline) {
        for (;;) {
            pollfd p{socket_.native_handle(), POLLIN, 0};
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
            if (rc > 0) return true;
            if (rc == 0) break;
        }
        std::fprintf(stderr, "nothing from the server within patience\n");
        return false;
    }

    boost::asio::io_context io_;
    boost::asio::generic::stream_protocol::socket socket_;
    msgpack::unpacker unpacker_;
    bool ended_ = false;
};

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
