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
// do. A fork copies only the thread that calls it, so a forked child has no I/O thread: its
// first listener or connection starts one of its own, with an io_context of its own (the
// parent's, copied, shares its epoll instance with the parent and is never touched again).
// What the child inherited, listeners and connections, stays its parent's: it must not use
// them, and closing or destroying one there only forgets it (made_here.hpp).

#include <ipckit/detail/sys/fork.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <mutex>
#include <thread>

namespace ipckit::detail {

namespace asio = boost::asio;

class io_thread {
public:
    /// The process's io_context, its thread started on first use in this process (again in a
    /// forked child). Called when a listener or connection is made, not per message.
    static asio::io_context& context() {
        started& s = the_started();
        const std::lock_guard lock(s.m);
        if (s.thread == nullptr) s.thread = new io_thread;  // never destroyed: see above
        return s.thread->context_;
    }

private:
    /// The thread started in this process, if any, under a mutex that no fork copies locked:
    /// fork waits for it, and the child forgets its parent's thread.
    struct started {
        std::mutex m;
        io_thread* thread = nullptr;
        started() {
            (void)sys::on_fork([] { the_started().m.lock(); }, [] { the_started().m.unlock(); },
                               [] {
                                   the_started().thread = nullptr;
                                   the_started().m.unlock();
                               });
        }
    };
    static started& the_started() {
        static started s;
        return s;
    }

    io_thread() : work_(asio::make_work_guard(context_)), thread_([this] { context_.run(); }) { thread_.detach(); }

    asio::io_context context_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::thread thread_;
};

}  // namespace ipckit::detail
