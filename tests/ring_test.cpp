// What the rings' cursors share (detail/ring/ticket.hpp): the consistency check an attaching
// cursor makes on a ring whose head and tail other processes are moving. The interleavings
// are scripted: each load of head or tail returns the next value of its script.

#include "catch.hpp"

#include <ipckit/detail/ring/ticket.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
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
