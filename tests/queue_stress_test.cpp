// Stress tests of ipckit::queue across processes: a million messages, under each wait policy,
// delivered exactly once, in order, and whole.
//
// Each message carries its sequence number, a payload derived from it, and a checksum of both;
// the receiving child recomputes all three, so a lost, repeated, reordered or torn message (one
// whose bytes come from two different sends) fails it. The child reports through its exit code.

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::child;
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

/// Exit codes of the receiving child.
enum : int {
    all_good = 0,
    receive_failed = 1,   ///< an error before the last message
    wrong_seq = 2,        ///< lost, repeated or reordered
    bad_checksum = 3,     ///< torn
    wrong_payload = 4,    ///< intact checksum over the wrong bytes
    extra_message = 5,    ///< a message after the last one
    not_closed = 6,       ///< the end was not `closed`
};

template <class Queue>
int receive_and_verify(const std::string& name, std::uint64_t n) {
    auto q = Queue::open(name);
    auto rx = q.receiver();
    record r{};
    for (std::uint64_t i = 0; i < n; ++i) {
        if (const auto s = rx.receive(r, patience); !s) {
            std::fprintf(stderr, "receiver: message %llu: error %d\n", static_cast<unsigned long long>(i),
                         static_cast<int>(s.error()));
            return receive_failed;
        }
        if (r.seq != i) {
            std::fprintf(stderr, "receiver: expected seq %llu, got %llu\n", static_cast<unsigned long long>(i),
                         static_cast<unsigned long long>(r.seq));
            return wrong_seq;
        }
        if (r.checksum != checksum_of(r)) return bad_checksum;
        const record want = make_record(i);
        for (std::uint64_t j = 0; j < 6; ++j)
            if (r.payload[j] != want.payload[j]) return wrong_payload;
    }
    const auto end = rx.receive(r, patience);
    if (end) return extra_message;
    return end.error() == errc::closed ? all_good : not_closed;
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

    child receiver_process([&] { return receive_and_verify<queue_t>(name, n); });

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
    CHECK(receiver_process.wait() == all_good);
}
