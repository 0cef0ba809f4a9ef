#pragma once
// Process identity and liveness.
//
// A pid alone is not an identity: pids are reused. ipckit identifies a process by its pid and
// its start time (field 22 of /proc/<pid>/stat, in clock ticks since boot), and packs both into
// one 64-bit word so that an endpoint slot in shared memory can be claimed with a single CAS.
// All processes that share a segment must share a pid namespace.

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

namespace ipckit::detail::sys {

struct process_id {
    std::uint32_t pid = 0;
    std::uint64_t start_time = 0;

    friend bool operator==(const process_id&, const process_id&) = default;

    // Packed: pid in the top 22 bits (pid_max is at most 2^22), start time in the low 42 bits
    // (at 100 ticks a second, 2^42 ticks is over a thousand years of uptime). A packed id is
    // never 0 or 1, since pid >= 1: those values stay free for "vacant" and "closed".
    static constexpr unsigned pid_bits = 22;
    static constexpr unsigned time_bits = 64 - pid_bits;
    static constexpr std::uint64_t time_mask = (std::uint64_t{1} << time_bits) - 1;

    [[nodiscard]] std::uint64_t pack() const noexcept {
        return (std::uint64_t{pid} << time_bits) | (start_time & time_mask);
    }
    [[nodiscard]] static process_id unpack(std::uint64_t packed) noexcept {
        return {static_cast<std::uint32_t>(packed >> time_bits), packed & time_mask};
    }
};

struct proc_stat {
    char state = '?';
    std::uint64_t start_time = 0;
};

/// Reads the state and start time of `pid` from /proc; nullopt if there is no such process.
inline std::optional<proc_stat> read_proc_stat(std::uint32_t pid) noexcept {
    char path[40];
    std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    char buf[1024];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return std::nullopt;
    buf[n] = '\0';
    // "pid (comm) S ppid ..."; comm may hold spaces and parentheses, so parse from the last ')'.
    const char* p = std::strrchr(buf, ')');
    if (p == nullptr || p[1] != ' ') return std::nullopt;
    p += 2;
    proc_stat st;
    st.state = *p;
    // The state is field 3; the start time is field 22, 19 fields further on.
    for (int field = 3; field < 22; ++field) {
        p = std::strchr(p, ' ');
        if (p == nullptr) return std::nullopt;
        ++p;
    }
    for (; *p >= '0' && *p <= '9'; ++p) st.start_time = st.start_time * 10 + static_cast<unsigned>(*p - '0');
    return st;
}

/// This process's pid, without the /proc read of self(): for "am I still the process that
/// made this, or a forked child?". Not cached, for the same reason as self().
inline std::uint32_t this_pid() noexcept { return static_cast<std::uint32_t>(::getpid()); }

/// This process's identity. Not cached: a fork gives the child a new one.
inline process_id self() noexcept {
    const auto pid = this_pid();
    const auto st = read_proc_stat(pid);
    return {pid, st ? st->start_time & process_id::time_mask : 0};
}

/// Whether the process `id` names still runs: same pid, same start time, not a zombie. When
/// in doubt (the process exists but /proc cannot tell us more: no /proc, hidepid, another
/// user), it is alive: calling a live peer dead would let two processes into one endpoint.
inline bool is_alive(const process_id& id) noexcept {
    if (id.pid == 0) return false;
    if (::kill(static_cast<pid_t>(id.pid), 0) != 0 && errno == ESRCH) return false;
    const auto st = read_proc_stat(id.pid);
    if (!st) return true;  // it exists (kill said so), but we cannot look closer
    if (st->state == 'Z' || st->state == 'X' || st->state == 'x') return false;
    // A start time of 0 means "unknown" (read without /proc): compare only when both are known.
    const std::uint64_t start = st->start_time & process_id::time_mask;
    return id.start_time == 0 || start == 0 || start == id.start_time;
}

}  // namespace ipckit::detail::sys
