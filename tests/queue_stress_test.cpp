// Stress tests of ipckit::queue across processes: a million messages, under each wait policy,
// delivered exactly once, in order, and whole.
//
// Each message carries its sequence number, a payload derived from it, and a checksum of both;
// the receiving child recomputes all three, so a lost, repeated, reordered or torn message (one
// whose bytes come from two different sends) fails it. The child says what it saw instead
// through child_report.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::errc_text;
using ipckit_test::mix;
using ipckit_test::patience;
using ipckit_test::scoped_name;

namespace {

/// 64 bytes: seq, six payload words, a checksum.
struct record {
    std::uint64_t seq;
    std::uint64_t payload[6];
    std::uint64_t checksum;
};
static_assert(sizeof(record) == 64);

constexpr std::uint64_t checksum_of(const record& r) noexcept {
    std::uint64_t h = mix(r.seq + 0x9e3779b97f4a7c15ULL);
    for (const std::uint64_t w : r.payload) h = mix(h ^ w);
    return h;
}

constexpr record make_record(std::uint64_t seq) noexcept {
    record r{};
    r.seq = seq;
    for (std::uint64_t j = 0; j < 6; ++j) r.payload[j] = mix(seq * 6 + j);
    r.checksum = checksum_of(r);
    return r;
}

/// Receives seq 0..n-1, each whole, then closed: as_expected, or what came instead of the first
/// that was not (an errc, another seq (lost, repeated or reordered), a torn message, an intact
/// checksum over the wrong bytes, or a message after the last).
template <class Queue>
std::string receive_and_verify(const std::string& name, std::uint64_t n) {
    auto q = Queue::open(name);
    auto rx = q.receiver();
    record r{};
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto wanted = [i] { return " where it expected seq " + std::to_string(i); };  // only on failure
        if (const auto s = rx.receive(r, patience); !s) return "received " + errc_text(s.error()) + wanted();
        if (r.seq != i) return "received seq " + std::to_string(r.seq) + wanted();
        if (r.checksum != checksum_of(r)) return "received a torn message" + wanted();
        const record want = make_record(i);
        for (std::uint64_t j = 0; j < 6; ++j)
            if (r.payload[j] != want.payload[j]) return "received a wrong payload under an intact checksum" + wanted();
    }
    const auto end = rx.receive(r, patience);
    const std::string wanted = " where it expected " + errc_text(errc::closed);
    if (end) return "received seq " + std::to_string(r.seq) + wanted;
    return end.error() == errc::closed ? as_expected : "received " + errc_text(end.error()) + wanted;
}

/// A small ring for the policies that sleep, so that both sides keep sleeping and waking each
/// other; a larger one for spin: there a peer descheduled on a busy machine makes the other burn
/// its time slice, once per fill or drain of the ring.
template <class Wait>
inline constexpr std::size_t stress_capacity = 64;
template <>
inline constexpr std::size_t stress_capacity<ipckit::spin> = 1024;

}  // namespace

TEMPLATE_TEST_CASE("queue stress: 1e6 messages cross processes exactly once in order and whole", "[stress]",
                   ipckit::spin, ipckit::futex, ipckit::adaptive) {
    using queue_t =
        ipckit::queue<record, ipckit::bounded<stress_capacity<TestType>>, ipckit::single, ipckit::single, TestType>;
    constexpr std::uint64_t n = 1'000'000;
    scoped_name name("queue-stress");
    auto q = queue_t::create(name);

    child_report report;
    child receiver_process = report.spawn([&](child_report& r) { r.expect(receive_and_verify<queue_t>(name, n)); });

    std::uint64_t failed_sends = 0;
    errc first_failure = errc::ok;
    {
        auto tx = q.sender();
        for (std::uint64_t i = 0; i < n; ++i) {
            if (const auto s = tx.send(make_record(i), patience); !s) {
                if (failed_sends++ == 0) first_failure = s.error();
                if (s.error() != errc::timed_out) break;  // closed / peer_dead: the receiver is gone
            }
        }
    }  // closes: the receiver ends with `closed`
    INFO("first failed send: " << ipckit::make_error_code(first_failure).message());
    CHECK(failed_sends == 0);
    CHECK(report.finish(receiver_process) == as_expected);
}
