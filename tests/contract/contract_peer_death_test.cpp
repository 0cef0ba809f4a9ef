// Contract: a receiver gets every message a SIGKILLed sender sent, and then peer_dead, once
// (README, "Crash recovery"). Written once, run for every kind that reports a dead sender
// (kinds.hpp). What a receiver sees after that is the closed rule's: see
// peer_death_process_test.cpp.
//
// The sender is a forked child that reports through child_report until it is killed at a known
// point (it says it got there, then blocks until killed).

#include "../catch.hpp"
#include "../messages.hpp"
#include "child_report.hpp"
#include "kinds.hpp"

#include <cstdint>

using namespace ipckit_test::contract;
using ipckit_test::as_expected;
using ipckit_test::block_until_killed;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::killed_by_sigkill;
using ipckit_test::patience;
using ipckit_test::signal_pipe;

TEMPLATE_TEST_CASE("contract: a killed sender's messages are all received, then peer_dead once", "[process]",
                   IPCKIT_CONTRACT_PEER_DEATH_KINDS) {
    using K = TestType;
    // The sender sends `live` ticks that a blocking receiver takes while it lives (a rendezvous
    // holds none), then K::holds ticks that wait for the receiver when the sender is killed
    // (across a chunk boundary of an unbounded queue).
    std::uint64_t live = 0;
    typename K::place p;
    [[maybe_unused]] const auto keep = K::create(p);

    // Starts the sender, receives the `live` ticks (with `wait`, if given), and kills the sender once all its sends
    // have returned.
    const auto kill_a_sender = [&](auto& rx, auto... wait) {
        child_report report;
        signal_pipe attached, sent, hold;
        child c = report.spawn([&](child_report& r) {
            auto tx = K::sender(p);
            attached.post();
            for (std::uint64_t i = 0; i < live + K::holds; ++i) r.expect(K::send(tx, i, patience), errc::ok);
            sent.post();
            r.expect_value(static_cast<std::uint64_t>(block_until_killed(hold)), 0);  // never returns
        });
        attached.close_write();
        sent.close_write();
        REQUIRE(attached.wait());
        std::uint64_t seq = 0;
        for (std::uint64_t i = 0; i < live; ++i) {
            REQUIRE(K::receive(rx, seq, wait...) == errc::ok);
            CHECK(seq == i);
        }
        const bool got_there = sent.wait();
        if (!got_there) CHECK(report.finish(c) == as_expected);
        REQUIRE(got_there);
        if constexpr (K::peer_query) CHECK(rx.peer() == errc::ok);
        CHECK(c.kill() == killed_by_sigkill);
    };
    // Each tick that waited when the sender was killed, in order.
    const auto the_rest = [&](auto& rx, auto... deadline) {
        std::uint64_t seq = 0;
        for (std::uint64_t i = live; i < live + K::holds; ++i) {
            REQUIRE(K::receive(rx, seq, deadline...) == errc::ok);
            CHECK(seq == i);
        }
    };

    SECTION("a blocking receiver") {
        live = 3;
        auto rx = K::receiver(p);
        kill_a_sender(rx, patience);
        if constexpr (K::peer_query) CHECK(rx.peer() == errc::peer_dead);  // a query takes no report from the verbs
        the_rest(rx, patience);
        std::uint64_t seq = 0;
        CHECK(K::receive(rx, seq, patience) == errc::peer_dead);
    }
    if constexpr (K::peer_query) SECTION("a non-blocking receiver, which asks peer()") {
        // A non-blocking receive makes no system call, so it cannot tell death from silence:
        // peer() asks the OS, and the receive then reports the death once.
        auto rx = K::template receiver<ipckit::non_blocking>(p);
        kill_a_sender(rx);
        the_rest(rx);
        std::uint64_t seq = 0;
        CHECK(K::receive(rx, seq) == errc::would_block);
        CHECK(rx.peer() == errc::peer_dead);
        CHECK(K::receive(rx, seq) == errc::peer_dead);
    }
}
