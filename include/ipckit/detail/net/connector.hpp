#pragma once
// A client's connect, run on the I/O thread: resolve (tcp), connect, handshake, all before one
// deadline; the calling thread waits for the outcome, until the deadline and a little more. A
// refused, unreachable or unresolvable address, a refusal by the listener, or a handshake
// mismatch is an ipckit::error naming the address. A Unix listener whose backlog is full makes
// connect(2) fail at once (EAGAIN) where tcp's would wait: the connect tries again, a little
// later each time, until the deadline, so that both read as timed_out when the listener takes
// nobody in time.
//
// The op owns everything it touches (each handler holds it), so the calling thread may leave
// it at the deadline: a host name's resolution cannot be interrupted (getaddrinfo runs on
// Asio's own thread), and the op finishes in the background once it returns. A connection it
// makes after the caller left is closed at once (abandoned_).

#include <ipckit/detail/net/acceptor.hpp>
#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/net/handshake.hpp>
#include <ipckit/detail/net/io_thread.hpp>
#include <ipckit/detail/net/link.hpp>
#include <ipckit/detail/net/options.hpp>
#include <ipckit/detail/net/socket.hpp>
#include <ipckit/error.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ipckit::detail {

class connect_op : public std::enable_shared_from_this<connect_op> {
public:
    connect_op(net_address a, hello mine, const net_options& o, clock::time_point deadline)
        : address_(std::move(a)),
          text_(address_.str()),
          mine_(std::move(mine)),
          options_(o),
          deadline_(deadline),
          socket_(io_thread::context()),
          resolver_(io_thread::context()),
          timer_(io_thread::context()),
          retry_(io_thread::context()) {}

    /// How long past the deadline the caller waits for the op to say so itself, before it
    /// leaves with timed_out (an I/O thread held up elsewhere).
    static constexpr std::chrono::milliseconds leave_after{200};
    /// A busy Unix listener (EAGAIN): the first wait before trying again, and the longest.
    static constexpr std::chrono::milliseconds first_retry{1};
    static constexpr std::chrono::milliseconds longest_retry{50};

    /// Runs the connect and waits for it: the connection's link, or throws.
    std::shared_ptr<link> run() {
        asio::post(io_thread::context(), [self = shared_from_this()] { self->begin(); });
        std::unique_lock lock(m_);
        const auto done = [&] { return done_; };
        if (deadline_ >= clock::time_point::max() - leave_after) done_cv_.wait(lock, done);
        else if (!done_cv_.wait_until(lock, deadline_ + leave_after, done)) {
            abandoned_ = true;
            throw timed_out_error();
        }
        // A new error, not a copy: a copy shares failure_'s message buffer, which the I/O thread
        // may free last, a hand-over inside libstdc++ that ThreadSanitizer cannot see.
        if (failure_) throw error(failure_->reason(), failure_->what());
        return link_;
    }

private:
    void begin() {
        timer_.expires_at(deadline_);
        timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || self->handshaking_) return;  // the handshake keeps its own deadline
            self->timed_out_ = true;
            // A resolution cannot be cut short: the op says timed_out now, and its handler,
            // when getaddrinfo returns, does no more.
            if (self->resolving_) self->finish(self->timed_out_error());
            self->resolver_.cancel();
            self->retry_.cancel();
            boost::system::error_code ignored;
            self->socket_.close(ignored);
        });
        if (address_.transport != net_transport::tcp) {
            endpoints_.push_back(unix_endpoint(address_));
            return try_endpoint(0);
        }
        // A numeric host needs no resolver: Asio's resolves one at a time on one thread, so a
        // slow name would hold this connect up behind it.
        boost::system::error_code not_numeric;
        const asio::ip::address ip = asio::ip::make_address(address_.host, not_numeric);
        if (!not_numeric) {
            endpoints_.emplace_back(asio::ip::tcp::endpoint(ip, address_.port));
            return try_endpoint(0);
        }
        resolving_ = true;
        resolver_.async_resolve(address_.host, std::to_string(address_.port), asio::ip::tcp::resolver::numeric_service,
                                [self = shared_from_this()](const boost::system::error_code& ec,
                                                            const asio::ip::tcp::resolver::results_type& found) {
                                    self->resolving_ = false;
                                    if (self->timed_out_) return;  // the deadline's timer said so
                                    if (ec) return self->fail(ec, "resolving");
                                    for (const auto& e : found) self->endpoints_.emplace_back(e.endpoint());
                                    if (self->endpoints_.empty()) return self->fail(asio::error::host_not_found, "resolving");
                                    self->try_endpoint(0);
                                });
    }

    /// Connects a new socket (close-on-exec: socket.hpp) to endpoints_[i]; refused, the next.
    void try_endpoint(std::size_t i) {
        boost::system::error_code ec;
        socket_.close(ec);
        open_cloexec(socket_, endpoints_[i].protocol(), ec);
        if (ec) return fail(ec, "opening a socket for");
        socket_.async_connect(endpoints_[i], [self = shared_from_this(), i](const boost::system::error_code& e) {
            if (e && !self->timed_out_ && self->busy(e)) return self->retry(i);
            if (e && !self->timed_out_ && e != asio::error::operation_aborted && i + 1 < self->endpoints_.size())
                return self->try_endpoint(i + 1);
            self->connected(e);
        });
    }

    /// Whether `e` says a Unix listener's backlog is full: connect(2)'s EAGAIN, which Asio
    /// reports on Linux as no_buffer_space. (Over tcp a full backlog only delays the answer.)
    bool busy(const boost::system::error_code& e) const noexcept {
        return address_.transport != net_transport::tcp &&
               (e == asio::error::no_buffer_space || e == asio::error::try_again || e == asio::error::would_block);
    }

    /// Tries endpoints_[i] again a little later (busy); the deadline's timer cancels the wait.
    void retry(std::size_t i) {
        retry_.expires_after(retry_delay_);
        retry_delay_ = std::min(retry_delay_ * 2, longest_retry);
        retry_.async_wait([self = shared_from_this(), i](const boost::system::error_code& ec) {
            if (ec || self->timed_out_) return self->fail(asio::error::operation_aborted, "connecting to");
            self->try_endpoint(i);
        });
    }

    void connected(const boost::system::error_code& ec) {
        if (ec) return fail(ec, "connecting to");
        tune_socket(socket_);
        handshaking_ = true;
        timer_.cancel();
        const auto now = clock::now();  // compared first: a deadline long past would overflow the difference
        const auto left = deadline_ <= now ? std::chrono::milliseconds(0)
                                           : std::chrono::ceil<std::chrono::milliseconds>(deadline_ - now);
        auto op = std::make_shared<handshake_op>(
            std::move(socket_), mine_, [self = shared_from_this()](handshake_op& h, handshake_result r) {
                if (r.result != errc::ok) return self->finish(error(r.result, "connecting to " + self->text_ + ": " + r.why));
                self->link_ = std::make_shared<link>(std::move(h.socket()), r.max_message,
                                                     self->mine_.kind == message_kind::fixed, self->options_);
                self->link_->start();
                self->finish(std::nullopt);
            });
        op->start(std::max(left, std::chrono::milliseconds(1)));
    }

    void fail(const boost::system::error_code& ec, const char* doing) {
        if (timed_out_ || ec == asio::error::operation_aborted) return finish(timed_out_error());
        timer_.cancel();
        finish(net_error(ec, text_, doing));
    }

    error timed_out_error() const {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - started_).count();
        return error(errc::timed_out, "connecting to " + text_ + ": no connection within " + std::to_string(ms) +
                                          " ms (is the host reachable? is the listener accepting?)");
    }

    void finish(std::optional<error> failure) {
        std::shared_ptr<link> unwanted;
        {
            std::lock_guard lock(m_);
            failure_ = std::move(failure);
            done_ = true;
            if (abandoned_) unwanted = std::move(link_);  // the caller left with timed_out
        }
        done_cv_.notify_all();
        if (unwanted) unwanted->close(clock::now());
    }

    const net_address address_;
    const std::string text_;
    const hello mine_;
    const net_options options_;
    const clock::time_point deadline_;
    const clock::time_point started_ = clock::now();
    net_socket socket_;
    std::vector<net_endpoint> endpoints_;  // to try in turn
    asio::ip::tcp::resolver resolver_;
    asio::steady_timer timer_;
    asio::steady_timer retry_;  // a busy Unix listener: the wait before trying again
    std::chrono::milliseconds retry_delay_ = first_retry;
    bool resolving_ = false;  // a host name's resolution runs (Asio's thread, getaddrinfo)
    bool handshaking_ = false;
    bool timed_out_ = false;

    std::mutex m_;
    std::condition_variable done_cv_;
    bool done_ = false;
    bool abandoned_ = false;  // run() left at its deadline: whatever the op makes later goes
    std::optional<error> failure_;
    std::shared_ptr<link> link_;
};

}  // namespace ipckit::detail
