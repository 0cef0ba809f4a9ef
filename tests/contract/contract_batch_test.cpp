// Contract: the batch verbs. send(span) returns how many of its messages were sent, and exactly
// those are received, in order, whether the batch met a full channel, a deadline or its sender's
// death part way; receive(span) takes at least one and at most span.size(); an empty span is 0
// at once. Written once, run for every kind with batch verbs (kinds.hpp).
//
// The sender is a forked child that reports through child_report, and posts how many its sends
// said they sent; the parent receives and checks the count against what arrived.

#include "../catch.hpp"
#include "../messages.hpp"
#include "child_report.hpp"
#include "kinds.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace ipckit_test::contract;
using ipckit_test::as_expected;
using ipckit_test::child_report;
using ipckit_test::err;

namespace {

/// Receives batches of up to `max` (with `deadline...`) until `count` ticks have arrived into
/// `seqs`, or a receive fails; what the failing receive said, or ok. Every batch must hold at
/// least one tick and at most max (else corrupt).
template <class K>
errc receive_batches(auto& rx, std::vector<std::uint64_t>& seqs, std::size_t count, std::size_t max, auto... deadline) {
    while (seqs.size() < count) {
        const auto r = K::receive_batch(rx, seqs, max, deadline...);
        if (!r) return r.error();
        if (*r == 0) return errc::corrupt;
    }
    return errc::ok;
}

/// More ticks than K holds: holds + 5, or K::fills where a kind holds no fixed count (a
/// connection: its transport's buffers and the kernel's).
template <class K>
constexpr std::uint64_t more_than_held = [] {
    if constexpr (requires { K::fills; }) return K::fills;
    else return K::holds + 5;
}();
/// Whether K holds exactly K::holds (else at least that many).
template <class K>
constexpr bool holds_exactly = !requires { K::fills; };

/// Where K's ends meet at their first verb (a connection), has the receiver meet its sender,
/// forked just before, without taking anything.
template <class K>
void meet(auto& rx) {
    if constexpr (requires { K::meet(rx); }) REQUIRE(K::meet(rx) == errc::ok);
}

/// 0, 1, ..., n - 1: what a sender's ticks must arrive as.
std::vector<std::uint64_t> first_ticks(std::size_t n) {
    std::vector<std::uint64_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = i;
    return v;
}

/// The scenario of a batch send that meets a full channel: the sender (the endpoint `make_tx`
/// makes, sending with `deadline...`) offers more than the channel holds, with nobody receiving;
/// then batches that find it full, and an empty one. Exactly what its sends said they sent
/// arrives (received in batches of up to `take`), and nothing more.
template <class K>
void batch_meets_a_full_channel(std::size_t take, auto make_tx, auto... deadline) {
    const made<K> p;
    auto rx = K::receiver(p);
    child_report report;
    signal_pipe sent, done;
    child c = report.spawn([&](child_report& r) {
        auto tx = make_tx(p);
        std::uint64_t total = 0;
        const auto first = K::send_batch(tx, 0, more_than_held<K>, deadline...);
        r.check(first.has_value(), "some of the batch sent");
        if (first) total += *first;
        // Where messages travel, an I/O thread may still be making room: what it makes is
        // filled too, until a batch finds none.
        auto more = K::send_batch(tx, total, 3, deadline...);
        if constexpr (travels<K>)
            for (; more.has_value(); more = K::send_batch(tx, total, 3, deadline...)) total += *more;
        r.expect(err(more), sizeof...(deadline) > 0 ? errc::timed_out : errc::would_block);
        const auto none = K::send_batch(tx, total, 0);
        r.check(none.has_value() && *none == 0, "0 from an empty batch");
        sent.post_value(total);
        r.expect_value(done.wait(), true);  // stay attached until the parent has looked
    });
    sent.close_write();
    meet<K>(rx);
    const auto total = sent.wait_value();
    if (!total) CHECK(report.finish(c) == as_expected);
    REQUIRE(total);
    if constexpr (holds_exactly<K>) CHECK(*total == K::holds);
    else CHECK(*total >= K::holds);
    std::vector<std::uint64_t> seqs;
    CHECK(receive_batches<K>(rx, seqs, *total, take, patience) == errc::ok);
    CHECK(seqs == first_ticks(*total));
    CHECK(err(K::receive_batch(rx, seqs, 3, already_past())) == errc::timed_out);
    done.post();
    CHECK(report.finish(c) == as_expected);
}

}  // namespace

// Two cases, not two sections of one: a connection's scenario runs alone in its process (net_kinds.hpp).
TEMPLATE_TEST_CASE("contract: a non-blocking batch send that meets a full channel sends as many as fit, and exactly "
                   "those arrive",
                   "[process]", IPCKIT_CONTRACT_BATCH_KINDS) {
    using K = TestType;
    batch_meets_a_full_channel<K>(3, [](const auto& p) { return K::template sender<ipckit::non_blocking>(p); });
}

TEMPLATE_TEST_CASE("contract: a blocking batch send that meets a full channel says how many it sent when its deadline "
                   "passes part way, and exactly those arrive",
                   "[process]", IPCKIT_CONTRACT_BATCH_KINDS) {
    using K = TestType;
    // The deadline is what ends the wait: nobody receives until the sender has returned.
    batch_meets_a_full_channel<K>(K::holds + 5, [](const auto& p) { return K::sender(p); }, std::chrono::milliseconds(20));
}

TEMPLATE_TEST_CASE("contract: a blocking batch send waits for room until all are sent, and a batch receive takes up to its size",
                   "[process]", IPCKIT_CONTRACT_BATCH_KINDS) {
    using K = TestType;
    constexpr std::size_t count = 3000;  // many times what the channel holds
    const made<K> p;
    auto rx = K::receiver(p);
    child_report report;
    signal_pipe sent, done;
    child c = report.spawn([&](child_report& r) {
        auto tx = K::sender(p);
        const auto n = K::send_batch(tx, 0, count, patience);
        r.check(n.has_value(), "the batch sent");
        sent.post_value(n ? *n : 0);
        r.expect_value(done.wait(), true);
    });
    sent.close_write();
    // Batches of 1 to 7 at a time, each at least one and at most its size (receive_batches).
    std::vector<std::uint64_t> seqs;
    for (std::size_t max = 1; seqs.size() < count; max = max % 7 + 1) {
        const auto r = K::receive_batch(rx, seqs, max, patience);
        REQUIRE(r);
        REQUIRE(*r >= 1);
    }
    CHECK(seqs == first_ticks(count));
    const auto total = sent.wait_value();
    REQUIRE(total);
    CHECK(*total == count);
    std::vector<std::uint64_t> none;
    CHECK(err(K::receive_batch(rx, none, 3, already_past())) == errc::timed_out);
    CHECK(K::receive_batch(rx, none, 0, already_past()).value() == 0);  // an empty span: 0 at once
    done.post();
    CHECK(report.finish(c) == as_expected);
}

TEMPLATE_TEST_CASE("contract: a sender killed in the middle of a batch: what it published arrives in order, then peer_dead",
                   "[process]", IPCKIT_CONTRACT_BATCH_PEER_DEATH_KINDS) {
    using K = TestType;
    constexpr std::size_t taken_live = 13;  // received while the sender lives, mid-batch
    const made<K> p;
    auto rx = K::receiver(p);
    child_report report;
    signal_pipe attached, hold;
    child c = report.spawn([&](child_report& r) {
        auto tx = K::sender(p);
        attached.post();
        // Never finishes: the receiver stops taking, and the sender is killed while it waits for
        // room in the middle of this batch.
        (void)K::send_batch(tx, 0, std::max<std::uint64_t>(1'000'000, more_than_held<K>), patience);
        r.block_until_killed(hold);
    });
    attached.close_write();
    REQUIRE(attached.wait());
    std::vector<std::uint64_t> seqs;
    REQUIRE(receive_batches<K>(rx, seqs, taken_live, 4, patience) == errc::ok);
    const std::size_t live = seqs.size();
    CHECK(c.kill() == killed_by_sigkill);
    // The rest it published, then its death, once.
    errc end = errc::ok;
    while (end == errc::ok) end = receive_batches<K>(rx, seqs, seqs.size() + 1, 5, patience);
    CHECK(end == errc::peer_dead);
    CHECK(seqs.size() <= live + more_than_held<K>);  // no more than the channel held when it died
    CHECK(seqs == first_ticks(seqs.size()));
}

TEMPLATE_TEST_CASE("contract: a batch send that finds its receiver dead part way returns how many it sent, and the "
                   "next send says peer_dead, once",
                   "[process]", IPCKIT_CONTRACT_BATCH_RECEIVER_DEATH_KINDS) {
    using K = TestType;
    const made<K> p;
    child_report report;
    signal_pipe attached, hold;
    child c = report.spawn([&](child_report& r) {
        auto rx = K::receiver(p);
        attached.post();
        r.block_until_killed(hold);
    });
    attached.close_write();
    REQUIRE(attached.wait());
    auto tx = K::sender(p);
    CHECK(c.kill() == killed_by_sigkill);
    // What fits is sent; the wait for room then finds the receiver gone, and the count is what
    // the batch returns. The death is the next send's to say.
    const auto n = K::send_batch(tx, 0, more_than_held<K>, patience);
    REQUIRE(n);
    if constexpr (holds_exactly<K>) CHECK(*n == K::holds);
    else CHECK(*n >= K::holds);
    CHECK(err(K::send_batch(tx, *n, 1, patience)) == errc::peer_dead);
    // Once: then the closed rule (one receiver's side), or a wait for another receiver to come
    // (a side of many), which a past deadline ends.
    const errc after = err(K::send_batch(tx, *n, 1, already_past()));
    CHECK((after == errc::closed || after == errc::timed_out));
}

TEMPLATE_TEST_CASE("contract: once the channel is closed as a whole, a batch send is refused whole and a batch receive "
                   "takes what is left, then closed",
                   "[process]", IPCKIT_CONTRACT_BATCH_CLOSED_KINDS) {
    using K = TestType;
    const made<K> p;
    auto rx = K::receiver(p);
    auto tx = K::sender(p);
    REQUIRE(K::send_batch(tx, 0, 3, already_past()).value() == 3);
    // Closed by another process, with three messages in it and room to spare.
    child_report report;
    child c = report.spawn([&](child_report&) { K::channel::open(p.place, K::quick()).close(); });
    REQUIRE(report.finish(c) == as_expected);
    CHECK(err(K::send_batch(tx, 3, 2, patience)) == errc::closed);
    std::vector<std::uint64_t> seqs;
    CHECK(K::receive_batch(rx, seqs, 8, already_past()).value() == 3);
    CHECK(seqs == first_ticks(3));  // nothing of the refused batch
    CHECK(err(K::receive_batch(rx, seqs, 8, already_past())) == errc::closed);
}
