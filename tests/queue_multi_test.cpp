// Tests of ipckit::queue with many senders and/or many receivers (MPSC, SPMC, MPMC: the Vyukov
// ring of detail/ring/mpmc.hpp with the rosters of detail/sync/roster.hpp).
//
// What a user observes (DESIGN.md, invariants 5, 8, 9): every message is delivered whole and
// exactly once, each sender's messages in the order it sent them; would_block, timed_out and
// closed mean what they say with several endpoints per side; a process killed in the middle of
// a send or a receive costs at most the one message it held, and never stalls the others.
//
// Each message carries its producer, its sequence number, a payload derived from both and a
// checksum, so a torn, stale or foreign message is caught by whoever receives it. Receivers
// keep a tally (a bitmap per producer) and check that each producer's numbers only rise; the
// parent adds the tallies up and checks that every message arrived exactly once.
//
// Cross-process tests fork; children use no Catch2 macros, report what went wrong through
// child_report (and their tallies through pipes), and start no threads. Every wait is on the
// event itself (a pipe, or a blocking verb with ipckit_test::patience); nothing sleeps to order
// events. The [unit] thread tests are the ones to run under TSan; the [stress] ones push a
// million messages under each wait policy, which is what it takes to catch a race between two
// claimants of one position.
//
// Some tests reach into the queue's shared memory (Q::shared) to stop a process exactly between
// claiming a ring position and finishing with it, which a SIGKILL from outside can only hit by
// chance: the child claims a position the way the cursors' try_claim does (pending, then the
// CAS on tail or head), and SIGKILLs itself.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <csignal>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::errc_text;
using ipckit_test::killed_by_sigkill;
using ipckit_test::mix;
using ipckit_test::patience;
using ipckit_test::quick_liveness;
using ipckit_test::scoped_name;
using ipckit_test::shared_memory;
using ipckit_test::signal_pipe;

namespace {

// ---- messages -------------------------------------------------------------------------------

/// 64 bytes: who sent it, its number among that sender's, a payload derived from both, and a
/// checksum over all of it.
struct msg {
    std::uint32_t producer;
    std::uint32_t spare;
    std::uint64_t seq;
    std::uint64_t payload[5];
    std::uint64_t checksum;
};
static_assert(sizeof(msg) == 64);

constexpr std::uint64_t payload_word(std::uint32_t producer, std::uint64_t seq, std::uint64_t j) noexcept {
    return mix((std::uint64_t{producer} << 48) ^ (seq * 5 + j) ^ 0x5bd1e995ULL);
}
constexpr std::uint64_t checksum_of(const msg& m) noexcept {
    std::uint64_t h = mix(m.seq + 0x9e3779b97f4a7c15ULL) ^ mix(std::uint64_t{m.producer} + 1) ^ m.spare;
    for (const std::uint64_t w : m.payload) h = mix(h ^ w);
    return h;
}
constexpr msg make_msg(std::uint32_t producer, std::uint64_t seq) noexcept {
    msg m{};
    m.producer = producer;
    m.seq = seq;
    for (std::uint64_t j = 0; j < 5; ++j) m.payload[j] = payload_word(producer, seq, j);
    m.checksum = checksum_of(m);
    return m;
}
/// Whole and genuine: its checksum holds and its payload is the one its producer and number say.
constexpr bool well_formed(const msg& m) noexcept {
    if (m.checksum != checksum_of(m) || m.spare != 0) return false;
    for (std::uint64_t j = 0; j < 5; ++j)
        if (m.payload[j] != payload_word(m.producer, m.seq, j)) return false;
    return true;
}

/// One receiver's view: which messages of each producer it got (a bitmap), checking as it goes
/// that each is well formed, in range, new, and later than the last it got from that producer.
class tally {
public:
    tally(std::size_t producers, std::uint64_t limit)
        : producers_(producers), words_((limit + 63) / 64), limit_(limit), bits_(producers * words_, 0),
          next_(producers, 0) {}

    /// as_expected, or what is wrong with `m` in a sentence.
    std::string take(const msg& m) {
        const auto which = [&] { return "producer " + std::to_string(m.producer) + "'s seq " + std::to_string(m.seq); };
        if (!well_formed(m)) return "received a torn, stale or made-up message (as " + which() + ")";
        if (m.producer >= producers_ || m.seq >= limit_) return "received " + which() + ", which nobody sent";
        if (m.seq < next_[m.producer])
            return "received " + which() + " after its seq " + std::to_string(next_[m.producer] - 1);
        next_[m.producer] = m.seq + 1;
        std::uint64_t& w = bits_[m.producer * words_ + m.seq / 64];
        const std::uint64_t bit = std::uint64_t{1} << (m.seq % 64);
        if ((w & bit) != 0) return "received " + which() + " twice";
        w |= bit;
        ++count_;
        return as_expected;
    }
    [[nodiscard]] const std::vector<std::uint64_t>& bits() const noexcept { return bits_; }
    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::size_t bytes() const noexcept { return bits_.size() * sizeof(std::uint64_t); }

    /// A receiving child's bitmaps through `to`, written whatever happened (before it reports a
    /// failure through its child_report). The parent reads them before it reaps the child, so
    /// that bitmaps larger than the pipe can hold do not block the child for ever.
    void report(const signal_pipe& to) const noexcept { to.put(bits_.data(), bytes()); }

private:
    std::size_t producers_;
    std::size_t words_;
    std::uint64_t limit_;
    std::vector<std::uint64_t> bits_;
    std::vector<std::uint64_t> next_;
    std::uint64_t count_ = 0;
};

/// The parent's sum of what every receiver got: how often each (producer, seq) arrived.
class census {
public:
    census(std::size_t producers, std::uint64_t limit) : limit_(limit), times_(producers * limit, 0) {}

    void add(std::uint32_t producer, std::uint64_t seq) { ++times_.at(producer * limit_ + seq); }
    void add_bits(const std::vector<std::uint64_t>& bits) {
        const std::size_t words = (limit_ + 63) / 64;
        for (std::size_t p = 0; p * words < bits.size(); ++p)
            for (std::uint64_t s = 0; s < limit_; ++s)
                if ((bits[p * words + s / 64] >> (s % 64)) & 1U) add(static_cast<std::uint32_t>(p), s);
    }
    /// Reads a receiving child's bitmaps (see tally::report) from `from` and adds them; whether
    /// they came whole.
    [[nodiscard]] bool add_report(const signal_pipe& from, std::size_t producers) {
        std::vector<std::uint64_t> bits(producers * ((limit_ + 63) / 64));
        if (!from.get(bits.data(), bits.size() * sizeof(std::uint64_t))) return false;
        add_bits(bits);
        return true;
    }

    [[nodiscard]] std::uint64_t times(std::uint32_t producer, std::uint64_t seq) const {
        return times_.at(producer * limit_ + seq);
    }
    /// Messages that arrived more than once (counting each extra arrival).
    [[nodiscard]] std::uint64_t repeats() const {
        std::uint64_t n = 0;
        for (const auto t : times_) n += t > 1 ? t - 1 : 0;
        return n;
    }
    /// Numbers in [from, to) of `producer` that never arrived.
    [[nodiscard]] std::uint64_t missing(std::uint32_t producer, std::uint64_t from, std::uint64_t to) const {
        std::uint64_t n = 0;
        for (std::uint64_t s = from; s < to; ++s) n += times(producer, s) == 0;
        return n;
    }
    /// One past the highest number of `producer` that arrived (0 if none did).
    [[nodiscard]] std::uint64_t end_of(std::uint32_t producer) const {
        for (std::uint64_t s = limit_; s > 0; --s)
            if (times(producer, s - 1) != 0) return s;
        return 0;
    }

private:
    std::uint64_t limit_;
    std::vector<std::uint32_t> times_;
};

/// For a receiving child or thread: receives into `t` until the queue ends, which must be with
/// `end` (closed, or peer_dead when a sender was killed), calling each() after each message it
/// took. as_expected or what went wrong.
template <class Rx>
std::string receive_until_end(Rx& rx, tally& t, errc end, const std::function<void()>& each = [] {},
                              std::size_t batch = 0) {
    std::vector<msg> got(batch);
    for (;;) {
        if (batch > 0) {
            // Batches of up to `batch`: at least one each, every one of them checked.
            const auto n = rx.receive(std::span<msg>(got), patience);
            if (!n && n.error() == end) return as_expected;
            if (!n) return "received " + errc_text(n.error()) + " where it expected a batch or " + errc_text(end);
            if (*n == 0 || *n > batch) return "received a batch of " + std::to_string(*n) + " of at most " + std::to_string(batch);
            for (std::size_t i = 0; i < *n; ++i) {
                if (auto e = t.take(got[i]); e != as_expected) return e;
                each();
            }
            continue;
        }
        auto r = rx.receive(patience);
        if (!r && r.error() == end) return as_expected;
        if (!r) return "received " + errc_text(r.error()) + " where it expected a message or " + errc_text(end);
        if (auto e = t.take(*r); e != as_expected) return e;
        each();
    }
}

/// For a sending child or thread: sends numbers [first, last) of `producer`; as_expected, or
/// which send failed and why.
template <class Tx>
std::string send_range(Tx& tx, std::uint32_t producer, std::uint64_t first, std::uint64_t last, std::size_t batch = 0) {
    if (batch > 0) {
        // Batches of 1, 2, ... batch messages in turn: each send(span) must send all of them.
        std::vector<msg> ms;
        for (std::uint64_t s = first, k = 1; s < last; s += ms.size(), k = k % batch + 1) {
            ms.clear();
            for (std::uint64_t i = s; i < last && i < s + k; ++i) ms.push_back(make_msg(producer, i));
            const auto n = tx.send(std::span<const msg>(ms), patience);
            if (!n || *n != ms.size())
                return "sending producer " + std::to_string(producer) + "'s seqs from " + std::to_string(s) + " gave " +
                       (n ? std::to_string(*n) + " of " + std::to_string(ms.size()) : errc_text(n.error()));
        }
        return as_expected;
    }
    for (std::uint64_t s = first; s < last; ++s)
        if (const auto r = tx.send(make_msg(producer, s), patience); !r)
            return "sending producer " + std::to_string(producer) + "'s seq " + std::to_string(s) + " gave " +
                   errc_text(r.error()) + " where it expected errc(ok)";
    return as_expected;
}

// ---- white box: a claim left unfinished -------------------------------------------------------

/// The roster place this process holds in `r` (the one its endpoint claimed), or Max if none.
template <std::size_t Max>
std::size_t place_of_this_process(const ipckit::detail::roster<Max>& r) {
    const std::uint64_t me = ipckit::detail::sys::self().pack();
    for (std::size_t i = 0; i < Max; ++i)
        if (r.places[i].holder.load(std::memory_order_acquire) == me) return i;
    return Max;
}

/// What a producer's try_claim does: pending = tail + 1, then tail: tail -> tail + 1. The
/// slot is then neither written nor published. False if there is no free slot at the tail.
template <class Shared>
bool claim_tail_without_publishing(Shared& sh, std::atomic<std::uint64_t>& pending) {
    constexpr std::size_t n = sizeof(sh.ring.slots) / sizeof(sh.ring.slots[0]);
    std::uint64_t t = sh.ring.tail.load(std::memory_order_acquire);
    if (sh.ring.slots[t % n].seq.load(std::memory_order_acquire) != t) return false;
    pending.store(t + 1, std::memory_order_relaxed);
    return sh.ring.tail.compare_exchange_strong(t, t + 1, std::memory_order_acq_rel);
}

/// What a consumer's try_claim does: pending = head + 1, then head: head -> head + 1. The
/// message is then neither read nor its slot released. False if no message is at the head.
template <class Shared>
bool claim_head_without_releasing(Shared& sh, std::atomic<std::uint64_t>& pending) {
    constexpr std::size_t n = sizeof(sh.ring.slots) / sizeof(sh.ring.slots[0]);
    std::uint64_t h = sh.ring.head.load(std::memory_order_acquire);
    if (sh.ring.slots[h % n].seq.load(std::memory_order_acquire) != h + 1) return false;
    pending.store(h + 1, std::memory_order_relaxed);
    return sh.ring.head.compare_exchange_strong(h, h + 1, std::memory_order_acq_rel);
}

/// For a child: attaches a sender to `name`, claims the position at the tail without
/// publishing it, and SIGKILLs itself: a producer killed between claim and publish.
template <class Q>
void die_claiming_tail(child_report& r, const std::string& name) {
    auto qc = Q::open(name);
    auto tx = qc.sender();
    auto seg = ipckit::segment::open(name, Q::layout(), {});
    auto& sh = *static_cast<typename Q::shared*>(seg.body());
    const std::size_t i = place_of_this_process(sh.senders);
    r.check(i != Q::max_senders, "a sender place of its own");
    r.check(claim_tail_without_publishing(sh, sh.senders.places[i].pending), "a free slot to claim at the tail");
    ::raise(SIGKILL);
}

/// For a child: attaches a receiver to `name`, claims the message at the head without reading
/// it or releasing its slot, and SIGKILLs itself: a consumer killed in the middle of a receive.
template <class Q>
void die_claiming_head(child_report& r, const std::string& name) {
    auto qc = Q::open(name);
    auto rx = qc.receiver();
    auto seg = ipckit::segment::open(name, Q::layout(), {});
    auto& sh = *static_cast<typename Q::shared*>(seg.body());
    const std::size_t i = place_of_this_process(sh.receivers);
    r.check(i != Q::max_receivers, "a receiver place of its own");
    r.check(claim_head_without_releasing(sh, sh.receivers.places[i].pending), "a message to claim at the head");
    ::raise(SIGKILL);
}

// ---- queue shapes ---------------------------------------------------------------------------

template <class Producers, class Consumers, std::size_t NP, std::size_t NC>
struct shape {
    using queue = ipckit::queue<msg, ipckit::bounded<64>, Producers, Consumers>;
    static constexpr std::size_t producers = NP;
    static constexpr std::size_t consumers = NC;
};
using mpmc_4x4 = shape<ipckit::multi, ipckit::multi, 4, 4>;
using mpsc_4x1 = shape<ipckit::multi, ipckit::single, 4, 1>;
using spmc_1x4 = shape<ipckit::single, ipckit::multi, 1, 4>;

using mpmc4 = ipckit::queue<msg, ipckit::bounded<4>, ipckit::multi, ipckit::multi>;
using mpmc8 = ipckit::queue<msg, ipckit::bounded<8>, ipckit::multi, ipckit::multi>;
using mpmc64 = ipckit::queue<msg, ipckit::bounded<64>, ipckit::multi, ipckit::multi>;
using spmc64 = ipckit::queue<msg, ipckit::bounded<64>, ipckit::single, ipckit::multi>;
using pair8 = ipckit::queue<msg, ipckit::bounded<8>, ipckit::multi_of<2>, ipckit::multi_of<2>>;

/// What attaching an endpoint with `attach` threw: its errc, or ok if it did not throw.
template <class F>
errc attach_error(F&& attach) {
    try {
        auto endpoint = attach();
        return errc::ok;
    } catch (const ipckit::error& e) {
        return e.reason();
    }
}

/// Sends per_producer messages from each of np sender processes to nc receiver processes and
/// checks that every message arrived exactly once, whole, and in its producer's order.
/// With `batch` > 0, in batches of up to that many (the batch verbs), else one message a call.
template <class Q>
void check_exactly_once_across_processes(std::size_t np, std::size_t nc, std::uint64_t per_producer,
                                         std::size_t batch = 0) {
    scoped_name name("queue-multi");
    auto q = Q::create(name);
    signal_pipe attached, go;
    std::vector<std::unique_ptr<signal_pipe>> reports;
    for (std::size_t c = 0; c < nc; ++c) reports.push_back(std::make_unique<signal_pipe>());

    std::vector<child_report> consumer_reports(nc), producer_reports(np);
    std::vector<child> consumers;
    for (std::size_t c = 0; c < nc; ++c) {
        consumers.push_back(consumer_reports[c].spawn([&, c](child_report& r) {
            auto qc = Q::open(name);
            auto rx = qc.receiver();
            attached.post();
            tally t(np, per_producer);
            const std::string e = receive_until_end(rx, t, errc::closed, [] {}, batch);
            t.report(*reports[c]);
            r.expect(e);
        }));
    }
    // Every sender attaches before any sends: a sender that finished and closed before another
    // attached would rightly end the queue for the receivers.
    std::vector<child> producers;
    for (std::size_t p = 0; p < np; ++p) {
        producers.push_back(producer_reports[p].spawn([&, p](child_report& r) {
            auto qc = Q::open(name);
            auto tx = qc.sender();
            attached.post();
            r.check(go.wait(), "the go signal");
            r.expect(send_range(tx, static_cast<std::uint32_t>(p), 0, per_producer, batch));
        }));
    }
    attached.close_write();
    for (std::size_t i = 0; i < np + nc; ++i) REQUIRE(attached.wait());
    go.post(np);

    for (std::size_t p = 0; p < np; ++p) {
        INFO("producer " << p);
        CHECK(producer_reports[p].finish(producers[p]) == as_expected);
    }
    // The closed rule: a queue of many producers ends when it is closed as a whole.
    if constexpr (Q::max_senders > 1) q.close();
    census all(np, per_producer);
    for (std::size_t c = 0; c < nc; ++c) {
        INFO("consumer " << c);
        CHECK(all.add_report(*reports[c], np));
        CHECK(consumer_reports[c].finish(consumers[c]) == as_expected);
    }
    CHECK(all.repeats() == 0);
    for (std::size_t p = 0; p < np; ++p) {
        INFO("producer " << p);
        CHECK(all.missing(static_cast<std::uint32_t>(p), 0, per_producer) == 0);
    }
}

/// As check_exactly_once_across_processes, with np sender threads and nc receiver threads.
template <class Q>
void check_exactly_once_across_threads(std::size_t np, std::size_t nc, std::uint64_t per_producer, std::size_t batch = 0) {
    scoped_name name("queue-multi");
    auto q = Q::create(name);

    // Every endpoint attaches before any thread starts: see the process version.
    std::vector<ipckit::sender<Q>> txs;
    std::vector<ipckit::receiver<Q>> rxs;
    for (std::size_t p = 0; p < np; ++p) txs.push_back(q.sender());
    for (std::size_t c = 0; c < nc; ++c) rxs.push_back(q.receiver());

    std::vector<tally> tallies(nc, tally(np, per_producer));
    std::vector<std::string> consumer_outcomes(nc);
    std::vector<std::string> producer_outcomes(np);
    std::vector<std::thread> consumers, producers;
    for (std::size_t c = 0; c < nc; ++c)
        consumers.emplace_back([&, c] {
            consumer_outcomes[c] = receive_until_end(rxs[c], tallies[c], errc::closed, [] {}, batch);
            rxs[c].close();
        });
    for (std::size_t p = 0; p < np; ++p)
        producers.emplace_back([&, p] {
            producer_outcomes[p] = send_range(txs[p], static_cast<std::uint32_t>(p), 0, per_producer, batch);
            txs[p].close();
        });
    for (auto& t : producers) t.join();
    // The closed rule: a queue of many producers ends when it is closed as a whole.
    if constexpr (Q::max_senders > 1) q.close();
    for (auto& t : consumers) t.join();

    for (std::size_t p = 0; p < np; ++p) CHECK(producer_outcomes[p] == as_expected);
    census all(np, per_producer);
    std::uint64_t total = 0;
    for (std::size_t c = 0; c < nc; ++c) {
        INFO("consumer " << c);
        CHECK(consumer_outcomes[c] == as_expected);
        all.add_bits(tallies[c].bits());
        total += tallies[c].count();
    }
    CHECK(total == np * per_producer);
    CHECK(all.repeats() == 0);
    for (std::size_t p = 0; p < np; ++p) {
        INFO("producer " << p);
        CHECK(all.missing(static_cast<std::uint32_t>(p), 0, per_producer) == 0);
    }
}

}  // namespace

// ---- exactly once, each producer in order ---------------------------------------------------

TEMPLATE_TEST_CASE("multi queue across processes: every message of every producer arrives exactly once, whole and "
                   "in its producer's order",
                   "[process]", mpmc_4x4, mpsc_4x1, spmc_1x4) {
    // 80'000 (or 20'000) messages wrap the 64-slot ring 1250 (or 312) times.
    check_exactly_once_across_processes<typename TestType::queue>(TestType::producers, TestType::consumers, 20'000);
}

TEMPLATE_TEST_CASE("multi queue across threads: every message of every producer arrives exactly once, whole and in "
                   "its producer's order",
                   "[unit]", mpmc_4x4, mpsc_4x1, spmc_1x4) {
    check_exactly_once_across_threads<typename TestType::queue>(TestType::producers, TestType::consumers, 5'000);
}

// The batch verbs: runs of positions claimed with one CAS, racing single claims' and each other's.
TEMPLATE_TEST_CASE("multi queue across processes in batches: every message of every producer arrives exactly once, "
                   "whole and in its producer's order",
                   "[process]", mpmc_4x4, mpsc_4x1, spmc_1x4) {
    check_exactly_once_across_processes<typename TestType::queue>(TestType::producers, TestType::consumers, 20'000, 17);
}

TEMPLATE_TEST_CASE("multi queue across threads in batches: every message of every producer arrives exactly once, "
                   "whole and in its producer's order",
                   "[unit]", mpmc_4x4, mpsc_4x1, spmc_1x4) {
    check_exactly_once_across_threads<typename TestType::queue>(TestType::producers, TestType::consumers, 5'000, 17);
}

// A lost race between claimants (two producers, or two consumers, taking one position) shows
// only now and then: a million messages under each sleeping wait policy give it many chances.
// Spinning endpoints never yield the CPU, so with two cores they are two a side, and fewer
// messages keep the time sane in Debug and sanitizer builds.
template <class Wait>
struct load {
    static constexpr bool spins = std::is_same_v<Wait, ipckit::spin>;
    using queue = ipckit::queue<msg, ipckit::bounded<64>, ipckit::multi, ipckit::multi, Wait>;
    static constexpr std::size_t endpoints = spins ? 2 : 4;  // a side
    static constexpr std::uint64_t per_producer = spins ? 100'000 : 250'000;
};

TEMPLATE_TEST_CASE("mpmc queue across processes under load: each message arrives exactly once, whole and in its "
                   "producer's order",
                   "[stress]", ipckit::adaptive, ipckit::futex, ipckit::spin) {
    using L = load<TestType>;
    check_exactly_once_across_processes<typename L::queue>(L::endpoints, L::endpoints, L::per_producer);
}

TEMPLATE_TEST_CASE("mpmc queue across threads under load: each message arrives exactly once, whole and in its "
                   "producer's order",
                   "[stress]", ipckit::adaptive, ipckit::futex, ipckit::spin) {
    using L = load<TestType>;
    check_exactly_once_across_threads<typename L::queue>(L::endpoints, L::endpoints, L::per_producer);
}

// ---- would_block, timed_out, closed, busy ---------------------------------------------------

TEST_CASE("mpmc queue: non-blocking verbs return would_block at once on an empty and on a full queue", "[unit]") {
    scoped_name name("queue-multi");
    auto q = mpmc8::create(name);
    auto tx1 = q.sender<ipckit::non_blocking>();
    auto tx2 = q.sender<ipckit::non_blocking>();
    auto rx1 = q.receiver<ipckit::non_blocking>();
    auto rx2 = q.receiver<ipckit::non_blocking>();

    CHECK(err(rx1.receive()) == errc::would_block);
    CHECK(err(rx2.receive()) == errc::would_block);

    // Two senders, interleaved, fill the 8 slots; then neither has room.
    std::uint64_t next[2] = {0, 0};
    for (int i = 0; i < 8; ++i) {
        auto& tx = i % 2 == 0 ? tx1 : tx2;
        REQUIRE(tx.send(make_msg(static_cast<std::uint32_t>(i % 2), next[i % 2]++)));
    }
    CHECK(q.depth() == 8);
    CHECK(err(tx1.send(make_msg(0, next[0]))) == errc::would_block);
    CHECK(err(tx2.send(make_msg(1, next[1]))) == errc::would_block);
    CHECK(q.depth() == 8);

    // One receive makes room for exactly one send.
    auto first = rx2.receive();
    REQUIRE(err(first) == errc::ok);
    CHECK(first->producer == 0);
    CHECK(first->seq == 0);
    REQUIRE(tx2.send(make_msg(1, next[1]++)));
    CHECK(err(tx1.send(make_msg(0, next[0]))) == errc::would_block);

    // Two receivers, interleaved, take the other 8, each sender's in order, then find it empty.
    tally t(2, 8);
    REQUIRE(t.take(*first) == as_expected);
    for (int i = 0; i < 8; ++i) {
        auto r = (i % 2 == 0 ? rx1 : rx2).receive();
        REQUIRE(err(r) == errc::ok);
        CHECK(t.take(*r) == as_expected);
    }
    CHECK(t.count() == 9);
    CHECK(err(rx1.receive()) == errc::would_block);
    CHECK(err(rx2.receive()) == errc::would_block);
}

TEST_CASE("mpmc queue: blocking verbs time out at their deadline, and a send that timed out enqueued nothing",
          "[unit]") {
    scoped_name name("queue-multi");
    auto q = mpmc8::create(name);
    auto tx1 = q.sender();
    auto tx2 = q.sender();
    auto rx1 = q.receiver();
    auto rx2 = q.receiver();

    CHECK(err(rx1.receive(20ms)) == errc::timed_out);
    CHECK(err(rx2.receive(std::chrono::steady_clock::now() + 20ms)) == errc::timed_out);

    for (std::uint64_t s = 0; s < 4; ++s) {
        REQUIRE(tx1.send(make_msg(0, s), patience));
        REQUIRE(tx2.send(make_msg(1, s), patience));
    }
    CHECK(err(tx1.send(make_msg(0, 4), 20ms)) == errc::timed_out);
    CHECK(err(tx2.send(make_msg(1, 4), std::chrono::steady_clock::now() + 20ms)) == errc::timed_out);
    CHECK(q.depth() == 8);

    tally t(2, 8);
    for (int i = 0; i < 8; ++i) {
        auto r = (i % 2 == 0 ? rx1 : rx2).receive(patience);
        REQUIRE(err(r) == errc::ok);
        CHECK(t.take(*r) == as_expected);
    }
    // The timed-out messages (number 4 of each) were never enqueued.
    CHECK(err(rx1.receive(20ms)) == errc::timed_out);
    CHECK(err(rx2.receive(20ms)) == errc::timed_out);
}

TEST_CASE("mpmc queue: receivers get closed only once the queue is closed as a whole and every message is taken",
          "[unit]") {
    scoped_name name("queue-multi");
    auto q = mpmc8::create(name);
    auto tx1 = q.sender();
    auto tx2 = q.sender();
    auto rx1 = q.receiver();
    auto rx2 = q.receiver<ipckit::non_blocking>();

    REQUIRE(tx1.send(make_msg(0, 0), patience));
    REQUIRE(tx2.send(make_msg(1, 0), patience));
    tx1.close();
    CHECK(err(tx1.send(make_msg(0, 1))) == errc::closed);  // a closed endpoint's verbs

    // tx2 is still attached: the queue is not closed, for either kind of receiver.
    tally t(2, 2);
    auto a = rx1.receive(patience);
    REQUIRE(err(a) == errc::ok);
    CHECK(t.take(*a) == as_expected);
    auto b = rx2.receive();
    REQUIRE(err(b) == errc::ok);
    CHECK(t.take(*b) == as_expected);
    CHECK(err(rx1.receive(20ms)) == errc::timed_out);
    CHECK(err(rx2.receive()) == errc::would_block);
    CHECK(rx1.peer() == errc::ok);
    CHECK(rx2.peer() == errc::ok);

    REQUIRE(tx2.send(make_msg(1, 1), patience));
    tx2.close();
    // Every sender has gone, but more may come (the closed rule): its message, then nothing.
    auto c = rx2.receive();
    REQUIRE(err(c) == errc::ok);
    CHECK(t.take(*c) == as_expected);
    CHECK(t.count() == 3);
    CHECK(err(rx1.receive(20ms)) == errc::timed_out);
    CHECK(err(rx2.receive()) == errc::would_block);
    CHECK(rx1.peer() == errc::ok);
    // Closed as a whole: closed, for both receivers.
    q.close();
    CHECK(err(rx1.receive(patience)) == errc::closed);
    CHECK(err(rx1.receive()) == errc::closed);  // no deadline: still returns
    CHECK(err(rx2.receive()) == errc::closed);
    CHECK(rx1.peer() == errc::closed);
}

TEST_CASE("mpmc queue: senders on a full queue get closed only once the queue is closed as a whole", "[unit]") {
    scoped_name name("queue-multi");
    auto q = mpmc4::create(name);
    auto tx1 = q.sender();
    auto tx2 = q.sender<ipckit::non_blocking>();
    auto rx1 = q.receiver();
    auto rx2 = q.receiver();

    for (std::uint64_t s = 0; s < 4; ++s) REQUIRE(tx1.send(make_msg(0, s), patience));
    rx1.close();
    CHECK(err(tx1.send(make_msg(0, 4), 20ms)) == errc::timed_out);  // rx2 may still make room
    CHECK(err(tx2.send(make_msg(1, 0))) == errc::would_block);
    CHECK(tx1.peer() == errc::ok);

    rx2.close();
    CHECK(err(tx1.send(make_msg(0, 4), 20ms)) == errc::timed_out);  // every receiver gone, but more may come
    CHECK(err(tx2.send(make_msg(1, 0))) == errc::would_block);
    CHECK(tx1.peer() == errc::ok);
    q.close();
    CHECK(err(tx1.send(make_msg(0, 4), patience)) == errc::closed);
    CHECK(err(tx2.send(make_msg(1, 0))) == errc::closed);
    CHECK(tx1.peer() == errc::closed);
    CHECK(q.depth() == 4);
}

TEST_CASE("mpmc queue: a full ring whose oldest slot is a dead producer's tombstone is full to a sender, not "
          "corrupt",
          "[unit]") {
    // A producer died between claim and publish at position 0, the ring filled behind it, and a
    // consumer's recover turned position 0 into a tombstone that no consumer has skipped yet.
    scoped_name name("mq");
    auto q = mpmc4::create(name);
    auto seg = ipckit::segment::open(name, mpmc4::layout(), {});
    auto& sh = *static_cast<mpmc4::shared*>(seg.body());
    std::atomic<std::uint64_t> dead_pending{0};  // listed in no place: its claimant is gone
    REQUIRE(claim_tail_without_publishing(sh, dead_pending));
    auto tx = q.sender<ipckit::non_blocking>();
    for (std::uint32_t i = 1; i < 4; ++i) REQUIRE(tx.send(make_msg(1, i)));
    sh.ring.slots[0].seq.store(1 | ipckit::detail::seq_tombstone);  // what recover leaves

    CHECK(err(tx.send(make_msg(1, 4))) == errc::would_block);  // full: the tombstone is lap 0's
    auto rx = q.receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 1; i < 4; ++i) {
        auto m = rx.receive();  // the tombstone is skipped
        REQUIRE(m);
        CHECK(m->seq == i);
    }
    CHECK(tx.send(make_msg(1, 4)));
    CHECK(rx.receive().value().seq == 4);
}

TEST_CASE("mpmc queue: a live producer's run of claimed slots is left alone by a receiver's recovery, and once unlisted "
          "its unpublished slots are skipped",
          "[unit]") {
    // A batch send claims a run of positions with one CAS and lists the whole run in its roster
    // place's pending word (detail/sync/pending.hpp) until its last slot is published. Here a
    // run of 3 at the tail, of which only the first is published: the receiver, stuck on the
    // second, must wait for the live claimant rather than bury its slot.
    scoped_name name("mq");
    auto q = mpmc8::create(name, quick_liveness());
    auto tx = q.sender();
    auto rx = q.receiver();
    auto seg = ipckit::segment::open(name, mpmc8::layout(), {});
    auto& sh = *static_cast<mpmc8::shared*>(seg.body());
    const std::size_t i = place_of_this_process(sh.senders);
    REQUIRE(i != mpmc8::max_senders);
    auto& pending = sh.senders.places[i].pending;
    pending.store(ipckit::detail::pending_word(0, 3), std::memory_order_relaxed);
    std::uint64_t t = 0;
    REQUIRE(sh.ring.tail.compare_exchange_strong(t, 3));
    const msg first = make_msg(1, 0);
    std::memcpy(static_cast<void*>(&sh.ring.slots[0].value), &first, sizeof first);
    sh.ring.slots[0].stamp.store(1, std::memory_order_release);
    sh.ring.slots[0].seq.store(1, std::memory_order_release);

    CHECK(rx.receive(patience).value().seq == 0);
    // Waiting asks for recovery once per liveness interval (10 ms here): the run is listed by a
    // live process, so its slots stay as they are.
    CHECK(err(rx.receive(std::chrono::milliseconds(100))) == errc::timed_out);
    CHECK(sh.ring.slots[1].seq.load() == 1);
    CHECK(sh.ring.slots[2].seq.load() == 2);
    // Listed nowhere (as after its claimant died and its place was taken over): the same wait
    // finishes both slots as tombstones, which the receive skips (each given back for the next
    // lap: position + 8), and the next message is received past them.
    pending.store(0, std::memory_order_release);
    CHECK(err(rx.receive(std::chrono::milliseconds(100))) == errc::timed_out);
    CHECK(sh.ring.slots[1].seq.load() == 1 + 8);
    CHECK(sh.ring.slots[2].seq.load() == 2 + 8);
    REQUIRE(tx.send(make_msg(1, 3)));
    CHECK(rx.receive(patience).value().seq == 3);
}

TEST_CASE("mpmc queue: multi_of<2> takes two senders and two receivers, and a third is busy until one closes",
          "[unit]") {
    scoped_name name("queue-multi");
    auto q = pair8::create(name);
    auto tx1 = q.sender();
    auto tx2 = q.sender<ipckit::non_blocking>();
    CHECK(attach_error([&] { return q.sender(); }) == errc::sender_busy);
    CHECK(attach_error([&] { return pair8::open(name).sender<ipckit::non_blocking>(); }) == errc::sender_busy);
    auto rx1 = q.receiver();
    auto rx2 = q.receiver<ipckit::non_blocking>();
    CHECK(attach_error([&] { return q.receiver(); }) == errc::receiver_busy);

    // The refused attaches took nothing from the endpoints that are in.
    REQUIRE(tx1.send(make_msg(0, 0), patience));
    REQUIRE(tx2.send(make_msg(1, 0)));

    tx1.close();
    rx2.close();
    auto tx3 = q.sender();  // tx1's place
    auto rx3 = q.receiver();  // rx2's place
    CHECK(attach_error([&] { return q.sender(); }) == errc::sender_busy);
    CHECK(attach_error([&] { return q.receiver(); }) == errc::receiver_busy);
    REQUIRE(tx3.send(make_msg(2, 0), patience));

    tally t(3, 1);
    for (int i = 0; i < 3; ++i) {
        auto r = (i % 2 == 0 ? rx1 : rx3).receive(patience);
        REQUIRE(err(r) == errc::ok);
        CHECK(t.take(*r) == as_expected);
    }
    CHECK(t.count() == 3);
}

TEST_CASE("mpmc queue: multi takes 64 senders and 64 receivers, and refuses the 65th", "[unit]") {
    scoped_name name("queue-multi");
    auto q = mpmc8::create(name);
    std::vector<ipckit::sender<mpmc8, ipckit::non_blocking>> txs;
    std::vector<ipckit::receiver<mpmc8, ipckit::non_blocking>> rxs;
    for (int i = 0; i < 64; ++i) txs.push_back(q.sender<ipckit::non_blocking>());
    for (int i = 0; i < 64; ++i) rxs.push_back(q.receiver<ipckit::non_blocking>());
    CHECK(attach_error([&] { return q.sender(); }) == errc::sender_busy);
    CHECK(attach_error([&] { return q.receiver(); }) == errc::receiver_busy);

    REQUIRE(txs.back().send(make_msg(63, 0)));
    auto r = rxs.back().receive();
    REQUIRE(err(r) == errc::ok);
    CHECK(r->producer == 63);
}

// ---- a process killed between claiming a position and finishing it --------------------------

TEST_CASE("mpmc queue across processes: a position claimed by a producer killed before publishing it is skipped, "
          "and nothing else is lost",
          "[process]") {
    constexpr std::uint64_t before = 5;
    constexpr std::uint64_t after = 500;  // wraps the 8-slot ring 60 times past the dead claim
    scoped_name name("queue-multi");
    auto q = mpmc8::create(name, quick_liveness());
    auto rx = q.receiver();
    signal_pipe first_part, go;

    child_report producer_report;
    child producer = producer_report.spawn([&](child_report& r) {
        auto qc = mpmc8::open(name);
        auto tx = qc.sender();
        r.expect(send_range(tx, 0, 0, before));
        first_part.post();
        r.check(go.wait(), "the go signal");
        r.expect(send_range(tx, 0, before, before + after));
    });
    REQUIRE(producer_report.reached(producer, first_part) == as_expected);

    // Claims position `before` and dies there: the receiver must not wait on it for ever.
    child_report dying_report;
    child dying = dying_report.spawn([&](child_report& r) { die_claiming_tail<mpmc8>(r, name); });
    REQUIRE(dying_report.ended(dying.wait(), killed_by_sigkill) == as_expected);
    CHECK(q.depth() == before + 1);  // the claim moved the tail
    go.post();

    for (std::uint64_t s = 0; s < before + after; ++s) {
        auto r = rx.receive(patience);
        REQUIRE(err(r) == errc::ok);
        REQUIRE(well_formed(*r));
        REQUIRE(r->producer == 0);
        REQUIRE(r->seq == s);
    }
    CHECK(producer_report.finish(producer) == as_expected);
    // The live producer closed; the dead one never did.
    CHECK(err(rx.receive(patience)) == errc::peer_dead);
}

TEST_CASE("spmc queue across processes: after a sender killed between claim and publish is replaced, the receiver "
          "gets every message the replacement sent before closed",
          "[process]") {
    constexpr std::uint64_t first = 5;
    constexpr std::uint64_t second = 20;
    scoped_name name("queue-multi");
    auto q = spmc64::create(name, quick_liveness());

    // The only sender place of a single-producer queue: the first sender sends 0..4, claims
    // position 5 and dies there; the replacement takes over its place, sends 5..24 (at
    // positions 6..25) and closes.
    child_report dying_report;
    child dying = dying_report.spawn([&](child_report& r) {
        auto qc = spmc64::open(name);
        auto tx = qc.sender();
        r.expect(send_range(tx, 0, 0, first));
        auto seg = ipckit::segment::open(name, spmc64::layout(), {});
        auto& sh = *static_cast<spmc64::shared*>(seg.body());
        r.expect_value(place_of_this_process(sh.senders), 0);  // its sender place
        r.check(claim_tail_without_publishing(sh, sh.senders.places[0].pending), "a free slot to claim at the tail");
        ::raise(SIGKILL);
    });
    REQUIRE(dying_report.ended(dying.wait(), killed_by_sigkill) == as_expected);
    child_report replacement_report;
    child replacement = replacement_report.spawn([&](child_report& r) {
        auto qc = spmc64::open(name);
        auto tx = qc.sender();  // sender_busy here would be reported as what it threw
        r.expect(send_range(tx, 0, first, first + second));
    });
    REQUIRE(replacement_report.finish(replacement) == as_expected);

    auto rx = q.receiver();
    for (std::uint64_t s = 0; s < first + second; ++s) {
        INFO("message " << s);
        auto r = rx.receive(patience);
        REQUIRE(err(r) == errc::ok);
        REQUIRE(well_formed(*r));
        REQUIRE(r->seq == s);
    }
    CHECK(err(rx.receive(patience)) == errc::closed);
}

TEST_CASE("mpmc queue across processes: a consumer killed between claiming a message and releasing its slot costs "
          "that message only, and a sender blocked on the full queue recovers the slot",
          "[process]") {
    constexpr std::uint64_t n = mpmc4::capacity;
    constexpr std::uint64_t rounds = 200;  // after the recovery, 50 more laps through every slot
    scoped_name name("queue-multi");
    auto q = mpmc4::create(name, quick_liveness());
    auto tx = q.sender();
    for (std::uint64_t s = 0; s < n; ++s) REQUIRE(tx.send(make_msg(0, s), patience));

    // Claims message 0 at the head and dies holding its slot, the one the next send needs.
    child_report dying_report;
    child dying = dying_report.spawn([&](child_report& r) { die_claiming_head<mpmc4>(r, name); });
    REQUIRE(dying_report.ended(dying.wait(), killed_by_sigkill) == as_expected);

    REQUIRE(tx.send(make_msg(0, n), patience));  // blocks until it recovers the dead one's slot
    auto rx = q.receiver();
    std::uint64_t expected = 1;  // message 0 died with its consumer
    for (std::uint64_t s = n + 1; s < n + 1 + rounds; ++s) {
        auto r = rx.receive(patience);
        REQUIRE(err(r) == errc::ok);
        REQUIRE(well_formed(*r));
        REQUIRE(r->seq == expected++);
        REQUIRE(tx.send(make_msg(0, s), patience));
    }
    tx.close();
    q.close();  // the closed rule: a queue of many producers ends when it is closed as a whole
    for (; expected < n + 1 + rounds; ++expected) {
        auto r = rx.receive(patience);
        REQUIRE(err(r) == errc::ok);
        REQUIRE(well_formed(*r));
        REQUIRE(r->seq == expected);
    }
    CHECK(err(rx.receive(patience)) == errc::closed);
}

TEST_CASE("mpmc queue across processes: a live receiver that lost the race for a message does not keep the "
          "winner's dead claim from being recovered",
          "[process]") {
    // Two receivers race for the only message (position 0): `dying` wins the CAS on head and is
    // killed before releasing the slot; `loser` wrote pending = 1 before its CAS failed, found
    // position 1 empty and returned would_block, and now idles, alive and attached. Nothing may
    // then keep a sender from recovering the slot of position 0 when it comes round again.
    // The race itself cannot be scheduled from outside, so `loser` writes pending = 1 as its
    // lost CAS leaves it and then makes the receive that returns would_block.
    constexpr std::uint64_t n = mpmc8::capacity;
    scoped_name name("queue-multi");
    auto q = mpmc8::create(name, quick_liveness());
    auto tx = q.sender();
    REQUIRE(tx.send(make_msg(0, 0), patience));

    child_report dying_report;
    child dying = dying_report.spawn([&](child_report& r) { die_claiming_head<mpmc8>(r, name); });
    REQUIRE(dying_report.ended(dying.wait(), killed_by_sigkill) == as_expected);

    signal_pipe idle, hold;
    child_report loser_report;
    child loser = loser_report.spawn([&](child_report& r) {
        auto qc = mpmc8::open(name);
        auto rx = qc.receiver<ipckit::non_blocking>();
        auto seg = ipckit::segment::open(name, mpmc8::layout(), {});
        auto& sh = *static_cast<mpmc8::shared*>(seg.body());
        const std::size_t i = place_of_this_process(sh.receivers);
        r.check(i != mpmc8::max_receivers, "a receiver place of its own");
        sh.receivers.places[i].pending.store(1, std::memory_order_relaxed);  // its lost claim on position 0
        r.expect(err(rx.receive()), errc::would_block);
        idle.post();
        r.block_until_killed(hold);
    });
    REQUIRE(loser_report.reached(loser, idle) == as_expected);

    // Positions 1..7 fill the other slots; position 8 needs the dead receiver's slot.
    for (std::uint64_t s = 1; s < n; ++s) REQUIRE(tx.send(make_msg(0, s), patience));
    CHECK(err(tx.send(make_msg(0, n), patience)) == errc::ok);

    auto rx = q.receiver();
    for (std::uint64_t s = 1; s < n; ++s) {
        auto r = rx.receive(patience);
        REQUIRE(err(r) == errc::ok);
        CHECK(r->seq == s);
    }
    CHECK(loser_report.ended(loser.kill(), killed_by_sigkill) == as_expected);
}

// ---- processes killed in the middle of real traffic -----------------------------------------

TEST_CASE("mpmc queue across processes: a producer and a consumer SIGKILLed mid-traffic cost at most the message "
          "the consumer held, nothing arrives twice, and the rest all arrives",
          "[process]") {
    constexpr std::uint32_t np = 4;  // producer 0 is killed
    constexpr std::size_t nc = 4;    // consumer 0 is killed
    constexpr std::uint64_t per_survivor = 10'000;
    constexpr std::uint64_t limit = 1U << 15;  // the killed producer sends at most this many
    constexpr std::uint64_t k = 500;           // each victim reports after k messages, then carries on
    scoped_name name("queue-multi");
    auto q = mpmc64::create(name, quick_liveness());

    // The killed consumer's journal of what it received, in shared memory: it cannot report at its end.
    struct journal {
        std::atomic<std::uint64_t> count;
        std::uint64_t entries[np * limit];  // producer << 32 | seq; ~0 for a message not well formed
    };
    shared_memory journal_memory(sizeof(journal));
    auto& log = *::new (journal_memory.data()) journal{};
    constexpr std::uint64_t malformed = ~std::uint64_t{0};

    signal_pipe attached, go, start, producer_progress, consumer_progress, hold;
    std::vector<std::unique_ptr<signal_pipe>> reports;
    for (std::size_t c = 0; c < nc; ++c) reports.push_back(std::make_unique<signal_pipe>());

    std::vector<child_report> consumer_reports(nc), producer_reports(np);
    std::vector<child> consumers;
    // Consumer 0 alone takes the first k messages, says so, and goes on until it is killed.
    consumers.push_back(consumer_reports[0].spawn([&](child_report& out) {
        auto qc = mpmc64::open(name);
        auto rx = qc.receiver();
        attached.post();
        for (std::uint64_t i = 0;; ++i) {
            auto r = rx.receive(patience);
            out.expect(err(r), errc::ok);
            const std::uint64_t n = log.count.load(std::memory_order_relaxed);
            log.entries[n] = well_formed(*r) && r->seq < limit ? ((std::uint64_t{r->producer} << 32) | r->seq) : malformed;
            log.count.store(n + 1, std::memory_order_release);
            if (i + 1 == k) consumer_progress.post();
        }
    }));
    // Consumers 1..3 join once consumer 0 has taken k, and go on until every producer is gone.
    for (std::size_t c = 1; c < nc; ++c) {
        consumers.push_back(consumer_reports[c].spawn([&, c](child_report& r) {
            auto qc = mpmc64::open(name);
            auto rx = qc.receiver();
            attached.post();
            r.check(start.wait(), "the start signal");
            tally t(np, limit);
            const std::string e = receive_until_end(rx, t, errc::peer_dead);  // producer 0 never closes
            t.report(*reports[c]);
            r.expect(e);
        }));
    }
    std::vector<child> producers;
    // Producer 0 says when it has sent k, and sends on until it is killed.
    producers.push_back(producer_reports[0].spawn([&](child_report& r) {
        auto qc = mpmc64::open(name);
        auto tx = qc.sender();
        attached.post();
        r.check(go.wait(), "the go signal");
        r.expect(send_range(tx, 0, 0, k));
        producer_progress.post();
        r.expect(send_range(tx, 0, k, limit));
        r.block_until_killed(hold);
    }));
    for (std::uint32_t p = 1; p < np; ++p) {
        producers.push_back(producer_reports[p].spawn([&, p](child_report& r) {
            auto qc = mpmc64::open(name);
            auto tx = qc.sender();
            attached.post();
            r.check(go.wait(), "the go signal");
            r.expect(send_range(tx, p, 0, per_survivor));
        }));
    }
    attached.close_write();
    producer_progress.close_write();
    consumer_progress.close_write();
    for (std::size_t i = 0; i < np + nc; ++i) REQUIRE(attached.wait());
    go.post(np);

    REQUIRE(consumer_reports[0].reached(consumers[0], consumer_progress) == as_expected);
    start.post(nc - 1);
    CHECK(consumer_reports[0].ended(consumers[0].kill(), killed_by_sigkill) == as_expected);
    REQUIRE(producer_reports[0].reached(producers[0], producer_progress) == as_expected);
    CHECK(producer_reports[0].ended(producers[0].kill(), killed_by_sigkill) == as_expected);

    for (std::uint32_t p = 1; p < np; ++p) {
        INFO("producer " << p);
        CHECK(producer_reports[p].finish(producers[p]) == as_expected);
    }
    census all(np, limit);
    for (std::size_t c = 1; c < nc; ++c) {
        INFO("consumer " << c);
        CHECK(all.add_report(*reports[c], np));
        CHECK(consumer_reports[c].finish(consumers[c]) == as_expected);
    }
    // The killed consumer's journal: well formed, each producer's numbers rising.
    const std::uint64_t journaled = log.count.load(std::memory_order_acquire);
    CHECK(journaled >= k);
    std::vector<std::uint64_t> next(np, 0);
    std::uint64_t journal_faults = 0;
    for (std::uint64_t i = 0; i < journaled; ++i) {
        const std::uint64_t e = log.entries[i];
        const auto p = static_cast<std::uint32_t>(e >> 32);
        const std::uint64_t s = e & 0xffffffffU;
        if (e == malformed || p >= np || s < next[p]) {
            ++journal_faults;
            continue;
        }
        next[p] = s + 1;
        all.add(p, s);
    }
    CHECK(journal_faults == 0);

    CHECK(all.repeats() == 0);
    // Of the killed producer, a prefix of its numbers: at least the k it reported.
    const std::uint64_t victim_end = all.end_of(0);
    CHECK(victim_end >= k);
    // Missing: at most the one message the killed consumer held when it died.
    std::uint64_t missing = all.missing(0, 0, victim_end);
    for (std::uint32_t p = 1; p < np; ++p) {
        missing += all.missing(p, 0, per_survivor);
        INFO("producer " << p);
        CHECK(all.end_of(p) == per_survivor);  // nothing beyond what it sent
    }
    CHECK(missing <= 1);
}

// ---- every peer of one side killed ----------------------------------------------------------

TEST_CASE("mpmc queue across processes: when every sender is killed, receivers take what is left, then get "
          "peer_dead",
          "[process]") {
    constexpr std::uint32_t np = 2;
    constexpr std::uint64_t k = 20;  // 2 x 20 fit in the 64 slots
    scoped_name name("queue-multi");
    auto q = mpmc64::create(name, quick_liveness());
    signal_pipe sent, hold;

    std::vector<child_report> sender_reports(np);
    auto start_senders = [&] {
        std::vector<child> senders;
        for (std::uint32_t p = 0; p < np; ++p) {
            senders.push_back(sender_reports[p].spawn([&, p](child_report& r) {
                auto qc = mpmc64::open(name);
                auto tx = qc.sender();
                r.expect(send_range(tx, p, 0, k));
                sent.post();
                r.block_until_killed(hold);
            }));
        }
        return senders;
    };
    // Kills them, each of which must have reached its block_until_killed.
    auto kill_senders = [&](std::vector<child>& senders) {
        for (std::uint32_t p = 0; p < np; ++p)
            CHECK(sender_reports[p].ended(senders[p].kill(), killed_by_sigkill) == as_expected);
    };

    SECTION("messages still queued when the senders die") {
        auto rx = q.receiver();
        auto senders = start_senders();
        sent.close_write();
        for (std::uint32_t p = 0; p < np; ++p) REQUIRE(sent.wait());
        kill_senders(senders);
        CHECK(rx.peer() == errc::peer_dead);

        tally t(np, k);
        CHECK(receive_until_end(rx, t, errc::peer_dead) == as_expected);
        CHECK(t.count() == np * k);
        // Reported once; then, the senders' places let go of, more may come (the closed rule).
        CHECK(err(rx.receive(20ms)) == errc::timed_out);
        q.close();
        CHECK(err(rx.receive()) == errc::closed);  // no deadline: still returns
    }
    SECTION("receivers blocked on an empty queue when the senders die") {
        signal_pipe received;
        std::vector<std::unique_ptr<signal_pipe>> reports;
        for (std::size_t c = 0; c < 2; ++c) reports.push_back(std::make_unique<signal_pipe>());
        std::vector<child_report> receiver_reports(2);
        std::vector<child> receivers;
        for (std::size_t c = 0; c < 2; ++c) {
            receivers.push_back(receiver_reports[c].spawn([&, c](child_report& r) {
                auto qc = mpmc64::open(name);
                auto rx = qc.receiver();
                tally t(np, k);
                const std::string e = receive_until_end(rx, t, errc::peer_dead, [&] { received.post(); });
                t.report(*reports[c]);
                r.expect(e);
            }));
        }
        auto senders = start_senders();
        sent.close_write();
        received.close_write();
        for (std::uint32_t p = 0; p < np; ++p) REQUIRE(sent.wait());
        for (std::uint64_t i = 0; i < np * k; ++i) REQUIRE(received.wait());  // all taken: the queue is empty
        kill_senders(senders);

        census all(np, k);
        for (std::size_t c = 0; c < 2; ++c) {
            INFO("receiver " << c);
            CHECK(all.add_report(*reports[c], np));
            CHECK(receiver_reports[c].finish(receivers[c]) == as_expected);
        }
        CHECK(all.repeats() == 0);
        for (std::uint32_t p = 0; p < np; ++p) CHECK(all.missing(p, 0, k) == 0);
    }
}

TEST_CASE("mpmc queue across processes: when every receiver is killed, senders blocked on the full queue get "
          "peer_dead",
          "[process]") {
    scoped_name name("queue-multi");
    auto q = mpmc4::create(name, quick_liveness());
    signal_pipe attached, hold, waiting;

    std::vector<child_report> receiver_reports(2);
    std::vector<child> receivers;
    for (auto& report : receiver_reports) {
        receivers.push_back(report.spawn([&](child_report& r) {
            auto qc = mpmc4::open(name);
            auto rx = qc.receiver();
            attached.post();
            r.block_until_killed(hold);
        }));
    }
    attached.close_write();
    for (int c = 0; c < 2; ++c) REQUIRE(attached.wait());

    auto tx = q.sender();
    for (std::uint64_t s = 0; s < mpmc4::capacity; ++s) REQUIRE(tx.send(make_msg(0, s), patience));
    CHECK(err(tx.send(make_msg(0, mpmc4::capacity), 20ms)) == errc::timed_out);  // full, receivers alive

    std::vector<child_report> sender_reports(2);
    std::vector<child> senders;
    for (std::uint32_t p = 1; p <= 2; ++p) {
        senders.push_back(sender_reports[p - 1].spawn([&, p](child_report& r) {
            auto qc = mpmc4::open(name);
            auto tx2 = qc.sender();
            waiting.post();
            r.expect(err(tx2.send(make_msg(p, 0), patience)), errc::peer_dead);  // blocks: the queue is full
        }));
    }
    waiting.close_write();
    for (int p = 0; p < 2; ++p) REQUIRE(waiting.wait());

    for (std::size_t c = 0; c < 2; ++c)
        CHECK(receiver_reports[c].ended(receivers[c].kill(), killed_by_sigkill) == as_expected);
    for (std::size_t p = 0; p < 2; ++p) CHECK(sender_reports[p].finish(senders[p]) == as_expected);
    // The blocked senders let go of the dead receivers' places: nobody is there now, but more
    // may come (the closed rule), and this sender's verbs report the death once, then wait on.
    CHECK(tx.peer() == errc::ok);
    CHECK(err(tx.send(make_msg(0, mpmc4::capacity), patience)) == errc::peer_dead);
    CHECK(err(tx.send(make_msg(0, mpmc4::capacity), 20ms)) == errc::timed_out);
    q.close();
    CHECK(err(tx.send(make_msg(0, mpmc4::capacity), patience)) == errc::closed);
    CHECK(q.depth() == mpmc4::capacity);
}
