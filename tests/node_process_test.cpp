// node across processes (fork): names freed by death, racing joins, both addressing styles, and
// departures by leaving and by SIGKILL, with exact accounting of what was sent, delivered and
// handed back as undeliverable; a SIGKILLed peer reported while live ones keep a member busy
// or are tried first, and before the messages of its successor under the same name.

#include "catch.hpp"
#include "messages.hpp"
#include "node_support.hpp"

#include <ipckit/node.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <csignal>
#include <sys/types.h>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::patience;
using ipckit_test::scoped_domain;
using ipckit_test::seq_bytes;
using ipckit_test::seq_of;
using ipckit_test::signal_pipe;
using ipckit_test::text;

namespace {

/// Links of 1 KiB: 64 messages of 8 bytes fill one.
using small_node = ipckit::basic_node<64, 1024>;

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

TEST_CASE("node across processes: a SIGKILLed member's name is free again, and it can rejoin", "[process]") {
    scoped_domain d;
    signal_pipe ready, hold;
    ipckit::node alice(d, "alice");
    child bob([&] {
        ipckit::node n(d, "bob");
        ready.post();
        return ipckit_test::block_until_killed(hold);
    });
    REQUIRE(ready.wait());
    CHECK(sorted(alice.members()) == std::vector<std::string>{"alice", "bob"});
    try {
        ipckit::node again(d, "bob");
        FAIL("joined under the name of a live member");
    } catch (const ipckit::error& e) {
        CHECK(e.reason() == errc::name_taken);
    }
    CHECK(bob.kill() == 1000 + SIGKILL);
    CHECK(alice.members() == std::vector<std::string>{"alice"});
    CHECK(alice.sender().send("bob", "x").error() == errc::not_found);
    ipckit::node bob_again(d, "bob");
    CHECK(sorted(alice.members()) == std::vector<std::string>{"alice", "bob"});
}

TEST_CASE("node across processes: of processes racing to join one name, exactly one wins", "[process]") {
    constexpr int racers = 4;
    for (int round = 0; round < 10; ++round) {
        scoped_domain d;
        signal_pipe go, outcome, hold;
        std::vector<child_report> reports(racers);
        std::vector<child> kids;
        for (std::size_t k = 0; k < racers; ++k) {
            kids.push_back(reports[k].spawn([&](child_report& r) {
                hold.close_write();
                r.check(go.wait(), "the go signal");
                try {
                    ipckit::node n(d, "x");
                    outcome.post_value(1);
                    (void)hold.wait();  // keep the name until every racer has tried
                } catch (const ipckit::error& e) {
                    outcome.post_value(e.reason() == errc::name_taken ? 2 : 3);
                }
            }));
        }
        go.post(racers);
        int won = 0, taken = 0;
        for (int k = 0; k < racers; ++k) {
            const auto v = outcome.wait_value();
            REQUIRE(v);
            won += *v == 1;
            taken += *v == 2;
        }
        CHECK(won == 1);
        CHECK(taken == racers - 1);
        hold.post(racers);
        for (std::size_t k = 0; k < racers; ++k) CHECK(reports[k].finish(kids[k]) == as_expected);
    }
}

TEST_CASE("node across processes: symmetric send and receive both ways, in order, then closed", "[process]") {
    scoped_domain d;
    signal_pipe ready;
    constexpr std::uint64_t n = 5000;
    ipckit::node alice(d, "alice");
    child_report report;
    child bob = report.spawn([&](child_report& r) {
        ipckit::node b(d, "bob");
        ready.post();
        for (std::uint64_t i = 0; i < n; ++i) {  // ping-pong
            auto m = b.receiver().receive("alice", patience);
            r.expect(err(m), errc::ok);
            r.expect_value(seq_of(*m), i);
            const std::uint64_t reply = i + 1'000'000;
            r.expect(err(b.sender().send("alice", seq_bytes(reply))), errc::ok);
        }
        for (std::uint64_t i = 0; i < n; ++i) {  // a burst through a link that fills
            auto m = b.receiver().receive("alice", patience);
            r.expect(err(m), errc::ok);
            r.expect_value(seq_of(*m), i);
        }
        for (std::uint64_t i = 0; i < n; ++i) r.expect(err(b.sender().send("alice", seq_bytes(i))), errc::ok);
        // leaves: alice sees closed after the last message
    });
    REQUIRE(report.reached(bob, ready) == as_expected);
    for (std::uint64_t i = 0; i < n; ++i) {
        REQUIRE(alice.sender().send("bob", seq_bytes(i)));
        auto m = alice.receiver().receive("bob", patience);
        REQUIRE(m);
        REQUIRE(seq_of(*m) == i + 1'000'000);
    }
    for (std::uint64_t i = 0; i < n; ++i) REQUIRE(alice.sender().send("bob", seq_bytes(i), patience));
    for (std::uint64_t i = 0; i < n; ++i) {
        auto m = alice.receiver().receive("bob", patience);
        REQUIRE(m);
        REQUIRE(seq_of(*m) == i);
    }
    CHECK(alice.receiver().receive("bob", patience).error() == errc::closed);
    CHECK(report.finish(bob) == as_expected);
}

TEST_CASE("node across processes: receive_any from four sender processes, each stream whole and in order",
          "[process]") {
    scoped_domain d;
    constexpr int senders = 4;
    constexpr std::uint64_t n = 3000;
    ipckit::node hub(d, "hub");
    std::vector<child_report> reports(senders);
    std::vector<child> kids;
    for (std::size_t k = 0; k < senders; ++k) {
        kids.push_back(reports[k].spawn([&d, k](child_report& r) {
            ipckit::node s(d, "s" + std::to_string(k));
            for (std::uint64_t i = 0; i < n; ++i) r.expect(err(s.sender().send("hub", seq_bytes(i))), errc::ok);
        }));
    }
    std::map<std::string, std::uint64_t> next;
    std::map<std::string, int> ends;
    int closed = 0;
    while (closed < senders) {
        auto [from, m] = hub.receiver().receive_any(patience);
        if (!m) {
            REQUIRE(m.error() == errc::closed);
            CHECK(next[from] == n);  // closed only after the last message
            ++ends[from];
            ++closed;
            continue;
        }
        REQUIRE(from.size() == 2);
        REQUIRE(seq_of(*m) == next[from]);
        ++next[from];
    }
    CHECK(next.size() == senders);
    for (const auto& [name, count] : next) CHECK(count == n);
    for (const auto& [name, count] : ends) CHECK(count == 1);
    for (std::size_t k = 0; k < senders; ++k) CHECK(reports[k].finish(kids[k]) == as_expected);
    CHECK(hub.receiver<ipckit::non_blocking>().receive_any().message.error() == errc::would_block);
    CHECK(d.links().empty());
}

TEST_CASE("node across processes: a sender SIGKILLed mid-traffic: everything it sent, then peer_dead", "[process]") {
    const bool any = GENERATE(false, true);
    CAPTURE(any);
    scoped_domain d;
    signal_pipe progress;
    ipckit::node alice(d, "alice");
    child_report report;
    child bob = report.spawn([&](child_report& r) {
        ipckit::node b(d, "bob");
        for (std::uint64_t i = 0;; ++i) {
            r.expect(err(b.sender().send("alice", seq_bytes(i))), errc::ok);
            if (i == 999) progress.post();  // then on until killed, blocking once the link is full
        }
    });
    REQUIRE(report.reached(bob, progress) == as_expected);
    CHECK(report.ended(bob.kill(), killed_by_sigkill) == as_expected);
    std::uint64_t got = 0;
    errc end = errc::ok;
    for (;;) {
        std::string from = "bob";
        ipckit::result<std::vector<std::byte>> m = ipckit::unexpected(errc::ok);
        if (any) {
            auto e = alice.receiver().receive_any(patience);
            from = e.from;
            m = std::move(e.message);
        } else {
            m = alice.receiver().receive("bob", patience);
        }
        REQUIRE(from == "bob");
        if (!m) {
            end = m.error();
            break;
        }
        REQUIRE(seq_of(*m) == got);
        ++got;
    }
    CHECK(end == errc::peer_dead);
    CHECK(got >= 1000);
    CHECK(d.links().empty());
}

TEST_CASE("node across processes: receive_any reports a SIGKILLed sender while a live one keeps its link from "
          "running empty",
          "[process]") {
    const bool block = GENERATE(true, false);
    CAPTURE(block);
    scoped_domain d;
    signal_pipe sent, hold;
    ipckit::node alice(d, "alice");
    ipckit::node carol(d, "carol");  // the live sender, in this process
    child_report report;
    child bob = report.spawn([&](child_report& r) {
        ipckit::node b(d, "bob");
        r.expect(err(b.sender().send("alice", seq_bytes(0))), errc::ok);
        sent.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(bob, sent) == as_expected);
    CHECK(report.ended(bob.kill(), killed_by_sigkill) == as_expected);
    // A message of carol's waits before every receive, so a blocking receive_any never waits:
    // bob's message and then his death must come between carol's all the same.
    std::uint64_t carol_sent = 0;
    std::uint64_t carol_received = 0;
    bool bob_message = false;
    errc bob_end = errc::ok;
    const auto give_up = std::chrono::steady_clock::now() + patience;
    while (bob_end == errc::ok && std::chrono::steady_clock::now() < give_up) {
        REQUIRE(err(carol.sender().send("alice", seq_bytes(carol_sent++))) == errc::ok);
        auto e = block ? alice.receiver().receive_any(patience)
                       : alice.receiver<ipckit::non_blocking>().receive_any();
        if (e.from == "carol") {
            REQUIRE(e.message);
            REQUIRE(seq_of(*e.message) == carol_received++);
            continue;
        }
        REQUIRE(e.from == "bob");
        if (e.message) {
            CHECK(seq_of(*e.message) == 0);
            bob_message = true;
        } else {
            bob_end = e.message.error();
        }
    }
    CHECK(bob_message);
    CHECK(bob_end == errc::peer_dead);
}

TEST_CASE("node across processes: a SIGKILLed sender's messages and its peer_dead come before those of its "
          "successor under the same name, in receive_any as in receive(from)",
          "[process]") {
    enum style { any_blocking, any_polling, from_name };
    const style how = GENERATE(any_blocking, any_polling, from_name);
    CAPTURE(how);
    scoped_domain d;
    signal_pipe old_sent, new_sent, hold;
    ipckit::node b(d, "b");
    ipckit::node carol(d, "carol");  // a live sender under another name, in this process
    const auto sender = [&](const std::string& tag, signal_pipe& sent) {
        return [&d, tag, &sent, &hold](child_report& r) {
            ipckit::node a(d, "a");
            for (int k = 0; k < 3; ++k) r.expect(err(a.sender().send("b", tag + std::to_string(k))), errc::ok);
            sent.post();
            r.block_until_killed(hold);
        };
    };
    child_report old_report;
    child old_a = old_report.spawn(sender("old", old_sent));
    REQUIRE(old_report.reached(old_a, old_sent) == as_expected);
    CHECK(old_report.ended(old_a.kill(), killed_by_sigkill) == as_expected);
    child_report new_report;  // "a" again: a new incarnation, alive to the end
    child new_a = new_report.spawn(sender("new", new_sent));
    REQUIRE(new_report.reached(new_a, new_sent) == as_expected);
    for (int k = 0; k < 3; ++k) REQUIRE(carol.sender().send("b", "c" + std::to_string(k)));

    // What b sees from each name, in order: a message's text, or the errc that ended a link.
    std::map<std::string, std::vector<std::string>> seen;
    const auto note = [&](const std::string& from, const ipckit::result<std::vector<std::byte>>& m) {
        seen[from].push_back(m ? text(*m) : ipckit_test::errc_text(m.error()));
    };
    if (how == from_name) {
        for (int i = 0; i < 7; ++i) note("a", b.receiver().receive("a", patience));
        for (int i = 0; i < 3; ++i) note("carol", b.receiver().receive("carol", patience));
    } else {
        for (int i = 0; i < 10; ++i) {
            auto e = how == any_blocking ? b.receiver().receive_any(patience)
                                         : b.receiver<ipckit::non_blocking>().receive_any();
            note(e.from, e.message);
        }
    }
    CHECK(seen["a"] == std::vector<std::string>{"old0", "old1", "old2", ipckit_test::errc_text(errc::peer_dead),
                                                "new0", "new1", "new2"});
    CHECK(seen["carol"] == std::vector<std::string>{"c0", "c1", "c2"});
    CHECK(seen.size() == 2);
    // The successor is alive: nothing more from it, and no end.
    CHECK(err(b.receiver<ipckit::non_blocking>().receive("a")) == errc::would_block);
    CHECK(err(b.receiver<ipckit::non_blocking>().receive_any().message) == errc::would_block);
    CHECK(d.links().size() == 2);  // new a -> b and carol -> b: the predecessor's link went with its end
    CHECK(new_report.ended(new_a.kill(), killed_by_sigkill) == as_expected);
}

TEST_CASE("node across processes: a poller that tries a live peer first, a liveness interval apart, still hears "
          "that the next one died",
          "[process]") {
    const bool sending = GENERATE(false, true);
    CAPTURE(sending);
    constexpr auto interval = std::chrono::milliseconds(10);
    ipckit::node_options opt;
    opt.liveness_interval = interval;
    scoped_domain d;
    signal_pipe sent, hold;
    small_node alice(d, "alice", opt);
    small_node amy(d, "amy", opt);  // live, and silent: it neither sends nor receives
    child_report report;
    child bob = report.spawn([&](child_report& r) {
        small_node b(d, "bob", opt);
        r.expect(err(b.sender().send("alice", seq_bytes(0))), errc::ok);
        sent.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(bob, sent) == as_expected);
    auto rx = alice.receiver<ipckit::non_blocking>();
    auto tx = alice.sender<ipckit::non_blocking>();
    if (sending) {  // both links full: a send to either would block
        for (const char* to : {"amy", "bob"}) {
            ipckit::status s;
            while ((s = tx.send(to, seq_bytes(0)))) {
            }
            REQUIRE(s.error() == errc::would_block);
        }
    }
    CHECK(report.ended(bob.kill(), killed_by_sigkill) == as_expected);
    errc bob_end = errc::would_block;
    const auto give_up = std::chrono::steady_clock::now() + patience;
    while (bob_end == errc::would_block && std::chrono::steady_clock::now() < give_up) {
        // The poller's period, which is the scenario here, not a wait for an event: the liveness
        // check falls due during the pause, and amy is the first peer tried after it.
        std::this_thread::sleep_for(2 * interval);
        if (sending) {
            CHECK(err(tx.send("amy", seq_bytes(1))) == errc::would_block);
            bob_end = err(tx.send("bob", seq_bytes(1)));
        } else {
            CHECK(err(rx.receive("amy")) == errc::would_block);
            auto m = rx.receive("bob");
            if (m) {
                CHECK(seq_of(*m) == 0);  // bob's one message, before his death
                continue;
            }
            bob_end = m.error();
        }
    }
    CHECK(bob_end == errc::peer_dead);
}

TEST_CASE("node across processes: a receiver SIGKILLed while its sender blocks: peer_dead, delivered plus "
          "undelivered equals accepted, and its successor gets a fresh link",
          "[process]") {
    scoped_domain d;
    signal_pipe ready, delivered, hold, go;
    constexpr std::uint64_t reads = 40;
    small_node alice(d, "alice");
    child_report report;
    child bob = report.spawn([&](child_report& r) {
        small_node b(d, "bob");
        ready.post_value(static_cast<std::uint64_t>(::getpid()));
        for (std::uint64_t i = 0; i < reads; ++i) {
            auto m = b.receiver().receive("alice", patience);
            r.expect(err(m), errc::ok);
            r.expect_value(seq_of(*m), i);
        }
        delivered.post();  // the known point: it reads nothing more
        r.block_until_killed(hold);
    });
    ready.close_write();
    const auto bob_pid = ready.wait_value();
    if (!bob_pid) CHECK(report.ended(bob.kill()) == as_expected);
    REQUIRE(bob_pid);
    std::uint64_t accepted = 0;
    for (; accepted < reads; ++accepted) REQUIRE(alice.sender().send("bob", seq_bytes(accepted), patience));
    REQUIRE(report.reached(bob, delivered) == as_expected);  // it read all `reads`
    // Fill the link, then block in a send while a third process kills the receiver.
    for (;;) {
        auto s = alice.sender<ipckit::non_blocking>().send("bob", seq_bytes(accepted));
        if (!s) {
            REQUIRE(s.error() == errc::would_block);
            break;
        }
        ++accepted;
    }
    CHECK(accepted > reads);
    // The killer waits until alice sleeps in the send that cannot go through (the link is full),
    // then kills bob: the kill lands while she blocks. (Were she never seen asleep, it would land
    // before she blocks, or while she spins: peer_dead all the same, as the send checks the
    // receiver once per liveness interval while it waits.)
    child_report killer_report;
    const auto victim = static_cast<pid_t>(*bob_pid);
    const pid_t sender = ::getpid();
    child killer = killer_report.spawn([&](child_report& r) {
        go.close_write();
        r.check(go.wait(), "the go signal");
        r.check(ipckit_test::wait_until_sleeping(sender, sender), "the sender asleep in its send");
        r.check(::kill(victim, SIGKILL) == 0, "to kill bob");
    });
    go.post();  // right before the send that must block
    CHECK(alice.sender().send("bob", seq_bytes(accepted), patience).error() == errc::peer_dead);
    CHECK(killer_report.finish(killer) == as_expected);
    CHECK(report.ended(bob.wait(), killed_by_sigkill) == as_expected);

    auto back = alice.undelivered("bob");
    REQUIRE(back);
    CHECK(reads + back->size() == accepted);
    for (std::size_t i = 0; i < back->size(); ++i) REQUIRE(seq_of((*back)[i]) == reads + i);
    CHECK(d.links().empty());
    CHECK(alice.sender().send("bob", "gone").error() == errc::not_found);

    // bob restarts under the same name: a fresh link, and the conversation goes on.
    signal_pipe ready2;
    child_report report2;
    child bob2 = report2.spawn([&](child_report& r) {
        small_node b(d, "bob");
        ready2.post();
        for (std::uint64_t i = 0; i < 200; ++i) {
            auto m = b.receiver().receive("alice", patience);
            r.expect(err(m), errc::ok);
            r.expect_value(seq_of(*m), i);
        }
        r.expect(err(b.sender().send("alice", "done")), errc::ok);
    });
    REQUIRE(report2.reached(bob2, ready2) == as_expected);
    for (std::uint64_t i = 0; i < 200; ++i) REQUIRE(alice.sender().send("bob", seq_bytes(i), patience));
    auto done = alice.receiver().receive("bob", patience);
    REQUIRE(err(done) == errc::ok);
    CHECK(text(*done) == "done");
    CHECK(report2.finish(bob2) == as_expected);
    // bob2->alice, until alice has taken the end of it; alice->bob2, which bob2 had read whole,
    // went as bob2 left; nothing of the first bob.
    CHECK(d.links().size() == 1);
    CHECK(alice.receiver().receive("bob", patience).error() == errc::closed);
    CHECK(d.links().empty());
    alice.leave();
    CHECK(d.links().empty());
}

TEST_CASE("node across processes: incoming links that cannot be opened for want of file descriptors are "
          "reported, looked for again, and deliver everything once the limit is raised",
          "[process]") {
    scoped_domain d;
    constexpr int senders = 8;
    // One process, so that the file descriptor limit is lowered for the hub alone.
    child_report report;
    child hub_process = report.spawn([&](child_report& r) {
        ipckit::node hub(d, "hub");
        std::vector<std::unique_ptr<ipckit::node>> s;
        for (int i = 0; i < senders; ++i) {
            s.push_back(std::make_unique<ipckit::node>(d, "s" + std::to_string(i)));
            r.expect(err(s.back()->sender().send("hub", s.back()->name())), errc::ok);
        }
        const rlimit old = ipckit_test::limit_free_fds(2);
        std::map<std::string, int> got;
        errc failure = errc::ok;
        for (int i = 0; i <= senders; ++i) {
            auto e = hub.receiver().receive_any(patience);
            if (!e.message) {
                r.check(e.from.empty(), "a failure to open a link to name no sender, not " + e.from);
                failure = e.message.error();
                break;
            }
            r.check(text(*e.message) == e.from, "the message of " + e.from + " to be its name");
            ++got[e.from];
        }
        r.expect(failure, errc::system_error);  // not timed_out: the failure is told
        r.check(got.size() < senders, "some links left unopened while the limit was low");
        ipckit_test::restore_fd_limit(old);
        while (got.size() < senders) {
            auto e = hub.receiver().receive_any(patience);
            r.expect(err(e.message), errc::ok);
            r.check(text(*e.message) == e.from, "the message of " + e.from + " to be its name");
            r.check(++got[e.from] == 1, "one message from " + e.from + ", not more");
        }
        r.expect(err(hub.receiver<ipckit::non_blocking>().receive_any().message), errc::would_block);
    });
    CHECK(report.finish(hub_process) == as_expected);
    CHECK(d.links().empty());
}

TEST_CASE("node across processes: a link left uninitialised by a sender killed while making it does not hold up "
          "the receiver's later links",
          "[process]") {
    scoped_domain d;
    signal_pipe joined, go, done;
    child_report report;
    child bob = report.spawn([&](child_report& r) {
        ipckit::node_options slow;
        slow.init_timeout = std::chrono::hours(1);  // waiting for the dead creator would outlast the test
        ipckit::node b(d, "bob", slow);
        joined.post();
        r.check(go.wait(), "the go signal");
        auto e = b.receiver<ipckit::non_blocking>().receive_any();
        r.expect(err(e.message), errc::ok);
        r.check(e.from == "carol" && text(*e.message) == "hello", "carol's hello");
        r.expect(err(b.receiver<ipckit::non_blocking>().receive_any().message), errc::would_block);
        done.post();
    });
    REQUIRE(report.reached(bob, joined) == as_expected);
    ipckit::node carol(d, "carol");
    REQUIRE(carol.sender().send("bob", "hello"));
    REQUIRE(d.links().size() == 1);
    const auto bob_incarnation = ipckit::detail::list_links(d.str()).front().to_incarnation;
    // What a sender killed inside segment::create, once it had sized the object, leaves: a link
    // to bob of the full size whose header is still all zeros (uninit), which nobody locks.
    const std::string half_made = ipckit::detail::make_link_name(d, "alice", 1, "bob", bob_incarnation);
    {
        const std::string os = ipckit::detail::os_name(half_made);
        const auto f = ipckit::detail::sys::shm_create(os, 0600);
        ipckit::detail::sys::shm_reserve(f, os, ipckit::node::link_queue::layout().size, 0600);
    }
    go.post();
    REQUIRE(report.reached(bob, done) == as_expected);
    CHECK(report.finish(bob) == as_expected);
}

TEST_CASE("node across processes: a link whose creator was SIGKILLed while making it is swept once both ends are "
          "gone",
          "[process]") {
    scoped_domain d;
    const std::string half_made = ipckit::detail::make_link_name(d, "alice", 1, "bob", 2);
    child alice([&] {
        (void)ipckit::segment::create<ipckit::system_owned>(half_made, ipckit::node::link_queue::layout(), {},
                                                            [](void*) { ::raise(SIGKILL); });
        return 0;
    });
    REQUIRE(alice.wait() == ipckit_test::killed_by_sigkill);
    REQUIRE(d.links() == std::vector<std::string>{half_made});
    {
        ipckit::node carol(d, "carol");  // sweeps
    }
    CHECK(d.links().empty());
}

TEST_CASE("node across processes: a link whose sender was SIGKILLed while making it is swept while its receiver "
          "lives, and the receiver goes on",
          "[process]") {
    scoped_domain d;
    ipckit::node bob(d, "bob");
    ipckit::node carol(d, "carol");
    REQUIRE(carol.sender().send("bob", "hello"));
    REQUIRE(d.links().size() == 1);
    const std::string carols = d.links().front();
    const auto bob_incarnation = ipckit::detail::list_links(d.str()).front().to_incarnation;
    // A sender of an incarnation no member holds (gone), killed inside segment::create.
    const std::string half_made = ipckit::detail::make_link_name(d, "alice", std::uint64_t{1} << 40, "bob", bob_incarnation);
    child alice([&] {
        (void)ipckit::segment::create<ipckit::system_owned>(half_made, ipckit::node::link_queue::layout(), {},
                                                            [](void*) { ::raise(SIGKILL); });
        return 0;
    });
    REQUIRE(alice.wait() == ipckit_test::killed_by_sigkill);
    REQUIRE(d.links().size() == 2);
    { ipckit::node dave(d, "dave"); }  // sweeps, joining and leaving
    CHECK(d.links() == std::vector<std::string>{carols});  // carol's, whose sender lives, stays
    auto e = bob.receiver<ipckit::non_blocking>().receive_any();
    REQUIRE(e.message);
    CHECK(e.from == "carol");
    CHECK(text(*e.message) == "hello");
}

TEST_CASE("node across processes: the link to a receiver SIGKILLed is swept while its sender lives, which still "
          "takes back what it sent",
          "[process]") {
    // A server whose clients wait for a word from it and crash: the link each client's receive
    // made must not stay in /dev/shm for as long as the server runs.
    scoped_domain d;
    ipckit::node alice(d, "alice");
    signal_pipe waiting, hold;
    child_report report;
    child bob = report.spawn([&](child_report& r) {
        ipckit::node b(d, "bob");
        r.expect(err(b.receiver().receive("alice", 0ms)), errc::timed_out);  // makes alice->bob
        waiting.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(bob, waiting) == as_expected);
    REQUIRE(d.links().size() == 1);
    REQUIRE(alice.sender().send("bob", "unread"));
    CHECK(report.ended(bob.kill(), killed_by_sigkill) == as_expected);
    { ipckit::node carol(d, "carol"); }  // sweeps, joining and leaving
    CHECK(d.links().empty());
    auto back = alice.undelivered("bob");
    REQUIRE(back);
    REQUIRE(back->size() == 1);
    CHECK(text(back->front()) == "unread");
}
