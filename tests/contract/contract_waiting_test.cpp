// Contract: what a verb does when it cannot go on at once (README, "Verbs"). A non-blocking
// verb returns would_block; a blocking one with a deadline that passes returns timed_out; both
// leave the channel as it was, so the next verb that can go on does. Written once, run for every
// kind (kinds.hpp); in one process, both ends attached.

#include "../catch.hpp"
#include "../messages.hpp"
#include "kinds.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;
using namespace ipckit_test::contract;

TEMPLATE_TEST_CASE("contract: a receive with nothing there is would_block, or timed_out at its deadline, and the "
                   "next message is still received",
                   "[unit]", IPCKIT_CONTRACT_ALL_KINDS) {
    using K = TestType;
    const made<K> p;
    auto tx = K::sender(p);
    std::uint64_t seq = ~std::uint64_t{0};
    const auto then_the_next_is_received = [&](auto& rx, auto... deadline) {
        CHECK(seq == ~std::uint64_t{0});
        if constexpr (K::holds > 0) {
            REQUIRE(K::send(tx, 7, patience) == errc::ok);
            if constexpr (sizeof...(deadline) == 0)
                REQUIRE(receive_sent<K>(rx, seq) == errc::ok);
            else
                REQUIRE(K::receive(rx, seq, deadline...) == errc::ok);
            CHECK(seq == 7);
        }
    };
    SECTION("non-blocking") {
        auto rx = K::template receiver<ipckit::non_blocking>(p);
        CHECK(K::receive(rx, seq) == errc::would_block);
        CHECK(K::receive(rx, seq) == errc::would_block);
        then_the_next_is_received(rx);
    }
    SECTION("blocking, with a deadline") {
        auto rx = K::receiver(p);
        CHECK(K::receive(rx, seq, already_past()) == errc::timed_out);
        CHECK(K::receive(rx, seq, 1ms) == errc::timed_out);
        then_the_next_is_received(rx, patience);
    }
}

TEMPLATE_TEST_CASE("contract: a send to a full channel is would_block, or timed_out at its deadline, and sends "
                   "nothing, and an unbounded one is never full",
                   "[unit]", IPCKIT_CONTRACT_ALL_KINDS) {
    using K = TestType;
    const made<K> p;
    auto rx = K::template receiver<ipckit::non_blocking>(p);
    constexpr std::uint64_t limit = K::bounded ? 1'000'000 : 4 * K::holds;
    std::uint64_t held = 0;
    // With the sender still attached (its close would end a single-producer stream).
    const auto then_all_held_are_received = [&] {
        if constexpr (K::bounded) {
            CHECK(held >= K::holds);
            CHECK(held < limit);
        } else {
            CHECK(held == limit);
        }
        std::uint64_t seq = 0;
        for (std::uint64_t i = 0; i < held; ++i) {
            REQUIRE(receive_sent<K>(rx, seq) == errc::ok);
            REQUIRE(seq == i);  // the refused sends left nothing behind
        }
        CHECK(K::receive(rx, seq) == errc::would_block);
    };
    if constexpr (K::non_blocking_send) SECTION("non-blocking") {
        auto tx = K::template sender<ipckit::non_blocking>(p);
        for (; held < limit; ++held) {
            const errc e = K::send(tx, held);
            if (e != errc::ok) {
                CHECK(e == errc::would_block);
                break;
            }
        }
        then_all_held_are_received();
    }
    SECTION("blocking, with a deadline") {
        auto tx = K::sender(p);
        for (; held < limit; ++held) {
            errc e = K::send(tx, held, already_past());
            if (e != errc::ok) {
                CHECK(e == errc::timed_out);
                // Where messages travel, the I/O thread may still be making room: what it makes
                // is filled too, until a send's wait finds none.
                if constexpr (travels<K>)
                    while ((e = K::send(tx, held, 1ms)) == errc::ok && held < limit) ++held;
                else
                    e = K::send(tx, held, 1ms);
                CHECK(e == errc::timed_out);
                break;
            }
        }
        then_all_held_are_received();
    }
}

TEMPLATE_TEST_CASE("contract: a sender blocked on a full channel wakes when a receiver passes over abandoned loans, "
                   "which free the room",
                   "[unit]", IPCKIT_CONTRACT_SHARED_LOAN_KINDS) {
    using K = TestType;
    typename K::place place;
    ipckit::broadcast_options slow;  // no look at the peers' liveness ends a wait: only a wake does
    slow.liveness_interval = 1h;
    auto channel = K::channel::create(place, slow);
    auto rx = channel.template receiver<ipckit::non_blocking>();
    using sender = decltype(channel.sender());
    std::vector<sender> lenders;
    std::vector<std::decay_t<decltype(*std::declval<sender&>().loan())>> loans;  // every slot, lent
    for (std::uint64_t i = 0; i < K::holds; ++i) {
        auto loan = lenders.emplace_back(channel.sender()).loan();
        REQUIRE(loan);
        loans.push_back(std::move(*loan));
    }
    auto tx = channel.sender();
    std::atomic<pid_t> tid{0};
    auto sent = std::async(std::launch::async, [&] {
        tid = ipckit_test::thread_id();
        return K::send(tx, 42, 1h);
    });
    ipckit_test::let_go let_it_go(sent, [&] { channel.close(); });
    REQUIRE(ipckit_test::eventually([&] { return tid.load() != 0; }));
    REQUIRE(ipckit_test::wait_until_sleeping(::getpid(), tid.load()));  // asleep on the full channel
    for (auto& loan : loans) loan.abandon();
    REQUIRE(ipckit_test::wait_until_sleeping(::getpid(), tid.load()));  // still: their slots are not free yet
    std::uint64_t seq = 0;
    CHECK(K::receive(rx, seq) == errc::would_block);  // past them all: nothing to read, the room free
    const bool woke = sent.wait_for(patience) == std::future_status::ready;
    CHECK(woke);  // then, not at its deadline an hour on
    if (!woke) let_it_go();  // to end the test
    CHECK(sent.get() == errc::ok);
    if (woke) {
        REQUIRE(K::receive(rx, seq) == errc::ok);
        CHECK(seq == 42);
    }
}
