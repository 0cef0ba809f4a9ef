// Zero-copy loans and views on queues and mailboxes of fixed-size messages; their one shape
// with those of bytes<Max>; and, for both, a forked child's copies of its parent's loan and
// view, dropped there, leave the parent's slots be.

#include <ipckit/mailbox.hpp>
#include <ipckit/queue.hpp>

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

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

/// Bounded queues and mailboxes of four slots, for loans of several (loan_n): one of each ring,
/// and each delivery whose ring claims runs.
using spsc4 = ipckit::queue<big, ipckit::bounded<4>>;
using mpsc4 = ipckit::queue<big, ipckit::bounded<4>, ipckit::multi>;
using mpmc4 = ipckit::queue<big, ipckit::bounded<4>, ipckit::multi, ipckit::multi>;
using lanes4 = ipckit::queue<big, ipckit::bounded<4>, ipckit::lanes<2>>;
template <class D>
using mailbox4 = ipckit::mailbox<big, ipckit::bounded<4>, D, ipckit::system_owned>;
using exclusive4 = mailbox4<ipckit::exclusive>;
using any4 = mailbox4<ipckit::any>;
using round_robin4 = mailbox4<ipckit::round_robin>;
static_assert(loan_shape<typename ipckit::sender<spsc4, ipckit::non_blocking>::loans_type> &&
              loan_shape<typename ipckit::sender<mpmc4, ipckit::non_blocking>::loans_type> &&
              loan_shape<typename ipckit::sender<lanes4, ipckit::non_blocking>::loans_type> &&
              loan_shape<typename ipckit::sender<any4, ipckit::non_blocking>::loans_type>);

/// Fills every slot of a loan of several with seq, seq + 1, ...
template <class Loans>
void fill_loans(Loans& loans, std::uint64_t seq) {
    for (std::size_t i = 0; i < loans.size(); ++i) loans.data()[i].fill(seq + i);
}

/// A forked child that runs send(tx, r) on a blocking sender of queue Q `name` and reports to
/// `report` (the streams between processes below).
template <class Q, class Send>
child spawn_sender(child_report& report, const scoped_name& name, Send send) {
    return report.spawn([&name, send](child_report& r) {
        auto tx = Q::open(name).sender();
        send(tx, r);
    });
}

/// A queue or mailbox Q (created here, with its blocking receiver) whose sender process sent
/// message 0, then took a loan of three slots, wrote messages 1 to 3 in place, and was SIGKILLed
/// holding it, uncommitted.
template <class Q>
struct killed_run_holder {
    scoped_name name;
    Q q = Q::create(name, ipckit_test::quick_liveness());
    typename Q::template receiver_type<ipckit::blocking> rx = q.receiver();
    child_report report;

    killed_run_holder() {
        ipckit_test::signal_pipe holding, hold;
        child c = report.spawn([&](child_report& r) {
            auto tx = Q::open(name, ipckit_test::quick_liveness()).template sender<ipckit::non_blocking>();
            big m{};
            m.fill(0);
            r.expect(err(tx.send(m)), errc::ok);  // one message sent whole, before the loan
            auto loans = tx.loan_n(3);
            r.expect(err(loans), errc::ok);
            r.expect_value(loans ? loans->size() : 0, std::size_t{3});
            if (loans) fill_loans(*loans, 1);
            holding.post();
            r.block_until_killed(hold);
        });
        REQUIRE(report.reached(c, holding) == as_expected);
        CHECK(c.kill() == ipckit_test::killed_by_sigkill);
    }
};

/// Receives (non-blocking) until would_block; the seqs, each message checked intact (else ~0).
template <class Rx>
std::vector<std::uint64_t> drain(Rx& rx) {
    std::vector<std::uint64_t> seqs;
    while (auto r = rx.receive()) seqs.push_back(r->intact() ? r->seq : ~std::uint64_t{0});
    return seqs;
}

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

TEMPLATE_TEST_CASE("an empty batch is 0 at once, even while a loan or a view is out", "[unit]", spsc4, mpmc2, exclusive2,
                   any2) {
    scoped_name name;
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    REQUIRE(tx.send(big{}));
    auto loan = tx.loan();
    REQUIRE(loan);
    const auto sent = tx.send(std::span<const big>{});
    REQUIRE(sent);
    CHECK(*sent == 0);
    CHECK(tx.send(big{}).error() == errc::in_use);  // what is refused while the loan is out
    auto v = rx.receive_view();
    REQUIRE(v);
    const auto got = rx.receive(std::span<big>{});
    REQUIRE(got);
    CHECK(*got == 0);
    CHECK(rx.receive().error() == errc::in_use);
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
    child sender = spawn_sender<q8>(report, name, [](auto& tx, child_report& r) {
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

TEMPLATE_TEST_CASE("a loan of several: commit(m) sends the first m in order, and the other slots are free again",
                   "[unit]", spsc4, mpsc4, mpmc4, lanes4, exclusive4, any4, round_robin4) {
    scoped_name name;
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();

    CHECK(tx.loan_n(0).error() == errc::invalid_argument);
    auto loans = tx.loan_n(3);
    REQUIRE(loans);
    REQUIRE(loans->size() == 3);
    CHECK(loans->data().size() == 3);
    fill_loans(*loans, 100);
    CHECK(rx.receive().error() == errc::would_block);  // nothing sent before the commit
    CHECK(tx.loan().error() == errc::in_use);          // it is the sender's one loan
    CHECK(tx.loan_n(1).error() == errc::in_use);
    CHECK(tx.send(big{}).error() == errc::in_use);
    CHECK(loans->commit(4).error() == errc::too_large);  // more than it holds: still open
    REQUIRE(*loans);
    REQUIRE(loans->commit(2));
    CHECK_FALSE(*loans);
    CHECK(loans->size() == 0);
    CHECK(loans->commit().error() == errc::closed);  // a loan ends once

    CHECK(drain(rx) == std::vector<std::uint64_t>{100, 101});  // the first two, not the third
    // Every slot is the senders' again: a whole ring of messages goes through.
    for (std::uint64_t i = 0; i < TestType::capacity; ++i) {
        big m{};
        m.fill(200 + i);
        REQUIRE(tx.send(m));
    }
    CHECK(drain(rx) == std::vector<std::uint64_t>{200, 201, 202, 203});
}

TEMPLATE_TEST_CASE("a loan of several abandoned, or dropped, sends nothing and gives every slot back", "[unit]", spsc4,
                   mpsc4, mpmc4, lanes4, exclusive4, any4, round_robin4) {
    scoped_name name;
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    {
        auto loans = tx.loan_n(2);
        REQUIRE(loans);
        fill_loans(*loans, 1);
        loans->abandon();
        CHECK_FALSE(*loans);
        CHECK(loans->commit().error() == errc::closed);
    }
    // (Many senders: the slots given back are skipped by the receiver before they are free.)
    CHECK(drain(rx).empty());
    {
        auto dropped = tx.loan_n(4);
        REQUIRE(dropped);
        fill_loans(*dropped, 10);
    }
    CHECK(drain(rx).empty());
    {
        auto committed_none = tx.loan_n(4);
        REQUIRE(committed_none);
        fill_loans(*committed_none, 20);
        REQUIRE(committed_none->commit(0));  // publishes nothing, gives every slot back
    }
    CHECK(drain(rx).empty());
    for (std::uint64_t round = 0; round < 3; ++round) {  // every slot is free again, lap after lap
        for (std::uint64_t i = 0; i < TestType::capacity; ++i) {
            big m{};
            m.fill(30 + i);
            REQUIRE(tx.send(m));
        }
        CHECK(drain(rx) == std::vector<std::uint64_t>{30, 31, 32, 33});
    }
}

TEMPLATE_TEST_CASE("a loan of several stops at the ring's wrap, and the next one goes on from the start", "[unit]",
                   spsc4, mpsc4, mpmc4, lanes4, exclusive4, any4, round_robin4) {
    scoped_name name;
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < 3; ++i) {  // the next free slot is the ring's last
        big m{};
        m.fill(i);
        REQUIRE(tx.send(m));
    }
    CHECK(drain(rx) == std::vector<std::uint64_t>{0, 1, 2});
    auto last = tx.loan_n(4);
    REQUIRE(last);
    CHECK(last->size() == 1);  // side by side: up to the wrap only
    fill_loans(*last, 3);
    REQUIRE(last->commit());
    auto from_start = tx.loan_n(4);
    REQUIRE(from_start);
    CHECK(from_start->size() == 3);  // the first three slots; the fourth still holds message 3
    fill_loans(*from_start, 4);
    CHECK(tx.loan_n(1).error() == errc::in_use);
    REQUIRE(from_start->commit());
    CHECK(tx.loan_n(1).error() == errc::would_block);  // full
    CHECK(drain(rx) == std::vector<std::uint64_t>{3, 4, 5, 6});
}

TEMPLATE_TEST_CASE("a loan of several follows its sender through a move, and closing the sender gives it back",
                   "[unit]", spsc4, mpsc4, mpmc4, lanes4, exclusive4, any4) {
    scoped_name name;
    auto q = TestType::create(name);
    auto rx = q.template receiver<ipckit::non_blocking>();
    using loans_type = typename ipckit::sender<TestType, ipckit::non_blocking>::loans_type;
    {
        auto tx = q.template sender<ipckit::non_blocking>();
        auto loans = tx.loan_n(2);
        REQUIRE(loans);
        fill_loans(*loans, 1);
        auto moved_tx = std::move(tx);  // the sender moves while its run is out
        CHECK(moved_tx.loan_n(1).error() == errc::in_use);
        loans_type held = std::move(*loans);  // and so does the run
        CHECK_FALSE(*loans);
        CHECK(loans->commit().error() == errc::closed);
        REQUIRE(held.commit());  // through the sender where it is now
        CHECK(drain(rx) == std::vector<std::uint64_t>{1, 2});

        auto dropped = moved_tx.loan_n(3);
        REQUIRE(dropped);
        fill_loans(*dropped, 10);
        moved_tx.close();  // closing the sender gives the run back, unsent
        CHECK_FALSE(*dropped);
        CHECK(dropped->commit().error() == errc::closed);
    }
    CHECK(drain(rx).empty());
    auto tx = q.template sender<ipckit::non_blocking>();
    for (std::uint64_t round = 0; round < 3; ++round) {  // every slot is the senders' again
        for (std::uint64_t i = 0; i < TestType::capacity; ++i) {
            big m{};
            m.fill(30 + i);
            REQUIRE(tx.send(m));
        }
        CHECK(drain(rx) == std::vector<std::uint64_t>{30, 31, 32, 33});
    }
}

TEMPLATE_TEST_CASE("a sender killed holding a loan of several: nothing of it arrives, and the queue goes on", "[process]",
                   spsc4, mpmc4) {
    killed_run_holder<TestType> k;
    // What was sent arrives; the loan's slots never do (the blocking receive recovers them and
    // then says the sender is gone).
    auto first = k.rx.receive(ipckit_test::patience);
    REQUIRE(first);
    CHECK(first->seq == 0);
    CHECK(first->intact());
    CHECK(k.rx.receive(ipckit_test::patience).error() == errc::peer_dead);
    // A new sender takes over: every slot is usable, lap after lap, and only its messages come.
    auto tx = k.q.template sender<ipckit::non_blocking>();
    for (std::uint64_t round = 0; round < 3; ++round) {
        for (std::uint64_t i = 0; i < TestType::capacity; ++i) {
            big m{};
            m.fill(50 + i);
            REQUIRE(tx.send(m));
        }
        for (std::uint64_t i = 0; i < TestType::capacity; ++i) {
            auto r = k.rx.receive(ipckit_test::patience);
            REQUIRE(r);
            CHECK(r->seq == 50 + i);
        }
    }
}

TEMPLATE_TEST_CASE("a mailbox sender killed holding a loan of several: nothing of it arrives, and the mailbox goes on",
                   "[process]", exclusive4, any4, round_robin4) {
    killed_run_holder<TestType> k;
    // A new sender, in another process, sends three laps of the ring: the first lap needs the
    // dead loan's slots, which the receiver buries once it finds their sender dead. What the
    // killed sender sent arrives; its loan never does.
    child next = spawn_sender<TestType>(k.report, k.name, [](auto& tx, child_report& r) {
        for (std::uint64_t i = 0; i < 3 * TestType::capacity; ++i) {
            big m{};
            m.fill(50 + i);
            r.expect(err(tx.send(m, ipckit_test::patience)), errc::ok);
        }
    });
    auto first = k.rx.receive(ipckit_test::patience);
    REQUIRE(first);
    CHECK(first->seq == 0);
    CHECK(first->intact());
    for (std::uint64_t i = 0; i < 3 * TestType::capacity; ++i) {
        auto m = k.rx.receive(ipckit_test::patience);
        REQUIRE(m);
        CHECK(m->seq == 50 + i);
        CHECK(m->intact());
    }
    CHECK(k.report.finish(next) == as_expected);
    CHECK(err(k.rx.receive(std::chrono::milliseconds(0))) == errc::timed_out);  // nothing more
}

/// A ring of 64 slots on which one sender can hold up a long run, for each kind whose ring has
/// its senders share the slots (Vyukov's: a multi-producer queue, an exclusive mailbox).
using mpsc64 = ipckit::queue<std::uint64_t, ipckit::bounded<64>, ipckit::multi>;
using exclusive64 = ipckit::mailbox<std::uint64_t, ipckit::bounded<64>, ipckit::exclusive, ipckit::system_owned>;

TEMPLATE_TEST_CASE("a receiver killed holding a view takes its message along: the receiver in its place goes on "
                   "after it, never receiving it again",
                   "[process]", spsc4, lanes4, mpsc4, mpmc4) {
    scoped_name name;
    auto q = TestType::create(name, ipckit_test::quick_liveness());
    auto tx = q.template sender<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < 3; ++i) {
        big m{};
        m.fill(i);
        REQUIRE(tx.send(m));
    }
    q.close();  // the successor's stream ends after message 2
    child_report report;
    ipckit_test::signal_pipe viewing, hold;
    child c = report.spawn([&](child_report& r) {
        auto rx = TestType::open(name, ipckit_test::quick_liveness()).receiver();
        auto v = rx.receive_view(ipckit_test::patience);
        r.expect(err(v), errc::ok);
        r.expect_value(v ? v->data().seq : ~std::uint64_t{0}, std::uint64_t{0});
        viewing.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(c, viewing) == as_expected);
    CHECK(c.kill() == ipckit_test::killed_by_sigkill);
    auto rx = q.receiver();
    std::vector<std::uint64_t> seqs;
    errc end = errc::ok;
    while (end == errc::ok) {
        auto r = rx.receive(ipckit_test::patience);
        if (r) seqs.push_back(r->intact() ? r->seq : ~std::uint64_t{0});
        end = err(r);
    }
    CHECK(seqs == std::vector<std::uint64_t>{1, 2});
    CHECK(end == errc::closed);
}

TEMPLATE_TEST_CASE("a sender killed holding a long loan of several holds the others up about one liveness interval, "
                   "not one a slot",
                   "[process]", mpsc64, exclusive64) {
    // 2 s an interval: burying the 60 slots one a tick (120 s) would outlast the receive's patience.
    const auto opt = ipckit_test::quick_liveness(std::chrono::seconds(2));
    scoped_name name;
    auto q = TestType::create(name, opt);
    auto rx = q.receiver();
    child_report report;
    ipckit_test::signal_pipe holding, hold;
    child c = report.spawn([&](child_report& r) {
        auto tx = TestType::open(name, opt).template sender<ipckit::non_blocking>();
        auto loans = tx.loan_n(60);
        r.expect(err(loans), errc::ok);
        r.expect_value(loans ? loans->size() : 0, std::size_t{60});
        holding.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(c, holding) == as_expected);
    CHECK(c.kill() == ipckit_test::killed_by_sigkill);
    auto tx = q.template sender<ipckit::non_blocking>();
    REQUIRE(tx.send(std::uint64_t{7}));  // behind the dead run
    const auto m = rx.receive(ipckit_test::patience);
    REQUIRE(m);
    CHECK(*m == 7);
}

TEMPLATE_TEST_CASE("a mailbox loan granted before a close still sends when committed, and none is granted after", "[unit]",
                   exclusive4, any4, round_robin4) {
    scoped_name name;
    auto q = TestType::create(name);
    auto one = q.template sender<ipckit::non_blocking>();
    auto several = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    auto loan = one.loan();
    REQUIRE(loan);
    loan->data().fill(1);
    auto loans = several.loan_n(2);
    REQUIRE(loans);
    REQUIRE(loans->size() == 2);
    fill_loans(*loans, 2);

    q.close();
    // A loan granted is a send that has begun: the close does not refuse its commit.
    REQUIRE(loan->commit());
    REQUIRE(loans->commit());
    CHECK(one.loan().error() == errc::closed);  // but nothing new is lent
    CHECK(several.loan_n(1).error() == errc::closed);
    CHECK(several.send(big{}).error() == errc::closed);
    // The receiver gets every message the loans sent, then closed.
    CHECK(drain(rx) == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(rx.receive().error() == errc::closed);
}

TEMPLATE_TEST_CASE("loans of several carry a stream between processes in order, lap after lap", "[process]", spsc4,
                   mpmc4, lanes4, exclusive4, any4, round_robin4) {
    scoped_name name;
    auto q = TestType::create(name);
    constexpr std::uint64_t count = 5'000;
    child_report report;
    child sender = spawn_sender<TestType>(report, name, [](auto& tx, child_report& r) {
        for (std::uint64_t next = 0; next < count;) {
            // Runs of 1 to 3 asked for (the wrap may lend fewer), one of them committed short.
            const std::size_t want = static_cast<std::size_t>(next % 3 + 1);
            auto loans = tx.loan_n(want, ipckit_test::patience);  // waits for room
            r.expect(err(loans), errc::ok);
            if (!loans) return;
            r.check(loans->size() >= 1 && loans->size() <= want, "1 to `want` slots lent");
            fill_loans(*loans, next);
            const std::size_t send = next % 7 == 0 && loans->size() > 1 ? loans->size() - 1 : loans->size();
            r.expect(err(loans->commit(std::min<std::uint64_t>(send, count - next))), errc::ok);
            next += std::min<std::uint64_t>(send, count - next);
        }
    });
    auto rx = q.receiver();
    for (std::uint64_t received = 0; received < count; ++received) {
        auto m = rx.receive(ipckit_test::patience);
        REQUIRE(m);
        REQUIRE(m->seq == received);
        REQUIRE(m->intact());
    }
    CHECK(report.finish(sender) == as_expected);
    CHECK(err(rx.receive(std::chrono::milliseconds(0))) != errc::ok);  // nothing more: the short commits sent no extra
}

// ---- a forked child's copies ------------------------------------------------------------------

namespace {
using bytes_mpsc = ipckit::queue<ipckit::bytes<64>, ipckit::bounded<256>, ipckit::multi>;

/// Message `seq` as a kind's loan carries it: a big filled with seq, or seq's eight bytes.
template <class Loan>
void write_seq(Loan& loan, std::uint64_t seq) {
    if constexpr (std::is_same_v<decltype(loan.data()), std::span<std::byte>>)
        std::memcpy(loan.data().data(), &seq, sizeof seq);
    else
        loan.data().fill(seq);
}
/// Whether a view reads message `seq`, whole.
template <class View>
bool reads_seq(const View& view, std::uint64_t seq) {
    if constexpr (std::is_same_v<decltype(view.data()), std::span<const std::byte>>) {
        std::uint64_t got = 0;
        if (view.data().size() != sizeof got) return false;
        std::memcpy(&got, view.data().data(), sizeof got);
        return got == seq;
    } else {
        return view.data().seq == seq && view.data().intact();
    }
}
/// A loan of room for one message: a big, or eight bytes.
template <class Tx>
auto lend(Tx& tx) {
    if constexpr (std::is_same_v<decltype(std::declval<typename Tx::loan_type&>().data()), std::span<std::byte>>)
        return tx.loan(sizeof(std::uint64_t));
    else
        return tx.loan();
}
/// Sends message `seq` through a loan (one shape for both kinds of message): its errc.
template <class Tx>
errc send_seq(Tx& tx, std::uint64_t seq) {
    auto loan = lend(tx);
    if (!loan) return loan.error();
    write_seq(*loan, seq);
    return err(loan->commit());
}
/// The seq of the next message received (through a view), or the receive's errc as an error.
template <class Rx>
ipckit::result<std::uint64_t> receive_seq(Rx& rx) {
    auto view = rx.receive_view();
    if (!view) return ipckit::unexpected(view.error());
    for (std::uint64_t seq = 0; seq < 1000; ++seq)  // more than a test sends
        if (reads_seq(*view, seq)) return seq;
    return ipckit::unexpected(errc::corrupt);
}
}  // namespace

TEMPLATE_TEST_CASE("a forked child that drops its copies of its parent's loan and view, and of their endpoints, gives "
                   "nothing back",
                   "[process]", spsc4, mpsc4, mpmc4, lanes4, exclusive4, any4, round_robin4, bytes_q,
                   bytes_mpsc, bytes_mailbox) {
    scoped_name name;
    auto q = TestType::create(name);
    std::optional tx(q.template sender<ipckit::non_blocking>());
    std::optional rx(q.template receiver<ipckit::non_blocking>());
    REQUIRE(send_seq(*tx, 0) == errc::ok);
    auto v = rx->receive_view();
    REQUIRE(v);
    std::optional view(std::move(*v));  // reads message 0 in its slot
    auto l = lend(*tx);
    REQUIRE(l);
    std::optional loan(std::move(*l));  // room claimed for message 1
    write_seq(*loan, 1);

    for (const bool endpoints_first : {false, true}) {
        INFO("the child drops the endpoints " << (endpoints_first ? "first" : "last"));
        child_report report;
        child dropper = report.spawn([&](child_report&) {
            // What a child that returns through their scope does, in either order.
            if (endpoints_first) {
                tx.reset();
                rx.reset();
            }
            view.reset();
            loan.reset();
            tx.reset();
            rx.reset();
        });
        REQUIRE(report.finish(dropper) == as_expected);
    }

    // The parent's loan and view are as they were: the loan sends, and the view's slot was
    // not given back, so that the messages that fill the queue now do not overwrite it.
    CHECK(reads_seq(*view, 0));
    REQUIRE(err(loan->commit()) == errc::ok);
    std::uint64_t next = 2;
    while (send_seq(*tx, next) == errc::ok) ++next;
    CHECK(reads_seq(*view, 0));
    view.reset();
    for (std::uint64_t seq = 1; seq < next; ++seq) {
        const auto got = receive_seq(*rx);
        REQUIRE(err(got) == errc::ok);
        CHECK(*got == seq);
    }
    CHECK(err(receive_seq(*rx)) == errc::would_block);
}
