// Tests of broadcast mailboxes across fork(): 64 receiver processes each get every message of
// several sender processes in order, a SIGKILLed receiver stops holding senders back, a sender
// SIGKILLed in the middle of traffic leaves its published messages whole and in order and stalls
// nobody, a receiver that restarts finds what was sent while it was away, and removal wakes
// blocked processes on both sides.
//
// Children do their work without Catch2 and report through their exit code or pipes; the parent
// asserts. No threads are started. Every wait is on the event itself, bounded by
// ipckit_test::patience.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/mailbox.hpp>
#include <ipckit/queue.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::child;
using ipckit_test::err;
using ipckit_test::make_tick;
using ipckit_test::patience;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;
using ipckit_test::tick;

namespace {

using box = ipckit::mailbox<tick, ipckit::bounded<32>, ipckit::broadcast, ipckit::system_owned>;

bool whole(const tick& m) { return m.check == ipckit_test::check_of(m.seq); }

}  // namespace

TEST_CASE("broadcast: 64 receiver processes each get every message of 3 sender processes, in order", "[process]") {
    scoped_name name("bcastp");
    auto b = box::create(name);
    constexpr int receivers = 64, senders = 3;
    constexpr std::uint64_t per_sender = 200;
    signal_pipe ready;
    std::vector<child> rx;
    for (int r = 0; r < receivers; ++r)
        rx.emplace_back([&] {
            auto in = box::open(name).receiver();
            ready.post();
            std::uint64_t next[senders] = {};
            std::uint64_t sum = 0;
            for (std::uint64_t n = 0; n < senders * per_sender; ++n) {
                auto m = in.receive(patience);
                if (!m) return 10;
                if (!whole(*m)) return 11;
                const std::uint64_t s = m->seq / per_sender, k = m->seq % per_sender;
                if (s >= senders || next[s] != k) return 12;  // lost, repeated or out of order
                ++next[s];
                sum += ipckit_test::mix(m->seq);
            }
            std::uint64_t want = 0;
            for (std::uint64_t i = 0; i < senders * per_sender; ++i) want += ipckit_test::mix(i);
            if (sum != want) return 13;
            return err(in.receive(std::chrono::milliseconds(0))) == errc::timed_out ? 0 : 14;  // nothing extra
        });
    for (int r = 0; r < receivers; ++r) REQUIRE(ready.wait());
    CHECK(b.receivers() == receivers);
    std::vector<child> tx;
    for (int s = 0; s < senders; ++s)
        tx.emplace_back([&, s] {
            auto out = box::open(name).sender();
            for (std::uint64_t k = 0; k < per_sender; ++k)
                if (err(out.send(make_tick(s * per_sender + k), patience)) != errc::ok) return 20;
            return 0;
        });
    for (auto& c : tx) CHECK(c.wait() == 0);
    for (auto& c : rx) CHECK(c.wait() == 0);
    CHECK(b.receivers() == 0);
}

TEST_CASE("broadcast: a SIGKILLed receiver stops holding senders back", "[process]") {
    scoped_name name("bcastp");
    auto b = box::create(name, ipckit_test::quick_liveness());
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
    auto b = box::create(name, ipckit_test::quick_liveness());
    auto r1 = b.receiver();
    auto r2 = b.receiver();
    ipckit_test::shared_memory counter(sizeof(std::atomic<std::uint64_t>));
    auto* published = ::new (counter.data()) std::atomic<std::uint64_t>(0);
    signal_pipe started;
    child victim([&] {
        auto out = box::open(name, ipckit_test::quick_liveness()).sender();
        for (std::uint64_t i = 0;; ++i) {
            if (!out.send(make_tick(i), patience)) return 30;
            published->store(i + 1, std::memory_order_release);
            if (i == 10) started.post();
        }
    });
    REQUIRE(started.wait());
    // Read some while it runs, then kill it at whatever point it has reached.
    std::uint64_t n1 = 0, n2 = 0;
    for (int k = 0; k < 50; ++k) {
        auto a = r1.receive(patience), c = r2.receive(patience);
        REQUIRE((a && c));
        REQUIRE((a->seq == n1 && whole(*a)));
        REQUIRE((c->seq == n2 && whole(*c)));
        ++n1, ++n2;
    }
    CHECK(victim.kill() == ipckit_test::killed_by_sigkill);
    const std::uint64_t sent = published->load(std::memory_order_acquire);
    // A live sender after it (in another process: the ring may be full until we read): its
    // message must arrive, past any slot the victim left claimed.
    child after([&] {
        auto out = box::open(name).sender();
        return err(out.send(make_tick(1'000'000), patience)) == errc::ok ? 0 : 31;
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
    CHECK(after.wait() == 0);
}

TEST_CASE("broadcast: a receiver that restarts finds the messages sent while it was away", "[process]") {
    scoped_name name("bcastp");
    auto b = box::create(name);
    auto tx = b.sender();
    signal_pipe first_done;
    child first([&] {
        auto in = box::open(name).receiver();
        first_done.post();
        for (std::uint64_t i = 0; i < 2; ++i) {
            auto m = in.receive(patience);
            if (!m || m->seq != i) return 40;
        }
        return 0;  // leaves having read 2
    });
    REQUIRE(first_done.wait());
    for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(err(tx.send(make_tick(i), patience)) == errc::ok);
    CHECK(first.wait() == 0);
    for (std::uint64_t i = 5; i < 8; ++i) REQUIRE(err(tx.send(make_tick(i), patience)) == errc::ok);
    child again([&] {
        auto in = box::open(name).receiver<ipckit::non_blocking>();
        for (std::uint64_t i = 2; i < 8; ++i) {
            auto m = in.receive();
            if (!m || m->seq != i || !whole(*m)) return 41;
        }
        return err(in.receive()) == errc::would_block ? 0 : 42;
    });
    CHECK(again.wait() == 0);
}

TEST_CASE("broadcast: remove wakes a blocked sender with closed and a blocked receiver after it drained", "[process]") {
    scoped_name name("bcastp");
    auto b = box::create(name);
    auto slow = b.receiver<ipckit::non_blocking>();  // never reads until the end: senders fill the ring
    signal_pipe receiver_ready, sender_full;
    child receiver([&] {
        auto in = box::open(name).receiver();
        receiver_ready.post();
        std::uint64_t n = 0;
        for (;;) {
            auto m = in.receive(patience);
            if (!m) return m.error() == errc::closed && n == 32 ? 0 : 50;
            if (m->seq != n++ || !whole(*m)) return 51;
        }
    });
    REQUIRE(receiver_ready.wait());
    child sender([&] {
        auto out = box::open(name).sender();
        for (std::uint64_t i = 0; i < 32; ++i)
            if (!out.send(make_tick(i), patience)) return 60;
        sender_full.post();
        return err(out.send(make_tick(32), patience)) == errc::closed ? 0 : 61;  // blocked on the slow one
    });
    REQUIRE(sender_full.wait());
    CHECK(box::remove(name));
    CHECK(sender.wait() == 0);
    CHECK(receiver.wait() == 0);
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
