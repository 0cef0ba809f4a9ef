// Tests of broadcast mailboxes across fork(): 64 receiver processes each get every message of
// several sender processes in order, a SIGKILLed receiver stops holding senders back, a sender
// SIGKILLed in the middle of traffic leaves its published messages whole and in order and stalls
// nobody, a receiver that restarts finds what was sent while it was away, and removal wakes
// blocked processes on both sides. Processes killed in the middle of the receiver table's
// protocol (a helper giving up a dead receiver's place, a receiver attaching or closing) are
// simulated exactly: a child performs the library's steps up to that point through the detail
// API and _exits, which is what SIGKILL there leaves behind; afterwards receivers attach and
// traffic flows.
//
// Children do their work without Catch2 and report through child_report or pipes; the parent
// asserts. No threads are started. Every wait is on the event itself, bounded by
// ipckit_test::patience.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/mailbox.hpp>
#include <ipckit/queue.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::make_tick;
using ipckit_test::patience;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;
using ipckit_test::tick;

namespace {

using box = ipckit::mailbox<tick, ipckit::bounded<32>, ipckit::broadcast, ipckit::system_owned>;

bool whole(const tick& m) { return m.check == ipckit_test::check_of(m.seq); }

namespace d = ipckit::detail;
constexpr std::size_t table_places = 8;

ipckit::broadcast_options small_table() { return {ipckit_test::quick_liveness(), table_places}; }

/// The broadcast mailbox `name`'s shared part and receiver table, mapped again in this process.
struct table_view {
    ipckit::segment seg;
    box::shared* sh;
    d::broadcast_place* places;
    explicit table_view(const std::string& name)
        : seg(ipckit::segment::open(name, box::layout(table_places), small_table())),
          sh(static_cast<box::shared*>(seg.body())), places(d::places_of(*sh)) {}
};

/// In a child: what a process that finds place `i`'s holder dead does (give_up_dead_place),
/// up to and including moving base, then dies with the place still held in its name.
[[noreturn]] void give_up_and_die(const child_report& r, const std::string& name, std::size_t i) {
    table_view v(name);
    auto& p = v.places[i];
    std::uint64_t h = p.place.holder.load();
    r.check(d::holds(h) && !d::sys::is_alive(d::sys::process_id::unpack(h)), "place held by a dead process");
    r.check(p.place.holder.compare_exchange_strong(h, d::sys::self().pack()), "the holder word unchanged, to claim it");
    d::forget_sleeper(v.sh->data_bell, p.place.asleep);
    const bool started = p.place.pending.load() == 1;
    const bool alone = v.sh->ring.held_places(v.sh->ring.high, v.places, table_places, i) == 0;
    v.sh->ring.give_up(p.next.load(), started && alone);
    ::_exit(0);  // SIGKILL here: the started flag still set, the holder word naming us
}

/// Sends `from..to` through a blocking sender (each must be accepted within patience).
template <class Tx>
bool send_range(Tx& tx, std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t i = from; i < to; ++i)
        if (err(tx.send(make_tick(i), patience)) != errc::ok) return false;
    return true;
}

/// Whether `rx` (non-blocking) has exactly `from..to` waiting, whole and in order.
template <class Rx>
bool holds_exactly(Rx& rx, std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t i = from; i < to; ++i) {
        auto m = rx.receive();
        if (!m || m->seq != i || !whole(*m)) return false;
    }
    return err(rx.receive()) == errc::would_block;
}

}  // namespace

TEST_CASE("broadcast: 64 receiver processes each get every message of 3 sender processes, in order", "[process]") {
    scoped_name name("bcastp");
    auto b = box::create(name);
    constexpr int receivers = 64, senders = 3;
    constexpr std::uint64_t per_sender = 200;
    signal_pipe ready;
    std::vector<child_report> rx_reports(receivers);
    std::vector<child> rx;
    for (std::size_t c = 0; c < receivers; ++c)
        rx.push_back(rx_reports[c].spawn([&](child_report& r) {
            auto in = box::open(name).receiver();
            ready.post();
            std::uint64_t next[senders] = {};
            std::uint64_t sum = 0;
            for (std::uint64_t n = 0; n < senders * per_sender; ++n) {
                auto m = in.receive(patience);
                r.expect(err(m), errc::ok);
                r.check(whole(*m), "a whole message");
                const std::uint64_t s = m->seq / per_sender, k = m->seq % per_sender;
                r.check(s < senders, "a message of one of the senders");
                r.expect_value(k, next[s]);  // lost, repeated or out of order
                ++next[s];
                sum += ipckit_test::mix(m->seq);
            }
            std::uint64_t want = 0;
            for (std::uint64_t i = 0; i < senders * per_sender; ++i) want += ipckit_test::mix(i);
            r.expect_value(sum, want);
            r.expect(err(in.receive(std::chrono::milliseconds(0))), errc::timed_out);  // nothing extra
        }));
    for (int c = 0; c < receivers; ++c) REQUIRE(ready.wait());
    CHECK(b.receivers() == receivers);
    std::vector<child_report> tx_reports(senders);
    std::vector<child> tx;
    for (std::size_t s = 0; s < senders; ++s)
        tx.push_back(tx_reports[s].spawn([&, s](child_report& r) {
            auto out = box::open(name).sender();
            for (std::uint64_t k = 0; k < per_sender; ++k)
                r.expect(err(out.send(make_tick(s * per_sender + k), patience)), errc::ok);
        }));
    for (std::size_t s = 0; s < senders; ++s) CHECK(tx_reports[s].finish(tx[s]) == as_expected);
    for (std::size_t c = 0; c < receivers; ++c) CHECK(rx_reports[c].finish(rx[c]) == as_expected);
    CHECK(b.receivers() == 0);
}

TEST_CASE("broadcast: a SIGKILLed receiver stops holding senders back", "[process]") {
    scoped_name name("bcastp");
    auto b = box::create(name, {ipckit_test::quick_liveness(), 0});
    auto fast = b.receiver<ipckit::non_blocking>();
    signal_pipe ready, hold;
    child slow([&] {
        auto in = box::open(name).receiver();  // attaches, then never reads
        ready.post();
        return ipckit_test::block_until_killed(hold);
    });
    REQUIRE(ready.wait());
    auto tx = b.sender<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < 32; ++i) {
        REQUIRE(err(tx.send(make_tick(i))) == errc::ok);
        REQUIRE(fast.receive()->seq == i);
    }
    CHECK(err(tx.send(make_tick(32))) == errc::would_block);  // the slow one is 32 behind
    CHECK(slow.kill() == ipckit_test::killed_by_sigkill);
    // A blocking sender notices the death within about a liveness interval and goes on.
    auto btx = b.sender();
    for (std::uint64_t i = 32; i < 40; ++i) REQUIRE(err(btx.send(make_tick(i), patience)) == errc::ok);
    for (std::uint64_t i = 32; i < 40; ++i) CHECK(fast.receive()->seq == i);
    CHECK(b.receivers() == 1);
}

TEST_CASE("broadcast: a sender SIGKILLed mid-traffic leaves whole messages in order and stalls nobody", "[process]") {
    scoped_name name("bcastp");
    auto b = box::create(name, {ipckit_test::quick_liveness(), 0});
    auto r1 = b.receiver();
    auto r2 = b.receiver();
    ipckit_test::shared_memory counter(sizeof(std::atomic<std::uint64_t>));
    auto* published = ::new (counter.data()) std::atomic<std::uint64_t>(0);
    signal_pipe started;
    child_report victim_report;
    child victim = victim_report.spawn([&](child_report& r) {
        auto out = box::open(name, ipckit_test::quick_liveness()).sender();
        for (std::uint64_t i = 0;; ++i) {
            r.expect(err(out.send(make_tick(i), patience)), errc::ok);
            published->store(i + 1, std::memory_order_release);
            if (i == 10) started.post();
        }
    });
    REQUIRE(victim_report.reached(victim, started) == as_expected);
    // Read some while it runs, then kill it at whatever point it has reached.
    std::uint64_t n1 = 0, n2 = 0;
    for (int k = 0; k < 50; ++k) {
        auto a = r1.receive(patience), c = r2.receive(patience);
        REQUIRE((a && c));
        REQUIRE((a->seq == n1 && whole(*a)));
        REQUIRE((c->seq == n2 && whole(*c)));
        ++n1, ++n2;
    }
    CHECK(victim_report.ended(victim.kill(), killed_by_sigkill) == as_expected);
    const std::uint64_t sent = published->load(std::memory_order_acquire);
    // A live sender after it (in another process: the ring may be full until we read): its
    // message must arrive, past any slot the victim left claimed.
    child_report after_report;
    child after = after_report.spawn([&](child_report& r) {
        auto out = box::open(name).sender();
        r.expect(err(out.send(make_tick(1'000'000), patience)), errc::ok);
    });
    // Read from both in turn: one left behind would hold the new sender back (that is broadcast).
    ipckit::receiver<box>* rx[2] = {&r1, &r2};
    std::uint64_t* n[2] = {&n1, &n2};
    bool done[2] = {false, false};
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (!(done[0] && done[1]) && std::chrono::steady_clock::now() < deadline) {
        for (int k = 0; k < 2; ++k) {
            if (done[k]) continue;
            auto m = rx[k]->receive(10ms);
            if (!m) {
                REQUIRE(m.error() == errc::timed_out);
                continue;
            }
            REQUIRE(whole(*m));
            if (m->seq == 1'000'000) {
                done[k] = true;
                continue;
            }
            CHECK(m->seq == *n[k]);  // in order, nothing skipped
            ++*n[k];
        }
    }
    REQUIRE((done[0] && done[1]));
    // Everything whose send returned ok arrived; at most the one in flight besides.
    for (const std::uint64_t got : {n1, n2}) {
        CHECK(got >= sent);
        CHECK(got <= sent + 1);
    }
    CHECK(after_report.finish(after) == as_expected);
}

TEST_CASE("broadcast: a receiver that restarts finds the messages sent while it was away", "[process]") {
    scoped_name name("bcastp");
    auto b = box::create(name);
    auto tx = b.sender();
    signal_pipe first_done;
    child_report first_report;
    child first = first_report.spawn([&](child_report& r) {
        auto in = box::open(name).receiver();
        first_done.post();
        for (std::uint64_t i = 0; i < 2; ++i) {
            auto m = in.receive(patience);
            r.expect(err(m), errc::ok);
            r.expect_value(m->seq, i);
        }
        // leaves having read 2
    });
    REQUIRE(first_report.reached(first, first_done) == as_expected);
    for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(err(tx.send(make_tick(i), patience)) == errc::ok);
    CHECK(first_report.finish(first) == as_expected);
    for (std::uint64_t i = 5; i < 8; ++i) REQUIRE(err(tx.send(make_tick(i), patience)) == errc::ok);
    child_report again_report;
    child again = again_report.spawn([&](child_report& r) {
        auto in = box::open(name).receiver<ipckit::non_blocking>();
        for (std::uint64_t i = 2; i < 8; ++i) {
            auto m = in.receive();
            r.expect(err(m), errc::ok);
            r.expect_value(m->seq, i);
            r.check(whole(*m), "a whole message");
        }
        r.expect(err(in.receive()), errc::would_block);
    });
    CHECK(again_report.finish(again) == as_expected);
}

TEST_CASE("broadcast: remove wakes a blocked sender with closed and a blocked receiver after it drained", "[process]") {
    scoped_name name("bcastp");
    auto b = box::create(name);
    auto slow = b.receiver<ipckit::non_blocking>();  // never reads until the end: senders fill the ring
    signal_pipe receiver_ready, sender_full;
    child_report receiver_report;
    child receiver = receiver_report.spawn([&](child_report& r) {
        auto in = box::open(name).receiver();
        receiver_ready.post();
        std::uint64_t n = 0;
        for (;;) {
            auto m = in.receive(patience);
            if (!m) {
                r.expect(m.error(), errc::closed);
                r.expect_value(n, 32);
                return;
            }
            r.expect_value(m->seq, n++);
            r.check(whole(*m), "a whole message");
        }
    });
    REQUIRE(receiver_report.reached(receiver, receiver_ready) == as_expected);
    child_report sender_report;
    child sender = sender_report.spawn([&](child_report& r) {
        auto out = box::open(name).sender();
        for (std::uint64_t i = 0; i < 32; ++i) r.expect(err(out.send(make_tick(i), patience)), errc::ok);
        sender_full.post();
        r.expect(err(out.send(make_tick(32), patience)), errc::closed);  // blocked on the slow one
    });
    REQUIRE(sender_report.reached(sender, sender_full) == as_expected);
    CHECK(box::remove(name));
    CHECK(sender_report.finish(sender) == as_expected);
    CHECK(receiver_report.finish(receiver) == as_expected);
    std::uint64_t n = 0;
    for (;;) {
        auto m = slow.receive();
        if (!m) {
            CHECK(m.error() == errc::closed);
            break;
        }
        CHECK(m->seq == n++);
    }
    CHECK(n == 32);
}

TEST_CASE("broadcast: a process killed while giving up a dead receiver's place leaves the mailbox usable",
          "[process]") {
    scoped_name name("bcastp");
    auto b = box::create(name, small_table());
    auto tx = b.sender();
    auto r = b.receiver<ipckit::non_blocking>();
    // A receiver that dies attached (its close never runs), having read nothing.
    child_report dead_report;
    child dead = dead_report.spawn([&](child_report&) {
        auto in = box::open(name).receiver();
        ::_exit(0);
    });
    REQUIRE(dead_report.finish(dead) == as_expected);
    REQUIRE(b.receivers() == 2);
    REQUIRE(send_range(tx, 0, 4));
    REQUIRE(holds_exactly(r, 0, 4));
    // The place of the dead receiver is the one r does not hold.
    table_view v(name);
    const std::size_t r_place = d::sys::is_alive(d::sys::process_id::unpack(v.places[0].place.holder.load())) ? 0 : 1;
    child_report helper_report;
    child helper = helper_report.spawn([&](child_report& rep) { give_up_and_die(rep, name, 1 - r_place); });
    REQUIRE(helper_report.finish(helper) == as_expected);
    CHECK(b.receivers() == 2);  // the dead helper holds the place now, at the dead receiver's cursor
    // It holds senders back until a blocked sender gives it up (again) for the dead helper.
    REQUIRE(send_range(tx, 4, 4 + 32));
    REQUIRE(holds_exactly(r, 4, 4 + 32));
    REQUIRE(send_range(tx, 36, 40));
    REQUIRE(holds_exactly(r, 36, 40));
    CHECK(b.receivers() == 1);
    // r leaves alone having read everything; what is sent next waits for the next receiver.
    r.close();
    CHECK(b.receivers() == 0);
    REQUIRE(send_range(tx, 40, 43));
    auto r2 = b.receiver<ipckit::non_blocking>();  // alone: starts where r stopped
    auto r3 = b.receiver<ipckit::non_blocking>();  // not alone: starts at the tail
    REQUIRE(send_range(tx, 43, 45));
    CHECK(holds_exactly(r2, 40, 45));
    CHECK(holds_exactly(r3, 43, 45));
    CHECK(b.receivers() == 2);
}

TEST_CASE("broadcast: a receiver killed in its attach before its start is set neither corrupts nor loses the backlog",
          "[process]") {
    scoped_name name("bcastp");
    auto b = box::create(name, small_table());
    auto tx = b.sender();
    {
        auto r = b.receiver<ipckit::non_blocking>();
        REQUIRE(send_range(tx, 0, 20));
        REQUIRE(holds_exactly(r, 0, 20));
    }  // left alone at 20: base is 20
    // broadcast_receiver's constructor, killed after claiming a place, raising the high-water
    // mark and bumping epoch with its provisional cursor 0 in place: its start never stored.
    child_report report;
    child dying = report.spawn([&](child_report& r) {
        table_view v(name);
        auto& p = v.places[0];
        std::uint64_t h = p.place.holder.load();
        r.check(!d::holds(h) && p.place.holder.compare_exchange_strong(h, d::sys::self().pack()),
                "place 0 free, to claim it");
        decltype(v.sh->ring)::raise(v.sh->ring.high, 1);
        p.place.pending.store(0);
        p.next.store(0);
        v.sh->ring.epoch.fetch_add(1);
        ::_exit(0);
    });
    REQUIRE(report.finish(dying) == as_expected);
    CHECK(b.receivers() == 1);
    REQUIRE(send_range(tx, 20, 20 + 32));  // the ring kept for the next receiver, full now
    // The next receiver gives the dead one's place up, is alone, and starts at the backlog.
    auto r2 = b.receiver<ipckit::non_blocking>();
    CHECK(b.receivers() == 1);
    CHECK(holds_exactly(r2, 20, 52));
    REQUIRE(send_range(tx, 52, 60));
    CHECK(holds_exactly(r2, 52, 60));
}

TEST_CASE("broadcast: a receiver killed in its close after moving base leaves the mailbox usable", "[process]") {
    const bool flag_cleared = GENERATE(false, true);  // killed before / after clearing its started flag
    scoped_name name("bcastp");
    auto b = box::create(name, small_table());
    auto tx = b.sender();
    auto r = b.receiver<ipckit::non_blocking>();
    signal_pipe attached, go;
    child_report report;
    child leaver = report.spawn([&](child_report& rep) {
        auto in = box::open(name).receiver<ipckit::non_blocking>();
        attached.post();
        rep.check(go.wait(), "the go signal");
        for (std::uint64_t i = 0; i < 10; ++i) rep.expect(err(in.receive()), errc::ok);
        // broadcast_receiver::close(), killed before its place stops gating.
        table_view v(name);
        std::size_t mine = 0;
        while (mine < table_places && v.places[mine].place.holder.load() != d::sys::self().pack()) ++mine;
        rep.check(mine < table_places, "a place held by this process");
        const bool alone = v.sh->ring.held_places(v.sh->ring.high, v.places, table_places, mine) == 0;
        v.sh->ring.give_up(v.places[mine].next.load(), alone);
        if (flag_cleared) v.places[mine].place.pending.store(0);
        ::_exit(0);
    });
    REQUIRE(report.reached(leaver, attached) == as_expected);
    REQUIRE(send_range(tx, 0, 10));
    go.post();
    REQUIRE(report.finish(leaver) == as_expected);
    CHECK(b.receivers() == 2);
    REQUIRE(holds_exactly(r, 0, 10));
    REQUIRE(send_range(tx, 10, 10 + 32));
    REQUIRE(holds_exactly(r, 10, 42));
    // The dead leaver's place (cursor 10) holds senders back until a blocked sender gives it up.
    REQUIRE(send_range(tx, 42, 50));
    CHECK(holds_exactly(r, 42, 50));
    CHECK(b.receivers() == 1);
    r.close();
    REQUIRE(send_range(tx, 50, 53));
    auto r2 = b.receiver<ipckit::non_blocking>();  // alone: starts where r stopped
    CHECK(holds_exactly(r2, 50, 53));
}
