#pragma once
// How a shm:// connection is made (see shm_duplex.hpp for the queues): the listener's queue
// of connect requests, accept's side, and connect's side.

#include <ipckit/detail/net/acceptor.hpp>
#include <ipckit/detail/net/duplex.hpp>
#include <ipckit/detail/net/shm_duplex.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace ipckit::detail {

/// An id for a client's queue pair that no other process uses at the same time: pid and a
/// per-process counter.
inline std::uint64_t shm_connection_id() {
    static std::atomic<std::uint32_t> counter{0};
    return (static_cast<std::uint64_t>(::getpid()) << 32) | counter.fetch_add(1, std::memory_order_relaxed);
}

/// A shm:// listener's side: the request queue it created, and the requests it takes.
template <class Message>
class shm_acceptor {
    using requests = shm_request_queue<Message>;
    using queue_type = typename shm_queue_for<Message>::type;

public:
    /// Creates the request queue `name`; throws (already_exists if another listener has it).
    explicit shm_acceptor(const std::string& name)
        : name_(name), requests_(requests::create(name)), rx_(requests_.template receiver<blocking>()) {}

    /// The next client's connection, or why none by `deadline`.
    template <mode_policy Mode>
    result<std::shared_ptr<duplex>> take(std::chrono::steady_clock::time_point deadline, bool may_block) noexcept {
        for (;;) {
            shm_request<Message> r{};
            if (!may_block) deadline = std::chrono::steady_clock::now();  // one look
            const status s =
                deadline == std::chrono::steady_clock::time_point::max() ? rx_.receive(r) : rx_.receive(r, deadline);
            if (!s) return unexpected(!may_block && s.error() == errc::timed_out ? errc::would_block : s.error());
            try {
                auto tx = queue_type::open(shm_down_name(name_, r.id)).template sender<Mode>();
                auto rx = queue_type::open(shm_up_name(name_, r.id)).template receiver<Mode>();
                return std::shared_ptr<duplex>(std::make_shared<shm_duplex<Message, Mode>>(std::move(tx), std::move(rx)));
            } catch (const error& e) {
                reject(e.reason(), std::string("a shm:// client's queues could not be opened: ") + e.what());
            } catch (...) {
                return unexpected(errc::no_space);
            }
        }
    }

    void close() noexcept { rx_.close(); }

    [[nodiscard]] std::vector<net_rejection> rejections() const {
        std::lock_guard lock(m_);
        return {rejections_.begin(), rejections_.end()};
    }
    [[nodiscard]] std::uint64_t rejected() const noexcept { return rejected_; }

private:
    void reject(errc reason, std::string what) {
        std::lock_guard lock(m_);
        ++rejected_;
        if (rejections_.size() == acceptor_state::kept_rejections) rejections_.pop_front();
        rejections_.push_back({reason, std::move(what)});
    }

    std::string name_;
    requests requests_;
    ipckit::receiver<requests, blocking> rx_;
    mutable std::mutex m_;
    std::deque<net_rejection> rejections_;
    std::uint64_t rejected_ = 0;
};

/// A client's side: creates its queue pair and asks the listener `name` to accept it, before
/// `deadline`. Throws ipckit::error naming the address.
template <class Message, mode_policy Mode>
std::shared_ptr<duplex> shm_connect(const std::string& name, std::chrono::steady_clock::time_point deadline) {
    using queue_type = typename shm_queue_for<Message>::type;
    const std::string address = "shm://" + name;
    auto requests = [&] {
        try {
            return shm_request_queue<Message>::open(name);
        } catch (const error& e) {
            if (e.reason() == errc::not_found)
                throw error(errc::not_found, "connecting to " + address + ": nothing listens there (start the listener first)");
            throw error(e.reason(), "connecting to " + address + ": " + e.what());
        }
    }();
    const auto id = shm_connection_id();
    auto up = queue_type::create(shm_up_name(name, id));
    auto down = queue_type::create(shm_down_name(name, id));
    auto d = std::make_shared<shm_duplex<Message, Mode>>(up.template sender<Mode>(), down.template receiver<Mode>());
    auto tx = requests.template sender<blocking>();
    if (const auto s = tx.send(shm_request<Message>{id}, deadline); !s)
        throw error(s.error(), "connecting to " + address + ": the listener did not take the request (" +
                                   make_error_code(s.error()).message() + ")");
    return d;
}

}  // namespace ipckit::detail
