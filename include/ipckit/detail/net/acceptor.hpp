#pragma once
// A listener's I/O side: the bound socket, the accept loop on the I/O thread, the handshake of
// each accepted socket, the connection cap, and the queue of connections ready for accept().
//
// Untrusted input. Every accepted socket counts against the cap from the moment it is accepted
// until its connection is gone (handshaking, waiting for accept() and accepted alike), so a
// flood of sockets that never handshake costs at most max_connections sockets for
// handshake_timeout each. One past the cap gets a refusal hello saying why, and is closed once
// its own hello is read (or at the handshake deadline); refusals in flight are capped too.
// A failed handshake (garbage, another message type, silence) drops only that socket and is
// kept in rejections(), the last few with their reasons.
//
// Foreign streams. A listener given a foreign_stream_fn first waits for each accepted socket's
// first byte (first_byte.hpp): one that does not begin ipckit's hello goes to that function
// instead of the handshake, still counted against the cap until it releases it (rpc::server
// serves plain MessagePack-RPC clients so). The function runs on the I/O thread under the
// acceptor's mutex, so it is never called once close() has returned.

#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/net/first_byte.hpp>
#include <ipckit/detail/net/handshake.hpp>
#include <ipckit/detail/net/io_thread.hpp>
#include <ipckit/detail/net/link.hpp>
#include <ipckit/detail/net/options.hpp>
#include <ipckit/detail/net/socket.hpp>
#include <ipckit/detail/net/watch.hpp>
#include <ipckit/detail/sys/fd.hpp>
#include <ipckit/detail/sys/socket.hpp>
#include <ipckit/error.hpp>

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ipckit::detail {

/// What a listener refused, and why.
struct net_rejection {
    errc reason = errc::ok;
    std::string what;
};

/// Takes an accepted socket that speaks another protocol than ipckit's, its first byte unread
/// (acceptor_state). It must not block (it runs on the I/O thread), and calls `released` once
/// when the socket is gone. Empty: every socket must handshake.
using foreign_stream_fn = std::function<void(net_socket, std::function<void()> released)>;

inline void tune_socket(net_socket& s) {
    boost::system::error_code ignored;  // a Unix socket has no TCP_NODELAY: fine
    s.set_option(asio::ip::tcp::no_delay(true), ignored);
}

class acceptor_state : public std::enable_shared_from_this<acceptor_state> {
public:
    static constexpr std::size_t kept_rejections = 16;

    acceptor_state(asio::basic_socket_acceptor<net_protocol> acceptor, std::string address, hello mine,
                   const net_options& o, foreign_stream_fn foreign = {})
        : acceptor_(std::move(acceptor)),
          protocol_(protocol_of(acceptor_)),
          address_(std::move(address)),
          mine_(std::move(mine)),
          options_(o),
          foreign_(std::move(foreign)) {}

    /// Starts accepting: first whatever waits already, then on each wake (accept_waiting). Not
    /// a wait first: Asio's wait takes no readiness that epoll reported before it was queued,
    /// and a client that connected between listen() and this post would wait unaccepted until
    /// another came.
    void start() {
        asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->accept_waiting(); });
    }

    [[nodiscard]] const std::string& address() const noexcept { return address_; }

    /// The next connection that finished its handshake, or why none by `deadline`.
    result<std::shared_ptr<link>> take(clock::time_point deadline, bool may_block) noexcept {
        std::unique_lock lock(m_);
        for (;;) {
            if (!ready_.empty()) {
                auto l = std::move(ready_.front());
                ready_.pop_front();
                return l;
            }
            if (closed_) return unexpected(errc::closed);
            if (!may_block) return unexpected(errc::would_block);
            if (clock::now() >= deadline) return unexpected(errc::timed_out);
            if (deadline == clock::time_point::max())
                ready_cv_.wait(lock);
            else
                ready_cv_.wait_until(lock, deadline);
        }
    }

    /// Whether an accept would not wait: a connection is waiting, or the listener is closed.
    [[nodiscard]] bool ready() const noexcept {
        std::lock_guard lock(m_);
        return !ready_.empty() || closed_;
    }
    /// A waitset watches (or stops watching) this listener (watch.hpp).
    void watch(std::shared_ptr<watch_core> w) { watchers_.add(m_, std::move(w)); }
    void unwatch(const watch_core* w) noexcept { watchers_.remove(m_, w); }

    /// Stops accepting; connections already accepted live on, those not yet accepted are
    /// closed (their clients read closed). Returns once the listening socket is closed, its
    /// address free for another listener at once (the I/O thread closes it, being the one
    /// that may touch it while an accept waits: this waits for that, up to a few seconds).
    void close() noexcept {
        std::deque<std::shared_ptr<link>> unaccepted;
        {
            std::lock_guard lock(m_);
            closed_ = true;
            unaccepted.swap(ready_);
            watchers_.signal();
        }
        // A started link lives on its own handlers until closed: close it, or it never goes.
        for (auto& l : unaccepted) l->close(clock::now());
        ready_cv_.notify_all();
        auto self = shared_from_this();
        const auto close_socket = [self] {
            boost::system::error_code ignored;
            self->acceptor_.close(ignored);
            self->retry_.cancel();
            {
                std::lock_guard lock(self->m_);
                self->socket_closed_ = true;
            }
            self->ready_cv_.notify_all();
        };
        if (io_thread::context().get_executor().running_in_this_thread()) return close_socket();
        asio::post(acceptor_.get_executor(), close_socket);
        std::unique_lock lock(m_);
        (void)ready_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return socket_closed_; });
    }

    [[nodiscard]] std::vector<net_rejection> rejections() const {
        std::lock_guard lock(m_);
        return {rejections_.begin(), rejections_.end()};
    }
    [[nodiscard]] std::uint64_t rejected() const noexcept { return rejected_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t live() const noexcept { return live_->load(std::memory_order_relaxed); }

private:
    static net_protocol protocol_of(const asio::basic_socket_acceptor<net_protocol>& a) {
        boost::system::error_code ec;
        const net_endpoint e = a.local_endpoint(ec);
        return ec ? net_protocol(AF_UNSPEC, 0) : e.protocol();  // unbound: assign() fails, and says so
    }

    /// Waits for the listening socket to be readable, then accepts every connection waiting
    /// (accept4, close-on-exec: socket.hpp), until it would block. Every one: Asio's reactor
    /// is edge-triggered, and reports a connection left waiting no more. (No connection is
    /// missed between the last accept and the wait: this thread queues the wait before it
    /// asks epoll again, and an edge that came meanwhile is reported then.)
    void accept_more() {
        acceptor_.async_wait(asio::socket_base::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
            if (ec) self->reject(errc::system_error, "waiting for a connection failed: " + ec.message());
            self->accept_waiting();
        });
    }

    /// Accepts until none waits, then waits for more; after a failure (out of file
    /// descriptors), tries again in a while, not at once: it would fail again at once, and the
    /// I/O thread would spin, for as long as none is free.
    void accept_waiting() {
        accepted a = accepted::one;
        while (a == accepted::one) a = accept_one();
        if (a == accepted::none_waiting) return accept_more();
        retry_.expires_after(std::chrono::milliseconds(100));
        retry_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec && self->acceptor_.is_open()) self->accept_waiting();
        });
    }

    enum class accepted { one, none_waiting, failed };
    /// One accept4 on the (non-blocking) listening socket.
    accepted accept_one() {
        const int fd = sys::accept_connection(acceptor_.native_handle());
        if (fd < 0) {
            const int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK) return accepted::none_waiting;
            if (e == EINTR || e == ECONNABORTED) return accepted::one;  // that one went before we took it
            // Out of file descriptors and the like: say so, and go on accepting.
            reject(errc::system_error, std::string("accepting a connection failed: ") + std::strerror(e));
            return accepted::failed;
        }
        net_socket s(acceptor_.get_executor());
        boost::system::error_code ec;
        s.assign(protocol_, fd, ec);
        if (ec) {
            sys::close_fd(fd);
            reject(errc::system_error, "taking an accepted connection failed: " + ec.message());
            return accepted::one;
        }
        handshake(std::move(s));
        return accepted::one;
    }

    void handshake(net_socket s) {
        tune_socket(s);
        // live_ counts sockets in handshake, waiting, and accepted; relaxed: one thread adds,
        // any thread (a link's last owner) subtracts, and only the count matters.
        if (live_->load(std::memory_order_relaxed) >= options_.max_connections) return refuse(std::move(s));
        live_->fetch_add(1, std::memory_order_relaxed);
        if (foreign_) return sniff(std::move(s));
        greet(std::move(s));
    }

    /// A listener that serves foreign streams too: ipckit's handshake, or the foreign function.
    void sniff(net_socket s) {
        auto self = shared_from_this();
        auto op = std::make_shared<first_byte_op>(std::move(s), [self](first_byte_op& f, first_byte_result r) {
            if (r.result != errc::ok) {
                self->live_->fetch_sub(1, std::memory_order_relaxed);
                return self->reject(r.result, "a connection ended before its first byte: " + r.why);
            }
            if (std::to_integer<unsigned char>(r.byte) == hello_magic[0]) return self->greet(std::move(f.socket()));
            auto live = self->live_;
            auto released = [live] { live->fetch_sub(1, std::memory_order_relaxed); };
            std::lock_guard lock(self->m_);
            if (self->closed_) {
                boost::system::error_code ignored;
                f.socket().close(ignored);
                return released();
            }
            self->foreign_(std::move(f.socket()), std::move(released));
        });
        op->start(options_.handshake_timeout);
    }

    /// ipckit's handshake; the connection waits for accept() once it is through.
    void greet(net_socket s) {
        auto self = shared_from_this();
        auto op = std::make_shared<handshake_op>(std::move(s), mine_, [self](handshake_op& h, handshake_result r) {
            if (r.result != errc::ok) {
                self->live_->fetch_sub(1, std::memory_order_relaxed);
                return self->reject(r.result, "a connection's handshake failed: " + r.why);
            }
            auto live = self->live_;
            auto l = std::make_shared<link>(std::move(h.socket()), r.max_message, self->mine_.kind == message_kind::fixed,
                                            self->options_, [live] { live->fetch_sub(1, std::memory_order_relaxed); });
            l->start();
            {
                std::lock_guard lock(self->m_);
                if (!self->closed_) {
                    self->ready_.push_back(std::move(l));
                    self->watchers_.signal();
                    l = nullptr;
                }
            }
            if (l) return l->close(clock::now());  // the listener closed meanwhile
            self->ready_cv_.notify_one();
        });
        op->start(options_.handshake_timeout);
    }

    void refuse(net_socket s) {
        const std::string why = "the listener at " + address_ + " is at its cap of " +
                                std::to_string(options_.max_connections) +
                                " connections; try again later, or raise net_options::max_connections";
        reject(errc::no_space, "refused a connection: at the cap of " + std::to_string(options_.max_connections));
        if (refusing_ >= options_.max_connections) return;  // s closes here, without a word
        ++refusing_;
        hello no = mine_;
        no.verdict = hello_verdict::refused;
        no.description = why;
        auto self = shared_from_this();
        auto op = std::make_shared<handshake_op>(std::move(s), std::move(no),
                                                 [self](handshake_op&, handshake_result) { --self->refusing_; });
        op->start(options_.handshake_timeout);
    }

    void reject(errc reason, std::string what) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(m_);
        if (rejections_.size() == kept_rejections) rejections_.pop_front();
        rejections_.push_back({reason, std::move(what)});
    }

    asio::basic_socket_acceptor<net_protocol> acceptor_;
    const net_protocol protocol_;  // of the sockets it accepts
    asio::steady_timer retry_{acceptor_.get_executor()};  // accept_waiting() after a failure
    const std::string address_;
    const hello mine_;
    const net_options options_;
    const foreign_stream_fn foreign_;
    std::shared_ptr<std::atomic<std::size_t>> live_ = std::make_shared<std::atomic<std::size_t>>(0);
    std::size_t refusing_ = 0;  // I/O thread only
    std::atomic<std::uint64_t> rejected_{0};

    mutable std::mutex m_;
    std::condition_variable ready_cv_;
    std::deque<std::shared_ptr<link>> ready_;
    std::deque<net_rejection> rejections_;
    bool closed_ = false;
    bool socket_closed_ = false;  // the I/O thread closed the listening socket (close())
    watch_list watchers_;
};

}  // namespace ipckit::detail
