#pragma once
// The handshake: the first bytes each end of a connection sends, before any frame (frame.hpp).
// Both ends send theirs at once and read the other's; each compares the two the same way, so
// a mismatch is seen, and said alike, at both ends (incompatible_layout, naming what differs).
//
//   offset  size  field
//   0       8     magic "ipcknet" 0x01
//   8       4     protocol version, big-endian
//   12      1     byte order of the sender: 1 little-endian, 2 big-endian
//   13      1     verdict: 0 welcome; 1 refused (the listener is at its connection cap)
//   14      2     length of the description that follows, big-endian, at most 512
//   16      8     fingerprint of the description (fnv1a, as a segment header's), big-endian
//   24      4     longest message, big-endian: sizeof(T), or Max of bytes<Max>
//   28      1     message kind: 1 fixed-size T, 2 bytes<Max>
//   29      3     zero
//   32      ...   the description: "T (S B, align A)" or "bytes<Max>" (shown when two ends disagree)
//
// A fixed-size T travels as its bytes, so both ends must name the same T and share a byte
// order. bytes<Max> carries bytes, whatever the byte order: two ends of different Max agree on
// the smaller one, and a send longer than that is too_large.

#include <ipckit/detail/net/frame.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace ipckit::detail {

inline constexpr std::size_t hello_fixed_size = 32;
inline constexpr std::size_t hello_max_description = 512;
inline constexpr std::array<unsigned char, 8> hello_magic{'i', 'p', 'c', 'k', 'n', 'e', 't', 1};
inline constexpr std::uint32_t net_protocol_version = 1;

enum class message_kind : std::uint8_t { fixed = 1, bytes = 2 };
enum class hello_verdict : std::uint8_t { welcome = 0, refused = 1 };

inline constexpr std::uint8_t native_byte_order = std::endian::native == std::endian::little ? 1 : 2;

/// What one end says of itself in the handshake.
struct hello {
    std::uint32_t version = net_protocol_version;
    std::uint8_t byte_order = native_byte_order;
    hello_verdict verdict = hello_verdict::welcome;
    std::uint64_t fingerprint = 0;
    std::uint32_t max_message = 0;
    message_kind kind = message_kind::bytes;
    std::string description;  ///< at most hello_max_description bytes; for a refusal, the reason
};

/// The hello of an end carrying `Message` (T or bytes<Max>).
template <class Message>
hello hello_for() {
    hello h;
    if constexpr (is_bytes<Message>) {
        h.kind = message_kind::bytes;
        h.max_message = static_cast<std::uint32_t>(Message::max);
        h.description = "bytes<" + std::to_string(Message::max) + ">";
    } else {
        static_assert(sizeof(Message) <= (std::size_t{1} << 30), "a message travels in one frame of at most 1 GiB");
        h.kind = message_kind::fixed;
        h.max_message = static_cast<std::uint32_t>(sizeof(Message));
        h.description = describe_message<Message>();
    }
    h.fingerprint = fnv1a(h.description);
    return h;
}

inline void put_be64(std::byte* out, std::uint64_t v) noexcept {
    put_be32(out, static_cast<std::uint32_t>(v >> 32));
    put_be32(out + 4, static_cast<std::uint32_t>(v));
}
inline std::uint64_t get_be64(const std::byte* in) noexcept {
    return (std::uint64_t{get_be32(in)} << 32) | get_be32(in + 4);
}

/// `h` as the bytes that go on the wire.
inline std::vector<std::byte> encode_hello(const hello& h) {
    const std::size_t n = std::min(h.description.size(), hello_max_description);
    std::vector<std::byte> out(hello_fixed_size + n);
    std::memcpy(out.data(), hello_magic.data(), hello_magic.size());
    put_be32(&out[8], h.version);
    out[12] = static_cast<std::byte>(h.byte_order);
    out[13] = static_cast<std::byte>(h.verdict);
    out[14] = static_cast<std::byte>(n >> 8);
    out[15] = static_cast<std::byte>(n);
    put_be64(&out[16], h.fingerprint);
    put_be32(&out[24], h.max_message);
    out[28] = static_cast<std::byte>(h.kind);
    std::memcpy(out.data() + hello_fixed_size, h.description.data(), n);
    return out;
}

/// The fixed part of a peer's hello, read back: the hello without its description, and how
/// long the description that follows is; or `fault` (corrupt) when these are not an ipckit
/// hello at all.
struct hello_head {
    hello h;
    std::size_t description_length = 0;
    errc fault = errc::ok;
    std::string why;
};

inline hello_head decode_hello_head(const std::byte* in) {
    hello_head r;
    if (std::memcmp(in, hello_magic.data(), hello_magic.size()) != 0) {
        r.fault = errc::corrupt;
        r.why = "the peer is not an ipckit connection: its first bytes are not ipckit's handshake";
        return r;
    }
    r.h.version = get_be32(in + 8);
    r.h.byte_order = std::to_integer<std::uint8_t>(in[12]);
    const auto verdict = std::to_integer<std::uint8_t>(in[13]);
    r.description_length = (std::size_t{std::to_integer<std::uint8_t>(in[14])} << 8) | std::to_integer<std::uint8_t>(in[15]);
    r.h.fingerprint = get_be64(in + 16);
    r.h.max_message = get_be32(in + 24);
    const auto kind = std::to_integer<std::uint8_t>(in[28]);
    if (r.h.version != net_protocol_version) {
        // Another version may lay out the rest differently: say only what is certain.
        r.fault = errc::incompatible_layout;
        r.why = "the peer speaks ipckit's connection protocol version " + std::to_string(r.h.version) +
                ", this end version " + std::to_string(net_protocol_version) + ": use one ipckit version on both ends";
    } else if (r.description_length > hello_max_description || verdict > 1 || (kind != 1 && kind != 2) ||
               (r.h.byte_order != 1 && r.h.byte_order != 2) || in[29] != std::byte{0} || in[30] != std::byte{0} ||
               in[31] != std::byte{0}) {
        r.fault = errc::corrupt;
        r.why = "the peer's handshake is damaged (a field holds a value no ipckit sends)";
    } else {
        r.h.verdict = static_cast<hello_verdict>(verdict);
        r.h.kind = static_cast<message_kind>(kind);
    }
    return r;
}

/// Whether an end that said `mine` can talk to one that said `peer`: ok, and the longest
/// message both accept; or incompatible_layout with a sentence naming what differs, the same
/// at both ends.
struct hello_match {
    errc result = errc::ok;
    std::size_t max_message = 0;
    std::string why;
};

inline hello_match match_hello(const hello& mine, const hello& peer) {
    hello_match m;
    const auto mismatch = [&](const std::string& what) {
        m.result = errc::incompatible_layout;
        m.why = what + ": this end carries " + mine.description + ", the peer " + quoted(peer.description, 256) +
                " (both ends must carry the same message type)";
        return m;
    };
    if (mine.kind != peer.kind) return mismatch("one end sends fixed-size messages, the other bytes<Max>");
    if (mine.kind == message_kind::fixed) {
        if (mine.fingerprint != peer.fingerprint || mine.max_message != peer.max_message)
            return mismatch("the message types differ");
        if (mine.byte_order != peer.byte_order) {
            m.result = errc::incompatible_layout;
            m.why = "the two ends have different byte orders, so " + mine.description +
                    " cannot travel as its bytes: send bytes<Max> in an encoding of your own";
            return m;
        }
    }
    m.max_message = std::min(mine.max_message, peer.max_message);
    return m;
}

}  // namespace ipckit::detail
