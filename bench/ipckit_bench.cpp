// ipckit_bench: ipckit's queues against a spinning reference ring and the IPC that Linux and
// Boost offer, between real processes, in one run. See usage below; the parts are in bench/:
//   message.hpp          the messages, their sequence numbers and the receivers' checks
//   reference_ring.hpp   the physical limit
//   mechanisms.hpp       one small adapter per mechanism
//   batch.hpp            the rows of ipckit's batch verbs (send(span), receive(span)), streams only
//   net_mechanisms.hpp   the socket rows of --sockets: ipckit connections, raw TCP, ZeroMQ
//   calls.hpp            the call rows of --rpc and their driver; their adapters are in calls/
//                        (ipckit::rpc, gRPC), translation units of their own
//   patterns.hpp         the one driver: pingpong, stream, several producers and consumers, idle,
//                        and the one-copy bound
//   process.hpp          forked, pinned children; the start gate; reaping on every path
//   pressure.hpp         --pressure: a busy process of another program per CPU beside each measurement
//   report.hpp           tables, in-round ratios, targets, CSV

#include "batch.hpp"
#include "calls.hpp"
#include "mechanisms.hpp"
#include "net_mechanisms.hpp"
#include "patterns.hpp"
#include "pressure.hpp"
#include "report.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

namespace {

using namespace bench;

/// An ipckit row of the standard table, which has no fan pattern; `over`: the row it is built on.
template <mechanism M>
constexpr mechanism_entry ipckit_row(std::string_view name, std::string_view over = {}) {
    return entry<M, runs::pairs>(name, family::ipckit, over);
}

/// An ipckit row measured in streams only (stream, mpscN): a batch row (bench/batch.hpp), or a
/// row of --pressure; `over`: the row it is compared with first (for a batch row, the same
/// queue one message a call).
template <mechanism M>
constexpr mechanism_entry stream_row(std::string_view name, std::string_view over) {
    return entry<M, runs::stream_only>(name, family::ipckit, over);
}

/// What every run measures first: the physical limits, a ring of a few dozen lines and one copy.
constexpr mechanism_entry bounds[] = {
    entry<reference>("reference-ring", family::reference),
    one_copy_entry,
};
/// The ipckit rows of the standard run, between the bounds and the peers. A new mechanism is an
/// adapter in mechanisms.hpp and a row here or in peers; another ipckit variant is only a row
/// (say ipckit_queue<ipckit::spin, ipckit::multi>).
// clang-format off
constexpr mechanism_entry ipckit_rows[] = {
    ipckit_row<ipckit_queue<ipckit::spin>>("ipckit-spsc-spin"),
    ipckit_row<ipckit_queue<ipckit::futex>>("ipckit-spsc-futex"),
    ipckit_row<ipckit_queue<ipckit::adaptive>>("ipckit-spsc-adaptive"),
    ipckit_row<ipckit_queue<ipckit::adaptive, ipckit::multi>>("ipckit-mpsc-adaptive"),
    // A lane per producer (issue 15), beside the shared ring: each lane as deep as that ring, and
    // four lanes a quarter as deep each (as many slots, as much memory as the shared ring).
    ipckit_row<ipckit_queue<ipckit::adaptive, ipckit::lanes<8>>>("ipckit-lanes-adaptive", "ipckit-mpsc-adaptive"),
    ipckit_row<ipckit_kind<payload::fixed, split_depth<4>, ipckit::lanes<4>, ipckit::single, ipckit::adaptive>>(
        "ipckit-lanes4-split", "ipckit-mpsc-adaptive"),
    ipckit_row<ipckit_queue<ipckit::adaptive, ipckit::single, payload::bytes>>("ipckit-bytes-adaptive"),
    ipckit_row<ipckit_loan<payload::fixed>>("ipckit-spsc-loan"),
    ipckit_row<ipckit_loan<payload::bytes>>("ipckit-bytes-loan"),
    // The naming layers, each beside the bare queue it is built on (the first ratio it shows).
    ipckit_row<ipckit_node<node_receive::from>>("ipckit-node", "ipckit-bytes-adaptive"),
    ipckit_row<ipckit_node<node_receive::any>>("ipckit-node-any", "ipckit-bytes-adaptive"),
    ipckit_row<ipckit_mailbox<ipckit::exclusive>>("ipckit-mailbox", "ipckit-mpsc-adaptive"),
    ipckit_row<ipckit_mailbox<ipckit::round_robin>>("ipckit-mailbox-rr", "ipckit-mpsc-adaptive"),
    ipckit_row<ipckit_mailbox<ipckit::exclusive, payload::bytes>>("ipckit-mailbox-bytes", "ipckit-mailbox"),
    // The batch verbs, each beside the queue it drives one message a call (streams only).
    stream_row<ipckit_batch<16, ipckit::single>>("ipckit-spsc-batch16", "ipckit-spsc-adaptive"),
    stream_row<ipckit_batch<256, ipckit::single>>("ipckit-spsc-batch256", "ipckit-spsc-adaptive"),
    stream_row<ipckit_batch<16, ipckit::multi>>("ipckit-mpsc-batch16", "ipckit-mpsc-adaptive"),
    stream_row<ipckit_batch<256, ipckit::multi>>("ipckit-mpsc-batch256", "ipckit-mpsc-adaptive"),
    stream_row<ipckit_batch<16, ipckit::lanes<8>>>("ipckit-lanes-batch16", "ipckit-lanes-adaptive"),
    stream_row<ipckit_batch<256, ipckit::lanes<8>>>("ipckit-lanes-batch256", "ipckit-lanes-adaptive"),
};
/// The ipckit rows of --pressure (issue 15): each queue kind the issue names, in its streams
/// (stream, mpsc1/2/4) at every size, beside the peers, every measurement with a busy process on
/// each CPU. The standard table's rows of those kinds, and the MPMC queue with one consumer.
constexpr std::string_view pressure_row_names[] = {"ipckit-spsc-adaptive", "ipckit-mpsc-adaptive",
                                                   "ipckit-lanes-adaptive", "ipckit-spsc-batch256",
                                                   "ipckit-mpsc-batch256"};
constexpr mechanism_entry mpmc_row =
    stream_row<ipckit_kind<payload::fixed, same_depth, ipckit::multi, ipckit::multi, ipckit::adaptive>>(
        "ipckit-mpmc-adaptive", "ipckit-mpsc-adaptive");
std::vector<mechanism_entry> pressure_rows() {
    std::vector<mechanism_entry> rows;
    for (const std::string_view name : pressure_row_names) {
        const auto* row = std::find_if(std::begin(ipckit_rows), std::end(ipckit_rows),
                                       [&](const mechanism_entry& e) { return e.name == name; });
        if (row == std::end(ipckit_rows)) fail("no row " + std::string(name) + " in the standard table");
        rows.push_back(*row);
        if (name == "ipckit-mpsc-adaptive") rows.push_back(mpmc_row);
    }
    return rows;
}
/// The patterns of --pressure: the streams of the standard table.
std::vector<pattern> pressure_patterns() {
    std::vector<pattern> p = standard_patterns();
    std::erase_if(p, [](const pattern& x) { return x.kind != shape::stream; });
    return p;
}
/// The targets of --pressure, as issue 15 states them: under CPU pressure no ipckit row falls
/// below Boost's message_queue in any stream at any size, and MPSC reaches twice Boost's rate.
/// Made at run time (one per row, pattern and size); `labels` keeps their labels alive.
std::vector<report::target> pressure_targets(std::vector<std::string>& labels) {
    constexpr std::string_view streams[] = {"stream", "mpsc1", "mpsc2", "mpsc4"};
    std::vector<report::target> out;
    labels.clear();
    const std::vector<mechanism_entry> rows = pressure_rows();
    labels.reserve(rows.size() * std::size(streams) * std::size(message_sizes));
    for (const auto& row : rows)
        for (const std::string_view pat : streams) {
            const bool many = pat != "stream";
            if (!row.unsupported(8, many, false).empty()) continue;
            const double goal = many && row.name == "ipckit-mpsc-adaptive" ? 2 : 1;
            for (const std::size_t size : message_sizes) {
                labels.push_back("(p) " + std::string(pat) + " " + std::to_string(size) + " B: " +
                                 std::string(row.name) + " / boost-mq");
                out.push_back({labels.back().c_str(), row.name, pat, size, "boost-mq", ">=", goal, "x"});
            }
        }
    return out;
}

/// What ipckit is measured against, in every run (the standard table and a chosen kind).
constexpr mechanism_entry peers[] = {
    entry<boost_mq>("boost-mq", family::peer),
    entry<posix_mq>("posix-mq", family::peer),
    entry<pipe_mechanism>("pipe", family::peer),
    entry<unix_socket<SOCK_STREAM>>("unix-stream", family::peer),
    entry<unix_socket<SOCK_SEQPACKET>>("unix-seqpacket", family::peer),
    entry<unix_socket<SOCK_DGRAM>>("unix-dgram", family::peer),
};

/// The table of --sockets (issue 13, "Figures"): ipckit connections over unix, tcp and shm, one
/// message a call and in batches of 256 (issue 15), beside the bare queue that shm:// is built on, the raw sockets (one write per message) and
/// ZeroMQ where it was found at configure time.
// clang-format off
constexpr mechanism_entry socket_rows[] = {
    ipckit_row<ipckit_queue<ipckit::adaptive>>("ipckit-spsc-adaptive"),
    ipckit_row<ipckit_connection<net_over::unix_socket>>("ipckit-conn-unix"),
    ipckit_row<ipckit_connection<net_over::tcp>>("ipckit-conn-tcp"),
    ipckit_row<ipckit_connection<net_over::shm>>("ipckit-conn-shm", "ipckit-spsc-adaptive"),
    // The batch verbs (streams only), each beside the connection it drives one message a call.
    stream_row<ipckit_connection<net_over::unix_socket, 256>>("ipckit-conn-unix-batch256", "ipckit-conn-unix"),
    stream_row<ipckit_connection<net_over::tcp, 256>>("ipckit-conn-tcp-batch256", "ipckit-conn-tcp"),
    stream_row<ipckit_connection<net_over::shm, 256>>("ipckit-conn-shm-batch256", "ipckit-conn-shm"),
    entry<unix_socket<SOCK_STREAM>>("unix-stream", family::socket_peer),
    entry<tcp_socket>("tcp-stream", family::socket_peer),
#if defined(IPCKIT_BENCH_ZMQ)
    entry<zmq_push_pull<zmq_over::ipc>, runs::pairs>("zmq-push-ipc", family::socket_peer),
    entry<zmq_push_pull<zmq_over::tcp>, runs::pairs>("zmq-push-tcp", family::socket_peer),
    pingpong_entry<zmq_req_rep<zmq_over::ipc>>("zmq-req-ipc", family::socket_peer),
    pingpong_entry<zmq_req_rep<zmq_over::tcp>>("zmq-req-tcp", family::socket_peer),
#endif
};
/// The targets of --sockets, as issue 13 states them.
constexpr report::target socket_targets[] = {
    {"(s1) 8 B throughput: conn-unix / raw unix-stream", "ipckit-conn-unix", "stream", 8, "unix-stream", ">=", 3, "x"},
    {"(s1) 8 B throughput: conn-unix / ZeroMQ ipc",      "ipckit-conn-unix", "stream", 8, "zmq-push-ipc", ">=", 1, "x"},
    {"(s1) 8 B throughput: conn-tcp / raw tcp-stream",   "ipckit-conn-tcp", "stream", 8, "tcp-stream", ">=", 3, "x"},
    {"(s1) 8 B throughput: conn-tcp / ZeroMQ tcp",       "ipckit-conn-tcp", "stream", 8, "zmq-push-tcp", ">=", 1, "x"},
    {"(s2) 8 B round trip: conn-unix / raw unix-stream", "ipckit-conn-unix", "pingpong", 8, "unix-stream", "<=", 1.2, "x"},
    {"(s2) 8 B round trip: conn-tcp / raw tcp-stream",   "ipckit-conn-tcp", "pingpong", 8, "tcp-stream", "<=", 1.2, "x"},
    {"(s3) 8 B throughput: conn-shm / bare queue",       "ipckit-conn-shm", "stream", 8, "ipckit-spsc-adaptive", ">=", 1 / 1.2, "x"},
    {"(s3) 8 B round trip: conn-shm / bare queue",       "ipckit-conn-shm", "pingpong", 8, "ipckit-spsc-adaptive", "<=", 1.2, "x"},
};

/// The table of --broadcast (issue 11, "Figures"): ipckit's broadcast mailbox of bytes<S>, by
/// copy and by loan, against broadcast through the kernel as cpp-ipc's peers do it (one pipe or
/// Unix socket per receiver, the sender writing each message to each), in stream (one receiver)
/// and bcast3 (three receivers, each getting every message).
constexpr mechanism_entry broadcast_rows[] = {
    entry<ipckit_broadcast<false>, runs::broadcast>("ipckit-bcast", family::ipckit),
    entry<ipckit_broadcast<true>, runs::broadcast>("ipckit-bcast-loan", family::ipckit),
};
/// Their peers (also those of --mailbox broadcast).
constexpr mechanism_entry broadcast_peers[] = {
    entry<fanout<pipe_mechanism>, runs::broadcast>("pipe-fanout", family::peer),
    entry<fanout<unix_socket<SOCK_STREAM>>, runs::broadcast>("unix-fanout", family::peer),
};
/// The sizes of --broadcast: issue 11 asks for 64 B and 1 KiB with three receivers, and 64 KiB loans.
constexpr std::size_t broadcast_sizes[] = {64, 1024, 65536};
/// The targets of --broadcast, as issue 11 states them.
constexpr report::target broadcast_targets[] = {
    {"(b1) 64 B, 3 receivers: bcast / pipe fan-out",   "ipckit-bcast", "bcast3", 64, "pipe-fanout", ">=", 10, "x"},
    {"(b1) 64 B, 3 receivers: bcast / unix fan-out",   "ipckit-bcast", "bcast3", 64, "unix-fanout", ">=", 10, "x"},
    {"(b1) 1 KiB, 3 receivers: bcast / pipe fan-out",  "ipckit-bcast", "bcast3", 1024, "pipe-fanout", ">=", 10, "x"},
    {"(b1) 1 KiB, 3 receivers: bcast / unix fan-out",  "ipckit-bcast", "bcast3", 1024, "unix-fanout", ">=", 10, "x"},
    {"(b2) 64 KiB broadcast loan: MB/s / one copy's",  "ipckit-bcast-loan", "stream", 65536, "one-copy", ">=", 0.5, "x"},
};

/// The table of --rpc (issue 14, "Figures"): each ipckit connection beside the rpc calls over it,
/// then gRPC where it was found at configure time. The call rows are made at run time
/// (calls/*.cpp, linked in when their packages were found).
std::vector<mechanism_entry> call_rows() {
    std::vector<mechanism_entry> rows{
        ipckit_row<ipckit_connection<net_over::shm>>("ipckit-conn-shm"),
        ipckit_row<ipckit_connection<net_over::unix_socket>>("ipckit-conn-unix"),
        ipckit_row<ipckit_connection<net_over::tcp>>("ipckit-conn-tcp"),
    };
#if defined(IPCKIT_BENCH_RPC)
    for (const auto& r : ipckit_rpc_rows()) rows.push_back(r);
#endif
#if defined(IPCKIT_BENCH_GRPC)
    for (const auto& r : grpc_rows()) rows.push_back(r);
#endif
    return rows;
}
/// The targets of --rpc, as issue 14 states them: an rpc row's ratio to the connection it runs
/// over (its `over`) and to gRPC on the same transport.
constexpr report::target rpc_targets[] = {
    {"(r1) empty call round trip over shm",                "ipckit-rpc-shm", "pingpong", 8, "", "<=", 2000, " ns"},
    {"(r1) empty call round trip: rpc-shm / conn-shm",     "ipckit-rpc-shm", "pingpong", 8, "ipckit-conn-shm", "<=", 2, "x"},
    {"(r1) 1 KiB call round trip: rpc-shm / conn-shm",     "ipckit-rpc-shm", "pingpong", 1024, "ipckit-conn-shm", "<=", 2, "x"},
    {"(r2) empty call round trip: rpc-unix / conn-unix",   "ipckit-rpc-unix", "pingpong", 8, "ipckit-conn-unix", "<=", 1.3, "x"},
    {"(r2) 1 KiB call round trip: rpc-unix / conn-unix",   "ipckit-rpc-unix", "pingpong", 1024, "ipckit-conn-unix", "<=", 1.3, "x"},
    {"(r2) empty call round trip: rpc-tcp / conn-tcp",     "ipckit-rpc-tcp", "pingpong", 8, "ipckit-conn-tcp", "<=", 1.3, "x"},
    {"(r2) 1 KiB call round trip: rpc-tcp / conn-tcp",     "ipckit-rpc-tcp", "pingpong", 1024, "ipckit-conn-tcp", "<=", 1.3, "x"},
    {"(r3) 16 in flight, empty: rpc-unix / gRPC unix",     "ipckit-rpc-unix", "calls16", 8, "grpc-unix", ">=", 5, "x"},
    {"(r3) 16 in flight, 1 KiB: rpc-unix / gRPC unix",     "ipckit-rpc-unix", "calls16", 1024, "grpc-unix", ">=", 5, "x"},
    {"(r3) 16 in flight, empty: rpc-tcp / gRPC tcp",       "ipckit-rpc-tcp", "calls16", 8, "grpc-tcp", ">=", 5, "x"},
    {"(r3) 16 in flight, 1 KiB: rpc-tcp / gRPC tcp",       "ipckit-rpc-tcp", "calls16", 1024, "grpc-tcp", ">=", 5, "x"},
};
// clang-format on

/// The figures that the issue asks ipckit to reach. A MISS is reported, never fatal.
constexpr report::target targets[] = {
    {"(a) 8 B round trip: adaptive / reference ring", "ipckit-spsc-adaptive", "pingpong", 8,
     "reference-ring", "<=", 1.5, "x"},
    {"(b) 8 B throughput: adaptive / best peer",      "ipckit-spsc-adaptive", "stream", 8,
     "best-peer", ">=", 30, "x"},
    {"(c) 1 KiB throughput: adaptive / best peer",    "ipckit-spsc-adaptive", "stream", 1024,
     "best-peer", ">=", 5, "x"},
    {"(d) 64 KiB throughput: adaptive / best peer",   "ipckit-spsc-adaptive", "stream", 65536,
     "best-peer", ">=", 2, "x"},
    {"(e) idle adaptive receiver: CPU",               "ipckit-spsc-adaptive", "idle", 8,
     "", "<", 1, " %"},
    {"(f) 8 B, 2 producers: ipckit MPSC / best peer", "ipckit-mpsc-adaptive", "mpsc2", 8,
     "best-peer", ">=", 10, "x"},
    {"(f) 8 B, 4 producers: ipckit MPSC / best peer", "ipckit-mpsc-adaptive", "mpsc4", 8,
     "best-peer", ">=", 10, "x"},
    {"(g) 64 KiB throughput: loan / best peer",       "ipckit-spsc-loan", "stream", 65536,
     "best-peer", ">=", 2, "x"},
    {"(g) 64 KiB loan: MB/s / one copy's MB/s",       "ipckit-spsc-loan", "stream", 65536,
     "one-copy", ">=", 0.5, "x"},
    {"(g) 64 KiB bytes loan: MB/s / one copy's MB/s", "ipckit-bytes-loan", "stream", 65536,
     "one-copy", ">=", 0.5, "x"},
    {"(h) 8 B, batches of 256: batch / best peer",    "ipckit-spsc-batch256", "stream", 8,
     "best-peer", ">=", 100, "x"},
    {"(h) 8 B, batches of 256: batch / unbatched",    "ipckit-spsc-batch256", "stream", 8,
     "ipckit-spsc-adaptive", ">=", 2, "x"},
    {"(i) 1 KiB, batches of 256: batch / best peer",  "ipckit-spsc-batch256", "stream", 1024,
     "best-peer", ">=", 5, "x"},
    {"(j) 8 B, 1 producer: MPSC / SPSC",              "ipckit-mpsc-adaptive", "stream", 8,
     "ipckit-spsc-adaptive", ">=", 0.8, "x"},
    {"(j) 64 B, 1 producer: MPSC / SPSC",             "ipckit-mpsc-adaptive", "stream", 64,
     "ipckit-spsc-adaptive", ">=", 0.8, "x"},
    {"(j) 8 B, 1 producer: exclusive mailbox / SPSC", "ipckit-mailbox", "stream", 8,
     "ipckit-spsc-adaptive", ">=", 0.8, "x"},
    {"(j) 64 B, 1 producer: exclusive mailbox / SPSC", "ipckit-mailbox", "stream", 64,
     "ipckit-spsc-adaptive", ">=", 0.8, "x"},
    {"(j) 8 B, 1 producer: lanes / SPSC",             "ipckit-lanes-adaptive", "stream", 8,
     "ipckit-spsc-adaptive", ">=", 0.8, "x"},
    {"(j) 64 B, 1 producer: lanes / SPSC",            "ipckit-lanes-adaptive", "stream", 64,
     "ipckit-spsc-adaptive", ">=", 0.8, "x"},
    {"(k) 64 KiB, 2 producers / 1: MPSC",             "ipckit-mpsc-adaptive", "mpsc2", 65536,
     "ipckit-mpsc-adaptive", ">=", 0.9, "x", "mpsc1"},
    {"(k) 64 KiB, 4 producers / 1: MPSC",             "ipckit-mpsc-adaptive", "mpsc4", 65536,
     "ipckit-mpsc-adaptive", ">=", 0.9, "x", "mpsc1"},
    {"(l) 8 B, 1 producer: lanes / shared ring",      "ipckit-lanes-adaptive", "mpsc1", 8,
     "ipckit-mpsc-adaptive", ">=", 1, "x"},
    {"(l) 8 B, 2 producers: lanes / shared ring",     "ipckit-lanes-adaptive", "mpsc2", 8,
     "ipckit-mpsc-adaptive", ">=", 1, "x"},
    {"(l) 8 B, 4 producers: lanes / shared ring",     "ipckit-lanes-adaptive", "mpsc4", 8,
     "ipckit-mpsc-adaptive", ">=", 1, "x"},
};
// clang-format on

constexpr const char* usage =
    R"(usage: ipckit_bench [--quick] [--rounds N] [--csv FILE] [--only SUBSTR]... [--verbose] [--help]
                    [--pressure] [--sockets | --rpc | --broadcast]
                    [--producers P] [--consumers C] [--capacity zero|N|unbounded] [--message fixed|bytes]
                    [--mailbox exclusive|any|round_robin|broadcast]

Measures ipckit's queues against a spinning reference ring, boost::interprocess::message_queue,
POSIX message queues, pipes and Unix domain sockets, between forked processes pinned to two CPUs:
round-trip time (pingpong), one-way throughput (stream), several producers into one consumer
(mpsc1/2/4), and the CPU an idle receiver burns (idle), at 8 B, 64 B, 1 KiB and 64 KiB. ipckit's
zero-copy rows (-loan) write each message once, in place, and check it in place; the one-copy row
is a memcpy of each message in one process: the bandwidth a message written once can reach.
Every receiver checks every sequence number; any error fails the run (exit status 1). The
targets table reports PASS or MISS and never fails the run.

  --quick        fewer messages and 2 rounds: about a minute on two cores
  --rounds N     rounds (default 5); each round measures every cell once, tables show medians
  --csv FILE     one row per cell and metric: mechanism,pattern,size,metric,value
                 (plus ratio:IPCKIT/OTHER rows); plot it with scripts/plot_bench.sh
  --only SUBSTR  only the cells whose MECHANISM/PATTERN/SIZE contains SUBSTR, e.g. ipckit,
                 /pingpong/, /stream/8, pipe/ (repeat to add more)
  --verbose      one line on stderr per measurement: cell, count, seconds, rate
  --help         this text

  --sockets      the socket table instead (pingpong and stream): ipckit connections over
                 unix://, tcp:// and shm:// (ipckit-conn-*; ipckit-conn-*-batch256 through the
                 batch verbs, 256 messages a call, streams only), the bare queue that shm:// is built on,
                 raw Unix and TCP sockets doing one write per message, and ZeroMQ PUSH/PULL and
                 REQ/REP over ipc:// and tcp:// if libzmq was found when configuring
                 (scripts/install-deps.sh --bench installs it), with the targets of its own
  --broadcast    the broadcast table instead (64 B, 1 KiB, 64 KiB; stream and bcast3, one
                 producer to three receivers that each get every message): ipckit's broadcast
                 mailbox of bytes<S> by copy and by loan (ipckit-bcast, ipckit-bcast-loan) against
                 one pipe or Unix stream socket per receiver, the sender writing each message to
                 each (pipe-fanout, unix-fanout), with its targets
  --pressure     every measurement runs beside one busy process of another program per online
                 CPU (/bin/sh -c 'while :; do :; done', killed when the measurement ends), as on
                 a shared machine. Alone: the pressure table instead of the standard one (streams:
                 stream, mpsc1/2/4, every size; ipckit's spsc, mpsc, mpmc, lanes, batches of 256
                 beside the peers), with its targets (each ipckit row >= Boost's message_queue,
                 MPSC >= 2x). With another table or the kind flags: that table under pressure
  --rpc          the call table instead (8 B, an empty call, and 1 KiB): ipckit::rpc over shm://,
                 unix:// and tcp:// (ipckit-rpc-*) beside the ipckit connection it runs over
                 (ipckit-conn-*, pingpong), and gRPC over unix: and tcp: if it was found when
                 configuring (scripts/install-deps.sh --bench); round trips (pingpong) and the
                 call rate with 1 and 16 calls in flight (calls1, calls16), with its targets

One kind of ipckit queue instead of the standard table: any of these five flags measures the
ipckit queue they describe (wait policy adaptive; and its loan row where ipckit lends slots, on
bounded queues), side by side with the reference ring and the peers that can do the same. With
one producer and one consumer: pingpong, stream and idle. With more: the pattern pPcC, where P
producers feed C consumers and the consumers together must get every message of every producer
exactly once, each producer's in order.
  --producers P  1 to 8 (default 1); more than one: ipckit::multi producers
  --consumers C  1 to 8 (default 1); more than one: ipckit::multi consumers (bounded or zero
                 capacity only: ipckit has no unbounded queue with several)
  --capacity CAP what ipckit's queue holds. Default: as deep as the other queues (1024 messages;
                 64 of 64 KiB). N: 16 or 1024 messages, the first of these >= N (Boost and POSIX
                 mq get N too, POSIX up to its msg_max). zero: a rendezvous, the send returns once
                 a consumer took the message (Boost and POSIX mq get 1 slot, the least they
                 have, and are no rendezvous). unbounded: a chain of 1 MiB chunks, the producer
                 never waits (one consumer; at the chain's cap, a send's no_space, the producer
                 yields and tries again). Neither has a loan row: neither lends slots
  --message KIND fixed (the default: ipckit::queue<message<S>>) or bytes (ipckit::queue<bytes<S>>:
                 over a byte ring of as many records with one consumer; with several, as many
                 record slots of S bytes in an MPMC ring; in a rendezvous's record slots with
                 zero; in the chain's record slots with unbounded). With one producer and
                 one consumer, as deep as the others, also its batch rows (-batch16,
                 -batch256: send(records) / receive(records) of 16 or 256, streams only)
  --mailbox DELIVERY  an ipckit::mailbox<message<S> or bytes<S>, bounded<N>, DELIVERY,
                 system_owned> as deep as the other queues instead of a queue (no loan row; not
                 with --capacity). exclusive: one consumer. any, round_robin: P producers into C
                 consumers as above. broadcast: --message bytes, one producer, and each of the C
                 consumers gets every message (pattern bcastC; stream with one), beside ipckit's
                 broadcast loan row and the fan-out peers of --broadcast instead of the others
The targets table belongs to the standard table and is not printed then.
)";

/// The capacities that --capacity N can pick: each is compiled into a queue type per kind.
constexpr std::size_t compiled_capacities[] = {16, 1024};

enum class capacity_choice { same_depth, given, zero, unbounded };

/// --mailbox: a mailbox of this delivery instead of a queue (none: a queue).
enum class mailbox_choice { none, exclusive, any, round_robin, broadcast };
constexpr const char* mailbox_names[] = {"none", "exclusive", "any", "round_robin", "broadcast"};

/// The ipckit kind that --producers, --consumers, --capacity, --message choose.
struct kind_choice {
    bool given = false;  // any of the four flags
    unsigned producers = 1, consumers = 1;
    capacity_choice capacity = capacity_choice::same_depth;
    std::size_t capacity_n = 0;  // for given: one of compiled_capacities
    payload message = payload::fixed;
    mailbox_choice mailbox = mailbox_choice::none;

    /// The ipckit row's name: "ipckit-mpmc", "ipckit-spsc-bytes-cap16", "ipckit-mpsc-zero"; a
    /// mailbox's as in the standard table, whatever its sides (the pattern names them):
    /// "ipckit-mailbox" (exclusive), "ipckit-mailbox-any-bytes", "ipckit-mailbox-rr".
    [[nodiscard]] std::string name() const {
        if (mailbox != mailbox_choice::none) {
            constexpr const char* suffix[] = {"", "", "-any", "-rr", "-bcast"};
            return std::string("ipckit-mailbox") + suffix[static_cast<int>(mailbox)] +
                   (message == payload::bytes ? "-bytes" : "");
        }
        std::string n = std::string("ipckit-") + (producers > 1 ? "mp" : "sp") + (consumers > 1 ? "mc" : "sc");
        if (message == payload::bytes) n += "-bytes";
        switch (capacity) {
        case capacity_choice::same_depth: break;
        case capacity_choice::given: n += "-cap" + std::to_string(capacity_n); break;
        case capacity_choice::zero: n += "-zero"; break;
        case capacity_choice::unbounded: n += "-unbounded"; break;
        }
        return n;
    }
    /// Slots of the queues whose depth is set at run time (Boost, POSIX mq).
    [[nodiscard]] link_config config() const {
        switch (capacity) {
        case capacity_choice::given: return {capacity_n};
        case capacity_choice::zero: return {1};
        case capacity_choice::same_depth:
        case capacity_choice::unbounded: break;
        }
        return {};
    }
    [[nodiscard]] bool lends() const noexcept {
        return mailbox == mailbox_choice::none &&
               (capacity == capacity_choice::same_depth || capacity == capacity_choice::given);
    }
    [[nodiscard]] bool broadcast() const noexcept { return mailbox == mailbox_choice::broadcast; }
};

struct options {
    bool quick = false;
    unsigned rounds = 0;  // 0: the mode's default
    std::string csv;
    std::vector<std::string> only;
    bool verbose = false;
    bool sockets = false;
    bool rpc = false;
    bool broadcast = false;
    bool pressure = false;
    kind_choice kind;

    /// Whether the run measures the pressure table (--pressure with no other table chosen).
    [[nodiscard]] bool pressure_table() const noexcept { return pressure && !sockets && !rpc && !broadcast && !kind.given; }
};

[[noreturn]] void refuse(const std::string& why) {
    std::fprintf(stderr, "ipckit_bench: %s\n", why.c_str());
    std::exit(2);
}

unsigned number(const std::string& flag, const std::string& v, unsigned long lo, unsigned long hi) {
    char* end = nullptr;
    const unsigned long n = std::strtoul(v.c_str(), &end, 10);
    if (v.empty() || v[0] == '-' || end == v.c_str() || *end != '\0' || n < lo || n > hi)
        refuse(flag + " takes a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", not '" + v + "'");
    return static_cast<unsigned>(n);
}

/// Refuses, with the reason, every kind that ipckit does not offer: the combinations that
/// ipckit::queue refuses at compile time (queue.hpp, bytes_queue.hpp).
void check(const kind_choice& k) {
    const bool bytes = k.message == payload::bytes;
    if (k.mailbox != mailbox_choice::none) {
        const std::string m = std::string("--mailbox ") + mailbox_names[static_cast<int>(k.mailbox)];
        if (k.capacity != capacity_choice::same_depth)
            refuse(m + " --capacity: the mailbox rows are as deep as the other queues (ipckit offers no zero or "
                       "unbounded mailbox). Leave out --capacity, or --mailbox for a queue of that capacity");
        if (k.mailbox == mailbox_choice::exclusive && k.consumers > 1)
            refuse(m + " --consumers " + std::to_string(k.consumers) +
                   ": an exclusive mailbox has one receiver at a time. Use --mailbox any or round_robin to share the "
                   "messages among the consumers, or broadcast to give each every message");
        if (k.broadcast() && !bytes)
            refuse(m + " --message fixed: the broadcast rows carry bytes<S> (they are --broadcast's rows, "
                       "ipckit-bcast and ipckit-bcast-loan). Use --message bytes");
        if (k.broadcast() && k.producers > 1)
            refuse(m + " --producers " + std::to_string(k.producers) +
                   ": the broadcast rows are measured with one sender. Use --producers 1");
    }
    if (k.capacity == capacity_choice::unbounded && k.consumers > 1)
        refuse("--capacity unbounded --consumers " + std::to_string(k.consumers) +
               ": an unbounded queue has one consumer (it frees each chunk once it has read it, in order). Use a "
               "bounded capacity or zero for several consumers");
}

options parse(int argc, char** argv) {
    options o;
    auto value = [&](int& i) -> std::string {
        if (i + 1 >= argc) {
            std::fprintf(stderr, "ipckit_bench: %s needs a value\n%s", argv[i], usage);
            std::exit(2);
        }
        return argv[++i];
    };
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--quick") {
            o.quick = true;
        } else if (a == "--rounds") {
            o.rounds = number("--rounds", value(i), 1, 1000);
        } else if (a == "--csv") {
            o.csv = value(i);
        } else if (a == "--only") {
            o.only.push_back(value(i));
        } else if (a == "--sockets") {
            o.sockets = true;
        } else if (a == "--rpc") {
            o.rpc = true;
        } else if (a == "--broadcast") {
            o.broadcast = true;
        } else if (a == "--pressure") {
            o.pressure = true;
        } else if (a == "--verbose" || a == "-v") {
            o.verbose = true;
        } else if (a == "--producers") {
            o.kind.producers = number("--producers", value(i), 1, max_producers);
            o.kind.given = true;
        } else if (a == "--consumers") {
            o.kind.consumers = number("--consumers", value(i), 1, max_consumers);
            o.kind.given = true;
        } else if (a == "--capacity") {
            const std::string v = value(i);
            o.kind.given = true;
            if (v == "zero" || v == "0") {
                o.kind.capacity = capacity_choice::zero;
            } else if (v == "unbounded") {
                o.kind.capacity = capacity_choice::unbounded;
            } else {
                if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
                    refuse("--capacity takes zero, unbounded or a number of messages, not '" + v + "'");
                const unsigned n = number("--capacity (the compiled capacities are 16 and 1024 messages)", v, 1,
                                          compiled_capacities[std::size(compiled_capacities) - 1]);
                o.kind.capacity = capacity_choice::given;
                o.kind.capacity_n = *std::find_if(std::begin(compiled_capacities), std::end(compiled_capacities),
                                                  [&](std::size_t c) { return c >= n; });
            }
        } else if (a == "--message") {
            const std::string v = value(i);
            o.kind.given = true;
            if (v == "fixed")
                o.kind.message = payload::fixed;
            else if (v == "bytes")
                o.kind.message = payload::bytes;
            else
                refuse("--message takes fixed or bytes, not '" + v + "'");
        } else if (a == "--mailbox") {
            const std::string v = value(i);
            o.kind.given = true;
            const auto* m = std::find(std::begin(mailbox_names) + 1, std::end(mailbox_names), v);
            if (m == std::end(mailbox_names))
                refuse("--mailbox takes exclusive, any, round_robin or broadcast, not '" + v + "'");
            o.kind.mailbox = static_cast<mailbox_choice>(m - std::begin(mailbox_names));
        } else if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else {
            std::fprintf(stderr, "ipckit_bench: unknown argument '%s'\n%s", argv[i], usage);
            std::exit(2);
        }
    }
    if (o.rounds == 0) o.rounds = o.quick ? 2 : 5;
    if (o.sockets && o.kind.given) refuse("--sockets measures its own table: leave out the kind flags");
    if (o.rpc && (o.kind.given || o.sockets)) refuse("--rpc measures its own table: leave out --sockets and the kind flags");
    if (o.broadcast && (o.kind.given || o.sockets || o.rpc))
        refuse("--broadcast measures its own table: leave out --sockets, --rpc and the kind flags");
#if !defined(IPCKIT_BENCH_RPC)
    if (o.rpc)
        refuse("--rpc: this ipckit_bench was built without msgpack-cxx, which ipckit::rpc needs (install libmsgpack-cxx-dev, "
               "scripts/install-deps.sh does, and configure again)");
#endif
    check(o.kind);
    return o;
}

// ---- From the flags to an ipckit queue type ----------------------------------------------------

/// The table row of ipckit_kind<Payload, Capacity, P, C, adaptive, Loan> for the sides `k` names.
/// Only the sides that ipckit offers for this message and capacity are compiled; check() has
/// refused the others.
template <payload Payload, class Capacity, bool Loan>
mechanism_entry kind_entry(const kind_choice& k, std::string_view name) {
    using ipckit::multi, ipckit::single, ipckit::adaptive;
    const bool many_p = k.producers > 1, many_c = k.consumers > 1;
    constexpr bool one_consumer = ipckit::is_unbounded<Capacity>;
    constexpr runs fan = runs::fan_only;
    auto row = [&]<class P, class C, runs Runs>() {
        return entry<ipckit_kind<Payload, Capacity, P, C, adaptive, Loan>, Runs>(name, family::ipckit);
    };
    if constexpr (!one_consumer) {
        if (many_c && many_p) return row.template operator()<multi, multi, fan>();
        if (many_c) return row.template operator()<single, multi, fan>();
    }
    if (many_p) return row.template operator()<multi, single, fan>();
    return row.template operator()<single, single, runs::pairs>();
}

/// The mailbox rows of kind `k` (--mailbox): a unicast mailbox named `name`, one row for every
/// pattern; or the rows of --broadcast (bytes, by copy and by loan) under their own names.
std::vector<mechanism_entry> mailbox_rows(const kind_choice& k, std::string_view name) {
    auto row = [&]<class Delivery>() -> mechanism_entry {
        if (k.message == payload::bytes) return entry<ipckit_mailbox<Delivery, payload::bytes>>(name, family::ipckit);
        return entry<ipckit_mailbox<Delivery>>(name, family::ipckit);
    };
    switch (k.mailbox) {
    case mailbox_choice::exclusive: return {row.template operator()<ipckit::exclusive>()};
    case mailbox_choice::any: return {row.template operator()<ipckit::any>()};
    case mailbox_choice::round_robin: return {row.template operator()<ipckit::round_robin>()};
    case mailbox_choice::broadcast: return {broadcast_rows[0], broadcast_rows[1]};
    case mailbox_choice::none: break;
    }
    return {};
}

/// The ipckit rows of kind `k`: the queue, and its loan row if it lends slots. `names` keeps the
/// rows' names alive (a row holds a string_view).
std::vector<mechanism_entry> kind_rows(const kind_choice& k, std::vector<std::string>& names) {
    // All the names first: the rows keep views of them.
    names = {k.name(), k.name() + "-loan", k.name() + "-batch16", k.name() + "-batch256"};
    if (k.mailbox != mailbox_choice::none) return mailbox_rows(k, names[0]);
    std::vector<mechanism_entry> rows;
    auto both = [&]<payload Payload, class Capacity>() {
        rows.push_back(kind_entry<Payload, Capacity, false>(k, names[0]));
        rows.push_back(kind_entry<Payload, Capacity, true>(k, names[1]));
    };
    auto sized = [&]<payload Payload>() {
        switch (k.capacity) {
        case capacity_choice::same_depth: both.template operator()<Payload, same_depth>(); break;
        case capacity_choice::given:
            if (k.capacity_n == compiled_capacities[0])
                both.template operator()<Payload, ipckit::bounded<compiled_capacities[0]>>();
            else
                both.template operator()<Payload, ipckit::bounded<compiled_capacities[1]>>();
            break;
        case capacity_choice::zero: rows.push_back(kind_entry<Payload, ipckit::zero_capacity, false>(k, names[0])); break;
        case capacity_choice::unbounded:
            rows.push_back(kind_entry<Payload, ipckit::unbounded<>, false>(k, names[0]));
            break;
        }
    };
    if (k.message == payload::fixed)
        sized.template operator()<payload::fixed>();
    else
        sized.template operator()<payload::bytes>();
    // The SPSC byte ring as deep as the others: its batch verbs too, B records a call, each row
    // beside the queue it drives one message a call. Streams only (bench/batch.hpp), so not with
    // several producers, whose pattern here is pPc1.
    if (k.message == payload::bytes && k.producers == 1 && k.consumers == 1 &&
        k.capacity == capacity_choice::same_depth) {
        rows.push_back(stream_row<ipckit_batch<16, ipckit::single, payload::bytes>>(names[2], names[0]));
        rows.push_back(stream_row<ipckit_batch<256, ipckit::single, payload::bytes>>(names[3], names[0]));
    }
    return rows;
}

/// How long one measurement should take, and the bounds on its count.
struct sizing {
    double seconds;
    std::uint64_t min_count, max_count;
    [[nodiscard]] std::uint64_t count_for(double per_second) const {
        const double want = per_second * seconds;
        return std::clamp<std::uint64_t>(want > 0 ? static_cast<std::uint64_t>(want) : 0, min_count, max_count);
    }
};

struct cell {
    const mechanism_entry* mech;
    const pattern* pat;
    std::size_t size;
    std::uint64_t count = 0;
    bool failed = false;

    [[nodiscard]] cell_key key() const { return {std::string(mech->name), std::string(pat->name), size}; }
    [[nodiscard]] std::string id() const {
        return std::string(mech->name) + "/" + std::string(pat->name) + "/" + std::to_string(size);
    }
};

class bench_run {
public:
    explicit bench_run(const options& o)
        : opt_(o),
          config_(o.kind.config()),
          results_(o.rounds),
          round_trips_{seconds_per_measurement(o), o.quick ? 1'000u : 5'000u, 400'000},
          messages_{seconds_per_measurement(o), o.quick ? 500u : 2'000u, 50'000'000},
          budget_(std::chrono::duration_cast<clock::duration>(
              std::chrono::duration<double>(4 * seconds_per_measurement(o)))),
          idle_for_(o.quick ? std::chrono::milliseconds(300) : std::chrono::milliseconds(1000)) {
        // The bounds, the ipckit rows (the standard ones, or the chosen kind's), the peers.
        table_.assign(std::begin(bounds), std::end(bounds));
        if (o.sockets) {
            table_.insert(table_.end(), std::begin(socket_rows), std::end(socket_rows));
            patterns_ = {{"pingpong", shape::pingpong}, {"stream", shape::stream}};
        } else if (o.rpc) {
            for (const auto& row : call_rows()) table_.push_back(row);
            patterns_ = {{"pingpong", shape::pingpong},
                         {"calls1", shape::calls, 1, 1, false, 1},
                         {"calls16", shape::calls, 1, 1, false, max_in_flight}};
            sizes_ = call_sizes;
        } else if (o.broadcast) {
            table_.insert(table_.end(), std::begin(broadcast_rows), std::end(broadcast_rows));
            table_.insert(table_.end(), std::begin(broadcast_peers), std::end(broadcast_peers));
            patterns_ = {{"stream", shape::stream}, {"bcast3", shape::broadcast, 1, 3}};
            sizes_ = broadcast_sizes;
        } else if (o.pressure_table()) {
            for (const auto& row : pressure_rows()) table_.push_back(row);
            patterns_ = pressure_patterns();
        } else if (!o.kind.given) {
            table_.insert(table_.end(), std::begin(ipckit_rows), std::end(ipckit_rows));
            patterns_ = standard_patterns();
        } else {
            for (const auto& row : kind_rows(o.kind, kind_names_)) table_.push_back(row);
            if (o.kind.broadcast())  // as --broadcast, against its fan-out peers
                patterns_ = {o.kind.consumers == 1 ? pattern{"stream", shape::stream}
                                                   : pattern{"bcast" + std::to_string(o.kind.consumers),
                                                             shape::broadcast, 1, o.kind.consumers}};
            else if (o.kind.producers == 1 && o.kind.consumers == 1)
                patterns_ = {{"pingpong", shape::pingpong}, {"stream", shape::stream}, {"idle", shape::idle}};
            else
                patterns_ = {fan_pattern(o.kind.producers, o.kind.consumers)};
        }
        if (o.kind.broadcast())
            table_.insert(table_.end(), std::begin(broadcast_peers), std::end(broadcast_peers));
        else if (!o.sockets && !o.rpc && !o.broadcast)
            table_.insert(table_.end(), std::begin(peers), std::end(peers));
        for (const auto& p : patterns_)
            for (const std::size_t size : sizes_) {
                if (p.kind == shape::idle && size != message_sizes.front()) continue;
                for (const auto& m : table_) {
                    const cell c{&m, &p, size};
                    if (!selected(c.id())) continue;
                    if (const std::string why = m.refuses(p, size); !why.empty())
                        results_.set_reason(c.key(), why);
                    else
                        cells_.push_back(c);
                }
            }
    }

    int run() {
        if (cells_.empty()) {
            std::fprintf(stderr, "ipckit_bench: no cell to measure (see --only in --help)\n");
            return 2;
        }
        const auto start = clock::now();
        const report rep(results_, table_, patterns_, sizes_);
        rep.print_header(opt_.rounds, opt_.quick,
                         cpus_.describe() + "; a clock reading costs " + std::to_string(clock_cost_ns()) +
                             " ns (each timed round trip includes one)" +
                             (opt_.pressure ? "; CPU pressure: " + cpu_pressure::describe(online_cpus()) : ""));
        std::fflush(stdout);

        progress("calibrating " + std::to_string(cells_.size()) + " cells");
        for (cell& c : cells_) {
            if (c.pat->kind == shape::idle) continue;
            const sizing& s = sizing_of(c);
            const std::uint64_t probe =
                c.pat->kind == shape::pingpong ? 300 : std::clamp<std::uint64_t>((16u << 20) / c.size, 256, 5'000);
            if (const auto r = measure(c, probe, std::nullopt)) c.count = s.count_for(r->per_second);
        }
        for (unsigned round = 0; round < opt_.rounds; ++round) {
            const auto t = clock::now();
            // Cells of one pattern and size run back to back, so that their ratios see the same
            // machine; the order of the mechanisms rotates from round to round.
            for (std::size_t begin = 0; begin < cells_.size();) {
                std::size_t end = begin;
                while (end < cells_.size() && cells_[end].pat == cells_[begin].pat &&
                       cells_[end].size == cells_[begin].size)
                    ++end;
                for (std::size_t i = 0; i < end - begin; ++i) {
                    cell& c = cells_[begin + (i + round) % (end - begin)];
                    if (c.failed) continue;
                    if (const auto r = measure(c, c.count, round))
                        for (const auto& v : r->values) results_.record(round, c.key(), v.metric, v.value);
                }
                begin = end;
            }
            progress("round " + std::to_string(round + 1) + "/" + std::to_string(opt_.rounds) + " took " +
                     seconds_since(t));
        }

        rep.print_round_trips();
        rep.print_throughput();
        rep.print_producers();
        rep.print_idle(std::chrono::duration<double>(idle_for_).count());
        rep.print_ratios();
        if (opt_.sockets)
            rep.print_targets(socket_targets);
        else if (opt_.rpc)
            rep.print_targets(rpc_targets);
        else if (opt_.broadcast)
            rep.print_targets(broadcast_targets);
        else if (opt_.pressure_table())
            rep.print_targets(pressure_targets(target_labels_));
        else if (opt_.kind.given)
            std::printf("(no targets table: the targets belong to the standard table, measured without --producers, "
                        "--consumers, --capacity, --message and --mailbox)\n\n");
        else
            rep.print_targets(targets);
        if (!opt_.csv.empty()) {
            rep.write_csv(opt_.csv);
            std::printf("CSV: %s\n", opt_.csv.c_str());
        }
        std::printf("wall time: %s\n", seconds_since(start).c_str());
        if (!errors_.empty()) {
            std::printf("\nFAILED: %zu measurement(s) had errors; their numbers are left out:\n", errors_.size());
            for (const auto& e : errors_) std::printf("  %s\n", e.c_str());
            return 1;
        }
        return 0;
    }

private:
    /// How long a measurement should take: counts are sized from the calibration for this.
    static double seconds_per_measurement(const options& o) { return o.quick ? 0.03 : 0.25; }
    /// Children not set up (connected, say) by this long after they were forked have hung.
    static constexpr auto patience = std::chrono::seconds(120);
    /// Children still running this long after the time budget of their measurement have
    /// stalled: a healthy measurement ends within about its budget.
    static constexpr auto stall_after = std::chrono::seconds(30);

    [[nodiscard]] bool selected(const std::string& id) const {
        if (opt_.only.empty()) return true;
        return std::any_of(opt_.only.begin(), opt_.only.end(),
                           [&](const std::string& s) { return id.find(s) != std::string::npos; });
    }
    [[nodiscard]] const sizing& sizing_of(const cell& c) const {
        return c.pat->kind == shape::pingpong ? round_trips_ : messages_;
    }

    /// Runs one measurement of `c`; on an error records it, marks the cell and returns nothing.
    std::optional<cell_result> measure(cell& c, std::uint64_t count, std::optional<unsigned> round) {
        const std::uint64_t warmup = std::max<std::uint64_t>(count / 10, 100);
        const cell_request rq{*c.pat, config_, c.size, count, warmup, budget_, idle_for_, cpus_, patience, stall_after};
        try {
            const auto t = clock::now();
            // Started before the pattern's processes, ended (killed, reaped) when it returns or throws.
            std::optional<cpu_pressure> busy;
            if (opt_.pressure) busy.emplace(online_cpus());
            cell_result r = c.mech->run(rq);
            busy.reset();
            if (opt_.verbose)
                progress(c.id() + (round ? " round " + std::to_string(*round + 1) : std::string(" calibration")) +
                         ": up to " + std::to_string(count) + ", " + seconds_since(t) +
                         (r.per_second > 0 ? ", " + si(r.per_second) + "/s" : std::string()));
            return r;
        } catch (const stopped&) {
            throw;
        } catch (const stall& e) {
            // The next round measures the cell again (a calibration that stalled gave no count).
            left_out(c, round, e.what(), "STALLED", !round);
        } catch (const std::exception& e) {
            left_out(c, round, e.what(), "FAILED", true);
        }
        return std::nullopt;
    }
    /// Records why a measurement of `c` has no numbers (`label`: the cell's reason in the
    /// tables); `give_up`: the cell is not measured again.
    void left_out(cell& c, std::optional<unsigned> round, const char* what, const char* label, bool give_up) {
        const std::string where = round ? "round " + std::to_string(*round + 1) : std::string("calibration");
        errors_.push_back(c.id() + " (" + where + "): " + what);
        std::fprintf(stderr, "ipckit_bench: %s %s\n", label, errors_.back().c_str());
        results_.set_reason(c.key(), label);
        if (give_up) c.failed = true;
    }

    static void progress(const std::string& what) {
        std::fprintf(stderr, "ipckit_bench: %s\n", what.c_str());
        std::fflush(stderr);
    }
    static std::string seconds_since(clock::time_point t) {
        return format("%.1f s", std::chrono::duration<double>(clock::now() - t).count());
    }

    const options& opt_;
    const cpu_plan cpus_;
    const link_config config_;
    std::vector<std::string> kind_names_;  // the names of the kind's rows, which table_ points into
    std::vector<std::string> target_labels_;  // the labels of the pressure targets
    std::vector<mechanism_entry> table_;
    std::vector<pattern> patterns_;
    std::span<const std::size_t> sizes_ = message_sizes;  // the message sizes measured
    results results_;
    std::vector<cell> cells_;
    std::vector<std::string> errors_;
    sizing round_trips_, messages_;
    clock::duration budget_;  // a measurement whose count would take longer (a busy machine) stops here
    clock::duration idle_for_;
};

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse(argc, argv);
    catch_stop_signals();
    try {
        bench_run run(opt);
        return run.run();
    } catch (const stopped& e) {
        std::fprintf(stderr, "ipckit_bench: %s\n", e.what());
        return 130;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ipckit_bench: %s\n", e.what());
        return 1;
    }
}
