// Tests of ipckit::queue across fork(): delivery, a send that waits for room, the
// open-or-create race, and peers that close or are killed (SIGKILL) at a known point.
//
// Children do their work without Catch2 and report what they saw through child_report; the
// parent asserts.
// No threads are started. Parent and children signal each other through pipes (signal_pipe),
// so every wait is on the event itself, bounded by ipckit_test::patience. A child that must be
// killed at a known point first says it got there, then blocks on a pipe until it is killed.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <csignal>
#include <poll.h>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::check_of;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::make_tick;
using ipckit_test::quick_liveness;

using ipckit_test::block_until_killed;
using ipckit_test::child;
using ipckit_test::patience;
using ipckit_test::receive_ends_with;
using ipckit_test::receive_in_order;
using ipckit_test::send_all;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;

namespace {

// ---- messages -------------------------------------------------------------------------------

using msg = ipckit_test::tick;

using q4 = ipckit::queue<msg, ipckit::bounded<4>>;
using q16 = ipckit::queue<msg, ipckit::bounded<16>>;
using q64 = ipckit::queue<msg, ipckit::bounded<64>>;


}  // namespace

// ---- delivery -------------------------------------------------------------------------------

TEST_CASE("queue across processes: 1e5 messages arrive exactly once and in order", "[process]") {
    constexpr std::uint64_t n = 100'000;
    scoped_name name("queue-proc");
    auto q = q64::create(name);

    child_report report;
    child receiver_process = report.spawn([&](child_report& r) {
        auto qc = q64::open(name);
        auto rx = qc.receiver();
        r.expect(receive_in_order(rx, 0, n));
        r.expect(receive_ends_with(rx, errc::closed));  // nothing more than was sent
    });

    std::uint64_t failed_sends = 0;
    {
        auto tx = q.sender();
        for (std::uint64_t i = 0; i < n; ++i)
            if (!tx.send(make_tick(i), patience)) ++failed_sends;
    }
    CHECK(failed_sends == 0);
    CHECK(report.finish(receiver_process) == as_expected);
}

TEST_CASE("queue across processes: a blocking send on a full queue waits for room, then proceeds", "[process]") {
    scoped_name name("queue-proc");
    auto q = q4::create(name);
    auto rx = q.receiver();
    signal_pipe full, done;

    child_report report;
    child sender_process = report.spawn([&](child_report& r) {
        auto qc = q4::open(name);
        auto tx = qc.sender();
        r.expect(send_all(tx, 0, q4::capacity));
        full.post();
        r.expect(err(tx.send(make_tick(q4::capacity), patience)), errc::ok);  // blocks: the queue is full
        done.post();
    });
    done.close_write();

    REQUIRE(report.reached(sender_process, full) == as_expected);
    CHECK(q.depth() == q4::capacity);
    CHECK_FALSE(done.wait(50ms));  // its fifth send does not complete while the queue is full
    CHECK(q.depth() == q4::capacity);

    auto first = rx.receive(patience);
    REQUIRE(first);
    CHECK(first->seq == 0);
    REQUIRE(report.reached(sender_process, done) == as_expected);  // room was made: the send completed
    CHECK(report.finish(sender_process) == as_expected);

    for (std::uint64_t i = 1; i <= q4::capacity; ++i) {
        auto r = rx.receive(patience);
        REQUIRE(r);
        CHECK(r->seq == i);
        CHECK(r->check == check_of(i));
    }
    CHECK(err(rx.receive(patience)) == errc::closed);
}

TEST_CASE("queue across processes: racing open_or_create makes exactly one creator", "[process]") {
    constexpr std::uint64_t racers = 6;
    scoped_name name("queue-proc");
    signal_pipe start, attached, finish, created;

    std::vector<child_report> reports(racers);
    std::vector<child> children;
    children.reserve(racers);
    for (std::uint64_t k = 0; k < racers; ++k) {
        children.push_back(reports[k].spawn([&, k](child_report& r) {
            r.check(start.wait(), "the start signal");
            auto qc = q64::open_or_create(name);
            // Use the queue: take a turn as its sender and send our number.
            for (;;) {
                try {
                    auto tx = qc.sender<ipckit::non_blocking>();
                    r.expect(err(tx.send(make_tick(k))), errc::ok);
                    break;
                } catch (const ipckit::error& e) {
                    r.expect(e.reason(), errc::sender_busy);
                }
            }
            attached.post();
            // Keep the handle until the parent has looked, so that no creator's handle goes
            // (and takes the process_owned queue with it) while others still race to open it.
            r.check(finish.wait(), "the finish signal");
            created.post_value(qc.created() ? 1 : 0);
        }));
    }
    attached.close_write();
    start.post(racers);  // all released at once

    bool all_attached = true;
    for (std::uint64_t k = 0; k < racers && all_attached; ++k) all_attached = attached.wait();
    if (!all_attached) {  // what the ones that did not say
        finish.post(racers);
        for (std::uint64_t k = 0; k < racers; ++k) CHECK(reports[k].finish(children[k]) == as_expected);
    }
    REQUIRE(all_attached);

    auto q = q64::open(name);
    CHECK_FALSE(q.created());
    auto rx = q.receiver<ipckit::non_blocking>();
    std::set<std::uint64_t> senders;
    for (std::uint64_t k = 0; k < racers; ++k) {
        auto r = rx.receive();
        REQUIRE(r);
        CHECK(r->check == check_of(r->seq));
        senders.insert(r->seq);
    }
    CHECK_FALSE(rx.receive());  // one message each, no more
    CHECK(senders.size() == racers);
    CHECK(*senders.rbegin() == racers - 1);

    finish.post(racers);
    for (std::uint64_t k = 0; k < racers; ++k) CHECK(reports[k].finish(children[k]) == as_expected);
    created.close_write();  // each has ended: what they said is in the pipe
    int creators = 0;
    int openers = 0;
    for (std::uint64_t k = 0; k < racers; ++k) {
        const auto was_creator = created.wait_value();
        REQUIRE(was_creator);
        creators += *was_creator == 1;
        openers += *was_creator == 0;
    }
    CHECK(creators == 1);
    CHECK(openers == static_cast<int>(racers) - 1);
}

TEST_CASE("queue across processes: a second sender or receiver is refused while the first one's process lives",
          "[process]") {
    scoped_name name("queue-proc");
    auto q = q16::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();

    child_report report;
    child other = report.spawn([&](child_report& r) {
        auto qc = q16::open(name);
        const std::string holder = "process " + std::to_string(::getppid());
        const auto refused = ipckit_test::setup_error([&] { return qc.sender(); });
        r.check(refused.has_value(), "a second sender refused");
        r.expect(refused->reason(), errc::sender_busy);
        r.check(ipckit_test::contains(refused->what(), holder), "the refusal to name the holder, " + holder);
        r.expect(ipckit_test::setup_errc([&] { return qc.receiver<ipckit::non_blocking>(); }), errc::receiver_busy);
    });
    CHECK(report.finish(other) == as_expected);

    // The refused attaches left ours working.
    CHECK(tx.peer() == errc::ok);
    CHECK(rx.peer() == errc::ok);
    REQUIRE(tx.send(make_tick(0), patience));
    auto r = rx.receive(patience);
    REQUIRE(r);
    CHECK(r->seq == 0);
}

TEST_CASE("queue across processes: a child dropping its inherited copies of the parent's queue closes nothing",
          "[process]") {
    scoped_name name("queue-proc");
    std::optional<q16> q(q16::create(name));
    std::optional<ipckit::sender<q16, ipckit::blocking>> tx(q->sender());
    std::optional<ipckit::receiver<q16, ipckit::blocking>> rx(q->receiver());

    child_report report;
    child dropper = report.spawn([&](child_report&) {
        // What a child that returns normally does to everything it inherited.
        tx.reset();
        rx.reset();
        q.reset();
    });
    REQUIRE(report.finish(dropper) == as_expected);

    CHECK(ipckit::segment_exists(name));  // not removed by the child
    CHECK(tx->peer() == errc::ok);       // not closed by the child
    CHECK(rx->peer() == errc::ok);
    REQUIRE(tx->send(make_tick(0), patience));
    auto r = rx->receive(patience);
    REQUIRE(r);
    CHECK(r->seq == 0);
}

// ---- a peer that goes -----------------------------------------------------------------------

TEST_CASE("queue across processes: a send on a full queue whose receiver was killed returns peer_dead",
          "[process]") {
    scoped_name name("queue-proc");
    auto q = q4::create(name, quick_liveness(20ms));
    signal_pipe attached, hold;

    child receiver_process([&] {
        auto qc = q4::open(name);
        auto rx = qc.receiver();
        attached.post();
        return block_until_killed(hold);
    });
    attached.close_write();
    REQUIRE(attached.wait());

    auto tx = q.sender();
    for (std::uint64_t i = 0; i < q4::capacity; ++i) REQUIRE(tx.send(make_tick(i), patience));
    CHECK(err(tx.send(make_tick(q4::capacity), 50ms)) == errc::timed_out);  // full, receiver alive
    CHECK(tx.peer() == errc::ok);

    CHECK(receiver_process.kill() == killed_by_sigkill);
    CHECK(tx.peer() == errc::peer_dead);
    // The death once, then the closed rule: nobody left to read.
    REQUIRE(err(tx.send(make_tick(q4::capacity), patience)) == errc::peer_dead);
    CHECK(err(tx.send(make_tick(q4::capacity))) == errc::closed);  // no deadline: still returns
    CHECK(q.depth() == q4::capacity);
}

TEST_CASE("queue across processes: a sender blocked on a full queue gets closed when the receiver closes",
          "[process]") {
    scoped_name name("queue-proc");
    auto q = q4::create(name);
    std::optional<ipckit::receiver<q4, ipckit::blocking>> rx(q.receiver());
    signal_pipe full, done;

    child_report report;
    child sender_process = report.spawn([&](child_report& r) {
        auto qc = q4::open(name);
        auto tx = qc.sender();
        r.expect(send_all(tx, 0, q4::capacity));
        full.post();
        const auto s = tx.send(make_tick(q4::capacity), patience);  // blocks: the queue is full
        done.post();
        r.expect(err(s), errc::closed);
    });
    done.close_write();

    REQUIRE(report.reached(sender_process, full) == as_expected);
    CHECK_FALSE(done.wait(50ms));  // blocked while the receiver is open
    rx.reset();
    CHECK(report.finish(sender_process) == as_expected);
}

TEST_CASE("queue across processes: a send on a full queue whose receiver exited cleanly returns closed",
          "[process]") {
    scoped_name name("queue-proc");
    auto q = q4::create(name);
    auto tx = q.sender();

    child_report report;
    child receiver_process = report.spawn([&](child_report& r) {
        auto qc = q4::open(name);
        auto rx = qc.receiver();
        r.expect(receive_in_order(rx, 0, 1));  // one message, then it closes and exits
    });
    REQUIRE(tx.send(make_tick(0), patience));
    CHECK(report.finish(receiver_process) == as_expected);

    CHECK(tx.peer() == errc::closed);
    // Not full yet: these still go in (nobody will read them).
    for (std::uint64_t i = 1; i <= q4::capacity; ++i) REQUIRE(tx.send(make_tick(i), patience));
    CHECK(err(tx.send(make_tick(q4::capacity + 1), patience)) == errc::closed);
}

// ---- a peer that is replaced ----------------------------------------------------------------

TEST_CASE("queue across processes: a new sender takes over from a killed one and the receiver continues",
          "[process]") {
    constexpr std::uint64_t k = 10;
    constexpr std::uint64_t m = 200;  // more than the capacity: the new sender waits for room too
    scoped_name name("queue-proc");
    auto q = q64::create(name, quick_liveness(20ms));
    auto rx = q.receiver();
    signal_pipe sent, hold;

    child_report first_report;
    child first_sender = first_report.spawn([&](child_report& r) {
        auto qc = q64::open(name);
        auto tx = qc.sender();
        r.expect(send_all(tx, 0, k));
        sent.post();
        r.block_until_killed(hold);
    });
    REQUIRE(first_report.reached(first_sender, sent) == as_expected);
    CHECK(first_sender.kill() == killed_by_sigkill);

    for (std::uint64_t i = 0; i < k; ++i) {
        auto r = rx.receive(patience);
        REQUIRE(r);
        CHECK(r->seq == i);
    }
    CHECK(err(rx.receive(patience)) == errc::peer_dead);
    CHECK(err(rx.receive(patience)) == errc::closed);  // nobody there now: the closed rule

    signal_pipe attached;
    child_report second_report;
    child second_sender = second_report.spawn([&](child_report& r) {
        auto qc = q64::open(name);
        auto tx = qc.sender();  // the dead one's slot: sender_busy here would be reported
        attached.post();
        r.expect(send_all(tx, k, k + m));
    });
    // Closed is not for ever: once it is there, the receiver goes on.
    REQUIRE(second_report.reached(second_sender, attached) == as_expected);
    for (std::uint64_t i = k; i < k + m; ++i) {
        auto r = rx.receive(patience);
        REQUIRE(r);
        CHECK(r->seq == i);
        CHECK(r->check == check_of(i));
    }
    CHECK(second_report.finish(second_sender) == as_expected);
    CHECK(err(rx.receive(patience)) == errc::closed);
}

/// The SPSC ring whose head a receiver moves: the queue's, or a lanes queue's first lane.
template <class Shared>
auto& first_spsc_ring(Shared& sh) {
    if constexpr (requires { sh.ring.lanes[0]; })
        return sh.ring.lanes[0];
    else
        return sh.ring;
}

TEMPLATE_TEST_CASE("queue across processes: a receiver that finishes a killed one's last batch wakes the sender "
                   "waiting for that room",
                   "[process]", q4, (ipckit::queue<msg, ipckit::bounded<4>, ipckit::lanes<1>>)) {
    scoped_name name("queue-proc");
    ipckit::options slow;
    slow.liveness_interval = 1h;  // no look at the receiver's liveness wakes the sender meanwhile
    auto q = TestType::create(name, slow);
    signal_pipe attached, hold, sent;
    child first_receiver([&] {
        auto rx = TestType::open(name).receiver();
        attached.post();
        return block_until_killed(hold);
    });
    REQUIRE(attached.wait());
    CHECK(first_receiver.kill() == killed_by_sigkill);
    child_report report;
    child sender = report.spawn([&](child_report& r) {
        auto tx = TestType::open(name, slow).sender();
        r.expect(send_all(tx, 0, 4));  // full
        r.expect(err(tx.send(make_tick(4), 1h)), errc::ok);
        sent.post();
    });
    auto seg = ipckit::segment::open(name.str(), TestType::layout(), {});
    auto& sh = *static_cast<typename TestType::shared*>(seg.body());
    REQUIRE(ipckit_test::eventually([&] { return sh.senders.places[0].asleep.load() != 0; }));
    // White box: the ring as the killed receiver would have left it, killed between the check
    // and the head of a batch of all four (their reads done, the head not yet moved).
    auto& ring = first_spsc_ring(sh);
    ring.head_from.store(0);
    ring.head_check.store(~std::uint64_t{4});
    auto rx = q.receiver();  // in the killed one's place: finishes that batch, room for four
    const bool woke = sent.wait();
    CHECK(woke);  // not at its next look, an hour on
    if (!woke) q.close();  // lets it go, to end the test
    CHECK(report.finish(sender) == as_expected);
    const auto m = rx.receive(patience);
    REQUIRE(m);
    CHECK(m->seq == 4);  // the batch went with the killed receiver
}

TEST_CASE("queue across processes: a new receiver takes over from a killed one and gets exactly the rest",
          "[process]") {
    constexpr std::uint64_t n = 2000;
    constexpr std::uint64_t stop_after = 700;
    scoped_name name("queue-proc");
    auto q = q16::create(name);
    signal_pipe consumed, hold;

    // Sends 0..n-1 without gaps. While no live receiver drains the full queue a send returns
    // peer_dead, once, and then closed (the closed rule: nobody is there to read) until the next
    // receiver attaches; it sends the same message again until one has.
    child_report sender_report;
    child sender_process = sender_report.spawn([&](child_report& r) {
        auto qc = q16::open(name, quick_liveness(20ms));
        auto tx = qc.sender();
        const auto deadline = std::chrono::steady_clock::now() + patience;
        for (std::uint64_t i = 0; i < n; ++i) {
            for (;;) {
                const auto s = tx.send(make_tick(i), deadline);
                if (s) break;
                if (s.error() != errc::closed) r.expect(s.error(), errc::peer_dead);
            }
        }
    });
    // Takes stop_after messages, says it did, and is killed while the sender still sends.
    child_report first_report;
    child first_receiver = first_report.spawn([&](child_report& r) {
        auto qc = q16::open(name);
        auto rx = qc.receiver();
        r.expect(receive_in_order(rx, 0, stop_after));
        consumed.post();
        r.block_until_killed(hold);
    });
    REQUIRE(first_report.reached(first_receiver, consumed) == as_expected);
    CHECK(first_receiver.kill() == killed_by_sigkill);

    child_report second_report;
    child second_receiver = second_report.spawn([&](child_report& r) {
        auto qc = q16::open(name);
        auto rx = qc.receiver();  // the dead one's slot
        r.expect(receive_in_order(rx, stop_after, n));
        r.expect(receive_ends_with(rx, errc::closed));  // nothing lost, nothing twice
    });
    CHECK(second_report.finish(second_receiver) == as_expected);
    CHECK(sender_report.finish(sender_process) == as_expected);
}

