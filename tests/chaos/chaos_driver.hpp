#pragma once
// What the two chaos drivers (kill_random, fuzz_segments) share: their command line, the seed
// of each trial, the random numbers drawn from it, the verdict a trial reaches, and the loop
// that runs trials kind by kind and says how to reproduce a failure.
//
//   <driver> [--seed S] [--trials N] [--kind NAME] [--verbose] [--list-kinds]
//
// Trial i of a run with seed S runs with seed S + i, so `--seed S+i --trials 1 --kind K`
// reproduces it alone (as far as the scheduler lets a run of processes be reproduced).

#include <ipckit/detail/shm/layout.hpp>  // fnv1a

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace chaos {

// ---- random numbers -------------------------------------------------------------------------

/// splitmix64: small, fast, and the same sequence on every machine for a given seed.
class rng {
public:
    constexpr explicit rng(std::uint64_t seed) noexcept : state_(seed) {}
    constexpr std::uint64_t next() noexcept {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, n); 0 when n is 0.
    constexpr std::uint64_t below(std::uint64_t n) noexcept { return n == 0 ? 0 : next() % n; }
    /// Uniform in [lo, hi].
    std::uint64_t between(std::uint64_t lo, std::uint64_t hi) noexcept { return lo + below(hi - lo + 1); }
    /// True with probability percent / 100.
    bool percent(unsigned percent) noexcept { return below(100) < percent; }
    template <class T>
    const T& pick(const std::vector<T>& v) noexcept {
        return v[static_cast<std::size_t>(below(v.size()))];
    }

private:
    std::uint64_t state_;
};

// ---- a trial's verdict ----------------------------------------------------------------------

struct settings {
    std::uint64_t seed = 1;
    std::size_t trials = 10;
    std::string kind;  ///< empty: every kind
    bool verbose = false;
};

/// One trial: its seed and random numbers, and the failures it found. A failure says what was
/// checked and what happened.
class trial {
public:
    trial(const settings& s, std::string_view kind, std::size_t index, std::uint64_t seed)
        : settings_(&s), kind_(kind), index_(index), seed_(seed), rng_(seed ^ ipckit::detail::fnv1a(kind)) {}

    [[nodiscard]] rng& random() noexcept { return rng_; }
    [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }
    [[nodiscard]] const std::string& kind() const noexcept { return kind_; }
    [[nodiscard]] bool verbose() const noexcept { return settings_->verbose; }

    /// Records a failed check. Not fatal: a trial reports everything it finds.
    void fail(const std::string& what) { failures_.push_back(what); }
    /// Prints a line in --verbose runs.
    template <class... A>
    void note(const char* fmt, A... a) const {
        if (!verbose()) return;
        std::printf("    [%s #%zu] ", kind_.c_str(), index_);
        std::printf(fmt, a...);
        std::printf("\n");
        std::fflush(stdout);
    }

    [[nodiscard]] const std::vector<std::string>& failures() const noexcept { return failures_; }
    [[nodiscard]] std::size_t index() const noexcept { return index_; }

private:
    const settings* settings_;
    std::string kind_;
    std::size_t index_;
    std::uint64_t seed_;
    rng rng_;
    std::vector<std::string> failures_;
};

// ---- the command line and the loop ----------------------------------------------------------

/// One kind a driver knows: its name and how to run one trial of it.
struct kind_entry {
    std::string name;
    std::string what;
    std::function<void(trial&)> run;
};

inline void usage(const char* program, const char* purpose, const std::vector<kind_entry>& kinds, std::FILE* to) {
    std::fprintf(to,
                 "%s: %s\n\n"
                 "usage: %s [--seed S] [--trials N] [--kind NAME] [--verbose] [--list-kinds]\n"
                 "  --seed S       seed of the first trial (trial i runs with S + i); default 1\n"
                 "  --trials N     trials per kind; default 10\n"
                 "  --kind NAME    only this kind (default: every kind)\n"
                 "  --verbose      say what each trial does\n"
                 "  --list-kinds   print the kinds, one a line, and exit\n\n"
                 "kinds:\n",
                 program, purpose, program);
    for (const auto& k : kinds) std::fprintf(to, "  %-22s %s\n", k.name.c_str(), k.what.c_str());
}

/// Parses the command line, runs the trials, prints failures with the seed that reproduces each,
/// and returns main's exit code: 0 if no trial failed, 1 otherwise,
/// 2 on a usage error.
inline int run_driver(int argc, char** argv, const char* purpose, const std::vector<kind_entry>& kinds) {
    const char* program = argc > 0 ? argv[0] : "chaos";
    settings s;
    bool list = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s: %s needs a value\n", program, argv[i]);
                std::exit(2);
            }
            return argv[++i];
        };
        auto number = [&](std::string_view v) -> std::uint64_t {
            char* end = nullptr;
            const std::string text(v);
            const unsigned long long n = std::strtoull(text.c_str(), &end, 0);
            if (text.empty() || *end != '\0') {
                std::fprintf(stderr, "%s: '%s' is not a number\n", program, text.c_str());
                std::exit(2);
            }
            return n;
        };
        if (a == "--seed") {
            s.seed = number(value());
        } else if (a == "--trials") {
            s.trials = static_cast<std::size_t>(number(value()));
        } else if (a == "--kind") {
            s.kind = std::string(value());
        } else if (a == "--verbose") {
            s.verbose = true;
        } else if (a == "--list-kinds") {
            list = true;
        } else if (a == "--help" || a == "-h") {
            usage(program, purpose, kinds, stdout);
            return 0;
        } else {
            std::fprintf(stderr, "%s: unknown argument '%s'\n\n", program, argv[i]);
            usage(program, purpose, kinds, stderr);
            return 2;
        }
    }
    if (list) {
        for (const auto& k : kinds) std::printf("%s\n", k.name.c_str());
        return 0;
    }
    bool known_kind = s.kind.empty();
    for (const auto& k : kinds) known_kind = known_kind || k.name == s.kind;
    if (!known_kind) {
        std::fprintf(stderr, "%s: no kind '%s'\n\n", program, s.kind.c_str());
        usage(program, purpose, kinds, stderr);
        return 2;
    }

    std::size_t failed = 0, ran = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const auto& k : kinds) {
        if (!s.kind.empty() && k.name != s.kind) continue;
        std::size_t kind_failed = 0;
        const auto kind_start = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < s.trials; ++i) {
            trial t(s, k.name, i, s.seed + i);
            t.note("seed %llu", static_cast<unsigned long long>(t.seed()));
            k.run(t);
            ++ran;
            for (const auto& f : t.failures())
                std::printf("FAIL %s trial %zu seed %llu: %s\n", k.name.c_str(), i,
                            static_cast<unsigned long long>(t.seed()), f.c_str());
            if (!t.failures().empty()) {
                ++failed;
                ++kind_failed;
                std::printf("    reproduce: %s --kind %s --seed %llu --trials 1 --verbose\n", program, k.name.c_str(),
                            static_cast<unsigned long long>(t.seed()));
            }
            std::fflush(stdout);
        }
        const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - kind_start).count();
        std::printf("%-22s %zu trials, %zu failed, %.1f s\n", k.name.c_str(), s.trials, kind_failed, secs);
        std::fflush(stdout);
    }
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%zu trials (seeds %llu..%llu), %zu failed, %.1f s\n", ran, static_cast<unsigned long long>(s.seed),
                static_cast<unsigned long long>(s.seed + s.trials - 1), failed, secs);
    return failed == 0 ? 0 : 1;
}

}  // namespace chaos
