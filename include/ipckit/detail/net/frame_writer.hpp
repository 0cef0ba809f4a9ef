#pragma once
// The sending side of a connection's byte stream: frames (frame.hpp) written to the socket at
// once, or gathered in out_ and written together, and what the socket does not take handed to
// the I/O thread. Not thread-safe: its link guards it with its mutex, and acts on the step each
// call returns (posting to the I/O thread, waking send waiters, ending the stream); link.hpp
// says which thread may write the socket, when.
//
// Sending: small messages coalesce while the connection is busy. A send that finds out_ empty
// and the connection idle (nothing written for coalesce_window, or the calling thread's last
// receive, on any connection, had to wait for its peer: the send is a reply), or whose frame
// alone reaches flush_bytes, writes at once: latency. Otherwise it appends its frame to out_,
// which is written out in one send when it reaches flush_bytes, when its oldest frame is
// coalesce_window old (checked by each send), when the user's thread receives with nothing
// left to take or waits on a waitset (so a ping-pong never waits on a buffer), on close, or at
// the latest by the I/O thread's backstop tick, backstop_delay after the first buffered frame.
//
// What the socket does not take of a write is left to the I/O thread: `writing_` is set and
// one async write at a time carries out_ (swapped into wbuf_, which only the I/O thread
// touches meanwhile) until out_ is empty; nobody else writes meanwhile.
//
// A batch (send(batch_fn)) is appended to out_ whole, as many frames as fit, and then written
// or left as one send's frame would be: at most one write, and one hand-off, per batch that fits.
//
// Bounded memory: out_ holds at most `send_buffer` bytes (or one frame, if a frame is larger);
// while a frame does not fit (fits()), the link's send waits or returns would_block.
//
// A write that fails breaks the write side for good (break_off()): what is buffered is dropped,
// nothing more is written, and the link's sends return peer_dead.

#include <ipckit/detail/net/duplex.hpp>
#include <ipckit/detail/net/frame.hpp>
#include <ipckit/detail/net/socket.hpp>
#include <ipckit/detail/sys/stream_io.hpp>
#include <ipckit/error.hpp>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace ipckit::detail {

/// Whether this thread's last receive on a connection found nothing to take and went to its
/// socket: then its next send, on any connection, is a reply (or a relayed message) that
/// someone waits for, and is written at once.
inline thread_local bool receive_waited = false;

class frame_writer {
public:
    /// A send this soon after the last write, with no receive that waited in between, is part
    /// of a burst and coalesces; the oldest buffered frame waits at most this long for a send
    /// to flush it.
    static constexpr auto coalesce_window = std::chrono::microseconds(20);
    /// A burst's last frames are written by the I/O thread at the latest this long after the
    /// first of them was buffered (when no send, receive or wait flushed them before).
    static constexpr auto backstop_delay = std::chrono::microseconds(100);
    /// A buffer of this many bytes is written at once, whatever its age.
    static constexpr std::size_t flush_bytes = 64 * 1024;

    /// What the link must do after a call.
    enum class step {
        none,
        drained,   // out_ was written out (or dropped, the write side broken): wake send waiters;
                   // after a close frame, the last write is done
        hand_off,  // the socket is full: the I/O thread must carry out_ (writing() is now true)
        backstop,  // frames wait in out_: arm the I/O thread's backstop (once, until backstop_done())
        failed,    // a write failed (error()): the write side is broken
        torn,      // out of memory after a part of a frame was written: the stream is damaged
    };
    /// What send() did: the step, and what the user's send returns.
    struct sent {
        step then;
        errc result;
    };

    /// `fd`: the connection's socket, non-blocking.
    frame_writer(int fd, std::size_t send_buffer) : fd_(fd), send_buffer_(send_buffer) {}

    /// The connection starts: the idle rule counts from now.
    void started(clock::time_point now) noexcept { last_write_ = now; }

    /// Whether a data frame of `n` bytes fits in out_ now (an empty out_ takes any frame).
    [[nodiscard]] bool fits(std::size_t n) const noexcept {
        return out_.empty() || out_.size() + frame_header_size + n <= send_buffer_;
    }

    /// The user's thread, once fits(n): sends `n` bytes at `p` as one data frame, written at once
    /// or buffered (see top).
    sent send(const void* p, std::size_t n) noexcept {
        std::array<std::byte, frame_header_size> header{};
        encode_frame_header(header.data(), frame_type::data, static_cast<std::uint32_t>(n));
        const auto now = clock::now();
        const bool was_empty = out_.empty();
        std::size_t written = 0;
        bool tried = false;
        if (was_empty && !writing_ &&
            (receive_waited || now - last_write_ >= coalesce_window || frame_header_size + n >= flush_bytes)) {
            tried = true;
            // Idle (or a frame that would be written alone anyway): write it at once from this
            // thread, sparing a copy and any hop.
            std::array<iovec, 2> frame{iovec{header.data(), header.size()}, iovec{const_cast<void*>(p), n}};
            std::error_code ec;
            written = sys::send_some(fd_, frame, ec);
            receive_waited = false;
            last_write_ = now;
            if (ec && ec != std::errc::operation_would_block) {
                error_ = ec;
                return {step::failed, errc::peer_dead};
            }
            if (written == frame_header_size + n) return {step::none, errc::ok};
        }
        try {
            append(header, p, n, written);
        } catch (...) {
            return {written != 0 ? step::torn : step::none, errc::no_space};
        }
        if (writing_) return {step::none, errc::ok};  // the I/O thread's write takes it
        if (tried) {
            // The socket took not all of the frame: it is full. The I/O thread writes the rest
            // when it has room, and later sends gather behind it.
            writing_ = true;
            return {step::hand_off, errc::ok};
        }
        return {buffered(was_empty, now), errc::ok};
    }

    /// The user's thread, once fits() the next: appends the frames of ms[done], ms[done + 1],
    /// ... while they fit, counting them in `done`, then writes them as one send's frame would
    /// be written (idle or a reply: at once, with one write; else they coalesce). no_space if
    /// none could be appended.
    sent send(const batch_fn& ms, std::size_t& done) noexcept {
        const auto now = clock::now();
        const bool was_empty = out_.empty();
        const std::size_t first = done;
        std::array<std::byte, frame_header_size> header{};
        try {
            for (std::span<const std::byte> m; done < ms.size() && fits((m = ms(done)).size()); ++done) {
                encode_frame_header(header.data(), frame_type::data, static_cast<std::uint32_t>(m.size()));
                append(header, m.data(), m.size(), 0);  // all or nothing (the vector's resize)
            }
        } catch (...) {
            if (done == first) return {step::none, errc::no_space};
        }
        if (writing_) return {step::none, errc::ok};
        if (was_empty && (receive_waited || now - last_write_ >= coalesce_window)) {
            receive_waited = false;
            return {flush(), errc::ok};
        }
        return {buffered(was_empty, now), errc::ok};
    }

    /// Any thread, while the socket is not shut: writes out_ with one non-blocking send unless
    /// the I/O thread's write owns the socket; what the socket does not take goes to the I/O
    /// thread.
    step flush() noexcept {
        if (writing_ || out_.empty()) return step::none;
        if (broken_) {
            out_.clear();
            return step::drained;
        }
        std::array<iovec, 1> all{iovec{out_.data(), out_.size()}};
        std::error_code ec;
        const std::size_t n = sys::send_some(fd_, all, ec);
        last_write_ = clock::now();
        if (ec && ec != std::errc::operation_would_block) {
            error_ = ec;
            return step::failed;
        }
        out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(n));
        if (out_.empty()) return step::drained;
        writing_ = true;
        return step::hand_off;
    }

    /// The I/O thread, before each async write of a hand-off: what to write next (out_, swapped
    /// into wbuf_, which stays untouched until the next call), or nothing when out_ is empty or
    /// `stop` (the socket is shut): the hand-off is over then.
    std::span<const std::byte> next_batch(bool stop) noexcept {
        wbuf_.clear();
        if (out_.empty() || stop) {
            writing_ = false;
            return {};
        }
        std::swap(out_, wbuf_);
        last_write_ = clock::now();
        return wbuf_;
    }
    /// The I/O thread: its async write failed; the hand-off is over.
    step async_failed(const std::error_code& ec) noexcept {
        writing_ = false;
        error_ = ec;
        return step::failed;
    }

    /// The I/O thread's liveness tick, while the connection is open: a heartbeat frame when
    /// nothing was written for `beat` and nothing waits to be.
    step heartbeat(clock::time_point now, clock::duration beat) noexcept {
        if (broken_ || writing_ || !out_.empty() || now - last_write_ < beat) return step::none;
        try {
            out_.resize(frame_header_size);
        } catch (...) {
            return step::none;
        }
        encode_frame_header(out_.data(), frame_type::heartbeat, 0);
        return flush();
    }

    /// Appends a close frame behind what was sent (dropped if out of memory: the peer then sees
    /// an end of stream without one).
    void close_frame() noexcept {
        try {
            const auto at = out_.size();
            out_.resize(at + frame_header_size);
            encode_frame_header(out_.data() + at, frame_type::close, 0);
        } catch (...) {
        }
    }

    /// Under the link's mutex, held by `lock`: waits until woken (wake_senders()) or `deadline`,
    /// for room or for the writer to be idle; false once the deadline has passed.
    bool wait_for_room(std::unique_lock<std::mutex>& lock, clock::time_point deadline) {
        if (clock::now() >= deadline) return false;
        ++waiters_;
        if (deadline == clock::time_point::max())
            can_send_.wait(lock);
        else
            can_send_.wait_until(lock, deadline);
        --waiters_;
        return true;
    }
    /// Wakes the sends (and the close) waiting: the buffer drained, or the connection changed.
    void wake_senders() noexcept {
        if (waiters_ != 0) can_send_.notify_all();
    }

    /// The backstop ran (or was cancelled): the next buffered burst arms it again.
    void backstop_done() noexcept { backstop_armed_ = false; }

    /// A write failed (error()) while the connection was open: from now on nothing is written
    /// and what was buffered is dropped.
    void break_off() noexcept {
        if (!broken_) {
            broken_ = true;
            try {
                fault_ = "writing to the peer failed: " + error_.message();
            } catch (...) {
            }
        }
        out_.clear();
    }

    /// An async write of the I/O thread owns the socket's write side.
    [[nodiscard]] bool writing() const noexcept { return writing_; }
    /// Nothing is buffered or being written.
    [[nodiscard]] bool idle() const noexcept { return !writing_ && out_.empty(); }
    [[nodiscard]] bool broken() const noexcept { return broken_; }
    /// The error of the last failed write.
    [[nodiscard]] const std::error_code& error() const noexcept { return error_; }
    /// Why the write side broke, in words (empty while it is not).
    [[nodiscard]] const std::string& fault() const noexcept { return fault_; }

private:
    /// After frames were appended to out_ (it was empty before if `was_empty`) while no write of
    /// the I/O thread is under way: writes out_ once it is big or old enough, else has the
    /// backstop armed.
    step buffered(bool was_empty, clock::time_point now) noexcept {
        if (was_empty) first_buffered_ = now;
        if (out_.size() >= flush_bytes || now - first_buffered_ >= coalesce_window) return flush();
        if (backstop_armed_) return step::none;
        backstop_armed_ = true;
        return step::backstop;
    }

    /// Appends the frame (`header`, then `n` bytes at `p`) to out_, less the first `written`
    /// bytes of it, which are on the wire. Throws std::bad_alloc.
    void append(const std::array<std::byte, frame_header_size>& header, const void* p, std::size_t n, std::size_t written) {
        const auto at = out_.size();
        out_.resize(at + frame_header_size + n - written);
        std::byte* to = out_.data() + at;
        if (written < frame_header_size) {
            std::memcpy(to, header.data() + written, frame_header_size - written);
            to += frame_header_size - written;
            written = 0;
        } else {
            written -= frame_header_size;
        }
        if (n > written) std::memcpy(to, static_cast<const std::byte*>(p) + written, n - written);
    }

    const int fd_;
    const std::size_t send_buffer_;
    std::vector<std::byte> out_;
    std::vector<std::byte> wbuf_;  // the I/O thread's async write (see top)
    bool writing_ = false;         // an async write of the I/O thread owns the write side
    bool backstop_armed_ = false;  // the link's backstop is posted or its timer runs
    bool broken_ = false;          // a write failed: nothing more is written
    clock::time_point first_buffered_{};
    clock::time_point last_write_{};
    std::error_code error_;
    std::string fault_;
    std::condition_variable can_send_;
    int waiters_ = 0;
};

}  // namespace ipckit::detail
