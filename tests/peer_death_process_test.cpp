// What each side of a queue sees after a process on the other side is SIGKILLed, written once and
// run for every kind of queue (README, "Guarantees" and "Crash recovery"):
//   - a killed producer that is replaced: the replacement takes over the dead one's place, so
//     once it closes, the receiver gets every message and then the end the closed rule says
//     (never peer_dead for ever);
//   - a killed producer that is not: the receiver gets its messages, peer_dead once, then the
//     end the closed rule says; and a producer that comes later is received as usual;
//   - the same two for a killed consumer, as a sender on a full queue sees them.
// The closed rule (contract/contract_closed_test.cpp): a single producer's close is the end; a queue of many
// producers ends only when it is closed as a whole, so there the receiver waits on until then.
//
// The kinds are the contract suite's (contract/kinds.hpp). Children do their work without Catch2
// and report what went wrong through child_report; the parent asserts.
// No threads are started. Parent and children signal each other through pipes, so every wait
// is on the event itself, bounded by ipckit_test::patience.

#include "catch.hpp"
#include "contract/child_report.hpp"
#include "contract/kinds.hpp"
#include "messages.hpp"

#include <cstdint>
#include <string>

using namespace ipckit_test::contract;
using ipckit_test::as_expected;
using ipckit_test::child_report;
using ipckit_test::quick_liveness;

namespace {

/// Sends until the queue is full, never waiting (a deadline already past): the queue then holds
/// every message it can (a rendezvous: none, each offer is withdrawn at once). Returns how many
/// went in, or ~0 if a send failed otherwise than timed_out.
template <class Kind>
std::uint64_t fill(auto& tx) {
    for (std::uint64_t i = 0;; ++i) {
        const errc e = Kind::send(tx, i, already_past());
        if (e == errc::timed_out) return i;
        if (e != errc::ok) return ~std::uint64_t{0};
    }
}

/// The end the closed rule says, once the producers are gone: with many, the queue goes on (a
/// look now times out) until it is closed as a whole; then, or with one, closed.
template <class Kind>
void check_end_of_producers(const typename Kind::channel& q, auto& rx) {
    std::uint64_t seq = 0;
    if constexpr (Kind::channel::max_senders > 1) {
        CHECK(Kind::receive(rx, seq, already_past()) == errc::timed_out);
        q.close();
    }
    CHECK(Kind::receive(rx, seq, patience) == errc::closed);
    CHECK(Kind::receive(rx, seq, patience) == errc::closed);
}

/// The same for a sender, once the consumers are gone.
template <class Kind>
void check_end_of_consumers(const typename Kind::channel& q, auto& tx, std::uint64_t seq) {
    if constexpr (Kind::channel::max_receivers > 1) {
        CHECK(Kind::send(tx, seq, already_past()) == errc::timed_out);
        q.close();
    }
    CHECK(Kind::send(tx, seq, patience) == errc::closed);
}

/// A child that attaches a producer to `name`, says so on `attached`, sends seq and closes.
template <class Kind>
child attach_and_send(child_report& report, const std::string& name, signal_pipe& attached, std::uint64_t seq) {
    return report.spawn([&name, &attached, seq](child_report& r) {
        auto q = Kind::channel::open(name);
        auto tx = q.sender();
        attached.post();
        r.expect(Kind::send(tx, seq, patience), errc::ok);
    });
}

}  // namespace

// ---- producers ------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("after a producer is killed the receiver gets its messages, then the end the closed rule says",
                   "[process]", fixed_spsc, fixed_mpsc, fixed_mpmc, bytes_spsc, bytes_mpsc, unbounded_mpsc,
                   rendezvous_mpmc) {
    using Q = typename TestType::channel;
    typename TestType::place name;
    auto q = Q::create(name, quick_liveness());
    auto rx = q.receiver();
    signal_pipe sent, hold;

    // Producer A sends message 0 and is killed once its send has returned.
    child_report a_report;
    child a = a_report.spawn([&](child_report& r) {
        auto qa = Q::open(name);
        auto tx = qa.sender();
        r.expect(TestType::send(tx, 0, patience), errc::ok);
        sent.post();
        r.block_until_killed(hold);
    });
    sent.close_write();
    std::uint64_t seq = ~std::uint64_t{0};
    REQUIRE(TestType::receive(rx, seq, patience) == errc::ok);  // a rendezvous: A's send returns after this
    CHECK(seq == 0);
    const bool got_there = sent.wait();
    if (!got_there) CHECK(a_report.finish(a) == as_expected);
    REQUIRE(got_there);
    REQUIRE(a_report.ended(a.kill(), killed_by_sigkill) == as_expected);

    SECTION("replaced: the replacement takes over the dead one's place, and its close ends the stream") {
        signal_pipe attached;
        child_report report;
        child b = attach_and_send<TestType>(report, name, attached, 1);
        attached.close_write();
        REQUIRE(attached.wait());
        REQUIRE(TestType::receive(rx, seq, patience) == errc::ok);
        CHECK(seq == 1);
        CHECK(report.finish(b) == as_expected);
        check_end_of_producers<TestType>(q, rx);
    }
    SECTION("not replaced: peer_dead once, then the end the closed rule says, until another producer comes") {
        CHECK(TestType::receive(rx, seq, patience) == errc::peer_dead);
        if constexpr (Q::max_senders > 1) {
            CHECK(TestType::receive(rx, seq, already_past()) == errc::timed_out);  // more may come
        } else {
            CHECK(TestType::receive(rx, seq, patience) == errc::closed);
            CHECK(TestType::receive(rx, seq, patience) == errc::closed);
        }
        signal_pipe attached;
        child_report report;
        child c = attach_and_send<TestType>(report, name, attached, 1);
        attached.close_write();
        REQUIRE(attached.wait());
        REQUIRE(TestType::receive(rx, seq, patience) == errc::ok);
        CHECK(seq == 1);
        CHECK(report.finish(c) == as_expected);
        check_end_of_producers<TestType>(q, rx);
    }
}

// ---- consumers ------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("after a consumer is killed a sender on the full queue gets the end the closed rule says",
                   "[process]", fixed_spsc, fixed_spmc, fixed_mpmc, bytes_mpsc, rendezvous_mpmc) {
    using Q = typename TestType::channel;
    typename TestType::place name;
    auto q = Q::create(name, quick_liveness());
    auto tx = q.sender();
    signal_pipe attached, hold;

    child_report a_report;
    child a = a_report.spawn([&](child_report& r) {
        auto qa = Q::open(name);
        auto rx = qa.receiver();
        attached.post();
        r.block_until_killed(hold);
    });
    REQUIRE(a_report.reached(a, attached) == as_expected);
    const std::uint64_t held = fill<TestType>(tx);  // while A lives: full, and a send would wait for A
    REQUIRE(held != ~std::uint64_t{0});
    REQUIRE(a_report.ended(a.kill(), killed_by_sigkill) == as_expected);

    SECTION("replaced: the replacement takes over the dead one's place, and its close ends the stream") {
        child_report b_report;
        child b = b_report.spawn([&](child_report&) {
            auto qb = Q::open(name);
            auto rx = qb.receiver();  // receiver_busy here would be reported as what it threw
        });  // and closes, taking nothing
        CHECK(b_report.finish(b) == as_expected);
        check_end_of_consumers<TestType>(q, tx, held);
    }
    SECTION("not replaced: peer_dead once, then the end the closed rule says") {
        CHECK(TestType::send(tx, held, patience) == errc::peer_dead);
        check_end_of_consumers<TestType>(q, tx, held);
    }
}
