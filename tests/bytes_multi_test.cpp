// Tests of queues of variable-size messages for several consumers, ipckit::queue<bytes<Max>,
// bounded<N>, Producers, Consumers> with Consumers of more than one (record slots in Vyukov's
// ring), within one process: the layout and what differs from it, every size from 0 to Max,
// too_large on either side (a buffer too small leaves the message this receiver's next, not
// another's), loans and views, depth() in bytes of slots, a scribbled length, and an inspector
// reading such a queue as slots, not as a byte ring.
//
// White-box tests reach the ring through a second mapping of the segment, as a hostile peer would.

#include "backdoor.hpp"
#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/inspect.hpp>
#include <ipckit/queue.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using ipckit::errc;
using ipckit_test::backdoor;
using ipckit_test::err;
using ipckit_test::mix;
using ipckit_test::scoped_name;
using ipckit_test::setup_errc;
using ipckit_test::setup_message;

namespace {

constexpr std::size_t max_bytes = 100;
using record = ipckit::detail::record<max_bytes>;  // 8 + 104 bytes
using spmc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<8 * sizeof(record)>, ipckit::single, ipckit::multi>;
using mpmc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<8 * sizeof(record) + 5>, ipckit::multi_of<4>,
                           ipckit::multi_of<3>>;

/// The text of message i, of length n (0 to max_bytes): a function of both.
std::string text_of(std::size_t n, std::uint64_t i) {
    std::string s(n, '\0');
    for (std::size_t k = 0; k < n; ++k) s[k] = static_cast<char>('a' + mix(i * 1'000'003 + k) % 26);
    return s;
}

std::string_view text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

}  // namespace

TEST_CASE("bytes mpmc queue: the layout names bytes<Max>, N bytes and the sides, and N bytes hold N / slot messages",
          "[unit]") {
    CHECK(spmc::layout().description ==
          "ipckit::queue<bytes<100>, bounded<896 bytes>, single producer, multi<64> consumer, process_owned>");
    CHECK(spmc::capacity == 896);
    CHECK(spmc::slots == 8);
    CHECK(mpmc::slots == 8);  // the 5 bytes left over hold no slot
    CHECK(spmc::max_message == max_bytes);
    CHECK(sizeof(record) == 112);
}

TEST_CASE("bytes mpmc queue: opening with another Max, size or side is incompatible_layout saying which", "[unit]") {
    scoped_name name("bmulti");
    auto q = spmc::create(name);
    const std::string other_max = setup_message([&] {
        return ipckit::queue<ipckit::bytes<101>, ipckit::bounded<896>, ipckit::single, ipckit::multi>::open(name);
    });
    CHECK(ipckit_test::contains(other_max, "bytes<101>"));
    CHECK(ipckit_test::contains(other_max, "bytes<100>"));
    CHECK(setup_errc([&] {
              return ipckit::queue<ipckit::bytes<100>, ipckit::bounded<1008>, ipckit::single, ipckit::multi>::open(name);
          }) == errc::incompatible_layout);
    CHECK(setup_errc([&] { return ipckit::queue<ipckit::bytes<100>, ipckit::bounded<896>>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_errc([&] {
              return ipckit::queue<record, ipckit::bounded<8>, ipckit::single, ipckit::multi>::open(name);
          }) == errc::incompatible_layout);
    CHECK(setup_errc([&] { return spmc::open(name); }) == errc::ok);
}

TEMPLATE_TEST_CASE("bytes mpmc queue: messages of 0 to Max bytes arrive whole and in order, by buffer, vector and view",
                   "[unit]", spmc, mpmc) {
    scoped_name name("bmulti");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    std::array<std::byte, max_bytes> buf{};
    std::uint64_t i = 0;
    for (std::size_t n = 0; n <= max_bytes; ++n, ++i) {
        REQUIRE(tx.send(text_of(n, i)));
        switch (i % 3) {
        case 0: {
            const auto got = rx.receive(buf);
            REQUIRE(got);
            CHECK(text(std::span(buf.data(), *got)) == text_of(n, i));
            break;
        }
        case 1: {
            const auto got = rx.receive();
            REQUIRE(got);
            CHECK(text(*got) == text_of(n, i));
            break;
        }
        default: {
            const auto v = rx.receive_view();
            REQUIRE(v);
            CHECK(v->text() == text_of(n, i));
            CHECK(v->size() == n);
        }
        }
    }
    // Full after `slots` messages, whatever their size: each takes a slot.
    for (std::size_t k = 0; k < TestType::slots; ++k) REQUIRE(tx.send(text_of(k % 2 == 0 ? 0 : max_bytes, k)));
    CHECK(err(tx.send("")) == errc::would_block);
    CHECK(q.depth() == TestType::slots * sizeof(record));
    for (std::size_t k = 0; k < TestType::slots; ++k) {
        const auto got = rx.receive();
        REQUIRE(got);
        CHECK(text(*got) == text_of(k % 2 == 0 ? 0 : max_bytes, k));
    }
    CHECK(err(rx.receive(buf)) == errc::would_block);
    CHECK(q.depth() == 0);
}

TEST_CASE("bytes mpmc queue: a message over Max is too_large at once, in either mode, and nothing is sent", "[unit]") {
    scoped_name name("bmulti");
    auto q = mpmc::create(name);
    auto tx = q.sender();
    auto nb = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    CHECK(err(tx.send(text_of(max_bytes + 1, 0))) == errc::too_large);
    CHECK(err(nb.send(text_of(max_bytes + 1, 0))) == errc::too_large);
    CHECK(err(tx.loan(max_bytes + 1)) == errc::too_large);
    CHECK(q.depth() == 0);
    CHECK(err(rx.receive()) == errc::would_block);
}

TEST_CASE("bytes mpmc queue: a buffer too small is too_large, and the message stays this receiver's next", "[unit]") {
    scoped_name name("bmulti");
    auto q = mpmc::create(name);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    auto other = q.receiver<ipckit::non_blocking>();
    REQUIRE(tx.send(text_of(50, 1)));
    REQUIRE(tx.send(text_of(10, 2)));
    std::array<std::byte, 20> small{};
    CHECK(err(rx.receive(small)) == errc::too_large);
    CHECK(err(rx.receive(small)) == errc::too_large);  // the same message again, not the next
    // The other receiver gets the message after it, never this one's.
    const auto second = other.receive(small);
    REQUIRE(second);
    CHECK(text(std::span(small.data(), *second)) == text_of(10, 2));
    CHECK(err(other.receive(small)) == errc::would_block);
    // A bigger buffer takes it; its slot is free again.
    std::array<std::byte, max_bytes> big{};
    const auto first = rx.receive(big);
    REQUIRE(first);
    CHECK(text(std::span(big.data(), *first)) == text_of(50, 1));
    CHECK(q.depth() == 0);

    SECTION("a view takes it too") {
        REQUIRE(tx.send(text_of(60, 3)));
        CHECK(err(rx.receive(small)) == errc::too_large);
        const auto v = rx.receive_view();
        REQUIRE(v);
        CHECK(v->text() == text_of(60, 3));
    }
    SECTION("closing the receiver gives its slot back (the message is lost), as its death would") {
        REQUIRE(tx.send(text_of(60, 3)));
        CHECK(err(rx.receive(small)) == errc::too_large);
        rx.close();
        CHECK(err(other.receive(big)) == errc::would_block);
        // Every slot is free again, the parked one's too (a lap on, the senders reach it).
        for (std::size_t k = 0; k < mpmc::slots; ++k) REQUIRE(tx.send("x"));
    }
}

TEST_CASE("bytes mpmc queue: loans write in place, commit(k) sends the first k bytes, views read in place", "[unit]") {
    scoped_name name("bmulti");
    auto q = mpmc::create(name);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    {
        auto loan = tx.loan(max_bytes);
        REQUIRE(loan);
        CHECK(loan->size() == max_bytes);
        CHECK(err(tx.send("x")) == errc::in_use);
        CHECK(err(tx.loan(1)) == errc::in_use);
        std::memcpy(loan->data().data(), "hello world", 11);
        CHECK(err(loan->commit(max_bytes + 1)) == errc::too_large);
        REQUIRE(loan->commit(5));
        CHECK(err(loan->commit()) == errc::closed);
    }
    {
        auto loan = tx.loan(3);
        REQUIRE(loan);
        std::memcpy(loan->data().data(), "abc", 3);
        // dropped uncommitted: nothing sent
    }
    REQUIRE(tx.send("after"));
    auto v = rx.receive_view();
    REQUIRE(v);
    CHECK(v->text() == "hello");
    CHECK(err(rx.receive()) == errc::in_use);
    auto moved = std::move(rx);
    CHECK(v->text() == "hello");
    v->release();
    const auto next = moved.receive();
    REQUIRE(next);
    CHECK(text(*next) == "after");
    CHECK(err(moved.receive()) == errc::would_block);
}

TEST_CASE("bytes mpmc queue: a slot whose length was scribbled past Max is corrupt, and the next message still arrives",
          "[unit]") {
    scoped_name name("bmulti");
    auto q = spmc::create(name);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    REQUIRE(tx.send("first"));
    REQUIRE(tx.send("second"));
    backdoor<spmc> door(name);
    door.ring().slots[0].value.length = max_bytes + 1;
    std::array<std::byte, max_bytes> buf{};
    CHECK(err(rx.receive(buf)) == errc::corrupt);
    const auto next = rx.receive(buf);
    REQUIRE(next);
    CHECK(text(std::span(buf.data(), *next)) == "second");
    REQUIRE(tx.send("third"));
    door.ring().slots[2].value.length = 0xffff'ffff;
    CHECK(err(rx.receive_view()) == errc::corrupt);
    CHECK(q.depth() == 0);

    // Within a batch: it ends there, and the next call says the message was lost.
    for (const char* m : {"fourth", "fifth", "sixth"}) REQUIRE(tx.send(std::string_view(m)));
    door.ring().slots[4].value.length = max_bytes + 1;
    std::vector<std::byte> storage(ipckit::records::storage_for(8, max_bytes));
    ipckit::records batch{storage};
    const auto got = rx.receive(batch);
    REQUIRE(got);
    CHECK(*got == 1);
    CHECK(text(*batch.begin()) == "fourth");
    CHECK(err(rx.receive_view()) == errc::corrupt);
    const auto sixth = rx.receive(buf);
    REQUIRE(sixth);
    CHECK(text(std::span(buf.data(), *sixth)) == "sixth");
}

TEST_CASE("bytes mpmc queue: an inspector reads it as slots, messages and bytes of slots", "[unit]") {
    scoped_name name("bmulti");
    auto q = mpmc::create(name);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    for (int i = 0; i < 5; ++i) REQUIRE(tx.send(text_of(static_cast<std::size_t>(i) * 20, 0)));
    for (int i = 0; i < 2; ++i) REQUIRE(rx.receive());
    const auto s = ipckit::inspect(name);
    INFO(s.problem);
    CHECK(s.status == ipckit::segment_status::ok);
    CHECK(s.note.empty());
    CHECK(s.message_type == "bytes");
    CHECK(s.message_size == max_bytes);
    CHECK(s.capacity_bytes == 8 * sizeof(record) + 5);
    CHECK(s.capacity_messages == 8);
    CHECK(s.depth_messages == 3);
    CHECK(s.depth_bytes == 3 * sizeof(record));
    CHECK(s.depth_bytes == q.depth());
    CHECK(s.sent_messages == 5);
    CHECK(s.received_messages == 2);
    CHECK(s.max_senders == 4);
    CHECK(s.max_receivers == 3);
    CHECK(s.endpoints.size() == 2);
}
