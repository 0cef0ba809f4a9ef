// Tests of zero-capacity queues (the seed's rendezvous) across fork(): a send completes only once
// its message was taken, senders and receivers pair off with exactly-once delivery, a timed send
// that expires is never delivered afterwards (also when it races a taking receiver), and peers
// that close, are killed, or are killed half-way through taking or offering a message.
//
// Children do their work without Catch2 and report what went wrong through child_report, and
// what they did through pipes or counters in an anonymous shared mapping made before the fork;
// the parent asserts. No threads are
// started. Every wait is on the event itself, bounded by ipckit_test::patience. A child that
// must be killed at a known point first says it got there, then blocks on a pipe until it is
// killed.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <csignal>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::check_of;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::make_tick;
using ipckit_test::patience;
using ipckit_test::quick_liveness;
using ipckit_test::receive_in_order;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;

namespace {

/// Counters in an anonymous shared mapping, made before a fork and shared with the children.
class shared_counters {
public:
    explicit shared_counters(std::size_t n) : n_(n) {
        void* p = ::mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
        c_ = static_cast<std::atomic<std::uint32_t>*>(p);
        for (std::size_t i = 0; i < n_; ++i) ::new (&c_[i]) std::atomic<std::uint32_t>(0);
    }
    ~shared_counters() { ::munmap(c_, bytes()); }
    shared_counters(const shared_counters&) = delete;
    shared_counters& operator=(const shared_counters&) = delete;
    std::atomic<std::uint32_t>& operator[](std::size_t i) const noexcept { return c_[i]; }
    [[nodiscard]] std::size_t size() const noexcept { return n_; }

private:
    std::size_t bytes() const noexcept { return std::max<std::size_t>(n_, 1) * sizeof(std::atomic<std::uint32_t>); }
    std::atomic<std::uint32_t>* c_ = nullptr;
    std::size_t n_;
};

// ---- messages -------------------------------------------------------------------------------

using msg = ipckit_test::tick;

using rz = ipckit::queue<msg, ipckit::zero_capacity>;
using rz_many = ipckit::queue<msg, ipckit::zero_capacity, ipckit::multi_of<8>, ipckit::multi_of<8>>;
using st = ipckit::detail::offer_state;

/// A timeout that races a taker, from a pseudo-random x: a quarter already passed (the offer is
/// out only for the sender's first look), the rest up to 10 us, 100 us or 1 ms.
std::chrono::microseconds racing_timeout(std::uint64_t x) {
    const std::uint64_t r = x >> 33;
    constexpr std::uint64_t most[] = {0, 10, 100, 1000};
    return std::chrono::microseconds((r / 4) % (most[r % 4] + 1));
}

/// Waits until pred() holds, for at most patience; whether it did.
template <class Pred>
bool eventually(Pred&& pred) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        ::sched_yield();
    }
    return true;
}

/// The shared struct of a queue, through a segment handle of its own (white-box tests).
template <class Q>
struct inside {
    explicit inside(const std::string& name) : seg(ipckit::segment::open(name, Q::layout(), {})) {}
    typename Q::shared& operator*() const { return *static_cast<typename Q::shared*>(seg.body()); }
    typename Q::shared* operator->() const { return &**this; }
    ipckit::segment seg;
};

}  // namespace

// ---- a send is a rendezvous -----------------------------------------------------------------

TEST_CASE("rendezvous across processes: a send returns only after the receiver has taken the message",
          "[process]") {
    // The sender process reports each send's return through a pipe. Before the parent takes
    // message i, that report cannot be on the pipe; after, it must come.
    constexpr std::uint64_t n = 300;
    scoped_name name("rendezvous-proc");
    auto q = rz::create(name);
    auto rx = q.receiver();
    signal_pipe returned;

    child_report report;
    child sender_process = report.spawn([&](child_report& r) {
        auto qc = rz::open(name);
        auto tx = qc.sender();
        for (std::uint64_t i = 0; i < n; ++i) {
            r.expect(err(tx.send(make_tick(i), patience)), errc::ok);
            returned.post_value(i);
        }
    });
    returned.close_write();

    // The first one, with time to show a send that returns early.
    REQUIRE(eventually([&] { return q.depth() == 1; }));
    CHECK_FALSE(returned.wait_value(50ms));
    for (std::uint64_t i = 0; i < n; ++i) {
        CHECK_FALSE(returned.wait_value(0ms));  // send i has not returned: we have not taken it
        auto r = rx.receive(patience);
        REQUIRE(r);
        CHECK(r->seq == i);
        CHECK(r->check == check_of(i));
        const auto back = returned.wait_value();  // now it returns
        REQUIRE(back);
        CHECK(*back == i);
    }
    CHECK(report.finish(sender_process) == as_expected);
    CHECK(err(rx.receive(patience)) == errc::closed);
}

TEST_CASE("rendezvous across processes: 4 senders and 4 receivers pair off, each message received exactly once",
          "[process]") {
    constexpr std::uint64_t senders = 4;
    constexpr std::uint64_t receivers = 4;
    constexpr std::uint64_t per_sender = 1000;
    scoped_name name("rendezvous-proc");
    auto q = rz_many::create(name);
    shared_counters received(senders * per_sender);
    signal_pipe attached, start;

    std::vector<child_report> reports(senders + receivers);
    std::vector<child> children;
    children.reserve(senders + receivers);
    for (std::uint64_t k = 0; k < receivers; ++k) {
        children.push_back(reports[k].spawn([&](child_report& r) {
            auto qc = rz_many::open(name);
            auto rx = qc.receiver();
            attached.post();
            r.check(start.wait(), "the start signal");
            std::uint64_t last[senders];
            std::fill(std::begin(last), std::end(last), ~std::uint64_t{0});
            for (;;) {
                auto m = rx.receive(patience);
                if (!m) {
                    r.expect(m.error(), errc::closed);
                    return;
                }
                const std::uint64_t who = m->seq >> 32;
                const std::uint64_t i = m->seq & 0xffffffffu;
                r.check(who < senders && i < per_sender, "a seq some sender sends");
                r.check(m->check == check_of(m->seq), "a whole message");
                r.check(last[who] == ~std::uint64_t{0} || i > last[who], "each sender's messages in its order");
                last[who] = i;
                received[who * per_sender + i].fetch_add(1);
            }
        }));
    }
    for (std::uint64_t k = 0; k < senders; ++k) {
        children.push_back(reports[receivers + k].spawn([&, k](child_report& r) {
            auto qc = rz_many::open(name);
            auto tx = qc.sender();
            attached.post();
            r.check(start.wait(), "the start signal");
            for (std::uint64_t i = 0; i < per_sender; ++i)
                r.expect(err(tx.send(make_tick((k << 32) | i), patience)), errc::ok);
        }));
    }
    attached.close_write();
    // Everyone attaches before anyone starts, so that no receiver sees the senders all closed
    // before the last one came.
    for (std::uint64_t k = 0; k < senders + receivers; ++k) REQUIRE(attached.wait());
    start.post(senders + receivers);

    // The senders first; then the closed rule: a queue of many senders ends when it is closed
    // as a whole, and the receivers get closed.
    for (std::size_t k = 0; k < children.size(); ++k) {
        const std::size_t i = (k + receivers) % children.size();
        if (i == 0) q.close();
        CHECK(reports[i].finish(children[i]) == as_expected);
    }
    std::uint64_t lost = 0, twice = 0;
    for (std::size_t i = 0; i < received.size(); ++i) {
        lost += received[i].load() == 0;
        twice += received[i].load() > 1;
    }
    CHECK(lost == 0);
    CHECK(twice == 0);
}

// ---- deadlines ------------------------------------------------------------------------------

TEST_CASE("rendezvous across processes: a timed send that expires is never delivered afterwards", "[process]") {
    scoped_name name("rendezvous-proc");
    auto q = rz::create(name);
    signal_pipe result, finish;

    child_report report;
    child sender_process = report.spawn([&](child_report& r) {
        auto qc = rz::open(name);
        auto tx = qc.sender();
        result.post_value(static_cast<std::uint64_t>(err(tx.send(make_tick(5), 20ms))));
        r.check(finish.wait(), "the finish signal");  // keep the sender open: its receivers see no `closed`
    });
    result.close_write();

    const auto r = result.wait_value();
    REQUIRE(r);
    CHECK(static_cast<errc>(*r) == errc::timed_out);
    CHECK(q.depth() == 0);
    auto polling = q.receiver<ipckit::non_blocking>();
    CHECK(err(polling.receive()) == errc::would_block);
    polling.close();
    auto rx = q.receiver();
    CHECK(err(rx.receive(50ms)) == errc::timed_out);  // never that message
    finish.post();
    CHECK(report.finish(sender_process) == as_expected);
    CHECK(err(rx.receive(patience)) == errc::closed);
}

namespace {

/// Senders with deadlines of 0 to 1 ms race receivers taking their offers. Every message whose
/// send returned ok must have been received exactly once, every one whose send timed out never.
void race_deadlines_against_takers(std::uint64_t senders, std::uint64_t per_sender) {
    scoped_name name("rendezvous-proc");
    auto q = rz_many::create(name);
    shared_counters received(senders * per_sender);
    shared_counters outcome(senders * per_sender);  // 1 ok, 2 timed_out, 3 other
    signal_pipe attached, start;

    std::vector<child> children;
    // A blocking receiver (spins briefly, then sleeps) and a polling one.
    auto record = [&](const msg& m) {
        const std::uint64_t who = m.seq >> 32;
        const std::uint64_t i = m.seq & 0xffffffffu;
        if (who >= senders || i >= per_sender || m.check != check_of(m.seq)) return false;
        received[who * per_sender + i].fetch_add(1);
        return true;
    };
    std::vector<child_report> reports(2 + senders);
    children.reserve(2 + senders);
    children.push_back(reports[0].spawn([&](child_report& r) {
        auto qc = rz_many::open(name);
        auto rx = qc.receiver();
        attached.post();
        r.check(start.wait(), "the start signal");
        for (;;) {
            auto m = rx.receive(patience);
            if (!m) {
                r.expect(m.error(), errc::closed);
                return;
            }
            r.check(record(*m), "a whole message some sender sends");
        }
    }));
    children.push_back(reports[1].spawn([&](child_report& r) {
        auto qc = rz_many::open(name);
        auto rx = qc.receiver<ipckit::non_blocking>();
        attached.post();
        r.check(start.wait(), "the start signal");
        const auto give_up = std::chrono::steady_clock::now() + patience;
        for (;;) {
            auto m = rx.receive();
            if (m) {
                r.check(record(*m), "a whole message some sender sends");
            } else if (m.error() == errc::would_block) {
                r.check(std::chrono::steady_clock::now() <= give_up, "the queue closed within patience");
                ::sched_yield();
            } else {
                r.expect(m.error(), errc::closed);
                return;
            }
        }
    }));
    for (std::uint64_t k = 0; k < senders; ++k) {
        children.push_back(reports[2 + k].spawn([&, k](child_report& r) {
            auto qc = rz_many::open(name);
            auto tx = qc.sender();
            attached.post();
            r.check(start.wait(), "the start signal");
            std::uint64_t x = k + 1;
            for (std::uint64_t i = 0; i < per_sender; ++i) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                const auto timeout = racing_timeout(x);
                const auto s = tx.send(make_tick((k << 32) | i), timeout);
                outcome[k * per_sender + i].store(s ? 1 : (s.error() == errc::timed_out ? 2 : 3));
            }
        }));
    }
    attached.close_write();
    for (std::size_t k = 0; k < children.size(); ++k) REQUIRE(attached.wait());
    start.post(children.size());
    // The senders (children 2 on) first; then the closed rule: a queue of many senders ends
    // when it is closed as a whole, and the receivers get closed.
    for (std::size_t k = 0; k < children.size(); ++k) {
        const std::size_t i = (k + 2) % children.size();
        if (i == 0) q.close();
        CHECK(reports[i].finish(children[i]) == as_expected);
    }

    std::uint64_t ok = 0, timed_out = 0, other = 0, lost = 0, twice = 0, ghosts = 0;
    for (std::size_t k = 0; k < outcome.size(); ++k) {
        const std::uint32_t got = received[k].load();
        switch (outcome[k].load()) {
        case 1:
            ++ok;
            lost += got == 0;
            twice += got > 1;
            break;
        case 2:
            ++timed_out;
            ghosts += got != 0;  // received although its send said timed_out
            break;
        default: ++other; break;
        }
    }
    INFO("ok " << ok << ", timed_out " << timed_out);
    CHECK(other == 0);
    CHECK(lost == 0);
    CHECK(twice == 0);
    CHECK(ghosts == 0);
}

}  // namespace

TEST_CASE("rendezvous across processes: timed sends racing takers are received exactly when they returned ok",
          "[process]") {
    race_deadlines_against_takers(2, 1500);
}

TEST_CASE("rendezvous across processes: timed sends racing takers, at length", "[stress]") {
    race_deadlines_against_takers(4, 20'000);
}

// ---- a peer that closes ---------------------------------------------------------------------

TEST_CASE("rendezvous across processes: a blocked receiver of many senders gets closed once the queue is closed "
          "as a whole, not when the senders go",
          "[process]") {
    scoped_name name("rendezvous-proc");
    auto q = rz_many::create(name);
    std::optional<ipckit::sender<rz_many>> first(q.sender());
    std::optional<ipckit::sender<rz_many>> second(q.sender());
    signal_pipe waiting_now, done;

    child_report report;
    child receiver_process = report.spawn([&](child_report& r) {
        auto qc = rz_many::open(name);
        auto rx = qc.receiver();
        waiting_now.post();
        const auto m = rx.receive(patience);
        done.post();
        r.check(!m, "no message");
        r.expect(m.error(), errc::closed);
    });
    done.close_write();

    REQUIRE(report.reached(receiver_process, waiting_now) == as_expected);
    first.reset();
    CHECK_FALSE(done.wait(50ms));  // one sender is still there
    second.reset();
    CHECK_FALSE(done.wait(50ms));  // none is, but more may come (the closed rule)
    q.close();
    CHECK(report.finish(receiver_process) == as_expected);
}

TEST_CASE("rendezvous across processes: a blocked sender gets closed when every receiver closes, and its message "
          "is withdrawn",
          "[process]") {
    scoped_name name("rendezvous-proc");
    auto q = rz::create(name);
    std::optional<ipckit::receiver<rz>> rx(q.receiver());
    signal_pipe result, finish;

    child_report report;
    child sender_process = report.spawn([&](child_report& r) {
        auto qc = rz::open(name);
        auto tx = qc.sender();
        result.post_value(static_cast<std::uint64_t>(err(tx.send(make_tick(1), patience))));
        r.check(finish.wait(), "the finish signal");  // keep the sender open while the parent looks
    });
    result.close_write();

    REQUIRE(eventually([&] { return q.depth() == 1; }));
    CHECK_FALSE(result.wait_value(50ms));  // it waits while a receiver is there
    rx.reset();
    const auto r = result.wait_value();
    REQUIRE(r);
    CHECK(static_cast<errc>(*r) == errc::closed);
    CHECK(q.depth() == 0);
    auto late = q.receiver<ipckit::non_blocking>();
    CHECK(err(late.receive()) == errc::would_block);  // never the withdrawn message
    finish.post();
    CHECK(report.finish(sender_process) == as_expected);
}

// ---- a peer that is killed ------------------------------------------------------------------

TEST_CASE("rendezvous across processes: a blocked receiver gets peer_dead when every sender is killed",
          "[process]") {
    scoped_name name("rendezvous-proc");
    auto q = rz_many::create(name, quick_liveness(20ms));
    auto rx = q.receiver();
    signal_pipe attached, hold;

    std::vector<child_report> reports(2);
    std::vector<child> senders;
    for (auto& report : reports) {
        senders.push_back(report.spawn([&](child_report& r) {
            auto qc = rz_many::open(name);
            auto tx = qc.sender();
            attached.post();
            r.block_until_killed(hold);
        }));
    }
    attached.close_write();
    REQUIRE(attached.wait());
    REQUIRE(attached.wait());
    CHECK(err(rx.receive(50ms)) == errc::timed_out);
    CHECK(reports[0].ended(senders[0].kill(), killed_by_sigkill) == as_expected);
    CHECK(err(rx.receive(50ms)) == errc::timed_out);  // one still lives
    CHECK(reports[1].ended(senders[1].kill(), killed_by_sigkill) == as_expected);
    CHECK(rx.peer() == errc::peer_dead);
    CHECK(err(rx.receive(patience)) == errc::peer_dead);
    CHECK(err(rx.receive(50ms)) == errc::timed_out);  // reported once; more senders may come
    q.close();
    CHECK(err(rx.receive()) == errc::closed);  // no deadline: still returns
}

TEST_CASE("rendezvous across processes: a receiver killed half-way through taking a message makes the send "
          "return peer_dead, not hang",
          "[process]") {
    scoped_name name("rendezvous-proc");
    auto q = rz::create(name, quick_liveness(20ms));

    // Takes the offer by hand, as try_take does, and is killed in the middle of its copy.
    child_report taker_report;
    child taker = taker_report.spawn([&](child_report& r) {
        auto qc = rz::open(name);
        auto rx = qc.receiver();  // receiver place 0
        inside<rz> sh(name);
        auto& o = sh->offers[0];
        std::uint64_t s = 0;
        r.check(eventually([&] {
                    s = o.state.load(std::memory_order_acquire);
                    return st::kind_of(s) == st::offered;
                }),
                "an offer within patience");
        const std::uint64_t seq = st::seq_of(s);
        sh->receivers.places[0].pending.store(st::token(0, seq));
        r.check(o.state.compare_exchange_strong(s, st::pack(st::taken, 0, seq)), "to take the offer");
        std::uint64_t half = 0;
        std::memcpy(&half, &o.value, sizeof half);
        ::kill(::getpid(), SIGKILL);
    });

    auto tx = q.sender();
    CHECK(err(tx.send(make_tick(7), patience)) == errc::peer_dead);
    CHECK(taker_report.ended(taker.wait(), killed_by_sigkill) == as_expected);

    // The next send clears the slot the dead taker left, and a new receiver (in its place) gets
    // the next message whole.
    // (Attached first: the dead taker's place was let go of with its peer_dead, and a send
    // with nobody there would rightly end closed.)
    signal_pipe attached;
    child_report next_report;
    child next_receiver = next_report.spawn([&](child_report& r) {
        auto qc = rz::open(name);
        auto rx = qc.receiver();
        attached.post();
        r.expect(receive_in_order(rx, 8, 9));
    });
    REQUIRE(next_report.reached(next_receiver, attached) == as_expected);
    CHECK(err(tx.send(make_tick(8), patience)) == errc::ok);
    CHECK(next_report.finish(next_receiver) == as_expected);
}

namespace {
using rz_bytes = ipckit::queue<ipckit::bytes<64>, ipckit::zero_capacity>;
using rz_bytes_many = ipckit::queue<ipckit::bytes<64>, ipckit::zero_capacity, ipckit::multi_of<4>, ipckit::multi_of<4>>;
}  // namespace

TEMPLATE_TEST_CASE("rendezvous across processes: a receiver killed with a message parked (a buffer too small) is "
                   "peer_dead once to its sender, then the closed rule",
                   "[process]", rz_bytes, rz_bytes_many) {
    using Q = TestType;
    scoped_name name("rendezvous-proc");
    auto q = Q::create(name, quick_liveness(20ms));
    // Takes the offer into a buffer too small: the message stays parked with it (taken, its copy
    // never done), and it dies so.
    child_report taker_report;
    child taker = taker_report.spawn([&](child_report& r) {
        auto qc = Q::open(name);
        auto rx = qc.receiver();
        std::array<std::byte, 2> small{};
        r.expect(err(rx.receive(std::span(small), patience)), errc::too_large);
        ::kill(::getpid(), SIGKILL);
    });
    auto tx = q.sender();
    CHECK(err(tx.send(std::string_view("hello world"), patience)) == errc::peer_dead);
    CHECK(taker_report.ended(taker.wait(), killed_by_sigkill) == as_expected);
    // Its death is reported: nobody is there now, and the closed rule says the rest. One
    // receiver's end is closed; a side of many waits on for newcomers, till the deadline.
    const errc after = Q::max_receivers == 1 ? errc::closed : errc::timed_out;
    CHECK(err(tx.send(std::string_view("again"), 100ms)) == after);
    CHECK(err(tx.send(std::string_view("and again"), 100ms)) == after);
}

TEST_CASE("rendezvous across processes: a sender killed with its offer out", "[process]") {
    scoped_name name("rendezvous-proc");
    auto q = rz::create(name, quick_liveness(20ms));
    auto rx = q.receiver<ipckit::non_blocking>();

    child_report report;
    child sender_process = report.spawn([&](child_report& r) {
        auto qc = rz::open(name);
        auto tx = qc.sender();
        const errc e = err(tx.send(make_tick(1), patience));
        r.check(false, "to be killed while its send waited (it returned " + ipckit_test::errc_text(e) + ")");
    });
    REQUIRE(eventually([&] { return q.depth() == 1; }));
    CHECK(report.ended(sender_process.kill(), killed_by_sigkill) == as_expected);
    CHECK(q.depth() == 1);  // its offer, complete, outlives it

    SECTION("a receiver may still take the complete message") {
        auto r = rx.receive();
        REQUIRE(r);
        CHECK(r->seq == 1);
        CHECK(r->check == check_of(1));
        CHECK(err(rx.receive()) == errc::would_block);
        CHECK(rx.peer() == errc::peer_dead);
    }
    SECTION("a new sender in its place takes the offer back, then sends its own") {
        auto tx = q.sender();  // the dead one's place
        CHECK(q.depth() == 0);
        CHECK(err(rx.receive()) == errc::would_block);  // never the dead sender's message
        rx.close();  // a single-consumer queue: make room for a receiving process
        signal_pipe attached;
        child_report next_report;
        child next_receiver = next_report.spawn([&](child_report& r) {
            auto qc = rz::open(name);
            auto r2 = qc.receiver();
            attached.post();
            r.expect(receive_in_order(r2, 2, 3));
        });
        // else the send could rightly see every receiver closed
        REQUIRE(next_report.reached(next_receiver, attached) == as_expected);
        CHECK(err(tx.send(make_tick(2), patience)) == errc::ok);
        CHECK(next_report.finish(next_receiver) == as_expected);
    }
}

TEST_CASE("rendezvous across processes: a sender killed while writing its offer leaves nothing to take",
          "[process]") {
    scoped_name name("rendezvous-proc");
    auto q = rz::create(name, quick_liveness(20ms));
    auto rx = q.receiver();

    // Writes half a message into its slot by hand, as send does before it publishes, and dies.
    child_report report;
    child sender_process = report.spawn([&](child_report&) {
        auto qc = rz::open(name);
        auto tx = qc.sender();
        inside<rz> sh(name);
        const std::uint64_t junk = 0xdeadbeef;
        std::memcpy(&sh->offers[0].value, &junk, sizeof junk);
        ::kill(::getpid(), SIGKILL);
    });
    CHECK(report.ended(sender_process.wait(), killed_by_sigkill) == as_expected);
    CHECK(q.depth() == 0);
    CHECK(err(rx.receive(patience)) == errc::peer_dead);  // nothing taken: the sender is gone

    signal_pipe attached;
    child_report next_report;
    child next_sender = next_report.spawn([&](child_report& r) {
        auto qc = rz::open(name);
        auto tx = qc.sender();  // the dead one's place
        attached.post();
        r.expect(err(tx.send(make_tick(3), patience)), errc::ok);
    });
    // else the receive could rightly see every sender dead
    REQUIRE(next_report.reached(next_sender, attached) == as_expected);
    auto r = rx.receive(patience);
    REQUIRE(r);
    CHECK(r->seq == 3);
    CHECK(r->check == check_of(3));
    CHECK(next_report.finish(next_sender) == as_expected);
}
