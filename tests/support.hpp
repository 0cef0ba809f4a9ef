#pragma once
// Shared test harness: unique segment names, RAII removal, and forked children that report
// through their exit status.
//
// A child does its work without Catch2 macros and ends with _exit(code); the parent asserts on
// the code. Start no threads before fork.

#include <ipckit/segment.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <string_view>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

namespace ipckit_test {

/// A name no other test process uses: prefix, pid and a per-process counter.
inline std::string unique_name(const std::string& prefix = "test") {
    static std::atomic<unsigned> counter{0};
    return "ipckit-" + prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

/// Removes the segment at set-up (a leftover of a crashed run) and again when it goes.
class scoped_name {
public:
    explicit scoped_name(const std::string& prefix = "test") : name_(unique_name(prefix)) {
        ipckit::remove_segment(name_);
    }
    ~scoped_name() {
        try {
            ipckit::remove_segment(name_);
        } catch (...) {
        }
    }
    scoped_name(const scoped_name&) = delete;
    scoped_name& operator=(const scoped_name&) = delete;
    [[nodiscard]] const std::string& str() const noexcept { return name_; }
    operator const std::string&() const noexcept { return name_; }  // NOLINT(google-explicit-constructor)
    operator std::string_view() const noexcept { return name_; }     // NOLINT(google-explicit-constructor)

private:
    std::string name_;
};

/// Exit codes a child uses beyond its own: an exception escaped, or an unexpected errc.
inline constexpr int child_threw = 120;

/// Forks a child that runs fn() and _exits with what it returns (child_threw on an exception).
/// The child never returns into Catch2.
inline pid_t spawn(const std::function<int()>& fn) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("fork");
        std::abort();
    }
    if (pid == 0) {
        int code = child_threw;
        try {
            code = fn();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child %d threw: %s\n", ::getpid(), e.what());
        } catch (...) {
            std::fprintf(stderr, "child %d threw\n", ::getpid());
        }
        std::fflush(nullptr);
        ::_exit(code);
    }
    return pid;
}

/// How a child ended: its exit code, or 1000 + the signal that killed it.
inline int wait_child(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 1000 + WTERMSIG(status);
    return -1;
}

/// Kills a child with SIGKILL and reaps it; returns what wait_child says (1009).
inline int kill_child(pid_t pid) {
    ::kill(pid, SIGKILL);
    return wait_child(pid);
}

/// A generous deadline for waiting on an event in a test (the machines are small and shared).
inline constexpr std::chrono::seconds patience{60};

}  // namespace ipckit_test
