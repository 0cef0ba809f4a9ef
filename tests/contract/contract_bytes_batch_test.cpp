// Contract: the batch verbs of bytes<Max>, beyond what every batch kind promises
// (contract_batch_test.cpp): a batch carries messages of every size from 0 to Max, whole and in
// order, whether sent as spans or as ipckit::records; one message over Max anywhere refuses the
// batch whole; records too small for the next message take what fits before it and leave it
// first. Written once, run for every bytes kind with batch verbs (kinds.hpp).
//
// The sender is a forked child that reports through child_report; the parent receives.

#include "../catch.hpp"
#include "../messages.hpp"
#include "child_report.hpp"
#include "kinds.hpp"

#include <ipckit/records.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

using namespace ipckit_test::contract;
using ipckit_test::as_expected;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::pattern;
using ipckit_test::same;

namespace {

constexpr std::size_t max_bytes = 64;  // every bytes kind's Max (kinds.hpp)

/// Message i of these scenarios: i % (Max + 1) bytes of a pattern that depends on i.
std::vector<std::byte> message(std::size_t i) { return pattern(i % (max_bytes + 1), i); }

/// Spans over `ms`, as send(std::span<const std::span<const std::byte>>) takes them.
std::vector<std::span<const std::byte>> spans_of(const std::vector<std::vector<std::byte>>& ms) {
    return {ms.begin(), ms.end()};
}

}  // namespace

TEMPLATE_TEST_CASE("contract: a bytes batch of every size from 0 to Max arrives whole and in order, sent as records "
                   "or as spans",
                   "[process]", IPCKIT_CONTRACT_BYTES_BATCH_KINDS) {
    using K = TestType;
    constexpr std::size_t count = 2 * (max_bytes + 1);  // 0..Max twice: many times what the channel holds
    const made<K> p;
    auto rx = K::receiver(p);
    child_report report;
    signal_pipe done;
    child c = report.spawn([&](child_report& r) {
        auto tx = K::sender(p);
        // The first 0..Max as one records, the second as spans: each waits for room part way.
        std::vector<std::byte> storage(ipckit::records::storage_for(max_bytes + 1, max_bytes));
        ipckit::records first{storage};
        for (std::size_t i = 0; i <= max_bytes; ++i) r.check(first.push_back(message(i)), "the records hold 0..Max");
        const auto a = tx.send(first, patience);
        r.check(a.has_value() && *a == max_bytes + 1, "the records sent whole");
        std::vector<std::vector<std::byte>> second;
        for (std::size_t i = max_bytes + 1; i < count; ++i) second.push_back(message(i));
        const auto spans = spans_of(second);
        const auto b = tx.send(std::span<const std::span<const std::byte>>(spans), patience);
        r.check(b.has_value() && *b == max_bytes + 1, "the spans sent whole");
        r.expect_value(done.wait(), true);  // stay attached until the parent has looked
    });
    // Records with room for three messages of Max bytes: fewer than the channel holds.
    std::vector<std::byte> storage(ipckit::records::storage_for(3, max_bytes));
    ipckit::records got{storage};
    std::size_t next = 0;
    bool whole = true;
    while (next < count) {
        const auto n = rx.receive(got, patience);
        REQUIRE(n);
        REQUIRE(*n >= 1);
        REQUIRE(*n == got.size());
        for (const std::span<const std::byte> m : got) whole = whole && same(m, message(next++));
    }
    CHECK(whole);
    CHECK(next == count);
    CHECK(err(rx.receive(got, already_past())) == errc::timed_out);
    CHECK(got.empty());  // what a receive that took nothing leaves
    done.post();
    CHECK(report.finish(c) == as_expected);
}

TEMPLATE_TEST_CASE("contract: one message over Max anywhere in a bytes batch refuses it whole, with nothing sent",
                   "[process]", IPCKIT_CONTRACT_BYTES_BATCH_KINDS) {
    using K = TestType;
    const made<K> p;
    auto rx = K::receiver(p);
    child_report report;
    signal_pipe sent, done;
    child c = report.spawn([&](child_report& r) {
        auto tx = K::sender(p);
        const std::vector<std::vector<std::byte>> bad{message(1), message(2), pattern(max_bytes + 1, 9), message(3)};
        const auto spans = spans_of(bad);
        r.expect(err(tx.send(std::span<const std::span<const std::byte>>(spans), patience)), errc::too_large);
        r.expect(err(tx.send(std::span<const std::span<const std::byte>>(spans))), errc::too_large);
        // Then a batch that fits, which must arrive alone.
        const std::vector<std::vector<std::byte>> good{message(4), message(5)};
        const auto ok = spans_of(good);
        const auto n = tx.send(std::span<const std::span<const std::byte>>(ok), patience);
        r.check(n.has_value() && *n == 2, "the batch that fits sent");
        sent.post();
        r.expect_value(done.wait(), true);
    });
    REQUIRE(report.reached(c, sent) == as_expected);
    std::vector<std::byte> storage(ipckit::records::storage_for(8, max_bytes));
    ipckit::records got{storage};
    REQUIRE(rx.receive(got, patience).value() == 2);
    auto it = got.begin();
    CHECK(same(*it++, message(4)));
    CHECK(same(*it, message(5)));
    CHECK(err(rx.receive(got, already_past())) == errc::timed_out);  // nothing of the refused batches
    done.post();
    CHECK(report.finish(c) == as_expected);
}

TEMPLATE_TEST_CASE("contract: records too small for the next message take what fits before it, and leave it first",
                   "[process]", IPCKIT_CONTRACT_BYTES_BATCH_KINDS) {
    using K = TestType;
    const made<K> p;
    auto rx = K::receiver(p);
    child_report report;
    signal_pipe sent, done;
    // 8, 8, Max, 8 bytes, all waiting before the receiver looks.
    const std::vector<std::vector<std::byte>> ms{pattern(8, 1), pattern(8, 2), pattern(max_bytes, 3), pattern(8, 4)};
    child c = report.spawn([&](child_report& r) {
        auto tx = K::sender(p);
        const auto spans = spans_of(ms);
        const auto n = tx.send(std::span<const std::span<const std::byte>>(spans), patience);
        r.check(n.has_value() && *n == ms.size(), "the batch sent");
        sent.post();
        r.expect_value(done.wait(), true);
    });
    REQUIRE(report.reached(c, sent) == as_expected);
    // Room for two messages of 8 bytes, and less than one of Max.
    std::vector<std::byte> small_storage(ipckit::records::storage_for(2, 8) + ipckit::records::footprint(8));
    REQUIRE(ipckit::records::footprint(8) + ipckit::records::footprint(max_bytes) > small_storage.size());
    ipckit::records small{small_storage};
    REQUIRE(rx.receive(small, patience).value() == 2);  // three would fit, but the Max one is next
    auto it = small.begin();
    CHECK(same(*it++, ms[0]));
    CHECK(same(*it, ms[1]));
    // Not even the first fits: too_large, nothing taken, and it stays first.
    CHECK(err(rx.receive(small, patience)) == errc::too_large);
    CHECK(small.empty());
    CHECK(err(rx.receive(small, patience)) == errc::too_large);
    std::vector<std::byte> big_storage(ipckit::records::storage_for(4, max_bytes));
    ipckit::records big{big_storage};
    REQUIRE(rx.receive(big, patience).value() == 2);
    it = big.begin();
    CHECK(same(*it++, ms[2]));
    CHECK(same(*it, ms[3]));
    done.post();
    CHECK(report.finish(c) == as_expected);
}
