#pragma once
// A shm:// listener's door: its connection cap, in shared memory beside its queue of connect
// requests (shm_rendezvous.hpp), so that a client one past the cap is refused at connect with
// the reason, as a socket's client is (acceptor.hpp), and the listener goes on.
//
//   "<name>.door"   a process_owned segment the listener creates before its request queue, and
//                   which goes with the listener:
//     refused       clients that found no place (the listener lists them as rejections)
//     places        one word per connection under the cap (the segment's size says how many):
//                     free        0
//                     a client's  its process id (packed), from the moment it takes the place
//                                 until the listener takes its request
//                     taken       1: the listener's, from its take of the request until it
//                                 rejects it or the connection it accepted is gone
//
// A client takes a free place before it sends its request, and names the place and itself in
// the request. The listener takes a request only if the place it names still holds the client
// it names, turning it to taken in one compare-and-swap; it gives a taken place back. A client
// that gives up before its request is taken gives its place back, if it still holds it. A
// client killed between taking its place and its request being taken leaves its id there: a
// client that finds no place free takes such a place of a dead process instead (the listener
// then refuses the dead client's request, should it come, since its place holds another).
//
// A client that takes over a dead client's place removes the queue pairs the dead one made
// (shm_names.hpp: shm_forget_pairs_of), which nobody will take now.
//
// Untrusted ground: any process that may open the listener's queue may write here. What is
// read is only compared, printed, or asked of the OS (whether a process lives); the number of
// places is the mapping's, never a word read from it. The places keep honest clients, and
// clients that crash, to the cap; a hostile one can take, free or fill any place (it may write
// the words, or name in a request the id it read from a place), as a flood of sockets fills a
// socket listener's, and so pass the cap or have another client refused.

#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>
#include <ipckit/layout.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <utility>

namespace ipckit::detail {

/// What a door's header says it holds (an inspector recognises a door by it: look/body.hpp).
inline constexpr const char* shm_door_description =
    "ipckit shm:// listener door v2 (refused: u64, then one u64 holder per place)";

static_assert(sizeof(std::atomic<std::uint64_t>) == sizeof(std::uint64_t) &&
                  std::atomic<std::uint64_t>::is_always_lock_free,
              "a door's place is a lock-free 64-bit word in shared memory");

struct shm_door_body {
    // Relaxed: a count on its own, with no other memory published with it.
    std::atomic<std::uint64_t> refused{0};
    // Then the places: std::atomic<std::uint64_t>[count], count from the segment's size.
};

class shm_door {
public:
    /// A place's word: free, or taken by the listener; else the process id of the client that holds it.
    static constexpr std::uint64_t free_place = 0;
    static constexpr std::uint64_t taken_place = 1;
    /// The most places a door has: a listener maps two queues per connection, and the kernel
    /// allows a process 65530 mappings by default (vm.max_map_count).
    static constexpr std::size_t max_places = 32768;

    static std::string name_for(const std::string& listener) { return listener + ".door"; }

    /// The listener's: creates the door of `listener` with room for `cap` connections (at most
    /// max_places). Throws as segment::create (already_exists: another listener has the name).
    static shm_door create(const std::string& listener, std::size_t cap) {
        const std::size_t count = std::min(cap, max_places);
        return shm_door(segment::create<process_owned>(name_for(listener), layout(count), options{},
                                                       [count](void* body) {
                                                           new (body) shm_door_body{};
                                                           auto* p = places_at(body);
                                                           for (std::size_t i = 0; i < count; ++i)
                                                               new (p + i) std::atomic<std::uint64_t>(free_place);
                                                       }));
    }
    /// A client's: the door of `listener`, waiting up to o.init_timeout for one being made.
    /// Throws as segment::open (not_found: no listener).
    static shm_door open(const std::string& listener, const options& o = {}) {
        return shm_door(segment::open(name_for(listener), {shm_door_description, 0}, o));
    }

    /// A place taken: its index, and the dead client it was taken over from (free_place if none).
    struct entry {
        std::size_t place;
        std::uint64_t dead;
    };
    /// Takes a free place for `me` (this client's packed process id), or else one a dead client
    /// left (or one freed meanwhile); nullopt (counted as refused) if every place is held. Only
    /// when no place is free, asks the OS about the holders still connecting (a run of places
    /// held by one process, once).
    std::optional<entry> enter(std::uint64_t me) noexcept {
        auto* p = places();
        for (std::size_t i = 0; i < count_; ++i) {
            std::uint64_t v = p[i].load(std::memory_order_relaxed);
            if (v == free_place && p[i].compare_exchange_strong(v, me, std::memory_order_relaxed)) return entry{i, 0};
        }
        std::uint64_t alive = free_place;  // the last holder found alive: many places may hold one process
        for (std::size_t i = 0; i < count_; ++i) {
            std::uint64_t v = p[i].load(std::memory_order_relaxed);
            if (v == free_place && p[i].compare_exchange_strong(v, me, std::memory_order_relaxed)) return entry{i, 0};
            if (v == free_place || v == taken_place || v == alive) continue;
            if (sys::is_alive(sys::process_id::unpack(v))) {
                alive = v;
                continue;
            }
            const std::uint64_t dead = v;
            if (p[i].compare_exchange_strong(v, me, std::memory_order_relaxed)) return entry{i, dead};
        }
        body().refused.fetch_add(1, std::memory_order_relaxed);
        return std::nullopt;
    }
    /// The listener's: turns place `i` from `client` to taken; false if it does not hold that
    /// client (a place reclaimed from a dead client, or a request that took no place).
    bool take(std::size_t i, std::uint64_t client) noexcept {
        if (i >= count_ || client == free_place || client == taken_place) return false;
        return places()[i].compare_exchange_strong(client, taken_place, std::memory_order_relaxed);
    }
    /// Gives place `i` back if it holds `holder` (taken_place: the listener's), else nothing.
    void leave(std::size_t i, std::uint64_t holder) noexcept {
        if (i < count_) (void)places()[i].compare_exchange_strong(holder, free_place, std::memory_order_relaxed);
    }

    [[nodiscard]] std::uint64_t cap() const noexcept { return count_; }
    /// Places held now: by clients on their way in, or taken by the listener.
    [[nodiscard]] std::uint64_t live() const noexcept {
        std::uint64_t n = 0;
        for (std::size_t i = 0; i < count_; ++i) n += places()[i].load(std::memory_order_relaxed) != free_place;
        return n;
    }
    [[nodiscard]] std::uint64_t refused() const noexcept { return body().refused.load(std::memory_order_relaxed); }

    /// The number of places that a door's body of `body_bytes` holds; nullopt if it is too
    /// small for the body's count (not a door of this layout).
    static std::optional<std::size_t> places_in(std::size_t body_bytes) noexcept {
        if (body_bytes < sizeof(shm_door_body)) return std::nullopt;
        return std::min((body_bytes - sizeof(shm_door_body)) / sizeof(std::uint64_t), max_places);
    }

private:
    explicit shm_door(segment s) : segment_(std::move(s)) {
        const auto n = places_in(segment_.size() - detail::header_size);
        if (!n)
            throw error(errc::corrupt, "shm:// door '" + segment_.name() + "' is " + std::to_string(segment_.size()) +
                                           " bytes, too small for a door: remove it with " +
                                           detail::how_to_remove(segment_.name()) + " and bind the listener again");
        count_ = *n;
    }
    static segment_layout layout(std::size_t count) {
        return {shm_door_description, detail::header_size + sizeof(shm_door_body) + count * sizeof(std::uint64_t)};
    }
    static std::atomic<std::uint64_t>* places_at(void* body) noexcept {
        return reinterpret_cast<std::atomic<std::uint64_t>*>(static_cast<char*>(body) + sizeof(shm_door_body));
    }
    [[nodiscard]] shm_door_body& body() const noexcept { return *static_cast<shm_door_body*>(segment_.body()); }
    [[nodiscard]] std::atomic<std::uint64_t>* places() const noexcept { return places_at(segment_.body()); }

    segment segment_;
    std::size_t count_ = 0;
};

}  // namespace ipckit::detail
