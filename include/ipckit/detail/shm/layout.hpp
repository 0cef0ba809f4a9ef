#pragma once
// What everything that lives in shared memory has in common: the shared-memory-safe concept
// and the layout description (the cache-line constant and segment_layout are public:
// <ipckit/layout.hpp>).

#include <ipckit/layout.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ipckit::detail {

static_assert(std::atomic<std::uint32_t>::is_always_lock_free && std::atomic<std::uint64_t>::is_always_lock_free,
              "ipckit keeps 32- and 64-bit atomics in shared memory: they must be lock-free, or a "
              "process-local lock would hide inside them");

/// What may live in shared memory: bytes only, no pointers that mean something in one process.
template <class T>
concept shm_safe = std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T>;

/// The type's name as the compiler spells it, e.g. "market::tick".
template <class T>
constexpr std::string_view pretty_name() noexcept {
    std::string_view p = __PRETTY_FUNCTION__;
    // gcc: "... type_name() [with T = market::tick; ...]"  clang: "... type_name() [T = market::tick]"
    const auto start = p.find("T = ") + 4;
    const auto end = p.find_first_of(";]", start);
    return p.substr(start, end - start);
}

/// The name a layout description uses for T: the compiler's spelling, except for arithmetic
/// types, which gcc and clang spell differently ("long unsigned int" / "unsigned long") and
/// which get a canonical name here so that programs built by either can share a segment.
template <class T>
std::string type_name() {
    if constexpr (std::is_same_v<T, bool>) {
        return "bool";
    } else if constexpr (std::is_integral_v<T>) {
        return (std::is_signed_v<T> ? "int" : "uint") + std::to_string(8 * sizeof(T));
    } else if constexpr (std::is_floating_point_v<T>) {
        return "float" + std::to_string(8 * sizeof(T));
    } else {
        return std::string(pretty_name<T>());
    }
}

/// How a layout description names a message type: "market::tick (16 B, align 8)".
template <class T>
std::string describe_message() {
    return type_name<T>() + " (" + std::to_string(sizeof(T)) + " B, align " + std::to_string(alignof(T)) + ")";
}

/// How a layout description names one side of a queue: "single producer", "multi<64> consumer".
inline std::string describe_side(std::string_view kind, std::size_t max, const char* what) {
    std::string d(kind);
    if (max > 1) {
        d += '<';
        d += std::to_string(max);
        d += '>';
    }
    d += " ";
    return d + what;
}

/// "ipckit::queue<message, capacity, single producer, multi<64> consumer, process_owned>": what
/// the segment of a queue of any kind must say it holds. Producers and Consumers are cardinality
/// policies, Ownership an ownership policy: every process must open a queue with the ownership
/// it was created with, or an attacher would act on another lifetime than the creator's (an
/// unbounded process_owned sender stops when the receiver closes; a system_owned one does not).
template <class Producers, class Consumers, class Ownership>
std::string describe_queue(std::string_view message, std::string_view capacity) {
    std::string d = "ipckit::queue<";
    d += message;
    d += ", ";
    d += capacity;
    return d + ", " + describe_side(Producers::name, Producers::max, "producer") + ", " +
           describe_side(Consumers::name, Consumers::max, "consumer") + ", " + Ownership::name + ">";
}

// ---- reading descriptions back (for an inspector: ipckit/inspect.hpp) -----------------------

/// A decimal number that is all of `s`; nullopt for anything else, or past 2^62.
constexpr std::optional<std::uint64_t> parse_decimal(std::string_view s) noexcept {
    if (s.empty() || s.size() > 19) return std::nullopt;
    std::uint64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > (std::uint64_t{1} << 62)) return std::nullopt;
    return v;
}

/// What `s` holds between `open` and a `>` that ends it: ("bounded<64>", "bounded<") -> "64".
constexpr std::optional<std::string_view> between(std::string_view s, std::string_view open) noexcept {
    if (s.size() <= open.size() || s.substr(0, open.size()) != open || s.back() != '>') return std::nullopt;
    return s.substr(open.size(), s.size() - open.size() - 1);
}

/// The n fields of the description `d` = "<open>f1, f2, ..., fn>", split at its last n - 1
/// ", ": the first field keeps whatever is left, since a message type may itself contain ", "
/// (the other fields never do). nullopt if `d` is not of that form.
inline std::optional<std::vector<std::string_view>> description_fields(std::string_view d, std::string_view open,
                                                                       std::size_t n) {
    auto rest = between(d, open);
    if (!rest || n == 0) return std::nullopt;
    std::vector<std::string_view> fields(n);
    for (std::size_t i = n - 1; i > 0; --i) {
        const auto cut = rest->rfind(", ");
        if (cut == std::string_view::npos) return std::nullopt;
        fields[i] = rest->substr(cut + 2);
        *rest = rest->substr(0, cut);
    }
    fields[0] = *rest;
    return fields;
}

/// A message as a layout description names it: describe_message<T>() or "bytes<Max>".
struct message_description {
    std::string type;       ///< T's name, or "bytes" for bytes<Max>
    std::size_t size = 0;   ///< sizeof(T); Max for bytes<Max>
    std::size_t align = 0;  ///< alignof(T); 1 for bytes<Max>
    bool bytes = false;
};

/// Reads back what describe_message<T>() or "bytes<Max>" wrote.
inline std::optional<message_description> parse_message_description(std::string_view m) {
    if (const auto max = between(m, "bytes<")) {
        const auto n = parse_decimal(*max);
        if (!n) return std::nullopt;
        return message_description{"bytes", static_cast<std::size_t>(*n), 1, true};
    }
    // "T (S B, align A)": T may hold parentheses of its own, but not this last group.
    const auto open = m.rfind(" (");
    const auto comma = m.rfind(" B, align ");
    if (open == std::string_view::npos || comma == std::string_view::npos || comma < open || m.back() != ')')
        return std::nullopt;
    const auto size = parse_decimal(m.substr(open + 2, comma - open - 2));
    const auto align = parse_decimal(m.substr(comma + 10, m.size() - comma - 11));
    if (!size || !align || *size == 0 || *align == 0 || (*align & (*align - 1)) != 0) return std::nullopt;
    return message_description{std::string(m.substr(0, open)), static_cast<std::size_t>(*size),
                               static_cast<std::size_t>(*align), false};
}

/// Reads back one side of describe_queue(): "single producer" -> 1, "multi<64> consumer" -> 64;
/// with `lanes`, "lanes<8> producer" -> 8 too (and *lanes set), else lanes are not a side.
inline std::optional<std::size_t> parse_side_description(std::string_view side, std::string_view what,
                                                         bool* lanes = nullptr) {
    if (side.size() <= what.size() + 1 || side.substr(side.size() - what.size()) != what ||
        side[side.size() - what.size() - 1] != ' ')
        return std::nullopt;
    side = side.substr(0, side.size() - what.size() - 1);
    if (side == "single") return 1;
    auto n = between(side, "multi<");
    std::uint64_t min = 2;  // multi_of<Max>'s bounds: 2..4096
    if (!n && lanes != nullptr && (n = between(side, "lanes<"))) {
        *lanes = true;
        min = 1;  // lanes<Max>'s: 1..4096
    }
    std::uint64_t max = 0;
    if (n)
        if (const auto v = parse_decimal(*n)) max = *v;
    if (max < min || max > 4096) return std::nullopt;
    return static_cast<std::size_t>(max);
}

/// What describe_queue() wrote, read back.
struct queue_description {
    enum capacity_kind { bounded, zero, unbounded };
    message_description message;
    std::string capacity;  ///< as written: "bounded<64>", "bounded<4096 bytes>", "zero_capacity", "unbounded<B>"
    capacity_kind kind = bounded;
    /// bounded: N (messages; bytes of ring for bytes<Max>); unbounded: ChunkBytes; zero: 0
    std::uint64_t capacity_value = 0;
    std::size_t producers = 1;
    std::size_t consumers = 1;
    std::string ownership;
    bool lanes = false;  ///< lanes<producers>: a ring of capacity_value messages per producer
};

/// Reads back a description made by describe_queue(); nullopt if `d` is not one (or was cut
/// short: a header keeps 200 characters of it).
inline std::optional<queue_description> parse_queue_description(std::string_view d) {
    const auto f = description_fields(d, "ipckit::queue<", 5);
    if (!f) return std::nullopt;
    queue_description q;
    const auto message = parse_message_description((*f)[0]);
    const auto producers = parse_side_description((*f)[2], "producer", &q.lanes);
    const auto consumers = parse_side_description((*f)[3], "consumer");
    if (!message || !producers || !consumers || (q.lanes && (message->bytes || *consumers != 1))) return std::nullopt;
    q.message = *message;
    q.capacity = std::string((*f)[1]);
    q.producers = *producers;
    q.consumers = *consumers;
    q.ownership = std::string((*f)[4]);
    std::optional<std::uint64_t> n;
    if (q.capacity == "zero_capacity") {
        q.kind = queue_description::zero;
        n = 0;
    } else if (const auto u = between(q.capacity, "unbounded<")) {
        q.kind = queue_description::unbounded;
        n = parse_decimal(*u);
    } else if (const auto b = between(q.capacity, "bounded<")) {
        // " bytes" for bytes<Max>; " per lane" with lanes (of fixed-size messages).
        const std::string_view unit = q.lanes ? " per lane" : q.message.bytes ? " bytes" : "";
        if (b->size() <= unit.size() || b->substr(b->size() - unit.size()) != unit) return std::nullopt;
        n = parse_decimal(b->substr(0, b->size() - unit.size()));
    }
    if (!n) return std::nullopt;
    q.capacity_value = *n;
    return q;
}

constexpr std::size_t align_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }

}  // namespace ipckit::detail
