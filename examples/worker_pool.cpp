// A worker pool over a mailbox: the seed's "computation speed-up". The parent splits a
// computation (counting the primes below a limit) into sub-tasks, sends them to a mailbox from
// which N forked worker processes take them (delivery any: whoever is free), and adds up the
// workers' answers, which come back through a second mailbox that the parent owns. It checks
// the total against the same computation done in one process, and prints both.
//
//   worker_pool [workers=4] [limit=2000000]
//       workers: 1 to 64 (each is a receiver of the tasks mailbox, which takes up to 64)
//       limit: 0 to 1000000000000
//
// The end of the work is the end of the mailbox: once every task is sent the parent removes
// the tasks mailbox, so each worker receives what is left and then `closed`, and exits. The
// tasks mailbox is system_owned, so nothing but the parent would ever remove it: the parent does
// on every way out, a worker's failure, SIGINT (Ctrl-C) and SIGTERM included, after stopping the
// workers. Only SIGKILL leaves it behind (remove it with `ipckit rm` or tasks::remove); the
// workers then end too, as each asks to get SIGTERM when the parent dies.

#include "number.hpp"

#include <ipckit/mailbox.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <signal.h>
#include <sys/prctl.h>
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

// Each worker is one receiver of tasks and one sender of answers.
constexpr std::uint64_t max_workers = std::min(tasks::max_receivers, answers::max_senders);
// Far beyond what trial division finishes; it keeps next + chunk and d * d from overflowing.
constexpr std::uint64_t max_limit = 1'000'000'000'000;

void print_usage(std::FILE* to) {
    std::fprintf(to,
                 "usage: worker_pool [workers=4] [limit=2000000]\n"
                 "  workers  worker processes, 1 to %llu (the tasks mailbox's receivers)\n"
                 "  limit    count the primes below it, 0 to %llu\n",
                 static_cast<unsigned long long>(max_workers), static_cast<unsigned long long>(max_limit));
}

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr, "worker_pool: %s\n", why.c_str());
    print_usage(stderr);
    std::exit(2);
}

// The signal that asked the parent to stop, or 0. Its handler only sets this: the pool loop
// looks at it and stops the workers; run() returns, which removes both mailboxes (the answers
// mailbox too: its name would stay if the process died holding it); then main dies of the signal.
volatile std::sig_atomic_t stop_signal = 0;
void on_stop_signal(int sig) { stop_signal = sig; }

/// Removes the tasks mailbox once now() is called, or when the parent leaves the pool in any
/// other way (an exception).
class tasks_remover {
public:
    explicit tasks_remover(std::string name) : name_(std::move(name)) {}
    tasks_remover(const tasks_remover&) = delete;
    tasks_remover& operator=(const tasks_remover&) = delete;
    ~tasks_remover() {
        try {
            now();
        } catch (const ipckit::error& e) {
            std::fprintf(stderr, "worker_pool: cannot remove %s: %s\n", name_.c_str(), e.what());
        }
    }
    void now() {
        if (!done_) (void)tasks::remove(name_);
        done_ = true;
    }

private:
    std::string name_;
    bool done_ = false;
};

/// The workers the parent has not yet waited for.
class workers_running {
public:
    void add(pid_t pid) { pids_.push_back(pid); }

    /// Reaps the workers that have ended; false if one of them failed (its task may be lost).
    bool reap_ended(int& failed) {
        bool ok = true;
        std::erase_if(pids_, [&](pid_t pid) {
            int status = 0;
            if (::waitpid(pid, &status, WNOHANG) != pid) return false;
            if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                ++failed;
                ok = false;
            }
            return true;
        });
        return ok;
    }

    /// Waits for every worker, first sending it SIGTERM if `stop`; counts those that failed.
    void wait_all(bool stop, int& failed) {
        for (const pid_t pid : pids_) {
            if (stop) ::kill(pid, SIGTERM);
            int status = 0;
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            // A worker stopped on purpose is not counted as failed.
            failed += (stop || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) ? 0 : 1;
        }
        pids_.clear();
    }

private:
    std::vector<pid_t> pids_;
};

int run(std::uint64_t workers, std::uint64_t limit) {
    const std::uint64_t chunk = 20'000;
    const std::string name = "worker_pool." + std::to_string(::getpid());

    auto start = std::chrono::steady_clock::now();
    const std::uint64_t expected = count_primes(0, limit);
    const double alone = seconds_since(start);

    // SIGINT and SIGTERM wait (blocked) from before the tasks mailbox exists until the handler
    // that removes it is in place, so that neither can leave it behind. Each worker unblocks them
    // with their default action, so that Ctrl-C (to the whole process group) ends it at once.
    sigset_t stop_signals, before;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_signals, &before);

    start = std::chrono::steady_clock::now();
    auto work = tasks::create(name + ".tasks");
    tasks_remover remove_tasks(name + ".tasks");
    auto results = answers::create(name + ".answers");  // this process owns it
    auto in = results.receiver();
    const pid_t parent = ::getpid();
    workers_running pool;
    bool fork_failed = false;
    for (std::uint64_t w = 0; w < workers; ++w) {
        const pid_t pid = ::fork();
        if (pid < 0) {
            std::perror("worker_pool: fork");
            fork_failed = true;
            break;
        }
        if (pid == 0) {
            // Dies with the parent, even of SIGKILL, rather than wait for tasks for ever.
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != parent) ::_exit(1);
            sigprocmask(SIG_SETMASK, &before, nullptr);
            ::_exit(worker(work, results));  // the handles are inherited across fork
        }
        pool.add(pid);
    }
    struct sigaction on_stop {};
    on_stop.sa_handler = on_stop_signal;  // no SA_RESTART: a blocking call returns EINTR
    sigemptyset(&on_stop.sa_mask);
    for (const int sig : {SIGINT, SIGTERM}) {
        struct sigaction was {};
        ::sigaction(sig, nullptr, &was);
        if (was.sa_handler != SIG_IGN) ::sigaction(sig, &on_stop, nullptr);  // e.g. a background job's SIGINT
    }
    sigprocmask(SIG_SETMASK, &before, nullptr);

    // Send the tasks while taking answers, so that neither mailbox can fill up for good. A
    // worker that fails may take its task with it: then stop rather than wait for its answer.
    auto out = work.sender<ipckit::non_blocking>();
    std::uint64_t next = 0, total = 0, answered = 0;
    const std::uint64_t count = (limit + chunk - 1) / chunk;
    int failed = 0;
    bool worker_lost = false;
    while (answered < count && stop_signal == 0 && !fork_failed && !worker_lost) {
        while (next < limit && out.send({next, std::min(next + chunk, limit)})) next += chunk;
        if (next >= limit) remove_tasks.now();  // every task sent
        if (auto a = in.receive(std::chrono::milliseconds(100))) {
            total += a->primes;
            ++answered;
        } else {
            worker_lost = !pool.reap_ended(failed);
        }
    }
    remove_tasks.now();  // the workers see closed once they have taken what is left
    const bool stopping = stop_signal != 0 || fork_failed || worker_lost;
    pool.wait_all(stopping, failed);
    const double pooled = seconds_since(start);

    if (stop_signal != 0) return 1;  // main says so, once both mailboxes are gone
    if (fork_failed || worker_lost) {
        std::fprintf(stderr, "worker_pool: %s; stopped the others after %llu of %llu answers\n",
                     fork_failed ? "could not start every worker" : "a worker failed",
                     static_cast<unsigned long long>(answered), static_cast<unsigned long long>(count));
        return 1;
    }
    std::printf("primes below %llu: %llu with %llu workers in %.3f s, %llu in one process in %.3f s\n",
                static_cast<unsigned long long>(limit), static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(workers), pooled, static_cast<unsigned long long>(expected), alone);
    if (total != expected || failed != 0) {
        std::printf("MISMATCH (%d workers failed)\n", failed);
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 3) usage("too many arguments");
    if (argc > 1 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
        print_usage(stdout);
        return 0;
    }
    const std::uint64_t workers = argc > 1 ? example::number("workers", argv[1], 1, max_workers, usage) : 4;
    const std::uint64_t limit = argc > 2 ? example::number("limit", argv[2], 0, max_limit, usage) : 2'000'000;
    int status = 1;
    try {
        status = run(workers, limit);
    } catch (const ipckit::error& e) {
        std::fprintf(stderr, "worker_pool: %s\n", e.what());
    }
    if (const int sig = stop_signal; sig != 0) {
        std::fprintf(stderr, "worker_pool: %s: stopped the workers and removed the mailboxes\n", ::strsignal(sig));
        std::signal(sig, SIG_DFL);
        std::raise(sig);  // end as the signal asked, for the shell that sent it
        return 128 + sig;
    }
    return status;
}
