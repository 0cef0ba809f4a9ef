#pragma once
// The knobs of the socket transports: liveness, deadlines, buffers and the connection cap.

#include <ipckit/deadline.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace ipckit {

struct net_options {
    /// A peer that sends nothing (not even a heartbeat) for this long is peer_dead; heartbeats
    /// go out after a quarter of it without traffic, so both ends should use the same interval.
    /// Taken within 1 ms to 1 h, as a queue's (options::liveness_interval). The timeouts below
    /// are taken within 0 to a century: a longer one (milliseconds::max()) is as long as it takes.
    std::chrono::milliseconds liveness_interval{10'000};
    /// How long an accepted socket may take to send its handshake before it is dropped.
    std::chrono::milliseconds handshake_timeout{5'000};
    /// connect() without a deadline: how long resolving, connecting and the handshake may take.
    std::chrono::milliseconds connect_timeout{10'000};
    /// How long close() (and the destructor) waits for what was sent to be written out.
    std::chrono::milliseconds close_timeout{5'000};
    /// Bytes of frames waiting to be written, per connection, beyond the socket's own buffer: a
    /// send past it waits (blocking) or is would_block. One larger message always fits alone.
    std::size_t send_buffer = 256 * 1024;
    /// Bytes of received messages waiting for receive(), per connection; past it the connection
    /// stops reading, and the peer's sends are held back.
    std::size_t receive_buffer = 256 * 1024;
    /// listener: connections at once (in handshake, waiting for accept, or accepted and not yet
    /// gone); one more is refused with a reason, and the listener goes on. A shm:// listener
    /// holds at most 32768 (two mappings each, under the kernel's default vm.max_map_count).
    std::size_t max_connections = 1024;
};

namespace detail {

/// `o` as the transports use it (see liveness_interval above). A timeout longer than a century
/// would overflow the clock's nanoseconds where it is added to a time or compared with an age.
inline net_options usable(net_options o) noexcept {
    using std::chrono::milliseconds;
    constexpr auto century = std::chrono::duration_cast<milliseconds>(std::chrono::hours(24 * 365 * 100));
    o.liveness_interval = usable_liveness(o.liveness_interval);
    for (milliseconds* t : {&o.handshake_timeout, &o.connect_timeout, &o.close_timeout})
        *t = std::clamp(*t, milliseconds(0), century);
    return o;
}

}  // namespace detail

}  // namespace ipckit
