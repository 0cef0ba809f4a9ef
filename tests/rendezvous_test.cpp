// Tests of zero-capacity queues (the seed's rendezvous, include/ipckit/detail/queue/rendezvous.hpp)
// within one process: set-up, each verb, closing, deadlines, the decision between a receiver
// taking an offer and its sender withdrawing it, and sender and receiver threads pairing off
// (these are the tests to run under ThreadSanitizer).
//
// Waits are on the event itself with ipckit_test::patience. Where a test needs a verb to be
// blocked, it asserts that the verb has not returned after 50 ms and then makes it return; the
// 50 ms only makes it likely that the verb really waits, the outcome is asserted either way.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::check_of;
using ipckit_test::err;
using ipckit_test::make_tick;
using ipckit_test::patience;
using ipckit_test::scoped_name;
using ipckit_test::setup_errc;
using ipckit_test::tick;

namespace {

using rz = ipckit::queue<tick, ipckit::zero_capacity>;
using rz_many = ipckit::queue<tick, ipckit::zero_capacity, ipckit::multi_of<8>, ipckit::multi_of<8>>;
using bounded_q = ipckit::queue<tick, ipckit::bounded<16>>;
using st = ipckit::detail::offer_state;

constexpr auto short_wait = 50ms;

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
        std::this_thread::yield();
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

/// The receiver roster place this process holds (the first one, if several).
template <class Shared>
std::size_t my_receiver_place(const Shared& sh) {
    const std::uint64_t me = ipckit::detail::sys::self().pack();
    for (std::size_t i = 0; i < std::size(sh.receivers.places); ++i)
        if (sh.receivers.places[i].holder.load() == me) return i;
    return std::size(sh.receivers.places);
}

}  // namespace

// ---- set-up ---------------------------------------------------------------------------------

TEST_CASE("rendezvous: its layout says zero_capacity, and a bounded queue of the same name is incompatible",
          "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    CHECK(rz::capacity == 0);
    CHECK(q.depth() == 0);
    const std::string d = rz::layout().description;
    CHECK(d.find("zero_capacity") != std::string::npos);
    CHECK(d.find("bounded") == std::string::npos);
    CHECK(rz_many::layout().description.find("multi<8> producer, multi<8> consumer") != std::string::npos);
    CHECK(setup_errc([&] { return bounded_q::open(name); }) == errc::incompatible_layout);
    CHECK(setup_errc([&] { return rz_many::open(name); }) == errc::incompatible_layout);
    auto again = rz::open(name);
    CHECK_FALSE(again.created());
}

TEST_CASE("rendezvous: a single-producer single-consumer rendezvous refuses a second sender or receiver",
          "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    CHECK(setup_errc([&] { return q.sender(); }) == errc::sender_busy);
    CHECK(setup_errc([&] { return q.receiver<ipckit::non_blocking>(); }) == errc::receiver_busy);

    scoped_name many_name("rendezvous");
    auto many = rz_many::create(many_name);
    std::vector<ipckit::sender<rz_many>> senders;
    for (int i = 0; i < 8; ++i) senders.push_back(many.sender());
    CHECK(setup_errc([&] { return many.sender(); }) == errc::sender_busy);
}

// ---- verbs ----------------------------------------------------------------------------------

TEST_CASE("rendezvous: a non-blocking receive with no sender offering would block, then is closed", "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto rx = q.receiver<ipckit::non_blocking>();
    CHECK(err(rx.receive()) == errc::would_block);  // nobody came yet
    {
        auto tx = q.sender();
        CHECK(err(rx.receive()) == errc::would_block);  // a sender, but no offer
    }
    CHECK(err(rx.receive()) == errc::closed);  // every sender let go
    tick out{};
    CHECK(err(rx.receive(out)) == errc::closed);
}

TEST_CASE("rendezvous: a blocking receive with no offer times out at its deadline", "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    CHECK(err(rx.receive(20ms)) == errc::timed_out);
    CHECK(err(rx.receive(std::chrono::steady_clock::now())) == errc::timed_out);
}

TEST_CASE("rendezvous: a timed send that nobody takes returns timed_out and withdraws its message", "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto tx = q.sender();
    auto rx = q.receiver<ipckit::non_blocking>();
    CHECK(err(tx.send(make_tick(1), 20ms)) == errc::timed_out);
    CHECK(q.depth() == 0);
    CHECK(err(rx.receive()) == errc::would_block);  // never that message
    CHECK(err(tx.send(make_tick(2), std::chrono::steady_clock::now())) == errc::timed_out);
    CHECK(err(rx.receive()) == errc::would_block);
    // The sender still works.
    auto got = std::async(std::launch::async, [&] {
        std::optional<tick> r;
        eventually([&] {
            auto m = rx.receive();
            if (m) r = *m;
            return m.has_value();
        });
        return r;
    });
    REQUIRE(tx.send(make_tick(3), patience));
    const auto r = got.get();
    REQUIRE(r);
    CHECK(r->seq == 3);
    CHECK(r->check == check_of(3));
}

TEST_CASE("rendezvous: a send waits until a receiver takes its message", "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto tx = q.sender();
    auto rx = q.receiver<ipckit::non_blocking>();
    auto sent = std::async(std::launch::async, [&] { return err(tx.send(make_tick(42), patience)); });
    REQUIRE(eventually([&] { return q.depth() == 1; }));  // its offer is out
    REQUIRE(sent.wait_for(short_wait) == std::future_status::timeout);  // and it waits
    auto r = rx.receive();
    REQUIRE(r);
    CHECK(r->seq == 42);
    CHECK(r->check == check_of(42));
    CHECK(sent.get() == errc::ok);
    CHECK(q.depth() == 0);
    CHECK(err(rx.receive()) == errc::would_block);  // once only
}

TEST_CASE("rendezvous: a blocked receive returns the message a sender offers", "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    auto got = std::async(std::launch::async, [&] { return rx.receive(patience); });
    REQUIRE(got.wait_for(short_wait) == std::future_status::timeout);
    REQUIRE(tx.send(make_tick(7), patience));
    auto r = got.get();
    REQUIRE(r);
    CHECK(r->seq == 7);
}

// ---- closing --------------------------------------------------------------------------------

TEST_CASE("rendezvous: a blocked receive returns closed when the sender closes", "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto rx = q.receiver();
    std::optional<ipckit::sender<rz>> tx(q.sender());
    auto got = std::async(std::launch::async, [&] { return err(rx.receive(patience)); });
    REQUIRE(got.wait_for(short_wait) == std::future_status::timeout);
    tx.reset();
    CHECK(got.get() == errc::closed);
}

TEST_CASE("rendezvous: a blocked send returns closed when the receiver closes, and its message is withdrawn",
          "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto tx = q.sender();
    std::optional<ipckit::receiver<rz>> rx(q.receiver());
    auto sent = std::async(std::launch::async, [&] { return err(tx.send(make_tick(1), patience)); });
    REQUIRE(eventually([&] { return q.depth() == 1; }));
    REQUIRE(sent.wait_for(short_wait) == std::future_status::timeout);
    rx.reset();
    CHECK(sent.get() == errc::closed);
    CHECK(q.depth() == 0);
    auto late = q.receiver<ipckit::non_blocking>();  // reopens the queue for the sender
    CHECK(err(late.receive()) == errc::would_block);  // never the withdrawn message
    CHECK(err(tx.send(make_tick(2), 20ms)) == errc::timed_out);
}

TEST_CASE("rendezvous: a send after every receiver closed returns closed without waiting", "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto tx = q.sender();
    { auto rx = q.receiver(); }
    CHECK(tx.peer() == errc::closed);
    CHECK(err(tx.send(make_tick(1), patience)) == errc::closed);
    CHECK(err(tx.send(make_tick(1))) == errc::closed);  // no deadline: still returns
    CHECK(q.depth() == 0);
}

TEST_CASE("rendezvous: verbs on a closed or moved-from endpoint return closed", "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto tx = q.sender();
    auto rx = q.receiver<ipckit::non_blocking>();
    auto tx2 = std::move(tx);
    auto rx2 = std::move(rx);
    CHECK(err(tx.send(make_tick(1), 10ms)) == errc::closed);  // NOLINT(bugprone-use-after-move)
    CHECK(err(rx.receive()) == errc::closed);                 // NOLINT(bugprone-use-after-move)
    CHECK(tx2.peer() == errc::ok);
    CHECK(err(rx2.receive()) == errc::would_block);  // the moved-from shells did not close the queue
    rx2.close();
    CHECK(err(rx2.receive()) == errc::closed);
    CHECK(tx2.peer() == errc::closed);
}

// ---- the decision between taking and withdrawing (white-box) ---------------------------------

TEST_CASE("rendezvous: a send whose message was taken before its deadline returns ok once the copy is done, "
          "however late",
          "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();  // holds a receiver place, which a taker by hand uses
    inside<rz> sh(name);
    auto& o = sh->offers[0];
    const std::size_t place = my_receiver_place(*sh);
    REQUIRE(place == 0);

    // Take the offer as a receiver does, and stop half-way through the copy. A loaded machine may
    // let the deadline pass before we get there (the send then rightly times out): try again
    // with a longer one.
    std::chrono::steady_clock::time_point deadline;
    std::future<errc> sent;
    std::uint64_t s = 0;
    std::uint64_t seq = 0;
    bool took = false;
    for (auto allowed = 20ms; !took && allowed < patience; allowed *= 2) {
        deadline = std::chrono::steady_clock::now() + allowed;
        sent = std::async(std::launch::async, [&tx, deadline] { return err(tx.send(make_tick(5), deadline)); });
        REQUIRE(eventually([&] {
            s = o.state.load(std::memory_order_acquire);
            return st::kind_of(s) == st::offered || sent.wait_for(0s) == std::future_status::ready;
        }));
        if (st::kind_of(s) == st::offered) {
            seq = st::seq_of(s);
            sh->receivers.places[place].pending.store(st::token(0, seq));
            took = o.state.compare_exchange_strong(s, st::pack(st::taken, place, seq));
        }
        if (!took) CHECK(sent.get() == errc::timed_out);  // withdrawn first
    }
    REQUIRE(took);
    tick copy{};
    std::memcpy(&copy.seq, &o.value.seq, sizeof copy.seq);

    // The deadline passes while we copy: the send must not report timed_out.
    REQUIRE(eventually([&] { return std::chrono::steady_clock::now() > deadline + 20ms; }));
    CHECK(sent.wait_for(short_wait) == std::future_status::timeout);

    std::memcpy(&copy.check, &o.value.check, sizeof copy.check);
    o.stamp.store(st::taken_stamp(seq));  // the copy is done, as a taker says before done
    std::uint64_t mine = st::pack(st::taken, place, seq);
    REQUIRE(o.state.compare_exchange_strong(mine, st::pack(st::done, place, seq)));
    sh->receivers.places[place].pending.store(0);
    o.bell.ring();
    CHECK(sent.get() == errc::ok);
    CHECK(copy.seq == 5);
    CHECK(copy.check == check_of(5));
}

TEST_CASE("rendezvous: a sender resets a scribbled offer slot and goes on", "[unit]") {
    scoped_name name("rendezvous");
    auto q = rz::create(name);
    auto tx = q.sender();
    auto rx = q.receiver<ipckit::non_blocking>();
    inside<rz> sh(name);
    auto& o = sh->offers[0];

    SECTION("a kind nobody writes") { o.state.store(st::pack(st::empty, 0, 77) | 0xb); }
    SECTION("taken by a receiver place that does not exist") {
        o.state.store(st::pack(st::taken, 4000, 78));
    }
    SECTION("taken by a receiver place that lists another offer") {
        o.state.store(st::pack(st::taken, 0, 79));
        sh->receivers.places[0].pending.store(st::token(0, 12));
    }
    CHECK(err(rx.receive()) == errc::would_block);  // nothing a receiver takes
    auto got = std::async(std::launch::async, [&] {
        std::optional<tick> r;
        eventually([&] {
            auto m = rx.receive();
            if (m) r = *m;
            return m.has_value();
        });
        return r;
    });
    CHECK(err(tx.send(make_tick(9), patience)) == errc::ok);
    const auto r = got.get();
    REQUIRE(r);
    CHECK(r->seq == 9);
}

// ---- threads --------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("rendezvous: a sender thread hands 1e4 messages in order to a receiver thread", "[unit]",
                   ipckit::spin, ipckit::futex, ipckit::adaptive) {
    using queue_t = ipckit::queue<tick, ipckit::zero_capacity, ipckit::single, ipckit::single, TestType>;
    constexpr std::uint64_t n = 10'000;
    scoped_name name("rendezvous");
    auto q = queue_t::create(name);
    auto rx = q.receiver();

    const auto out = ipckit_test::stream_through_threads(q.sender(), rx, n);
    CHECK(out.sender_error == errc::ok);
    CHECK(out.received == n);
    CHECK(out.wrong == 0);
    CHECK(out.end == errc::closed);
}

TEST_CASE("rendezvous: sender and receiver threads with racing deadlines account for every message exactly",
          "[unit]") {
    // 3 senders with deadlines of 0 to 1 ms, 3 receivers (two blocking, one non-blocking).
    // Every send that returned ok was received exactly once, every one that timed out never.
    constexpr std::size_t senders = 3;
    constexpr std::uint64_t per_sender = 1500;
    scoped_name name("rendezvous");
    auto q = rz_many::create(name);

    std::vector<std::atomic<std::uint32_t>> received(senders * per_sender);
    std::vector<std::uint8_t> outcome(senders * per_sender, 0);  // 1 ok, 2 timed_out, 3 other
    std::atomic<int> receiver_faults{0};

    // Attach everything first, so that no side sees the other closed before it came.
    std::vector<ipckit::sender<rz_many>> txs;
    for (std::size_t s = 0; s < senders; ++s) txs.push_back(q.sender());
    std::vector<ipckit::receiver<rz_many>> blocking_rxs;
    blocking_rxs.push_back(q.receiver());
    blocking_rxs.push_back(q.receiver());
    auto polling_rx = q.receiver<ipckit::non_blocking>();

    auto take = [&](const tick& m) {
        const std::uint64_t who = m.seq >> 32;
        const std::uint64_t i = m.seq & 0xffffffffu;
        if (who >= senders || i >= per_sender || m.check != check_of(m.seq)) {
            receiver_faults.fetch_add(1);
            return;
        }
        received[who * per_sender + i].fetch_add(1, std::memory_order_relaxed);
    };

    std::vector<std::thread> threads;
    for (auto& rx : blocking_rxs) {
        threads.emplace_back([&, r = std::move(rx)]() mutable {
            for (;;) {
                auto m = r.receive(patience);
                if (!m) {
                    if (m.error() != errc::closed) receiver_faults.fetch_add(1);
                    return;
                }
                take(*m);
            }
        });
    }
    threads.emplace_back([&, r = std::move(polling_rx)]() mutable {
        const auto give_up = std::chrono::steady_clock::now() + patience;
        for (;;) {
            auto m = r.receive();
            if (m) {
                take(*m);
            } else if (m.error() == errc::would_block) {
                if (std::chrono::steady_clock::now() > give_up) {
                    receiver_faults.fetch_add(1);
                    return;
                }
                std::this_thread::yield();
            } else {
                if (m.error() != errc::closed) receiver_faults.fetch_add(1);
                return;
            }
        }
    });
    for (std::size_t s = 0; s < senders; ++s) {
        threads.emplace_back([&, s, t = std::move(txs[s])]() mutable {
            std::uint64_t x = s + 1;
            for (std::uint64_t i = 0; i < per_sender; ++i) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                const auto timeout = racing_timeout(x);
                const auto r = t.send(make_tick((s << 32) | i), timeout);
                outcome[s * per_sender + i] = r ? 1 : (r.error() == errc::timed_out ? 2 : 3);
            }
        });
    }
    // The senders first (threads 3 on); then the closed rule: a queue of many senders ends when
    // it is closed as a whole, and the receivers get closed.
    for (std::size_t k = 3; k < threads.size(); ++k) threads[k].join();
    q.close();
    for (std::size_t k = 0; k < 3; ++k) threads[k].join();

    std::uint64_t ok = 0, timed_out = 0, other = 0, lost = 0, twice = 0, ghosts = 0;
    for (std::size_t k = 0; k < outcome.size(); ++k) {
        const std::uint32_t got = received[k].load();
        if (outcome[k] == 1) {
            ++ok;
            lost += got == 0;
            twice += got > 1;
        } else if (outcome[k] == 2) {
            ++timed_out;
            ghosts += got != 0;  // received although its send timed out
        } else {
            ++other;
        }
    }
    INFO("ok " << ok << ", timed_out " << timed_out);
    CHECK(receiver_faults.load() == 0);
    CHECK(other == 0);
    CHECK(lost == 0);
    CHECK(twice == 0);
    CHECK(ghosts == 0);
}
