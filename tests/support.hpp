#pragma once
// Shared test harness: unique segment names, RAII removal, and forked children that report
// through their exit status.
//
// A child does its work without Catch2 macros and ends with _exit(code); the parent asserts on
// the code. Start no threads before fork.

#include <ipckit/error.hpp>
#include <ipckit/segment.hpp>


#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <string>
#include <string_view>

#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
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

/// The ipckit::error that f() throws (a set-up verb: create, open, sender...), or nothing.
template <class F>
std::optional<ipckit::error> setup_error(F&& f) {
    try {
        (void)std::forward<F>(f)();
    } catch (const ipckit::error& e) {
        return e;
    }
    return std::nullopt;
}

/// The errc of the ipckit::error that f() throws, ok if it throws none.
template <class F>
ipckit::errc setup_errc(F&& f) {
    const auto e = setup_error(std::forward<F>(f));
    return e ? e->reason() : ipckit::errc::ok;
}

/// What the ipckit::error that f() throws says, empty if it throws none.
template <class F>
std::string setup_message(F&& f) {
    const auto e = setup_error(std::forward<F>(f));
    return e ? std::string(e->what()) : std::string();
}

inline bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

/// A generous deadline for waiting on an event in a test (the machines are small and shared).
inline constexpr std::chrono::seconds patience{60};

/// The calling thread's id, as /proc/<pid>/task/<tid> names it.
inline pid_t thread_id() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

/// Waits (up to `patience`) until thread `tid` of process `pid` is asleep in the kernel (state S
/// in /proc/<pid>/task/<tid>/stat): for a thread or process that does nothing but a blocking verb
/// whose wait sleeps on a futex, the event "it now sleeps in that verb". False if it never was.
/// `meanwhile()` runs before each look.
inline bool wait_until_sleeping(pid_t pid, pid_t tid, const std::function<void()>& meanwhile = [] {}) {
    const std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat";
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
        meanwhile();
        std::ifstream f(path);
        std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        // "pid (comm) S ...": the state follows the last ')' (comm may hold anything).
        const auto paren = stat.rfind(')');
        if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'S') return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

/// What wait_child() and child::wait() say of a child killed with SIGKILL.
inline constexpr int killed_by_sigkill = 1000 + SIGKILL;

/// Options under which a dead peer is noticed quickly (liveness checked every `interval`).
inline ipckit::options quick_liveness(std::chrono::milliseconds interval = std::chrono::milliseconds(10)) {
    ipckit::options opt;
    opt.liveness_interval = interval;
    return opt;
}

/// Whether this build runs under AddressSanitizer (CI pairs it with UBSan).
constexpr bool under_asan() {
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

/// Waits (polling, up to `patience`) until `done()` holds; false if it never did.
template <class F>
bool eventually(F&& done) {
    const auto until = std::chrono::steady_clock::now() + patience;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

/// Lets go a task that waits on a long deadline in a std::async future, by `release` (a close,
/// a wake): once, when called, or when this goes while the task still waits, as when a REQUIRE
/// throws before the test woke it. Declared after the future, it goes first: otherwise the
/// future's destructor would wait out the task's deadline.
template <class T>
class let_go {
public:
    let_go(const std::future<T>& task, std::function<void()> release) : task_(task), release_(std::move(release)) {}
    let_go(const let_go&) = delete;
    let_go& operator=(const let_go&) = delete;
    ~let_go() {
        if (!task_.valid() || task_.wait_for(std::chrono::seconds{0}) == std::future_status::ready) return;
        try {
            (*this)();
        } catch (...) {  // a test already failing; the future's destructor then waits
        }
    }
    void operator()() {
        if (release_) std::exchange(release_, nullptr)();
    }

private:
    const std::future<T>& task_;
    std::function<void()> release_;
};

/// Memory shared with the children forked after it is made (MAP_SHARED | MAP_ANONYMOUS).
class shared_memory {
public:
    explicit shared_memory(std::size_t size) : size_(size) {
        data_ = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (data_ == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
    }
    ~shared_memory() { ::munmap(data_, size_); }
    shared_memory(const shared_memory&) = delete;
    shared_memory& operator=(const shared_memory&) = delete;
    [[nodiscard]] void* data() const noexcept { return data_; }

private:
    void* data_;
    std::size_t size_;
};

/// A pipe used as a one-way signal between processes. post(n) releases n waits; wait() takes one
/// byte, and returns false at end of file (every writer gone) or when its timeout passes.
/// Whoever only reads should close_write(), so that the death of the writers reads as EOF.
class signal_pipe {
public:
    signal_pipe() {
        if (::pipe(fd_) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    }
    ~signal_pipe() {
        close_fd(fd_[0]);
        close_fd(fd_[1]);
    }
    signal_pipe(const signal_pipe&) = delete;
    signal_pipe& operator=(const signal_pipe&) = delete;

    void post(std::size_t n = 1) const noexcept {
        for (std::size_t i = 0; i < n; ++i) put_bytes("s", 1);
    }
    [[nodiscard]] bool wait(std::chrono::milliseconds timeout = patience) const noexcept {
        char c = 0;
        return get_bytes(&c, 1, timeout);
    }
    void post_value(std::uint64_t v) const noexcept { put_bytes(&v, sizeof v); }
    [[nodiscard]] std::optional<std::uint64_t> wait_value(std::chrono::milliseconds timeout = patience) const noexcept {
        std::uint64_t v = 0;
        if (!get_bytes(&v, sizeof v, timeout)) return std::nullopt;
        return v;
    }
    void close_write() noexcept { close_fd(fd_[1]); }
    /// Holds the pipe to one page: a writer blocks once a page of it is unread, so what it
    /// reports stays within a page of what its reader has read (512 values).
    void hold_writer_to_a_page() const {
        if (::fcntl(fd_[1], F_SETPIPE_SZ, 4096) < 0) throw std::system_error(errno, std::generic_category(), "F_SETPIPE_SZ");
    }
    /// Whole reports: put() writes n bytes; get() reads n bytes, false at end of file or timeout.
    void put(const void* p, std::size_t n) const noexcept { put_bytes(p, n); }
    [[nodiscard]] bool get(void* p, std::size_t n, std::chrono::milliseconds timeout = patience) const noexcept {
        return get_bytes(p, n, timeout);
    }

private:
    static void close_fd(int& fd) noexcept {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    void put_bytes(const void* p, std::size_t n) const noexcept {
        const char* b = static_cast<const char*>(p);
        while (n > 0) {
            const ssize_t w = ::write(fd_[1], b, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return;
            b += w;
            n -= static_cast<std::size_t>(w);
        }
    }
    bool get_bytes(void* p, std::size_t n, std::chrono::milliseconds timeout) const noexcept {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        char* b = static_cast<char*>(p);
        while (n > 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd pfd{fd_[0], POLLIN, 0};
            const int ready = ::poll(&pfd, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return false;
            const ssize_t r = ::read(fd_[0], b, n);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return false;
            b += r;
            n -= static_cast<std::size_t>(r);
        }
        return true;
    }

    int fd_[2] = {-1, -1};
};

/// Blocks a child until it is killed; returns (and so fails the child) only if the parent
/// wrote to `hold`, went away, or did not kill it within patience.
inline int block_until_killed(signal_pipe& hold) {
    hold.close_write();
    (void)hold.wait();
    return 99;
}

/// A forked child, killed and reaped if the test leaves before waiting for it.
class child {
public:
    explicit child(const std::function<int()>& fn) : pid_(spawn(fn)) {}
    child(child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
    child& operator=(child&&) = delete;
    ~child() {
        if (pid_ > 0) (void)kill_child(pid_);
    }
    /// Its exit code (or 1000 + signal), once it has ended.
    int wait() { return wait_child(std::exchange(pid_, -1)); }
    /// SIGKILLs it; returns what wait() would.
    int kill() { return kill_child(std::exchange(pid_, -1)); }

private:
    pid_t pid_;
};

}  // namespace ipckit_test
