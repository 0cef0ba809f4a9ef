// Tests of unbounded queues across fork(): many producer processes and one consumer process,
// senders that never wait for a receiver (absent, killed or replaced), and processes killed at
// the points that matter: a sender while creating a chunk or between claiming a position and
// publishing it, a receiver in the middle of draining, a process_owned creator. Each ends with
// every message accounted for and no chunk left behind in /dev/shm.
//
// Children do their work without Catch2 and report through child_report, pipes, or counters in
// an anonymous shared mapping made before the fork; the parent asserts. No threads are
// started. Every wait is on the event itself, bounded by ipckit_test::patience. A child that
// must be killed at a known point first says it got there, then blocks on a pipe until it is
// killed (or kills itself there, with SIGKILL).

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"
#include "unbounded_support.hpp"

#include <ipckit/queue.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <csignal>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::block_until_killed;
using ipckit_test::check_of;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::make_tick;
using ipckit_test::patience;
using ipckit_test::receive_ends_with;
using ipckit_test::receive_in_order;
using ipckit_test::send_all;
using ipckit_test::quick_liveness;
using ipckit_test::signal_pipe;

namespace {

/// Counters shared with forked children: an anonymous shared mapping made before the fork.
template <std::size_t N>
class shared_counters {
public:
    shared_counters() {
        void* p = ::mmap(nullptr, sizeof(block), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
        block_ = ::new (p) block;
    }
    ~shared_counters() { ::munmap(block_, sizeof(block)); }
    shared_counters(const shared_counters&) = delete;
    shared_counters& operator=(const shared_counters&) = delete;
    std::atomic<std::uint64_t>& operator[](std::size_t i) const noexcept { return block_->values[i]; }

    /// Waits (polling) until counter i reaches at least v; false after patience.
    [[nodiscard]] bool wait_at_least(std::size_t i, std::uint64_t v) const noexcept {
        const auto deadline = std::chrono::steady_clock::now() + patience;
        while ((*this)[i].load(std::memory_order_acquire) < v) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(1ms);
        }
        return true;
    }

private:
    struct block {
        std::atomic<std::uint64_t> values[N] = {};
    };
    block* block_;
};

// ---- messages and queues --------------------------------------------------------------------

using msg = ipckit_test::tick;
constexpr msg make_msg(std::uint64_t producer, std::uint64_t n) noexcept { return ipckit_test::make_tick((producer << 32) | n); }
constexpr std::uint64_t producer_of(const msg& m) noexcept { return m.seq >> 32; }
constexpr std::uint64_t number_of(const msg& m) noexcept { return m.seq & 0xffffffffULL; }

using ipckit_test::chunks_of;
using ipckit_test::scoped_queue;
using uq = ipckit::queue<msg, ipckit::unbounded<4096>>;
using muq = ipckit::queue<msg, ipckit::unbounded<4096>, ipckit::multi>;
using muq2 = ipckit::queue<msg, ipckit::unbounded<4096>, ipckit::multi_of<2>>;
constexpr std::uint64_t per_chunk = uq::slots_per_chunk;



/// The shared part of queue Q called `name`, for white-box tests: a mapping of its head.
template <class Q>
struct head_view {
    explicit head_view(const std::string& name) : seg(ipckit::segment::open(name, Q::layout(), {})) {}
    typename Q::shared& sh() const { return *static_cast<typename Q::shared*>(seg.body()); }
    ipckit::detail::chain_control& chain() const { return sh().chain; }
    ipckit::segment seg;
};

/// A child that creates the process_owned queue Q called `name`, sends it ticks [0, count),
/// posts `sent`, and once `go` is posted returns: its handle goes, and the queue with it.
template <class Q>
child spawn_owner(child_report& report, const scoped_queue& name, std::uint64_t count, signal_pipe& sent,
                  signal_pipe& go) {
    return report.spawn([&](child_report& r) {
        auto q = Q::create(name);
        auto tx = q.sender();
        r.expect(send_all(tx, 0, count));
        sent.post();
        r.check(go.wait(), "the go signal");
    });
}

/// The roster place this process holds in `r`, or Max if none.
template <std::size_t Max>
std::size_t place_of_this_process(const ipckit::detail::roster<Max>& r) {
    const std::uint64_t me = ipckit::detail::sys::self().pack();
    for (std::size_t i = 0; i < Max; ++i)
        if (r.places[i].holder.load(std::memory_order_acquire) == me) return i;
    return Max;
}

}  // namespace

// ---- delivery -------------------------------------------------------------------------------

TEST_CASE("unbounded queue across processes: four producer processes and one consumer process, each producer's "
          "messages exactly once and in order",
          "[process]") {
    constexpr std::uint64_t producers = 4;
    constexpr std::uint64_t per_producer = 25'000;
    scoped_queue name;
    auto q = muq::create(name);
    signal_pipe start;

    child_report consumer_report;
    child consumer = consumer_report.spawn([&](child_report& r) {
        auto qc = muq::open(name);
        auto rx = qc.receiver();
        start.post();
        std::vector<std::uint64_t> next(producers, 0);
        for (std::uint64_t got = 0; got < producers * per_producer; ++got) {
            auto m = rx.receive(patience);
            r.expect(err(m), errc::ok);
            const std::uint64_t p = producer_of(*m);
            r.check(p < producers, "a message from one of the producers");
            r.expect_value(number_of(*m), next[p]);
            r.expect_value(m->check, check_of(m->seq));
            ++next[p];
        }
        r.expect(receive_ends_with(rx, errc::closed));  // nothing more than was sent
    });
    // It attached: the senders' sends count for it.
    REQUIRE(consumer_report.reached(consumer, start) == as_expected);

    signal_pipe attached, go;
    std::vector<child_report> sender_reports(producers);
    std::vector<child> senders;
    for (std::uint64_t p = 0; p < producers; ++p) {
        senders.push_back(sender_reports[p].spawn([&, p](child_report& r) {
            auto qc = muq::open(name);
            auto tx = qc.sender();
            attached.post();
            r.check(go.wait(), "the go signal");
            for (std::uint64_t i = 0; i < per_producer; ++i) r.expect(err(tx.send(make_msg(p, i))), errc::ok);
        }));
    }
    attached.close_write();
    for (std::uint64_t p = 0; p < producers; ++p) REQUIRE(attached.wait());
    for (std::uint64_t p = 0; p < producers; ++p) go.post();
    for (std::uint64_t p = 0; p < producers; ++p) CHECK(sender_reports[p].finish(senders[p]) == as_expected);
    q.close();  // the closed rule: a queue of many producers ends when it is closed as a whole
    CHECK(consumer_report.finish(consumer) == as_expected);
    CHECK(chunks_of(name).size() <= 1);
    CHECK(q.depth() == 0);
}

TEST_CASE("unbounded queue across processes: a sender goes on sending while its receiver is dead, the next "
          "receiver gets everything",
          "[process]") {
    const std::uint64_t n = 3 * per_chunk + 11;
    scoped_queue name;
    auto q = uq::create(name, quick_liveness());
    signal_pipe attached, hold;
    child first_receiver([&] {
        auto qc = uq::open(name);
        auto rx = qc.receiver();
        attached.post();
        return block_until_killed(hold);
    });
    attached.close_write();
    REQUIRE(attached.wait());
    CHECK(first_receiver.kill() == killed_by_sigkill);

    auto tx = q.sender<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < n; ++i) REQUIRE(tx.send(make_tick(i)));  // never waits, never refused
    // Asked, the OS says the receiver died, and its place is let go: from then on this
    // process_owned queue's sender is refused as after a close, until the next receiver comes.
    CHECK(tx.peer() == errc::peer_dead);
    CHECK(err(tx.send(make_tick(n))) == errc::closed);

    child_report report;
    child second_receiver = report.spawn([&](child_report& r) {
        auto qc = uq::open(name);
        auto rx = qc.receiver();  // the dead one's place
        r.expect(receive_in_order(rx, 0, n));
    });
    CHECK(report.finish(second_receiver) == as_expected);
    CHECK(chunks_of(name).size() == 1);
}

// ---- a receiver killed and replaced ---------------------------------------------------------

TEST_CASE("unbounded queue across processes: a receiver killed in the middle of draining is replaced and nothing "
          "is lost, no chunk is left behind",
          "[process]") {
    const std::uint64_t n = 20 * per_chunk + 7;
    const std::uint64_t stop_after = 7 * per_chunk + 3;
    scoped_queue name;
    auto q = uq::create(name);
    signal_pipe consumed, hold;

    child_report sender_report;
    child sender_process = sender_report.spawn([&](child_report& r) {
        auto qc = uq::open(name);
        auto tx = qc.sender();
        r.expect(send_all(tx, 0, n));  // never waits, whatever the receivers do
    });
    child_report first_report;
    child first_receiver = first_report.spawn([&](child_report& r) {
        auto qc = uq::open(name);
        auto rx = qc.receiver();
        r.expect(receive_in_order(rx, 0, stop_after));
        consumed.post();
        r.block_until_killed(hold);
    });
    REQUIRE(first_report.reached(first_receiver, consumed) == as_expected);
    CHECK(first_receiver.kill() == killed_by_sigkill);
    CHECK(sender_report.finish(sender_process) == as_expected);
    CHECK(chunks_of(name).size() == n / per_chunk + 1 - stop_after / per_chunk);  // what it read went

    child_report second_report;
    child second_receiver = second_report.spawn([&](child_report& r) {
        auto qc = uq::open(name);
        auto rx = qc.receiver();  // the dead one's place
        r.expect(receive_in_order(rx, stop_after, n));
        r.expect(receive_ends_with(rx, errc::closed));  // nothing twice
    });
    CHECK(second_report.finish(second_receiver) == as_expected);
    CHECK(chunks_of(name).size() == 1);
    CHECK(q.allocated_bytes() == 4096);
}

// ---- a sender killed at the points that matter ----------------------------------------------

TEST_CASE("unbounded queue across processes: a sender killed while creating a chunk is taken over by the next "
          "sender that needs it",
          "[process]") {
    scoped_queue name;
    auto q = uq::create(name, quick_liveness());
    auto tx = q.sender();
    for (std::uint64_t i = 0; i < per_chunk; ++i) REQUIRE(tx.send(make_tick(i)));  // chunk 0 full
    head_view<uq> v(name);
    const std::string next_chunk = name.str() + "." + std::to_string(v.chain().base + 1);

    // Takes the grower word as a sender about to create chunk 1 does, leaves `leftover` under
    // the chunk's name, and is killed there.
    auto die_growing = [&](int leftover) {
        child_report report;
        child grower = report.spawn([&](child_report& r) {
            head_view<uq> cv(name);
            std::uint64_t idle = ipckit::detail::chain_control::idle;
            r.check(cv.chain().grower.compare_exchange_strong(idle, ipckit::detail::sys::self().pack()),
                    "the grower word idle, to claim it");
            const std::string os = ipckit::detail::os_name(next_chunk);
            if (leftover == 1) {  // died in the middle of segment::create: sized, never initialised
                const auto f = ipckit::detail::sys::shm_create(os, 0600);
                ipckit::detail::sys::shm_reserve(f, os, 4096, 0600);
            } else if (leftover >= 2) {  // died after creating it, before publishing it
                auto s = ipckit::segment::create<ipckit::system_owned>(next_chunk, {"half a chunk", 4096}, {},
                                                                       [](void*) {});
                if (leftover == 3) {  // or inside create, between its header's checksum and `ready`
                    auto* h = static_cast<ipckit::detail::segment_header*>(
                        static_cast<void*>(static_cast<char*>(s.body()) - ipckit::detail::header_size));
                    h->state.store(ipckit::detail::segment_header::initializing);
                }
            }
            ::raise(SIGKILL);
        });
        REQUIRE(report.ended(grower.wait(), killed_by_sigkill) == as_expected);
        CHECK(v.chain().grower.load() != ipckit::detail::chain_control::idle);
    };
    SECTION("before it made anything") { die_growing(0); }
    SECTION("with the chunk sized but not initialised") {
        die_growing(1);
        CHECK(chunks_of(name).size() == 2);
    }
    SECTION("with the chunk made but not published") {
        die_growing(2);
        CHECK(chunks_of(name).size() == 2);
    }
    SECTION("with the chunk's header finished but not marked ready") {
        die_growing(3);
        CHECK(chunks_of(name).size() == 2);
    }

    for (std::uint64_t i = per_chunk; i < 2 * per_chunk + 5; ++i) REQUIRE(tx.send(make_tick(i)));
    CHECK(v.chain().grower.load() == ipckit::detail::chain_control::idle);
    CHECK(chunks_of(name).size() == 3);
    auto rx = q.receiver();
    CHECK(receive_in_order(rx, 0, 2 * per_chunk + 5) == as_expected);
    tx.close();
    CHECK(err(rx.receive(patience)) == errc::closed);
    CHECK(chunks_of(name).size() == 1);
}

TEST_CASE("unbounded queue across processes: a sender killed between claiming a position and publishing it costs "
          "that message only",
          "[process]") {
    scoped_queue name;
    auto q = muq2::create(name, quick_liveness());
    auto tx = q.sender();
    for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(tx.send(make_tick(i)));

    // Claims position 5 as try_push does (pending = 6, then the CAS on tail) and is killed.
    child_report report;
    child dying = report.spawn([&](child_report& r) {
        auto qc = muq2::open(name);
        auto dtx = qc.sender();
        head_view<muq2> cv(name);
        const std::size_t i = place_of_this_process(cv.sh().senders);
        r.check(i < muq2::max_senders, "a sender place held by this process");
        std::uint64_t pos = cv.chain().tail.load();
        cv.sh().senders.places[i].pending.store(pos + 1, std::memory_order_relaxed);
        r.expect_value(pos, 5);
        r.check(cv.chain().tail.compare_exchange_strong(pos, pos + 1), "the tail unchanged, to claim position 5");
        ::raise(SIGKILL);
    });
    REQUIRE(report.ended(dying.wait(), killed_by_sigkill) == as_expected);
    for (std::uint64_t i = 5; i < 10; ++i) REQUIRE(tx.send(make_tick(i)));  // positions 6..10
    CHECK(q.depth() == 11);

    SECTION("a blocking receiver skips it once it finds the claimant dead") {
        auto rx = q.receiver();
        CHECK(receive_in_order(rx, 0, 10) == as_expected);
        tx.close();
        CHECK(err(rx.receive(patience)) == errc::peer_dead);  // the dead sender never closed
    }
    SECTION("a non-blocking receiver skips it when it asks peer()") {
        auto rx = q.receiver<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(err(rx.receive()) == errc::ok);
        CHECK(err(rx.receive()) == errc::would_block);  // no system call: it cannot know yet
        CHECK(rx.peer() == errc::ok);                    // the other sender lives
        for (std::uint64_t i = 5; i < 10; ++i) {
            auto r = rx.receive();
            REQUIRE(r);
            CHECK(r->seq == i);
        }
    }
    SECTION("once the queue is closed as a whole, a receiver skips it and reads to the end") {
        // A new sender takes over the dead one's place (the other is held) and closes.
        child_report successor_report;
        child successor = successor_report.spawn([&](child_report&) {
            auto qc = muq2::open(name);
            auto stx = qc.sender();
        });
        REQUIRE(successor_report.finish(successor) == as_expected);
        tx.close();
        q.close();  // the closed rule: with many senders, the end of the queue is its close
        auto rx = q.receiver<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < 10; ++i) {
            auto r = rx.receive();
            REQUIRE(r);
            CHECK(r->seq == i);
        }
        CHECK(err(rx.receive()) == errc::closed);
    }
    CHECK(chunks_of(name).size() == 1);
}

// ---- ownership ------------------------------------------------------------------------------

TEST_CASE("unbounded queue across processes: a single sender whose chunk is gone while the shared tail claims to have "
          "moved past it returns corrupt instead of looking again for ever",
          "[process]") {
    scoped_queue name;
    auto q = uq::create(name);
    {
        auto tx = q.sender();
        for (std::uint64_t i = 0; i <= per_chunk; ++i) REQUIRE(tx.send(make_tick(i)));  // chunks 0 and 1
    }
    REQUIRE(chunks_of(name).size() == 2);

    // In a child, so that a send that never returns can be killed: a new sender (its tail in
    // chunk 1, no chunk mapped yet), then chunk 1 removed and the shared indices scribbled to say
    // that another sender moved on to chunk 2 (a single sender has no other).
    signal_pipe result;
    child_report report;
    child c = report.spawn([&](child_report&) {
        auto tx = q.sender<ipckit::non_blocking>();
        const auto head = ipckit::segment::open(name.str(), uq::layout(), {});
        auto& chain = *static_cast<ipckit::detail::chain_control*>(head.body());
        ipckit::detail::remove_chunk(name.str() + "." + std::to_string(chain.base + 1));
        chain.chunk_next.store(3, std::memory_order_release);
        chain.tail.store(2 * per_chunk + 1, std::memory_order_release);
        result.post_value(static_cast<std::uint64_t>(err(tx.send(make_tick(0)))));
    });
    result.close_write();
    const auto e = result.wait_value();  // it returns at once, or never
    if (!e) CHECK(report.ended(c.kill()) == as_expected);
    REQUIRE(e);
    CHECK(static_cast<errc>(*e) == errc::corrupt);
    CHECK(report.finish(c) == as_expected);
}

TEST_CASE("unbounded queue across processes: a process_owned queue's chunks go when its creator exits, while "
          "another process still uses it",
          "[process]") {
    scoped_queue name;
    signal_pipe filled, go;
    child_report report;
    child creator = spawn_owner<uq>(report, name, 4 * per_chunk, filled, go);
    REQUIRE(report.reached(creator, filled) == as_expected);
    auto q = uq::open(name);
    auto rx = q.receiver();
    CHECK(receive_in_order(rx, 0, 1) == as_expected);  // maps chunk 0
    CHECK(chunks_of(name).size() == 4);
    go.post();
    CHECK(report.finish(creator) == as_expected);

    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(chunks_of(name).empty());
    // What this process has mapped it keeps; the rest went with the queue.
    CHECK(receive_in_order(rx, 1, per_chunk) == as_expected);
    CHECK(err(rx.receive(patience)) == errc::closed);
    // No chunk is created for it any more.
    auto tx = q.sender();
    CHECK(err(tx.send(make_tick(0))) == errc::closed);
    CHECK(chunks_of(name).empty());
}

TEST_CASE("unbounded queue across processes: when a process_owned queue's owner exits, a receiver of another "
          "process that took everything gets closed, not a wait",
          "[process]") {
    scoped_queue name;
    signal_pipe sent, go;
    child_report report;
    child owner = spawn_owner<muq>(report, name, 3, sent, go);
    REQUIRE(report.reached(owner, sent) == as_expected);
    auto q = muq::open(name);
    auto rx = q.receiver();
    auto tx = q.sender();  // a sender of this process, still attached: the receiver's closed rule alone would wait
    CHECK(receive_in_order(rx, 0, 3) == as_expected);
    go.post();
    CHECK(report.finish(owner) == as_expected);
    CHECK(err(tx.send(make_tick(3))) == errc::closed);
    CHECK(err(rx.receive(patience)) == errc::closed);
}

// ---- stress ---------------------------------------------------------------------------------

TEST_CASE("unbounded queue stress: receivers SIGKILLed at arbitrary points and replaced lose at most the message "
          "each had in hand, and leave no chunk behind",
          "[stress]") {
    constexpr std::uint64_t n = 200'000;
    constexpr std::uint64_t rounds = 6;
    scoped_queue name;
    auto q = uq::create(name);
    shared_counters<2> c;  // [0]: 1 + the last number a receiver took; [1]: messages lost to kills

    child_report sender_report;
    child sender_process = sender_report.spawn([&](child_report& r) {
        auto qc = uq::open(name);
        auto tx = qc.sender();
        r.expect(send_all(tx, 0, n));
    });
    bool finished = false;  // a receiver read to the end
    for (std::uint64_t round = 0; round < rounds && !finished; ++round) {
        const bool last = round + 1 == rounds;
        child_report report;
        child receiver_process = report.spawn([&](child_report& r) {
            auto qc = uq::open(name);
            auto rx = qc.receiver();
            std::uint64_t expected = c[0].load();
            for (bool first = true;; first = false) {
                auto m = rx.receive(patience);
                if (!m) {
                    r.expect(m.error(), errc::closed);
                    r.expect_value(expected, n);
                    return;
                }
                r.expect_value(m->check, check_of(m->seq));
                // The one message a killed receiver may have taken without saying so.
                if (first && m->seq == expected + 1) {
                    c[1].fetch_add(1);
                    ++expected;
                }
                r.expect_value(m->seq, expected);
                c[0].store(++expected);
            }
        });
        if (last) {
            CHECK(report.finish(receiver_process) == as_expected);
            finished = true;
        } else {
            const bool got_there = c.wait_at_least(0, (round + 1) * n / rounds);
            if (!got_there) CHECK(report.ended(receiver_process.kill()) == as_expected);
            REQUIRE(got_there);
            // It may have read the rest and ended (0) before the kill lands: then it is done.
            const int code = receiver_process.kill();
            finished = code == 0;
            CHECK(report.ended(code, finished ? 0 : killed_by_sigkill) == as_expected);
        }
    }
    CHECK(finished);
    CHECK(c[0].load() == n);
    CHECK(sender_report.finish(sender_process) == as_expected);
    CHECK(c[1].load() < rounds);
    CHECK(chunks_of(name).size() <= 1);
}

TEST_CASE("unbounded queue stress: four producer processes, one SIGKILLed at an arbitrary point: the others' "
          "messages all arrive in order, the killed one's as a prefix, then peer_dead",
          "[stress]") {
    constexpr std::uint64_t producers = 4;
    constexpr std::uint64_t per_producer = 50'000;
    scoped_queue name;
    ipckit::unbounded_options opt = quick_liveness();
    opt.cap_bytes = 2 << 20;  // 512 chunks: the endless sender runs into it
    auto q = muq::create(name, opt);
    shared_counters<1> sent;  // by producer 0

    child_report consumer_report;
    child consumer = consumer_report.spawn([&](child_report& r) {
        auto qc = muq::open(name);
        auto rx = qc.receiver();
        std::vector<std::uint64_t> next(producers, 0);
        for (;;) {
            auto m = rx.receive(patience);
            if (!m) {
                r.expect(m.error(), errc::peer_dead);
                break;
            }
            const std::uint64_t p = producer_of(*m);
            r.check(p < producers, "a message from one of the producers");
            r.expect_value(number_of(*m), next[p]);  // in order, no gap
            r.expect_value(m->check, check_of(m->seq));
            ++next[p];
        }
        for (std::uint64_t p = 1; p < producers; ++p) r.expect_value(next[p], per_producer);
        // Every send of it that returned ok arrived; at most one more (published, then killed
        // before it counted it).
        const std::uint64_t counted = sent[0].load();
        r.check(next[0] >= counted && next[0] <= counted + 1,
                "all " + std::to_string(counted) + " counted sends of producer 0 and at most one more, not " +
                    std::to_string(next[0]));
    });
    // Producer 0 sends until it is killed, retrying while the cap is reached.
    child_report endless_report;
    child endless = endless_report.spawn([&](child_report& r) {
        auto qc = muq::open(name);
        auto tx = qc.sender();
        for (std::uint64_t i = 0;;) {
            const auto s = tx.send(make_msg(0, i));
            if (s)
                sent[0].store(++i);
            else
                r.expect(s.error(), errc::no_space);
        }
    });
    // The others attach before producer 0 is killed, or its death alone would read as peer_dead.
    signal_pipe attached;
    std::vector<child_report> sender_reports(producers - 1);
    std::vector<child> senders;
    for (std::uint64_t p = 1; p < producers; ++p) {
        senders.push_back(sender_reports[p - 1].spawn([&, p](child_report& r) {
            auto qc = muq::open(name);
            auto tx = qc.sender();
            attached.post();
            for (std::uint64_t i = 0; i < per_producer;) {
                const auto s = tx.send(make_msg(p, i));
                if (s)
                    ++i;
                else
                    r.expect(s.error(), errc::no_space);
            }
        }));
    }
    attached.close_write();
    for (std::uint64_t p = 1; p < producers; ++p) REQUIRE(attached.wait());
    const bool got_there = sent.wait_at_least(0, per_producer / 2);
    if (!got_there) CHECK(endless_report.ended(endless.kill()) == as_expected);
    REQUIRE(got_there);
    CHECK(endless_report.ended(endless.kill(), killed_by_sigkill) == as_expected);
    for (std::uint64_t p = 1; p < producers; ++p) CHECK(sender_reports[p - 1].finish(senders[p - 1]) == as_expected);
    CHECK(consumer_report.finish(consumer) == as_expected);
    CHECK(chunks_of(name).size() <= 1);
}
