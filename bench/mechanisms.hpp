#pragma once
// Every mechanism the benchmark measures, each as a small adapter of the same shape, so that
// one driver (patterns.hpp) runs every pattern over all of them:
//
//   struct M {
//       static std::string describe();                   what it is and how it is set up
//       static std::string unsupported(size, many);      "" if it can carry messages of `size`
//                                                        bytes (from several producers at once
//                                                        if `many`), else why not
//       template <std::size_t S> class link;             a one-way channel of message<S>:
//   };                                                   made in the parent before fork, then
//                                                        link.open_sender() / open_receiver()
//                                                        in the process that uses that end
//
// An end has send(const message<S>&) and receive(message<S>&), both blocking, both throwing
// std::runtime_error on failure (a cold path: the hot path pays nothing for it).
//
// Named mechanisms (ipckit, Boost, POSIX mq) get a name unique to this process, removed before
// creation (a leftover of a crashed run with the same pid) and again when the link goes. ipckit
// and Boost ends open the name in the child, as separate programs would; descriptors (POSIX mq,
// pipe, sockets) are opened in the parent and inherited across fork.

#include "message.hpp"
#include "process.hpp"
#include "reference_ring.hpp"

#include <ipckit/queue.hpp>

#include <boost/interprocess/ipc/message_queue.hpp>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <fstream>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include <fcntl.h>
#include <limits.h>  // PIPE_BUF
#include <mqueue.h>
#include <sys/socket.h>
#include <unistd.h>

namespace bench {

template <class M>
concept mechanism = requires(std::size_t size, bool many, typename M::template link<8>& l, message<8>& m) {
    { M::describe() } -> std::same_as<std::string>;
    { M::unsupported(size, many) } -> std::same_as<std::string>;
    l.open_sender().send(m);
    l.open_receiver().receive(m);
};

/// Slots of every bounded queue (the reference ring, ipckit, Boost): 1024, or 64 for 64 KiB
/// messages so that a segment stays at 4 MiB.
constexpr std::size_t queue_capacity(std::size_t size) { return size <= 1024 ? 1024 : 64; }

/// A name no other process uses: "ipckit-bench-<pid>-<n>".
inline std::string unique_name() {
    static std::atomic<unsigned> n{0};
    return "ipckit-bench-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

/// A unique name, removed when it is made (a leftover of an earlier process with our pid) and
/// when it goes. Declare it before the object that it names, so that it outlives it.
class scoped_name {
public:
    explicit scoped_name(std::function<void(const std::string&)> remove, std::string prefix = "")
        : name_(prefix + unique_name()), remove_(std::move(remove)) {
        remove_(name_);
    }
    ~scoped_name() {
        try {
            remove_(name_);
        } catch (...) {
        }
    }
    scoped_name(const scoped_name&) = delete;
    scoped_name& operator=(const scoped_name&) = delete;
    [[nodiscard]] const std::string& str() const noexcept { return name_; }

private:
    std::string name_;
    std::function<void(const std::string&)> remove_;
};

// ---- shared memory ----------------------------------------------------------------------------

/// The physical limit: reference_ring.hpp, spinning, in anonymous shared memory.
struct reference {
    static std::string describe() {
        return "spinning SPSC ring in shared memory, the physical limit (bench/reference_ring.hpp)";
    }
    static std::string unsupported(std::size_t, bool many) { return many ? "n/a (SPSC)" : ""; }

    template <std::size_t S>
    class link {
        using ring = reference_ring<message<S>, queue_capacity(S)>;
        shared_array<ring> ring_{1};

    public:
        [[nodiscard]] typename ring::producer open_sender() const { return typename ring::producer(ring_[0]); }
        [[nodiscard]] typename ring::consumer open_receiver() const { return typename ring::consumer(ring_[0]); }
    };
};

/// How an ipckit queue carries message<S>: as a fixed-size T, or as a bytes<S> record of S bytes.
enum class payload { fixed, bytes };

/// ipckit::queue with wait policy Wait, Producers, one consumer, as many messages deep as the
/// other bounded queues: bounded<queue_capacity(S)> slots of message<S>, or a byte ring of as
/// many bytes<S> records (8 bytes of header each).
template <ipckit::wait_policy Wait, ipckit::cardinality_policy Producers = ipckit::single,
          payload Payload = payload::fixed>
struct ipckit_queue {
    static std::string describe() {
        return std::string(Payload == payload::fixed ? "ipckit::queue<T>, " : "ipckit::queue<bytes<Max>>, ") +
               std::string(Producers::name) + " producer, single consumer, wait policy " + std::string(Wait::name);
    }
    static std::string unsupported(std::size_t, bool many) {
        return many && Producers::max == 1 ? "n/a (single producer)" : "";
    }

    template <std::size_t S>
    class link {
        using queue = std::conditional_t<
            Payload == payload::fixed,
            ipckit::queue<message<S>, ipckit::bounded<queue_capacity(S)>, Producers, ipckit::single, Wait>,
            ipckit::queue<ipckit::bytes<S>, ipckit::bounded<queue_capacity(S) * (S + 8)>, Producers, ipckit::single,
                          Wait>>;
        scoped_name name_{[](const std::string& n) { ipckit::remove_segment(n); }};
        queue queue_ = queue::create(name_.str());

        [[noreturn]] static void failed(const char* verb, ipckit::errc e) {
            fail(std::string("ipckit ") + verb + ": " + make_error_code(e).message());
        }

    public:
        struct sending_end {
            ipckit::sender<queue> tx;
            void send(const message<S>& m) {
                ipckit::status s;
                if constexpr (Payload == payload::fixed)
                    s = tx.send(m);
                else
                    s = tx.send(std::span<const std::byte>(m.bytes));
                if (!s) [[unlikely]]
                    failed("send", s.error());
            }
        };
        struct receiving_end {
            ipckit::receiver<queue> rx;
            void receive(message<S>& m) {
                if constexpr (Payload == payload::fixed) {
                    if (const auto s = rx.receive(m); !s) [[unlikely]]
                        failed("receive", s.error());
                } else {
                    const auto n = rx.receive(std::span<std::byte>(m.bytes));
                    if (!n) [[unlikely]]
                        failed("receive", n.error());
                    if (*n != S) [[unlikely]]
                        fail("ipckit receive: " + std::to_string(*n) + " bytes, expected " + std::to_string(S));
                }
            }
        };
        [[nodiscard]] sending_end open_sender() const { return {queue::open(name_.str()).sender()}; }
        [[nodiscard]] receiving_end open_receiver() const { return {queue::open(name_.str()).receiver()}; }
    };
};

/// boost::interprocess::message_queue: a mutex and two condition variables in shared memory.
struct boost_mq {
    static std::string describe() { return "boost::interprocess::message_queue, as many slots as ipckit's queue"; }
    static std::string unsupported(std::size_t, bool) { return ""; }

    template <std::size_t S>
    class link {
        using mq = boost::interprocess::message_queue;
        scoped_name name_{[](const std::string& n) { mq::remove(n.c_str()); }};
        mq creator_{boost::interprocess::create_only, name_.str().c_str(), queue_capacity(S), S};

    public:
        struct end {
            std::unique_ptr<mq> q;
            void send(const message<S>& m) { q->send(&m, S, 0); }
            void receive(message<S>& m) {
                mq::size_type n = 0;
                unsigned priority = 0;
                q->receive(&m, S, n, priority);
                if (n != S) [[unlikely]]
                    fail("boost message_queue: received " + std::to_string(n) + " bytes, expected " +
                         std::to_string(S));
            }
        };
        [[nodiscard]] end open_sender() const {
            return {std::make_unique<mq>(boost::interprocess::open_only, name_.str().c_str())};
        }
        [[nodiscard]] end open_receiver() const { return open_sender(); }
    };
};

// ---- the kernel -------------------------------------------------------------------------------

/// POSIX message queues, within the limits that /proc/sys/fs/mqueue sets for an unprivileged
/// process (honoured even when run as root, who could exceed them).
struct posix_mq {
    static long limit(const char* name, long otherwise) {
        std::ifstream in(std::string("/proc/sys/fs/mqueue/") + name);
        long v = 0;
        return in >> v ? v : otherwise;
    }
    static long msg_max() { return limit("msg_max", 10); }
    static long msgsize_max() { return limit("msgsize_max", 8192); }
    static long capacity(std::size_t size) { return std::min(static_cast<long>(queue_capacity(size)), msg_max()); }

    static std::string describe() {
        return "mq_send / mq_receive, " + std::to_string(capacity(8)) + " slots (msg_max " + std::to_string(msg_max()) +
               ")";
    }
    static std::string unsupported(std::size_t size, bool) {
        const long max = msgsize_max();
        return static_cast<long>(size) > max ? "n/a (msgsize_max " + std::to_string(max) + ")" : "";
    }

    template <std::size_t S>
    class link {
        scoped_name name_{[](const std::string& n) { ::mq_unlink(n.c_str()); }, "/"};
        mqd_t tx_ = open(O_WRONLY | O_CREAT | O_EXCL);
        mqd_t rx_ = open(O_RDONLY);

        [[nodiscard]] mqd_t open(int flags) const {
            mq_attr attr{};
            attr.mq_maxmsg = capacity(S);
            attr.mq_msgsize = S;
            const mqd_t q = ::mq_open(name_.str().c_str(), flags | O_CLOEXEC, 0600, &attr);
            if (q == static_cast<mqd_t>(-1)) fail_errno("mq_open " + name_.str());
            return q;
        }

    public:
        ~link() {
            ::mq_close(tx_);
            ::mq_close(rx_);
        }
        link() = default;
        link(const link&) = delete;
        link& operator=(const link&) = delete;

        struct end {
            mqd_t q;
            void send(const message<S>& m) const {
                while (::mq_send(q, reinterpret_cast<const char*>(m.bytes), S, 0) != 0)
                    if (errno != EINTR) fail_errno("mq_send");
            }
            void receive(message<S>& m) const {
                ssize_t n;
                while ((n = ::mq_receive(q, reinterpret_cast<char*>(m.bytes), S, nullptr)) < 0)
                    if (errno != EINTR) fail_errno("mq_receive");
                if (n != static_cast<ssize_t>(S)) [[unlikely]]
                    fail("mq_receive: " + std::to_string(n) + " bytes, expected " + std::to_string(S));
            }
        };
        [[nodiscard]] end open_sender() const { return {tx_}; }
        [[nodiscard]] end open_receiver() const { return {rx_}; }
    };
};

/// A byte stream (pipe, SOCK_STREAM): a message may go out and come in in several pieces.
struct fd_stream {
    int fd;
    template <std::size_t S>
    void send(const message<S>& m) const {
        const auto* p = reinterpret_cast<const char*>(m.bytes);
        for (std::size_t left = S; left > 0;) {
            const ssize_t n = ::write(fd, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                fail_errno("write");
            }
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    }
    template <std::size_t S>
    void receive(message<S>& m) const {
        auto* p = reinterpret_cast<char*>(m.bytes);
        for (std::size_t left = S; left > 0;) {
            const ssize_t n = ::read(fd, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                fail_errno("read");
            }
            if (n == 0) fail("read: end of file in the middle of a message");
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    }
};

/// Packets (SOCK_SEQPACKET, SOCK_DGRAM): one message per send and per receive, or an error.
struct fd_packets {
    int fd;
    template <std::size_t S>
    void send(const message<S>& m) const {
        ssize_t n;
        while ((n = ::send(fd, m.bytes, S, MSG_NOSIGNAL)) < 0)
            if (errno != EINTR) fail_errno("send");
        if (n != static_cast<ssize_t>(S)) fail("send: " + std::to_string(n) + " of " + std::to_string(S) + " bytes");
    }
    template <std::size_t S>
    void receive(message<S>& m) const {
        ssize_t n;
        while ((n = ::recv(fd, m.bytes, S, MSG_TRUNC)) < 0)
            if (errno != EINTR) fail_errno("recv");
        if (n != static_cast<ssize_t>(S))
            fail("recv: a packet of " + std::to_string(n) + " bytes, expected " + std::to_string(S));
    }
};

/// Two descriptors made in the parent: [0] receives, [1] sends.
class fd_pair {
public:
    explicit fd_pair(const int fds[2]) noexcept : fds_{fds[0], fds[1]} {}
    ~fd_pair() {
        ::close(fds_[0]);
        ::close(fds_[1]);
    }
    fd_pair(const fd_pair&) = delete;
    fd_pair& operator=(const fd_pair&) = delete;
    [[nodiscard]] int receiving() const noexcept { return fds_[0]; }
    [[nodiscard]] int sending() const noexcept { return fds_[1]; }

private:
    int fds_[2];
};

/// pipe(2), with its default 64 KiB buffer.
struct pipe_mechanism {
    static std::string describe() { return "pipe(2), default buffer, read/write loops over partial transfers"; }
    static std::string unsupported(std::size_t size, bool many) {
        return many && size > PIPE_BUF ? "n/a (writes over PIPE_BUF = " + std::to_string(PIPE_BUF) + " B interleave)"
                                       : "";
    }

    template <std::size_t S>
    class link {
        static fd_pair make() {
            int fds[2];
            if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("pipe2");
            return fd_pair(fds);
        }
        fd_pair fds_ = make();

    public:
        [[nodiscard]] fd_stream open_sender() const { return {fds_.sending()}; }
        [[nodiscard]] fd_stream open_receiver() const { return {fds_.receiving()}; }
    };
};

/// A Unix domain socketpair of type Type, with default buffers.
template <int Type>
struct unix_socket {
    static_assert(Type == SOCK_STREAM || Type == SOCK_SEQPACKET || Type == SOCK_DGRAM);
    using end = std::conditional_t<Type == SOCK_STREAM, fd_stream, fd_packets>;

    static std::string describe() {
        if constexpr (Type == SOCK_STREAM)
            return "socketpair(AF_UNIX, SOCK_STREAM), read/write loops over partial transfers";
        else if constexpr (Type == SOCK_SEQPACKET)
            return "socketpair(AF_UNIX, SOCK_SEQPACKET)";
        else
            return "socketpair(AF_UNIX, SOCK_DGRAM)";
    }
    static std::string unsupported(std::size_t, bool many) {
        return many && Type == SOCK_STREAM ? "n/a (a byte stream interleaves writers)" : "";
    }

    template <std::size_t S>
    class link {
        static fd_pair make() {
            int fds[2];
            if (::socketpair(AF_UNIX, Type | SOCK_CLOEXEC, 0, fds) != 0) fail_errno("socketpair");
            return fd_pair(fds);
        }
        fd_pair fds_ = make();

    public:
        [[nodiscard]] end open_sender() const { return {fds_.sending()}; }
        [[nodiscard]] end open_receiver() const { return {fds_.receiving()}; }
    };
};

}  // namespace bench
