#pragma once
// The frames a connection's byte stream is cut into, after the handshake (hello.hpp).
//
//   offset  size  field
//   0       1     type: 1 data, 2 close, 3 heartbeat
//   1       3     zero
//   4       4     length of the payload that follows, big-endian (0 for close and heartbeat)
//
// A data frame carries one message. A close frame says the sender will send nothing more (the
// receiver takes what came before it, then reads closed). A heartbeat carries nothing: it only
// shows that the peer lives, and is sent while a connection has been idle for a while.
//
// A header is checked before anything is allocated for its payload: an unknown type, non-zero
// padding, a payload on close or heartbeat, or a length past the connection's negotiated
// maximum makes the stream corrupt, and the connection is dropped.

#include <cstddef>
#include <cstdint>

namespace ipckit::detail {

enum class frame_type : std::uint8_t { data = 1, close = 2, heartbeat = 3 };

inline constexpr std::size_t frame_header_size = 8;

inline void put_be32(std::byte* out, std::uint32_t v) noexcept {
    out[0] = static_cast<std::byte>(v >> 24);
    out[1] = static_cast<std::byte>(v >> 16);
    out[2] = static_cast<std::byte>(v >> 8);
    out[3] = static_cast<std::byte>(v);
}
inline std::uint32_t get_be32(const std::byte* in) noexcept {
    return (std::uint32_t{std::to_integer<std::uint8_t>(in[0])} << 24) |
           (std::uint32_t{std::to_integer<std::uint8_t>(in[1])} << 16) |
           (std::uint32_t{std::to_integer<std::uint8_t>(in[2])} << 8) | std::to_integer<std::uint8_t>(in[3]);
}

inline void encode_frame_header(std::byte* out, frame_type type, std::uint32_t length) noexcept {
    out[0] = static_cast<std::byte>(type);
    out[1] = out[2] = out[3] = std::byte{0};
    put_be32(out + 4, length);
}

/// A frame header read back: its type and payload length, or `fault` saying why the stream is
/// corrupt (a static string; null when the header is sound).
struct frame_header {
    frame_type type = frame_type::data;
    std::uint32_t length = 0;
    const char* fault = nullptr;
};

/// Reads the frame_header_size bytes at `in`, checking them against `max_length`, the longest
/// payload this connection accepts.
inline frame_header decode_frame_header(const std::byte* in, std::size_t max_length) noexcept {
    frame_header h;
    const auto type = std::to_integer<std::uint8_t>(in[0]);
    h.length = get_be32(in + 4);
    if (in[1] != std::byte{0} || in[2] != std::byte{0} || in[3] != std::byte{0}) {
        h.fault = "a frame header's padding is not zero";
    } else if (type == static_cast<std::uint8_t>(frame_type::data)) {
        h.type = frame_type::data;
        if (h.length > max_length) h.fault = "a frame is longer than the connection's largest message";
    } else if (type == static_cast<std::uint8_t>(frame_type::close) ||
               type == static_cast<std::uint8_t>(frame_type::heartbeat)) {
        h.type = static_cast<frame_type>(type);
        if (h.length != 0) h.fault = "a close or heartbeat frame carries a payload";
    } else {
        h.fault = "a frame has an unknown type";
    }
    return h;
}

}  // namespace ipckit::detail
