#pragma once
// The one driver: every pattern, written once over any mechanism (mechanisms.hpp), between real
// processes pinned to their CPUs.
//
//   pingpong  a pinger sends message i on one link, a ponger sends it back on another; the
//             pinger times every round trip (after a warm-up) and both check every number
//   stream    P producers send as fast as the link takes; the consumer checks every message
//             and times the messages after its warm-up: P = 1 ("stream", "mpsc1") or 2, 4
//   fan       P producers into C consumers ("p2c2"; --producers, --consumers): each consumer
//             checks that every producer's messages reach it in order, and marks each one in a
//             bitmap of its own; the parent then checks that the consumers together got every
//             message that was sent exactly once
//   broadcast one producer into C receivers that each get every message ("bcast3"; the rows of
//             --broadcast): each receiver checks every message in order
//
// These end after `count` round trips or messages, or at the time budget on a machine so busy
// that the count would take far longer: the pinger or each producer then sends an end marker
// (end_seq; in fan, the last producer to finish sends one per consumer, behind every message),
// and the numbers are taken over what was timed.
//   idle      a receiver blocks on an empty link; the parent reads the receiver's CPU clock
//             across a fixed wall time, then sends one message to let it finish
//   one copy  not IPC: memcpy of each message into the next of as many slots as the queues
//             have, in one process; the memory bandwidth that a message written once can reach
//   calls     a client keeps N calls in flight to a server that echoes its argument: the call
//             rows of --rpc only (calls.hpp; they time their own round trips in pingpong too)
//
// Each measurement forks its own children and makes its own links, so that no state (a full
// buffer, a sleeping waiter, a warm cache) carries over from one measurement to the next.

#include "mechanisms.hpp"
#include "message.hpp"
#include "process.hpp"
#include "stats.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bench {

enum class shape { pingpong, stream, fan, idle, calls, broadcast };

/// A way of exchanging messages, named as in the CSV.
struct pattern {
    std::string name;
    shape kind;
    unsigned producers = 1;  ///< stream, fan: processes sending at once
    unsigned consumers = 1;  ///< fan, broadcast: processes receiving at once
    bool many = false;       ///< whether it needs the mechanism's multi-producer support
    unsigned in_flight = 1;  ///< calls: calls the client keeps outstanding
    [[nodiscard]] bool many_consumers() const noexcept { return consumers > 1; }
};

/// The patterns of the standard table.
inline std::vector<pattern> standard_patterns() {
    return {{"pingpong", shape::pingpong},       {"stream", shape::stream},
            {"mpsc1", shape::stream, 1, 1, true}, {"mpsc2", shape::stream, 2, 1, true},
            {"mpsc4", shape::stream, 4, 1, true}, {"idle", shape::idle}};
}

/// P producers into C consumers, "p2c3": the pattern of --producers / --consumers.
inline pattern fan_pattern(unsigned producers, unsigned consumers) {
    return {"p" + std::to_string(producers) + "c" + std::to_string(consumers), shape::fan, producers, consumers,
            producers > 1};
}

inline constexpr unsigned max_producers = 8;
inline constexpr unsigned max_consumers = 8;

/// What to measure once.
struct cell_request {
    const pattern& pat;
    const link_config& config;
    std::size_t size;
    std::uint64_t count;     ///< round trips, or messages in all
    std::uint64_t warmup;    ///< round trips, or messages, before timing starts
    clock::duration budget;  ///< after the warm-up, stop at this time even if count is not reached
    clock::duration idle_for;
    const cpu_plan& cpus;
    clock::duration patience;     ///< children not set up by then have hung
    clock::duration stall_after;  ///< children still running this long after budget has passed have stalled
};

/// Lets the `n` children of a measurement go once they are set up (within rq.patience), and
/// waits for them to end: any still running rq.budget + rq.stall_after after the start has
/// stalled (children::wait_all throws stall), so that a peer that loses a message costs a
/// bounded wait, never the run.
inline void run_children(children& kids, const start_gate& gate, std::size_t n, const cell_request& rq) {
    gate.open(kids, n, clock::now() + rq.patience);
    kids.wait_all(clock::now() + rq.budget + rq.stall_after);
}

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

/// A round of `n` timed round trips (ns, the first n of `rtt`): their quantiles, and round trips
/// a second.
template <class Samples>
cell_result round_trips(Samples& rtt, std::uint64_t n) {
    const auto first = rtt.begin(), last = rtt.begin() + static_cast<std::ptrdiff_t>(n);
    double sum = 0;
    for (auto it = first; it != last; ++it) sum += static_cast<double>(*it);
    return {{{"rtt_median_ns", quantile(first, last, 0.5)},
             {"rtt_p99_ns", quantile(first, last, 0.99)},
             {"rtt_p999_ns", quantile(first, last, 0.999)}},
            static_cast<double>(n) / (sum * 1e-9)};
}

/// The receiver's CPU clock is read from this long after it started to wait: past any spin
/// phase (ipckit's adaptive policy spins 50 us), so that only the sleep is measured.
inline constexpr auto idle_settle = std::chrono::milliseconds(20);

/// Receives one message from `rx` and calls f(const message<S>&) with it: in place if the end
/// can (visit), else after a copy into `buffer`.
template <class Receiver, std::size_t S, class F>
void take(Receiver& rx, message<S>& buffer, F&& f) {
    if constexpr (requires { rx.visit(f); }) {
        rx.visit(f);
    } else {
        rx.receive(buffer);
        f(std::as_const(buffer));
    }
}

/// Producer p's sending: message n of p carries make_seq(p, n); it sends at least its share of
/// the warm-up, then stops at `each` messages or when the time budget is spent, whichever comes
/// first (the clock is read every 256 messages). Returns how many it sent.
template <class Sender, std::size_t S>
std::uint64_t send_share(Sender& tx, message<S>& m, unsigned p, std::uint64_t each, std::uint64_t warmup_each,
                         std::chrono::nanoseconds budget) {
    const std::int64_t stop_at = now_ns() + budget.count();
    std::uint64_t n = 0;
    while (n < each) {
        m.stamp(make_seq(p, n));
        tx.send(m);
        if (++n % 256 == 0 && n > warmup_each && now_ns() >= stop_at) break;
    }
    return n;
}

template <mechanism M, std::size_t S>
cell_result ping_pong(const cell_request& rq) {
    typename M::template link<S> there(rq.config), back(rq.config);
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
        for (bool end = false; !end; ++n)
            take(rx, m, [&](const message<S>& in) {
                end = is_end(in.seq());
                if (end) return;
                check(in);
                tx.send(in);
            });
        check.finish(n - 1);
    });
    kids.spawn("pinger", rq.cpus.producer(0), [&] {
        auto tx = there.open_sender();
        auto rx = back.open_receiver();
        auto m = message<S>::filled();
        message<S> back_buffer;
        sequence_check<1> check("pinger");
        rtt.prefault();
        gate.arrive_and_wait();
        const std::int64_t stop_at = now_ns() + std::chrono::nanoseconds(rq.budget).count();
        std::int64_t t = now_ns();
        std::uint64_t i = 0;
        while (i < rq.warmup + rq.count) {
            m.stamp(i);
            tx.send(m);
            take(rx, back_buffer, [&](const message<S>& in) { check(in); });
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
    run_children(kids, gate, 2, rq);
    return round_trips(rtt, timed[0]);
}

template <mechanism M, std::size_t S>
cell_result stream(const cell_request& rq) {
    typename M::template link<S> link(rq.config);
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
        for (unsigned ended = 0; ended < producers;)
            take(rx, m, [&](const message<S>& in) {
                if (is_end(in.seq())) {
                    ++ended;
                    return;
                }
                check(in);
                if (++received == rq.warmup) begin = now_ns();
            });
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
            sent[p] = send_share(tx, m, p, each, warmup_each, rq.budget);
            m.stamp(end_seq(p));
            tx.send(m);
        });
    run_children(kids, gate, producers + 1, rq);

    for (unsigned p = 0; p < producers; ++p)
        if (arrived[p] != sent[p])
            fail("producer " + std::to_string(p) + " sent " + std::to_string(sent[p]) + " messages, the consumer got " +
                 std::to_string(arrived[p]) + " of them in order");
    const double rate = static_cast<double>(timed[0]) / (static_cast<double>(span[1] - span[0]) * 1e-9);
    return {{{"msgs_per_s", rate}, {"mb_per_s", rate * static_cast<double>(S) / 1e6}}, rate};
}

template <mechanism M, std::size_t S>
cell_result idle(const cell_request& rq) {
    typename M::template link<S> link(rq.config);
    children kids;
    const start_gate gate;
    const pid_t receiver = kids.spawn("receiver", rq.cpus.consumer(), [&] {
        auto rx = link.open_receiver();
        message<S> m;
        sequence_check<1> check("idle receiver");
        gate.arrive_and_wait();
        take(rx, m, [&](const message<S>& in) { check(in); });  // nothing comes until the parent has measured
        check.finish(1);
    });
    gate.open(kids, 1, clock::now() + rq.patience);
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
    kids.wait_all(clock::now() + rq.stall_after);
    return {{{"cpu_percent", 100.0 * static_cast<double>(cpu1 - cpu0) / static_cast<double>(t1 - t0)}}, 0};
}

/// P producers into C consumers. The last producer to finish sends one end marker per consumer:
/// every message of every producer was in the queue before it, so each consumer takes all the
/// messages that come to it and then one marker. Rate: the messages after each consumer's share
/// of the warm-up, over the time from the first consumer's end of warm-up to the last one's end.
template <mechanism M, std::size_t S>
cell_result fan(const cell_request& rq) {
    typename M::template link<S> link(rq.config);
    const unsigned producers = rq.pat.producers, consumers = rq.pat.consumers;
    const std::uint64_t warmup_each = (rq.warmup + producers - 1) / producers;
    const std::uint64_t each = (rq.warmup + rq.count + producers - 1) / producers;
    const std::uint64_t warmup_share = (rq.warmup + consumers - 1) / consumers;
    // seen: one bitmap per consumer and producer, `words` long: bit n of (c, p) is set when
    // consumer c got message n of producer p. Each consumer writes only its own bitmaps.
    const std::size_t words = static_cast<std::size_t>((each + 63) / 64);
    shared_array<std::uint64_t> seen(std::size_t{consumers} * producers * words);
    shared_array<std::uint64_t> sent(producers);
    shared_array<std::atomic<unsigned>> finished(1);
    struct consumer_times {
        std::int64_t begin, end;
        std::uint64_t timed;
    };
    shared_array<consumer_times> times(consumers);
    children kids;
    const start_gate gate;
    for (unsigned c = 0; c < consumers; ++c)
        kids.spawn("consumer " + std::to_string(c), rq.cpus.consumer(c, producers), [&, c] {
            auto rx = link.open_receiver();
            message<S> m;
            std::uint64_t* const bits = &seen[std::size_t{c} * producers * words];
            auto* const pages = reinterpret_cast<volatile char*>(bits);  // no page fault while timed
            for (std::size_t i = 0; i < producers * words * sizeof *bits; i += 4096) pages[i] = 0;
            subsequence_check<max_producers> check("consumer " + std::to_string(c), producers, each);
            gate.arrive_and_wait();
            std::uint64_t received = 0;
            std::int64_t begin = 0;
            for (bool end = false; !end;)
                take(rx, m, [&](const message<S>& in) {
                    const std::uint64_t seq = in.seq();
                    if (is_end(seq)) {
                        end = true;
                        return;
                    }
                    if (check(in)) [[likely]] {
                        const std::uint64_t n = seq & counter_mask;
                        bits[(seq >> producer_shift) * words + n / 64] |= std::uint64_t{1} << (n % 64);
                    }
                    if (++received == warmup_share) begin = now_ns();
                });
            times[c] = {begin, now_ns(), received >= warmup_share ? received - warmup_share : 0};
            check.finish(received);
        });
    for (unsigned p = 0; p < producers; ++p)
        kids.spawn("producer " + std::to_string(p), rq.cpus.producer(p), [&, p] {
            auto tx = link.open_sender();
            auto m = message<S>::filled();
            gate.arrive_and_wait();
            sent[p] = send_share(tx, m, p, each, warmup_each, rq.budget);
            if (finished[0].fetch_add(1, std::memory_order_acq_rel) + 1 == producers) {
                m.stamp(end_seq(p));
                for (unsigned c = 0; c < consumers; ++c) tx.send(m);
            }
        });
    run_children(kids, gate, producers + consumers, rq);

    // Exactly once: message n of producer p is in exactly one consumer's bitmap for n < sent[p],
    // in none beyond.
    for (unsigned p = 0; p < producers; ++p)
        for (std::size_t w = 0; w < words; ++w) {
            std::uint64_t any = 0, twice = 0;
            for (unsigned c = 0; c < consumers; ++c) {
                const std::uint64_t b = seen[(std::size_t{c} * producers + p) * words + w];
                twice |= any & b;
                any |= b;
            }
            const std::uint64_t first = std::uint64_t{w} * 64;
            const std::uint64_t expected = sent[p] >= first + 64 ? ~std::uint64_t{0}
                                           : sent[p] <= first    ? 0
                                                                 : (std::uint64_t{1} << (sent[p] - first)) - 1;
            auto message_of = [&](std::uint64_t bits) {
                return "message " + std::to_string(first + static_cast<unsigned>(std::countr_zero(bits))) +
                       " of producer " + std::to_string(p) + " (of " + std::to_string(sent[p]) + " sent)";
            };
            if (twice != 0) fail(message_of(twice) + " reached two consumers");
            if ((expected & ~any) != 0) fail(message_of(expected & ~any) + " reached no consumer");
            if ((any & ~expected) != 0) fail(message_of(any & ~expected) + " arrived but was never sent");
        }
    std::int64_t begin = 0, end = 0;
    std::uint64_t timed = 0;
    for (unsigned c = 0; c < consumers; ++c) {
        end = std::max(end, times[c].end);
        if (times[c].timed == 0) continue;
        begin = timed == 0 ? times[c].begin : std::min(begin, times[c].begin);
        timed += times[c].timed;
    }
    if (timed == 0 || end <= begin) fail("no consumer got past its share of the warm-up: nothing to time");
    const double rate = static_cast<double>(timed) / (static_cast<double>(end - begin) * 1e-9);
    return {{{"msgs_per_s", rate}, {"mb_per_s", rate * static_cast<double>(S) / 1e6}}, rate};
}

/// One producer into C receivers that each get every message (a broadcast link made for C
/// receivers: link_config::receivers). Each receiver checks that it got every message the
/// producer sent, in order, then the end marker. Rate: the messages after the warm-up over the
/// time from the first receiver's end of warm-up to the last one's end; each reached all C
/// receivers (MB/s: what each receiver got).
template <mechanism M, std::size_t S>
cell_result broadcast(const cell_request& rq) {
    link_config config = rq.config;
    config.receivers = rq.pat.consumers;
    typename M::template link<S> link(config);
    const unsigned receivers = rq.pat.consumers;
    shared_array<std::uint64_t> sent(1), arrived(receivers);
    struct receiver_times {
        std::int64_t begin, end;
    };
    shared_array<receiver_times> times(receivers);
    children kids;
    const start_gate gate;
    for (unsigned c = 0; c < receivers; ++c)
        kids.spawn("receiver " + std::to_string(c), rq.cpus.consumer(c, 1), [&, c] {
            auto rx = link.open_receiver(c);
            message<S> m;
            sequence_check<1> check("broadcast receiver");
            gate.arrive_and_wait();
            std::uint64_t received = 0;
            std::int64_t begin = 0;
            for (bool end = false; !end;)
                take(rx, m, [&](const message<S>& in) {
                    if (is_end(in.seq())) {
                        end = true;
                        return;
                    }
                    check(in);
                    if (++received == rq.warmup) begin = now_ns();
                });
            times[c] = {begin, now_ns()};
            check.finish(received);
            arrived[c] = check.next(0);
        });
    kids.spawn("producer", rq.cpus.producer(0), [&] {
        auto tx = link.open_sender();
        auto m = message<S>::filled();
        gate.arrive_and_wait();
        sent[0] = send_share(tx, m, 0, rq.warmup + rq.count, rq.warmup, rq.budget);
        m.stamp(end_seq(0));
        tx.send(m);
    });
    run_children(kids, gate, receivers + 1, rq);

    std::int64_t begin = times[0].begin, end = times[0].end;
    for (unsigned c = 0; c < receivers; ++c) {
        if (arrived[c] != sent[0])
            fail("the producer sent " + std::to_string(sent[0]) + " messages, receiver " + std::to_string(c) + " got " +
                 std::to_string(arrived[c]) + " of them in order");
        begin = std::min(begin, times[c].begin);
        end = std::max(end, times[c].end);
    }
    if (sent[0] <= rq.warmup || end <= begin) fail("nothing past the warm-up to time");
    const double rate = static_cast<double>(sent[0] - rq.warmup) / (static_cast<double>(end - begin) * 1e-9);
    return {{{"msgs_per_s", rate}, {"mb_per_s", rate * static_cast<double>(S) / 1e6}}, rate};
}

/// The bound "one copy": memcpy of each message into the next of as many slots as the queues
/// have, in one process pinned like a producer, after a warm-up. What a message written once
/// (a loan) could reach at most, with no second process, no cache line moving to another CPU.
inline cell_result one_copy(const cell_request& rq) {
    return with_size(rq.size, [&]<std::size_t S>() {
        const std::size_t slots = rq.config.slots_for(S);
        shared_array<message<S>> ring(slots);
        shared_array<std::int64_t> span(2);
        shared_array<std::uint64_t> timed(1);
        children kids;
        const start_gate gate;
        kids.spawn("copier", rq.cpus.producer(0), [&] {
            auto m = message<S>::filled();
            ring.prefault();
            gate.arrive_and_wait();
            const std::int64_t stop_at = now_ns() + std::chrono::nanoseconds(rq.budget).count();
            std::int64_t begin = 0;
            std::uint64_t i = 0;
            for (std::size_t slot = 0; i < rq.warmup + rq.count;) {
                if (i == rq.warmup) begin = now_ns();
                m.stamp(i);
                std::memcpy(static_cast<void*>(&ring[slot]), &m, S);
                if (++slot == slots) slot = 0;
                if (++i % 256 == 0 && i > rq.warmup && now_ns() >= stop_at) break;
            }
            span[1] = now_ns();
            span[0] = begin;
            timed[0] = i - rq.warmup;
        });
        run_children(kids, gate, 1, rq);
        const double rate = static_cast<double>(timed[0]) / (static_cast<double>(span[1] - span[0]) * 1e-9);
        return cell_result{{{"msgs_per_s", rate}, {"mb_per_s", rate * static_cast<double>(S) / 1e6}}, rate};
    });
}

/// Which patterns a row runs: all, those of one pair of processes and of several producers
/// Which patterns a row runs: all, those of one pair of processes and of several producers
/// into one consumer (pingpong, stream and mpscN, idle), only fan, only pingpong (a
/// request-reply socket), stream and broadcast (a broadcast link), or only streams (stream and
/// mpscN: a batch row, bench/batch.hpp). Each pattern is compiled for each size of each row that
/// may run it, and no more: that is most of the build time.
enum class runs { all, pairs, fan_only, pingpong_only, broadcast, stream_only };

/// Measures one cell of mechanism M: the entry point that the mechanism table points at.
template <mechanism M, runs Runs = runs::all>
cell_result run_cell(const cell_request& rq) {
    return with_size(rq.size, [&]<std::size_t S>() {
        if constexpr (Runs == runs::fan_only) {
            if (rq.pat.kind != shape::fan) fail("this row measures only several producers or consumers (fan)");
            return fan<M, S>(rq);
        } else if constexpr (Runs == runs::broadcast) {
            if (rq.pat.kind == shape::broadcast) return broadcast<M, S>(rq);
            if (rq.pat.kind != shape::stream) fail("this row measures only stream and broadcast");
            return stream<M, S>(rq);
        } else if constexpr (Runs == runs::pingpong_only) {
            if (rq.pat.kind != shape::pingpong) fail("this row measures only round trips (pingpong)");
            return ping_pong<M, S>(rq);
        } else if constexpr (Runs == runs::stream_only) {
            if (rq.pat.kind != shape::stream) fail("this row measures only streams (stream, mpscN)");
            return stream<M, S>(rq);
        } else {
            switch (rq.pat.kind) {
            case shape::pingpong: return ping_pong<M, S>(rq);
            case shape::stream: return stream<M, S>(rq);
            case shape::fan:
                if constexpr (Runs == runs::all) return fan<M, S>(rq);
                fail("this row does not measure several consumers (fan)");
            case shape::calls: fail("this row makes no calls (the call rows of --rpc do)");
            case shape::broadcast: fail("this row does not broadcast (the rows of --broadcast do)");
            case shape::idle: break;
            }
            if constexpr (requires { M::unsupported_idle(); })
                fail(M::unsupported_idle());
            else
                return idle<M, S>(rq);
        }
    });
}

/// Where a mechanism stands in the comparison: the reference ring, ipckit, the peers it is
/// measured against, a socket peer (compared with by name, never the queues' best peer:
/// bench/net_mechanisms.hpp), or a bound that is not IPC at all (one copy in one process).
enum class family { reference, ipckit, peer, socket_peer, bound };

/// A row of the mechanism table (ipckit_bench.cpp): its name in tables and the CSV, and its
/// adapter's functions. Make one with entry<M>(name, family), or one_copy_entry.
struct mechanism_entry {
    std::string_view name;
    family kind;
    std::string (*describe)();
    std::string (*unsupported)(std::size_t size, bool many_producers, bool many_consumers);
    cell_result (*run)(const cell_request&);
    shape only = shape::idle;  ///< for family::bound: the one pattern it has a figure for
    std::string (*unsupported_idle)() = nullptr;  ///< why it has no idle figure (M::unsupported_idle)
    /// For an ipckit row built on another (a node on its links, a mailbox on a ring): that row's
    /// name, so that the ratios show what the layer above the bare queue costs.
    std::string_view over = {};
    bool pingpong_only = false;  ///< a request-reply socket: no figure but pingpong's
    bool calls = false;          ///< a call row (calls.hpp): pingpong and calls only, and only it makes calls
    bool stream_only = false;    ///< a batch row, a row of --pressure: no figure but the streams' (stream, mpscN)

    /// "" if this row can run pattern `p` with messages of `size` bytes, else why not.
    [[nodiscard]] std::string refuses(const pattern& p, std::size_t size) const {
        if (kind == family::bound && (p.kind != only || p.many)) return "n/a (one process, no IPC)";
        if (pingpong_only && p.kind != shape::pingpong) return "n/a (request-reply: round trips only)";
        if (stream_only && p.kind != shape::stream) return "n/a (streams only)";
        if (calls != (p.kind == shape::calls) && !(calls && p.kind == shape::pingpong))
            return calls ? "n/a (calls: round trips and call rates only)" : "n/a (messages, not calls)";
        if (p.kind == shape::idle && unsupported_idle != nullptr) return unsupported_idle();
        return unsupported(size, p.many, p.many_consumers());
    }
};

/// A row of mechanism M. A mechanism with no idle figure says why in a static unsupported_idle().
template <mechanism M, runs Runs = runs::all>
constexpr mechanism_entry entry(std::string_view name, family kind, std::string_view over = {}) {
    std::string (*no_idle)() = nullptr;
    if constexpr (requires { M::unsupported_idle(); }) no_idle = &M::unsupported_idle;
    return {name, kind, &M::describe, &M::unsupported, &run_cell<M, Runs>, shape::idle, no_idle, over, false, false,
            Runs == runs::stream_only};
}

/// A request-reply row of mechanism M: pingpong only.
template <mechanism M>
constexpr mechanism_entry pingpong_entry(std::string_view name, family kind) {
    auto e = entry<M, runs::pingpong_only>(name, kind);
    e.pingpong_only = true;
    return e;
}

/// The "one copy" bound: see one_copy() above.
inline constexpr mechanism_entry one_copy_entry{
    "one-copy", family::bound,
    [] { return std::string("memcpy of each message into the next of as many slots as the queues, one process"); },
    [](std::size_t, bool, bool) { return std::string(); }, &one_copy, shape::stream};

}  // namespace bench
