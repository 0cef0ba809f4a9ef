#pragma once
// Unbounded queues of fixed-size messages: the seed's "unlimited buffer", where the producer
// never waits and the consumer waits while the buffer is empty. One or many producers, one
// consumer.
//
// Segments. The queue's own segment `name` (the head) holds the control block of the chain
// (detail/chain/chunk_ring.hpp), the rosters of senders and receiver, and two doorbells. Messages
// live in chunks: segments `name.<seq>` of ChunkBytes bytes each, created one after another
// by the senders as they fill up (exactly one sender creates each), read in order by the
// receiver, which removes each chunk as soon as it has read its last message. So memory comes
// back as it is consumed, and when the receiver has caught up at most one chunk is left.
//
// The cap. A chunk is created only while the chunks alive stay within options::unbounded_cap
// bytes (by default a quarter of the space free in /dev/shm when the queue is created; the
// value is kept in the head, so every process applies the same one). Past it, a send returns
// no_space and writes nothing; once the receiver has freed a chunk, sends succeed again.
// Chunks are created through segment::create, so storage is reserved with posix_fallocate: a
// full /dev/shm is no_space at creation, never a SIGBUS.
//
// Names. seq is base + k for the k-th chunk, where base is drawn at random when the queue is
// created: an earlier queue of the same name that processes still use (after Q::remove, or
// after its process_owned owner died) cannot collide with this one's chunks. A queue name
// must leave room for the suffix: at most max_name_length - 21 characters.
//
// Sending never waits for the receiver. It may wait, briefly, for another sender that is
// creating the chunk it needs (a blocking sender waits, within its deadline if it has one; a
// non-blocking sender returns would_block then). Otherwise a send returns ok, no_space (the
// cap), closed (the queue was removed; or, on a process_owned queue, every receiver that came
// has closed its endpoint: filling the cap for a reader that said it will not read would only
// waste memory), corrupt, or, rarely, the OS's reason for failing to create a chunk
// (system_error, permission_denied). A receiver that was killed does not stop the senders, nor
// does one that closed a system_owned queue (which outlives its users by design): what they
// send waits for the next receiver, up to the cap.
//
// Receiving: as the bounded queues: blocking (with deadlines) or not; closed or peer_dead
// only after every message sent before has been received.
//
// Ownership. process_owned: when the owning process's last handle or endpoint of the queue goes
// (whichever thread had it, however it was opened), the head and every chunk are removed; if
// the process dies, the next create removes them. system_owned: they stay until Q::remove(name),
// which removes the chunks too (ipckit::remove_segment(name) removes only the head and leaves
// the chunks).
// Removing either way retires the chain first: from then on no chunk is created, senders
// still attached get closed when they need a new chunk, and the receiver gets closed when it
// reaches a removed chunk. A create that replaces a process_owned queue whose owner died also
// removes that queue's chunks.
//
// Processes killed at any point: see detail/chain/chunk_ring.hpp. A sender killed while creating a
// chunk is taken over by the next sender; one killed between claiming a position and
// publishing it costs that message only (the receiver skips it); a receiver killed at any
// point is replaced by the next receiver, which goes on from where it had got to and removes
// what it had read but not yet removed.
//
// Memory: a sender keeps the chunk it writes into mapped until it moves on to the next one or
// closes, so a chunk the receiver has removed may stay in memory (not in /dev/shm's listing)
// while a sender that wrote into it idles: at most one chunk per sender.

#include <ipckit/detail/endpoint/exception_errc.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/chain/chunk_ring.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// Characters a chunk's name adds to its queue's: '.' and up to 20 digits.
inline constexpr std::size_t chunk_suffix_length = 21;

/// What every process with a handle on one queue needs to name, create and check its chunks.
struct chain_info {
    std::string name;     ///< the queue's name
    std::string element;  ///< the message type, as chunk descriptions spell it
    std::uint64_t base;   ///< chunk k is "<name>.<base + k>"
    std::size_t chunk_bytes;
    std::size_t slots;
    options chunk_options;  ///< the options chunks are created and opened with (mode from the head)

    [[nodiscard]] std::string chunk_name(std::uint64_t k) const { return name + "." + std::to_string(base + k); }
    [[nodiscard]] segment_layout chunk_layout(std::uint64_t k) const {
        return {"ipckit::unbounded chunk " + std::to_string(base + k) + " of queue '" + name + "' of " + element +
                    ", " + std::to_string(slots) + " per chunk",
                chunk_bytes};
    }
};

/// What a chunk's description (chain_info::chunk_layout) says: its number, and its queue's name
/// when the description is whole (a header keeps 200 characters of it, and a queue's name may
/// take 179). nullopt if `d` is not a chunk's description.
struct chunk_fields {
    std::uint64_t seq = 0;
    std::optional<std::string> queue;
};
inline std::optional<chunk_fields> parse_chunk_description(std::string_view d) {
    constexpr std::string_view start = "ipckit::unbounded chunk ";
    constexpr std::string_view of_queue = " of queue '";
    if (d.substr(0, start.size()) != start) return std::nullopt;
    d.remove_prefix(start.size());
    const auto space = d.find(of_queue);
    const auto seq = space == std::string_view::npos ? std::nullopt : parse_decimal(d.substr(0, space));
    if (!seq) return std::nullopt;
    chunk_fields f{*seq, std::nullopt};
    d.remove_prefix(space + of_queue.size());
    if (const auto quote = d.find("' of "); quote != std::string_view::npos) f.queue = std::string(d.substr(0, quote));
    return f;
}

/// Removes the chunk segment called `chunk`, if it is there. Never throws.
inline void remove_chunk(const std::string& chunk) noexcept {
    try {
        sys::shm_remove(os_name(chunk));
    } catch (...) {  // not ours to remove (EACCES...): nothing better to do on the way out
    }
}

/// The chunk_source of a cursor: the one chunk it has mapped, and the system calls that
/// create, open and remove chunks, as errcs. Each cursor has its own.
template <class Chunk>
class chunk_store {
public:
    explicit chunk_store(std::shared_ptr<const chain_info> info) noexcept : info_(std::move(info)) {}

    Chunk* mapped(std::uint64_t k) noexcept {
        return seg_ != nullptr && k_ == k ? static_cast<Chunk*>(seg_->body()) : nullptr;
    }

    errc open(std::uint64_t k) noexcept {
        drop();
        return guarded([&] {
            auto s = std::make_unique<segment>(
                segment::open(info_->chunk_name(k), info_->chunk_layout(k), info_->chunk_options));
            const auto& c = static_cast<const Chunk*>(s->body())->control;
            if (c.magic != chunk_control::magic_value || c.base != info_->base || c.index != k) return errc::corrupt;
            seg_ = std::move(s);
            k_ = k;
            return errc::ok;
        });
    }

    errc create(std::uint64_t k) noexcept {
        drop();
        for (int attempt = 0;; ++attempt) {
            const errc e = guarded([&] {
                const std::uint64_t base = info_->base;
                seg_ = std::make_unique<segment>(segment::create<system_owned>(
                    info_->chunk_name(k), info_->chunk_layout(k), info_->chunk_options, [&](void* body) {
                        // The rest is zero, as posix_fallocate left it: every slot empty.
                        ::new (body) chunk_control{chunk_control::magic_value, base, k};
                    }));
                k_ = k;
                return errc::ok;
            });
            // Whoever creates chunk k holds the chain's grower word, and chunk names are unique
            // to this queue: what is there already was left by a grower that died after
            // creating it. Replace it, once.
            if (e != errc::already_exists || attempt > 0) return e;
            remove(k);
        }
    }

    void drop() noexcept { seg_.reset(); }

    void remove(std::uint64_t k) noexcept {
        try {
            remove_chunk(info_->chunk_name(k));
        } catch (...) {  // bad_alloc building the name
        }
    }

    bool alive(std::uint64_t packed) noexcept { return sys::is_alive(sys::process_id::unpack(packed)); }

private:
    template <class F>
    static errc guarded(F&& f) noexcept {
        try {
            return f();
        } catch (...) {
            // Another layout under a chunk's name is not a chunk of ours.
            const errc e = current_exception_errc();
            return e == errc::incompatible_layout ? errc::corrupt : e;
        }
    }

    std::shared_ptr<const chain_info> info_;
    std::unique_ptr<segment> seg_;
    std::uint64_t k_ = 0;
};

/// Retires the chain of queue `name` and removes its chunks: after it, no process creates a
/// chunk of it. Waits (up to `patience`) for a live process that is creating a chunk to finish,
/// so that its chunk is removed too. Never throws.
inline void retire_chain(chain_control& c, const std::string& name, std::chrono::milliseconds patience) noexcept {
    const auto deadline = clock::now() + patience;
    for (;;) {
        std::uint64_t g = c.grower.load(std::memory_order_acquire);
        if (g == chain_control::retired) break;
        if (g == chain_control::idle || !sys::is_alive(sys::process_id::unpack(g)) || clock::now() >= deadline) {
            // SYNC POINT WRITE/READ: acq_rel, paired with the last grower's release of the word:
            // its chunk_next is visible below.
            if (c.grower.compare_exchange_strong(g, chain_control::retired, std::memory_order_acq_rel)) break;
            continue;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a live grower: a moment
    }
    const std::uint64_t first = c.first_live.load(std::memory_order_acquire);
    const std::uint64_t next = c.chunk_next.load(std::memory_order_acquire);
    // Shared memory is not trusted: only a plausible range is walked. Chunk `next` is included:
    // a grower that died may have left it unpublished.
    if (next < first || next - first > std::min<std::uint64_t>(c.max_chunks() + 1, std::uint64_t{1} << 24)) return;
    try {
        for (std::uint64_t k = first; k <= next; ++k) remove_chunk(name + "." + std::to_string(c.base + k));
    } catch (...) {  // bad_alloc building a name
    }
}

/// Runs fn(control, header) on the segment open as `f` if it is a ready ipckit segment whose
/// header passes check_header() and whose body starts with an unbounded queue's chain (of any
/// message type); false if it is not one, or cannot be trusted to be one.
template <class Fn>
bool with_raw_chain(const sys::file& f, const std::string& what, Fn&& fn) {
    constexpr std::size_t need = header_size + sizeof(chain_control);
    const auto size = static_cast<std::size_t>(f.status(what).st_size);
    if (size < need) return false;
    sys::mapping m(f, need, what);
    auto& h = *static_cast<segment_header*>(m.data());
    if (h.state.load(std::memory_order_acquire) != segment_header::ready || check_header(h, size)) return false;
    auto& c = *reinterpret_cast<chain_control*>(static_cast<char*>(m.data()) + header_size);
    if (c.magic != chain_control::magic_value || c.version != chain_control::current_version) return false;
    fn(c, h);
    return true;
}

/// Removes the unbounded queue `name` (of any message type) and its chunks: Q::remove. A segment
/// `name` that is not an unbounded queue is removed by name alone. False if there was none.
inline bool remove_unbounded_queue(std::string_view name) {
    validate_name(name);
    try {
        const sys::file f = sys::shm_open_existing(os_name(name));
        const std::string n(name);
        (void)with_raw_chain(f, "segment '" + n + "'", [&](chain_control& c, const segment_header&) {
            retire_chain(c, n, options{}.init_timeout);
        });
    } catch (const error&) {  // not there, not readable, or not an unbounded queue: just the name
    }
    return remove_segment(name);
}

/// After `old`, once named `name`, was removed as abandoned (create replaced it, or an
/// inspector's remove_stale): if it was an unbounded queue whose process_owned owner had gone,
/// retires its chain and removes its chunks, which nobody else would.
inline void retire_abandoned_chain(const sys::file& old, std::string_view name, const options& opt) noexcept {
    try {
        const std::string n(name);
        (void)with_raw_chain(old, "segment '" + n + "'", [&](chain_control& c, const segment_header& h) {
            if (h.ownership != process_owned::id || sys::owner_mark_held(old)) return;  // an owner is there
            retire_chain(c, n, opt.init_timeout);
        });
    } catch (...) {  // cannot read it: leave it
    }
}

/// What lives in an unbounded queue's head segment after the header.
///   chain        where the chain stands (detail/chain/chunk_ring.hpp); first, at a fixed place
///   data_bell    the receiver sleeps here while the queue is empty
///   chunk_bell   senders sleep here while another sender creates the chunk they need
///   senders      roster of up to MaxP senders (who, and which position each is claiming)
///   receivers    roster of the one receiver
template <std::size_t MaxP>
struct unbounded_shared {
    chain_control chain;
    alignas(cache_line) doorbell data_bell;
    alignas(cache_line) doorbell chunk_bell;
    roster<MaxP> senders;
    roster<1> receivers;
};

/// For an inspector: where an unbounded_shared's rosters lie for up to `maxp` senders.
struct unbounded_offsets {
    std::size_t senders;
    std::size_t receivers;
};
constexpr unbounded_offsets unbounded_layout(std::size_t maxp) noexcept {
    const std::size_t senders = sizeof(chain_control) + 2 * cache_line;
    return {senders, senders + roster_bytes(maxp)};
}
template <std::size_t MaxP>
constexpr bool unbounded_layout_holds() noexcept {
    using shared = unbounded_shared<MaxP>;
    return offsetof(shared, chain) == 0 && offsetof(shared, senders) == unbounded_layout(MaxP).senders &&
           offsetof(shared, receivers) == unbounded_layout(MaxP).receivers;
}
static_assert(unbounded_layout_holds<1>() && unbounded_layout_holds<64>(),
              "unbounded_layout() must say where unbounded_shared's parts lie, or inspectors misread unbounded queues");

/// For an inspector: the endpoints, depth, counters and chain of the unbounded queue `name`
/// described by `d`, whose head's body is `v`. The chain's words are read grower first, then
/// chunk_next, then first_live: what unreachable_chunk() relies on. Reads only; throws
/// inspect_fault.
inline void inspect_unbounded_head(const body_view& v, const queue_description& d, const std::string& name,
                                   segment_info& out) {
    const auto& c = *v.at<chain_control>(0, "chain control block");
    if (c.magic != chain_control::magic_value || c.version != chain_control::current_version ||
        c.chunk_bytes != d.capacity_value || c.slots == 0 || c.cap < c.chunk_bytes)
        throw inspect_fault("has a damaged chain control block (magic, version, chunk size or cap)");
    const unbounded_offsets o = unbounded_layout(d.producers);
    add_roster(v, o.senders, d.producers, "sender", out);
    add_roster(v, o.receivers, 1, "receiver", out);
    chain_state chain;
    // SYNC POINT READ: acquire, in the order each grows (see chain_control::consistent); paired
    // with the grower's and the consumer's release stores.
    const std::uint64_t grower = c.grower.load(std::memory_order_acquire);
    const std::uint64_t first = c.first_live.load(std::memory_order_acquire);
    const std::uint64_t head = c.head.load(std::memory_order_acquire);
    const std::uint64_t tail = c.tail.load(std::memory_order_acquire);
    const std::uint64_t next = c.chunk_next.load(std::memory_order_acquire);
    const std::uint64_t first_again = c.first_live.load(std::memory_order_acquire);
    if (!c.consistent(first, head, tail, next, first_again))
        throw inspect_fault("has inconsistent chain indices (first chunk " + std::to_string(first) + ", head " +
                            std::to_string(head) + ", tail " + std::to_string(tail) + ", next chunk " +
                            std::to_string(next) + "): they were overwritten");
    chain.base = c.base;
    chain.first_chunk = first_again;
    chain.next_chunk = next;
    chain.chunk_bytes = c.chunk_bytes;
    chain.cap_bytes = c.cap;
    chain.retired = grower == chain_control::retired;
    if (grower != chain_control::idle && !chain.retired) {
        chain.grower_pid = sys::process_id::unpack(grower).pid;
        chain.grower_alive = v.live().alive(grower);
    }
    // Named up to a bound: a cap of many small chunks may allow millions.
    for (std::uint64_t k = std::min(first_again, next); k < next && chain.chunks.size() < chain_state::max_named; ++k)
        chain.chunks.push_back(name + "." + std::to_string(c.base + k));
    out.chain = std::move(chain);
    out.capacity_bytes = c.cap;
    out.depth_messages = tail - head;
    out.sent_messages = tail;
    out.received_messages = head;
}

/// For an inspector: why chunk `index` of base `base` is one that nothing leads to any more,
/// given its queue's chain as read after the chunk was opened (inspect_unbounded_head); nullopt
/// if the chain needs it, or may need it. A chunk is needed from when it is created (chunk_next
/// passes it) until the receiver has read it (first_live passes it); chunk_next's chunk itself
/// while a live process creates it. Each bound only grows, and the grower word is read before
/// chunk_next, so a chunk created after that look is never judged by it: once unneeded, a chunk
/// stays so.
inline std::optional<std::string> unreachable_chunk(const chain_state& chain, std::uint64_t base, std::uint64_t index) {
    if (base != chain.base) return "its queue was created again since (it belongs to an earlier one)";
    if (index < chain.first_chunk) return "its queue's receiver has read it to the end";
    if (index > chain.next_chunk || (index == chain.next_chunk && !chain.grower_alive))
        return "a sender died creating it, before the queue's chain led to it";
    return std::nullopt;
}

/// For an inspector: the chunk number (k in its queue's chain) and chain base that the chunk
/// whose body is `v` says of itself; throws inspect_fault unless it says it is the chunk `seq`.
inline std::pair<std::uint64_t, std::uint64_t> inspect_chunk(const body_view& v, std::uint64_t seq) {
    const auto& c = *v.at<chunk_control>(0, "chunk control block");
    if (c.magic != chunk_control::magic_value || c.base > seq || seq - c.base != c.index)
        throw inspect_fault("has a damaged chunk control block (it does not say it is chunk " + std::to_string(seq) + ")");
    return {c.base, c.index};
}

/// What the handles and endpoints of one queue made from one handle share: the head segment,
/// and the chain's names. (Of a process_owned queue, the owning process's chain_heads share one
/// mapping of the head, whose last release retires the chain and removes its chunks before the
/// head goes: segment::at_last_release.)
class chain_head {
public:
    chain_head(segment&& s, std::shared_ptr<const chain_info> info, const options& opt)
        : segment_(std::move(s)), info_(std::move(info)), options_(opt) {}
    chain_head(const chain_head&) = delete;
    chain_head& operator=(const chain_head&) = delete;

    [[nodiscard]] const segment& seg() const noexcept { return segment_; }
    [[nodiscard]] const std::string& name() const noexcept { return segment_.name(); }
    [[nodiscard]] void* body() const noexcept { return segment_.body(); }
    [[nodiscard]] chain_control& chain() const noexcept { return *static_cast<chain_control*>(segment_.body()); }
    [[nodiscard]] const std::shared_ptr<const chain_info>& info() const noexcept { return info_; }
    [[nodiscard]] const options& opts() const noexcept { return options_; }

private:
    segment segment_;
    std::shared_ptr<const chain_info> info_;
    options options_;
};

template <class Queue, mode_policy Mode>
class unbounded_sender;
template <class Queue, mode_policy Mode>
class unbounded_receiver;

/// An unbounded queue of fixed-size messages `T`, growing by chunks of ChunkBytes bytes: what
/// ipckit::queue<T, unbounded<ChunkBytes>, Producers, single, ...> is. See the top of this file.
template <message T, std::size_t ChunkBytes, cardinality_policy Producers, wait_policy Wait,
          ownership_policy Ownership>
class unbounded_queue {
public:
    using message_type = T;
    using wait_type = Wait;
    using ownership_type = Ownership;
    static constexpr std::size_t chunk_bytes = ChunkBytes;
    /// Messages per chunk (1 in a chunk too small for one, which the static_assert below refuses).
    static constexpr std::size_t slots_per_chunk =
        std::max<std::size_t>(chain_slots_per_chunk<T, ChunkBytes, header_size>, 1);
    static constexpr std::size_t max_senders = Producers::max;
    static constexpr std::size_t max_receivers = 1;
    static constexpr bool one_receiver_only = true;

    static_assert(chain_slots_per_chunk<T, ChunkBytes, header_size> > 0,
                  "ipckit::queue<T, unbounded<ChunkBytes>>: a chunk of ChunkBytes bytes has no room for one message "
                  "of type T after its headers (384 bytes): choose larger chunks");
    static_assert(alignof(T) <= header_size,
                  "a message type aligned to more than 256 bytes cannot live after a segment header");

    using shared = unbounded_shared<max_senders>;
    using chunk_type = chain_chunk<T, slots_per_chunk>;
    using chunks = chunk_store<chunk_type>;
    template <mode_policy Mode>
    using sender_type = unbounded_sender<unbounded_queue, Mode>;
    template <mode_policy Mode>
    using receiver_type = unbounded_receiver<unbounded_queue, Mode>;
    static_assert(std::is_standard_layout_v<shared> && offsetof(shared, chain) == 0,
                  "an unbounded queue's head starts with its chain_control, where Q::remove finds it");
    static_assert(header_size + sizeof(chunk_type) <= ChunkBytes || chain_slots_per_chunk<T, ChunkBytes, header_size> == 0,
                  "a chunk's layout must fit its segment");

    /// The description and size the head segment must match to be this queue.
    static segment_layout layout() {
        return {describe_queue<Producers, single, Ownership>(describe_message<T>(), "unbounded<" + std::to_string(ChunkBytes) + ">"),
                header_size + sizeof(shared)};
    }

    /// Creates the queue `name`, with its cap in bytes from opt.unbounded_cap (0: a quarter of
    /// the space free in /dev/shm now). Throws already_exists, invalid_name (also a name too
    /// long to leave room for the chunks' suffix), permission_denied, no_space (also a cap too
    /// small for one chunk).
    static unbounded_queue create(std::string_view name, const options& opt = {}) {
        check_name(name);
        const std::uint64_t cap = cap_for(name, opt);
        const std::uint64_t base = random_base();
        // A create may replace an abandoned process_owned queue of this name (segment::create
        // does that): hold on to it, to remove its chunks once it is replaced.
        sys::file old;
        try {
            old = sys::shm_open_existing(os_name(name));
        } catch (const error&) {  // none there (or not ours to open: create will say so)
        }
        segment s = segment::create<Ownership>(name, layout(), opt, [&](void* body) {
            auto* sh = ::new (body) shared;
            auto& c = sh->chain;
            c.magic = chain_control::magic_value;
            c.version = chain_control::current_version;
            c.mode = opt.mode;
            c.base = base;
            c.cap = cap;
            c.chunk_bytes = ChunkBytes;
            c.slots = slots_per_chunk;
        });
        if (old.get() >= 0) retire_abandoned_chain(old, name, opt);
        return unbounded_queue(std::move(s), opt);
    }

    /// Opens the existing queue `name`. Throws not_found, incompatible_layout, corrupt, ...
    static unbounded_queue open(std::string_view name, const options& opt = {}) {
        check_name(name);
        return unbounded_queue(segment::open(name, layout(), opt), opt);
    }

    /// Opens `name`, or creates it if there is none (exactly one of racing processes creates).
    static unbounded_queue open_or_create(std::string_view name, const options& opt = {}) {
        return create_or_open([&] { return create(name, opt); }, [&] { return open(name, opt); });
    }

    /// Removes the queue `name` and its chunks (of whatever message type). Processes that have
    /// it open keep what they have mapped, but no chunk is created for them any more (see the
    /// top of this file). False if there was no queue `name`.
    static bool remove(std::string_view name) { return remove_unbounded_queue(name); }

    /// Attaches a sender. Throws sender_busy while Producers::max live senders are attached.
    template <mode_policy Mode = blocking>
    [[nodiscard]] sender_type<Mode> sender() const {
        return sender_type<Mode>(head_);
    }
    /// Attaches the receiver. Throws receiver_busy while another live receiver is attached.
    template <mode_policy Mode = blocking>
    [[nodiscard]] receiver_type<Mode> receiver() const {
        return receiver_type<Mode>(head_);
    }

    [[nodiscard]] const std::string& name() const noexcept { return head_->seg().name(); }
    /// Whether this handle created the queue.
    [[nodiscard]] bool created() const noexcept { return head_->seg().created(); }
    /// How much is waiting now (every kind's depth()), here messages: positions claimed and not
    /// yet read. A snapshot.
    [[nodiscard]] std::size_t depth() const noexcept { return tail_minus_head(head_->chain(), SIZE_MAX); }
    /// The cap: the most bytes the chunks may take at once.
    [[nodiscard]] std::size_t cap_bytes() const noexcept { return static_cast<std::size_t>(head_->chain().cap); }
    /// Bytes the chunks take now (ChunkBytes each): a snapshot.
    [[nodiscard]] std::size_t allocated_bytes() const noexcept {
        const auto& c = head_->chain();
        const std::uint64_t first = c.first_live.load(std::memory_order_acquire);
        const std::uint64_t next = c.chunk_next.load(std::memory_order_acquire);
        return next >= first ? static_cast<std::size_t>((next - first) * ChunkBytes) : 0;
    }

private:
    unbounded_queue(segment&& s, const options& opt) {
        const auto& c = *static_cast<const chain_control*>(s.body());
        const std::string what = "unbounded queue '" + s.name() + "'";
        if (c.magic != chain_control::magic_value || c.version != chain_control::current_version ||
            c.chunk_bytes != ChunkBytes || c.slots != slots_per_chunk || c.cap < ChunkBytes)
            throw error(errc::corrupt, what + " has a damaged control block. Remove it with Q::remove(\"" + s.name() +
                                           "\") and create it again");
        auto info = std::make_shared<chain_info>();
        info->name = s.name();
        info->element = describe_message<T>();
        info->base = c.base;
        info->chunk_bytes = ChunkBytes;
        info->slots = slots_per_chunk;
        info->chunk_options = opt;
        info->chunk_options.mode = c.mode & 07777u;
        if constexpr (std::is_same_v<Ownership, process_owned>) {
            // When the owning process lets go of its last handle or endpoint (not when this
            // handle goes: others of this process may still use the chain).
            s.at_last_release([name = s.name(), patience = opt.init_timeout](void* body) noexcept {
                retire_chain(*static_cast<chain_control*>(body), name, patience);
            });
        }
        head_ = std::make_shared<chain_head>(std::move(s), std::move(info), opt);
    }

    static void check_name(std::string_view name) {
        validate_name(name);
        if (name.size() > max_name_length - chunk_suffix_length)
            throw error(errc::invalid_name,
                        "invalid unbounded queue name '" + std::string(name) + "': it is " +
                            std::to_string(name.size()) + " characters long, and an unbounded queue's name may have " +
                            std::to_string(max_name_length - chunk_suffix_length) +
                            " at most (its chunks are named <name>.<number>)");
    }

    static std::uint64_t cap_for(std::string_view name, const options& opt) {
        const std::uint64_t free = opt.unbounded_cap == 0 ? sys::shm_free_bytes() : 0;
        const std::uint64_t cap = opt.unbounded_cap != 0 ? opt.unbounded_cap : free / 4;
        if (cap < ChunkBytes)
            throw error(errc::no_space,
                        "cannot create unbounded queue '" + std::string(name) + "': its cap of " + std::to_string(cap) +
                            " bytes" +
                            (opt.unbounded_cap == 0
                                 ? " (a quarter of the " + std::to_string(free) + " bytes free in " + sys::shm_dir + ")"
                                 : std::string(" (options::unbounded_cap)")) +
                            " has no room for one chunk of " + std::to_string(ChunkBytes) +
                            " bytes. Free space in /dev/shm, raise options::unbounded_cap, or use smaller chunks");
        return cap;
    }

    /// 48 random bits: short chunk names, distinct from any other queue's of the same name.
    static std::uint64_t random_base() {
        std::uint64_t r = static_cast<std::uint64_t>(clock::now().time_since_epoch().count()) * 0x9E3779B97F4A7C15ULL;
        r ^= std::uint64_t{sys::this_pid()} << 17;
        try {
            std::random_device rd;
            r ^= (std::uint64_t{rd()} << 32) ^ rd();
        } catch (...) {  // no entropy source: the clock and pid alone
        }
        return r >> 16;
    }

    std::shared_ptr<chain_head> head_;
};

/// Where the endpoints of an unbounded queue sleep, and whom they wake when they close: a
/// sender sleeps on chunk_bell (for another sender creating a chunk) and wakes the receiver,
/// which may wait for closed; the receiver sleeps on data_bell and wakes the senders on
/// chunk_bell (nobody there waits for it: harmless).
template <class Role>
struct chain_bells {
    static constexpr bool is_sender = std::is_same_v<Role, producer_role>;
    static doorbell& sleep_bell(auto& sh, std::size_t /*place*/) noexcept {
        return is_sender ? sh.chunk_bell : sh.data_bell;
    }
    static doorbell& peer_sleep_bell(auto& sh, std::size_t /*place*/) noexcept {
        return is_sender ? sh.data_bell : sh.chunk_bell;
    }
    static void wake_on_close(auto& sh) noexcept { (is_sender ? sh.data_bell : sh.chunk_bell).ring(); }
};

/// What sender and receiver of an unbounded queue have in common: the endpoint core (the chain
/// head kept alive, a roster place held, closing), and the cursor, whose chunk closing unmaps.
/// Restricted thread-safe: one thread at a time.
template <class Queue, class Role, class Cursor>
class chain_endpoint : public endpoint_core<Queue, Role, chain_bells<Role>, chain_head> {
    using core = endpoint_core<Queue, Role, chain_bells<Role>, chain_head>;

public:
    chain_endpoint(chain_endpoint&& o) noexcept : core(std::move(o)), cursor_(std::move(o.cursor_)) {}
    chain_endpoint& operator=(chain_endpoint&& o) noexcept {
        if (this != &o) {
            core::operator=(std::move(o));
            cursor_ = std::move(o.cursor_);
        }
        return *this;
    }

    /// Lets go now, as destruction would. Verbs on a closed endpoint return closed.
    void close() noexcept {
        if (this->shared_ == nullptr) return;
        core::close();
        cursor_ = Cursor(typename Queue::chunks(this->segment_->info()));  // unmaps its chunk
    }

protected:
    explicit chain_endpoint(std::shared_ptr<chain_head> head)
        : core(head, head->opts()), cursor_(typename Queue::chunks(head->info())) {
        if (!cursor_.attach(this->shared_->chain, Role::own(*this->shared_).places[this->place_].pending,
                            this->me_.pack())) {
            const std::string n = this->name();
            this->abandon_place();
            throw error(errc::corrupt, "queue '" + n + "' has inconsistent indices: remove it with Q::remove(\"" + n +
                                           "\") and create it again");
        }
    }

    Cursor cursor_;
};

/// The sending end of an unbounded queue. A send never waits for the receiver: it returns ok,
/// no_space (the cap is reached: nothing was written), closed (the queue was removed, or, for
/// a process_owned queue, the receiver has closed; a system_owned queue keeps what is sent for
/// the next receiver) or corrupt. The one wait there is: for another sender that is creating
/// the chunk this one needs, which a blocking sender waits out (within its deadline, else
/// timed_out) and a non-blocking sender answers with would_block. Closing tells the receiver,
/// which gets `closed` once every sender has closed and it has taken every message.
template <class Queue, mode_policy Mode>
class unbounded_sender
    : public chain_endpoint<Queue, producer_role,
                            chain_producer<typename Queue::message_type, Queue::slots_per_chunk,
                                           (Queue::max_senders > 1), typename Queue::chunks>>,
      public send_verbs<unbounded_sender<Queue, Mode>, typename Queue::message_type, Mode> {
    using T = typename Queue::message_type;
    using verbs = send_verbs<unbounded_sender, T, Mode>;
    using cursor = chain_producer<T, Queue::slots_per_chunk, (Queue::max_senders > 1), typename Queue::chunks>;
    using base = chain_endpoint<Queue, producer_role, cursor>;

public:
    /// send(m) (send_verbs): sends `m`: ok, no_space, closed or corrupt (or the OS's reason for
    /// failing to create a chunk). Non-blocking: also would_block, only while another sender
    /// creates a chunk.
    /// send(m, deadline), blocking only: as send(m), with a deadline (a steady_clock time point)
    /// or a timeout (a duration) that bounds only the wait for another sender creating a chunk:
    /// timed_out, and the message is not sent.
    using verbs::send;

private:
    friend Queue;
    friend verbs;
    explicit unbounded_sender(std::shared_ptr<chain_head> head) : base(std::move(head)) {}

    errc send_until(const T& m, clock::time_point deadline) noexcept {
        for (;;) {
            const errc e = push(m);
            if (e != errc::would_block || !std::same_as<Mode, blocking>) return e;  // non_blocking: one attempt
            if (const errc w = wait_for_grower(deadline); w != errc::ok) return w;
        }
    }

    errc push(const T& m) noexcept {
        if (this->shared_ == nullptr) return errc::closed;
        auto& sh = *this->shared_;
        // Two loads, no system call: nobody will read what we would send. A system_owned queue
        // outlives its users: there a receiver that closed is only a pause, and what is sent
        // waits for the next one.
        if constexpr (std::is_same_v<typename Queue::ownership_type, process_owned>)
            if (sh.receivers.state(false) == errc::closed) return errc::closed;
        const errc e = this->cursor_.try_push(m);
        if (this->cursor_.grew()) sh.chunk_bell.notify(this->light_fence_);
        if (e == errc::ok) sh.data_bell.notify(this->light_fence_);
        return e;
    }

    /// Waits until the grower that try_push found busy has let go of the chain's grower word, or
    /// published the chunk; looks again once per liveness interval (it may have died).
    errc wait_for_grower(clock::time_point deadline) noexcept {
        auto& sh = *this->shared_;
        const std::uint64_t g = this->cursor_.busy_grower();
        const std::uint64_t k = this->cursor_.awaited_chunk();
        bool look_again = false;
        return wait_until<typename Queue::wait_type>(
            sh.chunk_bell, this->asleep(),
            [&] {
                return look_again || sh.chain.grower.load(std::memory_order_acquire) != g ||
                       sh.chain.chunk_next.load(std::memory_order_acquire) != k;
            },
            [&](bool ask_os) {
                if (ask_os) look_again = true;
                return errc::ok;
            },
            deadline, this->liveness_);
    }
};

/// The receiving end of an unbounded queue (the only one). Blocking: receive waits for a
/// message (with deadline overloads). Non-blocking: receive returns would_block at once when
/// the queue is empty. Either way it returns closed or peer_dead only after every message the
/// senders sent has been received.
template <class Queue, mode_policy Mode>
class unbounded_receiver
    : public chain_endpoint<Queue, consumer_role,
                            chain_consumer<typename Queue::message_type, Queue::slots_per_chunk,
                                           typename Queue::chunks>>,
      public receive_verbs<unbounded_receiver<Queue, Mode>, typename Queue::message_type, Mode> {
    using T = typename Queue::message_type;
    using verbs = receive_verbs<unbounded_receiver, T, Mode>;
    using cursor = chain_consumer<T, Queue::slots_per_chunk, typename Queue::chunks>;
    using base = chain_endpoint<Queue, consumer_role, cursor>;

public:
    /// receive(), receive(out) (receive_verbs): receives the oldest message. Blocking: waits for
    /// one; closed or peer_dead once the senders have gone and the queue is empty; timed_out.
    /// Non-blocking: would_block when empty.
    /// receive(deadline), receive(out, deadline), blocking only: with a deadline (a steady_clock
    /// time point) or a timeout (a duration).
    using verbs::receive;

    /// Asks the OS about the senders, as endpoint_core::peer does (peer_dead lets go of the dead
    /// ones' places). On the way, skips a message whose sender died writing it, which a
    /// non-blocking receiver otherwise waits on (a blocking one does this once per liveness
    /// interval while it waits).
    [[nodiscard]] errc peer() noexcept {
        if (this->shared_ == nullptr) return errc::closed;
        recover();
        return base::peer();
    }

private:
    friend Queue;
    friend verbs;
    explicit unbounded_receiver(std::shared_ptr<chain_head> head) : base(std::move(head)) {}

    errc receive_until(T& out, clock::time_point deadline) noexcept {
        if constexpr (std::same_as<Mode, blocking>)
            return attempt_until(out, deadline);
        else
            return attempt(out);
    }

    bool recover() noexcept {
        auto& senders = this->shared_->senders;
        return this->cursor_.recover([&senders](std::uint64_t p) { return senders.live_claimant(p); });
    }

    /// One attempt: ok, would_block, closed or peer_dead (would block, and every sender has let
    /// go: see endpoint_core::ended), or an error.
    errc attempt(T& out) noexcept {
        if (this->shared_ == nullptr) return errc::closed;
        errc e = this->cursor_.try_pop(out);
        if (e == errc::would_block && this->shared_->senders.state(false) == errc::closed) {
            // Everything the senders published before they let go is visible now. A claim left
            // by a sender that died (its place since taken over and let go) is skipped here.
            for (;;) {
                e = this->cursor_.try_pop(out);
                if (e != errc::would_block) break;
                if (!recover()) {
                    e = this->ended();
                    break;
                }
            }
        }
        return e;
    }

    errc attempt_until(T& out, clock::time_point deadline) noexcept {
        for (;;) {
            const errc e = attempt(out);
            if (e != errc::would_block) return e;
            auto& sh = *this->shared_;
            const errc w = wait_until<typename Queue::wait_type>(
                sh.data_bell, this->asleep(), [this] { return this->cursor_.has_data(); },
                [this, &sh](bool ask_os) {
                    // A dead sender may hold the position we wait for: skip it for them.
                    if (ask_os) recover();
                    return sh.senders.state(ask_os);
                },
                deadline, this->liveness_);
            if (w == errc::closed) {
                const errc last = attempt(out);
                return last == errc::would_block ? this->ended() : last;
            }
            if (w == errc::peer_dead) return this->report_dead();
            if (w != errc::ok) return w;
        }
    }
};

}  // namespace ipckit::detail
