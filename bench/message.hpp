#pragma once
// The messages that every mechanism carries, and how a receiver checks them.
//
// A message<S> is S bytes, S one of message_sizes. Its first and its last 8 bytes both hold the
// sequence number, so that a receiver sees a reordered, lost or repeated message (the number is
// not the one expected) and a torn one (the two copies differ). ipckit's queues need the message
// type at compile time, hence a fixed set of sizes and with_size() to reach them from a number.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace bench {

/// Every size the benchmark measures, in bytes, sequence number included.
inline constexpr std::array<std::size_t, 4> message_sizes{8, 64, 1024, 65536};

template <std::size_t S>
struct alignas(8) message {
    static_assert(S >= 8 && S % 8 == 0, "a message holds at least its 8-byte sequence number");
    std::byte bytes[S];

    void stamp(std::uint64_t seq) noexcept {
        std::memcpy(bytes, &seq, sizeof seq);
        std::memcpy(bytes + S - sizeof seq, &seq, sizeof seq);
    }
    [[nodiscard]] std::uint64_t seq() const noexcept {
        std::uint64_t s;
        std::memcpy(&s, bytes, sizeof s);
        return s;
    }
    /// Whether the last 8 bytes agree with the first: the message arrived whole.
    [[nodiscard]] bool whole() const noexcept {
        std::uint64_t last;
        std::memcpy(&last, bytes + S - sizeof last, sizeof last);
        return last == seq();
    }
    /// A message whose bytes between the two stamps are not all zero, as real payloads are not.
    static message filled() noexcept {
        message m;
        for (std::size_t i = 0; i < S; ++i) m.bytes[i] = static_cast<std::byte>(i * 131 + 7);
        return m;
    }
};

/// Calls f.template operator()<S>() with the S of message_sizes equal to `size`.
template <class F>
decltype(auto) with_size(std::size_t size, F&& f) {
    switch (size) {
    case 8: return std::forward<F>(f).template operator()<8>();
    case 64: return std::forward<F>(f).template operator()<64>();
    case 1024: return std::forward<F>(f).template operator()<1024>();
    case 65536: return std::forward<F>(f).template operator()<65536>();
    default: throw std::invalid_argument("no message type of " + std::to_string(size) + " bytes");
    }
}

/// The sequence number a producer stamps: its index in the top 16 bits, its count below.
inline constexpr unsigned producer_shift = 48;
inline constexpr std::uint64_t counter_mask = (std::uint64_t{1} << producer_shift) - 1;
inline constexpr std::uint64_t make_seq(unsigned producer, std::uint64_t n) noexcept {
    return (std::uint64_t{producer} << producer_shift) | n;
}
/// What a producer sends after its last message: a count no producer reaches.
inline constexpr std::uint64_t end_seq(unsigned producer) noexcept { return make_seq(producer, counter_mask); }
inline constexpr bool is_end(std::uint64_t seq) noexcept { return (seq & counter_mask) == counter_mask; }

/// A receiver's account of what arrived: counts every message that is not whole or not the
/// next of its producer, and remembers the first. finish() throws if there was any.
template <unsigned MaxProducers>
class sequence_check {
public:
    explicit sequence_check(const char* who) noexcept : who_(who) {}

    template <std::size_t S>
    void operator()(const message<S>& m) noexcept {
        const std::uint64_t seq = m.seq();
        const auto p = static_cast<unsigned>(seq >> producer_shift);
        if (p < MaxProducers && (seq & counter_mask) == next_[p] && m.whole()) [[likely]]
            ++next_[p];
        else
            mismatch(seq, m.whole());
    }

    /// The next number expected from `producer`: how many of its messages arrived in order.
    [[nodiscard]] std::uint64_t next(unsigned producer) const noexcept { return next_[producer]; }

    /// Throws unless every message so far was whole and in sequence.
    void finish(std::uint64_t received) const {
        if (errors_ != 0)
            throw std::runtime_error(std::string(who_) + ": " + std::to_string(errors_) + " of " +
                                     std::to_string(received) +
                                     " messages out of sequence or damaged; first: " + first_);
    }

private:
    [[gnu::cold, gnu::noinline]] void mismatch(std::uint64_t seq, bool whole) noexcept {
        const auto p = static_cast<unsigned>(seq >> producer_shift);
        const std::uint64_t n = seq & counter_mask;
        if (errors_++ == 0)
            first_ = "got seq " + std::to_string(n) + " of producer " + std::to_string(p) +
                     (p < MaxProducers ? ", expected " + std::to_string(next_[p]) : std::string(", no such producer")) +
                     (whole ? "" : ", and its last 8 bytes differ from its first (torn)");
        if (p < MaxProducers) next_[p] = n + 1;  // resynchronise: a lost message counts once
    }

    const char* who_;
    std::array<std::uint64_t, MaxProducers> next_{};
    std::uint64_t errors_ = 0;
    std::string first_;
};

/// A consumer's account when several consumers share the producers' messages (the fan pattern):
/// each one sees a part of every producer's sequence, and that part must rise. Counts every
/// message that is not whole, comes from no such producer, is numbered past what its producer
/// sends (`each`), or does not come after the last one of its producer; remembers the first.
/// operator() says whether the message was good; finish() throws if any was not.
template <unsigned MaxProducers>
class subsequence_check {
public:
    subsequence_check(std::string who, unsigned producers, std::uint64_t each) noexcept
        : who_(std::move(who)), producers_(producers), each_(each) {}

    template <std::size_t S>
    [[nodiscard]] bool operator()(const message<S>& m) noexcept {
        const std::uint64_t seq = m.seq();
        const auto p = static_cast<unsigned>(seq >> producer_shift);
        const std::uint64_t n = seq & counter_mask;
        if (p < producers_ && p < MaxProducers && n < each_ && n >= next_[p] && m.whole()) [[likely]] {
            next_[p] = n + 1;
            return true;
        }
        mismatch(p, n, m.whole());
        return false;
    }

    void finish(std::uint64_t received) const {
        if (errors_ != 0)
            throw std::runtime_error(who_ + ": " + std::to_string(errors_) + " of " + std::to_string(received) +
                                     " messages out of order or damaged; first: " + first_);
    }

private:
    [[gnu::cold, gnu::noinline]] void mismatch(unsigned p, std::uint64_t n, bool whole) noexcept {
        if (errors_++ != 0) return;
        first_ = "got seq " + std::to_string(n) + " of producer " + std::to_string(p);
        if (p >= producers_ || p >= MaxProducers)
            first_ += ", no such producer";
        else if (n >= each_)
            first_ += ", which sends " + std::to_string(each_) + " at most";
        else if (n < next_[p])
            first_ += " after its seq " + std::to_string(next_[p] - 1);
        if (!whole) first_ += ", and its last 8 bytes differ from its first (torn)";
    }

    std::string who_;
    unsigned producers_;
    std::uint64_t each_;
    std::array<std::uint64_t, MaxProducers> next_{};
    std::uint64_t errors_ = 0;
    std::string first_;
};

}  // namespace bench
