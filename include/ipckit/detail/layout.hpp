#pragma once
// What everything that lives in shared memory has in common: the cache-line constant, the
// shared-memory-safe concept, and the fingerprint that names a layout.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace ipckit {

/// Fixed, not std::hardware_destructive_interference_size: a segment's layout must not depend
/// on compiler flags, or two programs built differently could not share it. 128 covers the
/// adjacent-line prefetcher of x86 and the 128-byte lines of some Arm cores.
inline constexpr std::size_t cache_line = 128;

}  // namespace ipckit

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

/// FNV-1a, 64 bits: the fingerprint of a layout description, and the checksum of a segment
/// header (which goes on from the sum of the fields before, `h`).
inline constexpr std::uint64_t fnv1a_basis = 0xcbf29ce484222325ULL;
constexpr std::uint64_t fnv1a(std::string_view s, std::uint64_t h = fnv1a_basis) noexcept {
    for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

constexpr std::size_t align_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }

/// What a segment must hold for a caller to use it: a readable description (shown when two
/// programs disagree), its fingerprint, and the exact size of the segment.
struct segment_layout {
    std::string description;
    std::size_t size = 0;
    [[nodiscard]] std::uint64_t fingerprint() const noexcept { return fnv1a(description); }
};

}  // namespace ipckit::detail
