// Tests of broadcast mailboxes in one process (threads where a verb must block): every receiver
// gets every message in order, a late receiver only what follows its attach, messages kept
// while nobody listens, a slow receiver holding senders back (would_block, a blocking send that
// waits for the read), closing a receiver releasing them, removal, the receiver table's size,
// opening with another message, capacity or delivery policy, a sender that lost the last free
// slot listing no position it does not hold, a tail moved far forward and a scribbled gate reported as
// corrupt, a scribbled receiver cursor that closing puts right, and a receiver killed while it
// attaches (of ticks and of bytes), which costs the next one none of the messages kept for it,
// whether it was alone or beside live receivers, the last of which then leaves its unread
// messages to the next lone receiver (as it does beside one that died attached, not yet found),
// and several receivers that died attached, of which the next lone receiver gets what the one
// furthest behind had not read.

#include "backdoor.hpp"
#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/mailbox.hpp>
#include <ipckit/queue.hpp>
#include <ipckit/segment.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::err;
using ipckit_test::make_tick;
using ipckit_test::scoped_name;
using ipckit_test::tick;

namespace {

using box = ipckit::mailbox<tick, ipckit::bounded<8>, ipckit::broadcast, ipckit::system_owned>;
/// The same of bytes: 8 slots of tick_bytes messages.
using bytes_box = ipckit::mailbox<ipckit::bytes<ipckit_test::tick_bytes_max>,
                                  ipckit::bounded<8 * sizeof(ipckit::detail::record<ipckit_test::tick_bytes_max>)>,
                                  ipckit::broadcast, ipckit::system_owned>;

/// Sends tick `seq` (as tick_bytes, to a mailbox of bytes).
template <class Tx>
errc send_tick(Tx& tx, std::uint64_t seq) {
    if constexpr (ipckit_test::sends_ticks<Tx>) return err(tx.send(make_tick(seq)));
    else return err(tx.send(std::span<const std::byte>(ipckit_test::tick_bytes(seq))));
}
/// The seq of the next tick for `rx` (non-blocking); corrupt if the message is not a whole tick.
template <class Rx>
errc receive_tick(Rx& rx, std::uint64_t& seq) {
    auto m = rx.receive();
    if (!m) return m.error();
    std::optional<tick> t;
    if constexpr (std::is_same_v<std::decay_t<decltype(*m)>, tick>) t = *m;
    else t = ipckit_test::tick_from_bytes(*m);
    if (!t || t->check != ipckit_test::check_of(t->seq)) return errc::corrupt;
    seq = t->seq;
    return errc::ok;
}

/// Takes every message waiting for `rx` now (non-blocking), their seqs in order; each must be
/// a whole tick.
template <class Rx>
std::vector<std::uint64_t> drain(Rx& rx) {
    std::vector<std::uint64_t> got;
    for (std::uint64_t seq = 0;;) {
        const errc e = receive_tick(rx, seq);
        REQUIRE(e != errc::corrupt);
        if (e != errc::ok) break;
        got.push_back(seq);
    }
    return got;
}

std::vector<std::uint64_t> iota(std::uint64_t from, std::uint64_t to) {
    std::vector<std::uint64_t> v;
    for (std::uint64_t i = from; i < to; ++i) v.push_back(i);
    return v;
}

/// Plants at table place `i` of broadcast mailbox `name` a receiver whose process has died (a
/// reaped child's pid): started at cursor `next` (its attach finished), or not (killed in its
/// attach: `next` its placeholder 0, or its start not yet marked). Raises the high-water mark.
template <class Box>
void plant_dead_receiver(const scoped_name& name, std::size_t i, std::uint64_t next, bool started) {
    const pid_t dead = ipckit_test::spawn([] { return 0; });
    REQUIRE(ipckit_test::wait_child(dead) == 0);
    ipckit_test::backdoor<Box> door(name.str());
    auto& place = ipckit::detail::places_of(door.shared())[i];
    place.place.holder.store(ipckit::detail::sys::process_id{static_cast<std::uint32_t>(dead), 0}.pack());
    ipckit::detail::broadcast_ring<typename Box::message_type, Box::capacity>::raise(door.ring().high, i + 1);
    place.next.store(next);
    place.place.pending.store(started ? 1 : 0);
}

}  // namespace

TEST_CASE("broadcast: each of several receivers gets every message, in order", "[unit]") {
    scoped_name name("bcast");
    auto b = box::create(name);
    std::vector<ipckit::receiver<box, ipckit::non_blocking>> rx;
    for (int i = 0; i < 5; ++i) rx.push_back(b.receiver<ipckit::non_blocking>());
    CHECK(b.receivers() == 5);
    auto tx = b.sender<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < 6; ++i) REQUIRE(err(tx.send(make_tick(i))) == errc::ok);
    CHECK(b.depth() == 6);
    CHECK(drain(rx.front()) == iota(0, 6));
    CHECK(b.depth() == 6);  // depth is what the slowest receiver has not read
    for (auto& r : rx) CHECK(drain(r) == (&r == &rx.front() ? std::vector<std::uint64_t>{} : iota(0, 6)));
    CHECK(b.depth() == 0);
    // The ring holds 8: with every receiver caught up, 8 more fit, a 9th does not.
    for (std::uint64_t i = 6; i < 14; ++i) REQUIRE(err(tx.send(make_tick(i))) == errc::ok);
    CHECK(err(tx.send(make_tick(14))) == errc::would_block);
    CHECK(b.depth() == 8);
    for (auto& r : rx) CHECK(drain(r) == iota(6, 14));
}

TEST_CASE("broadcast: a receiver that attaches later gets only what is sent after it attached", "[unit]") {
    scoped_name name("bcast");
    auto b = box::create(name);
    auto early = b.receiver<ipckit::non_blocking>();
    auto tx = b.sender<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(err(tx.send(make_tick(i))) == errc::ok);
    auto late = b.receiver<ipckit::non_blocking>();
    CHECK(err(late.receive()) == errc::would_block);
    for (std::uint64_t i = 3; i < 5; ++i) REQUIRE(err(tx.send(make_tick(i))) == errc::ok);
    CHECK(drain(late) == iota(3, 5));
    CHECK(drain(early) == iota(0, 5));
}

TEST_CASE("broadcast: while no receiver is attached, the mailbox keeps N messages for the next one", "[unit]") {
    scoped_name name("bcast");
    auto b = box::create(name);
    auto tx = b.sender<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(err(tx.send(make_tick(i))) == errc::ok);
    CHECK(err(tx.send(make_tick(8))) == errc::would_block);  // nobody has read them: full
    {
        auto first = b.receiver<ipckit::non_blocking>();  // alone: gets what was kept
        {
            auto second = b.receiver<ipckit::non_blocking>();  // not alone: starts at the tail
            CHECK(drain(second).empty());
        }
        for (std::uint64_t k = 0; k < 3; ++k) CHECK(first.receive()->seq == k);
    }  // it leaves having read 3: the other 5 are kept
    for (std::uint64_t i = 8; i < 11; ++i) CHECK(err(tx.send(make_tick(i))) == errc::ok);
    CHECK(err(tx.send(make_tick(11))) == errc::would_block);
    // A receiver that comes back alone finds what nobody had read yet.
    auto again = b.receiver<ipckit::non_blocking>();
    CHECK(drain(again) == iota(3, 11));
}

TEMPLATE_TEST_CASE("broadcast: a receiver killed between taking its table place and attaching costs the next one none "
                   "of the messages kept for it",
                   "[unit]", box, bytes_box) {
    scoped_name name("bcast");
    auto b = TestType::create(name);
    auto tx = b.template sender<ipckit::non_blocking>();
    std::uint64_t seq = ~std::uint64_t{0};
    {
        auto first = b.template receiver<ipckit::non_blocking>();  // table place 0
        auto second = b.template receiver<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(send_tick(tx, i) == errc::ok);
        for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(receive_tick(first, seq) == errc::ok);
        first.close();   // not alone: it leaves the others where they are
        second.close();  // alone, having read none: the 8 are kept for the next receiver
    }
    // Another takes place 0 and is killed before it attaches: the place is held, by the dead.
    plant_dead_receiver<TestType>(name, 0, 0, false);
    CHECK(send_tick(tx, 8) == errc::would_block);  // full of kept messages: none overwritten
    auto next = b.template receiver<ipckit::non_blocking>();  // gives the dead one's place up; alone
    CHECK(drain(next) == iota(0, 8));
}

TEMPLATE_TEST_CASE("broadcast: a receiver killed in its attach beside live receivers costs the next lone receiver none "
                   "of what the last live one had not read",
                   "[unit]", box, bytes_box) {
    // Killed before it stored any cursor (the placeholder 0), or after storing its start (the
    // tail: it saw the others) but before marking it started.
    const bool stored_start = GENERATE(false, true);
    CAPTURE(stored_start);
    scoped_name name("bcast");
    auto b = TestType::create(name);
    auto tx = b.template sender<ipckit::non_blocking>();
    auto ahead = b.template receiver<ipckit::non_blocking>();   // table place 0
    auto behind = b.template receiver<ipckit::non_blocking>();  // table place 1
    std::uint64_t seq = ~std::uint64_t{0};
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(send_tick(tx, i) == errc::ok);
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(receive_tick(ahead, seq) == errc::ok);
    for (std::uint64_t i = 0; i < 2; ++i) REQUIRE(receive_tick(behind, seq) == errc::ok);  // `behind` stops at 2
    // A third receiver took place 2 (and raised the high-water mark) and was killed in its
    // attach, its place left as claim() and that part of attach() leave it.
    plant_dead_receiver<TestType>(name, 2, stored_start ? 8 : 0, false);  // 8: the tail
    ahead.close();   // read all 8; `behind` is still attached
    behind.close();  // the last live receiver: stopped at 2, so 2..7 are kept for the next one
    // Senders may fill the ring with what is kept (2..9) but overwrite none of it.
    std::uint64_t sent = 8;
    while (sent < 32 && send_tick(tx, sent) == errc::ok) ++sent;
    CHECK(sent <= 10);
    auto next = b.template receiver<ipckit::non_blocking>();  // gives the dead one's place up; alone
    CHECK(drain(next) == iota(2, sent));
}

TEMPLATE_TEST_CASE("broadcast: a receiver that died attached, not yet found, beside a live one that leaves last, costs "
                   "the next lone receiver none of what the live one had not read",
                   "[unit]", box, bytes_box) {
    scoped_name name("bcast");
    auto b = TestType::create(name);
    auto tx = b.template sender<ipckit::non_blocking>();
    std::uint64_t seq = ~std::uint64_t{0};
    auto live = b.template receiver<ipckit::non_blocking>();  // table place 0, alone: from 0
    for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(send_tick(tx, i) == errc::ok);
    // A second receiver attached at place 1 (not alone: from the tail, 5) and died there; no
    // sender has waited for it yet, so nobody has found it dead.
    plant_dead_receiver<TestType>(name, 1, 5, true);
    for (std::uint64_t i = 0; i < 2; ++i) REQUIRE(receive_tick(live, seq) == errc::ok);
    live.close();  // the last live receiver: stopped at 2, so 2..4 are kept for the next one
    // Senders may fill the ring with what is kept (2..9) but overwrite none of it.
    std::uint64_t sent = 5;
    while (sent < 32 && send_tick(tx, sent) == errc::ok) ++sent;
    CHECK(sent <= 10);
    auto next = b.template receiver<ipckit::non_blocking>();  // alone
    CHECK(drain(next) == iota(2, sent));
}

TEMPLATE_TEST_CASE("broadcast: of several receivers that died attached, the next lone receiver gets what the one "
                   "furthest behind had not read, whoever finds them dead",
                   "[unit]", box, bytes_box) {
    // Found by the next receiver's attach, or by a sender that the one furthest behind holds up;
    // the one furthest behind first in the table, or last.
    const bool by_sender = GENERATE(false, true);
    const std::size_t behind = GENERATE(0U, 1U);
    CAPTURE(by_sender, behind);
    scoped_name name("bcast");
    ipckit::broadcast_options o;
    o.liveness_interval = 10ms;
    auto b = TestType::create(name, o);
    auto tx = b.template sender<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < 6; ++i) REQUIRE(send_tick(tx, i) == errc::ok);
    plant_dead_receiver<TestType>(name, behind, 2, true);      // stopped at 2: the one furthest behind
    plant_dead_receiver<TestType>(name, 1 - behind, 5, true);  // stopped at 5
    std::uint64_t sent = 6;
    if (by_sender) {
        // Full at 10 (2 + 8). A blocking send waits for the one at 2, finds it dead, and gives
        // up every dead receiver's place: then nothing gates but what is kept (2..9), and the
        // send can only time out. Had it given up the one at 2 alone, it would have gone on,
        // gated by the one at 5, over message 2.
        while (sent < 10) REQUIRE(send_tick(tx, sent++) == errc::ok);
        REQUIRE(send_tick(tx, sent) == errc::would_block);
        auto waiting = b.template sender<ipckit::blocking>();
        const auto m = ipckit_test::tick_bytes(sent);
        if constexpr (ipckit_test::sends_ticks<decltype(waiting)>)
            CHECK(err(waiting.send(make_tick(sent), 1s)) == errc::timed_out);
        else
            CHECK(err(waiting.send(std::span<const std::byte>(m), 1s)) == errc::timed_out);
        ipckit_test::backdoor<TestType> door(name.str());  // the sender gave both up
        for (std::size_t i = 0; i < 2; ++i)
            CHECK_FALSE(ipckit::detail::holds(ipckit::detail::places_of(door.shared())[i].place.holder.load()));
    }
    auto next = b.template receiver<ipckit::non_blocking>();  // alone
    CHECK(drain(next) == iota(2, sent));
}

TEST_CASE("broadcast: a slow receiver makes a non-blocking send would_block and a blocking send wait", "[unit]") {
    scoped_name name("bcast");
    auto b = box::create(name);
    auto fast = b.receiver<ipckit::non_blocking>();
    auto slow = b.receiver<ipckit::non_blocking>();
    auto tx = b.sender<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < 8; ++i) {
        REQUIRE(err(tx.send(make_tick(i))) == errc::ok);
        REQUIRE(fast.receive()->seq == i);  // fast keeps up
    }
    // The slow one has read nothing: it is 8 behind, and holds everyone back.
    CHECK(err(tx.send(make_tick(8))) == errc::would_block);
    auto btx = b.sender();
    CHECK(err(btx.send(make_tick(8), 20ms)) == errc::timed_out);  // nobody reads: not sent
    CHECK(err(fast.receive()) == errc::would_block);

    std::atomic<int> sent{-1};
    std::thread blocked([&] { sent = static_cast<int>(err(btx.send(make_tick(8), ipckit_test::patience))); });
    REQUIRE(slow.receive()->seq == 0);  // frees one slot: the blocked send goes through
    blocked.join();
    CHECK(sent == static_cast<int>(errc::ok));
    CHECK(drain(fast) == std::vector<std::uint64_t>{8});
    CHECK(drain(slow) == iota(1, 9));
}

TEST_CASE("broadcast: closing a slow receiver stops it holding senders back", "[unit]") {
    scoped_name name("bcast");
    auto b = box::create(name);
    auto fast = b.receiver<ipckit::non_blocking>();
    auto slow = b.receiver<ipckit::non_blocking>();
    auto tx = b.sender<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(err(tx.send(make_tick(i))) == errc::ok);
    CHECK(drain(fast) == iota(0, 8));
    CHECK(err(tx.send(make_tick(8))) == errc::would_block);
    slow.close();
    CHECK(err(slow.receive()) == errc::closed);
    CHECK(err(tx.send(make_tick(8))) == errc::ok);
    CHECK(drain(fast) == std::vector<std::uint64_t>{8});
}

TEST_CASE("broadcast: each of several receiver threads gets every message of several sender threads", "[unit]") {
    scoped_name name("bcast");
    using big = ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::broadcast, ipckit::system_owned>;
    auto b = big::create(name);
    constexpr int senders = 3, receivers = 4;
    constexpr std::uint64_t per_sender = 3000;
    std::vector<ipckit::receiver<big>> rx;
    for (int i = 0; i < receivers; ++i) rx.push_back(b.receiver());
    std::array<std::atomic<int>, receivers> result{};
    std::vector<std::thread> threads;
    for (int r = 0; r < receivers; ++r)
        threads.emplace_back([&, r] {
            std::array<std::uint64_t, senders> next{};
            int bad = 0;
            for (std::uint64_t n = 0; n < senders * per_sender; ++n) {
                auto m = rx[r].receive(ipckit_test::patience);
                if (!m || m->check != ipckit_test::check_of(m->seq)) { bad = 1; break; }
                const auto s = m->seq / per_sender, k = m->seq % per_sender;
                if (s >= senders || next[s] != k) { bad = 2; break; }
                ++next[s];
            }
            result[r] = bad;
        });
    for (int s = 0; s < senders; ++s)
        threads.emplace_back([&, s] {
            auto tx = b.sender();
            for (std::uint64_t k = 0; k < per_sender; ++k)
                if (!tx.send(make_tick(s * per_sender + k), ipckit_test::patience)) return;
        });
    for (auto& t : threads) t.join();
    for (int r = 0; r < receivers; ++r) CHECK(result[r] == 0);
}

TEST_CASE("broadcast: remove closes senders at once and receivers after what was accepted", "[unit]") {
    scoped_name name("bcast");
    auto b = box::create(name);
    auto rx = b.receiver();
    auto tx = b.sender();
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(err(tx.send(make_tick(i))) == errc::ok);
    CHECK(box::remove(name));
    CHECK_FALSE(b.is_open());
    CHECK(err(tx.send(make_tick(3))) == errc::closed);
    for (std::uint64_t i = 0; i < 3; ++i) CHECK(rx.receive()->seq == i);
    CHECK(err(rx.receive()) == errc::closed);
    CHECK_THROWS_MATCHES(box::open(name), ipckit::error,
                         Catch::Predicate<ipckit::error>([](const ipckit::error& e) { return e.reason() == errc::not_found; }));
    auto fresh = box::create(name);  // the name is free again
    CHECK(fresh.created());
}

TEST_CASE("broadcast: a receiver blocked on an empty mailbox wakes with closed when it is closed", "[unit]") {
    scoped_name name("bcast");
    auto b = box::create(name);
    auto rx = b.receiver();
    std::atomic<int> got{-1};
    std::thread t([&] { got = static_cast<int>(err(rx.receive(ipckit_test::patience))); });
    b.close();
    t.join();
    CHECK(got == static_cast<int>(errc::closed));
}

TEST_CASE("broadcast: the receiver table has the size asked at creation, and says how to raise it", "[unit]") {
    scoped_name name("bcast");
    ipckit::broadcast_options opt;
    opt.max_receivers = 3;
    auto b = box::create(name, opt);
    CHECK(b.receiver_places() == 3);
    auto other = box::open(name);  // default options: the mailbox's own size is used
    CHECK(other.receiver_places() == 3);
    auto r1 = b.receiver(), r2 = other.receiver(), r3 = b.receiver();
    try {
        (void)b.receiver();
        FAIL("a fourth receiver was attached");
    } catch (const ipckit::error& e) {
        CHECK(e.reason() == errc::receiver_busy);
        CHECK(std::string(e.what()).find("max_receivers") != std::string::npos);
    }
    r2.close();
    CHECK_NOTHROW(other.receiver());
    CHECK(box::create(scoped_name("bcast").str()).receiver_places() == 1024);
    opt.max_receivers = std::size_t{1} << 21;
    CHECK_THROWS_MATCHES(box::create(scoped_name("bcast").str(), opt), ipckit::error,
                         Catch::Predicate<ipckit::error>([](const ipckit::error& e) { return e.reason() == errc::invalid_argument; }));
}

TEST_CASE("broadcast: a scribbled receiver table is corrupt, and Mailbox::remove, which the error names, removes it",
          "[unit]") {
    scoped_name name("bcast");
    {
        auto b = box::create(name);
        ipckit_test::backdoor<box> door(name.str());
        door.shared().places += 7;
    }
    std::string what;
    try {
        (void)box::open(name);
        FAIL("a scribbled receiver table was opened");
    } catch (const ipckit::error& e) {
        CHECK(e.reason() == errc::corrupt);
        what = e.what();
    }
    CHECK(what.find("Mailbox::remove(\"" + name.str() + "\")") != std::string::npos);
    CHECK(box::remove(name));
    CHECK_FALSE(ipckit::segment_exists(name));
}

TEST_CASE("broadcast: Mailbox::remove leaves a segment that its creator is still making, however long it takes",
          "[unit]") {
    scoped_name name("bcast");
    std::atomic<bool> making{false}, done{false};
    std::thread creator([&] {
        (void)ipckit::segment::create<ipckit::system_owned>(name, ipckit::segment_layout{"slow to make", 4096}, {},
                                                            [&](void*) {
                                                                making = true;
                                                                making.notify_all();
                                                                done.wait(false);
                                                            });
    });
    making.wait(false);
    // Attaching says corrupt once its init_timeout has passed; the creator still holds its lock.
    const auto refused = ipckit_test::setup_error([&] { return box::remove(name); });
    const bool there = ipckit::segment_exists(name);
    done = true;
    done.notify_all();
    creator.join();
    REQUIRE(refused);
    CHECK(refused->reason() == errc::corrupt);
    CHECK(std::string(refused->what()).find("a process holds it") != std::string::npos);
    CHECK(there);
}

TEST_CASE("broadcast: opening with another message type, capacity or delivery policy is incompatible_layout", "[unit]") {
    scoped_name name("bcast");
    auto b = box::create(name);
    auto incompatible = [](const ipckit::error& e) { return e.reason() == errc::incompatible_layout; };
    struct other_tick {
        std::uint32_t a;
    };
    using other_type = ipckit::mailbox<other_tick, ipckit::bounded<8>, ipckit::broadcast, ipckit::system_owned>;
    using other_size = ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::broadcast, ipckit::system_owned>;
    using other_delivery = ipckit::mailbox<tick, ipckit::bounded<8>, ipckit::any, ipckit::system_owned>;
    CHECK_THROWS_MATCHES(other_type::open(name), ipckit::error, Catch::Predicate<ipckit::error>(incompatible));
    CHECK_THROWS_MATCHES(other_size::open(name), ipckit::error, Catch::Predicate<ipckit::error>(incompatible));
    try {
        (void)other_delivery::open(name);
        FAIL("opened a broadcast mailbox as delivery any");
    } catch (const ipckit::error& e) {
        CHECK(e.reason() == errc::incompatible_layout);
        CHECK(std::string(e.what()).find("broadcast") != std::string::npos);
    }
    // And the other way round: a broadcast receiver on an `any` mailbox.
    scoped_name any_name("bcast");
    auto a = other_delivery::create(any_name);
    CHECK_THROWS_MATCHES(box::open(any_name), ipckit::error, Catch::Predicate<ipckit::error>(incompatible));
}

// A sender that lost the race for the last free slot (its CAS failed) and then found the ring
// full must not leave that position listed in its roster `pending` word: the winner may die
// holding it, and the receivers skip a dead sender's slot only once no live sender lists it. (A
// sender that listed it stopped every receiver there until it claimed again, and after close()
// they never got closed.) The race is each trial's; the losing path is met in some of them.
TEST_CASE("broadcast: a sender that loses the last free slot to another lists no position it does not hold",
          "[unit]") {
    using one = ipckit::mailbox<tick, ipckit::bounded<1>, ipckit::broadcast, ipckit::system_owned>;
    scoped_name name("bcast");
    auto b = one::create(name);
    auto r = b.receiver<ipckit::non_blocking>();
    ipckit_test::backdoor<one> door(name.str());
    auto& places = door.shared().senders.places;
    std::array senders{b.sender<ipckit::non_blocking>(), b.sender<ipckit::non_blocking>()};
    // The two racers meet at a spinning barrier (each on a core, so a round costs microseconds)
    // before each send, after it, and after racer 0 has looked and emptied the ring.
    std::atomic<std::uint64_t> arrivals{0};
    auto meet = [&arrivals](std::uint64_t& met) {
        met += 2;
        arrivals.fetch_add(1, std::memory_order_acq_rel);
        for (int spins = 0; arrivals.load(std::memory_order_acquire) < met; ++spins)
            if (spins > 1000) std::this_thread::yield();  // the other racer is off its core
    };
    std::array<std::atomic<int>, 2> result{};
    std::atomic<std::uint64_t> listed{0}, not_one_winner{0}, lost{0};
    constexpr std::uint64_t trials = 100'000;
    auto race = [&](std::size_t i) {
        std::uint64_t met = 0;
        for (std::uint64_t t = 1; t <= trials; ++t) {
            meet(met);
            result[i].store(static_cast<int>(err(senders[i].send(make_tick(t)))), std::memory_order_relaxed);
            meet(met);
            if (i == 0) {
                const int oks = (result[0] == static_cast<int>(errc::ok)) + (result[1] == static_cast<int>(errc::ok));
                not_one_winner += oks != 1;  // one slot: one wins, the other finds it full
                for (auto& p : places) listed += p.pending.load() != 0;
                lost += !r.receive();
            }
            meet(met);
        }
    };
    {
        std::jthread a(race, 0), c(race, 1);
    }
    CHECK(not_one_winner == 0);
    CHECK(lost == 0);
    CHECK(listed == 0);
}

// A tail moved forward past what gating allows (no sender claims N past a receiver's cursor):
// a receiver waiting at its cursor would otherwise bury the positions in between one per
// liveness interval, for ever, and never see closed. A blocking receive and a polling one each
// come to corrupt.
TEMPLATE_TEST_CASE("broadcast: a tail moved far forward makes a waiting receiver report corrupt", "[unit]", box,
                   bytes_box) {
    scoped_name name("bcast");
    auto b = TestType::create(name, {ipckit_test::quick_liveness(), 0});
    auto polling = b.template receiver<ipckit::non_blocking>();
    auto waiting = b.template receiver();
    auto tx = b.template sender<ipckit::non_blocking>();
    std::uint64_t seq = 1;
    REQUIRE(send_tick(tx, 0) == errc::ok);
    REQUIRE(receive_tick(polling, seq) == errc::ok);
    REQUIRE(err(waiting.receive(ipckit_test::patience)) == errc::ok);
    ipckit_test::backdoor<TestType> door(name.str());
    door.ring().tail.fetch_add(std::uint64_t{1} << 40);
    CHECK(err(waiting.receive(ipckit_test::patience)) == errc::corrupt);
    CHECK(ipckit_test::eventually([&] { return receive_tick(polling, seq) == errc::corrupt; }));
}

TEST_CASE("broadcast: a scribbled gate makes send report corrupt instead of waiting", "[unit]") {
    scoped_name name("bcast");
    auto b = box::create(name);
    auto r = b.receiver<ipckit::non_blocking>();
    auto tx = b.sender<ipckit::non_blocking>();
    REQUIRE(err(tx.send(make_tick(0))) == errc::ok);
    REQUIRE(r.receive()->seq == 0);
    // Overwrite the senders' cached gate with a position past the tail (no cursor can be there).
    auto seg = ipckit::segment::open(name.str(), box::layout(), {});
    auto& ring = static_cast<box::shared*>(seg.body())->ring;
    ring.gate.store(ring.tail.load() + 1000);
    auto late = b.sender<ipckit::non_blocking>();  // caches the scribbled gate on attach
    CHECK(err(late.send(make_tick(1))) == errc::corrupt);
    auto blocking = b.sender();
    CHECK(err(blocking.send(make_tick(1), 100ms)) == errc::corrupt);  // at once, not timed_out
    // A sender whose cache was fine meets it once the ring looks full and it asks again.
    bool corrupt = false;
    for (int i = 0; i < 9 && !corrupt; ++i) corrupt = err(tx.send(make_tick(1))) == errc::corrupt;
    CHECK(corrupt);
}

TEST_CASE("broadcast: a receiver's cursor scribbled in the table is not where the next receiver starts: nothing "
          "again, nothing lost",
          "[unit]") {
    scoped_name name("bcast");
    scoped_name other_name("bcast");
    auto b = box::create(name);
    auto other = box::create(other_name);
    ipckit_test::backdoor<box> door(name.str());
    auto tx = b.sender<ipckit::non_blocking>();
    std::optional<ipckit::receiver<box, ipckit::non_blocking>> rx;
    rx.emplace(b.receiver<ipckit::non_blocking>());
    for (std::uint64_t i = 0; i < 6; ++i) REQUIRE(err(tx.send(make_tick(i))) == errc::ok);
    REQUIRE(drain(*rx) == iota(0, 6));
    REQUIRE(err(tx.send(make_tick(6))) == errc::ok);  // one left unread: the receiver stopped at 6, the tail is 7
    auto& cursor = ipckit::detail::places_of(door.shared())[0].next;  // the place of the one receiver
    REQUIRE(cursor.load() == 6);
    // Inside the range, so nothing refuses it: back onto messages read, or forward past one not.
    cursor.store(GENERATE(std::uint64_t{3}, std::uint64_t{7}));
    // Every way a receiver lets go of its place; it is the only one, so base becomes where it
    // stopped, and the next receiver, alone too, starts there.
    SECTION("closed") { rx->close(); }
    SECTION("destroyed") { rx.reset(); }
    SECTION("moved over") { *rx = other.receiver<ipckit::non_blocking>(); }
    auto next = b.receiver<ipckit::non_blocking>();
    CHECK(drain(next) == iota(6, 7));
}
