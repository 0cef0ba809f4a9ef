#pragma once
// How the chaos drivers send and receive their messages (chaos_message.hpp) through any
// endpoint: fixed_codec for queues and mailboxes of T, bytes_codec<Max> for bytes<Max> queues.
// Each verb takes a steady_clock deadline (a past one makes a blocking endpoint try once) and
// returns an errc; a receive says who sent the message and whether it was intact.

#include "chaos_message.hpp"

#include <ipckit/error.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace chaos {

using ipckit::errc;
using steady = std::chrono::steady_clock;

/// An errc as README spells it: "peer_dead", not "the peer process died".
constexpr const char* errc_name(errc e) noexcept {
    switch (e) {
    case errc::ok: return "ok";
    case errc::would_block: return "would_block";
    case errc::timed_out: return "timed_out";
    case errc::closed: return "closed";
    case errc::peer_dead: return "peer_dead";
    case errc::too_large: return "too_large";
    case errc::in_use: return "in_use";
    case errc::already_exists: return "already_exists";
    case errc::not_found: return "not_found";
    case errc::incompatible_layout: return "incompatible_layout";
    case errc::corrupt: return "corrupt";
    case errc::permission_denied: return "permission_denied";
    case errc::no_space: return "no_space";
    case errc::invalid_name: return "invalid_name";
    case errc::sender_busy: return "sender_busy";
    case errc::receiver_busy: return "receiver_busy";
    case errc::name_taken: return "name_taken";
    case errc::invalid_argument: return "invalid_argument";
    case errc::system_error: return "system_error";
    }
    return "errc(?)";
}

template <class R>
errc errc_of(const R& r) noexcept {
    return r ? errc::ok : r.error();
}

/// What a receive gave: the identity of the message and whether it was intact.
struct delivery {
    identity id;
    bool intact = false;
};

// ---- messages: fixed-size T, or bytes -------------------------------------------------------

struct fixed_codec {
    using message = stamped;
    template <class Tx>
    static errc send(Tx& tx, std::uint32_t producer, std::uint64_t seq, steady::time_point deadline) noexcept {
        return errc_of(tx.send(make_stamped(producer, seq), deadline));
    }
    template <class Rx>
    static errc receive(Rx& rx, steady::time_point deadline, delivery& out) noexcept {
        auto r = rx.receive(deadline);
        if (!r) return r.error();
        out = {r->id(), intact(*r)};
        return errc::ok;
    }
};

template <std::size_t Max>
struct bytes_codec {
    static_assert(Max >= bytes_head);
    template <class Tx>
    static errc send(Tx& tx, std::uint32_t producer, std::uint64_t seq, steady::time_point deadline) noexcept {
        std::array<std::byte, Max> buf;
        const std::size_t n = encode(producer, seq, Max, buf);
        return errc_of(tx.send(std::span<const std::byte>(buf.data(), n), deadline));
    }
    template <class Rx>
    static errc receive(Rx& rx, steady::time_point deadline, delivery& out) noexcept {
        std::array<std::byte, Max> buf;
        auto r = rx.receive(std::span<std::byte>(buf), deadline);
        if (!r) return r.error();
        const auto id = decode(std::span<const std::byte>(buf.data(), *r), Max);
        out = {id.value_or(identity{}), id.has_value()};
        return errc::ok;
    }
};

}  // namespace chaos
