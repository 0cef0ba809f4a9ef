#pragma once
// The message the example programs send: a stamp (who sent it, its number) and a payload sealed
// with a checksum, so that a consumer can tell a lost, repeated, reordered or damaged message;
// and the envelope that carries it as a fixed-size T or as bytes<Max>.
//
// Only ipckit's public API is used here; copy it along with the programs (common.hpp lists them).

#include <ipckit/ipckit.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace example {

using clock = std::chrono::steady_clock;

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

}  // namespace example
