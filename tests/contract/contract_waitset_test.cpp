// Contract: a waitset (<ipckit/net.hpp>) reports a receiver ready when a message arrives, and
// not before; and when its sender closes or is killed, or the channel is closed as a whole, so
// that the receive that follows returns at once (its deadline already past) with the message,
// closed or peer_dead. Written once, run for every kind that makes each promise (kinds.hpp).
//
// The sender is a forked child (forked before the waitset, or a connection, starts a thread)
// that sends one tick, another when told, and then ends as the scenario says, reporting through
// child_report.

#include "../catch.hpp"
#include "child_report.hpp"
#include "kinds.hpp"

#include <ipckit/net.hpp>

#include <chrono>
#include <cstdint>
#include <vector>

using namespace ipckit_test::contract;
using namespace std::chrono_literals;
using ipckit_test::as_expected;
using ipckit_test::child_report;

namespace {

/// How the sender ends, once its two ticks are received.
enum class sender_end {
    lives,   ///< it waits to be told, then closes: the scenario does not look past the ticks
    closes,  ///< it closes at once: the receiver is ready, and its receive says closed
    killed,  ///< it is killed: the receiver is ready, and its receive says peer_dead
};

/// Whether a wait reported exactly `key`.
bool only(const ipckit::result<std::vector<ipckit::waitset::id>>& ready, ipckit::waitset::id key) {
    return ready && *ready == std::vector<ipckit::waitset::id>{key};
}

template <class K>
void ready_when_it_arrives(sender_end how) {
    const made<K> p;
    auto rx = K::receiver(p);
    child_report report;
    signal_pipe next, hold;
    child c = report.spawn([&](child_report& r) {
        auto tx = K::sender(p);
        r.expect(K::send(tx, 0, patience), errc::ok);
        r.check(next.wait(), "the word to send again");
        r.expect(K::send(tx, 1, patience), errc::ok);
        if (how == sender_end::killed) r.block_until_killed(hold);
        if (how == sender_end::lives) r.check(next.wait(), "the word to end");
    });

    ipckit::waitset ws;
    const auto key = K::watch(ws, rx);
    std::uint64_t seq = 99;
    // Tick 0 is sent at once: ready (whether it came before the wait or woke it).
    REQUIRE(only(ws.wait(patience), key));
    REQUIRE(K::receive(rx, seq, already_past()) == errc::ok);
    CHECK(seq == 0);
    // Nothing more while the sender waits for the word, which it then gets while the waitset
    // may be asleep: the message wakes it.
    CHECK(ws.wait(20ms).error() == errc::timed_out);
    next.post();
    REQUIRE(only(ws.wait(patience), key));
    REQUIRE(K::receive(rx, seq, already_past()) == errc::ok);
    CHECK(seq == 1);

    switch (how) {
    case sender_end::lives:
        CHECK(ws.wait(20ms).error() == errc::timed_out);
        next.post();
        CHECK(report.finish(c) == as_expected);
        break;
    case sender_end::closes:
        REQUIRE(only(ws.wait(patience), key));
        CHECK(K::receive(rx, seq, already_past()) == errc::closed);
        CHECK(report.finish(c) == as_expected);
        break;
    case sender_end::killed:
        CHECK(c.kill() == killed_by_sigkill);
        REQUIRE(only(ws.wait(patience), key));
        CHECK(K::receive(rx, seq, already_past()) == errc::peer_dead);
        break;
    }
}

}  // namespace

TEMPLATE_TEST_CASE("contract: a waitset reports a receiver ready when its channel is closed as a whole in another process",
                   "[process]", IPCKIT_CONTRACT_CLOSED_KINDS) {
    using K = TestType;
    const made<K> p;
    child_report report;
    signal_pipe go;
    child c = report.spawn([&](child_report& r) {
        r.check(go.wait(), "the word to close");
        K::channel::open(p.place, K::quick()).close();
    });
    auto rx = K::receiver(p);
    ipckit::waitset ws;
    const auto key = K::watch(ws, rx);
    CHECK(ws.wait(20ms).error() == errc::timed_out);
    go.post();
    REQUIRE(only(ws.wait(patience), key));
    std::uint64_t seq = 0;
    CHECK(K::receive(rx, seq, already_past()) == errc::closed);
    CHECK(report.finish(c) == as_expected);
}

TEMPLATE_TEST_CASE("contract: a waitset reports a receiver ready when a message arrives, and not before", "[process]",
                   IPCKIT_CONTRACT_WAITSET_KINDS) {
    ready_when_it_arrives<TestType>(sender_end::lives);
}

TEMPLATE_TEST_CASE("contract: a waitset reports a receiver ready when its sender closes", "[process]",
                   IPCKIT_CONTRACT_WAITSET_SENDER_CLOSE_KINDS) {
    ready_when_it_arrives<TestType>(sender_end::closes);
}

TEMPLATE_TEST_CASE("contract: a waitset reports a receiver ready when its sender is killed", "[process]",
                   IPCKIT_CONTRACT_WAITSET_PEER_DEATH_KINDS) {
    ready_when_it_arrives<TestType>(sender_end::killed);
}
