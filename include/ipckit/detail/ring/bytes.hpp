#pragma once
// The byte ring that carries variable-size messages (bytes<Max>) in shared memory, for one
// producer or many, and one consumer: its records, their protocol and its layout. The cursors
// that follow the protocol are in bytes_producer.hpp and bytes_consumer.hpp.
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
// gives the rest of its reservation back, or leaves it as a skip record: see "Loans of records"). A skip record carries nothing: a wrap
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
// spsc, `read` must be the end of the (stamped) records from head, and `run_from` head; mpsc,
// [head, read) is zero. `run_from` is where the run being freed starts (stored before `read`):
// a batch frees several records with one store of each, so the records from head to read alone
// cannot tell a consumer killed between its two stores from a head moved back over records
// already read; the start of the run can (only a head moved back onto exactly that start is
// taken for the former, and put right with nothing replayed).
//
// Batches. A producer's try_send_n writes a run of records and publishes it once. spsc: it
// writes every record that fits (a wrap marker among them), then stores the tail once. mpsc: it
// claims the run with one CAS of the tail, as far as the lap and the free space it last saw
// reach (a run never crosses the end of the ring; the rest of the batch takes another claim,
// after the wrap marker), and announces only the run's first position in `pending`. The
// `reserved` header it writes at that position, before any payload, has the size of the whole
// run; it then writes the other records whole (headers and payloads) and stores the first
// header last, with release: the consumer reads no record of the run before that store, and
// every record after it is visible then (it was written before it). So a producer that dies
// part way leaves one reserved record the size of the run, which a recoverer skips whole, with
// the same `pending` check as for one record: what it published before (earlier runs) is
// delivered, nothing of the run. The consumer's take_n copies out every message there is (and
// that its caller takes), freeing them and the skip records among them with one store of
// `read` and one of `head`, mpsc after zeroing them all. The wake-up rule (as for the fixed-size
// rings, spsc.hpp's "Batches"): that head store is made in the call that read the batch, before
// it returns, and so before the endpoint's notify() looks for sleepers; a consumer that kept
// records across calls would leave a producer asleep on a store nobody makes. With batches
// `read` may be the end of several records past head, so a successor's check of it (spsc) walks
// the stamped records from head to read. A take_n reads at most one lap from where it began:
// the tail is there at the most, and (mpsc) what lies there is the records it read itself, not
// yet zeroed.
//
// Loans of records. A producer's try_loan_run reserves a run as a batch does (one claim, mpsc;
// a wrap marker first where the least it lends does not fit in the lap), but lends it to be
// written in place: records one after another from its start (place() for every header but
// the first's), and then published with one index publication, publish_run: spsc, a store of
// the tail at the end of the last record (the rest of the run was never published); mpsc, the
// first header, with release, as a batch's. mpsc, the rest of the run, claimed but not used,
// must not hold up the other producers: if the tail is still the run's end (nobody has claimed
// after it), the producer zeroes what it wrote there, makes its reserved header cover the
// records alone (a release store: who finds that header looks past it next, at the zeroes),
// and moves the tail back to their end by CAS (shrink) - the one move of the tail backwards,
// which no reader can tell from the claim having been that short (the records below it are
// reserved, so the consumer is not past the run, and a recoverer's scan stops at that non-zero
// header), but for one that read the tail before the CAS and walks records claimed after it:
// they may run past that tail (an inspector reads again). The tail never comes back to the
// run's end once another producer claimed from there: that claim's own shrink stops past its
// start, so a shrink's CAS has no ABA. Else the rest becomes a skip record, published with the
// records. A loan of one message committed short gives back the rest of its reservation the
// same way.
// A holder killed part way is a producer killed mid-batch: mpsc, its one reserved record, the
// size of the run and pending in its roster place, is skipped whole; spsc, nothing past the tail
// was published. Given back unpublished (abandon), nothing of it is delivered.
//
// Shared memory is not trusted: every index and header is checked before use (head <= tail <=
// head + N, and read <= tail where read leads head; a record lies within one lap of the ring,
// below the tail, and its length fits its size and Max), so that a corrupt or hostile peer
// makes us return `corrupt`, never touch memory outside the ring or a caller's buffer. The byte
// ring's files make no system call.

#include <ipckit/detail/shm/layout.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

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
///   +16           run_from  head as it was when read last moved: the start of that run
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
    std::atomic<std::uint64_t> run_from{0};
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

}  // namespace ipckit::detail
