// Contract: when a verb sees `closed` (README, "Errors"), one rule for every kind that can be
// closed. A side that is a single endpoint of a queue ends it when it closes, like a pipe's end
// of file; a side that may be many, and every side of a mailbox, ends only when the channel is
// closed as a whole (close() on a handle, in any process) or removed, not because nobody happens
// to be attached at the moment. A receiver sees `closed` only after it has taken every message.
//
// Verbs that must not wait are given a deadline already past, so "would wait" shows as
// timed_out at once and nothing sleeps. The other processes' part is done by forked children,
// which report through child_report; a verb that must be asleep when the channel closes is a
// child's, and the parent closes once the child says it is attached.

#include "../catch.hpp"
#include "../messages.hpp"
#include "child_report.hpp"
#include "kinds.hpp"

#include <ipckit/inspect.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using namespace ipckit_test::contract;
using ipckit_test::as_expected;
using ipckit_test::child_report;
using ipckit_test::make_tick;
using ipckit_test::setup_errc;

namespace {

/// Whether K holds messages (a rendezvous holds none: a send waits for its taker).
template <class K>
constexpr bool buffers = K::holds > 0;

/// Whether the close of K's one sender ends it (a single-producer queue's).
template <class K>
constexpr bool sender_close_ends = [] {
    if constexpr (K::side_of_one_ends) return K::channel::max_senders == 1;
    else return false;
}();
/// Whether the close of K's one receiver ends it (a single-consumer queue's).
template <class K>
constexpr bool receiver_close_ends = [] {
    if constexpr (K::side_of_one_ends) return K::channel::max_receivers == 1;
    else return false;
}();

/// Opens the channel at p, as another process would.
template <class K>
auto open(const made<K>& p) {
    return K::channel::open(p.place, K::quick());
}

/// Whether K's handle says if it is open (a mailbox's is_open()).
template <class K>
constexpr bool says_if_open = requires(const typename K::channel& c) { c.is_open(); };
static_assert(says_if_open<mailbox_exclusive> && says_if_open<mailbox_broadcast>, "the checks below would be skipped");

/// Runs fn(report) in a forked child and says what it reported.
template <class F>
std::string in_a_child(F&& fn) {
    child_report report;
    child c = report.spawn(fn);
    return report.finish(c);
}

/// The ways a channel is ended as a whole, for every process: close() on a handle, its kind's
/// remove(name), and the removal that knows no type (ipckit::remove_any, `ipckit rm --force`).
enum class ending { close, remove, remove_any };

/// Ends the channel at p as `how` says; a removal says whether there was one.
template <class K>
void end_channel(const made<K>& p, ending how) {
    switch (how) {
    case ending::close: p.keep.close(); break;
    case ending::remove: CHECK(K::channel::remove(p.place)); break;
    case ending::remove_any: CHECK(ipckit::remove_any(p.place)); break;
    }
}

/// A blocking sender's sends of tick n, n+1... with a deadline already past, until one is
/// refused (after at most a million): how many went, and the errc of the refused one.
struct filled {
    std::uint64_t sent = 0;
    errc refused = errc::ok;
};
template <class K>
filled fill(auto& tx) {
    filled f;
    while (f.sent < 1'000'000 && (f.refused = K::send(tx, f.sent, already_past())) == errc::ok) ++f.sent;
    return f;
}

}  // namespace

TEMPLATE_TEST_CASE("contract: closed, as a receiver sees it: the end of a single sender, the close of a channel of "
                   "many, after every message",
                   "[process]", IPCKIT_CONTRACT_CLOSED_KINDS) {
    using K = TestType;
    const made<K> p;
    auto rx = K::receiver(p);
    std::uint64_t seq = ~std::uint64_t{0};

    // The only sender there is, in another process, sends and closes.
    REQUIRE(in_a_child([&](child_report& r) {
                auto tx = K::sender(p);
                if constexpr (buffers<K>) r.expect(K::send(tx, 0, already_past()), errc::ok);
            }) == as_expected);
    if constexpr (buffers<K>) {
        REQUIRE(K::receive(rx, seq, already_past()) == errc::ok);  // messages first, in any case
        CHECK(seq == 0);
    }

    if constexpr (sender_close_ends<K>) {
        CHECK(K::receive(rx, seq, already_past()) == errc::closed);  // a pipe's end of file
        CHECK(K::receive(rx, seq, already_past()) == errc::closed);
    } else {
        // Nobody is attached now, and nobody died: more senders may come, so the receiver waits.
        CHECK(K::receive(rx, seq, already_past()) == errc::timed_out);
        if constexpr (says_if_open<K>) CHECK(p.keep.is_open());
        if constexpr (buffers<K>) {
            REQUIRE(in_a_child([&](child_report& r) {
                        auto tx = K::sender(p, 1);
                        r.expect(K::send(tx, 1, already_past()), errc::ok);
                        r.expect(K::send(tx, 2, already_past()), errc::ok);
                    }) == as_expected);
            REQUIRE(K::receive(rx, seq, already_past()) == errc::ok);
            CHECK(seq == 1);
        } else {
            CHECK(K::receive(rx, seq, already_past()) == errc::timed_out);
        }
        auto tx = K::sender(p, 2);
        // Closed as a whole by another process, with a message still in it: the message is
        // received, then closed. Nothing more is accepted, from an attached sender with room to
        // spare or a newcomer (a rendezvous offers first: a deadline to spare).
        REQUIRE(in_a_child([&](child_report&) { open(p).close(); }) == as_expected);
        if constexpr (says_if_open<K>) CHECK_FALSE(p.keep.is_open());
        CHECK(K::send(tx, 3, patience) == errc::closed);
        if constexpr (buffers<K>) {
            REQUIRE(K::receive(rx, seq, already_past()) == errc::ok);
            CHECK(seq == 2);
        }
        CHECK(K::receive(rx, seq, already_past()) == errc::closed);
        CHECK(K::receive(rx, seq, already_past()) == errc::closed);  // and stays so
        // Closed is not removed: the name stays, closing again does nothing, and a receiver
        // attached now finds it closed.
        rx.close();  // (some kinds take one receiver at a time)
        auto again = open(p);
        if constexpr (says_if_open<K>) CHECK_FALSE(again.is_open());
        again.close();
        auto late = K::receiver(p);
        CHECK(K::receive(late, seq, already_past()) == errc::closed);
        tx.close();
        auto late_tx = K::sender(p, 3);
        CHECK(K::send(late_tx, 4, patience) == errc::closed);
    }
}

TEMPLATE_TEST_CASE("contract: closed, as a receiver waiting on a single sender sees it: every message, then closed",
                   "[process]", IPCKIT_CONTRACT_SENDER_CLOSE_KINDS) {
    using K = TestType;
    constexpr std::uint64_t n = 100;  // more than a bounded kind holds: the sender waits for room
    const made<K> p;
    auto rx = K::receiver(p);
    // The only sender there is, in another process, sends while the receiver takes, and closes
    // (its end goes as the child returns) while the receiver waits for more.
    child_report report;
    child c = report.spawn([&](child_report& r) {
        auto tx = K::sender(p);
        for (std::uint64_t i = 0; i < n; ++i) r.expect(K::send(tx, i, patience), errc::ok);
    });
    std::uint64_t seq = ~std::uint64_t{0};
    for (std::uint64_t i = 0; i < n; ++i) {
        REQUIRE(K::receive(rx, seq, patience) == errc::ok);
        CHECK(seq == i);
    }
    CHECK(K::receive(rx, seq, patience) == errc::closed);
    CHECK(K::receive(rx, seq, already_past()) == errc::closed);  // and stays so
    CHECK(report.finish(c) == as_expected);
}

TEMPLATE_TEST_CASE("contract: closed, as a receiver sees it while a sender still writes a message begun before the "
                   "close: after that message, if its send went, and the ones sent behind it",
                   "[unit]", IPCKIT_CONTRACT_LOAN_ACROSS_CLOSE_KINDS) {
    // A loan is a send held part way, as a sender preempted between its claim and its publish
    // is: the receiver must not end at its slot, nor drop what lies behind it (sent by another
    // sender, where the kind has several).
    using K = TestType;
    typename K::place place;
    auto channel = K::channel::create(place, K::quick());
    auto rx = channel.receiver();
    auto writing = channel.sender();
    auto loan = writing.loan();
    REQUIRE(loan);
    std::optional<decltype(channel.sender())> behind;
    if constexpr (K::multi_producer) {
        behind.emplace(channel.sender());
        REQUIRE(K::send(*behind, 1) == errc::ok);
    }
    channel.close();
    // What was sent behind the loan may come first (lanes: from another lane), but not closed:
    // a message is on its way, and the receiver sleeps until it comes.
    std::vector<std::uint64_t> got;
    std::uint64_t seq = 0;
    errc e = errc::ok;
    while ((e = K::receive(rx, seq, already_past())) == errc::ok) got.push_back(seq);
    CHECK(e == errc::timed_out);
    CHECK(K::receive(rx, seq, 20ms) == errc::timed_out);
    loan->data() = make_tick(0);
    const bool went = loan->commit().has_value();  // a mailbox's says closed, and sends nothing
    while ((e = K::receive(rx, seq, patience)) == errc::ok) got.push_back(seq);
    CHECK(e == errc::closed);
    std::vector<std::uint64_t> sent;
    if (went) sent.push_back(0);
    if (behind) sent.push_back(1);
    std::sort(got.begin(), got.end());  // each sender's in order; the two senders', either way
    CHECK(got == sent);
}

TEMPLATE_TEST_CASE("contract: closed, as a sender on a full channel sees it: the end of a single receiver, the close "
                   "of a channel of many",
                   "[unit]", IPCKIT_CONTRACT_CLOSED_BOUNDED_KINDS) {
    using K = TestType;
    const made<K> p;
    auto tx = K::sender(p);
    K::receiver(p).close();  // the only receiver there is came and went
    // Fill what the channel holds (a rendezvous holds nothing: its first send would wait).
    const filled f = fill<K>(tx);

    if constexpr (receiver_close_ends<K>) {
        CHECK(f.refused == errc::closed);  // nobody will ever make room
    } else {
        CHECK(f.sent >= K::holds);
        CHECK(f.refused == errc::timed_out);  // a receiver may still come and make room
        p.keep.close();
        // (With a deadline to spare: a rendezvous sender offers first, and asks after the
        // receivers only while its offer waits.)
        CHECK(K::send(tx, f.sent, patience) == errc::closed);
        tx.close();  // a single-producer queue takes one sender at a time
        auto late = K::sender(p);
        CHECK(K::send(late, f.sent, patience) == errc::closed);
    }
}

TEMPLATE_TEST_CASE("contract: closed, as a sender asleep on a full channel sees it: close(), remove() and a "
                   "removal that knows no type wake it",
                   "[process]", IPCKIT_CONTRACT_CLOSED_BOUNDED_KINDS) {
    using K = TestType;
    const made<K> p;
    const ending how = GENERATE(ending::close, ending::remove, ending::remove_any);
    auto rx = K::receiver(p);  // attached, and takes nothing
    signal_pipe full;
    child_report report;
    child c = report.spawn([&](child_report& r) {
        auto tx = K::sender(p);
        const filled f = fill<K>(tx);
        r.expect(f.refused, errc::timed_out);
        full.post();
        r.expect(K::send(tx, f.sent, patience), errc::closed);  // woken well before its deadline
    });
    REQUIRE(full.wait());
    end_channel(p, how);
    CHECK(report.finish(c) == as_expected);
}

TEMPLATE_TEST_CASE("contract: closed, as a receiver asleep on a channel of many senders sees it: close() and "
                   "remove() and a removal that knows no type wake it, and a removal takes the name",
                   "[process]", IPCKIT_CONTRACT_CLOSED_MANY_SENDER_KINDS) {
    using K = TestType;
    const made<K> p;
    const ending how = GENERATE(ending::close, ending::remove, ending::remove_any);
    const bool by_remove = how != ending::close;
    // An unbounded queue's remove takes its chunks with it (detail/queue/unbounded.hpp,
    // "Ownership"): a message its receiver has not reached is gone. Every other kind keeps what
    // it accepted. Every kind refuses the sends after it.
    const bool keeps = K::bounded || !by_remove;
    auto tx = K::sender(p);
    if (buffers<K> && keeps) REQUIRE(K::send(tx, 0, already_past()) == errc::ok);
    signal_pipe attached;
    child_report report;
    child c = report.spawn([&](child_report& r) {
        auto rx = K::receiver(p);
        attached.post();
        std::uint64_t seq = ~std::uint64_t{0};
        if (buffers<K> && keeps) {
            r.expect(K::receive(rx, seq, patience), errc::ok);
            r.expect_value(seq, 0);
        }
        r.expect(K::receive(rx, seq, patience), errc::closed);  // asleep until the close
    });
    REQUIRE(attached.wait());
    end_channel(p, how);
    CHECK(report.finish(c) == as_expected);
    CHECK(K::send(tx, 1, patience) == errc::closed);
    if (by_remove) {
        CHECK(setup_errc([&] { (void)open(p); }) == errc::not_found);
        CHECK_FALSE(K::channel::remove(p.place));
    }
}

TEMPLATE_TEST_CASE("contract: closed, as a sender attached before the end sees it: close(), remove() and a removal "
                   "that knows no type refuse every send after them with nothing written, and what was accepted "
                   "before is received",
                   "[unit]", IPCKIT_CONTRACT_CLOSED_KINDS) {
    using K = TestType;
    const made<K> p;
    const ending how = GENERATE(ending::close, ending::remove, ending::remove_any);
    // As above: an unbounded queue's remove takes the messages its receiver has not reached.
    const bool keeps = K::bounded || how == ending::close;
    auto rx = K::receiver(p);
    auto tx = K::sender(p);
    std::uint64_t accepted = 0;
    if constexpr (buffers<K>) {
        REQUIRE(K::send(tx, 0, already_past()) == errc::ok);
        accepted = 1;
    }
    end_channel(p, how);
    // Refused at once, room or not (a rendezvous offers first: a deadline to spare), and again.
    CHECK(K::send(tx, 1, patience) == errc::closed);
    CHECK(K::send(tx, 2, already_past()) == errc::closed);
    // What the receiver gets: what was accepted (where the end keeps it), never a refused tick;
    // then closed.
    std::uint64_t received = 0;
    std::uint64_t seq = ~std::uint64_t{0};
    errc e = errc::ok;
    while (received <= accepted && (e = K::receive(rx, seq, already_past())) == errc::ok) {
        CHECK(seq < accepted);
        ++received;
    }
    CHECK(e == errc::closed);
    if (keeps) CHECK(received == accepted);
}

TEMPLATE_TEST_CASE("contract: closed, as an endpoint its own user closed sees it: every verb says closed at once",
                   "[unit]", IPCKIT_CONTRACT_CLOSED_KINDS) {
    using K = TestType;
    const made<K> p;
    auto rx = K::receiver(p);
    auto tx = K::sender(p);
    tx.close();
    CHECK(K::send(tx, 0, patience) == errc::closed);  // with a deadline to spare: nothing waits
    rx.close();
    std::uint64_t seq = ~std::uint64_t{0};
    CHECK(K::receive(rx, seq, patience) == errc::closed);
    CHECK(seq == ~std::uint64_t{0});
}
