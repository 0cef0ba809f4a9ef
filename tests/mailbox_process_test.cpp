// Tests of ipckit::mailbox across fork(): receivers, senders and owners SIGKILLed in the middle
// of traffic, round_robin shares, a receiver that restarts, removal while in use, and a
// round_robin receiver killed while giving up a dead receiver's place (simulated exactly: a
// child performs the library's steps up to that point through the detail API and _exits).
// The kills run on mailboxes of ticks and of bytes<64> (messages.hpp's tick_bytes: a tick and
// up to 48 bytes more, of mixed lengths).
//
// Accounting is exact: every receiver reports each message it got through a pipe (8 bytes:
// the message's seq, which holds its sender in the top 32 bits), senders report how many sends
// returned ok, and the parent checks that each message accepted was delivered exactly once,
// each sender's in the order sent. A child that is killed at a known point first says it got
// there, then blocks on a pipe until it is killed (child_report::block_until_killed). Children
// use no Catch2 macros and report what went wrong through child_report (and their tallies
// through pipes); no threads are started.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/mailbox.hpp>
#include <ipckit/segment.hpp>

#include <chrono>
#include <cstdint>
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <csignal>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::check_of;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::errc_text;
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

/// The mailboxes the kills run on: of ticks, and of bytes<64>, each holding `Slots` messages.
template <class Delivery, std::size_t Slots, class Ownership = ipckit::system_owned>
using tick_box = ipckit::mailbox<tick, ipckit::bounded<Slots>, Delivery, Ownership>;
template <class Delivery, std::size_t Slots, class Ownership = ipckit::system_owned>
using bytes_box = ipckit::mailbox<ipckit::bytes<ipckit_test::tick_bytes_max>,
                                  ipckit::bounded<Slots * sizeof(ipckit::detail::record<ipckit_test::tick_bytes_max>)>,
                                  Delivery, Ownership>;

/// The tick a view holds (a bytes view: decoded; nullopt if it is not a tick_bytes message).
template <class View>
std::optional<tick> tick_of_view(const View& v) {
    if constexpr (requires { v.data().seq; }) {
        return v.data().check == check_of(v.data().seq) ? std::optional<tick>(v.data()) : std::nullopt;
    } else {
        return ipckit_test::tick_from_bytes(v.data());
    }
}

/// For a child: sends `count` messages of sender `id`, blocking; as_expected if every send
/// was ok, else which was refused and why (messages.hpp's send_all).
template <class Box>
std::string send_as(const std::string& name, std::uint64_t id, std::uint64_t count) {
    auto tx = Box::open(name, quick_liveness()).sender();
    return ipckit_test::send_all(tx, seq_of(id, 0), seq_of(id, count));
}

/// For a child: receives on `rx` until closed (or `limit` messages), reporting each seq on
/// `report`; checks each message's check word and that each sender's numbers rise. as_expected,
/// or what came instead.
template <class Rx>
std::string receive_and_report(Rx& rx, const signal_pipe& report, std::uint64_t limit = ~0ULL) {
    std::map<std::uint64_t, std::uint64_t> next;  // sender -> lowest seq it may send next
    for (std::uint64_t n = 0; n < limit; ++n) {
        auto m = ipckit_test::receive_tick(rx, patience);
        if (!m) {
            if (m.error() == errc::closed && limit == ~0ULL) return as_expected;
            return "received " + errc_text(m.error()) + " after " + std::to_string(n) + " messages where it expected " +
                   (limit == ~0ULL ? "a message or errc(closed)" : std::to_string(limit) + " messages");
        }
        if (m->check != check_of(m->seq)) return "received a torn message (seq " + std::to_string(m->seq) + ")";
        const std::uint64_t sender = m->seq >> 32, i = m->seq & 0xffff'ffffULL;
        if (i < next[sender])
            return "received sender " + std::to_string(sender) + "'s message " + std::to_string(i) +
                   " after its message " + std::to_string(next[sender] - 1);
        next[sender] = i + 1;
        report.post_value(m->seq);
    }
    return as_expected;
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

/// Whether sender s's messages 0..count-1 each appear exactly once in t; but for message
/// `lost` (a seq), if given, which must not appear at all.
bool exactly_once(const tally& t, std::uint64_t s, std::uint64_t count, std::optional<std::uint64_t> lost = {}) {
    const auto it = t.by_sender.find(s);
    std::vector<int> seen(count, 0);
    if (it != t.by_sender.end()) {
        for (const auto i : it->second) {
            if (i >= count) return false;
            seen[i]++;
        }
    }
    for (std::uint64_t i = 0; i < count; ++i)
        if (seen[i] != (lost == seq_of(s, i) ? 0 : 1)) return false;
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
    child_report a_report;
    child a = a_report.spawn([&](child_report& r) {
        auto rx = Box::open(name, quick_liveness()).receiver();
        r.expect(receive_and_report(rx, report, before_kill));
        reached.post();
        r.block_until_killed(hold);
    });
    std::vector<child_report> sender_reports(2);
    std::vector<child> senders;
    for (std::uint64_t s = 0; s < 2; ++s)
        senders.push_back(
            sender_reports[s].spawn([&, s](child_report& r) { r.expect(send_as<Box>(name, s, per_sender)); }));

    REQUIRE(a_report.reached(a, reached) == as_expected);
    // Killed while the senders are still at it (they cannot have finished: A took only 50 of
    // their 800 and the mailbox holds 16). round_robin: the turn is A's (it was alone), and the
    // others must find A dead and pass it on.
    REQUIRE(a_report.ended(a.kill(), killed_by_sigkill) == as_expected);
    // The next receivers get the rest (exclusive: B takes A's place). They use the parent's
    // handle: the mailbox may be drained and removed before one of them gets to open it.
    // receiver 0 is B, the others follow.
    std::vector<child_report> receiver_reports(static_cast<std::size_t>(survivors) + 1);
    std::vector<child> receivers;
    for (auto& rr : receiver_reports)
        receivers.push_back(rr.spawn([&](child_report& r) {
            auto rx = mb.receiver();
            r.expect(receive_and_report(rx, report));
        }));
    tally t;
    // Read as they come (a pipe holds only so many reports), then end the traffic.
    const bool all_reported = read_reports(report, 2 * per_sender, t);
    for (std::size_t s = 0; s < senders.size(); ++s) CHECK(sender_reports[s].finish(senders[s]) == as_expected);
    REQUIRE(Box::remove(name));
    for (std::size_t i = 0; i < receivers.size(); ++i) CHECK(receiver_reports[i].finish(receivers[i]) == as_expected);
    REQUIRE(all_reported);  // after the children's reports, which say why not
    CHECK(t.total == 2 * per_sender);
    for (std::uint64_t s = 0; s < 2; ++s) CHECK(exactly_once(t, s, per_sender));
    if (survivors == 0)
        for (std::uint64_t s = 0; s < 2; ++s) CHECK(in_order(t, s));  // one receiver at a time
}

/// A receiver is killed holding a message it took (a view it has not released) while the
/// senders are at it; `survivors` others that came while it held it (and one more that comes
/// after the kill) go on. Exact
/// accounting: every accepted message reaches exactly one live receiver, but for the one the
/// killed receiver held, which it took with it (README: a receiver killed between taking a
/// message and returning it takes that one message with it).
template <class Box>
void kill_a_receiver_holding_one(int survivors) {
    scoped_name name("mbox");
    auto mb = Box::create(name, quick_liveness());
    constexpr std::uint64_t per_sender = 400;
    constexpr std::uint64_t before_kill = 50;
    signal_pipe report, held, reached, hold;

    child_report a_report;
    child a = a_report.spawn([&](child_report& r) {
        auto rx = Box::open(name, quick_liveness()).receiver();
        r.expect(receive_and_report(rx, report, before_kill));
        auto v = rx.receive_view(patience);
        r.expect(err(v), errc::ok);
        if (v) {
            const auto t = tick_of_view(*v);
            r.check(t.has_value(), "a whole message in the view");
            if (t) held.post_value(t->seq);
        }
        reached.post();
        r.block_until_killed(hold);
    });
    std::vector<child_report> sender_reports(2);
    std::vector<child> senders;
    for (std::uint64_t s = 0; s < 2; ++s)
        senders.push_back(
            sender_reports[s].spawn([&, s](child_report& r) { r.expect(send_as<Box>(name, s, per_sender)); }));
    std::vector<child_report> receiver_reports(static_cast<std::size_t>(survivors));
    std::vector<child> receivers;
    const auto spawn_receiver = [&](child_report& rr) {
        receivers.push_back(rr.spawn([&](child_report& r) {
            auto rx = mb.receiver();
            r.expect(receive_and_report(rx, report));
        }));
    };
    // The others come once A holds its view (before, they might leave A too few to take).
    REQUIRE(a_report.reached(a, reached) == as_expected);
    for (auto& rr : receiver_reports) spawn_receiver(rr);
    const auto lost = held.wait_value();
    REQUIRE(a_report.ended(a.kill(), killed_by_sigkill) == as_expected);
    REQUIRE(lost);
    child_report late_report;  // exclusive: the one that takes the killed receiver's place
    spawn_receiver(late_report);
    tally t;
    const bool all_reported = read_reports(report, 2 * per_sender - 1, t);
    for (std::size_t s = 0; s < senders.size(); ++s) CHECK(sender_reports[s].finish(senders[s]) == as_expected);
    REQUIRE(Box::remove(name));
    for (std::size_t i = 0; i < receiver_reports.size(); ++i)
        CHECK(receiver_reports[i].finish(receivers[i]) == as_expected);
    CHECK(late_report.finish(receivers.back()) == as_expected);
    REQUIRE(all_reported);
    CHECK(t.total == 2 * per_sender - 1);
    INFO("the killed receiver held sender " << (*lost >> 32) << "'s message " << (*lost & 0xffff'ffffULL));
    for (std::uint64_t s = 0; s < 2; ++s) CHECK(exactly_once(t, s, per_sender, lost));
    if (survivors == 0)
        for (std::uint64_t s = 0; s < 2; ++s) CHECK(in_order(t, s));
}

}  // namespace

TEMPLATE_TEST_CASE("mailbox process: exclusive, the receiver killed mid-traffic is replaced and nothing is lost",
                   "[process]", (tick_box<ipckit::exclusive, 16>), (bytes_box<ipckit::exclusive, 16>)) {
    kill_a_receiver_in_the_middle<TestType>(0);
}

TEMPLATE_TEST_CASE("mailbox process: any, a receiver killed mid-traffic loses nothing", "[process]",
                   (tick_box<ipckit::any, 16>), (bytes_box<ipckit::any, 16>)) {
    kill_a_receiver_in_the_middle<TestType>(2);
}

TEMPLATE_TEST_CASE("mailbox process: round_robin, a receiver killed mid-traffic loses nothing", "[process]",
                   (tick_box<ipckit::round_robin, 16>), (bytes_box<ipckit::round_robin, 16>)) {
    kill_a_receiver_in_the_middle<TestType>(2);
}

TEMPLATE_TEST_CASE("mailbox process: exclusive, a receiver killed holding a message takes only that one with it",
                   "[process]", (tick_box<ipckit::exclusive, 16>), (bytes_box<ipckit::exclusive, 16>)) {
    kill_a_receiver_holding_one<TestType>(0);
}

TEMPLATE_TEST_CASE("mailbox process: any, a receiver killed holding a message takes only that one with it",
                   "[process]", (tick_box<ipckit::any, 16>), (bytes_box<ipckit::any, 16>)) {
    kill_a_receiver_holding_one<TestType>(2);
}

TEMPLATE_TEST_CASE("mailbox process: round_robin, a receiver killed holding a message takes only that one with it",
                   "[process]", (tick_box<ipckit::round_robin, 16>), (bytes_box<ipckit::round_robin, 16>)) {
    kill_a_receiver_holding_one<TestType>(2);
}

TEST_CASE("mailbox process: round_robin receivers get exactly equal shares, in turn and in order", "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<32>, ipckit::round_robin, ipckit::system_owned>;
    scoped_name name("mbox");
    auto mb = box::create(name);
    constexpr std::uint64_t receivers = 3, each = 200;
    signal_pipe attached;
    std::vector<child_report> reports(receivers);
    std::vector<child> rx;
    // Attached one after another, receiver k holds roster place k and so has turns k, k+3, ...
    for (std::uint64_t k = 0; k < receivers; ++k) {
        rx.push_back(reports[k].spawn([&, k](child_report& r) {
            auto in = box::open(name).receiver();
            attached.post();
            std::uint64_t n = 0;
            for (;; ++n) {
                auto m = in.receive(patience);
                if (!m) {
                    r.expect(m.error(), errc::closed);
                    r.expect_value(n, each);  // messages it got
                    return;
                }
                r.check(m->check == check_of(m->seq), "a whole message");
                r.expect_value(m->seq, k + n * receivers);
            }
        }));
        REQUIRE(attached.wait());
    }
    auto tx = mb.sender();
    for (std::uint64_t i = 0; i < receivers * each; ++i) REQUIRE(tx.send(make_tick(i), patience));
    REQUIRE(box::remove(name));
    for (std::uint64_t k = 0; k < receivers; ++k) CHECK(reports[k].finish(rx[k]) == as_expected);
}

TEST_CASE("mailbox process: round_robin, a receiver that replaces a killed one takes its place and its turn at once",
          "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::round_robin, ipckit::system_owned>;
    scoped_name name("mbox");
    auto mb = box::create(name);
    signal_pipe ready, hold;
    child_report report;
    child dead = report.spawn([&](child_report& r) {
        auto in = box::open(name).receiver();  // roster place 0, whose turn it is
        ready.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(dead, ready) == as_expected);
    REQUIRE(report.ended(dead.kill(), killed_by_sigkill) == as_expected);
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

TEMPLATE_TEST_CASE("mailbox process: a sender killed mid-traffic costs at most its message in flight", "[process]",
                   (tick_box<ipckit::any, 8>), (bytes_box<ipckit::any, 8>), (bytes_box<ipckit::round_robin, 8>),
                   (bytes_box<ipckit::exclusive, 8>)) {
    using box = TestType;
    scoped_name name("mbox");
    auto mb = box::create(name, quick_liveness());
    constexpr std::uint64_t steady_count = 300;
    signal_pipe report, acks, reached;
    child_report receiver_report;
    child receiver = receiver_report.spawn([&](child_report& r) {
        auto rx = box::open(name, quick_liveness()).receiver();
        r.expect(receive_and_report(rx, report));
    });
    // Sender 1 sends, acknowledging each ok, and is killed wherever it is. (It stops after 2000,
    // so that the reports fit in their pipes should the kill come late.)
    signal_pipe hold;
    child_report doomed_report;
    child doomed = doomed_report.spawn([&](child_report& r) {
        auto tx = box::open(name, quick_liveness()).sender();
        for (std::uint64_t i = 0; i < 2000; ++i) {
            r.expect(err(ipckit_test::send_tick(tx, seq_of(1, i), patience)), errc::ok);
            acks.post_value(i);
            if (i == 50) reached.post();
        }
        r.block_until_killed(hold);
    });
    child_report steady_report;
    child steady = steady_report.spawn([&](child_report& r) { r.expect(send_as<box>(name, 0, steady_count)); });
    REQUIRE(doomed_report.reached(doomed, reached) == as_expected);
    REQUIRE(doomed_report.ended(doomed.kill(), killed_by_sigkill) == as_expected);
    CHECK(steady_report.finish(steady) == as_expected);
    // Sender 1's acknowledged sends: 0..acked-1.
    acks.close_write();
    std::uint64_t acked = 0;
    while (const auto v = acks.wait_value(1s)) acked = *v + 1;
    REQUIRE(box::remove(name));
    CHECK(receiver_report.finish(receiver) == as_expected);
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

/// A child that creates the process_owned mailbox `name`, attaches its receiver, says so on
/// `ready` and stays until killed.
template <class Box>
child spawn_owner(child_report& report, const std::string& name, const signal_pipe& ready, signal_pipe& hold) {
    return report.spawn([&](child_report& r) {
        auto mb = Box::create(name, quick_liveness());
        auto rx = mb.receiver();
        ready.post();
        r.block_until_killed(hold);
    });
}

TEMPLATE_TEST_CASE("mailbox process: when its owner is killed a process_owned mailbox is gone, blocked senders get "
                   "closed, and the name can be created again",
                   "[process]", (tick_box<ipckit::exclusive, 4, ipckit::process_owned>),
                   (bytes_box<ipckit::exclusive, 4, ipckit::process_owned>)) {
    using box = TestType;
    scoped_name name("mbox");
    signal_pipe ready, hold, blocked;
    child_report owner_report;
    child owner = spawn_owner<box>(owner_report, name.str(), ready, hold);
    REQUIRE(owner_report.reached(owner, ready) == as_expected);
    child_report sender_report;
    child sender = sender_report.spawn([&](child_report& r) {
        auto tx = box::open(name, quick_liveness()).sender();
        r.expect(ipckit_test::send_all(tx, 0, 4));
        blocked.post();
        r.expect(err(ipckit_test::send_tick(tx, 4, patience)), errc::closed);  // full: blocks until the owner is gone
        r.expect(err(ipckit_test::send_tick(tx, 5, patience)), errc::closed);
    });
    REQUIRE(sender_report.reached(sender, blocked) == as_expected);
    REQUIRE(owner_report.ended(owner.kill(), killed_by_sigkill) == as_expected);
    CHECK(sender_report.finish(sender) == as_expected);
    // Gone: open says not_found, and a new process (this one) may create it afresh.
    CHECK_THROWS_AS(box::open(name), ipckit::error);
    auto again = box::create(name);
    CHECK(again.depth() == 0);
}

TEMPLATE_TEST_CASE("mailbox process: when its owner is killed, a sender that never waits gets closed too, not ok "
                   "while nobody is left to receive",
                   "[process]", (tick_box<ipckit::exclusive, 64, ipckit::process_owned>),
                   (bytes_box<ipckit::exclusive, 1024, ipckit::process_owned>)) {
    using box = TestType;
    scoped_name name("mbox");
    signal_pipe ready, hold;
    child_report owner_report;
    child owner = spawn_owner<box>(owner_report, name.str(), ready, hold);
    REQUIRE(owner_report.reached(owner, ready) == as_expected);
    auto mb = box::open(name, quick_liveness());
    auto tx = mb.template sender<ipckit::non_blocking>();
    REQUIRE(mb.is_open());
    REQUIRE(owner_report.ended(owner.kill(), killed_by_sigkill) == as_expected);
    CHECK_FALSE(mb.is_open());
    // Far from full: the send would not wait, and asks about the owner all the same.
    CHECK(err(ipckit_test::send_tick(tx, 0)) == errc::closed);
    CHECK(err(ipckit_test::send_tick(tx, 1)) == errc::closed);
}

TEST_CASE("mailbox process: when its owner lets go a process_owned mailbox is gone and senders get closed",
          "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<8>>;
    scoped_name name("mbox");
    signal_pipe ready, go;
    child_report report;
    child owner = report.spawn([&](child_report& r) {
        {
            auto mb = box::create(name);
            auto rx = mb.receiver();
            ready.post();
            auto m = rx.receive(patience);
            r.expect(err(m), errc::ok);
            r.expect_value(m->seq, 1);
            r.check(go.wait(), "the go signal");
        }  // the handle and the receiver go: so does the mailbox
        ready.post();
        r.check(go.wait(), "the second go signal");  // lives on without it
    });
    REQUIRE(report.reached(owner, ready) == as_expected);
    auto tx = box::open(name).sender<ipckit::non_blocking>();
    REQUIRE(tx.send(make_tick(1)));
    go.post();
    REQUIRE(report.reached(owner, ready) == as_expected);
    CHECK(err(tx.send(make_tick(2))) == errc::closed);
    CHECK_FALSE(ipckit::segment_exists(name));
    go.post();
    CHECK(report.finish(owner) == as_expected);
}

TEST_CASE("mailbox process: a system_owned mailbox keeps what was sent while its receiver was away", "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::exclusive, ipckit::system_owned>;
    scoped_name name("mbox");
    auto tx = box::create(name).sender();
    signal_pipe report;
    for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(tx.send(make_tick(i)));
    child_report first_report;
    child first = first_report.spawn([&](child_report& r) {
        auto rx = box::open(name).receiver();
        r.expect(receive_and_report(rx, report, 3));  // then exits
    });
    CHECK(first_report.finish(first) == as_expected);
    for (std::uint64_t i = 5; i < 10; ++i) REQUIRE(tx.send(make_tick(i)));  // nobody receiving
    child_report second_report;
    child second = second_report.spawn([&](child_report& r) {
        auto rx = box::open(name).receiver();
        r.expect(receive_and_report(rx, report, 7));
    });
    CHECK(second_report.finish(second) == as_expected);
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
    child_report report;
    child sender = report.spawn([&](child_report& r) {
        auto tx = box::open(name).sender();
        r.expect(ipckit_test::send_all(tx, 0, 4));
        blocked.post();
        r.expect(err(tx.send(make_tick(4), patience)), errc::closed);
    });
    REQUIRE(report.reached(sender, blocked) == as_expected);
    REQUIRE(box::remove(name));
    CHECK(report.finish(sender) == as_expected);
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
    child_report report;
    child receiver = report.spawn([&](child_report& r) {
        auto rx = box::open(name).receiver();
        attached.post();
        r.expect(err(rx.receive(patience)), errc::closed);
    });
    REQUIRE(report.reached(receiver, attached) == as_expected);
    REQUIRE(box::remove(name));
    CHECK(report.finish(receiver) == as_expected);
}

TEST_CASE("mailbox process: round_robin, a receiver killed while giving up a dead one's place stalls nobody",
          "[process]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::round_robin, ipckit::system_owned>;
    namespace d = ipckit::detail;
    scoped_name name("mbox");
    auto mb = box::create(name, quick_liveness());
    signal_pipe ready, hold;
    child_report dead_report;
    child dead = dead_report.spawn([&](child_report& r) {
        auto in = box::open(name).receiver();  // roster place 0, whose turn it is
        ready.post();
        r.block_until_killed(hold);
    });
    REQUIRE(dead_report.reached(dead, ready) == as_expected);
    auto r = mb.receiver();  // place 1
    CHECK(dead_report.ended(dead.kill(), killed_by_sigkill) == as_expected);
    // unicast_receiving::check() in another receiver, killed right after it took the dead
    // holder's place (before it released the place and passed the turn).
    child_report checker_report;
    child checker = checker_report.spawn([&](child_report& says) {
        auto seg = ipckit::segment::open(name.str(), box::layout(), quick_liveness());
        auto& sh = *static_cast<box::shared*>(seg.body());
        const std::uint64_t place = sh.control.turn.load() & 0xffff'ffffULL;
        says.expect_value(place, 0);  // the turn's place
        std::uint64_t h = sh.receivers.places[place].holder.load();
        says.check(h != d::roster_place::vacant && h != d::roster_place::closed, "the turn's place held");
        says.check(!d::sys::is_alive(d::sys::process_id::unpack(h)), "its holder dead");
        says.check(sh.receivers.places[place].holder.compare_exchange_strong(h, d::sys::self().pack()),
                   "to take the dead holder's place");
        ::_exit(0);  // dies here, holding the place: nothing of the handles' clean-up runs
    });
    REQUIRE(checker_report.finish(checker) == as_expected);
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
