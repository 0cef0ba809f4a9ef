#pragma once
// The chain of chunks behind an unbounded queue, one or many producers and one consumer: its
// protocol, its layout in shared memory, and what its cursors (chain_producer.hpp,
// chain_consumer.hpp) need from the outside world.
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
//   - a producer between claim and publish: as in detail/ring/mpmc.hpp, it listed pos + 1 in its roster
//     place's `pending` before claiming; a consumer stuck on the empty slot marks it dead once
//     no live process lists it (recover()).
//   - a producer while creating a chunk: `grower` still names it; the next producer that needs
//     the chunk finds that process dead, takes `grower` over by CAS and creates the chunk again
//     (removing whatever the dead one left under its name).
//   - the consumer anywhere: head and first_live are in shared memory; a new consumer goes on
//     from head and first removes the chunks the dead one had read but not yet removed.
//
// The chain's cursors make no system call. Chunks are created, mapped and removed by a `Chunks`
// object the caller supplies (detail/chain/chunk_store.hpp), which also answers "is this process
// alive?".
//
// Shared memory is not trusted: every index read is checked against the invariant above before
// use, slots are addressed as pos % S within a chunk that was validated on mapping, and a state
// word other than empty, full or dead is `corrupt`.

#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/error.hpp>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

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

/// A chunk_source that is declared only: what the cursors are checked against the cursor
/// contract with (chain_producer.hpp, chain_consumer.hpp).
template <class Chunk>
struct chunk_source_archetype {
    Chunk* mapped(std::uint64_t) noexcept;
    errc open(std::uint64_t) noexcept;
    errc create(std::uint64_t) noexcept;
    void drop() noexcept;
    void remove(std::uint64_t) noexcept;
    bool alive(std::uint64_t) noexcept;
};

}  // namespace ipckit::detail
