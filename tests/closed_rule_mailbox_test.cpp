// The closed rule for mailboxes, one scenario for every delivery: a mailbox ends only when it is
// closed as a whole (Mailbox::close) or removed, never because its senders come and go. Written
// to be folded into the contract tests (tests/contract/) as the mailboxes' instance of the rule.
//
// Forked children do the other processes' part without Catch2 and exit with the errc their last
// verb returned (or send_all's code); the parent asserts.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/mailbox.hpp>

#include <chrono>
#include <cstdint>
#include <string>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::child;
using ipckit_test::err;
using ipckit_test::make_tick;
using ipckit_test::patience;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;

namespace {

template <class Delivery>
using box4 = ipckit::mailbox<ipckit_test::tick, ipckit::bounded<4>, Delivery, ipckit::system_owned>;

/// In a child: what `verb()` (a send or receive) returned, as an exit code.
template <class Verb>
int exit_with(Verb&& verb) {
    return static_cast<int>(err(verb()));
}

constexpr int closed_exit = static_cast<int>(errc::closed);

}  // namespace

TEMPLATE_TEST_CASE("mailbox: a receiver keeps waiting while senders come and go", "[process]", ipckit::exclusive,
                   ipckit::any, ipckit::round_robin, ipckit::broadcast) {
    using box = box4<TestType>;
    scoped_name name("closed-rule");
    auto mb = box::create(name);
    auto rx = mb.receiver();
    const std::string n = name.str();

    child first([&] {
        auto tx = box::open(n).sender();
        return ipckit_test::send_all(tx, 0, 2);
    });
    REQUIRE(first.wait() == 0);  // it has sent, closed its sender and ended
    CHECK(rx.receive(patience)->seq == 0);
    CHECK(rx.receive(patience)->seq == 1);
    // No sender is attached now, and none is dead: the mailbox is open, so the receiver waits.
    CHECK(err(rx.receive(20ms)) == errc::timed_out);
    CHECK(mb.is_open());

    child second([&] {
        auto tx = box::open(n).sender();
        return ipckit_test::send_all(tx, 2, 3);
    });
    REQUIRE(second.wait() == 0);
    CHECK(rx.receive(patience)->seq == 2);
    CHECK(err(rx.receive(20ms)) == errc::timed_out);
}

TEMPLATE_TEST_CASE("mailbox: close() by any process ends it for everyone, after every message it accepted",
                   "[process]", ipckit::exclusive, ipckit::any, ipckit::round_robin, ipckit::broadcast) {
    using box = box4<TestType>;
    scoped_name name("closed-rule");
    auto mb = box::create(name);
    auto rx = mb.receiver();
    auto tx = mb.sender();
    const std::string n = name.str();
    REQUIRE(tx.send(make_tick(0)));
    REQUIRE(tx.send(make_tick(1)));

    child closer([&] {
        box::open(n).close();
        return 0;
    });
    REQUIRE(closer.wait() == 0);

    CHECK_FALSE(mb.is_open());
    CHECK(err(tx.send(make_tick(2))) == errc::closed);           // nothing more is accepted...
    CHECK(err(mb.sender().send(make_tick(2))) == errc::closed);  // ...from a newcomer either
    CHECK(rx.receive(patience)->seq == 0);                       // what it accepted is received
    CHECK(rx.receive(patience)->seq == 1);
    CHECK(err(rx.receive(patience)) == errc::closed);
    CHECK(err(rx.receive(patience)) == errc::closed);  // and stays so
    // Closed is not removed: the name stays, and opening it finds it closed.
    auto again = box::open(n);
    CHECK_FALSE(again.is_open());
    again.close();  // closing again does nothing
    CHECK(box::remove(n));
}

TEMPLATE_TEST_CASE("mailbox: close() wakes every sleeper, a receiver on an empty mailbox and a sender on a full one",
                   "[process]", ipckit::exclusive, ipckit::any, ipckit::round_robin, ipckit::broadcast) {
    using box = box4<TestType>;
    scoped_name empty_name("closed-rule"), full_name("closed-rule");
    auto empty = box::create(empty_name);
    auto full = box::create(full_name);
    const std::string e = empty_name.str(), f = full_name.str();
    {
        auto filler = full.template sender<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(filler.send(make_tick(i)));
        REQUIRE(err(filler.send(make_tick(4))) == errc::would_block);  // full, with no receiver
    }
    signal_pipe attached;
    child receiver([&] {
        auto rx = box::open(e).receiver();
        attached.post();
        return exit_with([&] { return rx.receive(patience); });
    });
    child sender([&] {
        auto tx = box::open(f).sender();
        attached.post();
        return exit_with([&] { return tx.send(make_tick(4), patience); });
    });
    REQUIRE(attached.wait());
    REQUIRE(attached.wait());
    empty.close();
    full.close();
    // Woken with closed, well before their deadline of `patience`.
    CHECK(receiver.wait() == closed_exit);
    CHECK(sender.wait() == closed_exit);
}

TEMPLATE_TEST_CASE("mailbox: remove() closes it before it removes the name", "[process]", ipckit::exclusive,
                   ipckit::any, ipckit::round_robin, ipckit::broadcast) {
    using box = box4<TestType>;
    scoped_name name("closed-rule");
    auto mb = box::create(name);
    auto tx = mb.sender();
    REQUIRE(tx.send(make_tick(0)));
    const std::string n = name.str();
    signal_pipe attached;
    child receiver([&] {
        auto rx = box::open(n).receiver();
        attached.post();
        auto first = rx.receive(patience);
        if (!first || first->seq != 0) return 1;
        return exit_with([&] { return rx.receive(patience); });  // asleep on an empty mailbox
    });
    REQUIRE(attached.wait());
    CHECK(box::remove(n));
    CHECK(receiver.wait() == closed_exit);
    CHECK(err(tx.send(make_tick(1))) == errc::closed);
    CHECK(ipckit_test::setup_errc([&] { (void)box::open(n); }) == errc::not_found);
    CHECK_FALSE(box::remove(n));
}
