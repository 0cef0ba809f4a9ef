#pragma once
// What socket_server and socket_client share: the message they carry, and their command line.
//
// Only ipckit's public API is used here; copy this file along with the programs.

#include "number.hpp"

#include <ipckit/net.hpp>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace example {

/// Up to 64 KiB a message: a stamp and a sealed payload (common.hpp), echoed back whole.
inline constexpr std::size_t socket_max = 65536;
using socket_message = ipckit::bytes<socket_max>;

/// The value of `--name VALUE` or `--name=VALUE` in argv, if given.
inline std::optional<std::string> flag(int argc, char** argv, std::string_view name) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == name && i + 1 < argc) return std::string(argv[i + 1]);
        if (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=')
            return std::string(a.substr(name.size() + 1));
    }
    return std::nullopt;
}

/// A flag's value as a number in [low, high], `fallback` if it is not given; exits with 2 and
/// says why if it is not such a number.
inline std::size_t number_flag(int argc, char** argv, std::string_view name, std::size_t fallback, std::size_t low,
                               std::size_t high) {
    const auto v = flag(argc, argv, name);
    if (!v) return fallback;
    return static_cast<std::size_t>(number(name, *v, low, high, [](const std::string& why) {
        std::fprintf(stderr, "%s\n", why.c_str());
        std::exit(2);
    }));
}

/// Prints `usage` and exits with 0 after --help, or with 2 if `required` is missing.
inline void check_usage(int argc, char** argv, std::string_view required, const char* usage) {
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]) == "--help") {
            std::fputs(usage, stdout);
            std::exit(0);
        }
    if (!flag(argc, argv, required)) {
        std::fprintf(stderr, "%.*s ADDRESS is required\n\n%s", static_cast<int>(required.size()), required.data(), usage);
        std::exit(2);
    }
}

}  // namespace example
