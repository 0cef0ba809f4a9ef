#pragma once
// What tests send and how they look at results: a small message whose second word is a function
// of its first (a torn, stale or made-up message shows up), splitmix64's finaliser for payloads
// derived from a seed, err() for the errc of a status or result, how Catch2 prints an errc, and
// what is done with a stream of ticks (send_all, receive_in_order, receive_ends_with): each says
// how it went in a sentence, as_expected if all went well, for a parent to CHECK or a forked
// child to report (child_report::expect).
//
// Include it in test files that use Catch2; children forked by those tests may use everything
// here but the printing, which only the parent's assertions need.

#include "catch.hpp"
#include "contract/child_report.hpp"
#include "support.hpp"

#include <ipckit/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace Catch {
template <>
struct StringMaker<ipckit::errc> {
    static std::string convert(ipckit::errc e) { return ipckit_test::errc_text(e); }
};
}  // namespace Catch

namespace ipckit_test {

/// A message numbered seq, with a check word that depends on it.
struct tick {
    std::uint64_t seq;
    std::uint64_t check;  // check_of(seq)
};
constexpr std::uint64_t check_of(std::uint64_t seq) noexcept { return (seq + 1) * 0x9E3779B97F4A7C15ULL; }
constexpr tick make_tick(std::uint64_t seq) noexcept { return {seq, check_of(seq)}; }

/// splitmix64's finaliser: a well-mixed word from x, for payloads and checksums.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/// n bytes that are a function of (seed, n): a torn or misplaced message shows up.
inline std::vector<std::byte> pattern(std::size_t n, std::uint64_t seed) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(mix(seed * 1'000'003 + i));
    return v;
}
/// Whether two runs of bytes are equal.
inline bool same(std::span<const std::byte> a, std::span<const std::byte> b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

/// The errc of a status or result: ok, or its error.
template <class R>
ipckit::errc err(const R& r) {
    return r ? ipckit::errc::ok : r.error();
}

/// Message `seq` of a stream of mixed sizes 0..max: pattern() of a length that is a function of
/// seq, so that a receiver that expects seq knows its length and bytes.
inline std::vector<std::byte> sized_message(std::uint64_t seq, std::size_t max) {
    return pattern(static_cast<std::size_t>(mix(seq ^ 0x5bd1e995) % (max + 1)), seq);
}

// ---- ticks as messages of bytes<Max> (Max >= 64) -------------------------------------------

/// A tick as a message of bytes<Max>: the tick, then 0 to 48 bytes that depend on its seq, so
/// that a stream of them has mixed lengths (16 to 64 bytes) and a torn, stale or cut message
/// shows up.
constexpr std::size_t tick_bytes_max = sizeof(tick) + 48;
constexpr std::size_t tick_bytes_length(std::uint64_t seq) noexcept { return sizeof(tick) + mix(seq) % 49; }
inline std::vector<std::byte> tick_bytes(std::uint64_t seq) {
    std::vector<std::byte> m(tick_bytes_length(seq));
    const tick t = make_tick(seq);
    std::memcpy(m.data(), &t, sizeof t);
    for (std::size_t k = sizeof t; k < m.size(); ++k) m[k] = static_cast<std::byte>(mix(seq + k));
    return m;
}
/// The tick a message made by tick_bytes holds; nullopt if the message is not one.
inline std::optional<tick> tick_from_bytes(std::span<const std::byte> m) {
    tick t{};
    if (m.size() < sizeof t) return std::nullopt;
    std::memcpy(&t, m.data(), sizeof t);
    if (t.check != check_of(t.seq) || m.size() != tick_bytes_length(t.seq)) return std::nullopt;
    for (std::size_t k = sizeof t; k < m.size(); ++k)
        if (m[k] != static_cast<std::byte>(mix(t.seq + k))) return std::nullopt;
    return t;
}

/// Whether Tx sends ticks (else bytes<Max>, as tick_bytes).
template <class Tx>
constexpr bool sends_ticks = requires(Tx& tx, tick t) { tx.send(t); };

/// Sends tick seq through tx: itself, or as tick_bytes through a sender of bytes<Max>.
template <class Tx, class... D>
ipckit::status send_tick(Tx& tx, std::uint64_t seq, D... deadline) {
    if constexpr (sends_ticks<Tx>) {
        return tx.send(make_tick(seq), deadline...);
    } else {
        const auto m = tick_bytes(seq);
        return tx.send(std::span<const std::byte>(m), deadline...);
    }
}
/// Receives a tick from rx: itself, or from a message of tick_bytes (corrupt if it is not one).
template <class Rx, class... D>
ipckit::result<tick> receive_tick(Rx& rx, D... deadline) {
    if constexpr (requires { rx.receive(deadline...)->seq; }) {
        return rx.receive(deadline...);
    } else {
        std::array<std::byte, tick_bytes_max> buf{};
        const auto n = rx.receive(std::span(buf), deadline...);
        if (!n) return ipckit::unexpected(n.error());
        const auto t = tick_from_bytes(std::span(buf).first(*n));
        if (!t) return ipckit::unexpected(ipckit::errc::corrupt);
        return *t;
    }
}

// ---- receiving ticks ------------------------------------------------------------------------

/// Receives what is waiting now (non-blocking), expecting seq first, first+1, ...; returns how
/// many arrived in order, stopping at the first gap or at an empty queue.
template <class Rx>
std::uint64_t drain_in_order(Rx& rx, std::uint64_t first) {
    std::uint64_t n = 0;
    for (;;) {
        auto r = rx.receive();
        if (!r || r->seq != first + n || r->check != check_of(first + n)) return n;
        ++n;
    }
}

// ---- a stream of ticks, in a sentence -----------------------------------------------------

/// Receives seq first..last-1 in order with patience: as_expected if so, else what came instead
/// of the first that did not (an errc, another seq, or a torn message).
template <class Rx>
std::string receive_in_order(Rx& rx, std::uint64_t first, std::uint64_t last) {
    for (std::uint64_t i = first; i < last; ++i) {
        auto r = rx.receive(patience);
        const std::string wanted = " where it expected seq " + std::to_string(i);
        if (!r) return "received " + errc_text(r.error()) + wanted;
        if (r->seq != i) return "received seq " + std::to_string(r->seq) + wanted;
        if (r->check != check_of(i)) return "received a torn message" + wanted;
    }
    return as_expected;
}

/// What a receive with patience ended with: as_expected if `expected`, else what came instead.
template <class Rx>
std::string receive_ends_with(Rx& rx, ipckit::errc expected) {
    auto r = rx.receive(patience);
    const std::string wanted = " where it expected " + errc_text(expected);
    if (r) return "received seq " + std::to_string(r->seq) + wanted;
    return r.error() == expected ? as_expected : "received " + errc_text(r.error()) + wanted;
}

/// Sends seq first..last-1 with patience: as_expected if all went, else which was refused and why.
template <class Tx>
std::string send_all(Tx& tx, std::uint64_t first, std::uint64_t last) {
    for (std::uint64_t i = first; i < last; ++i)
        if (const auto s = send_tick(tx, i, patience); !s)
            return "sending seq " + std::to_string(i) + " gave " + errc_text(s.error()) + " where it expected errc(ok)";
    return as_expected;
}

// ---- for threads: a stream of ticks through one endpoint pair ------------------------------

/// What a receiver saw of ticks 0..n-1 that a sender thread sent (and then closed its end).
struct stream_outcome {
    ipckit::errc sender_error = ipckit::errc::ok;  ///< the first failed send's errc, ok if none
    std::uint64_t received = 0;                    ///< messages received
    std::uint64_t wrong = 0;                       ///< messages out of order or torn
    ipckit::errc end = ipckit::errc::ok;           ///< why receiving stopped (closed, if all went well)
};

/// Sends ticks 0..n-1 from a thread through `tx` (blocking, with patience; it closes when the
/// thread is done with it) while this thread receives from `rx` until a receive fails.
template <class Tx, class Rx>
stream_outcome stream_through_threads(Tx tx, Rx& rx, std::uint64_t n) {
    stream_outcome out;
    std::thread sender([&out, n, tx = std::move(tx)]() mutable {
        for (std::uint64_t i = 0; i < n; ++i) {
            if (const auto s = tx.send(make_tick(i), patience); !s) {
                out.sender_error = s.error();  // read after join
                return;
            }
        }
    });
    for (;;) {
        auto r = rx.receive(patience);
        if (!r) {
            out.end = r.error();
            break;
        }
        if (r->seq != out.received || r->check != check_of(out.received)) ++out.wrong;
        ++out.received;
    }
    sender.join();
    return out;
}

}  // namespace ipckit_test
