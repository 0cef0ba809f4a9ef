#pragma once
// The example programs' command line: the settings, the usage text, and the parser that checks
// every flag and says what was wrong.
//
// Only ipckit's public API is used here; copy it along with the programs (common.hpp lists them).

#include "choices.hpp"
#include "number.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace example {

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
        return example::number(flag, text, lo, hi, fail);
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

}  // namespace example
