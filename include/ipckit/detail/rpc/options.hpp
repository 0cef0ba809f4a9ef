#pragma once
// The knobs of rpc::server and rpc::client.

#include <ipckit/detail/net/options.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace ipckit::rpc {

/// What a server does with a reply once its request ran: the test hook's answer (server_options).
enum class fault_action {
    deliver,         ///< send it (what a server without a hook does)
    drop_reply,      ///< keep it in the reply cache but do not send it, as a lost message
    cut_connection,  ///< keep it in the cache, do not send it, and drop the client's connection
};

struct server_options {
    /// Handler threads. With 1, requests run one at a time in the order they arrived (across all
    /// connections); with more, they start in that order and finish in any.
    std::size_t threads = 4;
    /// Replies kept per client for retransmissions (reply_cache.hpp).
    std::size_t reply_cache = 1024;
    /// Bytes of replies kept, all clients together; past it, the clients that keep the most lose
    /// their oldest (a retransmission of one of those is expired, not run again).
    std::size_t reply_cache_bytes = std::size_t{256} << 20;
    /// Clients remembered (their reply caches); past it, those with no connection and no call
    /// running are forgotten.
    std::size_t max_clients = 4096;
    /// How long a reply may wait for a client that does not read; then the connection is
    /// closed (the client's retransmission on a new one is answered from the reply cache).
    std::chrono::milliseconds send_timeout{5'000};
    /// One connection's requests that may wait for a handler thread or run at once; past it
    /// the server reads no more from that connection until one finishes, so a client's sends
    /// wait as on a full socket. At least a client's max_in_flight (client_options).
    std::size_t max_queued_per_connection = 256;
    /// Bytes of requests that may wait for a handler thread or run, all connections together,
    /// each counted at what it holds unpacked: its length on the wire and 24 bytes (a
    /// msgpack::object) for it and each element of its arrays and maps, so a request of small
    /// elements counts up to 25 times its length. Past it the server reads no more requests
    /// until some finish, and the clients' sends wait. A single request larger than it runs alone.
    std::size_t max_queued_bytes = std::size_t{64} << 20;
    /// tcp:// and unix://: also serve MessagePack-RPC clients in other languages, which send
    /// plain MessagePack on the stream, without ipckit's handshake and frames (server.hpp).
    /// Their calls are at most once per connection (<ipckit/rpc.hpp>). False: such a client is
    /// refused as any socket that does not handshake.
    bool plain_clients = true;
    ipckit::net_options net;
    /// For tests of lost messages: asked after each request ran, before its reply is sent.
    std::function<fault_action(std::string_view method, std::uint32_t msgid)> fault_hook;
};

struct client_options {
    /// The deadline of a call that names none.
    std::chrono::milliseconds default_deadline{10'000};
    /// A request with no reply after this long is sent again (same id: it runs at most once).
    std::chrono::milliseconds retry_interval{1'000};
    /// How long one attempt to (re)connect may take. Each call ends at its own deadline
    /// meanwhile; the calls never sent when an attempt fails (by this timeout, or refused) end
    /// with not_sent.
    std::chrono::milliseconds reconnect_timeout{2'000};
    /// Calls in flight at once; one more is refused with not_sent. Keep it below the server's
    /// reply_cache, or a retransmission may find its reply evicted (expired).
    std::size_t max_in_flight = 256;
    ipckit::net_options net;
    /// For tests of the msgid's wrap: the sequence number of the client's first call (its msgid
    /// on the wire is the low 32 bits; caller.hpp).
    std::uint64_t first_sequence = 1;
};

}  // namespace ipckit::rpc

namespace ipckit::detail::rpc {

/// A server's or a client's options with their net_options taken within range (net/options.hpp,
/// usable), once, for every thread and connection of theirs.
template <class Options>
Options with_usable_net(Options o) noexcept {
    o.net = usable(o.net);
    return o;
}

}  // namespace ipckit::detail::rpc
