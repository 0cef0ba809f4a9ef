#pragma once
// The single-producer single-consumer ring that lives in shared memory.
//
// Two 64-bit monotonic indices on their own cache lines, and N slots. The producer owns tail,
// the consumer owns head; each keeps its own index in process memory and a cached copy of the
// other's, so the shared lines move between cores only when the cache runs out (the rigtorp /
// folly ProducerConsumerQueue scheme). No system call, no lock: a process killed at any point
// leaves the ring consistent, and a message is published whole or not at all.
//
// The indices in shared memory are not trusted: every value read from them is checked
// (0 <= tail - head <= N) before use, and a slot is addressed as index % N, so a corrupt or
// hostile peer can make us report `corrupt` but never touch memory outside the ring.
//
// That check passes an index moved inside its range, which would replay messages (a head moved
// back) or deliver slots never written (a tail moved forward). So each index has a check word
// on its own cache line: the complement of the index, stored by its owner just before the
// index itself, in the same line (a store, no fence). Whoever reads an index reads its check
// after it, so the check is at least as new: ~check >= index. The reader then knows:
//   - tail, read by the consumer: ~check < tail is a tail moved forward (corrupt);
//   - head, read by the producer: ~check < head is a head moved forward, which would let the
//     producer overwrite unread slots (corrupt); ~check beyond the producer's own tail, a
//     scribbled check (corrupt);
//   - either, read by a cursor that attaches (its predecessor gone, nothing moves it): ~check ==
//     index is a clean stop; ~check ahead of the index (at most N), with the index where the
//     last step started, a predecessor killed between its two stores, whose step the new
//     cursor finishes (a consumer: the messages it had read are gone with it) or takes back (a
//     producer: the messages it wrote were never published); anything else, an index moved
//     (corrupt). Where the last step started is the third word beside each index, `from`,
//     stored first: a batch moves an index by several messages with one store, so the check
//     alone cannot tell a predecessor killed part way through a batch's step from an index
//     moved back over messages already read (or published). So a head moved back onto the
//     start of the last step is put right, and anywhere else is reported, never replayed.
// No slot needs a stamp: the indices are the only words here besides the messages.
//
// Views. A view holds its slot across calls, so a claim that lived in the consumer's process
// alone would outlive a consumer killed holding it, and its successor would deliver the message
// again. hold() writes the view's step as taken (its `from` and check) and leaves the head: the
// slot stays the consumer's, and a successor finishes that step as a killed consumer's, so the
// message is lost with its holder, never delivered twice. A copying receive needs no such mark:
// what it was copying when killed was never returned, and the successor delivers it.
//
// Batches. try_push_n copies as many messages as fit now and publishes them all with one store
// of the tail; try_pop_n copies up to as many as asked and gives their slots back with one store
// of the head. So the consumer releases space lazily, once per batch rather than per message,
// and the endpoint rings a bell at most once per batch (after the attempt). The rule that keeps
// a producer asleep on a full ring from missing its wake-up: a batch's head store is made in the
// call that read the batch, before that call returns, and before the endpoint's notify() looks
// for sleepers (doorbell.hpp: a sleeper lists itself, then looks at the head once more, so
// either it sees the new head or the notify sees it listed). A consumer that kept slots across
// calls to save more stores would break it: the producer would sleep on a store nobody makes.
//
// Loans of several slots (try_claim_run, commit_run). The producer claims a run of free slots
// side by side, up to the ring's wrap (slot N - 1), without touching the tail, and writes them in
// place; commit_run(m) publishes the first m with one store of the tail. The rest were never
// published, so giving them back (abandon, or a producer killed holding them) is nothing at all:
// the next claim starts at the same tail.
//
// Loans across a close. A loan (of one or several) is a send begun, held across calls, and the
// queue may be closed meanwhile: the consumer must wait for it rather than say closed before its
// message. The producer lists the loan's first position in its roster place's pending word
// (hold), and clears it after the commit's (or abandon's) tail store; a consumer that has taken
// everything asks, in recover(), whether a live producer lists the position at the tail, and
// the endpoint's loop then waits (endpoint_core::recover_noting_claims). A send lists nothing.

#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/detail/sync/pending.hpp>
#include <ipckit/error.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>

namespace ipckit::detail {

/// Shared layout:
///   0            tail        written by the producer only
///   +8           tail_check  ~tail, stored just before tail
///   +16          tail_from   tail as it was before its last move, stored before tail_check
///   cache_line   head        written by the consumer only
///   +8           head_check  ~head, stored just before head
///   +16          head_from   head as it was before its last move, stored before head_check
///   2*cache_line slots       T[N], each written by the producer before it publishes tail
template <shm_safe T, std::size_t N>
struct spsc_ring {
    static_assert(N > 0);
    alignas(cache_line) std::atomic<std::uint64_t> tail{0};
    std::atomic<std::uint64_t> tail_check{~std::uint64_t{0}};
    std::atomic<std::uint64_t> tail_from{0};
    alignas(cache_line) std::atomic<std::uint64_t> head{0};
    std::atomic<std::uint64_t> head_check{~std::uint64_t{0}};
    std::atomic<std::uint64_t> head_from{0};
    alignas(cache_line > alignof(T) ? cache_line : alignof(T)) T slots[N];

    /// Whether head and tail, as read, describe a possible state of the ring.
    static constexpr bool consistent(std::uint64_t head, std::uint64_t tail) noexcept {
        return head <= tail && tail - head <= N;
    }

    /// Moves an index (tail or head) from `old` to `v`: where the step starts, its check, then
    /// the index, whose release store publishes what the owner did before (SYNC POINT WRITE;
    /// the callers name what).
    static void advance(std::atomic<std::uint64_t>& index, std::atomic<std::uint64_t>& check,
                        std::atomic<std::uint64_t>& from, std::uint64_t old, std::uint64_t v) noexcept {
        from.store(old, std::memory_order_relaxed);
        check.store(~v, std::memory_order_relaxed);
        index.store(v, std::memory_order_release);
    }

    /// Where an attaching cursor resumes from an index it now owns, its check and where its last
    /// step started, as read with nobody moving them: the index (a clean stop), the end of the
    /// last step (its predecessor was killed between the check and the index, the index still
    /// at the step's start; the caller decides what that step means), or nothing (~0: the
    /// index, its check or its `from` was moved).
    static constexpr std::uint64_t resume(std::uint64_t index, std::uint64_t check, std::uint64_t from) noexcept {
        const std::uint64_t c = ~check;
        return c == index || (c > index && c - index <= N && from == index) ? c : ~std::uint64_t{0};
    }
};

/// Copies k messages from `src` into the ring's slots from slot `at` on, wrapping at N; k <= N.
template <class T, std::size_t N>
void copy_ring(T (&slots)[N], std::uint64_t at, const T* src, std::uint64_t k) noexcept {
    const std::uint64_t first = std::min<std::uint64_t>(k, N - at);
    std::memcpy(static_cast<void*>(&slots[at]), src, first * sizeof(T));
    if (k > first) std::memcpy(static_cast<void*>(&slots[0]), src + first, (k - first) * sizeof(T));
}
/// Copies k messages out of the ring's slots from slot `at` on, wrapping at N, into `out`.
template <class T, std::size_t N>
void copy_ring(T* out, const T (&slots)[N], std::uint64_t at, std::uint64_t k) noexcept {
    const std::uint64_t first = std::min<std::uint64_t>(k, N - at);
    std::memcpy(static_cast<void*>(out), &slots[at], first * sizeof(T));
    if (k > first) std::memcpy(static_cast<void*>(out + first), &slots[0], (k - first) * sizeof(T));
}

/// The producer's cursor. Restricted thread-safe: one thread at a time.
template <shm_safe T, std::size_t N>
class spsc_producer {
public:
    spsc_producer() noexcept = default;
    /// Attaches to `ring`; false if its indices are inconsistent. A predecessor killed between
    /// its two stores of the tail had not published its last message (or batch): those slots
    /// are ours to write again. `pending`, our roster place's word, lists a loan while it is
    /// out (hold); a predecessor killed holding one left it listed, which is cleared here.
    bool attach(spsc_ring<T, N>& ring, std::atomic<std::uint64_t>& pending) noexcept {
        ring_ = &ring;
        pending_ = &pending;
        pending.store(0, std::memory_order_relaxed);
        listed_ = false;
        tail_ = ring.tail.load(std::memory_order_relaxed);
        if (spsc_ring<T, N>::resume(tail_, ring.tail_check.load(std::memory_order_relaxed),
                                    ring.tail_from.load(std::memory_order_relaxed)) == ~std::uint64_t{0})
            return false;
        ring.tail_check.store(~tail_, std::memory_order_relaxed);
        return refresh() == errc::ok;
    }

    /// Claims the next slot for writing in place: ok, would_block (full) or corrupt. No
    /// system call. Nothing is published until commit().
    errc try_claim(ring_ticket<T>& t) noexcept {
        if (tail_ - head_cache_ >= N) {
            if (const errc e = refresh(); e != errc::ok) return e;
            if (tail_ - head_cache_ >= N) return errc::would_block;
        }
        t = {&ring_->slots[tail_ % N], tail_};
        return errc::ok;
    }

    /// Lists the claimed slot (or run), at the tail, in our pending word while a loan holds it
    /// across calls: a consumer that finds the queue closed asks whether a live producer lists
    /// the position it waits at (recover), and waits for the loan rather than say closed before
    /// the message the loan is writing. A send, which claims and publishes in one call, lists
    /// nothing.
    void hold(const ring_ticket<T>&) noexcept {
        // SYNC POINT WRITE: relaxed; READ by the consumer's live_claimant (what it lists is not
        // published yet, so nothing rides on it).
        pending_->store(pending_word(tail_, 1), std::memory_order_relaxed);
        listed_ = true;
    }

    /// Publishes the message written at the claimed slot.
    void commit(const ring_ticket<T>&) noexcept {
        // SYNC POINT WRITE: slots[tail_]; READ by the consumer's acquire load of tail.
        publish(tail_ + 1);
    }
    /// Gives up the claimed slot (or run): it was never published, so there is nothing to undo
    /// but its listing.
    void abandon(const ring_ticket<T>&) noexcept { unlist(); }

    /// Claims a run of up to n (> 0) free slots side by side, from the tail to the ring's wrap
    /// at most, for writing in place: ok (`t.count` of them from t.slot, at least one),
    /// would_block (full) or corrupt. No system call. Nothing is published until commit_run().
    errc try_claim_run(std::size_t n, ring_ticket<T>& t) noexcept {
        if (N - (tail_ - head_cache_) < n) {  // the cached head may be old: look again, as try_push_n does
            if (const errc e = refresh(); e != errc::ok) return e;
            if (tail_ - head_cache_ >= N) return errc::would_block;
        }
        t = {&ring_->slots[tail_ % N], tail_, std::min<std::uint64_t>({n, N - (tail_ - head_cache_), N - tail_ % N})};
        return errc::ok;
    }
    /// Publishes the first m (<= t.count) slots of a claimed run with one store of the tail; the
    /// rest are given back (nothing to undo).
    void commit_run(const ring_ticket<T>&, std::uint64_t m) noexcept {
        if (m == 0) return unlist();
        // SYNC POINT WRITE: slots[tail_ .. tail_+m); READ by the consumer's acquire load of tail.
        publish(tail_ + m);
    }
    /// The claimed run's slots, side by side.
    std::span<T> slots_of(const ring_ticket<T>& t) const noexcept { return {t.slot, static_cast<std::size_t>(t.count)}; }

    /// Publishes a copy of `m`: ok, would_block (full) or corrupt. No system call.
    errc try_push(const T& m) noexcept { return push_copy(*this, m); }

    /// Publishes copies of as many of the n messages at `src` as fit now, in order, with one
    /// store of the tail: ok (`pushed` says how many, at least one), would_block (full; none)
    /// or corrupt. n > 0. No system call.
    errc try_push_n(const T* src, std::size_t n, std::size_t& pushed) noexcept {
        pushed = 0;
        if (N - (tail_ - head_cache_) < n) {
            if (const errc e = refresh(); e != errc::ok) return e;
            if (tail_ - head_cache_ >= N) return errc::would_block;
        }
        const std::uint64_t k = std::min<std::uint64_t>(n, N - (tail_ - head_cache_));
        copy_ring(ring_->slots, tail_ % N, src, k);
        // SYNC POINT WRITE: slots[tail_ .. tail_+k); READ by the consumer's acquire load of tail.
        publish(tail_ + k);
        pushed = static_cast<std::size_t>(k);
        return errc::ok;
    }

    /// Whether a push would not block now (or the ring is corrupt: the push will say so).
    bool has_room() noexcept { return tail_ - head_cache_ < N || refresh() != errc::ok || tail_ - head_cache_ < N; }

    /// Nothing to recover: the single consumer gives its slots back itself, or (a view it held
    /// when killed: hold) leaves its successor the step to finish.
    template <class LiveClaimant>
    bool recover(LiveClaimant&&) noexcept {
        return false;
    }

private:
    /// Moves the tail to `v`, publishing the slots below it, then unlists a loan's claim.
    void publish(std::uint64_t v) noexcept {
        spsc_ring<T, N>::advance(ring_->tail, ring_->tail_check, ring_->tail_from, tail_, v);
        tail_ = v;
        unlist();
    }
    /// Clears our pending word if a loan listed its claim there (hold).
    void unlist() noexcept {
        // SYNC POINT WRITE: release, after the tail's store; READ by the consumer's
        // live_claimant (acquire): a listing seen cleared comes with what the loan published.
        if (listed_) [[unlikely]] {
            listed_ = false;
            pending_->store(0, std::memory_order_release);
        }
    }

    errc refresh() noexcept {
        // SYNC POINT READ: head, paired with the consumer's release store: its reads of the
        // slots it freed are done (and its check of that head, or a newer one, is visible).
        const std::uint64_t head = ring_->head.load(std::memory_order_acquire);
        const std::uint64_t taken = ~ring_->head_check.load(std::memory_order_relaxed);
        // The consumer has taken up to `taken`, which is no less than head and no more than
        // we published: a head beyond it was moved forward, onto messages still unread.
        if (!spsc_ring<T, N>::consistent(head, tail_) || taken < head || taken > tail_) return errc::corrupt;
        head_cache_ = head;
        return errc::ok;
    }

    spsc_ring<T, N>* ring_ = nullptr;
    std::atomic<std::uint64_t>* pending_ = nullptr;
    std::uint64_t tail_ = 0;
    std::uint64_t head_cache_ = 0;
    bool listed_ = false;  ///< hold() listed a loan's claim in *pending_
};

/// The consumer's cursor. Restricted thread-safe: one thread at a time.
template <shm_safe T, std::size_t N>
class spsc_consumer {
public:
    spsc_consumer() noexcept = default;
    /// Attaches to `ring`; false if its indices are inconsistent. A predecessor killed between
    /// its two stores of the head had read its last message (or batch): that step is finished
    /// here, and what it read is gone with it.
    bool attach(spsc_ring<T, N>& ring, std::atomic<std::uint64_t>& /*pending*/) noexcept {
        ring_ = &ring;
        const std::uint64_t head = ring.head.load(std::memory_order_relaxed);
        head_ = spsc_ring<T, N>::resume(head, ring.head_check.load(std::memory_order_relaxed),
                                        ring.head_from.load(std::memory_order_relaxed));
        if (head_ == ~std::uint64_t{0} || refresh() != errc::ok) return false;
        // SYNC POINT WRITE: the predecessor's reads are over; READ by the producer's refresh().
        if (head_ != head) spsc_ring<T, N>::advance(ring.head, ring.head_check, ring.head_from, head, head_);
        return true;
    }

    /// Claims the oldest message for reading in place: ok, would_block (empty) or corrupt. No
    /// system call. The slot stays the consumer's until release().
    errc try_claim(ring_ticket<const T>& t) noexcept {
        if (head_ == tail_cache_) {
            if (const errc e = refresh(); e != errc::ok) return e;
            if (head_ == tail_cache_) return errc::would_block;
        }
        t = {&ring_->slots[head_ % N], head_};
        return errc::ok;
    }

    /// Marks the claimed slot (the head's) as read for a view that holds it across calls,
    /// without giving it back: its step's start and check, not the head (the state of a
    /// consumer killed between the two stores of a step). A successor that attaches while the
    /// view is held finishes that step, so the message dies with the view's holder and is never
    /// delivered twice; the producer reads the check as taken, which is within what it
    /// published, and frees nothing before the head moves.
    void hold(const ring_ticket<const T>&) noexcept {
        ring_->head_from.store(head_, std::memory_order_relaxed);
        ring_->head_check.store(~(head_ + 1), std::memory_order_relaxed);
    }

    /// Gives the claimed slot back to the producer.
    void release(const ring_ticket<const T>&) noexcept {
        // SYNC POINT WRITE: our reads of the slot are done; READ by the producer's refresh().
        free(head_ + 1);
    }

    /// Takes a copy of the oldest message into `out`: ok, would_block (empty) or corrupt.
    errc try_pop(T& out) noexcept { return pop_copy(*this, out); }

    /// Takes copies of up to n of the oldest messages into `out`, in order, and gives their slots
    /// back with one store of the head (the lazy release of the protocol above): ok (`popped`
    /// says how many, at least one), would_block (empty; none) or corrupt. n > 0.
    errc try_pop_n(T* out, std::size_t n, std::size_t& popped) noexcept {
        popped = 0;
        if (tail_cache_ - head_ < n) {
            if (const errc e = refresh(); e != errc::ok) return e;
            if (head_ == tail_cache_) return errc::would_block;
        }
        const std::uint64_t k = std::min<std::uint64_t>(n, tail_cache_ - head_);
        copy_ring(out, ring_->slots, head_ % N, k);
        // SYNC POINT WRITE: our reads of slots[head_ .. head_+k) are done; READ by the
        // producer's refresh(). Made before this call returns, and before the endpoint's
        // notify() looks for a producer asleep on the space bell.
        free(head_ + k);
        popped = static_cast<std::size_t>(k);
        return errc::ok;
    }

    /// Whether a pop would not block now (or the ring is corrupt: the pop will say so).
    bool has_data() noexcept { return head_ != tail_cache_ || refresh() != errc::ok || head_ != tail_cache_; }

    /// Nothing to recover: the single producer publishes a message whole or not at all. But a
    /// loan it holds is listed (spsc_producer::hold): asks live_claimant whether a live
    /// producer lists the position at the tail, which the caller notes (a close then waits for
    /// that loan: endpoint_core::recover_noting_claims). One load, unless it is listed.
    template <class LiveClaimant>
    bool recover(LiveClaimant&& live_claimant) noexcept {
        if (refresh() == errc::ok && head_ == tail_cache_) (void)live_claimant(tail_cache_ + 1);
        return false;
    }

    /// Messages waiting, as far as this consumer knows after a fresh look.
    std::uint64_t available() noexcept {
        (void)refresh();
        return tail_cache_ - head_;
    }

private:
    /// Moves the head to `v`, giving the slots below it back.
    void free(std::uint64_t v) noexcept {
        spsc_ring<T, N>::advance(ring_->head, ring_->head_check, ring_->head_from, head_, v);
        head_ = v;
    }

    errc refresh() noexcept {
        // SYNC POINT READ: tail, paired with the producer's release store: the slots below it
        // are written (and its check of that tail, or a newer one, is visible).
        const std::uint64_t tail = ring_->tail.load(std::memory_order_acquire);
        const std::uint64_t written = ~ring_->tail_check.load(std::memory_order_relaxed);
        // The producer has reached `written`, which is no less than tail and at most N past our
        // head: a tail beyond it was moved forward, over slots never written.
        if (!spsc_ring<T, N>::consistent(head_, tail) || written < tail || written - head_ > N) return errc::corrupt;
        tail_cache_ = tail;
        return errc::ok;
    }

    spsc_ring<T, N>* ring_ = nullptr;
    std::uint64_t head_ = 0;
    std::uint64_t tail_cache_ = 0;
};

// The cursor contract (detail/ring/cursor.hpp), checked on one instance.
static_assert(claiming_producer<spsc_producer<std::uint64_t, 8>, std::uint64_t> &&
                  attaches_to<spsc_producer<std::uint64_t, 8>, spsc_ring<std::uint64_t, 8>, std::atomic<std::uint64_t>>,
              "spsc_producer must meet the producer cursor contract");
static_assert(claiming_consumer<spsc_consumer<std::uint64_t, 8>, std::uint64_t> &&
                  attaches_to<spsc_consumer<std::uint64_t, 8>, spsc_ring<std::uint64_t, 8>, std::atomic<std::uint64_t>>,
              "spsc_consumer must meet the consumer cursor contract");

static_assert(batch_producer<spsc_producer<std::uint64_t, 8>, std::uint64_t> && batch_consumer<spsc_consumer<std::uint64_t, 8>, std::uint64_t>,
              "the ring's cursors must meet the batch contract");
static_assert(view_holding_consumer<spsc_consumer<std::uint64_t, 8>, std::uint64_t> &&
                  loan_holding_producer<spsc_producer<std::uint64_t, 8>, std::uint64_t>,
              "the ring's cursors must mark what they lend: their claims are in their process alone");

}  // namespace ipckit::detail
