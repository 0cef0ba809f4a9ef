#pragma once
// CPU pressure (--pressure, issue 15): while a measurement runs, one busy process of another
// program on each online CPU, as a shared machine has. Each is `/bin/sh -c 'while :; do :; done'`,
// forked and exec'd, unpinned, at the benchmark's own nice value (so it competes with the
// measured processes as an equal), and killed and reaped when the guard goes: after the
// measurement, and on every error or exception on the way out. A busy process also dies with
// the benchmark (PR_SET_PDEATHSIG), so a killed run leaves none spinning.

#include "process.hpp"

#include <cerrno>
#include <csignal>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

/// CPUs online now: how many busy processes the pressure starts.
inline unsigned online_cpus() {
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<unsigned>(n) : 1u;
}

/// `n` busy processes of another program while it lives. Starting one throws (with the ones
/// already started killed and reaped) if the fork or the exec fails.
class cpu_pressure {
public:
    static constexpr const char* program = "/bin/sh";
    static constexpr const char* loop = "while :; do :; done";

    explicit cpu_pressure(unsigned n) {
        try {
            for (unsigned i = 0; i < n; ++i) busy_.push_back(start());
        } catch (...) {
            end_all();
            throw;
        }
    }
    ~cpu_pressure() { end_all(); }
    cpu_pressure(const cpu_pressure&) = delete;
    cpu_pressure& operator=(const cpu_pressure&) = delete;

    [[nodiscard]] static std::string describe(unsigned n) {
        return std::to_string(n) + " busy process" + (n == 1 ? "" : "es") + " (" + program + " -c '" + loop +
               "', unpinned, the benchmark's nice) beside every measurement";
    }

private:
    /// Forks one busy process and returns once it runs the other program: the pipe's write end
    /// closes on exec, or carries the exec's errno back.
    static pid_t start() {
        int report[2];
        if (::pipe2(report, O_CLOEXEC) != 0) fail_errno("pipe2 (CPU pressure)");
        const pid_t parent = ::getpid();
        const pid_t pid = ::fork();
        if (pid < 0) {
            const int e = errno;
            ::close(report[0]);
            ::close(report[1]);
            errno = e;
            fail_errno("fork (CPU pressure)");
        }
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
            ::signal(SIGINT, SIG_DFL);
            ::signal(SIGTERM, SIG_DFL);
            ::execl(program, "sh", "-c", loop, static_cast<char*>(nullptr));
            const int e = errno;
            (void)!::write(report[1], &e, sizeof e);
            ::_exit(127);
        }
        ::close(report[1]);
        int e = 0;
        ssize_t got;
        while ((got = ::read(report[0], &e, sizeof e)) < 0 && errno == EINTR) {
        }
        ::close(report[0]);
        if (got != 0) {
            end(pid);
            errno = got == static_cast<ssize_t>(sizeof e) ? e : EIO;
            fail_errno(std::string("CPU pressure: exec of ") + program);
        }
        return pid;
    }
    static void end(pid_t pid) noexcept {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    void end_all() noexcept {
        for (const pid_t pid : busy_) end(pid);
        busy_.clear();
    }

    std::vector<pid_t> busy_;
};

}  // namespace bench
