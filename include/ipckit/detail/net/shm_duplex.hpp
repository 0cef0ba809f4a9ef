#pragma once
// The shm:// transport: a connection as a pair of ipckit queues in shared memory, with the same
// listener, accept and connect as the sockets.
//
//   listener "shm://app"   creates its door "app.door" (the cap: shm_door.hpp) and queue "app" of
//                          connect requests (many senders, one receiver);
//                          its layout names the message type, so a client of another type is
//                          incompatible_layout at connect, naming both
//   connect                takes a place at the door (no_space past the cap, saying so), creates
//                          "app.<id>.up" (client -> server) and "app.<id>.down", attaches its
//                          ends, and sends the request {id} (timed_out if the listener's 64
//                          places stay full)
//   accept                 takes a request, opens both queues and removes their names; queues
//                          that are not there are a rejection (not_found), queues not ready
//                          within the handshake deadline one (timed_out), and accept goes on
//                          to the next
//
// The queues give the rest: backpressure (a bounded ring each way), closed after the peer's
// messages when it closes, peer_dead when its process dies (options::liveness_interval of the
// queues). A connection that is not yet accepted buffers up to its ring, as a socket's backlog,
// and its queues outlive the client (system_owned; accept removes their names once it has them,
// shm_names.hpp): a client that sends, closes and exits before accept is drained, then closed;
// one killed before accept, drained, then peer_dead. The connection cap, the handshake deadline
// and rejections are the listener's, as for sockets (shm_rendezvous.hpp, shm_door.hpp).
//
// connection<Message, Mode> calls the typed verbs below directly (no virtual call per message);
// the duplex interface serves callers that know no Message. A waitset watches the connection
// as the queue receiver it receives from (receiving_end(): net/waitset.hpp), so nothing is
// added to either verb for it.

#include <ipckit/detail/net/duplex.hpp>
#include <ipckit/detail/net/shm_names.hpp>
#include <ipckit/detail/endpoint/verbs.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/queue.hpp>
#include <ipckit/records.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace ipckit::detail {

/// The queue that carries Message one way: system_owned, so that it outlives a client that
/// ends before accept (who removes its name: shm_names.hpp).
template <class Message>
struct shm_queue_for {
    using type = queue<Message, bounded<1024>, single, single, adaptive, system_owned>;
};
template <std::size_t Max>
struct shm_queue_for<bytes<Max>> {
    static constexpr std::size_t ring = std::max<std::size_t>(256 * 1024, 4 * ((Max + 7) / 8 * 8 + 8));
    using type = queue<bytes<Max>, bounded<ring>, single, single, adaptive, system_owned>;
};

/// A connect request; its type names Message, so the request queue's layout does too.
template <class Message>
struct shm_request {
    std::uint64_t id;
};
template <class Message>
using shm_request_queue = queue<shm_request<Message>, bounded<64>, multi, single>;

template <class Message, mode_policy Mode>
class shm_duplex final : public duplex {
    using queue_type = typename shm_queue_for<Message>::type;
    static constexpr bool fixed = !is_bytes<Message>;
    static constexpr bool blocks = std::is_same_v<Mode, blocking>;

public:
    /// `unclaimed`: a client's, which removes its queues' names if it ends before any accept.
    shm_duplex(ipckit::sender<queue_type, Mode> tx, ipckit::receiver<queue_type, Mode> rx, shm_unclaimed unclaimed = {})
        : unclaimed_(std::move(unclaimed)), tx_(std::move(tx)), rx_(std::move(rx)) {}
    shm_duplex(const shm_duplex&) = delete;
    shm_duplex& operator=(const shm_duplex&) = delete;
    ~shm_duplex() override = default;  // the endpoints first, then unclaimed_ looks (members go in reverse)

    // ---- the typed verbs: what connection<Message, Mode> calls, straight into the queues -----
    // No virtual call, no staging, no copy but the queue's own: the fast path is the bare
    // queue's. `deadline` is forever (time_point::max(), which the queue's deadline verbs take
    // as none) or a blocking endpoint's deadline; a non-blocking one makes one attempt. One
    // call each, not a choice between two: both would be inlined, and the bigger body made
    // g++ -O3 stop inlining the ring's push (27% more instructions per message than the bare
    // queue; 9% once inlined, in a one-process callgrind count).

    status send(const Message& m, time_point deadline) noexcept requires fixed {
        if constexpr (blocks)
            return tx_.send(m, deadline);
        else
            return tx_.send(m);
    }
    /// too_large past max_message(), nothing sent (the queue checks it).
    status send(std::span<const std::byte> m, time_point deadline) noexcept requires(!fixed) {
        if constexpr (blocks)
            return tx_.send(m, deadline);
        else
            return tx_.send(m);
    }
    status receive(Message& out, time_point deadline) noexcept requires fixed {
        if constexpr (blocks)
            return rx_.receive(out, deadline);
        else
            return rx_.receive(out);
    }
    /// too_large if `buffer` is too small: the message stays first in line (the queue's rule).
    result<std::size_t> receive(std::span<std::byte> buffer, time_point deadline) noexcept requires(!fixed) {
        if constexpr (blocks)
            return rx_.receive(buffer, deadline);
        else
            return rx_.receive(buffer);
    }
    result<std::vector<std::byte>> receive(time_point deadline) noexcept requires(!fixed) {
        if constexpr (blocks)
            return rx_.receive(deadline);
        else
            return rx_.receive();
    }

    // Batches: the queues' own batch verbs (one publication, one wake per batch): a span of T;
    // for bytes<Max> a span of spans or records (the byte queue checks every length first).
    template <class Batch>
    result<std::size_t> send_many(const Batch& ms, time_point deadline) noexcept {
        if constexpr (blocks)
            return tx_.send(ms, deadline);
        else
            return tx_.send(ms);
    }
    /// Into `out` (a span of T, or records, cleared first): the next message, waiting until
    /// `deadline`, then those here now that fit; records too small for the first: too_large (it
    /// stays first).
    template <class Out>
    result<std::size_t> receive_many(Out& out, time_point deadline) noexcept {
        if constexpr (blocks)
            return rx_.receive(out, deadline);
        else
            return rx_.receive(out);
    }

    // ---- duplex: for a caller that knows no Message --------------------------------------------

    errc send(const void* p, std::size_t n, time_point deadline, bool) noexcept override {
        if (n > max_message()) return errc::too_large;
        status s;
        if constexpr (fixed) {
            Message m;
            std::memcpy(&m, p, sizeof m);
            s = send(m, deadline);
        } else {
            s = send(std::span<const std::byte>(static_cast<const std::byte*>(p), n), deadline);
        }
        return s ? errc::ok : s.error();
    }

    /// One message at a time, through the one above.
    errc send(batch_fn ms, std::size_t& sent, time_point deadline, bool may_block) noexcept override {
        for (; sent < ms.size(); ++sent) {
            const auto m = ms(sent);
            if (const errc e = send(m.data(), m.size(), deadline, may_block); e != errc::ok) return e;
        }
        return errc::ok;
    }

    /// One message (at least one is all a receive promises).
    errc receive(take_fn take, std::size_t, time_point deadline, bool) noexcept override {
        if (!staged_) {
            // The message waits here until `take` accepts it (too_large leaves it first in line).
            if constexpr (fixed) {
                if (const status s = receive(one_, deadline); !s) return s.error();
            } else {
                auto r = receive(deadline);
                if (!r) return r.error();
                many_ = std::move(*r);
            }
            staged_ = true;
        }
        errc e = errc::ok;
        if constexpr (fixed)
            e = take(reinterpret_cast<const std::byte*>(&one_), sizeof one_);
        else
            e = take(many_.data(), many_.size());
        if (e == errc::ok) staged_ = false;
        return e;
    }

    /// A send is in the queue when it returns: nothing is ever buffered.
    errc flush(time_point, bool) noexcept override { return errc::ok; }
    void close(time_point) noexcept override {
        tx_.close();
        rx_.close();
    }
    [[nodiscard]] std::string fault() const override { return {}; }
    [[nodiscard]] std::size_t max_message() const noexcept override {
        if constexpr (fixed)
            return sizeof(Message);
        else
            return queue_type::max_message;
    }

    /// The queue receiver the typed receives take from: what a waitset watches (its senders'
    /// doorbell, closed and peer_dead as the queue's). Only the waitset's thread, which is the
    /// receiving thread too, calls it.
    [[nodiscard]] ipckit::receiver<queue_type, Mode>& receiving_end() noexcept { return rx_; }

private:
    shm_unclaimed unclaimed_;  // first, so that it goes last: after both endpoints have let go
    ipckit::sender<queue_type, Mode> tx_;
    ipckit::receiver<queue_type, Mode> rx_;
    // duplex::receive's (the typed verbs need none of this):
    bool staged_ = false;
    Message one_{};                 // fixed: the staged message (bytes<Max>: an empty tag)
    std::vector<std::byte> many_;   // bytes: the staged message
};

}  // namespace ipckit::detail
