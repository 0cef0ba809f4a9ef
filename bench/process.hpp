#pragma once
// The benchmark's processes: forked children pinned to CPUs, a start gate that lets them all go
// at once, memory they share with the parent, and the waits that reap them on every path.
//
// A child runs its body and _exits: 0 if the body returned, 1 if it threw (its message goes to
// the parent through shared memory). The parent never sleeps to order events: it waits on
// pidfds and on the gate's pipe, so a child that dies or hangs is seen at once or at the
// deadline, and every other child is then killed and reaped before the error goes up.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace bench {

using clock = std::chrono::steady_clock;

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine.
inline std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count();
}

/// What one now_ns() costs on this machine (the median gap between back-to-back readings):
/// every timed round trip includes one.
inline std::int64_t clock_cost_ns() {
    std::vector<std::int64_t> gaps(1001);
    for (auto& g : gaps) {
        const std::int64_t t = now_ns();
        g = now_ns() - t;
    }
    std::nth_element(gaps.begin(), gaps.begin() + 500, gaps.end());
    return gaps[500];
}

[[noreturn]] inline void fail(const std::string& what) { throw std::runtime_error(what); }
[[noreturn]] inline void fail_errno(const std::string& what) {
    const int e = errno;
    throw std::runtime_error(what + ": " + std::strerror(e));
}

/// A measurement's children were still running at its deadline: one of them waits for
/// something that never comes (a message lost, a peer that never connected).
struct stall : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The user asked the benchmark to stop (SIGINT or SIGTERM).
struct stopped : std::runtime_error {
    stopped() : std::runtime_error("stopped by a signal") {}
};

inline volatile std::sig_atomic_t stop_requested = 0;

/// In the parent: SIGINT and SIGTERM set stop_requested and interrupt the waits below, which
/// then end the children and throw `stopped`, so that every name is removed on the way out.
inline void catch_stop_signals() {
    struct sigaction sa {};
    sa.sa_handler = [](int) { stop_requested = 1; };
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: poll returns EINTR
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
}

/// Which CPU each role runs on: the consumer (receiver, ponger) on the second allowed CPU,
/// producers on the first, then on any others in turn. Further consumers (the fan pattern) get
/// CPUs of their own once every producer has one, else share the second CPU with the first
/// consumer. Unpinned with fewer than two CPUs.
class cpu_plan {
public:
    cpu_plan() {
        cpu_set_t set;
        CPU_ZERO(&set);
        if (::sched_getaffinity(0, sizeof set, &set) == 0)
            for (int c = 0; c < CPU_SETSIZE; ++c)
                if (CPU_ISSET(c, &set)) cpus_.push_back(c);
    }
    [[nodiscard]] bool pinned() const noexcept { return cpus_.size() >= 2; }
    [[nodiscard]] int consumer() const noexcept { return pinned() ? cpus_[1] : -1; }
    /// Consumer j of several, with `producers` producers beside them.
    [[nodiscard]] int consumer(unsigned j, unsigned producers) const noexcept {
        if (!pinned() || j == 0) return consumer();
        const std::size_t own = std::size_t{producers} + j - 1;  // in the list of the CPUs but the second
        return own < cpus_.size() - 1 ? others()[own] : consumer();
    }
    [[nodiscard]] int producer(unsigned i) const noexcept {
        if (!pinned()) return -1;
        const std::vector<int> rest = others();
        return rest[i % rest.size()];
    }
    [[nodiscard]] std::string describe() const {
        if (!pinned()) return "one CPU: processes not pinned";
        return "producer / pinger on CPU " + std::to_string(producer(0)) + ", consumer / ponger on CPU " +
               std::to_string(consumer()) + " (of " + std::to_string(cpus_.size()) + " allowed)";
    }
    /// In a child: runs it on `cpu` only (nothing if cpu < 0).
    static void pin(int cpu) {
        if (cpu < 0) return;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (::sched_setaffinity(0, sizeof set, &set) != 0)
            fail_errno("sched_setaffinity(CPU " + std::to_string(cpu) + ")");
    }

private:
    /// Every allowed CPU but the second (the first consumer's).
    [[nodiscard]] std::vector<int> others() const {
        std::vector<int> rest = cpus_;
        rest.erase(rest.begin() + 1);
        return rest;
    }

    std::vector<int> cpus_;
};

/// n objects of T in anonymous shared memory, value-initialised in the parent: what the parent
/// and its forked children (or only the children) share.
template <class T>
class shared_array {
    static_assert(std::is_trivially_destructible_v<T>);

public:
    explicit shared_array(std::size_t n) : n_(n), bytes_(std::max<std::size_t>(n * sizeof(T), 1)) {
        void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) fail_errno("mmap of " + std::to_string(bytes_) + " shared bytes");
        data_ = static_cast<T*>(p);
        for (std::size_t i = 0; i < n; ++i) ::new (static_cast<void*>(data_ + i)) T();
    }
    ~shared_array() { ::munmap(static_cast<void*>(data_), bytes_); }
    shared_array(const shared_array&) = delete;
    shared_array& operator=(const shared_array&) = delete;

    T& operator[](std::size_t i) const noexcept { return data_[i]; }
    [[nodiscard]] T* begin() const noexcept { return data_; }
    [[nodiscard]] T* end() const noexcept { return data_ + n_; }
    [[nodiscard]] std::size_t size() const noexcept { return n_; }
    /// Touches every page in this process, so that no page fault lands in a timed loop (a
    /// forked child does not inherit the parent's page-table entries of a shared mapping).
    void prefault() const noexcept {
        auto* b = reinterpret_cast<volatile char*>(data_);
        for (std::size_t i = 0; i < bytes_; i += 4096) b[i] = b[i];
    }

private:
    std::size_t n_, bytes_;
    T* data_;
};

/// CPU time (user + system) that process `pid` has used, in nanoseconds.
inline std::int64_t process_cpu_ns(pid_t pid) {
    clockid_t id;
    if (const int e = ::clock_getcpuclockid(pid, &id); e != 0) {
        errno = e;
        fail_errno("clock_getcpuclockid(" + std::to_string(pid) + ")");
    }
    timespec ts{};
    if (::clock_gettime(id, &ts) != 0) fail_errno("clock_gettime(CPU clock of " + std::to_string(pid) + ")");
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// The children of one measurement. Destroying it kills and reaps any that still run.
class children {
public:
    static constexpr std::size_t max_children = 16;

    children() : reports_(max_children) {}
    ~children() { end_all(); }
    children(const children&) = delete;
    children& operator=(const children&) = delete;

    /// Forks a child that runs body() on `cpu` as `role`, and returns its pid.
    template <class Body>
    pid_t spawn(std::string role, int cpu, Body&& body) {
        if (kids_.size() == max_children) fail("more than " + std::to_string(max_children) + " children");
        const std::size_t index = kids_.size();
        const pid_t parent = ::getpid();
        std::fflush(nullptr);
        const pid_t pid = ::fork();
        if (pid < 0) fail_errno("fork");
        if (pid == 0) {
            // A spinning child must not outlive a parent that was killed.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(1);
            ::signal(SIGINT, SIG_DFL);
            ::signal(SIGTERM, SIG_DFL);
            int code = 0;
            try {
                cpu_plan::pin(cpu);
                body();
            } catch (const std::exception& e) {
                report(index, e.what());
                code = 1;
            } catch (...) {
                report(index, "an exception that is not a std::exception");
                code = 1;
            }
            ::_exit(code);
        }
        const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (pidfd < 0) {
            const int e = errno;
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            errno = e;
            fail_errno("pidfd_open (Linux 5.3 or later)");
        }
        kids_.push_back({pid, pidfd, std::move(role)});
        return pid;
    }

    /// Waits until every child has ended; throws if one failed, or `stall` at the deadline.
    void wait_all(clock::time_point deadline) {
        while (running() > 0) {
            if (clock::now() >= deadline) throw stall("stalled; still running at the deadline: " + still_running());
            (void)wait_for_event(deadline, -1);
        }
    }

    /// Sleeps for `d` (a measurement interval); throws if a child ends meanwhile.
    void sleep_for(clock::duration d) {
        const auto until = clock::now() + d;
        const std::size_t before = running();
        while (clock::now() < until) {
            (void)wait_for_event(until, -1);
            if (running() != before) fail("a child ended while it should have been waiting");
        }
    }

    /// Waits until `fd` is readable (true), or the deadline passes (false). Reaps children that
    /// end meanwhile and throws if one failed.
    bool wait_readable(int fd, clock::time_point deadline) { return wait_for_event(deadline, fd); }

    [[nodiscard]] std::size_t running() const noexcept {
        return static_cast<std::size_t>(
            std::count_if(kids_.begin(), kids_.end(), [](const kid& k) { return k.pidfd >= 0; }));
    }

private:
    struct kid {
        pid_t pid;
        int pidfd;  ///< -1 once reaped
        std::string role;
    };
    struct failure_text {
        char text[512];
    };

    void report(std::size_t index, const char* what) const noexcept {
        std::snprintf(reports_[index].text, sizeof reports_[index].text, "%s", what);
    }

    bool wait_for_event(clock::time_point deadline, int fd) {
        std::vector<pollfd> fds;
        std::vector<std::size_t> who;
        for (std::size_t i = 0; i < kids_.size(); ++i)
            if (kids_[i].pidfd >= 0) {
                fds.push_back({kids_[i].pidfd, POLLIN, 0});
                who.push_back(i);
            }
        if (fd >= 0) fds.push_back({fd, POLLIN, 0});
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count() + 1;
        const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(left, 0, 60'000)));
        if (n < 0 && errno != EINTR) fail_errno("poll");
        if (stop_requested) throw stopped();
        for (std::size_t j = 0; j < who.size(); ++j)
            if (fds[j].revents != 0) reap(who[j]);
        return fd >= 0 && n > 0 && fds.back().revents != 0;
    }

    void reap(std::size_t i) {
        kid& k = kids_[i];
        int status = 0;
        while (::waitpid(k.pid, &status, 0) < 0 && errno == EINTR) {
        }
        ::close(k.pidfd);
        k.pidfd = -1;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
        std::string why;
        if (WIFSIGNALED(status))
            why = "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
        else if (reports_[i].text[0] != '\0')
            why = reports_[i].text;
        else
            why = "exit status " + std::to_string(WEXITSTATUS(status));
        fail(k.role + " (pid " + std::to_string(k.pid) + ") failed: " + why);
    }

    [[nodiscard]] std::string still_running() const {
        std::string s;
        for (const kid& k : kids_)
            if (k.pidfd >= 0) s += (s.empty() ? "" : ", ") + k.role;
        return s;
    }

    void end_all() noexcept {
        for (kid& k : kids_) {
            if (k.pidfd < 0) continue;
            ::kill(k.pid, SIGKILL);
            while (::waitpid(k.pid, nullptr, 0) < 0 && errno == EINTR) {
            }
            ::close(k.pidfd);
            k.pidfd = -1;
        }
    }

    shared_array<failure_text> reports_;
    std::vector<kid> kids_;
};

/// Lets the children of a measurement start together: each says it is ready (one byte on one
/// pipe) and waits; the parent waits for all of them, then writes one byte per child on the other.
class start_gate {
public:
    start_gate() {
        if (::pipe2(ready_, O_CLOEXEC) != 0 || ::pipe2(go_, O_CLOEXEC) != 0) fail_errno("pipe2");
    }
    ~start_gate() {
        for (const int fd : {ready_[0], ready_[1], go_[0], go_[1]})
            if (fd >= 0) ::close(fd);
    }
    start_gate(const start_gate&) = delete;
    start_gate& operator=(const start_gate&) = delete;

    /// In a child, once it is set up: says so, and returns when the parent opens the gate.
    void arrive_and_wait() const {
        char b = 1;
        if (::write(ready_[1], &b, 1) != 1) fail_errno("start gate: write");
        ssize_t n;
        while ((n = ::read(go_[0], &b, 1)) < 0 && errno == EINTR) {
        }
        if (n != 1) fail_errno("start gate: read");
    }

    /// In the parent: waits for `n` children to arrive, then lets them all go.
    void open(children& kids, std::size_t n, clock::time_point deadline) const {
        for (std::size_t arrived = 0; arrived < n;) {
            if (kids.running() < n) fail("a child ended before the start");
            if (!kids.wait_readable(ready_[0], deadline)) {
                if (clock::now() >= deadline) fail("timed out waiting for the children to set up");
                continue;
            }
            char buf[children::max_children];
            const ssize_t got = ::read(ready_[0], buf, std::min(sizeof buf, n - arrived));
            if (got < 0 && errno != EINTR) fail_errno("start gate: read");
            if (got > 0) arrived += static_cast<std::size_t>(got);
        }
        const std::string go(n, '\1');
        if (::write(go_[1], go.data(), n) != static_cast<ssize_t>(n)) fail_errno("start gate: write");
    }

private:
    int ready_[2] = {-1, -1};
    int go_[2] = {-1, -1};
};

}  // namespace bench
