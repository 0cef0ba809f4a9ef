// Tests of the one move of a byte ring's tail backwards (many senders): a loan published or
// committed short gives back the unused end of its run where nobody has claimed after it
// ("shrink": "Loans of records" at the top of detail/ring/bytes.hpp). Pinned down here: the
// tail never comes back to the end of a run once another sender has claimed after it (so a
// holder's shrink never takes back room that is someone else's); a holder that died at each
// step of a shrink loses its own messages and nothing else, and leaves the ring whole; and an
// inspector that read the tail before a shrink does not take the records claimed after it for
// damage. Across processes, a sender SIGKILLed wherever it is in a stream of loans published
// short (in one of a shrink's steps at times, by chance) loses at most its last run.
//
// A holder dead part way through a shrink is laid out through a second mapping of the segment
// (the library has no hook to stop a holder between two of its stores), in a sender place that
// no live process holds, step by step as publish_run writes it.

#include "backdoor.hpp"
#include "byte_messages.hpp"
#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/inspect.hpp>
#include <ipckit/queue.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::write_in_place;
using ipckit_test::backdoor;
using ipckit_test::child;
using ipckit_test::err;
using ipckit_test::patience;
using ipckit_test::pattern;
using ipckit_test::quick_liveness;
using ipckit_test::same;
using ipckit_test::scoped_name;

namespace {

constexpr std::size_t max_bytes = 100;
constexpr std::size_t ring_bytes = 4096;
using mpsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<ring_bytes>, ipckit::multi_of<4>>;
using record = ipckit::detail::bytes_record;

using ipckit_test::as_bytes;

/// Fills the ring with messages of Max bytes and drains it with receive(): every one arrives, in
/// order, whole (free space is all zeros again, or a claim would find it corrupt).
template <class Tx, class Receive>
void fills_and_drains(Tx& tx, Receive&& receive) {
    std::uint64_t n = 0;
    while (tx.send(pattern(max_bytes, n))) ++n;
    CHECK(n >= ring_bytes / record::size_for(max_bytes) - 1);
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto m = receive();
        REQUIRE(m);
        CHECK(same(*m, pattern(max_bytes, i)));
    }
}

}  // namespace

// ---- the tail never comes back to the end of a run claimed past -----------------------------

TEST_CASE("bytes shrink: a loan published short after another sender's loan was claimed does not take the tail "
          "back, whatever that loan did (committed 0 bytes, committed short, abandoned)",
          "[unit]") {
    scoped_name name("bytes-shrink");
    auto q = mpsc::create(name);
    auto first = q.sender<ipckit::non_blocking>();
    auto second = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    backdoor<mpsc> door(name);
    auto& tail = door.ring().tail;
    // Rounds enough to wrap the ring several times.
    for (std::uint64_t round = 0; round < 3 * ring_bytes / 400; ++round) {
        const int after = static_cast<int>(round % 3);
        INFO("round " << round << ", the second loan " << (after == 0 ? "commits 0 bytes" : after == 1 ? "commits 5" : "is abandoned"));
        auto run = first.loan_records(256);
        REQUIRE(run);
        const std::uint64_t run_end = tail.load();
        auto loan = second.loan(max_bytes);  // claimed after the run: the run's end is no longer the tail
        REQUIRE(loan);
        REQUIRE(tail.load() > run_end);
        std::memset(loan->data().data(), 0x5A, loan->data().size());
        if (after == 0) REQUIRE(loan->commit(0));
        if (after == 1) REQUIRE(loan->commit(5));
        if (after == 2) loan->abandon();
        // The second loan gave back what it did not use, but never below its own start.
        CHECK(tail.load() > run_end);
        REQUIRE(write_in_place(*run, pattern(20, round)));
        REQUIRE(run->publish());
        CHECK(tail.load() > run_end);  // the run's rest became a skip record, not room again
        auto m = rx.receive();
        REQUIRE(m);
        CHECK(same(*m, pattern(20, round)));
        if (after != 2) {
            m = rx.receive();
            REQUIRE(m);
            CHECK(same(*m, std::vector<std::byte>(after == 0 ? 0 : 5, std::byte{0x5A})));
        }
        REQUIRE(first.send(pattern(30, ~round)));
        m = rx.receive();
        REQUIRE(m);
        CHECK(same(*m, pattern(30, ~round)));
        CHECK(err(rx.receive()) == errc::would_block);
        CHECK(q.depth() == 0);
    }
    fills_and_drains(first, [&rx] { return rx.receive(); });
}

// ---- a holder that died part way through a shrink -------------------------------------------

namespace {

/// How far a holder got in publishing its run short before it died (publish_run's steps).
enum class died {
    zeroing,         ///< half way through zeroing what it wrote past its records
    rewritten,       ///< its reserved header rewritten to cover its records alone, before the CAS
    claimed_after,   ///< as rewritten, but another sender claimed after the run first: the CAS fails
    skip_written,    ///< the CAS failed and the rest is a skip record, the run not yet committed
    tail_moved_back  ///< after the CAS moved the tail back, before the commit
};

/// Lays out in `door` the run of `run` bytes of a holder in the vacant sender place `place`
/// (held by no live process), with two messages written in place and a third reserved and half
/// written, publishing the two short and dead at `step`. The live sender `tx` sends `after`
/// where the step calls for another sender's claim after the run. Returns the run's start.
template <class Tx>
std::uint64_t die_shrinking(backdoor<mpsc>& door, std::size_t place, std::uint64_t run, died step, Tx& tx,
                            std::string_view after) {
    auto& sh = door.shared();
    auto& ring = sh.ring;
    REQUIRE(sh.senders.places[place].holder.load() == ipckit::detail::roster_place::vacant);
    // The claim (reserve()): pending, the CAS, the reserved header of the whole run.
    std::uint64_t pos = ring.tail.load();
    sh.senders.places[place].pending.store(pos + 1);
    REQUIRE(ring.tail.compare_exchange_strong(pos, pos + run));
    door.set_header(pos, record::record_at(record::reserved, pos, run));
    // The loan's writes: "lost-one" (its header is the run's, written last), "lost-two" (placed),
    // and 40 bytes of a third reserved but never committed.
    std::memcpy(ring.payload(pos), "lost-one", 8);
    const std::uint64_t second = pos + record::size_for(8);
    std::memcpy(ring.payload(second), "lost-two", 8);
    door.set_header(second, record::message_at(second, 8));
    const std::uint64_t end = second + record::size_for(8);
    const std::uint64_t written = end + record::size_for(40);
    REQUIRE(written <= pos + run);
    std::memset(ring.at(end), 0x5A, written - end);
    // The shrink: zero what was written past `end`, rewrite the reserved header, CAS the tail.
    ring.zero(end, step == died::zeroing ? end + (written - end) / 2 : written);
    if (step == died::zeroing) return pos;
    door.set_header(pos, record::record_at(record::reserved, pos, end - pos));
    if (step == died::claimed_after || step == died::skip_written) REQUIRE(tx.send(after));
    if (step == died::skip_written) door.set_header(end, record::record_at(record::skip, end, pos + run - end));
    if (step == died::tail_moved_back) {
        std::uint64_t t = pos + run;
        REQUIRE(ring.tail.compare_exchange_strong(t, end));
    }
    return pos;
}

}  // namespace

TEST_CASE("bytes shrink: a holder that died at any step of publishing its run short loses its messages, and "
          "nothing else",
          "[unit]") {
    const auto [step, what] = GENERATE(table<died, const char*>({
        {died::zeroing, "zeroing what it wrote past its records"},
        {died::rewritten, "with its header rewritten, before the CAS"},
        {died::claimed_after, "with its header rewritten, another sender having claimed after the run"},
        {died::skip_written, "with the rest of its run a skip record, not yet committed"},
        {died::tail_moved_back, "after the tail moved back, before the commit"},
    }));
    INFO("the holder died " << what);
    scoped_name name("bytes-shrink");
    auto q = mpsc::create(name, quick_liveness(5ms));
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver();
    backdoor<mpsc> door(name);
    auto& ring = door.ring();
    // At the start of the ring and at its end, where the run ends at the end of the lap.
    for (const std::uint64_t gap : {std::uint64_t{0}, std::uint64_t{ring_bytes - 512}}) {
        INFO("the run starts " << gap + 16 << " bytes into the lap");
        while (ring.tail.load() % ring_bytes != gap) {
            const std::uint64_t room = (gap + ring_bytes - ring.tail.load() % ring_bytes) % ring_bytes;
            REQUIRE(tx.send(pattern(std::min<std::uint64_t>(room - 8, max_bytes), room)));
            REQUIRE(rx.receive(patience));
        }
        REQUIRE(tx.send("before"));
        const bool claimed_after = step == died::claimed_after || step == died::skip_written;
        const std::uint64_t pos = die_shrinking(door, 3, 512 - record::size_for(6), step, tx, "after");
        auto m = rx.receive(patience);
        REQUIRE(m);
        CHECK(same(*m, as_bytes("before")));
        if (!claimed_after) {
            // Nothing claimed after the run: the receiver passes all that was claimed (the
            // unused rest too, zeros up to the tail), and delivers nothing of it.
            CHECK(ipckit_test::eventually([&] {
                CHECK(err(rx.receive(50ms)) == errc::timed_out);
                return ring.head.load() == ring.tail.load();
            }));
            REQUIRE(tx.send("after"));
        }
        m = rx.receive(patience);
        REQUIRE(m);
        CHECK(same(*m, as_bytes("after")));
        CHECK(err(rx.receive(20ms)) == errc::timed_out);
        CHECK(q.depth() == 0);
        CHECK(ring.head.load() > pos);
        // Free space is zeros again: the whole ring fills and drains.
        fills_and_drains(tx, [&rx] { return rx.receive(patience); });
        const auto s = ipckit::inspect(name);
        INFO(s.problem);
        CHECK(s.status == ipckit::segment_status::ok);
        door.shared().senders.places[3].pending.store(0);
    }
}

// ---- an inspector that read the tail before a shrink ----------------------------------------

TEST_CASE("bytes shrink: an inspector's walk of the records, with indices read before a shrink and a claim after "
          "it, tries again rather than reporting damage",
          "[unit]") {
    scoped_name name("bytes-shrink");
    auto q = mpsc::create(name);
    auto holder = q.sender<ipckit::non_blocking>();
    auto other = q.sender<ipckit::non_blocking>();
    backdoor<mpsc> door(name);
    auto& ring = door.ring();
    const auto* words = reinterpret_cast<const std::atomic<std::uint64_t>*>(ring.words);
    auto loan = holder.loan_records(64);
    REQUIRE(loan);
    REQUIRE(loan->capacity() == 64);
    // What an inspector reads now: head 0, tail 64 (the loan's run).
    const ipckit::detail::ring_indices before{ring.head.load(), ring.tail.load()};
    REQUIRE(write_in_place(*loan, pattern(8, 1)));
    REQUIRE(loan->publish());
    CHECK(ring.tail.load() == 16);  // the run's rest given back
    // Claimed from 16, after the shrink: its record ends past the tail the inspector read.
    REQUIRE(other.send(pattern(max_bytes, 2)));
    CHECK(ipckit::detail::count_records(words, ring_bytes, ring.head, ring.tail, before) == std::nullopt);
    const ipckit::detail::ring_indices now{ring.head.load(), ring.tail.load()};
    CHECK(ipckit::detail::count_records(words, ring_bytes, ring.head, ring.tail, now) == 2);
    const auto s = ipckit::inspect(name);
    INFO(s.problem);
    CHECK(s.status == ipckit::segment_status::ok);
    CHECK(s.depth_messages == 2);
}

// ---- a holder killed wherever it is, across processes -----------------------------------------

TEST_CASE("bytes shrink across processes: a sender SIGKILLed while it loans and publishes short, over and over, "
          "loses at most its last run, and every other message arrives in order",
          "[process]") {
    scoped_name name("bytes-shrink");
    auto q = mpsc::create(name, quick_liveness(5ms));
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    std::uint64_t parent_sent = 0;
    std::uint64_t parent_next = 0;
    // What arrived: numbered messages of this process (0) and of the child (1), each in order.
    auto take = [&](std::uint64_t& child_next) {
        for (;;) {
            auto m = rx.receive();
            if (!m) {
                CHECK(m.error() == errc::would_block);  // never corrupt
                return;
            }
            std::uint32_t p = 0;
            std::uint64_t s = 0;
            REQUIRE(ipckit_test::numbered(*m, max_bytes, p, s));
            REQUIRE(p <= 1);
            CHECK(s == (p == 0 ? parent_next : child_next));
            ++(p == 0 ? parent_next : child_next);
        }
    };
    for (std::uint64_t round = 0; round < 6; ++round) {
        INFO("round " << round);
        // Loans of 1 to 9 records' worth, published with fewer messages than fit (none: given
        // back whole), the rest given back at once (shrink; what was written there zeroed) or,
        // where this process claimed after it, as a skip record.
        child holder([&name] {
            auto own = mpsc::open(name, quick_liveness(5ms)).sender();
            std::uint64_t s = 0;  // the next message's number
            for (std::uint64_t i = 0;; ++i) {
                const std::uint64_t key = ipckit_test::mix(i);
                auto loan = own.loan_records(record::size_for(max_bytes) * (1 + key % 9));
                if (!loan) return 1;
                for (std::uint64_t k = key / 9 % 4; k > 0; --k) {
                    const auto m = ipckit_test::numbered_message(1, s, max_bytes);
                    std::byte* to = loan->reserve(m.size());
                    if (to == nullptr) break;
                    std::memcpy(to, m.data(), m.size());
                    if (!loan->commit(m.size())) return 2;
                    ++s;
                }
                // At times, room for one more reserved and written, then not committed after all.
                if (std::byte* to = key % 3 == 0 ? loan->reserve(50) : nullptr) std::memset(to, 0x5A, 50);
                if (!loan->publish()) return 3;
            }
        });
        std::uint64_t child_next = 0;
        const std::uint64_t kill_after = 50 + 97 * round;
        const auto until = std::chrono::steady_clock::now() + patience;
        while (child_next < kill_after && std::chrono::steady_clock::now() < until) {
            const auto sent = tx.send(ipckit_test::numbered_message(0, parent_sent, max_bytes));
            if (sent)
                ++parent_sent;
            else
                CHECK(sent.error() == errc::would_block);  // never corrupt
            take(child_next);
        }
        REQUIRE(child_next >= kill_after);
        CHECK(holder.kill() == ipckit_test::killed_by_sigkill);
        // The dead holder's last run (if it held one) is passed: this process's next message
        // arrives, after every earlier one.
        while (!tx.send(ipckit_test::numbered_message(0, parent_sent, max_bytes))) take(child_next);
        ++parent_sent;
        const auto last = std::chrono::steady_clock::now() + patience;
        while (parent_next < parent_sent && std::chrono::steady_clock::now() < last) take(child_next);
        REQUIRE(parent_next == parent_sent);
        CHECK(q.depth() == 0);
    }
    fills_and_drains(tx, [&rx] { return rx.receive(); });
}
