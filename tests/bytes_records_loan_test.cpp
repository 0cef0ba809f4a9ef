// Tests of loans of room for several messages at once on the byte queues
// (sender.loan_records(budget): detail/queue/bytes_records_loan.hpp): messages written in place
// and received in order, whole; what was not used; abandon; the ring wrapping around; bad input;
// a full ring; sender threads loaning at once (the test to run under ThreadSanitizer); and a
// holder SIGKILLed mid-loan in a forked child (the process tests start no threads).

#include "byte_messages.hpp"
#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>
#include <ipckit/records.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::write_in_place;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::numbered;
using ipckit_test::numbered_message;
using ipckit_test::patience;
using ipckit_test::quick_liveness;
using ipckit_test::same;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;

namespace {

constexpr std::size_t max_bytes = 100;
constexpr std::size_t ring_bytes = 4096;
using spsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<ring_bytes>>;
using mpsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<ring_bytes>, ipckit::multi_of<4>>;

using ipckit_test::as_bytes;

/// A new queue of kind Q, with a non-blocking sender and receiver.
template <class Q>
struct fresh_queue {
    scoped_name name{"bytes-rloan"};
    Q q = Q::create(name);
    ipckit::sender<Q, ipckit::non_blocking> tx = q.template sender<ipckit::non_blocking>();
    ipckit::receiver<Q, ipckit::non_blocking> rx = q.template receiver<ipckit::non_blocking>();
};

/// Everything there is now (non-blocking receiver), one message at a time.
template <class Rx>
std::vector<std::vector<std::byte>> drain(Rx& rx) {
    std::vector<std::vector<std::byte>> got;
    while (auto m = rx.receive()) got.push_back(std::move(*m));
    return got;
}

}  // namespace

TEMPLATE_TEST_CASE("bytes records loan: messages written in place arrive in order, whole, and only once published",
                   "[unit]", spsc, mpsc) {
    fresh_queue<TestType> fresh;
    auto& [name, q, tx, rx] = fresh;
    const std::array<std::size_t, 7> lengths{0, 1, 7, 8, 9, 64, max_bytes};

    auto loan = tx.loan_records(1024);
    REQUIRE(loan);
    CHECK(loan->capacity() == 1024);
    CHECK(loan->empty());
    std::size_t used = 0;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
        REQUIRE(write_in_place(*loan, ipckit_test::pattern(lengths[i], i)));
        used += ipckit::detail::bytes_record::size_for(lengths[i]);
        CHECK(loan->size() == i + 1);
        CHECK(loan->used() == used);
    }
    CHECK(err(rx.receive()) == errc::would_block);  // nothing is sent before publish()
    const auto sent = loan->publish();
    REQUIRE(sent);
    CHECK(*sent == lengths.size());
    CHECK(q.depth() == used);  // the rest of what was lent is free again
    CHECK(!*loan);
    CHECK(loan->capacity() == 0);
    CHECK(err(loan->publish()) == errc::closed);

    // One batch receive takes them all: they were published together.
    std::vector<std::byte> storage(ipckit::records::storage_for(lengths.size(), max_bytes));
    ipckit::records batch{storage};
    const auto got = rx.receive(batch);
    REQUIRE(got);
    REQUIRE(*got == lengths.size());
    std::size_t i = 0;
    for (std::span<const std::byte> m : batch) {
        CHECK(same(m, ipckit_test::pattern(lengths[i], i)));
        ++i;
    }
    CHECK(q.depth() == 0);
}

TEMPLATE_TEST_CASE("bytes records loan: what is not used is not sent and holds nothing up, what does not fit is refused "
                   "and the loan goes on",
                   "[unit]", spsc, mpsc) {
    fresh_queue<TestType> fresh;
    auto& [name, q, tx, rx] = fresh;

    SECTION("a budget under one longest message's record is lent whole, and no more") {
        auto loan = tx.loan_records(64);
        REQUIRE(loan);
        CHECK(loan->capacity() == 64);
        CHECK(loan->reserve(57) == nullptr);  // a record of 72 bytes
        CHECK(loan->size() == 0);
        REQUIRE(write_in_place(*loan, ipckit_test::pattern(20, 1)));  // 32 bytes
        CHECK(loan->reserve(25) == nullptr);                 // 40 > the 32 left
        CHECK(!loan->fits(25));
        CHECK(loan->fits(24));
        REQUIRE(write_in_place(*loan, ipckit_test::pattern(24, 2)));
        CHECK(!loan->fits(0));  // not even an empty message's header
        const auto sent = loan->publish();
        REQUIRE(sent);
        CHECK(*sent == 2);
        const auto got = drain(rx);
        REQUIRE(got.size() == 2);
        CHECK(same(got[0], ipckit_test::pattern(20, 1)));
        CHECK(same(got[1], ipckit_test::pattern(24, 2)));
    }
    SECTION("a message over Max is refused however much room is left") {
        auto loan = tx.loan_records(ring_bytes);
        REQUIRE(loan);
        CHECK(loan->reserve(max_bytes + 1) == nullptr);
        CHECK(!loan->fits(max_bytes + 1));
        REQUIRE(write_in_place(*loan, ipckit_test::pattern(max_bytes, 3)));
        REQUIRE(loan->publish());
        const auto got = drain(rx);
        REQUIRE(got.size() == 1);
        CHECK(same(got[0], ipckit_test::pattern(max_bytes, 3)));
    }
    SECTION("commit ends the message reserved, and no more than it reserved") {
        auto loan = tx.loan_records(256);
        REQUIRE(loan);
        CHECK(err(loan->commit(0)) == errc::invalid_argument);  // nothing reserved
        const auto bytes = ipckit_test::pattern(10, 4);
        std::byte* to = loan->reserve(10);
        REQUIRE(to != nullptr);
        std::memcpy(to, bytes.data(), 10);
        CHECK(err(loan->commit(11)) == errc::too_large);
        REQUIRE(loan->commit(6));  // a message shorter than reserved
        CHECK(err(loan->commit(0)) == errc::invalid_argument);  // that reserve is used up
        REQUIRE(loan->publish());
        const auto got = drain(rx);
        REQUIRE(got.size() == 1);
        CHECK(same(got[0], std::span(bytes).first(6)));
    }
    SECTION("the rest of a large loan does not hold up the next messages, nor leak room") {
        // Many times the ring in loans of a whole ring's budget, each mostly unused.
        for (std::uint64_t round = 0; round < 3 * ring_bytes / 40; ++round) {
            auto loan = tx.loan_records(ring_bytes);
            REQUIRE(loan);
            REQUIRE(write_in_place(*loan, ipckit_test::pattern(16, round)));
            REQUIRE(loan->publish());
            REQUIRE(tx.send(ipckit_test::pattern(8, ~round)));
            const auto got = drain(rx);
            REQUIRE(got.size() == 2);
            CHECK(same(got[0], ipckit_test::pattern(16, round)));
            CHECK(same(got[1], ipckit_test::pattern(8, ~round)));
        }
        CHECK(q.depth() == 0);
    }
    SECTION("publishing none sends nothing and gives the room back (many senders: once the receiver passes it)") {
        for (int round = 0; round < 8; ++round) {
            auto loan = tx.loan_records(ring_bytes);
            REQUIRE(loan);
            CHECK(loan->capacity() == ring_bytes);
            const auto sent = loan->publish();
            REQUIRE(sent);
            CHECK(*sent == 0);
            CHECK(drain(rx).empty());
        }
        CHECK(q.depth() == 0);
    }
}

TEST_CASE("bytes records loan: mpsc, where another sender claimed room after the loan's, the unused rest is passed "
          "and every message arrives",
          "[unit]") {
    scoped_name name("bytes-rloan");
    auto q = mpsc::create(name);
    auto tx = q.sender<ipckit::non_blocking>();
    auto other = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    for (std::uint64_t round = 0; round < 3 * ring_bytes / 600; ++round) {
        auto loan = tx.loan_records(512);
        REQUIRE(loan);
        REQUIRE(other.send(ipckit_test::pattern(30, round)));  // claimed after the loan's run
        REQUIRE(write_in_place(*loan, ipckit_test::pattern(20, round)));
        CHECK(err(rx.receive()) == errc::would_block);  // the loan's run comes first, and is not published
        REQUIRE(loan->publish());
        const auto got = drain(rx);
        REQUIRE(got.size() == 2);
        CHECK(same(got[0], ipckit_test::pattern(20, round)));
        CHECK(same(got[1], ipckit_test::pattern(30, round)));
        CHECK(q.depth() == 0);
    }
}

TEMPLATE_TEST_CASE("bytes records loan: abandoned or dropped unpublished, nothing of it is sent and no room leaks",
                   "[unit]", spsc, mpsc) {
    fresh_queue<TestType> fresh;
    auto& [name, q, tx, rx] = fresh;
    for (std::uint64_t round = 0; round < 3 * ring_bytes / 100; ++round) {
        {
            auto dropped = tx.loan_records(512);
            REQUIRE(dropped);
            REQUIRE(write_in_place(*dropped, ipckit_test::pattern(max_bytes, round)));
            REQUIRE(write_in_place(*dropped, ipckit_test::pattern(3, round)));
        }
        auto abandoned = tx.loan_records(200);
        REQUIRE(abandoned);
        REQUIRE(write_in_place(*abandoned, ipckit_test::pattern(40, round)));
        abandoned->abandon();
        CHECK(!*abandoned);
        CHECK(err(abandoned->publish()) == errc::closed);
        REQUIRE(tx.send(ipckit_test::pattern(5, round)));
        const auto got = drain(rx);
        REQUIRE(got.size() == 1);
        CHECK(same(got[0], ipckit_test::pattern(5, round)));
    }
    CHECK(q.depth() == 0);
}

TEMPLATE_TEST_CASE("bytes records loan: a loan of the whole ring given back is passed by a batch receive, which then "
                   "takes what follows",
                   "[unit]", spsc, mpsc) {
    fresh_queue<TestType> fresh;
    auto& [name, q, tx, rx] = fresh;
    std::vector<std::byte> storage(ipckit::records::storage_for(4, max_bytes));
    ipckit::records batch{storage};
    {
        auto whole = tx.loan_records(ring_bytes);
        REQUIRE(whole);
        REQUIRE(whole->capacity() == ring_bytes);
        REQUIRE(write_in_place(*whole, ipckit_test::pattern(max_bytes, 1)));
    }  // dropped: many senders, one skip record the size of the ring
    CHECK(err(rx.receive(batch)) == errc::would_block);  // not corrupt: it read a lap of skips
    REQUIRE(tx.send(ipckit_test::pattern(9, 2)));
    const auto got = rx.receive(batch);
    REQUIRE(got);
    REQUIRE(*got == 1);
    CHECK(same(*batch.begin(), ipckit_test::pattern(9, 2)));
}

TEMPLATE_TEST_CASE("bytes records loan: loans of every size wrap around the ring, and every message arrives in order",
                   "[unit]", spsc, mpsc) {
    fresh_queue<TestType> fresh;
    auto& [name, q, tx, rx] = fresh;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    // Budgets from a few bytes to the whole ring, ring positions all round it, several laps.
    for (std::uint64_t round = 0; round < 400; ++round) {
        const std::size_t budget = 8 + static_cast<std::size_t>(ipckit_test::mix(round) % ring_bytes);
        auto loan = tx.loan_records(budget);
        REQUIRE(loan);
        REQUIRE(loan->capacity() <= budget);
        const std::size_t want = 1 + static_cast<std::size_t>(ipckit_test::mix(~round) % 12);
        std::size_t wrote = 0;
        while (wrote < want && write_in_place(*loan, numbered_message(0, sent + wrote, max_bytes))) ++wrote;
        const auto n = loan->publish();
        REQUIRE(n);
        REQUIRE(*n == wrote);
        sent += wrote;
        for (const auto& m : drain(rx)) {
            std::uint32_t p = 0;
            std::uint64_t s = 0;
            REQUIRE(numbered(m, max_bytes, p, s));
            REQUIRE(s == received);
            ++received;
        }
        REQUIRE(received == sent);
    }
    CHECK(sent > 3 * ring_bytes / 64);  // several laps
}

TEMPLATE_TEST_CASE("bytes records loan: a bad budget is refused at once, and one loan at a time per sender", "[unit]", spsc,
                   mpsc) {
    fresh_queue<TestType> fresh;
    auto& [name, q, tx, rx] = fresh;
    CHECK(err(tx.loan_records(0)) == errc::invalid_argument);
    CHECK(err(tx.loan_records(7)) == errc::too_large);
    {
        auto big = tx.loan_records(ring_bytes * 4);  // lent as much as there is, at most the ring
        REQUIRE(big);
        CHECK(big->capacity() == ring_bytes);
    }
    CHECK(drain(rx).empty());  // many senders: the receiver passes what the loan claimed
    auto loan = tx.loan_records(13);  // counted in the ring's 8-byte units: 8
    REQUIRE(loan);
    CHECK(loan->capacity() == 8);
    CHECK(err(tx.loan_records(64)) == errc::in_use);
    CHECK(err(tx.loan(1)) == errc::in_use);
    CHECK(err(tx.send("x")) == errc::in_use);
    REQUIRE(write_in_place(*loan, {}));
    REQUIRE(loan->publish());
    auto one = tx.loan(4);
    REQUIRE(one);
    CHECK(err(tx.loan_records(64)) == errc::in_use);
    REQUIRE(one->commit(0));
    REQUIRE(tx.loan_records(64));
    const auto got = drain(rx);
    REQUIRE(got.size() == 2);
    CHECK(got[0].empty());
    CHECK(got[1].empty());
}

TEMPLATE_TEST_CASE("bytes records loan: a loan survives a move of itself and of its sender", "[unit]", spsc, mpsc) {
    fresh_queue<TestType> fresh;
    auto& [name, q, tx, rx] = fresh;
    auto loan = tx.loan_records(256);
    REQUIRE(loan);
    REQUIRE(write_in_place(*loan, as_bytes("one")));
    typename TestType::records_loan moved = std::move(*loan);
    CHECK(!*loan);
    auto tx2 = std::move(tx);
    REQUIRE(write_in_place(moved, as_bytes("two")));
    REQUIRE(moved.publish());
    REQUIRE(tx2.send("three"));
    const auto got = drain(rx);
    REQUIRE(got.size() == 3);
    CHECK(same(got[0], as_bytes("one")));
    CHECK(same(got[1], as_bytes("two")));
    CHECK(same(got[2], as_bytes("three")));
}

TEMPLATE_TEST_CASE("bytes records loan: on a full ring, a blocking loan times out at its deadline, a non-blocking one "
                   "would block, and nothing changes",
                   "[unit]", spsc, mpsc) {
    scoped_name name("bytes-rloan");
    auto q = TestType::create(name);
    auto tx = q.sender();
    auto nb = q.template receiver<ipckit::non_blocking>();
    std::size_t n = 0;
    while (tx.send(ipckit_test::pattern(max_bytes, n), 0ms)) ++n;
    const auto used = q.depth();
    CHECK(err(tx.loan_records(1024, 20ms)) == errc::timed_out);
    CHECK(err(tx.loan_records(8, std::chrono::steady_clock::now() + 20ms)) == errc::timed_out);
    CHECK(q.depth() == used);
    // One message taken frees room for one longest record: a loan now gets at least that.
    REQUIRE(nb.receive());
    auto loan = tx.loan_records(1024, patience);
    REQUIRE(loan);
    CHECK(loan->capacity() >= ipckit::detail::bytes_record::size_for(max_bytes));
    REQUIRE(write_in_place(*loan, ipckit_test::pattern(max_bytes, n)));
    REQUIRE(loan->publish());
    for (std::size_t i = 1; i <= n; ++i) {
        const auto m = nb.receive();
        REQUIRE(m);
        CHECK(same(*m, ipckit_test::pattern(max_bytes, i)));
    }
    CHECK(err(nb.receive()) == errc::would_block);
}

TEMPLATE_TEST_CASE("bytes records loan: sender threads loaning records of every budget pass 4e4 messages to a receiver "
                   "thread, each in order and whole",
                   "[unit]", (ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<1024>>),
                   (ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<1024>, ipckit::multi_of<4>>)) {
    scoped_name name("bytes-rloan");
    auto q = TestType::create(name);
    constexpr std::uint32_t senders = TestType::max_senders > 1 ? 3 : 1;
    constexpr std::uint64_t each = 40'000 / senders;
    auto rx = q.receiver();
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (std::uint32_t p = 0; p < senders; ++p) {
        threads.emplace_back([&failures, p, tx = q.sender()]() mutable {
            // Budgets from 8 bytes to the whole ring (many mpsc loans shrink while another
            // sender claims after them), every 7th loan abandoned with what it held.
            for (std::uint64_t s = 0, round = 0; s < each; ++round) {
                auto loan = tx.loan_records(8 + ipckit_test::mix(round ^ (std::uint64_t{p} << 32)) % 1024, patience);
                if (!loan) {
                    ++failures;
                    return;
                }
                std::uint64_t n = 0;
                while (s + n < each && write_in_place(*loan, numbered_message(p, s + n, max_bytes))) ++n;
                if (round % 7 == 6) continue;  // dropped: sent again by the next loans
                const auto sent = loan->publish();
                if (!sent || *sent != n) {
                    ++failures;
                    return;
                }
                s += n;
            }
        });
    }
    std::vector<std::uint64_t> next(senders, 0);
    std::uint64_t received = 0;
    std::vector<std::byte> storage(ipckit::records::storage_for(16, max_bytes));
    for (std::uint64_t round = 0; received < senders * each && failures == 0; ++round) {
        ipckit::records got{storage};
        if (!rx.receive(got, patience)) {
            ++failures;
            break;
        }
        for (const std::span<const std::byte> m : got) {
            std::uint32_t p = 0;
            std::uint64_t s = 0;
            if (!numbered(m, max_bytes, p, s) || p >= senders || s != next[p]) {
                UNSCOPED_INFO("message " << received << " is torn or out of order (sender " << p << ", seq " << s << ")");
                ++failures;
                break;
            }
            ++next[p];
            ++received;
        }
    }
    if (failures != 0) rx.close();  // the senders get closed rather than wait
    for (auto& t : threads) t.join();
    REQUIRE(failures == 0);
    CHECK(received == senders * each);
}

// ---- a holder killed mid-loan ---------------------------------------------------------------

TEST_CASE("bytes records loan across processes: mpsc, a holder SIGKILLed mid-loan sends none of it, and the other "
          "senders' messages go on",
          "[process]") {
    scoped_name name("bytes-rloan");
    auto q = mpsc::create(name, quick_liveness());
    auto rx = q.receiver();
    auto tx = q.sender<ipckit::non_blocking>();
    REQUIRE(tx.send("before"));
    signal_pipe lent;
    signal_pipe hold;
    child_report report;
    child holder = report.spawn([&](child_report& r) {
        auto own = mpsc::open(name, quick_liveness()).sender();
        auto loan = own.loan_records(1024);
        r.expect(err(loan), errc::ok);
        for (std::uint64_t i = 0; i < 3; ++i) r.check(write_in_place(*loan, as_bytes("lost")), "room for a message");
        r.check(loan->reserve(50) != nullptr, "room for one more, half written");
        lent.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(holder, lent) == as_expected);
    REQUIRE(tx.send("after"));
    auto m = rx.receive(patience);
    REQUIRE(m);
    CHECK(same(*m, as_bytes("before")));
    // The holder lives: its run is waited for, not skipped.
    CHECK(err(rx.receive(50ms)) == errc::timed_out);
    CHECK(report.ended(holder.kill(), killed_by_sigkill) == as_expected);
    m = rx.receive(patience);
    REQUIRE(m);
    CHECK(same(*m, as_bytes("after")));
    REQUIRE(tx.send("later"));
    m = rx.receive(patience);
    REQUIRE(m);
    CHECK(same(*m, as_bytes("later")));
    CHECK(q.depth() == 0);
}

TEST_CASE("bytes records loan across processes: spsc, a holder SIGKILLed mid-loan sends none of it, and the next "
          "sender goes on",
          "[process]") {
    scoped_name name("bytes-rloan");
    auto q = spsc::create(name, quick_liveness());
    auto rx = q.receiver<ipckit::non_blocking>();
    signal_pipe sent;
    signal_pipe go;
    signal_pipe lent;
    signal_pipe hold;
    child_report report;
    child holder = report.spawn([&](child_report& r) {
        auto own = spsc::open(name, quick_liveness()).sender();
        // 16 + 36 * 112 bytes: the rest of the ring's first lap, 48 bytes, is less than the
        // least a loan lends, so the loan starts with a wrap marker.
        r.expect(err(own.send("before")), errc::ok);
        for (std::uint64_t i = 0; i < 36; ++i) r.expect(err(own.send(ipckit_test::pattern(max_bytes, i))), errc::ok);
        sent.post();
        r.check(go.wait(), "the go signal");
        auto loan = own.loan_records(1024);
        r.expect(err(loan), errc::ok);
        r.expect_value(loan->capacity(), 1024);
        for (std::uint64_t i = 0; i < 3; ++i) r.check(write_in_place(*loan, as_bytes("lost")), "room for a message");
        lent.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(holder, sent) == as_expected);
    auto m = rx.receive();
    REQUIRE(m);
    CHECK(same(*m, as_bytes("before")));
    for (std::uint64_t i = 0; i < 36; ++i) {
        m = rx.receive();
        REQUIRE(m);
        CHECK(same(*m, ipckit_test::pattern(max_bytes, i)));
    }
    go.post();
    REQUIRE(report.reached(holder, lent) == as_expected);
    CHECK(report.ended(holder.kill(), killed_by_sigkill) == as_expected);
    CHECK(err(rx.receive()) == errc::would_block);  // none of the loan
    auto tx = q.sender();                            // the dead holder's place is taken over
    REQUIRE(tx.send("after"));
    m = rx.receive();
    REQUIRE(m);
    CHECK(same(*m, as_bytes("after")));
    CHECK(q.depth() == 0);
}
