// The closed rule, one scenario for every kind of queue (README, "Errors"): a side that is a
// single endpoint ends when it closes, like a pipe's end of file; a side that may be many ends
// only when the queue is closed as a whole (close() on its handle) or removed, not because
// nobody happens to be attached at the moment. A receiver sees `closed` only after it has taken
// every message.
//
// Every verb is given a deadline that has already passed, so "would wait" shows as timed_out at
// once and nothing here sleeps. One process; a thread only where a verb must be blocked when the
// queue closes.

#include "catch.hpp"
#include "messages.hpp"
#include "queue_kinds.hpp"
#include "support.hpp"
#include "unbounded_support.hpp"

#include <ipckit/queue.hpp>

#include <chrono>
#include <cstdint>
#include <future>

using ipckit::errc;
using ipckit_test::patience;
using ipckit_test::scoped_queue;
using ipckit_test::tick;
using ipckit_test::tick_bytes;
using ipckit_test::ticks;

namespace {

constexpr auto at_once = std::chrono::steady_clock::time_point::min();

/// Whether a kind holds messages (a rendezvous holds none: a send waits for its taker).
template <class Kind>
constexpr bool buffers = [] {
    if constexpr (requires { Kind::queue::capacity; })
        return Kind::queue::capacity != 0;
    else
        return true;  // unbounded
}();

template <class P, class C>
using fixed = ipckit::queue<tick, ipckit::bounded<4>, P, C>;
struct fixed_spsc : ticks<fixed<ipckit::single, ipckit::single>> {};
struct fixed_mpsc : ticks<fixed<ipckit::multi, ipckit::single>> {};
struct fixed_spmc : ticks<fixed<ipckit::single, ipckit::multi>> {};
struct fixed_mpmc : ticks<fixed<ipckit::multi, ipckit::multi>> {};
template <class P>
using bytes = ipckit::queue<ipckit::bytes<64>, ipckit::bounded<128>, P>;
struct bytes_spsc : tick_bytes<bytes<ipckit::single>> {};
struct bytes_mpsc : tick_bytes<bytes<ipckit::multi>> {};
struct unbounded_spsc : ticks<ipckit::queue<tick, ipckit::unbounded<4096>>> {};
struct unbounded_mpsc : ticks<ipckit::queue<tick, ipckit::unbounded<4096>, ipckit::multi>> {};
template <class P, class C>
using zero = ipckit::queue<tick, ipckit::zero_capacity, P, C>;
struct rendezvous_spsc : ticks<zero<ipckit::single, ipckit::single>> {};
struct rendezvous_mpmc : ticks<zero<ipckit::multi, ipckit::multi>> {};

template <class Kind>
constexpr bool many_senders = Kind::queue::max_senders > 1;
template <class Kind>
constexpr bool many_receivers = Kind::queue::max_receivers > 1;
/// An unbounded queue's sender never waits for room: it has no full queue to be told about.
template <class Kind>
constexpr bool senders_wait_for_room = !requires { Kind::queue::chunk_bytes; };

}  // namespace

TEMPLATE_TEST_CASE("the closed rule, as a receiver sees it: the end of a single sender, the close of a queue of many",
                   "[unit]", fixed_spsc, fixed_mpsc, fixed_spmc, fixed_mpmc, bytes_spsc, bytes_mpsc, unbounded_spsc,
                   unbounded_mpsc, rendezvous_spsc, rendezvous_mpmc) {
    using Q = typename TestType::queue;
    scoped_queue name;
    auto q = Q::create(name);
    auto rx = q.receiver();
    std::uint64_t seq = ~std::uint64_t{0};

    {
        auto tx = q.sender();
        if constexpr (buffers<TestType>) REQUIRE(TestType::send(tx, 0, at_once) == errc::ok);
    }  // the only sender there is closes
    if constexpr (buffers<TestType>) {
        REQUIRE(TestType::receive(rx, seq, at_once) == errc::ok);  // messages first, in any case
        CHECK(seq == 0);
    }

    if constexpr (!many_senders<TestType>) {
        CHECK(TestType::receive(rx, seq, at_once) == errc::closed);  // a pipe's end of file
    } else {
        // Nobody is attached now, but more senders may come: the receiver waits on.
        CHECK(TestType::receive(rx, seq, at_once) == errc::timed_out);
        if constexpr (buffers<TestType>) {
            auto tx = q.sender();
            REQUIRE(TestType::send(tx, 1, at_once) == errc::ok);
            REQUIRE(TestType::send(tx, 2, at_once) == errc::ok);
        }
        CHECK(TestType::receive(rx, seq, at_once) == (buffers<TestType> ? errc::ok : errc::timed_out));
        // Closed as a whole, with a message still in it: that message first, then closed, for a
        // receiver attached before and one attached after alike.
        q.close();
        if constexpr (buffers<TestType>) {
            REQUIRE(TestType::receive(rx, seq, at_once) == errc::ok);
            CHECK(seq == 2);
        }
        CHECK(TestType::receive(rx, seq, at_once) == errc::closed);
        CHECK(TestType::receive(rx, seq, at_once) == errc::closed);
        rx.close();
        auto late = Q::open(name).receiver();
        CHECK(TestType::receive(late, seq, at_once) == errc::closed);
    }
}

TEMPLATE_TEST_CASE("the closed rule, as a sender on a full queue sees it: the end of a single receiver, the close of a "
                   "queue of many",
                   "[unit]", fixed_spsc, fixed_mpsc, fixed_spmc, fixed_mpmc, bytes_spsc, bytes_mpsc, rendezvous_spsc,
                   rendezvous_mpmc) {
    using Q = typename TestType::queue;
    static_assert(senders_wait_for_room<TestType>);
    scoped_queue name;
    auto q = Q::create(name);
    auto tx = q.sender();
    q.receiver().close();  // the only receiver there is came and went
    // Fill what the queue holds (a rendezvous holds nothing: its first send would wait).
    std::uint64_t sent = 0;
    errc e = errc::ok;
    while ((e = TestType::send(tx, sent, at_once)) == errc::ok) ++sent;

    if constexpr (!many_receivers<TestType>) {
        CHECK(e == errc::closed);  // nobody will ever make room
    } else {
        CHECK(e == errc::timed_out);  // a receiver may still come and make room
        q.close();
        // (With a deadline to spare: a rendezvous sender offers first, and asks after the
        // receivers only while its offer waits.)
        CHECK(TestType::send(tx, sent, patience) == errc::closed);
        tx.close();  // a single-producer queue takes one sender at a time
        auto late = Q::open(name).sender();
        CHECK(TestType::send(late, sent, patience) == errc::closed);
    }
}

TEMPLATE_TEST_CASE("the closed rule: close() wakes a receiver blocked on a queue of many senders, and remove() closes "
                   "it too",
                   "[unit]", fixed_mpsc, fixed_mpmc, bytes_mpsc, unbounded_mpsc, rendezvous_mpmc) {
    using Q = typename TestType::queue;
    scoped_queue name;
    auto q = Q::create(name);
    const bool by_remove = GENERATE(false, true);
    auto blocked = std::async(std::launch::async, [&] {
        auto rx = q.receiver();
        std::uint64_t seq = 0;
        return TestType::receive(rx, seq, patience);  // no sender comes: it waits for the close
    });
    if (by_remove)
        CHECK(Q::remove(name));
    else
        q.close();
    REQUIRE(blocked.wait_for(patience) == std::future_status::ready);
    CHECK(blocked.get() == errc::closed);
}

TEST_CASE("the closed rule: an unbounded queue of many senders closed as a whole refuses sends at once", "[unit]") {
    using Q = unbounded_mpsc::queue;
    scoped_queue name;
    auto q = Q::create(name);
    auto tx = q.sender();
    REQUIRE(unbounded_mpsc::send(tx, 0, at_once) == errc::ok);
    q.close();
    CHECK(unbounded_mpsc::send(tx, 1, at_once) == errc::closed);
    auto rx = q.receiver();
    std::uint64_t seq = ~std::uint64_t{0};
    REQUIRE(unbounded_mpsc::receive(rx, seq, at_once) == errc::ok);
    CHECK(seq == 0);
    CHECK(unbounded_mpsc::receive(rx, seq, at_once) == errc::closed);
}
