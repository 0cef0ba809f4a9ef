// Tests of broadcast mailboxes of variable-size messages, ipckit::mailbox<bytes<Max>,
// bounded<N>, broadcast, system_owned>, in one process: every receiver gets every message of
// every size 0..Max in order; bounded<N> counts bytes (N / sizeof(record<Max>) slots); zero
// copy (a loan written once, every receiver's view of the very same bytes); a view or a message
// left for a bigger buffer holds the senders back rather than being overwritten; bad input
// (too long, a buffer too small, a scribbled length); closing with a loan out; and opening with
// another Max or size.
//
// White-box tests reach the ring through a second mapping of the segment, as a hostile peer would.

#include "backdoor.hpp"
#include "byte_messages.hpp"
#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/mailbox.hpp>
#include <ipckit/queue.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::pattern;
using ipckit_test::err;
using ipckit_test::same;
using ipckit_test::scoped_name;
using ipckit_test::sized_message;

namespace {

constexpr std::size_t max_bytes = 100;
/// Slots of 8 + 104 bytes: 8 of them.
constexpr std::size_t slot_bytes = sizeof(ipckit::detail::record<max_bytes>);
constexpr std::size_t slots = 8;
using box = ipckit::mailbox<ipckit::bytes<max_bytes>, ipckit::bounded<slots * slot_bytes>, ipckit::broadcast,
                            ipckit::system_owned>;

using ipckit_test::as_bytes;

}  // namespace

TEST_CASE("broadcast bytes: bounded<N> counts bytes, and the layout names bytes<Max> and N bytes", "[unit]") {
    STATIC_REQUIRE(box::capacity == slots);
    STATIC_REQUIRE(slot_bytes == 8 + 104);
    const auto d = box::layout().description;
    CHECK(d == "ipckit::mailbox<bytes<100>, bounded<" + std::to_string(slots * slot_bytes) +
                   " bytes>, broadcast, system_owned>");
    const auto f = ipckit::detail::parse_mailbox_description(d);
    REQUIRE(f);
    CHECK(f->message.bytes);
    CHECK(f->slots == slots);
    // A size between slots rounds down: 8 and a half slots are 8.
    using odd = ipckit::mailbox<ipckit::bytes<max_bytes>, ipckit::bounded<slots * slot_bytes + slot_bytes / 2>,
                                ipckit::broadcast, ipckit::system_owned>;
    STATIC_REQUIRE(odd::capacity == slots);
}

TEST_CASE("broadcast bytes: opening with another Max, size or message type is incompatible_layout", "[unit]") {
    scoped_name name("bbytes");
    auto b = box::create(name);
    auto incompatible = [](const ipckit::error& e) { return e.reason() == errc::incompatible_layout; };
    using other_max = ipckit::mailbox<ipckit::bytes<max_bytes + 1>, ipckit::bounded<slots * slot_bytes>,
                                      ipckit::broadcast, ipckit::system_owned>;
    using other_size = ipckit::mailbox<ipckit::bytes<max_bytes>, ipckit::bounded<2 * slots * slot_bytes>,
                                       ipckit::broadcast, ipckit::system_owned>;
    using fixed = ipckit::mailbox<ipckit_test::tick, ipckit::bounded<slots>, ipckit::broadcast, ipckit::system_owned>;
    CHECK_THROWS_MATCHES(other_max::open(name), ipckit::error, Catch::Predicate<ipckit::error>(incompatible));
    CHECK_THROWS_MATCHES(other_size::open(name), ipckit::error, Catch::Predicate<ipckit::error>(incompatible));
    CHECK_THROWS_MATCHES(fixed::open(name), ipckit::error, Catch::Predicate<ipckit::error>(incompatible));
}

TEST_CASE("broadcast bytes: every receiver gets every message of every size 0..Max, in order and whole", "[unit]") {
    scoped_name name("bbytes");
    auto b = box::create(name);
    std::vector<ipckit::receiver<box, ipckit::non_blocking>> rx;
    for (int i = 0; i < 3; ++i) rx.push_back(b.receiver<ipckit::non_blocking>());
    auto tx = b.sender<ipckit::non_blocking>();
    // Every length 0..Max, in rounds of `slots` (the ring's size), read by each receiver in turn
    // into a buffer, into a vector, and in place.
    std::uint64_t next = 0;
    while (next <= max_bytes) {
        const std::uint64_t first = next;
        for (; next <= max_bytes && next < first + slots; ++next)
            REQUIRE(tx.send(pattern(static_cast<std::size_t>(next), next)));
        if (next <= max_bytes) CHECK(err(tx.send(as_bytes("full"))) == errc::would_block);
        for (std::uint64_t i = first; i < next; ++i) {
            const auto want = pattern(static_cast<std::size_t>(i), i);
            std::array<std::byte, max_bytes> buf{};
            const auto n = rx[0].receive(std::span(buf));
            REQUIRE(n);
            CHECK(same(std::span(buf.data(), *n), want));
            const auto v = rx[1].receive();
            REQUIRE(v);
            CHECK(same(*v, want));
            auto view = rx[2].receive_view();
            REQUIRE(view);
            CHECK(same(view->data(), want));
        }
        for (auto& r : rx) CHECK(err(r.receive()) == errc::would_block);
    }
    CHECK(b.depth() == 0);
    REQUIRE(tx.send(std::string_view("text")));  // a string_view goes as its characters
    for (auto& r : rx) CHECK(r.receive_view()->text() == "text");
}

TEST_CASE("broadcast bytes: a loan is written once, and every receiver views those very bytes", "[unit]") {
    scoped_name name("bbytes");
    auto b = box::create(name);
    auto r1 = b.receiver<ipckit::non_blocking>();
    auto r2 = b.receiver<ipckit::non_blocking>();
    auto tx = b.sender<ipckit::non_blocking>();

    CHECK(err(tx.loan(max_bytes + 1)) == errc::too_large);  // at once, nothing claimed
    auto loan = tx.loan(max_bytes);
    REQUIRE(loan);
    REQUIRE(loan->size() == max_bytes);
    const auto want = pattern(max_bytes, 7);
    std::memcpy(loan->data().data(), want.data(), want.size());
    const std::byte* written = loan->data().data();
    CHECK(err(r1.receive()) == errc::would_block);  // nothing until committed
    CHECK(err(tx.loan(1)) == errc::in_use);          // one loan at a time
    CHECK(err(tx.send(as_bytes("x"))) == errc::in_use);
    CHECK(err(loan->commit(max_bytes + 1)) == errc::too_large);  // and it stays open
    REQUIRE(loan->commit());
    CHECK(err(loan->commit()) == errc::closed);

    auto v1 = r1.receive_view();
    auto v2 = r2.receive_view();
    REQUIRE((v1 && v2));
    // Zero copy: both read in place, where the sender wrote.
    CHECK(v1->data().data() == written);
    CHECK(v2->data().data() == written);
    CHECK(same(v1->data(), want));
    CHECK(same(v2->data(), want));
    CHECK(err(r1.receive()) == errc::in_use);  // one view at a time
    v1->release();
    v2->release();

    // commit(k) sends the first k bytes; an abandoned loan sends nothing.
    auto part = tx.loan(50);
    REQUIRE(part);
    std::memcpy(part->data().data(), want.data(), 50);
    REQUIRE(part->commit(10));
    auto dropped = tx.loan(20);
    REQUIRE(dropped);
    dropped->abandon();
    auto empty = tx.loan(0);
    REQUIRE(empty);
    REQUIRE(empty->commit());
    for (auto* r : {&r1, &r2}) {
        CHECK(same(*r->receive(), std::span(want.data(), 10)));
        CHECK(r->receive()->empty());
        CHECK(err(r->receive()) == errc::would_block);
    }
}

TEST_CASE("broadcast bytes: a held view keeps its bytes, holding the senders back until it is released", "[unit]") {
    scoped_name name("bbytes");
    auto b = box::create(name);
    auto slow = b.receiver<ipckit::non_blocking>();
    auto fast = b.receiver<ipckit::non_blocking>();
    auto tx = b.sender<ipckit::non_blocking>();
    REQUIRE(tx.send(pattern(max_bytes, 0)));
    auto view = slow.receive_view();
    REQUIRE(view);
    // Lap the ring with the fast receiver reading: the slot under the view is never reused.
    for (std::uint64_t i = 1; i < slots; ++i) REQUIRE(tx.send(pattern(max_bytes, i)));
    for (std::uint64_t i = 0; i < slots; ++i) CHECK(same(*fast.receive(), pattern(max_bytes, i)));
    CHECK(err(tx.send(pattern(max_bytes, slots))) == errc::would_block);
    CHECK(b.depth() == slots * slot_bytes);  // the slowest receiver's unread slots, in bytes
    auto blocking = b.sender();
    CHECK(err(blocking.send(pattern(max_bytes, slots), 1ms)) == errc::timed_out);
    CHECK(same(view->data(), pattern(max_bytes, 0)));
    view->release();
    REQUIRE(tx.send(pattern(max_bytes, slots)));
    for (std::uint64_t i = 1; i <= slots; ++i) CHECK(same(*slow.receive(), pattern(max_bytes, i)));
    CHECK(same(*fast.receive(), pattern(max_bytes, slots)));
}

TEST_CASE("broadcast bytes: a buffer too small is too_large and the message stays that receiver's next", "[unit]") {
    scoped_name name("bbytes");
    auto b = box::create(name);
    auto small = b.receiver<ipckit::non_blocking>();
    auto other = b.receiver<ipckit::non_blocking>();
    auto tx = b.sender<ipckit::non_blocking>();
    const auto m = pattern(40, 1);
    REQUIRE(tx.send(m));
    REQUIRE(tx.send(as_bytes("next")));
    std::array<std::byte, 39> tight{};
    CHECK(err(small.receive(std::span(tight))) == errc::too_large);
    CHECK(err(small.receive(std::span(tight))) == errc::too_large);  // still the same one
    CHECK(same(*other.receive(), m));                           // the others go on
    CHECK(other.receive_view()->text() == "next");
    std::array<std::byte, 40> exact{};
    const auto n = small.receive(std::span(exact));
    REQUIRE(n);
    CHECK(same(std::span(exact.data(), *n), m));
    CHECK(small.receive_view()->text() == "next");
}

TEST_CASE("broadcast bytes: a message over Max is too_large at once, with nothing sent", "[unit]") {
    scoped_name name("bbytes");
    auto b = box::create(name);
    auto rx = b.receiver<ipckit::non_blocking>();
    auto tx = b.sender();  // blocking: too_large, not a wait
    CHECK(err(tx.send(pattern(max_bytes + 1, 0))) == errc::too_large);
    CHECK(err(rx.receive()) == errc::would_block);
    CHECK(b.depth() == 0);
}

TEST_CASE("broadcast bytes: a length scribbled past Max is corrupt, never read outside its slot", "[unit]") {
    scoped_name name("bbytes");
    auto b = box::create(name);
    auto rx = b.receiver<ipckit::non_blocking>();
    auto tx = b.sender<ipckit::non_blocking>();
    REQUIRE(tx.send(pattern(10, 0)));
    ipckit_test::backdoor<box> door(name.str());
    auto& slot = door.ring().slots[0].value;
    for (const std::uint32_t bad : {std::uint32_t{max_bytes + 1}, std::uint32_t{0xffff'ffff}}) {
        slot.length = bad;
        CHECK(err(rx.receive()) == errc::corrupt);
        CHECK(err(rx.receive_view()) == errc::corrupt);
    }
    slot.length = 10;  // put back: the message is still there, whole
    CHECK(same(*rx.receive(), pattern(10, 0)));
}

TEST_CASE("broadcast bytes: closing delivers what was accepted, a loan granted before the close too", "[unit]") {
    scoped_name name("bbytes");
    auto b = box::create(name);
    auto rx = b.receiver();
    auto tx = b.sender<ipckit::non_blocking>();
    REQUIRE(tx.send(as_bytes("before")));
    auto loan = tx.loan(5);
    REQUIRE(loan);
    b.close();
    auto late = b.sender<ipckit::non_blocking>();
    CHECK(err(late.send(as_bytes("after"))) == errc::closed);
    CHECK(err(late.loan(5)) == errc::closed);
    std::memcpy(loan->data().data(), "loan!", 5);
    REQUIRE(loan->commit());  // accepted at its claim: delivered
    CHECK(rx.receive(ipckit_test::patience)->size() == 6);
    CHECK(rx.receive_view(ipckit_test::patience)->text() == "loan!");
    CHECK(err(rx.receive(ipckit_test::patience)) == errc::closed);
    CHECK(err(rx.receive_view(ipckit_test::patience)) == errc::closed);
}

TEST_CASE("broadcast bytes: a loan or view ends with its endpoint, and a dropped loan leaks no slot", "[unit]") {
    scoped_name name("bbytes");
    auto b = box::create(name);
    auto rx = b.receiver<ipckit::non_blocking>();
    auto tx = b.sender<ipckit::non_blocking>();
    // Many laps of dropped loans between messages that must all arrive.
    for (std::uint64_t i = 0; i < 4 * slots; ++i) {
        {
            auto dropped = tx.loan(max_bytes);
            REQUIRE(dropped);
        }
        REQUIRE(tx.send(sized_message(i, max_bytes)));
        CHECK(same(*rx.receive(), sized_message(i, max_bytes)));
        CHECK(err(rx.receive()) == errc::would_block);
    }
    auto loan = tx.loan(3);
    REQUIRE(loan);
    tx.close();
    CHECK(!*loan);
    CHECK(err(loan->commit()) == errc::closed);
    auto tx2 = b.sender<ipckit::non_blocking>();
    REQUIRE(tx2.send(as_bytes("seen")));
    auto view = rx.receive_view();
    REQUIRE(view);
    rx.close();
    CHECK(!*view);
    CHECK(view->data().empty());
}
