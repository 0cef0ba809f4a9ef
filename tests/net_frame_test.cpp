// Frames and the handshake of the socket transports: what goes on the wire reads back the
// same, and every damaged or mismatched header is refused with the reason.

#include "catch.hpp"
#include "support.hpp"

#include <ipckit/detail/net/frame.hpp>
#include <ipckit/detail/net/hello.hpp>

#include <array>
#include <cstdint>

using ipckit::errc;
namespace d = ipckit::detail;
using ipckit_test::contains;

namespace {
struct point {
    std::int32_t x;
    std::int32_t y;
};
struct other {
    std::int64_t z;
};
}  // namespace

TEST_CASE("net frame: a header reads back as written, checked against the largest message", "[unit]") {
    std::array<std::byte, d::frame_header_size> h{};
    d::encode_frame_header(h.data(), d::frame_type::data, 1000);
    auto r = d::decode_frame_header(h.data(), 1000);
    CHECK(r.fault == nullptr);
    CHECK(r.type == d::frame_type::data);
    CHECK(r.length == 1000);

    r = d::decode_frame_header(h.data(), 999);  // one byte longer than the connection's maximum
    REQUIRE(r.fault != nullptr);
    CHECK(contains(r.fault, "longer than"));

    d::encode_frame_header(h.data(), d::frame_type::data, 0xffffffffU);  // a hostile length
    CHECK(d::decode_frame_header(h.data(), std::size_t{1} << 30).fault != nullptr);

    d::encode_frame_header(h.data(), d::frame_type::close, 0);
    r = d::decode_frame_header(h.data(), 10);
    CHECK(r.fault == nullptr);
    CHECK(r.type == d::frame_type::close);
    d::encode_frame_header(h.data(), d::frame_type::heartbeat, 0);
    CHECK(d::decode_frame_header(h.data(), 10).type == d::frame_type::heartbeat);
}

TEST_CASE("net frame: damaged headers are refused", "[unit]") {
    std::array<std::byte, d::frame_header_size> h{};
    d::encode_frame_header(h.data(), d::frame_type::heartbeat, 4);
    CHECK(contains(d::decode_frame_header(h.data(), 10).fault, "carries a payload"));
    d::encode_frame_header(h.data(), d::frame_type::data, 4);
    h[2] = std::byte{1};
    CHECK(contains(d::decode_frame_header(h.data(), 10).fault, "padding"));
    h[2] = std::byte{0};
    h[0] = std::byte{9};
    CHECK(contains(d::decode_frame_header(h.data(), 10).fault, "unknown type"));
}

TEST_CASE("net hello: a hello reads back as written and matches its own kind", "[unit]") {
    const auto mine = d::hello_for<point>();
    const auto wire = d::encode_hello(mine);
    REQUIRE(wire.size() == d::hello_fixed_size + mine.description.size());
    const auto head = d::decode_hello_head(wire.data());
    REQUIRE(head.fault == errc::ok);
    CHECK(head.description_length == mine.description.size());
    CHECK(head.h.fingerprint == mine.fingerprint);
    CHECK(head.h.max_message == sizeof(point));
    CHECK(head.h.kind == d::message_kind::fixed);
    auto peer = head.h;
    peer.description = mine.description;
    const auto m = d::match_hello(mine, peer);
    CHECK(m.result == errc::ok);
    CHECK(m.max_message == sizeof(point));
}

TEST_CASE("net hello: a mismatch is incompatible_layout at both ends, naming both types", "[unit]") {
    const auto a = d::hello_for<point>();
    const auto b = d::hello_for<other>();
    for (const auto& [mine, peer] : {std::pair{a, b}, std::pair{b, a}}) {
        const auto m = d::match_hello(mine, peer);
        CHECK(m.result == errc::incompatible_layout);
        CHECK(contains(m.why, mine.description));
        CHECK(contains(m.why, peer.description));
    }
    CHECK(d::match_hello(a, d::hello_for<ipckit::bytes<8>>()).result == errc::incompatible_layout);

    auto swapped = a;
    swapped.byte_order = a.byte_order == 1 ? 2 : 1;
    const auto m = d::match_hello(a, swapped);
    CHECK(m.result == errc::incompatible_layout);
    CHECK(contains(m.why, "byte order"));
}

TEST_CASE("net hello: bytes of different Max agree on the smaller", "[unit]") {
    const auto m = d::match_hello(d::hello_for<ipckit::bytes<4096>>(), d::hello_for<ipckit::bytes<100>>());
    CHECK(m.result == errc::ok);
    CHECK(m.max_message == 100);
}

TEST_CASE("net hello: garbage, another protocol version and damaged fields are refused", "[unit]") {
    std::array<std::byte, d::hello_fixed_size> garbage{};
    garbage.fill(std::byte{'G'});
    auto head = d::decode_hello_head(garbage.data());
    CHECK(head.fault == errc::corrupt);
    CHECK(contains(head.why, "not an ipckit connection"));

    auto wire = d::encode_hello(d::hello_for<point>());
    d::put_be32(&wire[8], d::net_protocol_version + 1);
    head = d::decode_hello_head(wire.data());
    CHECK(head.fault == errc::incompatible_layout);
    CHECK(contains(head.why, "version"));

    wire = d::encode_hello(d::hello_for<point>());
    wire[14] = std::byte{0xff};  // a description longer than any hello carries
    CHECK(d::decode_hello_head(wire.data()).fault == errc::corrupt);
    wire = d::encode_hello(d::hello_for<point>());
    wire[28] = std::byte{7};
    CHECK(d::decode_hello_head(wire.data()).fault == errc::corrupt);
}
