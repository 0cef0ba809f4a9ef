#pragma once
// The one thread per process that runs the socket transports' Asio event loop.
//
// Every socket of every listener and connection is registered with this thread's io_context:
// accepts, connects, handshakes, heartbeats, liveness timers and the writes a socket could not
// take at once run here, one handler at a time. A connection's user thread also reads and
// writes its socket itself, non-blocking and under the connection's mutex (link.hpp says who
// may do what, when), and hands other socket work over with asio::post.
//
// The thread starts with the first listener or connection and then lives as long as the
// process; it is never joined (a connection may outlive main() in a static, and a handler
// must never have to join the thread it runs on). It sleeps in epoll while there is nothing to
// do. A process that forks after it started has no such thread in the child: fork before the
// first listener or connection, or exec.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <thread>

namespace ipckit::detail {

namespace asio = boost::asio;

class io_thread {
public:
    /// The process's io_context, its thread started on first use.
    static asio::io_context& context() {
        static io_thread* const instance = new io_thread;  // never destroyed: see above
        return instance->context_;
    }

private:
    io_thread() : work_(asio::make_work_guard(context_)), thread_([this] { context_.run(); }) { thread_.detach(); }

    asio::io_context context_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::thread thread_;
};

}  // namespace ipckit::detail
