// Tests of broadcast mailboxes of bytes<Max> across fork(), with messages of mixed sizes 0..Max:
// a sender SIGKILLed in the middle of traffic (sending and lending) leaves every message it had
// sent whole and in order for every receiver and stalls nobody; a receiver SIGKILLed in the
// middle of traffic while it holds a view stops holding the senders back, and every other
// receiver gets every message, whole and in order.
//
// Children do their work without Catch2 and report through child_report or pipes; the parent
// asserts. No threads are started. Every wait is on the event itself, bounded by
// ipckit_test::patience.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/mailbox.hpp>
#include <ipckit/queue.hpp>
#include <ipckit/segment.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::patience;
using ipckit_test::same;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;
using ipckit_test::sized_message;

namespace {

constexpr std::size_t max_bytes = 300;
using box = ipckit::mailbox<ipckit::bytes<max_bytes>, ipckit::bounded<16 * sizeof(ipckit::detail::record<max_bytes>)>,
                            ipckit::broadcast, ipckit::system_owned>;

ipckit::broadcast_options quick() { return {ipckit_test::quick_liveness(), 0}; }

/// Sends message `seq` of the mixed-size stream: by copy (even seq) or through a loan (odd).
template <class Tx>
errc send_sized(Tx& tx, std::uint64_t seq) {
    const auto m = sized_message(seq, max_bytes);
    if (seq % 2 == 0) return err(tx.send(m, patience));
    auto loan = tx.loan(max_bytes, patience);
    if (!loan) return loan.error();
    if (!m.empty()) std::memcpy(loan->data().data(), m.data(), m.size());
    return err(loan->commit(m.size()));
}

/// Receives the next message: into a buffer (even seq) or as a view (odd); `out` gets its bytes.
template <class Rx>
errc receive_sized(Rx& rx, std::uint64_t seq, std::vector<std::byte>& out, std::chrono::milliseconds wait) {
    if (seq % 2 == 0) {
        std::array<std::byte, max_bytes> buf{};
        const auto n = rx.receive(std::span(buf), wait);
        if (!n) return n.error();
        out.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
        return errc::ok;
    }
    auto v = rx.receive_view(wait);
    if (!v) return v.error();
    out.assign(v->data().begin(), v->data().end());
    return errc::ok;
}

}  // namespace

TEST_CASE("broadcast bytes: a sender SIGKILLed mid-traffic leaves every receiver its messages whole, in order",
          "[process]") {
    scoped_name name("bbytesp");
    auto b = box::create(name, quick());
    auto r1 = b.receiver();
    auto r2 = b.receiver();
    ipckit_test::shared_memory counter(sizeof(std::atomic<std::uint64_t>));
    auto* accepted = ::new (counter.data()) std::atomic<std::uint64_t>(0);
    signal_pipe started;
    child_report victim_report;
    child victim = victim_report.spawn([&](child_report& r) {
        auto out = box::open(name, quick()).sender();
        for (std::uint64_t i = 0;; ++i) {
            r.expect(send_sized(out, i), errc::ok);
            accepted->store(i + 1, std::memory_order_release);
            if (i == 8) started.post();  // within the ring: nobody reads before this
        }
    });
    REQUIRE(victim_report.reached(victim, started) == as_expected);
    // Read some while it runs, then kill it wherever it has got to (a send, a loan, a commit).
    std::uint64_t n[2] = {0, 0};
    ipckit::receiver<box>* rx[2] = {&r1, &r2};
    std::vector<std::byte> got;
    for (int k = 0; k < 40; ++k)
        for (int i = 0; i < 2; ++i) {
            REQUIRE(receive_sized(*rx[i], n[i], got, patience) == errc::ok);
            REQUIRE(same(got, sized_message(n[i], max_bytes)));
            ++n[i];
        }
    CHECK(victim_report.ended(victim.kill(), killed_by_sigkill) == as_expected);
    const std::uint64_t sent = accepted->load(std::memory_order_acquire);
    // A live sender after it, in another process (the ring may be full until we read): its
    // message must arrive, past any slot the victim left claimed.
    constexpr std::uint64_t last = 1'000'000;
    child_report after_report;
    child after = after_report.spawn([&](child_report& r) {
        auto out = box::open(name).sender();
        r.expect(send_sized(out, last), errc::ok);
    });
    bool done[2] = {false, false};
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (!(done[0] && done[1]) && std::chrono::steady_clock::now() < deadline) {
        for (int i = 0; i < 2; ++i) {
            if (done[i]) continue;
            const errc e = receive_sized(*rx[i], n[i], got, 10ms);
            if (e == errc::timed_out) continue;
            REQUIRE(e == errc::ok);
            if (same(got, sized_message(last, max_bytes))) {
                done[i] = true;
                continue;
            }
            REQUIRE(same(got, sized_message(n[i], max_bytes)));  // in order, whole, nothing skipped
            ++n[i];
        }
    }
    REQUIRE((done[0] && done[1]));
    // Every message whose send or commit returned ok arrived; at most the one in flight besides.
    for (const std::uint64_t count : n) {
        CHECK(count >= sent);
        CHECK(count <= sent + 1);
    }
    CHECK(after_report.finish(after) == as_expected);
}

TEST_CASE("broadcast bytes: a receiver SIGKILLed mid-traffic holding a view stalls nobody, the others get everything",
          "[process]") {
    scoped_name name("bbytesp");
    auto b = box::create(name, quick());
    constexpr int survivors = 2;
    constexpr std::uint64_t total = 400;  // many laps of the 16-slot ring
    signal_pipe ready, viewing, hold;
    std::vector<child_report> rx_reports(survivors);
    std::vector<child> rx;
    for (std::size_t c = 0; c < survivors; ++c)
        rx.push_back(rx_reports[c].spawn([&](child_report& r) {
            auto in = box::open(name, quick()).receiver();
            ready.post();
            std::vector<std::byte> got;
            for (std::uint64_t i = 0; i < total; ++i) {
                r.expect(receive_sized(in, i, got, patience), errc::ok);
                r.check(same(got, sized_message(i, max_bytes)), "message " + std::to_string(i) + ", whole");
            }
            r.expect(err(in.receive(0ms)), errc::timed_out);  // nothing extra
        }));
    child_report victim_report;
    child victim = victim_report.spawn([&](child_report& r) {
        auto in = box::open(name, quick()).receiver();
        ready.post();
        std::vector<std::byte> got;
        for (std::uint64_t i = 0; i < 5; ++i) {
            r.expect(receive_sized(in, i, got, patience), errc::ok);
            r.check(same(got, sized_message(i, max_bytes)), "a whole message");
        }
        auto view = in.receive_view(patience);  // held until killed: it holds the senders back
        r.expect(err(view), errc::ok);
        viewing.post();
        r.block_until_killed(hold);
    });
    for (int c = 0; c < survivors + 1; ++c) REQUIRE(ready.wait());
    CHECK(b.receivers() == survivors + 1);
    child_report tx_report;
    child tx = tx_report.spawn([&](child_report& r) {
        auto out = box::open(name, quick()).sender();
        for (std::uint64_t i = 0; i < total; ++i) r.expect(send_sized(out, i), errc::ok);
    });
    REQUIRE(victim_report.reached(victim, viewing) == as_expected);
    CHECK(victim_report.ended(victim.kill(), killed_by_sigkill) == as_expected);
    CHECK(tx_report.finish(tx) == as_expected);  // it noticed the death and went on
    for (std::size_t c = 0; c < survivors; ++c) CHECK(rx_reports[c].finish(rx[c]) == as_expected);
}

TEST_CASE("broadcast bytes: a lone receiver SIGKILLed holding a view takes that message along: the next receiver "
          "alone starts after it",
          "[process]") {
    scoped_name name("bbytesv");
    auto b = box::create(name, quick());
    auto tx = b.sender();
    for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(send_sized(tx, i) == errc::ok);
    child_report report;
    signal_pipe viewing, hold;
    child victim = report.spawn([&](child_report& r) {
        auto in = box::open(name, quick()).receiver();  // alone: it starts at the oldest message
        std::vector<std::byte> got;
        r.expect(receive_sized(in, 0, got, patience), errc::ok);
        r.check(same(got, sized_message(0, max_bytes)), "message 0, whole");
        auto view = in.receive_view(patience);
        r.expect(err(view), errc::ok);
        r.check(view && same(std::vector<std::byte>(view->data().begin(), view->data().end()), sized_message(1, max_bytes)),
                "a view of message 1");
        viewing.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(victim, viewing) == as_expected);
    CHECK(report.ended(victim.kill(), killed_by_sigkill) == as_expected);
    // The next receiver, alone, finds the dead one's place and starts where it stopped: after
    // the message it was viewing, which it took along.
    auto rx = b.receiver();
    std::vector<std::byte> got;
    for (std::uint64_t i = 2; i < 4; ++i) {
        REQUIRE(receive_sized(rx, i, got, patience) == errc::ok);
        CHECK(same(got, sized_message(i, max_bytes)));
    }
    CHECK(err(rx.receive(0ms)) == errc::timed_out);  // nothing more
}
