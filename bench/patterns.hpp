#pragma once
// The one driver: every pattern, written once over any mechanism (mechanisms.hpp), between real
// processes pinned to their CPUs.
//
//   pingpong  a pinger sends message i on one link, a ponger sends it back on another; the
//             pinger times every round trip (after a warm-up) and both check every number
//   stream    P producers send as fast as the link takes; the consumer checks every message
//             and times the messages after its warm-up: P = 1 ("stream", "mpsc1") or 2, 4
//
// Both end after `count` round trips or messages, or at the time budget on a machine so busy
// that the count would take far longer: the pinger or each producer then sends an end marker
// (end_seq), and the numbers are taken over what was timed.
//   idle      a receiver blocks on an empty link; the parent reads the receiver's CPU clock
//             across a fixed wall time, then sends one message to let it finish
//
// Each measurement forks its own children and makes its own links, so that no state (a full
// buffer, a sleeping waiter, a warm cache) carries over from one measurement to the next.

#include "mechanisms.hpp"
#include "message.hpp"
#include "process.hpp"
#include "stats.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

enum class shape { pingpong, stream, idle };

/// A way of exchanging messages, named as in the CSV.
struct pattern {
    std::string_view name;
    shape kind;
    unsigned producers;  ///< stream: processes sending at once
    bool many;           ///< whether it needs the mechanism's multi-producer support
};

// clang-format off
inline constexpr pattern patterns[] = {
    {"pingpong", shape::pingpong, 1, false},
    {"stream", shape::stream, 1, false},
    {"mpsc1", shape::stream, 1, true},
    {"mpsc2", shape::stream, 2, true},
    {"mpsc4", shape::stream, 4, true},
    {"idle", shape::idle, 1, false},
};
// clang-format on

inline constexpr unsigned max_producers = 8;

/// What to measure once.
struct cell_request {
    const pattern& pat;
    std::size_t size;
    std::uint64_t count;     ///< round trips, or messages in all
    std::uint64_t warmup;    ///< round trips, or messages, before timing starts
    clock::duration budget;  ///< after the warm-up, stop at this time even if count is not reached
    clock::duration idle_for;
    const cpu_plan& cpus;
    clock::duration patience;  ///< a measurement that takes longer has hung
};

/// Every metric a measurement reports, in the order the CSV lists them.
inline constexpr std::string_view metrics[] = {"rtt_median_ns", "rtt_p99_ns", "rtt_p999_ns",
                                               "msgs_per_s",    "mb_per_s",   "cpu_percent"};

struct measurement {
    std::string_view metric;
    double value;
};

struct cell_result {
    std::vector<measurement> values;
    double per_second = 0;  ///< round trips or messages a second: what the next count is sized by
};

/// The receiver's CPU clock is read from this long after it started to wait: past any spin
/// phase (ipckit's adaptive policy spins 50 us), so that only the sleep is measured.
inline constexpr auto idle_settle = std::chrono::milliseconds(20);

template <mechanism M, std::size_t S>
cell_result ping_pong(const cell_request& rq) {
    typename M::template link<S> there, back;
    shared_array<std::int64_t> rtt(rq.count);
    shared_array<std::uint64_t> timed(1);  // round trips in rtt
    children kids;
    const start_gate gate;
    kids.spawn("ponger", rq.cpus.consumer(), [&] {
        auto rx = there.open_receiver();
        auto tx = back.open_sender();
        auto m = message<S>::filled();
        sequence_check<1> check("ponger");
        gate.arrive_and_wait();
        std::uint64_t n = 0;
        for (;; ++n) {
            rx.receive(m);
            if (is_end(m.seq())) break;
            check(m);
            tx.send(m);
        }
        check.finish(n);
    });
    kids.spawn("pinger", rq.cpus.producer(0), [&] {
        auto tx = there.open_sender();
        auto rx = back.open_receiver();
        auto m = message<S>::filled();
        sequence_check<1> check("pinger");
        rtt.prefault();
        gate.arrive_and_wait();
        const std::int64_t stop_at = now_ns() + std::chrono::nanoseconds(rq.budget).count();
        std::int64_t t = now_ns();
        std::uint64_t i = 0;
        while (i < rq.warmup + rq.count) {
            m.stamp(i);
            tx.send(m);
            rx.receive(m);
            check(m);
            const std::int64_t t2 = now_ns();
            if (i >= rq.warmup) rtt[i - rq.warmup] = t2 - t;
            t = t2;
            if (++i > rq.warmup && t2 >= stop_at) break;
        }
        timed[0] = i - rq.warmup;
        m.stamp(end_seq(0));
        tx.send(m);
        check.finish(i);
    });
    const auto deadline = clock::now() + rq.patience;
    gate.open(kids, 2, deadline);
    kids.wait_all(deadline);

    const auto first = rtt.begin(), last = rtt.begin() + static_cast<std::ptrdiff_t>(timed[0]);
    double sum = 0;
    for (auto it = first; it != last; ++it) sum += static_cast<double>(*it);
    return {{{"rtt_median_ns", quantile(first, last, 0.5)},
             {"rtt_p99_ns", quantile(first, last, 0.99)},
             {"rtt_p999_ns", quantile(first, last, 0.999)}},
            static_cast<double>(timed[0]) / (sum * 1e-9)};
}

template <mechanism M, std::size_t S>
cell_result stream(const cell_request& rq) {
    typename M::template link<S> link;
    const unsigned producers = rq.pat.producers;
    shared_array<std::uint64_t> sent(producers), arrived(producers);
    shared_array<std::int64_t> span(2);  // the consumer's clock at the start and the end of timing
    shared_array<std::uint64_t> timed(1);
    children kids;
    const start_gate gate;
    kids.spawn("consumer", rq.cpus.consumer(), [&] {
        auto rx = link.open_receiver();
        message<S> m;
        sequence_check<max_producers> check("consumer");
        gate.arrive_and_wait();
        std::uint64_t received = 0;
        std::int64_t begin = 0;
        for (unsigned ended = 0; ended < producers;) {
            rx.receive(m);
            if (is_end(m.seq())) {
                ++ended;
                continue;
            }
            check(m);
            if (++received == rq.warmup) begin = now_ns();
        }
        span[1] = now_ns();
        span[0] = begin;
        timed[0] = received - rq.warmup;
        check.finish(received);
        for (unsigned p = 0; p < producers; ++p) arrived[p] = check.next(p);
    });
    // Each producer sends its share of the warm-up, then stops at its share of the count or at
    // the time budget, whichever comes first, and then sends its end marker.
    const std::uint64_t warmup_each = (rq.warmup + producers - 1) / producers;
    const std::uint64_t each = (rq.warmup + rq.count + producers - 1) / producers;
    for (unsigned p = 0; p < producers; ++p)
        kids.spawn("producer " + std::to_string(p), rq.cpus.producer(p), [&, p] {
            auto tx = link.open_sender();
            auto m = message<S>::filled();
            gate.arrive_and_wait();
            const std::int64_t stop_at = now_ns() + std::chrono::nanoseconds(rq.budget).count();
            std::uint64_t n = 0;
            while (n < each) {
                m.stamp(make_seq(p, n));
                tx.send(m);
                if (++n % 256 == 0 && n > warmup_each && now_ns() >= stop_at) break;
            }
            sent[p] = n;
            m.stamp(end_seq(p));
            tx.send(m);
        });
    const auto deadline = clock::now() + rq.patience;
    gate.open(kids, producers + 1, deadline);
    kids.wait_all(deadline);

    for (unsigned p = 0; p < producers; ++p)
        if (arrived[p] != sent[p])
            fail("producer " + std::to_string(p) + " sent " + std::to_string(sent[p]) + " messages, the consumer got " +
                 std::to_string(arrived[p]) + " of them in order");
    const double rate = static_cast<double>(timed[0]) / (static_cast<double>(span[1] - span[0]) * 1e-9);
    return {{{"msgs_per_s", rate}, {"mb_per_s", rate * static_cast<double>(S) / 1e6}}, rate};
}

template <mechanism M, std::size_t S>
cell_result idle(const cell_request& rq) {
    typename M::template link<S> link;
    children kids;
    const start_gate gate;
    const pid_t receiver = kids.spawn("receiver", rq.cpus.consumer(), [&] {
        auto rx = link.open_receiver();
        message<S> m;
        sequence_check<1> check("idle receiver");
        gate.arrive_and_wait();
        rx.receive(m);  // nothing comes until the parent has measured
        check(m);
        check.finish(1);
    });
    const auto deadline = clock::now() + rq.patience + rq.idle_for;
    gate.open(kids, 1, deadline);
    kids.sleep_for(idle_settle);
    const std::int64_t cpu0 = process_cpu_ns(receiver), t0 = now_ns();
    kids.sleep_for(rq.idle_for);  // the measurement interval
    const std::int64_t cpu1 = process_cpu_ns(receiver), t1 = now_ns();
    {
        auto tx = link.open_sender();
        auto m = message<S>::filled();
        m.stamp(0);
        tx.send(m);
    }
    kids.wait_all(deadline);
    return {{{"cpu_percent", 100.0 * static_cast<double>(cpu1 - cpu0) / static_cast<double>(t1 - t0)}}, 0};
}

/// Measures one cell of mechanism M: the entry point that the mechanism table points at.
template <mechanism M>
cell_result run_cell(const cell_request& rq) {
    return with_size(rq.size, [&]<std::size_t S>() {
        switch (rq.pat.kind) {
        case shape::pingpong: return ping_pong<M, S>(rq);
        case shape::stream: return stream<M, S>(rq);
        case shape::idle: break;
        }
        return idle<M, S>(rq);
    });
}

/// Where a mechanism stands in the comparison.
enum class family { reference, ipckit, peer };

/// A row of the mechanism table (ipckit_bench.cpp): its name in tables and the CSV, and its
/// adapter's functions. Make one with entry<M>(name, family).
struct mechanism_entry {
    std::string_view name;
    family kind;
    std::string (*describe)();
    std::string (*unsupported)(std::size_t size, bool many);
    cell_result (*run)(const cell_request&);
};

template <mechanism M>
constexpr mechanism_entry entry(std::string_view name, family kind) {
    return {name, kind, &M::describe, &M::unsupported, &run_cell<M>};
}

}  // namespace bench
