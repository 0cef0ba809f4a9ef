// Zero-copy loans and views on queues and mailboxes of fixed-size messages.

#include <ipckit/mailbox.hpp>
#include <ipckit/queue.hpp>

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <utility>

using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
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
using bytes_q = ipckit::queue<ipckit::bytes<64>, ipckit::bounded<256>>;
template <class D>
using mailbox2 = ipckit::mailbox<big, ipckit::bounded<2>, D, ipckit::system_owned>;
using exclusive2 = mailbox2<ipckit::exclusive>;
using any2 = mailbox2<ipckit::any>;
using round_robin2 = mailbox2<ipckit::round_robin>;
using bytes_mailbox = ipckit::mailbox<ipckit::bytes<64>, ipckit::bounded<256>, ipckit::any, ipckit::system_owned>;

/// One shape of loan and of view for fixed and variable-size messages (README, "One rule for
/// each thing in the API"): what a user writes against one compiles against the other.
template <class L>
concept loan_shape = std::default_initializable<L> && std::movable<L> && !std::copyable<L> && requires(L& l) {
    l.data();
    { l.size() } -> std::same_as<std::size_t>;
    { static_cast<bool>(l) };
    { l.commit() } -> std::same_as<ipckit::status>;
    { l.abandon() } -> std::same_as<void>;
};
template <class V>
concept view_shape = std::default_initializable<V> && std::movable<V> && !std::copyable<V> && requires(V& v) {
    v.data();
    { v.size() } -> std::same_as<std::size_t>;
    { static_cast<bool>(v) };
    { v.release() } -> std::same_as<void>;
};
template <class Q>
constexpr bool same_shape() {
    using tx = ipckit::sender<Q, ipckit::non_blocking>;
    using rx = ipckit::receiver<Q, ipckit::non_blocking>;
    return loan_shape<typename tx::loan_type> && view_shape<typename rx::view_type>;
}
static_assert(same_shape<spsc1>() && same_shape<mpmc2>() && same_shape<bytes_q>() && same_shape<any2>() &&
              same_shape<bytes_mailbox>());

}  // namespace

TEMPLATE_TEST_CASE("a loan is written in place and sent by commit", "[unit]", spsc1, mpmc2, exclusive2, any2,
                   round_robin2) {
    scoped_name name;
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();

    auto loan = tx.loan();
    REQUIRE(loan);
    loan->data().fill(7);
    CHECK(rx.receive_view().error() == errc::would_block);  // not sent until committed
    CHECK(tx.loan().error() == errc::in_use);                // one loan at a time
    CHECK(tx.send(big{}).error() == errc::in_use);
    REQUIRE(loan->commit());

    auto v = rx.receive_view();
    REQUIRE(v);
    CHECK(v->data().seq == 7);
    CHECK(v->data().intact());
}

TEMPLATE_TEST_CASE("a view pins its slot until it is released", "[unit]", spsc1, mpmc2, exclusive2, any2,
                   round_robin2) {
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
        CHECK(v->data().seq == 0);                            // and was not overwritten
        CHECK(v->data().intact());
        CHECK(rx.receive().error() == errc::in_use);      // one view at a time
    }
    REQUIRE(tx.send(m));  // released: the slot is free again
    for (std::uint64_t expect = 1; expect <= next; ++expect) {
        auto r = rx.receive();
        REQUIRE(r);
        CHECK(r->seq == expect);
    }
}

TEMPLATE_TEST_CASE("a loan dropped uncommitted sends nothing", "[unit]", spsc1, mpmc2, exclusive2, any2,
                   round_robin2) {
    scoped_name name;
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    {
        auto loan = tx.loan();
        REQUIRE(loan);
        loan->data().fill(99);
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
    child_report report;
    child sender = report.spawn([&](child_report& r) {
        auto tx = q8::open(name).sender();
        for (std::uint64_t i = 0; i < count; ++i) {
            auto loan = tx.loan(ipckit_test::patience);
            r.expect(err(loan), errc::ok);
            loan->data().fill(i);
            r.expect(err(loan->commit()), errc::ok);
        }
    });
    auto rx = q.receiver();
    std::uint64_t received = 0;
    for (;;) {
        auto v = rx.receive_view(ipckit_test::patience);
        if (!v) {
            CHECK(v.error() == errc::closed);
            break;
        }
        REQUIRE(v->data().seq == received);
        REQUIRE(v->data().intact());
        ++received;
    }
    CHECK(received == count);
    CHECK(report.finish(sender) == as_expected);
}

TEMPLATE_TEST_CASE("a loan and a view follow their endpoint through a move, and end once", "[unit]", spsc1, mpmc2, exclusive2, any2,
                   round_robin2) {
    scoped_name name;
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    using loan_type = typename decltype(tx)::loan_type;

    auto loan = tx.loan();
    REQUIRE(loan);
    CHECK(loan->size() == sizeof(big));
    loan->data().fill(5);
    auto moved_tx = std::move(tx);  // the sender moves while its loan is out
    CHECK(moved_tx.loan().error() == errc::in_use);
    loan_type held = std::move(*loan);  // and so does the loan
    CHECK_FALSE(*loan);
    CHECK(loan->commit().error() == errc::closed);
    REQUIRE(held.commit());
    CHECK_FALSE(held);
    CHECK(held.size() == 0);
    CHECK(held.commit().error() == errc::closed);  // a loan ends once

    auto v = rx.receive_view();
    REQUIRE(v);
    auto moved_rx = std::move(rx);
    CHECK(moved_rx.receive().error() == errc::in_use);
    CHECK(v->data().seq == 5);
    CHECK(v->data().intact());
    v->release();
    CHECK_FALSE(*v);
    CHECK(v->size() == 0);
    CHECK(moved_rx.receive().error() == errc::would_block);  // the view's end freed the receiver

    big m{};
    m.fill(6);
    REQUIRE(moved_tx.send(m));  // and the loan's end freed the sender
    auto r = moved_rx.receive();
    REQUIRE(r);
    CHECK(r->seq == 6);
}

TEMPLATE_TEST_CASE("closing a sender abandons its loan, closing a receiver releases its view", "[unit]", spsc1, mpmc2, exclusive2, any2,
                   round_robin2) {
    scoped_name name;
    auto q = TestType::create(name);
    auto rx = q.template receiver<ipckit::non_blocking>();
    {
        auto tx = q.template sender<ipckit::non_blocking>();
        auto loan = tx.loan();
        REQUIRE(loan);
        loan->data().fill(1);
        tx.close();
        CHECK_FALSE(*loan);
        CHECK(loan->commit().error() == errc::closed);  // nothing sent
    }
    auto tx = q.template sender<ipckit::non_blocking>();
    big m{};
    m.fill(10);
    REQUIRE(tx.send(m));
    auto first = rx.receive();
    REQUIRE(first);
    CHECK(first->seq == 10);  // the abandoned loan is never received
    CHECK(rx.receive().error() == errc::would_block);

    m.fill(11);
    REQUIRE(tx.send(m));
    {
        auto v = rx.receive_view();
        REQUIRE(v);
        CHECK(v->data().seq == 11);
        rx.close();
        CHECK_FALSE(*v);
    }
    auto rx2 = q.template receiver<ipckit::non_blocking>();
    CHECK(rx2.receive().error() == errc::would_block);  // the released view's message was taken
    for (std::uint64_t i = 0; i < TestType::capacity; ++i) {  // and every slot is free again
        m.fill(20 + i);
        REQUIRE(tx.send(m));
    }
    for (std::uint64_t i = 0; i < TestType::capacity; ++i) {
        auto r = rx2.receive();
        REQUIRE(r);
        CHECK(r->seq == 20 + i);
    }
    CHECK(rx2.receive().error() == errc::would_block);
}

TEST_CASE("a broadcast mailbox's sender lends a slot too: every receiver gets what its loan committed", "[unit]") {
    using box = mailbox2<ipckit::broadcast>;
    scoped_name name;
    auto mb = box::create(name);
    auto first = mb.receiver<ipckit::non_blocking>();
    auto second = mb.receiver<ipckit::non_blocking>();
    auto tx = mb.sender<ipckit::non_blocking>();
    auto loan = tx.loan();
    REQUIRE(loan);
    loan->data().fill(4);
    CHECK(err(tx.send(big{})) == errc::in_use);
    CHECK(err(first.receive()) == errc::would_block);
    REQUIRE(loan->commit());
    for (auto* rx : {&first, &second}) {
        const auto m = rx->receive();
        REQUIRE(m);
        CHECK(m->seq == 4);
        CHECK(m->intact());
    }
    {
        auto dropped = tx.loan();
        REQUIRE(dropped);
    }
    CHECK(err(first.receive()) == errc::would_block);
}
