#pragma once
// How a shm:// connection is made (see shm_duplex.hpp for the queues): the listener's queue
// of connect requests, accept's side, and connect's side, with the socket listener's rules:
// the connection cap (shm_door.hpp: one past it is refused at connect, with the reason), the
// handshake deadline (a request whose queues are not ready within net_options::
// handshake_timeout is dropped) and rejections(), the last few with their reasons.

#include <ipckit/detail/net/acceptor.hpp>
#include <ipckit/detail/net/duplex.hpp>
#include <ipckit/detail/net/options.hpp>
#include <ipckit/detail/net/shm_door.hpp>
#include <ipckit/detail/net/shm_duplex.hpp>
#include <ipckit/detail/net/shm_names.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/queue.hpp>

#include <algorithm>
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

/// A shm:// listener's side: its door and request queue, and the requests it takes.
template <class Message>
class shm_acceptor {
    using requests = shm_request_queue<Message>;
    using queue_type = typename shm_queue_for<Message>::type;

public:
    /// Creates the door and the request queue `name`; throws (already_exists if another
    /// listener has it). Between the two, removes the queues an earlier listener of `name` left.
    shm_acceptor(const std::string& name, const net_options& o)
        : name_(name),
          options_(o),
          door_(std::make_shared<shm_door>(shm_door::create(name, o.max_connections))),
          requests_((shm_sweep(name), requests::create(name))),
          rx_(requests_.template receiver<blocking>()) {}

    /// The next client's connection, or why none by `deadline`.
    template <mode_policy Mode>
    result<std::shared_ptr<duplex>> take(std::chrono::steady_clock::time_point deadline, bool may_block) noexcept {
        for (;;) {
            shm_request<Message> r{};
            if (!may_block) deadline = std::chrono::steady_clock::now();  // one look
            const status s =
                deadline == std::chrono::steady_clock::time_point::max() ? rx_.receive(r) : rx_.receive(r, deadline);
            if (!s) return unexpected(!may_block && s.error() == errc::timed_out ? errc::would_block : s.error());
            // A client makes its queues before it asks: queues not ready at once are a broken or
            // hostile client's, and wait the handshake deadline at the most (or accept's own).
            const auto started = std::chrono::steady_clock::now();
            auto left = options_.handshake_timeout;
            if (deadline <= started)
                left = std::chrono::milliseconds(1);
            else if (deadline != std::chrono::steady_clock::time_point::max())
                left = std::min(left, std::chrono::ceil<std::chrono::milliseconds>(deadline - started));
            try {
                options q;
                q.init_timeout = left;
                auto tx = queue_type::open(shm_down_name(name_, r.id), q).template sender<Mode>();
                auto rx = queue_type::open(shm_up_name(name_, r.id), q).template receiver<Mode>();
                shm_forget(name_, r.id);  // the connection is its two mappings now
                // The place goes back when the connection is gone (not if the listener went first).
                std::weak_ptr<shm_door> door = door_;
                return std::shared_ptr<duplex>(new shm_duplex<Message, Mode>(std::move(tx), std::move(rx)),
                                               [door](duplex* d) {
                                                   delete d;
                                                   if (auto held = door.lock()) held->leave();
                                               });
            } catch (const error& e) {
                door_->leave();
                drop(r.id);
                if (std::chrono::steady_clock::now() - started >= left)
                    reject(errc::timed_out, "a connection's handshake failed: no handshake within " +
                                                std::to_string(left.count()) +
                                                " ms (the shm:// client's queues were not ready: " + e.what() + ")");
                else
                    reject(e.reason(), std::string("a shm:// client's queues could not be opened: ") + e.what());
            } catch (...) {
                door_->leave();
                drop(r.id);
                return unexpected(errc::no_space);
            }
        }
    }

    /// Closes the request queue, first dropping the requests never taken (their clients see
    /// closed; as many as the queue holds, so that a flood of requests cannot hold close up).
    void close() noexcept {
        shm_request<Message> r{};
        for (std::size_t n = 0; n < requests::capacity && rx_.receive(r, std::chrono::steady_clock::now()); ++n)
            drop(r.id);
        rx_.close();
    }

    [[nodiscard]] std::vector<net_rejection> rejections() const {
        std::lock_guard lock(m_);
        // Clients refused at the door, since the last look: one line each (the last few).
        const std::uint64_t refused = door_->refused();
        const std::uint64_t fresh = refused - std::min(seen_refused_, refused);
        for (std::uint64_t n = std::min<std::uint64_t>(fresh, acceptor_state::kept_rejections); n > 0; --n)
            keep({errc::no_space, "refused a connection: at the cap of " + std::to_string(door_->cap())});
        seen_refused_ = std::max(seen_refused_, refused);
        return {rejections_.begin(), rejections_.end()};
    }
    [[nodiscard]] std::uint64_t rejected() const noexcept {
        return rejected_.load(std::memory_order_relaxed) + door_->refused();
    }
    /// Connections counted against the cap now: asked for, waiting for accept, or accepted.
    [[nodiscard]] std::size_t live() const noexcept { return static_cast<std::size_t>(door_->live()); }

    /// The receiver of connect requests that take() receives from: what a waitset watches (a
    /// request in means an accept may find a connection; closed once the listener closes).
    [[nodiscard]] ipckit::receiver<requests, blocking>& receiving_end() noexcept { return rx_; }

private:
    /// Closes the queues of request `id` as a whole (its client sees closed) and removes their
    /// names. Queues not ready at once are removed by name only.
    void drop(std::uint64_t id) noexcept {
        options quick;
        quick.init_timeout = std::chrono::milliseconds(0);
        for (const auto& n : {shm_up_name(name_, id), shm_down_name(name_, id)}) {
            try {
                queue_type::open(n, quick).close();
            } catch (...) {
            }
        }
        shm_forget(name_, id);
    }
    void reject(errc reason, std::string what) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(m_);
        keep({reason, std::move(what)});
    }
    void keep(net_rejection r) const {
        if (rejections_.size() == acceptor_state::kept_rejections) rejections_.pop_front();
        rejections_.push_back(std::move(r));
    }

    std::string name_;
    net_options options_;
    std::shared_ptr<shm_door> door_;  // first: the door is there before anyone can ask
    requests requests_;
    ipckit::receiver<requests, blocking> rx_;
    mutable std::mutex m_;
    mutable std::deque<net_rejection> rejections_;
    mutable std::uint64_t seen_refused_ = 0;
    std::atomic<std::uint64_t> rejected_{0};  // relaxed: a count, read by rejected() alone
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
    // A place under the listener's cap first (its door is made before its request queue).
    std::shared_ptr<shm_door> door;
    try {
        door = std::make_shared<shm_door>(shm_door::open(name));
    } catch (const error& e) {
        throw error(e.reason(), "connecting to " + address + ": the listener's door could not be opened: " + e.what());
    }
    if (!door->enter())
        throw error(errc::no_space, "connecting to " + address + ": the listener at " + address + " is at its cap of " +
                                        std::to_string(door->cap()) +
                                        " connections; try again later, or raise net_options::max_connections");
    const auto id = shm_connection_id();
    // Until the request is sent: the place goes back, and the queues' names go (system_owned).
    struct give_back {
        shm_door* door;
        const std::string& name;
        std::uint64_t id;
        ~give_back() {
            if (door) {
                door->leave();
                shm_forget(name, id);
            }
        }
    } unless_asked{door.get(), name, id};
    const ino_t asked = sys::shm_inode(os_name(name));  // which listener: a later one of the name is another
    auto up = queue_type::create(shm_up_name(name, id));
    auto down = queue_type::create(shm_down_name(name, id));
    auto d = std::make_shared<shm_duplex<Message, Mode>>(up.template sender<Mode>(), down.template receiver<Mode>(),
                                                         shm_unclaimed(name, id, asked));
    auto tx = requests.template sender<blocking>();
    if (const auto s = tx.send(shm_request<Message>{id}, deadline); !s)
        throw error(s.error(), "connecting to " + address + ": the listener did not take the request (" +
                                   make_error_code(s.error()).message() + ")");
    unless_asked.door = nullptr;  // the listener gives the place back now, and removes the names
    return d;
}

}  // namespace ipckit::detail
