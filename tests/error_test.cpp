// errc, ipckit::error and result<T>.

#include <ipckit/error.hpp>

#include "catch.hpp"

#include <string>
#include <system_error>

using ipckit::errc;

TEST_CASE("errc is a std::error_code enum with readable messages", "[unit]") {
    const std::error_code ec = errc::peer_dead;
    CHECK(ec.category().name() == std::string("ipckit"));
    CHECK(ec.message() == "the peer process died");
    CHECK(ec == errc::peer_dead);
    CHECK_FALSE(ec == errc::closed);
    CHECK(std::error_code(errc::ok).message() == "ok");
    CHECK(std::string(ipckit::to_string(errc::timed_out)) == "timed out");
}

TEST_CASE("ipckit::error carries the errc and the explanation", "[unit]") {
    try {
        throw ipckit::error(errc::not_found, "queue 'x' does not exist: create it first");
    } catch (const std::system_error& e) {
        CHECK(e.code() == errc::not_found);
        // The sentence as given, without std::system_error's ": not found" tacked on.
        CHECK(std::string(e.what()) == "queue 'x' does not exist: create it first");
    }
}

TEST_CASE("result<T> holds a value or an errc", "[unit]") {
    ipckit::result<int> good = 7;
    REQUIRE(good);
    CHECK(good.has_value());
    CHECK(*good == 7);
    CHECK(good.value() == 7);

    ipckit::result<int> bad = ipckit::unexpected(errc::would_block);
    CHECK_FALSE(bad);
    CHECK(bad.error() == errc::would_block);
    CHECK(bad.value_or(3) == 3);

    ipckit::result<std::string> text = std::string("hello");
    ipckit::result<std::string> copy = text;
    ipckit::result<std::string> moved = std::move(text);
    CHECK(*copy == "hello");
    CHECK(*moved == "hello");
    copy = ipckit::unexpected(errc::closed);
    CHECK(copy.error() == errc::closed);

    ipckit::status ok;
    CHECK(ok);
    ipckit::status closed = ipckit::unexpected(errc::closed);
    CHECK_FALSE(closed);
    CHECK(closed.error() == errc::closed);
}

#if !defined(__cpp_lib_expected)
TEST_CASE("value() on an error result throws ipckit::error", "[unit]") {
    ipckit::result<int> bad = ipckit::unexpected(errc::timed_out);
    CHECK_THROWS_AS(bad.value(), ipckit::error);
    ipckit::status s = ipckit::unexpected(errc::timed_out);
    CHECK_THROWS_AS(s.value(), ipckit::error);
}
#endif

TEST_CASE("what an error quotes of a name or an address a caller or peer gave is short and printable", "[unit]") {
    using ipckit::detail::quoted;
    CHECK(quoted("add") == "add");
    CHECK(quoted(std::string(64, 'm')) == std::string(64, 'm'));
    CHECK(quoted(std::string(300'000, 'm')) == std::string(64, 'm') + "... (300000 bytes)");
    CHECK(quoted("a\nb\\c\x7f") == "a\\x0ab\\x5cc\\x7f");            // no line of a log forged
    CHECK(quoted("caf\xc3\xa9") == "caf\\xc3\\xa9");                 // every byte outside ASCII spelled out
    CHECK(quoted(std::string_view("a\0b", 3)) == "a\\x00b");
    CHECK(quoted("abcdef", 3) == "abc... (6 bytes)");
}
