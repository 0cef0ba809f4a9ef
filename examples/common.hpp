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

/// Whether Queue (a queue or a mailbox) carries variable-size messages: its sender sends a span
/// of bytes. (A mailbox's message_type is its ring's slot, not bytes<Max>, so ask the verb.)
template <class Queue>
concept carries_bytes = requires(decltype(std::declval<const Queue&>().sender())& tx, std::span<const std::byte> m) {
    tx.send(m);
};

/// One message as the programs make, send, receive and check it, whatever Queue carries: a
/// sample<P> (sent and received whole), or `variable` (a span of exactly --size bytes).
template <class Queue, bool Bytes = carries_bytes<Queue>>
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
//
// The programs show each kind of queue once, not every combination: every queue type they can
// choose is compiled into each of them, and each type costs build time (half a second or more
// per program on a small machine). The full matrix of message sizes, sides, capacities and wait
// policies is the benchmark's (bench/). Compiled here, 14 queue types and 8 mailbox types (one
// per delivery and message kind):
//
//   kind                  message                   producers x consumers   wait
//   default ring, 1 x 1   fixed: 8 B, 1 KiB, 64 KiB single x single         adaptive; spin and
//                                                                           futex at 8 B
//   default ring, several fixed: 8 B                multi x multi           adaptive
//   --capacity N          fixed: 8 B, 64 slots      single x single, or     adaptive
//                         (or 4096: the default)    multi x multi
//   --capacity zero       fixed: 8 B                the same                adaptive
//   --capacity unbounded  fixed: 8 B                single or multi x       adaptive
//                                                   single
//   --message bytes       any size, a 2 MiB ring    the same                adaptive
//     with --capacity zero or unbounded: a rendezvous, or a chain of 1 MiB chunks, as above
//   --mailbox DELIVERY    fixed: 8 B, 4096 slots;   up to 63 x 64 (exclusive: adaptive
//   (exclusive, any,      bytes: any size, 2 MiB    x 1), system_owned
//   round_robin,          of 64 KiB record slots
//   broadcast)
//
// Several producers or consumers make both sides multi where the kind allows it (an unbounded
// queue has one consumer; bytes with one consumer are a byte ring of multi producers, with
// several consumers record slots of 64 KiB, multi on both sides). The fixed payload sizes are size classes: --size
// goes into the smallest that holds it, and the consumer's report says which. Any other
// combination parse_command_line refuses, naming what is offered instead.

enum class wait_kind { spin, futex, adaptive };
enum class message_kind { fixed, bytes };
/// --mailbox: a system_owned ipckit::mailbox of this delivery instead of a queue (none: a queue).
enum class mailbox_kind { none, exclusive, any, round_robin, broadcast };
enum class capacity_kind {
    ring,       // the default: about 2 MiB (ring_slots(payload) for fixed messages)
    given,      // --capacity N, rounded up to one of the compiled capacities
    zero,       // a rendezvous
    unbounded,  // a chain of chunks
};

/// The payload sizes ("size classes") a fixed message is compiled in; --size picks the smallest
/// that holds it. All three with one producer, one consumer and the default capacity; the
/// first, the default --size, for every other kind.
inline constexpr std::array<std::size_t, 3> size_classes{8, 1024, max_size};

/// Slots in the default ring for fixed payloads of `payload` bytes (a sample<payload>): about
/// 2 MiB of ring, at most 4096 slots, at least 16, and a power of two (so that finding slot
/// index % N is cheap).
constexpr std::size_t ring_slots(std::size_t payload) noexcept {
    return std::bit_floor(std::clamp<std::size_t>((std::size_t{2} << 20) / (sizeof(stamp) + payload), 16, 4096));
}
static_assert(sizeof(sample<size_classes[0]>) == sizeof(stamp) + size_classes[0] &&
              sizeof(sample<size_classes[1]>) == sizeof(stamp) + size_classes[1] &&
              sizeof(sample<size_classes[2]>) == sizeof(stamp) + size_classes[2]);

/// The capacities --capacity N can pick, the first that is >= N: for fixed messages, a small ring
/// (where the producer feels the consumer's pace) or the default ring at 8 B; for variable-size
/// messages, bytes of ring (bounded<N> counts bytes there), the default one only.
inline constexpr std::array<std::size_t, 2> fixed_capacities{64, ring_slots(size_classes[0])};
inline constexpr std::size_t byte_ring = std::size_t{2} << 20;

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

inline std::string_view to_string(mailbox_kind m) noexcept {
    switch (m) {
    case mailbox_kind::exclusive: return "exclusive";
    case mailbox_kind::any: return "any";
    case mailbox_kind::round_robin: return "round_robin";
    case mailbox_kind::broadcast: return "broadcast";
    case mailbox_kind::none: break;
    }
    return "none";
}

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
    mailbox_kind mailbox = mailbox_kind::none;
    capacity_kind capacity = capacity_kind::ring;
    std::size_t capacity_n = 0;  // for capacity_kind::given: one of fixed_capacities, or byte_ring
    std::size_t payload = size_classes[0];  // the size class that carries --size, for fixed messages
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
    if (s.mailbox != mailbox_kind::none) {
        f.emplace_back("--mailbox");
        f.emplace_back(to_string(s.mailbox));
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

/// A size in bytes as people write it: "8 B", "1 KiB", "2 MiB".
inline std::string in_units(std::size_t n) {
    if (n >= (std::size_t{1} << 20) && n % (std::size_t{1} << 20) == 0) return std::to_string(n >> 20) + " MiB";
    if (n >= (std::size_t{1} << 10) && n % (std::size_t{1} << 10) == 0) return std::to_string(n >> 10) + " KiB";
    return std::to_string(n) + " B";
}

inline void print_usage(std::ostream& out, const program& p) {
    const std::string indent(p.name.size() + 8, ' ');
    out << "usage: " << p.name << " [--name NAME] [--count N] [--size BYTES] [--wait spin|futex|adaptive]\n"
        << indent << "[--producers P] [--consumers C] [--capacity zero|N|unbounded]\n"
        << indent << "[--message fixed|bytes] [--mailbox exclusive|any|round_robin|broadcast]"
        << (p.takes_id ? " [--id K]" : "") << "\n\n"
        << p.summary << "\n\n"
        << "  --name NAME       the queue's name (default ipckit-demo)\n"
        << "  --count N         " << p.count_help << "\n"
        << "  --size BYTES      bytes per message, " << min_size << " to " << max_size
        << " (default 8): with fixed messages, the payload\n"
        << "                    after the " << sizeof(stamp)
        << "-byte stamp (seq, producer, checksum), carried in the smallest\n"
        << "                    size class that holds it (" << in_units(size_classes[0]) << ", "
        << in_units(size_classes[1]) << " or " << in_units(size_classes[2]) << "); with bytes, the whole\n"
        << "                    message, stamp included, so " << sizeof(stamp) << " or more (default " << sizeof(stamp)
        << ")\n"
        << "  --producers P     producers, 1 to " << max_producers
        << " (default 1; a multi queue has 64 places, the demo keeps one)\n"
        << "  --consumers C     consumers, 1 to " << max_consumers
        << " (default 1); each message goes to one of them (a broadcast\n"
        << "                    mailbox: to every one)\n"
        << "  --capacity CAP    what the queue holds. By default, a ring of about 2 MiB: for fixed\n"
        << "                    messages, " << ring_slots(size_classes[0]) << " slots of " << in_units(size_classes[0])
        << ", " << ring_slots(size_classes[1]) << " of " << in_units(size_classes[1]) << ", "
        << ring_slots(size_classes[2]) << " of " << in_units(size_classes[2]) << "; for bytes, "
        << in_units(byte_ring) << ". Or:\n"
        << "                      N          the first compiled capacity >= N: " << fixed_capacities[0] << " or "
        << fixed_capacities[1] << " messages of " << in_units(size_classes[0]) << ";\n"
        << "                                 for bytes, the " << in_units(byte_ring) << " ring\n"
        << "                      zero       no buffer: a send waits until a consumer takes the\n"
        << "                                 message (fixed or bytes)\n"
        << "                      unbounded  grows by 1 MiB chunks as needed, the producers never wait\n"
        << "                                 (fixed or bytes, one consumer)"
        << (unbounded_offered ? "" : "; not in this build") << "\n"
        << "                    (a mailbox: its default only, " << ring_slots(size_classes[0]) << " slots of "
        << in_units(size_classes[0]) << " or " << in_units(byte_ring) << " of bytes)\n"
        << "  --message KIND    fixed (a struct of a fixed size; the default) or bytes (variable-size\n"
        << "                    messages of up to 64 KiB: a byte ring for one consumer, record slots\n"
        << "                    of 64 KiB for several, in a rendezvous or on a chain)\n"
        << "  --wait POLICY     how a blocked send or receive waits: spin (burns a core), futex (sleeps\n"
        << "                    at once) or adaptive (spins briefly, then sleeps; the default)\n"
        << "  --mailbox KIND    a system_owned mailbox instead of a queue, delivering each message to:\n"
        << "                      exclusive    its one receiver (--consumers 1)\n"
        << "                      any          whichever consumer takes it first\n"
        << "                      round_robin  the consumers in turn\n"
        << "                      broadcast    every consumer (each checks it got every message;\n"
        << "                                   the demo starts the producers once all are attached)\n"
        << "                    It ends when closed as a whole: a lone producer closes it after its\n"
        << "                    last message; with several, the demo does once all have ended.\n";
    if (p.takes_id)
        out << "  --id K            this producer's id, 0 to P-1 (default 0): start one producer per id\n";
    out << "  --help            show this and exit\n\n"
        << "Each kind of queue is compiled once, not every combination, to keep the build short;\n"
        << "the full matrix of sizes, sides, capacities and wait policies is the benchmark's (bench/).\n"
        << "One producer and one consumer on the default ring get every size class and, at "
        << in_units(size_classes[0]) << ",\n"
        << "every wait policy. Every other kind carries fixed payloads of " << in_units(size_classes[0])
        << " (or bytes messages of any\n"
        << "size) with adaptive wait, and with several producers or consumers is multi on both sides\n"
        << "(unbounded: multi producers, one consumer). Other combinations are refused, with\n"
        << "what is offered. Every program on one queue needs the same --size, --producers, --consumers,\n"
        << "--capacity, --message and --mailbox: they make the queue's type; --wait may differ.\n";
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
                                          "--consumers", "--capacity", "--message", "--id",    "--mailbox"};

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
        } else if (flag == "--mailbox") {
            if (value == "exclusive")
                s.mailbox = mailbox_kind::exclusive;
            else if (value == "any")
                s.mailbox = mailbox_kind::any;
            else if (value == "round_robin")
                s.mailbox = mailbox_kind::round_robin;
            else if (value == "broadcast")
                s.mailbox = mailbox_kind::broadcast;
            else
                fail(given + "must be exclusive, any, round_robin or broadcast");
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
    if (s.mailbox != mailbox_kind::none) {
        const std::string mailbox = "--mailbox " + std::string(to_string(s.mailbox));
        if (s.capacity != capacity_kind::ring)
            fail(mailbox + " --capacity: the demo's mailboxes have one capacity each, " +
                 std::to_string(ring_slots(size_classes[0])) + " messages of " + in_units(size_classes[0]) + " or " +
                 in_units(byte_ring) + " of bytes (ipckit offers no unbounded or zero-capacity mailbox). Leave out "
                 "--capacity, or leave out --mailbox for a queue of that capacity");
        if (s.mailbox == mailbox_kind::exclusive && s.consumers > 1)
            fail(mailbox + " --consumers " + std::to_string(s.consumers) +
                 ": an exclusive mailbox has one receiver at a time (another gets receiver_busy). Use --consumers 1, "
                 "--mailbox any or round_robin to share the messages among the consumers, or --mailbox broadcast "
                 "to give each consumer every message");
    }
    if (s.capacity == capacity_kind::unbounded && !unbounded_offered)
        fail("--capacity unbounded: not available in this build of ipckit");
    if (s.capacity == capacity_kind::unbounded && s.consumers > 1)
        fail("--capacity unbounded --consumers " + std::to_string(s.consumers) +
             ": an unbounded queue has one consumer (it frees each chunk once it has read it, in order). Use a "
             "bounded capacity for several consumers");
    if (s.capacity == capacity_kind::given) {
        const std::string given = "--capacity " + std::to_string(capacity_asked);
        if (bytes) {
            if (capacity_asked > byte_ring)
                fail(given + " --message bytes: the one byte ring compiled is " + in_units(byte_ring) + " (" +
                     std::to_string(byte_ring) + " bytes); the benchmark (bench/) runs other capacities");
            s.capacity_n = byte_ring;
        } else {
            const auto it = std::ranges::find_if(fixed_capacities, [&](std::size_t c) { return c >= capacity_asked; });
            if (it == fixed_capacities.end())
                fail(given + ": the compiled capacities are " + std::to_string(fixed_capacities[0]) + " and " +
                     std::to_string(fixed_capacities[1]) + " messages; or use --capacity unbounded");
            s.capacity_n = *it;
        }
    }

    // What is compiled besides one producer and one consumer on the default ring: one size class
    // and one wait policy (see "What can be chosen"). The flags that ask for such a kind:
    std::string other_kind;
    if (s.producers > 1) other_kind += " --producers " + std::to_string(s.producers);
    if (s.consumers > 1) other_kind += " --consumers " + std::to_string(s.consumers);
    if (s.capacity == capacity_kind::zero) other_kind += " --capacity zero";
    if (s.capacity == capacity_kind::unbounded) other_kind += " --capacity unbounded";
    if (s.capacity == capacity_kind::given) other_kind += " --capacity " + std::to_string(capacity_asked);
    if (s.mailbox != mailbox_kind::none) other_kind += " --mailbox " + std::string(to_string(s.mailbox));
    if (!bytes) {
        s.payload = *std::ranges::find_if(size_classes, [&](std::size_t c) { return c >= s.size; });
        if (s.payload != size_classes[0] && !other_kind.empty())
            fail("--size " + std::to_string(s.size) + other_kind + ": fixed payloads above " +
                 in_units(size_classes[0]) + " (the " + in_units(size_classes[1]) + " and " + in_units(size_classes[2]) +
                 " size classes) are compiled only for one producer, one consumer and the default capacity of a "
                 "queue; here a "
                 "fixed message carries up to " +
                 std::to_string(size_classes[0]) +
                 " bytes. Use --size 8, or --message bytes (any size); the benchmark (bench/) runs "
                 "the full matrix");
    }
    if (s.wait != wait_kind::adaptive && (bytes || s.payload != size_classes[0] || !other_kind.empty()))
        fail("--wait " + std::string(to_string(s.wait)) + (bytes ? " --message bytes" : "") +
             (s.payload != size_classes[0] ? " --size " + std::to_string(s.size) : "") + other_kind +
             ": spin and futex are compiled only for fixed payloads of up to " + std::to_string(size_classes[0]) +
             " bytes with one producer, one consumer and the default capacity, where the wait policy shows most; "
             "use --wait adaptive here. The benchmark (bench/) runs the full matrix");
    return s;
}

// ---- From run-time flags to a compile-time type ---------------------------------------------

template <class T>
inline constexpr std::type_identity<T> type{};

/// Every queue the programs make: system_owned, so that the queue and the messages in it outlive
/// the process that created it, and a producer may start (and even finish, if the queue holds
/// everything) before the consumer, who removes it at the end.
template <class Message, class Capacity, class Producers = ipckit::single, class Consumers = ipckit::single,
          class Wait = ipckit::adaptive>
using queue_of = ipckit::queue<Message, Capacity, Producers, Consumers, Wait, ipckit::system_owned>;

/// Every mailbox the programs make (--mailbox): system_owned, like the queues, and of the one
/// capacity the kind offers: the default ring's 4096 messages of 8 B, or 2 MiB of bytes (slots of
/// 8 + 64 KiB each, 31 of them, whatever a message's length).
template <class Message, class Delivery>
using mailbox_of = ipckit::mailbox<Message,
                                   ipckit::bounded<ipckit::is_bytes<Message> ? byte_ring : ring_slots(size_classes[0])>,
                                   Delivery, ipckit::system_owned>;

/// Calls f(std::type_identity<M>{}) with M the mailbox of `Message` that --mailbox chose: one type
/// per delivery, so 8 with both message kinds (with_queue_type).
template <class Message, class F>
int with_mailbox_type(mailbox_kind m, F&& f) {
    switch (m) {
    case mailbox_kind::exclusive: return f(type<mailbox_of<Message, ipckit::exclusive>>);
    case mailbox_kind::any: return f(type<mailbox_of<Message, ipckit::any>>);
    case mailbox_kind::round_robin: return f(type<mailbox_of<Message, ipckit::round_robin>>);
    case mailbox_kind::broadcast: return f(type<mailbox_of<Message, ipckit::broadcast>>);
    case mailbox_kind::none: break;
    }
    return 2;  // not reached: with_queue_type asks only for a mailbox
}

/// The default ring for fixed payloads of P bytes.
template <std::size_t P>
using ring_of = ipckit::bounded<ring_slots(P)>;
static_assert(std::is_same_v<ring_of<size_classes[0]>, ipckit::bounded<fixed_capacities[1]>>,
              "--capacity 4096 at 8 B is the default ring: one queue type, not two");

/// Calls f(std::type_identity<Q>{}) with Q the queue type that the flags in `s` describe, and
/// returns what f returns. f is written once, as a template lambda:
///
///   with_queue_type(s, [&]<class Q>(std::type_identity<Q>) { return run<Q>(s); });
///
/// and compiled for every type this can choose: those in the table under "What can be chosen",
/// 15 queues and 8 mailboxes. A program that never waits on its handle (the demo) passes waits::adaptive_only
/// to compile two fewer: the wait policy is not part of the queue's layout, so each program on a
/// queue may choose its own.
enum class waits { as_given, adaptive_only };
template <waits Waits = waits::as_given, class F>
int with_queue_type(const settings& s, F&& f) {
    using ipckit::multi;
    using small = sample<size_classes[0]>;  // what every kind but the default 1 x 1 ring carries
    const bool several = s.producers > 1 || s.consumers > 1;

    if (s.mailbox != mailbox_kind::none) {  // parse_command_line let through only --size 8 for fixed
        if (s.message == message_kind::bytes) return with_mailbox_type<variable>(s.mailbox, f);
        return with_mailbox_type<small>(s.mailbox, f);
    }
    if (s.message == message_kind::bytes && s.capacity == capacity_kind::zero) {
        if (several) return f(type<queue_of<variable, ipckit::zero_capacity, multi, multi>>);
        return f(type<queue_of<variable, ipckit::zero_capacity>>);
    }
    if (s.message == message_kind::bytes && s.capacity == capacity_kind::unbounded) {
        if constexpr (unbounded_offered) {  // one consumer
            if (s.producers > 1) return f(type<queue_of<variable, ipckit::unbounded<>, multi>>);
            return f(type<queue_of<variable, ipckit::unbounded<>>>);
        }
        return 2;  // not reached: parse_command_line refused it
    }
    if (s.message == message_kind::bytes) {
        using ring = ipckit::bounded<byte_ring>;
        if (s.consumers > 1) return f(type<queue_of<variable, ring, multi, multi>>);  // record slots
        if (s.producers > 1) return f(type<queue_of<variable, ring, multi>>);  // a byte ring: one consumer
        return f(type<queue_of<variable, ring>>);
    }
    switch (s.capacity) {
    case capacity_kind::ring:
        if (several) return f(type<queue_of<small, ring_of<size_classes[0]>, multi, multi>>);
        if (s.payload == size_classes[2]) return f(type<queue_of<sample<size_classes[2]>, ring_of<size_classes[2]>>>);
        if (s.payload == size_classes[1]) return f(type<queue_of<sample<size_classes[1]>, ring_of<size_classes[1]>>>);
        if constexpr (Waits == waits::as_given) {
            if (s.wait == wait_kind::spin)
                return f(type<queue_of<small, ring_of<size_classes[0]>, ipckit::single, ipckit::single, ipckit::spin>>);
            if (s.wait == wait_kind::futex)
                return f(type<queue_of<small, ring_of<size_classes[0]>, ipckit::single, ipckit::single, ipckit::futex>>);
        }
        return f(type<queue_of<small, ring_of<size_classes[0]>>>);
    case capacity_kind::given:
        if (s.capacity_n == fixed_capacities[0]) {
            if (several) return f(type<queue_of<small, ipckit::bounded<fixed_capacities[0]>, multi, multi>>);
            return f(type<queue_of<small, ipckit::bounded<fixed_capacities[0]>>>);
        }
        if (several) return f(type<queue_of<small, ipckit::bounded<fixed_capacities[1]>, multi, multi>>);
        return f(type<queue_of<small, ipckit::bounded<fixed_capacities[1]>>>);
    case capacity_kind::zero:
        if (several) return f(type<queue_of<small, ipckit::zero_capacity, multi, multi>>);
        return f(type<queue_of<small, ipckit::zero_capacity>>);
    case capacity_kind::unbounded:
        if constexpr (unbounded_offered) {  // one consumer
            if (s.producers > 1) return f(type<queue_of<small, ipckit::unbounded<>, multi>>);
            return f(type<queue_of<small, ipckit::unbounded<>>>);
        }
        break;
    }
    return 2;  // not reached: parse_command_line refused what this build does not have
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

/// What carried the messages of `s`, in words: the size class a fixed --size went into, the
/// capacity, the sides and the wait policy (see with_queue_type).
inline std::string carried_by(const settings& s) {
    std::string d;
    if (s.mailbox != mailbox_kind::none) {
        d = std::string(s.message == message_kind::bytes
                            ? "variable-size messages (bytes) in " + in_units(byte_ring) + " of record slots"
                            : "fixed messages in the " + in_units(s.payload) + " size class, " +
                                  std::to_string(ring_slots(s.payload)) + " slots") +
            " of a system_owned mailbox, delivery " + std::string(to_string(s.mailbox)) + ", " +
            std::to_string(s.producers) + (s.producers > 1 ? " senders x " : " sender x ") +
            std::to_string(s.consumers) + (s.consumers > 1 ? " receivers" : " receiver");
        return d + ", " + std::string(to_string(s.wait)) + " wait";
    }
    if (s.message == message_kind::bytes && s.capacity == capacity_kind::zero) {
        d = "variable-size messages (bytes) with zero capacity (a rendezvous)";
    } else if (s.message == message_kind::bytes && s.capacity == capacity_kind::unbounded) {
        d = "variable-size messages (bytes) on an unbounded chain of 1 MiB chunks";
    } else if (s.message == message_kind::bytes) {
        d = "variable-size messages (bytes) in " + in_units(byte_ring) +
            (s.consumers > 1 ? " of record slots" : " of byte ring");
    } else {
        d = "fixed messages in the " + in_units(s.payload) + " size class (" + std::to_string(sizeof(stamp) + s.payload) +
            " B each), ";
        switch (s.capacity) {
        case capacity_kind::ring: d += "on the default ring of " + std::to_string(ring_slots(s.payload)); break;
        case capacity_kind::given: d += "on a ring of " + std::to_string(s.capacity_n); break;
        case capacity_kind::zero: d += "with zero capacity (a rendezvous)"; break;
        case capacity_kind::unbounded: d += "on an unbounded chain of 1 MiB chunks"; break;
        }
    }
    const bool one_consumer = (s.message == message_kind::bytes && s.consumers == 1) || s.capacity == capacity_kind::unbounded;
    if (s.producers == 1 && s.consumers == 1)
        d += ", single producer x single consumer";
    else
        d += one_consumer ? ", multi producers x single consumer" : ", multi producers x multi consumers";
    return d + ", " + std::string(to_string(s.wait)) + " wait";
}

/// What a consumer reports at the end, in three lines:
///   received N messages, L lost, O out of order, C corrupt
///   throughput: R msg/s, B MB/s over T s, from the first message to the last
///   carried by: fixed messages in the 8 B size class (24 B each), on the default ring of ...
/// The demo reads the first two back from each consumer to add them up.
struct report {
    std::uint64_t received = 0, lost = 0, out_of_order = 0, corrupt = 0;
    std::uint64_t timed = 0;  // messages between the first one and the last (received - 1, or fewer)
    double seconds = 0;       // from the first to the last

    static constexpr std::string_view carried_by_line = "carried by: ";

    /// The first two lines, for messages of `size` bytes (any program that counts messages).
    void print(std::ostream& out, std::size_t size) const {
        out << "received " << received << " messages, " << lost << " lost, " << out_of_order << " out of order, "
            << corrupt << " corrupt\n";
        if (timed > 0 && seconds > 0)
            out << "throughput: " << throughput(static_cast<double>(timed), size, seconds) << " over "
                << example::seconds(seconds) << ", from the first message to the last\n";
        else
            out << "throughput: too few messages to time\n";
    }
    /// All three lines, for a queue that the flags in `s` chose.
    void print(std::ostream& out, const settings& s) const {
        print(out, s.size);
        out << carried_by_line << carried_by(s) << '\n';
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
