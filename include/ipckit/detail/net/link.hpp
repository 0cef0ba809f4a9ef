#pragma once
// A connection's state, shared by the user's thread and the I/O thread (io_thread.hpp).
//
//   user thread                         mutex m_                       I/O thread
//   send:    append frame to out_  ---> out_ (pending frames)    ---> swap into wbuf_, one write
//   receive: take a record from inbox_ <--- inbox_ (messages)    <--- parse rbuf_, check, append
//   close:   append close frame, wait until written                  shutdown, drain to EOF
//
// Backpressure and bounded memory. out_ holds at most options.send_buffer bytes (or one frame,
// if a frame is larger): a blocking send waits while it is full, a non-blocking one returns
// would_block. While a write is in flight, later sends gather in out_ and go in the next write
// together (small messages coalesce while the socket is busy; an idle socket gets each at once).
// The I/O thread stops reading while inbox_ holds options.receive_buffer bytes, so a receiver
// that does not read holds back its peer's sends through the socket, and only that peer's.
// A frame's length is checked against the negotiated maximum before rbuf_ grows for it.
//
// Liveness. A timer on the I/O thread sends a heartbeat when nothing was written for a quarter
// of the liveness interval, and declares the peer dead when nothing was read for a whole one
// (while reading is not paused by a full inbox: then the peer is plainly alive).
//
// Ends. A close frame from the peer: its messages before it are received, then closed. End of
// stream without one, a reset or silence: peer_dead after the messages already received. A
// damaged frame: corrupt, and the socket is closed at once.

#include <ipckit/detail/net/duplex.hpp>
#include <ipckit/detail/net/frame.hpp>
#include <ipckit/detail/net/options.hpp>
#include <ipckit/detail/net/socket.hpp>
#include <ipckit/detail/net/watch.hpp>
#include <ipckit/error.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ipckit::detail {

class link final : public duplex, public std::enable_shared_from_this<link> {
public:
    /// `released` is called once when the link is gone (a listener counts its connections).
    /// `fixed`: every message is exactly `max_message` bytes (a fixed-size T), else at most.
    link(net_socket socket, std::size_t max_message, bool fixed, const net_options& o,
         std::function<void()> released = {})
        : socket_(std::move(socket)),
          timer_(socket_.get_executor()),
          options_(o),
          max_message_(max_message),
          fixed_(fixed),
          released_(std::move(released)) {
        rbuf_.resize(std::min<std::size_t>(frame_header_size + max_message_, 64 * 1024));
    }
    ~link() override {
        if (released_) released_();
    }
    link(const link&) = delete;
    link& operator=(const link&) = delete;

    /// Starts reading, heartbeats and the liveness watch (call once, before any verb).
    void start() {
        boost::system::error_code ignored;
        socket_.non_blocking(true, ignored);  // before any async operation: see send()
        asio::post(socket_.get_executor(), [self = shared_from_this()] {
            self->last_rx_ = self->last_tx_ = clock::now();
            self->read_more();
            self->arm_timer();
        });
    }

    [[nodiscard]] std::size_t max_message() const noexcept override { return max_message_; }

    // ---- user thread -------------------------------------------------------------------------

    /// Queues `n` bytes at `p` as one data frame. `deadline` max with may_block false: one attempt.
    errc send(const void* p, std::size_t n, clock::time_point deadline, bool may_block) noexcept override {
        if (n > max_message_) return errc::too_large;
        std::unique_lock lock(m_);
        for (;;) {
            if (state_ != state::open) return send_end();
            if (out_.empty() || out_.size() + frame_header_size + n <= options_.send_buffer) break;
            if (!may_block) return errc::would_block;
            if (!wait(lock, can_send_, send_waiters_, deadline)) return errc::timed_out;
        }
        std::array<std::byte, frame_header_size> header{};
        encode_frame_header(header.data(), frame_type::data, static_cast<std::uint32_t>(n));
        std::size_t written = 0;
        if (!writing_ && out_.empty() && !socket_closed_) {
            // An idle socket: write the frame at once from this thread, sparing the hop to the
            // I/O thread. Under m_, so the I/O thread neither writes nor closes the socket
            // meanwhile; the socket is non-blocking (start()), so this never waits. Whatever
            // does not fit (or an error) is left to the I/O thread's write, which reports it.
            const std::array<asio::const_buffer, 2> frame{asio::buffer(header), asio::buffer(p, n)};
            boost::system::error_code ec;
            written = socket_.send(frame, 0, ec);
            if (written == frame_header_size + n) return errc::ok;
        }
        try {
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
        } catch (...) {
            if (written != 0) {  // half a frame is on the wire: the stream cannot go on
                state_ = state::corrupt;
                fault_ = "out of memory in the middle of a send";
                post_drop();
            }
            return errc::no_space;
        }
        kick_write();
        return errc::ok;
    }

    /// Takes the next message: `take` is called under the lock (duplex.hpp).
    errc receive(take_fn take, clock::time_point deadline, bool may_block) noexcept override {
        std::unique_lock lock(m_);
        for (;;) {
            if (state_ == state::closed_here) return errc::closed;
            if (inbox_head_ < inbox_.size()) {
                std::uint32_t n = 0;
                std::memcpy(&n, inbox_.data() + inbox_head_, sizeof n);
                const errc e = take(inbox_.data() + inbox_head_ + sizeof n, std::size_t{n});
                if (e != errc::ok) return e;
                inbox_head_ += sizeof n + n;
                after_take();
                return errc::ok;
            }
            if (state_ != state::open) return receive_end();
            if (!may_block) return errc::would_block;
            if (!wait(lock, can_receive_, receive_waiters_, deadline)) return errc::timed_out;
        }
    }

    /// Sends a close frame after what was sent, waits until `deadline` for it to be written,
    /// then lets the I/O thread finish the stream. Later verbs return closed.
    void close(clock::time_point deadline) noexcept override {
        std::unique_lock lock(m_);
        if (state_ == state::open) {
            state_ = state::closed_here;
            try {
                const auto at = out_.size();
                out_.resize(at + frame_header_size);
                encode_frame_header(out_.data() + at, frame_type::close, 0);
                kick_write();
            } catch (...) {
            }
        }
        while ((writing_ || !out_.empty()) && !socket_closed_)
            if (!wait(lock, can_send_, send_waiters_, deadline)) break;
        lock.unlock();
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->finish_close(); });
    }

    /// Whether a receive would not wait: a message is in, or the connection ended.
    [[nodiscard]] bool ready() const noexcept {
        std::lock_guard lock(m_);
        return inbox_head_ < inbox_.size() || state_ != state::open;
    }
    /// A waitset watches (or stops watching) this link: it is signalled when ready() may have
    /// turned true (watch.hpp).
    void watch(std::shared_ptr<watch_core> w) {
        std::lock_guard lock(m_);
        watchers_.add(std::move(w));
    }
    void unwatch(const watch_core* w) noexcept {
        std::lock_guard lock(m_);
        watchers_.remove(w);
    }

    /// Why the connection ended, in words (empty while it is open or after an orderly close).
    [[nodiscard]] std::string fault() const override {
        std::lock_guard lock(m_);
        return fault_;
    }

private:
    enum class state { open, closed_here, closed_by_peer, peer_dead, corrupt };

    errc send_end() const noexcept {
        switch (state_) {
        case state::peer_dead: return errc::peer_dead;
        case state::corrupt: return errc::corrupt;
        default: return errc::closed;
        }
    }
    errc receive_end() const noexcept { return send_end(); }

    /// Waits on `cv` until notified or `deadline`; false once the deadline has passed.
    bool wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, int& waiters, clock::time_point deadline) {
        if (clock::now() >= deadline) return false;
        ++waiters;
        if (deadline == clock::time_point::max())
            cv.wait(lock);
        else
            cv.wait_until(lock, deadline);
        --waiters;
        return true;
    }

    /// Under m_: starts a write on the I/O thread unless one is in flight.
    void kick_write() {
        if (writing_) return;
        writing_ = true;
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->write_more(); });
    }

    /// Under m_, after a message was taken: resumes reading once the inbox has room again, and
    /// compacts it.
    void after_take() {
        if (inbox_head_ == inbox_.size()) {
            inbox_.clear();
            inbox_head_ = 0;
        } else if (inbox_head_ > options_.receive_buffer) {
            inbox_.erase(inbox_.begin(), inbox_.begin() + static_cast<std::ptrdiff_t>(inbox_head_));
            inbox_head_ = 0;
        }
        if (read_paused_ && inbox_.size() - inbox_head_ < options_.receive_buffer / 2 + 1) {
            read_paused_ = false;
            asio::post(socket_.get_executor(), [self = shared_from_this()] {
                self->last_rx_ = clock::now();
                self->parse_and_read();
            });
        }
    }

    // ---- I/O thread --------------------------------------------------------------------------

    void write_more() {
        {
            std::lock_guard lock(m_);
            wbuf_.clear();
            if (out_.empty() || socket_closed_) {
                writing_ = false;
                if (send_waiters_ != 0) can_send_.notify_all();
                after_last_write();
                return;
            }
            std::swap(out_, wbuf_);
            if (send_waiters_ != 0) can_send_.notify_all();
        }
        last_tx_ = clock::now();
        asio::async_write(socket_, asio::buffer(wbuf_), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
            if (ec) return self->end(state::peer_dead, "writing to the peer failed: " + ec.message());
            self->write_more();
        });
    }

    void read_more() {
        if (socket_closed_) return;
        socket_.async_read_some(asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                                [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                    self->on_read(ec, n);
                                });
    }

    void on_read(const boost::system::error_code& ec, std::size_t n) {
        if (ec == asio::error::operation_aborted || socket_closed_) return;
        const bool draining = closed_here();
        if (ec) {
            if (draining) return drop_socket();  // the peer's end, after our close: done
            if (ec == asio::error::eof)
                return end(state::peer_dead, rlen_ == 0 ? "the peer's stream ended without a close frame (its process died?)"
                                                       : "the peer's stream ended inside a frame (truncated)");
            return end(state::peer_dead, "reading from the peer failed: " + ec.message());
        }
        last_rx_ = clock::now();
        if (draining) return read_more();  // after our close: discard until the peer's end
        rlen_ += n;
        parse_and_read();
    }

    /// Moves every whole frame in rbuf_ to the inbox, then reads more unless the inbox is full,
    /// the peer closed, or the stream is corrupt.
    void parse_and_read() {
        std::size_t at = 0;
        bool peer_closed = false;
        bool pause = false;
        {
            std::lock_guard lock(m_);
            if (state_ == state::closed_here) return read_more();  // draining: see on_read
            if (state_ != state::open) return;
            while (rlen_ - at >= frame_header_size) {
                auto h = decode_frame_header(rbuf_.data() + at, max_message_);
                if (h.fault == nullptr && fixed_ && h.type == frame_type::data && h.length != max_message_)
                    h.fault = "a frame is shorter than the connection's fixed-size message";
                if (h.fault != nullptr) {
                    fault_ = std::string("the peer sent a damaged stream: ") + h.fault;
                    state_ = state::corrupt;
                    drop_socket_locked();
                    return;
                }
                const std::size_t whole = frame_header_size + h.length;
                if (rlen_ - at < whole) {
                    if (rbuf_.size() < whole) rbuf_.resize(whole);  // h.length <= max_message_: checked
                    break;
                }
                if (h.type == frame_type::data) {
                    const auto size = static_cast<std::uint32_t>(h.length);
                    const auto end = inbox_.size();
                    inbox_.resize(end + sizeof size + size);
                    std::memcpy(inbox_.data() + end, &size, sizeof size);
                    std::memcpy(inbox_.data() + end + sizeof size, rbuf_.data() + at + frame_header_size, size);
                } else if (h.type == frame_type::close) {
                    peer_closed = true;
                    at += whole;
                    break;
                }
                at += whole;
            }
            if (peer_closed && state_ == state::open) state_ = state::closed_by_peer;
            if (receive_waiters_ != 0) can_receive_.notify_all();
            if (at != 0) watchers_.signal();
            if (peer_closed) {
                if (send_waiters_ != 0) can_send_.notify_all();
                if (!writing_) after_last_write();
                return;
            }
            pause = read_paused_ = inbox_.size() - inbox_head_ >= options_.receive_buffer;
        }
        if (at != 0) {
            std::memmove(rbuf_.data(), rbuf_.data() + at, rlen_ - at);
            rlen_ -= at;
        }
        if (!pause) read_more();  // else after_take() resumes: one read in flight at most
    }

    void arm_timer() {
        const auto beat = std::max(options_.liveness_interval / 4, std::chrono::milliseconds(1));
        timer_.expires_after(beat);
        timer_.async_wait([self = shared_from_this(), beat](const boost::system::error_code& ec) {
            if (ec || self->socket_closed_) return;
            const auto now = clock::now();
            {
                std::lock_guard lock(self->m_);
                if (self->state_ != state::open) {
                    // Draining after our close: a peer that never ends its stream is cut off.
                    if (self->state_ == state::closed_here && now - self->last_rx_ > self->options_.close_timeout)
                        self->drop_socket_locked();
                    if (!self->socket_closed_) self->arm_timer();
                    return;
                }
                if (!self->read_paused_ && now - self->last_rx_ > self->options_.liveness_interval) {
                    self->fault_ = "the peer sent nothing, not even a heartbeat, for longer than the liveness interval (" +
                                   std::to_string(self->options_.liveness_interval.count()) + " ms)";
                    self->state_ = state::peer_dead;
                    self->wake_all();
                    self->drop_socket_locked();
                    return;
                }
                if (!self->writing_ && self->out_.empty() && now - self->last_tx_ >= beat) {
                    const auto at = self->out_.size();
                    self->out_.resize(at + frame_header_size);
                    encode_frame_header(self->out_.data() + at, frame_type::heartbeat, 0);
                    self->kick_write();
                }
            }
            self->arm_timer();
        });
    }

    /// The stream ended (`s`: peer_dead), unless it had already ended another way.
    void end(state s, std::string why) {
        {
            std::lock_guard lock(m_);
            if (state_ == state::open) {
                state_ = s;
                fault_ = std::move(why);
            }
            wake_all();
        }
        drop_socket();
    }

    /// After close(): once the close frame is written, end our half of the stream; reads go on,
    /// discarding, until the peer's end (so that closing never resets a stream with bytes
    /// unread), or close_timeout without a byte.
    void finish_close() {
        std::lock_guard lock(m_);
        if (!writing_) after_last_write();  // else write_more() calls it when done
    }

    /// Under m_, on the I/O thread, once nothing is left to write: after our close frame, end our
    /// half of the stream; after the peer's, nothing more will pass either way, so let go.
    void after_last_write() {
        if (socket_closed_) return;
        if (state_ == state::closed_here) {
            boost::system::error_code ignored;
            socket_.shutdown(net_socket::shutdown_send, ignored);
        } else if (state_ == state::closed_by_peer) {
            drop_socket_locked();
        }
    }

    bool closed_here() const {
        std::lock_guard lock(m_);
        return state_ == state::closed_here;
    }

    void wake_all() {
        watchers_.signal();
        if (receive_waiters_ != 0) can_receive_.notify_all();
        if (send_waiters_ != 0) can_send_.notify_all();
    }

    void post_drop() {
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->drop_socket(); });
    }

    void drop_socket() {
        std::lock_guard lock(m_);
        drop_socket_locked();
    }
    /// Under m_, on the I/O thread: closes the socket for good; pending handlers see aborted.
    void drop_socket_locked() {
        if (socket_closed_) return;
        socket_closed_ = true;
        boost::system::error_code ignored;
        socket_.close(ignored);
        timer_.cancel();
        wake_all();
    }

    // Touched only on the I/O thread.
    net_socket socket_;
    asio::steady_timer timer_;
    std::vector<std::byte> wbuf_;
    std::vector<std::byte> rbuf_;
    std::size_t rlen_ = 0;
    clock::time_point last_rx_{};
    clock::time_point last_tx_{};

    const net_options options_;
    const std::size_t max_message_;
    const bool fixed_;
    std::function<void()> released_;

    // Shared, under m_.
    mutable std::mutex m_;
    std::condition_variable can_send_;
    std::condition_variable can_receive_;
    int send_waiters_ = 0;
    int receive_waiters_ = 0;
    std::vector<std::byte> out_;
    bool writing_ = false;
    std::vector<std::byte> inbox_;  // records: u32 length (native), then the message
    std::size_t inbox_head_ = 0;
    bool read_paused_ = false;
    state state_ = state::open;
    bool socket_closed_ = false;
    watch_list watchers_;
    std::string fault_;
};

}  // namespace ipckit::detail
