#pragma once
// Sockets: the queues' verbs between processes on one machine or many, chosen by an address.
//
//   #include <ipckit/net.hpp>
//   using msg = ipckit::bytes<64 * 1024>;
//   auto srv = ipckit::listener<msg>::bind("tcp://127.0.0.1:0");   // or unix:///run/app.sock, unix://@app, shm://app
//   std::printf("listening on %s\n", srv.address().c_str());      // the real port
//   auto c = srv.accept(5s);                                        // result<connection<msg>>
//   auto req = c->receive(100ms);                                   // timed_out, closed, peer_dead, ...
//
//   auto cli = ipckit::connect<msg>("tcp://127.0.0.1:7000", 2s);   // throws ipckit::error on failure
//   cli.send("hello");
//
// A connection is duplex and carries a fixed-size T (both ends the same T and byte order) or
// bytes<Max>. Its verbs are the queues': send, receive, receive into a caller's buffer, with
// deadlines on a blocking connection; they never throw and return would_block, timed_out,
// closed (the peer closed, after its messages), peer_dead (its stream ended without a close,
// a reset, or silence past net_options::liveness_interval), too_large or corrupt (the peer
// sent a damaged stream; the connection is dropped). Setting up (bind, connect) throws
// ipckit::error naming the address. This header is not part of <ipckit/ipckit.hpp>: only the
// programs that include it need Boost.Asio (header-only) and a thread.
//
// Transports. tcp:// and unix:// frame messages on a socket (detail/net/frame.hpp, after the
// handshake of hello.hpp); shm:// carries them on a pair of ipckit queues (shm_duplex.hpp), so
// the same program runs over any of them by its address alone, with the same connection cap,
// handshake deadline and rejections (shm_door.hpp). Where they differ: a shm:// sender learns
// that the peer closed only once its ring is full; a shm:// client that ends before the
// listener accepted it takes its queues, and what it sent, with it (not yet fixed); a waitset
// watches sockets only.
//
// Design (sockets).
// - Threading: one I/O thread per process (detail/net/io_thread.hpp), started by the first
//   listener or connection, runs an Asio io_context that owns every socket: reads, writes,
//   accepts, handshakes, heartbeats and liveness timers. No socket is touched by two threads.
// - A connection's user side and its I/O side meet in its link (detail/net/link.hpp): a
//   bounded buffer of frames to write and a bounded inbox of received messages, under a mutex.
//   A send appends a frame and, if no write is in flight, posts one; sends made meanwhile are
//   coalesced into the next write. A receive takes from the inbox.
// - A blocking verb with a deadline is a condition-variable wait until that deadline on the
//   user's thread, woken by the I/O thread when the inbox gains a message, the send buffer
//   gains room, or the connection ends; deadlines inside the I/O thread (handshake, connect,
//   liveness) are Asio steady timers. A non-blocking verb takes the mutex and returns.
// - A waitset (one thread, many clients) is signalled by the links and acceptors it watches
//   (detail/net/watch.hpp) and then asks each whether it is ready; it sleeps on a condition
//   variable until the deadline in between.
// - Fork before the first listener or connection (the I/O thread does not survive a fork).
//
// Thread safety: restricted thread-safe, as a queue endpoint: one thread at a time per
// connection or listener; different ones may be used from different threads at once.

#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/net/connection.hpp>
#include <ipckit/detail/net/connector.hpp>
#include <ipckit/detail/net/hello.hpp>
#include <ipckit/detail/net/listener.hpp>
#include <ipckit/detail/net/options.hpp>
#include <ipckit/detail/net/shm_rendezvous.hpp>
#include <ipckit/detail/net/waitset.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace ipckit {

/// An address, parsed: see detail/net/address.hpp for the forms. Throws invalid_argument.
using net_address = detail::net_address;
using net_transport = detail::net_transport;
inline net_address parse_address(std::string_view text) { return detail::parse_address(text); }

/// Connects to a listener at `address` carrying the same Message, within `deadline` (a
/// duration or a steady_clock time point; net_options::connect_timeout if none). Throws
/// ipckit::error naming the address: invalid_argument, not_found (nothing listens there; no
/// such host or path), timed_out, incompatible_layout (the listener carries another message
/// type; it says which), no_space (the listener is at its connection cap), permission_denied,
/// peer_dead (the peer dropped the connection during the handshake), system_error.
template <class Message, mode_policy Mode = blocking, ipckit::deadline D = std::chrono::milliseconds>
connection<Message, Mode> connect(std::string_view address, D deadline, const net_options& o = {}) {
    static_assert(message_policy<Message>,
                  "ipckit::connect<Message>: Message must be a trivially copyable, standard-layout T, or bytes<Max>");
    auto a = detail::parse_address(address);
    auto when = ipckit::detail::time_point_of(deadline);
    if (when == detail::clock::time_point::max()) when = detail::deadline_after(o.connect_timeout);
    const std::string text = a.str();
    if (a.transport == detail::net_transport::shm)
        return connection<Message, Mode>(detail::shm_connect<Message, Mode>(a.path, when), text, o.close_timeout);
    auto op = std::make_shared<detail::connect_op>(std::move(a), detail::hello_for<Message>(), o, when);
    return connection<Message, Mode>(op->run(), text, o.close_timeout);
}

template <class Message, mode_policy Mode = blocking>
connection<Message, Mode> connect(std::string_view address, const net_options& o = {}) {
    return connect<Message, Mode>(address, o.connect_timeout, o);
}

}  // namespace ipckit
