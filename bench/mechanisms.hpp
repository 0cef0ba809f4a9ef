#pragma once
// Every mechanism the benchmark measures, each as a small adapter of the same shape, so that
// one driver (patterns.hpp) runs every pattern over all of them:
//
//   struct M {
//       static std::string describe();                   what it is and how it is set up
//       static std::string unsupported(size, many_producers, many_consumers);
//                                                        "" if it can carry messages of `size`
//                                                        bytes (from several producers at once,
//                                                        to several consumers at once), else why
//       template <std::size_t S> class link;             a one-way channel of message<S>, made
//   };                                                   from a link_config in the parent before
//                                                        fork, then open_sender() / open_receiver()
//                                                        in the process that uses that end
//
// An end has send(const message<S>&) and receive(message<S>&), both blocking, both throwing
// std::runtime_error on failure (a cold path: the hot path pays nothing for it). A receiving end
// that can read a message in place (ipckit's views) also has visit(f), which calls f with a
// const message<S>& in the queue and then gives the slot back; the driver prefers it. A
// broadcast link (the rows of --broadcast) has open_receiver(c) for its receiver c of
// link_config::receivers, each of which gets every message.
//
// Named mechanisms (ipckit, Boost, POSIX mq) get a name unique to this process, removed before
// creation (a leftover of a crashed run with the same pid) and again when the link goes. ipckit
// and Boost ends open the name in the child, as separate programs would; descriptors (POSIX mq,
// pipe, sockets) are opened in the parent and inherited across fork.

#include "message.hpp"
#include "process.hpp"
#include "reference_ring.hpp"

#include <ipckit/mailbox.hpp>
#include <ipckit/node.hpp>
#include <ipckit/queue.hpp>

#include <boost/interprocess/ipc/message_queue.hpp>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <limits.h>  // PIPE_BUF
#include <mqueue.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

namespace bench {

/// Slots of every bounded queue (the reference ring, ipckit, Boost): 1024, or 64 for 64 KiB
/// messages so that a segment stays at 4 MiB.
constexpr std::size_t queue_capacity(std::size_t size) { return size <= 1024 ? 1024 : 64; }

/// How deep the queues whose depth is chosen at run time (Boost, POSIX mq) are: by default as
/// deep as the others (queue_capacity), or `slots` deep (--capacity N; 1 for --capacity zero,
/// the least they have). ipckit's depth is part of its type (ipckit_kind's Capacity).
struct link_config {
    std::size_t slots = 0;  ///< 0: queue_capacity(size)
    unsigned receivers = 1;  ///< broadcast links (--broadcast): receivers that each get every message
    [[nodiscard]] std::size_t slots_for(std::size_t size) const noexcept {
        return slots != 0 ? slots : queue_capacity(size);
    }
};

template <class M>
concept mechanism = requires(std::size_t size, bool many, typename M::template link<8>& l, message<8>& m) {
    { M::describe() } -> std::same_as<std::string>;
    { M::unsupported(size, many, many) } -> std::same_as<std::string>;
    requires std::constructible_from<typename M::template link<8>, const link_config&>;
    l.open_sender().send(m);
    l.open_receiver().receive(m);
};

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

/// An ipckit queue or mailbox Q, made in the parent under a unique name (removed before and
/// after) and opened by name in each child, as separate programs would: the set-up of every
/// ipckit link. Declared in a link, it outlives the ends that the children open from it.
template <class Q>
class named_ipckit {
public:
    [[nodiscard]] Q open() const { return Q::open(name_.str()); }

private:
    // Q::remove: an unbounded queue's chunks go with its head.
    scoped_name name_{[](const std::string& n) { (void)Q::remove(n); }};
    Q made_ = Q::create(name_.str());
};

/// Throws what an ipckit verb failed with: "<what> <verb>: <the error's message>".
[[noreturn]] inline void ipckit_failed(const char* what, const char* verb, ipckit::errc e) {
    fail(std::string(what) + " " + verb + ": " + make_error_code(e).message());
}

// ---- shared memory ----------------------------------------------------------------------------

/// The physical limit: reference_ring.hpp, spinning, in anonymous shared memory.
struct reference {
    static std::string describe() {
        return "spinning SPSC ring in shared memory, the physical limit (bench/reference_ring.hpp)";
    }
    static std::string unsupported(std::size_t, bool many_producers, bool many_consumers) {
        return many_producers || many_consumers ? "n/a (SPSC)" : "";
    }

    template <std::size_t S>
    class link {
        using ring = reference_ring<message<S>, queue_capacity(S)>;
        shared_array<ring> ring_{1};

    public:
        explicit link(const link_config&) {}
        [[nodiscard]] typename ring::producer open_sender() const { return typename ring::producer(ring_[0]); }
        [[nodiscard]] typename ring::consumer open_receiver() const { return typename ring::consumer(ring_[0]); }
    };
};

/// How an ipckit queue carries message<S>: as a fixed-size T, or as a bytes<S> record of S bytes.
enum class payload { fixed, bytes };

/// The Capacity of an ipckit_kind that is as deep as the other bounded queues: bounded<N> with
/// N = queue_capacity(S) messages (a byte ring of as many records, for bytes).
struct same_depth {};
/// As deep as the other queues in all, in Parts lanes: each lane a Parts-th of that depth, so
/// that lanes<Parts> holds as many messages (and as much memory) as the shared ring.
template <std::size_t Parts>
struct split_depth {};

/// The ipckit capacity policy that Capacity (same_depth, bounded<N> in messages, zero_capacity,
/// unbounded<B>) means for messages of S bytes carried as Payload. A bytes<S> message takes 8
/// bytes of header besides its S bytes rounded up to 8, in a byte ring's record (one consumer)
/// or a record slot (several), so N of them need N * (8 + S rounded up to 8) bytes.
template <payload Payload, class Capacity, std::size_t S>
struct ipckit_capacity {
    using type = Capacity;  // zero_capacity, unbounded<B>: the same for T and bytes<S>
};
template <payload Payload, std::size_t S>
struct ipckit_capacity<Payload, same_depth, S> {
    using type = typename ipckit_capacity<Payload, ipckit::bounded<queue_capacity(S)>, S>::type;
};
template <payload Payload, std::size_t Parts, std::size_t S>
struct ipckit_capacity<Payload, split_depth<Parts>, S> {
    using type = typename ipckit_capacity<Payload, ipckit::bounded<queue_capacity(S) / Parts>, S>::type;
};
template <std::size_t N, std::size_t S>
struct ipckit_capacity<payload::bytes, ipckit::bounded<N>, S> {
    using type = ipckit::bounded<N * (8 + (S + 7) / 8 * 8)>;
};

template <class Capacity>
inline constexpr bool is_split_depth = false;
template <std::size_t Parts>
inline constexpr bool is_split_depth<split_depth<Parts>> = true;

template <class Capacity>
inline constexpr bool is_zero_capacity = std::is_same_v<Capacity, ipckit::zero_capacity>;

/// ipckit::queue<message<S> or bytes<S>, Capacity, Producers, Consumers, Wait>. With Loan, the
/// sender writes each message in place (loan(), a copy of the S bytes into the slot, commit())
/// and the receiver checks it in place (receive_view()): the message is written once, where the
/// other rows copy it twice (into the queue and out of it). Loans need a bounded capacity.
template <payload Payload, class Capacity, ipckit::cardinality_policy Producers, ipckit::cardinality_policy Consumers,
          ipckit::wait_policy Wait, bool Loan = false>
struct ipckit_kind {
    static_assert(!Loan || !(is_zero_capacity<Capacity> || ipckit::is_unbounded<Capacity>),
                  "ipckit offers loans and views on bounded queues only");

    static std::string describe() {
        std::string capacity;
        if constexpr (std::is_same_v<Capacity, same_depth>)
            capacity = "as deep as the other queues";
        else if constexpr (is_split_depth<Capacity>)
            capacity = "as deep as the other queues in all lanes together";
        else if constexpr (is_zero_capacity<Capacity>)
            capacity = "zero capacity (rendezvous)";
        else if constexpr (ipckit::is_unbounded<Capacity>)
            capacity = "unbounded (" + std::to_string(Capacity::chunk_bytes >> 10) + " KiB chunks)";
        else
            capacity = "bounded<" + std::to_string(Capacity::capacity) + "> messages";
        if constexpr (ipckit::is_lanes<Producers> && !is_split_depth<Capacity>) capacity += " in each lane";
        return std::string(Payload == payload::fixed ? "ipckit::queue<T>, " : "ipckit::queue<bytes<Max>>, ") +
               capacity + ", " + std::string(Producers::name) + " producer, " + std::string(Consumers::name) +
               " consumer, wait policy " + std::string(Wait::name) +
               (Loan ? Payload == payload::fixed ? "; loan() / receive_view(), written once in place"
                                                 : "; loan(n) / receive_view(), written once in place"
                     : "");
    }
    static std::string unsupported(std::size_t, bool many_producers, bool many_consumers) {
        if (many_producers && Producers::max == 1) return "n/a (single producer)";
        if (many_consumers && Consumers::max == 1) return "n/a (single consumer)";
        return "";
    }

    template <std::size_t S>
    class link {
        using message_type = std::conditional_t<Payload == payload::fixed, message<S>, ipckit::bytes<S>>;
        using capacity = typename ipckit_capacity<Payload, Capacity, S>::type;

    public:
        /// The queue this row measures (bench/batch.hpp drives the same one through its batch verbs).
        using queue = ipckit::queue<message_type, capacity, Producers, Consumers, Wait>;

    private:
        named_ipckit<queue> queue_;

        [[noreturn]] static void failed(const char* verb, ipckit::errc e) { ipckit_failed("ipckit", verb, e); }

    public:
        explicit link(const link_config&) {}

        struct sending_end {
            ipckit::sender<queue> tx;
            void send(const message<S>& m) {
                if constexpr (Loan)
                    lend(m);
                else
                    copy(m);
            }

        private:
            void copy(const message<S>& m) {
                for (;;) {
                    ipckit::status s;
                    if constexpr (Payload == payload::fixed)
                        s = tx.send(m);
                    else
                        s = tx.send(std::span<const std::byte>(m.bytes));
                    if (s) [[likely]]
                        return;
                    // An unbounded queue at its cap (unbounded_options::cap_bytes): a producer that
                    // outruns the consumer by that much waits until a chunk has been freed.
                    if (!ipckit::is_unbounded<Capacity> || s.error() != ipckit::errc::no_space)
                        failed("send", s.error());
                    ::sched_yield();
                }
            }
            /// Writes m into a loaned slot: the one copy of the S bytes that a producer writing
            /// its message in place pays.
            void lend(const message<S>& m) {
                if constexpr (Payload == payload::fixed) {
                    auto loan = tx.loan();
                    if (!loan) [[unlikely]]
                        failed("loan", loan.error());
                    std::memcpy(static_cast<void*>(&loan->data()), &m, sizeof m);
                    if (const auto s = loan->commit(); !s) [[unlikely]]
                        failed("commit", s.error());
                } else {
                    auto loan = tx.loan(S);
                    if (!loan) [[unlikely]]
                        failed("loan", loan.error());
                    std::memcpy(loan->data().data(), m.bytes, S);
                    if (const auto s = loan->commit(); !s) [[unlikely]]
                        failed("commit", s.error());
                }
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
            /// The oldest message, read in place by f; its slot goes back when f returns.
            template <class F>
                requires Loan
            void visit(F&& f) {
                auto view = rx.receive_view();
                if (!view) [[unlikely]]
                    failed("receive_view", view.error());
                if constexpr (Payload == payload::fixed) {
                    f(view->data());
                } else {
                    const std::span<const std::byte> d = view->data();
                    if (d.size() != S) [[unlikely]]
                        fail("ipckit receive_view: " + std::to_string(d.size()) + " bytes, expected " +
                             std::to_string(S));
                    // Records start 8-byte aligned (detail/ring/bytes.hpp), as message<S> needs.
                    f(*std::launder(reinterpret_cast<const message<S>*>(d.data())));
                }
            }
        };
        [[nodiscard]] sending_end open_sender() const { return {queue_.open().sender()}; }
        [[nodiscard]] receiving_end open_receiver() const { return {queue_.open().receiver()}; }
    };
};

/// The rows of the standard table: as deep as the other queues, one consumer.
template <ipckit::wait_policy Wait, ipckit::cardinality_policy Producers = ipckit::single,
          payload Payload = payload::fixed>
using ipckit_queue = ipckit_kind<Payload, same_depth, Producers, ipckit::single, Wait>;
/// The zero-copy rows: SPSC, adaptive, loans and views.
template <payload Payload>
using ipckit_loan = ipckit_kind<Payload, same_depth, ipckit::single, ipckit::single, ipckit::adaptive, true>;

// ---- ipckit's naming layers: node and mailbox ---------------------------------------------------

/// How an ipckit::node receiver takes its messages: from the one member it names (receive(from)),
/// or from whichever member has one (receive_any(), which also says who sent it).
enum class node_receive { from, any };

/// The MaxMessage of every node row: one bound that covers every size, as a program would have
/// one node type for all its messages.
inline constexpr std::size_t node_max_message = 64 * 1024 + 64;

/// ipckit::basic_node: each end is a member of its own domain, made in the process that uses it
/// (one domain per link, unique to this process, ipckit::remove_domain'd when the link goes).
/// The receiver is "rx"; the sender "tx" (receive(from) names it; one producer), or "tx-<pid>"
/// with receive_any, which takes several producers (mpscN). Under the names, one SPSC link per
/// ordered pair: queue<bytes<node_max_message>, bounded<LinkBytes>> with LinkBytes as deep as
/// the other queues for this size (1024 records, 64 of 64 KiB), so that the row differs from
/// ipckit-bytes-adaptive by the naming layer only. Messages are received into a message<S>, as
/// ipckit-bytes-adaptive receives them (the buffer overloads of receive and receive_any).
template <node_receive Receive>
struct ipckit_node {
    static std::string describe() {
        return std::string("ipckit::basic_node<64 KiB + 64, links as deep as the other queues>, send(to) / ") +
               (Receive == node_receive::from ? "receive(from)" : "receive_any()") +
               ", wait policy adaptive, one member per process and link";
    }
    static std::string unsupported(std::size_t, bool many_producers, bool many_consumers) {
        if (many_consumers) return "n/a (one receiving member)";
        if (many_producers && Receive == node_receive::from) return "n/a (receive(from) names one sender)";
        return "";
    }
    /// In idle the receiver waits before its sender has joined, which receive(from) refuses
    /// (not_found: a member that has not joined cannot be waited for); receive_any() waits.
    static std::string unsupported_idle()
        requires(Receive == node_receive::from)
    {
        return "n/a (no sender yet)";
    }

    template <std::size_t S>
    class link {
        using node = ipckit::basic_node<node_max_message, queue_capacity(S) * (S + 8)>;
        static_assert(S <= node::max_message);
        scoped_name domain_{[](const std::string& n) { (void)ipckit::remove_domain(n); }};

        [[noreturn]] static void failed(const char* verb, ipckit::errc e) {
            fail(std::string("ipckit node ") + verb + ": " + make_error_code(e).message());
        }
        static std::string sender_name() {
            return Receive == node_receive::from ? "tx" : "tx-" + std::to_string(::getpid());
        }

    public:
        explicit link(const link_config&) {}

        struct sending_end {
            std::unique_ptr<node> self;
            typename node::template sender_type<> tx;  ///< self's sending endpoint
            void send(const message<S>& m) {
                if (const auto s = tx.send("rx", std::span<const std::byte>(m.bytes)); !s) [[unlikely]]
                    failed("send", s.error());
            }
        };
        struct receiving_end {
            std::unique_ptr<node> self;
            typename node::template receiver_type<> rx;  ///< self's receiving endpoint
            std::string from;  ///< the sender's name, which receive(from) needs (from the link, before fork)

            /// The next message, received into out (the node's buffer overloads: no allocation).
            void receive(message<S>& out) {
                const auto n = next(std::span<std::byte>(out.bytes));
                if (n != S) [[unlikely]]
                    fail("ipckit node receive: " + std::to_string(n) + " bytes, expected " + std::to_string(S));
            }

        private:
            std::size_t next(std::span<std::byte> into) {
                if constexpr (Receive == node_receive::from) {
                    auto n = rx.receive(from, into);
                    if (!n) [[unlikely]]
                        failed("receive(from)", n.error());
                    return *n;
                } else {
                    for (;;) {
                        auto e = rx.receive_any(into);
                        if (e.message) [[likely]]
                            return *e.message;
                        // A producer that sent its end marker and left is reported once, after
                        // its last message, as closed; the consumer counts the markers, not these.
                        const ipckit::errc why = e.message.error();
                        if (why == ipckit::errc::closed) continue;
                        failed("receive_any", why);
                    }
                }
            }
        };
        [[nodiscard]] sending_end open_sender() const {
            auto self = std::make_unique<node>(domain_.str(), sender_name());
            auto tx = self->sender();
            return {std::move(self), std::move(tx)};
        }
        [[nodiscard]] receiving_end open_receiver() const {
            auto self = std::make_unique<node>(domain_.str(), "rx");
            auto rx = self->receiver();
            return {std::move(self), std::move(rx), "tx"};
        }
    };
};

/// ipckit::mailbox<message<S> or bytes<S>, bounded<N>, Delivery, system_owned>, as deep as the
/// other queues: the seed's indirect communication (a named port, up to 64 senders), made in the
/// parent and opened by name in each child. For bytes<S>, bounded<N> counts bytes: as many slots
/// of sizeof(record<S>) as the other queues hold messages.
template <ipckit::delivery_policy Delivery, payload Payload = payload::fixed>
struct ipckit_mailbox {
    static std::string describe() {
        return std::string(Payload == payload::fixed ? "ipckit::mailbox<T, bounded<N>, "
                                                     : "ipckit::mailbox<bytes<Max>, bounded<N bytes>, ") +
               Delivery::name + ", system_owned>, as deep as the other queues, wait policy adaptive";
    }
    static std::string unsupported(std::size_t, bool, bool many_consumers) {
        return many_consumers && std::is_same_v<Delivery, ipckit::exclusive> ? "n/a (exclusive: one receiver)" : "";
    }

    template <std::size_t S>
    class link {
        static constexpr bool fixed = Payload == payload::fixed;
        using box = std::conditional_t<
            fixed, ipckit::mailbox<message<S>, ipckit::bounded<queue_capacity(S)>, Delivery, ipckit::system_owned>,
            ipckit::mailbox<ipckit::bytes<S>, ipckit::bounded<queue_capacity(S) * sizeof(ipckit::detail::record<S>)>,
                            Delivery, ipckit::system_owned>>;
        named_ipckit<box> box_;

        [[noreturn]] static void failed(const char* verb, ipckit::errc e) { ipckit_failed("ipckit mailbox", verb, e); }

    public:
        explicit link(const link_config&) {}

        struct sending_end {
            typename box::template sender_type<ipckit::blocking> tx;
            void send(const message<S>& m) {
                ipckit::status s;
                if constexpr (fixed)
                    s = tx.send(m);
                else
                    s = tx.send(std::span<const std::byte>(m.bytes));
                if (!s) [[unlikely]]
                    failed("send", s.error());
            }
        };
        struct receiving_end {
            typename box::template receiver_type<ipckit::blocking> rx;
            void receive(message<S>& m) {
                if constexpr (fixed) {
                    if (const auto s = rx.receive(m); !s) [[unlikely]]
                        failed("receive", s.error());
                } else {
                    const auto n = rx.receive(std::span<std::byte>(m.bytes));
                    if (!n) [[unlikely]]
                        failed("receive", n.error());
                    if (*n != S) [[unlikely]]
                        fail("ipckit mailbox receive: " + std::to_string(*n) + " bytes, expected " + std::to_string(S));
                }
            }
        };
        [[nodiscard]] sending_end open_sender() const { return {box_.open().sender()}; }
        [[nodiscard]] receiving_end open_receiver() const { return {box_.open().receiver()}; }
    };
};

/// ipckit::mailbox<bytes<S>, bounded<N>, broadcast, system_owned> with room for as many messages
/// as the other queues (N counts bytes: that many record<S> slots): every receiver gets every
/// message. With Loan, the sender writes each message once in place (loan(S), commit()) and every
/// receiver checks it in place (receive_view()); else each copies it in and out. Made in the
/// parent; each child opens it by name, and a receiver attaches before the start gate opens, so
/// that it gets every message. open_receiver(c) for the broadcast pattern: any receiver is alike.
template <bool Loan>
struct ipckit_broadcast {
    static std::string describe() {
        return std::string("ipckit::mailbox<bytes<S>, bounded<N>, broadcast, system_owned>, as deep as the other "
                           "queues, wait policy adaptive") +
               (Loan ? "; loan(S) / receive_view(): written once, read in place by every receiver" : "");
    }
    static std::string unsupported(std::size_t, bool many_producers, bool) {
        return many_producers ? "n/a (measured with one sender)" : "";
    }

    template <std::size_t S>
    class link {
        using box = ipckit::mailbox<ipckit::bytes<S>,
                                    ipckit::bounded<queue_capacity(S) * sizeof(ipckit::detail::record<S>)>,
                                    ipckit::broadcast, ipckit::system_owned>;
        named_ipckit<box> box_;

        [[noreturn]] static void failed(const char* verb, ipckit::errc e) { ipckit_failed("ipckit broadcast", verb, e); }

    public:
        explicit link(const link_config&) {}

        struct sending_end {
            typename box::template sender_type<ipckit::blocking> tx;
            void send(const message<S>& m) {
                if constexpr (Loan) {
                    auto loan = tx.loan(S);
                    if (!loan) [[unlikely]]
                        failed("loan", loan.error());
                    std::memcpy(loan->data().data(), m.bytes, S);
                    if (const auto s = loan->commit(); !s) [[unlikely]]
                        failed("commit", s.error());
                } else if (const auto s = tx.send(std::span<const std::byte>(m.bytes)); !s) [[unlikely]] {
                    failed("send", s.error());
                }
            }
        };
        struct receiving_end {
            typename box::template receiver_type<ipckit::blocking> rx;
            void receive(message<S>& m) {
                const auto n = rx.receive(std::span<std::byte>(m.bytes));
                if (!n) [[unlikely]]
                    failed("receive", n.error());
                if (*n != S) [[unlikely]]
                    fail("ipckit broadcast receive: " + std::to_string(*n) + " bytes, expected " + std::to_string(S));
            }
            /// The next message, read in place by f; the receiver lets it go when f returns.
            template <class F>
                requires Loan
            void visit(F&& f) {
                auto view = rx.receive_view();
                if (!view) [[unlikely]]
                    failed("receive_view", view.error());
                const std::span<const std::byte> d = view->data();
                if (d.size() != S) [[unlikely]]
                    fail("ipckit broadcast receive_view: " + std::to_string(d.size()) + " bytes, expected " +
                         std::to_string(S));
                // A record's bytes start 8-byte aligned (detail/ring/record.hpp), as message<S> needs.
                f(*std::launder(reinterpret_cast<const message<S>*>(d.data())));
            }
        };
        [[nodiscard]] sending_end open_sender() const { return {box_.open().sender()}; }
        [[nodiscard]] receiving_end open_receiver(unsigned /*c*/ = 0) const { return {box_.open().receiver()}; }
    };
};

/// boost::interprocess::message_queue: a mutex and two condition variables in shared memory.
struct boost_mq {
    static std::string describe() { return "boost::interprocess::message_queue, as many slots as ipckit's queue"; }
    static std::string unsupported(std::size_t, bool, bool) { return ""; }

    template <std::size_t S>
    class link {
        using mq = boost::interprocess::message_queue;
        scoped_name name_{[](const std::string& n) { mq::remove(n.c_str()); }};
        mq creator_;

    public:
        explicit link(const link_config& c)
            : creator_(boost::interprocess::create_only, name_.str().c_str(), c.slots_for(S), S) {}
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
    static long capacity(std::size_t slots) { return std::min(static_cast<long>(slots), msg_max()); }

    static std::string describe() {
        return "mq_send / mq_receive, as many slots as ipckit's queue up to msg_max (" + std::to_string(msg_max()) +
               ")";
    }
    static std::string unsupported(std::size_t size, bool, bool) {
        const long max = msgsize_max();
        return static_cast<long>(size) > max ? "n/a (msgsize_max " + std::to_string(max) + ")" : "";
    }

    template <std::size_t S>
    class link {
        scoped_name name_{[](const std::string& n) { ::mq_unlink(n.c_str()); }, "/"};
        long slots_;
        mqd_t tx_ = open(O_WRONLY | O_CREAT | O_EXCL);
        mqd_t rx_ = open(O_RDONLY);

        [[nodiscard]] mqd_t open(int flags) const {
            mq_attr attr{};
            attr.mq_maxmsg = slots_;
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
        explicit link(const link_config& c) : slots_(capacity(c.slots_for(S))) {}
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
    static std::string unsupported(std::size_t size, bool many_producers, bool many_consumers) {
        if (size <= PIPE_BUF) return "";  // a write of up to PIPE_BUF bytes is atomic
        if (many_producers) return "n/a (writes over PIPE_BUF = " + std::to_string(PIPE_BUF) + " B interleave)";
        if (many_consumers) return "n/a (reads of messages over PIPE_BUF = " + std::to_string(PIPE_BUF) + " B split)";
        return "";
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
        explicit link(const link_config&) {}
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
    static std::string unsupported(std::size_t, bool many_producers, bool many_consumers) {
        if (Type != SOCK_STREAM) return "";
        if (many_producers) return "n/a (a byte stream interleaves writers)";
        return many_consumers ? "n/a (a byte stream splits messages between readers)" : "";
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
        explicit link(const link_config&) {}
        [[nodiscard]] end open_sender() const { return {fds_.sending()}; }
        [[nodiscard]] end open_receiver() const { return {fds_.receiving()}; }
    };
};

/// Broadcast through the kernel, as cpp-ipc's peers do it: one Peer link (a pipe, a Unix
/// socket) per receiver (link_config::receivers), and the sender writes each message to each of
/// them in turn. Receiver c reads link c.
template <class Peer>
struct fanout {
    static std::string describe() {
        return "one " + Peer::describe() + " per receiver; the sender writes each message to each";
    }
    static std::string unsupported(std::size_t size, bool many_producers, bool) {
        return many_producers ? "n/a (one sender)" : Peer::unsupported(size, false, false);
    }

    template <std::size_t S>
    class link {
        using peer_link = typename Peer::template link<S>;
        std::vector<std::unique_ptr<peer_link>> links_;

    public:
        explicit link(const link_config& c) {
            for (unsigned i = 0; i < std::max(c.receivers, 1u); ++i) links_.push_back(std::make_unique<peer_link>(c));
        }
        struct sending_end {
            std::vector<decltype(std::declval<const peer_link&>().open_sender())> ends;
            void send(const message<S>& m) {
                for (auto& e : ends) e.send(m);
            }
        };
        [[nodiscard]] sending_end open_sender() const {
            sending_end s;
            for (const auto& l : links_) s.ends.push_back(l->open_sender());
            return s;
        }
        [[nodiscard]] auto open_receiver(unsigned c = 0) const { return links_.at(c)->open_receiver(); }
    };
};

}  // namespace bench
