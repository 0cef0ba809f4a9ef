#pragma once
// Remote procedure calls over any ipckit connection (shm://, unix://, tcp://).
//
//   #include <ipckit/rpc.hpp>
//   ipckit::rpc::server srv("tcp://127.0.0.1:0");
//   srv.bind("add", [](std::int64_t a, std::int64_t b) { return a + b; });
//   srv.bind("get", [&](std::string key) { return store.at(key); }, ipckit::rpc::idempotent);
//   srv.start();                                         // or run(), which blocks
//
//   ipckit::rpc::client calc(srv.address());            // throws ipckit::error if unreachable
//   auto sum = calc.call<std::int64_t>("add", 2, 3, 1s); // rpc::result: a value or an rpc::error
//   auto f = calc.async_call<std::int64_t>("add", 4, 5); // many in flight, matched by id
//   calc.notify("log", std::string("hello"));            // no reply
//
// Data representation: MessagePack, by msgpack-cxx's adaptors (no marshalling of ipckit's own),
// in the MessagePack-RPC format (detail/rpc/wire.hpp). Between ipckit ends each message is one
// frame of an ipckit connection. A MessagePack-RPC client in another language (msgpack-rpc for
// Python, Ruby, Go...) connects to the same tcp:// or unix:// address with a plain socket and
// sends its requests as they are, concatenated MessagePack arrays with no handshake and no
// framing; the server tells it from an ipckit client by its first byte and answers in plain
// MessagePack (detail/rpc/plain_stream.hpp; server_options::plain_clients turns it off).
// Untrusted input is unpacked with limits no larger than a frame (max_frame, 256 KiB): a
// malformed or longer message drops its connection (corrupt), and the server goes on.
//
// Lost and repeated messages. A request's id is (the client's incarnation, a sequence number):
// the incarnation goes once per connection in a hello call that other clients need not make,
// the sequence number (64-bit) goes as the MessagePack-RPC msgid, its low 32 bits, which wrap
// after 2^32 calls: both ends take a msgid back to 64 bits (reply_cache.hpp). The server keeps a bounded cache of replies
// per client (reply_cache.hpp): a request that comes again is answered from it and never runs
// twice. The client sends a request again, with the same id, after retry_interval without a
// reply, and after it reconnected to the same server incarnation (caller.hpp). So while the
// server lives a call runs exactly once, and at most once always. What a caller gets:
//   - a value, or remote (the handler threw: its message), bad_reply: it ran once;
//   - unknown_method, bad_arguments (the expected signature stated), too_large (request),
//     not_sent (the server could not be reached, or the connection had no room for the request
//     by its deadline; the request never left): it did not run;
//   - peer_dead: the connection died after the request was sent and the call could not be
//     retried on the same server incarnation: it may or may not have run. Methods bound with
//     rpc::idempotent are retried on a new incarnation instead; others never are;
//   - timed_out: the deadline passed with the request sent: it may or may not have run. A reply
//     that comes later is discarded, never given to another call.
// A plain MessagePack-RPC client has no incarnation unless it makes the ipckit.hello call
// itself (wire.hpp), which it may ignore: then each request runs every time it arrives. Its
// stream neither loses nor repeats a message, so a call runs at most once on its connection;
// one sent again on a new connection runs again.
//
// Threads and ordering. The server accepts on one thread, reads each connection on its own,
// and runs handlers on server_options::threads threads. With one handler thread, requests run
// one at a time in the order they arrived; with more, they start in that order and finish in
// any, and each reply goes out when its handler returns (a client matches replies by id). A
// client runs one thread that receives replies and keeps deadlines; call() blocks its caller,
// async_call() and call_then() do not, but for the send: at a server that does not read, a send
// waits for room until its call's deadline in its caller's thread, and another caller's send
// waits for its turn until that call's own deadline (then not_sent); nothing else waits on it,
// and close() ends both (closed). A callback (call_then) runs on the client's thread and may
// close or destroy its client (the last shared_ptr to it, say).
// A client and a server may be used from many threads.
//
// Binding by name. On one machine, without a daemon: server::in_domain(domain, name) holds the
// name in a domain's shared-memory registry, client::in_domain(domain, name) finds it
// (binding.hpp). Across machines, a binder in the manner of rpcbind (binder.hpp; the tool runs
// one: ipckit binder --listen ADDRESS): server::at_binder(binder, name, address) registers the
// real address and keeps its connection to the binder open, client::at_binder(binder, name)
// looks it up; the entry goes when that connection ends (the server stopped or died).
//
// This header is not part of <ipckit/ipckit.hpp>: it needs msgpack-cxx (libmsgpack-cxx-dev,
// CMake package msgpack, target msgpackc-cxx, which brings Boost's headers) beside net's Asio.

#include <ipckit/detail/rpc/binder.hpp>
#include <ipckit/detail/rpc/client.hpp>
#include <ipckit/detail/rpc/options.hpp>
#include <ipckit/detail/rpc/origin.hpp>
#include <ipckit/detail/rpc/result.hpp>
#include <ipckit/detail/rpc/server.hpp>
#include <ipckit/net.hpp>
