#pragma once
// Helpers for the node tests: a domain name removed with all its links, the links left in
// /dev/shm, messages as strings, waiting until a thread or process sleeps in the kernel, and
// running short of file descriptors.

#include "support.hpp"

#include <ipckit/node.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

namespace ipckit_test {

/// A domain name unique to this test process (no '.': domains may not hold one), with the
/// registry and every link of the domain removed at set-up and when it goes.
class scoped_domain {
public:
    scoped_domain() : name_("nd" + std::to_string(::getpid()) + "x" + std::to_string(counter()++)) { clean(); }
    ~scoped_domain() { clean(); }
    scoped_domain(const scoped_domain&) = delete;
    scoped_domain& operator=(const scoped_domain&) = delete;
    [[nodiscard]] const std::string& str() const noexcept { return name_; }
    operator std::string_view() const noexcept { return name_; }  // NOLINT(google-explicit-constructor)

    /// The segments of this domain's links that exist now.
    [[nodiscard]] std::vector<std::string> links() const {
        std::vector<std::string> out;
        for (const auto& l : ipckit::detail::list_links(name_)) out.push_back(l.segment);
        return out;
    }

private:
    static unsigned& counter() {
        static unsigned c = 0;
        return c;
    }
    void clean() const noexcept {
        try {
            (void)ipckit::remove_domain(name_);
        } catch (...) {
        }
    }
    std::string name_;
};

/// Lowers this process's soft RLIMIT_NOFILE so that exactly `free` file descriptors can still be
/// opened (fds are handed out lowest first, so the limit is the fd number past the `free`th hole).
/// Returns the limit to restore_fd_limit() with. For a forked child: it changes the process.
inline rlimit limit_free_fds(std::size_t free) {
    rlimit old{};
    if (::getrlimit(RLIMIT_NOFILE, &old) != 0) throw std::system_error(errno, std::generic_category(), "getrlimit");
    int limit = 0;
    for (std::size_t holes = 0;; ++limit) {
        if (::fcntl(limit, F_GETFD) == -1 && errno == EBADF && ++holes > free) break;
    }
    rlimit lower = old;
    lower.rlim_cur = static_cast<rlim_t>(limit);
    if (::setrlimit(RLIMIT_NOFILE, &lower) != 0) throw std::system_error(errno, std::generic_category(), "setrlimit");
    return old;
}
inline void restore_fd_limit(const rlimit& old) {
    if (::setrlimit(RLIMIT_NOFILE, &old) != 0) throw std::system_error(errno, std::generic_category(), "setrlimit");
}

inline std::string text(const std::vector<std::byte>& m) { return {reinterpret_cast<const char*>(m.data()), m.size()}; }

/// A message carrying a sequence number, as 8 bytes.
inline std::span<const std::byte> seq_bytes(const std::uint64_t& v) {
    return {reinterpret_cast<const std::byte*>(&v), sizeof v};
}
/// The sequence number a message carries, or UINT64_MAX if it is not 8 bytes.
inline std::uint64_t seq_of(const std::vector<std::byte>& m) {
    std::uint64_t v = UINT64_MAX;
    if (m.size() == sizeof v) std::memcpy(&v, m.data(), sizeof v);
    return v;
}

}  // namespace ipckit_test
