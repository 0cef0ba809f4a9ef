// Tests of queues of variable-size messages, ipckit::queue<bytes<Max>, bounded<N>, ...>, within
// one process: round trips of every interesting size, the ring wrapping around, too_large, a
// buffer too small, would_block / timed_out / closed, loans and views, recovery from a producer
// that died half-way (simulated in a vacant roster place), hostile headers and indices, and
// producer threads feeding a consumer thread (the tests to run under ThreadSanitizer).
//
// White-box tests reach the ring through a second mapping of the segment
// (ipckit::segment::open), as a hostile or crashed peer would.

#include "backdoor.hpp"
#include "byte_messages.hpp"
#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>
#include <ipckit/records.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::backdoor;
using ipckit_test::err;
using ipckit_test::mix;
using ipckit_test::patience;
using ipckit_test::pattern;
using ipckit_test::quick_liveness;
using ipckit_test::same;
using ipckit_test::scoped_name;
using ipckit_test::setup_errc;

namespace {

constexpr std::size_t max_bytes = 100;
using spsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<4096>>;
using mpsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<4096>, ipckit::multi_of<4>>;

using record = ipckit::detail::bytes_record;

using ipckit_test::as_bytes;

}  // namespace

// ---- set-up ---------------------------------------------------------------------------------

TEST_CASE("bytes queue: the layout names bytes<Max>, the ring's size in bytes and the sides", "[unit]") {
    CHECK(spsc::layout().description ==
          "ipckit::queue<bytes<100>, bounded<4096 bytes>, single producer, single consumer, process_owned>");
    CHECK(mpsc::layout().description ==
          "ipckit::queue<bytes<100>, bounded<4096 bytes>, multi<4> producer, single consumer, process_owned>");
    CHECK(spsc::layout().fingerprint() != mpsc::layout().fingerprint());
    CHECK(spsc::capacity == 4096);
    CHECK(spsc::max_message == 100);
    CHECK(ipckit::queue<ipckit::bytes<1000>, ipckit::bounded<256>>::max_message == 248);
}

TEST_CASE("bytes queue: opening with another Max, ring size or side is incompatible_layout", "[unit]") {
    scoped_name name("bytes");
    auto q = spsc::create(name);
    CHECK(setup_errc([&] { return ipckit::queue<ipckit::bytes<101>, ipckit::bounded<4096>>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_errc([&] { return ipckit::queue<ipckit::bytes<100>, ipckit::bounded<4104>>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_errc([&] { return mpsc::open(name); }) == errc::incompatible_layout);
    CHECK(setup_errc([&] { return ipckit::queue<std::uint64_t, ipckit::bounded<4096>>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_errc([&] { return spsc::open(name); }) == errc::ok);
}

TEST_CASE("bytes queue: a second sender on a single-producer queue is sender_busy", "[unit]") {
    scoped_name name("bytes");
    auto q = spsc::create(name);
    auto tx = q.sender();
    CHECK(setup_errc([&] { return q.sender(); }) == errc::sender_busy);
    auto rx = q.receiver();
    CHECK(setup_errc([&] { return q.receiver(); }) == errc::receiver_busy);
}

// ---- round trips ----------------------------------------------------------------------------

TEMPLATE_TEST_CASE("bytes queue: messages of 0, 1, 7, 8, 9 and Max bytes arrive whole and in order", "[unit]", spsc,
                   mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    const std::vector<std::size_t> sizes = {0, 1, 7, 8, 9, max_bytes - 1, max_bytes};

    for (std::size_t i = 0; i < sizes.size(); ++i) REQUIRE(tx.send(pattern(sizes[i], i)));
    std::array<std::byte, max_bytes> buf{};
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const auto n = rx.receive(buf);
        REQUIRE(n);
        CHECK(*n == sizes[i]);
        CHECK(same(std::span(buf.data(), *n), pattern(sizes[i], i)));
    }
    CHECK(err(rx.receive(buf)) == errc::would_block);
    CHECK(q.depth() == 0);

    // The same through the vector and the view.
    for (std::size_t i = 0; i < sizes.size(); ++i) REQUIRE(tx.send(pattern(sizes[i], 100 + i)));
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        if (i % 2 == 0) {
            const auto v = rx.receive();
            REQUIRE(v);
            CHECK(same(*v, pattern(sizes[i], 100 + i)));
        } else {
            const auto v = rx.receive_view();
            REQUIRE(v);
            CHECK(same(v->data(), pattern(sizes[i], 100 + i)));
        }
    }
    CHECK(err(rx.receive()) == errc::would_block);
}

TEMPLATE_TEST_CASE("bytes queue: a string_view is sent as its characters", "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    REQUIRE(tx.send("hello"));
    REQUIRE(tx.send(std::string("")));
    const auto v = rx.receive_view();
    REQUIRE(v);
    CHECK(v->text() == "hello");
    CHECK(v->size() == 5);
}

TEMPLATE_TEST_CASE("bytes queue: random sizes wrap around the ring many times, in order and whole", "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t rng = 42;
    auto size_of = [](std::uint64_t seq) { return static_cast<std::size_t>(mix(seq ^ 0x5eed) % (max_bytes + 1)); };
    std::array<std::byte, max_bytes> buf{};
    // About 40 laps of the 4 KiB ring, the queue between empty and full.
    while (received < 3000) {
        rng = mix(rng);
        const std::size_t burst = rng % 40;
        for (std::size_t i = 0; i < burst; ++i) {
            const auto s = tx.send(pattern(size_of(sent), sent));
            if (!s) {
                REQUIRE(s.error() == errc::would_block);
                break;
            }
            ++sent;
        }
        const std::size_t take = (rng >> 8) % 40;
        for (std::size_t i = 0; i < take && received < sent; ++i) {
            const auto want = pattern(size_of(received), received);
            switch ((rng >> (16 + i % 8)) % 3) {
            case 0: {
                const auto n = rx.receive(buf);
                REQUIRE(n);
                REQUIRE(same(std::span(buf.data(), *n), want));
                break;
            }
            case 1: {
                const auto v = rx.receive();
                REQUIRE(v);
                REQUIRE(same(*v, want));
                break;
            }
            default: {
                const auto v = rx.receive_view();
                REQUIRE(v);
                REQUIRE(same(v->data(), want));
            }
            }
            ++received;
        }
    }
    CHECK(tx.send("last"));
    CHECK(received >= 3000);
}

TEMPLATE_TEST_CASE("bytes queue: batches of random sizes wrap around the ring many times, in order and whole", "[unit]",
                   spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    auto size_of = [](std::uint64_t seq) { return static_cast<std::size_t>(mix(seq ^ 0x5eed) % (max_bytes + 1)); };
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t rng = 7;
    bool whole = true;
    // About 40 laps of the 4 KiB ring, in batches of 0 to 60 each way: some fill the ring part
    // way through, some cross the end of the lap.
    while (received < 3000) {
        rng = mix(rng);
        std::vector<std::vector<std::byte>> ms;
        for (std::size_t i = 0; i < rng % 61; ++i) ms.push_back(pattern(size_of(sent + i), sent + i));
        const std::vector<std::span<const std::byte>> spans(ms.begin(), ms.end());
        const auto n = tx.send(std::span<const std::span<const std::byte>>(spans));
        if (n) {
            REQUIRE(*n <= ms.size());
            sent += *n;
        } else {
            REQUIRE(n.error() == errc::would_block);
        }
        std::vector<std::byte> storage(ipckit::records::storage_for(1 + (rng >> 8) % 60, max_bytes));
        ipckit::records got{storage};
        const auto r = rx.receive(got);
        if (!r) {
            REQUIRE(r.error() == errc::would_block);
            continue;
        }
        REQUIRE(*r == got.size());
        for (const std::span<const std::byte> m : got) {
            whole = whole && same(m, pattern(size_of(received), received));
            ++received;
        }
        REQUIRE(received <= sent);
    }
    CHECK(whole);
}

TEMPLATE_TEST_CASE("bytes queue: a ring holds exactly as many records as fit, then would_block", "[unit]",
                   (ipckit::queue<ipckit::bytes<8>, ipckit::bounded<64>>),
                   (ipckit::queue<ipckit::bytes<8>, ipckit::bounded<64>, ipckit::multi>)) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    // 8 bytes of header + 8 of payload: 4 records fill 64 bytes.
    for (int i = 0; i < 4; ++i) REQUIRE(tx.send(pattern(8, i)));
    CHECK(q.depth() == 64);
    CHECK(err(tx.send(pattern(1, 9))) == errc::would_block);
    REQUIRE(rx.receive());
    CHECK(tx.send(pattern(1, 9)));
    CHECK(err(tx.send(pattern(0, 9))) == errc::would_block);
    // Empty messages are records of 8 bytes.
    while (rx.receive()) {
    }
    for (int i = 0; i < 8; ++i) REQUIRE(tx.send(std::span<const std::byte>()));
    CHECK(err(tx.send(std::span<const std::byte>())) == errc::would_block);
    for (int i = 0; i < 8; ++i) {
        const auto v = rx.receive();
        REQUIRE(v);
        CHECK(v->empty());
    }
}

TEMPLATE_TEST_CASE("bytes queue: a record as large as the ring fits whatever the offset", "[unit]",
                   (ipckit::queue<ipckit::bytes<56>, ipckit::bounded<64>>),
                   (ipckit::queue<ipckit::bytes<56>, ipckit::bounded<64>, ipckit::multi>)) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    // Move the indices to every offset, then send a record of the whole ring: the first attempt
    // places the wrap marker, the receiver frees it, and then the record fits.
    for (std::size_t offset = 0; offset < 64; offset += 8) {
        for (std::size_t moved = 0; moved < offset; moved += 8) {
            REQUIRE(tx.send(std::span<const std::byte>()));
            REQUIRE(rx.receive());
        }
        const auto big = pattern(56, offset);
        auto s = tx.send(big);
        if (!s) {
            REQUIRE(s.error() == errc::would_block);
            CHECK(err(rx.receive()) == errc::would_block);  // frees the wrap marker
            s = tx.send(big);
        }
        REQUIRE(s);
        const auto v = rx.receive();
        REQUIRE(v);
        CHECK(same(*v, big));
    }
}

// ---- too_large and small buffers ------------------------------------------------------------

TEMPLATE_TEST_CASE("bytes queue: a message over Max is too_large at once, with nothing sent", "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.sender();  // blocking, yet it returns at once
    auto rx = q.template receiver<ipckit::non_blocking>();
    CHECK(err(tx.send(pattern(max_bytes + 1, 1))) == errc::too_large);
    CHECK(err(tx.send(pattern(max_bytes + 1, 1), 10ms)) == errc::too_large);
    CHECK(err(tx.loan(max_bytes + 1)) == errc::too_large);
    CHECK(q.depth() == 0);
    CHECK(err(rx.receive()) == errc::would_block);
    CHECK(tx.send(pattern(max_bytes, 1)));
}

TEMPLATE_TEST_CASE("bytes queue: a message larger than the ring could ever hold is too_large", "[unit]",
                   (ipckit::queue<ipckit::bytes<1000>, ipckit::bounded<256>>),
                   (ipckit::queue<ipckit::bytes<1000>, ipckit::bounded<256>, ipckit::multi>)) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    // 8 bytes of header + 249 > 256, although 249 <= Max.
    CHECK(err(tx.send(pattern(249, 1))) == errc::too_large);
    CHECK(err(tx.send(pattern(1000, 1))) == errc::too_large);
    CHECK(err(tx.loan(249)) == errc::too_large);
    CHECK(q.depth() == 0);
    REQUIRE(tx.send(pattern(248, 2)));
    const auto v = rx.receive();
    REQUIRE(v);
    CHECK(same(*v, pattern(248, 2)));
}

TEMPLATE_TEST_CASE("bytes queue: a buffer too small is too_large and the message waits for a bigger one", "[unit]", spsc,
                   mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.receiver();  // blocking: too_large at once all the same
    REQUIRE(tx.send(pattern(50, 1)));
    REQUIRE(tx.send(pattern(3, 2)));
    std::array<std::byte, 49> small{};
    CHECK(err(rx.receive(small)) == errc::too_large);
    CHECK(err(rx.receive(small, 10ms)) == errc::too_large);
    CHECK(err(rx.receive(std::span<std::byte>())) == errc::too_large);
    std::array<std::byte, 50> exact{};
    const auto n = rx.receive(exact);
    REQUIRE(n);
    CHECK(*n == 50);
    CHECK(same(exact, pattern(50, 1)));
    const auto m = rx.receive(small);
    REQUIRE(m);
    CHECK(same(std::span(small.data(), *m), pattern(3, 2)));
}

// ---- would_block, timed_out, closed ---------------------------------------------------------

TEMPLATE_TEST_CASE("bytes queue: non-blocking verbs would block on an empty or full ring", "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    std::array<std::byte, max_bytes> buf{};
    CHECK(err(rx.receive(buf)) == errc::would_block);
    CHECK(err(rx.receive()) == errc::would_block);
    CHECK(err(rx.receive_view()) == errc::would_block);
    std::size_t n = 0;
    while (tx.send(pattern(max_bytes, n))) ++n;
    CHECK(n == 4096 / 112);
    CHECK(err(tx.send(pattern(max_bytes, n))) == errc::would_block);
    CHECK(err(tx.loan(max_bytes)) == errc::would_block);
}

TEMPLATE_TEST_CASE("bytes queue: blocking verbs time out at their deadline and change nothing", "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    std::array<std::byte, max_bytes> buf{};
    CHECK(err(rx.receive(buf, 20ms)) == errc::timed_out);
    CHECK(err(rx.receive(std::chrono::steady_clock::now() + 20ms)) == errc::timed_out);
    CHECK(err(rx.receive_view(20ms)) == errc::timed_out);
    std::size_t n = 0;
    while (tx.send(pattern(max_bytes, n), 0ms)) ++n;
    const auto used = q.depth();
    CHECK(err(tx.send(pattern(max_bytes, n), 20ms)) == errc::timed_out);
    CHECK(err(tx.send("x", std::chrono::steady_clock::now() + 20ms)) == errc::timed_out);
    CHECK(err(tx.loan(1, 20ms)) == errc::timed_out);
    CHECK(q.depth() == used);
    for (std::size_t i = 0; i < n; ++i) {
        const auto v = rx.receive(buf, 0ms);  // a passed deadline still takes a waiting message
        REQUIRE(v);
        CHECK(same(std::span(buf.data(), *v), pattern(max_bytes, i)));
    }
}

TEMPLATE_TEST_CASE("bytes queue: after the sender closes (one) or the queue is closed (many), the receiver gets every "
                   "message, then closed",
                   "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto rx = q.receiver();
    {
        auto tx = q.sender();
        for (int i = 0; i < 10; ++i) REQUIRE(tx.send(pattern(static_cast<std::size_t>(i * 9), i)));
    }
    // The closed rule: a queue of many senders ends when it is closed as a whole.
    if constexpr (TestType::max_senders > 1) q.close();
    for (int i = 0; i < 10; ++i) {
        const auto v = rx.receive(patience);
        REQUIRE(v);
        CHECK(same(*v, pattern(static_cast<std::size_t>(i * 9), i)));
    }
    CHECK(err(rx.receive(patience)) == errc::closed);
    CHECK(err(rx.receive_view(patience)) == errc::closed);
    std::array<std::byte, 8> buf{};
    CHECK(err(rx.receive(buf)) == errc::closed);
}

TEMPLATE_TEST_CASE("bytes queue: a send on a full ring whose receiver closed is closed", "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.sender();
    {
        auto rx = q.receiver();
        while (tx.send(pattern(max_bytes, 0), 0ms)) {
        }
    }
    CHECK(err(tx.send(pattern(max_bytes, 0))) == errc::closed);
    CHECK(err(tx.loan(max_bytes)) == errc::closed);
}

TEMPLATE_TEST_CASE("bytes queue: verbs on a moved-from endpoint return closed", "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    auto tx2 = std::move(tx);
    auto rx2 = std::move(rx);
    CHECK(err(tx.send("x")) == errc::closed);  // NOLINT(bugprone-use-after-move)
    CHECK(err(rx.receive()) == errc::closed);  // NOLINT(bugprone-use-after-move)
    REQUIRE(tx2.send("x"));
    CHECK(rx2.receive());
}

// ---- loans and views ------------------------------------------------------------------------

TEMPLATE_TEST_CASE("bytes queue: a loan is written in place and sent by commit, or only its first k bytes", "[unit]",
                   spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();

    auto loan = tx.loan(64);
    REQUIRE(loan);
    REQUIRE(loan->size() == 64);
    const auto want = pattern(64, 7);
    std::memcpy(loan->data().data(), want.data(), want.size());
    CHECK(err(rx.receive()) == errc::would_block);  // not sent until committed
    CHECK(err(tx.loan(1)) == errc::in_use);          // one loan at a time
    CHECK(err(tx.send("x")) == errc::in_use);
    CHECK(err(loan->commit(65)) == errc::too_large);  // and the loan stays open
    REQUIRE(*loan);
    REQUIRE(loan->commit());
    CHECK(!*loan);
    CHECK(loan->data().empty());
    CHECK(err(loan->commit()) == errc::closed);

    auto short_loan = tx.loan(max_bytes);
    REQUIRE(short_loan);
    std::memcpy(short_loan->data().data(), want.data(), 10);
    REQUIRE(short_loan->commit(10));
    auto empty_loan = tx.loan(16);
    REQUIRE(empty_loan);
    REQUIRE(empty_loan->commit(0));
    REQUIRE(tx.send("after"));

    auto v = rx.receive();
    REQUIRE(v);
    CHECK(same(*v, want));
    v = rx.receive();
    REQUIRE(v);
    CHECK(same(*v, std::span(want.data(), 10)));
    v = rx.receive();
    REQUIRE(v);
    CHECK(v->empty());
    v = rx.receive();
    REQUIRE(v);
    CHECK(same(*v, as_bytes("after")));
}

TEMPLATE_TEST_CASE("bytes queue: a loan dropped uncommitted sends nothing and leaks no room", "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    // Many times the ring's size in dropped loans, between messages that must all arrive.
    for (int i = 0; i < 200; ++i) {
        {
            auto loan = tx.loan(max_bytes);
            REQUIRE(loan);
            std::memset(loan->data().data(), 0xAB, loan->size());
        }
        auto loan = tx.loan(50);
        REQUIRE(loan);
        loan->abandon();
        CHECK(!*loan);
        REQUIRE(tx.send(pattern(20, i)));
        const auto v = rx.receive();
        REQUIRE(v);
        CHECK(same(*v, pattern(20, i)));
        CHECK(err(rx.receive()) == errc::would_block);
    }
    CHECK(q.depth() == 0);
}

TEMPLATE_TEST_CASE("bytes queue: a loan survives a move of the loan and of its sender", "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    auto loan = tx.loan(5);
    REQUIRE(loan);
    auto moved_tx = std::move(tx);
    typename TestType::loan l2 = std::move(*loan);
    std::memcpy(l2.data().data(), "hello", 5);
    CHECK(err(moved_tx.send("x")) == errc::in_use);
    REQUIRE(l2.commit());
    REQUIRE(moved_tx.send("x"));
    auto v = rx.receive_view();
    REQUIRE(v);
    CHECK(v->text() == "hello");
}

TEMPLATE_TEST_CASE("bytes queue: a view stays valid while held and its bytes are reused only after release", "[unit]",
                   (ipckit::queue<ipckit::bytes<56>, ipckit::bounded<128>>),
                   (ipckit::queue<ipckit::bytes<56>, ipckit::bounded<128>, ipckit::multi>)) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    // Records of 64 bytes: the ring holds two.
    REQUIRE(tx.send(pattern(56, 1)));
    REQUIRE(tx.send(pattern(56, 2)));
    auto v = rx.receive_view();
    REQUIRE(v);
    CHECK(err(rx.receive()) == errc::in_use);  // one view at a time
    CHECK(err(rx.receive_view()) == errc::in_use);
    for (int i = 0; i < 5; ++i) CHECK(err(tx.send(pattern(56, 3))) == errc::would_block);
    CHECK(err(tx.loan(1)) == errc::would_block);
    CHECK(same(v->data(), pattern(56, 1)));
    auto moved = std::move(*v);
    CHECK(!*v);
    CHECK(same(moved.data(), pattern(56, 1)));
    moved.release();
    CHECK(!moved);
    REQUIRE(tx.send(pattern(56, 3)));
    auto w = rx.receive();
    REQUIRE(w);
    CHECK(same(*w, pattern(56, 2)));
    w = rx.receive();
    REQUIRE(w);
    CHECK(same(*w, pattern(56, 3)));
}

TEMPLATE_TEST_CASE("bytes queue: a new receiver continues after the message its predecessor took by view", "[unit]",
                   spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    REQUIRE(tx.send("first"));
    REQUIRE(tx.send("second"));
    {
        auto rx = q.template receiver<ipckit::non_blocking>();
        auto v = rx.receive_view();
        REQUIRE(v);
        CHECK(v->text() == "first");
        // Released before its receiver, as it must be: the successor must not see it again.
    }
    auto rx = q.template receiver<ipckit::non_blocking>();
    const auto v = rx.receive_view();
    REQUIRE(v);
    CHECK(v->text() == "second");
}

TEMPLATE_TEST_CASE("bytes queue: a view taken by a receiver that died is not delivered again", "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    REQUIRE(tx.send("taken"));
    REQUIRE(tx.send("next"));
    backdoor<TestType> door(name);
    auto& ring = door.ring();
    // What a receiver killed while holding a view of "taken" leaves: read past it, head before it.
    const std::uint64_t end = record::size_of(door.header_at(0));
    ring.read.store(end);
    auto rx = q.template receiver<ipckit::non_blocking>();
    CHECK(ring.head.load() == end);
    const auto v = rx.receive();
    REQUIRE(v);
    CHECK(same(*v, as_bytes("next")));
    if constexpr (TestType::shared::multi_producer) CHECK(door.header_at(0) == 0);  // zeroed for reuse
}

TEMPLATE_TEST_CASE("bytes queue: a receiver that died freeing a batch: its successor continues after the whole batch",
                   "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    for (const char* m : {"one", "two", "three", "next"}) REQUIRE(tx.send(m));
    backdoor<TestType> door(name);
    auto& ring = door.ring();
    // What a receiver killed between the two stores that free a batch of three leaves: the run's
    // start and read past them, head before them (mpsc: not zeroed yet either).
    std::uint64_t end = 0;
    for (int i = 0; i < 3; ++i) end += record::size_of(door.header_at(end));
    ring.run_from.store(0);
    ring.read.store(end);
    auto rx = q.template receiver<ipckit::non_blocking>();
    CHECK(ring.head.load() == end);
    const auto v = rx.receive();
    REQUIRE(v);
    CHECK(same(*v, as_bytes("next")));
    if constexpr (TestType::shared::multi_producer) CHECK(door.header_at(0) == 0);  // zeroed for reuse
}

// ---- recovery from a producer that died half-way --------------------------------------------

namespace {

/// Reserves [tail, tail + size) as a producer would, in the vacant sender place `place`, and
/// "dies" there: a vacant place is held by no live process. With `header`, writes the reserved
/// header (and some payload) as a producer killed after that step would have.
template <class Q>
std::uint64_t reserve_and_die(backdoor<Q>& door, std::size_t place, std::uint64_t size, bool header) {
    auto& sh = door.shared();
    REQUIRE(sh.senders.places[place].holder.load() == ipckit::detail::roster_place::vacant);
    std::uint64_t t = sh.ring.tail.load();
    sh.senders.places[place].pending.store(t + 1);
    REQUIRE(sh.ring.tail.compare_exchange_strong(t, t + size));
    if (header) {
        door.set_header(t, record::record_at(record::reserved, t, size));
        std::memset(sh.ring.payload(t), 0x5A, size - 8);
    }
    return t;
}

}  // namespace

TEST_CASE("bytes queue: a blocking receive skips a record whose producer died before writing anything", "[unit]") {
    scoped_name name("bytes");
    auto q = mpsc::create(name, quick_liveness(5ms));
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver();
    backdoor<mpsc> door(name);
    REQUIRE(tx.send("before"));
    reserve_and_die(door, 3, 48, false);
    reserve_and_die(door, 2, 24, false);  // two dead in a row: one skip record covers both
    REQUIRE(tx.send("after"));
    auto v = rx.receive(patience);
    REQUIRE(v);
    CHECK(same(*v, as_bytes("before")));
    v = rx.receive(patience);
    REQUIRE(v);
    CHECK(same(*v, as_bytes("after")));
    CHECK(q.depth() == 0);
}

TEST_CASE("bytes queue: a blocking receive skips a record whose producer died while writing it", "[unit]") {
    scoped_name name("bytes");
    auto q = mpsc::create(name, quick_liveness(5ms));
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver();
    backdoor<mpsc> door(name);
    reserve_and_die(door, 3, 112, true);
    REQUIRE(tx.send("after"));
    const auto v = rx.receive(patience);
    REQUIRE(v);
    CHECK(same(*v, as_bytes("after")));
    // The ring is whole again: it fills and drains as before.
    std::size_t n = 0;
    while (tx.send(pattern(max_bytes, n))) ++n;
    CHECK(n >= 4096 / 112 - 1);
    for (std::size_t i = 0; i < n; ++i) {
        const auto w = rx.receive(patience);
        REQUIRE(w);
        CHECK(same(*w, pattern(max_bytes, i)));
    }
}

TEST_CASE("bytes queue: a producer that died reserving the wrap marker is recovered from", "[unit]") {
    scoped_name name("bytes");
    auto q = mpsc::create(name, quick_liveness(5ms));
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver();
    backdoor<mpsc> door(name);
    // Bring head and tail to 40 bytes before the end of the ring, then reserve the rest of the
    // lap as a producer that dies placing its wrap marker would.
    auto& ring = door.ring();
    while (ring.tail.load() + 112 <= 4096 - 40) {
        REQUIRE(tx.send(pattern(max_bytes, 0)));
        REQUIRE(rx.receive(patience));
    }
    const std::uint64_t gap = 4096 - 40 - ring.tail.load();
    if (gap != 0) {
        REQUIRE(tx.send(pattern(gap - 8, 1)));
        REQUIRE(rx.receive(patience));
    }
    REQUIRE(ring.tail.load() == 4096 - 40);
    reserve_and_die(door, 3, 40, false);
    REQUIRE(tx.send("after"));
    const auto v = rx.receive(patience);
    REQUIRE(v);
    CHECK(same(*v, as_bytes("after")));
    CHECK(ring.head.load() == 4096 + 16);
}

TEST_CASE("bytes queue: a producer that died in the middle of a batch loses that run whole, never part of it", "[unit]") {
    scoped_name name("bytes");
    auto q = mpsc::create(name, quick_liveness(5ms));
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver();
    backdoor<mpsc> door(name);
    REQUIRE(tx.send("before"));
    // A run of three records of 24 bytes claimed at once (its reserved header the size of all
    // three), the second and third written whole, and the producer dead before it committed
    // the first: none of the three may arrive.
    const std::uint64_t t = reserve_and_die(door, 3, 72, true);
    for (std::uint64_t p = t + 24; p < t + 72; p += 24) {
        std::memcpy(door.ring().payload(p), "lost-run", 8);
        door.set_header(p, record::message_at(p, 8));
    }
    REQUIRE(tx.send("after"));
    auto v = rx.receive(patience);
    REQUIRE(v);
    CHECK(same(*v, as_bytes("before")));
    v = rx.receive(patience);
    REQUIRE(v);
    CHECK(same(*v, as_bytes("after")));
    CHECK(q.depth() == 0);
}

TEST_CASE("bytes queue: a record whose producer still lives is never skipped", "[unit]") {
    scoped_name name("bytes");
    auto q = mpsc::create(name, quick_liveness(5ms));
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver();
    backdoor<mpsc> door(name);
    // A reservation listed as pending by a place this live process holds (tx's).
    auto loan = tx.loan(30);
    REQUIRE(loan);
    std::memcpy(loan->data().data(), "slow writer...................", 30);
    CHECK(err(tx.send(std::string_view())) == errc::in_use);
    // 40 liveness intervals of recovery attempts: the receiver must wait, not skip.
    CHECK(err(rx.receive(200ms)) == errc::timed_out);
    REQUIRE(loan->commit());
    const auto v = rx.receive(patience);
    REQUIRE(v);
    CHECK(v->size() == 30);
}

TEST_CASE("bytes queue: a non-blocking receiver also gets past a record whose producer died, but not a live one's",
          "[unit]") {
    scoped_name name("bytes");
    auto q = mpsc::create(name, quick_liveness(5ms));
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    backdoor<mpsc> door(name);
    auto poll_until = [&rx](std::chrono::steady_clock::time_point until) {
        for (;;) {
            auto r = rx.receive();
            if (r || r.error() != errc::would_block || std::chrono::steady_clock::now() >= until) return r;
        }
    };
    // A live producer's loan: polled past several liveness intervals, it is waited for.
    auto loan = tx.loan(3);
    REQUIRE(loan);
    std::memcpy(loan->data().data(), "abc", 3);
    CHECK(err(poll_until(std::chrono::steady_clock::now() + 30ms)) == errc::would_block);
    REQUIRE(loan->commit());
    auto v = poll_until(std::chrono::steady_clock::now() + patience);
    REQUIRE(v);
    CHECK(same(*v, as_bytes("abc")));
    // A dead producer's reservation, with and without its header: skipped.
    reserve_and_die(door, 3, 40, false);
    REQUIRE(tx.send("one"));
    reserve_and_die(door, 2, 64, true);
    REQUIRE(tx.send("two"));
    for (const std::string_view want : {"one", "two"}) {
        v = poll_until(std::chrono::steady_clock::now() + patience);
        REQUIRE(v);
        CHECK(same(*v, as_bytes(want)));
    }
}

// ---- hostile headers and indices ------------------------------------------------------------

namespace {

/// Sends one message on a fresh queue, scribbles `word` over its header, and returns what each
/// way of receiving says.
template <class Q>
std::vector<errc> receive_after_scribble(std::uint64_t word, std::uint64_t pos_of_message = 0) {
    scoped_name name("bytes");
    auto q = Q::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    for (std::uint64_t p = 0; p < pos_of_message; p += 16) {  // move the head first
        REQUIRE(tx.send(pattern(8, p)));
        REQUIRE(rx.receive());
    }
    REQUIRE(tx.send(pattern(40, 1)));
    backdoor<Q> door(name);
    door.set_header(pos_of_message, word);
    std::array<std::byte, 200> buf{};
    std::vector<errc> out;
    out.push_back(err(rx.receive(buf)));
    out.push_back(err(rx.receive()));
    out.push_back(err(rx.receive_view()));
    return out;
}

}  // namespace

TEMPLATE_TEST_CASE("bytes queue: a hostile record header is corrupt, never read outside the ring", "[unit]", spsc, mpsc) {
    const std::vector<errc> corrupt(3, errc::corrupt);
    // Headers stamped for their position, so that each of these meets the check it names. A
    // length over Max.
    CHECK(receive_after_scribble<TestType>(record::message_at(0, max_bytes + 1)) == corrupt);
    // A record beyond the tail (the message sent is 40 bytes), and one that crosses the end of
    // the ring.
    CHECK(receive_after_scribble<TestType>(record::message_at(0, max_bytes)) == corrupt);
    CHECK(receive_after_scribble<TestType>(record::message_at(4064, 40), 4064) == corrupt);
    // A record size of 0, and the largest the field can hold.
    CHECK(receive_after_scribble<TestType>(record::record_at(record::skip, 0, 0)) == corrupt);
    CHECK(receive_after_scribble<TestType>(~std::uint64_t{0} >> 2 | (std::uint64_t{2} << 62)) == corrupt);
    // A skip record beyond the tail.
    CHECK(receive_after_scribble<TestType>(record::record_at(record::skip, 0, 4096)) == corrupt);
    if constexpr (TestType::shared::multi_producer) {
        // A reservation that crosses the end of the ring.
        CHECK(receive_after_scribble<TestType>(record::record_at(record::reserved, 4064, 64), 4064) == corrupt);
    } else {
        // Below the tail every record is complete.
        CHECK(receive_after_scribble<TestType>(0) == corrupt);
        CHECK(receive_after_scribble<TestType>(record::record_at(record::reserved, 0, 48)) == corrupt);
    }
}

TEMPLATE_TEST_CASE("bytes queue: a record header changed or written elsewhere is corrupt, never delivered", "[unit]",
                   spsc, mpsc) {
    const std::vector<errc> corrupt(3, errc::corrupt);
    // The message sent is 40 bytes at 0. Its header with another length (which would deliver
    // 8 of its bytes, and send the reader to a position where no record starts), another kind,
    // or its stamp alone changed.
    const std::uint64_t real = record::message_at(0, 40);
    const std::uint64_t field = std::uint64_t{1} << record::field_shift;
    CHECK(receive_after_scribble<TestType>(real - 32 * field) == corrupt);
    CHECK(receive_after_scribble<TestType>(real + field) == corrupt);
    CHECK(receive_after_scribble<TestType>(real ^ (std::uint64_t{1} << record::kind_shift)) == corrupt);
    CHECK(receive_after_scribble<TestType>(real ^ 1) == corrupt);
    // A whole header of another position: what a moved tail or a moved header finds.
    CHECK(receive_after_scribble<TestType>(record::message_at(48, 40)) == corrupt);
    CHECK(receive_after_scribble<TestType>(record::message_at(4096, 40)) == corrupt);  // the next lap's
    // The header as it was: the message, once.
    CHECK(receive_after_scribble<TestType>(real) == std::vector<errc>{errc::ok, errc::would_block, errc::would_block});
}

TEMPLATE_TEST_CASE("bytes queue: hostile indices are corrupt, on the data path and on attach", "[unit]", spsc, mpsc) {
    scoped_name name("bytes");
    auto q = TestType::create(name);
    backdoor<TestType> door(name);
    auto& ring = door.ring();
    {
        auto tx = q.template sender<ipckit::non_blocking>();
        auto rx = q.template receiver<ipckit::non_blocking>();
        REQUIRE(tx.send("x"));
        ring.tail.store(ring.head.load() + 4096 + 8);  // more than the ring holds
        CHECK(err(rx.receive(std::span<std::byte>())) == errc::corrupt);
        ring.tail.store(16);
        ring.head.store(16 + 2 * 4096);  // the head past the tail
        std::size_t sent = 0;
        errc e = errc::ok;
        while (sent < 1000 && (e = err(tx.send(pattern(max_bytes, 0)))) == errc::ok) ++sent;
        CHECK(e == errc::corrupt);
    }
    CHECK(setup_errc([&] { return q.sender(); }) == errc::corrupt);
    CHECK(setup_errc([&] { return q.receiver(); }) == errc::corrupt);
    ring.head.store(0);
    ring.tail.store(16);
    ring.read.store(4096 * 3);  // a view's end past the tail
    CHECK(setup_errc([&] { return q.receiver(); }) == errc::corrupt);
}

// ---- threads --------------------------------------------------------------------------------

namespace {

/// The message producer p sends as its s-th: [p:4][s:8] then bytes that are a function of both,
/// 12 to max_bytes bytes long. check() recomputes all of it.
std::vector<std::byte> message_of(std::uint32_t p, std::uint64_t s) {
    const std::size_t n = 12 + static_cast<std::size_t>(mix((std::uint64_t{p} << 40) ^ s) % (max_bytes - 12 + 1));
    auto v = pattern(n, (std::uint64_t{p} << 40) ^ s);
    std::memcpy(v.data(), &p, 4);
    std::memcpy(v.data() + 4, &s, 8);
    return v;
}
bool check(std::span<const std::byte> m, std::uint32_t& p, std::uint64_t& s) {
    if (m.size() < 12) return false;
    std::memcpy(&p, m.data(), 4);
    std::memcpy(&s, m.data() + 4, 8);
    return same(m, message_of(p, s));
}

/// What both thread stress cases share: a queue Q and its receiver, a sender thread per producer
/// (4 where Q takes many, else 1) that sends its `each` messages message_of(p, 0, 1...), the
/// failures any thread counts, and the check that each message received is whole and its
/// producer's next.
template <class Q>
struct stress {
    static constexpr std::uint32_t producers = Q::max_senders > 1 ? 4 : 1;
    static constexpr std::uint64_t total = 100'000;
    static constexpr std::uint64_t each = total / producers;

    scoped_name name{"bytes"};
    Q q = Q::create(name);
    decltype(q.receiver()) rx = q.receiver();
    std::atomic<int> failures{0};
    std::vector<std::uint64_t> next = std::vector<std::uint64_t>(producers, 0);
    std::vector<std::thread> threads;  // last: joined before the queue goes

    ~stress() { join(); }

    /// Starts the producers: body(sender, p) sends producer p's messages in order, counting in
    /// `failures` what goes wrong. Each sender is attached here, before its thread starts.
    template <class Body>
    void start(Body body) {
        for (std::uint32_t p = 0; p < producers; ++p)
            threads.emplace_back([body, p, tx = q.sender()]() mutable { body(tx, p); });
    }

    /// Whether `m`, the i-th message received (none: its receive failed), is whole and its
    /// producer's next; else a failure, said.
    bool accept(std::optional<std::span<const std::byte>> m, std::uint64_t i) {
        std::uint32_t p = 0;
        std::uint64_t s = 0;
        if (m && check(*m, p, s) && p < producers && s == next[p]) {
            ++next[p];
            return true;
        }
        UNSCOPED_INFO("message " << i << " is torn or out of order (producer " << p << ", seq " << s << ")");
        ++failures;
        return false;
    }

    /// Waits for the producers; after a failure, closes the receiver first, so that producers
    /// waiting for room get closed rather than wait.
    void join() {
        if (failures != 0) rx.close();
        for (auto& t : threads)
            if (t.joinable()) t.join();
    }
};

}  // namespace

TEMPLATE_TEST_CASE("bytes queue: producer threads pass 1e5 messages to a consumer thread, each in order and whole",
                   "[unit]", (ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<1024>>),
                   (ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<1024>, ipckit::multi_of<4>>),
                   (ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<1024>, ipckit::multi_of<4>, ipckit::single,
                                  ipckit::futex>),
                   (ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<1024>, ipckit::single, ipckit::single,
                                  ipckit::spin>)) {
    stress<TestType> run;
    run.start([&run](auto& tx, std::uint32_t p) {
        for (std::uint64_t s = 0; s < run.each; ++s) {
            // A third by loan, committed short of what was lent every so often.
            if (s % 3 == 0) {
                const auto m = message_of(p, s);
                auto loan = tx.loan(std::min(m.size() + (s % 2) * 5, max_bytes), patience);
                if (!loan) {
                    ++run.failures;
                    return;
                }
                std::memcpy(loan->data().data(), m.data(), m.size());
                if (!loan->commit(m.size())) ++run.failures;
            } else if (!tx.send(message_of(p, s), patience)) {
                ++run.failures;
                return;
            }
        }
    });
    std::array<std::byte, max_bytes> buf{};
    for (std::uint64_t i = 0; i < run.total; ++i) {
        bool ok = false;
        if (i % 2 == 0) {
            const auto v = run.rx.receive_view(patience);
            ok = run.accept(v ? std::optional(v->data()) : std::nullopt, i);
        } else {
            const auto n = run.rx.receive(buf, patience);
            ok = run.accept(n ? std::optional(std::span<const std::byte>(buf.data(), *n)) : std::nullopt, i);
        }
        if (!ok) break;
    }
    run.join();
    REQUIRE(run.failures == 0);
    // The closed rule: a queue of many producers ends when it is closed as a whole.
    if constexpr (TestType::max_senders > 1) run.q.close();
    CHECK(err(run.rx.receive(patience)) == errc::closed);
}

TEMPLATE_TEST_CASE("bytes queue: producer threads pass 1e5 messages in batches to a consumer thread taking batches, "
                   "each in order and whole",
                   "[unit]", (ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<1024>>),
                   (ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<1024>, ipckit::multi_of<4>>)) {
    stress<TestType> run;
    run.start([&run](auto& tx, std::uint32_t p) {
        // Batches of 1 to 20, each sent whole before the next (the ring holds about 12 of the
        // largest, so many wait for room part way).
        for (std::uint64_t s = 0; s < run.each;) {
            const std::uint64_t n = std::min<std::uint64_t>(1 + mix(s ^ p) % 20, run.each - s);
            std::vector<std::vector<std::byte>> ms;
            for (std::uint64_t i = 0; i < n; ++i) ms.push_back(message_of(p, s + i));
            const std::vector<std::span<const std::byte>> spans(ms.begin(), ms.end());
            const auto sent = tx.send(std::span<const std::span<const std::byte>>(spans), patience);
            if (!sent || *sent != n) {
                ++run.failures;
                return;
            }
            s += n;
        }
    });
    std::uint64_t received = 0;
    for (std::uint64_t round = 0; received < run.total && run.failures == 0; ++round) {
        std::vector<std::byte> storage(ipckit::records::storage_for(1 + mix(round) % 30, max_bytes));
        ipckit::records got{storage};
        const auto n = run.rx.receive(got, patience);
        if (!n || *n != got.size()) {
            ++run.failures;
            break;
        }
        for (const std::span<const std::byte> m : got) {
            if (!run.accept(m, received)) break;
            ++received;
        }
    }
    run.join();
    REQUIRE(run.failures == 0);
    CHECK(received == run.total);
}
