#pragma once
// What tests of bytes<Max> send: a numbered message of a size drawn from its number (its bytes
// are messages.hpp's pattern(), so a torn, misplaced or stale message shows up), checking it,
// and writing a message into a loan of records in place. Usable in forked children (no Catch2
// here).

#include "messages.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace ipckit_test {

/// The bytes of `s` (its characters, no terminator), as a byte channel's send takes them.
inline std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

/// Message number s of sender p, for a channel of bytes<Max>: its number ([p:4][s:8]), then
/// bytes that are a function of both, 12 to Max bytes long in all (Max >= 12), the length drawn
/// from (p, s) too; every 7th is Max bytes long. numbered() reads p and s back and checks all.
inline std::vector<std::byte> numbered_message(std::uint32_t p, std::uint64_t s, std::size_t max) {
    const std::uint64_t key = (std::uint64_t{p} << 40) ^ s;
    const std::size_t n = s % 7 == 6 ? max : 12 + static_cast<std::size_t>(mix(key) % (max - 12 + 1));
    auto v = pattern(n, key);
    std::memcpy(v.data(), &p, 4);
    std::memcpy(v.data() + 4, &s, 8);
    return v;
}
inline bool numbered(std::span<const std::byte> m, std::size_t max, std::uint32_t& p, std::uint64_t& s) {
    if (m.size() < 12) return false;
    std::memcpy(&p, m.data(), 4);
    std::memcpy(&s, m.data() + 4, 8);
    return same(m, numbered_message(p, s, max));
}

/// Writes `m` into a loan of records (sender.loan_records) in place as its next message: reserve,
/// copy, commit. False if it does not fit (or the commit failed).
template <class Loan>
bool write_in_place(Loan& loan, std::span<const std::byte> m) {
    std::byte* to = loan.reserve(m.size());
    if (to == nullptr) return false;
    if (!m.empty()) std::memcpy(to, m.data(), m.size());
    return static_cast<bool>(loan.commit(m.size()));
}

}  // namespace ipckit_test
