#pragma once
// The byte ring that carries variable-size messages (bytes<Max>) in shared memory, for one
// producer or many, and one consumer.
//
// Records. The ring is N bytes, N a multiple of 8. A record is an 8-byte header word followed
// by its payload, padded to a multiple of 8, and always contiguous: a record that would cross
// the end of the ring is preceded by a skip record that fills the rest of the ring (the wrap
// marker) and starts at offset 0. So a receiver can read a record, or lend it out, in place.
// Positions are 64-bit and monotonic; a position's offset in the ring is pos % N, and every
// position is a multiple of 8.
//
//   header word   bits 63..62  kind: 0 none, 1 reserved, 2 message, 3 skip
//                 bits 61..31  field: the payload length in bytes (message), or the record
//                              size in 8-byte units, header included (reserved, skip)
//                 bits 30..0   stamp: (pos / 8 + field + kind * 2^29) mod 2^31
//
// A message's record size is 8 + its length rounded up to 8, exactly (a loan committed short
// leaves the rest of its reservation as a skip record). A skip record carries nothing: a wrap
// marker, an abandoned loan, the rest of a short loan, or what a dead producer left.
//
// The stamp ties a header to the position it was written at and to its own fields, so that a
// header read anywhere else, or changed, does not pass for a record: a tail moved forward finds
// stale records of earlier laps or payload bytes; a header whose length or size was changed
// would send the reader to a position where no record starts. Any header whose stamp is not
// its position's is `corrupt`, and nothing is delivered from it. A record read at a position
// less than 16 GiB from the one it was written at, or whose field differs, always fails the
// check; a word of payload passes it by chance once in 2^31 (and must have a valid kind).
//
// One producer (spsc): the producer writes whole records beyond the tail and publishes them by
// a release store of `tail`, as the SPSC ring for fixed-size messages does. Records below the
// tail are all complete; headers need no commit.
//
// Many producers (mpsc): producers reserve space by CAS on `tail`, then write the record in
// place: header `reserved` (first, so that a recoverer that finds the header still 0 knows
// that nothing at all was written), payload, then the header `message` with a release store
// (the commit). The consumer reads records in ring order and waits at the head until its
// record is committed. Because a record's header is found at a position that some earlier
// record's payload may have covered, the consumer zeroes every record after reading it: free
// space is all zeros, so a header word is 0 until its producer writes it. A record that would
// cross the end of the ring needs two reservations: first the wrap marker (committed at once),
// then the record at offset 0, so a record of up to N bytes always fits in the end.
//
// Crash safety. A producer writes the position it is reserving, plus one, into its roster
// place's `pending` word before its reserving CAS and clears it (release) after the commit.
// A consumer stuck at the head behind a record that is reserved but not committed asks, once
// per liveness interval, recover(live_claimant): if no live producer lists the position as
// pending, the producer died between reserving and committing, and the record becomes a skip
// record. Its size is in the `reserved` header, or, if the producer died before writing even
// that, the reservation is all zeros and runs to the next record boundary: the first non-zero
// word after it (a header some producer wrote), or the first position a live producer is
// reserving, or the tail. Everything between is reserved by dead producers and unwritten.
//
// The consumer keeps `read` beside `head`: the end of what it has taken. It moves `read`
// before it zeroes (mpsc) and moves `head`, and a view (a record lent in place) moves `read` at
// once and `head` only on release. So `read` is always `head`, or the end of the record at
// `head`. A consumer that takes over from a dead one finishes the predecessor's release from
// `head` to `read`; what the dead consumer had taken died with it, as in the fixed-size rings.
// `read` is also the check of `head`: a producer that reads head reads read after it, and a
// head beyond read was moved forward, onto records not yet read (corrupt: the producer would
// overwrite them). A head moved back is put right or reported by the next consumer's attach:
// spsc, `read` must be the end of the (stamped) record at head; mpsc, [head, read) is zero.
//
// Shared memory is not trusted: every index and header is checked before use (head <= tail <=
// head + N, and read <= tail where read leads head; a record lies within one lap of the ring,
// below the tail, and its length fits its size and Max), so that a corrupt or hostile peer makes us return `corrupt`, never
// touch memory outside the ring or a caller's buffer. This file makes no system call.

#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/error.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// The header word of a record, and the sizes of records.
struct bytes_record {
    enum kind : std::uint64_t { none = 0, reserved = 1, message = 2, skip = 3 };

    static constexpr std::size_t header = 8;  ///< bytes of the header word; records are aligned to it
    static constexpr unsigned kind_shift = 62;
    static constexpr unsigned field_shift = 31;
    static constexpr std::uint64_t field_mask = (std::uint64_t{1} << 31) - 1;
    /// The largest record (and ring) the 31-bit size field can describe: 16 GiB.
    static constexpr std::uint64_t max_size = field_mask * header;

    /// The size of the record that carries `length` bytes.
    static constexpr std::uint64_t size_for(std::uint64_t length) noexcept {
        return header + (length + header - 1) / header * header;
    }

    /// The stamp of a header of kind `k` and field `field` at `pos` (see the top of this file).
    static constexpr std::uint64_t stamp(std::uint64_t pos, kind k, std::uint64_t field) noexcept {
        return (pos / header + field + (std::uint64_t{k} << 29)) & field_mask;
    }
    /// The header of a message of `length` bytes at `pos`.
    static constexpr std::uint64_t message_at(std::uint64_t pos, std::uint64_t length) noexcept {
        return make(message, pos, length);
    }
    /// The header of a reserved or skip record of `size` bytes at `pos`.
    static constexpr std::uint64_t record_at(kind k, std::uint64_t pos, std::uint64_t size) noexcept {
        return make(k, pos, size / header);
    }

    static constexpr kind kind_of(std::uint64_t w) noexcept { return static_cast<kind>(w >> kind_shift); }
    static constexpr std::uint64_t field_of(std::uint64_t w) noexcept { return (w >> field_shift) & field_mask; }
    /// Whether `w` is a header written at `pos`: its stamp is that of pos and its own fields.
    static constexpr bool stamped(std::uint64_t w, std::uint64_t pos) noexcept {
        return (w & field_mask) == stamp(pos, kind_of(w), field_of(w));
    }
    /// A message's payload length.
    static constexpr std::uint64_t length_of(std::uint64_t w) noexcept { return field_of(w); }
    /// The size of the record, header included.
    static constexpr std::uint64_t size_of(std::uint64_t w) noexcept {
        return kind_of(w) == message ? size_for(field_of(w)) : field_of(w) * header;
    }

private:
    static constexpr std::uint64_t make(kind k, std::uint64_t pos, std::uint64_t field) noexcept {
        field &= field_mask;
        return (std::uint64_t{k} << kind_shift) | (field << field_shift) | stamp(pos, k, field);
    }
};

/// Shared layout (N bytes of records):
///   0             tail    end of the records reserved (mpsc: claimed by CAS) or published (spsc)
///   cache_line    head    start of the oldest record not yet freed; written by the consumer
///   +8            read    end of what the consumer has taken: head, or the end of the record
///                         at head while the consumer holds it in a view or is freeing it
///   2*cache_line  words   the records, N / 8 words, all zero at creation
template <std::size_t N, bool MultiProducer>
struct bytes_ring {
    static_assert(N >= 16 && N % bytes_record::header == 0,
                  "ipckit::queue<bytes<Max>, bounded<N>>: N is the ring's size in bytes, and must be a multiple of 8 "
                  "of at least 16");
    static_assert(N <= bytes_record::max_size, "ipckit::queue<bytes<Max>, bounded<N>>: a byte ring holds at most 16 GiB");
    static_assert(std::atomic_ref<std::uint64_t>::required_alignment <= alignof(std::uint64_t),
                  "record headers are read in place as atomics");

    static constexpr bool multi_producer = MultiProducer;

    alignas(cache_line) std::atomic<std::uint64_t> tail{0};
    alignas(cache_line) std::atomic<std::uint64_t> head{0};
    std::atomic<std::uint64_t> read{0};
    alignas(cache_line) std::uint64_t words[N / bytes_record::header]{};

    /// The header word of the record at `pos`.
    std::atomic_ref<std::uint64_t> header(std::uint64_t pos) noexcept { return std::atomic_ref(words[offset(pos) / 8]); }
    /// The first byte at `pos` (a record's header) and of its payload, 8 bytes on.
    std::byte* at(std::uint64_t pos) noexcept { return reinterpret_cast<std::byte*>(words) + offset(pos); }
    std::byte* payload(std::uint64_t pos) noexcept { return at(pos) + bytes_record::header; }

    static constexpr std::uint64_t offset(std::uint64_t pos) noexcept { return pos % N; }
    /// The first position of the next lap after `pos`.
    static constexpr std::uint64_t lap_end(std::uint64_t pos) noexcept { return pos - offset(pos) + N; }
    /// Whether head and tail, as read, describe a possible state: in order, at most N apart, and
    /// at record boundaries (multiples of 8: a stamp says pos / 8, so a position off by less
    /// than 8 would pass it).
    static constexpr bool consistent(std::uint64_t head, std::uint64_t tail) noexcept {
        return head <= tail && tail - head <= N && head % bytes_record::header == 0 && tail % bytes_record::header == 0;
    }
    /// Whether [pos, pos + size) is a possible record: aligned, non-empty, within one lap.
    static constexpr bool fits_lap(std::uint64_t pos, std::uint64_t size) noexcept {
        return size >= bytes_record::header && size % bytes_record::header == 0 && pos % bytes_record::header == 0 &&
               size <= N - offset(pos);
    }

    /// Zeroes [from, to), which may run over the end of the ring (at most one lap).
    void zero(std::uint64_t from, std::uint64_t to) noexcept {
        while (from < to) {
            const std::uint64_t stop = std::min(to, lap_end(from));
            std::memset(at(from), 0, stop - from);
            from = stop;
        }
    }
};

/// A reservation a producer holds: what a loan writes into.
struct bytes_reservation {
    std::uint64_t pos = 0;       ///< position of its header
    std::uint64_t size = 0;      ///< bytes reserved, header included
    std::uint64_t capacity = 0;  ///< payload bytes the holder may write
};

/// A message record the consumer has found at the head.
struct bytes_found {
    std::uint64_t pos = 0;     ///< position of its header
    std::uint64_t end = 0;     ///< position after it
    std::uint64_t length = 0;  ///< payload bytes
};

/// A producer's cursor. Restricted thread-safe: one thread at a time. Messages of more than Max
/// bytes, or whose record exceeds N, are the caller's to refuse (too_large) before any call here.
template <std::size_t Max, std::size_t N, bool Multi>
class bytes_producer {
public:
    using ring_type = bytes_ring<N, Multi>;

    /// Attaches to `ring`; reservations are announced in `pending`. False if the indices are
    /// inconsistent.
    bool attach(ring_type& ring, std::atomic<std::uint64_t>& pending) noexcept {
        ring_ = &ring;
        pending_ = &pending;
        loan_out_ = false;
        progressed_ = false;
        if constexpr (!Multi) {
            // The tail is ours; a head read after it is no older, and at most N behind it.
            tail_ = ring.tail.load(std::memory_order_acquire);
            return load_head() == errc::ok && records_end_at_tail();
        } else {
            // head_cache_: no newer than the consumer's head (0 if it kept moving).
            return consistent_now(ring, head_cache_);
        }
    }

    /// Sends `length` bytes from `src`: ok, would_block (no room), in_use (a loan is
    /// outstanding) or corrupt. No system call.
    errc try_send(const std::byte* src, std::size_t length) noexcept {
        if (const errc e = settle(); e != errc::ok) return e;
        const std::uint64_t size = bytes_record::size_for(length);
        std::uint64_t pos = 0;
        if (const errc e = reserve(size, pos); e != errc::ok) return e;
        auto* payload = ring_->payload(pos);
        if constexpr (Multi) {
            if (length != 0) std::memcpy(payload, src, length);
            commit_reserved(*ring_, *pending_, pos, bytes_record::message_at(pos, length));
        } else {
            ring_->header(pos).store(bytes_record::message_at(pos, length), std::memory_order_relaxed);
            if (length != 0) std::memcpy(payload, src, length);
            tail_ = pos + size;
            // SYNC POINT WRITE: the record; READ by the consumer's acquire load of tail.
            ring_->tail.store(tail_, std::memory_order_release);
        }
        return errc::ok;
    }

    /// Reserves room for `capacity` payload bytes, to be written in place and committed later
    /// (commit / abandon below): ok, would_block, in_use or corrupt.
    errc try_loan(std::size_t capacity, bytes_reservation& out) noexcept {
        if (const errc e = settle(); e != errc::ok) return e;
        const std::uint64_t size = bytes_record::size_for(capacity);
        std::uint64_t pos = 0;
        if (const errc e = reserve(size, pos); e != errc::ok) return e;
        // mpsc: reserve() left pending = pos + 1, and it stays until the commit. spsc: pending
        // only marks the loan as outstanding.
        if constexpr (!Multi) pending_->store(pos + 1, std::memory_order_relaxed);
        loan_out_ = true;
        out = {pos, size, capacity};
        return errc::ok;
    }

    /// Publishes the first `length` (<= r.capacity) bytes of a loan. Called by the loan, which
    /// may outlive a move of its endpoint, so it works on the ring alone.
    static void commit(ring_type& ring, std::atomic<std::uint64_t>& pending, const bytes_reservation& r,
                       std::uint64_t length) noexcept {
        const std::uint64_t size = bytes_record::size_for(length);
        if constexpr (Multi) {
            // The rest of the reservation becomes a skip record, published with the message.
            if (size < r.size)
                ring.header(r.pos + size)
                    .store(bytes_record::record_at(bytes_record::skip, r.pos + size, r.size - size), std::memory_order_relaxed);
            commit_reserved(ring, pending, r.pos, bytes_record::message_at(r.pos, length));
        } else {
            ring.header(r.pos).store(bytes_record::message_at(r.pos, length), std::memory_order_relaxed);
            // SYNC POINT WRITE: the record; READ by the consumer's acquire load of tail.
            ring.tail.store(r.pos + size, std::memory_order_release);
            pending.store(0, std::memory_order_relaxed);
        }
    }

    /// Gives a loan back unpublished. mpsc: its space was claimed, so it becomes a skip record.
    static void abandon(ring_type& ring, std::atomic<std::uint64_t>& pending, const bytes_reservation& r) noexcept {
        if constexpr (Multi)
            commit_reserved(ring, pending, r.pos, bytes_record::record_at(bytes_record::skip, r.pos, r.size));
        else
            pending.store(0, std::memory_order_relaxed);
    }

    /// Whether a send of the size last tried would make progress now (or the ring is corrupt:
    /// the send will say so).
    bool has_room() noexcept {
        const std::uint64_t size = want_ != 0 ? want_ : bytes_record::header;
        if constexpr (Multi) {
            const std::uint64_t t = ring_->tail.load(std::memory_order_acquire);
            const std::uint64_t h = ring_->head.load(std::memory_order_acquire);
            if (h > t || t - h > N) return true;
            return t + needed(t, size) - h <= N;
        } else {
            if (loan_out_) return true;
            return room(needed(tail_, size)) != errc::would_block;
        }
    }

    /// The pending word that a loan clears when it is committed or given back.
    std::atomic<std::uint64_t>& pending() noexcept { return *pending_; }

    /// Whether the last call published something although it did not return ok (a wrap
    /// marker): the caller then wakes the consumer all the same. Resets the flag.
    bool take_progress() noexcept { return std::exchange(progressed_, false); }

    /// Nothing to recover: the single consumer frees space in order, and a consumer that
    /// takes over finishes what a dead one had begun (see bytes_consumer::attach).
    template <class LiveClaimant>
    bool recover(LiveClaimant&&) noexcept {
        return false;
    }

private:
    /// Bytes that must be free at the tail to make progress towards a record of `size`: the
    /// record, or first the wrap marker that fills the rest of the lap.
    static constexpr std::uint64_t needed(std::uint64_t tail, std::uint64_t size) noexcept {
        return ring_type::offset(tail) + size > N ? N - ring_type::offset(tail) : size;
    }

    /// ok, or in_use while a loan is outstanding. A loan is outstanding while pending is
    /// set; once it is settled, the spsc producer takes up the tail the loan published.
    errc settle() noexcept {
        if (!loan_out_) return errc::ok;
        if (pending_->load(std::memory_order_acquire) != 0) return errc::in_use;
        loan_out_ = false;
        if constexpr (!Multi) tail_ = ring_->tail.load(std::memory_order_relaxed);
        return errc::ok;
    }

    /// spsc: ok if `need` bytes are free at tail_, else would_block (or corrupt).
    errc room(std::uint64_t need) noexcept {
        if (tail_ + need - head_cache_ <= N) return errc::ok;
        if (const errc e = load_head(); e != errc::ok) return e;
        return tail_ + need - head_cache_ <= N ? errc::ok : errc::would_block;
    }

    /// spsc, on attach: whether the records from head_cache_ on are whole and stamped and the
    /// last one ends at tail_. A tail moved back into a record, or onto one of an earlier lap,
    /// would have us write over records not yet read. Once per attach: a walk of the ring.
    bool records_end_at_tail() noexcept {
        std::uint64_t p = head_cache_;
        while (p < tail_) {
            // SYNC POINT READ: the records below the tail, published by our predecessor's
            // release store of it, which attach() acquired.
            const std::uint64_t w = ring_->header(p).load(std::memory_order_relaxed);
            const auto k = bytes_record::kind_of(w);
            if ((k != bytes_record::message && k != bytes_record::skip) || !bytes_record::stamped(w, p) ||
                !ring_type::fits_lap(p, bytes_record::size_of(w)))
                return false;
            p += bytes_record::size_of(w);
        }
        return p == tail_;
    }

    /// spsc: head_cache_ = the consumer's head, checked against the tail and against `read`.
    errc load_head() noexcept {
        // SYNC POINT READ: head, paired with the consumer's release store: it is done with
        // everything below it (and its `read`, stored before, is visible).
        const std::uint64_t h = ring_->head.load(std::memory_order_acquire);
        const std::uint64_t r = ring_->read.load(std::memory_order_relaxed);
        // The consumer has taken up to r, between head and what we published: a head beyond r
        // was moved forward, onto records it has not read.
        if (!ring_type::consistent(h, tail_) || r < h || r > tail_) return errc::corrupt;
        head_cache_ = h;
        return errc::ok;
    }

    /// Claims [pos, pos + size) for a record, first placing a wrap marker if it would cross the
    /// end of the ring. mpsc: leaves pending = pos + 1 on success, 0 otherwise.
    errc reserve(std::uint64_t size, std::uint64_t& pos) noexcept {
        want_ = size;
        if constexpr (Multi) {
            for (;;) {
                std::uint64_t t = ring_->tail.load(std::memory_order_relaxed);
                if (t % bytes_record::header != 0) return fail(errc::corrupt);
                const std::uint64_t need = needed(t, size);
                if (t < head_cache_ || t + need - head_cache_ > N) {
                    // SYNC POINT READ: head, paired with the consumer's release store after it
                    // zeroed what it freed. Loaded after t, so head <= t unless t is stale.
                    const std::uint64_t h = ring_->head.load(std::memory_order_acquire);
                    if (h > t) {
                        // Others reserved and the consumer freed since t was read; but a tail
                        // read after h is at least h, or the indices are damaged.
                        if (ring_->tail.load(std::memory_order_relaxed) < h) return fail(errc::corrupt);
                        continue;
                    }
                    // `read`, stored before head: a head beyond it was moved forward, onto
                    // records the consumer has not read.
                    if (t - h > N || h < head_cache_ || ring_->read.load(std::memory_order_relaxed) < h)
                        return fail(errc::corrupt);
                    head_cache_ = h;
                    if (t + need - h > N) return fail(errc::would_block);
                }
                // Announced before the claim, and ordered before it by the CAS's release: a
                // recoverer that sees the claim sees this (or this producer's later progress).
                pending_->store(t + 1, std::memory_order_relaxed);
                if (!ring_->tail.compare_exchange_weak(t, t + need, std::memory_order_acq_rel, std::memory_order_relaxed))
                    continue;
                // Past the tail the ring is all zeros (the consumer zeroes what it frees, before
                // the head we checked against). A word here was written before: the tail was
                // moved back over records, which we must not write over.
                if (ring_->header(t).load(std::memory_order_relaxed) != 0) return fail(errc::corrupt);
                if (need == size) {
                    pos = t;
                    // Before any payload: a recoverer that finds the header 0 knows that
                    // nothing of this record was written.
                    ring_->header(t).store(bytes_record::record_at(bytes_record::reserved, t, size), std::memory_order_relaxed);
                    std::atomic_thread_fence(std::memory_order_release);
                    return errc::ok;
                }
                commit_reserved(*ring_, *pending_, t, bytes_record::record_at(bytes_record::skip, t, need));
                progressed_ = true;
            }
        } else {
            const std::uint64_t need = needed(tail_, size);
            if (need != size) {
                if (const errc e = room(need); e != errc::ok) return e;
                ring_->header(tail_).store(bytes_record::record_at(bytes_record::skip, tail_, need), std::memory_order_relaxed);
                tail_ += need;
                // SYNC POINT WRITE: the wrap marker; READ by the consumer's acquire load of tail.
                // Published at once, so that the consumer frees it even if the record must wait.
                ring_->tail.store(tail_, std::memory_order_release);
                progressed_ = true;
            }
            if (const errc e = room(size); e != errc::ok) return e;
            pos = tail_;
            return errc::ok;
        }
    }

    errc fail(errc e) noexcept {
        pending_->store(0, std::memory_order_relaxed);
        return e;
    }

    /// mpsc: publishes the header `word` of the reserved record at `pos` and lets go of it.
    static void commit_reserved(ring_type& ring, std::atomic<std::uint64_t>& pending, std::uint64_t pos,
                                std::uint64_t word) noexcept {
        // SYNC POINT WRITE: the payload; READ by the consumer's acquire load of the header.
        ring.header(pos).store(word, std::memory_order_release);
        // SYNC POINT WRITE: after the commit; READ by a recoverer's live_claimant().
        pending.store(0, std::memory_order_release);
    }

    ring_type* ring_ = nullptr;
    std::atomic<std::uint64_t>* pending_ = nullptr;
    std::uint64_t tail_ = 0;        ///< spsc: the tail, owned here
    std::uint64_t head_cache_ = 0;  ///< a head no newer than the consumer's
    std::uint64_t want_ = 0;        ///< size of the record last tried, for has_room()
    bool loan_out_ = false;
    bool progressed_ = false;
};

/// The consumer's cursor. Restricted thread-safe: one thread at a time.
template <std::size_t Max, std::size_t N, bool Multi>
class bytes_consumer {
public:
    using ring_type = bytes_ring<N, Multi>;

    /// Attaches to `ring`, finishing what a predecessor that died (or let go holding a view)
    /// had begun to free. False if the indices are inconsistent: among them a head moved back
    /// or forward (see `read` at the top of this file).
    bool attach(ring_type& ring, std::atomic<std::uint64_t>& /*pending*/) noexcept {
        ring_ = &ring;
        view_out_ = false;
        progressed_ = false;
        // Nobody else moves head now; tail only grows, and never beyond head + N.
        const std::uint64_t h = ring.head.load(std::memory_order_acquire);
        const std::uint64_t t = ring.tail.load(std::memory_order_acquire);
        const std::uint64_t r = ring.read.load(std::memory_order_acquire);
        if (!ring_type::consistent(h, t) || r < h || r > t || r % bytes_record::header != 0) return false;
        head_ = h;
        tail_cache_ = t;
        if (r > h) {
            if constexpr (Multi) {
                ring.zero(h, r);
            } else {
                // The predecessor was taking the record at h, which must end at r.
                const std::uint64_t w = ring.header(h).load(std::memory_order_relaxed);
                const auto k = bytes_record::kind_of(w);
                if ((k != bytes_record::message && k != bytes_record::skip) || !bytes_record::stamped(w, h) ||
                    !ring_type::fits_lap(h, bytes_record::size_of(w)) || h + bytes_record::size_of(w) != r)
                    return false;
            }
            // SYNC POINT WRITE: the zeroing; READ by the producers' acquire load of head.
            ring.head.store(r, std::memory_order_release);
            head_ = r;
        }
        return true;
    }

    /// Finds the message at the head, freeing skip records on the way: ok, would_block
    /// (empty, or the record at the head is not committed yet), in_use (a view is outstanding)
    /// or corrupt. The message stays until consume() or hold().
    errc peek(bytes_found& out) noexcept {
        if (broken_) return errc::corrupt;
        if (view_out_) {
            if (ring_->read.load(std::memory_order_relaxed) > ring_->head.load(std::memory_order_relaxed))
                return errc::in_use;
            view_out_ = false;
        }
        for (;;) {
            const std::uint64_t h = head_;
            std::uint64_t w;
            if constexpr (Multi) {
                // SYNC POINT READ: the record, paired with its producer's release store of the header.
                w = ring_->header(h).load(std::memory_order_acquire);
                const auto k = bytes_record::kind_of(w);
                if (k == bytes_record::none) return errc::would_block;  // empty, or reserved a moment ago
                if (!bytes_record::stamped(w, h)) return errc::corrupt;
                if (k == bytes_record::reserved)
                    return ring_type::fits_lap(h, bytes_record::size_of(w)) ? errc::would_block : errc::corrupt;
            } else {
                if (h == tail_cache_) {
                    if (const errc e = refresh(); e != errc::ok) return e;
                    if (h == tail_cache_) return errc::would_block;
                }
                w = ring_->header(h).load(std::memory_order_relaxed);
                const auto k = bytes_record::kind_of(w);
                if ((k != bytes_record::message && k != bytes_record::skip) || !bytes_record::stamped(w, h))
                    return errc::corrupt;
            }
            const std::uint64_t size = bytes_record::size_of(w);
            if (!ring_type::fits_lap(h, size)) return errc::corrupt;
            const std::uint64_t end = h + size;
            if (end > tail_cache_) {
                if (const errc e = refresh(); e != errc::ok) return e;
                if (end > tail_cache_) return errc::corrupt;
            }
            if (bytes_record::kind_of(w) == bytes_record::skip) {
                free(h, end);
                progressed_ = true;
                continue;
            }
            const std::uint64_t length = bytes_record::length_of(w);
            if (length > Max) return errc::corrupt;
            out = {h, end, length};
            return errc::ok;
        }
    }

    /// The payload of a message peek() found.
    const std::byte* payload(const bytes_found& f) noexcept { return ring_->payload(f.pos); }

    /// Frees the message peek() found: the next peek looks past it.
    void consume(const bytes_found& f) noexcept { free(f.pos, f.end); }

    /// Keeps the message peek() found in place for a view: the next peek looks past it, but
    /// its bytes are not reused until release().
    void hold(const bytes_found& f) noexcept {
        ring_->read.store(f.end, std::memory_order_relaxed);
        head_ = f.end;
        view_out_ = true;
    }

    /// Frees a held message. Called by the view, which may outlive a move of its endpoint, so
    /// it works on the ring alone.
    static void release(ring_type& ring, const bytes_found& f) noexcept {
        if constexpr (Multi) ring.zero(f.pos, f.end);
        // SYNC POINT WRITE: our reads (and zeroing) of the record are done; READ by producers.
        ring.head.store(f.end, std::memory_order_release);
    }

    /// Whether a peek would find something now (or report corruption, or a view outstanding).
    bool has_data() noexcept {
        if (view_out_ || broken_) return true;
        if constexpr (Multi) {
            const auto k = bytes_record::kind_of(ring_->header(head_).load(std::memory_order_acquire));
            return k != bytes_record::none && k != bytes_record::reserved;
        } else {
            return head_ != tail_cache_ || refresh() != errc::ok || head_ != tail_cache_;
        }
    }

    /// Whether the head is a record that is reserved but not committed (and no view is out):
    /// what recover() may help with. mpsc only; a load of the tail.
    bool stalled() noexcept {
        return Multi && !view_out_ && ring_->tail.load(std::memory_order_acquire) > head_ &&
               bytes_record::kind_of(ring_->header(head_).load(std::memory_order_acquire)) <= bytes_record::reserved;
    }

    /// Whether the last call freed something although it did not return ok (skip records):
    /// the caller then wakes the producers all the same. Resets the flag.
    bool take_progress() noexcept { return std::exchange(progressed_, false); }

    /// Called by a consumer that waits at a record that is reserved but not committed: if the
    /// producer that reserved it died (no live producer lists it as pending), turns it into a
    /// skip record. `live_claimant(pos + 1)` says whether a live producer is reserving or
    /// writing the record at pos. Returns whether it did (or found the ring corrupt, which the
    /// next peek reports). spsc: nothing to do.
    template <class LiveClaimant>
    bool recover(LiveClaimant&& live_claimant) noexcept {
        if constexpr (!Multi) {
            return false;
        } else {
            if (view_out_) return false;
            const std::uint64_t h = head_;
            // SYNC POINT READ: tail, paired with the reserving CASes (a release sequence): the
            // pending words written before them are visible below.
            const std::uint64_t t = ring_->tail.load(std::memory_order_acquire);
            if (h >= t || t - h > N) return false;
            auto header = ring_->header(h);
            std::uint64_t w = header.load(std::memory_order_acquire);
            const auto k = bytes_record::kind_of(w);
            if (k == bytes_record::message || k == bytes_record::skip) return false;
            if (k == bytes_record::reserved && !bytes_record::stamped(w, h)) return false;  // peek() reports it
            if (live_claimant(h + 1)) return false;
            std::uint64_t end;
            if (k == bytes_record::reserved) {
                end = h + bytes_record::size_of(w);
                if (!ring_type::fits_lap(h, end - h) || end > t) return false;  // peek() reports it
            } else {
                // Nothing was written: the reservation runs to the next boundary. A live
                // producer's record in between is named by its pending word (found by the
                // first loop), or has committed since (found by the second scan).
                const std::uint64_t limit = std::min(t, ring_type::lap_end(h));
                end = first_written(h + bytes_record::header, limit);
                for (std::uint64_t s = h + bytes_record::header; s < end; s += bytes_record::header) {
                    if (live_claimant(s + 1)) {
                        end = s;
                        break;
                    }
                }
                end = first_written(h + bytes_record::header, end);
                // What ends the reservation is a header (stamped for where it lies), a live
                // producer's reservation not yet written, or the limit: never a word of payload,
                // which would mean a record whose header was wiped. Skipping it would lose that
                // message without a word.
                const std::uint64_t next = end < limit ? ring_->header(end).load(std::memory_order_acquire) : 0;
                if (next != 0 && !bytes_record::stamped(next, end)) {
                    broken_ = true;
                    return true;
                }
            }
            // A CAS, in case the header changed since it was read.
            return header.compare_exchange_strong(w, bytes_record::record_at(bytes_record::skip, h, end - h),
                                                  std::memory_order_acq_rel, std::memory_order_relaxed);
        }
    }

private:
    errc refresh() noexcept {
        // SYNC POINT READ: tail, paired with the producer's release store (spsc) or the
        // reserving CASes (mpsc).
        const std::uint64_t t = ring_->tail.load(std::memory_order_acquire);
        if (!ring_type::consistent(head_, t)) return errc::corrupt;
        tail_cache_ = t;
        return errc::ok;
    }

    void free(std::uint64_t pos, std::uint64_t end) noexcept {
        // `read` first: a producer reads it after head (see the top of this file), and mpsc,
        // ordered before the zeroing, a successor that finds the record zeroed knows from
        // `read` where to resume.
        ring_->read.store(end, std::memory_order_relaxed);
        if constexpr (Multi) {
            std::atomic_thread_fence(std::memory_order_release);
            ring_->zero(pos, end);
        }
        head_ = end;
        // SYNC POINT WRITE: our reads (and zeroing) of the record are done; READ by producers.
        ring_->head.store(end, std::memory_order_release);
    }

    /// The position of the first non-zero word in [from, to), or `to`.
    std::uint64_t first_written(std::uint64_t from, std::uint64_t to) noexcept {
        for (; from < to; from += bytes_record::header)
            if (ring_->header(from).load(std::memory_order_acquire) != 0) return from;
        return to;
    }

    ring_type* ring_ = nullptr;
    std::uint64_t head_ = 0;  ///< the next record to look at
    std::uint64_t tail_cache_ = 0;
    bool view_out_ = false;
    bool progressed_ = false;
    bool broken_ = false;  ///< recover() found a record without its header: every peek is corrupt
};

// The cursor contract (detail/ring/cursor.hpp), checked on one instance of each. Records are
// claimed by size (try_loan / peek), not as slots of a type, so not claiming_producer/consumer.
static_assert(producer_cursor<bytes_producer<64, 1024, true>> && producer_cursor<bytes_producer<64, 1024, false>> &&
                  attaches_to<bytes_producer<64, 1024, true>, bytes_ring<1024, true>, std::atomic<std::uint64_t>>,
              "bytes_producer must meet the producer cursor contract");
static_assert(consumer_cursor<bytes_consumer<64, 1024, true>> && consumer_cursor<bytes_consumer<64, 1024, false>> &&
                  attaches_to<bytes_consumer<64, 1024, true>, bytes_ring<1024, true>, std::atomic<std::uint64_t>>,
              "bytes_consumer must meet the consumer cursor contract");

}  // namespace ipckit::detail
