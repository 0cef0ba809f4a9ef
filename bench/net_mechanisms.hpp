#pragma once
// The socket rows (issue 13, "Figures"): ipckit connections over unix, tcp and shm, a raw TCP
// socket doing one write per message (the raw Unix socket rows are in mechanisms.hpp), and, when
// libzmq was found at configure time (IPCKIT_BENCH_ZMQ), ZeroMQ's PUSH/PULL and REQ/REP over
// ipc:// and tcp://. Adapters of the shape mechanisms.hpp describes.
//
// An ipckit connection's ends are made in the children that use them, never in the parent: a
// connection is the process's that made it (a forked child must not use its parent's), and the
// parent forks every measurement. The receiving child binds a listener and accepts; the sending child connects,
// trying again until the listener is there. A tcp address gets its port from the parent, which
// asks the system for a free one (bind to port 0, then close). ZeroMQ's ends likewise make their
// context (and its I/O thread) in the child.

#include "batch.hpp"
#include "mechanisms.hpp"
#include "message.hpp"
#include "process.hpp"

#include <ipckit/net.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(IPCKIT_BENCH_ZMQ)
#include <zmq.h>
#endif

namespace bench {

/// A TCP port on 127.0.0.1 that is free now: the system's pick for a socket bound to port 0.
inline std::uint16_t free_tcp_port() {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) fail_errno("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(s);
        fail_errno("bind 127.0.0.1:0");
    }
    ::close(s);
    return ntohs(a.sin_port);
}

/// How long an end waits for its peer to appear (the other child starts at the same time).
inline constexpr auto net_patience = std::chrono::seconds(30);

// ---- raw TCP ----------------------------------------------------------------------------------

/// A loopback TCP connection made in the parent (TCP_NODELAY, default buffers), one write and
/// read loop per message: the TCP counterpart of unix-stream.
struct tcp_socket {
    static std::string describe() {
        return "TCP over 127.0.0.1, TCP_NODELAY, default buffers, read/write loops over partial transfers";
    }
    static std::string unsupported(std::size_t, bool many_producers, bool many_consumers) {
        if (many_producers) return "n/a (a byte stream interleaves writers)";
        return many_consumers ? "n/a (a byte stream splits messages between readers)" : "";
    }

    template <std::size_t S>
    class link {
        static fd_pair make() {
            const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (l < 0) fail_errno("socket");
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t len = sizeof a;
            if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1) != 0 ||
                ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0)
                fail_errno("listen on 127.0.0.1:0");
            const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail_errno("connect");
            const int s = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
            if (s < 0) fail_errno("accept");
            ::close(l);
            const int one = 1;
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            const int fds[2] = {s, c};
            return fd_pair(fds);
        }
        fd_pair fds_ = make();

    public:
        explicit link(const link_config&) {}
        [[nodiscard]] fd_stream open_sender() const { return {fds_.sending()}; }
        [[nodiscard]] fd_stream open_receiver() const { return {fds_.receiving()}; }
    };
};

// ---- ipckit connections -----------------------------------------------------------------------

enum class net_over { unix_socket, tcp, shm };

/// ipckit::connection<message<S>> (a fixed-size T), blocking, default net_options; B > 1: through
/// its batch verbs, B messages per send and up to B per receive (batch.hpp's ends: streams only).
template <net_over Over, std::size_t B = 1>
struct ipckit_connection {
    static std::string describe() {
        const std::string batches =
            B > 1 ? "; send(span) of " + std::to_string(B) + " messages, receive(span) of up to " + std::to_string(B) : "";
        switch (Over) {
        case net_over::unix_socket: return "ipckit::connection<message<S>> over unix://@name, default net_options" + batches;
        case net_over::tcp: return "ipckit::connection<message<S>> over tcp://127.0.0.1:port, default net_options" + batches;
        case net_over::shm: return "ipckit::connection<message<S>> over shm://name (a pair of ipckit queues)" + batches;
        }
        return "";
    }
    static std::string unsupported(std::size_t, bool many_producers, bool many_consumers) {
        return many_producers || many_consumers ? "n/a (a connection has one end each side)" : "";
    }
    /// In idle the parent sends the one message, and a process with a connection cannot fork.
    static std::string unsupported_idle() { return "n/a (the parent would need a connection)"; }

    template <std::size_t S>
    class link {
        using msg = message<S>;

    public:
        explicit link(const link_config&) : address_(make_address()) {}

        class receiver {
        public:
            receiver(ipckit::listener<msg> l, ipckit::connection<msg> c) : l_(std::move(l)), c_(std::move(c)) {}
            void receive(msg& m) {
                if (auto s = c_.receive(m); !s) fail("connection receive: " + std::string(ipckit::to_string(s.error())));
            }

        private:
            ipckit::listener<msg> l_;
            ipckit::connection<msg> c_;
        };
        class sender {
        public:
            explicit sender(ipckit::connection<msg> c) : c_(std::move(c)) {}
            void send(const msg& m) {
                if (auto s = c_.send(m); !s) fail("connection send: " + std::string(ipckit::to_string(s.error())));
            }

        private:
            ipckit::connection<msg> c_;
        };

        /// A batch row's receiving end, which keeps the listener as the unbatched one does.
        struct batch_receiving_end : batch_receiver<ipckit::connection<msg>, msg, B> {
            ipckit::listener<msg> listener;
        };

        [[nodiscard]] auto open_receiver() const {
            auto l = ipckit::listener<msg>::bind(address_);
            auto c = l.accept(net_patience);
            if (!c) fail("accept on " + address_ + ": " + std::string(ipckit::to_string(c.error())));
            if constexpr (B > 1) return batch_receiving_end{{std::move(*c)}, std::move(l)};
            else return receiver(std::move(l), std::move(*c));
        }
        [[nodiscard]] auto open_sender() const {
            if constexpr (B > 1) return gathering_sender<ipckit::connection<msg>, msg, B>{connect()};
            else return sender(connect());
        }

    private:
        ipckit::connection<msg> connect() const {
            const auto until = std::chrono::steady_clock::now() + net_patience;
            for (;;) {
                try {
                    return ipckit::connect<msg>(address_, net_patience);
                } catch (const ipckit::error& e) {
                    if (e.reason() != ipckit::errc::not_found || std::chrono::steady_clock::now() > until) throw;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the listener is not bound yet
            }
        }
        static std::string make_address() {
            switch (Over) {
            case net_over::unix_socket: return "unix://@" + unique_name();
            case net_over::tcp: return "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
            case net_over::shm: return "shm://" + unique_name();
            }
            return "";
        }
        std::string address_;
    };
};

// ---- ZeroMQ -----------------------------------------------------------------------------------

#if defined(IPCKIT_BENCH_ZMQ)

enum class zmq_over { ipc, tcp };

inline std::string zmq_address(zmq_over over) {
    if (over == zmq_over::ipc) return "ipc:///tmp/" + unique_name();
    return "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
}

/// Waits until the receiving end has bound an ipc:// address (its socket file exists): a PUSH
/// that connects first and finishes its sends before the retry can close with them undelivered.
inline void wait_for_bind(const std::string& address) {
    constexpr std::string_view ipc = "ipc://";
    if (address.rfind(ipc, 0) != 0) return;
    const std::string path = address.substr(ipc.size());
    const auto until = std::chrono::steady_clock::now() + net_patience;
    while (::access(path.c_str(), F_OK) != 0) {
        if (std::chrono::steady_clock::now() > until) fail("nothing bound " + address);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

/// One ZeroMQ socket with a context of its own (one I/O thread), made in the child that uses
/// it. Linger is forever, but that does not deliver everything: closing a socket whose
/// connection's engine still holds encoded messages (the receiver is slower, its socket full)
/// drops them, however long the linger (libzmq 4.3.4 lost the last ~2000 of 100,000 8 B PUSH
/// messages in most runs; the PULL then waited forever for its end marker, the row's hang). So
/// the connecting end, whose last act is a send in every pattern here (the PUSH's end marker,
/// the REQ's), waits before closing until its peer hangs up: the peer does so only once it has
/// taken the end marker (or died, which the parent sees).
class zmq_end {
public:
    zmq_end(int type, const std::string& address, bool bind) : ctx_(::zmq_ctx_new()) {
        if (ctx_ == nullptr) fail("zmq_ctx_new failed");
        socket_ = ::zmq_socket(ctx_, type);
        if (socket_ == nullptr) fail(std::string("zmq_socket: ") + ::zmq_strerror(::zmq_errno()));
        const int forever = -1;
        ::zmq_setsockopt(socket_, ZMQ_LINGER, &forever, sizeof forever);
        if (!bind) watch_hang_up();
        const int rc = bind ? ::zmq_bind(socket_, address.c_str()) : ::zmq_connect(socket_, address.c_str());
        if (rc != 0) fail((bind ? "zmq_bind " : "zmq_connect ") + address + ": " + ::zmq_strerror(::zmq_errno()));
    }
    zmq_end(zmq_end&& o) noexcept
        : ctx_(std::exchange(o.ctx_, nullptr)), socket_(std::exchange(o.socket_, nullptr)), hang_up_(std::exchange(o.hang_up_, nullptr)) {}
    zmq_end& operator=(zmq_end&&) = delete;
    ~zmq_end() {
        if (hang_up_ != nullptr) {
            await_hang_up();
            ::zmq_socket_monitor(socket_, nullptr, 0);
            ::zmq_close(hang_up_);
        }
        if (socket_ != nullptr) ::zmq_close(socket_);
        if (ctx_ != nullptr) ::zmq_ctx_term(ctx_);
    }
    template <std::size_t S>
    void send(const message<S>& m) const {
        while (::zmq_send(socket_, m.bytes, S, 0) < 0)
            if (::zmq_errno() != EINTR) fail(std::string("zmq_send: ") + ::zmq_strerror(::zmq_errno()));
    }
    template <std::size_t S>
    void receive(message<S>& m) const {
        int n;
        while ((n = ::zmq_recv(socket_, m.bytes, S, 0)) < 0)
            if (::zmq_errno() != EINTR) fail(std::string("zmq_recv: ") + ::zmq_strerror(::zmq_errno()));
        if (n != static_cast<int>(S)) fail("zmq_recv: " + std::to_string(n) + " bytes, expected " + std::to_string(S));
    }

private:
    /// Before connecting: the socket's disconnect events (the peer hung up) come to hang_up_.
    void watch_hang_up() {
        constexpr const char* events = "inproc://hang-up";
        if (::zmq_socket_monitor(socket_, events, ZMQ_EVENT_DISCONNECTED) != 0)
            fail(std::string("zmq_socket_monitor: ") + ::zmq_strerror(::zmq_errno()));
        hang_up_ = ::zmq_socket(ctx_, ZMQ_PAIR);
        if (hang_up_ == nullptr || ::zmq_connect(hang_up_, events) != 0)
            fail(std::string("zmq monitor socket: ") + ::zmq_strerror(::zmq_errno()));
        const int patience = static_cast<int>(std::chrono::milliseconds(net_patience).count());
        ::zmq_setsockopt(hang_up_, ZMQ_RCVTIMEO, &patience, sizeof patience);
    }
    /// Waits (up to net_patience) for the peer to hang up: one event, of two frames.
    void await_hang_up() const noexcept {
        for (bool more = true; more;) {
            zmq_msg_t part;
            ::zmq_msg_init(&part);
            const int n = ::zmq_msg_recv(&part, hang_up_, 0);
            more = n >= 0 ? ::zmq_msg_more(&part) != 0 : ::zmq_errno() == EINTR;
            ::zmq_msg_close(&part);
        }
    }

    void* ctx_;
    void* socket_ = nullptr;
    void* hang_up_ = nullptr;  // the connecting end's: its socket's disconnect events
};

/// ZeroMQ PUSH (sender, connects) and PULL (receiver, binds): one-way, as the other rows.
template <zmq_over Over>
struct zmq_push_pull {
    static std::string describe() {
        return std::string("ZeroMQ ") + version_text() + " PUSH/PULL over " + (Over == zmq_over::ipc ? "ipc://" : "tcp://127.0.0.1") +
               ", one context (one I/O thread) per end, default high-water marks";
    }
    static std::string unsupported(std::size_t, bool many_producers, bool many_consumers) {
        return many_producers || many_consumers ? "n/a (one end each side here)" : "";
    }
    static std::string unsupported_idle() { return "n/a (the parent would need a ZeroMQ context)"; }

    template <std::size_t S>
    class link {
    public:
        explicit link(const link_config&) : address_(zmq_address(Over)) {}
        [[nodiscard]] zmq_end open_sender() const {
            wait_for_bind(address_);
            return zmq_end(ZMQ_PUSH, address_, false);
        }
        [[nodiscard]] zmq_end open_receiver() const { return zmq_end(ZMQ_PULL, address_, true); }

    private:
        std::string address_;
    };
    static std::string version_text() {
        int major = 0, minor = 0, patch = 0;
        ::zmq_version(&major, &minor, &patch);
        return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    }
};

/// ZeroMQ REQ/REP: pingpong only (a REQ socket must alternate send and receive). The driver's
/// two links of a pingpong ("there" and "back") share one socket pair: in each process, the end
/// opened first makes the socket (the pinger's sender: REQ, connecting; the ponger's receiver:
/// REP, binding) and the other end of that process uses it too.
template <zmq_over Over>
struct zmq_req_rep {
    static std::string describe() {
        return std::string("ZeroMQ REQ/REP over ") + (Over == zmq_over::ipc ? "ipc://" : "tcp://127.0.0.1") +
               ", one context (one I/O thread) per process";
    }
    static std::string unsupported(std::size_t, bool many_producers, bool many_consumers) {
        return many_producers || many_consumers ? "n/a (one end each side here)" : "";
    }
    static std::string unsupported_idle() { return "n/a (request-reply only)"; }

    /// The one socket of this process (pingpong opens one sender and one receiver in each),
    /// closed when both ends are gone.
    static std::weak_ptr<zmq_end>& current() {
        static std::weak_ptr<zmq_end> socket;
        return socket;
    }
    struct shared_end {
        std::shared_ptr<zmq_end> end;
        template <std::size_t S>
        void send(const message<S>& m) const { end->send(m); }
        template <std::size_t S>
        void receive(message<S>& m) const { end->receive(m); }
    };
    static shared_end open(int type, const std::string& address, bool bind) {
        auto s = current().lock();
        if (!s) {
            s = std::make_shared<zmq_end>(type, address, bind);
            current() = s;
        }
        return {std::move(s)};
    }

    template <std::size_t S>
    class link {
    public:
        explicit link(const link_config&) : address_(zmq_address(Over)) {}
        [[nodiscard]] shared_end open_sender() const { return open(ZMQ_REQ, address_, false); }
        [[nodiscard]] shared_end open_receiver() const { return open(ZMQ_REP, address_, true); }

    private:
        std::string address_;
    };
};

#endif  // IPCKIT_BENCH_ZMQ

}  // namespace bench
