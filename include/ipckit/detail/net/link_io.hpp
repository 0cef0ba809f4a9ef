#pragma once
// The I/O thread's half of a socket's link (link.hpp, whose top comment says who touches the
// socket, and when): the member functions that run on the I/O thread (io_thread.hpp) alone,
// posted there by the link's other members or by one another. They
// - carry the writer's buffer to the socket, one async_write at a time, when a non-blocking
//   send did not take it all (write_more), and end the write side when that fails;
// - write a burst's last frames if nothing else did soon (arm_backstop);
// - tick every quarter of the liveness interval: read what waits while no user thread is
//   reading, send heartbeats, declare a silent peer dead (tick);
// - after our close, end our half of the stream once the close frame is out and discard the
//   peer's rest until its end (finish_close, drain), and shut the socket close_timeout after
//   close() if the peer has not ended it by then (tick); after the peer's, shut a write it has
//   not taken within close_timeout (tick).
// Each takes m_ for what it shares; Asio's socket object and the timers are theirs alone.

#include <ipckit/detail/net/link.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <span>
#include <string>

namespace ipckit::detail {

/// Carries the writer's buffer to the socket, one async write at a time, until it is empty.
inline void link::write_more() {
    std::span<const std::byte> batch;
    {
        const auto lock = io_lock();
        batch = writer_.next_batch(shut_);
        writer_.wake_senders();
        if (batch.empty()) return after_last_write();
    }
    asio::async_write(socket_, asio::buffer(batch.data(), batch.size()),
                      [self = shared_from_this()](const boost::system::error_code& e, std::size_t) {
                          if (e) return self->write_failed(e);
                          self->write_more();
                      });
}

/// An async write failed: the hand-off is over, and the write side breaks (write_failed_locked).
inline void link::write_failed(const boost::system::error_code& ec) {
    const auto lock = io_lock();
    act(writer_.async_failed(ec));
}

/// The backstop: writes a burst's last frames if nothing else did by backstop_delay.
inline void link::arm_backstop() {
    backstop_.expires_after(frame_writer::backstop_delay);
    backstop_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        const auto lock = self->io_lock();
        self->writer_.backstop_done();
        if (!ec) self->flush_locked();
    });
}

/// Every quarter of the liveness interval: reads what waits if no user thread is reading,
/// judges liveness, sends a heartbeat when idle; after our close, cuts off a peer that has not
/// ended its stream close_timeout later (bytes it still sends, its heartbeats among them, buy
/// it no time); after the peer's, cuts off a write it never reads, close_timeout on.
inline void link::tick() {
    const auto beat = std::max(options_.liveness_interval / 4, std::chrono::milliseconds(1));
    const auto now = clock::now();
    {
        const auto lock = io_lock();
        if (shut_) return;
        if (state_ != state::open) {
            if (state_ == state::closed_here && now - closed_here_at_ > options_.close_timeout) shut_locked();
            if (state_ == state::closed_by_peer && !writer_.idle() && now - closed_by_peer_at_ > options_.close_timeout)
                shut_locked();
        } else {
            bool full = false;
            if (!receiving_) {
                const auto before = rbuf_.unread();
                // One pass of reads: heartbeats go, messages stay. What a peer sends beyond a
                // pass (a flood of heartbeats) waits in the socket for the next tick, and the
                // I/O thread goes on to the other connections.
                for (int reads = 0; reads < reads_per_pass && read_locked() == read_result::got; ++reads) next_frame();
                if (rbuf_.unread() != before || state_ != state::open || stream_ended_) watchers_.signal();
                try {
                    full = state_ == state::open && rbuf_.room().empty();
                } catch (...) {
                }
            }
            if (state_ == state::open && !full && !stream_ended_ && now - last_rx_ > options_.liveness_interval) {
                end_locked(state::peer_dead,
                           "the peer sent nothing, not even a heartbeat, for longer than the liveness interval (" +
                               std::to_string(options_.liveness_interval.count()) + " ms)");
                return;
            }
            if (state_ == state::open) act(writer_.heartbeat(now, beat));
        }
        if (shut_) return;
    }
    timer_.expires_after(beat);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec) self->tick();
    });
}

/// After close(): once the close frame is written, end our half of the stream; reads go on,
/// discarding, until the peer's end (so that closing never resets a stream with bytes
/// unread), or until close_timeout after close() (tick).
inline void link::finish_close() {
    const auto lock = io_lock();
    if (!writer_.writing()) after_last_write();  // else write_more() calls it when done
}

/// After our close: discards what the peer still sends until its end.
inline void link::drain() {
    {
        const auto lock = io_lock();
        if (shut_) return;
    }
    socket_.async_read_some(asio::buffer(discard_), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        const auto lock = self->io_lock();
        if (ec) return self->shut_locked();
        asio::post(self->executor_, [self] { self->drain(); });
    });
}

}  // namespace ipckit::detail
