// Tests of ipckit::mailbox in one process: delivery exclusive, any and round_robin, removal
// while in use, a mailbox opened with other policies, and what a system_owned mailbox keeps.
// Across processes (owners and receivers that die, restarts): mailbox_process_test.cpp.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/mailbox.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::err;
using ipckit_test::make_tick;
using ipckit_test::patience;
using ipckit_test::scoped_name;
using ipckit_test::setup_message;
using ipckit_test::tick;

namespace {

template <class D, class O = ipckit::system_owned>
using box8 = ipckit::mailbox<tick, ipckit::bounded<8>, D, O>;

}  // namespace

TEST_CASE("mailbox: exclusive delivers in order to its one receiver, and a second receiver is receiver_busy",
          "[unit]") {
    scoped_name name("mbox");
    using box = box8<ipckit::exclusive>;
    auto mb = box::create(name);
    auto tx = box::open(name).sender();
    for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(tx.send(make_tick(i)));
    CHECK(mb.depth() == 5);
    {
        auto rx = mb.receiver();
        CHECK(ipckit_test::setup_errc([&] { (void)mb.receiver(); }) == errc::receiver_busy);
        CHECK(setup_message([&] { (void)mb.receiver(); }).find("exclusive") != std::string::npos);
        for (std::uint64_t i = 0; i < 3; ++i) {
            auto m = rx.receive(patience);
            REQUIRE(m);
            CHECK(m->seq == i);
        }
    }
    // The first receiver has closed: the next one takes over where it left off.
    auto rx = mb.receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 3; i < 5; ++i) {
        auto m = rx.receive();
        REQUIRE(m);
        CHECK(m->seq == i);
    }
    CHECK(err(rx.receive()) == errc::would_block);
}

TEST_CASE("mailbox: a receiver does not see closed when every sender has gone", "[unit]") {
    scoped_name name("mbox");
    using box = box8<ipckit::any>;
    auto mb = box::create(name);
    auto rx = mb.receiver();
    {
        auto tx = mb.sender();
        REQUIRE(tx.send(make_tick(1)));
    }
    REQUIRE(rx.receive(patience));
    CHECK(err(rx.receive(20ms)) == errc::timed_out);
    auto tx = mb.sender();  // a new sender comes later: the mailbox is still there
    REQUIRE(tx.send(make_tick(2)));
    CHECK(rx.receive(patience).value().seq == 2);
}

TEST_CASE("mailbox: any delivers each message to exactly one of several receiving threads", "[unit]") {
    scoped_name name("mbox");
    using box = box8<ipckit::any>;
    auto mb = box::create(name);
    constexpr std::uint64_t total = 20000;
    constexpr int receivers = 3;
    std::vector<std::atomic<int>> seen(total);
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    std::vector<std::uint64_t> counts(receivers, 0);
    for (int r = 0; r < receivers; ++r) {
        threads.emplace_back([&, r] {
            auto rx = mb.receiver();
            std::uint64_t last = 0;
            bool first = true;
            for (;;) {
                auto m = rx.receive(patience);
                if (!m) {
                    if (m.error() != errc::closed) bad++;
                    return;
                }
                if (m->check != ipckit_test::check_of(m->seq) || m->seq >= total || (!first && m->seq <= last)) bad++;
                else seen[m->seq]++;
                first = false;
                last = m->seq;
                counts[r]++;
            }
        });
    }
    {
        auto tx = mb.sender();
        for (std::uint64_t i = 0; i < total; ++i) REQUIRE(tx.send(make_tick(i)));
    }
    REQUIRE(box::remove(name));  // receivers drain, then get closed
    for (auto& t : threads) t.join();
    CHECK(bad == 0);
    std::uint64_t delivered = 0;
    for (auto& s : seen) delivered += s == 1 ? 1 : 0;
    CHECK(delivered == total);
    CHECK(counts[0] + counts[1] + counts[2] == total);
}

TEST_CASE("mailbox: round_robin receivers take turns, in place order, and get equal shares", "[unit]") {
    scoped_name name("mbox");
    using box = ipckit::mailbox<tick, ipckit::bounded<64>, ipckit::round_robin, ipckit::system_owned>;
    auto mb = box::create(name);
    std::vector<box::receiver_type<ipckit::non_blocking>> rx;
    for (int i = 0; i < 3; ++i) rx.push_back(mb.receiver<ipckit::non_blocking>());
    auto tx = mb.sender();
    for (std::uint64_t i = 0; i < 30; ++i) REQUIRE(tx.send(make_tick(i)));
    // Off its turn a receiver gets would_block, even with messages waiting.
    CHECK(err(rx[1].receive()) == errc::would_block);
    CHECK(err(rx[2].receive()) == errc::would_block);
    for (std::uint64_t i = 0; i < 30; ++i) {
        auto m = rx[i % 3].receive();
        REQUIRE(m);
        CHECK(m->seq == i);
        CHECK(err(rx[(i + 2) % 3].receive()) == errc::would_block);  // the one that just had its turn
    }
    CHECK(mb.depth() == 0);
}

TEST_CASE("mailbox: a round_robin receiver that closes passes its turn on", "[unit]") {
    scoped_name name("mbox");
    using box = ipckit::mailbox<tick, ipckit::bounded<64>, ipckit::round_robin, ipckit::system_owned>;
    auto mb = box::create(name);
    auto a = mb.receiver<ipckit::non_blocking>();
    auto b = mb.receiver<ipckit::non_blocking>();
    auto c = mb.receiver<ipckit::non_blocking>();
    auto tx = mb.sender();
    for (std::uint64_t i = 0; i < 6; ++i) REQUIRE(tx.send(make_tick(i)));
    CHECK(a.receive().value().seq == 0);
    b.close();  // its turn: passed on to c
    CHECK(err(b.receive()) == errc::closed);
    CHECK(c.receive().value().seq == 1);
    CHECK(a.receive().value().seq == 2);
    CHECK(c.receive().value().seq == 3);
    // A receiver that joins takes its turn when the cycle reaches its place (b's, now free).
    auto d = mb.receiver<ipckit::non_blocking>();
    CHECK(a.receive().value().seq == 4);
    CHECK(err(c.receive()) == errc::would_block);
    CHECK(d.receive().value().seq == 5);
}

TEST_CASE("mailbox: a blocked round_robin receiver waits for its turn, then gets its message", "[unit]") {
    scoped_name name("mbox");
    using box = ipckit::mailbox<tick, ipckit::bounded<8>, ipckit::round_robin, ipckit::system_owned>;
    auto mb = box::create(name);
    auto a = mb.receiver();
    std::atomic<std::uint64_t> got{~0ULL};
    std::atomic<bool> attached{false};
    std::thread t([&] {
        auto b = mb.receiver();
        attached = true;
        auto m = b.receive(patience);
        got = m ? m->seq : 1000 + static_cast<std::uint64_t>(m.error());
    });
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (!attached && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    auto tx = mb.sender();
    // a holds place 0 and b place 1: a takes message 0, b message 1., a takes every message until b's turn comes; b then gets one.
    for (std::uint64_t i = 0; i < 2; ++i) REQUIRE(tx.send(make_tick(i)));
    CHECK(a.receive(patience).value().seq == 0);
    t.join();
    CHECK(got == 1);
}

TEST_CASE("mailbox: remove while in use: sends are closed, receivers drain what was accepted, then closed",
          "[unit]") {
    scoped_name name("mbox");
    using box = box8<ipckit::any>;
    auto mb = box::create(name);
    auto tx = mb.sender();
    auto rx = mb.receiver();
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tx.send(make_tick(i)));
    REQUIRE(box::remove(name));
    CHECK_FALSE(mb.is_open());
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(err(tx.send(make_tick(9))) == errc::closed);
    for (std::uint64_t i = 0; i < 3; ++i) CHECK(rx.receive(patience).value().seq == i);
    CHECK(err(rx.receive(patience)) == errc::closed);
    CHECK_FALSE(box::remove(name));
    // The name is free again.
    auto again = box::create(name);
    CHECK(again.is_open());
}

TEST_CASE("mailbox: remove wakes a blocked receiver with closed", "[unit]") {
    scoped_name name("mbox");
    using box = ipckit::mailbox<tick, ipckit::bounded<2>, ipckit::exclusive, ipckit::system_owned>;
    auto mb = box::create(name);
    auto rx = mb.receiver();
    std::atomic<int> got{-1};
    std::thread r([&] { got = static_cast<int>(err(rx.receive(patience))); });
    REQUIRE(box::remove(name));
    r.join();
    CHECK(got == static_cast<int>(errc::closed));
}

TEST_CASE("mailbox: remove wakes a sender blocked on a full mailbox with closed, and what it sent is received",
          "[unit]") {
    scoped_name name("mbox");
    using box = ipckit::mailbox<tick, ipckit::bounded<2>, ipckit::exclusive, ipckit::system_owned>;
    auto mb = box::create(name);
    std::atomic<int> sent{0};
    std::atomic<int> got{-1};
    std::thread s([&] {
        auto tx = mb.sender();
        for (std::uint64_t i = 0;; ++i) {
            const errc e = err(tx.send(make_tick(i), patience));
            if (e != errc::ok) {
                got = static_cast<int>(e);
                return;
            }
            sent++;
        }
    });
    // Once two are waiting the mailbox is full: the sender blocks (or is about to).
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (mb.depth() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    REQUIRE(box::remove(name));
    s.join();
    CHECK(got == static_cast<int>(errc::closed));
    CHECK(sent == 2);
    auto rx = mb.receiver();
    CHECK(rx.receive(patience).value().seq == 0);
    CHECK(rx.receive(patience).value().seq == 1);
    CHECK(err(rx.receive(patience)) == errc::closed);
}

TEST_CASE("mailbox: opening with another delivery or ownership policy is incompatible_layout, saying which",
          "[unit]") {
    scoped_name name("mbox");
    auto mb = box8<ipckit::any>::create(name);
    const std::string delivery = setup_message([&] { (void)box8<ipckit::round_robin>::open(name); });
    CHECK(delivery.find("delivery policy round_robin") != std::string::npos);
    CHECK(delivery.find("the mailbox's is any") != std::string::npos);
    CHECK(ipckit_test::setup_errc([&] { (void)box8<ipckit::round_robin>::open(name); }) == errc::incompatible_layout);
    CHECK(ipckit_test::setup_errc([&] { (void)box8<ipckit::exclusive>::open_or_create(name); }) == errc::incompatible_layout);
    CHECK(ipckit_test::setup_errc([&] { (void)box8<ipckit::exclusive, ipckit::process_owned>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_message([&] { (void)box8<ipckit::exclusive, ipckit::system_owned>::open(name); })
              .find("delivery policy exclusive") != std::string::npos);
    CHECK(ipckit_test::setup_errc([&] { (void)ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::any, ipckit::system_owned>::open(
                          name); }) == errc::incompatible_layout);
    CHECK(ipckit_test::setup_errc([&] { (void)box8<ipckit::any>::remove(std::string(name)); }) == errc::ok);
}

TEST_CASE("mailbox: opening with the other ownership policy is incompatible_layout both ways, naming each side's",
          "[unit]") {
    scoped_name name("mbox");
    using owned = box8<ipckit::exclusive, ipckit::process_owned>;
    using durable = box8<ipckit::exclusive, ipckit::system_owned>;
    {
        auto mb = owned::create(name);
        CHECK(ipckit_test::setup_errc([&] { (void)durable::open(name); }) == errc::incompatible_layout);
        CHECK(setup_message([&] { (void)durable::open_or_create(name); })
                  .find("as system_owned (the mailbox is process_owned)") != std::string::npos);
    }
    auto mb = durable::create(name);
    CHECK(ipckit_test::setup_errc([&] { (void)owned::open(name); }) == errc::incompatible_layout);
    CHECK(setup_message([&] { (void)owned::open_or_create(name); })
              .find("as process_owned (the mailbox is system_owned)") != std::string::npos);
    CHECK(durable::remove(std::string(name)));
}

TEST_CASE("mailbox: a process_owned mailbox lives while any thread of its owner holds a handle or receiver of it",
          "[unit]") {
    scoped_name name("mbox");
    using box = ipckit::mailbox<tick, ipckit::bounded<8>>;  // exclusive, process_owned
    std::optional<box> mine;
    std::thread worker([&] {
        auto mb = box::create(name);
        mine.emplace(box::open(name));  // another handle of the owning process
    });                                 // the creating handle goes with the worker
    worker.join();
    REQUIRE(mine);
    CHECK(mine->is_open());
    CHECK(ipckit::segment_exists(name));
    {
        auto rx = mine->receiver<ipckit::non_blocking>();  // this process still owns it
        mine.reset();
        CHECK(err(rx.receive()) == errc::would_block);  // not closed: the receiver keeps it
        CHECK(ipckit::segment_exists(name));
    }
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(ipckit_test::setup_errc([&] { (void)box::open(name); }) == errc::not_found);
}

TEST_CASE("mailbox: a system_owned mailbox keeps its messages when every handle is gone", "[unit]") {
    scoped_name name("mbox");
    using box = box8<ipckit::exclusive>;
    {
        auto tx = box::create(name).sender();
        for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(tx.send(make_tick(i)));
        auto rx = box::open(name).receiver();
        CHECK(rx.receive(patience).value().seq == 0);
    }
    REQUIRE(ipckit::segment_exists(name));
    auto rx = box::open(name).receiver();
    for (std::uint64_t i = 1; i < 4; ++i) CHECK(rx.receive(patience).value().seq == i);
}

TEST_CASE("mailbox: the owner of a process_owned mailbox only receives, and other handles only send", "[unit]") {
    scoped_name name("mbox");
    using box = ipckit::mailbox<tick, ipckit::bounded<8>>;  // exclusive, process_owned
    auto mb = box::create(name);
    CHECK(ipckit_test::setup_errc([&] { (void)mb.sender(); }) == errc::invalid_argument);
    CHECK(ipckit_test::setup_errc([&] { (void)box::open(name).sender(); }) == errc::invalid_argument);  // same process
    auto rx = mb.receiver<ipckit::non_blocking>();
    CHECK(err(rx.receive()) == errc::would_block);
    CHECK(ipckit_test::setup_errc([&] { (void)mb.receiver(); }) == errc::receiver_busy);
}

TEST_CASE("mailbox: a non-blocking sender gets would_block on a full mailbox and ok once there is room", "[unit]") {
    scoped_name name("mbox");
    using box = ipckit::mailbox<tick, ipckit::bounded<2>, ipckit::any, ipckit::system_owned, ipckit::spin>;
    auto mb = box::create(name);
    auto tx = mb.sender<ipckit::non_blocking>();
    REQUIRE(tx.send(make_tick(0)));
    REQUIRE(tx.send(make_tick(1)));
    CHECK(err(tx.send(make_tick(2))) == errc::would_block);
    CHECK(err(mb.sender().send(make_tick(2), 10ms)) == errc::timed_out);
    auto rx = mb.receiver();
    CHECK(rx.receive(patience).value().seq == 0);
    CHECK(tx.send(make_tick(2)));
}

TEST_CASE("mailbox: after a closer killed before it woke anyone, the next close() or remove() wakes a blocked "
          "receiver with closed",
          "[unit]") {
    namespace d = ipckit::detail;
    const bool by_remove = GENERATE(false, true);
    scoped_name name("mbox");
    using box = box8<ipckit::any>;
    ipckit::options slow;
    slow.liveness_interval = 1h;  // no look at the senders' liveness wakes it meanwhile
    auto mb = box::create(name, slow);
    auto rx = mb.receiver();
    auto seg = ipckit::segment::open(name.str(), box::layout(), {});
    auto& sh = *static_cast<box::shared*>(seg.body());
    auto got = std::async(std::launch::async, [&rx] { return err(rx.receive(1h)); });
    ipckit_test::let_go let_it_go(got, [&] {
        mb.close();
        sh.data_bell.ring();
    });
    REQUIRE(ipckit_test::eventually([&] { return sh.receivers.places[0].asleep.load() != 0; }));
    sh.control.state.store(d::mailbox_control::closed | d::mailbox_control::closing);  // its first store; no ring
    if (by_remove)
        REQUIRE(box::remove(name));
    else
        mb.close();
    const bool woke = got.wait_for(patience) == std::future_status::ready;
    CHECK(woke);  // not at its deadline, an hour on
    if (!woke) let_it_go();  // to end the test
    CHECK(got.get() == errc::closed);
}

TEST_CASE("mailbox: a remover stopped between its two stores leaves closing, which the receivers finish",
          "[unit]") {
    // Mailbox::remove stores `removed | closing`, issues the heavy fence, then stores `removed`
    // (detail/mailbox/control.hpp). Here the remover stops after the first store, as if killed.
    namespace d = ipckit::detail;
    scoped_name name("mbox");
    using box = box8<ipckit::any>;
    auto mb = box::create(name);
    auto tx = mb.sender();
    auto rx = mb.receiver();
    for (std::uint64_t i = 0; i < 2; ++i) REQUIRE(tx.send(make_tick(i)));
    auto seg = ipckit::segment::open(name.str(), box::layout(), {});
    auto& control = static_cast<box::shared*>(seg.body())->control;
    control.state.store(d::mailbox_control::closed | d::mailbox_control::closing);

    CHECK_FALSE(mb.is_open());
    CHECK(err(tx.send(make_tick(9))) == errc::closed);  // nothing more is accepted
    for (std::uint64_t i = 0; i < 2; ++i) CHECK(rx.receive(patience).value().seq == i);
    CHECK(err(rx.receive(patience)) == errc::closed);   // not a wait for a remover that is gone
    CHECK(control.state.load() == d::mailbox_control::closed);
}

TEST_CASE("mailbox: round_robin: a receiver blocked off its turn sees closed when the one whose turn it is finds "
          "only an abandoned loan left",
          "[unit]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<2>, ipckit::round_robin, ipckit::system_owned>;
    scoped_name name("mbox");
    ipckit::options slow;
    slow.liveness_interval = 1h;  // no look at the peers' liveness ends a wait: only a wake does
    auto mb = box::create(name, slow);
    auto first = mb.receiver<ipckit::non_blocking>();  // its turn
    auto second = mb.receiver();
    auto tx = mb.sender();
    auto loan = tx.loan();  // a send begun before the close: the receivers wait for it
    REQUIRE(loan);
    mb.close();
    std::atomic<pid_t> tid{0};
    auto got = std::async(std::launch::async, [&] {
        tid = ipckit_test::thread_id();
        return err(second.receive(1h));
    });
    ipckit_test::let_go let_it_go(got, [&] {
        loan->abandon();
        (void)first.receive();  // past it, which wakes the other (the promise here)
        box::remove(name);      // else this
    });
    REQUIRE(ipckit_test::eventually([&] { return tid.load() != 0; }));
    REQUIRE(ipckit_test::wait_until_sleeping(::getpid(), tid.load()));
    loan->abandon();
    REQUIRE(ipckit_test::wait_until_sleeping(::getpid(), tid.load()));  // asleep again: not drained yet
    CHECK(err(first.receive()) == errc::closed);  // past it: closed and drained
    const bool woke = got.wait_for(patience) == std::future_status::ready;
    CHECK(woke);  // then, not at its deadline an hour on
    if (!woke) let_it_go();  // to end the test
    CHECK(got.get() == errc::closed);
}
