#pragma once
// The messages the chaos drivers send: each says who sent it (a producer id), where it stands in
// that producer's stream (a sequence number), and carries a checksum of everything in it. So a
// checker can prove exactly-once delivery and per-producer order from what the receivers saw,
// and tell a message read whole from a replayed one (intact, but seen before) or from garbage
// (not intact). The payload is a function of (producer, seq), so a torn or misread message
// fails its checksum.
//
//   stamped          a fixed-size message (48 bytes) for queues and mailboxes of T
//   encode / decode  the same for bytes<Max> queues and node links: a 24-byte head (producer,
//                    seq, check) and a payload whose length also follows from (producer, seq)

#include "chaos_driver.hpp"  // rng

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace chaos {

/// Who sent a message and where it stands in that sender's stream.
struct identity {
    std::uint32_t producer = 0;
    std::uint64_t seq = 0;
    friend bool operator==(const identity&, const identity&) = default;
};

/// A seed for the words of message (producer, seq): every bit of both changes it.
constexpr std::uint64_t message_seed(std::uint32_t producer, std::uint64_t seq) noexcept {
    return rng(rng(producer).next() ^ seq).next();
}

/// A fixed-size message.
struct stamped {
    std::uint32_t producer;
    std::uint32_t spare;  ///< always 0
    std::uint64_t seq;
    std::uint64_t payload[3];
    std::uint64_t check;  ///< checksum_of(everything above)

    [[nodiscard]] identity id() const noexcept { return {producer, seq}; }
};
static_assert(sizeof(stamped) == 48);

constexpr std::uint64_t checksum_of(const stamped& m) noexcept {
    rng r(message_seed(m.producer, m.seq) ^ m.spare);
    std::uint64_t c = r.next();
    for (const auto w : m.payload) c = rng(c ^ w).next();
    return c;
}

inline stamped make_stamped(std::uint32_t producer, std::uint64_t seq) noexcept {
    stamped m{producer, 0, seq, {}, 0};
    rng r(message_seed(producer, seq));
    for (auto& w : m.payload) w = r.next();
    m.check = checksum_of(m);
    return m;
}

/// Whether `m` is a message make_stamped made, unaltered.
inline bool intact(const stamped& m) noexcept {
    if (m.spare != 0 || m.check != checksum_of(m)) return false;
    return m.payload[0] == make_stamped(m.producer, m.seq).payload[0];
}

// ---- variable-size messages -----------------------------------------------------------------

/// The head of every variable-size message: producer (4), spare (4), seq (8), check (8).
inline constexpr std::size_t bytes_head = 24;

/// How long message (producer, seq) is, for a queue whose messages may be up to `max` bytes
/// (at least bytes_head): from bytes_head to max, spread so that records wrap at varied places.
constexpr std::size_t bytes_length(std::uint32_t producer, std::uint64_t seq, std::size_t max) noexcept {
    rng r(message_seed(producer, seq) + 1);
    return bytes_head + static_cast<std::size_t>(r.below(max - bytes_head + 1));
}

/// The byte at `i` of the payload of (producer, seq).
inline std::byte payload_byte(std::uint32_t producer, std::uint64_t seq, std::size_t i) noexcept {
    return static_cast<std::byte>(rng(message_seed(producer, seq) ^ (i / 8 * 0x9E37ULL)).next() >> (i % 8 * 8));
}

/// The checksum of a variable-size message: of its identity, its length and every payload byte.
inline std::uint64_t bytes_checksum(std::uint32_t producer, std::uint64_t seq, std::span<const std::byte> payload) noexcept {
    std::uint64_t c = rng(message_seed(producer, seq) ^ payload.size()).next();
    for (std::size_t i = 0; i < payload.size(); i += 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, payload.data() + i, std::min<std::size_t>(8, payload.size() - i));
        c = rng(c ^ w).next();
    }
    return c;
}

/// Writes message (producer, seq) into `out` (at least bytes_length(.., max) bytes); returns its length.
inline std::size_t encode(std::uint32_t producer, std::uint64_t seq, std::size_t max, std::span<std::byte> out) noexcept {
    const std::size_t n = bytes_length(producer, seq, max);
    for (std::size_t i = bytes_head; i < n; ++i) out[i] = payload_byte(producer, seq, i - bytes_head);
    const std::uint32_t spare = 0;
    const std::uint64_t check = bytes_checksum(producer, seq, out.subspan(bytes_head, n - bytes_head));
    std::memcpy(out.data(), &producer, 4);
    std::memcpy(out.data() + 4, &spare, 4);
    std::memcpy(out.data() + 8, &seq, 8);
    std::memcpy(out.data() + 16, &check, 8);
    return n;
}

/// The identity of `m` if it is a message encode() wrote, unaltered and whole; nullopt for
/// anything else (torn, truncated, garbage).
inline std::optional<identity> decode(std::span<const std::byte> m, std::size_t max) noexcept {
    if (m.size() < bytes_head) return std::nullopt;
    std::uint32_t producer = 0, spare = 0;
    std::uint64_t seq = 0, check = 0;
    std::memcpy(&producer, m.data(), 4);
    std::memcpy(&spare, m.data() + 4, 4);
    std::memcpy(&seq, m.data() + 8, 8);
    std::memcpy(&check, m.data() + 16, 8);
    if (spare != 0 || m.size() != bytes_length(producer, seq, max)) return std::nullopt;
    if (check != bytes_checksum(producer, seq, m.subspan(bytes_head))) return std::nullopt;
    for (std::size_t i = bytes_head; i < m.size(); ++i)
        if (m[i] != payload_byte(producer, seq, i - bytes_head)) return std::nullopt;
    return identity{producer, seq};
}

}  // namespace chaos
