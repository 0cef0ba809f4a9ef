#pragma once
// A connection's socket, in the I/O thread's epoll only once the I/O thread needs it there.
//
// Asio keeps every socket object's fd in its io_context's epoll, edge-triggered for reading:
// each message that arrives wakes the I/O thread, though a connection's user thread reads the
// socket itself (link.hpp), and on a small machine the wake-up lands on that thread's CPU. So
// the fd is taken out of the object at once (release) and put back (assign) only for the first
// asynchronous operation (a write the socket did not take, the drain after a close); it stays
// registered after that. Meanwhile the fd is used with plain non-blocking calls
// (sys/stream_io.hpp).
//
// Owns the fd: closed with this object, never before, so it is never reused under a thread
// asleep in poll on it. The socket object and async() are the I/O thread's alone; fd() and
// executor() are for any thread.

#include <ipckit/detail/net/socket.hpp>
#include <ipckit/detail/sys/stream_io.hpp>

#include <boost/system/error_code.hpp>

#include <utility>

namespace ipckit::detail {

class lazy_socket {
public:
    /// `s`: connected, its fd in the I/O thread's epoll (as accept and connect leave it).
    explicit lazy_socket(net_socket s)
        : socket_(std::move(s)), executor_(socket_.get_executor()), fd_(socket_.native_handle()), protocol_(protocol_of(socket_)) {
        boost::system::error_code ignored;
        socket_.native_non_blocking(true, ignored);
        socket_.release(ignored);
    }
    ~lazy_socket() {
        if (!socket_.is_open()) sys::close_fd(fd_);  // else the socket object closes it
    }
    lazy_socket(const lazy_socket&) = delete;
    lazy_socket& operator=(const lazy_socket&) = delete;

    [[nodiscard]] int fd() const noexcept { return fd_; }
    /// The I/O thread's executor, to post to.
    [[nodiscard]] const net_socket::executor_type& executor() const noexcept { return executor_; }

    /// I/O thread, before an async operation: the socket object, holding the fd (in the epoll
    /// from now on); `ec` says why not, if it cannot.
    net_socket& async(boost::system::error_code& ec) noexcept {
        if (!socket_.is_open()) socket_.assign(protocol_, fd_, ec);
        return socket_;
    }
    /// I/O thread: ends the pending async operations, if any.
    void cancel() noexcept {
        boost::system::error_code ignored;
        if (socket_.is_open()) socket_.cancel(ignored);
    }

private:
    static net_protocol protocol_of(const net_socket& s) {
        boost::system::error_code ignored;
        return s.local_endpoint(ignored).protocol();
    }

    net_socket socket_;
    const net_socket::executor_type executor_;
    const int fd_;
    const net_protocol protocol_;
};

}  // namespace ipckit::detail
