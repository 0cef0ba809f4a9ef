#pragma once
// The call rows of --rpc (issue 14, "Figures"): a client process calls a server process that
// echoes its one argument, the message, and checks every reply. One driver for every RPC system:
//
//   pingpong  one call at a time; every round trip timed (the time from one reply to the next
//             includes starting the next call, as the message rows' pingpong includes the send)
//   calls     the client keeps `in_flight` calls outstanding (it starts the next as soon as the
//             oldest has its reply) and counts calls a second after its warm-up
//
// A system is a pair of types (Calls::server, Calls::client) and an address maker; its adapter
// is in its own file, a translation unit of its own (calls/*.cpp, linked into ipckit_bench only
// when its packages were found), so that the heavy headers of msgpack-cxx and gRPC stay out of
// ipckit_bench.cpp. The rows it makes are declared at the bottom.
//
// Both ends are made in the children: an ipckit listener or connection is the process's that
// made it (a forked child must not use its parent's), and gRPC's I/O threads do not survive a
// fork. The server binds before it arrives at the start gate, so the client, which
// connects after it, finds it there. When done, the client sends "end" (ipckit: a notification,
// gRPC: a call), after which the server process returns.
//
// Calls::client has begin(slot, m), which starts a call with argument m in slot (0 to
// in_flight - 1, round robin), and finish(slot, back), which waits for that slot's reply and
// copies it into back; end() asks the server to stop.

#include "message.hpp"
#include "patterns.hpp"
#include "process.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

/// The argument sizes of the call rows: an empty call (its 8 B carry only the sequence number
/// that the client checks in the reply) and a 1 KiB one.
inline constexpr std::array<std::size_t, 2> call_sizes{8, 1024};

/// The most calls a client keeps in flight (the calls16 pattern).
inline constexpr unsigned max_in_flight = 16;

/// Measures one cell of a call row: see the top of this file.
template <class Calls, std::size_t S>
cell_result call_cell(const cell_request& rq) {
    const bool pingpong = rq.pat.kind == shape::pingpong;
    const unsigned k = pingpong ? 1 : rq.pat.in_flight;
    if (k == 0 || k > max_in_flight) fail("calls in flight: " + std::to_string(k) + ", not 1 to 16");
    const std::string address = Calls::make_address();
    shared_array<std::int64_t> rtt(pingpong ? rq.count : 1);
    shared_array<std::int64_t> span(2);  // the client's clock at the end of its warm-up and at its end
    shared_array<std::uint64_t> timed(1);
    children kids;
    const start_gate gate;
    kids.spawn("server", rq.cpus.consumer(), [&] {
        typename Calls::server srv(address);
        gate.arrive_and_wait();
        srv.wait_for_end();
    });
    kids.spawn("client", rq.cpus.producer(0), [&] {
        if (pingpong) rtt.prefault();
        gate.arrive_and_wait();
        typename Calls::client c(address);
        auto m = message<S>::filled();
        message<S> back;
        sequence_check<1> check("client");
        const std::uint64_t total = rq.warmup + rq.count;
        std::uint64_t started = 0, finished = 0;
        const auto start_one = [&] {
            m.stamp(started);
            c.begin(static_cast<unsigned>(started % k), m);
            ++started;
        };
        while (started < k && started < total) start_one();
        std::int64_t stop_at = 0, begin = 0, t = now_ns();
        bool stopping = false;
        while (finished < started) {
            c.finish(static_cast<unsigned>(finished % k), back);
            check(back);
            ++finished;
            const std::int64_t t2 = now_ns();
            if (finished == rq.warmup) {
                begin = t2;
                stop_at = t2 + std::chrono::nanoseconds(rq.budget).count();
            } else if (finished > rq.warmup) {
                if (pingpong) rtt[finished - 1 - rq.warmup] = t2 - t;
                stopping = stopping || t2 >= stop_at;
            }
            t = t2;
            if (!stopping && started < total) start_one();
        }
        span[0] = begin;
        span[1] = now_ns();
        timed[0] = finished > rq.warmup ? finished - rq.warmup : 0;
        check.finish(finished);
        c.end();
    });
    const auto deadline = clock::now() + rq.patience;
    gate.open(kids, 2, deadline);
    kids.wait_all(deadline);

    if (timed[0] == 0) fail("no call past the warm-up: nothing to time");
    if (pingpong) return round_trips(rtt, timed[0]);
    const double rate = static_cast<double>(timed[0]) / (static_cast<double>(span[1] - span[0]) * 1e-9);
    return {{{"msgs_per_s", rate}, {"mb_per_s", rate * static_cast<double>(S) / 1e6}}, rate};
}

/// The entry point of a call row: call_cell at the cell's size (one of call_sizes).
template <class Calls>
cell_result run_calls(const cell_request& rq) {
    if (rq.size == call_sizes[0]) return call_cell<Calls, call_sizes[0]>(rq);
    if (rq.size == call_sizes[1]) return call_cell<Calls, call_sizes[1]>(rq);
    fail("the call rows measure " + std::to_string(call_sizes[0]) + " B and " + std::to_string(call_sizes[1]) +
         " B calls only, not " + std::to_string(rq.size));
}

/// A row of call system Calls (family: ipckit or socket_peer; over: the row its ratios start with).
template <class Calls>
mechanism_entry call_entry(std::string_view name, family kind, std::string_view over = {}) {
    mechanism_entry e{name, kind, &Calls::describe, &Calls::unsupported, &run_calls<Calls>};
    e.unsupported_idle = [] { return std::string("n/a (calls)"); };
    e.over = over;
    e.calls = true;
    return e;
}

/// The transports a call row runs over.
enum class call_over { shm, unix_socket, tcp };

/// The rows each adapter file adds (defined there). `over`: the connection row beside it.
std::vector<mechanism_entry> ipckit_rpc_rows();  // calls/ipckit_rpc.cpp: ipckit-rpc-shm, -unix, -tcp
std::vector<mechanism_entry> grpc_rows();        // calls/grpc.cpp: grpc-unix, grpc-tcp

}  // namespace bench
