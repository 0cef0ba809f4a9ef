#pragma once
// What producer, consumer and demo share: the message and its payload, the command line, and
// the step from flags chosen at run time to the queue type fixed at compile time.
//
// Only ipckit's public API is used here; copy this file along with the programs.

#include <ipckit/ipckit.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace example {

using clock = std::chrono::steady_clock;

// ---- The message ----------------------------------------------------------------------------

/// One message. A queue carries one fixed-size type, so the programs compile a few payload
/// sizes and --size picks the smallest that fits; the first `size` payload bytes are meaningful.
template <std::size_t PayloadBytes>
struct sample {
    std::uint64_t seq;       // 0, 1, 2, ... in the order sent
    std::uint32_t size;      // meaningful bytes in payload
    std::uint32_t checksum;  // of payload[0, size)
    std::byte payload[PayloadBytes];
};

inline constexpr std::size_t min_size = 8;
inline constexpr std::size_t max_size = 65536;

/// The payload of message `seq`, as 8-byte words: first_word(seq), then + word_step each. It
/// differs between neighbouring messages and neighbouring words, so a stale, torn or shifted
/// payload shows.
constexpr std::uint64_t first_word(std::uint64_t seq) noexcept { return (seq + 1) * 0xd6e8feb86659fd93ULL; }
inline constexpr std::uint64_t word_step = 0x9e3779b97f4a7c15ULL;

/// Fletcher-style over 8-byte words (the last one zero-padded): `a` sums the words and `b` sums
/// the running `a`, so swapped words change it too.
inline std::uint32_t checksum(const std::byte* p, std::size_t n) noexcept {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);  // a fixed size: one load
        a += w;
        b += a;
    }
    if (i < n) {
        std::uint64_t w = 0;
        std::memcpy(&w, p + i, n - i);
        a += w;
        b += a;
    }
    const std::uint64_t h = a ^ (b * 31);
    return static_cast<std::uint32_t>(h ^ (h >> 32));
}

/// Makes `m` message number `seq` with `size` meaningful payload bytes.
template <std::size_t P>
void fill(sample<P>& m, std::uint64_t seq, std::size_t size) noexcept {
    m.seq = seq;
    m.size = static_cast<std::uint32_t>(size);
    std::uint64_t w = first_word(seq);
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8, w += word_step) std::memcpy(m.payload + i, &w, 8);
    std::memcpy(m.payload + i, &w, size - i);  // the rest of a size that is not a multiple of 8
    m.checksum = checksum(m.payload, size);
}

/// Whether `m` is intact: `size` payload bytes, a matching checksum, and the payload fill made
/// for its seq.
template <std::size_t P>
bool intact(const sample<P>& m, std::size_t size) noexcept {
    if (m.size != size || m.checksum != checksum(m.payload, size)) return false;
    std::uint64_t w = first_word(m.seq);
    std::uint64_t diff = 0;  // no early exit: the compiler can then compare several words at once
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8, w += word_step) {
        std::uint64_t got;
        std::memcpy(&got, m.payload + i, 8);
        diff |= got ^ w;
    }
    return diff == 0 && std::memcmp(m.payload + i, &w, size - i) == 0;
}

// ---- The queue ------------------------------------------------------------------------------

/// Slots in the ring for payloads of P bytes: about 2 MiB of ring, at most 4096 slots, at least
/// 16, and a power of two (so that finding slot index % N is cheap).
template <std::size_t P>
inline constexpr std::size_t ring_slots =
    std::bit_floor(std::clamp<std::size_t>((std::size_t{2} << 20) / sizeof(sample<P>), 16, 4096));

/// system_owned: the queue and the messages in it outlive the process that created it, so a
/// producer may start (and even finish, if the queue holds everything) before the consumer.
/// The consumer removes it at the end. Both sides must agree on everything but Wait: the
/// message type and capacity are checked when a program opens the queue, but each side may wait
/// in its own way.
template <std::size_t P, class Wait>
using sample_queue =
    ipckit::queue<sample<P>, ipckit::bounded<ring_slots<P>>, ipckit::single, ipckit::single, Wait,
                  ipckit::system_owned>;

enum class wait_kind { spin, futex, adaptive };

inline std::string_view to_string(wait_kind w) noexcept {
    switch (w) {
    case wait_kind::spin: return "spin";
    case wait_kind::futex: return "futex";
    case wait_kind::adaptive: break;
    }
    return "adaptive";
}

// ---- The command line -----------------------------------------------------------------------

struct settings {
    std::string name = "ipckit-demo";
    std::uint64_t count = 10'000'000;
    bool count_given = false;  // the consumer counts the messages it never saw only if told
    std::size_t size = 8;
    wait_kind wait = wait_kind::adaptive;
};

/// The flags that give `s` to another of the programs (the demo passes its own on).
inline std::vector<std::string> to_flags(const settings& s) {
    return {"--name", s.name, "--count", std::to_string(s.count), "--size", std::to_string(s.size),
            "--wait", std::string(to_string(s.wait))};
}

/// How one program describes itself in --help.
struct program {
    std::string_view name;        // "producer"
    std::string_view summary;     // a sentence or two
    std::string_view count_help;  // what --count means to it
};

inline void print_usage(std::ostream& out, const program& p) {
    out << "usage: " << p.name << " [--name NAME] [--count N] [--size BYTES] [--wait spin|futex|adaptive]\n\n"
        << p.summary << "\n\n"
        << "  --name NAME    the queue's name (default ipckit-demo)\n"
        << "  --count N      " << p.count_help << "\n"
        << "  --size BYTES   payload bytes per message, " << min_size << " to " << max_size
        << " (default 8); give the\n"
        << "                 producer and the consumer the same size\n"
        << "  --wait POLICY  how a blocked send or receive waits: spin (burns a core), futex\n"
        << "                 (sleeps at once) or adaptive (spins briefly, then sleeps; the default)\n"
        << "  --help         show this and exit\n";
}

/// Parses the flags every example takes, as `--flag VALUE` or `--flag=VALUE`. Exits with 0 after
/// --help, and with 2 and a message on stderr at a flag or value it cannot use.
inline settings parse_command_line(int argc, char** argv, const program& p) {
    auto fail = [&](const std::string& why, bool show_usage = false) {
        std::cerr << p.name << ": " << why << '\n';
        if (show_usage) {
            std::cerr << '\n';
            print_usage(std::cerr, p);
        } else {
            std::cerr << "Run '" << p.name << " --help' for the options.\n";
        }
        std::exit(2);
    };
    auto number = [&](std::string_view flag, std::string_view text, std::uint64_t lo, std::uint64_t hi) {
        std::uint64_t v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        const std::string what = std::string(flag) + " " + std::string(text) + ": ";
        if (ec == std::errc::invalid_argument || end != text.data() + text.size()) fail(what + "not a number");
        if (ec == std::errc::result_out_of_range || v < lo || v > hi)
            fail(what + "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return v;
    };

    settings s;
    for (int i = 1; i < argc; ++i) {
        std::string_view flag = argv[i];
        std::string_view value;
        bool has_value = false;
        if (const auto eq = flag.find('='); flag.starts_with("--") && eq != std::string_view::npos) {
            value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
            has_value = true;
        }
        if (flag == "--help" || flag == "-h") {
            print_usage(std::cout, p);
            std::exit(0);
        }
        if (flag != "--name" && flag != "--count" && flag != "--size" && flag != "--wait")
            fail(flag.starts_with("-") ? "unknown option " + std::string(flag)
                                       : "unexpected argument '" + std::string(flag) + "'",
                 true);
        if (!has_value) {
            if (i + 1 == argc) fail(std::string(flag) + " needs a value");
            value = argv[++i];
        }

        if (flag == "--name") {
            s.name = value;
            // Any ipckit call that takes a name checks it and says what is wrong with it.
            try {
                (void)ipckit::segment_exists(s.name);
            } catch (const ipckit::error& e) {
                fail(e.what());
            }
        } else if (flag == "--count") {
            s.count = number(flag, value, 1, 1'000'000'000'000'000'000);
            s.count_given = true;
        } else if (flag == "--size") {
            s.size = number(flag, value, min_size, max_size);
        } else if (flag == "--wait") {
            if (value == "spin")
                s.wait = wait_kind::spin;
            else if (value == "futex")
                s.wait = wait_kind::futex;
            else if (value == "adaptive")
                s.wait = wait_kind::adaptive;
            else
                fail("--wait " + std::string(value) + ": must be spin, futex or adaptive");
        }
    }
    return s;
}

// ---- From run-time flags to a compile-time type ---------------------------------------------

template <class Wait, class F>
int with_size_class(std::size_t size, F& f) {
    if (size <= 8) return f(std::type_identity<sample_queue<8, Wait>>{});
    if (size <= 64) return f(std::type_identity<sample_queue<64, Wait>>{});
    if (size <= 256) return f(std::type_identity<sample_queue<256, Wait>>{});
    if (size <= 1024) return f(std::type_identity<sample_queue<1024, Wait>>{});
    if (size <= 4096) return f(std::type_identity<sample_queue<4096, Wait>>{});
    if (size <= 16384) return f(std::type_identity<sample_queue<16384, Wait>>{});
    return f(std::type_identity<sample_queue<max_size, Wait>>{});
}

/// Calls f(std::type_identity<Q>{}) with Q the queue type that fits s.size and s.wait, and
/// returns what f returns. f is written once, as a template lambda:
///
///   with_queue_type(s, [&]<class Q>(std::type_identity<Q>) { return run<Q>(s); });
///
/// and compiled for each of the 7 size classes times 3 wait policies.
template <class F>
int with_queue_type(const settings& s, F&& f) {
    switch (s.wait) {
    case wait_kind::spin: return with_size_class<ipckit::spin>(s.size, f);
    case wait_kind::futex: return with_size_class<ipckit::futex>(s.size, f);
    case wait_kind::adaptive: break;
    }
    return with_size_class<ipckit::adaptive>(s.size, f);
}

// ---- Reporting ------------------------------------------------------------------------------

/// "1234567 msg/s, 9.9 MB/s" for `messages` of `size` payload bytes in `elapsed`.
inline std::string throughput(std::uint64_t messages, std::size_t size, clock::duration elapsed) {
    const double seconds = std::chrono::duration<double>(elapsed).count();
    if (seconds <= 0) return "too short to time";
    std::ostringstream out;
    out << std::fixed << std::setprecision(0) << static_cast<double>(messages) / seconds << " msg/s, "
        << std::setprecision(1) << static_cast<double>(messages) * static_cast<double>(size) / seconds / 1e6
        << " MB/s";
    return out.str();
}

inline std::string seconds(clock::duration elapsed) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(3) << std::chrono::duration<double>(elapsed).count() << " s";
    return out.str();
}

/// What an errc means, in words ("closed by the peer").
inline std::string describe(ipckit::errc e) { return ipckit::make_error_code(e).message(); }

}  // namespace example
