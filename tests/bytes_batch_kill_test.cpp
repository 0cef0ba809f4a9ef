// Batches on the byte ring with processes SIGKILLed in the middle of them: producers killed
// while they send batches of random sizes (one message, a ring's worth and more, as spans or as
// records), and receivers killed while they take batches (and views) into records of random
// sizes, each replaced by a successor that attaches to what the dead one left. What a user
// observes must hold: each producer's messages whole, in order, none twice, and none lost but
// what a killed process had in hand (a producer: the end of what it sent; a receiver: the one
// batch or view it had taken and not yet reported). No hang: every wait has a slack deadline.
//
// Quick in CI (a few seconds a case). The long form runs more generations:
//     IPCKIT_STRESS_ROUNDS=20 build/tests/bytes_batch_kill_test --rng-seed $RANDOM
// (the seed picks the batch sizes and the kill points; a failure says which seed it was).
//
// Children report what went wrong through child_report, or the batches they took through a
// pipe (one write() each, so a kill never tears a report); the parent asserts.

#include "catch.hpp"
#include "byte_messages.hpp"
#include "contract/child_report.hpp"
#include "killed_producers.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>
#include <ipckit/records.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <poll.h>
#include <unistd.h>

using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::errc_text;
using ipckit_test::killed_by_sigkill;
using ipckit_test::killed_producers;
using ipckit_test::mix;
using ipckit_test::numbered;
using ipckit_test::numbered_message;
using ipckit_test::patience;
using ipckit_test::quick_liveness;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;

namespace {

constexpr std::size_t max_bytes = 200;
constexpr std::size_t ring_bytes = 2048;
/// A ring's worth of messages: more than the ring holds of any mix of sizes (records of 24 bytes
/// or more), so that a batch of it waits for room part way.
constexpr std::size_t ring_worth = ring_bytes / 24 + 1;

using spsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<ring_bytes>>;
using mpsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<ring_bytes>, ipckit::multi_of<4>>;
/// Producers that spin while the ring is full write their next run the moment room is freed,
/// which is when the receiver kills them.
using mpsc_spin = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<ring_bytes>, ipckit::multi_of<4>,
                                ipckit::single, ipckit::spin>;

/// How many times the quick form's generations to run: IPCKIT_STRESS_ROUNDS, else 1.
std::uint32_t rounds() {
    const char* r = std::getenv("IPCKIT_STRESS_ROUNDS");
    const long n = r != nullptr ? std::atol(r) : 1;
    return n > 0 ? static_cast<std::uint32_t>(n) : 1;
}

/// The first random word of a case: Catch2's seed (--rng-seed), mixed with the case's own.
std::uint64_t seed_of(std::uint64_t salt) {
#if defined(IPCKIT_CATCH2_V3)
    return mix(Catch::getSeed() ^ salt);
#else
    return mix(Catch::rngSeed() ^ salt);
#endif
}

/// A batch size drawn from `rng`: 1, a ring's worth, or anything between.
std::size_t batch_size(std::uint64_t rng) {
    switch (rng % 4) {
    case 0: return 1;
    case 1: return ring_worth;
    default: return 1 + static_cast<std::size_t>((rng >> 8) % ring_worth);
    }
}

/// Storage for records of room for `count` messages of Max bytes.
std::vector<std::byte> storage_for(std::size_t count) {
    return std::vector<std::byte>(ipckit::records::storage_for(count, max_bytes));
}

/// Producer p's messages from seq 0 on, in batches of sizes drawn from `seed` (as spans, or as
/// records about every other time), each sent whole with a blocking send, for ever: it is to be killed. On
/// any other outcome it reports what it saw and exits.
template <class Tx>
void produce_batches(child_report& r, Tx& tx, std::uint32_t p, std::uint64_t seed) {
    std::uint64_t rng = mix(seed ^ p);
    for (std::uint64_t s = 0;;) {
        rng = mix(rng);
        const std::size_t n = batch_size(rng);
        std::vector<std::vector<std::byte>> ms;
        for (std::size_t i = 0; i < n; ++i) ms.push_back(numbered_message(p, s + i, max_bytes));
        std::size_t sent = 0;
        if (rng & 0x10000) {
            const std::vector<std::span<const std::byte>> spans(ms.begin(), ms.end());
            const auto got = tx.send(std::span<const std::span<const std::byte>>(spans), patience);
            r.expect(got ? errc::ok : got.error(), errc::ok);
            sent = *got;
        } else {
            auto storage = storage_for(n);
            ipckit::records batch{storage};
            for (const auto& m : ms) r.check(batch.push_back(m), "records with room for the batch");
            const auto got = tx.send(batch, patience);
            r.expect(got ? errc::ok : got.error(), errc::ok);
            sent = *got;
        }
        r.expect_value(sent, n);
        s += n;
    }
}

}  // namespace

TEMPLATE_TEST_CASE("bytes batches across processes: producers SIGKILLed mid-batch lose only the end of what they sent",
                   "[process]", spsc, mpsc, mpsc_spin) {
    // Producers send batches of random sizes until killed, at whatever point of a batch they
    // are once the receiver has taken a random number of their messages, and are replaced (one
    // at a time with one sender, three at a time with many; a new one takes over a dead one's
    // roster place). The receiver takes batches into records of random sizes: every producer's
    // messages must arrive whole, as an unbroken prefix of what it sent.
    using Q = TestType;
    constexpr std::uint32_t at_once = Q::max_senders > 1 ? 3 : 1;
    const std::uint32_t generations = 16 * rounds();
    const std::uint64_t seed = seed_of(0x9e4);
    INFO("seed " << seed);
    scoped_name name("bytes-batch-kill");
    auto q = Q::create(name, quick_liveness());
    auto rx = q.receiver();
    std::uint64_t rng = seed;
    killed_producers producers(generations);
    auto& next = producers.next;
    auto spawn = [&] {
        rng = mix(rng);
        REQUIRE(producers.spawn(1 + rng % (3 * ring_worth), [&name, seed](child_report& r, std::uint32_t p,
                                                                         signal_pipe& attached) {
            auto tx = Q::open(name, quick_liveness()).sender();
            attached.post();
            produce_batches(r, tx, p, seed);
        }));
    };
    for (std::uint32_t i = 0; i < at_once; ++i) spawn();
    std::uint32_t killed = 0;
    std::uint64_t received = 0;
    std::string failure;
    while (failure.empty()) {
        rng = mix(rng);
        auto storage = storage_for(batch_size(rng));
        ipckit::records got{storage};
        const auto n = rx.receive(got, patience);
        if (!n) {
            if (n.error() != errc::peer_dead || killed != generations)
                failure = "after " + std::to_string(received) + " messages and " + std::to_string(killed) +
                          " kills, a receive gave " + errc_text(n.error());
            break;
        }
        // First the kills this batch makes due, at once: the room it freed has the producers
        // writing their next runs now (at once where they spin), so the kills land inside them.
        std::vector<std::uint64_t> due = next;
        for (const std::span<const std::byte> m : got) {
            std::uint32_t p = 0;
            if (m.size() >= 4) std::memcpy(&p, m.data(), 4);
            if (!producers.alive(p) || ++due[p] != producers.kill_at[p]) continue;
            if (const auto how = producers.kill(p); how != as_expected)
                failure = "producer " + std::to_string(p) + ": " + how;
            ++killed;
        }
        for (const std::span<const std::byte> m : got) {
            std::uint32_t p = 0;
            std::uint64_t s = 0;
            if (!numbered(m, max_bytes, p, s) || p >= producers.spawned || s != next[p]) {
                failure = "message " + std::to_string(received) + " (producer " + std::to_string(p) + " seq " +
                          std::to_string(s) + ") torn, made up or out of order; producer's next " +
                          (p < producers.spawned ? std::to_string(next[p]) : "none");
                break;
            }
            ++received;
            ++next[p];
        }
        while (producers.spawned < std::min(generations, killed + at_once)) spawn();
    }
    INFO(failure);
    CHECK(failure.empty());
    CHECK(killed == generations);
}

namespace {

/// A receiver process for the receiver-kill case: takes batches into records of random sizes
/// (and every fifth time a view, reported while it is held) until closed, checks each message,
/// and reports each batch taken with one write() to `out`: its count, then each seq.
template <class Q>
child receiver_process(child_report& report, const std::string& name, int out, std::uint64_t seed) {
    return report.spawn([&name, out, seed](child_report& r) {
        auto rx = Q::open(name, quick_liveness()).receiver();
        std::uint64_t rng = seed;
        std::array<std::uint64_t, ring_worth + 1> line{};
        for (std::uint64_t i = 0;; ++i) {
            rng = mix(rng);
            std::size_t count = 0;
            auto take = [&](std::span<const std::byte> m) {
                std::uint32_t p = 0;
                std::uint64_t s = 0;
                r.check(numbered(m, max_bytes, p, s) && p == 0, "a whole message of producer 0");
                r.check(count + 1 < line.size(), "no more messages in a batch than the ring holds");
                line[++count] = s;
            };
            if (i % 5 == 4) {
                const auto v = rx.receive_view(patience);
                if (!v && v.error() == errc::closed) return;
                r.expect(v ? errc::ok : v.error(), errc::ok);
                take(v->data());
                line[0] = count;
                const auto bytes = (count + 1) * sizeof(std::uint64_t);
                r.check(::write(out, line.data(), bytes) == static_cast<ssize_t>(bytes), "to write its report");
                continue;  // the view is released here, after the report
            }
            auto storage = storage_for(batch_size(rng));
            ipckit::records got{storage};
            const auto n = rx.receive(got, patience);
            if (!n && n.error() == errc::closed) return;
            r.expect(n ? errc::ok : n.error(), errc::ok);
            for (const std::span<const std::byte> m : got) take(m);
            r.expect_value(count, *n);
            line[0] = count;
            const auto bytes = (count + 1) * sizeof(std::uint64_t);
            r.check(::write(out, line.data(), bytes) == static_cast<ssize_t>(bytes), "to write its report");
        }
    });
}

}  // namespace

TEMPLATE_TEST_CASE("bytes batches across processes: receivers SIGKILLed mid-batch lose at most the batch they held",
                   "[process]", spsc, mpsc) {
    // The parent sends batches of random sizes (non-blocking, taking the receivers' reports
    // while the ring is full); a receiver process takes batches and views, reports each, and is
    // killed after a random number of batches (mid-receive, mid-free, mid-report, holding a
    // view), then replaced. No message may arrive twice, torn or out of order; what a killed
    // receiver took and did not report is lost with it: at most one batch (or view) per kill.
    using Q = TestType;
    const int replacements = 12 * static_cast<int>(rounds());
    const std::uint64_t total = 5000 * rounds();
    const std::uint64_t seed = seed_of(0x7ec);
    INFO("seed " << seed);
    scoped_name name("bytes-batch-kill");
    auto q = Q::create(name, quick_liveness());
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::vector<child_report> reports(static_cast<std::size_t>(replacements) + 1);
    std::uint64_t rng = seed;
    auto spawn = [&](int k) {
        const auto i = static_cast<std::size_t>(k);
        return std::make_unique<child>(receiver_process<Q>(reports[i], name, fds[1], mix(rng + i)));
    };
    auto receiver = spawn(0);
    std::uint64_t kill_after = 1 + (rng = mix(rng)) % 40;
    std::uint64_t batches_of_this_one = 0;
    int killed = 0;
    std::int64_t last = -1;
    std::uint64_t got = 0;
    std::uint64_t gaps = 0;
    std::string failure;
    bool killing = true;
    // Reads the receivers' reports, waiting up to `wait` for each, killing and replacing the
    // receiver when it has taken its share of batches (only while `killing`).
    auto drain = [&](std::chrono::milliseconds wait) {
        for (;;) {
            pollfd pfd{fds[0], POLLIN, 0};
            if (::poll(&pfd, 1, static_cast<int>(wait.count())) <= 0) return;
            std::uint64_t count = 0;
            const ssize_t r = ::read(fds[0], &count, sizeof count);
            if (r == 0) return;  // every receiver gone
            std::vector<std::uint64_t> seqs(count > ring_worth ? 0 : count);
            const auto bytes = static_cast<ssize_t>(seqs.size() * sizeof(std::uint64_t));
            if (r != sizeof count || count == 0 || count > ring_worth ||
                ::read(fds[0], seqs.data(), seqs.size() * sizeof(std::uint64_t)) != bytes) {
                failure = "a torn report from a receiver";
                return;
            }
            for (const std::uint64_t s : seqs) {
                if (static_cast<std::int64_t>(s) <= last)
                    failure = "seq " + std::to_string(s) + " after " + std::to_string(last) + " (a replay or reorder)";
                if (static_cast<std::int64_t>(s) > last + 1) {
                    ++gaps;
                    if (s - static_cast<std::uint64_t>(last + 1) > ring_worth)
                        failure = "seqs " + std::to_string(last + 1) + " to " + std::to_string(s - 1) +
                                  " lost: more than one receive could take";
                }
                last = static_cast<std::int64_t>(s);
                ++got;
            }
            if (++batches_of_this_one == kill_after && killing && killed < replacements) {
                auto& report = reports[static_cast<std::size_t>(killed)];
                if (const auto how = report.ended(receiver->kill(), killed_by_sigkill); how != as_expected)
                    failure = "receiver " + std::to_string(killed) + ": " + how;
                ++killed;
                receiver = spawn(killed);
                kill_after = 1 + (rng = mix(rng)) % 40;
                batches_of_this_one = 0;
            }
        }
    };
    {
        auto tx = q.template sender<ipckit::non_blocking>();
        auto until = std::chrono::steady_clock::now() + patience;  // for the ring to make room
        for (std::uint64_t s = 0; s < total && failure.empty();) {
            rng = mix(rng);
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(batch_size(rng), total - s));
            std::vector<std::vector<std::byte>> ms;
            for (std::size_t i = 0; i < n; ++i) ms.push_back(numbered_message(0, s + i, max_bytes));
            const std::vector<std::span<const std::byte>> spans(ms.begin(), ms.end());
            const auto sent = tx.send(std::span<const std::span<const std::byte>>(spans));
            if (sent) {
                s += *sent;
                until = std::chrono::steady_clock::now() + patience;
            } else if (sent.error() != errc::would_block) {
                failure = "a send gave " + errc_text(sent.error());
            } else if (std::chrono::steady_clock::now() > until) {
                failure = "the ring stayed full for " + std::to_string(patience.count()) + " s at seq " +
                          std::to_string(s) + ", with " + std::to_string(killed) + " receivers killed";
            }
            drain(std::chrono::milliseconds(sent ? 0 : 1));  // reports make room, and kill receivers
        }
    }  // closing the sender ends the last receiver once it has taken everything
    if constexpr (Q::max_senders > 1) q.close();  // many senders allowed: closed only as a whole
    killing = false;
    ::close(fds[1]);
    drain(patience);
    ::close(fds[0]);
    INFO(failure);
    CHECK(failure.empty());
    CHECK(reports[static_cast<std::size_t>(killed)].finish(*receiver) == as_expected);
    CHECK(killed == replacements);
    CHECK(last == static_cast<std::int64_t>(total) - 1);
    // What is missing went with the killed receivers: one gap at most per kill.
    CHECK(gaps <= static_cast<std::uint64_t>(killed));
}
