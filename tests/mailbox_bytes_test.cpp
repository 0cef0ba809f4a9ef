// Tests of mailboxes of variable-size messages, ipckit::mailbox<bytes<Max>, bounded<N>, Delivery>
// with delivery exclusive, any and round_robin, in one process: lengths 0 to Max, how many fit
// (bounded<N> counts bytes), bad input (too long, a buffer too small, a scribbled length), loans
// and views, the layout, removal. What they share with every mailbox runs in contract/ (the
// mailbox_bytes_* kinds); across processes, with kills: mailbox_process_test.cpp.

#include "backdoor.hpp"
#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/inspect.hpp>
#include <ipckit/mailbox.hpp>
#include <ipckit/net.hpp>
#include <ipckit/segment.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::backdoor;
using ipckit_test::err;
using ipckit_test::patience;
using ipckit_test::pattern;
using ipckit_test::same;
using ipckit_test::scoped_name;
using ipckit_test::setup_errc;
using ipckit_test::setup_message;

namespace {

constexpr std::size_t max_bytes = 100;
using record = ipckit::detail::record<max_bytes>;
constexpr std::size_t slots = 16;

template <class D, std::size_t Max = max_bytes, std::size_t N = slots * sizeof(record)>
using box = ipckit::mailbox<ipckit::bytes<Max>, ipckit::bounded<N>, D, ipckit::system_owned>;
using exclusive = box<ipckit::exclusive>;
using any = box<ipckit::any>;
using round_robin = box<ipckit::round_robin>;

}  // namespace

// ---- what fits -------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("mailbox bytes: messages of every length from 0 to Max arrive whole and in order", "[unit]",
                   exclusive, any, round_robin) {
    scoped_name name("mbytes");
    auto mb = TestType::create(name);
    auto tx = mb.template sender<ipckit::non_blocking>();
    auto rx = mb.template receiver<ipckit::non_blocking>();
    for (std::size_t n = 0; n <= max_bytes; n += slots) {
        const std::size_t last = std::min(n + slots, max_bytes + 1);
        for (std::size_t k = n; k < last; ++k) REQUIRE(tx.send(pattern(k, k)));  // a full mailbox at a time
        for (std::size_t k = n; k < last; ++k) {
            INFO("length " << k);
            if (k % 2 == 0) {
                std::array<std::byte, max_bytes> buf{};
                const auto got = rx.receive(std::span(buf));
                REQUIRE(got);
                CHECK(same(std::span(buf).first(*got), pattern(k, k)));
            } else {
                const auto got = rx.receive();
                REQUIRE(got);
                CHECK(same(*got, pattern(k, k)));
            }
        }
    }
    CHECK(err(rx.receive()) == errc::would_block);
    REQUIRE(tx.send(std::string_view("as characters")));
    const auto text = rx.receive_view();
    REQUIRE(text);
    CHECK(text->text() == "as characters");
}

TEST_CASE("mailbox bytes: bounded<N> counts bytes: it holds N / sizeof(record<Max>) messages of any length", "[unit]") {
    // 1000 bytes of slots of 8 + 104 bytes: 8 messages, the rest of the 1000 unused.
    using small = box<ipckit::any, max_bytes, 1000>;
    static_assert(sizeof(record) == 112);
    scoped_name name("mbytes");
    auto mb = small::create(name);
    auto tx = mb.sender<ipckit::non_blocking>();
    std::size_t sent = 0;
    while (tx.send(pattern(sent % 2, sent))) ++sent;  // the shortest messages take a whole slot too
    CHECK(sent == 8);
    CHECK(mb.depth() == 8 * sizeof(record));  // bytes of storage in use, as bounded<N> counts
    CHECK(err(tx.send(std::span<const std::byte>())) == errc::would_block);
    CHECK(ipckit::inspect(name.str()).capacity_messages == 8);
}

// ---- bad input -------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("mailbox bytes: a message over Max is too_large at once, with nothing sent", "[unit]", exclusive,
                   any, round_robin) {
    scoped_name name("mbytes");
    auto mb = TestType::create(name);
    auto tx = mb.sender();
    auto nb = mb.template sender<ipckit::non_blocking>();
    auto rx = mb.template receiver<ipckit::non_blocking>();
    const auto big = pattern(max_bytes + 1, 1);
    CHECK(err(tx.send(big)) == errc::too_large);
    CHECK(err(tx.send(big, 10ms)) == errc::too_large);
    CHECK(err(nb.send(big)) == errc::too_large);
    CHECK(err(tx.loan(max_bytes + 1)) == errc::too_large);
    CHECK(mb.depth() == 0);
    CHECK(err(rx.receive()) == errc::would_block);
    REQUIRE(tx.send(pattern(max_bytes, 2)));  // Max itself is fine
    const auto got = rx.receive();
    REQUIRE(got);
    CHECK(same(*got, pattern(max_bytes, 2)));
}

TEMPLATE_TEST_CASE("mailbox bytes: a buffer too small is too_large, and the message stays this receiver's next",
                   "[unit]", any, round_robin) {
    scoped_name name("mbytes");
    auto mb = TestType::create(name);
    auto tx = mb.template sender<ipckit::non_blocking>();
    auto first = mb.receiver();  // blocking: too_large at once all the same; round_robin: its turn first
    auto second = mb.template receiver<ipckit::non_blocking>();
    REQUIRE(tx.send(pattern(50, 1)));
    REQUIRE(tx.send(pattern(3, 2)));
    std::array<std::byte, 49> small{};
    CHECK(err(first.receive(std::span(small))) == errc::too_large);
    CHECK(err(first.receive(std::span(small), 10ms)) == errc::too_large);
    // The other receiver gets the next message, not the one that did not fit.
    const auto other = second.receive();
    REQUIRE(other);
    CHECK(same(*other, pattern(3, 2)));
    CHECK(err(second.receive()) == errc::would_block);
    std::array<std::byte, 50> exact{};
    const auto n = first.receive(std::span(exact));
    REQUIRE(n);
    CHECK(same(std::span(exact).first(*n), pattern(50, 1)));
    CHECK(mb.depth() == 0);
}

TEST_CASE("mailbox bytes: a message that did not fit is the next one of every verb of its receiver", "[unit]") {
    scoped_name name("mbytes");
    auto mb = exclusive::create(name);
    auto tx = mb.sender<ipckit::non_blocking>();
    auto rx = mb.receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tx.send(pattern(40, i)));
    std::array<std::byte, 8> small{};
    CHECK(err(rx.receive(std::span(small))) == errc::too_large);
    {
        const auto v = rx.receive_view();  // the parked message, lent as a view
        REQUIRE(v);
        CHECK(same(v->data(), pattern(40, 0)));
        CHECK(err(rx.receive()) == errc::in_use);
    }
    CHECK(err(rx.receive(std::span(small))) == errc::too_large);
    const auto whole = rx.receive();  // a vector always fits
    REQUIRE(whole);
    CHECK(same(*whole, pattern(40, 1)));
    CHECK(err(rx.receive(std::span(small))) == errc::too_large);
    // Closed with it parked, the receiver gives its slot back: the message goes with it, and the
    // next receiver continues after it.
    rx.close();
    auto next = mb.receiver<ipckit::non_blocking>();
    CHECK(err(next.receive()) == errc::would_block);
    CHECK(mb.depth() == 0);
    for (std::uint64_t i = 0; i < slots; ++i) REQUIRE(tx.send(pattern(1, i)));  // every slot free again
}

TEST_CASE("mailbox bytes: a waitset reports a receiver ready while a message that did not fit waits in it", "[unit]") {
    scoped_name name("mbytes");
    auto mb = any::create(name);
    auto tx = mb.sender<ipckit::non_blocking>();
    auto rx = mb.receiver<ipckit::non_blocking>();
    REQUIRE(tx.send(pattern(40, 1)));
    std::array<std::byte, 8> small{};
    CHECK(err(rx.receive(std::span(small))) == errc::too_large);
    ipckit::waitset ws;
    const auto key = ws.add(rx);
    const auto ready = ws.wait(patience);  // the ring is empty: only the parked message is there
    REQUIRE(ready);
    CHECK(*ready == std::vector<ipckit::waitset::id>{key});
    const auto got = rx.receive();
    REQUIRE(got);
    CHECK(same(*got, pattern(40, 1)));
}

TEMPLATE_TEST_CASE("mailbox bytes: a scribbled length is corrupt, never read past its slot, and the next message comes",
                   "[unit]", exclusive, any, round_robin) {
    scoped_name name("mbytes");
    auto mb = TestType::create(name);
    auto tx = mb.template sender<ipckit::non_blocking>();
    auto rx = mb.template receiver<ipckit::non_blocking>();
    REQUIRE(tx.send(pattern(10, 1)));
    backdoor<TestType> door(name.str());
    door.shared().ring.slots[0].value.length = max_bytes + 1;
    CHECK(err(rx.receive()) == errc::corrupt);
    REQUIRE(tx.send(pattern(10, 2)));
    door.shared().ring.slots[1].value.length = 0xffff'ffffU;
    CHECK(err(rx.receive_view()) == errc::corrupt);
    REQUIRE(tx.send(pattern(10, 3)));
    const auto got = rx.receive();
    REQUIRE(got);
    CHECK(same(*got, pattern(10, 3)));
}

TEMPLATE_TEST_CASE("mailbox bytes: a scribbled length within a batch ends it, and the next receive says corrupt before "
                   "the message after it comes",
                   "[unit]", exclusive, any) {
    scoped_name name("mbytes");
    auto mb = TestType::create(name);
    auto tx = mb.template sender<ipckit::non_blocking>();
    auto rx = mb.template receiver<ipckit::non_blocking>();
    for (std::uint8_t i = 1; i <= 3; ++i) REQUIRE(tx.send(pattern(10, i)));
    backdoor<TestType> door(name.str());
    door.shared().ring.slots[1].value.length = max_bytes + 1;
    std::vector<std::byte> storage(ipckit::records::storage_for(8, max_bytes));
    ipckit::records batch{storage};
    const auto first = rx.receive(batch);
    REQUIRE(first);
    CHECK(*first == 1);
    CHECK(same(*batch.begin(), pattern(10, 1)));
    CHECK(err(rx.receive(batch)) == errc::corrupt);  // the second message is lost, and said so
    const auto third = rx.receive();
    REQUIRE(third);
    CHECK(same(*third, pattern(10, 3)));
}

// ---- loans and views -------------------------------------------------------------------------

TEMPLATE_TEST_CASE("mailbox bytes: a loan is written in place and sent by commit, or only its first k bytes", "[unit]",
                   exclusive, any, round_robin) {
    scoped_name name("mbytes");
    auto mb = TestType::create(name);
    auto tx = mb.template sender<ipckit::non_blocking>();
    auto rx = mb.template receiver<ipckit::non_blocking>();
    const auto m = pattern(max_bytes, 7);
    {
        auto loan = tx.loan(max_bytes);
        REQUIRE(loan);
        CHECK(loan->size() == max_bytes);
        std::copy(m.begin(), m.end(), loan->data().begin());
        CHECK(err(rx.receive()) == errc::would_block);  // not sent until committed
        CHECK(err(tx.loan(1)) == errc::in_use);         // one loan at a time
        CHECK(err(tx.send(m)) == errc::in_use);
        CHECK(err(loan->commit(max_bytes + 1)) == errc::too_large);  // and the loan stays open
        REQUIRE(loan->commit(30));
        CHECK_FALSE(*loan);
        CHECK(err(loan->commit()) == errc::closed);  // a loan ends once
    }
    const auto got = rx.receive();
    REQUIRE(got);
    CHECK(same(*got, std::span(m).first(30)));
    {
        auto dropped = tx.loan(5);  // dropped uncommitted: nothing sent
        REQUIRE(dropped);
    }
    CHECK(err(rx.receive()) == errc::would_block);
    auto empty = tx.loan(0);
    REQUIRE(empty);
    REQUIRE(empty->commit());
    const auto nothing = rx.receive();
    REQUIRE(nothing);
    CHECK(nothing->empty());
    // Closing the sender abandons its loan.
    auto loan = tx.loan(4);
    REQUIRE(loan);
    tx.close();
    CHECK_FALSE(*loan);
    CHECK(err(loan->commit()) == errc::closed);
    CHECK(err(rx.receive()) == errc::would_block);
}

TEMPLATE_TEST_CASE("mailbox bytes: a view pins its slot until released, and follows its receiver through a move",
                   "[unit]", exclusive, any, round_robin) {
    scoped_name name("mbytes");
    auto mb = TestType::create(name);
    auto tx = mb.template sender<ipckit::non_blocking>();
    auto rx = mb.template receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < slots; ++i) REQUIRE(tx.send(pattern(i, i)));
    auto v = rx.receive_view();
    REQUIRE(v);
    CHECK(err(rx.receive()) == errc::in_use);
    auto moved = std::move(rx);
    CHECK(err(moved.receive_view()) == errc::in_use);
    const auto received = [&] {  // the rest, once the view is gone
        std::uint64_t n = 0;
        while (moved.receive()) ++n;
        return n;
    };
    CHECK(err(tx.send(pattern(1, 99))) == errc::would_block);  // its slot is still being read
    CHECK(same(v->data(), pattern(0, 0)));
    v->release();
    CHECK_FALSE(*v);
    CHECK(v->size() == 0);
    REQUIRE(tx.send(pattern(1, 99)));  // released: the slot is free again
    CHECK(received() == slots);
    // Closing a receiver releases its view.
    REQUIRE(tx.send(pattern(5, 5)));
    auto last = moved.receive_view();
    REQUIRE(last);
    moved.close();
    CHECK_FALSE(*last);
}

// ---- layout and removal -----------------------------------------------------------------------

TEST_CASE("mailbox bytes: the layout names bytes<Max> and N in bytes, and another Max, size, type or delivery is "
          "incompatible_layout",
          "[unit]") {
    scoped_name name("mbytes");
    auto mb = any::create(name);
    const std::string d = any::layout().description;
    CHECK(d == "ipckit::mailbox<bytes<100>, bounded<" + std::to_string(slots * sizeof(record)) + " bytes>, any, system_owned>");
    CHECK(setup_errc([&] { (void)box<ipckit::any, 101>::open(name); }) == errc::incompatible_layout);
    CHECK(setup_errc([&] { (void)box<ipckit::any, max_bytes, 2 * sizeof(record)>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_errc([&] { (void)ipckit::mailbox<std::uint64_t, ipckit::bounded<16>, ipckit::any, ipckit::system_owned>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_message([&] { (void)round_robin::open(name); }).find("with delivery policy round_robin") !=
          std::string::npos);

    auto tx = mb.sender();
    REQUIRE(tx.send(pattern(3, 3)));
    const auto info = ipckit::inspect(name.str());
    CHECK(info.kind == ipckit::segment_kind::mailbox);
    CHECK(info.message_type == "bytes");
    CHECK(info.message_size == max_bytes);
    CHECK(info.capacity_messages == slots);
    CHECK(info.delivery == "any");
    CHECK(info.depth_messages == 1);
}

TEST_CASE("mailbox bytes: remove while in use: sends are closed, the receiver drains what was accepted, then closed",
          "[unit]") {
    scoped_name name("mbytes");
    auto mb = round_robin::create(name);
    auto tx = mb.sender();
    auto rx = mb.receiver();
    REQUIRE(tx.send(pattern(20, 1)));
    REQUIRE(round_robin::remove(name.str()));
    CHECK_FALSE(mb.is_open());
    CHECK(err(tx.send(pattern(20, 2))) == errc::closed);
    CHECK(err(tx.loan(1)) == errc::closed);
    const auto got = rx.receive(patience);
    REQUIRE(got);
    CHECK(same(*got, pattern(20, 1)));
    CHECK(err(rx.receive(patience)) == errc::closed);
    CHECK(err(rx.receive_view(patience)) == errc::closed);
}

TEST_CASE("mailbox bytes: a process_owned mailbox is exclusive, and its owner only receives", "[unit]") {
    using owned = ipckit::mailbox<ipckit::bytes<max_bytes>, ipckit::bounded<4 * sizeof(record)>>;  // exclusive, process_owned
    scoped_name name("mbytes");
    auto mb = owned::create(name);
    CHECK(setup_errc([&] { (void)mb.sender(); }) == errc::invalid_argument);
    auto rx = mb.receiver<ipckit::non_blocking>();
    CHECK(err(rx.receive()) == errc::would_block);
    CHECK(setup_errc([&] { (void)mb.receiver(); }) == errc::receiver_busy);
}
