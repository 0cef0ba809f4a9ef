#pragma once
// How a shm:// connection is made (see shm_duplex.hpp for the queues): the listener's queue
// of connect requests, accept's side, and connect's side, with the socket listener's rules:
// the connection cap (shm_door.hpp: one past it is refused at connect, with the reason), the
// handshake deadline (a request whose queues are not ready within net_options::
// handshake_timeout is dropped) and rejections(), the last few with their reasons.
//
// Closing. A listener's close() closes its request queue as a whole first (every send from then
// on is closed), then drops the requests it never took, then removes the names of its request
// queue and door, whoever still holds them (a waitset may): the name is free to bind again, and
// a connect finds nothing there. A connect whose request went in as the listener closed looks,
// after its send, whether the queue was closed: both sides order the close against the request
// with a seq_cst fence (Dekker), so either the listener's drain counts the request's claim (and
// waits for it, and drops it: the client sees closed) or the client sees the close. Then it
// looks whether its request was taken (accept removes the queues' names, and a listener that
// accepts and then closes does so before its close): names gone, it has the connection (an
// accepted one, or one dropped: closed); names there, it fails as if nothing listened there,
// removing its queues. A request is never left where nobody will take it, and a connection
// accepted is never one whose client was told not_found.
//
// Connection ids: the client's pid and 32 random bits, another on already_exists, so that a
// later process with a dead client's pid never names (nor, failing, removes) that client's
// queues (shm_names.hpp).

#include <ipckit/deadline.hpp>
#include <ipckit/detail/net/acceptor.hpp>
#include <ipckit/detail/net/duplex.hpp>
#include <ipckit/detail/net/options.hpp>
#include <ipckit/detail/net/shm_door.hpp>
#include <ipckit/detail/net/shm_duplex.hpp>
#include <ipckit/detail/net/shm_names.hpp>
#include <ipckit/detail/sys/process.hpp>
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
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ipckit::detail {

/// An id for a client's queue pair: this process's pid in the high 32 bits, so that no other
/// live process makes the same, and 32 random bits, so that a later process given the same pid
/// makes another than a dead one did (one that is taken all the same is already_exists at
/// create, and shm_connect tries another).
inline std::uint64_t shm_connection_id() {
    static std::atomic<std::uint32_t> counter{0};
    std::uint32_t r = counter.fetch_add(1, std::memory_order_relaxed) * 0x9E3779B9U;
    r ^= static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    try {
        std::random_device rd;  // getrandom(2)
        r ^= static_cast<std::uint32_t>(rd());
    } catch (...) {  // no entropy source: the counter and the clock alone
    }
    return (static_cast<std::uint64_t>(sys::this_pid()) << 32) | r;
}

/// A shm:// listener's side: its door and request queue, and the requests it takes.
template <class Message>
class shm_acceptor {
    using requests = shm_request_queue<Message>;
    using queue_type = typename shm_queue_for<Message>::type;

public:
    /// Creates the door and the request queue `name`; throws (already_exists if a live
    /// listener has either). Between the two, once no live listener has the request queue,
    /// removes the queues an earlier listener of `name` left.
    shm_acceptor(const std::string& name, const net_options& o)
        : name_(name),
          options_(o),
          door_(bind_door(name, o)),
          requests_((shm_sweep(name, [](const std::string& s) noexcept { close_connection_queue(s); }), requests::create(name))),
          rx_(requests_.template receiver<blocking>()),
          door_inode_(sys::shm_inode(os_name(shm_door::name_for(name)))),
          requests_inode_(sys::shm_inode(os_name(name))) {}

    /// The next client's connection, or why none by `deadline`.
    template <mode_policy Mode>
    result<std::shared_ptr<duplex>> take(std::chrono::steady_clock::time_point deadline, bool may_block) noexcept {
        for (;;) {
            shm_request<Message> r{};
            if (!may_block) deadline = std::chrono::steady_clock::now();  // one look
            const status s =
                deadline == std::chrono::steady_clock::time_point::max() ? rx_.receive(r) : rx_.receive(r, deadline);
            if (!s) return unexpected(!may_block && s.error() == errc::timed_out ? errc::would_block : s.error());
            if (!door_->take(r.place, r.client)) {
                drop(r.id);
                reject(errc::peer_dead, "a shm:// connect request (of process " + std::to_string(r.id >> 32) +
                                            ") was refused: the door's place it names (" + std::to_string(r.place) +
                                            ") does not hold its client (the client died, and its place went to "
                                            "another client; or the request is not an ipckit client's)");
                continue;
            }
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
                const std::size_t place = static_cast<std::size_t>(r.place);  // < the door's count: take() checked
                return std::shared_ptr<duplex>(new shm_duplex<Message, Mode>(std::move(tx), std::move(rx)),
                                               [door, place](duplex* d) {
                                                   delete d;
                                                   if (auto held = door.lock()) held->leave(place, shm_door::taken_place);
                                               });
            } catch (const error& e) {
                door_->leave(static_cast<std::size_t>(r.place), shm_door::taken_place);
                drop(r.id);
                if (std::chrono::steady_clock::now() - started >= left)
                    reject(errc::timed_out, "a connection's handshake failed: no handshake within " +
                                                std::to_string(left.count()) +
                                                " ms (the shm:// client's queues were not ready: " + e.what() + ")");
                else
                    reject(e.reason(), std::string("a shm:// client's queues could not be opened: ") + e.what());
            } catch (...) {
                door_->leave(static_cast<std::size_t>(r.place), shm_door::taken_place);
                drop(r.id);
                return unexpected(errc::no_space);
            }
        }
    }

    /// Closes the request queue as a whole, then drops the requests never taken (their clients
    /// see closed), then removes the names of the request queue and the door (see top).
    void close() noexcept {
        requests_.close();  // from now on a send is closed: no flood can hold the drain up
        // SYNC POINT WRITE: the seal (seq_cst) before this fence; the drain's loads of the ring
        // (its slots, and its tail in depth()) after it. Paired with the fence in shm_connect
        // between a client's request and its look at the seal: either that look finds the
        // seal, or the depth() below counts the request's claim, and the drain waits for it.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        // A request claimed but not yet written (its client in the middle of its send) stops
        // the drain: wait for it, up to the handshake deadline (a client killed there has its
        // claim finished by the receive).
        // A short sleep between looks, growing to 1 ms: a claim never finished (a scribbled ring)
        // costs the deadline's wait, not a core.
        const auto until = deadline_after(options_.handshake_timeout);  // the longest: none
        auto pause = std::chrono::microseconds(20);
        for (shm_request<Message> r{};;) {
            while (rx_.receive(r, std::chrono::steady_clock::now())) drop(r.id);
            const auto now = std::chrono::steady_clock::now();
            if (requests_.depth() == 0 || now >= until) break;
            std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, until - now));
            pause = std::min(pause * 2, std::chrono::microseconds(1000));
        }
        rx_.close();
        // Ours while this process holds them (their owner mark): nobody else can have made them.
        for (const auto& [n, inode] : {std::pair{shm_door::name_for(name_), door_inode_}, std::pair{name_, requests_inode_}})
            if (inode != 0 && sys::shm_inode(os_name(n)) == inode) sys::shm_remove_quietly(os_name(n));
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
    static error bound(const std::string& name) {
        return error(errc::already_exists, "shm://" + name +
                                               " is bound by a live listener: close that listener first, or bind "
                                               "another name");
    }
    /// The door of `name`, made by this listener, once no live listener has the name: its door
    /// (a live one's is never replaced: already_exists), nor its request queue (whose owner mark
    /// it holds; its door may have been removed by hand). Nothing is swept before this.
    static std::shared_ptr<shm_door> bind_door(const std::string& name, const net_options& o) {
        std::shared_ptr<shm_door> door;
        try {
            door = std::make_shared<shm_door>(shm_door::create(name, o.max_connections));
        } catch (const error& e) {
            if (e.reason() == errc::already_exists) throw bound(name);
            throw;
        }
        const std::string door_name = os_name(shm_door::name_for(name));
        const ino_t made = sys::shm_inode(door_name);
        bool lives = false;
        try {
            const sys::file f = sys::shm_open_existing(os_name(name));
            lives = sys::owner_mark_held(f);
        } catch (...) {  // no request queue there (or none to open): nobody lives there
        }
        if (lives) {
            if (made != 0 && sys::shm_inode(door_name) == made) sys::shm_remove_quietly(door_name);
            throw bound(name);
        }
        return door;
    }
    /// Closes the connection queue `segment_name` as a whole (its client sees closed), if it is
    /// ready at once.
    static void close_connection_queue(const std::string& segment_name) noexcept {
        options quick;
        quick.init_timeout = std::chrono::milliseconds(0);
        try {
            queue_type::open(segment_name, quick).close();
        } catch (...) {
        }
    }
    /// Closes the queues of request `id` as a whole (its client sees closed) and removes their
    /// names. Queues not ready at once are removed by name only.
    void drop(std::uint64_t id) noexcept {
        close_connection_queue(shm_up_name(name_, id));
        close_connection_queue(shm_down_name(name_, id));
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
    ino_t door_inode_;      // the door's and the request queue's objects, whose names close() removes
    ino_t requests_inode_;
};

/// A client's side: creates its queue pair and asks the listener `name` to accept it, before
/// `deadline`. Throws ipckit::error naming the address.
template <class Message, mode_policy Mode>
std::shared_ptr<duplex> shm_connect(const std::string& name, std::chrono::steady_clock::time_point deadline) {
    using queue_type = typename shm_queue_for<Message>::type;
    const std::string address = "shm://" + name;
    const auto nobody = [&] {
        return error(errc::not_found, "connecting to " + address + ": nothing listens there (start the listener first)");
    };
    // The listener's segments, waited for (one being made) no later than `deadline`.
    const auto opening = [&] {
        options o;
        if (deadline != std::chrono::steady_clock::time_point::max()) {
            const auto now = std::chrono::steady_clock::now();
            o.init_timeout = deadline <= now ? std::chrono::milliseconds(0)
                                             : std::min(o.init_timeout, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
        }
        return o;
    };
    auto requests = [&] {
        try {
            return shm_request_queue<Message>::open(name, opening());
        } catch (const error& e) {
            if (e.reason() == errc::not_found) throw nobody();
            throw error(e.reason(), "connecting to " + address + ": " + e.what());
        }
    }();
    // A place under the listener's cap first (its door is made before its request queue).
    std::shared_ptr<shm_door> door;
    try {
        door = std::make_shared<shm_door>(shm_door::open(name, opening()));
    } catch (const error& e) {
        throw error(e.reason(), "connecting to " + address + ": the listener's door could not be opened: " + e.what());
    }
    const std::uint64_t me = sys::self().pack();
    const auto entered = door->enter(me);
    if (!entered)
        throw error(errc::no_space, "connecting to " + address + ": the listener at " + address + " is at its cap of " +
                                        std::to_string(door->cap()) +
                                        " connections; try again later, or raise net_options::max_connections "
                                        "(at most " + std::to_string(shm_door::max_places) + " over shm://)");
    if (entered->dead != shm_door::free_place) shm_forget_pairs_of(name, entered->dead);  // a dead client's place
    // Until the request is taken: the names this client made go (system_owned), never
    // another's; and until it is sent, the place goes back. Once sent, the place is the
    // listener's to take (or the door goes with the listener): another connect of this process,
    // which holds places under the same id, may hold it by then.
    struct give_back {
        shm_door* door;
        std::optional<std::size_t> place;
        std::uint64_t me;
        const std::string& name;
        std::uint64_t id = 0;
        bool up = false, down = false;  // made by this client, under `id`
        void forget_made() noexcept {
            if (up) sys::shm_remove_quietly(os_name(shm_up_name(name, id)));
            if (down) sys::shm_remove_quietly(os_name(shm_down_name(name, id)));
            up = down = false;
        }
        ~give_back() {
            if (!door) return;
            if (place) door->leave(*place, me);
            forget_made();
        }
    } unless_asked{door.get(), entered->place, me, name};
    const ino_t asked = sys::shm_inode(os_name(name));  // which listener: a later one of the name is another
    // A pair under a fresh id; another id where a name is taken (a stale pair, or a collision).
    std::optional<queue_type> up, down;
    for (int attempt = 0;; ++attempt) {
        unless_asked.forget_made();
        unless_asked.id = shm_connection_id();
        try {
            up.emplace(queue_type::create(shm_up_name(name, unless_asked.id)));
            unless_asked.up = true;
            down.emplace(queue_type::create(shm_down_name(name, unless_asked.id)));
            unless_asked.down = true;
            break;
        } catch (const error& e) {
            if (e.reason() != errc::already_exists || attempt == 7) throw;
        }
    }
    const std::uint64_t id = unless_asked.id;
    auto d = std::make_shared<shm_duplex<Message, Mode>>(up->template sender<Mode>(), down->template receiver<Mode>(),
                                                         shm_unclaimed(name, id, asked));
    // A sender's place on the request queue: its 64 are held by clients waiting for room in
    // its ring (a listener slow to accept), and one goes back as each request goes in. Wait
    // for one, a short sleep at a time, until `deadline`: timed_out then, as a socket's full
    // backlog.
    const auto asking = [&] {
        auto pause = std::chrono::microseconds(50);
        for (;;) {
            try {
                return requests.template sender<blocking>();
            } catch (const error& e) {
                if (e.reason() != errc::sender_busy)
                    throw error(e.reason(), "connecting to " + address + ": " + e.what());
            }
            const auto now = std::chrono::steady_clock::now();
            if (now >= deadline)
                throw error(errc::timed_out, "connecting to " + address + ": the listener did not take the request (" +
                                                 make_error_code(errc::timed_out).message() +
                                                 ": its queue of connect requests stayed full)");
            std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
            pause = std::min(pause * 2, std::chrono::microseconds(2000));
        }
    };
    auto tx = asking();
    const auto s = tx.send(shm_request<Message>{id, entered->place, me}, deadline);
    if (s) unless_asked.place.reset();
    if (!s && s.error() == errc::closed) throw nobody();  // the listener closed before
    if (!s)
        throw error(s.error(), "connecting to " + address + ": the listener did not take the request (" +
                                   make_error_code(s.error()).message() + ")");
    // SYNC POINT READ: the seal, after the request; paired with the fence in shm_acceptor::
    // close() between its seal and its drain (see top). The listener closed (or died) as we
    // asked: did it take the request first? Accept removes the queues' names once it has them
    // (before a close() that follows it seals); a drop closes the queues, then removes them.
    // Names still there: nothing accepted it, nor will: as if nobody listened (the names go;
    // the place, sent, goes with the listener's door). Names gone: it was taken, accepted (the
    // connection works) or dropped (closed: its verbs say so); the place is the listener's to
    // give back then.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (tx.peer() != errc::ok && sys::shm_inode(os_name(shm_up_name(name, id))) != 0) throw nobody();
    unless_asked.door = nullptr;  // the listener removes the names now
    return d;
}

}  // namespace ipckit::detail
