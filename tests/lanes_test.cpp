// Tests of ipckit::queue<T, bounded<N>, lanes<Max>>, in one process: a lane per sender, merged
// round robin by the one receiver (detail/ring/lanes.hpp). What a user observes: each sender's
// messages in order; bounded<N> is N per lane (one sender's full lane leaves the others room);
// the merge is fair (no lane starves while another is always full), batch for batch too, and for
// a sender that comes after the receiver has looked; a place given up is a lane used again; the
// layout says lanes, so a shared-ring queue of the same name does not open it; damaged shared
// memory (in_use moved back, a lane's indices) hides no sender's messages and stops no other lane.
// The promises every queue kind makes (blocking, deadlines, closed, peer death) are the contract
// scenarios' (tests/contract/, adapter fixed_lanes); a sender killed mid-traffic is
// lanes_process_test's.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

using ipckit::errc;
using ipckit_test::check_of;
using ipckit_test::err;
using ipckit_test::make_tick;
using ipckit_test::quick_liveness;
using ipckit_test::scoped_name;
using ipckit_test::tick;

namespace {

constexpr std::size_t per_lane = 4;
using lanes3 = ipckit::queue<tick, ipckit::bounded<per_lane>, ipckit::lanes<3>>;
using nb = ipckit::non_blocking;

/// Tick i of sender s.
constexpr std::uint64_t seq_of(std::uint64_t s, std::uint64_t i) { return (s << 32) | i; }

/// Sends non-blocking until the sender's lane is full; how many went.
template <class Tx>
std::uint64_t fill(Tx& tx, std::uint64_t s, std::uint64_t& next) {
    std::uint64_t n = 0;
    while (tx.send(make_tick(seq_of(s, next)))) {
        ++next;
        ++n;
    }
    return n;
}

/// A lanes queue with its receiver and three senders: lanes 0, 1 and 2, in attach order.
struct three_senders {
    scoped_name name;
    lanes3 q = lanes3::create(name.str(), quick_liveness());
    struct endpoints {
        ipckit::receiver<lanes3, nb> rx;
        ipckit::sender<lanes3, nb> busy, quiet, third;
    } ends{q.receiver<nb>(), q.sender<nb>(), q.sender<nb>(), q.sender<nb>()};
};

}  // namespace

TEST_CASE("lanes: each sender's messages arrive in order, interleaved round robin", "[unit]") {
    scoped_name name;
    auto q = lanes3::create(name.str(), quick_liveness());
    auto rx = q.receiver<nb>();
    auto a = q.sender<nb>();
    auto b = q.sender<nb>();
    for (std::uint64_t i = 0; i < per_lane; ++i) {
        REQUIRE(err(a.send(make_tick(seq_of(0, i)))) == errc::ok);
        REQUIRE(err(b.send(make_tick(seq_of(1, i)))) == errc::ok);
    }
    CHECK(q.depth() == 2 * per_lane);
    std::vector<std::uint64_t> got;
    while (auto r = rx.receive()) {
        CHECK(r->check == check_of(r->seq));
        got.push_back(r->seq);
    }
    // Both lanes always had a message: they take turns, each in its own order.
    std::vector<std::uint64_t> turns;
    for (std::uint64_t i = 0; i < per_lane; ++i) {
        turns.push_back(seq_of(0, i));
        turns.push_back(seq_of(1, i));
    }
    CHECK(got == turns);
    CHECK(err(rx.receive()) == errc::would_block);
}

TEST_CASE("lanes: bounded<N> is N per lane: a full lane leaves the other senders room", "[unit]") {
    scoped_name name;
    auto q = lanes3::create(name.str(), quick_liveness());
    auto rx = q.receiver<nb>();
    auto a = q.sender<nb>();
    auto b = q.sender<nb>();
    std::uint64_t next_a = 0;
    std::uint64_t next_b = 0;
    CHECK(fill(a, 0, next_a) == per_lane);
    CHECK(err(a.send(make_tick(seq_of(0, next_a)))) == errc::would_block);
    CHECK(fill(b, 1, next_b) == per_lane);  // a's full lane takes nothing from b's
    CHECK(q.depth() == 2 * per_lane);
    // One receive frees one slot, in the lane it came from (a's: the merge starts at lane 0).
    auto r = rx.receive();
    REQUIRE(r);
    CHECK(r->seq == seq_of(0, 0));
    CHECK(err(b.send(make_tick(seq_of(1, next_b)))) == errc::would_block);
    CHECK(err(a.send(make_tick(seq_of(0, next_a)))) == errc::ok);
}

TEST_CASE("lanes: the merge is fair: no lane starves while another is always full", "[unit]") {
    three_senders lanes;
    auto& [rx, busy, quiet, third] = lanes.ends;
    std::uint64_t next_busy = 0;
    std::uint64_t next_third = 0;
    // The busy lane is full before every receive, the third one too; the quiet one sends a
    // message now and then. Each of its messages must come within one turn of the lanes (3
    // receives), however many the busy lanes hold: a merge that favoured a lane, or went back to
    // the first one each time, would starve it.
    constexpr std::uint64_t rounds = 200;
    std::uint64_t quiet_received = 0;
    std::uint64_t longest_wait = 0;
    for (std::uint64_t k = 0; k < rounds; ++k) {
        REQUIRE(err(quiet.send(make_tick(seq_of(1, k)))) == errc::ok);
        std::uint64_t waited = 0;
        for (;;) {
            (void)fill(busy, 0, next_busy);
            (void)fill(third, 2, next_third);
            auto r = rx.receive();
            REQUIRE(r);
            ++waited;
            if (r->seq >> 32 == 1) {
                CHECK(r->seq == seq_of(1, quiet_received));
                ++quiet_received;
                break;
            }
            REQUIRE(waited < 1000);  // starved: the quiet lane's message never came
        }
        longest_wait = std::max(longest_wait, waited);
    }
    CHECK(quiet_received == rounds);
    CHECK(longest_wait <= 3);
    // And the two always-full lanes shared the rest evenly (each sent what it was given room for).
    const std::uint64_t busy_taken = next_busy - per_lane;
    const std::uint64_t third_taken = next_third - per_lane;
    CHECK((busy_taken > third_taken ? busy_taken - third_taken : third_taken - busy_taken) <= 1);
}

TEST_CASE("lanes: a sender that comes later is read in turn, though the lanes before it never run empty", "[unit]") {
    scoped_name name;
    auto q = lanes3::create(name.str(), quick_liveness());
    auto rx = q.receiver<nb>();
    auto early = q.sender<nb>();
    std::uint64_t next_early = 0;
    (void)fill(early, 0, next_early);
    auto first = rx.receive();  // the receiver has looked at the one lane there was
    REQUIRE(first);
    CHECK(first->seq == seq_of(0, 0));
    auto late = q.sender<nb>();
    REQUIRE(err(late.send(make_tick(seq_of(1, 0)))) == errc::ok);
    // The early lane is full before every receive: the late sender's message must still come
    // within one turn of the two lanes, not once the early sender stops.
    std::uint64_t waited = 0;
    for (;;) {
        (void)fill(early, 0, next_early);
        auto r = rx.receive();
        REQUIRE(r);
        ++waited;
        if (r->seq >> 32 == 1) {
            CHECK(r->seq == seq_of(1, 0));
            break;
        }
        REQUIRE(waited < 1000);  // starved: the late lane's message never came
    }
    CHECK(waited <= 2);
}

TEST_CASE("lanes: a batch receive takes a run from one lane, and no lane starves while the others are always full",
          "[unit]") {
    three_senders lanes;
    auto& [rx, busy, quiet, third] = lanes.ends;
    std::uint64_t next[3] = {0, 0, 0};
    // A batch send fills its own lane only: as many as fit now.
    const auto fill_batch = [&](auto& tx, std::uint64_t s) {
        std::array<tick, 2 * per_lane> ms;
        for (std::uint64_t i = 0; i < ms.size(); ++i) ms[i] = make_tick(seq_of(s, next[s] + i));
        const auto sent = tx.send(std::span<const tick>(ms));
        if (sent) next[s] += *sent;
        return sent;
    };
    const auto first = fill_batch(busy, 0);
    REQUIRE(first);
    CHECK(*first == per_lane);                                // a lane of per_lane slots
    CHECK(err(fill_batch(busy, 0)) == errc::would_block);     // full: none
    // Batches of twice a lane: each is a run of one lane (a whole lane at most), in that lane's
    // order; the quiet lane's message comes within one turn of the lanes however full the others.
    constexpr std::uint64_t rounds = 100;
    std::uint64_t quiet_received = 0;
    std::uint64_t longest_wait = 0;
    std::uint64_t expect[3] = {0, 0, 0};
    for (std::uint64_t k = 0; k < rounds; ++k) {
        REQUIRE(err(quiet.send(make_tick(seq_of(1, k)))) == errc::ok);
        ++next[1];
        std::uint64_t waited = 0;
        for (bool got_quiet = false; !got_quiet;) {
            (void)fill_batch(busy, 0);
            (void)fill_batch(third, 2);
            std::array<tick, 2 * per_lane> out;
            const auto r = rx.receive(std::span<tick>(out));
            REQUIRE(r);
            REQUIRE(*r >= 1);
            CHECK(*r <= per_lane);
            ++waited;
            const std::uint64_t lane = out[0].seq >> 32;
            REQUIRE(lane < 3);
            for (std::size_t i = 0; i < *r; ++i) {
                CHECK(out[i].check == check_of(out[i].seq));
                CHECK(out[i].seq == seq_of(lane, expect[lane]));  // one lane, in its order
                ++expect[lane];
            }
            if (lane == 1) {
                quiet_received += *r;
                got_quiet = true;
            }
            REQUIRE(waited < 1000);  // starved: the quiet lane's message never came
        }
        longest_wait = std::max(longest_wait, waited);
    }
    CHECK(quiet_received == rounds);
    CHECK(longest_wait <= 3);
    // The two always-full lanes took turns: each had a whole lane taken per turn.
    const std::uint64_t busy_taken = expect[0];
    const std::uint64_t third_taken = expect[2];
    CHECK((busy_taken > third_taken ? busy_taken - third_taken : third_taken - busy_taken) <= per_lane);
}

TEST_CASE("lanes: a sender stopped half-way through a send holds up only its own lane", "[unit]") {
    // A loan is a send stopped between its claim and its publish, as a preempted sender's is:
    // on the shared ring the messages claimed after it would wait behind it; here they do not.
    scoped_name name;
    auto q = lanes3::create(name.str(), quick_liveness());
    auto rx = q.receiver<nb>();
    auto stopped = q.sender<nb>();
    auto other = q.sender<nb>();
    auto loan = stopped.loan();
    REQUIRE(loan);
    loan->data() = make_tick(seq_of(0, 0));
    for (std::uint64_t i = 0; i < per_lane; ++i) REQUIRE(err(other.send(make_tick(seq_of(1, i)))) == errc::ok);
    for (std::uint64_t i = 0; i < per_lane; ++i) {
        auto r = rx.receive();
        REQUIRE(r);
        CHECK(r->seq == seq_of(1, i));
    }
    CHECK(err(rx.receive()) == errc::would_block);
    REQUIRE(loan->commit());
    auto r = rx.receive();
    REQUIRE(r);
    CHECK(r->seq == seq_of(0, 0));
}

TEST_CASE("lanes: a place let go of is a lane used again, after what is left in it", "[unit]") {
    scoped_name name;
    using lanes1 = ipckit::queue<tick, ipckit::bounded<per_lane>, ipckit::lanes<1>>;
    auto q = lanes1::create(name.str(), quick_liveness());
    auto rx = q.receiver<nb>();
    {
        auto first = q.sender<nb>();
        REQUIRE(err(first.send(make_tick(1))) == errc::ok);
        REQUIRE(err(first.send(make_tick(2))) == errc::ok);
        CHECK(ipckit_test::setup_errc([&] { (void)q.sender<nb>(); }) == errc::sender_busy);
        CHECK(ipckit_test::contains(ipckit_test::setup_message([&] { (void)q.sender<nb>(); }), "lanes<N>"));
        CHECK(ipckit_test::contains(ipckit_test::setup_message([&] { (void)q.receiver<nb>(); }), "single consumer"));
    }
    auto second = q.sender<nb>();  // the one lane, again: it holds first's two messages
    REQUIRE(err(second.send(make_tick(3))) == errc::ok);
    for (std::uint64_t want = 1; want <= 3; ++want) {
        auto r = rx.receive();
        REQUIRE(r);
        CHECK(r->seq == want);
    }
    CHECK(err(rx.receive()) == errc::would_block);
}

TEST_CASE("lanes: a sender killed between its two stores of a batch leaves its lane to the next, without the batch",
          "[unit]") {
    scoped_name name;
    using lanes1 = ipckit::queue<tick, ipckit::bounded<per_lane>, ipckit::lanes<1>>;
    auto q = lanes1::create(name.str(), quick_liveness());
    auto rx = q.receiver<nb>();
    {
        auto first = q.sender<nb>();
        REQUIRE(err(first.send(make_tick(1))) == errc::ok);
        const std::array<tick, 3> batch{make_tick(2), make_tick(3), make_tick(4)};
        REQUIRE(first.send(std::span(batch)).value() == 3);  // one store of the lane's tail
    }
    // White box: the lane as a sender killed between the check and the tail of that batch left it.
    auto seg = ipckit::segment::open(name.str(), lanes1::layout(), {});
    static_cast<lanes1::shared*>(seg.body())->ring.lanes[0].tail.store(1);
    auto second = q.sender<nb>();  // takes the lane back from the batch's start
    REQUIRE(err(second.send(make_tick(5))) == errc::ok);
    for (const std::uint64_t want : {std::uint64_t{1}, std::uint64_t{5}}) {
        auto r = rx.receive();
        REQUIRE(r);
        CHECK(r->seq == want);
    }
    CHECK(err(rx.receive()) == errc::would_block);
}

// ---- white box: damaged shared memory -------------------------------------------------------

TEST_CASE("lanes: in_use moved back inside its range: a sender's next send puts it back, and its messages are read",
          "[unit]") {
    scoped_name name;
    auto q = lanes3::create(name.str(), quick_liveness());
    auto rx = q.receiver<nb>();
    auto first = q.sender<nb>();
    auto second = q.sender<nb>();  // lane 1
    auto seg = ipckit::segment::open(name.str(), lanes3::layout(), {});
    auto& ring = static_cast<lanes3::shared*>(seg.body())->ring;
    REQUIRE(ring.in_use.load() == 2);
    ring.in_use.store(1);  // as if only lane 0 were ever attached
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(err(second.send(make_tick(seq_of(1, i)))) == errc::ok);
    CHECK(q.depth() == 3);
    for (std::uint64_t i = 0; i < 3; ++i) {
        auto r = rx.receive();
        REQUIRE(r);
        CHECK(r->seq == seq_of(1, i));
    }
    // A batch puts it back as well, from nothing at all.
    ring.in_use.store(0);
    const std::array<tick, 2> batch{make_tick(seq_of(1, 3)), make_tick(seq_of(1, 4))};
    REQUIRE(second.send(std::span(batch)).value() == 2);
    for (std::uint64_t i = 3; i < 5; ++i) {
        auto r = rx.receive();
        REQUIRE(r);
        CHECK(r->seq == seq_of(1, i));
    }
    CHECK(err(rx.receive()) == errc::would_block);
}

TEST_CASE("lanes: a lane with damaged indices is reported corrupt, and the other lanes are read on, by a receiver "
          "attached before the damage or after it",
          "[unit]") {
    const bool attach_after = GENERATE(false, true);
    CAPTURE(attach_after);
    scoped_name name;
    auto q = lanes3::create(name.str(), quick_liveness());
    using receiver = decltype(q.receiver<nb>());
    std::optional<receiver> rx(q.receiver<nb>());
    auto damaged = q.sender<nb>();  // lane 0
    auto healthy = q.sender<nb>();  // lane 1
    REQUIRE(err(damaged.send(make_tick(seq_of(0, 0)))) == errc::ok);
    REQUIRE(rx->receive());
    if (attach_after) rx.reset();
    auto seg = ipckit::segment::open(name.str(), lanes3::layout(), {});
    static_cast<lanes3::shared*>(seg.body())->ring.lanes[0].tail.fetch_add(1);  // past its check word
    for (std::uint64_t i = 0; i < per_lane; ++i) REQUIRE(err(healthy.send(make_tick(seq_of(1, i)))) == errc::ok);
    if (attach_after) rx.emplace(q.receiver<nb>());
    std::vector<std::uint64_t> got;
    std::size_t corrupt = 0;
    for (std::size_t k = 0; k < 4 * per_lane && got.size() < per_lane; ++k) {
        auto r = rx->receive();
        if (r) {
            got.push_back(r->seq);
        } else {
            CHECK(r.error() == errc::corrupt);
            ++corrupt;
        }
    }
    CHECK(got == std::vector<std::uint64_t>{seq_of(1, 0), seq_of(1, 1), seq_of(1, 2), seq_of(1, 3)});
    CHECK(corrupt >= 1);  // the damaged lane is said, not skipped silently
    CHECK(err(rx->receive()) == errc::corrupt);  // and is said again while it stays so
}

TEST_CASE("lanes: the layout says lanes: a shared-ring queue of the same message and size does not open it",
          "[unit]") {
    scoped_name name;
    auto q = lanes3::create(name.str());
    using shared_ring = ipckit::queue<tick, ipckit::bounded<per_lane>, ipckit::multi_of<3>>;
    CHECK(ipckit_test::setup_errc([&] { (void)shared_ring::open(name.str()); }) == errc::incompatible_layout);
    using other_count = ipckit::queue<tick, ipckit::bounded<per_lane>, ipckit::lanes<4>>;
    CHECK(ipckit_test::setup_errc([&] { (void)other_count::open(name.str()); }) == errc::incompatible_layout);
    CHECK(ipckit_test::contains(ipckit_test::setup_message([&] { (void)shared_ring::open(name.str()); }),
                                "per lane"));
}
