// Tests of unbounded queues (ipckit::queue<T, unbounded<ChunkBytes>, ...>) within one process:
// growth by chunks while nobody receives, chunks freed as they are read, the cap, set-up and
// its errors, closing, ownership and removal of every chunk, a receiver that takes over from
// one that did not finish removing, the wait for another sender that creates a chunk, and
// producer threads feeding a consumer thread (the tests to run under ThreadSanitizer).
//
// Waits are on the event itself with ipckit_test::patience. Where a test needs a verb to be
// blocked, it asserts that the verb has not returned after 50 ms and then makes it return; the
// 50 ms only makes it likely that the verb really waits, the outcome is asserted either way.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"
#include "unbounded_support.hpp"

#include <ipckit/queue.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>


using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::check_of;
using ipckit_test::contains;
using ipckit_test::err;
using ipckit_test::make_tick;
using ipckit_test::drain_in_order;
using ipckit_test::patience;
using ipckit_test::setup_errc;
using ipckit_test::setup_error;
using ipckit_test::tick;

namespace {

struct quote {  // another message type
    std::uint32_t id;
    float price;
};

using ipckit_test::chunks_of;
using ipckit_test::scoped_queue;
using uq = ipckit::queue<tick, ipckit::unbounded<4096>>;  // SPSC, small chunks
using uq8k = ipckit::queue<tick, ipckit::unbounded<8192>>;
using quote_uq = ipckit::queue<quote, ipckit::unbounded<4096>>;
using multi_uq = ipckit::queue<tick, ipckit::unbounded<4096>, ipckit::multi>;
using durable_uq =
    ipckit::queue<tick, ipckit::unbounded<4096>, ipckit::single, ipckit::single, ipckit::adaptive, ipckit::system_owned>;

constexpr std::uint64_t per_chunk = uq::slots_per_chunk;
static_assert(per_chunk > 100, "the tests below assume small messages in 4 KiB chunks");

constexpr auto short_wait = 50ms;



/// The shared part of queue Q called `name`, for white-box tests: a mapping of its head.
template <class Q>
struct head_view {
    explicit head_view(const std::string& name) : seg(ipckit::segment::open(name, Q::layout(), {})) {}
    typename Q::shared& sh() const { return *static_cast<typename Q::shared*>(seg.body()); }
    ipckit::detail::chain_control& chain() const { return sh().chain; }
    ipckit::segment seg;
};

}  // namespace

// ---- set-up ---------------------------------------------------------------------------------

TEST_CASE("unbounded queue: a message sent on a created queue is received on one opened by name", "[unit]") {
    scoped_queue name;
    auto created = uq::create(name);
    auto opened = uq::open(name);
    CHECK(created.created());
    CHECK_FALSE(opened.created());
    CHECK(opened.name() == name.str());
    CHECK(chunks_of(name).empty());  // chunks come with the first message

    auto tx = created.sender();
    auto rx = opened.receiver();
    REQUIRE(tx.send(make_tick(7)));
    CHECK(chunks_of(name).size() == 1);
    CHECK(created.depth() == 1);
    auto r = rx.receive(patience);
    REQUIRE(r);
    CHECK(r->seq == 7);
    CHECK(r->check == check_of(7));
    CHECK(opened.depth() == 0);
}

TEST_CASE("unbounded queue: open_or_create creates a missing queue and opens an existing one", "[unit]") {
    scoped_queue name;
    auto first = uq::open_or_create(name);
    auto second = uq::open_or_create(name);
    CHECK(first.created());
    CHECK_FALSE(second.created());
    auto tx = second.sender();
    auto rx = first.receiver<ipckit::non_blocking>();
    REQUIRE(tx.send(make_tick(1)));
    auto r = rx.receive();
    REQUIRE(r);
    CHECK(r->seq == 1);
}

TEST_CASE("unbounded queue: opening with another chunk size or message type is incompatible_layout", "[unit]") {
    scoped_queue name;
    auto q = uq::create(name);
    CHECK(setup_errc([&] { return uq::create(name); }) == errc::already_exists);
    CHECK(setup_errc([&] { return uq::open(name.str() + "x"); }) == errc::not_found);

    auto chunk_size = setup_error([&] { return uq8k::open(name); });
    REQUIRE(chunk_size);
    CHECK(chunk_size->reason() == errc::incompatible_layout);
    INFO("what(): " << chunk_size->what());
    CHECK(contains(chunk_size->what(), "unbounded<4096>"));
    CHECK(contains(chunk_size->what(), "unbounded<8192>"));

    CHECK(setup_errc([&] { return quote_uq::open(name); }) == errc::incompatible_layout);
    CHECK(setup_errc([&] { return ipckit::queue<tick, ipckit::bounded<16>>::open(name); }) ==
          errc::incompatible_layout);
}

TEST_CASE("unbounded queue: a name must leave room for the chunks' suffix", "[unit]") {
    std::string longest = ipckit_test::unique_name("ub-long");
    longest.resize(ipckit::max_name_length - 21, 'u');
    const std::string too_long = longest + "u";
    (void)uq::remove(longest);
    {
        auto q = uq::create(longest);
        auto tx = q.sender();
        REQUIRE(tx.send(make_tick(0)));  // its chunk's name is valid too
        CHECK(chunks_of(longest).size() == 1);
    }
    CHECK(chunks_of(longest).empty());
    CHECK_FALSE(ipckit::segment_exists(longest));
    auto e = setup_error([&] { return uq::create(too_long); });
    REQUIRE(e);
    CHECK(e->reason() == errc::invalid_name);
    CHECK(contains(e->what(), "<name>.<number>"));
    CHECK(contains(e->what(), "may have 179 at most"));  // as README's error table says
    CHECK(setup_errc([&] { return uq::open(too_long); }) == errc::invalid_name);
    CHECK(setup_errc([&] { return uq::create("bad/name"); }) == errc::invalid_name);
}

TEST_CASE("unbounded queue: a second receiver is receiver_busy, a second single sender sender_busy", "[unit]") {
    scoped_queue name;
    auto q = uq::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    auto busy_rx = setup_error([&] { return q.receiver<ipckit::non_blocking>(); });
    REQUIRE(busy_rx);
    CHECK(busy_rx->reason() == errc::receiver_busy);
    CHECK(contains(busy_rx->what(), "single consumer"));
    CHECK(setup_errc([&] { return q.sender(); }) == errc::sender_busy);

    auto mq = multi_uq::create(name.str() + "m");
    std::vector<ipckit::sender<multi_uq>> senders;
    for (int i = 0; i < 4; ++i) senders.push_back(mq.sender());  // many senders are fine
    CHECK(setup_errc([&] { return mq.receiver(); }) == errc::ok);
}

// ---- growth, freeing, the cap ---------------------------------------------------------------

TEST_CASE("unbounded queue: sends never block while nobody receives, the chain grows past 100 chunks and is "
          "drained in order, chunk by chunk, down to the live one",
          "[unit]") {
    constexpr std::uint64_t n = 100 * per_chunk + per_chunk / 2;
    scoped_queue name;
    ipckit::unbounded_options opt;
    opt.cap_bytes = 256 * 4096;
    auto q = uq::create(name, opt);
    CHECK(q.cap_bytes() == 256 * 4096);

    SECTION("non-blocking sender") {
        auto tx = q.sender<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < n; ++i) REQUIRE(tx.send(make_tick(i)));
    }
    SECTION("blocking sender, no receiver attached yet") {
        auto tx = q.sender();
        for (std::uint64_t i = 0; i < n; ++i) REQUIRE(tx.send(make_tick(i)));
    }
    CHECK(q.depth() == n);
    CHECK(chunks_of(name).size() == 101);
    CHECK(q.allocated_bytes() == 101 * 4096);

    auto rx = q.receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < n; ++i) {
        auto r = rx.receive();
        REQUIRE(r);
        REQUIRE(r->seq == i);
        REQUIRE(r->check == check_of(i));
        // Each chunk is gone as soon as its last message was read.
        if ((i + 1) % per_chunk == 0) REQUIRE(chunks_of(name).size() == 101 - (i + 1) / per_chunk);
    }
    CHECK(err(rx.receive()) == errc::closed);  // nothing twice; the sender has closed
    CHECK(q.depth() == 0);
    const auto left = chunks_of(name);
    REQUIRE(left.size() == 1);  // the live chunk, half full
    CHECK(q.allocated_bytes() == 4096);
}

TEST_CASE("unbounded queue: when the receiver has read everything, at most the live chunk is left", "[unit]") {
    scoped_queue name;
    auto q = uq::create(name);
    auto tx = q.sender();
    auto rx = q.receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < 3 * per_chunk; ++i) REQUIRE(tx.send(make_tick(i)));
    CHECK(chunks_of(name).size() == 3);
    CHECK(drain_in_order(rx, 0) == 3 * per_chunk);
    CHECK(chunks_of(name).empty());  // read exactly to a chunk's end: none is live
    CHECK(q.allocated_bytes() == 0);
    REQUIRE(tx.send(make_tick(3 * per_chunk)));
    CHECK(chunks_of(name).size() == 1);
    CHECK(drain_in_order(rx, 3 * per_chunk) == 1);
    CHECK(chunks_of(name).size() == 1);
}

TEST_CASE("unbounded queue: past the cap a send is no_space and writes nothing, reading gives the bytes back",
          "[unit]") {
    constexpr std::uint64_t cap_chunks = 5;
    scoped_queue name;
    ipckit::unbounded_options opt;
    opt.cap_bytes = cap_chunks * 4096 + 100;  // not a multiple: 5 chunks fit
    auto q = uq::create(name, opt);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();

    std::uint64_t sent = 0;
    while (tx.send(make_tick(sent))) ++sent;
    CHECK(sent == cap_chunks * per_chunk);
    CHECK(err(tx.send(make_tick(sent))) == errc::no_space);
    CHECK(err(tx.send(make_tick(sent))) == errc::no_space);  // and again: nothing half-done
    CHECK(q.depth() == sent);
    CHECK(chunks_of(name).size() == cap_chunks);
    CHECK(q.allocated_bytes() == cap_chunks * 4096);

    // A blocking sender does not wait for room either.
    {
        tx.close();
        auto btx = q.sender();
        CHECK(err(btx.send(make_tick(sent))) == errc::no_space);
        CHECK(err(btx.send(make_tick(sent), patience)) == errc::no_space);
    }
    tx = q.sender<ipckit::non_blocking>();

    // Reading one message frees nothing; reading a whole chunk frees its bytes.
    std::uint64_t got = drain_in_order(rx, 0);
    CHECK(got == sent);  // nothing lost before the cap
    CHECK(q.allocated_bytes() == 0);
    CHECK(chunks_of(name).empty());

    std::uint64_t more = 0;
    while (tx.send(make_tick(sent + more))) ++more;
    CHECK(more == cap_chunks * per_chunk);  // the whole cap again
    CHECK(err(tx.send(make_tick(0))) == errc::no_space);
    CHECK(drain_in_order(rx, sent) == more);
}

TEST_CASE("unbounded queue: the default cap is a quarter of the free space in /dev/shm, a cap below one chunk is "
          "no_space at creation",
          "[unit]") {
    scoped_queue name;
    const std::uint64_t free_before = ipckit::detail::sys::shm_free_bytes();
    {
        auto q = uq::create(name);
        const std::uint64_t free_after = ipckit::detail::sys::shm_free_bytes();
        // Measured before and after its creation; tests running alongside may take or give
        // back some space meanwhile, hence the slack.
        constexpr std::uint64_t slack = std::uint64_t{256} << 20;
        CHECK(q.cap_bytes() > 0);
        CHECK(q.cap_bytes() + slack >= std::min(free_before, free_after) / 4);
        CHECK(q.cap_bytes() <= std::max(free_before, free_after) / 4 + slack);
        // Every process sees the one stored at creation.
        ipckit::unbounded_options other;
        other.cap_bytes = 4096;
        auto opened = uq::open(name, other);
        CHECK(opened.cap_bytes() == q.cap_bytes());
    }

    ipckit::unbounded_options tiny;
    tiny.cap_bytes = 4095;
    auto e = setup_error([&] { return uq::create(name, tiny); });
    REQUIRE(e);
    CHECK(e->reason() == errc::no_space);
    CHECK(contains(e->what(), "cap_bytes"));
    CHECK_FALSE(ipckit::segment_exists(name));
}

// ---- verbs ----------------------------------------------------------------------------------

TEST_CASE("unbounded queue: an empty queue would block, times out, and a blocked receive returns the message "
          "that arrives",
          "[unit]") {
    scoped_queue name;
    auto q = uq::create(name);
    auto tx = q.sender();
    {
        auto nrx = q.receiver<ipckit::non_blocking>();
        CHECK(err(nrx.receive()) == errc::would_block);
        tick t{};
        CHECK(err(nrx.receive(t)) == errc::would_block);
    }
    auto rx = q.receiver();
    const auto start = std::chrono::steady_clock::now();
    CHECK(err(rx.receive(20ms)) == errc::timed_out);
    CHECK(std::chrono::steady_clock::now() - start >= 20ms);
    CHECK(err(rx.receive(std::chrono::steady_clock::now() - 1s)) == errc::timed_out);

    auto pending = std::async(std::launch::async, [&rx] { return rx.receive(patience); });
    CHECK(pending.wait_for(short_wait) == std::future_status::timeout);
    REQUIRE(tx.send(make_tick(5)));
    auto r = pending.get();
    REQUIRE(r);
    CHECK(r->seq == 5);

    REQUIRE(tx.send(make_tick(6)));
    tick out{};
    REQUIRE(rx.receive(out, patience));
    CHECK(out.seq == 6);
}

TEST_CASE("unbounded queue: after the senders close the receiver gets every message, then waits until the queue is "
          "closed as a whole",
          "[unit]") {
    scoped_queue name;
    auto q = multi_uq::create(name);
    auto rx = q.receiver();
    {
        auto a = q.sender();
        auto b = q.sender<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < 2 * per_chunk; ++i) {
            REQUIRE(a.send(make_tick(2 * i)));
            REQUIRE(b.send(make_tick(2 * i + 1)));
        }
    }
    for (std::uint64_t i = 0; i < 4 * per_chunk; ++i) {
        auto r = rx.receive(patience);
        REQUIRE(r);
        REQUIRE(r->seq == i);
    }
    // Every sender has gone, but more may come (the closed rule).
    CHECK(err(rx.receive(20ms)) == errc::timed_out);

    // A blocked receive returns closed when the queue is closed as a whole, not when a sender goes.
    std::optional<ipckit::sender<multi_uq>> tx(q.sender());
    auto pending = std::async(std::launch::async, [&rx] { return err(rx.receive(patience)); });
    CHECK(pending.wait_for(short_wait) == std::future_status::timeout);
    tx.reset();
    CHECK(pending.wait_for(short_wait) == std::future_status::timeout);
    q.close();
    CHECK(pending.get() == errc::closed);
    CHECK(err(rx.receive()) == errc::closed);
}

TEST_CASE("unbounded queue: once the receiver has closed a process_owned queue, a send returns closed at once, a "
          "new receiver reopens it",
          "[unit]") {
    scoped_queue name;
    auto q = uq::create(name);
    auto tx = q.sender();
    REQUIRE(tx.send(make_tick(0)));  // no receiver yet: fine, it waits for one
    {
        auto rx = q.receiver();
        CHECK(tx.peer() == errc::ok);
        auto r = rx.receive(patience);
        REQUIRE(r);
        CHECK(r->seq == 0);
    }
    CHECK(tx.peer() == errc::closed);
    CHECK(err(tx.send(make_tick(1))) == errc::closed);
    CHECK(q.depth() == 0);  // nothing written

    auto rx = q.receiver<ipckit::non_blocking>();
    REQUIRE(tx.send(make_tick(2)));
    auto r = rx.receive();
    REQUIRE(r);
    CHECK(r->seq == 2);

    tx.close();
    CHECK(err(tx.send(make_tick(3))) == errc::closed);
    CHECK(err(rx.receive()) == errc::closed);
}

TEST_CASE("unbounded queue: a receiver closing a system_owned queue is a pause: sends go on, for the next receiver",
          "[unit]") {
    scoped_queue name;
    auto q = durable_uq::create(name);
    auto tx = q.sender<ipckit::non_blocking>();
    {
        auto rx = q.receiver();
        REQUIRE(tx.send(make_tick(0)));
        CHECK(err(rx.receive(patience)) == errc::ok);
    }
    CHECK(tx.peer() == errc::closed);
    for (std::uint64_t i = 1; i <= per_chunk + 1; ++i) REQUIRE(tx.send(make_tick(i)));
    auto rx = q.receiver<ipckit::non_blocking>();
    CHECK(drain_in_order(rx, 1) == per_chunk + 1);
}

TEST_CASE("unbounded queue: a moved endpoint works and its moved-from shell does not close the queue", "[unit]") {
    scoped_queue name;
    auto q = uq::create(name);
    auto tx = q.sender();
    auto rx = q.receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < per_chunk + 3; ++i) REQUIRE(tx.send(make_tick(i)));  // into a second chunk
    auto tx2 = std::move(tx);
    auto rx2 = std::move(rx);
    CHECK(err(tx.send(make_tick(0))) == errc::closed);   // NOLINT(bugprone-use-after-move)
    CHECK(err(rx.receive()) == errc::closed);             // NOLINT(bugprone-use-after-move)
    REQUIRE(tx2.send(make_tick(per_chunk + 3)));
    CHECK(drain_in_order(rx2, 0) == per_chunk + 4);

    tx = std::move(tx2);  // back into the moved-from shell
    REQUIRE(tx.send(make_tick(per_chunk + 4)));
    CHECK(drain_in_order(rx2, per_chunk + 4) == 1);
    CHECK(err(tx2.send(make_tick(0))) == errc::closed);  // NOLINT(bugprone-use-after-move)
    tx.close();
    CHECK(err(rx2.receive()) == errc::closed);
}

// ---- ownership and removal ------------------------------------------------------------------

TEST_CASE("unbounded queue: a process_owned queue goes with its process's last handle, every chunk with it", "[unit]") {
    scoped_queue name;
    {
        auto creator = uq::create(name);
        {
            auto opener = uq::open(name);
            auto tx = opener.sender();
            for (std::uint64_t i = 0; i < 10 * per_chunk; ++i) REQUIRE(tx.send(make_tick(i)));
        }
        CHECK(chunks_of(name).size() == 10);
        CHECK(ipckit::segment_exists(name));  // an opener going does not remove it
    }
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(chunks_of(name).empty());
    CHECK(setup_errc([&] { return uq::open(name); }) == errc::not_found);

    auto again = uq::create(name);
    CHECK(again.depth() == 0);
}

TEST_CASE("unbounded queue: a process_owned queue keeps its chain while any thread of its process holds a handle",
          "[unit]") {
    scoped_queue name;
    std::optional<uq> mine;
    std::thread creator([&] {
        auto q = uq::create(name);
        mine.emplace(uq::open(name));  // another handle of the owning process
    });                                // the creating handle goes with its thread
    creator.join();
    REQUIRE(mine);
    {
        // Chunks are still created and read: the chain was not retired with the creating handle.
        auto tx = mine->sender();
        auto rx = mine->receiver<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < 3 * per_chunk; ++i) REQUIRE(tx.send(make_tick(i)));
        CHECK(drain_in_order(rx, 0) == 3 * per_chunk);
    }
    CHECK(ipckit::segment_exists(name));
    mine.reset();  // the process's last handle: the queue goes, every chunk with it
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(chunks_of(name).empty());
}

TEST_CASE("unbounded queue: a system_owned queue and its chunks outlive every handle until Q::remove", "[unit]") {
    scoped_queue name;
    {
        auto q = durable_uq::create(name);
        auto tx = q.sender();
        for (std::uint64_t i = 0; i < 3 * per_chunk; ++i) REQUIRE(tx.send(make_tick(i)));
    }
    CHECK(ipckit::segment_exists(name));
    CHECK(chunks_of(name).size() == 3);
    {
        // A receiver reads part of it and goes; the next one goes on from there.
        auto q = durable_uq::open(name);
        auto rx = q.receiver();
        for (std::uint64_t i = 0; i < per_chunk + 1; ++i) {
            auto r = rx.receive(patience);
            REQUIRE(r);
            REQUIRE(r->seq == i);
        }
    }
    CHECK(chunks_of(name).size() == 2);
    {
        auto q = durable_uq::open(name);
        auto rx = q.receiver<ipckit::non_blocking>();
        CHECK(drain_in_order(rx, per_chunk + 1) == 2 * per_chunk - 1);
        auto tx = q.sender();
        for (std::uint64_t i = 0; i < 2 * per_chunk; ++i) REQUIRE(tx.send(make_tick(i)));
    }
    CHECK(chunks_of(name).size() == 2);

    // Removing the head by name alone would leave the chunks behind: refused, with the way.
    const auto refused = setup_error([&] { return ipckit::remove_segment(name); });
    REQUIRE(refused);
    CHECK(refused->reason() == errc::invalid_argument);
    CHECK(contains(refused->what(), "unbounded queue"));
    CHECK(contains(refused->what(), "remove_any(\"" + name.str() + "\")"));
    CHECK(ipckit::segment_exists(name));
    CHECK(chunks_of(name).size() == 2);

    CHECK(durable_uq::remove(name));
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(chunks_of(name).empty());
    CHECK_FALSE(durable_uq::remove(name));
}

TEST_CASE("unbounded queue: Q::remove finds the chunks of an unbounded queue of any message type", "[unit]") {
    scoped_queue name;
    using durable_quotes = ipckit::queue<quote, ipckit::unbounded<8192>, ipckit::multi, ipckit::single,
                                         ipckit::adaptive, ipckit::system_owned>;
    {
        auto q = durable_quotes::create(name);
        auto tx = q.sender();
        for (std::uint32_t i = 0; i < 3 * durable_quotes::slots_per_chunk; ++i) REQUIRE(tx.send(quote{i, 1.5f}));
    }
    CHECK(chunks_of(name).size() == 3);
    CHECK(uq::remove(name));  // another message type, another chunk size
    CHECK(chunks_of(name).empty());
    CHECK_FALSE(ipckit::segment_exists(name));
}

TEST_CASE("unbounded queue: Q::remove removes every chunk when the head's chunk indices are damaged, and no "
          "segment of another's",
          "[unit]") {
    scoped_queue name;
    {
        auto q = durable_uq::create(name);
        auto tx = q.sender();
        for (std::uint64_t i = 0; i < 4 * per_chunk; ++i) REQUIRE(tx.send(make_tick(i)));
    }
    REQUIRE(chunks_of(name).size() == 4);
    head_view<durable_uq> v(name);
    auto& c = v.chain();
    // Named as chunk 9 of this chain would be, but not one: someone else's, to be left alone.
    const std::string lookalike_number = std::to_string(c.base + 9);
    const std::string lookalike = name.str() + "." + lookalike_number;
    (void)ipckit::segment::create<ipckit::system_owned>(lookalike, ipckit::segment_layout{"not a chunk", 64}, {},
                                                        [](void*) {});

    const auto damage =
        GENERATE(as<std::string>{}, "first_live past chunk_next", "chunk_next below its chunks", "both far beyond");
    INFO(damage);
    if (damage == "first_live past chunk_next") {
        c.first_live.store(c.chunk_next.load() + 1);
    } else if (damage == "chunk_next below its chunks") {
        c.chunk_next.store(1);  // a walk from first_live to chunk_next would stop at chunk 1
    } else {
        c.first_live.store(std::uint64_t{1} << 40);
        c.chunk_next.store((std::uint64_t{1} << 40) + 2);
    }
    CHECK(durable_uq::remove(name));
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(chunks_of(name) == std::vector<std::string>{lookalike_number});
    CHECK(ipckit::remove_segment(lookalike));
}

TEST_CASE("unbounded queue: after Q::remove no chunk is created any more, its users get closed", "[unit]") {
    scoped_queue name;
    auto q = uq::create(name);
    auto tx = q.sender();
    auto rx = q.receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < per_chunk + 10; ++i) REQUIRE(tx.send(make_tick(i)));
    CHECK(uq::remove(name));
    CHECK_FALSE(uq::remove(name));
    CHECK(chunks_of(name).empty());
    CHECK(setup_errc([&] { return uq::open(name); }) == errc::not_found);

    // The sender is refused at once, with room left in the chunk it has mapped: nobody would
    // ever read it there.
    CHECK(err(tx.send(make_tick(per_chunk + 10))) == errc::closed);
    CHECK(err(tx.send(make_tick(per_chunk + 11))) == errc::closed);
    CHECK(chunks_of(name).empty());
    // The receiver's first chunk was removed before it mapped it.
    CHECK(err(rx.receive()) == errc::closed);

    // The name is free for a new queue, whose chunks are its own.
    auto again = uq::create(name);
    auto tx2 = again.sender();
    auto rx2 = again.receiver<ipckit::non_blocking>();
    REQUIRE(tx2.send(make_tick(0)));
    CHECK(chunks_of(name).size() == 1);
    CHECK(drain_in_order(rx2, 0) == 1);
}

// ---- white box: a grower that outstays the remover's patience --------------------------------

namespace {

/// The chunks of a sender's cursor (its own chunk_store), whose create is overtaken by a remover:
/// the grower was stopped past the remover's patience, so the remover retired the chain and swept
/// its chunks just before the grower created chunk k.
struct overtaken_chunks {
    using store_type = ipckit::detail::chunk_store<durable_uq::chunk_type>;
    store_type store;
    ipckit::detail::chain_control* chain;
    std::string name;

    durable_uq::chunk_type* mapped(std::uint64_t k) noexcept { return store.mapped(k); }
    errc open(std::uint64_t k) noexcept { return store.open(k); }
    errc create(std::uint64_t k) noexcept {
        ipckit::detail::retire_chain(*chain, name, std::chrono::milliseconds(0));  // its patience is spent
        return store.create(k);
    }
    void drop() noexcept { store.drop(); }
    void remove(std::uint64_t k) noexcept { store.remove(k); }
    bool alive(std::uint64_t packed) noexcept { return store.alive(packed); }
};

}  // namespace

TEST_CASE("unbounded queue: a sender that creates a chunk after a remover's sweep removes that chunk itself and gets "
          "closed",
          "[unit]") {
    scoped_queue name;
    auto q = durable_uq::create(name);
    head_view<durable_uq> v(name);
    auto& chain = v.chain();
    REQUIRE(chain.chunk_next.load() == 0);  // the first send creates chunk 0
    auto info = std::make_shared<ipckit::detail::chain_info>();
    info->name = name.str();
    info->element = "tick";
    info->base = chain.base;
    info->chunk_bytes = 4096;
    info->slots = durable_uq::slots_per_chunk;
    info->chunk_options.mode = chain.mode & 07777u;
    ipckit::detail::chain_producer<tick, durable_uq::slots_per_chunk, false, overtaken_chunks> tx(
        overtaken_chunks{overtaken_chunks::store_type(info), &chain, name.str()});
    std::atomic<std::uint64_t> pending{0};
    REQUIRE(tx.attach(chain, pending, ipckit::detail::sys::self().pack()));
    CHECK(tx.try_push(make_tick(0)) == errc::closed);
    CHECK(chunks_of(name).empty());  // nobody else would remove it now
}

// ---- white box: take-overs ------------------------------------------------------------------

TEST_CASE("unbounded queue: a receiver that takes over removes the chunks its predecessor read to the end but "
          "did not remove",
          "[unit]") {
    scoped_queue name;
    auto q = uq::create(name);
    auto tx = q.sender();
    for (std::uint64_t i = 0; i < 3 * per_chunk + 5; ++i) REQUIRE(tx.send(make_tick(i)));
    REQUIRE(chunks_of(name).size() == 4);

    // As a receiver killed after storing head (and its check) past chunk 1's end, before
    // removing chunks 0, 1.
    head_view<uq> v(name);
    v.chain().head_check.store(~std::uint64_t{2 * per_chunk}, std::memory_order_relaxed);
    v.chain().head.store(2 * per_chunk, std::memory_order_release);
    CHECK(q.allocated_bytes() == 4 * 4096);

    auto rx = q.receiver<ipckit::non_blocking>();
    CHECK(chunks_of(name).size() == 2);
    CHECK(q.allocated_bytes() == 2 * 4096);
    CHECK(drain_in_order(rx, 2 * per_chunk) == per_chunk + 5);
    CHECK(chunks_of(name).size() == 1);
}

TEST_CASE("unbounded queue: a receiver refuses to attach to inconsistent indices", "[unit]") {
    scoped_queue name;
    auto q = uq::create(name);
    auto tx = q.sender();
    REQUIRE(tx.send(make_tick(0)));
    head_view<uq> v(name);
    v.chain().head.store(5, std::memory_order_release);  // past the tail
    CHECK(setup_errc([&] { return q.receiver(); }) == errc::corrupt);
    v.chain().head.store(0, std::memory_order_release);
    v.chain().tail.store(uq::slots_per_chunk * 7, std::memory_order_release);  // past the last chunk
    CHECK(setup_errc([&] { return q.receiver(); }) == errc::corrupt);
    v.chain().tail.store(1, std::memory_order_release);
    auto rx = q.receiver<ipckit::non_blocking>();
    CHECK(drain_in_order(rx, 0) == 1);
}

TEST_CASE("unbounded queue: a sender that needs a chunk another live sender is creating waits for it (blocking) "
          "or would block (non-blocking)",
          "[unit]") {
    scoped_queue name;
    auto q = multi_uq::create(name);
    auto rx = q.receiver<ipckit::non_blocking>();
    auto btx = q.sender();
    auto ntx = q.sender<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < per_chunk; ++i) REQUIRE(btx.send(make_tick(i)));  // chunk 0 full

    // This (live) process holds the grower word, as a sender in the middle of creating chunk 1.
    head_view<multi_uq> v(name);
    const std::uint64_t me = ipckit::detail::sys::self().pack();
    std::uint64_t idle = ipckit::detail::chain_control::idle;
    REQUIRE(v.chain().grower.compare_exchange_strong(idle, me));

    CHECK(err(ntx.send(make_tick(per_chunk))) == errc::would_block);
    CHECK(err(btx.send(make_tick(per_chunk), 20ms)) == errc::timed_out);
    CHECK(q.depth() == per_chunk);

    auto pending = std::async(std::launch::async, [&btx] { return err(btx.send(make_tick(per_chunk), patience)); });
    CHECK(pending.wait_for(short_wait) == std::future_status::timeout);
    // It lets go without creating the chunk: the waiter creates it.
    v.chain().grower.store(ipckit::detail::chain_control::idle, std::memory_order_release);
    v.sh().chunk_bell.ring();
    CHECK(pending.get() == errc::ok);
    CHECK(drain_in_order(rx, 0) == per_chunk + 1);
}

TEST_CASE("unbounded queue: a sender waiting for a chunk another live sender is creating gets closed at close() and "
          "at remove()",
          "[unit]") {
    const bool by_remove = GENERATE(false, true);
    scoped_queue name;
    ipckit::unbounded_options slow;
    slow.liveness_interval = 1h;  // no look at the grower's liveness wakes it meanwhile
    auto q = multi_uq::create(name, slow);
    auto tx = q.sender();
    for (std::uint64_t i = 0; i < per_chunk; ++i) REQUIRE(tx.send(make_tick(i)));  // chunk 0 full
    head_view<multi_uq> v(name);
    std::uint64_t idle = ipckit::detail::chain_control::idle;
    REQUIRE(v.chain().grower.compare_exchange_strong(idle, ipckit::detail::sys::self().pack()));  // creating chunk 1

    auto pending = std::async(std::launch::async, [&tx] { return err(tx.send(make_tick(per_chunk), 1h)); });
    ipckit_test::let_go let_it_go(pending, [&] {
        v.chain().grower.store(ipckit::detail::chain_control::idle);
        v.sh().chunk_bell.ring();
    });
    REQUIRE(ipckit_test::eventually([&] {  // asleep, as its place says
        for (const auto& p : v.sh().senders.places)
            if (p.asleep.load() != 0) return true;
        return false;
    }));
    if (by_remove)
        multi_uq::remove(name);  // after waiting for the grower (it lives) up to init_timeout
    else
        q.close();
    const bool woke = pending.wait_for(patience) == std::future_status::ready;
    CHECK(woke);  // not at its deadline, an hour on
    if (!woke) let_it_go();  // to end the test
    CHECK(pending.get() == errc::closed);
}

// ---- a first attach racing with the other side ---------------------------------------------

TEST_CASE("unbounded queue stress: a receiver attaching while a sender sends, or a sender while the receiver "
          "polls, is never taken for one that has closed",
          "[stress]") {
    constexpr int rounds = 2000;
    scoped_queue name;
    int refused = 0;     // sends that returned closed while the receiver was attaching
    int ended = 0;       // receives that returned closed while the sender was attaching
    for (int round = 0; round < rounds; ++round) {
        auto q = uq::create(name);
        std::atomic<bool> stop{false};
        std::atomic<int> started{0};
        if (round % 2 == 0) {
            std::thread sender([&, tx = q.sender<ipckit::non_blocking>()]() mutable {
                for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
                    if (i == 0) started.store(1);
                    if (err(tx.send(make_tick(i))) == errc::closed) ++refused;
                }
            });
            while (started.load() == 0) std::this_thread::yield();
            auto rx = q.receiver<ipckit::non_blocking>();
            stop = true;
            sender.join();
        } else {
            std::thread receiver([&, rx = q.receiver<ipckit::non_blocking>()]() mutable {
                for (bool first = true; !stop.load(std::memory_order_relaxed); first = false) {
                    if (first) started.store(1);
                    if (err(rx.receive()) == errc::closed) ++ended;
                }
            });
            while (started.load() == 0) std::this_thread::yield();
            auto tx = q.sender<ipckit::non_blocking>();
            stop = true;
            receiver.join();
        }
    }
    CHECK(refused == 0);
    CHECK(ended == 0);
}

// ---- threads --------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("unbounded queue: a producer thread passes 1e5 messages in order to a consumer thread through "
                   "many chunks",
                   "[unit]", ipckit::spin, ipckit::futex, ipckit::adaptive) {
    using queue_t = ipckit::queue<tick, ipckit::unbounded<4096>, ipckit::single, ipckit::single, TestType>;
    constexpr std::uint64_t n = 100'000;
    scoped_queue name;
    auto q = queue_t::create(name);
    auto rx = q.receiver();

    const auto out = ipckit_test::stream_through_threads(q.sender(), rx, n);
    CHECK(out.sender_error == errc::ok);
    CHECK(out.received == n);
    CHECK(out.wrong == 0);
    CHECK(out.end == errc::closed);
    CHECK(chunks_of(name).size() <= 1);
}

TEST_CASE("unbounded queue: four producer threads and a consumer thread: each producer's messages exactly once and "
          "in order",
          "[unit]") {
    constexpr std::uint64_t producers = 4;
    constexpr std::uint64_t per_producer = 20'000;
    scoped_queue name;
    ipckit::unbounded_options opt;
    opt.cap_bytes = 64 << 20;
    auto q = multi_uq::create(name, opt);
    auto rx = q.receiver();

    std::vector<errc> errors(producers, errc::ok);
    std::vector<std::thread> threads;
    for (std::uint64_t p = 0; p < producers; ++p) {
        threads.emplace_back([p, &errors, tx = q.sender()]() mutable {
            for (std::uint64_t i = 0; i < per_producer; ++i) {
                const std::uint64_t seq = (p << 32) | i;
                if (const auto s = tx.send(make_tick(seq)); !s) {
                    errors[p] = s.error();
                    return;
                }
            }
        });
    }

    // The closed rule: a queue of many producers ends when it is closed as a whole, once they
    // are done.
    std::thread closer([&] {
        for (auto& t : threads) t.join();
        q.close();
    });

    std::vector<std::uint64_t> next(producers, 0);
    std::uint64_t wrong = 0;
    errc end = errc::ok;
    for (;;) {
        auto r = rx.receive(patience);
        if (!r) {
            end = r.error();
            break;
        }
        const std::uint64_t p = r->seq >> 32;
        if (p >= producers || (r->seq & 0xffffffffULL) != next[p] || r->check != check_of(r->seq))
            ++wrong;
        else
            ++next[p];
    }
    closer.join();
    for (std::uint64_t p = 0; p < producers; ++p) {
        CHECK(errors[p] == errc::ok);
        CHECK(next[p] == per_producer);
    }
    CHECK(wrong == 0);
    CHECK(end == errc::closed);
    CHECK(chunks_of(name).size() <= 1);
}
