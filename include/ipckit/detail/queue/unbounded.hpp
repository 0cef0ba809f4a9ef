#pragma once
// Unbounded queues: the seed's "unlimited buffer", where the producer never waits and the
// consumer waits while the buffer is empty. One or many producers, one consumer. Messages of a
// fixed-size type T, or of bytes<Max>.
//
// Segments. The queue's own segment `name` (the head) holds the control block of the chain
// (detail/chain/chain_layout.hpp), the rosters of senders and receiver, and two doorbells.
// Messages live in chunks: segments `name.<seq>` of ChunkBytes bytes each, created one after
// another by the senders as they fill up (exactly one sender creates each), read in order by the
// receiver, which removes each chunk as soon as it has read its last message. So memory comes
// back as it is consumed, and when the receiver has caught up at most one chunk is left.
//
// The cap. A chunk is created only while the chunks alive stay within unbounded_options::cap_bytes
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
// cap), closed (the queue was closed as a whole or removed; or, on a process_owned queue, every
// receiver that came has closed its endpoint: filling the cap for a reader that said it will
// not read would only waste memory), corrupt, or, rarely, the OS's reason for failing to create a chunk
// (system_error, permission_denied). A receiver that was killed does not stop the senders, nor
// does one that closed a system_owned queue (which outlives its users by design): what they
// send waits for the next receiver, up to the cap.
//
// Receiving: as the bounded queues: blocking (with deadlines) or not; closed or peer_dead
// only after every message sent before has been received. The closed rule: with one sender,
// closed once it has closed; with many, only once the queue is closed as a whole (close()) or
// removed.
//
// Ownership. process_owned: when the owning process's last handle or endpoint of the queue goes
// (whichever thread had it, however it was opened), the head and every chunk are removed; if
// the process dies, the next create removes them. system_owned: they stay until Q::remove(name),
// which removes the chunks too (so does ipckit::remove_any(name); ipckit::remove_segment(name)
// refuses, with the reason, rather than leave the chunks behind).
// Removing either way retires the chain first: from then on no chunk is created, senders
// still attached get closed on their next send (nothing written), and the receiver gets closed
// when it reaches a removed chunk. A create that replaces a process_owned queue whose owner died also
// removes that queue's chunks.
//
// Processes killed at any point: see detail/chain/chain_layout.hpp. A sender killed while
// creating a chunk is taken over by the next sender; one killed between claiming a position and
// publishing it costs that message only (the receiver skips it); a receiver killed at any
// point is replaced by the next receiver, which goes on from where it had got to and removes
// what it had read but not yet removed.
//
// bytes<Max>. Each message is a record<Max> in a slot of the chain (detail/ring/record.hpp):
// its length and up to Max bytes, written in place and read in place, only the message's own
// bytes copied, so the chain's protocol and every rule above hold unchanged. A chunk of
// ChunkBytes bytes holds as many slots of Max + 16 bytes (rounded up to 8) as fit after its
// headers (384 bytes); unbounded<ChunkBytes> counts bytes, as ever. A slot takes Max bytes
// whatever the message's length, so a chunk is created and removed every that many messages:
// a Max far above the messages' real size costs a chunk's system calls every few messages.
// A message over Max is
// too_large at once, nothing written; an empty one is valid. A receive buffer too small for the
// oldest message: too_large, and it stays the oldest, for a bigger buffer (or receive() into a
// vector) to take. A length in a slot over Max is corrupt.
// No loans or views, for T as for bytes<Max>: the chain's cursors push and pop whole messages;
// a position claimed and held open by a loan would stall the one receiver (it reads in order,
// and a live claimant's position is never skipped), and a chunk lent from could not be unmapped
// when the sender moves on.
//
// Memory: a sender keeps the chunk it writes into mapped until it moves on to the next one or
// closes, so a chunk the receiver has removed may stay in memory (not in /dev/shm's listing)
// while a sender that wrote into it idles: at most one chunk per sender.

#include <ipckit/detail/chain/chunk_names.hpp>
#include <ipckit/detail/chain/chain_layout.hpp>
#include <ipckit/detail/chain/chunk_store.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/queue/slot_message.hpp>
#include <ipckit/detail/queue/unbounded_endpoints.hpp>
#include <ipckit/detail/queue/unbounded_head.hpp>
#include <ipckit/detail/queue/unbounded_inspect.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ipckit {

/// The options of an unbounded queue: the common options, and its cap. Its own type, so that
/// no other kind of queue is given a cap it would silently ignore. Made from plain `options`
/// where a caller has those (the cap is then the default).
struct unbounded_options : options {
    /// create: the most bytes of shared memory the chain's chunks may hold at once; a send past
    /// it is no_space. 0: a quarter of the space free in /dev/shm when the queue is created.
    /// Kept in the queue's head, so every process applies the creator's; open ignores this.
    std::size_t cap_bytes = 0;

    unbounded_options() = default;
    unbounded_options(const options& common) : options(common) {}  // NOLINT: implicit by design
};

}  // namespace ipckit

namespace ipckit::detail {

/// An unbounded queue of messages `Message` (T, or bytes<Max>), growing by chunks of ChunkBytes
/// bytes: what ipckit::queue<Message, unbounded<ChunkBytes>, Producers, single, ...> is. See the
/// top of this file.
template <message_policy Message, std::size_t ChunkBytes, cardinality_policy Producers, wait_policy Wait,
          ownership_policy Ownership>
class unbounded_queue {
    using T = slot_of<Message>;  // what a slot holds: Message, or record<Max>

public:
    using message_type = Message;
    using slot_type = T;
    using wait_type = Wait;
    using ownership_type = Ownership;
    static constexpr std::size_t chunk_bytes = ChunkBytes;
    /// Messages per chunk (1 in a chunk too small for one, which the static_assert below refuses).
    static constexpr std::size_t slots_per_chunk =
        std::max<std::size_t>(chain_slots_per_chunk<T, ChunkBytes, header_size>, 1);
    static constexpr std::size_t max_senders = Producers::max;
    static constexpr std::size_t max_receivers = 1;
    static constexpr bool one_receiver_only = true;

    static_assert(is_bytes<Message> || chain_slots_per_chunk<T, ChunkBytes, header_size> > 0,
                  "ipckit::queue<T, unbounded<ChunkBytes>>: a chunk of ChunkBytes bytes has no room for one message "
                  "of type T after its headers (384 bytes): choose larger chunks");
    static_assert(!is_bytes<Message> || chain_slots_per_chunk<T, ChunkBytes, header_size> > 0,
                  "ipckit::queue<bytes<Max>, unbounded<ChunkBytes>>: a chunk of ChunkBytes bytes has no room for one "
                  "message of Max bytes (a slot takes Max rounded up to 8, plus 16 bytes of length and state) after "
                  "the chunk's headers (384 bytes): choose unbounded<N> with N >= Max + 528 "
                  "(bytes<Max> with bounded<N> has no chunks)");
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
        return {describe_queue<Producers, single, Ownership>(slot_message<Message>::description(),
                                                             "unbounded<" + std::to_string(ChunkBytes) + ">"),
                header_size + sizeof(shared)};
    }

    /// Creates the queue `name`, with its cap in bytes from opt.cap_bytes (0: a quarter of the
    /// space free in /dev/shm now). Throws already_exists, invalid_name (also a name too
    /// long to leave room for the chunks' suffix), permission_denied, no_space (also a cap too
    /// small for one chunk).
    static unbounded_queue create(std::string_view name, const unbounded_options& opt = {}) {
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
    static unbounded_queue open_or_create(std::string_view name, const unbounded_options& opt = {}) {
        return create_or_open(name, [&] { return create(name, opt); }, [&] { return open(name, opt); },
                              [&] { return segment::remove_if_abandoned(name, opt); });
    }

    /// Removes the queue `name` and its chunks (of whatever message type). Processes that have
    /// it open keep what they have mapped, but no chunk is created for them any more (see the
    /// top of this file). False if there was no queue `name`.
    static bool remove(std::string_view name) { return remove_unbounded_queue(name); }

    /// Closes the queue as a whole, for every process (the closed rule: detail/endpoint/
    /// endpoint.hpp): the receiver gets `closed` once it has taken every message, and every
    /// send from now on returns closed. How a queue of many senders ends. Never undone.
    void close() const noexcept { close_queue<chain_bells>(*static_cast<shared*>(head_->body())); }

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
        info->element = slot_message<Message>::description();
        info->base = c.base;
        info->chunk_bytes = ChunkBytes;
        info->slots = slots_per_chunk;
        info->chunk_options = opt;
        info->chunk_options.mode = c.mode & 07777u;
        if constexpr (std::is_same_v<Ownership, process_owned>) {
            // When the owning process lets go of its last handle or endpoint (not when this
            // handle goes: others of this process may still use the chain). A receiver of
            // another process then gets closed after the last message, rather than wait.
            s.at_last_release([name = s.name(), patience = opt.init_timeout](void* body) noexcept {
                retire_chain(*static_cast<chain_control*>(body), name, patience);
                close_retired(body);
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

    static std::uint64_t cap_for(std::string_view name, const unbounded_options& opt) {
        const std::uint64_t free = opt.cap_bytes == 0 ? sys::shm_free_bytes() : 0;
        const std::uint64_t cap = opt.cap_bytes != 0 ? opt.cap_bytes : free / 4;
        if (cap < ChunkBytes)
            throw error(errc::no_space,
                        "cannot create unbounded queue '" + std::string(name) + "': its cap of " + std::to_string(cap) +
                            " bytes" +
                            (opt.cap_bytes == 0
                                 ? " (a quarter of the " + std::to_string(free) + " bytes free in " + sys::shm_dir + ")"
                                 : std::string(" (unbounded_options::cap_bytes)")) +
                            " has no room for one chunk of " + std::to_string(ChunkBytes) +
                            " bytes. Free space in /dev/shm, raise unbounded_options::cap_bytes, or use smaller chunks");
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

}  // namespace ipckit::detail
