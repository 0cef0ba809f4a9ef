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
//   accept                 takes a request and opens both queues; a client gone meanwhile is a
//                          rejection (not_found), queues not ready within the handshake
//                          deadline one (timed_out), and accept goes on to the next
//
// The queues give the rest: backpressure (a bounded ring each way), closed after the peer's
// messages when it closes, peer_dead when its process dies (options::liveness_interval of the
// queues). A connection that is not yet accepted buffers up to its ring, as a socket's backlog.
// The connection cap, the handshake deadline and rejections are the listener's, as for sockets
// (shm_rendezvous.hpp, shm_door.hpp). Not yet: waitsets (sockets only, so far).

#include <ipckit/detail/net/duplex.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/queue.hpp>

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

/// The queue that carries Message one way.
template <class Message>
struct shm_queue_for {
    using type = queue<Message, bounded<1024>>;
};
template <std::size_t Max>
struct shm_queue_for<bytes<Max>> {
    static constexpr std::size_t ring = std::max<std::size_t>(256 * 1024, 4 * ((Max + 7) / 8 * 8 + 8));
    using type = queue<bytes<Max>, bounded<ring>>;
};

/// A connect request; its type names Message, so the request queue's layout does too.
template <class Message>
struct shm_request {
    std::uint64_t id;
};
template <class Message>
using shm_request_queue = queue<shm_request<Message>, bounded<64>, multi, single>;

inline std::string shm_up_name(const std::string& name, std::uint64_t id) { return name + "." + std::to_string(id) + ".up"; }
inline std::string shm_down_name(const std::string& name, std::uint64_t id) {
    return name + "." + std::to_string(id) + ".down";
}

template <class Message, mode_policy Mode>
class shm_duplex final : public duplex {
    using queue_type = typename shm_queue_for<Message>::type;
    static constexpr bool fixed = !is_bytes<Message>;
    static constexpr bool blocks = std::is_same_v<Mode, blocking>;

public:
    shm_duplex(ipckit::sender<queue_type, Mode> tx, ipckit::receiver<queue_type, Mode> rx)
        : tx_(std::move(tx)), rx_(std::move(rx)) {}

    errc send(const void* p, std::size_t n, time_point deadline, bool) noexcept override {
        if (n > max_message()) return errc::too_large;
        status s;
        if constexpr (fixed) {
            Message m;
            std::memcpy(&m, p, sizeof m);
            if constexpr (blocks)
                s = deadline == time_point::max() ? tx_.send(m) : tx_.send(m, deadline);
            else
                s = tx_.send(m);
        } else {
            const std::span<const std::byte> m(static_cast<const std::byte*>(p), n);
            if constexpr (blocks)
                s = deadline == time_point::max() ? tx_.send(m) : tx_.send(m, deadline);
            else
                s = tx_.send(m);
        }
        return s ? errc::ok : s.error();
    }

    errc receive(take_fn take, time_point deadline, bool) noexcept override {
        if (!staged_) {
            // The message waits here until `take` accepts it (too_large leaves it first in line).
            if constexpr (fixed) {
                status s;
                if constexpr (blocks)
                    s = deadline == time_point::max() ? rx_.receive(one_) : rx_.receive(one_, deadline);
                else
                    s = rx_.receive(one_);
                if (!s) return s.error();
            } else {
                result<std::vector<std::byte>> r = unexpected(errc::closed);
                if constexpr (blocks)
                    r = deadline == time_point::max() ? rx_.receive() : rx_.receive(deadline);
                else
                    r = rx_.receive();
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

private:
    ipckit::sender<queue_type, Mode> tx_;
    ipckit::receiver<queue_type, Mode> rx_;
    bool staged_ = false;
    Message one_{};                 // fixed: the staged message (bytes<Max>: an empty tag)
    std::vector<std::byte> many_;   // bytes: the staged message
};

}  // namespace ipckit::detail
