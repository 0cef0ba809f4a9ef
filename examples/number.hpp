#pragma once
// A number on an example program's command line, checked: decimal digits only, all of the text,
// within the range the program can use. std::strtoull and std::atol, unchecked, read "-1" as
// 2^64 - 1, "10abc" as 10, "abc" as 0 and "99999999999999999999" as whatever they clamp it to.
//
// Only the standard library is used here; copy it along with the programs.

#include <charconv>
#include <concepts>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>

namespace example {

/// `text` as a whole number from `lo` to `hi`. Anything else (empty, a sign, a space, "10abc",
/// "0x10", beyond `hi`) calls `fail` with what was wrong, naming `what`, in the words every
/// example uses: "workers '0': must be a whole number from 1 to 64". `fail` ends the program (a
/// usage error: exit status 2); should it return, this exits with 2 itself.
template <std::invocable<const std::string&> Fail>
std::uint64_t number(std::string_view what, std::string_view text, std::uint64_t lo, std::uint64_t hi, Fail&& fail) {
    std::uint64_t v = 0;
    const char* const last = text.data() + text.size();
    const auto [end, ec] = std::from_chars(text.data(), last, v);
    if (ec == std::errc{} && end == last && v >= lo && v <= hi) return v;
    fail(std::string(what) + " '" + std::string(text) + "': must be a whole number from " + std::to_string(lo) +
         " to " + std::to_string(hi));
    std::exit(2);
}

}  // namespace example
