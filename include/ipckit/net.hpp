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
// bytes<Max>. Its verbs are the queues': send, receive, receive into a caller's buffer, and
// their batches (a span of T, or spans / ipckit::records of bytes), with deadlines on a
// blocking connection; they never throw and return would_block, timed_out,
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
// that the peer closed only once its ring is full; a waitset watches a shm:// connection or
// listener as the queue it receives from (waitset.hpp), through the bridge thread that watches
// queue receivers, where it watches a socket's fd; a shm:// client not yet accepted learns that
// its listener was killed within the queues' liveness interval (it asks the OS: shm_duplex.hpp),
// where a socket's learns at once. A client that ends before accept is drained, then closed (or
// peer_dead if killed), over each: shm://'s queues outlive the client until accept
// (detail/net/shm_names.hpp).
//
// Design (sockets).
// - Threading: one I/O thread per process (detail/net/io_thread.hpp), started by the first
//   listener or connection, runs an Asio io_context: accepts, connects, handshakes, the
//   liveness tick (heartbeats, silence) and writes that the socket could not take at once.
// - Who touches a connection's socket (detail/net/link.hpp states it in full): the user's
//   thread reads it itself, in receive() (a non-blocking read of a large chunk into the
//   connection's buffer; every whole frame in it is then taken from there, one per receive,
//   checked before anything is allocated; a batch receive takes every whole one) or in a waitset's wait, and sleeps in poll(2) on the
//   fd until its deadline when nothing is in: a message crosses no thread. The I/O thread reads
//   only on its liveness tick while no user thread is receiving (heartbeats are seen, silence
//   is judged, a waitset is told), and after our close to drain. Writes: whoever holds the
//   connection's mutex writes with one non-blocking send while no write of the I/O thread is
//   in flight; what the socket does not take, the I/O thread writes when it can. Ending shuts
//   the socket down, which wakes a thread in poll; the fd is closed with the connection.
// - Sending: a send that finds the connection idle writes its frame at once (latency); sends in
//   a burst (within 20 us of the last write) gather in a bounded buffer and go out together in
//   one write, when it holds 64 KiB, when its oldest frame is 20 us old, when this thread
//   receives with nothing left to take or waits on a waitset, on close, or at the latest by the
//   I/O thread 100 us after the burst's first frame. A full buffer (net_options::send_buffer)
//   makes a blocking send wait and a non-blocking one return would_block.
// - A blocking receive is a poll(2) until its deadline on the user's thread; a blocking send on
//   a full buffer is a condition-variable wait, woken by the I/O thread's writes. Deadlines
//   inside the I/O thread (handshake, connect, liveness) are Asio steady timers. A
//   non-blocking verb takes the mutex, makes only non-blocking system calls, and returns.
// - A waitset (one thread, many clients) is an epoll set over its connections' sockets and an
//   eventfd that listeners and the I/O thread raise (detail/net/watch.hpp); its fd can be
//   handed to a user's own event loop (native_handle(), or async_wait() with Asio). Queue and
//   mailbox receivers have no fd: the waitset arms their doorbells as a sleeping receiver would
//   and a thread of its own sleeps on them in futex_waitv(2), raising the eventfd when one
//   rings or a liveness check of their senders is due (detail/net/bell_bridge.hpp).
// - Fork: a forked child starts an I/O thread of its own at its first listener or connection;
//   the listeners, connections and waitsets it inherited stay its parent's, as do rpc servers
//   and clients: it must not use them, and closing or destroying one there only forgets it
//   (detail/net/made_here.hpp).
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
connection<Message, Mode> connect(std::string_view address, D deadline, const net_options& given = {}) {
    static_assert(message_policy<Message>,
                  "ipckit::connect<Message>: Message must be a trivially copyable, standard-layout T, or bytes<Max>");
    const net_options o = detail::usable(given);
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
