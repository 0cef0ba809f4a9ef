#pragma once
// What tests send and how they look at results: a small message whose second word is a function
// of its first (a torn, stale or made-up message shows up), splitmix64's finaliser for payloads
// derived from a seed, err() for the errc of a status or result, and how Catch2 prints an errc.
//
// Include it in test files that use Catch2; children forked by those tests may use everything
// here but the printing, which only the parent's assertions need.

#include "catch.hpp"

#include <ipckit/error.hpp>

#include <cstdint>
#include <string>

namespace Catch {
template <>
struct StringMaker<ipckit::errc> {
    static std::string convert(ipckit::errc e) { return "errc(" + ipckit::make_error_code(e).message() + ")"; }
};
}  // namespace Catch

namespace ipckit_test {

/// A message numbered seq, with a check word that depends on it.
struct tick {
    std::uint64_t seq;
    std::uint64_t check;  // check_of(seq)
};
constexpr std::uint64_t check_of(std::uint64_t seq) noexcept { return (seq + 1) * 0x9E3779B97F4A7C15ULL; }
constexpr tick make_tick(std::uint64_t seq) noexcept { return {seq, check_of(seq)}; }

/// splitmix64's finaliser: a well-mixed word from x, for payloads and checksums.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/// The errc of a status or result: ok, or its error.
template <class R>
ipckit::errc err(const R& r) {
    return r ? ipckit::errc::ok : r.error();
}

}  // namespace ipckit_test
