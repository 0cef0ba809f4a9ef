// Tests of ipckit::mailbox across fork(): receivers, senders and owners SIGKILLed in the middle
// of traffic, round_robin shares, a receiver that restarts, removal while in use, and a
// round_robin receiver killed while giving up a dead receiver's place (simulated exactly: a
// child performs the library's steps up to that point through the detail API and _exits).
//
// Accounting is exact: every receiver reports each message it got through a pipe (8 bytes:
// the message's seq, which holds its sender in the top 32 bits), senders report how many sends
// returned ok, and the parent checks that each message accepted was delivered exactly once,
// each sender's in the order sent. A child that is killed at a known point first says it got
// there, then blocks on a pipe until it is killed (block_until_killed). Children use no Catch2
// macros and report through pipes and their exit code; no threads are started.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/mailbox.hpp>
#include <ipckit/segment.hpp>

#include <chrono>
#include <cstdint>
#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <csignal>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::block_until_killed;
using ipckit_test::check_of;
using ipckit_test::child;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::make_tick;
using ipckit_test::patience;
using ipckit_test::quick_liveness;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;
using ipckit_test::tick;

namespace {

constexpr std::uint64_t seq_of(std::uint64_t sender, std::uint64_t i) noexcept { return (sender << 32) | i; }

/// Child exit codes.
constexpr int ok_code = 0, bad_error = 1, bad_message = 2, out_of_order = 3, bad_count = 4;

/// For a child: sends `count` messages of sender `id`, blocking; 0 if every send was ok.
template <class Box>
int send_all(const std::string& name, std::uint64_t id, std::uint64_t count) {
    auto tx = Box::open(name, quick_liveness()).sender();
    for (std::uint64_t i = 0; i < count; ++i)
        if (!tx.send(make_tick(seq_of(id, i)), patience)) return bad_error;
    return ok_code;
}

/// For a child: receives on `rx` until closed (or `limit` messages), reporting each seq on
/// `report`; checks each message's check word and that each sender's numbers rise.
template <class Rx>
int receive_and_report(Rx& rx, const signal_pipe& report, std::uint64_t limit = ~0ULL) {
    std::map<std::uint64_t, std::uint64_t> next;  // sender -> lowest seq it may send next
    for (std::uint64_t n = 0; n < limit; ++n) {
        auto m = rx.receive(patience);
        if (!m) return m.error() == errc::closed && limit == ~0ULL ? ok_code : bad_error;
        if (m->check != check_of(m->seq)) return bad_message;
        const std::uint64_t sender = m->seq >> 32, i = m->seq & 0xffff'ffffULL;
        if (i < next[sender]) return out_of_order;
        next[sender] = i + 1;
        report.post_value(m->seq);
    }
    return ok_code;
}

/// The parent's tally of what the receivers reported: seqs per sender, in report order.
struct tally {
    std::map<std::uint64_t, std::vector<std::uint64_t>> by_sender;
    std::uint64_t total = 0;
};

/// Reads exactly `n` reports (false if one does not come within patience).
bool read_reports(const signal_pipe& report, std::uint64_t n, tally& t) {
    for (std::uint64_t k = 0; k < n; ++k) {
        const auto v = report.wait_value();
        if (!v) return false;
        t.by_sender[*v >> 32].push_back(*v & 0xffff'ffffULL);
        t.total++;
    }
    return true;
}

/// Whether sender s's messages 0..count-1 each appear exactly once in t.
bool exactly_once(const tally& t, std::uint64_t s, std::uint64_t count) {
    const auto it = t.by_sender.find(s);
    if (it == t.by_sender.end()) return count == 0;
    std::vector<int> seen(count, 0);
    for (const auto i : it->second) {
        if (i >= count) return false;
        seen[i]++;
    }
    for (const int c : seen)
        if (c != 1) return false;
    return true;
}

/// Whether sender s's messages appear in the order it sent them.
bool in_order(const tally& t, std::uint64_t s) {
    const auto it = t.by_sender.find(s);
    return it == t.by_sender.end() || std::is_sorted(it->second.begin(), it->second.end());
}

/// Receivers are killed mid-traffic, senders keep sending; the parent removes the mailbox when
/// the senders are done, and the surviving receivers drain it. Exact accounting.
template <class Box>
void kill_a_receiver_in_the_middle(int survivors) {
    scoped_name name("mbox");
    auto mb = Box::create(name, quick_liveness());
    constexpr std::uint64_t per_sender = 400;
    constexpr std::uint64_t before_kill = 50;
    signal_pipe report, reached, hold;

    // A receives before_kill messages, says so, and blocks until killed.
    child a([&] {
        auto rx = Box::open(name, quick_liveness()).receiver();
        const int code = receive_and_report(rx, report, before_kill);
        if (code != ok_code) return code;
        reached.post();
        return block_until_killed(hold);
    });
    std::vector<child> senders;
    for (std::uint64_t s = 0; s < 2; ++s)
        senders.emplace_back([&, s] { return send_all<Box>(name, s, per_sender); });

    REQUIRE(reached.wait());
    // Killed while the senders are still at it (they cannot have finished: A took only 50 of
    // their 800 and the mailbox holds 16). round_robin: the turn is A's (it was alone), and the
    // others must find A dead and pass it on.
    REQUIRE(a.kill() == killed_by_sigkill);
    // The next receivers get the rest (exclusive: B takes A's place). They use the parent's
    // handle: the mailbox may be drained and removed before one of them gets to open it.
    child b([&] {
        auto rx = mb.receiver();
        return receive_and_report(rx, report);
    });
    std::vector<child> others;
    for (int i = 0; i < survivors; ++i)
        others.emplace_back([&] {
            auto rx = mb.receiver();
            return receive_and_report(rx, report);
        });
    tally t;
    // Read as they come (a pipe holds only so many reports), then end the traffic.
    REQUIRE(read_reports(report, 2 * per_sender, t));
    for (auto& s : senders) CHECK(s.wait() == ok_code);
    REQUIRE(Box::remove(name));
    CHECK(b.wait() == ok_code);
    for (auto& o : others) CHECK(o.wait() == ok_code);
    CHECK(t.total == 2 * per_sender);
    for (std::uint64_t s = 0; s < 2; ++s) CHECK(exactly_once(t, s, per_sender));
    if (survivors == 0)
        for (std::uint64_t s = 0; s < 2; ++s) CHECK(in_order(t, s));  // one receiver at a time
}

}  // namespace

TEST_CASE("mailbox process: exclusive, the receiver killed mid-traffic is replaced and nothing is lost",
          "[process]") {
    kill_a_receiver_in_the_middle<ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::exclusive, ipckit::system_owned>>(0);
}

TEST_CASE("mailbox process: any, a receiver killed mid-traffic loses nothing", "[process]") {
    kill_a_receiver_in_the_middle<ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::any, ipckit::system_owned>>(2);
}

TEST_CASE("mailbox process: round_robin, a receiver killed mid-traffic loses nothing", "[process]") {
    kill_a_receiver_in_the_middle<ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::round_robin, ipckit::system_owned>>(2);
}

TEST_CASE("mailbox process: round_robin receivers get exactly equal shares, in turn and in order", "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<32>, ipckit::round_robin, ipckit::system_owned>;
    scoped_name name("mbox");
    auto mb = box::create(name);
    constexpr std::uint64_t receivers = 3, each = 200;
    signal_pipe attached;
    std::vector<child> rx;
    // Attached one after another, receiver r holds roster place r and so has turns r, r+3, ...
    for (std::uint64_t r = 0; r < receivers; ++r) {
        rx.emplace_back([&, r] {
            auto in = box::open(name).receiver();
            attached.post();
            std::uint64_t n = 0;
            for (;; ++n) {
                auto m = in.receive(patience);
                if (!m) return m.error() == errc::closed && n == each ? ok_code : bad_count;
                if (m->check != check_of(m->seq)) return bad_message;
                if (m->seq != r + n * receivers) return out_of_order;
            }
        });
        REQUIRE(attached.wait());
    }
    auto tx = mb.sender();
    for (std::uint64_t i = 0; i < receivers * each; ++i) REQUIRE(tx.send(make_tick(i), patience));
    REQUIRE(box::remove(name));
    for (auto& c : rx) CHECK(c.wait() == ok_code);
}

TEST_CASE("mailbox process: round_robin, a receiver that replaces a killed one takes its place and its turn at once",
          "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::round_robin, ipckit::system_owned>;
    scoped_name name("mbox");
    auto mb = box::create(name);
    signal_pipe ready, hold;
    child dead([&] {
        auto in = box::open(name).receiver();  // roster place 0, whose turn it is
        ready.post();
        return block_until_killed(hold);
    });
    ready.close_write();
    REQUIRE(ready.wait());
    REQUIRE(dead.kill() == killed_by_sigkill);
    // Liveness asked about once an hour: only taking the dead one's place can give the turn
    // to the replacement now; a receiver in another place would wait for its check.
    ipckit::options slow;
    slow.liveness_interval = std::chrono::hours(1);
    auto r = box::open(name, slow).receiver<ipckit::non_blocking>();
    auto tx = mb.sender();
    REQUIRE(tx.send(make_tick(0), patience));
    const auto m = r.receive();
    REQUIRE(err(m) == errc::ok);
    CHECK(m->seq == 0);
}

TEST_CASE("mailbox process: a sender killed mid-traffic costs at most its message in flight", "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<8>, ipckit::any, ipckit::system_owned>;
    scoped_name name("mbox");
    auto mb = box::create(name, quick_liveness());
    constexpr std::uint64_t steady_count = 300;
    signal_pipe report, acks, reached;
    child receiver([&] {
        auto rx = box::open(name, quick_liveness()).receiver();
        return receive_and_report(rx, report);
    });
    // Sender 1 sends, acknowledging each ok, and is killed wherever it is. (It stops after 2000,
    // so that the reports fit in their pipes should the kill come late.)
    signal_pipe hold;
    child doomed([&] {
        auto tx = box::open(name, quick_liveness()).sender();
        for (std::uint64_t i = 0; i < 2000; ++i) {
            if (!tx.send(make_tick(seq_of(1, i)), patience)) return bad_error;
            acks.post_value(i);
            if (i == 50) reached.post();
        }
        return block_until_killed(hold);
    });
    child steady([&] { return send_all<box>(name, 0, steady_count); });
    REQUIRE(reached.wait());
    REQUIRE(doomed.kill() == killed_by_sigkill);
    CHECK(steady.wait() == ok_code);
    // Sender 1's acknowledged sends: 0..acked-1.
    acks.close_write();
    std::uint64_t acked = 0;
    while (const auto v = acks.wait_value(1s)) acked = *v + 1;
    REQUIRE(box::remove(name));
    CHECK(receiver.wait() == ok_code);
    report.close_write();
    tally t;
    while (const auto v = report.wait_value(1s)) {
        t.by_sender[*v >> 32].push_back(*v & 0xffff'ffffULL);
        t.total++;
    }
    CHECK(exactly_once(t, 0, steady_count));
    CHECK(in_order(t, 0));
    CHECK(in_order(t, 1));
    // Everything sender 1 was told was sent arrived, plus at most the one it was sending.
    const auto got = t.by_sender[1].size();
    CHECK(got >= acked);
    CHECK(got <= acked + 1);
    CHECK(exactly_once(t, 1, got));
}

TEST_CASE("mailbox process: when its owner is killed a process_owned mailbox is gone, blocked senders get "
          "closed, and the name can be created again",
          "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<4>>;  // exclusive, process_owned
    scoped_name name("mbox");
    signal_pipe ready, hold, blocked;
    child owner([&] {
        auto mb = box::create(name, quick_liveness());
        auto rx = mb.receiver();
        ready.post();
        return block_until_killed(hold);
    });
    REQUIRE(ready.wait());
    child sender([&] {
        auto tx = box::open(name, quick_liveness()).sender();
        for (std::uint64_t i = 0; i < 4; ++i)
            if (!tx.send(make_tick(i), patience)) return bad_error;
        blocked.post();
        const errc e = err(tx.send(make_tick(4), patience));  // full: blocks until the owner is gone
        if (e != errc::closed) return bad_error;
        return err(tx.send(make_tick(5), patience)) == errc::closed ? ok_code : bad_count;
    });
    REQUIRE(blocked.wait());
    REQUIRE(owner.kill() == killed_by_sigkill);
    CHECK(sender.wait() == ok_code);
    // Gone: open says not_found, and a new process (this one) may create it afresh.
    CHECK_THROWS_AS(box::open(name), ipckit::error);
    auto again = box::create(name);
    CHECK(again.depth() == 0);
}

TEST_CASE("mailbox process: when its owner lets go a process_owned mailbox is gone and senders get closed",
          "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<8>>;
    scoped_name name("mbox");
    signal_pipe ready, go;
    child owner([&] {
        {
            auto mb = box::create(name);
            auto rx = mb.receiver();
            ready.post();
            auto m = rx.receive(patience);
            if (!m || m->seq != 1) return bad_message;
            if (!go.wait()) return bad_error;
        }  // the handle and the receiver go: so does the mailbox
        ready.post();
        return go.wait() ? ok_code : bad_error;  // lives on without it
    });
    REQUIRE(ready.wait());
    auto tx = box::open(name).sender<ipckit::non_blocking>();
    REQUIRE(tx.send(make_tick(1)));
    go.post();
    REQUIRE(ready.wait());
    CHECK(err(tx.send(make_tick(2))) == errc::closed);
    CHECK_FALSE(ipckit::segment_exists(name));
    go.post();
    CHECK(owner.wait() == ok_code);
}

TEST_CASE("mailbox process: a system_owned mailbox keeps what was sent while its receiver was away", "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::exclusive, ipckit::system_owned>;
    scoped_name name("mbox");
    auto tx = box::create(name).sender();
    signal_pipe report;
    for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(tx.send(make_tick(i)));
    child first([&] {
        auto rx = box::open(name).receiver();
        return receive_and_report(rx, report, 3);  // then exits
    });
    CHECK(first.wait() == ok_code);
    for (std::uint64_t i = 5; i < 10; ++i) REQUIRE(tx.send(make_tick(i)));  // nobody receiving
    child second([&] {
        auto rx = box::open(name).receiver();
        return receive_and_report(rx, report, 7);
    });
    CHECK(second.wait() == ok_code);
    tally t;
    REQUIRE(read_reports(report, 10, t));
    CHECK(t.by_sender[0] == std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("mailbox process: removed while in use, a sender blocked in another process wakes with closed and "
          "what it sent is received",
          "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<4>, ipckit::any, ipckit::system_owned>;
    scoped_name name("mbox");
    auto mb = box::create(name);
    signal_pipe blocked;
    child sender([&] {
        auto tx = box::open(name).sender();
        for (std::uint64_t i = 0; i < 4; ++i)
            if (!tx.send(make_tick(i), patience)) return bad_error;
        blocked.post();
        return err(tx.send(make_tick(4), patience)) == errc::closed ? ok_code : bad_error;
    });
    REQUIRE(blocked.wait());
    REQUIRE(box::remove(name));
    CHECK(sender.wait() == ok_code);
    auto rx = mb.receiver();
    for (std::uint64_t i = 0; i < 4; ++i) CHECK(rx.receive(patience).value().seq == i);
    CHECK(err(rx.receive(patience)) == errc::closed);
}

TEST_CASE("mailbox process: removed while in use, a receiver blocked in another process wakes with closed",
          "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<4>, ipckit::round_robin, ipckit::system_owned>;
    scoped_name name("mbox");
    auto mb = box::create(name);
    signal_pipe attached;
    child receiver([&] {
        auto rx = box::open(name).receiver();
        attached.post();
        return err(rx.receive(patience)) == errc::closed ? ok_code : bad_error;
    });
    REQUIRE(attached.wait());
    REQUIRE(box::remove(name));
    CHECK(receiver.wait() == ok_code);
}

TEST_CASE("mailbox process: round_robin, a receiver killed while giving up a dead one's place stalls nobody",
          "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::round_robin, ipckit::system_owned>;
    namespace d = ipckit::detail;
    scoped_name name("mbox");
    auto mb = box::create(name, quick_liveness());
    signal_pipe ready, hold;
    child dead([&] {
        auto in = box::open(name).receiver();  // roster place 0, whose turn it is
        ready.post();
        return block_until_killed(hold);
    });
    REQUIRE(ready.wait());
    auto r = mb.receiver();  // place 1
    CHECK(dead.kill() == killed_by_sigkill);
    // mailbox_receiver::check() in another receiver, killed right after it took the dead
    // holder's place (before it released the place and passed the turn).
    child checker([&] {
        auto seg = ipckit::segment::open(name.str(), box::layout(), quick_liveness());
        auto& sh = *static_cast<box::shared*>(seg.body());
        const std::uint64_t place = sh.control.turn.load() & 0xffff'ffffULL;
        if (place != 0) return 2;
        std::uint64_t h = sh.receivers.places[place].holder.load();
        if (h == d::roster_place::vacant || h == d::roster_place::closed) return 3;
        if (d::sys::is_alive(d::sys::process_id::unpack(h))) return 3;
        if (!sh.receivers.places[place].holder.compare_exchange_strong(h, d::sys::self().pack())) return 4;
        ::_exit(0);
        return 1;
    });
    REQUIRE(checker.wait() == 0);
    // The turn is on a place held by a dead process again: r's check() gives it up and passes on.
    auto tx = mb.sender();
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tx.send(make_tick(i), patience));
    for (std::uint64_t i = 0; i < 3; ++i) {
        auto m = r.receive(patience);
        REQUIRE(m);
        CHECK(m->seq == i);
    }
    {
        auto seg = ipckit::segment::open(name.str(), box::layout(), quick_liveness());
        auto& sh = *static_cast<box::shared*>(seg.body());
        CHECK(sh.receivers.places[0].holder.load() == d::roster_place::closed);
        CHECK(sh.receivers.attached.load() == 1);  // the dead one uncounted once: only r
        CHECK(sh.data_bell.sleepers.load() == 0);   // nobody sleeps now, and nobody is counted
    }
    // A new receiver takes the freed place and its turns.
    auto r2 = mb.receiver();
    for (std::uint64_t i = 3; i < 5; ++i) REQUIRE(tx.send(make_tick(i), patience));
    auto a = r.receive(patience), b = r2.receive(patience);
    REQUIRE((a && b));
    CHECK(a->seq == 3);
    CHECK(b->seq == 4);
}
