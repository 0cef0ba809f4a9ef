#pragma once
// Kind adapters for connections (<ipckit/net.hpp>): a connection over tcp, unix and shm, in the
// shape of kinds.hpp, so that the contract scenarios run on every transport.
//
// A connection is made by two ends that meet: a listener accepts what a client connects. The
// receiver's end listens and accepts; the sender's end connects. Neither does anything when it
// is attached, only at its first verb: the scenarios attach a receiver in the test process and
// then fork the senders, which connect from their own process (a forked child starts an I/O
// thread of its own: net.hpp).
//
//   the receiver's first verb   binds the listener (its tcp port goes to the place's shared
//                               cell) and accepts: at once if the sender has connected, else
//                               until the verb's deadline (nothing connected: nothing to take)
//   the sender's first verb     waits for the listener (in another process: up to patience),
//                               and connects
// Both ends in one process: the receiver's first verb has the sender connect first.
//
// A connection has one sender, for its life: the promises of many senders, of a sender or
// receiver that takes a dead one's place, of a creator and of a channel closed or removed as a
// whole are not a connection's (see the lists in kinds.hpp).

#include "../messages.hpp"
#include "../net_support.hpp"
#include "../support.hpp"
#include "batch_verbs.hpp"

#include <ipckit/net.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

namespace ipckit_test::contract {

using ipckit::errc;

/// What a connection's two ends tell each other across a fork: in shared memory.
struct net_meeting {
    std::atomic<pid_t> sender{0};         // the process the sender's end is attached in
    std::atomic<pid_t> receiver{0};       // and the receiver's
    std::atomic<std::uint32_t> port{0};   // tcp: the port the listener got
    std::atomic<bool> listening{false};   // the listener is bound: connect may go
    std::atomic<bool> connected{false};   // the sender's connect returned
};

/// The knobs every end takes: small buffers, so that a channel fills quickly.
inline ipckit::net_options contract_net_options() {
    ipckit::net_options o;
    o.send_buffer = 16 * 1024;
    o.receive_buffer = 16 * 1024;
    return o;
}

/// The sender's end, as the receiver's process sees it (both ends in one process).
struct net_connector {
    virtual void connect_now() = 0;

protected:
    ~net_connector() = default;
};

/// A unique address for Kind, a meeting place in shared memory, and (in the receiver's
/// process) the listener.
template <class Message, net_kind Kind>
class net_place {
public:
    net_place() : bind_(bind_address(Kind)) {
        void* m = ::mmap(nullptr, sizeof(net_meeting), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) throw std::runtime_error("net_place: mmap failed");
        meeting_ = new (m) net_meeting;
    }
    ~net_place() {
        listener_.reset();
        remove_leftovers(bind_);  // what a killed end left
        ::munmap(meeting_, sizeof(net_meeting));
    }
    net_place(const net_place&) = delete;
    net_place& operator=(const net_place&) = delete;

    [[nodiscard]] net_meeting& meeting() const noexcept { return *meeting_; }

    /// Binds the listener in this process, if it is not yet.
    ipckit::listener<Message>& listen() const {
        if (!listener_) {
            listener_.emplace(ipckit::listener<Message>::bind(bind_, contract_net_options()));
            if constexpr (Kind == net_kind::tcp) meeting_->port = ipckit::parse_address(listener_->address()).port;
            meeting_->listening = true;
        }
        return *listener_;
    }
    /// The address to connect to, once the listener is bound (empty if it never was).
    [[nodiscard]] std::string address() const {
        if (!eventually([&] { return meeting_->listening.load(); })) return {};
        auto a = ipckit::parse_address(bind_);
        if constexpr (Kind == net_kind::tcp) a.port = static_cast<std::uint16_t>(meeting_->port.load());
        return a.str();
    }

    /// The sender's end, while one is attached in this process.
    mutable net_connector* sender_here = nullptr;

private:
    std::string bind_;
    net_meeting* meeting_ = nullptr;
    mutable std::optional<ipckit::listener<Message>> listener_;
};

/// The errc of a verb that found no connection by `deadline`: would_block for a non-blocking one.
template <class Mode>
errc nothing_yet(errc e) {
    return std::is_same_v<Mode, ipckit::non_blocking> && e == errc::timed_out ? errc::would_block : e;
}

template <class Message, net_kind Kind, class Mode>
class net_sender final : public net_connector {
public:
    explicit net_sender(const net_place<Message, Kind>& p) : p_(&p) {
        p.meeting().sender = ::getpid();
        p.sender_here = this;
    }
    ~net_sender() {
        if (p_->sender_here == this) p_->sender_here = nullptr;
    }
    net_sender(const net_sender&) = delete;
    net_sender& operator=(const net_sender&) = delete;

    /// The connection, made at the first call; or why it could not be.
    errc ready() {
        if (c_) return errc::ok;
        if (p_->meeting().receiver == ::getpid()) p_->listen();
        const std::string address = p_->address();
        if (address.empty()) return errc::not_found;
        try {
            c_.emplace(ipckit::connect<Message, Mode>(address, patience, contract_net_options()));
        } catch (const ipckit::error& e) {
            return e.reason();
        }
        p_->meeting().connected = true;
        return errc::ok;
    }
    void connect_now() override { (void)ready(); }
    ipckit::connection<Message, Mode>& connection() { return *c_; }

private:
    const net_place<Message, Kind>* p_;
    std::optional<ipckit::connection<Message, Mode>> c_;
};

template <class Message, net_kind Kind, class Mode>
class net_receiver {
public:
    explicit net_receiver(const net_place<Message, Kind>& p) : p_(&p) { p.meeting().receiver = ::getpid(); }

    /// The connection, accepted at the first call that finds the sender connected (by
    /// `deadline` if it has not yet); or why there is none.
    errc ready(std::chrono::steady_clock::time_point deadline) {
        if (c_) return errc::ok;
        auto& srv = p_->listen();
        if (p_->meeting().sender == ::getpid() && p_->sender_here) p_->sender_here->connect_now();
        const auto now = std::chrono::steady_clock::now();
        const auto until = p_->meeting().connected ? now + patience : std::max(deadline, now);
        auto c = srv.template accept<Mode>(until);
        if (!c) return nothing_yet<Mode>(c.error());
        c_.emplace(std::move(*c));
        return errc::ok;
    }
    ipckit::connection<Message, Mode>& connection() { return *c_; }

private:
    const net_place<Message, Kind>* p_;
    std::optional<ipckit::connection<Message, Mode>> c_;
};

/// A connection over Kind carrying Message (tick, or bytes<Max> with a tick's bytes).
template <class Message, net_kind Kind>
struct connection_kind {
    using place = net_place<Message, Kind>;
    static constexpr bool fixed = std::is_same_v<Message, tick>;

    // What a connection promises (kinds.hpp): one sender, a bounded buffer each way (kernel's,
    // link's or ring's: far more than 8), no peer() to ask, and messages that travel: a
    // non-blocking receive just after a send may find nothing yet (an I/O thread, or nothing
    // for shm, carries it).
    static constexpr bool multi_producer = false, bounded = true, peer_query = false, non_blocking_send = true;
    static constexpr bool travels = Kind != net_kind::shm;
    static constexpr std::uint64_t holds = 8;
    /// More ticks than any transport's buffers take with nobody reading (tcp's kernel buffers can
    /// take megabytes): a batch of so many fills the connection part way.
    static constexpr std::uint64_t fills = std::uint64_t{1} << 21;

    /// Nothing to keep: the ends meet at their first verb.
    static int create(const place&) { return 0; }
    /// Connects to p as a client of another message type (incompatible_layout, if all is well).
    static void open_other(const place& p) {
        p.listen();
        (void)ipckit::connect<std::uint64_t>(p.address(), patience, contract_net_options());
    }
    template <class Mode = ipckit::blocking>
    static auto sender(const place& p, unsigned /*id*/ = 0) {
        return std::make_unique<net_sender<Message, Kind, Mode>>(p);
    }
    template <class Mode = ipckit::blocking>
    static auto receiver(const place& p) {
        return std::make_unique<net_receiver<Message, Kind, Mode>>(p);
    }

    template <class Tx>
    static errc send(Tx& tx, std::uint64_t seq, auto... deadline) {
        if (const errc e = tx->ready(); e != errc::ok) return e;
        const tick t = make_tick(seq);
        if constexpr (fixed)
            return err(tx->connection().send(t, deadline...));
        else
            return err(tx->connection().send(std::as_bytes(std::span(&t, 1)), deadline...));
    }
    /// Waits until the transport holds every tick sent so far: a send may leave its message
    /// buffered for a moment (connection::flush), and a sender killed then would lose it.
    template <class Tx>
    static errc flush(Tx& tx) {
        if (const errc e = tx->ready(); e != errc::ok) return e;
        return err(tx->connection().flush(patience));
    }
    /// Adds the receiver's connection to `ws`, once accepted (the sender connects at its first
    /// send: up to patience).
    template <class Rx>
    static ipckit::waitset::id watch(ipckit::waitset& ws, Rx& rx) {
        if (const errc e = rx->ready(std::chrono::steady_clock::now() + patience); e != errc::ok)
            throw ipckit::error(e, "watch: the sender never connected");
        return ws.add(rx->connection());
    }
    /// Makes the receiver's connection (listens, and accepts the sender's, up to patience) without
    /// taking anything: for a scenario whose sender must fill the connection before any receive.
    template <class Rx>
    static errc meet(Rx& rx) {
        return rx->ready(std::chrono::steady_clock::now() + patience);
    }
    template <class Rx>
    static errc receive(Rx& rx, std::uint64_t& seq, auto... deadline) {
        if (const errc e = rx->ready(accept_by(deadline...)); e != errc::ok) return e;
        tick t{};
        if constexpr (fixed) {
            if (const auto s = rx->connection().receive(t, deadline...); !s) return s.error();
        } else {
            std::array<std::byte, 2 * sizeof(tick)> buf{};
            const auto n = rx->connection().receive(std::span(buf), deadline...);
            if (!n) return n.error();
            if (*n != sizeof t) return errc::corrupt;
            std::memcpy(&t, buf.data(), sizeof t);
        }
        if (t.check != check_of(t.seq)) return errc::corrupt;
        seq = t.seq;
        return errc::ok;
    }

    /// The batch verbs (batch_verbs.hpp): spans of ticks, or records of bytes<Max>.
    using batch = std::conditional_t<fixed, batch_verbs, records_batch_verbs>;
    template <class Tx>
    static ipckit::result<std::size_t> send_batch(Tx& tx, std::uint64_t first, std::size_t n, auto... deadline) {
        if (const errc e = tx->ready(); e != errc::ok) return ipckit::unexpected(e);
        return batch::send_batch(tx->connection(), first, n, deadline...);
    }
    template <class Rx>
    static ipckit::result<std::size_t> receive_batch(Rx& rx, std::vector<std::uint64_t>& seqs, std::size_t max,
                                                     auto... deadline) {
        if (const errc e = rx->ready(accept_by(deadline...)); e != errc::ok) return ipckit::unexpected(e);
        return batch::receive_batch(rx->connection(), seqs, max, deadline...);
    }

private:
    /// Until when a receive's first verb accepts: its deadline, or now without one.
    static std::chrono::steady_clock::time_point accept_by(auto... deadline) {
        if constexpr (sizeof...(deadline) == 0) return std::chrono::steady_clock::now();
        else return ipckit::detail::time_point_of(deadline...);
    }
};

struct tcp_connection : connection_kind<tick, net_kind::tcp> {};
struct unix_connection : connection_kind<ipckit::bytes<64>, net_kind::unix_abstract> {};
struct shm_connection : connection_kind<tick, net_kind::shm> {};

}  // namespace ipckit_test::contract
