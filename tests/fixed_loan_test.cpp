// Zero-copy loans and views on queues of fixed-size messages.

#include <ipckit/queue.hpp>

#include "catch.hpp"
#include "support.hpp"

#include <array>
#include <cstdint>

using ipckit::errc;
using ipckit_test::scoped_name;

namespace {

struct big {
    std::uint64_t seq;
    std::array<std::uint64_t, 1023> words;  // 8 KiB: the kind of message worth not copying

    void fill(std::uint64_t s) {
        seq = s;
        for (std::size_t i = 0; i < words.size(); ++i) words[i] = s * 1'000'003 + i;
    }
    [[nodiscard]] bool intact() const {
        for (std::size_t i = 0; i < words.size(); ++i)
            if (words[i] != seq * 1'000'003 + i) return false;
        return true;
    }
};

using spsc1 = ipckit::queue<big, ipckit::bounded<1>>;
using mpmc2 = ipckit::queue<big, ipckit::bounded<2>, ipckit::multi, ipckit::multi>;

}  // namespace

TEMPLATE_TEST_CASE("a loan is written in place and sent by commit", "[unit]", spsc1, mpmc2) {
    scoped_name name;
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();

    auto loan = tx.loan();
    REQUIRE(loan);
    loan->get()->fill(7);
    CHECK(rx.receive_view().error() == errc::would_block);  // not sent until committed
    CHECK(tx.loan().error() == errc::in_use);                // one loan at a time
    CHECK(tx.send(big{}).error() == errc::in_use);
    loan->commit();

    auto v = rx.receive_view();
    REQUIRE(v);
    CHECK((*v)->seq == 7);
    CHECK((*v)->intact());
}

TEMPLATE_TEST_CASE("a view pins its slot until it is released", "[unit]", spsc1, mpmc2) {
    scoped_name name;
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    big m{};
    std::uint64_t next = 0;
    for (; next < TestType::capacity; ++next) {  // fill the queue
        m.fill(next);
        REQUIRE(tx.send(m));
    }
    {
        auto v = rx.receive_view();
        REQUIRE(v);
        m.fill(next);
        CHECK(tx.send(m).error() == errc::would_block);  // the oldest slot is still being read
        CHECK((*v)->seq == 0);                            // and was not overwritten
        CHECK((*v)->intact());
        CHECK(rx.receive().error() == errc::in_use);      // one view at a time
    }
    REQUIRE(tx.send(m));  // released: the slot is free again
    for (std::uint64_t expect = 1; expect <= next; ++expect) {
        auto r = rx.receive();
        REQUIRE(r);
        CHECK(r->seq == expect);
    }
}

TEMPLATE_TEST_CASE("a loan dropped uncommitted sends nothing", "[unit]", spsc1, mpmc2) {
    scoped_name name;
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    {
        auto loan = tx.loan();
        REQUIRE(loan);
        loan->get()->fill(99);
    }
    CHECK(rx.receive().error() == errc::would_block);
    big m{};
    m.fill(3);
    REQUIRE(tx.send(m));
    auto r = rx.receive();
    REQUIRE(r);
    CHECK(r->seq == 3);
}

TEST_CASE("loans and views carry large messages between processes without a copy", "[process]") {
    using q8 = ipckit::queue<big, ipckit::bounded<8>>;
    scoped_name name;
    auto q = q8::create(name);
    constexpr std::uint64_t count = 20'000;
    const pid_t child = ipckit_test::spawn([&] {
        auto tx = q8::open(name).sender();
        for (std::uint64_t i = 0; i < count; ++i) {
            auto loan = tx.loan(ipckit_test::patience);
            if (!loan) return 3;
            loan->get()->fill(i);
            loan->commit();
        }
        return 0;
    });
    auto rx = q.receiver();
    std::uint64_t received = 0;
    for (;;) {
        auto v = rx.receive_view(ipckit_test::patience);
        if (!v) {
            CHECK(v.error() == errc::closed);
            break;
        }
        REQUIRE((*v)->seq == received);
        REQUIRE((*v)->intact());
        ++received;
    }
    CHECK(received == count);
    CHECK(ipckit_test::wait_child(child) == 0);
}
