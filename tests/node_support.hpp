#pragma once
// Helpers for the node tests: a domain name removed with all its links, the links left in
// /dev/shm, and messages as strings.

#include "support.hpp"

#include <ipckit/node.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
        for (const auto& l : ipckit::detail::list_links(name_)) out.push_back(l.first);
        return out;
    }

private:
    static unsigned& counter() {
        static unsigned c = 0;
        return c;
    }
    void clean() const noexcept {
        try {
            for (const auto& l : ipckit::detail::list_links(name_)) ipckit::remove_segment(l.first);
            ipckit::remove_segment(name_);
        } catch (...) {
        }
    }
    std::string name_;
};

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
