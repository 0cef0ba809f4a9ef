#pragma once
// The consumer's cursor of the byte ring: finds the message at the head, copies it out or holds
// it in place for a view, frees records in ring order, and recovers the records of producers
// that died between reserving and committing. The records, their stamps, the consumer's `read`
// word and the recovery protocol are described at the top of detail/ring/bytes.hpp.

#include <ipckit/detail/ring/bytes.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/error.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace ipckit::detail {

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
        // Nobody else moves head now; tail only grows (but for a producer's shrink, never below
        // a record not yet read), and never beyond head + N.
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
                // The predecessor was taking the records from h (one, or a batch's run), the
                // last of which must end at r; and h must be where that run started, or head
                // was moved back over records already read.
                if (ring.run_from.load(std::memory_order_relaxed) != h) return false;
                std::uint64_t p = h;
                while (p < r) {
                    const std::uint64_t w = ring.header(p).load(std::memory_order_relaxed);
                    const auto k = bytes_record::kind_of(w);
                    if ((k != bytes_record::message && k != bytes_record::skip) || !bytes_record::stamped(w, p) ||
                        !ring_type::fits_lap(p, bytes_record::size_of(w)))
                        return false;
                    p += bytes_record::size_of(w);
                }
                if (p != r) return false;
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
        if (const errc e = settled(); e != errc::ok) return e;
        for (;;) {
            bool skip = false;
            if (const errc e = look(head_, out, skip); e != errc::ok) return e;
            if (!skip) return errc::ok;
            free(out.pos, out.end);
            progressed_ = true;
        }
    }

    /// Takes messages from the head, oldest first, while take(payload) returns ok for them and
    /// there are any (skip records between are passed), and frees all it passed with one store
    /// of the head, before it returns (see "Batches" at the top of detail/ring/bytes.hpp).
    /// Counts in `got` those taken: ok where one or more were, else what peek() would have said,
    /// or what take returned for the first (that message stays at the head).
    template <class Take>
    errc take_n(Take&& take, std::size_t& got) noexcept {
        got = 0;
        if (const errc e = settled(); e != errc::ok) return e;
        const std::uint64_t from = head_;
        std::uint64_t p = from;
        errc e = errc::ok;
        for (;;) {
            // A lap past where this call began is the tail at the most (head + N): what lies
            // there are the records this call has read, not yet freed (mpsc zeroes them only at
            // the end), which look() would take for stale ones (corrupt). Skip records alone can
            // fill a lap (a loan of the whole ring given back).
            if (p - from == N) {
                e = errc::would_block;
                break;
            }
            bytes_found f;
            bool skip = false;
            if (e = look(p, f, skip); e != errc::ok) break;
            if (!skip) {
                if (e = take(std::span<const std::byte>(ring_->payload(f.pos), static_cast<std::size_t>(f.length)));
                    e != errc::ok)
                    break;
                ++got;
            }
            p = f.end;
        }
        if (p != from) {
            free(from, p);
            if (got == 0) progressed_ = true;  // skip records alone
        }
        return got > 0 ? errc::ok : e;
    }

    /// The payload of a message peek() found.
    const std::byte* payload(const bytes_found& f) noexcept { return ring_->payload(f.pos); }

    /// Frees the message peek() found: the next peek looks past it.
    void consume(const bytes_found& f) noexcept { free(f.pos, f.end); }

    /// Keeps the message peek() found in place for a view: the next peek looks past it, but
    /// its bytes are not reused until release().
    void hold(const bytes_found& f) noexcept {
        ring_->run_from.store(f.pos, std::memory_order_relaxed);
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
                if (!ring_type::fits_lap(h, end - h)) return false;  // peek() reports it
                if (end > t) {
                    // A sound ring's tail is at or past the end of every reservation (a claim
                    // moves it there; only the last reservation's own producer moves it back, to
                    // its record's shorter end), and this one's producer is gone: nobody moves
                    // either word now. Damage, which peek() cannot tell from a reservation being
                    // made, so it would wait for ever: reported, unless a word moved meanwhile.
                    if (header.load(std::memory_order_acquire) != w ||
                        ring_->tail.load(std::memory_order_acquire) != t)
                        return false;
                    broken_ = true;
                    return true;
                }
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
                // Unless the producer that held the claim at h, which live_claimant found done,
                // wrote it since the header was read: its pending word, cleared after its commit
                // and read (acquire) before this, makes that commit visible here.
                const std::uint64_t next = end < limit ? ring_->header(end).load(std::memory_order_acquire) : 0;
                if (next != 0 && !bytes_record::stamped(next, end)) {
                    if (header.load(std::memory_order_acquire) != w) return false;  // the next peek reads it
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
    /// ok, or why the cursor cannot look at the head: corrupt, or in_use while a view is out.
    errc settled() noexcept {
        if (broken_) return errc::corrupt;
        if (view_out_) {
            if (ring_->read.load(std::memory_order_relaxed) > ring_->head.load(std::memory_order_relaxed))
                return errc::in_use;
            view_out_ = false;
        }
        return errc::ok;
    }

    /// The record at `h` (head_, or where a batch has read to), checked: a message, or a skip
    /// record (`skip`) to pass; would_block where there is none yet, or corrupt.
    errc look(std::uint64_t h, bytes_found& out, bool& skip) noexcept {
        std::uint64_t w;
        if constexpr (Multi) {
            // SYNC POINT READ: the record, paired with its producer's release store of the
            // header (of the first record of its run, which it stores after the rest of the run).
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
        skip = bytes_record::kind_of(w) == bytes_record::skip;
        const std::uint64_t length = skip ? 0 : bytes_record::length_of(w);
        if (length > Max) return errc::corrupt;
        out = {h, end, length};
        return errc::ok;
    }

    errc refresh() noexcept {
        // SYNC POINT READ: tail, paired with the producer's release store (spsc) or the
        // reserving CASes (mpsc).
        const std::uint64_t t = ring_->tail.load(std::memory_order_acquire);
        if (!ring_type::consistent(head_, t)) return errc::corrupt;
        tail_cache_ = t;
        return errc::ok;
    }

    void free(std::uint64_t pos, std::uint64_t end) noexcept {
        // `read` first (after the start of the run it ends, for a successor's check): a
        // producer reads it after head (see the top of this file), and mpsc, ordered before the
        // zeroing, a successor that finds the record zeroed knows from `read` where to resume.
        ring_->run_from.store(pos, std::memory_order_relaxed);
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

// The cursor contract (detail/ring/cursor.hpp). Records are taken by size (peek / consume /
// hold), not as slots of a type, so not claiming_consumer.
static_assert(consumer_cursor<bytes_consumer<64, 1024, true>> && consumer_cursor<bytes_consumer<64, 1024, false>> &&
                  attaches_to<bytes_consumer<64, 1024, true>, bytes_ring<1024, true>, std::atomic<std::uint64_t>>,
              "bytes_consumer must meet the consumer cursor contract");

}  // namespace ipckit::detail
