// Tests of <ipckit/queue.hpp> within one process: set-up and its errors, each verb in each mode,
// closing, endpoints that move, ownership, and a producer thread feeding a consumer thread under
// each wait policy (these are the tests to run under ThreadSanitizer).
//
// Waits are on the event itself with ipckit_test::patience. Where a test needs a verb to be
// blocked, it asserts that the verb has not returned after 50 ms and then makes it return; the
// 50 ms only makes it likely that the verb really sleeps, the outcome is asserted either way.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <utility>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::check_of;
using ipckit_test::contains;
using ipckit_test::err;
using ipckit_test::make_tick;
using ipckit_test::drain_in_order;
using ipckit_test::patience;
using ipckit_test::scoped_name;
using ipckit_test::setup_errc;
using ipckit_test::setup_error;
using ipckit_test::tick;

namespace {

struct quote {  // another message type
    std::uint32_t id;
    float price;
};
struct tock {  // another message type with tick's size and alignment
    std::uint64_t a;
    std::uint64_t b;
};

using q16 = ipckit::queue<tick, ipckit::bounded<16>>;
using q32 = ipckit::queue<tick, ipckit::bounded<32>>;
using quote_q16 = ipckit::queue<quote, ipckit::bounded<16>>;
using tock_q16 = ipckit::queue<tock, ipckit::bounded<16>>;
using durable_q16 =
    ipckit::queue<tick, ipckit::bounded<16>, ipckit::single, ipckit::single, ipckit::adaptive, ipckit::system_owned>;

using sender16 = ipckit::sender<q16, ipckit::blocking>;
using receiver16 = ipckit::receiver<q16, ipckit::blocking>;

constexpr auto short_wait = 50ms;


}  // namespace

// ---- set-up ---------------------------------------------------------------------------------

TEST_CASE("queue: a message sent on a created queue is received on one opened by name", "[unit]") {
    scoped_name name("queue");
    auto created = q16::create(name);
    auto opened = q16::open(name);
    CHECK(created.created());
    CHECK_FALSE(opened.created());
    CHECK(created.name() == name.str());
    CHECK(opened.name() == name.str());

    auto tx = created.sender();
    auto rx = opened.receiver();
    CHECK(tx.name() == name.str());
    REQUIRE(tx.send(make_tick(7), patience));
    auto r = rx.receive(patience);
    REQUIRE(r);
    CHECK(r->seq == 7);
    CHECK(r->check == check_of(7));
}

TEST_CASE("queue: open_or_create creates a missing queue and opens an existing one", "[unit]") {
    scoped_name name("queue");
    auto first = q16::open_or_create(name);
    auto second = q16::open_or_create(name);
    CHECK(first.created());
    CHECK_FALSE(second.created());

    auto tx = first.sender();
    auto rx = second.receiver();
    REQUIRE(tx.send(make_tick(1), patience));
    auto r = rx.receive(patience);
    REQUIRE(r);
    CHECK(r->seq == 1);
}

TEST_CASE("queue: opening a name that does not exist is not_found", "[unit]") {
    scoped_name name("queue");
    auto e = setup_error([&] { return q16::open(name); });
    REQUIRE(e);
    CHECK(e->reason() == errc::not_found);
    CHECK(e->code() == errc::not_found);
    CHECK(contains(e->what(), name.str()));
}

TEST_CASE("queue: creating a name that exists is already_exists", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);

    auto same = setup_error([&] { return q16::create(name); });
    REQUIRE(same);
    CHECK(same->reason() == errc::already_exists);

    auto other_layout = setup_error([&] { return q32::create(name); });
    REQUIRE(other_layout);
    CHECK(other_layout->reason() == errc::already_exists);

    // The first queue is untouched.
    auto tx = q.sender();
    auto rx = q.receiver();
    REQUIRE(tx.send(make_tick(3), patience));
    auto r = rx.receive(patience);
    REQUIRE(r);
    CHECK(r->seq == 3);
}

TEST_CASE("queue: invalid names are refused with invalid_name", "[unit]") {
    const std::string too_long(ipckit::max_name_length + 1, 'x');
    for (const std::string& bad : {std::string(), std::string("a/b"), std::string("/abs"), std::string(".hidden"),
                                  std::string("has space"), std::string("tab\there"), std::string("star*"),
                                  std::string("nul\0in", 6), too_long}) {
        INFO("name: '" << bad << "' (" << bad.size() << " characters)");
        auto c = setup_error([&] { return q16::create(bad); });
        REQUIRE(c);
        CHECK(c->reason() == errc::invalid_name);
        auto o = setup_error([&] { return q16::open(bad); });
        REQUIRE(o);
        CHECK(o->reason() == errc::invalid_name);
        auto oc = setup_error([&] { return q16::open_or_create(bad); });
        REQUIRE(oc);
        CHECK(oc->reason() == errc::invalid_name);
        auto r = setup_error([&] { return q16::remove(bad); });
        REQUIRE(r);
        CHECK(r->reason() == errc::invalid_name);
    }
}

TEST_CASE("queue: a name of the longest length allowed is accepted", "[unit]") {
    scoped_name base("queue");
    std::string name = base.str() + "-";
    name.resize(ipckit::max_name_length, 'x');
    {
        auto q = q16::create(name);  // process_owned: removed again when q goes
        auto tx = q.sender();
        auto rx = q16::open(name).receiver();
        REQUIRE(tx.send(make_tick(5), patience));
        auto r = rx.receive(patience);
        REQUIRE(r);
        CHECK(r->seq == 5);
    }
    CHECK_FALSE(ipckit::segment_exists(name));
}

TEST_CASE("queue: opening with another capacity is incompatible_layout naming both", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);

    auto e = setup_error([&] { return q32::open(name); });
    REQUIRE(e);
    CHECK(e->reason() == errc::incompatible_layout);
    INFO("what(): " << e->what());
    CHECK(contains(e->what(), "bounded<16>"));
    CHECK(contains(e->what(), "bounded<32>"));

    // open_or_create finds the queue and refuses it too; it does not replace it.
    auto oc = setup_error([&] { return q32::open_or_create(name); });
    REQUIRE(oc);
    CHECK(oc->reason() == errc::incompatible_layout);
    CHECK(setup_errc([&] { return q16::open(name); }) == errc::ok);
}

TEST_CASE("queue: opening with another message type is incompatible_layout naming both", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);

    auto e = setup_error([&] { return quote_q16::open(name); });
    REQUIRE(e);
    CHECK(e->reason() == errc::incompatible_layout);
    INFO("what(): " << e->what());
    CHECK(contains(e->what(), "tick"));
    CHECK(contains(e->what(), "quote"));

    // Same size and alignment is not enough: the type is part of the layout.
    auto same_size = setup_error([&] { return tock_q16::open(name); });
    REQUIRE(same_size);
    CHECK(same_size->reason() == errc::incompatible_layout);
    INFO("what(): " << same_size->what());
    CHECK(contains(same_size->what(), "tock"));
}

TEST_CASE("queue: opening with the other ownership policy is incompatible_layout naming both, both ways",
          "[unit]") {
    scoped_name name("queue");
    auto check_refused = [&](auto open, const char* held, const char* asked) {
        auto e = setup_error(open);
        REQUIRE(e);
        CHECK(e->reason() == errc::incompatible_layout);
        INFO("what(): " << e->what());
        CHECK(contains(e->what(), std::string("single consumer, ") + held + ">"));
        CHECK(contains(e->what(), std::string("single consumer, ") + asked + ">"));
    };
    {
        auto q = q16::create(name);  // process_owned
        check_refused([&] { return durable_q16::open(name); }, "process_owned", "system_owned");
        check_refused([&] { return durable_q16::open_or_create(name); }, "process_owned", "system_owned");
    }
    auto q = durable_q16::create(name);
    check_refused([&] { return q16::open(name); }, "system_owned", "process_owned");
    check_refused([&] { return q16::open_or_create(name); }, "system_owned", "process_owned");
    CHECK(setup_errc([&] { return durable_q16::open(name); }) == errc::ok);
}

TEST_CASE("queue: a system_owned queue whose ownership word is scribbled is corrupt, and create keeps its messages",
          "[unit]") {
    scoped_name name("queue");
    {
        auto q = durable_q16::create(name);
        auto tx = q.sender();
        for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tx.send(make_tick(i), patience));
    }
    // A stray write turns system_owned (2) into process_owned (1), a legal value.
    auto backdoor = ipckit::segment::open(name, durable_q16::layout(), {});
    auto& ownership = reinterpret_cast<ipckit::detail::segment_header*>(static_cast<char*>(backdoor.body()) -
                                                                          ipckit::detail::header_size)
                          ->ownership;
    REQUIRE(ownership == ipckit::system_owned::id);
    ownership = ipckit::process_owned::id;

    auto opened = setup_error([&] { return durable_q16::open(name); });
    REQUIRE(opened);
    CHECK(opened->reason() == errc::corrupt);  // not "not_found": the owner of a damaged header is unknown
    INFO("open: " << opened->what());
    CHECK(contains(opened->what(), "remove_segment"));
    auto created = setup_error([&] { return durable_q16::create(name); });
    REQUIRE(created);
    CHECK(created->reason() == errc::corrupt);  // refused, not replaced
    INFO("create: " << created->what());
    CHECK(contains(created->what(), "remove_segment"));
    CHECK(setup_errc([&] { return durable_q16::open_or_create(name); }) == errc::corrupt);
    CHECK(setup_errc([&] { return q16::create(name); }) == errc::corrupt);

    ownership = ipckit::system_owned::id;
    auto q = durable_q16::open(name);
    CHECK(q.depth() == 3);
    auto rx = q.receiver<ipckit::non_blocking>();
    CHECK(drain_in_order(rx, 0) == 3);
}

TEST_CASE("queue: a system_owned queue and its messages outlive every handle", "[unit]") {
    scoped_name name("queue");  // removes it at the end
    {
        auto q = durable_q16::create(name);
        auto tx = q.sender();
        for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tx.send(make_tick(i), patience));
    }
    CHECK(ipckit::segment_exists(name));

    auto q = durable_q16::open(name);
    CHECK_FALSE(q.created());
    CHECK(q.depth() == 3);
    auto rx = q.receiver<ipckit::non_blocking>();
    CHECK(drain_in_order(rx, 0) == 3);
    // Its sender closed when the first handles went: everything received, then closed.
    CHECK(err(rx.receive()) == errc::closed);

    // A new sender attaches to the old queue.
    auto tx = q.sender();
    REQUIRE(tx.send(make_tick(3), patience));
    CHECK(drain_in_order(rx, 3) == 1);

    CHECK(q16::remove(name));
    CHECK_FALSE(ipckit::segment_exists(name));
}

TEST_CASE("queue: a process_owned queue goes with its process's last handle", "[unit]") {
    scoped_name name("queue");
    {
        auto creator = q16::create(name);
        {
            auto opener = q16::open(name);
            auto tx = opener.sender();
            REQUIRE(tx.send(make_tick(0), patience));
        }
        // An opener going does not remove it.
        CHECK(setup_errc([&] { return q16::open(name); }) == errc::ok);
        CHECK(ipckit::segment_exists(name));
    }
    CHECK_FALSE(ipckit::segment_exists(name));
    auto e = setup_error([&] { return q16::open(name); });
    REQUIRE(e);
    CHECK(e->reason() == errc::not_found);

    // The name is free for a new, empty queue.
    auto again = q16::create(name);
    CHECK(again.created());
    CHECK(again.depth() == 0);
}

TEST_CASE("queue: a process_owned queue lives while any thread of its process holds a handle or endpoint of it",
          "[unit]") {
    scoped_name name("queue");
    std::optional<receiver16> rx;
    std::thread worker([&] {
        auto q = q16::open_or_create(name);  // creates it
        rx.emplace(q16::open(name).receiver());
    });  // the creating handle goes with the worker; the receiver stays, from its own handle
    worker.join();
    REQUIRE(rx);
    CHECK(ipckit::segment_exists(name));

    bool created_again = true;
    ipckit::status sent = ipckit::unexpected(errc::closed);  // until sent
    std::thread other([&] {
        auto q = q16::open_or_create(name);  // finds the same queue, not a new one of the name
        created_again = q.created();
        sent = q.sender().send(make_tick(1), patience);
    });
    other.join();
    REQUIRE_FALSE(created_again);
    REQUIRE(sent);
    auto m = rx->receive(patience);
    REQUIRE(m);
    CHECK(m->seq == 1);

    rx.reset();  // the process's last endpoint of it: the queue goes
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(setup_errc([&] { return q16::open(name); }) == errc::not_found);
}

TEST_CASE("queue: remove takes the name away while users keep the queue", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    REQUIRE(tx.send(make_tick(9), patience));
    CHECK(q16::remove(name));
    CHECK_FALSE(q16::remove(name));
    CHECK(setup_errc([&] { return q16::open(name); }) == errc::not_found);

    // Removed is closed as a whole (the closed rule): what was sent is still received, a send
    // from now on is refused, with room to spare, and nothing of it arrives.
    CHECK(err(tx.send(make_tick(10), patience)) == errc::closed);
    auto r = rx.receive(patience);
    REQUIRE(r);
    CHECK(r->seq == 9);
    CHECK(err(rx.receive(patience)) == errc::closed);
}

// ---- endpoints ------------------------------------------------------------------------------

TEST_CASE("queue: a second sender or receiver is refused with sender_busy or receiver_busy", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto other_handle = q16::open(name);
    {
        auto tx = q.sender();
        auto rx = q.receiver();

        auto s = setup_error([&] { return q.sender(); });
        REQUIRE(s);
        CHECK(s->reason() == errc::sender_busy);
        INFO("what(): " << s->what());
        CHECK(contains(s->what(), name.str()));
        auto s2 = setup_error([&] { return other_handle.sender<ipckit::non_blocking>(); });
        REQUIRE(s2);
        CHECK(s2->reason() == errc::sender_busy);

        auto r = setup_error([&] { return q.receiver(); });
        REQUIRE(r);
        CHECK(r->reason() == errc::receiver_busy);
        auto r2 = setup_error([&] { return other_handle.receiver<ipckit::non_blocking>(); });
        REQUIRE(r2);
        CHECK(r2->reason() == errc::receiver_busy);

        // The refused attaches left the first endpoints working.
        CHECK(tx.peer() == errc::ok);
        CHECK(rx.peer() == errc::ok);
        REQUIRE(tx.send(make_tick(0), patience));
        auto m = rx.receive(patience);
        REQUIRE(m);
        CHECK(m->seq == 0);
    }
    // Once they are gone, new ones attach, through either handle.
    auto tx = other_handle.sender();
    auto rx = q.receiver<ipckit::non_blocking>();
    REQUIRE(tx.send(make_tick(1), patience));
    CHECK(drain_in_order(rx, 1) == 1);
}

TEST_CASE("queue: a moved endpoint works and its moved-from shell does not close the queue", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);

    SECTION("sender, move-constructed") {
        auto rx = q.receiver<ipckit::non_blocking>();
        std::optional<sender16> from(q.sender());
        REQUIRE(from->send(make_tick(0), patience));
        sender16 to(std::move(*from));
        from.reset();  // the shell goes: the queue stays open, the slot stays taken
        CHECK(rx.peer() == errc::ok);
        CHECK(setup_errc([&] { return q.sender(); }) == errc::sender_busy);
        REQUIRE(to.send(make_tick(1), patience));
        CHECK(drain_in_order(rx, 0) == 2);
        CHECK(err(rx.receive()) == errc::would_block);
    }
    SECTION("receiver, move-constructed") {
        auto tx = q.sender();
        std::optional<receiver16> from(q.receiver());
        REQUIRE(tx.send(make_tick(0), patience));
        REQUIRE(tx.send(make_tick(1), patience));
        auto first = from->receive(patience);
        REQUIRE(first);
        CHECK(first->seq == 0);
        receiver16 to(std::move(*from));
        from.reset();
        CHECK(tx.peer() == errc::ok);
        CHECK(setup_errc([&] { return q.receiver(); }) == errc::receiver_busy);
        auto second = to.receive(patience);  // the consumer's position moved with it
        REQUIRE(second);
        CHECK(second->seq == 1);
    }
    SECTION("sender, move-assigned over one of another queue") {
        scoped_name other_name("queue");
        auto other = q16::create(other_name);
        auto rx = q.receiver<ipckit::non_blocking>();
        auto other_rx = other.receiver<ipckit::non_blocking>();

        auto tx = q.sender();
        std::optional<sender16> other_tx(other.sender());
        REQUIRE(tx.send(make_tick(0), patience));
        REQUIRE(other_tx->send(make_tick(100), patience));

        tx = std::move(*other_tx);  // closes tx's queue, takes over other's sender
        CHECK(drain_in_order(rx, 0) == 1);
        CHECK(err(rx.receive()) == errc::closed);

        other_tx.reset();
        CHECK(other_rx.peer() == errc::ok);
        REQUIRE(tx.send(make_tick(101), patience));
        CHECK(drain_in_order(other_rx, 100) == 2);

        // The first queue's slot is free again.
        auto new_tx = q.sender();
        REQUIRE(new_tx.send(make_tick(1), patience));
        CHECK(drain_in_order(rx, 1) == 1);
    }
    SECTION("receiver, move-assigned over one of another queue") {
        scoped_name other_name("queue");
        auto other = q16::create(other_name);
        auto tx = q.sender<ipckit::non_blocking>();
        auto other_tx = other.sender<ipckit::non_blocking>();

        auto rx = q.receiver();
        std::optional<receiver16> other_rx(other.receiver());
        REQUIRE(other_tx.send(make_tick(100)));

        rx = std::move(*other_rx);  // closes rx's queue, takes over other's receiver
        CHECK(tx.peer() == errc::closed);
        other_rx.reset();
        CHECK(other_tx.peer() == errc::ok);
        auto r = rx.receive(patience);
        REQUIRE(r);
        CHECK(r->seq == 100);
        CHECK(setup_errc([&] { return q.receiver(); }) == errc::ok);
    }
}

TEST_CASE("queue: size() counts the messages waiting", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto other_handle = q16::open(name);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    CHECK(q.depth() == 0);
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tx.send(make_tick(i)));
    CHECK(q.depth() == 3);
    CHECK(other_handle.depth() == 3);
    REQUIRE(rx.receive());
    CHECK(q.depth() == 2);
    while (tx.send(make_tick(0))) {
    }
    CHECK(q.depth() == q16::capacity);
    while (rx.receive()) {
    }
    CHECK(q.depth() == 0);
}

// ---- the data path --------------------------------------------------------------------------

TEST_CASE("queue: messages arrive in the order they were sent, across many wraps of the ring", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t out_of_order = 0;
    for (int round = 0; round < 50; ++round) {
        const int burst = 1 + round % static_cast<int>(q16::capacity);  // 1..16
        for (int i = 0; i < burst; ++i) REQUIRE(tx.send(make_tick(sent++), patience));
        for (int i = 0; i < burst; ++i) {
            auto r = rx.receive(patience);
            REQUIRE(r);
            if (r->seq != received || r->check != check_of(received)) ++out_of_order;
            ++received;
        }
    }
    CHECK(received == sent);
    CHECK(out_of_order == 0);
}

TEST_CASE("queue: bounded<N> holds exactly N, then a non-blocking send would block", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();

    for (std::uint64_t i = 0; i < q16::capacity; ++i) {
        INFO("message " << i);
        REQUIRE(tx.send(make_tick(i)));
    }
    CHECK(err(tx.send(make_tick(q16::capacity))) == errc::would_block);
    CHECK(err(tx.send(make_tick(q16::capacity))) == errc::would_block);
    CHECK(q.depth() == q16::capacity);

    // One out makes room for exactly one.
    auto first = rx.receive();
    REQUIRE(first);
    CHECK(first->seq == 0);
    REQUIRE(tx.send(make_tick(q16::capacity)));
    CHECK(err(tx.send(make_tick(q16::capacity + 1))) == errc::would_block);

    // What was refused was not enqueued.
    CHECK(drain_in_order(rx, 1) == q16::capacity);
    CHECK(err(rx.receive()) == errc::would_block);
}

TEST_CASE("queue: a non-blocking receive on an empty queue would block", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto rx = q.receiver<ipckit::non_blocking>();
    CHECK(err(rx.receive()) == errc::would_block);  // no sender yet
    tick out{};
    CHECK(err(rx.receive(out)) == errc::would_block);

    auto tx = q.sender();
    CHECK(err(rx.receive()) == errc::would_block);  // a sender that sends nothing
    REQUIRE(tx.send(make_tick(0), patience));
    REQUIRE(rx.receive(out));
    CHECK(out.seq == 0);
    CHECK(err(rx.receive()) == errc::would_block);
}

TEST_CASE("queue: a blocking receive on an empty queue times out at its deadline", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto rx = q.receiver();

    SECTION("no sender yet") {
        CHECK(err(rx.receive(short_wait)) == errc::timed_out);
        CHECK(err(rx.receive(std::chrono::steady_clock::now() + short_wait)) == errc::timed_out);
    }
    SECTION("a sender that sends nothing") {
        auto tx = q.sender();
        CHECK(err(rx.receive(short_wait)) == errc::timed_out);
        CHECK(err(rx.receive(std::chrono::steady_clock::now() + short_wait)) == errc::timed_out);
        tick out{};
        CHECK(err(rx.receive(out, short_wait)) == errc::timed_out);
        CHECK(err(rx.receive(out, std::chrono::steady_clock::now() + short_wait)) == errc::timed_out);
        CHECK(err(rx.receive(0ms)) == errc::timed_out);
        CHECK(err(rx.receive(-1s)) == errc::timed_out);
        // It is still usable afterwards.
        REQUIRE(tx.send(make_tick(4), patience));
        auto r = rx.receive(patience);
        REQUIRE(r);
        CHECK(r->seq == 4);
    }
}

TEST_CASE("queue: a blocking receive whose deadline has passed still takes a waiting message", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    REQUIRE(tx.send(make_tick(0), patience));
    REQUIRE(tx.send(make_tick(1), patience));
    auto a = rx.receive(std::chrono::steady_clock::now() - 1s);
    REQUIRE(a);
    CHECK(a->seq == 0);
    auto b = rx.receive(0ms);
    REQUIRE(b);
    CHECK(b->seq == 1);
}

TEST_CASE("queue: a blocking send on a full queue times out and enqueues nothing", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto tx = q.sender();
    auto rx = q.receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < q16::capacity; ++i) REQUIRE(tx.send(make_tick(i), patience));

    CHECK(err(tx.send(make_tick(q16::capacity), short_wait)) == errc::timed_out);
    CHECK(err(tx.send(make_tick(q16::capacity), std::chrono::steady_clock::now() + short_wait)) ==
          errc::timed_out);
    CHECK(err(tx.send(make_tick(q16::capacity), 0ms)) == errc::timed_out);
    CHECK(q.depth() == q16::capacity);

    // Exactly the messages that fitted, then nothing.
    CHECK(drain_in_order(rx, 0) == q16::capacity);
    CHECK(err(rx.receive()) == errc::would_block);

    // The sender is still usable.
    REQUIRE(tx.send(make_tick(q16::capacity), patience));
    CHECK(drain_in_order(rx, q16::capacity) == 1);
}

TEMPLATE_TEST_CASE("queue: a timeout too large to add to now means no deadline", "[unit]", std::chrono::hours,
                   std::chrono::seconds, std::chrono::nanoseconds) {
    // An overflowed deadline would lie in the past: the verb would return timed_out at once.
    constexpr TestType forever = TestType::max();
    scoped_name name("queue");
    auto q = q16::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();

    SECTION("a receive waits for a message") {
        auto got = std::async(std::launch::async, [&] { return rx.receive(forever); });
        REQUIRE(got.wait_for(short_wait) == std::future_status::timeout);
        REQUIRE(tx.send(make_tick(1), patience));
        auto r = got.get();
        REQUIRE(r);
        CHECK(r->seq == 1);
    }
    SECTION("a send waits for room") {
        for (std::uint64_t i = 0; i < q16::capacity; ++i) REQUIRE(tx.send(make_tick(i), patience));
        auto sent = std::async(std::launch::async, [&] { return err(tx.send(make_tick(q16::capacity), forever)); });
        REQUIRE(sent.wait_for(short_wait) == std::future_status::timeout);
        auto r = rx.receive(patience);
        REQUIRE(r);
        CHECK(r->seq == 0);
        CHECK(sent.get() == errc::ok);
    }
}

TEST_CASE("queue: a timeout too negative to add to now, or not a number, is no time left, not a wait", "[unit]") {
    // Overflowed, milliseconds(-18'446'740'473'709) in nanoseconds wraps to about +1 hour.
    scoped_name name("queue");
    auto q = q16::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    const auto at_once = [&](auto timeout) {
        auto got = std::async(std::launch::async, [&] { return err(rx.receive(timeout)); });
        const bool returned = got.wait_for(patience) == std::future_status::ready;
        if (!returned) REQUIRE(tx.send(make_tick(9), patience));  // wakes it, so the test ends
        return returned && got.get() == errc::timed_out;
    };
    CHECK(at_once(std::chrono::milliseconds(-18'446'740'473'709)));
    CHECK(at_once(std::chrono::milliseconds::min()));
    CHECK(at_once(std::chrono::hours::min()));
    CHECK(at_once(std::chrono::duration<double>(-std::numeric_limits<double>::infinity())));
    CHECK(at_once(std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("queue: after the sender closes, the receiver gets every message, then closed", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    constexpr std::uint64_t n = 5;

    SECTION("blocking receiver") {
        auto rx = q.receiver();
        {
            auto tx = q.sender();
            for (std::uint64_t i = 0; i < n; ++i) REQUIRE(tx.send(make_tick(i), patience));
        }
        CHECK(rx.peer() == errc::closed);
        for (std::uint64_t i = 0; i < n; ++i) {
            auto r = rx.receive(patience);
            REQUIRE(r);
            CHECK(r->seq == i);
        }
        REQUIRE(err(rx.receive(patience)) == errc::closed);
        CHECK(err(rx.receive()) == errc::closed);  // no deadline: still returns
        tick out{};
        CHECK(err(rx.receive(out, patience)) == errc::closed);
    }
    SECTION("non-blocking receiver") {
        auto rx = q.receiver<ipckit::non_blocking>();
        {
            auto tx = q.sender<ipckit::non_blocking>();
            for (std::uint64_t i = 0; i < n; ++i) REQUIRE(tx.send(make_tick(i)));
        }
        CHECK(drain_in_order(rx, 0) == n);
        CHECK(err(rx.receive()) == errc::closed);
        CHECK(err(rx.receive()) == errc::closed);
    }
    SECTION("a receiver that attaches after the sender closed") {
        {
            auto tx = q.sender();
            for (std::uint64_t i = 0; i < n; ++i) REQUIRE(tx.send(make_tick(i), patience));
        }
        auto rx = q.receiver<ipckit::non_blocking>();
        CHECK(drain_in_order(rx, 0) == n);
        CHECK(err(rx.receive()) == errc::closed);
    }
}

TEST_CASE("queue: a sender attaching after a close reopens the queue for its receiver", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto rx = q.receiver();
    {
        auto tx = q.sender();
        REQUIRE(tx.send(make_tick(0), patience));
    }
    auto r0 = rx.receive(patience);
    REQUIRE(r0);
    CHECK(err(rx.receive(patience)) == errc::closed);

    auto tx = q.sender();
    CHECK(rx.peer() == errc::ok);
    CHECK(err(rx.receive(short_wait)) == errc::timed_out);  // open again: waits, not closed
    REQUIRE(tx.send(make_tick(1), patience));
    auto r1 = rx.receive(patience);
    REQUIRE(r1);
    CHECK(r1->seq == 1);
}

TEST_CASE("queue: a send on a full queue whose receiver closed returns closed", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);

    SECTION("blocking sender") {
        auto tx = q.sender();
        {
            auto rx = q.receiver();
            for (std::uint64_t i = 0; i < q16::capacity; ++i) REQUIRE(tx.send(make_tick(i), patience));
        }
        CHECK(tx.peer() == errc::closed);
        REQUIRE(err(tx.send(make_tick(q16::capacity), patience)) == errc::closed);
        CHECK(err(tx.send(make_tick(q16::capacity))) == errc::closed);  // no deadline: still returns
    }
    SECTION("non-blocking sender") {
        auto tx = q.sender<ipckit::non_blocking>();
        {
            auto rx = q.receiver();
            for (std::uint64_t i = 0; i < q16::capacity; ++i) REQUIRE(tx.send(make_tick(i)));
        }
        CHECK(err(tx.send(make_tick(q16::capacity))) == errc::closed);
    }
}

TEST_CASE("queue: a blocked receive returns the message that arrives", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    auto got = std::async(std::launch::async, [&] { return rx.receive(patience); });
    REQUIRE(got.wait_for(short_wait) == std::future_status::timeout);  // it waits
    REQUIRE(tx.send(make_tick(42), patience));
    auto r = got.get();
    REQUIRE(r);
    CHECK(r->seq == 42);
}

TEST_CASE("queue: a blocked send proceeds once a message is received", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto tx = q.sender();
    auto rx = q.receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < q16::capacity; ++i) REQUIRE(tx.send(make_tick(i), patience));

    auto sent = std::async(std::launch::async, [&] { return err(tx.send(make_tick(q16::capacity), patience)); });
    REQUIRE(sent.wait_for(short_wait) == std::future_status::timeout);  // it waits for room
    CHECK(q.depth() == q16::capacity);
    auto first = rx.receive();
    REQUIRE(first);
    CHECK(first->seq == 0);
    CHECK(sent.get() == errc::ok);
    CHECK(drain_in_order(rx, 1) == q16::capacity);  // 1..16, once each
    CHECK(err(rx.receive()) == errc::would_block);
}

TEST_CASE("queue: a blocked receive returns closed when the sender closes", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto rx = q.receiver();
    std::optional<sender16> tx(q.sender());
    auto got = std::async(std::launch::async, [&] { return err(rx.receive(patience)); });
    REQUIRE(got.wait_for(short_wait) == std::future_status::timeout);
    tx.reset();
    CHECK(got.get() == errc::closed);
}

TEST_CASE("queue: a blocked send returns closed when the receiver closes", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto tx = q.sender();
    std::optional<receiver16> rx(q.receiver());
    for (std::uint64_t i = 0; i < q16::capacity; ++i) REQUIRE(tx.send(make_tick(i), patience));
    auto sent = std::async(std::launch::async, [&] { return err(tx.send(make_tick(q16::capacity), patience)); });
    REQUIRE(sent.wait_for(short_wait) == std::future_status::timeout);
    rx.reset();
    CHECK(sent.get() == errc::closed);
}

TEST_CASE("queue: result value() on an error throws", "[unit]") {
    scoped_name name("queue");
    auto q = q16::create(name);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();

    auto empty = rx.receive();
    REQUIRE_FALSE(empty);
    for (std::uint64_t i = 0; i < q16::capacity; ++i) REQUIRE(tx.send(make_tick(i)));
    auto full = tx.send(make_tick(q16::capacity));
    REQUIRE_FALSE(full);
#if defined(__cpp_lib_expected)
    // result<T> is std::expected here, whose value() throws std::bad_expected_access.
    CHECK_THROWS_AS(empty.value(), std::bad_expected_access<errc>);
    CHECK_THROWS_AS(full.value(), std::bad_expected_access<errc>);
#else
    try {
        (void)empty.value();
        FAIL("value() of an empty result did not throw");
    } catch (const ipckit::error& e) {
        CHECK(e.reason() == errc::would_block);
    }
    try {
        full.value();
        FAIL("value() of a failed status did not throw");
    } catch (const ipckit::error& e) {
        CHECK(e.reason() == errc::would_block);
    }
#endif
    auto r = rx.receive();
    REQUIRE(r);
    CHECK(r.value().seq == 0);
    CHECK_NOTHROW(tx.send(make_tick(q16::capacity)).value());
}

// ---- threads --------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("queue: a producer thread passes 1e5 messages in order to a consumer thread", "[unit]",
                   ipckit::spin, ipckit::futex, ipckit::adaptive) {
    using queue_t = ipckit::queue<tick, ipckit::bounded<64>, ipckit::single, ipckit::single, TestType>;
    constexpr std::uint64_t n = 100'000;
    scoped_name name("queue");
    auto q = queue_t::create(name);
    auto rx = q.receiver();

    const auto out = ipckit_test::stream_through_threads(q.sender(), rx, n);
    CHECK(out.sender_error == errc::ok);
    CHECK(out.received == n);
    CHECK(out.wrong == 0);
    CHECK(out.end == errc::closed);
}

TEST_CASE("queue: endpoints with different wait policies work together", "[unit]") {
    using spinning = ipckit::queue<tick, ipckit::bounded<8>, ipckit::single, ipckit::single, ipckit::spin>;
    using sleeping = ipckit::queue<tick, ipckit::bounded<8>, ipckit::single, ipckit::single, ipckit::futex>;
    constexpr std::uint64_t n = 10'000;
    scoped_name name("queue");
    auto q = sleeping::create(name);
    auto rx = q.receiver();  // sleeps on a futex while empty
    auto spinning_q = spinning::open(name);

    const auto out = ipckit_test::stream_through_threads(spinning_q.sender(), rx, n);
    CHECK(out.sender_error == errc::ok);
    CHECK(out.received == n);
    CHECK(out.wrong == 0);
    CHECK(out.end == errc::closed);
}
