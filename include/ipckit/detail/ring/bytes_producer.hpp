#pragma once
// The producer's cursor of the byte ring: sends whole records, or lends room for one in place
// (a loan) and commits or abandons it later. The records, their stamps and the protocol that
// this cursor follows with one producer or many (reserve by CAS, announce in `pending`, commit
// by a release store of the header) are described at the top of detail/ring/bytes.hpp.

#include <ipckit/detail/ring/bytes.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/error.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>

namespace ipckit::detail {

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

    /// Sends the messages from `next` to `end` (each a std::span<const std::byte>), as many as
    /// fit now, in order, moving `next` past each one sent and counting it in `n`: ok where one
    /// or more were sent (or none was asked), else what try_send would have said for the first.
    /// spsc: writes them all, then publishes them with one store of the tail. mpsc: claims a run
    /// of them with one CAS, as far as the lap and the free space reach (more runs past the end
    /// of the lap), writes it, and commits it with one store of its first header (see "Batches"
    /// at the top of detail/ring/bytes.hpp). No system call.
    template <class It>
    errc try_send_n(It& next, It end, std::size_t& n) noexcept {
        n = 0;
        if (const errc e = settle(); e != errc::ok) return e;
        if constexpr (Multi) {
            while (next != end) {
                const std::uint64_t size = bytes_record::size_for((*next).size());
                // The records after the first that fit in `room` bytes more: the rest of the run.
                auto extend = [&next, end](std::uint64_t room) noexcept {
                    std::uint64_t extra = 0;
                    It i = next;
                    for (++i; i != end; ++i) {
                        const std::uint64_t s = bytes_record::size_for((*i).size());
                        if (s > room - extra) break;
                        extra += s;
                    }
                    return extra;
                };
                std::uint64_t pos = 0;
                std::uint64_t claimed = 0;
                if (const errc e = reserve(size, pos, claimed, extend); e != errc::ok) return n > 0 ? errc::ok : e;
                // The records after the first, whole; then the first's payload and its header,
                // which commits the run (a consumer reads no further until it is committed).
                const std::span<const std::byte> first = *next;
                ++next;
                ++n;
                for (std::uint64_t p = pos + size; p < pos + claimed; ++next, ++n) {
                    const std::span<const std::byte> m = *next;
                    place(*ring_, p, m.size());
                    if (!m.empty()) std::memcpy(ring_->payload(p), m.data(), m.size());
                    p += bytes_record::size_for(m.size());
                }
                if (!first.empty()) std::memcpy(ring_->payload(pos), first.data(), first.size());
                publish_run(*ring_, *pending_, {pos, claimed, 0}, first.size(), pos + claimed, pos + claimed);
            }
            return errc::ok;
        } else {
            const std::uint64_t published = tail_;
            errc e = errc::ok;
            for (; next != end; ++next, ++n) {
                const std::span<const std::byte> m = *next;
                const std::uint64_t size = bytes_record::size_for(m.size());
                want_ = size;
                const std::uint64_t need = needed(tail_, size);
                if (need != size) {
                    // The wrap marker, published with the records (or alone, if none follows).
                    if (e = room(need); e != errc::ok) break;
                    ring_->header(tail_).store(bytes_record::record_at(bytes_record::skip, tail_, need), std::memory_order_relaxed);
                    tail_ += need;
                }
                if (e = room(size); e != errc::ok) break;
                place(*ring_, tail_, m.size());
                if (!m.empty()) std::memcpy(ring_->payload(tail_), m.data(), m.size());
                tail_ += size;
            }
            if (tail_ != published) {
                // SYNC POINT WRITE: every record of the batch; READ by the consumer's acquire load
                // of tail. Once per call.
                ring_->tail.store(tail_, std::memory_order_release);
                if (n == 0) progressed_ = true;  // a wrap marker alone
            }
            return n > 0 || e == errc::ok ? errc::ok : e;
        }
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

    /// Reserves a run of room for several records, written in place and published together
    /// later (a loan of records: place / publish_run / abandon below): at least `least` bytes
    /// (a multiple of 8, at most N), and as many more up to `most` as are free, side by side, in
    /// this lap as last seen. A wrap marker goes first where `least` does not fit in the rest of
    /// the lap. out.size is the run's bytes. ok, would_block, in_use or corrupt.
    errc try_loan_run(std::uint64_t least, std::uint64_t most, bytes_reservation& out) noexcept {
        if (const errc e = settle(); e != errc::ok) return e;
        std::uint64_t pos = 0;
        std::uint64_t claimed = 0;
        const auto extend = [more = most - least](std::uint64_t room) noexcept { return std::min(room, more); };
        if (const errc e = reserve(least, pos, claimed, extend); e != errc::ok) return e;
        if constexpr (!Multi) pending_->store(pos + 1, std::memory_order_relaxed);  // as try_loan's
        loan_out_ = true;
        out = {pos, claimed, claimed - bytes_record::header};
        return errc::ok;
    }

    /// Publishes the first `length` (<= r.capacity) bytes of a loan. Called by the loan, which
    /// may outlive a move of its endpoint, so it works on the ring alone.
    static void commit(ring_type& ring, std::atomic<std::uint64_t>& pending, const bytes_reservation& r,
                       std::uint64_t length) noexcept {
        publish_run(ring, pending, r, length, r.pos + bytes_record::size_for(length), r.pos + r.size);
    }

    /// Writes the header of a message of `length` bytes at `p`, in a run of records (a batch's,
    /// or a loan of records') published together later; mpsc, never the run's first record,
    /// whose header is what publishes the run. Its payload may be written before or after.
    static void place(ring_type& ring, std::uint64_t p, std::uint64_t length) noexcept {
        // SYNC POINT WRITE: relaxed, published with the run (mpsc: the release store of its
        // first header, in publish_run; spsc: of the tail); READ by the consumer's acquire load
        // of that, made before it reads this header.
        ring.header(p).store(bytes_record::message_at(p, length), std::memory_order_relaxed);
    }

    /// Publishes the records written in the run `r` (a loan's or a batch's reservation) that lie
    /// in [r.pos, end): the first, at r.pos, a message of `first` bytes whose header is written
    /// here, the others written whole before (place). The rest of the run, [end, r.pos + r.size),
    /// is not sent: spsc, it was never published (it lies beyond the tail); mpsc, it was claimed,
    /// and goes back as unclaimed if nobody has claimed after the run (shrink), else becomes a
    /// skip record published with the records. `written`: the end of what the holder may have
    /// written in the run (>= end). One index publication: mpsc, the release store of the first
    /// header (see "Batches" at the top of detail/ring/bytes.hpp); spsc, of the tail. end ==
    /// r.pos (no record): the run is given back, as abandon does. Called by a loan, which may
    /// outlive a move of its endpoint, so it works on the ring alone.
    static void publish_run(ring_type& ring, std::atomic<std::uint64_t>& pending, const bytes_reservation& r,
                            std::uint64_t first, std::uint64_t end, std::uint64_t written) noexcept {
        if (end == r.pos) return abandon(ring, pending, r);
        if constexpr (Multi) {
            if (end < r.pos + r.size && !shrink(ring, r, end, written))
                ring.header(end).store(bytes_record::record_at(bytes_record::skip, end, r.pos + r.size - end),
                                       std::memory_order_relaxed);
            commit_reserved(ring, pending, r.pos, bytes_record::message_at(r.pos, first));
        } else {
            ring.header(r.pos).store(bytes_record::message_at(r.pos, first), std::memory_order_relaxed);
            // SYNC POINT WRITE: the records; READ by the consumer's acquire load of tail.
            ring.tail.store(end, std::memory_order_release);
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
        std::uint64_t claimed = 0;
        return reserve(size, pos, claimed, [](std::uint64_t) noexcept { return std::uint64_t{0}; });
    }
    /// As reserve(size, pos), claiming `claimed` bytes from pos: the record's `size` and
    /// extend(room) more (at most `room`: what is left of the lap and of the free space as last
    /// seen), for the records of a batch or of a loan of records that follow it in the same run.
    /// spsc claims nothing (the tail is its own): `claimed` is only the room counted free.
    template <class Extend>
    errc reserve(std::uint64_t size, std::uint64_t& pos, std::uint64_t& claimed, Extend&& extend) noexcept {
        want_ = size;
        claimed = size;
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
                // A run: the record and those of the batch that follow it in this lap and fit.
                const std::uint64_t run =
                    need == size ? size + extend(std::min(ring_type::lap_end(t), head_cache_ + N) - (t + size)) : need;
                // Announced before the claim, and ordered before it by the CAS's release: a
                // recoverer that sees the claim sees this (or this producer's later progress).
                pending_->store(t + 1, std::memory_order_relaxed);
                if (!ring_->tail.compare_exchange_weak(t, t + run, std::memory_order_acq_rel, std::memory_order_relaxed))
                    continue;
                // Past the tail the ring is all zeros (the consumer zeroes what it frees, before
                // the head we checked against). A word here was written before: the tail was
                // moved back over records, which we must not write over.
                if (ring_->header(t).load(std::memory_order_relaxed) != 0) return fail(errc::corrupt);
                if (need == size) {
                    pos = t;
                    claimed = run;
                    // Before any payload: a recoverer that finds the header 0 knows that
                    // nothing of this record was written. It covers the whole run, which a
                    // recoverer then skips whole.
                    ring_->header(t).store(bytes_record::record_at(bytes_record::reserved, t, run), std::memory_order_relaxed);
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
            claimed = size + extend(std::min(ring_type::lap_end(pos), head_cache_ + N) - (pos + size));
            return errc::ok;
        }
    }

    errc fail(errc e) noexcept {
        pending_->store(0, std::memory_order_relaxed);
        return e;
    }

    /// mpsc: gives back [end, r.pos + r.size), the unused rest of the claimed run r (end >
    /// r.pos), by moving the tail back to `end`, where the tail is still the run's end: nobody
    /// has claimed after it. What the holder wrote there, up to `written`, is zeroed first (free
    /// space is all zeros), and the run's reserved header made to cover [r.pos, end) alone, so
    /// that a recoverer that finds this holder dead later skips no record claimed from `end`.
    /// Whether it did; if not, the rest stays claimed, and the caller makes it a skip record. The
    /// tail moves back only here (see "Loans of records" at the top of detail/ring/bytes.hpp).
    static bool shrink(ring_type& ring, const bytes_reservation& r, std::uint64_t end, std::uint64_t written) noexcept {
        std::uint64_t t = r.pos + r.size;
        if (ring.tail.load(std::memory_order_relaxed) != t) return false;
        ring.zero(end, std::min(written, t));
        // SYNC POINT WRITE: the zeroes; READ by whoever finds this header and then looks at
        // `end` without the tail's help: a recoverer (acquire load of the header) once this
        // holder is dead, an inspector walking the records with a tail read before the CAS.
        // Relaxed, either could find the new size and, at `end`, what the holder wrote there.
        ring.header(r.pos).store(bytes_record::record_at(bytes_record::reserved, r.pos, end - r.pos), std::memory_order_release);
        // SYNC POINT WRITE: the zeroes and the header above, by the CAS's release; READ by the
        // next claimant's CAS of the tail (acq_rel), and a recoverer's acquire load of it.
        // The CAS: (1) it succeeds: nobody claimed since the run, and the rest is free again;
        // (2) it fails: another producer claimed after the run (the tail only grew since: it is
        // at least t while the run is claimed, so no ABA), and the rest stays ours to skip. The
        // header already covers [r.pos, end) only, which the skip record at `end` then follows.
        return ring.tail.compare_exchange_strong(t, end, std::memory_order_acq_rel, std::memory_order_relaxed);
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

// The cursor contract (detail/ring/cursor.hpp). Records are claimed by size (try_loan), not as
// slots of a type, so not claiming_producer.
static_assert(producer_cursor<bytes_producer<64, 1024, true>> && producer_cursor<bytes_producer<64, 1024, false>> &&
                  attaches_to<bytes_producer<64, 1024, true>, bytes_ring<1024, true>, std::atomic<std::uint64_t>>,
              "bytes_producer must meet the producer cursor contract");

}  // namespace ipckit::detail
