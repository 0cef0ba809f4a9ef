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
using ipckit_test::child_report;

namespace {
/// A forked receiver of `p`, returned once it has attached; it blocks until killed.
template <class K>
child attached_receiver(const made<K>& p, signal_pipe& hold) {
    signal_pipe attached;
    child receiver([&] {
        auto rx = K::receiver(p);
        attached.post();
        return block_until_killed(hold);
    });
    attached.close_write();
    REQUIRE(attached.wait());
    return receiver;
}
}  // namespace

TEMPLATE_TEST_CASE("contract: a killed sender's messages are all received, then peer_dead once", "[process]",
                   IPCKIT_CONTRACT_PEER_DEATH_KINDS) {
    using K = TestType;
    // The sender sends `live` ticks that a blocking receiver takes while it lives (a rendezvous
    // holds none), then K::holds ticks that wait for the receiver when the sender is killed
    // (across a chunk boundary of an unbounded queue).
    std::uint64_t live = 0;
    const made<K> p;

    // Starts the sender, receives the `live` ticks (with `wait`, if given), and kills the sender once all its sends
    // have returned.
    const auto kill_a_sender = [&](auto& rx, auto... wait) {
        child_report report;
        signal_pipe attached, sent, hold;
        child c = report.spawn([&](child_report& r) {
            auto tx = K::sender(p);
            attached.post();
            for (std::uint64_t i = 0; i < live + K::holds; ++i) r.expect(K::send(tx, i, patience), errc::ok);
            // A kind whose sends may buffer (a connection) promises what reached its transport.
            if constexpr (requires { K::flush(tx); }) r.expect(K::flush(tx), errc::ok);
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

TEMPLATE_TEST_CASE("contract: a receiver blocked on an empty channel gets peer_dead when its sender is killed",
                   "[process]", IPCKIT_CONTRACT_PEER_DEATH_KINDS) {
    using K = TestType;
    constexpr std::uint64_t live = 3;
    const made<K> p;
    child_report receiver_report, sender_report;
    signal_pipe receiver_pid, sender_attached, drained, hold;

    // The receiver takes the sender's ticks, then blocks on the empty channel until it is killed.
    child receiver = receiver_report.spawn([&](child_report& r) {
        auto rx = K::receiver(p);
        receiver_pid.post_value(static_cast<std::uint64_t>(::getpid()));
        r.expect_value(sender_attached.wait(), true);  // a node receives only from a member
        std::uint64_t seq = 0;
        for (std::uint64_t i = 0; i < live; ++i) {
            r.expect(K::receive(rx, seq, patience), errc::ok);
            r.expect_value(seq, i);
        }
        drained.post();
        r.expect(K::receive(rx, seq, patience), errc::peer_dead);
    });
    const auto pid = receiver_pid.wait_value();
    REQUIRE(pid);
    child sender = sender_report.spawn([&](child_report& r) {
        auto tx = K::sender(p);
        sender_attached.post();
        for (std::uint64_t i = 0; i < live; ++i) r.expect(K::send(tx, i, patience), errc::ok);
        r.expect_value(static_cast<std::uint64_t>(block_until_killed(hold)), 0);  // never returns
    });
    drained.close_write();
    const bool got_there = drained.wait();
    if (!got_there) CHECK(receiver_report.finish(receiver) == as_expected);
    REQUIRE(got_there);
    CHECK(ipckit_test::wait_until_sleeping(static_cast<pid_t>(*pid), static_cast<pid_t>(*pid)));  // in the receive
    CHECK(sender.kill() == killed_by_sigkill);
    CHECK(receiver_report.finish(receiver) == as_expected);
}

TEMPLATE_TEST_CASE("contract: a sender blocked on a full channel gets peer_dead when its receiver is killed, and "
                   "the receiver in its place gets exactly what was held",
                   "[process]", IPCKIT_CONTRACT_RECEIVER_DEATH_KINDS) {
    using K = TestType;
    const made<K> p;
    child_report sender_report;
    signal_pipe full, answered, finish, hold;

    child receiver = attached_receiver(p, hold);

    // The sender fills the channel (a rendezvous: nothing), says how much it holds, and blocks.
    child sender = sender_report.spawn([&](child_report& r) {
        auto tx = K::sender(p);
        std::uint64_t held = 0;
        while (K::send(tx, held, already_past()) == errc::ok) ++held;
        r.expect_value(held >= K::holds, true);
        full.post_value(held);
        full.post_value(static_cast<std::uint64_t>(::getpid()));
        r.expect(K::send(tx, held, patience), errc::peer_dead);
        answered.post();
        r.expect_value(finish.wait(), true);  // attached while the parent looks: its close is another promise
    });
    full.close_write();
    answered.close_write();
    const auto held = full.wait_value();
    const auto pid = full.wait_value();
    if (!pid) CHECK(sender_report.finish(sender) == as_expected);
    REQUIRE(held);
    REQUIRE(pid);
    CHECK(ipckit_test::wait_until_sleeping(static_cast<pid_t>(*pid), static_cast<pid_t>(*pid)));  // in the send
    CHECK(receiver.kill() == killed_by_sigkill);
    const bool got_its_answer = answered.wait();
    if (!got_its_answer) CHECK(sender_report.finish(sender) == as_expected);
    REQUIRE(got_its_answer);

    // A new receiver takes the dead one's place: exactly the held ticks, never the one whose
    // send failed (a rendezvous: nothing, the offer was withdrawn).
    auto rx = K::template receiver<ipckit::non_blocking>(p);
    std::uint64_t seq = 0;
    for (std::uint64_t i = 0; i < *held; ++i) {
        REQUIRE(K::receive(rx, seq) == errc::ok);
        CHECK(seq == i);
    }
    CHECK(K::receive(rx, seq) == errc::would_block);
    finish.post();
    CHECK(sender_report.finish(sender) == as_expected);
}

// Each call shorter than the liveness interval (every channel here checks each 10 ms): the
// endpoint's own clock says when the OS is asked, across calls, so a loop of such calls still
// ends. (It got timed_out for ever.)
namespace {
constexpr std::chrono::milliseconds shorter_than_liveness{2};

/// Calls `verb` (returning errc) while it times out, up to patience; what it returned last.
template <class Verb>
errc while_timed_out(Verb&& verb) {
    errc e = errc::timed_out;
    (void)ipckit_test::eventually([&] { return (e = verb()) != errc::timed_out; });
    return e;
}
}  // namespace

TEMPLATE_TEST_CASE("contract: a receiver that waits in calls each shorter than the liveness interval gets "
                   "peer_dead when its sender is killed",
                   "[process]", IPCKIT_CONTRACT_PEER_DEATH_KINDS) {
    using K = TestType;
    const made<K> p;
    auto rx = K::receiver(p);
    child_report report;
    signal_pipe attached, hold;
    child sender = report.spawn([&](child_report& r) {
        auto tx = K::sender(p);
        attached.post();
        r.expect(K::send(tx, 0, patience), errc::ok);  // a node knows a sender by its link
        if constexpr (requires { K::flush(tx); }) r.expect(K::flush(tx), errc::ok);
        r.expect_value(static_cast<std::uint64_t>(block_until_killed(hold)), 0);  // never returns
    });
    attached.close_write();
    REQUIRE(attached.wait());  // a node receives only from a member
    std::uint64_t seq = 1;
    const errc first = K::receive(rx, seq, patience);
    if (first != errc::ok) CHECK(report.finish(sender) == as_expected);
    REQUIRE(first == errc::ok);
    CHECK(seq == 0);
    CHECK(sender.kill() == killed_by_sigkill);
    CHECK(while_timed_out([&] { return K::receive(rx, seq, shorter_than_liveness); }) == errc::peer_dead);
}

// A node's receiver is a member that never took a message: its link has no receiver attached,
// and only the domain's registry tells its death.
TEMPLATE_TEST_CASE("contract: a sender that waits for room in calls each shorter than the liveness interval gets "
                   "peer_dead when its receiver is killed",
                   "[process]", IPCKIT_CONTRACT_RECEIVER_DEATH_KINDS, node_from) {
    using K = TestType;
    const made<K> p;
    signal_pipe hold;
    child receiver = attached_receiver(p, hold);
    auto tx = K::sender(p);
    std::uint64_t held = 0;
    while (K::send(tx, held, already_past()) == errc::ok) ++held;
    CHECK(receiver.kill() == killed_by_sigkill);
    CHECK(while_timed_out([&] { return K::send(tx, held, shorter_than_liveness); }) == errc::peer_dead);
}
