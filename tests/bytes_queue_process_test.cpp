// Tests of queues of variable-size messages, ipckit::queue<bytes<Max>, bounded<N>, ...>, across
// fork(): one and four producer processes delivering exactly once, in order and whole; loans and
// views across processes (a view pins its bytes until released); and peers SIGKILLed in the
// middle of a reservation or while holding a view.
//
// Children do their work without Catch2 and report what went wrong through child_report; the
// parent asserts.
// No threads are started. Parent and children signal each other through pipes, so every wait
// is on the event itself, bounded by ipckit_test::patience.

#include "byte_messages.hpp"
#include "catch.hpp"
#include "killed_producers.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>

#include <algorithm>
#include <atomic>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::errc_text;
using ipckit_test::killed_by_sigkill;
using ipckit_test::killed_producers;
using ipckit_test::mix;
using ipckit_test::patience;
using ipckit_test::quick_liveness;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;

namespace {

// ---- messages -------------------------------------------------------------------------------

constexpr std::size_t max_bytes = 200;

/// The s-th message of producer p: [p:4][s:8][filler][checksum:8], 20 to max_bytes bytes, its
/// length and filler functions of (p, s), the checksum a hash of everything before it. A lost,
/// repeated, reordered, torn or misplaced message fails check().
std::size_t length_of(std::uint32_t p, std::uint64_t s) {
    return 20 + static_cast<std::size_t>(mix((std::uint64_t{p} << 48) ^ s ^ 0x1234) % (max_bytes - 20 + 1));
}
std::uint64_t checksum(std::span<const std::byte> m) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const std::byte b : m) h = (h ^ static_cast<std::uint64_t>(b)) * 0x100000001b3ULL;
    return h;
}
void fill(std::span<std::byte> out, std::uint32_t p, std::uint64_t s) {
    std::memcpy(out.data(), &p, 4);
    std::memcpy(out.data() + 4, &s, 8);
    for (std::size_t i = 12; i + 8 < out.size(); ++i)
        out[i] = static_cast<std::byte>(mix((std::uint64_t{p} << 48) ^ (s << 8) ^ i));
    const std::uint64_t c = checksum(out.first(out.size() - 8));
    std::memcpy(out.data() + out.size() - 8, &c, 8);
}
std::vector<std::byte> message_of(std::uint32_t p, std::uint64_t s) {
    std::vector<std::byte> v(length_of(p, s));
    fill(v, p, s);
    return v;
}
/// Whether m is a whole message; its producer and sequence number in p, s.
bool check(std::span<const std::byte> m, std::uint32_t& p, std::uint64_t& s) {
    if (m.size() < 20) return false;
    std::memcpy(&p, m.data(), 4);
    std::memcpy(&s, m.data() + 4, 8);
    if (m.size() != length_of(p, s)) return false;
    std::uint64_t c = 0;
    std::memcpy(&c, m.data() + m.size() - 8, 8);
    if (c != checksum(m.first(m.size() - 8))) return false;
    const auto want = message_of(p, s);
    return std::memcmp(want.data(), m.data(), m.size()) == 0;
}

using ipckit_test::as_bytes;

/// Sends `count` messages of producer p on a blocking sender: every third by loan (committed
/// short of what was lent every other time), the rest by copy. as_expected, or which step of
/// which message failed and how.
template <class Tx>
std::string produce(Tx& tx, std::uint32_t p, std::uint64_t count) {
    for (std::uint64_t s = 0; s < count; ++s) {
        const std::size_t n = length_of(p, s);
        errc e = errc::ok;
        const char* step = "";
        if (s % 3 == 0) {
            auto loan = tx.loan(std::min(n + (s % 2) * 7, max_bytes), patience);
            if (!loan) {
                e = loan.error();
                step = "a loan";
            } else {
                fill(loan->data().first(n), p, s);
                e = err(loan->commit(n));
                step = "a commit";
            }
        } else {
            e = err(tx.send(message_of(p, s), patience));
            step = "a send";
        }
        if (e != errc::ok)
            return std::string(step) + " for seq " + std::to_string(s) + " gave " + errc_text(e) +
                   " where it expected errc(ok)";
    }
    return as_expected;
}

/// Receives one message by buffer, vector or view (by i % 3), and checks that it is whole: ok
/// with its producer and sequence number in p, s; the receive's error; or corrupt (torn).
template <class Rx>
errc receive_checked(Rx& rx, std::uint64_t i, std::uint32_t& p, std::uint64_t& s) {
    std::array<std::byte, max_bytes> buf{};
    switch (i % 3) {
    case 0: {
        const auto n = rx.receive(buf, patience);
        if (!n) return n.error();
        return check(std::span(buf.data(), *n), p, s) ? errc::ok : errc::corrupt;
    }
    case 1: {
        const auto v = rx.receive(patience);
        if (!v) return v.error();
        return check(*v, p, s) ? errc::ok : errc::corrupt;
    }
    default: {
        const auto v = rx.receive_view(patience);
        if (!v) return v.error();
        return check(v->data(), p, s) ? errc::ok : errc::corrupt;
    }
    }
}

/// Receives `total` messages from `producers` producers, each producer's in order and whole,
/// by buffer, vector and view in turn. Then runs before_end() (where the producers are many,
/// the caller waits for them and closes the queue: the closed rule), and expects closed. "" or
/// what went wrong.
template <class Rx>
std::string consume(Rx& rx, std::uint32_t producers, std::uint64_t total,
                    const std::function<void()>& before_end = [] {}) {
    std::vector<std::uint64_t> next(producers, 0);
    for (std::uint64_t i = 0; i < total; ++i) {
        std::uint32_t p = 0;
        std::uint64_t s = 0;
        const errc e = receive_checked(rx, i, p, s);
        if (e != errc::ok || p >= producers || s != next[p])
            return "message " + std::to_string(i) + ": " + ipckit::to_string(e) + ", producer " + std::to_string(p) +
                   " seq " + std::to_string(s) + (e == errc::ok ? " out of order" : " not whole");
        ++next[p];
    }
    before_end();
    const auto last = rx.receive(patience);
    if (last || last.error() != errc::closed)
        return std::string("after the last message: ") + (last ? "another message" : ipckit::to_string(last.error()));
    return {};
}

using spsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<4096>>;
using mpsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<4096>, ipckit::multi_of<8>>;

}  // namespace

// ---- delivery -------------------------------------------------------------------------------

TEST_CASE("bytes queue across processes: one producer process, 1e5 messages of random sizes, in order and whole",
          "[process]") {
    scoped_name name("bytes-proc");
    auto q = spsc::create(name);
    auto rx = q.receiver();
    child_report report;
    child producer = report.spawn([&](child_report& r) {
        auto tx = spsc::open(name).sender();
        r.expect(produce(tx, 0, 100'000));
    });
    CHECK(consume(rx, 1, 100'000).empty());
    CHECK(report.finish(producer) == as_expected);
}

TEST_CASE("bytes queue across processes: four producer processes, 1e5 messages, each producer's exactly once and in "
          "order",
          "[process]") {
    scoped_name name("bytes-proc");
    auto q = mpsc::create(name);
    auto rx = q.receiver();
    constexpr std::uint32_t producers = 4;
    std::vector<child_report> reports(producers);
    std::vector<child> children;
    for (std::uint32_t p = 0; p < producers; ++p) {
        children.push_back(reports[p].spawn([&name, p](child_report& r) {
            auto tx = mpsc::open(name).sender();
            r.expect(produce(tx, p, 25'000));
        }));
    }
    CHECK(consume(rx, producers, 100'000, [&] {
              for (std::uint32_t p = 0; p < producers; ++p) CHECK(reports[p].finish(children[p]) == as_expected);
              q.close();
          }).empty());
}

// ---- loans and views ------------------------------------------------------------------------

TEMPLATE_TEST_CASE("bytes queue across processes: a view pins its bytes until released, and the sender waits meanwhile",
                   "[process]", (ipckit::queue<ipckit::bytes<56>, ipckit::bounded<128>>),
                   (ipckit::queue<ipckit::bytes<56>, ipckit::bounded<128>, ipckit::multi>)) {
    using Q = TestType;
    scoped_name name("bytes-proc");
    auto q = Q::create(name);
    auto rx = q.receiver();
    signal_pipe sent_two;
    signal_pipe view_held;
    signal_pipe tried;
    auto text = [](char c) { return std::string(56, c); };  // records of 64 bytes: the ring holds two
    child_report report;
    child sender = report.spawn([&](child_report& r) {
        view_held.close_write();
        auto tx = Q::open(name).sender();
        for (const char c : {'A', 'B'}) {
            auto loan = tx.loan(56, patience);
            r.expect(err(loan), errc::ok);
            std::memset(loan->data().data(), c, 56);
            r.expect(err(loan->commit()), errc::ok);
        }
        sent_two.post();
        r.check(view_held.wait(), "the view-held signal");
        // The ring is full while the receiver holds A's bytes: a send cannot take them.
        for (int i = 0; i < 3; ++i) r.expect(err(tx.send(text('C'), 0ms)), errc::timed_out);
        r.expect(err(tx.loan(1, 0ms)), errc::timed_out);
        tried.post();
        // Blocks until the view is released.
        r.expect(err(tx.send(text('C'), patience)), errc::ok);
    });
    REQUIRE(report.reached(sender, sent_two) == as_expected);
    auto v = rx.receive_view(patience);
    REQUIRE(v);
    CHECK(v->text() == text('A'));
    view_held.post();
    REQUIRE(report.reached(sender, tried) == as_expected);
    CHECK(v->text() == text('A'));  // untouched by the sender's attempts
    CHECK(q.depth() == 128);
    v->release();
    for (const char c : {'B', 'C'}) {
        const auto w = rx.receive_view(patience);
        REQUIRE(w);
        CHECK(w->text() == text(c));
    }
    CHECK(report.finish(sender) == as_expected);
}

// ---- killed peers ---------------------------------------------------------------------------

TEST_CASE("bytes queue across processes: a producer killed holding a loan is skipped by a blocking receiver",
          "[process]") {
    scoped_name name("bytes-proc");
    auto q = mpsc::create(name, quick_liveness());
    auto rx = q.receiver();
    auto tx = q.sender<ipckit::non_blocking>();
    REQUIRE(tx.send("before"));
    signal_pipe lent;
    signal_pipe hold;
    child_report report;
    child holder = report.spawn([&](child_report& r) {
        auto loan_tx = mpsc::open(name, quick_liveness()).sender();
        auto loan = loan_tx.loan(150);
        r.expect(err(loan), errc::ok);
        std::memset(loan->data().data(), 0x77, 100);  // half written
        lent.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(holder, lent) == as_expected);
    REQUIRE(tx.send("after"));
    auto v = rx.receive(patience);
    REQUIRE(v);
    CHECK(std::equal(v->begin(), v->end(), as_bytes("before").begin(), as_bytes("before").end()));
    // The loan's producer lives: its record is waited for, not skipped.
    CHECK(err(rx.receive(50ms)) == errc::timed_out);
    CHECK(report.ended(holder.kill(), killed_by_sigkill) == as_expected);
    v = rx.receive(patience);
    REQUIRE(v);
    CHECK(std::equal(v->begin(), v->end(), as_bytes("after").begin(), as_bytes("after").end()));
    CHECK(q.depth() == 0);
}

TEST_CASE("bytes queue across processes: a producer killed between its reserving CAS and its first write is skipped",
          "[process]") {
    scoped_name name("bytes-proc");
    auto q = mpsc::create(name, quick_liveness());
    auto rx = q.receiver();
    auto tx = q.sender<ipckit::non_blocking>();
    REQUIRE(tx.send("before"));
    signal_pipe reserved;
    signal_pipe hold;
    child_report report;
    child holder = report.spawn([&](child_report& r) {
        // White box: the first steps of a reservation, by hand, in this child's own roster place.
        auto own = mpsc::open(name, quick_liveness()).sender();
        auto seg = ipckit::segment::open(name, mpsc::layout(), {});
        auto& sh = *static_cast<mpsc::shared*>(seg.body());
        const std::uint64_t me = ipckit::detail::sys::self().pack();
        std::atomic<std::uint64_t>* pending = nullptr;
        for (auto& place : sh.senders.places)
            if (place.holder.load() == me) pending = &place.pending;
        r.check(pending != nullptr, "a roster place of its own");
        std::uint64_t t = sh.ring.tail.load();
        pending->store(t + 1);
        r.check(sh.ring.tail.compare_exchange_strong(t, t + 72), "to reserve by CAS on the tail");
        reserved.post();
        r.block_until_killed(hold);  // killed before writing even the reserved header
    });
    REQUIRE(report.reached(holder, reserved) == as_expected);
    REQUIRE(tx.send("after"));
    auto v = rx.receive(patience);
    REQUIRE(v);
    CHECK(v->size() == 6);
    CHECK(err(rx.receive(50ms)) == errc::timed_out);  // alive: waited for
    CHECK(report.ended(holder.kill(), killed_by_sigkill) == as_expected);
    v = rx.receive(patience);
    REQUIRE(v);
    CHECK(std::equal(v->begin(), v->end(), as_bytes("after").begin(), as_bytes("after").end()));
    CHECK(q.depth() == 0);
}

TEMPLATE_TEST_CASE("bytes queue across processes: a receiver killed holding a view is followed by the next one after it",
                   "[process]", spsc, mpsc) {
    scoped_name name("bytes-proc");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    REQUIRE(tx.send("one"));
    REQUIRE(tx.send("two"));
    signal_pipe viewing;
    signal_pipe hold;
    child_report report;
    child first = report.spawn([&](child_report& r) {
        auto rx = TestType::open(name).receiver();
        auto v = rx.receive_view(patience);
        r.expect(err(v), errc::ok);
        r.check(v->text() == "one", "the message \"one\"");
        viewing.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(first, viewing) == as_expected);
    CHECK(report.ended(first.kill(), killed_by_sigkill) == as_expected);
    REQUIRE(tx.send("three"));
    auto rx = q.template receiver<ipckit::non_blocking>();  // takes the dead receiver's place
    for (const std::string_view want : {"two", "three"}) {
        const auto v = rx.receive_view();
        REQUIRE(v);
        CHECK(v->text() == want);
    }
    CHECK(err(rx.receive()) == errc::would_block);
    // The ring is whole: it fills and drains as before.
    std::size_t n = 0;
    while (tx.send(message_of(0, n))) ++n;
    CHECK(n > 4096 / (max_bytes + 8) - 1);
    for (std::size_t i = 0; i < n; ++i) {
        const auto v = rx.receive();
        REQUIRE(v);
        std::uint32_t p = 0;
        std::uint64_t s = 0;
        CHECK((check(*v, p, s) && s == i));
    }
}

TEST_CASE("bytes queue across processes: producers SIGKILLed at arbitrary points lose at most their unfinished "
          "message",
          "[process]") {
    // Three producer processes at a time, each killed once the receiver has taken a random
    // number of its messages (so at whatever point of a send or loan it happens to be), and
    // replaced by a new producer; four roster places, so new producers take over dead ones'.
    // Every producer's messages must arrive whole and as an unbroken prefix of what it sent.
    using Q = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<2048>, ipckit::multi_of<4>>;
    scoped_name name("bytes-proc");
    auto q = Q::create(name, quick_liveness());
    auto rx = q.receiver();
    constexpr std::uint32_t generations = 24;
    std::uint64_t rng = 7;
    killed_producers producers(generations);
    auto& next = producers.next;
    auto spawn = [&] {
        rng = mix(rng);
        REQUIRE(producers.spawn(1 + rng % 1500, [&name](child_report& r, std::uint32_t p, signal_pipe& attached) {
            auto tx = Q::open(name, quick_liveness()).sender();
            attached.post();
            // Until killed; mostly by loans that take their time between reserving and
            // committing, so that many kills land in the middle of one.
            for (std::uint64_t s = 0;; ++s) {
                if (s % 4 == 0) {
                    r.expect(err(tx.send(message_of(p, s), patience)), errc::ok);
                    continue;
                }
                auto loan = tx.loan(length_of(p, s), patience);
                r.expect(err(loan), errc::ok);
                std::uint64_t burn = 0;
                for (int i = 0; i < 8; ++i) {
                    fill(loan->data(), p, s);
                    burn += checksum(loan->data());
                }
                r.check(burn != 42, "a burn other than 42");  // uses the burn, so that it is not optimised away
                r.expect(err(loan->commit()), errc::ok);
            }
        }));
    };
    for (int i = 0; i < 3; ++i) spawn();
    std::uint32_t killed = 0;
    std::array<std::byte, max_bytes> buf{};
    std::string failure;
    while (failure.empty()) {
        const auto n = rx.receive(buf, patience);
        if (!n) {
            if (n.error() != errc::peer_dead || killed != generations) failure = ipckit::to_string(n.error());
            break;
        }
        std::uint32_t p = 0;
        std::uint64_t s = 0;
        if (!check(std::span(buf.data(), *n), p, s) || p >= producers.spawned || s != next[p]) {
            failure = "producer " + std::to_string(p) + " seq " + std::to_string(s) + " torn or out of order";
            break;
        }
        if (++next[p] == producers.kill_at[p] && producers.alive(p)) {
            if (const auto how = producers.kill(p); how != as_expected)
                failure = "producer " + std::to_string(p) + ": " + how;
            ++killed;
            if (producers.spawned < generations) spawn();
        }
    }
    INFO(failure);
    CHECK(failure.empty());
    CHECK(killed == generations);
}

TEMPLATE_TEST_CASE("bytes queue across processes: receivers SIGKILLed at arbitrary points lose at most the message "
                   "they held",
                   "[process]", spsc, mpsc) {
    // The parent sends; a receiver process reports each message it takes through a pipe and is
    // killed after a random number of them (mid-receive, mid-view, mid-report), then replaced.
    // Across receivers no message may arrive twice, torn or out of order, and each killed
    // receiver may take at most one message with it.
    scoped_name name("bytes-proc");
    auto q = TestType::create(name, quick_liveness());
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    // A page of reports at most in the pipe: a receiver stays within 512 of the parent's count,
    // so that every kill comes well before the last send, however fast the receivers run.
    REQUIRE(::fcntl(fds[1], F_SETPIPE_SZ, 4096) >= 0);
    auto receiver_process = [&](child_report& report) {
        return report.spawn([&](child_report& r) {
            ::close(fds[0]);
            auto rx = TestType::open(name, quick_liveness()).receiver();
            std::array<std::byte, max_bytes> buf{};
            for (std::uint64_t i = 0;; ++i) {
                std::uint32_t p = 0;
                std::uint64_t s = 0;
                if (i % 2 == 0) {
                    const auto v = rx.receive_view(patience);
                    if (!v) {
                        r.expect(v.error(), errc::closed);
                        return;
                    }
                    r.check(check(v->data(), p, s), "a whole message");
                    // while holding the view
                    r.check(::write(fds[1], &s, sizeof s) == sizeof s, "to write its report");
                } else {
                    const auto n = rx.receive(buf, patience);
                    if (!n) {
                        r.expect(n.error(), errc::closed);
                        return;
                    }
                    r.check(check(std::span(buf.data(), *n), p, s), "a whole message");
                    r.check(::write(fds[1], &s, sizeof s) == sizeof s, "to write its report");
                }
            }
        });
    };
    // At most 12 x 1000 messages go to the receivers that are killed (reported within a page of
    // the parent's count), before the last one is sent: the last receiver lives and takes the
    // rest.
    constexpr std::uint64_t total = 20'000;
    constexpr int replacements = 12;
    std::vector<child_report> reports(replacements + 1);  // the receivers', in turn: the one now is reports[killed]
    std::uint64_t rng = 11;
    auto reported = std::make_unique<child>(receiver_process(reports[0]));
    std::uint64_t kill_after = 1 + (rng = mix(rng)) % 1000;
    std::uint64_t by_this_one = 0;
    int killed = 0;
    std::uint64_t last = ~std::uint64_t{0};
    std::uint64_t got = 0;
    std::string failure;
    // Reads what the receivers report, waiting up to `wait` for each report, killing and
    // replacing the receiver when it has taken its share (only while `killing`).
    bool killing = true;
    auto drain = [&](std::chrono::milliseconds wait) {
        std::uint64_t s = 0;
        for (;;) {
            pollfd pfd{fds[0], POLLIN, 0};
            if (::poll(&pfd, 1, static_cast<int>(wait.count())) <= 0) return;
            const ssize_t r = ::read(fds[0], &s, sizeof s);
            if (r == 0) return;  // every receiver gone
            if (r != sizeof s) {
                failure = "short read from the pipe";
                return;
            }
            if (last != ~std::uint64_t{0} && s <= last) failure = "seq " + std::to_string(s) + " after " + std::to_string(last);
            last = s;
            ++got;
            if (++by_this_one == kill_after && killing && killed < replacements) {
                auto& report = reports[static_cast<std::size_t>(killed)];
                if (const auto how = report.ended(reported->kill(), killed_by_sigkill); how != as_expected)
                    failure = "receiver " + std::to_string(killed) + ": " + how;
                ++killed;
                reported = std::make_unique<child>(receiver_process(reports[static_cast<std::size_t>(killed)]));
                kill_after = 1 + (rng = mix(rng)) % 1000;
                by_this_one = 0;
            }
        }
    };
    {
        auto tx = q.template sender<ipckit::non_blocking>();
        for (std::uint64_t s = 0; s < total && failure.empty(); ++s) {
            const auto m = message_of(0, s);
            for (;;) {
                const auto st = tx.send(m);
                if (st) break;
                if (st.error() != errc::would_block) {
                    failure = std::string("send: ") + ipckit::to_string(st.error());
                    break;
                }
                drain(1ms);  // until a report of a message taken, which makes room
            }
        }
    }  // closing the sender ends the last receiver once it has taken everything
    // (With many senders allowed, the closed rule ends the queue only when it is closed whole.)
    if constexpr (TestType::max_senders > 1) q.close();
    killing = false;
    ::close(fds[1]);
    drain(patience);
    ::close(fds[0]);
    INFO(failure);
    CHECK(reports[static_cast<std::size_t>(killed)].finish(*reported) == as_expected);
    CHECK(failure.empty());
    CHECK(killed == replacements);
    CHECK(last == total - 1);
    CHECK(got + static_cast<std::uint64_t>(killed) >= total);  // at most one lost per killed receiver
}

// ---- stress ---------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("bytes queue across processes: a million messages through a small ring, under each wait policy",
                   "[stress]", ipckit::adaptive, ipckit::futex, ipckit::spin) {
    // Four producers, or one (and fewer messages) where every process spins: more spinners
    // than cores (the machines have two) would only measure the scheduler.
    constexpr bool spinning = std::is_same_v<TestType, ipckit::spin>;
    constexpr std::uint32_t producers = spinning ? 1 : 4;
    using Q = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<2048>, ipckit::multi_of<4>, ipckit::single, TestType>;
    scoped_name name("bytes-stress");
    auto q = Q::create(name);
    auto rx = q.receiver();
    constexpr std::uint64_t each = (spinning ? 200'000 : 1'000'000) / producers;
    std::vector<child_report> reports(producers);
    std::vector<child> children;
    for (std::uint32_t p = 0; p < producers; ++p) {
        children.push_back(reports[p].spawn([&name, p](child_report& r) {
            auto tx = Q::open(name).sender();
            r.expect(produce(tx, p, each));
        }));
    }
    CHECK(consume(rx, producers, producers * each, [&] {
              for (std::uint32_t p = 0; p < producers; ++p) CHECK(reports[p].finish(children[p]) == as_expected);
              q.close();
          }).empty());
}

// ---- several consumers (record slots) -------------------------------------------------------

namespace {

/// Several consumers of bytes<max_bytes>: 16 record slots.
using mpmc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<16 * sizeof(ipckit::detail::record<max_bytes>)>,
                           ipckit::multi_of<4>, ipckit::multi_of<4>>;

/// What the receiver processes took, in memory shared with them: for each message of each of
/// `Producers` producers, how many receivers took it; and (p << 32 | s) + 1 of the message a
/// receiver held when it was killed (0: none).
template <std::uint32_t Producers, std::uint64_t PerProducer>
struct tally {
    std::atomic<std::uint32_t> taken[Producers][PerProducer];
    std::atomic<std::uint64_t> held;
};

/// As one of several receivers: takes messages (by buffer, vector and view in turn) until
/// closed, or `limit` of them, each whole and each producer's in increasing order, and counts
/// each in `t`. as_expected, or what went wrong.
template <class Rx, class Tally>
std::string share(Rx& rx, Tally& t, std::uint64_t limit = ~std::uint64_t{0}) {
    constexpr std::uint32_t producers = std::extent_v<decltype(t.taken)>;
    constexpr std::uint64_t per_producer = std::extent_v<decltype(t.taken), 1>;
    std::vector<std::int64_t> last(producers, -1);
    for (std::uint64_t i = 0; i < limit; ++i) {
        std::uint32_t p = 0;
        std::uint64_t s = 0;
        const errc e = receive_checked(rx, i, p, s);
        if (e == errc::closed && limit == ~std::uint64_t{0}) return as_expected;
        if (e != errc::ok || p >= producers || s >= per_producer || static_cast<std::int64_t>(s) <= last[p])
            return "message " + std::to_string(i) + ": " + errc_text(e) + ", producer " + std::to_string(p) + " seq " +
                   std::to_string(s) + (e == errc::ok ? " out of its producer's order" : "");
        last[p] = static_cast<std::int64_t>(s);
        t.taken[p][s].fetch_add(1, std::memory_order_relaxed);
    }
    return as_expected;
}

/// Every message of every producer taken exactly once, but the one `held` (taken by none): "" or
/// the first that was not.
template <class Tally>
std::string exactly_once(const Tally& t, std::uint64_t held) {
    constexpr std::uint32_t producers = std::extent_v<decltype(t.taken)>;
    constexpr std::uint64_t per_producer = std::extent_v<decltype(t.taken), 1>;
    for (std::uint32_t p = 0; p < producers; ++p)
        for (std::uint64_t s = 0; s < per_producer; ++s) {
            const std::uint32_t want = held == ((std::uint64_t{p} << 32 | s) + 1) ? 0 : 1;
            const std::uint32_t got = t.taken[p][s].load();
            if (got != want)
                return "producer " + std::to_string(p) + " seq " + std::to_string(s) + " was taken " +
                       std::to_string(got) + " times, not " + std::to_string(want);
        }
    return {};
}

}  // namespace

TEST_CASE("bytes mpmc queue across processes: 2 producers and 2 consumers, 1e5 messages of mixed sizes, each taken "
          "once, whole, in its producer's order",
          "[stress]") {
    scoped_name name("bytes-proc");
    auto q = mpmc::create(name, quick_liveness());
    constexpr std::uint64_t per_producer = 50'000;
    using tally_t = tally<2, per_producer>;
    ipckit_test::shared_memory memory(sizeof(tally_t));
    auto& t = *::new (memory.data()) tally_t();
    std::vector<child_report> reports(4);
    std::vector<child> children;
    for (std::size_t c = 0; c < 2; ++c)
        children.push_back(reports[c].spawn([&](child_report& r) {
            auto rx = mpmc::open(name, quick_liveness()).receiver();
            r.expect(share(rx, t));
        }));
    for (std::uint32_t p = 0; p < 2; ++p)
        children.push_back(reports[2 + p].spawn([&, p](child_report& r) {
            auto tx = mpmc::open(name, quick_liveness()).sender();
            r.expect(produce(tx, p, per_producer));
        }));
    CHECK(reports[2].finish(children[2]) == as_expected);
    CHECK(reports[3].finish(children[3]) == as_expected);
    q.close();  // the closed rule: the receivers drain, then get closed
    CHECK(reports[0].finish(children[0]) == as_expected);
    CHECK(reports[1].finish(children[1]) == as_expected);
    CHECK(exactly_once(t, 0).empty());
}

TEST_CASE("bytes mpmc queue across processes: a receiver SIGKILLed holding a message mid-traffic loses that one "
          "message, and every other reaches exactly one live receiver",
          "[process]") {
    scoped_name name("bytes-proc");
    auto q = mpmc::create(name, quick_liveness());
    constexpr std::uint64_t per_producer = 5'000;
    using tally_t = tally<2, per_producer>;
    ipckit_test::shared_memory memory(sizeof(tally_t));
    auto& t = *::new (memory.data()) tally_t();
    signal_pipe holding;
    signal_pipe hold;
    std::vector<child_report> reports(5);
    std::vector<child> children;
    // The victim takes 50 messages, then holds the next one in a view until it is killed.
    children.push_back(reports[0].spawn([&](child_report& r) {
        auto rx = mpmc::open(name, quick_liveness()).receiver();
        r.expect(share(rx, t, 50));
        const auto v = rx.receive_view(patience);
        std::uint32_t p = 0;
        std::uint64_t s = 0;
        r.expect(err(v), errc::ok);
        r.check(check(v->data(), p, s), "a whole message");
        t.held.store((std::uint64_t{p} << 32 | s) + 1);
        holding.post();
        r.block_until_killed(hold);
    }));
    for (std::uint32_t p = 0; p < 2; ++p)
        children.push_back(reports[1 + p].spawn([&, p](child_report& r) {
            auto tx = mpmc::open(name, quick_liveness()).sender();
            r.expect(produce(tx, p, per_producer));
        }));
    REQUIRE(reports[0].reached(children[0], holding) == as_expected);
    // The live receivers start once the victim holds its message: the senders go on meanwhile,
    // and fill the ring; a lap on, they need the dead receiver's slot. The victim dies only once
    // both have attached: with no receiver left at all, a sender's wait would rightly end in
    // peer_dead.
    std::array<signal_pipe, 2> attached;
    for (std::size_t c = 3; c < 5; ++c)
        children.push_back(reports[c].spawn([&, c](child_report& r) {
            auto rx = mpmc::open(name, quick_liveness()).receiver();
            attached[c - 3].post();
            r.expect(share(rx, t));
        }));
    for (std::size_t c = 3; c < 5; ++c) REQUIRE(reports[c].reached(children[c], attached[c - 3]) == as_expected);
    CHECK(reports[0].ended(children[0].kill(), killed_by_sigkill) == as_expected);
    CHECK(reports[1].finish(children[1]) == as_expected);
    CHECK(reports[2].finish(children[2]) == as_expected);
    q.close();
    CHECK(reports[3].finish(children[3]) == as_expected);
    CHECK(reports[4].finish(children[4]) == as_expected);
    const std::uint64_t held = t.held.load();
    REQUIRE(held != 0);
    CHECK(exactly_once(t, held).empty());
}
