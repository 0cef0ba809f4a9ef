#pragma once
// A shm:// listener's door: its connection cap, in shared memory beside its queue of connect
// requests (shm_rendezvous.hpp), so that a client one past the cap is refused at connect with
// the reason, as a socket's client is (acceptor.hpp), and the listener goes on.
//
//   "<name>.door"   a process_owned segment the listener creates before its request queue, and
//                   which goes with the listener:
//     cap           written once, before anyone attaches
//     live          connections counted against the cap: a client takes a place before it
//                   sends its request (never past cap); the listener gives it back when it
//                   rejects the request, or when the connection it accepted is gone
//     refused       clients that found no place (the listener lists them as rejections)
//
// Untrusted ground: any process that may open the listener's queue may write here. What is
// read is only compared and printed, and live is never taken below 0; a hostile client can
// fill the places, as a flood of sockets fills a socket listener's, or send requests that took
// no place (each one rejected gives a place back: the cap is then exceeded by as many). A
// client killed between taking its place and sending its request leaves it taken until the
// listener goes.

#include <ipckit/error.hpp>
#include <ipckit/layout.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <utility>

namespace ipckit::detail {

/// What a door's header says it holds (an inspector recognises a door by it: look/body.hpp).
inline constexpr const char* shm_door_description = "ipckit shm:// listener door v1 (live, refused, cap: 3 x u64)";

struct shm_door_body {
    // Relaxed, all three: each is a count on its own, and no other memory is published with it.
    std::atomic<std::uint64_t> live{0};
    std::atomic<std::uint64_t> refused{0};
    std::uint64_t cap = 0;
};

class shm_door {
public:
    static std::string name_for(const std::string& listener) { return listener + ".door"; }

    /// The listener's: creates the door of `listener` with room for `cap` connections. Throws
    /// as segment::create (already_exists: another listener has the name).
    static shm_door create(const std::string& listener, std::size_t cap) {
        return shm_door(segment::create<process_owned>(name_for(listener), layout(), options{}, [cap](void* body) {
            new (body) shm_door_body{};
            static_cast<shm_door_body*>(body)->cap = cap;
        }));
    }
    /// A client's: the door of `listener`, waiting up to o.init_timeout for one being made.
    /// Throws as segment::open (not_found: no listener).
    static shm_door open(const std::string& listener, const options& o = {}) {
        return shm_door(segment::open(name_for(listener), layout(), o));
    }

    /// Takes a place, if one is free; false (and counted as refused) if the cap is reached.
    bool enter() noexcept {
        auto& b = body();
        std::uint64_t n = b.live.load(std::memory_order_relaxed);
        do {
            if (n >= b.cap) {
                b.refused.fetch_add(1, std::memory_order_relaxed);
                return false;
            }
        } while (!b.live.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
        return true;
    }
    /// Gives a place back (never below 0, whatever another process wrote).
    void leave() noexcept {
        auto& b = body();
        std::uint64_t n = b.live.load(std::memory_order_relaxed);
        while (n > 0 && !b.live.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
        }
    }

    [[nodiscard]] std::uint64_t cap() const noexcept { return body().cap; }
    [[nodiscard]] std::uint64_t live() const noexcept { return body().live.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t refused() const noexcept { return body().refused.load(std::memory_order_relaxed); }

private:
    explicit shm_door(segment s) : segment_(std::move(s)) {}
    static segment_layout layout() {
        return {shm_door_description, detail::header_size + sizeof(shm_door_body)};
    }
    [[nodiscard]] shm_door_body& body() const noexcept { return *static_cast<shm_door_body*>(segment_.body()); }

    segment segment_;
};

}  // namespace ipckit::detail
