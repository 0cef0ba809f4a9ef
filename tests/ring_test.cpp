// What the rings' cursors share (detail/ring/ticket.hpp): the consistency check an attaching
// cursor makes on a ring whose head and tail other processes are moving; and the byte ring's
// recovery of a record whose producer died, racing a live one. The interleavings are
// scripted: each load of head or tail returns the next value of its script, and a producer
// commits from inside the recoverer's question about it.

#include "catch.hpp"

#include <ipckit/detail/ring/bytes_consumer.hpp>
#include <ipckit/detail/ring/bytes_producer.hpp>
#include <ipckit/detail/ring/ticket.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace {

/// An index whose loads return the values of a script, one per load, then its last value.
struct scripted_index {
    std::vector<std::uint64_t> values;
    mutable std::size_t loads = 0;
    std::uint64_t load(std::memory_order) const noexcept {
        const std::size_t i = loads < values.size() ? loads : values.size() - 1;
        ++loads;
        return values[i];
    }
};

/// A ring of 8 positions as consistent_now sees one: head, tail and the ring's own check.
struct scripted_ring {
    scripted_index head;
    scripted_index tail;
    static constexpr bool consistent(std::uint64_t h, std::uint64_t t) noexcept { return h <= t && t - h <= 8; }
};

}  // namespace

TEST_CASE("ring attach: a head that moved between the loads is looked at again, not taken for corruption",
          "[unit]") {
    std::uint64_t head_seen = 99;
    SECTION("head passed the tail read before it: consumers took what came after that tail") {
        // head 10, tail 12, head 14: loaded once each, (14, 12) would be head past tail.
        scripted_ring r{{{10, 14, 14, 14}}, {{12, 16}}};
        CHECK(ipckit::detail::consistent_now(r, head_seen));
        CHECK(head_seen == 14);
    }
    SECTION("tail a lap ahead of a head read before it: the ring moved on meanwhile") {
        // head 0, then tail 20 (head had reached 12): (0, 20) would be more than 8 apart.
        scripted_ring r{{{0, 12, 12, 12}}, {{20, 20}}};
        CHECK(ipckit::detail::consistent_now(r, head_seen));
        CHECK(head_seen == 12);
    }
    SECTION("a ring at rest is checked exactly") {
        scripted_ring fine{{{3}}, {{11}}};
        CHECK(ipckit::detail::consistent_now(fine, head_seen));
        CHECK(head_seen == 3);
        scripted_ring past{{{12}}, {{11}}};
        CHECK_FALSE(ipckit::detail::consistent_now(past, head_seen));
        scripted_ring too_far{{{3}}, {{12}}};
        CHECK_FALSE(ipckit::detail::consistent_now(too_far, head_seen));
    }
    SECTION("a head that never keeps still is left to the data path's checks") {
        std::vector<std::uint64_t> moving;
        for (std::uint64_t i = 0; i < 200; ++i) moving.push_back(i);
        scripted_ring r{{moving}, {{1000}}};
        CHECK(ipckit::detail::consistent_now(r, head_seen));
        CHECK(head_seen == 0);
    }
}

TEST_CASE("byte ring recovery: a producer that commits while the consumer asks whether it lives is read, not "
          "taken for a record whose header was wiped",
          "[unit]") {
    using namespace ipckit::detail;
    constexpr std::size_t n = 1024;
    auto ring = std::make_unique<bytes_ring<n, true>>();
    std::atomic<std::uint64_t> pending{0};
    bytes_producer<64, n, true> producer;
    bytes_consumer<64, n, true> consumer;
    REQUIRE(producer.attach(*ring, pending));
    REQUIRE(consumer.attach(*ring, pending));

    // The producer has claimed the record at the head and not written its header yet (the
    // moment between its claim and that store): the consumer waits there, and asks whether the
    // one that claimed it still lives.
    bytes_reservation r;
    REQUIRE(producer.try_loan(40, r) == ipckit::errc::ok);
    const std::uint64_t reserved = ring->header(r.pos).exchange(0);
    bytes_found found;
    REQUIRE(consumer.peek(found) == ipckit::errc::would_block);
    const std::string_view text = "a message of forty bytes, all of it set.";
    REQUIRE(text.size() == 40);
    int asked = 0;
    const bool recovered = consumer.recover([&](std::uint64_t claim) {
        if (asked++ == 0) {  // it has written its record since the consumer read the header
            ring->header(r.pos).store(reserved);
            std::memcpy(ring->payload(r.pos), text.data(), text.size());
            decltype(producer)::commit(*ring, pending, r, text.size());
        }
        return pending.load() == claim;
    });
    CHECK(asked > 0);
    CHECK_FALSE(recovered);
    REQUIRE(consumer.peek(found) == ipckit::errc::ok);
    CHECK(found.length == text.size());
    CHECK(std::memcmp(ring->payload(found.pos), text.data(), text.size()) == 0);
}
