#pragma once
// What producer, consumer and demo share: the message and its payload, the command line, the
// step from flags chosen at run time to the queue type fixed at compile time, and the report.
//
// Only ipckit's public API is used here; copy this file along with the programs.

#include <ipckit/ipckit.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace example {

using clock = std::chrono::steady_clock;

// ---- The message ----------------------------------------------------------------------------

/// Who sent a message and which of theirs it is, and the checksum over that and the payload.
/// Every message starts with one.
struct stamp {
    std::uint64_t seq;       // 0, 1, 2, ... in the order its producer sent them
    std::uint32_t producer;  // the producer's --id, 0 .. P-1
    std::uint32_t checksum;  // of the above, the payload length and the payload
};

inline constexpr std::size_t min_size = 8;
inline constexpr std::size_t max_size = 65536;

/// The payload of message `seq` of `producer`, as 8-byte words: first_word, then + word_step
/// each. It differs between neighbouring messages, producers and words, so a stale, torn,
/// shifted or misattributed payload shows.
constexpr std::uint64_t first_word(std::uint64_t seq, std::uint32_t producer) noexcept {
    return ((seq + 1) * 0xd6e8feb86659fd93ULL) ^ ((producer + 1ULL) * 0xa0761d6478bd642fULL);
}
inline constexpr std::uint64_t word_step = 0x9e3779b97f4a7c15ULL;

/// Fletcher-style over 8-byte words (the last one zero-padded), starting from `seed`: `a` sums
/// the words and `b` sums the running `a`, so swapped words change it too.
inline std::uint32_t checksum(std::uint64_t seed, const std::byte* p, std::size_t n) noexcept {
    std::uint64_t a = seed;
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

/// Writes the payload of message `id` into payload[0, n) and sets id.checksum.
inline void seal(stamp& id, std::byte* payload, std::size_t n) noexcept {
    const std::uint64_t first = first_word(id.seq, id.producer);
    std::uint64_t w = first;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8, w += word_step) std::memcpy(payload + i, &w, 8);
    std::memcpy(payload + i, &w, n - i);  // the rest of a size that is not a multiple of 8
    id.checksum = checksum(first ^ n, payload, n);
}

/// Whether payload[0, n) and the checksum are those seal() made for `id`.
inline bool sealed(const stamp& id, const std::byte* payload, std::size_t n) noexcept {
    const std::uint64_t first = first_word(id.seq, id.producer);
    if (id.checksum != checksum(first ^ n, payload, n)) return false;
    std::uint64_t w = first;
    std::uint64_t diff = 0;  // no early exit: the compiler can then compare several words at once
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8, w += word_step) {
        std::uint64_t got;
        std::memcpy(&got, payload + i, 8);
        diff |= got ^ w;
    }
    return diff == 0 && std::memcmp(payload + i, &w, n - i) == 0;
}

/// A fixed-size message. A queue carries one type, so the programs compile a few payload sizes
/// and --size picks the smallest that fits; the first `size` payload bytes are meaningful.
template <std::size_t PayloadBytes>
struct sample {
    stamp id;
    std::byte payload[PayloadBytes];
};

/// A variable-size message: --size bytes, of which the first sizeof(stamp) are its stamp.
using variable = ipckit::bytes<max_size>;

/// One message as the programs make, send, receive and check it, whatever Queue carries: a
/// sample<P> (sent and received whole), or `variable` (a span of exactly --size bytes).
template <class Queue, bool Bytes = ipckit::is_bytes<typename Queue::message_type>>
class envelope {
public:
    void make(std::uint64_t seq, std::uint32_t producer, std::size_t size) noexcept {
        m_.id = {seq, producer, 0};
        seal(m_.id, m_.payload, size);
    }
    template <class Sender>
    ipckit::status send(Sender& tx) const noexcept {
        return tx.send(m_);
    }
    // receive(m) fills m in place; receive() would return it by value, a second copy of up to
    // 64 KiB for the large sizes.
    template <class Receiver>
    ipckit::status receive(Receiver& rx) noexcept {
        return rx.receive(m_);
    }
    [[nodiscard]] stamp id() const noexcept { return m_.id; }
    [[nodiscard]] bool intact(std::size_t size) const noexcept { return sealed(m_.id, m_.payload, size); }

private:
    typename Queue::message_type m_{};
};

template <class Queue>
class envelope<Queue, true> {
public:
    void make(std::uint64_t seq, std::uint32_t producer, std::size_t size) noexcept {
        stamp id{seq, producer, 0};
        seal(id, buffer_.data() + sizeof id, size - sizeof id);
        std::memcpy(buffer_.data(), &id, sizeof id);
        length_ = size;
    }
    template <class Sender>
    ipckit::status send(Sender& tx) const noexcept {
        return tx.send(std::span<const std::byte>(buffer_.data(), length_));
    }
    template <class Receiver>
    ipckit::status receive(Receiver& rx) noexcept {
        const ipckit::result<std::size_t> n = rx.receive(std::span<std::byte>(buffer_));
        if (!n) return ipckit::unexpected(n.error());
        length_ = *n;
        return {};
    }
    [[nodiscard]] stamp id() const noexcept {
        stamp id{};
        if (length_ >= sizeof id) std::memcpy(&id, buffer_.data(), sizeof id);
        return id;
    }
    [[nodiscard]] bool intact(std::size_t size) const noexcept {
        return length_ == size && sealed(id(), buffer_.data() + sizeof(stamp), size - sizeof(stamp));
    }

private:
    std::vector<std::byte> buffer_ = std::vector<std::byte>(max_size);
    std::size_t length_ = 0;
};

// ---- What can be chosen ---------------------------------------------------------------------

enum class wait_kind { spin, futex, adaptive };
enum class message_kind { fixed, bytes };
enum class capacity_kind {
    ring,       // the default: about 2 MiB (ring_slots<P> for fixed messages)
    given,      // --capacity N, rounded up to one of the compiled capacities
    zero,       // a rendezvous
    unbounded,  // a chain of chunks
};

/// Slots in the default ring for payloads of P bytes: about 2 MiB of ring, at most 4096 slots,
/// at least 16, and a power of two (so that finding slot index % N is cheap).
template <std::size_t P>
inline constexpr std::size_t ring_slots =
    std::bit_floor(std::clamp<std::size_t>((std::size_t{2} << 20) / sizeof(sample<P>), 16, 4096));

/// The capacities --capacity N can pick (the first that is >= N): messages for fixed messages,
/// bytes of ring for variable-size ones (bounded<N> counts bytes there). Each one is compiled
/// into a dozen queue types (see with_queue_type), so there are few. The middle byte ring is
/// also the default one.
inline constexpr std::array<std::size_t, 3> fixed_capacities{64, 1024, 4096};
inline constexpr std::array<std::size_t, 3> byte_rings{std::size_t{128} << 10, std::size_t{2} << 20,
                                                       std::size_t{32} << 20};

/// Producers and consumers: single, or ipckit::multi, which has room for 64 endpoints a side.
/// The demo holds one sender place itself while several producers start (see demo.cpp).
inline constexpr unsigned max_producers = 63;
inline constexpr unsigned max_consumers = 64;

/// Whether this build of ipckit has unbounded queues.
#if __has_include(<ipckit/detail/queue/unbounded.hpp>)
inline constexpr bool unbounded_offered = true;
#else
inline constexpr bool unbounded_offered = false;
#endif

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
    std::uint64_t count = 10'000'000;  // per producer
    bool count_given = false;          // the consumer counts the messages it never saw only if told
    std::size_t size = 8;
    wait_kind wait = wait_kind::adaptive;
    unsigned producers = 1;
    unsigned consumers = 1;
    unsigned id = 0;  // the producer's
    message_kind message = message_kind::fixed;
    capacity_kind capacity = capacity_kind::ring;
    std::size_t capacity_n = 0;  // for capacity_kind::given: one of fixed_capacities or byte_rings
};

/// The flags that give `s` to another of the programs (the demo passes its own on; it adds
/// --id for each producer).
inline std::vector<std::string> to_flags(const settings& s) {
    std::vector<std::string> f{"--name",      s.name,
                               "--count",     std::to_string(s.count),
                               "--size",      std::to_string(s.size),
                               "--wait",      std::string(to_string(s.wait)),
                               "--producers", std::to_string(s.producers),
                               "--consumers", std::to_string(s.consumers),
                               "--message",   s.message == message_kind::bytes ? "bytes" : "fixed"};
    if (s.capacity != capacity_kind::ring) {
        f.emplace_back("--capacity");
        f.push_back(s.capacity == capacity_kind::zero        ? "zero"
                    : s.capacity == capacity_kind::unbounded ? "unbounded"
                                                             : std::to_string(s.capacity_n));
    }
    return f;
}

/// How one program describes itself in --help.
struct program {
    std::string_view name;        // "producer"
    std::string_view summary;     // a sentence or two
    std::string_view count_help;  // what --count means to it
    bool takes_id = false;        // the producer's --id
};

/// "64, 1024 or 4096", or "128 KiB, 2 MiB or 32 MiB" with `in_bytes`.
inline std::string list(const std::array<std::size_t, 3>& v, bool in_bytes = false) {
    auto one = [&](std::size_t n) {
        if (!in_bytes) return std::to_string(n);
        return n >= (std::size_t{1} << 20) ? std::to_string(n >> 20) + " MiB" : std::to_string(n >> 10) + " KiB";
    };
    return one(v[0]) + ", " + one(v[1]) + " or " + one(v[2]);
}

inline void print_usage(std::ostream& out, const program& p) {
    const std::string indent(p.name.size() + 8, ' ');
    out << "usage: " << p.name << " [--name NAME] [--count N] [--size BYTES] [--wait spin|futex|adaptive]\n"
        << indent << "[--producers P] [--consumers C] [--capacity zero|N|unbounded]\n"
        << indent << "[--message fixed|bytes]" << (p.takes_id ? " [--id K]" : "") << "\n\n"
        << p.summary << "\n\n"
        << "  --name NAME       the queue's name (default ipckit-demo)\n"
        << "  --count N         " << p.count_help << "\n"
        << "  --size BYTES      bytes per message, " << min_size << " to " << max_size
        << " (default 8): with fixed messages, the payload\n"
        << "                    after the " << sizeof(stamp)
        << "-byte stamp (seq, producer, checksum); with bytes, the whole\n"
        << "                    message, stamp included, so " << sizeof(stamp) << " or more (default " << sizeof(stamp)
        << ")\n"
        << "  --producers P     producers, 1 to " << max_producers
        << " (default 1; a multi queue has 64 places, the demo keeps one)\n"
        << "  --consumers C     consumers, 1 to " << max_consumers
        << " (default 1); each message goes to one of them\n"
        << "  --capacity CAP    what the queue holds. By default, a ring of about 2 MiB: for fixed\n"
        << "                    messages, 4096 of up to 256 bytes, 1024 up to 1 KiB, 256 up to 4 KiB,\n"
        << "                    64 up to 16 KiB, 16 above; for bytes, " << (byte_rings[1] >> 20) << " MiB. Or:\n"
        << "                      N          the first compiled capacity >= N: " << list(fixed_capacities)
        << "\n"
        << "                                 messages; for bytes " << list(byte_rings, true) << " of ring\n"
        << "                      zero       no buffer: a send waits until a consumer takes the\n"
        << "                                 message (fixed messages only)\n"
        << "                      unbounded  grows by 1 MiB chunks as needed, the producers never wait\n"
        << "                                 (fixed messages, one consumer)"
        << (unbounded_offered ? "" : "; not in this build") << "\n"
        << "  --message KIND    fixed (a struct of a fixed size; the default) or bytes (variable-size\n"
        << "                    messages of up to 64 KiB over a byte ring; one consumer)\n"
        << "  --wait POLICY     how a blocked send or receive waits: spin (burns a core), futex (sleeps\n"
        << "                    at once) or adaptive (spins briefly, then sleeps; the default)\n";
    if (p.takes_id)
        out << "  --id K            this producer's id, 0 to P-1 (default 0): start one producer per id\n";
    out << "  --help            show this and exit\n\n"
        << "Every program on one queue needs the same --size, --producers, --consumers, --capacity and\n"
        << "--message: they make the queue's type; --wait may differ. Not every combination is compiled,\n"
        << "to keep the build short: a fixed message holds a payload of 8, 64, 256, 1 Ki, 4 Ki, 16 Ki\n"
        << "or 64 Ki bytes (the smallest that holds --size) with one producer and one consumer at the\n"
        << "default capacity, and of 8, 1 Ki or 64 Ki bytes otherwise; spin and futex are there for one\n"
        << "producer, one consumer and the default capacity, adaptive for everything; and a queue of zero\n"
        << "or N capacity with several producers or consumers is multi on both sides.\n";
}

/// Parses the flags every example takes, as `--flag VALUE` or `--flag=VALUE`. Exits with 0 after
/// --help, and with 2 and a message on stderr at a flag, value or combination it cannot use.
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
    constexpr std::string_view flags[] = {"--name",      "--count",    "--size",    "--wait", "--producers",
                                          "--consumers", "--capacity", "--message", "--id"};

    settings s;
    bool size_given = false;
    std::uint64_t capacity_asked = 0;  // --capacity N
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
        if (std::ranges::find(flags, flag) == std::end(flags) || (flag == "--id" && !p.takes_id))
            fail(flag.starts_with("-") ? "unknown option " + std::string(flag)
                                       : "unexpected argument '" + std::string(flag) + "'",
                 true);
        if (!has_value) {
            if (i + 1 == argc) fail(std::string(flag) + " needs a value");
            value = argv[++i];
        }
        const std::string given = std::string(flag) + " " + std::string(value) + ": ";

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
            size_given = true;
        } else if (flag == "--wait") {
            if (value == "spin")
                s.wait = wait_kind::spin;
            else if (value == "futex")
                s.wait = wait_kind::futex;
            else if (value == "adaptive")
                s.wait = wait_kind::adaptive;
            else
                fail(given + "must be spin, futex or adaptive");
        } else if (flag == "--producers") {
            s.producers = static_cast<unsigned>(number(flag, value, 1, max_producers));
        } else if (flag == "--consumers") {
            s.consumers = static_cast<unsigned>(number(flag, value, 1, max_consumers));
        } else if (flag == "--id") {
            s.id = static_cast<unsigned>(number(flag, value, 0, max_producers - 1));
        } else if (flag == "--message") {
            if (value == "fixed")
                s.message = message_kind::fixed;
            else if (value == "bytes")
                s.message = message_kind::bytes;
            else
                fail(given + "must be fixed or bytes");
        } else if (flag == "--capacity") {
            if (value == "zero" || value == "0") {
                s.capacity = capacity_kind::zero;
            } else if (value == "unbounded") {
                s.capacity = capacity_kind::unbounded;
            } else {
                if (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos)
                    fail(given + "must be zero, unbounded or a number");
                s.capacity = capacity_kind::given;
                capacity_asked = number(flag, value, 1, std::uint64_t{1} << 40);
            }
        }
    }

    // What each flag means depends on the others: check them together.
    const bool bytes = s.message == message_kind::bytes;
    if (bytes && !size_given) s.size = sizeof(stamp);
    if (s.id >= s.producers)
        fail("--id " + std::to_string(s.id) + ": must be below --producers (" + std::to_string(s.producers) + ")");
    if (bytes && s.size < sizeof(stamp))
        fail("--size " + std::to_string(s.size) + " --message bytes: a bytes message starts with its " +
             std::to_string(sizeof(stamp)) + "-byte stamp (seq, producer, checksum), so --size must be " +
             std::to_string(sizeof(stamp)) + " or more");
    if (bytes && s.consumers > 1)
        fail("--message bytes --consumers " + std::to_string(s.consumers) +
             ": ipckit offers queues of variable-size messages with one consumer only (their records are "
             "freed in ring order, so several consumers would each wait for the slowest). Use --message fixed "
             "for several consumers");
    if (bytes && s.capacity == capacity_kind::zero)
        fail("--message bytes --capacity zero: ipckit does not offer a rendezvous of variable-size messages. "
             "Use --message fixed, or a bounded capacity");
    if (bytes && s.capacity == capacity_kind::unbounded)
        fail("--message bytes --capacity unbounded: ipckit does not offer unbounded queues of variable-size "
             "messages. Use --message fixed, or a bounded capacity");
    if (s.capacity == capacity_kind::unbounded && !unbounded_offered)
        fail("--capacity unbounded: not available in this build of ipckit");
    if (s.capacity == capacity_kind::unbounded && s.consumers > 1)
        fail("--capacity unbounded --consumers " + std::to_string(s.consumers) +
             ": an unbounded queue has one consumer (it frees each chunk once it has read it, in order). Use a "
             "bounded capacity for several consumers");
    if (s.capacity == capacity_kind::given) {
        const auto& compiled = bytes ? byte_rings : fixed_capacities;
        const auto it = std::ranges::find_if(compiled, [&](std::size_t c) { return c >= capacity_asked; });
        if (it == compiled.end())
            fail("--capacity " + std::to_string(capacity_asked) + ": the largest compiled capacity is " +
                 std::to_string(compiled.back()) + (bytes ? " bytes" : " messages") + " (" +
                 (bytes ? list(byte_rings, true) + ")" : list(fixed_capacities) + "); or use --capacity unbounded"));
        s.capacity_n = *it;
    }
    if (s.wait != wait_kind::adaptive &&
        (s.capacity != capacity_kind::ring || s.producers > 1 || s.consumers > 1))
        fail("--wait " + std::string(to_string(s.wait)) +
             ": spin and futex are compiled only for one producer, one consumer and the default capacity (to keep "
             "the build short); use --wait adaptive here");
    return s;
}

// ---- From run-time flags to a compile-time type ---------------------------------------------

template <class T>
inline constexpr std::type_identity<T> type{};
template <std::size_t N>
inline constexpr std::integral_constant<std::size_t, N> size_c{};

/// Calls f(std::type_identity<Q>{}) with Q the queue type that the flags in `s` describe, and
/// returns what f returns. f is written once, as a template lambda:
///
///   with_queue_type(s, [&]<class Q>(std::type_identity<Q>) { return run<Q>(s); });
///
/// and compiled for every type this can choose, each of them
///   ipckit::queue<Message, Capacity, Producers, Consumers, Wait, ipckit::system_owned>
/// system_owned: the queue and the messages in it outlive the process that created it, so a
/// producer may start (and even finish, if the queue holds everything) before the consumer,
/// who removes it at the end.
///
/// Every type costs build time (a quarter to half a second each, in each program), so not every
/// combination is compiled:
///   default capacity  one producer, one consumer: 7 payload sizes (8 B to 64 KiB) x all 3
///                     wait policies; several on either side: 3 payload sizes (8 B, 1 KiB,
///                     64 KiB) x single or multi producers x single or multi consumers, adaptive
///   N, zero           3 payload sizes x one of each, or multi on both sides; adaptive
///   unbounded         3 payload sizes x producers, one consumer; adaptive
///   bytes             3 rings x producers, one consumer; adaptive, but all 3 policies for the
///                     default ring with one producer
/// which is 64 types. A program that never waits on its handle (the demo) passes OnlyWait
/// (ipckit::adaptive) to compile fewer: the wait policy is not part of the queue's layout, so
/// each program on a queue may choose its own. For the same reason the payload size and the
/// sides never depend on --wait.
template <class OnlyWait = void, class F>
int with_queue_type(const settings& s, F&& f) {
    using ipckit::multi, ipckit::single;
    constexpr std::true_type every_wait{}, all_sizes{};
    constexpr std::false_type adaptive_only{}, few_sizes{};

    // Last, the wait policy. parse_command_line refused spin and futex where they are not compiled.
    auto wait = [&]<class M, class Capacity, class P, class C, bool EveryWait>(
                    std::type_identity<M>, std::type_identity<Capacity>, std::type_identity<P>, std::type_identity<C>,
                    std::bool_constant<EveryWait>) {
        auto make = [&]<class W>(std::type_identity<W>) {
            return f(type<ipckit::queue<M, Capacity, P, C, W, ipckit::system_owned>>);
        };
        if constexpr (!std::is_void_v<OnlyWait>) {
            return make(type<OnlyWait>);
        } else {
            if constexpr (EveryWait) {
                if (s.wait == wait_kind::spin) return make(type<ipckit::spin>);
                if (s.wait == wait_kind::futex) return make(type<ipckit::futex>);
            }
            return make(type<ipckit::adaptive>);
        }
    };
    // Producers and consumers: single, or multi where there are several (each_side), where
    // there are several producers (one_consumer), or on both sides where either side has
    // several (both_or_neither). Every wait policy for one of each, if the capacity has them.
    enum class offered { each_side, one_consumer, both_or_neither };
    constexpr std::integral_constant<offered, offered::each_side> each_side{};
    constexpr std::integral_constant<offered, offered::one_consumer> one_consumer{};
    constexpr std::integral_constant<offered, offered::both_or_neither> both_or_neither{};
    auto sides = [&]<class M, class Capacity, offered Sides, bool EveryWait>(
                     std::type_identity<M> m, std::type_identity<Capacity> c, std::integral_constant<offered, Sides>,
                     std::bool_constant<EveryWait> waits) {
        if (s.producers == 1 && s.consumers == 1) return wait(m, c, type<single>, type<single>, waits);
        if constexpr (Sides == offered::both_or_neither) {
            return wait(m, c, type<multi>, type<multi>, adaptive_only);
        } else {
            auto consumers = [&]<class P>(std::type_identity<P> p) {
                if constexpr (Sides == offered::each_side)
                    if (s.consumers > 1) return wait(m, c, p, type<multi>, adaptive_only);
                return wait(m, c, p, type<single>, adaptive_only);
            };
            return s.producers > 1 ? consumers(type<multi>) : consumers(type<single>);
        }
    };
    // The payload size of a fixed message: the smallest class that holds --size bytes.
    auto payload = [&]<bool AllSizes>(std::bool_constant<AllSizes>, auto next) {
        if (s.size <= 8) return next(size_c<8>);
        if constexpr (AllSizes) {
            if (s.size <= 64) return next(size_c<64>);
            if (s.size <= 256) return next(size_c<256>);
        }
        if (s.size <= 1024) return next(size_c<1024>);
        if constexpr (AllSizes) {
            if (s.size <= 4096) return next(size_c<4096>);
            if (s.size <= 16384) return next(size_c<16384>);
        }
        return next(size_c<max_size>);
    };

    // First, the message and the capacity.
    if (s.message == message_kind::bytes) {
        constexpr auto m = type<variable>;
        if (s.capacity == capacity_kind::ring)
            return sides(m, type<ipckit::bounded<byte_rings[1]>>, one_consumer, every_wait);
        if (s.capacity_n == byte_rings[0])
            return sides(m, type<ipckit::bounded<byte_rings[0]>>, one_consumer, adaptive_only);
        if (s.capacity_n == byte_rings[1])
            return sides(m, type<ipckit::bounded<byte_rings[1]>>, one_consumer, adaptive_only);
        return sides(m, type<ipckit::bounded<byte_rings[2]>>, one_consumer, adaptive_only);
    }
    switch (s.capacity) {
    case capacity_kind::ring:
        if (s.producers == 1 && s.consumers == 1) {
            return payload(all_sizes, [&]<std::size_t P>(std::integral_constant<std::size_t, P>) {
                return wait(type<sample<P>>, type<ipckit::bounded<ring_slots<P>>>, type<single>, type<single>,
                            every_wait);
            });
        }
        return payload(few_sizes, [&]<std::size_t P>(std::integral_constant<std::size_t, P>) {
            return sides(type<sample<P>>, type<ipckit::bounded<ring_slots<P>>>, each_side, adaptive_only);
        });
    case capacity_kind::zero:
        return payload(few_sizes, [&]<std::size_t P>(std::integral_constant<std::size_t, P>) {
            return sides(type<sample<P>>, type<ipckit::zero_capacity>, both_or_neither, adaptive_only);
        });
    case capacity_kind::unbounded:
        if constexpr (unbounded_offered) {
            return payload(few_sizes, [&]<std::size_t P>(std::integral_constant<std::size_t, P>) {
                return sides(type<sample<P>>, type<ipckit::unbounded<>>, one_consumer, adaptive_only);
            });
        }
        break;  // parse_command_line said it is not there
    case capacity_kind::given: break;
    }
    return payload(few_sizes, [&]<std::size_t P>(std::integral_constant<std::size_t, P>) {
        constexpr auto m = type<sample<P>>;
        if (s.capacity_n == fixed_capacities[0])
            return sides(m, type<ipckit::bounded<fixed_capacities[0]>>, both_or_neither, adaptive_only);
        if (s.capacity_n == fixed_capacities[1])
            return sides(m, type<ipckit::bounded<fixed_capacities[1]>>, both_or_neither, adaptive_only);
        return sides(m, type<ipckit::bounded<fixed_capacities[2]>>, both_or_neither, adaptive_only);
    });
}

// ---- Reporting ------------------------------------------------------------------------------

/// "1234567 msg/s, 9.9 MB/s" for `messages` of `size` bytes in `seconds`.
inline std::string throughput(double messages, std::size_t size, double seconds) {
    if (seconds <= 0) return "too short to time";
    std::ostringstream out;
    out << std::fixed << std::setprecision(0) << messages / seconds << " msg/s, " << std::setprecision(1)
        << messages * static_cast<double>(size) / seconds / 1e6 << " MB/s";
    return out.str();
}
inline std::string throughput(std::uint64_t messages, std::size_t size, clock::duration elapsed) {
    return throughput(static_cast<double>(messages), size, std::chrono::duration<double>(elapsed).count());
}

inline std::string seconds(double s) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(3) << s << " s";
    return out.str();
}
inline std::string seconds(clock::duration elapsed) { return seconds(std::chrono::duration<double>(elapsed).count()); }

/// What an errc means, in words ("closed by the peer").
inline std::string describe(ipckit::errc e) { return ipckit::make_error_code(e).message(); }

/// What a consumer reports at the end, in two lines:
///   received N messages, L lost, O out of order, C corrupt
///   throughput: R msg/s, B MB/s over T s, from the first message to the last
/// The demo reads them back from each consumer to add them up.
struct report {
    std::uint64_t received = 0, lost = 0, out_of_order = 0, corrupt = 0;
    std::uint64_t timed = 0;  // messages between the first one and the last (received - 1, or fewer)
    double seconds = 0;       // from the first to the last

    void print(std::ostream& out, std::size_t size) const {
        out << "received " << received << " messages, " << lost << " lost, " << out_of_order << " out of order, "
            << corrupt << " corrupt\n";
        if (timed > 0 && seconds > 0)
            out << "throughput: " << throughput(static_cast<double>(timed), size, seconds) << " over "
                << example::seconds(seconds) << ", from the first message to the last\n";
        else
            out << "throughput: too few messages to time\n";
    }

    /// The report in `text` (what print wrote), if there is one. The message count over the time
    /// comes back as well as the printed rate allows.
    static std::optional<report> parse(const std::string& text) {
        report r;
        const auto at = text.find("received ");
        if (at == std::string::npos ||
            std::sscanf(text.c_str() + at, "received %" SCNu64 " messages, %" SCNu64 " lost, %" SCNu64
                                           " out of order, %" SCNu64 " corrupt",
                        &r.received, &r.lost, &r.out_of_order, &r.corrupt) != 4)
            return std::nullopt;
        double rate = 0;
        if (const auto t = text.find("throughput: "); t != std::string::npos &&
            std::sscanf(text.c_str() + t, "throughput: %lf msg/s, %*f MB/s over %lf s", &rate, &r.seconds) == 2)
            r.timed = static_cast<std::uint64_t>(rate * r.seconds + 0.5);
        else
            r.seconds = 0;
        return r;
    }
};

}  // namespace example
