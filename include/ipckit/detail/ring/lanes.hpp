#pragma once
// Lanes: one SPSC ring per producer, merged by the one consumer (the iceoryx shape: a queue per
// publisher per subscriber).
//
// A producer owns the lane of its roster place: place i writes lanes[i] and nobody else does,
// so it publishes with the SPSC ring's plain release store, never a CAS, and a producer
// preempted (or killed) half-way through a send holds up only its own lane: the others go on
// being read. The consumer is the only reader of every lane.
//
// The merge is round robin from where it left off: after taking a message from lane i, the
// consumer's next look starts at lane i + 1, and it takes the first lane with a message. So
// among lanes that always have messages each gets one in turn, and a lane with a message waits
// at most one message of every other lane (lanes_in_use - 1 of them) before it is read: none
// starves while another is always full. Each producer's messages keep their order (one lane,
// FIFO); between producers there is no order, as in any queue of many producers.
//
// The consumer looks only at the lanes below `in_use`, the highest place ever attached + 1, so
// that a queue of lanes<64> with one producer costs one lane's look, not 64. A producer raises
// `in_use` when it attaches (a CAS, once, off the data path) before it publishes anything there,
// and looks at it again before each claim or push (a load of a line only a raise writes), raising
// it back should it find it lowered (scribbled: it is never lowered otherwise), so that its lane
// is never left out of the merge for longer than until its next send.
// The consumer reads it at every look (a load of a line that stays in its cache: only an attach
// writes it), so a lane that comes later is in the next turn, even while the lanes before it
// never run empty; a sleeping consumer sees it at the latest by the look that follows the
// doorbell's ring of its first message (the bell's seq_cst fences order the producer's raise,
// made before its publish, before the sleeper's look).
//
// Batches. A producer's batch is its lane's (spsc.hpp: try_push_n, one store of the lane's tail).
// The consumer's batch (try_pop_n) is a run from one lane: the first lane with a message, from
// where the last claim or run left off, as a single claim finds it; up to as many as asked and
// as that lane holds, given back with one store of that lane's head; the next look starts at
// the lane after it. So a run is bounded by the batch asked for and the lane's N slots, and the
// fairness above holds run for run: among lanes that always have messages each gives a run in
// turn, and a lane with a message waits at most one run of every other lane before it is read.
// A run frees room in one lane only, so the endpoint's one wake after it goes to that lane's
// sender (last_lane()), and the rule of spsc.hpp holds: the head store is made in the call that
// read the run, before the endpoint's notify() looks for that sender asleep.
//
// A dead producer: SPSC lanes hold no claims to finish, so there is nothing to recover (a loan
// it held is only listed in its place's pending word, for a live one's to be waited for at a
// close: spsc_producer::hold; a new producer in the place clears it). What it published
// stays in its lane and is read as any message (in order, before anyone else's that its lane
// receives later); what it had not published is not there. Its place, once retired or taken over
// (detail/sync/roster.hpp), goes to a new producer, whose cursor resumes the lane where the dead
// one stopped (spsc_producer::attach finishes or takes back a step cut short). So a lane is
// reused, never leaked.
//
// Shared memory is not trusted: `in_use` is clamped to Lanes, and raised again by a producer that
// finds it below its own lane; each lane checks its own indices (detail/ring/spsc.hpp), and a lane
// found corrupt is reported (corrupt) and passed over, as an empty one is, so that the next look
// serves the lanes after it: one damaged lane does not stop the others; and a place outside
// Lanes attaches to nothing.

#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/ring/spsc.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/error.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ipckit::detail {

/// Shared layout:
///   0              in_use    highest place ever attached + 1 (raised by CAS, never lowered)
///   cache_line     lanes     spsc_ring<T, N>[Lanes]: lane i is written by the sender in place i
template <shm_safe T, std::size_t N, std::size_t Lanes>
struct lanes_ring {
    static_assert(Lanes >= 1);
    alignas(cache_line) std::atomic<std::uint32_t> in_use{0};
    spsc_ring<T, N> lanes[Lanes];

    /// The lanes a consumer must look at, as `in_use` says (clamped: it is read from shared memory).
    [[nodiscard]] std::size_t lanes_in_use() const noexcept {
        // SYNC POINT READ: in_use, paired with lanes_producer::attach's release CAS: the lane's
        // indices, as its producer found them, are visible.
        return std::min<std::size_t>(in_use.load(std::memory_order_acquire), Lanes);
    }
};

/// A producer's cursor: the SPSC producer of the lane of its roster place. Restricted
/// thread-safe: one thread at a time.
template <shm_safe T, std::size_t N, std::size_t Lanes>
class lanes_producer {
public:
    lanes_producer() noexcept = default;

    /// Attaches to the lane of roster place `place`; false if there is no such lane or its
    /// indices are inconsistent.
    bool attach(lanes_ring<T, N, Lanes>& ring, std::atomic<std::uint64_t>& pending, std::size_t place) noexcept {
        if (place >= Lanes) return false;
        in_use_ = &ring.in_use;
        want_ = static_cast<std::uint32_t>(place + 1);
        raise();
        return lane_.attach(ring.lanes[place], pending);
    }

    errc try_claim(ring_ticket<T>& t) noexcept {
        keep_in_use();
        return lane_.try_claim(t);
    }
    void commit(const ring_ticket<T>& t) noexcept { lane_.commit(t); }
    void abandon(const ring_ticket<T>& t) noexcept { lane_.abandon(t); }
    /// A loan's claim, listed for the consumer while it is out (spsc_producer::hold).
    void hold(const ring_ticket<T>& t) noexcept { lane_.hold(t); }
    /// A loan of several slots, in our own lane only (spsc_producer::try_claim_run).
    errc try_claim_run(std::size_t n, ring_ticket<T>& t) noexcept {
        keep_in_use();
        return lane_.try_claim_run(n, t);
    }
    void commit_run(const ring_ticket<T>& t, std::uint64_t m) noexcept { lane_.commit_run(t, m); }
    std::span<T> slots_of(const ring_ticket<T>& t) const noexcept { return lane_.slots_of(t); }
    errc try_push(const T& m) noexcept {
        keep_in_use();
        return lane_.try_push(m);
    }
    /// A batch, into our own lane only (spsc_producer::try_push_n: one store of its tail).
    errc try_push_n(const T* src, std::size_t n, std::size_t& pushed) noexcept {
        keep_in_use();
        return lane_.try_push_n(src, n, pushed);
    }
    /// Whether our own lane has room: the other lanes' fill does not matter to us.
    bool has_room() noexcept { return lane_.has_room(); }
    /// Nothing to recover: the single consumer gives its slots back itself (spsc_producer::recover).
    template <class LiveClaimant>
    bool recover(LiveClaimant&&) noexcept {
        return false;
    }

private:
    /// Raises in_use to our lane + 1 unless it is there or past it already.
    void raise() noexcept {
        std::uint32_t seen = in_use_->load(std::memory_order_relaxed);
        // SYNC POINT WRITE: in_use, before anything is published in our lane; READ by the
        // consumer's lanes_in_use(). The CAS fails where another producer (or a scribble) moved
        // it meanwhile (seen is then reloaded) or spuriously; it ends once it is at or past us.
        while (seen < want_ &&
               !in_use_->compare_exchange_weak(seen, want_, std::memory_order_release, std::memory_order_relaxed)) {
        }
    }
    /// Before a claim or push: in_use is only ever raised, so below our lane it was scribbled,
    /// and the consumer would never look at what we publish. One load; the CAS only then.
    void keep_in_use() noexcept {
        if (in_use_->load(std::memory_order_relaxed) < want_) [[unlikely]]
            raise();
    }

    spsc_producer<T, N> lane_;
    std::atomic<std::uint32_t>* in_use_ = nullptr;
    std::uint32_t want_ = 0;  ///< our place + 1: what in_use must be at least
};

/// The consumer's cursor: an SPSC consumer per lane, and where the round robin goes on.
/// Restricted thread-safe: one thread at a time.
template <shm_safe T, std::size_t N, std::size_t Lanes>
class lanes_consumer {
public:
    lanes_consumer() noexcept = default;

    /// Attaches to every lane (finishing a step that a killed predecessor left in any of
    /// them). A lane with inconsistent indices is left out, and reported corrupt where the
    /// merge comes to it, as one found so later is: the others are served still. So it never
    /// fails (true: the cursor contract's attach).
    bool attach(lanes_ring<T, N, Lanes>& ring, std::atomic<std::uint64_t>& pending) noexcept {
        ring_ = &ring;
        for (std::size_t i = 0; i < Lanes; ++i) broken_[i] = !lanes_[i].attach(ring.lanes[i], pending);
        return true;
    }

    /// Claims the next message of the merge: the first lane with one, from where the last
    /// claim left off. ok, would_block (every lane empty) or corrupt (a lane's indices). No
    /// system call. The slot stays the consumer's until release().
    errc try_claim(ring_ticket<const T>& t) noexcept {
        return take_from_next_lane([&t](spsc_consumer<T, N>& lane) { return lane.try_claim(t); });
    }

    /// The lane of the last claim: the one a release freed room in.
    [[nodiscard]] std::size_t last_lane() const noexcept { return current_; }

    /// Marks the claimed slot held by a view, in its lane (spsc_consumer::hold).
    void hold(const ring_ticket<const T>& t) noexcept { lanes_[current_].hold(t); }

    /// Gives the claimed slot back to its producer; the next claim starts at the next lane.
    void release(const ring_ticket<const T>& t) noexcept {
        lanes_[current_].release(t);
        move_on();
    }

    /// Takes a copy of the next message of the merge: the lane's own try_pop, so the merge adds
    /// only the choice of lane to the SPSC path.
    errc try_pop(T& out) noexcept {
        const errc e = take_from_next_lane([&out](spsc_consumer<T, N>& lane) { return lane.try_pop(out); });
        if (e == errc::ok) move_on();
        return e;
    }

    /// Takes copies of a run of up to n messages from one lane, the next of the merge (see the
    /// top of this file), into `out`, in order, and gives their slots back with one store of
    /// that lane's head: ok (`popped` says how many, at least one), would_block (every lane
    /// empty) or corrupt (a lane's indices). n > 0. No system call.
    errc try_pop_n(T* out, std::size_t n, std::size_t& popped) noexcept {
        popped = 0;
        const errc e = take_from_next_lane([&](spsc_consumer<T, N>& lane) { return lane.try_pop_n(out, n, popped); });
        if (e == errc::ok) move_on();
        return e;
    }

    /// Whether some lane has a message (or a corrupt lane, which the pop will report).
    bool has_data() noexcept {
        const std::size_t n = ring_->lanes_in_use();
        for (std::size_t i = 0; i < n; ++i)
            if (broken_[i] || lanes_[i].has_data()) return true;
        return false;
    }

    /// Nothing to recover: a producer publishes a message whole or not at all, in its own lane.
    /// But each lane asks whether a live producer lists a loan at its tail (spsc_consumer::
    /// recover), so that a close waits for it. (Positions are each lane's own: a producer that
    /// lists the position another lane is at makes the consumer wait for its loan too, which
    /// was granted before the close as well.)
    template <class LiveClaimant>
    bool recover(LiveClaimant&& live_claimant) noexcept {
        const std::size_t n = ring_->lanes_in_use();
        for (std::size_t i = 0; i < n; ++i)
            if (!broken_[i]) (void)lanes_[i].recover(live_claimant);
        return false;
    }

    /// Messages waiting in every lane, as far as this consumer knows after a fresh look.
    std::uint64_t available() noexcept {
        const std::size_t n = ring_->lanes_in_use();
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < n; ++i)
            if (!broken_[i]) sum += lanes_[i].available();
        return sum;
    }

private:
    /// take(lane) on the first lane, from next_ on, where it does not would_block; current_
    /// becomes that lane. would_block once every lane in use has nothing. A corrupt lane is
    /// reported, and the next look starts after it, so that the other lanes are served still.
    template <class Take>
    errc take_from_next_lane(Take&& take) noexcept {
        const std::size_t n = ring_->lanes_in_use();  // at every look: see the top of this file
        if (n == 1) {
            // One sender so far: its lane is the whole merge. A lane the compiler knows makes
            // this the SPSC path (no index to compute, no round robin to keep).
            const errc e = broken_[0] ? errc::corrupt : take(lanes_[0]);
            if (e != errc::would_block) current_ = 0;
            return e;
        }
        std::size_t i = next_ < n ? next_ : 0;  // in_use is read from shared memory: it may have shrunk
        for (std::size_t k = 0; k < n; ++k) {
            const errc e = broken_[i] ? errc::corrupt : take(lanes_[i]);
            if (e != errc::would_block) {
                current_ = i;
                if (e == errc::corrupt) move_on();
                return e;
            }
            if (++i == n) i = 0;
        }
        return errc::would_block;
    }

    /// The next claim starts at the lane after the current one.
    void move_on() noexcept { next_ = current_ + 1; }

    lanes_ring<T, N, Lanes>* ring_ = nullptr;
    std::array<spsc_consumer<T, N>, Lanes> lanes_{};
    std::array<bool, Lanes> broken_{};  ///< lanes whose indices were inconsistent at attach
    std::size_t next_ = 0;     ///< where the next claim starts
    std::size_t current_ = 0;  ///< the lane of the claim in progress
};

// The cursor contract (detail/ring/cursor.hpp), checked on one instance.
static_assert(claiming_producer<lanes_producer<std::uint64_t, 8, 4>, std::uint64_t> &&
                  attaches_to<lanes_producer<std::uint64_t, 8, 4>, lanes_ring<std::uint64_t, 8, 4>,
                              std::atomic<std::uint64_t>, std::size_t>,
              "lanes_producer must meet the producer cursor contract");
static_assert(claiming_consumer<lanes_consumer<std::uint64_t, 8, 4>, std::uint64_t> &&
                  attaches_to<lanes_consumer<std::uint64_t, 8, 4>, lanes_ring<std::uint64_t, 8, 4>,
                              std::atomic<std::uint64_t>>,
              "lanes_consumer must meet the consumer cursor contract");
static_assert(batch_producer<lanes_producer<std::uint64_t, 8, 4>, std::uint64_t> &&
                  batch_consumer<lanes_consumer<std::uint64_t, 8, 4>, std::uint64_t>,
              "the lanes' cursors must meet the batch contract");
static_assert(view_holding_consumer<lanes_consumer<std::uint64_t, 8, 4>, std::uint64_t> &&
                  loan_holding_producer<lanes_producer<std::uint64_t, 8, 4>, std::uint64_t>,
              "the lanes' cursors must mark what they lend, as their lanes' cursors do");

}  // namespace ipckit::detail
