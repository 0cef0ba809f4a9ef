#pragma once
// The receiving side of a connection's byte stream: bytes read from the socket in large chunks,
// cut into frames (frame.hpp) in place. A receive takes a data frame straight from here, so a
// message is copied once, from this buffer into the caller's.
//
//   buf_: [0, head_)       taken already
//         [head_, len_)    read, not yet taken: whole frames, then at most a part of one
//         [len_, size())   room for the next read
//
// Untrusted input: a frame's header is checked (decode_frame_header, and the fixed size of a
// fixed-size T) before the buffer grows to hold it, and it never grows past one whole frame of
// the connection's largest message. Not thread-safe: its link guards it with its mutex (and
// says which thread may read the socket, when).

#include <ipckit/detail/net/frame.hpp>
#include <ipckit/detail/sys/stream_io.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>
#include <vector>

namespace ipckit::detail {

class frame_reader {
public:
    /// What next() found at the head of the buffer.
    struct frame {
        enum class kind { none, data, close, fault } what = kind::none;
        const std::byte* data = nullptr;  // data: the message
        std::size_t size = 0;             // data: its length
        const char* fault = nullptr;      // fault: why the stream is corrupt (a static string)
    };

    /// `chunk`: bytes one read asks for (the buffer's first size).
    frame_reader(std::size_t max_message, bool fixed, std::size_t chunk)
        : max_message_(max_message), fixed_(fixed), buf_(std::max(chunk, frame_header_size)) {}

    /// The first whole data frame or close frame, skipping heartbeats (they only show that the
    /// peer lives); none if no whole frame is in; fault if the next header is damaged. A data
    /// frame stays until taken(); a close frame is consumed.
    frame next() noexcept {
        while (len_ - head_ >= frame_header_size) {
            auto h = decode_frame_header(buf_.data() + head_, max_message_);
            if (h.fault == nullptr && fixed_ && h.type == frame_type::data && h.length != max_message_)
                h.fault = "a frame is shorter than the connection's fixed-size message";
            if (h.fault != nullptr) return {frame::kind::fault, nullptr, 0, h.fault};
            const std::size_t whole = frame_header_size + h.length;
            if (len_ - head_ < whole) {
                wanted_ = whole;  // h.length <= max_message_: checked above
                return {};
            }
            if (h.type == frame_type::data) {
                pending_ = whole;
                return {frame::kind::data, buf_.data() + head_ + frame_header_size, h.length, nullptr};
            }
            head_ += whole;
            if (h.type == frame_type::close) return {frame::kind::close, nullptr, 0, nullptr};
        }
        wanted_ = frame_header_size;
        return {};
    }

    /// The data frame next() returned was taken.
    void taken() noexcept {
        head_ += pending_;
        pending_ = 0;
        if (head_ == len_) head_ = len_ = 0;
    }

    /// Where the next read goes: room for at least the rest of the frame next() stopped in
    /// (compacting, or growing to one whole frame), or as much as the buffer has. Throws
    /// std::bad_alloc if it cannot grow. Empty when the buffer is full of whole frames.
    std::span<std::byte> room() {
        if (head_ == len_) head_ = len_ = 0;
        if (buf_.size() - head_ < wanted_ || (len_ == buf_.size() && head_ != 0)) {
            std::memmove(buf_.data(), buf_.data() + head_, len_ - head_);
            len_ -= head_;
            head_ = 0;
        }
        if (buf_.size() < wanted_) buf_.resize(wanted_);
        return {buf_.data() + len_, buf_.size() - len_};
    }
    /// What read() did.
    enum class read_status { got, none, ended, failed, no_memory };
    /// One non-blocking read of what the socket `fd` holds into room(): got bytes; none (the
    /// socket is empty, or the buffer full of whole frames); ended (the peer's end of stream);
    /// failed (`ec` says why); no_memory (the buffer could not grow to the next frame, which
    /// stays unread: a later read may retry).
    read_status read(int fd, std::error_code& ec) noexcept {
        std::span<std::byte> r;
        try {
            r = room();
        } catch (...) {
            return read_status::no_memory;
        }
        if (r.empty()) return read_status::none;
        const std::size_t n = sys::receive_some(fd, r.data(), r.size(), ec);
        if (ec == std::errc::operation_would_block) {
            drained_ = true;
            return read_status::none;
        }
        if (ec) return read_status::failed;
        if (n == 0) return read_status::ended;
        len_ += n;
        if (n == r.size()) drained_ = false;  // the socket may hold more
        return read_status::got;
    }
    /// The last read found the socket empty, and none since filled the buffer: a blocking
    /// receive may as well sleep in poll first, and read once it wakes.
    [[nodiscard]] bool drained() const noexcept { return drained_; }

    /// Bytes read and not yet taken (a part of a frame at the end of a stream is a truncation).
    [[nodiscard]] std::size_t unread() const noexcept { return len_ - head_; }

private:
    const std::size_t max_message_;
    const bool fixed_;
    std::vector<std::byte> buf_;
    std::size_t head_ = 0;
    std::size_t len_ = 0;
    std::size_t pending_ = 0;                  // the whole size of the data frame next() returned
    std::size_t wanted_ = frame_header_size;  // bytes from head_ that the next frame needs
    bool drained_ = false;
};

}  // namespace ipckit::detail
