// Lanes across processes (ipckit::queue<T, bounded<N>, lanes<Max>>): a sender SIGKILLed in the
// middle of its traffic costs nothing but what it had not yet published. The receiver gets every
// message it did publish, in its order, while the other senders' messages flow on; then
// peer_dead once; and its lane serves a new sender, whose messages come after what the dead one
// left there.
//
// Senders are forked children that report through child_report; the parent receives and
// asserts. Nothing sleeps: the parent kills once it has received what it waits for.

#include "catch.hpp"
#include "contract/child_report.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>

#include <cstdint>

using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::check_of;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::make_tick;
using ipckit_test::patience;
using ipckit_test::quick_liveness;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;
using ipckit_test::tick;

namespace {

/// Tick i of sender s; and back.
constexpr std::uint64_t seq_of(std::uint64_t s, std::uint64_t i) { return (s << 32) | i; }
constexpr std::uint64_t sender_of(std::uint64_t seq) { return seq >> 32; }
constexpr std::uint64_t index_of(std::uint64_t seq) { return seq & 0xffff'ffffULL; }

}  // namespace

TEST_CASE("lanes: a sender SIGKILLed mid-traffic: its published messages in order, the others unhurt, "
          "then peer_dead once, and its lane reused",
          "[process]") {
    using q_type = ipckit::queue<tick, ipckit::bounded<64>, ipckit::lanes<2>>;
    scoped_name name;
    const auto q = q_type::create(name.str(), quick_liveness());
    auto rx = q.receiver();

    constexpr std::uint64_t steady_count = 20000;
    constexpr std::uint64_t before_kill = 2000;
    child_report doomed_report, steady_report;
    signal_pipe doomed_attached, steady_attached;
    // Sender 0 sends for ever: it is killed wherever it is in its loop (claiming, writing,
    // between the two stores that publish, or waiting for room).
    child doomed = doomed_report.spawn([&](child_report& r) {
        auto tx = q_type::open(name.str(), quick_liveness()).sender();
        doomed_attached.post();
        for (std::uint64_t i = 0;; ++i) r.expect(err(tx.send(make_tick(seq_of(0, i)), patience)), errc::ok);
    });
    // Sender 1 sends steady_count and closes.
    child steady = steady_report.spawn([&](child_report& r) {
        auto tx = q_type::open(name.str(), quick_liveness()).sender();
        steady_attached.post();
        r.expect(ipckit_test::send_all(tx, seq_of(1, 0), seq_of(1, steady_count)));
    });
    REQUIRE(doomed_report.reached(doomed, doomed_attached) == as_expected);
    REQUIRE(steady_report.reached(steady, steady_attached) == as_expected);

    std::uint64_t next[2] = {0, 0};
    std::uint64_t out_of_order = 0;
    const auto take = [&](const tick& t) {
        const std::uint64_t s = sender_of(t.seq);
        if (s > 1 || t.check != check_of(t.seq) || index_of(t.seq) != next[s]) {
            ++out_of_order;
            return;
        }
        ++next[s];
    };
    // Mid-traffic: the doomed sender is still sending (it never stops) when it is killed.
    while (next[0] < before_kill) {
        auto r = rx.receive(patience);
        REQUIRE(r);
        take(*r);
    }
    CHECK(doomed.kill() == killed_by_sigkill);
    // Everything either sent is received, each in its order, then the death, once.
    errc end = errc::ok;
    for (;;) {
        auto r = rx.receive(patience);
        if (!r) {
            end = r.error();
            break;
        }
        take(*r);
    }
    CHECK(out_of_order == 0);
    CHECK(end == errc::peer_dead);
    CHECK(next[1] == steady_count);
    CHECK(next[0] >= before_kill);
    CHECK(steady_report.finish(steady) == as_expected);
    CHECK(q.depth() == 0);
    // A side of many: after the death it waits for newcomers (a deadline passes).
    CHECK(err(rx.receive(std::chrono::milliseconds(20))) == errc::timed_out);

    // Both lanes serve new senders: the dead one's place was not lost.
    auto a = q.sender<ipckit::non_blocking>();
    auto b = q.sender<ipckit::non_blocking>();
    REQUIRE(err(a.send(make_tick(seq_of(0, 0)))) == errc::ok);
    REQUIRE(err(b.send(make_tick(seq_of(1, 0)))) == errc::ok);
    std::uint64_t seen = 0;
    for (int i = 0; i < 2; ++i) {
        auto r = rx.receive(patience);
        REQUIRE(r);
        CHECK(index_of(r->seq) == 0);
        seen |= std::uint64_t{1} << sender_of(r->seq);
    }
    CHECK(seen == 3);
}

TEST_CASE("lanes: a new sender takes over a killed sender's lane after what it left there", "[process]") {
    using q_type = ipckit::queue<tick, ipckit::bounded<8>, ipckit::lanes<1>>;
    scoped_name name;
    const auto q = q_type::create(name.str(), quick_liveness());
    auto rx = q.receiver<ipckit::non_blocking>();

    constexpr std::uint64_t left = 5;
    child_report report;
    signal_pipe sent, hold;
    child doomed = report.spawn([&](child_report& r) {
        auto tx = q_type::open(name.str(), quick_liveness()).sender();
        r.expect(ipckit_test::send_all(tx, 0, left));
        sent.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(doomed, sent) == as_expected);
    CHECK(doomed.kill() == killed_by_sigkill);

    // The one lane's place is the dead sender's: a newcomer takes it over, and goes on after it.
    auto tx = q.sender<ipckit::non_blocking>();
    for (std::uint64_t i = left; i < left + 3; ++i) REQUIRE(err(tx.send(make_tick(i))) == errc::ok);
    for (std::uint64_t i = 0; i < left + 3; ++i) {
        auto r = rx.receive();
        REQUIRE(r);
        CHECK(r->seq == i);
        CHECK(r->check == check_of(i));
    }
    CHECK(err(rx.receive()) == errc::would_block);
}
