// Addresses of the socket transports: every form parses, every malformed one is invalid_argument
// with a message that says what is wrong.

#include "catch.hpp"
#include "support.hpp"

#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/net/shm_names.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

using ipckit::errc;
using ipckit::detail::net_address;
using ipckit::detail::net_transport;
using ipckit::detail::parse_address;
using ipckit_test::contains;
using ipckit_test::setup_error;

TEST_CASE("net address: tcp with IPv4, IPv6 in brackets and host names", "[unit]") {
    const auto v4 = parse_address("tcp://127.0.0.1:7000");
    CHECK(v4.transport == net_transport::tcp);
    CHECK(v4.host == "127.0.0.1");
    CHECK(v4.port == 7000);
    CHECK(v4.str() == "tcp://127.0.0.1:7000");

    const auto v6 = parse_address("tcp://[::1]:0");
    CHECK(v6.host == "::1");
    CHECK(v6.port == 0);
    CHECK(v6.str() == "tcp://[::1]:0");

    const auto name = parse_address("tcp://localhost:65535");
    CHECK(name.host == "localhost");
    CHECK(name.port == 65535);
}

TEST_CASE("net address: unix paths, abstract names and shm names", "[unit]") {
    const auto path = parse_address("unix:///run/app.sock");
    CHECK(path.transport == net_transport::unix_path);
    CHECK(path.path == "/run/app.sock");
    CHECK(path.str() == "unix:///run/app.sock");

    const auto abstract = parse_address("unix://@app");
    CHECK(abstract.transport == net_transport::unix_abstract);
    CHECK(abstract.path == "app");
    CHECK(abstract.str() == "unix://@app");

    const auto shm = parse_address("shm://app.requests");
    CHECK(shm.transport == net_transport::shm);
    CHECK(shm.path == "app.requests");
    CHECK(shm.str() == "shm://app.requests");
}

TEST_CASE("net address: a malformed address says what is wrong and what a right one looks like", "[unit]") {
    struct bad {
        const char* text;
        const char* says;
    };
    const bad cases[] = {
        {"127.0.0.1:7000", "no scheme"},
        {"udp://127.0.0.1:7000", "unknown scheme 'udp'"},
        {"tcp://127.0.0.1", "no port"},
        {"tcp://127.0.0.1:", "port is empty"},
        {"tcp://127.0.0.1:http", "not a number"},
        {"tcp://127.0.0.1:65536", "past 65535"},
        {"tcp://:7000", "host is empty"},
        {"tcp://::1:7000", "in brackets"},
        {"tcp://[::1:7000", "no closing ']'"},
        {"tcp://[]:7000", "no IPv6 address"},
        {"tcp://[::1]7000", "followed by :PORT"},
        {"tcp://[fe80::1%eth0]:7000", "'%' cannot appear"},
        {"tcp://bad host:1", "' ' cannot appear"},
        {"unix://run/app.sock", "must be absolute"},
        {"unix://", "must be absolute"},
        {"unix://@", "abstract name after '@' is empty"},
        {"unix:///run/", "names a directory"},
        {"shm://", "empty"},
        {"shm://a/b", "shm"},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        const auto e = setup_error([&] { return parse_address(c.text); });
        REQUIRE(e);
        CHECK(e->reason() == errc::invalid_argument);
        CHECK(contains(e->what(), c.says));
        CHECK(contains(e->what(), c.text));
        CHECK(contains(e->what(), "tcp://HOST:PORT"));
    }
}

TEST_CASE("net address: a Unix path or abstract name longer than sockaddr_un holds is refused", "[unit]") {
    const std::string longest = "/" + std::string(ipckit::detail::max_unix_path - 1, 'a');
    CHECK(parse_address("unix://" + longest).path == longest);
    const auto e = setup_error([&] { return parse_address("unix://" + longest + "a"); });
    REQUIRE(e);
    CHECK(e->reason() == errc::invalid_argument);
    CHECK(contains(e->what(), "longer than"));

    const std::string abstract(ipckit::detail::max_unix_path - 1, 'b');
    CHECK(parse_address("unix://@" + abstract).path == abstract);
    CHECK(ipckit_test::setup_errc([&] { return parse_address("unix://@" + abstract + "b"); }) ==
          errc::invalid_argument);
}

TEST_CASE("net address: a shm name leaves room for its connections' queue names, and a longer one is refused "
          "saying why",
          "[unit]") {
    // A connection's queues are "<name>.<id>.up" and ".down", the id up to 20 digits: every
    // one must be a valid segment name, whatever the id, or a client's connect would fail.
    constexpr std::string_view longest_suffix = ".18446744073709551615.down";
    static_assert(longest_suffix.size() == 2 + std::numeric_limits<std::uint64_t>::digits10 + 1 + 4);
    const std::string longest(ipckit::max_name_length - longest_suffix.size(), 'n');
    CHECK(parse_address("shm://" + longest).path == longest);
    CHECK_NOTHROW(ipckit::detail::validate_name(
        ipckit::detail::shm_down_name(longest, std::numeric_limits<std::uint64_t>::max())));

    const auto e = setup_error([&] { return parse_address("shm://" + longest + "n"); });
    REQUIRE(e);
    CHECK(e->reason() == errc::invalid_argument);
    CHECK(contains(e->what(), std::to_string(longest.size())));  // the limit
    CHECK(contains(e->what(), ".<id>.down"));                    // and why
}
