#pragma once
// A client's connect, run on the I/O thread: resolve (tcp), connect, handshake, all before one
// deadline; the calling thread waits for the outcome. A refused, unreachable or unresolvable
// address, a refusal by the listener, or a handshake mismatch is an ipckit::error naming the
// address.

#include <ipckit/detail/net/acceptor.hpp>
#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/net/handshake.hpp>
#include <ipckit/detail/net/io_thread.hpp>
#include <ipckit/detail/net/link.hpp>
#include <ipckit/detail/net/options.hpp>
#include <ipckit/detail/net/socket.hpp>
#include <ipckit/error.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

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
          timer_(io_thread::context()) {}

    /// Runs the connect and waits for it: the connection's link, or throws.
    std::shared_ptr<link> run() {
        asio::post(io_thread::context(), [self = shared_from_this()] { self->begin(); });
        std::unique_lock lock(m_);
        done_cv_.wait(lock, [&] { return done_; });
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
            self->resolver_.cancel();
            boost::system::error_code ignored;
            self->socket_.close(ignored);
        });
        if (address_.transport != net_transport::tcp) {
            endpoints_.push_back(unix_endpoint(address_));
            return try_endpoint(0);
        }
        resolver_.async_resolve(address_.host, std::to_string(address_.port), asio::ip::tcp::resolver::numeric_service,
                                [self = shared_from_this()](const boost::system::error_code& ec,
                                                            const asio::ip::tcp::resolver::results_type& found) {
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
            if (e && !self->timed_out_ && e != asio::error::operation_aborted && i + 1 < self->endpoints_.size())
                return self->try_endpoint(i + 1);
            self->connected(e);
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
        if (timed_out_ || ec == asio::error::operation_aborted) {
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - started_).count();
            return finish(error(errc::timed_out, "connecting to " + text_ + ": no connection within " +
                                                     std::to_string(ms) + " ms (is the host reachable?)"));
        }
        timer_.cancel();
        finish(net_error(ec, text_, doing));
    }

    void finish(std::optional<error> failure) {
        {
            std::lock_guard lock(m_);
            failure_ = std::move(failure);
            done_ = true;
        }
        done_cv_.notify_all();
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
    bool handshaking_ = false;
    bool timed_out_ = false;

    std::mutex m_;
    std::condition_variable done_cv_;
    bool done_ = false;
    std::optional<error> failure_;
    std::shared_ptr<link> link_;
};

}  // namespace ipckit::detail
