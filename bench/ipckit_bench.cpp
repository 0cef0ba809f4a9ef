// ipckit_bench: ipckit's queues against a spinning reference ring and the IPC that Linux and
// Boost offer, between real processes, in one run. See usage below; the parts are in bench/:
//   message.hpp          the messages, their sequence numbers and the receivers' checks
//   reference_ring.hpp   the physical limit
//   mechanisms.hpp       one small adapter per mechanism
//   patterns.hpp         the one driver: pingpong, stream, several producers, idle
//   process.hpp          forked, pinned children; the start gate; reaping on every path
//   report.hpp           tables, in-round ratios, targets, CSV

#include "mechanisms.hpp"
#include "patterns.hpp"
#include "report.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

namespace {

using namespace bench;

/// Everything that is measured. A new mechanism is an adapter in mechanisms.hpp and a row here;
/// another ipckit variant is only a row (say ipckit_queue<ipckit::spin, ipckit::multi>).
// clang-format off
constexpr mechanism_entry table[] = {
    entry<reference>("reference-ring", family::reference),
    entry<ipckit_queue<ipckit::spin>>("ipckit-spsc-spin", family::ipckit),
    entry<ipckit_queue<ipckit::futex>>("ipckit-spsc-futex", family::ipckit),
    entry<ipckit_queue<ipckit::adaptive>>("ipckit-spsc-adaptive", family::ipckit),
    entry<ipckit_queue<ipckit::adaptive, ipckit::multi>>("ipckit-mpsc-adaptive", family::ipckit),
    entry<ipckit_queue<ipckit::adaptive, ipckit::single, payload::bytes>>("ipckit-bytes-adaptive", family::ipckit),
    entry<boost_mq>("boost-mq", family::peer),
    entry<posix_mq>("posix-mq", family::peer),
    entry<pipe_mechanism>("pipe", family::peer),
    entry<unix_socket<SOCK_STREAM>>("unix-stream", family::peer),
    entry<unix_socket<SOCK_SEQPACKET>>("unix-seqpacket", family::peer),
    entry<unix_socket<SOCK_DGRAM>>("unix-dgram", family::peer),
};

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
};
// clang-format on

constexpr const char* usage =
    R"(usage: ipckit_bench [--quick] [--rounds N] [--csv FILE] [--only SUBSTR]... [--verbose] [--help]

Measures ipckit's queues against a spinning reference ring, boost::interprocess::message_queue,
POSIX message queues, pipes and Unix domain sockets, between forked processes pinned to two CPUs:
round-trip time (pingpong), one-way throughput (stream), several producers into one consumer
(mpsc1/2/4), and the CPU an idle receiver burns (idle), at 8 B, 64 B, 1 KiB and 64 KiB. Every
receiver checks every sequence number; any error fails the run (exit status 1). The targets
table reports PASS or MISS and never fails the run.

  --quick        fewer messages and 2 rounds: about half a minute on two cores
  --rounds N     rounds (default 5); each round measures every cell once, tables show medians
  --csv FILE     one row per cell and metric: mechanism,pattern,size,metric,value
                 (plus ratio:IPCKIT/OTHER rows); plot it with scripts/plot_bench.sh
  --only SUBSTR  only the cells whose MECHANISM/PATTERN/SIZE contains SUBSTR, e.g. ipckit,
                 /pingpong/, /stream/8, pipe/ (repeat to add more)
  --verbose      one line on stderr per measurement: cell, count, seconds, rate
  --help         this text
)";

struct options {
    bool quick = false;
    unsigned rounds = 0;  // 0: the mode's default
    std::string csv;
    std::vector<std::string> only;
    bool verbose = false;
};

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
            const std::string v = value(i);
            char* end = nullptr;
            const unsigned long n = std::strtoul(v.c_str(), &end, 10);
            if (end == v.c_str() || *end != '\0' || n < 1 || n > 1000) {
                std::fprintf(stderr, "ipckit_bench: --rounds takes a number from 1 to 1000, not '%s'\n", v.c_str());
                std::exit(2);
            }
            o.rounds = static_cast<unsigned>(n);
        } else if (a == "--csv") {
            o.csv = value(i);
        } else if (a == "--only") {
            o.only.push_back(value(i));
        } else if (a == "--verbose" || a == "-v") {
            o.verbose = true;
        } else if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else {
            std::fprintf(stderr, "ipckit_bench: unknown argument '%s'\n%s", argv[i], usage);
            std::exit(2);
        }
    }
    if (o.rounds == 0) o.rounds = o.quick ? 2 : 5;
    return o;
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
          results_(o.rounds),
          round_trips_{seconds_per_measurement(o), o.quick ? 1'000u : 5'000u, 400'000},
          messages_{seconds_per_measurement(o), o.quick ? 500u : 2'000u, 50'000'000},
          budget_(std::chrono::duration_cast<clock::duration>(
              std::chrono::duration<double>(4 * seconds_per_measurement(o)))),
          idle_for_(o.quick ? std::chrono::milliseconds(300) : std::chrono::milliseconds(1000)) {
        for (const auto& p : patterns)
            for (const std::size_t size : message_sizes) {
                if (p.kind == shape::idle && size != message_sizes.front()) continue;
                for (const auto& m : table) {
                    const cell c{&m, &p, size};
                    if (!selected(c.id())) continue;
                    if (const std::string why = m.unsupported(size, p.many); !why.empty())
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
        const report rep(results_, table);
        rep.print_header(opt_.rounds, opt_.quick,
                         cpus_.describe() + "; a clock reading costs " + std::to_string(clock_cost_ns()) +
                             " ns (each timed round trip includes one)");
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
    /// A measurement that takes longer than this has hung.
    static constexpr auto patience = std::chrono::seconds(120);

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
        const cell_request rq{*c.pat, c.size, count, warmup, budget_, idle_for_, cpus_, patience};
        try {
            const auto t = clock::now();
            cell_result r = c.mech->run(rq);
            if (opt_.verbose)
                progress(c.id() + (round ? " round " + std::to_string(*round + 1) : std::string(" calibration")) +
                         ": up to " + std::to_string(count) + ", " + seconds_since(t) +
                         (r.per_second > 0 ? ", " + si(r.per_second) + "/s" : std::string()));
            return r;
        } catch (const stopped&) {
            throw;
        } catch (const std::exception& e) {
            const std::string where = round ? "round " + std::to_string(*round + 1) : std::string("calibration");
            errors_.push_back(c.id() + " (" + where + "): " + e.what());
            std::fprintf(stderr, "ipckit_bench: ERROR %s\n", errors_.back().c_str());
            results_.set_reason(c.key(), "FAILED");
            c.failed = true;
            return std::nullopt;
        }
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
