#pragma once
// The chain of chunks behind an unbounded queue: one or many producers, one consumer.
//
// Messages take global, monotonic positions 0, 1, 2, ... Chunk k (a segment of its own) holds
// positions k*S .. k*S + S-1 in its S slots, each written once and read once, so a chunk is an
// append-only log rather than a ring: nothing is ever overwritten, and a fresh chunk is all
// zeros, which is what an empty slot is. The control block in the queue's head segment says
// where the chain stands:
//
//     first_live <= head / S  <=  tail / S  <=  chunk_next         (and tail <= chunk_next * S)
//
//   chunk_next  chunks 0 .. chunk_next-1 have been created; a position may be claimed only in
//               one of them. Exactly one producer creates the next chunk: the one whose CAS
//               takes `grower` (idle -> its process id). The others wait for it, which is not
//               waiting for space: the sender never waits for the consumer.
//   first_live  chunks below it have been read to the end and removed by the consumer. The
//               chunks that exist are within [first_live, chunk_next], so the cap is kept by
//               checking (k + 1 - first_live) * chunk_bytes <= cap before creating chunk k:
//               no counter to leak when a process dies half-way.
//   tail        the next position to claim (CAS among producers, a store for one).
//   head        the next position to read; the consumer's alone.
//
// A slot's state word: empty (0) -> full (1, the producer's release store after its copy),
// or empty -> dead (2, a consumer's CAS for a producer that died between its claim and its
// publish). The consumer reads positions in order, skips dead ones, and removes a chunk as soon
// as it has read its last position.
//
// Stamps. Beside the state, each slot has a stamp of the position written there (never 0,
// which a fresh chunk holds), stored with release after the message and before `full`. The
// consumer reads a full slot only if its stamp is its position's; a recoverer that finds an
// empty state over the stamp of its position knows that the message was written whole (its
// producer died between the two stores, or the state was scribbled back to empty) and
// publishes it instead of marking it dead. A producer writes only a slot whose state is empty:
// a tail moved back would otherwise rewrite messages not yet read. The consumer's head has a
// check word, its complement, stored just before it: a consumer that attaches finds ~check ==
// head (a clean stop), head + 1 (its predecessor was killed between the two stores, after it
// had read that position: the step is finished), or else a head that was moved (corrupt), so
// that no message is read twice.
//
// Processes that die:
//   - a producer between claim and publish: as in mpmc.hpp, it listed pos + 1 in its roster
//     place's `pending` before claiming; a consumer stuck on the empty slot marks it dead once
//     no live process lists it (recover()).
//   - a producer while creating a chunk: `grower` still names it; the next producer that needs
//     the chunk finds that process dead, takes `grower` over by CAS and creates the chunk again
//     (removing whatever the dead one left under its name).
//   - the consumer anywhere: head and first_live are in shared memory; a new consumer goes on
//     from head and first removes the chunks the dead one had read but not yet removed.
//
// This file makes no system call. Chunks are created, mapped and removed by a `Chunks` object
// the caller supplies (detail/chain/chunk_store.hpp), which also answers "is this process alive?".
//
// Shared memory is not trusted: every index read is checked against the invariant above before
// use, slots are addressed as pos % S within a chunk that was validated on mapping, and a state
// word other than empty, full or dead is `corrupt`.

#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/error.hpp>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// Where an unbounded queue's chain stands; the first thing in its head segment's body. Its
/// layout depends on nothing (message type, chunk size, producers), so that the chunks of any
/// unbounded queue can be found and removed from its head alone.
///
///   0              magic         "ipkchain"
///   8              version
///   12             mode          permission bits the chunks are created with
///   16             base          chunk k is the segment "<queue name>.<base + k>"
///   24             cap           most bytes the chunks may take at once
///   32             chunk_bytes   size of each chunk segment, header included
///   40             slots         S, messages per chunk
///   cache_line     grower        idle, retired, or the packed id of the process creating a chunk
///   +8             chunk_next    chunks below it were created (written by the grower)
///   2*cache_line   tail          next position to claim (producers)
///   3*cache_line   head          next position to read (the consumer)
///   +8             first_live    chunks below it were removed (the consumer)
///   +16            head_check    ~head, stored just before head (the consumer)
struct chain_control {
    static constexpr std::uint64_t magic_value = 0x6e69'6168'636b'7069ULL;  // "ipkchain" little-endian
    static constexpr std::uint32_t current_version = 2;  // 2: slot stamps and head_check
    /// grower: nobody is creating a chunk. (A packed process id is never 0 or 1.)
    static constexpr std::uint64_t idle = 0;
    /// grower: the queue has been removed (or its owner has gone); no chunk is created any more.
    static constexpr std::uint64_t retired = 1;

    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t mode;
    std::uint64_t base;
    std::uint64_t cap;
    std::uint64_t chunk_bytes;
    std::uint64_t slots;
    alignas(cache_line) std::atomic<std::uint64_t> grower{idle};
    std::atomic<std::uint64_t> chunk_next{0};
    alignas(cache_line) std::atomic<std::uint64_t> tail{0};
    alignas(cache_line) std::atomic<std::uint64_t> head{0};
    std::atomic<std::uint64_t> first_live{0};
    std::atomic<std::uint64_t> head_check{~std::uint64_t{0}};

    /// How many chunks the cap allows at once.
    [[nodiscard]] std::uint64_t max_chunks() const noexcept { return chunk_bytes == 0 ? 0 : cap / chunk_bytes; }

    /// Whether indices read in this order (first_live, head, tail, chunk_next, first_live again:
    /// each only grows, so reading in this order keeps the inequalities however the others
    /// move meanwhile) describe a possible chain. The chunks in [first_live, chunk_next) never
    /// outnumber the cap, which only the second look at first_live can check. Also bounds
    /// chunk_next so that chunk_next * S cannot overflow.
    [[nodiscard]] bool consistent(std::uint64_t first, std::uint64_t hd, std::uint64_t tl, std::uint64_t next,
                                  std::uint64_t first_again) const noexcept {
        return slots != 0 && next <= (std::uint64_t{1} << 62) / slots && first <= hd / slots && hd <= tl &&
               tl <= next * slots && first <= first_again &&
               next - std::min(first_again, next) <= max_chunks();  // first_again may be past `next` by now
    }
};
static_assert(std::is_standard_layout_v<chain_control> && sizeof(chain_control) == 4 * cache_line,
              "chain_control is a fixed layout that every unbounded queue shares");

/// What a chunk says about itself, so that a mapping of the wrong object is noticed.
struct chunk_control {
    static constexpr std::uint64_t magic_value = 0x6b6e'7568'636b'7069ULL;  // "ipkchunk" little-endian
    std::uint64_t magic;
    std::uint64_t base;   ///< the chain's base: which incarnation of the queue it belongs to
    std::uint64_t index;  ///< k
};

template <shm_safe T>
struct chain_slot {
    enum : std::uint32_t { empty = 0, full = 1, dead = 2 };
    std::atomic<std::uint32_t> state;
    std::atomic<std::uint32_t> stamp;  ///< stamp_of(pos) once the message of pos is written; 0 before
    T value;

    /// What the stamp of position `pos` is: its remainder mod 2^32 - 1, plus one, so never 0.
    static constexpr std::uint32_t stamp_of(std::uint64_t pos) noexcept {
        return static_cast<std::uint32_t>(pos % 0xffff'ffffULL) + 1;
    }
};

/// The body of chunk k. Created zero-filled (posix_fallocate), so every slot starts empty and
/// only `control` is written at creation.
///   0            control
///   cache_line   slots   chain_slot<T>[S]: position k*S + i is slots[i]
template <shm_safe T, std::size_t S>
struct chain_chunk {
    static_assert(S > 0);
    alignas(cache_line) chunk_control control;
    alignas(cache_line > alignof(chain_slot<T>) ? cache_line : alignof(chain_slot<T>)) chain_slot<T> slots[S];
};
static_assert(std::is_standard_layout_v<chunk_control> && std::is_trivially_copyable_v<chunk_control>);
static_assert(std::is_standard_layout_v<chain_chunk<std::uint64_t, 1>>,
              "a chunk is a plain layout of words that every process reads the same way");

/// How many messages fit in a chunk of ChunkBytes bytes after a segment header of HeaderBytes.
template <shm_safe T, std::size_t ChunkBytes, std::size_t HeaderBytes>
inline constexpr std::size_t chain_slots_per_chunk = [] {
    constexpr std::size_t align = cache_line > alignof(chain_slot<T>) ? cache_line : alignof(chain_slot<T>);
    constexpr std::size_t fixed = HeaderBytes + align_up(sizeof(chunk_control), align);
    if constexpr (ChunkBytes <= fixed) {
        return std::size_t{0};
    } else {
        std::size_t s = (ChunkBytes - fixed) / sizeof(chain_slot<T>);
        // The struct's tail padding counts too.
        while (s > 0 && HeaderBytes + align_up(fixed - HeaderBytes + s * sizeof(chain_slot<T>), align) > ChunkBytes)
            --s;
        return s;
    }
}();

/// What the cursors need from the outside world, one mapped chunk at a time. Every member is
/// noexcept and reports OS failures as an errc.
template <class C, class Chunk>
concept chunk_source = requires(C& c, std::uint64_t k) {
    { c.mapped(k) } noexcept -> std::same_as<Chunk*>;  ///< chunk k if it is the one mapped, else nullptr
    { c.open(k) } noexcept -> std::same_as<errc>;      ///< maps existing chunk k instead (not_found if gone)
    { c.create(k) } noexcept -> std::same_as<errc>;    ///< creates chunk k, replacing a leftover, and maps it
    { c.drop() } noexcept;                             ///< unmaps the chunk mapped
    { c.remove(k) } noexcept;                          ///< removes chunk k's name (no error if gone)
    { c.alive(k) } noexcept -> std::same_as<bool>;     ///< whether the process with this packed id runs
};

/// A producer's cursor. Restricted thread-safe: one thread at a time. `Multi`: other producers
/// exist, so positions are claimed by CAS.
template <shm_safe T, std::size_t S, bool Multi, class Chunks>
    requires chunk_source<Chunks, chain_chunk<T, S>>
class chain_producer {
public:
    explicit chain_producer(Chunks chunks) noexcept : chunks_(std::move(chunks)) {}

    /// Attaches to `c` as process `me` (packed id), claiming through `pending`; false if the
    /// chain's indices are inconsistent.
    bool attach(chain_control& c, std::atomic<std::uint64_t>& pending, std::uint64_t me) noexcept {
        c_ = &c;
        pending_ = &pending;
        me_ = me;
        const std::uint64_t first = c.first_live.load(std::memory_order_acquire);
        const std::uint64_t hd = c.head.load(std::memory_order_acquire);
        tail_ = c.tail.load(std::memory_order_acquire);
        const std::uint64_t next = c.chunk_next.load(std::memory_order_acquire);
        return c.slots == S && c.consistent(first, hd, tail_, next, c.first_live.load(std::memory_order_acquire));
    }

    /// Appends `m`: ok; closed (the queue was removed); no_space (the cap is reached);
    /// would_block (another live producer is creating the chunk we need: see busy_grower());
    /// corrupt; or the OS's errc from creating a chunk. Makes system calls only to create or
    /// map a chunk, once per chunk.
    errc try_push(const T& m) noexcept {
        grew_ = false;
        for (;;) {
            std::uint64_t pos = Multi ? c_->tail.load(std::memory_order_acquire) : tail_;
            // SYNC POINT READ: chunk_next, paired with the grower's release store: the chunk exists.
            const std::uint64_t next = c_->chunk_next.load(std::memory_order_acquire);
            if (next > (std::uint64_t{1} << 62) / S || pos > next * S) return errc::corrupt;
            const std::uint64_t k = pos / S;
            if (k == next) {
                if (const errc e = grow(k); e != errc::ok) return e;
                continue;
            }
            chain_chunk<T, S>* chunk = chunks_.mapped(k);
            if (chunk == nullptr) {
                const errc e = chunks_.open(k);
                if (e == errc::not_found) {
                    // Removed: once every position in it was read, so the tail has moved on and
                    // another producer claimed the rest. A single producer's own tail cannot
                    // have moved: only a scribbled shared tail says so, and looking again would
                    // loop for ever on the same chunk.
                    if (Multi && c_->tail.load(std::memory_order_acquire) / S != k) continue;
                    return c_->grower.load(std::memory_order_acquire) == chain_control::retired ? errc::closed
                                                                                               : errc::corrupt;
                }
                if (e != errc::ok) return e;
                chunk = chunks_.mapped(k);
            }
            pending_->store(pos + 1, std::memory_order_relaxed);  // ordered before the claim by its release
            if constexpr (Multi) {
                // SYNC POINT WRITE: pending; READ by a recoverer's acquire load of tail.
                if (!c_->tail.compare_exchange_strong(pos, pos + 1, std::memory_order_acq_rel,
                                                      std::memory_order_relaxed)) {
                    // Not ours: list nothing, or a dead claimant of pos could never be recovered
                    // while we wait elsewhere.
                    pending_->store(0, std::memory_order_relaxed);
                    continue;
                }
            } else {
                // SYNC POINT WRITE: pending; READ by a recoverer's acquire load of tail.
                c_->tail.store(pos + 1, std::memory_order_release);
                tail_ = pos + 1;
            }
            auto& slot = chunk->slots[pos % S];
            if (slot.state.load(std::memory_order_relaxed) != chain_slot<T>::empty) {
                // Written before: the tail was moved back over it. Ours now, and not to write.
                pending_->store(0, std::memory_order_relaxed);
                return errc::corrupt;
            }
            std::memcpy(static_cast<void*>(&slot.value), &m, sizeof(T));
            // SYNC POINT WRITE: value; READ by a recoverer's acquire load of the stamp.
            slot.stamp.store(chain_slot<T>::stamp_of(pos), std::memory_order_release);
            // SYNC POINT WRITE: value; READ by the consumer's acquire load of state.
            slot.state.store(chain_slot<T>::full, std::memory_order_release);
            // SYNC POINT WRITE: after the publish; READ by a recoverer's live_claimant().
            pending_->store(0, std::memory_order_release);
            if (pos % S == S - 1) chunks_.drop();  // its last position: nobody writes it again
            return errc::ok;
        }
    }

    /// Whether a push might not would_block now: after a would_block, once the grower it found
    /// busy has let go of `grower` or published the chunk. Loads only.
    bool has_room() noexcept {
        return c_->grower.load(std::memory_order_acquire) != busy_ ||
               c_->chunk_next.load(std::memory_order_acquire) != awaited_;
    }

    /// Nothing to recover here: the consumer claims nothing, and a grower that died is taken
    /// over by the next try_push that needs its chunk.
    template <class LiveClaimant>
    bool recover(LiveClaimant&&) noexcept {
        return false;
    }

    /// After would_block: the process that holds `grower`, and the chunk it is creating.
    [[nodiscard]] std::uint64_t busy_grower() const noexcept { return busy_; }
    [[nodiscard]] std::uint64_t awaited_chunk() const noexcept { return awaited_; }
    /// Whether the last try_push let go of `grower` (others waiting for it should look again).
    [[nodiscard]] bool grew() const noexcept { return grew_; }

private:
    /// Creates chunk k (== chunk_next as read), or finds that someone else did: ok, then the
    /// caller looks again. Exactly one producer at a time holds `grower` while it creates.
    errc grow(std::uint64_t k) noexcept {
        std::uint64_t g = c_->grower.load(std::memory_order_acquire);
        for (;;) {
            if (g == chain_control::retired) return errc::closed;
            if (c_->chunk_next.load(std::memory_order_acquire) != k) return errc::ok;  // someone else did
            if (g == chain_control::idle) {
                // SYNC POINT WRITE/READ: acq_rel, so we see what the previous grower published.
                if (c_->grower.compare_exchange_weak(g, me_, std::memory_order_acq_rel, std::memory_order_acquire))
                    break;
                continue;
            }
            if (chunks_.alive(g)) {  // a system call; only on the way to a new chunk
                busy_ = g;
                awaited_ = k;
                return errc::would_block;
            }
            // It died in the middle: take over (a CAS, so that one of several takes it).
            if (c_->grower.compare_exchange_strong(g, me_, std::memory_order_acq_rel, std::memory_order_acquire))
                break;
        }
        errc e = errc::ok;
        // chunk_next may have moved between our look and our CAS: look again while we hold it.
        if (c_->chunk_next.load(std::memory_order_acquire) == k) {
            const std::uint64_t first = c_->first_live.load(std::memory_order_acquire);
            if (first > k)
                e = errc::corrupt;
            else if (k + 1 - first > c_->max_chunks())
                e = errc::no_space;
            else
                e = chunks_.create(k);
            // SYNC POINT WRITE: chunk k exists; READ by everyone's acquire load of chunk_next.
            if (e == errc::ok) c_->chunk_next.store(k + 1, std::memory_order_release);
        }
        // Fails only if a remover retired the chain meanwhile: that stays.
        // SYNC POINT WRITE: chunk_next and the chunk; READ by the next grower's acq_rel CAS and
        // by retire_chain's.
        std::uint64_t mine = me_;
        c_->grower.compare_exchange_strong(mine, chain_control::idle, std::memory_order_acq_rel,
                                           std::memory_order_relaxed);
        grew_ = true;
        return e;
    }

    Chunks chunks_;
    chain_control* c_ = nullptr;
    std::atomic<std::uint64_t>* pending_ = nullptr;
    std::uint64_t me_ = 0;
    std::uint64_t tail_ = 0;  // single producer: tail, which only it writes
    std::uint64_t busy_ = 0;
    std::uint64_t awaited_ = 0;
    bool grew_ = false;
};

/// The consumer's cursor. Restricted thread-safe: one thread at a time, and one consumer per
/// chain (its roster has one place).
template <shm_safe T, std::size_t S, class Chunks>
    requires chunk_source<Chunks, chain_chunk<T, S>>
class chain_consumer {
public:
    explicit chain_consumer(Chunks chunks) noexcept : chunks_(std::move(chunks)) {}

    /// Attaches to `c`; false if its indices are inconsistent. Removes the chunks a previous
    /// consumer read to the end but was killed before removing.
    /// (A single consumer claims nothing, so it has no use for a pending word, nor for its id.)
    bool attach(chain_control& c, std::atomic<std::uint64_t>& /*pending*/, std::uint64_t /*me*/) noexcept {
        c_ = &c;
        const std::uint64_t first = c.first_live.load(std::memory_order_acquire);
        const std::uint64_t hd = c.head.load(std::memory_order_acquire);
        const std::uint64_t tl = c.tail.load(std::memory_order_acquire);
        // first_live and head are ours alone now: one look at each is enough. A head that is
        // not its check's (nor one short of it: see the top of this file) was moved.
        const std::uint64_t taken = ~c.head_check.load(std::memory_order_acquire);
        if (taken != hd && taken != hd + 1) return false;
        head_ = taken;
        if (c.slots != S || !c.consistent(first, head_, tl, c.chunk_next.load(std::memory_order_acquire), first))
            return false;
        // SYNC POINT WRITE: the predecessor's last read is over; READ by a consumer that takes over.
        if (head_ != hd) advance_head();
        for (std::uint64_t k = first; k < head_ / S; ++k) chunks_.remove(k);
        // SYNC POINT WRITE: those chunks are gone; READ by a grower's cap check.
        c.first_live.store(head_ / S, std::memory_order_release);
        return true;
    }

    /// Takes the oldest message into `out`: ok, would_block (empty), closed (a chunk it needs
    /// was removed with the queue) or corrupt. Skips dead positions. Makes system calls only
    /// to map the next chunk and remove the one it has finished, once per chunk.
    errc try_pop(T& out) noexcept {
        for (;;) {
            const std::uint64_t k = head_ / S;
            chain_chunk<T, S>* chunk = chunks_.mapped(k);
            if (chunk == nullptr) {
                // SYNC POINT READ: chunk_next, paired with the grower's release store.
                const std::uint64_t next = c_->chunk_next.load(std::memory_order_acquire);
                if (k >= next) return k > next ? errc::corrupt : errc::would_block;
                const errc e = chunks_.open(k);
                if (e == errc::not_found)
                    return c_->grower.load(std::memory_order_acquire) == chain_control::retired ? errc::closed
                                                                                               : errc::corrupt;
                if (e != errc::ok) return e;
                chunk = chunks_.mapped(k);
            }
            auto& slot = chunk->slots[head_ % S];
            // SYNC POINT READ: state, paired with the producer's release store: value is written.
            const std::uint32_t st = slot.state.load(std::memory_order_acquire);
            if (st == chain_slot<T>::empty) return errc::would_block;
            // The stamp agrees with the state: full holds the message of this position, dead does
            // not (a message written whole is published, never marked dead: see recover()).
            const bool whole = slot.stamp.load(std::memory_order_relaxed) == chain_slot<T>::stamp_of(head_);
            if (st == chain_slot<T>::full && whole)
                std::memcpy(static_cast<void*>(&out), &slot.value, sizeof(T));
            else if (st != chain_slot<T>::dead || whole)
                return errc::corrupt;
            ++head_;
            // SYNC POINT WRITE: head; READ by a consumer that takes over, and by size().
            advance_head();
            if (head_ % S == 0) {
                // Read to the end: nobody needs it any more.
                chunks_.drop();
                chunks_.remove(k);
                // SYNC POINT WRITE: chunk k is gone; READ by a grower's cap check.
                c_->first_live.store(k + 1, std::memory_order_release);
            }
            if (st == chain_slot<T>::full) return errc::ok;
        }
    }

    /// Whether a pop would not block now. No system call.
    bool has_data() noexcept {
        chain_chunk<T, S>* chunk = chunks_.mapped(head_ / S);
        if (chunk == nullptr) return head_ / S < c_->chunk_next.load(std::memory_order_acquire);  // to be mapped
        return chunk->slots[head_ % S].state.load(std::memory_order_acquire) != chain_slot<T>::empty;
    }

    /// Called by a consumer stuck on an empty slot: finishes each position from the head on
    /// that a producer claimed (the tail moved past it) and left unpublished, when no live
    /// process lists it as pending: marks it dead, or publishes its message if it was written
    /// whole. Stops at the first one a live producer is writing, or at a published one.
    /// Returns whether it finished any.
    template <class LiveClaimant>
    bool recover(LiveClaimant&& live_claimant) noexcept {
        chain_chunk<T, S>* chunk = chunks_.mapped(head_ / S);
        if (chunk == nullptr) return false;
        // SYNC POINT READ: tail, paired with the claimant's CAS: its pending word is visible.
        const std::uint64_t tl = c_->tail.load(std::memory_order_acquire);
        bool any = false;
        for (std::uint64_t pos = head_; pos < tl && pos / S == head_ / S; ++pos) {
            auto& slot = chunk->slots[pos % S];
            std::uint32_t st = slot.state.load(std::memory_order_acquire);
            if (st != chain_slot<T>::empty || live_claimant(pos + 1)) break;
            // SYNC POINT READ: stamp, paired with the producer's release store: value is written.
            const bool whole = slot.stamp.load(std::memory_order_acquire) == chain_slot<T>::stamp_of(pos);
            // The CAS, from empty, meets one of these:
            //   1. No stamp of pos: the producer died before its message was whole: dead, skipped.
            //   2. The stamp of pos: the whole message was written and the publish that follows
            //      its stamp is missing (its producer died between the two stores, or the state
            //      was put back to empty by a scribble): publish it, as its producer was about to.
            //   3. The CAS fails: the producer published meanwhile: stop here.
            // SYNC POINT WRITE (case 2): value, re-published; READ by our acquire load of state.
            if (!slot.state.compare_exchange_strong(st, whole ? chain_slot<T>::full : chain_slot<T>::dead,
                                                    std::memory_order_acq_rel))
                break;
            any = true;
        }
        return any;
    }

private:
    /// Publishes head_: its check first, then head (a release store: our reads are done).
    void advance_head() noexcept {
        c_->head_check.store(~head_, std::memory_order_relaxed);
        c_->head.store(head_, std::memory_order_release);
    }

    Chunks chunks_;
    chain_control* c_ = nullptr;
    std::uint64_t head_ = 0;
};

/// A chunk_source that is declared only: what the cursor contract is checked with below.
template <class Chunk>
struct chunk_source_archetype {
    Chunk* mapped(std::uint64_t) noexcept;
    errc open(std::uint64_t) noexcept;
    errc create(std::uint64_t) noexcept;
    void drop() noexcept;
    void remove(std::uint64_t) noexcept;
    bool alive(std::uint64_t) noexcept;
};

// The cursor contract (detail/ring/cursor.hpp): a chain pushes and pops whole messages, so its
// cursors meet the loop's part of it, not the slot claim's.
static_assert(producer_cursor<chain_producer<std::uint64_t, 4, true, chunk_source_archetype<chain_chunk<std::uint64_t, 4>>>> &&
                  attaches_to<chain_producer<std::uint64_t, 4, false, chunk_source_archetype<chain_chunk<std::uint64_t, 4>>>,
                              chain_control, std::atomic<std::uint64_t>, std::uint64_t>,
              "chain_producer must meet the producer cursor contract");
static_assert(consumer_cursor<chain_consumer<std::uint64_t, 4, chunk_source_archetype<chain_chunk<std::uint64_t, 4>>>> &&
                  attaches_to<chain_consumer<std::uint64_t, 4, chunk_source_archetype<chain_chunk<std::uint64_t, 4>>>,
                              chain_control, std::atomic<std::uint64_t>, std::uint64_t>,
              "chain_consumer must meet the consumer cursor contract");

}  // namespace ipckit::detail
