#pragma once
// What the read-only inspect functions of every kind of segment share (each kind's own lives
// beside its layout): a view of a segment's body that checks every read against the mapping,
// the liveness of processes asked once per look, a ring's indices of one moment, and a roster's
// places as endpoints. Nothing here writes to a segment, waits, or takes a lock: an inspector
// maps segments read-only (ipckit/inspect.hpp).

#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/segment_info.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ipckit::detail {

/// Thrown by an inspect function that finds a body contradicting its layout: the segment is
/// reported corrupt, and what() is the sentence that follows its name ("has inconsistent ...").
class inspect_fault : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Whether processes live, each asked of the OS once per inspection (a listing meets the same
/// processes in many rosters).
class liveness {
public:
    bool alive(const sys::process_id& id) {
        const auto [it, inserted] = known_.try_emplace(id.pack(), false);
        if (inserted) it->second = sys::is_alive(id);
        return it->second;
    }
    bool alive(std::uint64_t packed) { return alive(sys::process_id::unpack(packed)); }

private:
    std::unordered_map<std::uint64_t, bool> known_;
};

/// A segment's body (what follows its header) as an inspector sees it: read-only, and every
/// object read is first checked to lie within the mapping, aligned.
class body_view {
public:
    body_view(const void* body, std::size_t size, liveness& live) noexcept
        : base_(static_cast<const char*>(body)), size_(size), live_(&live) {}

    /// The `count` objects of type T at `offset`; throws inspect_fault naming `what` if they do
    /// not lie within the body.
    template <class T>
    const T* at(std::size_t offset, std::string_view what, std::size_t count = 1) const {
        const bool inside = offset <= size_ && count <= (size_ - offset) / sizeof(T);
        if (!inside || reinterpret_cast<std::uintptr_t>(base_ + offset) % alignof(T) != 0)
            throw inspect_fault("is too small for its " + std::string(what) + " (" + std::to_string(count) + " x " +
                                std::to_string(sizeof(T)) + " bytes at offset " + std::to_string(offset) +
                                " of a body of " + std::to_string(size_) +
                                "): it was truncated, or does not hold what its description says");
        return reinterpret_cast<const T*>(base_ + offset);
    }
    /// A 64-bit word at `offset`, loaded atomically (acquire).
    std::uint64_t word(std::size_t offset, std::string_view what) const {
        return at<std::atomic<std::uint64_t>>(offset, what)->load(std::memory_order_acquire);
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] liveness& live() const noexcept { return *live_; }

private:
    const char* base_;
    std::size_t size_;
    liveness* live_;
};

/// A ring's head and tail.
struct ring_indices {
    std::uint64_t head = 0;
    std::uint64_t tail = 0;
};

/// The head and tail at `head` and `tail` as of one moment: head is loaded around tail until it
/// did not move (as ring/ticket.hpp's consistent_now does for attaching cursors); nullopt if
/// the ring never held still for 64 tries.
inline std::optional<ring_indices> indices_of(const std::atomic<std::uint64_t>& head,
                                              const std::atomic<std::uint64_t>& tail) noexcept {
    for (int i = 0; i < 64; ++i) {
        // SYNC POINT READ: acquire, as an attaching cursor reads them; nothing is written back.
        const std::uint64_t h = head.load(std::memory_order_acquire);
        const std::uint64_t t = tail.load(std::memory_order_acquire);
        if (head.load(std::memory_order_acquire) == h) return ring_indices{h, t};
    }
    return std::nullopt;
}

/// Reads the ring whose tail is at `offset` and head at `offset + head_at`, holding up to
/// `capacity` (messages or bytes): its indices of one moment, checked as an attaching cursor
/// checks them (head <= tail <= head + capacity). Throws inspect_fault when they contradict each
/// other; nullopt when the ring never held still.
inline std::optional<ring_indices> read_ring(const body_view& v, std::size_t offset, std::size_t head_at,
                                             std::uint64_t capacity) {
    const auto* tail = v.at<std::atomic<std::uint64_t>>(offset, "ring's tail");
    const auto* head = v.at<std::atomic<std::uint64_t>>(offset + head_at, "ring's head");
    const auto r = indices_of(*head, *tail);
    if (r && (r->head > r->tail || r->tail - r->head > capacity))
        throw inspect_fault("has inconsistent indices (head " + std::to_string(r->head) + ", tail " +
                            std::to_string(r->tail) + ", capacity " + std::to_string(capacity) +
                            "): they were overwritten");
    return r;
}

/// Fills depth and counters from a ring of fixed-size messages.
inline void set_message_counts(const std::optional<ring_indices>& r, segment_info& out) {
    if (!r) {
        out.note = "its indices kept moving: depth not read";
        return;
    }
    out.depth_messages = r->tail - r->head;
    out.sent_messages = r->tail;
    out.received_messages = r->head;
}

/// The endpoint that a roster holder word names, or nullopt for a vacant place.
inline std::optional<endpoint_info> endpoint_of(std::uint64_t holder, std::size_t place, const char* role,
                                                liveness& live) {
    if (holder == roster_place::vacant) return std::nullopt;
    endpoint_info e;
    e.role = role;
    e.place = place;
    if (holder == roster_place::closed) return e;
    const auto id = sys::process_id::unpack(holder);
    e.pid = id.pid;
    e.state = live.alive(id) ? endpoint_state::alive : endpoint_state::dead;
    return e;
}

/// Adds to out.endpoints the places of the roster of `max` places at `offset` that have been
/// held, as `role`.
inline void add_roster(const body_view& v, std::size_t offset, std::size_t max, const char* role, segment_info& out) {
    const auto* places = v.at<roster_place>(offset + roster_places_offset, std::string(role) + "s' roster", max);
    for (std::size_t i = 0; i < max; ++i) {
        if (auto e = endpoint_of(places[i].holder.load(std::memory_order_acquire), i, role, v.live()))
            out.endpoints.push_back(std::move(*e));
    }
}

}  // namespace ipckit::detail
