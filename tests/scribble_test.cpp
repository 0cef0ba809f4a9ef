// Scribbles on the words of a ring that its consistency checks cannot refuse: an index moved
// inside its range, a sequence or state word put back or forward, a record header changed or
// copied from elsewhere. Whatever is hit, a receiver never delivers a message that its sender
// did not send at that position: no replay, no stale or torn message, no garbage record, no
// message out of order. What it may do instead is report `corrupt`, or put the damage right.
//
// Two parts. First, the cases the consistency checks used to let through, one by one, on each
// kind of ring they concern (detail/ring/*.hpp: each ring's protocol comment says how its stamps
// or check words catch them). Then a fuzz: on every kind, random traffic, one scribble of a
// random word with a value near the old one (or a random one), more traffic with endpoints
// coming and going, and a drain; each delivered message is checked against what was sent.
//
// Everything runs in one process; the endpoints are blocking ones driven with short timeouts,
// so that a receive that waits also asks for recovery (a dead sender's claim) once per
// liveness interval, as it would with a peer killed mid-send.
//
// The fuzz runs 300 trials per kind. SCRIBBLE_TRIALS=n runs n instead and prints what the
// trials came to (corrupt reported, messages lost without a word, wrong deliveries, and the
// seed of the first of each); SCRIBBLE_SEED=s runs the one trial of seed s.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"
#include "unbounded_support.hpp"

#include <ipckit/mailbox.hpp>
#include <ipckit/queue.hpp>
#include <ipckit/records.hpp>
#include <ipckit/segment.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::check_of;
using ipckit_test::err;
using ipckit_test::make_tick;
using ipckit_test::mix;
using ipckit_test::patience;
using ipckit_test::quick_liveness;
using ipckit_test::scoped_name;
using ipckit_test::scoped_queue;
using ipckit_test::setup_errc;
using ipckit_test::tick;

namespace {

constexpr std::size_t slots = 8;        // messages in the fixed-size rings
constexpr std::size_t max_bytes = 40;   // bytes<Max> of the byte rings
constexpr std::size_t ring_bytes = 256;  // their size

using spsc = ipckit::queue<tick, ipckit::bounded<slots>>;
using mpmc = ipckit::queue<tick, ipckit::bounded<slots>, ipckit::multi_of<2>, ipckit::multi_of<2>>;
using bytes_spsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<ring_bytes>>;
using bytes_mpsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<ring_bytes>, ipckit::multi_of<2>>;
using bcast = ipckit::mailbox<tick, ipckit::bounded<slots>, ipckit::broadcast, ipckit::system_owned>;
using chain = ipckit::queue<tick, ipckit::unbounded<4096>, ipckit::multi_of<2>>;
using meet = ipckit::queue<tick, ipckit::zero_capacity>;

using record = ipckit::detail::bytes_record;

/// Message n of sender `who`: its seq says both.
constexpr std::uint64_t seq_of(std::uint32_t who, std::uint64_t n) noexcept { return (std::uint64_t{who} << 32) | n; }

/// The bytes message with seq s: s itself, then bytes that are a function of s, 8 to max_bytes long.
std::vector<std::byte> bytes_message(std::uint64_t s) {
    std::vector<std::byte> v(8 + mix(s) % (max_bytes - 8 + 1));
    std::memcpy(v.data(), &s, 8);
    for (std::size_t i = 8; i < v.size(); ++i) v[i] = static_cast<std::byte>(mix(s * 1'000'003 + i));
    return v;
}

/// The seq a received bytes message says it is, if it is exactly the message of that seq.
std::optional<std::uint64_t> seq_of_bytes(std::span<const std::byte> m) {
    std::uint64_t s = 0;
    if (m.size() < 8) return std::nullopt;
    std::memcpy(&s, m.data(), 8);
    const auto want = bytes_message(s);
    if (m.size() != want.size() || std::memcmp(m.data(), want.data(), m.size()) != 0) return std::nullopt;
    return s;
}

/// The seq a received tick says it is, if it is whole.
std::optional<std::uint64_t> seq_of_tick(const tick& t) {
    if (t.check != check_of(t.seq)) return std::nullopt;
    return t.seq;
}

/// A second mapping of a segment, to look at and scribble on the shared part of Q.
template <class Q>
struct inside {
    explicit inside(const std::string& name, ipckit::segment_layout layout = Q::layout())
        : seg(ipckit::segment::open(name, layout, {})) {}
    typename Q::shared& operator*() const { return *static_cast<typename Q::shared*>(seg.body()); }
    typename Q::shared* operator->() const { return &**this; }
    ipckit::segment seg;
};

// ---- the kinds ------------------------------------------------------------------------------
//
// Each kind keeps its queue, one receiver and its senders in this process, with blocking
// endpoints (timeouts of 0 make them try once), and names the words a scribble may hit.

/// A word of shared memory a scribble may hit, and what it is (which values are near misses).
struct word {
    enum what_kind { index, sequence, header, state32 } what;
    std::atomic<std::uint64_t>* w64 = nullptr;
    std::atomic<std::uint32_t>* w32 = nullptr;
    std::string name;
};

template <class T>
word index_word(std::atomic<T>& w, std::string name, word::what_kind what = word::index) {
    if constexpr (sizeof(T) == 8)
        return {what, &w, nullptr, std::move(name)};
    else
        return {word::state32, nullptr, &w, std::move(name)};
}

/// A queue (or mailbox) handle of this process, its one receiver and its Senders senders.
template <class Q, std::size_t Senders>
class endpoints {
public:
    static constexpr std::size_t senders = Senders;

    explicit endpoints(Q q) : q_(std::move(q)) {
        rx_.emplace(q_.receiver());
        for (auto& t : tx_) t.emplace(q_.sender());
    }
    /// Closes the receiver and attaches a new one: ok, or why not (it then has none).
    errc reattach_receiver() {
        rx_.reset();
        return setup_errc([&] { return rx_.emplace(q_.receiver()), 0; });
    }
    /// The same for sender `who`.
    errc reattach_sender(std::size_t who) {
        tx_[who].reset();
        return setup_errc([&] { return tx_[who].emplace(q_.sender()), 0; });
    }

protected:
    Q q_;
    std::optional<ipckit::receiver<Q>> rx_;
    std::array<std::optional<ipckit::sender<Q>>, Senders> tx_;
};

/// Endpoints of a queue of ticks: every fixed-size kind (ring, chain, mailbox).
template <class Q, std::size_t Senders>
class tick_endpoints : public endpoints<Q, Senders> {
public:
    using endpoints<Q, Senders>::endpoints;

    errc send(std::size_t who, std::uint64_t s) { return err(this->tx_[who]->send(make_tick(s), 0ms)); }
    /// ok and the seq of a whole message, or why not; ok with nullopt: a message not whole.
    errc receive(std::optional<std::uint64_t>& out, std::chrono::milliseconds wait) {
        auto r = this->rx_->receive(wait);
        if (!r) return r.error();
        out = seq_of_tick(*r);
        return errc::ok;
    }
};

/// The fixed-size rings: SPSC and Vyukov's.
template <class Q, std::size_t Senders>
class ring_kind : public tick_endpoints<Q, Senders> {
public:
    explicit ring_kind(const std::string& name)
        : tick_endpoints<Q, Senders>(Q::create(name, quick_liveness(1ms))), in_(name) {}
    std::vector<word> words() {
        auto& ring = in_->ring;
        std::vector<word> w{index_word(ring.tail, "tail"), index_word(ring.head, "head")};
        if constexpr (requires { ring.tail_check; }) {  // the SPSC ring: check words, where steps start
            w.push_back(index_word(ring.tail_check, "tail_check"));
            w.push_back(index_word(ring.head_check, "head_check"));
            w.push_back(index_word(ring.tail_from, "tail_from"));
            w.push_back(index_word(ring.head_from, "head_from"));
        }
        if constexpr (requires { ring.slots[0].value; }) {  // Vyukov's ring: slots with sequences
            for (std::size_t i = 0; i < slots; ++i) {
                w.push_back(index_word(ring.slots[i].seq, "seq[" + std::to_string(i) + "]", word::sequence));
                w.push_back(index_word(ring.slots[i].stamp, "stamp[" + std::to_string(i) + "]", word::sequence));
            }
        }
        return w;
    }

private:
    inside<Q> in_;
};

/// The unbounded queue: the chain's control words, and the state words of the chunk at the head.
class chain_kind : public tick_endpoints<chain, 2> {
public:
    explicit chain_kind(const std::string& name)
        : tick_endpoints<chain, 2>(chain::create(name, quick_liveness(1ms))), name_(name), in_(name) {}
    std::vector<word> words() {
        auto& c = in_->chain;
        std::vector<word> w{index_word(c.tail, "tail"), index_word(c.head, "head"), index_word(c.first_live, "first_live"),
                            index_word(c.chunk_next, "chunk_next"), index_word(c.head_check, "head_check")};
        // The chunk the head is in, if it exists: the state and stamp words of the slots from the head on.
        const std::uint64_t hd = c.head.load();
        chunk_.reset();
        if (setup_errc([&] { return chunk_.emplace(open_chunk(hd / chain::slots_per_chunk)), 0; }) == errc::ok) {
            auto& ch = *static_cast<chain::chunk_type*>(chunk_->body());
            for (std::uint64_t p = hd; p < hd + 2 * slots; ++p) {
                if (p / chain::slots_per_chunk != hd / chain::slots_per_chunk) break;
                auto& slot = ch.slots[p % chain::slots_per_chunk];
                w.push_back(index_word(slot.state, "state@" + std::to_string(p)));
                w.push_back(index_word(slot.stamp, "stamp@" + std::to_string(p)));
            }
        }
        return w;
    }

    /// A mapping of chunk k of this queue.
    ipckit::segment open_chunk(std::uint64_t k) const {
        ipckit::detail::chain_info info{name_,
                                        ipckit::detail::describe_message<tick>(),
                                        in_->chain.base,
                                        chain::chunk_bytes,
                                        chain::slots_per_chunk,
                                        {}};
        return ipckit::segment::open(info.chunk_name(k), info.chunk_layout(k), {});
    }

private:
    std::string name_;
    inside<chain> in_;
    std::optional<ipckit::segment> chunk_;
};

/// The broadcast mailbox: the ring's words, and the receivers' cursors.
class bcast_kind : public tick_endpoints<bcast, 2> {
public:
    explicit bcast_kind(const std::string& name)
        : tick_endpoints<bcast, 2>(bcast::create(name, options())), in_(name, bcast::layout(options().max_receivers)) {}
    std::vector<word> words() {
        auto& ring = in_->ring;
        std::vector<word> w{index_word(ring.tail, "tail"), index_word(ring.gate, "gate"), index_word(ring.base, "base")};
        for (std::size_t i = 0; i < slots; ++i) {
            w.push_back(index_word(ring.slots[i].seq, "seq[" + std::to_string(i) + "]", word::sequence));
            w.push_back(index_word(ring.slots[i].stamp, "stamp[" + std::to_string(i) + "]", word::sequence));
        }
        auto* places = ipckit::detail::places_of(*in_);
        for (std::size_t i = 0; i < options().max_receivers; ++i)
            w.push_back(index_word(places[i].next, "next[" + std::to_string(i) + "]"));
        return w;
    }

private:
    static ipckit::broadcast_options options() { return {quick_liveness(1ms), 4}; }
    inside<bcast> in_;
};

/// The byte rings: their indices, and the headers of the records between head and tail.
template <class Q, std::size_t Senders>
class bytes_kind : public endpoints<Q, Senders> {
public:
    explicit bytes_kind(const std::string& name) : endpoints<Q, Senders>(Q::create(name, quick_liveness(1ms))), in_(name) {}

    errc send(std::size_t who, std::uint64_t s) { return err(this->tx_[who]->send(bytes_message(s), 0ms)); }
    errc receive(std::optional<std::uint64_t>& out, std::chrono::milliseconds wait) {
        std::array<std::byte, max_bytes> buf{};
        auto r = this->rx_->receive(std::span(buf), wait);
        if (!r) return r.error();
        out = seq_of_bytes(std::span(buf).first(*r));
        return errc::ok;
    }
    std::vector<word> words() {
        auto& ring = in_->ring;
        std::vector<word> w{index_word(ring.tail, "tail"), index_word(ring.head, "head"), index_word(ring.read, "read")};
        // The header of every record from head to tail, and the word at the tail, where the
        // next one goes. (Not the payloads: a message scribbled over is not the ring's to catch.)
        const std::uint64_t t = ring.tail.load();
        for (std::uint64_t p = ring.head.load();;) {
            w.push_back({word::header, header_word(p), nullptr, "header@" + std::to_string(p)});
            const std::uint64_t size = record::size_of(header_word(p)->load());
            if (p >= t || size == 0 || p + size > t) break;
            p += size;
        }
        return w;
    }

private:
    std::atomic<std::uint64_t>* header_word(std::uint64_t pos) {
        return reinterpret_cast<std::atomic<std::uint64_t>*>(&in_->ring.words[(pos % ring_bytes) / 8]);
    }

    inside<Q> in_;
};

/// The seqs `rx` receives, each within `wait` (a blocking receive: recovery included), until
/// one fails; that failure last, as a negative errc.
template <class Rx>
std::vector<std::int64_t> receive_all(Rx& rx, std::chrono::milliseconds wait) {
    std::vector<std::int64_t> got;
    for (;;) {
        auto r = rx.receive(wait);
        if (!r) {
            got.push_back(-static_cast<std::int64_t>(r.error()));
            return got;
        }
        got.push_back(r->check == check_of(r->seq) ? static_cast<std::int64_t>(r->seq) : -1000);
    }
}
constexpr std::int64_t no_more = -static_cast<std::int64_t>(errc::timed_out);

}  // namespace

// ---- a head moved back: no replay -----------------------------------------------------------

TEST_CASE("scribble: a receiver that attaches after the head was moved back reports corrupt, never a replay",
          "[unit]") {
    SECTION("spsc ring") {
        scoped_name name("scribble");
        auto q = spsc::create(name);
        inside<spsc> in(name);
        auto tx = q.sender<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(tx.send(make_tick(i)));
        SECTION("taken one at a time: one back is put right, more are not") {
            {
                auto rx = q.receiver<ipckit::non_blocking>();
                for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(rx.receive()->seq == i);
            }
            in->ring.head.store(2);  // inside the range: head 2, tail 5
            CHECK(setup_errc([&] { return q.receiver(); }) == errc::corrupt);
            in->ring.head.store(4);  // one back: what a receiver killed between its two stores leaves
        }
        SECTION("taken as one batch: back to the batch's start is put right, inside it is not") {
            {
                auto rx = q.receiver<ipckit::non_blocking>();
                std::array<tick, 5> batch{};
                REQUIRE(rx.receive(std::span(batch)).value() == 5);  // one store of head for the five
            }
            in->ring.head.store(2);  // inside the batch
            CHECK(setup_errc([&] { return q.receiver(); }) == errc::corrupt);
            in->ring.head.store(0);  // the batch's start: what a receiver killed between its two stores leaves
        }
        auto rx = q.receiver<ipckit::non_blocking>();
        CHECK(err(rx.receive()) == errc::would_block);  // message 4 is not read again
        REQUIRE(tx.send(make_tick(5)));
        CHECK(rx.receive()->seq == 5);
    }
    SECTION("spsc byte ring") {
        scoped_name name("scribble");
        auto q = bytes_spsc::create(name);
        inside<bytes_spsc> in(name);
        auto tx = q.sender<ipckit::non_blocking>();
        std::vector<std::uint64_t> at;  // where each record starts
        for (std::uint64_t i = 0; i < 3; ++i) {
            at.push_back(in->ring.tail.load());
            REQUIRE(tx.send(bytes_message(i)));
        }
        SECTION("taken one at a time: one record back is put right, two are not") {
            {
                auto rx = q.receiver<ipckit::non_blocking>();
                for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(seq_of_bytes(*rx.receive()) == i);
            }
            in->ring.head.store(at[0]);
            CHECK(setup_errc([&] { return q.receiver(); }) == errc::corrupt);
            in->ring.head.store(at[2]);  // one record back: put right
            auto rx = q.receiver<ipckit::non_blocking>();
            CHECK(err(rx.receive()) == errc::would_block);
        }
        SECTION("taken as one batch: back to the batch's start is put right, inside it is not") {
            {
                auto rx = q.receiver<ipckit::non_blocking>();
                std::vector<std::byte> storage(ipckit::records::storage_for(3, max_bytes));
                ipckit::records batch{storage};
                REQUIRE(rx.receive(batch).value() == 3);  // one run, freed by one store of head
            }
            // Head back onto a record inside the run: the records from there to `read` are
            // stamped, but the run did not start there.
            in->ring.head.store(at[1]);
            CHECK(setup_errc([&] { return q.receiver(); }) == errc::corrupt);
            // Head back onto the run's start: what a receiver killed between its two stores leaves.
            in->ring.head.store(at[0]);
            auto rx = q.receiver<ipckit::non_blocking>();
            CHECK(err(rx.receive()) == errc::would_block);  // none of the three is read again
            REQUIRE(tx.send(bytes_message(3)));
            CHECK(seq_of_bytes(*rx.receive()) == 3u);
        }
    }
    SECTION("mpsc byte ring: what was read is zero, and the next receiver resumes past it") {
        scoped_name name("scribble");
        auto q = bytes_mpsc::create(name);
        inside<bytes_mpsc> in(name);
        auto tx = q.sender<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tx.send(bytes_message(i)));
        {
            auto rx = q.receiver<ipckit::non_blocking>();
            for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(seq_of_bytes(*rx.receive()) == i);
        }
        in->ring.head.store(0);
        const auto e = setup_errc([&] {
            auto rx = q.receiver<ipckit::non_blocking>();
            CHECK(err(rx.receive()) == errc::would_block);
            return 0;
        });
        CHECK((e == errc::ok || e == errc::corrupt));
    }
    SECTION("unbounded chain") {
        scoped_queue name;
        auto q = chain::create(name);
        inside<chain> in(name);
        auto tx = q.sender<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(tx.send(make_tick(i)));
        {
            auto rx = q.receiver<ipckit::non_blocking>();
            for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(rx.receive()->seq == i);
        }
        in->chain.head.store(2);
        CHECK(setup_errc([&] { return q.receiver(); }) == errc::corrupt);
        in->chain.head.store(4);
        auto rx = q.receiver<ipckit::non_blocking>();
        CHECK(err(rx.receive()) == errc::would_block);
    }
}

TEST_CASE("scribble: a sender that attaches after the spsc tail was moved back takes back only a batch never "
          "published",
          "[unit]") {
    scoped_name name("scribble");
    auto q = spsc::create(name);
    inside<spsc> in(name);
    auto rx = q.receiver<ipckit::non_blocking>();
    {
        auto tx = q.sender<ipckit::non_blocking>();
        REQUIRE(tx.send(make_tick(0)));
        const std::array<tick, 3> batch{make_tick(1), make_tick(2), make_tick(3)};
        REQUIRE(tx.send(std::span(batch)).value() == 3);  // one store of tail for the three
    }
    in->ring.tail.store(2);  // inside the batch
    CHECK(setup_errc([&] { return q.sender(); }) == errc::corrupt);
    // The batch's start: what a sender killed between its two stores leaves. Its batch was never
    // published, and the next sender writes over it.
    in->ring.tail.store(1);
    auto tx = q.sender<ipckit::non_blocking>();
    REQUIRE(tx.send(make_tick(4)));
    CHECK(rx.receive()->seq == 0);
    CHECK(rx.receive()->seq == 4);
    CHECK(err(rx.receive()) == errc::would_block);
}

// ---- a head moved forward: no message overwritten unread -----------------------------------

TEST_CASE("scribble: a sender that finds the head moved forward reports corrupt instead of overwriting unread "
          "messages",
          "[unit]") {
    scoped_name name("scribble");
    auto q = spsc::create(name);
    inside<spsc> in(name);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    for (std::uint64_t i = 0; i < slots; ++i) REQUIRE(tx.send(make_tick(i)));
    for (std::uint64_t i = 0; i < 2; ++i) REQUIRE(rx.receive()->seq == i);
    in->ring.head.store(6);  // as if 2..5 had been read
    errc e = errc::ok;
    for (std::uint64_t i = slots; i < slots + 4 && e == errc::ok; ++i) e = err(tx.send(make_tick(i)));
    CHECK(e == errc::corrupt);
    for (std::uint64_t i = 2; i < slots; ++i) CHECK(rx.receive()->seq == i);  // none was overwritten
}

// ---- a sequence word put back: not skipped; moved forward: not read -------------------------

TEST_CASE("scribble: a published message whose sequence word was put back to free is delivered, not skipped as a "
          "dead sender's claim",
          "[unit]") {
    SECTION("vyukov ring") {
        scoped_name name("scribble");
        auto q = mpmc::create(name, quick_liveness(1ms));
        inside<mpmc> in(name);
        auto tx = q.sender<ipckit::non_blocking>();
        auto rx = q.receiver();
        for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tx.send(make_tick(i)));
        in->ring.slots[1].seq.store(1);  // "free for position 1"
        CHECK(receive_all(rx, 20ms) == std::vector<std::int64_t>{0, 1, 2, no_more});
    }
    SECTION("broadcast ring") {
        scoped_name name("scribble");
        auto b = bcast::create(name, {quick_liveness(1ms), 0});
        inside<bcast> in(name, bcast::layout());
        auto rx = b.receiver();
        auto tx = b.sender<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tx.send(make_tick(i)));
        in->ring.slots[1].seq.store(0);  // "never published"
        CHECK(receive_all(rx, 20ms) == std::vector<std::int64_t>{0, 1, 2, no_more});
    }
    SECTION("unbounded chain") {
        scoped_queue name;
        chain_kind k(name.str());
        for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(k.send(0, i) == errc::ok);
        auto chunk = k.open_chunk(0);
        static_cast<chain::chunk_type*>(chunk.body())->slots[1].state.store(0);  // "empty"
        std::vector<std::int64_t> got;
        for (;;) {
            std::optional<std::uint64_t> s;
            const errc e = k.receive(s, 20ms);
            if (e != errc::ok) {
                got.push_back(-static_cast<std::int64_t>(e));
                break;
            }
            got.push_back(s ? static_cast<std::int64_t>(*s) : -1000);
        }
        CHECK(got == std::vector<std::int64_t>{0, 1, 2, no_more});
    }
}

TEST_CASE("scribble: a sequence word moved forward onto a slot not written at that position is corrupt, not a "
          "stale message",
          "[unit]") {
    SECTION("vyukov ring") {
        scoped_name name("scribble");
        auto q = mpmc::create(name, quick_liveness(1ms));
        inside<mpmc> in(name);
        auto tx = q.sender<ipckit::non_blocking>();
        auto rx = q.receiver<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < slots + 2; ++i) {  // a lap and a bit: slot 2 holds position 2
            REQUIRE(tx.send(make_tick(i)));
            REQUIRE(rx.receive()->seq == i);
        }
        in->ring.slots[(slots + 2) % slots].seq.store(slots + 3);  // "position slots + 2 is published"
        CHECK(err(rx.receive()) == errc::corrupt);
    }
    SECTION("broadcast ring") {
        scoped_name name("scribble");
        auto b = bcast::create(name);
        inside<bcast> in(name, bcast::layout());
        auto rx = b.receiver<ipckit::non_blocking>();
        auto tx = b.sender<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < slots + 2; ++i) {
            REQUIRE(tx.send(make_tick(i)));
            REQUIRE(rx.receive()->seq == i);
        }
        in->ring.slots[(slots + 2) % slots].seq.store(slots + 3);
        CHECK(err(rx.receive()) == errc::corrupt);
    }
    SECTION("unbounded chain") {
        scoped_queue name;
        chain_kind k(name.str());
        REQUIRE(k.send(0, 0) == errc::ok);
        std::optional<std::uint64_t> s;
        REQUIRE(k.receive(s, 0ms) == errc::ok);
        auto chunk = k.open_chunk(0);
        static_cast<chain::chunk_type*>(chunk.body())->slots[1].state.store(1);  // "full"
        CHECK(k.receive(s, 0ms) == errc::corrupt);
    }
}

// ---- a tail moved forward: no stale message ------------------------------------------------

TEST_CASE("scribble: a tail moved forward is corrupt, not a stale message or record", "[unit]") {
    SECTION("spsc ring") {
        scoped_name name("scribble");
        auto q = spsc::create(name);
        inside<spsc> in(name);
        auto tx = q.sender<ipckit::non_blocking>();
        auto rx = q.receiver<ipckit::non_blocking>();
        for (std::uint64_t i = 0; i < slots + 2; ++i) {
            REQUIRE(tx.send(make_tick(i)));
            REQUIRE(rx.receive()->seq == i);
        }
        in->ring.tail.store(slots + 3);  // slot 2 still holds message 2 of the last lap
        CHECK(err(rx.receive()) == errc::corrupt);
    }
    SECTION("spsc byte ring") {
        scoped_name name("scribble");
        auto q = bytes_spsc::create(name);
        inside<bytes_spsc> in(name);
        auto tx = q.sender<ipckit::non_blocking>();
        auto rx = q.receiver<ipckit::non_blocking>();
        const auto m = bytes_message(0);
        const std::uint64_t size = record::size_for(m.size());
        // Records of one size, for a lap and one more record: stale records lie past the tail.
        std::uint64_t n = 0;
        while (in->ring.tail.load() < ring_bytes + size) {
            REQUIRE(tx.send(m));
            REQUIRE(rx.receive());
            ++n;
        }
        in->ring.tail.store(in->ring.tail.load() + size);
        CHECK(err(rx.receive()) == errc::corrupt);
    }
}

TEST_CASE("scribble: a tail moved back inside a dead sender's reservation is corrupt, not waited on for ever",
          "[unit]") {
    scoped_name name("scribble");
    auto q = bytes_mpsc::create(name, quick_liveness(1ms));
    inside<bytes_mpsc> in(name);
    auto rx = q.receiver();
    // A reservation of 48 bytes at 0 that no live sender holds (what a sender killed holding a
    // loan leaves), and the tail moved back inside it: no sound ring has a reservation past its
    // tail, and nobody is left to move either word.
    in->ring.header(0).store(record::record_at(record::reserved, 0, 48));
    in->ring.tail.store(8);
    std::array<std::byte, max_bytes> buffer{};
    CHECK(err(rx.receive(std::span<std::byte>(buffer), patience)) == errc::corrupt);
}

// ---- the rendezvous: no offer taken twice, none reported taken that was not -----------------

TEST_CASE("scribble: a rendezvous offer put back after it was taken is corrupt, not delivered twice", "[unit]") {
    scoped_name name("scribble");
    auto q = meet::create(name);
    inside<meet> in(name);
    auto rx = q.receiver();
    std::thread sender([&] {
        auto tx = q.sender();
        (void)tx.send(make_tick(7), patience);
    });
    const auto first = rx.receive(patience);
    sender.join();
    REQUIRE(first);
    CHECK(first->seq == 7);
    using st = ipckit::detail::offer_state;
    auto& state = in->offers[0].state;
    const std::uint64_t s = state.load();
    REQUIRE(st::kind_of(s) == st::done);
    state.store(st::pack(st::offered, 0, st::seq_of(s)));  // the same offer, out again
    CHECK(err(rx.receive(0ms)) == errc::corrupt);
}

TEST_CASE("scribble: a rendezvous offer turned into done while nobody took it makes the send corrupt, not ok",
          "[unit]") {
    scoped_name name("scribble");
    auto q = meet::create(name);
    inside<meet> in(name);
    auto rx = q.receiver();  // attached, so that the sender waits for a taker
    std::atomic<int> result{-1};
    std::thread sender([&] {
        auto tx = q.sender();
        result = static_cast<int>(err(tx.send(make_tick(7), patience)));
    });
    const auto until = std::chrono::steady_clock::now() + patience;
    while (q.depth() == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    REQUIRE(q.depth() == 1);
    using st = ipckit::detail::offer_state;
    auto& o = in->offers[0];
    const std::uint64_t s = o.state.load();
    o.state.store(st::pack(st::done, 0, st::seq_of(s)));
    o.bell.ring();
    sender.join();
    CHECK(static_cast<errc>(result.load()) == errc::corrupt);
}

namespace {

// ---- a mailbox's control words: closed stays closed; a lost place is no spin -------------------

/// Sets to `value` the length word of the one bytes<Max> slot whose bytes are `payload`, found by
/// its bytes in segment `name` or its chunks (every kind lays its slots out its own way), through
/// a mapping of their own as a hostile process would. False unless exactly one slot holds it.
bool scribble_slot_length(const std::string& name, std::span<const std::byte> payload, std::uint32_t value) {
    std::vector<std::string> segments{name};
    for (const auto& chunk : ipckit_test::chunks_of(name)) segments.push_back(name + "." + chunk);
    std::vector<std::pair<void*, std::size_t>> mapped;
    std::uint32_t* found = nullptr;
    int seen = 0;
    for (const auto& segment : segments) {
        const int fd = ::shm_open(ipckit::detail::os_name(segment).c_str(), O_RDWR, 0);
        if (fd < 0) continue;
        struct stat st {};
        void* m = ::fstat(fd, &st) == 0 && st.st_size > 0
                      ? ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                      : MAP_FAILED;
        ::close(fd);
        if (m == MAP_FAILED) continue;
        const auto size = static_cast<std::size_t>(st.st_size);
        mapped.emplace_back(m, size);
        auto* bytes = static_cast<std::byte*>(m);
        for (std::size_t at = 8; at + payload.size() <= size; at += 8) {
            auto* length = reinterpret_cast<std::uint32_t*>(bytes + at - 8);
            if (*length == payload.size() && std::memcmp(bytes + at, payload.data(), payload.size()) == 0) {
                found = length;
                ++seen;
            }
        }
    }
    if (seen == 1) *found = value;
    for (const auto& [m, size] : mapped) ::munmap(m, size);
    return seen == 1;
}

using record_queue = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<slots * 48>, ipckit::single, ipckit::multi_of<2>>;
using record_chain = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::unbounded<4096>, ipckit::multi_of<2>>;
using record_meet = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::zero_capacity>;
using record_box = ipckit::mailbox<ipckit::bytes<max_bytes>, ipckit::bounded<slots * 48>, ipckit::any, ipckit::system_owned>;
using record_bcast = ipckit::mailbox<ipckit::bytes<max_bytes>, ipckit::bounded<slots * 48>, ipckit::broadcast, ipckit::system_owned>;

TEMPLATE_TEST_CASE("scribble: a bytes<Max> slot's length changed inside its range is corrupt, not a message cut "
                   "short or padded with an earlier one's bytes",
                   "[unit]", record_queue, record_chain, record_meet, record_box, record_bcast) {
    using Q = TestType;
    const std::uint32_t changed = GENERATE(std::uint32_t{5}, std::uint32_t{max_bytes});
    scoped_name name("scribble");
    auto q = Q::create(name);
    auto rx = q.receiver();
    const std::string sent = "a message of 24 bytes...";
    const auto payload = std::as_bytes(std::span(sent));
    std::optional<std::thread> offering;  // a rendezvous: the send waits for the receive
    if constexpr (std::is_same_v<Q, record_meet>) {
        offering.emplace([&] {
            auto tx = q.sender();
            (void)tx.send(std::string_view(sent), patience);
        });
        const auto until = std::chrono::steady_clock::now() + patience;
        while (q.depth() == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    } else {
        auto tx = q.sender();
        REQUIRE(tx.send(std::string_view(sent)));
    }
    REQUIRE(scribble_slot_length(name, payload, changed));
    const auto got = rx.receive(patience);
    if (offering) offering->join();
    CHECK(err(got) == errc::corrupt);
}

TEST_CASE("scribble: a mailbox state word scribbled to closing without a reason stays closed, never open again",
          "[unit]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<slots>, ipckit::any, ipckit::system_owned>;
    scoped_name name("scribble");
    auto mb = box::create(name);
    inside<box> in(name);
    auto tx = mb.sender<ipckit::non_blocking>();
    auto rx = mb.receiver<ipckit::non_blocking>();
    in->control.state.store(ipckit::detail::mailbox_control::closing);  // closing | open: no close writes it
    CHECK(err(tx.send(make_tick(0))) == errc::closed);
    CHECK(err(rx.receive()) == errc::closed);  // which finishes the closing
    CHECK(err(tx.send(make_tick(1))) == errc::closed);
    CHECK_FALSE(mb.is_open());
}

TEST_CASE("scribble: a round_robin receiver whose own place was scribbled away is corrupt, not a spin past its "
          "deadline",
          "[unit]") {
    using box = ipckit::mailbox<tick, ipckit::bounded<slots>, ipckit::round_robin, ipckit::system_owned>;
    scoped_name name("scribble");
    auto mb = box::create(name);
    inside<box> in(name);
    auto tx = mb.sender<ipckit::non_blocking>();
    auto r0 = mb.receiver();
    std::optional<decltype(mb.receiver())> r1;
    r1.emplace(mb.receiver());
    REQUIRE(tx.send(make_tick(0)));
    REQUIRE(r0.receive(patience));  // the turn passes to r1's place
    r1.reset();                     // which r1 gives up: nobody's turn, nobody else held
    in->receivers.places[0].holder.store(ipckit::detail::roster_place::vacant);  // r0's own place, scribbled
    CHECK(err(r0.receive(10ms)) == errc::corrupt);
}

// ---- the fuzz -------------------------------------------------------------------------------

/// What one kind's trials came to.
struct tally {
    int trials = 0;
    int wrong = 0;        ///< trials in which a message was delivered that was not sent there
    int corrupt = 0;      ///< trials in which something reported corrupt
    int silent_loss = 0;  ///< trials with no corrupt reported in which a message sent never came
    std::string first_wrong;
    std::string first_loss;
};

/// Picks a value for `w` near its old one (moved by a few positions, a field changed, a bit
/// flipped, a header of elsewhere copied), or a random one.
std::uint64_t near_miss(std::mt19937_64& rng, const word& w, std::uint64_t old, const std::vector<word>& all) {
    std::uniform_int_distribution<int> pick(0, 9);
    const std::int64_t span = static_cast<std::int64_t>(w.what == word::header ? ring_bytes / 8 : 2 * slots + 2);
    std::uniform_int_distribution<std::int64_t> delta(-span, span);
    std::int64_t d = 0;
    while (d == 0) d = delta(rng);
    switch (w.what) {
        case word::header:
            switch (pick(rng) % 5) {
                case 0: return old + (static_cast<std::uint64_t>(d) << 31);  // the length or size changed
                case 1: {  // the header of another record, copied here
                    const auto& other = all[std::uniform_int_distribution<std::size_t>(0, all.size() - 1)(rng)];
                    return other.what == word::header ? other.w64->load() : old + 8;
                }
                case 2: return old ^ (std::uint64_t{1} << std::uniform_int_distribution<int>(0, 63)(rng));
                case 3: return 0;
                default: return rng();
            }
        case word::state32: return pick(rng) < 8 ? static_cast<std::uint64_t>(pick(rng) % 4) : rng();
        default:
            if (pick(rng) == 0) return rng();
            if (pick(rng) == 0) return old ^ (std::uint64_t{1} << std::uniform_int_distribution<int>(0, 63)(rng));
            return old + static_cast<std::uint64_t>(d);
    }
}

/// One trial on kind K: traffic, one scribble, traffic with endpoints coming and going, a drain.
template <class K>
void trial(std::uint64_t seed, tally& t) {
    std::mt19937_64 rng(seed);
    auto coin = [&](int in) { return std::uniform_int_distribution<int>(0, in - 1)(rng) == 0; };
    scoped_queue name;  // removes chunks as well, for the unbounded kind
    K k(name.str());
    std::array<std::uint64_t, K::senders> sent{};   // messages each sender sent
    std::array<std::int64_t, K::senders> last{};    // the last one received from each
    last.fill(-1);
    bool corrupt = false;
    std::string wrong;
    std::string scribbled;

    auto deliver = [&](const std::optional<std::uint64_t>& s) {
        if (!s) {
            wrong = "a message not whole";
            return;
        }
        const std::uint64_t who = *s >> 32;
        const std::uint64_t n = *s & 0xffff'ffff;
        if (who >= K::senders || n >= sent[who]) {
            wrong = "seq " + std::to_string(*s) + ", never sent";
        } else if (static_cast<std::int64_t>(n) <= last[who]) {
            wrong = "seq " + std::to_string(*s) + " after " + std::to_string(last[who]) + " (again or out of order)";
        } else {
            last[who] = static_cast<std::int64_t>(n);
        }
    };
    auto note = [&](errc e) {
        if (e == errc::corrupt) corrupt = true;
    };
    auto traffic = [&](int ops, bool churn) {
        for (int i = 0; i < ops && wrong.empty(); ++i) {
            const auto who = std::uniform_int_distribution<std::size_t>(0, K::senders - 1)(rng);
            if (churn && coin(12)) {
                note(k.reattach_receiver());
            } else if (churn && coin(12)) {
                note(k.reattach_sender(who));
            } else if (coin(2)) {
                const errc e = [&] {
                    try {
                        return k.send(who, seq_of(static_cast<std::uint32_t>(who), sent[who]));
                    } catch (const std::bad_optional_access&) {
                        return errc::closed;  // that sender's reattach failed
                    }
                }();
                if (e == errc::ok) ++sent[who];
                note(e);
            } else {
                std::optional<std::uint64_t> s;
                errc e = errc::closed;
                try {
                    e = k.receive(s, churn && coin(8) ? 3ms : 0ms);
                } catch (const std::bad_optional_access&) {
                }
                if (e == errc::ok) deliver(s);
                note(e);
            }
        }
    };

    traffic(static_cast<int>(std::uniform_int_distribution<int>(0, 4 * slots)(rng)), false);
    {
        auto words = k.words();
        auto& w = words[std::uniform_int_distribution<std::size_t>(0, words.size() - 1)(rng)];
        if (w.w64 != nullptr) {
            const std::uint64_t old = w.w64->load();
            const std::uint64_t v = near_miss(rng, w, old, words);
            w.w64->store(v);
            scribbled = w.name + ": " + std::to_string(old) + " -> " + std::to_string(v);
        } else {
            const std::uint32_t old = w.w32->load();
            const auto v = static_cast<std::uint32_t>(near_miss(rng, w, old, words));
            w.w32->store(v);
            scribbled = w.name + ": " + std::to_string(old) + " -> " + std::to_string(v);
        }
    }
    traffic(static_cast<int>(std::uniform_int_distribution<int>(0, 6 * slots)(rng)), true);
    // One more message from each sender (a ring whose index went back waits for the next
    // publish, which puts it right), then drain: receive until nothing comes within a few
    // liveness intervals (recovery included).
    for (std::size_t who = 0; who < K::senders; ++who) {
        try {
            const errc e = k.send(who, seq_of(static_cast<std::uint32_t>(who), sent[who]));
            if (e == errc::ok) ++sent[who];
            note(e);
        } catch (const std::bad_optional_access&) {
        }
    }
    // Each position a dead (here: made-up) claim holds takes one recovery, one per liveness
    // interval: a few timeouts in a row end the drain, not the first.
    for (int i = 0, idle = 0; i < 8 * static_cast<int>(slots) && idle < 4 && wrong.empty(); ++i) {
        std::optional<std::uint64_t> s;
        errc e = errc::closed;
        try {
            e = k.receive(s, 5ms);
        } catch (const std::bad_optional_access&) {
        }
        note(e);
        if (e == errc::ok) {
            idle = 0;
            deliver(s);
        } else if (e == errc::timed_out) {
            ++idle;
        } else {
            break;
        }
    }

    ++t.trials;
    if (!wrong.empty()) {
        if (t.wrong++ == 0) t.first_wrong = "seed " + std::to_string(seed) + ", " + scribbled + ": " + wrong;
        return;
    }
    if (corrupt) {
        ++t.corrupt;
        return;
    }
    for (std::size_t who = 0; who < K::senders; ++who)
        if (last[who] + 1 != static_cast<std::int64_t>(sent[who])) {
            if (t.silent_loss++ == 0) t.first_loss = "seed " + std::to_string(seed) + ", " + scribbled;
            break;
        }
}

template <class K>
tally fuzz(int trials, std::uint64_t seed0) {
    tally t;
    if (const char* one = std::getenv("SCRIBBLE_SEED")) {
        trial<K>(std::strtoull(one, nullptr, 10), t);
        return t;
    }
    for (int i = 0; i < trials; ++i) trial<K>(mix(seed0 + static_cast<std::uint64_t>(i)), t);
    return t;
}

}  // namespace

TEMPLATE_TEST_CASE("scribble fuzz: no message is delivered that its sender did not send at that position", "[unit]",
                   (ring_kind<spsc, 1>), (ring_kind<mpmc, 2>), (bytes_kind<bytes_spsc, 1>),
                   (bytes_kind<bytes_mpsc, 2>), bcast_kind, chain_kind) {
    const char* many = std::getenv("SCRIBBLE_TRIALS");
    const int trials = many != nullptr ? std::atoi(many) : 300;
    const tally t = fuzz<TestType>(trials, 0x5eed);
    INFO(t.trials << " trials: " << t.corrupt << " corrupt, " << t.silent_loss << " silent losses, " << t.wrong
                  << " wrong; first wrong: " << t.first_wrong);
    if (std::getenv("SCRIBBLE_TRIALS") != nullptr)
        std::fprintf(stderr, "%d trials: %d corrupt, %d silent losses (first: %s), %d wrong (first: %s)\n", t.trials,
                     t.corrupt, t.silent_loss, t.first_loss.c_str(), t.wrong, t.first_wrong.c_str());
    CHECK(t.wrong == 0);
}
