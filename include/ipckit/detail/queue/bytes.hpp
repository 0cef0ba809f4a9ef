#pragma once
// Bounded queues of variable-size messages, bytes<Max>: a byte ring of N bytes (bounded<N>
// counts bytes here, not messages) for one sender or many, and one receiver, with zero-copy
// loans (write a message in place) and views (read one in place).
//
//   using frames = ipckit::queue<ipckit::bytes<1500>, ipckit::bounded<1 << 20>>;   // 1 MiB ring
//   auto tx = frames::create("net.frames").sender();
//   tx.send("hello");                                  // a std::string_view or span of bytes
//   auto rx = frames::open("net.frames").receiver();
//   std::array<std::byte, 1500> buf;
//   if (auto n = rx.receive(buf)) use(buf.data(), *n);
//
// How much fits. Each message takes 8 bytes of header plus its length rounded up to 8, in one
// piece; a message that would cross the end of the ring leaves the rest of the ring unused
// until the receiver passes it. A message fits at all if it is at most Max bytes and its record
// at most N bytes (queue::max_message is the smaller bound); a longer one is too_large at once,
// with nothing sent. A queue of N bytes holds at least N / (8 + Max rounded up to 8) messages
// of the largest size at once, and at most N / 8 empty ones.
//
// Verbs. A sender sends a std::span<const std::byte> or a std::string_view. A receiver receives
// into a caller's buffer, returning the length; if the buffer is too small it returns too_large
// and the message stays first in the queue, so that a bigger buffer can take it (receive()
// without a buffer returns a std::vector and always fits). Blocking endpoints wait (with
// deadline overloads), non-blocking ones return would_block, as for fixed-size queues.
//
// Loans and views. sender.loan(n) reserves room for n bytes in the ring and returns a loan
// whose data() the caller fills in place; commit() (or commit(k), k <= n) publishes it, and a
// loan destroyed uncommitted is given back (nothing is published, nothing leaks).
// receiver.receive_view() returns a view of the next message in place; its bytes stay valid
// and are not reused until the view is released (destroyed, or release()). An endpoint has at
// most one loan or view outstanding: while it has one, its other verbs return in_use. A loan
// or view refers to the ring, not to its endpoint: moving the endpoint is fine, but release
// it before the endpoint is closed or destroyed, and in the process that made it.
//
// Crashes. A sender killed between reserving room and committing it (in a send with many
// senders, or holding a loan) leaves a record that the receiver skips once no live sender lists
// it as pending: a blocking receive finds it within about options::liveness_interval, a
// non-blocking one on its first call after that which would block on it. A receiver killed
// holding a view takes that message with it; the next receiver continues after it.
//
// One receiver at a time (Consumers = single): see bytes_queue below for why.

#include <ipckit/detail/sys/exception_errc.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/queue/fixed.hpp>
#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/ring/bytes_consumer.hpp>
#include <ipckit/detail/ring/bytes_producer.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ipckit::detail {

/// The characters of `s` as the bytes a byte queue sends (no terminating zero): what every
/// send(std::string_view) of bytes<Max> messages passes on.
inline std::span<const std::byte> as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// What lives in a byte queue's segment after the header.
///   data_bell    the receiver sleeps here while the queue is empty
///   space_bell   senders sleep here while the ring is full
///   senders      roster of up to MaxP senders (who, and which position each is reserving)
///   receivers    roster of the one receiver
///   ring         indices and records (detail/ring/bytes.hpp)
template <std::size_t Max, std::size_t N, std::size_t MaxP, std::size_t MaxC>
struct bytes_queue_shared {
    static constexpr bool multi_producer = MaxP > 1;
    using ring_type = bytes_ring<N, multi_producer>;
    using producer_type = bytes_producer<Max, N, multi_producer>;
    using consumer_type = bytes_consumer<Max, N, multi_producer>;

    alignas(cache_line) doorbell data_bell;
    alignas(cache_line) doorbell space_bell;
    roster<MaxP> senders;
    roster<MaxC> receivers;
    ring_type ring;
};

/// For an inspector: a bytes_queue_shared's parts lie where queue_offsets() says, with align 8,
/// and its ring keeps `read` after head and the records a cache line further on.
template <std::size_t MaxP, bool Multi>
constexpr bool bytes_offsets_hold() noexcept {
    using shared = bytes_queue_shared<64, 64, MaxP, 1>;
    using ring = typename shared::ring_type;
    constexpr queue_shared_offsets o = queue_offsets(MaxP, 1, alignof(std::uint64_t));
    return offsetof(shared, senders) == o.senders && offsetof(shared, receivers) == o.receivers &&
           offsetof(shared, ring) == o.ring && offsetof(ring, tail) == 0 && offsetof(ring, head) == cache_line &&
           offsetof(ring, words) == 2 * cache_line && Multi == shared::multi_producer;
}
static_assert(bytes_offsets_hold<1, false>() && bytes_offsets_hold<64, true>(),
              "queue_offsets() must say where bytes_queue_shared's parts lie, or inspectors misread byte queues");

/// For an inspector: the messages among the records of a byte ring of `n` bytes whose records
/// are `words`, from head to tail as read in `r`: a walk of their headers, checked as the consumer
/// checks them. It stops at a record not yet written (messages behind it are not counted).
/// nullopt if the consumer freed records meanwhile (`head` moved); throws inspect_fault for a
/// record that cannot be.
inline std::optional<std::uint64_t> count_records(const std::atomic<std::uint64_t>* words, std::uint64_t n,
                                                  const std::atomic<std::uint64_t>& head, const ring_indices& r) {
    std::uint64_t messages = 0;
    std::uint64_t pos = r.head;
    std::optional<std::string> fault;
    while (pos < r.tail && !fault) {
        // SYNC POINT READ: acquire, paired with a producer's release store of the header.
        const std::uint64_t w = words[(pos % n) / bytes_record::header].load(std::memory_order_acquire);
        const auto kind = bytes_record::kind_of(w);
        const std::uint64_t size = bytes_record::size_of(w);
        if (kind == bytes_record::none) break;  // being reserved or written
        const bool fits = size >= bytes_record::header && size % bytes_record::header == 0 && size <= n - pos % n;
        if (!fits || (kind == bytes_record::message && bytes_record::length_of(w) > size - bytes_record::header))
            fault = "has a record at position " + std::to_string(pos) + " that cannot be (header word " +
                    std::to_string(w) + ")";
        else if (kind == bytes_record::message)
            ++messages;
        pos += size;
    }
    if (head.load(std::memory_order_acquire) != r.head) return std::nullopt;  // walked over freed records
    if (!fault && pos > r.tail) fault = "has records that run past its tail";
    if (fault) throw inspect_fault(*fault);
    return messages;
}

/// For an inspector: the endpoints, depth (bytes, and the messages among them) and counters
/// (bytes) of a queue of bytes<Max> described by `d`, whose body is `v`. Reads only; throws
/// inspect_fault.
inline void inspect_bytes_queue(const body_view& v, const queue_description& d, segment_info& out) {
    const queue_shared_offsets o = queue_offsets(d.producers, d.consumers, alignof(std::uint64_t));
    add_roster(v, o.senders, d.producers, "sender", out);
    add_roster(v, o.receivers, d.consumers, "receiver", out);
    const std::uint64_t n = d.capacity_value;
    if (n < 16 || n % bytes_record::header != 0 || n > bytes_record::max_size)
        throw inspect_fault("describes a ring of " + std::to_string(n) + " bytes, which no byte queue has");
    const auto r = read_ring(v, o.ring, cache_line, n);
    if (!r) {
        out.note = "its indices kept moving: depth not read";
        return;
    }
    out.depth_bytes = r->tail - r->head;
    out.sent_bytes = r->tail;
    out.received_bytes = r->head;
    const auto* head = v.at<std::atomic<std::uint64_t>>(o.ring + cache_line, "ring's head");
    const auto* words = v.at<std::atomic<std::uint64_t>>(o.ring + 2 * cache_line, "ring of records",
                                                         static_cast<std::size_t>(n / bytes_record::header));
    for (int attempt = 0; attempt < 4 && !out.depth_messages; ++attempt) {
        const auto again = attempt == 0 ? r : read_ring(v, o.ring, cache_line, n);
        if (again) out.depth_messages = count_records(words, n, *head, *again);
    }
}

template <class Queue, mode_policy Mode>
class bytes_sender;
template <class Queue, mode_policy Mode>
class bytes_receiver;
template <class Queue>
class bytes_loan;
template <class Queue>
class bytes_view;

/// A bounded queue of variable-size messages of up to Max bytes, in a ring of N bytes in a
/// named shared-memory segment: what ipckit::queue<bytes<Max>, bounded<N>, ...> is.
///
/// Many senders, one receiver. A byte ring frees its records in ring order, so with several
/// receivers each would wait for the slowest record taken before its own (a held view would
/// stop every receiver), and a receiver killed in the middle of a record would need a second
/// layer of claims to be recovered from. Rather than offer that badly, a bytes queue has one
/// receiver; to share work among several, receive in one place and hand out, or use a queue of
/// fixed-size messages.
template <std::size_t Max, std::size_t N, cardinality_policy Producers, cardinality_policy Consumers,
          wait_policy Wait, ownership_policy Ownership>
class bytes_queue : public queue_handle<bytes_queue<Max, N, Producers, Consumers, Wait, Ownership>> {
    static_assert(Consumers::max == 1,
                  "ipckit::queue<bytes<Max>, bounded<N>, Producers, Consumers>: a queue of variable-size messages has "
                  "one receiver at a time (Consumers = single), because its records are freed in ring order: several "
                  "receivers would each wait for the slowest. Receive in one place and hand the work out, or use a "
                  "queue of fixed-size messages for many receivers");

public:
    using message_type = bytes<Max>;
    using wait_type = Wait;
    using ownership_type = Ownership;
    /// The ring's size in bytes (bounded<N> counts bytes for bytes<Max>, not messages).
    static constexpr std::size_t capacity = N;
    /// The longest message a send accepts: Max, or less if the ring is smaller than its record.
    static constexpr std::size_t max_message = std::min<std::size_t>(Max, N - bytes_record::header);
    static constexpr std::size_t max_senders = Producers::max;
    static constexpr std::size_t max_receivers = Consumers::max;
    /// Records are freed in ring order: one receiver (see above), so receiver_busy suggests no multi_of.
    static constexpr bool one_receiver_only = true;

    using shared = bytes_queue_shared<Max, capacity, max_senders, max_receivers>;
    /// Where its endpoints sleep, and whom closing wakes (close()).
    template <class Role>
    using bells = role_bells<Role>;
    template <mode_policy Mode>
    using sender_type = bytes_sender<bytes_queue, Mode>;
    template <mode_policy Mode>
    using receiver_type = bytes_receiver<bytes_queue, Mode>;
    /// A message being written in place: what sender.loan(n) returns.
    using loan = bytes_loan<bytes_queue>;
    /// A message being read in place: what receiver.receive_view() returns.
    using view = bytes_view<bytes_queue>;
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a queue must be standard layout");
    static_assert(alignof(shared) <= header_size, "the shared part must be placeable after the segment header");

    /// Whether a message of `length` bytes can be sent at all.
    static constexpr bool fits(std::size_t length) noexcept { return length <= max_message; }

    /// The description and size a segment must match to be this queue.
    static segment_layout layout() {
        return {describe_queue<Producers, Consumers, Ownership>("bytes<" + std::to_string(Max) + ">",
                                                                "bounded<" + std::to_string(capacity) + " bytes>"),
                header_size + sizeof(shared)};
    }

    /// How much is waiting now (every kind's depth(): the part of the capacity in use, in the
    /// capacity's unit), here bytes of the ring: records, headers, padding. A snapshot, stale as
    /// soon as it is returned. 0 if the indices are corrupt.
    [[nodiscard]] std::size_t depth() const noexcept {
        return tail_minus_head(this->template shared_part<shared>().ring, capacity);
    }

private:
    friend queue_handle<bytes_queue>;
    bytes_queue(segment&& s, const options& opt) : queue_handle<bytes_queue>(std::move(s), opt) {}

    // Value-initialises the ring: the records start all zero, as the multi-producer protocol needs.
    static void init(void* body) { ::new (body) shared; }

};

/// A message being written in place, from sender.loan(n). Move-only. data() is n bytes of the
/// ring; commit() publishes them, commit(k) only the first k. Destroyed uncommitted, it gives
/// the room back (many senders: as a record the receiver skips). Release it before its sender
/// is closed or destroyed, in the process that made it.
template <class Queue>
class bytes_loan {
    using shared = typename Queue::shared;
    using producer = typename shared::producer_type;

public:
    /// An empty loan: nothing to write, commit() returns closed.
    bytes_loan() noexcept = default;
    bytes_loan(bytes_loan&& o) noexcept
        : shared_(std::exchange(o.shared_, nullptr)), pending_(o.pending_), r_(o.r_), light_fence_(o.light_fence_) {}
    bytes_loan& operator=(bytes_loan&& o) noexcept {
        if (this != &o) {
            abandon();
            shared_ = std::exchange(o.shared_, nullptr);
            pending_ = o.pending_;
            r_ = o.r_;
            light_fence_ = o.light_fence_;
        }
        return *this;
    }
    bytes_loan(const bytes_loan&) = delete;
    bytes_loan& operator=(const bytes_loan&) = delete;
    ~bytes_loan() { abandon(); }

    /// The bytes to write: size() of them, in the ring. Empty once committed or abandoned.
    [[nodiscard]] std::span<std::byte> data() const noexcept {
        if (shared_ == nullptr) return {};
        return {shared_->ring.payload(r_.pos), static_cast<std::size_t>(r_.capacity)};
    }
    /// How many bytes were lent (0 once committed or abandoned).
    [[nodiscard]] std::size_t size() const noexcept { return shared_ == nullptr ? 0 : static_cast<std::size_t>(r_.capacity); }
    /// Whether the loan is still open.
    explicit operator bool() const noexcept { return shared_ != nullptr; }

    /// Publishes all size() bytes. closed if the loan is no longer open.
    status commit() noexcept { return commit(size()); }
    /// Publishes the first `length` bytes: too_large (and the loan stays open) if length > size(),
    /// closed if the loan is no longer open.
    status commit(std::size_t length) noexcept {
        if (shared_ == nullptr) return unexpected(errc::closed);
        if (length > r_.capacity) return unexpected(errc::too_large);
        producer::commit(shared_->ring, *pending_, r_, length);
        shared_->data_bell.notify(light_fence_);
        shared_ = nullptr;
        return {};
    }
    /// Gives the room back unpublished, as destruction does.
    void abandon() noexcept {
        if (shared_ == nullptr) return;
        producer::abandon(shared_->ring, *pending_, r_);
        if constexpr (shared::multi_producer) shared_->data_bell.notify(light_fence_);  // a skip record to pass
        shared_ = nullptr;
    }

private:
    template <class Q, mode_policy M>
    friend class bytes_sender;
    bytes_loan(shared* sh, std::atomic<std::uint64_t>* pending, const bytes_reservation& r, bool light_fence) noexcept
        : shared_(sh), pending_(pending), r_(r), light_fence_(light_fence) {}

    shared* shared_ = nullptr;
    std::atomic<std::uint64_t>* pending_ = nullptr;
    bytes_reservation r_{};
    bool light_fence_ = false;
};

/// A message being read in place, from receiver.receive_view(). Move-only. data() stays valid,
/// and the bytes are not reused, until the view is released (destroyed, or release()). Release
/// it before its receiver is closed or destroyed, in the process that made it.
template <class Queue>
class bytes_view {
    using shared = typename Queue::shared;
    using consumer = typename shared::consumer_type;

public:
    /// An empty view.
    bytes_view() noexcept = default;
    bytes_view(bytes_view&& o) noexcept
        : shared_(std::exchange(o.shared_, nullptr)), found_(o.found_), light_fence_(o.light_fence_) {}
    bytes_view& operator=(bytes_view&& o) noexcept {
        if (this != &o) {
            release();
            shared_ = std::exchange(o.shared_, nullptr);
            found_ = o.found_;
            light_fence_ = o.light_fence_;
        }
        return *this;
    }
    bytes_view(const bytes_view&) = delete;
    bytes_view& operator=(const bytes_view&) = delete;
    ~bytes_view() { release(); }

    /// The message, in the ring. Empty once released.
    [[nodiscard]] std::span<const std::byte> data() const noexcept {
        if (shared_ == nullptr) return {};
        return {shared_->ring.payload(found_.pos), static_cast<std::size_t>(found_.length)};
    }
    /// The message as characters.
    [[nodiscard]] std::string_view text() const noexcept {
        const auto d = data();
        return {reinterpret_cast<const char*>(d.data()), d.size()};
    }
    [[nodiscard]] std::size_t size() const noexcept { return shared_ == nullptr ? 0 : static_cast<std::size_t>(found_.length); }
    /// Whether the view still holds its message.
    explicit operator bool() const noexcept { return shared_ != nullptr; }

    /// Lets the ring reuse the message's bytes, as destruction does.
    void release() noexcept {
        if (shared_ == nullptr) return;
        consumer::release(shared_->ring, found_);
        shared_->space_bell.notify(light_fence_);
        shared_ = nullptr;
    }

private:
    template <class Q, mode_policy M>
    friend class bytes_receiver;
    bytes_view(shared* sh, const bytes_found& f, bool light_fence) noexcept
        : shared_(sh), found_(f), light_fence_(light_fence) {}

    shared* shared_ = nullptr;
    bytes_found found_{};
    bool light_fence_ = false;
};

/// The sending end of a byte queue. Blocking: send and loan wait for room (a deadline or
/// timeout may follow). Non-blocking: they return would_block at once. A message longer than
/// Queue::max_message is too_large at once, in either mode. Closing (close() or destruction)
/// tells the receiver, which gets `closed` once every sender has closed and it has taken every
/// message.
template <class Queue, mode_policy Mode>
class bytes_sender : public endpoint<Queue, producer_role, typename Queue::shared::producer_type, Mode> {
    using base = endpoint<Queue, producer_role, typename Queue::shared::producer_type, Mode>;
    using shared = typename Queue::shared;

public:
    using loan_type = bytes_loan<Queue>;

    /// Sends a copy of `m`. Blocking: waits for room, then ok; or timed_out (not sent), closed /
    /// peer_dead (the receiver is gone and the ring is full), corrupt. Non-blocking: ok,
    /// would_block, closed or corrupt, at once. Either: too_large at once if m is longer than
    /// Queue::max_message; in_use while a loan of this sender is outstanding.
    status send(std::span<const std::byte> m) noexcept {
        if (!Queue::fits(m.size())) return unexpected(errc::too_large);
        return to_status(this->run(push(m)));
    }
    template <deadline D>
    status send(std::span<const std::byte> m, D deadline) noexcept {
        if (!Queue::fits(m.size())) return unexpected(errc::too_large);
        return to_status(this->run(push(m), deadline));
    }
    /// Sends the characters of `s` (without a terminating zero).
    status send(std::string_view s) noexcept { return send(as_bytes(s)); }
    template <deadline D>
    status send(std::string_view s, D deadline) noexcept {
        return send(as_bytes(s), deadline);
    }

    /// Zero copy: lends `n` bytes of the ring to write a message in place (see bytes_loan);
    /// commit the loan to send it. Waits (blocking) or fails (non-blocking) as send does;
    /// too_large at once if n > Queue::max_message. One loan at a time per sender.
    result<loan_type> loan(std::size_t n) noexcept {
        return lend(n, [&](auto op) { return this->template run<false>(op); });
    }
    template <deadline D>
    result<loan_type> loan(std::size_t n, D deadline) noexcept {
        return lend(n, [&](auto op) { return this->template run<false>(op, deadline); });
    }

private:
    friend Queue;
    friend queue_handle<Queue>;
    bytes_sender(std::shared_ptr<segment> seg, const options& opt)
        : base(seg, opt), shared_(static_cast<shared*>(seg->body())), light_fence_(sys::register_light_fence()) {}

    /// Wakes the receiver after an attempt that published a wrap marker but no message (a
    /// message wakes it through the endpoint), so that it frees the marker.
    void wake_after(errc e, bool woken_on_ok, auto& cursor) noexcept {
        if (cursor.take_progress() && (e != errc::ok || !woken_on_ok)) shared_->data_bell.notify(light_fence_);
    }

    auto push(std::span<const std::byte> m) noexcept {
        return [this, m](auto& cursor) {
            const errc e = cursor.try_send(m.data(), m.size());
            this->wake_after(e, true, cursor);
            return e;
        };
    }

    template <class Run>
    result<loan_type> lend(std::size_t n, Run&& run) noexcept {
        if (!Queue::fits(n)) return unexpected(errc::too_large);
        bytes_reservation r;
        std::atomic<std::uint64_t>* pending = nullptr;
        const errc e = run([this, n, &r, &pending](auto& cursor) {
            const errc got = cursor.try_loan(n, r);
            if (got == errc::ok) pending = &cursor.pending();
            this->wake_after(got, false, cursor);
            return got;
        });
        if (e != errc::ok) return unexpected(e);
        return loan_type(shared_, pending, r, light_fence_);
    }

    shared* shared_;  // the loans' way to the ring, which outlives a move of this endpoint
    bool light_fence_;
};

/// The receiving end of a byte queue. Blocking: the verbs wait for a message (a deadline or
/// timeout may be given). Non-blocking: they return would_block at once. Either way they
/// return closed or peer_dead only after every message the senders sent has been received.
template <class Queue, mode_policy Mode>
class bytes_receiver : public endpoint<Queue, consumer_role, typename Queue::shared::consumer_type, Mode> {
    using base = endpoint<Queue, consumer_role, typename Queue::shared::consumer_type, Mode>;
    using shared = typename Queue::shared;

public:
    using view_type = bytes_view<Queue>;

    /// Receives the oldest message into `buffer` and returns its length. If the message is
    /// longer than the buffer: too_large, and the message stays first in the queue, so that a
    /// bigger buffer can take it. Blocking: waits for a message; closed or peer_dead once the
    /// senders have gone and the queue is empty; timed_out. Non-blocking: would_block when
    /// empty. in_use while a view is outstanding; corrupt if the ring is damaged.
    result<std::size_t> receive(std::span<std::byte> buffer) noexcept {
        return into(buffer, [&](auto op) { return run_recovering(op); });
    }
    template <deadline D>
    result<std::size_t> receive(std::span<std::byte> buffer, D deadline) noexcept {
        return into(buffer, [&](auto op) { return this->run(op, deadline); });
    }

    /// Receives the oldest message into a vector of its size: as receive(buffer), never
    /// too_large; no_space if the vector cannot be allocated (the message then stays).
    result<std::vector<std::byte>> receive() noexcept {
        return to_vector([&](auto op) { return run_recovering(op); });
    }
    template <deadline D>
    result<std::vector<std::byte>> receive(D deadline) noexcept {
        return to_vector([&](auto op) { return this->run(op, deadline); });
    }

    /// Zero copy: the oldest message, read in place (see bytes_view). It counts as received;
    /// its bytes stay until the view goes. Waits or fails as receive does. One view at a time
    /// per receiver.
    result<view_type> receive_view() noexcept {
        return to_view([&](auto op) { return run_recovering<false>(op); });
    }
    template <deadline D>
    result<view_type> receive_view(D deadline) noexcept {
        return to_view([&](auto op) { return this->template run<false>(op, deadline); });
    }

private:
    friend Queue;
    friend queue_handle<Queue>;
    bytes_receiver(std::shared_ptr<segment> seg, const options& opt)
        : base(seg, opt), shared_(static_cast<shared*>(seg->body())), light_fence_(sys::register_light_fence()) {}

    /// run(op), and for a non-blocking receiver of many senders one more thing: a blocking
    /// receiver skips the record of a sender that died between reserving and committing it
    /// (the endpoint's wait loop calls recover()), but a non-blocking one never waits. So when
    /// it would block on such a record, it asks too, at most once per liveness interval (a
    /// clock read while stalled; the system calls only then). Never on its fast path.
    template <bool Progress = true, class Op>
    errc run_recovering(Op&& op) noexcept {
        errc e = this->template run<Progress>(op);
        if constexpr (std::same_as<Mode, non_blocking> && shared::multi_producer) {
            if (e == errc::would_block && this->cursor().stalled()) {
                const auto now = clock::now();
                if (now >= next_recovery_) {
                    next_recovery_ = now + this->liveness_;
                    if (this->cursor().recover([this](std::uint64_t p) { return shared_->senders.live_claimant(p); }))
                        e = this->template run<Progress>(op);
                }
            }
        }
        return e;
    }

    /// An attempt that runs take(cursor, found) on the message at the head, if there is one.
    /// Skip records freed on the way are progress the senders may wait on: they are woken
    /// here unless the endpoint wakes them (after a success, when woken_on_ok).
    template <class Take>
    auto taking(bool woken_on_ok, Take take) noexcept {
        return [this, woken_on_ok, take](auto& cursor) mutable {
            bytes_found f;
            errc e = cursor.peek(f);
            if (e == errc::ok) e = take(cursor, f);
            if (cursor.take_progress() && (e != errc::ok || !woken_on_ok)) shared_->space_bell.notify(light_fence_);
            return e;
        };
    }

    template <class Run>
    result<std::size_t> into(std::span<std::byte> buffer, Run&& run) noexcept {
        std::size_t n = 0;
        const errc e = run(taking(true, [buffer, &n](auto& cursor, const bytes_found& f) {
            if (f.length > buffer.size()) return errc::too_large;
            if (f.length != 0) std::memcpy(buffer.data(), cursor.payload(f), f.length);
            cursor.consume(f);
            n = static_cast<std::size_t>(f.length);
            return errc::ok;
        }));
        if (e != errc::ok) return unexpected(e);
        return n;
    }

    template <class Run>
    result<std::vector<std::byte>> to_vector(Run&& run) noexcept {
        std::vector<std::byte> out;
        const errc e = run(taking(true, [&out](auto& cursor, const bytes_found& f) {
            try {
                out.resize(static_cast<std::size_t>(f.length));
            } catch (...) {  // std::bad_alloc, std::length_error: no_space
                return current_exception_errc();
            }
            if (f.length != 0) std::memcpy(out.data(), cursor.payload(f), f.length);
            cursor.consume(f);
            return errc::ok;
        }));
        if (e != errc::ok) return unexpected(e);
        return out;
    }

    template <class Run>
    result<view_type> to_view(Run&& run) noexcept {
        bytes_found held;
        const errc e = run(taking(false, [&held](auto& cursor, const bytes_found& f) {
            cursor.hold(f);
            held = f;
            return errc::ok;
        }));
        if (e != errc::ok) return unexpected(e);
        return view_type(shared_, held, light_fence_);
    }

    shared* shared_;  // the views' way to the ring, which outlives a move of this endpoint
    bool light_fence_;
    clock::time_point next_recovery_{};
};

}  // namespace ipckit::detail
