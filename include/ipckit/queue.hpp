#pragma once
// queue: the seed's shared-memory buffer between a producer and a consumer process, composed
// from policies, with sender and receiver endpoints whose verbs block or not by their Mode.
//
//   using ticks = ipckit::queue<tick, ipckit::bounded<4096>>;   // SPSC, adaptive wait
//   auto tx = ticks::create("market.ticks").sender();            // process A
//   auto rx = ticks::open("market.ticks").receiver();            // process B
//
// Guarantees: each message is delivered whole, once, in the order sent. A blocked verb returns
// timed_out at its deadline, closed once the peer closed its endpoint, and peer_dead within
// about options::liveness_interval once the peer's process died; messages sent before either
// are received first. The data path never throws, never locks, and makes a system call only to
// wake a peer that sleeps (or, in a blocking verb, to sleep).
//
// Thread safety: a queue handle may be shared; each endpoint is restricted thread-safe (one
// thread at a time). One sender and one receiver may be attached at a time (single/single);
// a second attach gets sender_busy / receiver_busy while the first one's process lives.

#include <ipckit/detail/doorbell.hpp>
#include <ipckit/detail/endpoint_slot.hpp>
#include <ipckit/detail/layout.hpp>
#include <ipckit/detail/ring/spsc.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace ipckit {

template <class Queue, mode_policy Mode = blocking>
class sender;
template <class Queue, mode_policy Mode = blocking>
class receiver;

namespace detail {

/// What every endpoint has: the segment kept alive, its slot held, the liveness interval.
template <class Shared>
class endpoint_base {
public:
    endpoint_base(endpoint_base&& o) noexcept
        : segment_(std::move(o.segment_)), shared_(std::exchange(o.shared_, nullptr)), me_(o.me_),
          light_fence_(o.light_fence_), liveness_(o.liveness_) {}
    endpoint_base& operator=(endpoint_base&& o) noexcept {
        if (this != &o) {
            std::swap(segment_, o.segment_);
            std::swap(shared_, o.shared_);
            std::swap(me_, o.me_);
            std::swap(light_fence_, o.light_fence_);
            std::swap(liveness_, o.liveness_);
        }
        return *this;
    }
    endpoint_base(const endpoint_base&) = delete;
    endpoint_base& operator=(const endpoint_base&) = delete;

    /// The name of the queue.
    [[nodiscard]] const std::string& name() const noexcept { return segment_->name(); }

protected:
    endpoint_base(std::shared_ptr<segment> seg, const options& opt)
        : segment_(std::move(seg)), shared_(static_cast<Shared*>(segment_->body())), me_(sys::self()),
          light_fence_(sys::register_light_fence()), liveness_(opt.liveness_interval) {}
    ~endpoint_base() = default;

    /// Whether this endpoint is attached and belongs to this process; a forked child inherits
    /// its parent's endpoints, and closing one there must not close the parent's. Drops the
    /// child's copy.
    bool attached_here() noexcept {
        if (shared_ == nullptr) return false;
        if (static_cast<std::uint32_t>(::getpid()) == me_.pid) return true;
        shared_ = nullptr;
        return false;
    }

    /// Takes `slot` for this process or throws `busy` naming the process that holds it.
    void claim(endpoint_slot& slot, errc busy, const char* role) const {
        if (const auto holder = slot.claim(me_))
            throw error(busy, "queue '" + name() + "' already has a " + role + ": process " +
                                  std::to_string(holder->pid) + (holder->pid == me_.pid ? " (this one)" : "") +
                                  ". A single-" + (busy == errc::sender_busy ? "producer" : "consumer") +
                                  " queue takes one " + role + " at a time: close the other one first");
    }

    std::shared_ptr<segment> segment_;
    Shared* shared_;
    sys::process_id me_;
    bool light_fence_;
    std::chrono::nanoseconds liveness_;
};

/// A steady_clock deadline or a timeout: what the blocking verbs take last.
template <class D>
inline constexpr bool is_deadline = std::is_same_v<D, clock::time_point>;
template <class Rep, class Period>
inline constexpr bool is_deadline<std::chrono::duration<Rep, Period>> = true;

template <class>
inline constexpr bool always_false = false;

inline status to_status(errc e) noexcept { return e == errc::ok ? status{} : status{unexpected(e)}; }

/// The deadline of a verb given a relative timeout.
template <class Rep, class Period>
clock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout) noexcept {
    const auto now = clock::now();
    if (timeout > std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(clock::time_point::max() - now))
        return clock::time_point::max();
    return now + std::chrono::duration_cast<clock::duration>(timeout);
}

}  // namespace detail

/// A bounded queue of messages `T` in a named shared-memory segment. See the top of this file.
template <message T, capacity_policy Capacity, cardinality_policy Producers = single,
          cardinality_policy Consumers = single, wait_policy Wait = adaptive,
          ownership_policy Ownership = process_owned>
class queue {
public:
    using message_type = T;
    using wait_type = Wait;
    using ownership_type = Ownership;
    static constexpr std::size_t capacity = Capacity::capacity;

    /// What lives in the segment after its header.
    ///   0              ring.tail / ring.head / ring.slots   (see detail/ring/spsc.hpp), then:
    ///   data_bell      the receiver sleeps here while the queue is empty
    ///   space_bell     the sender sleeps here while the queue is full
    ///   sender_slot    who sends (vacant, closed, or pid + start time)
    ///   receiver_slot  who receives
    struct shared {
        alignas(cache_line) detail::doorbell data_bell;
        alignas(cache_line) detail::doorbell space_bell;
        alignas(cache_line) detail::endpoint_slot sender_slot;
        alignas(cache_line) detail::endpoint_slot receiver_slot;
        detail::spsc_ring<T, capacity> ring;
    };
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a queue must be standard layout");

    /// The description and size a segment must match to be this queue.
    static detail::layout layout() {
        std::string d = "ipckit::queue<";
        d += detail::type_name<T>();
        d += " (" + std::to_string(sizeof(T)) + " B, align " + std::to_string(alignof(T)) + "), bounded<" +
             std::to_string(capacity) + ">, " + std::string(Producers::name) + " producer, " +
             std::string(Consumers::name) + " consumer>";
        return {std::move(d), detail::header_size + sizeof(shared)};
    }

    /// Creates the queue `name`. Throws already_exists, invalid_name, permission_denied, no_space.
    static queue create(std::string_view name, const options& opt = {}) {
        return queue(segment::create<Ownership>(name, layout(), opt, init), opt);
    }
    /// Opens the existing queue `name`. Throws not_found, incompatible_layout, corrupt, ...
    static queue open(std::string_view name, const options& opt = {}) {
        return queue(segment::open(name, layout(), opt), opt);
    }
    /// Opens `name`, or creates it if there is none (exactly one of racing processes creates).
    static queue open_or_create(std::string_view name, const options& opt = {}) {
        return queue(segment::open_or_create<Ownership>(name, layout(), opt, init), opt);
    }
    /// Removes the queue `name`; processes that have it open keep using it. False if none.
    static bool remove(std::string_view name) { return remove_segment(name); }

    /// Attaches this process as the queue's sender. Throws sender_busy while another live
    /// process (or another endpoint of this one) is the sender.
    template <mode_policy Mode = blocking>
    [[nodiscard]] ipckit::sender<queue, Mode> sender() const {
        return ipckit::sender<queue, Mode>(segment_, options_);
    }
    /// Attaches this process as the queue's receiver. Throws receiver_busy likewise.
    template <mode_policy Mode = blocking>
    [[nodiscard]] ipckit::receiver<queue, Mode> receiver() const {
        return ipckit::receiver<queue, Mode>(segment_, options_);
    }

    [[nodiscard]] const std::string& name() const noexcept { return segment_->name(); }
    /// Whether this handle created the segment.
    [[nodiscard]] bool created() const noexcept { return segment_->created(); }
    /// Messages waiting now: a snapshot, stale as soon as it is returned. 0 if the indices are corrupt.
    [[nodiscard]] std::size_t size() const noexcept {
        const auto& ring = static_cast<const shared*>(segment_->body())->ring;
        const std::uint64_t head = ring.head.load(std::memory_order_acquire);
        const std::uint64_t tail = ring.tail.load(std::memory_order_acquire);
        return detail::spsc_ring<T, capacity>::consistent(head, tail) ? static_cast<std::size_t>(tail - head) : 0;
    }

private:
    static_assert(std::same_as<Producers, single> && std::same_as<Consumers, single>,
                  "this version of ipckit::queue is single-producer single-consumer");

    queue(segment&& s, const options& opt) : segment_(std::make_shared<segment>(std::move(s))), options_(opt) {}

    static void init(void* body) { ::new (body) shared; }

    std::shared_ptr<segment> segment_;
    options options_;
};

/// The sending end of a queue. Blocking: send waits while the queue is full (with deadline
/// overloads). Non-blocking: send returns would_block at once. Closing (destruction) tells the
/// receiver, which gets `closed` once it has taken every message.
template <class Queue, mode_policy Mode>
class sender : public detail::endpoint_base<typename Queue::shared> {
    using base = detail::endpoint_base<typename Queue::shared>;
    using T = typename Queue::message_type;

public:
    sender(sender&&) noexcept = default;
    sender& operator=(sender&& o) noexcept {
        if (this != &o) {
            close();
            base::operator=(std::move(o));
            producer_ = o.producer_;
        }
        return *this;
    }
    ~sender() { close(); }

    /// Sends `m`. Blocking: waits for room; ok, closed, peer_dead (the receiver is gone and the
    /// queue is full) or corrupt. Non-blocking: ok, would_block, closed or corrupt, at once.
    status send(const T& m) noexcept {
        if constexpr (std::same_as<Mode, blocking>)
            return send(m, detail::clock::time_point::max());
        else
            return finish(push(m));
    }
    /// Blocking only: as send(m), or timed_out once `deadline` (steady_clock) has passed.
    status send(const T& m, detail::clock::time_point deadline) noexcept
        requires std::same_as<Mode, blocking>
    {
        for (;;) {
            const errc e = push(m);
            if (e != errc::would_block) return finish(e);
            const errc w = detail::wait_until<typename Queue::wait_type>(
                this->shared_->space_bell, [this] { return producer_.has_room(); },
                [this](bool ask_os) { return this->shared_->receiver_slot.state(ask_os); }, deadline, this->liveness_);
            if (w != errc::ok) return unexpected(w);
        }
    }
    /// Blocking only: as send(m), or timed_out after `timeout`.
    template <class Rep, class Period>
    status send(const T& m, std::chrono::duration<Rep, Period> timeout) noexcept
        requires std::same_as<Mode, blocking>
    {
        return send(m, detail::deadline_after(timeout));
    }
    template <class D>
    status send(const T&, D) noexcept
        requires std::same_as<Mode, non_blocking> && detail::is_deadline<D>
    {
        static_assert(detail::always_false<D>,
                      "a non_blocking sender returns at once, so a deadline means nothing: use a blocking sender");
        return {};
    }

    /// Asks the OS whether the receiver is still there: ok (attached, or none yet), closed or
    /// peer_dead. A system call; the non-blocking data path never makes one.
    [[nodiscard]] errc peer() const noexcept { return this->shared_->receiver_slot.state(true); }

private:
    friend Queue;
    sender(std::shared_ptr<segment> seg, const options& opt) : base(std::move(seg), opt) {
        this->claim(this->shared_->sender_slot, errc::sender_busy, "sender");
        if (!producer_.attach(this->shared_->ring)) {
            this->shared_->sender_slot.release(this->me_);
            throw error(errc::corrupt, "queue '" + this->name() + "' has inconsistent indices: remove it and create it again");
        }
    }

    errc push(const T& m) noexcept {
        const errc e = producer_.try_push(m);
        if (e == errc::ok) this->shared_->data_bell.notify(this->light_fence_);
        // A full queue whose receiver has closed will never drain: say so rather than block.
        if (e == errc::would_block && this->shared_->receiver_slot.state(false) == errc::closed) return errc::closed;
        return e;
    }
    static status finish(errc e) noexcept { return detail::to_status(e); }

    void close() noexcept {
        if (!this->attached_here()) return;
        this->shared_->sender_slot.release(this->me_);
        this->shared_->data_bell.ring();
        this->shared_ = nullptr;
    }

    detail::spsc_producer<T, Queue::capacity> producer_;
};

/// The receiving end of a queue. Blocking: receive waits for a message (with deadline
/// overloads). Non-blocking: receive returns would_block at once. Either way it returns closed
/// or peer_dead only after every message the sender sent has been received.
template <class Queue, mode_policy Mode>
class receiver : public detail::endpoint_base<typename Queue::shared> {
    using base = detail::endpoint_base<typename Queue::shared>;
    using T = typename Queue::message_type;

public:
    receiver(receiver&&) noexcept = default;
    receiver& operator=(receiver&& o) noexcept {
        if (this != &o) {
            close();
            base::operator=(std::move(o));
            consumer_ = o.consumer_;
        }
        return *this;
    }
    ~receiver() { close(); }

    /// Receives the oldest message. Blocking: waits for one; closed or peer_dead once the
    /// sender has gone and the queue is empty. Non-blocking: would_block when empty.
    result<T> receive() noexcept {
        if constexpr (std::same_as<Mode, blocking>)
            return receive(detail::clock::time_point::max());
        else
            return pop_into_value();
    }
    /// Blocking only: as receive(), or timed_out once `deadline` (steady_clock) has passed.
    result<T> receive(detail::clock::time_point deadline) noexcept
        requires std::same_as<Mode, blocking>
    {
        T out;
        const status s = receive(out, deadline);
        if (!s) return unexpected(s.error());
        return out;
    }
    template <class Rep, class Period>
    result<T> receive(std::chrono::duration<Rep, Period> timeout) noexcept
        requires std::same_as<Mode, blocking>
    {
        return receive(detail::deadline_after(timeout));
    }

    /// As receive(), into `out` (no copy through a result; for large messages).
    status receive(T& out) noexcept {
        if constexpr (std::same_as<Mode, blocking>)
            return receive(out, detail::clock::time_point::max());
        else
            return finish(pop(out));
    }
    status receive(T& out, detail::clock::time_point deadline) noexcept
        requires std::same_as<Mode, blocking>
    {
        for (;;) {
            const errc e = pop(out);
            if (e != errc::would_block) return finish(e);
            const errc w = detail::wait_until<typename Queue::wait_type>(
                this->shared_->data_bell, [this] { return consumer_.has_data(); },
                [this](bool ask_os) { return this->shared_->sender_slot.state(ask_os); }, deadline, this->liveness_);
            if (w != errc::ok) return unexpected(w);
        }
    }
    template <class Rep, class Period>
    status receive(T& out, std::chrono::duration<Rep, Period> timeout) noexcept
        requires std::same_as<Mode, blocking>
    {
        return receive(out, detail::deadline_after(timeout));
    }
    template <class D>
    result<T> receive(D) noexcept
        requires std::same_as<Mode, non_blocking> && detail::is_deadline<D>
    {
        static_assert(detail::always_false<D>,
                      "a non_blocking receiver returns at once, so a deadline means nothing: use a blocking receiver");
        return unexpected(errc::would_block);
    }
    template <class D>
    status receive(T&, D) noexcept
        requires std::same_as<Mode, non_blocking> && detail::is_deadline<D>
    {
        static_assert(detail::always_false<D>,
                      "a non_blocking receiver returns at once, so a deadline means nothing: use a blocking receiver");
        return {};
    }

    /// Asks the OS whether the sender is still there: ok (attached, or none yet), closed or peer_dead.
    [[nodiscard]] errc peer() const noexcept { return this->shared_->sender_slot.state(true); }

private:
    friend Queue;
    receiver(std::shared_ptr<segment> seg, const options& opt) : base(std::move(seg), opt) {
        this->claim(this->shared_->receiver_slot, errc::receiver_busy, "receiver");
        if (!consumer_.attach(this->shared_->ring)) {
            this->shared_->receiver_slot.release(this->me_);
            throw error(errc::corrupt, "queue '" + this->name() + "' has inconsistent indices: remove it and create it again");
        }
    }

    errc pop(T& out) noexcept {
        errc e = consumer_.try_pop(out);
        if (e == errc::ok) {
            this->shared_->space_bell.notify(this->light_fence_);
        } else if (e == errc::would_block && this->shared_->sender_slot.state(false) == errc::closed) {
            // The sender published everything before it closed; look once more, then say closed.
            e = consumer_.has_data() ? pop(out) : errc::closed;
        }
        return e;
    }
    result<T> pop_into_value() noexcept {
        T out;
        const errc e = pop(out);
        if (e != errc::ok) return unexpected(e);
        return out;
    }
    static status finish(errc e) noexcept { return detail::to_status(e); }

    void close() noexcept {
        if (!this->attached_here()) return;
        this->shared_->receiver_slot.release(this->me_);
        this->shared_->space_bell.ring();
        this->shared_ = nullptr;
    }

    detail::spsc_consumer<T, Queue::capacity> consumer_;
};

}  // namespace ipckit
