#pragma once
// A connection's state over a socket, shared by the user's thread and the I/O thread
// (io_thread.hpp), every field under one mutex m_. This file is the state and what the user's
// thread (or any thread) does with it; link_io.hpp is what the I/O thread does: carry writes
// the socket did not take at once, the backstop, the liveness tick, the drain after our close.
//
// Who touches the socket, and when (the fd ownership rule):
// - Reads: the user's thread, in receive() or a waitset's wait, reads the socket itself
//   (non-blocking, a large chunk into rbuf_) and takes messages straight from rbuf_; with
//   nothing whole in, it sleeps in poll(2) on the fd until its deadline, m_ released and
//   `receiving_` set. The I/O thread reads only (a) on its liveness tick, while no user thread
//   is receiving, what is waiting (so heartbeats are seen and rbuf_ fills, bounded), signalling
//   waitsets if it read anything, and (b) after our close, to drain the peer's rest. Every read
//   is under m_, so exactly one thread reads at a time and bytes never pass each other.
// - Writes (frame_writer.hpp): whoever holds m_ while no asynchronous write is in flight
//   (writer_.writing() false) may write with one non-blocking send (the user's thread on send,
//   receive, wait and close; the I/O thread on its backstop and heartbeat ticks). What the
//   socket does not take is left to the I/O thread: one async_write at a time carries the
//   writer's buffer, without m_, until it is empty; nobody else writes meanwhile.
// - Ending: the socket is shut down (both ways) by whichever thread ends the connection, which
//   wakes a thread asleep in poll on it; its fd is closed only when the link is destroyed, so
//   it is never reused under a sleeper.
// - Asio's socket object is the I/O thread's alone, for its async operations; every other
//   transfer is a non-blocking call on the fd itself (sys/stream_io.hpp), under m_. (Asio keeps
//   the fd in the I/O thread's epoll, so each arriving message wakes that thread too. Taking it
//   out until an async operation needs it saved that wake-up and a system call per message, but
//   under CPU contention it made 1 % of round trips take 7-8 ms instead of under 0.1 ms: the
//   I/O thread's wake-up evidently gets the receiver onto its CPU sooner. So it stays in.)
//
// Sending: small messages coalesce while the connection is busy, and are written at once when
// it is idle or the send is a reply (frame_writer.hpp says when each is written).
//
// Backpressure and bounded memory. The writer's buffer is bounded (frame_writer.hpp): a blocking
// send waits while it is full, a non-blocking one returns would_block. rbuf_ holds at most one
// chunk, or one whole frame of the largest message (its length checked first); while it is full
// the socket is not read, so a receiver that does not read holds back its peer's sends through
// the socket, and only that peer's.
//
// Liveness. A tick on the I/O thread every quarter of the liveness interval sends a heartbeat
// when nothing was written for that long, and declares the peer dead when nothing was read for
// a whole interval (unless rbuf_ is full of messages not taken: then the peer is plainly alive).
//
// Ends. A close frame from the peer: its messages before it are received, then closed; what we
// were still writing then gets close_timeout, from the close frame or from our close(), and
// the socket is shut (a peer that closed and reads no more cannot hold the connection). Our
// close: the peer's rest is drained until its end of stream, for close_timeout from close() at
// most, whatever it still sends (a peer that is alive but does not read would otherwise keep
// the socket, and its place under a listener's cap, with its heartbeats). End of
// stream without one, a reset or silence: peer_dead after the whole messages already read. A
// write that fails (a dead peer's socket resets it, say, when our heartbeat reaches it) ends
// only the write side: sends return peer_dead, while reads go on to the peer's end of stream,
// so that a killed sender's last messages, still in our socket, are received first. A damaged
// frame: corrupt, after the messages before it, and the socket is shut down at once.

#include <ipckit/detail/net/duplex.hpp>
#include <ipckit/detail/net/frame.hpp>
#include <ipckit/detail/net/frame_reader.hpp>
#include <ipckit/detail/net/frame_writer.hpp>
#include <ipckit/detail/net/options.hpp>
#include <ipckit/detail/net/socket.hpp>
#include <ipckit/detail/net/watch.hpp>
#include <ipckit/detail/sys/poll.hpp>
#include <ipckit/detail/sys/stream_io.hpp>
#include <ipckit/error.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>

namespace ipckit::detail {

class link final : public duplex, public std::enable_shared_from_this<link> {
public:
    /// What one read asks the socket for.
    static constexpr std::size_t read_chunk = 64 * 1024;
    /// Reads one pass makes before it looks at its deadline again (receive), says not ready
    /// (a waitset), or waits for the next tick (the I/O thread). A peer that sends nothing but
    /// heartbeats, faster than we cut them, keeps every read full and never lets the socket
    /// run dry: without this bound a read loop would run for as long as it cares to send.
    static constexpr int reads_per_pass = 4;

    /// `released` is called once when the link is gone (a listener counts its connections).
    /// `fixed`: every message is exactly `max_message` bytes (a fixed-size T), else at most.
    link(net_socket socket, std::size_t max_message, bool fixed, const net_options& o,
         std::function<void()> released = {})
        : socket_(std::move(socket)),
          executor_(socket_.get_executor()),
          fd_(socket_.native_handle()),
          timer_(executor_),
          backstop_(executor_),
          options_(o),
          max_message_(max_message),
          rbuf_(max_message, fixed, std::min(read_chunk, o.receive_buffer)),
          writer_(fd_, o.send_buffer),
          released_(std::move(released)) {}
    ~link() override {
        if (released_) released_();
    }
    link(const link&) = delete;
    link& operator=(const link&) = delete;

    /// Starts heartbeats and the liveness watch (call once, before any verb).
    void start() {
        boost::system::error_code ignored;
        socket_.non_blocking(true, ignored);
        socket_.native_non_blocking(true, ignored);
        last_rx_ = clock::now();
        writer_.started(last_rx_);
        asio::post(executor_, [self = shared_from_this()] { self->tick(); });
    }

    [[nodiscard]] std::size_t max_message() const noexcept override { return max_message_; }
    /// The socket's fd, to poll for readability (a waitset): valid as long as the link.
    [[nodiscard]] int native_handle() const noexcept { return fd_; }

    // ---- user thread -------------------------------------------------------------------------

    /// Sends `n` bytes at `p` as one data frame. `deadline` max with may_block false: one attempt.
    errc send(const void* p, std::size_t n, clock::time_point deadline, bool may_block) noexcept override {
        if (n > max_message_) return errc::too_large;
        std::unique_lock lock(m_);
        if (const errc e = room_for(n, lock, deadline, may_block); e != errc::ok) return e;
        const auto [then, result] = writer_.send(p, n);
        act(then);
        return result;
    }
    /// Under one lock, as many frames as the writer takes at a time (frame_writer::send(batch_fn)).
    errc send(batch_fn ms, std::size_t& sent, clock::time_point deadline, bool may_block) noexcept override {
        std::unique_lock lock(m_);
        while (sent < ms.size()) {
            if (const errc e = room_for(ms(sent).size(), lock, deadline, may_block); e != errc::ok) return e;
            const auto [then, result] = writer_.send(ms, sent);
            act(then);
            if (result != errc::ok) return result;
        }
        return errc::ok;
    }

    /// Takes the next message, then up to `max` of those already read, under the lock (duplex.hpp).
    errc receive(take_fn take, std::size_t max, clock::time_point deadline, bool may_block) noexcept override {
        std::unique_lock lock(m_);
        int reads = 0;
        for (bool polled = false, spent = false;;) {
            if (state_ == state::closed_here) return errc::closed;
            auto f = next_frame();
            if (f.what == frame_reader::frame::kind::data) {
                // Each length was checked as next_frame() cut the frame; a damaged one after
                // those taken ends the connection, for the next receive to say.
                for (std::size_t got = 0;;) {
                    const errc e = take(f.data, f.size);
                    if (e != errc::ok) return got == 0 ? e : errc::ok;
                    rbuf_.taken();
                    if (++got == max || (f = next_frame()).what != frame_reader::frame::kind::data) return errc::ok;
                }
            }
            if (state_ != state::open) return end_code();
            // Nothing whole in: what we buffered goes first (the peer may be waiting for it),
            // then whatever the socket holds. When the last read found the socket empty (a
            // ping-pong), a blocking receive polls first and reads once poll returns: a read
            // that would find nothing is a system call saved.
            flush_locked();
            receive_waited = true;
            if (spent) return may_block ? errc::timed_out : errc::would_block;
            if (std::exchange(polled, false) || !may_block || !rbuf_.drained() || clock::now() >= deadline) {
                switch (read_locked()) {
                case read_result::got:
                    // Each pass of reads ends with a look at the deadline, and lets the I/O
                    // thread have m_ if it waits for it (a flood of heartbeats: see
                    // reads_per_pass); what this read brought is cut into frames first.
                    if (++reads % reads_per_pass == 0) {
                        if (!may_block || clock::now() >= deadline) spent = true;
                        else let_io_thread_in(lock);
                    }
                    continue;
                case read_result::failed: return errc::no_space;
                case read_result::none: break;
                }
                if (state_ != state::open) continue;
                if (!may_block) return errc::would_block;
                if (clock::now() >= deadline) return errc::timed_out;
            }
            receiving_ = true;
            lock.unlock();
            sys::wait_readable(fd_, deadline);
            lock.lock();
            receiving_ = false;
            polled = true;
        }
    }

    /// Writes what sends buffered and waits until `deadline` (one attempt if not `may_block`)
    /// for the socket to have taken all of it.
    errc flush(clock::time_point deadline, bool may_block) noexcept override {
        std::unique_lock lock(m_);
        for (;;) {
            if (state_ != state::open) return end_code();
            if (writer_.broken()) return errc::peer_dead;
            flush_locked();
            if (writer_.idle()) return errc::ok;
            if (!may_block) return errc::would_block;
            if (!writer_.wait_for_room(lock, deadline)) return errc::timed_out;
        }
    }

    /// Sends a close frame after what was sent, waits until `deadline` for it to be written,
    /// then lets the I/O thread finish the stream. Later verbs return closed. Where the peer
    /// closed first and what we sent is still not written by `deadline`, the peer reads no
    /// more: the socket is shut at once.
    void close(clock::time_point deadline) noexcept override {
        std::unique_lock lock(m_);
        if (state_ == state::open) {
            state_ = state::closed_here;
            closed_here_at_ = clock::now();
            writer_.close_frame();
            flush_locked();
        }
        while (!writer_.idle() && !shut_)
            if (!writer_.wait_for_room(lock, deadline)) break;
        if (state_ == state::closed_by_peer && !writer_.idle()) shut_locked();
        lock.unlock();
        asio::post(executor_, [self = shared_from_this()] { self->finish_close(); });
    }

    /// For a waitset about to sleep: flushes what was buffered, then says whether a receive
    /// would not wait (a message is in, or the connection ended), reading what the socket holds.
    [[nodiscard]] bool ready() noexcept {
        std::lock_guard lock(m_);
        if (state_ != state::open) return true;
        if (next_frame().what != frame_reader::frame::kind::none) return true;
        flush_locked();
        receive_waited = true;
        for (int reads = 0; reads < reads_per_pass; ++reads) {
            switch (read_locked()) {
            case read_result::failed: return true;  // a receive says no_space
            case read_result::none: return state_ != state::open;
            case read_result::got:
                if (next_frame().what != frame_reader::frame::kind::none) return true;
                break;  // a part of a frame: read on
            }
        }
        return false;  // a pass of reads and still no frame: the socket stays readable, the waitset asks again
    }
    /// A waitset watches (or stops watching) this link: it is signalled when ready() may have
    /// turned true without the socket turning readable (watch.hpp).
    void watch(std::shared_ptr<watch_core> w) { watchers_.add(m_, std::move(w)); }
    void unwatch(const watch_core* w) noexcept { watchers_.remove(m_, w); }

    /// Why the connection ended, in words (empty while it is open or after an orderly close).
    [[nodiscard]] std::string fault() const override {
        std::lock_guard lock(m_);
        return fault_.empty() ? writer_.fault() : fault_;
    }

private:
    enum class state { open, closed_here, closed_by_peer, peer_dead, corrupt };
    enum class read_result { got, none, failed };

    errc end_code() const noexcept {
        switch (state_) {
        case state::peer_dead: return errc::peer_dead;
        case state::corrupt: return errc::corrupt;
        default: return errc::closed;
        }
    }

    /// Under m_ (held by `lock`), the user's thread: ok once a frame of `n` bytes fits in the
    /// writer's buffer (flushing it when full), else why not (one attempt if not `may_block`).
    errc room_for(std::size_t n, std::unique_lock<std::mutex>& lock, clock::time_point deadline, bool may_block) noexcept {
        for (;;) {
            if (state_ != state::open) return end_code();
            if (writer_.broken()) return errc::peer_dead;
            if (writer_.fits(n)) return errc::ok;
            flush_locked();  // full: perhaps the socket takes it now
            if (writer_.fits(n)) continue;
            if (!may_block) return errc::would_block;
            if (!writer_.wait_for_room(lock, deadline)) return errc::timed_out;
        }
    }

    /// The I/O thread's way to m_ (link_io.hpp): counted in io_waiting_ while it waits, so that
    /// a user thread's long read loop lets it in (let_io_thread_in) instead of holding up, for
    /// as long as a peer keeps sending, every connection the I/O thread serves.
    std::unique_lock<std::mutex> io_lock() {
        // Relaxed, here and in let_io_thread_in: a hint of who waits, ordering nothing (m_ does).
        io_waiting_.fetch_add(1, std::memory_order_relaxed);
        std::unique_lock lock(m_);
        io_waiting_.fetch_sub(1, std::memory_order_relaxed);
        return lock;
    }
    /// Under m_ (held by `lock`), a user thread between passes of reads: if the I/O thread waits
    /// for m_, lets it take m_ first (a mutex hands itself to no one: a plain unlock and lock
    /// would mostly take it straight back).
    void let_io_thread_in(std::unique_lock<std::mutex>& lock) noexcept {
        if (io_waiting_.load(std::memory_order_relaxed) == 0) return;
        lock.unlock();
        while (io_waiting_.load(std::memory_order_relaxed) != 0) std::this_thread::yield();
        lock.lock();
    }

    /// Under m_, any thread: writes what the writer holds, unless the socket is shut.
    void flush_locked() noexcept {
        if (!shut_) act(writer_.flush());
    }

    /// Under m_: does what the writer's call said (frame_writer::step).
    void act(frame_writer::step then) noexcept {
        switch (then) {
        case frame_writer::step::none: return;
        case frame_writer::step::drained:
            writer_.wake_senders();
            if (state_ != state::open) after_last_write();
            return;
        case frame_writer::step::hand_off:
            asio::post(executor_, [self = shared_from_this()] { self->write_more(); });
            return;
        case frame_writer::step::backstop:
            asio::post(executor_, [self = shared_from_this()] { self->arm_backstop(); });
            return;
        case frame_writer::step::failed: return write_failed_locked();
        case frame_writer::step::torn: return end_locked(state::corrupt, "out of memory in the middle of a send");
        }
    }

    /// Under m_: the frame at the head of rbuf_, acting on a close frame or a damaged one.
    frame_reader::frame next_frame() noexcept {
        const auto f = rbuf_.next();
        if (f.what == frame_reader::frame::kind::fault) {
            end_locked(state::corrupt, std::string("the peer sent a damaged stream: ") + f.fault);
        } else if (f.what == frame_reader::frame::kind::close && state_ == state::open) {
            state_ = state::closed_by_peer;
            closed_by_peer_at_ = clock::now();
            wake_all();
            if (!writer_.writing()) after_last_write();
        }
        return f;
    }

    /// Under m_, any thread, while the connection is open: reads what the socket holds into
    /// rbuf_ (one non-blocking read). An end of stream or an error ends the connection.
    read_result read_locked() noexcept {
        if (state_ != state::open || shut_) return read_result::none;
        if (stream_ended_) return settle_locked();
        std::error_code ec;
        switch (rbuf_.read(fd_, ec)) {
        case frame_reader::read_status::got: last_rx_ = clock::now(); return read_result::got;
        case frame_reader::read_status::none: return read_result::none;
        case frame_reader::read_status::no_memory: return read_result::failed;
        case frame_reader::read_status::ended: stream_ended_ = true; return settle_locked();
        case frame_reader::read_status::failed:
            stream_ended_ = true;
            try {
                read_fault_ = "reading from the peer failed: " + ec.message();
            } catch (...) {
            }
            return settle_locked();
        }
        return read_result::none;
    }

    /// Under m_, once the peer's stream has ended (an end of stream, or an error after which
    /// nothing more comes): what rbuf_ holds goes first, whole frames in order, so a close frame
    /// among them is still an orderly close (a reading tick may have taken the whole stream in,
    /// close frame and end, while the user had messages before it left to take). Once no whole
    /// frame is at the head, the connection ends: peer_dead, its stream having ended without a
    /// close frame (or inside one: truncated).
    read_result settle_locked() noexcept {
        if (next_frame().what == frame_reader::frame::kind::none && state_ == state::open) {
            if (!read_fault_.empty()) end_locked(state::peer_dead, std::move(read_fault_));
            else if (rbuf_.unread() == 0) end_locked(state::peer_dead, "the peer's stream ended without a close frame (its process died?)");
            else end_locked(state::peer_dead, "the peer's stream ended inside a frame (truncated)");
        }
        return read_result::none;
    }

    /// Under m_, any thread: a write failed (a reset, a broken pipe). The peer is gone, but what
    /// it sent before may still wait in the socket: the read side stays open, so its messages
    /// are received, until its end of stream or error gives peer_dead (or silence does, after
    /// the liveness interval). Sends from now on return peer_dead and nothing more is written.
    void write_failed_locked() noexcept {
        if (state_ != state::open) return end_locked(state_, {});
        writer_.break_off();
        wake_all();  // send waiters return peer_dead; waitsets look, and read to the end
    }

    /// Under m_, any thread: the stream ended (`s`), unless it had already ended another way.
    void end_locked(state s, std::string why) noexcept {
        if (state_ == state::open) {
            state_ = s;
            try {
                fault_ = std::move(why);
            } catch (...) {
            }
        }
        shut_locked();
    }

    /// Under m_, once nothing is left to write: after our close frame, end our half of the
    /// stream and drain the peer's; after the peer's, nothing more will pass either way.
    void after_last_write() noexcept {
        if (shut_) return;
        if (state_ == state::closed_here && !draining_) {
            draining_ = true;
            sys::shutdown_socket(fd_, SHUT_WR);
            asio::post(executor_, [self = shared_from_this()] { self->drain(); });
        } else if (state_ == state::closed_by_peer) {
            shut_locked();
        }
    }

    void wake_all() noexcept {
        watchers_.signal();
        writer_.wake_senders();
    }

    /// Under m_, any thread: shuts the socket down both ways for good, which wakes a thread in
    /// poll on it; the I/O thread then cancels what it had pending. The fd stays open (see top).
    void shut_locked() noexcept {
        if (shut_) return;
        shut_ = true;
        sys::shutdown_socket(fd_, SHUT_RDWR);
        wake_all();
        try {
            asio::post(executor_, [self = shared_from_this()] {
                boost::system::error_code ignored;
                self->socket_.cancel(ignored);
                self->timer_.cancel();
                self->backstop_.cancel();
            });
        } catch (...) {
        }
    }

    // ---- I/O thread: its half, defined in link_io.hpp ----------------------------------------
    // Each runs on the I/O thread alone, posted by the members above (or by one another), and
    // takes m_ for what it shares; Asio's socket object and the timers are theirs (see top).

    void write_more();
    void write_failed(const boost::system::error_code& ec);
    void arm_backstop();
    void tick();
    void finish_close();
    void drain();

    // The I/O thread's own (see top), but for executor_ and fd_, which any thread may use.
    net_socket socket_;
    const net_socket::executor_type executor_;
    const int fd_;
    asio::steady_timer timer_;
    asio::steady_timer backstop_;
    std::array<std::byte, 4096> discard_{};

    const net_options options_;
    const std::size_t max_message_;

    // Shared, under m_.
    mutable std::mutex m_;
    std::atomic<int> io_waiting_{0};  // the I/O thread waits for m_ (io_lock)
    frame_reader rbuf_;
    frame_writer writer_;
    bool receiving_ = false;  // a user thread sleeps in poll on the socket
    bool draining_ = false;
    bool shut_ = false;
    bool stream_ended_ = false;  // the peer's stream ended: rbuf_ is all there is (settle_locked)
    clock::time_point last_rx_{};
    clock::time_point closed_by_peer_at_{};  // when state_ became closed_by_peer
    clock::time_point closed_here_at_{};     // when state_ became closed_here (our close())
    state state_ = state::open;
    watch_list watchers_;
    std::string fault_;
    std::string read_fault_;  // why the read side failed, once stream_ended_ by an error
    std::function<void()> released_;
};

}  // namespace ipckit::detail

#include <ipckit/detail/net/link_io.hpp>  // the I/O thread's half of link: its member functions
