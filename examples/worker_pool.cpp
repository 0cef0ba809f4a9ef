// A worker pool over a mailbox: the seed's "computation speed-up". The parent splits a
// computation (counting the primes below a limit) into sub-tasks, sends them to a mailbox from
// which N forked worker processes take them (delivery any: whoever is free), and adds up the
// workers' answers, which come back through a second mailbox that the parent owns. It checks
// the total against the same computation done in one process, and prints both.
//
//   worker_pool [workers=4] [limit=2000000]
//
// The end of the work is the end of the mailbox: once every task is sent the parent removes
// the tasks mailbox, so each worker receives what is left and then `closed`, and exits.

#include <ipckit/mailbox.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

struct task {
    std::uint64_t first, last;  // count the primes in [first, last)
};
struct answer {
    std::uint64_t first, primes;
};

// Any number of workers take tasks; the mailbox outlives every one of them until removed.
using tasks = ipckit::mailbox<task, ipckit::bounded<64>, ipckit::any, ipckit::system_owned>;
// The parent owns the answers mailbox and is its only receiver; it goes when the parent does.
using answers = ipckit::mailbox<answer, ipckit::bounded<64>, ipckit::exclusive, ipckit::process_owned>;

bool is_prime(std::uint64_t n) {
    if (n < 2) return false;
    for (std::uint64_t d = 2; d * d <= n; ++d)
        if (n % d == 0) return false;
    return true;
}

std::uint64_t count_primes(std::uint64_t first, std::uint64_t last) {
    std::uint64_t n = 0;
    for (std::uint64_t i = first; i < last; ++i) n += is_prime(i) ? 1U : 0U;
    return n;
}

int worker(const tasks& work, const answers& results) {
    auto in = work.receiver();
    auto out = results.sender();
    for (;;) {
        auto t = in.receive();
        if (!t) return t.error() == ipckit::errc::closed ? 0 : 1;  // closed: no more work
        if (!out.send({t->first, count_primes(t->first, t->last)})) return 1;
    }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    const int workers = argc > 1 ? std::atoi(argv[1]) : 4;
    const std::uint64_t limit = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 2'000'000;
    const std::uint64_t chunk = 20'000;
    const std::string name = "worker_pool." + std::to_string(::getpid());

    auto start = std::chrono::steady_clock::now();
    const std::uint64_t expected = count_primes(0, limit);
    const double alone = seconds_since(start);

    start = std::chrono::steady_clock::now();
    auto work = tasks::create(name + ".tasks");
    auto results = answers::create(name + ".answers");  // this process owns it
    auto in = results.receiver();
    std::vector<pid_t> pids;
    for (int w = 0; w < workers; ++w) {
        const pid_t pid = ::fork();
        if (pid == 0) ::_exit(worker(work, results));  // the handles are inherited across fork
        pids.push_back(pid);
    }

    // Send the tasks while taking answers, so that neither mailbox can fill up for good.
    auto out = work.sender<ipckit::non_blocking>();
    std::uint64_t next = 0, total = 0, answered = 0;
    const std::uint64_t count = (limit + chunk - 1) / chunk;
    bool removed = false;
    while (answered < count) {
        while (next < limit && out.send({next, std::min(next + chunk, limit)})) next += chunk;
        if (next >= limit && !removed) removed = tasks::remove(name + ".tasks");  // every task sent
        if (auto a = in.receive(std::chrono::milliseconds(100))) {
            total += a->primes;
            ++answered;
        }
    }
    int failed = 0;
    for (const pid_t pid : pids) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        failed += WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
    }
    const double pooled = seconds_since(start);

    std::printf("primes below %llu: %llu with %d workers in %.3f s, %llu in one process in %.3f s\n",
                static_cast<unsigned long long>(limit), static_cast<unsigned long long>(total), workers, pooled,
                static_cast<unsigned long long>(expected), alone);
    if (total != expected || failed != 0) {
        std::printf("MISMATCH (%d workers failed)\n", failed);
        return 1;
    }
    return 0;
}
