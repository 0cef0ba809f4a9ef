// ipckit_per_message: the instructions a message costs on each single-receiver kind, for
// valgrind's callgrind to count. One process fills the queue with 512 messages of 8 bytes and
// drains it, ROUNDS times, through non-blocking endpoints (no wait, no system call in the loop).
// Two runs with different ROUNDS give the cost of a message sent and received, set-up cancelled:
//
//     valgrind --tool=callgrind --callgrind-out-file=/dev/null build/bench/ipckit_per_message mpsc 10
//     valgrind --tool=callgrind --callgrind-out-file=/dev/null build/bench/ipckit_per_message mpsc 20
//     # (I refs of the second - I refs of the first) / (10 * 512)
//
// Instructions are what this counts: not the cache lines that cross between cores, nor an atomic
// read-modify-write's cost, which the throughput rows of ipckit_bench show (README, issue 15).

#include <ipckit/mailbox.hpp>
#include <ipckit/queue.hpp>

#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

namespace {

constexpr std::uint64_t fill = 512;

/// Removes the segment `name` of `Kind` when it goes, however the count ends: the mailbox is
/// system_owned (the ipckit-mailbox row's), so it would stay in /dev/shm.
template <class Kind>
struct removed_at_end {
    std::string name;
    ~removed_at_end() {
        try {
            (void)Kind::remove(name);
        } catch (...) {  // the count has its answer; a segment left behind is all this can lose
        }
    }
};

/// Sends 0 .. fill-1 through `tx`; false, with the reason on stderr, where one is refused. Out
/// of line, as a sender's loop is in a program of its own: the compiler inlines the send into
/// it as it would there, not by what a receiver's loop beside it left of its budget.
template <class Sender>
[[gnu::noinline]] bool fill_through(Sender& tx) {
    for (std::uint64_t i = 0; i < fill; ++i)
        if (const auto s = tx.send(i); !s) {
            std::fprintf(stderr, "ipckit_per_message: send: %s\n", make_error_code(s.error()).message().c_str());
            return false;
        }
    return true;
}

/// Receives fill messages through `rx`, adding them to `sum`; false, with the reason on stderr,
/// where one is missing or out of order. Out of line, as fill_through is.
template <class Receiver>
[[gnu::noinline]] bool drain_through(Receiver& rx, std::uint64_t& sum) {
    for (std::uint64_t i = 0; i < fill; ++i) {
        const auto m = rx.receive();
        if (!m || *m != i) {
            std::fprintf(stderr, "ipckit_per_message: receive: %s\n",
                         m ? "a message out of order" : make_error_code(m.error()).message().c_str());
            return false;
        }
        sum += *m;
    }
    return true;
}

/// ROUNDS fills and drains of `Kind` (a queue or mailbox type of std::uint64_t); 0, or 1 with
/// the reason on stderr. Creating the segment throws ipckit::error.
template <class Kind>
int count(std::uint64_t rounds) {
    const removed_at_end<Kind> segment{"ipckit_per_message." + std::to_string(getpid())};
    auto q = Kind::create(segment.name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    std::uint64_t sum = 0;
    for (std::uint64_t r = 0; r < rounds; ++r)
        if (!fill_through(tx) || !drain_through(rx, sum)) return 1;
    std::printf("%llu messages, checksum %llu\n", static_cast<unsigned long long>(rounds * fill),
                static_cast<unsigned long long>(sum));
    return 0;
}

constexpr std::size_t depth = 1024;

/// The count for the kind named `kind`; 2 where there is no such kind.
int run(std::string_view kind, std::uint64_t rounds) {
    if (kind == "spsc") return count<ipckit::queue<std::uint64_t, ipckit::bounded<depth>>>(rounds);
    if (kind == "mpsc") return count<ipckit::queue<std::uint64_t, ipckit::bounded<depth>, ipckit::multi>>(rounds);
    if (kind == "lanes") return count<ipckit::queue<std::uint64_t, ipckit::bounded<depth>, ipckit::lanes<8>>>(rounds);
    if (kind == "mailbox")
        return count<ipckit::mailbox<std::uint64_t, ipckit::bounded<depth>, ipckit::exclusive, ipckit::system_owned>>(
            rounds);
    std::fprintf(stderr, "ipckit_per_message: no kind '%.*s': spsc, mpsc, lanes or mailbox\n",
                 static_cast<int>(kind.size()), kind.data());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t rounds = 0;
    const std::string_view kind = argc == 3 ? argv[1] : "";
    const char* const r = argc == 3 ? argv[2] : "";
    const auto [end, ec] = std::from_chars(r, r + std::strlen(r), rounds);
    if (kind.empty() || ec != std::errc{} || *end != '\0' || rounds == 0) {
        std::fprintf(stderr,
                     "usage: ipckit_per_message spsc|mpsc|lanes|mailbox ROUNDS\n"
                     "  ROUNDS fills and drains of 512 messages of 8 bytes; count it under valgrind --tool=callgrind\n");
        return 2;
    }
    try {
        return run(kind, rounds);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ipckit_per_message: %s\n", e.what());
        return 1;
    }
}
