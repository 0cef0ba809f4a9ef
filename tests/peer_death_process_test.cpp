// What each side of a queue sees after a process on the other side is SIGKILLed, written once and
// run for every kind of queue (README, "Guarantees" and "Crash recovery"):
//   - a killed producer that is replaced: the replacement takes over the dead one's place, so
//     once it closes, the receiver gets every message and then the end the closed rule says
//     (never peer_dead for ever);
//   - a killed producer that is not: the receiver gets its messages, peer_dead once, then the
//     end the closed rule says; and a producer that comes later is received as usual;
//   - the same two for a killed consumer, as a sender on a full queue sees them.
// The closed rule (closed_rule_test.cpp): a single producer's close is the end; a queue of many
// producers ends only when it is closed as a whole, so there the receiver waits on until then.
//
// Children do their work without Catch2 and report through their exit code; the parent asserts.
// No threads are started. Parent and children signal each other through pipes, so every wait
// is on the event itself, bounded by ipckit_test::patience.

#include "catch.hpp"
#include "messages.hpp"
#include "queue_kinds.hpp"
#include "support.hpp"
#include "unbounded_support.hpp"

#include <ipckit/queue.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

using ipckit::errc;
using ipckit_test::block_until_killed;
using ipckit_test::check_of;
using ipckit_test::child;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::make_tick;
using ipckit_test::patience;
using ipckit_test::quick_liveness;
using ipckit_test::scoped_queue;
using ipckit_test::signal_pipe;
using ipckit_test::tick;
using ipckit_test::tick_bytes;
using ipckit_test::ticks;

namespace {

// ---- the kinds, and how the scenarios send and receive on each --------------------------------

template <class P, class C>
using fixed = ipckit::queue<tick, ipckit::bounded<8>, P, C>;
struct fixed_spsc : ticks<fixed<ipckit::single, ipckit::single>> {};
struct fixed_mpsc : ticks<fixed<ipckit::multi, ipckit::single>> {};
struct fixed_spmc : ticks<fixed<ipckit::single, ipckit::multi>> {};
struct fixed_mpmc : ticks<fixed<ipckit::multi, ipckit::multi>> {};
template <class P>
using bytes = ipckit::queue<ipckit::bytes<64>, ipckit::bounded<1024>, P>;
struct bytes_spsc : tick_bytes<bytes<ipckit::single>> {};
struct bytes_mpsc : tick_bytes<bytes<ipckit::multi>> {};
struct unbounded_mpsc : ticks<ipckit::queue<tick, ipckit::unbounded<4096>, ipckit::multi>> {};
struct rendezvous_mpmc : ticks<ipckit::queue<tick, ipckit::zero_capacity, ipckit::multi, ipckit::multi>> {};

constexpr auto at_once = std::chrono::steady_clock::time_point::min();

/// Once the producers are gone and the receiver has taken everything: the end the closed rule
/// says. A single producer's close was the end: closed. A queue of many producers has not ended
/// (the receiver would wait for more) until it is closed as a whole: then closed.
template <class Kind>
void check_end_of_producers(const typename Kind::queue& q, auto& rx) {
    std::uint64_t seq = 0;
    if constexpr (Kind::queue::max_senders > 1) {
        CHECK(Kind::receive(rx, seq, at_once) == errc::timed_out);
        q.close();
    }
    CHECK(Kind::receive(rx, seq) == errc::closed);
    CHECK(Kind::receive(rx, seq) == errc::closed);
}

/// The same for a sender on a full queue once the consumers are gone.
template <class Kind>
void check_end_of_consumers(const typename Kind::queue& q, auto& tx, std::uint64_t seq) {
    if constexpr (Kind::queue::max_receivers > 1) {
        CHECK(Kind::send(tx, seq, at_once) == errc::timed_out);
        q.close();
    }
    CHECK(Kind::send(tx, seq) == errc::closed);
}

/// Sends until the queue is full, never waiting (a deadline already past): the queue then holds
/// every message it can (a rendezvous: none, each offer is withdrawn at once). Returns how many
/// went in, or ~0 if a send failed otherwise than timed_out.
template <class Kind>
std::uint64_t fill(auto& tx) {
    for (std::uint64_t i = 0;; ++i) {
        const errc e = Kind::send(tx, i, std::chrono::steady_clock::time_point::min());
        if (e == errc::timed_out) return i;
        if (e != errc::ok) return ~std::uint64_t{0};
    }
}

/// For a child: attaches a producer to `name`, says so on `attached`, sends seq and closes.
template <class Kind>
int attach_and_send(const std::string& name, const signal_pipe& attached, std::uint64_t seq) {
    auto q = Kind::queue::open(name);
    auto tx = q.sender();
    attached.post();
    return Kind::send(tx, seq) == errc::ok ? 0 : 1;
}

}  // namespace

// ---- producers ------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("after a producer is killed the receiver gets its messages, then the end the closed rule says",
                   "[process]", fixed_spsc, fixed_mpsc, fixed_mpmc, bytes_spsc, bytes_mpsc, unbounded_mpsc,
                   rendezvous_mpmc) {
    using Q = typename TestType::queue;
    scoped_queue name;
    auto q = Q::create(name, quick_liveness());
    auto rx = q.receiver();
    signal_pipe sent, hold;

    // Producer A sends message 0 and is killed once its send has returned.
    child a([&] {
        auto qa = Q::open(name);
        auto tx = qa.sender();
        if (TestType::send(tx, 0) != errc::ok) return 1;
        sent.post();
        return block_until_killed(hold);
    });
    sent.close_write();
    std::uint64_t seq = ~std::uint64_t{0};
    REQUIRE(TestType::receive(rx, seq) == errc::ok);  // a rendezvous: A's send returns after this
    CHECK(seq == 0);
    REQUIRE(sent.wait());
    REQUIRE(a.kill() == killed_by_sigkill);

    SECTION("replaced: the replacement takes over the dead one's place, and its close ends the stream") {
        signal_pipe attached;
        child b([&] { return attach_and_send<TestType>(name, attached, 1); });
        attached.close_write();
        REQUIRE(attached.wait());
        REQUIRE(TestType::receive(rx, seq) == errc::ok);
        CHECK(seq == 1);
        CHECK(b.wait() == 0);
        check_end_of_producers<TestType>(q, rx);
    }
    SECTION("not replaced: peer_dead once, then the end the closed rule says, until another producer comes") {
        CHECK(TestType::receive(rx, seq) == errc::peer_dead);
        if constexpr (Q::max_senders > 1) {
            CHECK(TestType::receive(rx, seq, at_once) == errc::timed_out);  // more may come
        } else {
            CHECK(TestType::receive(rx, seq) == errc::closed);
            CHECK(TestType::receive(rx, seq) == errc::closed);
        }
        signal_pipe attached;
        child c([&] { return attach_and_send<TestType>(name, attached, 1); });
        attached.close_write();
        REQUIRE(attached.wait());
        REQUIRE(TestType::receive(rx, seq) == errc::ok);
        CHECK(seq == 1);
        CHECK(c.wait() == 0);
        check_end_of_producers<TestType>(q, rx);
    }
}

// ---- consumers ------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("after a consumer is killed a sender on the full queue gets the end the closed rule says",
                   "[process]", fixed_spsc, fixed_spmc, fixed_mpmc, bytes_mpsc, rendezvous_mpmc) {
    using Q = typename TestType::queue;
    scoped_queue name;
    auto q = Q::create(name, quick_liveness());
    auto tx = q.sender();
    signal_pipe attached, hold;

    child a([&] {
        auto qa = Q::open(name);
        auto rx = qa.receiver();
        attached.post();
        return block_until_killed(hold);
    });
    attached.close_write();
    REQUIRE(attached.wait());
    const std::uint64_t held = fill<TestType>(tx);  // while A lives: full, and a send would wait for A
    REQUIRE(held != ~std::uint64_t{0});
    REQUIRE(a.kill() == killed_by_sigkill);

    SECTION("replaced: the replacement takes over the dead one's place, and its close ends the stream") {
        child b([&] {
            auto qb = Q::open(name);
            auto rx = qb.receiver();
            return 0;  // and closes, taking nothing
        });
        CHECK(b.wait() == 0);
        check_end_of_consumers<TestType>(q, tx, held);
    }
    SECTION("not replaced: peer_dead once, then the end the closed rule says") {
        CHECK(TestType::send(tx, held) == errc::peer_dead);
        check_end_of_consumers<TestType>(q, tx, held);
    }
}
