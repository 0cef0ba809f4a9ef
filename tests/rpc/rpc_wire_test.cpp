// The pieces of at-most-once and of the wire format, in one process: the reply cache admits a
// request once and refuses what it has evicted, across the msgid's wrap too; the parser takes
// MessagePack-RPC messages and refuses everything else, under limits no larger than the frame.

#include "../catch.hpp"

#include <ipckit/rpc.hpp>

#include <msgpack.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using ipckit::detail::rpc::kind;
using ipckit::detail::rpc::parse;
using ipckit::detail::rpc::reply_cache;

namespace {
std::vector<char> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

std::optional<ipckit::detail::rpc::message> parse_bytes(const std::vector<unsigned char>& b, std::string& why) {
    return parse(reinterpret_cast<const std::byte*>(b.data()), b.size(), why);
}
}  // namespace

TEST_CASE("rpc reply cache: a request runs once, and a retransmission gets the stored reply", "[unit]") {
    reply_cache c(4);
    std::vector<char> reply;
    CHECK(c.admit(1, reply) == reply_cache::seen::fresh);
    CHECK(c.admit(1, reply) == reply_cache::seen::running);  // still running: no second run
    c.complete(1, bytes_of("one"));
    CHECK(c.admit(1, reply) == reply_cache::seen::done);
    CHECK(reply == bytes_of("one"));
}

TEST_CASE("rpc reply cache: its replies' bytes, each with its entry's cost, are counted in the shared budget until "
          "evicted or gone",
          "[unit]") {
    constexpr std::size_t e = reply_cache::entry_cost;
    auto budget = std::make_shared<ipckit::detail::rpc::reply_budget>(1000 + 4 * e);
    std::vector<char> reply;
    {
        reply_cache a(2, budget);
        reply_cache b(2, budget);
        for (std::uint64_t s = 1; s <= 3; ++s) {
            REQUIRE(a.admit(s, reply) == reply_cache::seen::fresh);
            a.complete(s, std::vector<char>(100 * s));
        }
        REQUIRE(b.admit(1, reply) == reply_cache::seen::fresh);
        b.complete(1, std::vector<char>(50));
        CHECK(a.bytes() == 500 + 2 * e);  // 200 + 300: the 100 went with its reply, past the capacity of 2
        CHECK(budget->used() == 550 + 3 * e);
        a.drop_oldest();
        CHECK(a.admit(2, reply) == reply_cache::seen::expired);
        CHECK(budget->used() == 350 + 2 * e);
    }
    CHECK(budget->used() == 0);
}

TEST_CASE("rpc client table: over the byte budget, the clients holding most lose their oldest replies", "[unit]") {
    constexpr std::size_t e = reply_cache::entry_cost;
    // Replies of 2000 - e and 1000 - e bytes: each counts as 2000 or 1000 with its entry's cost.
    ipckit::detail::rpc::client_table table(8, 16, 10'000);  // trims down to 8750
    auto heavy = table.attach(1, nullptr);
    auto light = table.attach(2, nullptr);
    std::vector<char> reply;
    const auto store = [&reply](ipckit::detail::rpc::client_state& c, std::uint64_t seq, std::size_t size) {
        REQUIRE(c.replies.admit(seq, reply) == reply_cache::seen::fresh);
        c.replies.complete(seq, std::vector<char>(size - e));
    };
    for (std::uint64_t s = 1; s <= 4; ++s) store(*heavy, s, 2000);
    store(*light, 1, 1000);
    store(*light, 2, 1000);
    table.trim();
    CHECK(table.reply_bytes() == 10'000);  // at the budget, not over it: nothing goes
    store(*light, 3, 1000);
    table.trim();
    CHECK(table.reply_bytes() <= 8750);
    CHECK(light->replies.bytes() == 3000);  // the light client keeps its replies
    CHECK(heavy->replies.admit(1, reply) == reply_cache::seen::expired);  // the heavy one lost its oldest
    CHECK(heavy->replies.admit(4, reply) == reply_cache::seen::done);
}

TEST_CASE("rpc client table: handler threads storing and trimming at once stay within the byte budget", "[unit]") {
    ipckit::detail::rpc::client_table table(3, 64, 10'000);  // 4 clients: one is forgotten once let go
    std::vector<std::thread> handlers;
    for (std::uint64_t incarnation = 1; incarnation <= 4; ++incarnation)
        handlers.emplace_back([&table, incarnation] {
            auto client = table.attach(incarnation, nullptr);
            std::vector<char> reply;
            for (std::uint64_t seq = 1; seq <= 500; ++seq) {
                {
                    std::lock_guard lock(client->m);  // as the server: admit and complete under the client's mutex
                    (void)client->replies.admit(seq, reply);
                    client->replies.complete(seq, std::vector<char>(100 + 10 * incarnation));
                }
                table.trim();
            }
        });
    for (auto& t : handlers) t.join();
    table.trim();
    CHECK(table.reply_bytes() <= 10'000);
    (void)table.attach(5, nullptr);  // a newcomer, once the others are let go: the two used longest ago go
    CHECK(table.size() == 3);
}

TEST_CASE("rpc client table: a client forgotten past max_clients that comes back runs none of its requests again",
          "[unit]") {
    ipckit::detail::rpc::client_table table(1, 16, 1 << 20);
    std::vector<char> reply;
    {
        auto first = table.attach(1, nullptr);
        REQUIRE(first->replies.admit(5, reply) == reply_cache::seen::fresh);
        first->replies.complete(5, bytes_of("ran"));
    }
    (void)table.attach(2, nullptr);  // one client at most: the first, idle, is forgotten
    REQUIRE(table.size() == 1);
    auto back = table.attach(1, nullptr);  // and comes back: the second goes
    CHECK(back->replies.admit(back->replies.extend(5), reply) == reply_cache::seen::expired);  // ran: never again
    CHECK(back->replies.admit(back->replies.extend(4), reply) == reply_cache::seen::expired);
    CHECK(back->replies.admit(back->replies.extend(6), reply) == reply_cache::seen::fresh);   // a new call runs
}

TEST_CASE("rpc reply cache: bounded, and an evicted request is expired, never run again", "[unit]") {
    reply_cache c(2);
    std::vector<char> reply;
    for (std::uint32_t s = 1; s <= 5; ++s) {
        REQUIRE(c.admit(s, reply) == reply_cache::seen::fresh);
        c.complete(s, bytes_of(std::to_string(s)));
    }
    CHECK(c.size() == 2);
    CHECK(c.admit(1, reply) == reply_cache::seen::expired);
    CHECK(c.admit(3, reply) == reply_cache::seen::expired);
    CHECK(c.admit(5, reply) == reply_cache::seen::done);
    CHECK(reply == bytes_of("5"));
    CHECK(c.admit(6, reply) == reply_cache::seen::fresh);
}

TEST_CASE("rpc reply cache: a request still running is never evicted", "[unit]") {
    reply_cache c(1);
    std::vector<char> reply;
    REQUIRE(c.admit(1, reply) == reply_cache::seen::fresh);  // runs long
    for (std::uint32_t s = 2; s <= 4; ++s) {
        REQUIRE(c.admit(s, reply) == reply_cache::seen::fresh);
        c.complete(s, bytes_of("x"));
    }
    CHECK(c.admit(1, reply) == reply_cache::seen::running);
    c.complete(1, bytes_of("late"));
    CHECK(c.admit(1, reply) == reply_cache::seen::done);
}

TEST_CASE("rpc reply cache: msgids after the wrap at 2^32 are new calls, never expired", "[unit]") {
    constexpr std::uint64_t wrap = std::uint64_t{1} << 32;
    reply_cache c(2);
    std::vector<char> reply;
    for (std::uint64_t s = wrap - 4; s < wrap + 4; ++s) {  // the msgids a client sends: ..., 2^32-1, (0 is the hello's) 1, ...
        if (static_cast<std::uint32_t>(s) == 0) continue;
        const std::uint64_t seq = c.extend(static_cast<std::uint32_t>(s));
        CHECK(seq == s);
        REQUIRE(c.admit(seq, reply) == reply_cache::seen::fresh);
        c.complete(seq, bytes_of(std::to_string(s)));
    }
    CHECK(c.extend(0xFFFFFFFFu) == wrap - 1);  // a late retransmission from before the wrap
    CHECK(c.admit(c.extend(0xFFFFFFFFu), reply) == reply_cache::seen::expired);
    CHECK(c.admit(c.extend(3), reply) == reply_cache::seen::done);
    CHECK(reply == bytes_of(std::to_string(wrap + 3)));
}

TEST_CASE("rpc reply cache: a call still running 2^32 msgids later is not the new call of that msgid", "[unit]") {
    constexpr std::uint64_t wrap = std::uint64_t{1} << 32;
    reply_cache c(4);
    std::vector<char> reply;
    REQUIRE(c.admit(c.extend(5), reply) == reply_cache::seen::fresh);  // runs for ever
    for (const std::uint64_t s : {wrap / 4, wrap / 2, 3 * wrap / 4, wrap - 1}) {  // what came meanwhile, in steps under 2^31
        REQUIRE(c.extend(static_cast<std::uint32_t>(s)) == s);
        REQUIRE(c.admit(s, reply) == reply_cache::seen::fresh);
        c.complete(s, bytes_of("x"));
    }
    const std::uint64_t again = c.extend(5);  // the msgid of the first call, come round again
    CHECK(again == wrap + 5);
    CHECK(c.admit(again, reply) == reply_cache::seen::fresh);  // not `running`: it runs, and gets its own reply
    CHECK(c.complete(again, bytes_of("new")));
    CHECK_FALSE(c.complete(5, bytes_of("old")));  // finished 2^32 behind: not sent, the msgid is the new call's
    CHECK(c.admit(again, reply) == reply_cache::seen::done);
    CHECK(reply == bytes_of("new"));
}

TEST_CASE("rpc wire: the three MessagePack-RPC messages parse", "[unit]") {
    msgpack::sbuffer b;
    ipckit::detail::rpc::pack_request(b, 9, "add", 1, 2);
    std::string why;
    auto m = parse(reinterpret_cast<const std::byte*>(b.data()), b.size(), why);
    REQUIRE(m);
    CHECK(m->type == kind::request);
    CHECK(m->msgid == 9);
    CHECK(m->method == "add");
    CHECK(m->params.via.array.size == 2);

    b.clear();
    ipckit::detail::rpc::pack_notification(b, "log", std::string("x"));
    m = parse(reinterpret_cast<const std::byte*>(b.data()), b.size(), why);
    REQUIRE(m);
    CHECK(m->type == kind::notification);
    CHECK(m->method == "log");

    b.clear();
    ipckit::detail::rpc::pack_failure(b, 3, ipckit::rpc::errc::unknown_method, "no method 'x'");
    m = parse(reinterpret_cast<const std::byte*>(b.data()), b.size(), why);
    REQUIRE(m);
    CHECK(m->type == kind::response);
    const auto e = ipckit::detail::rpc::read_failure(m->error);
    CHECK(e.code == ipckit::rpc::errc::unknown_method);
    CHECK(e.message == "no method 'x'");
}

TEST_CASE("rpc wire: a request renumbered keeps its method and arguments, whatever width either msgid takes", "[unit]") {
    for (const std::uint32_t from : {5u, 200u, 60'000u, 4'000'000'000u}) {
        for (const std::uint32_t to : {7u, 250u, 65'000u, 4'000'000'001u}) {
            INFO(from << " to " << to);
            msgpack::sbuffer b;
            ipckit::detail::rpc::pack_request(b, from, "add", 1, 2);
            const auto again = ipckit::detail::rpc::with_msgid(std::vector<char>(b.data(), b.data() + b.size()), to);
            REQUIRE(again);
            std::string why;
            const auto m = parse(reinterpret_cast<const std::byte*>(again->data()), again->size(), why);
            REQUIRE(m);
            CHECK(m->type == kind::request);
            CHECK(m->msgid == to);
            CHECK(m->method == "add");
            CHECK(m->params.as<std::vector<int>>() == std::vector<int>{1, 2});
        }
    }
    CHECK_FALSE(ipckit::detail::rpc::with_msgid(bytes_of("\x94"), 1));  // not a request: nothing made up
    CHECK_FALSE(ipckit::detail::rpc::with_msgid(bytes_of(std::string("\x94\x00\xce\x01", 4)), 1));  // cut short
    CHECK_FALSE(ipckit::detail::rpc::with_msgid(bytes_of(std::string("\x93\x02\x01", 3)), 1));    // a notification
}

TEST_CASE("rpc wire: lengths past the frame are refused before anything is allocated for them", "[unit]") {
    std::string why;
    // a request whose params claim 2^32-1 elements, a map claiming 2^32-1 pairs
    for (const auto& b : std::vector<std::vector<unsigned char>>{
             {0x94, 0x00, 0x01, 0xa1, 'f', 0xdd, 0xff, 0xff, 0xff, 0xff},
             {0x94, 0x00, 0x01, 0xa1, 'f', 0xdf, 0xff, 0xff, 0xff, 0xff},
         }) {
        CHECK_FALSE(parse_bytes(b, why));
        CHECK(why == "its arrays and maps declare more elements than its 10 bytes could hold");
    }
    // a string claiming 4 GiB
    CHECK_FALSE(parse_bytes({0x94, 0x00, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff}, why));
    CHECK(why.find("malformed MessagePack") != std::string::npos);
    std::vector<unsigned char> deep(ipckit::detail::rpc::max_depth + 8, 0x91);
    deep.push_back(0xc0);
    CHECK_FALSE(parse_bytes(deep, why));
    CHECK(why == "it nests arrays and maps more than 32 deep");
}

TEST_CASE("rpc wire: nested headers that declare more than the frame holds between them are refused", "[unit]") {
    // Each header alone fits the frame's 64 KiB, as a frame's per-header limits allow; 16 of
    // them nested would have msgpack-cxx make room for 16 times that many elements.
    constexpr std::size_t frame = 64 * 1024;
    std::vector<unsigned char> b = {0x94, 0x00, 0x01, 0xa1, 'f'};
    for (int level = 0; level < 16; ++level) b.insert(b.end(), {0xdd, 0x00, 0x00, 0x7f, 0x00});  // an array of 32512
    b.resize(frame, 0x00);
    std::string why;
    CHECK_FALSE(parse_bytes(b, why));
    CHECK(why == "its arrays and maps declare more elements than its 65536 bytes could hold");

    // What a frame truly holds passes: params of 65000 one-byte integers.
    std::vector<unsigned char> full = {0x94, 0x00, 0x01, 0xa1, 'f', 0xdd, 0x00, 0x00, 0xfd, 0xe8};
    full.resize(full.size() + 65000, 0x01);
    const auto m = parse_bytes(full, why);
    REQUIRE(m);
    CHECK(m->params.via.array.size == 65000);
}

TEST_CASE("rpc wire: errors from a server in another language are remote, with their text", "[unit]") {
    msgpack::zone z;
    const msgpack::object plain(std::string("something broke"), z);
    const auto e = ipckit::detail::rpc::read_failure(plain);
    CHECK(e.code == ipckit::rpc::errc::remote);
    CHECK(e.message == "something broke");
    const msgpack::object number(42, z);
    CHECK(ipckit::detail::rpc::read_failure(number).code == ipckit::rpc::errc::remote);
}

TEST_CASE("rpc wire: a message is held at its length and an object for it and each element, however deep", "[unit]") {
    msgpack::sbuffer b;
    ipckit::detail::rpc::pack_request(b, 7, "m", std::vector<std::vector<bool>>(3, std::vector<bool>(100, false)),
                                      std::map<std::string, int>{{"a", 1}});
    std::string why;
    const auto m = parse(reinterpret_cast<const std::byte*>(b.data()), b.size(), why);
    REQUIRE(m);
    CHECK(m->bytes == b.size());
    // The request's 4, its params' 2, 3 lists of 100 and a pair of 2: 311 elements, and the root.
    CHECK(m->held == b.size() + 312 * sizeof(msgpack::object));
    CHECK(ipckit::detail::rpc::elements_of(m->handle.get()) == 311);
}
