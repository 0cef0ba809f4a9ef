#pragma once
// Bounded queues of fixed-size messages: the SPSC ring for one sender and one receiver,
// Vyukov's ring for many of either, behind one pair of endpoint types.

#include <ipckit/detail/endpoint.hpp>
#include <ipckit/detail/layout.hpp>
#include <ipckit/detail/ring/mpmc.hpp>
#include <ipckit/detail/ring/spsc.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// What lives in a queue's segment after the header, and the cursor each side uses: the SPSC
/// ring when there is one producer and one consumer, Vyukov's ring otherwise.
///   data_bell    receivers sleep here while the queue is empty
///   space_bell   senders sleep here while it is full
///   senders      roster of up to MaxP senders (who, and which position each is claiming)
///   receivers    roster of up to MaxC receivers
///   ring         indices and slots (detail/ring/spsc.hpp or mpmc.hpp)
template <message T, std::size_t N, std::size_t MaxP, std::size_t MaxC>
struct queue_shared {
    static constexpr bool spsc = MaxP == 1 && MaxC == 1;
    using ring_type = std::conditional_t<spsc, spsc_ring<T, N>, mpmc_ring<T, N>>;
    using producer_type = std::conditional_t<spsc, spsc_producer<T, N>, mpmc_producer<T, N, (MaxP > 1)>>;
    using consumer_type = std::conditional_t<spsc, spsc_consumer<T, N>, mpmc_consumer<T, N, (MaxC > 1)>>;

    alignas(cache_line) doorbell data_bell;
    alignas(cache_line) doorbell space_bell;
    roster<MaxP> senders;
    roster<MaxC> receivers;
    ring_type ring;
};

template <class Queue, mode_policy Mode>
class fixed_sender;
template <class Queue, mode_policy Mode>
class fixed_receiver;

/// A bounded queue of fixed-size messages `T` in a named shared-memory segment: what
/// ipckit::queue<T, bounded<N>, ...> is. See <ipckit/queue.hpp>.
template <message T, std::size_t N, cardinality_policy Producers, cardinality_policy Consumers,
          wait_policy Wait, ownership_policy Ownership>
class fixed_queue {
public:
    using message_type = T;
    using wait_type = Wait;
    using ownership_type = Ownership;
    static constexpr std::size_t capacity = N;
    static constexpr std::size_t max_senders = Producers::max;
    static constexpr std::size_t max_receivers = Consumers::max;

    using shared = queue_shared<T, capacity, max_senders, max_receivers>;
    template <mode_policy Mode>
    using sender_type = fixed_sender<fixed_queue, Mode>;
    template <mode_policy Mode>
    using receiver_type = fixed_receiver<fixed_queue, Mode>;
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a queue must be standard layout");
    static_assert(alignof(shared) <= header_size,
                  "a message type aligned to more than 256 bytes cannot live after the segment header");

    /// The description and size a segment must match to be this queue.
    static segment_layout layout() {
        auto side = [](std::string_view kind, std::size_t max, const char* what) {
            return std::string(kind) + (max > 1 ? "<" + std::to_string(max) + ">" : std::string()) + " " + what;
        };
        std::string d = "ipckit::queue<";
        d += type_name<T>();
        d += " (" + std::to_string(sizeof(T)) + " B, align " + std::to_string(alignof(T)) + "), bounded<" +
             std::to_string(capacity) + ">, " + side(Producers::name, max_senders, "producer") + ", " +
             side(Consumers::name, max_receivers, "consumer") + ">";
        return {std::move(d), header_size + sizeof(shared)};
    }

    /// Creates the queue `name`. Throws already_exists, invalid_name, permission_denied, no_space.
    static fixed_queue create(std::string_view name, const options& opt = {}) {
        return fixed_queue(segment::create<Ownership>(name, layout(), opt, init), opt);
    }
    /// Opens the existing queue `name`. Throws not_found, incompatible_layout, corrupt, ...
    static fixed_queue open(std::string_view name, const options& opt = {}) {
        return fixed_queue(segment::open(name, layout(), opt), opt);
    }
    /// Opens `name`, or creates it if there is none (exactly one of racing processes creates).
    static fixed_queue open_or_create(std::string_view name, const options& opt = {}) {
        return fixed_queue(segment::open_or_create<Ownership>(name, layout(), opt, init), opt);
    }
    /// Removes the queue `name`; processes that have it open keep using it. False if none.
    static bool remove(std::string_view name) { return remove_segment(name); }

    /// Attaches a sender. Throws sender_busy while Producers::max live senders are attached
    /// (one, for a single-producer queue; another endpoint of this process counts).
    template <mode_policy Mode = blocking>
    [[nodiscard]] sender_type<Mode> sender() const {
        return sender_type<Mode>(segment_, options_);
    }
    /// Attaches a receiver. Throws receiver_busy likewise.
    template <mode_policy Mode = blocking>
    [[nodiscard]] receiver_type<Mode> receiver() const {
        return receiver_type<Mode>(segment_, options_);
    }

    [[nodiscard]] const std::string& name() const noexcept { return segment_->name(); }
    /// Whether this handle created the segment.
    [[nodiscard]] bool created() const noexcept { return segment_->created(); }
    /// Messages waiting now: a snapshot, stale as soon as it is returned. 0 if the indices are corrupt.
    [[nodiscard]] std::size_t size() const noexcept {
        const auto& ring = static_cast<const shared*>(segment_->body())->ring;
        const std::uint64_t head = ring.head.load(std::memory_order_acquire);
        const std::uint64_t tail = ring.tail.load(std::memory_order_acquire);
        // Read apart, the two may be from different moments: clamp rather than call it corrupt.
        if (head > tail) return 0;
        return static_cast<std::size_t>(std::min<std::uint64_t>(tail - head, capacity));
    }

private:
    fixed_queue(segment&& s, const options& opt) : segment_(std::make_shared<segment>(std::move(s))), options_(opt) {}

    static void init(void* body) { ::new (body) shared; }

    std::shared_ptr<segment> segment_;
    options options_;
};

/// The sending end of a queue. Blocking: send waits while the queue is full (with deadline
/// overloads). Non-blocking: send returns would_block at once. Closing (destruction) tells the
/// receivers, which get `closed` once every sender has closed and they have taken every message.
template <class Queue, mode_policy Mode>
class fixed_sender : public endpoint<Queue, producer_role, typename Queue::shared::producer_type> {
    using base = endpoint<Queue, producer_role, typename Queue::shared::producer_type>;
    using T = typename Queue::message_type;

public:
    /// Sends `m`. Blocking: waits for room; ok, closed or peer_dead (every receiver is gone and
    /// the queue is full) or corrupt. Non-blocking: ok, would_block, closed or corrupt, at once.
    status send(const T& m) noexcept {
        if constexpr (std::same_as<Mode, blocking>)
            return send(m, clock::time_point::max());
        else
            return to_status(this->attempt(push(m)));
    }
    /// Blocking only: as send(m), or timed_out once `deadline` (steady_clock) has passed; the
    /// message is then not sent.
    status send(const T& m, clock::time_point deadline) noexcept
        requires std::same_as<Mode, blocking>
    {
        return to_status(this->template attempt_until<typename Queue::wait_type>(push(m), deadline));
    }
    /// Blocking only: as send(m), or timed_out after `timeout`.
    template <class Rep, class Period>
    status send(const T& m, std::chrono::duration<Rep, Period> timeout) noexcept
        requires std::same_as<Mode, blocking>
    {
        return send(m, deadline_after(timeout));
    }
    template <class D>
    status send(const T&, D) noexcept
        requires std::same_as<Mode, non_blocking> && is_deadline<D>
    {
        static_assert(always_false<D>,
                      "a non_blocking sender returns at once, so a deadline means nothing: use a blocking sender");
        return {};
    }

private:
    friend Queue;
    using base::base;

    static auto push(const T& m) noexcept {
        return [&m](auto& cursor) { return cursor.try_push(m); };
    }
};

/// The receiving end of a queue. Blocking: receive waits for a message (with deadline
/// overloads). Non-blocking: receive returns would_block at once. Either way it returns closed
/// or peer_dead only after every message the senders sent has been received.
template <class Queue, mode_policy Mode>
class fixed_receiver : public endpoint<Queue, consumer_role, typename Queue::shared::consumer_type> {
    using base = endpoint<Queue, consumer_role, typename Queue::shared::consumer_type>;
    using T = typename Queue::message_type;

public:
    /// Receives the oldest message. Blocking: waits for one; closed or peer_dead once the
    /// senders have gone and the queue is empty. Non-blocking: would_block when empty.
    result<T> receive() noexcept {
        if constexpr (std::same_as<Mode, blocking>)
            return receive(clock::time_point::max());
        else
            return as_result([&](T& out) { return receive(out); });
    }
    /// Blocking only: as receive(), or timed_out once `deadline` (steady_clock) has passed.
    result<T> receive(clock::time_point deadline) noexcept
        requires std::same_as<Mode, blocking>
    {
        return as_result([&](T& out) { return receive(out, deadline); });
    }
    template <class Rep, class Period>
    result<T> receive(std::chrono::duration<Rep, Period> timeout) noexcept
        requires std::same_as<Mode, blocking>
    {
        return receive(deadline_after(timeout));
    }

    /// As receive(), into `out` (no copy through a result; for large messages).
    status receive(T& out) noexcept {
        if constexpr (std::same_as<Mode, blocking>)
            return receive(out, clock::time_point::max());
        else
            return to_status(this->attempt(pop(out)));
    }
    status receive(T& out, clock::time_point deadline) noexcept
        requires std::same_as<Mode, blocking>
    {
        return to_status(this->template attempt_until<typename Queue::wait_type>(pop(out), deadline));
    }
    template <class Rep, class Period>
    status receive(T& out, std::chrono::duration<Rep, Period> timeout) noexcept
        requires std::same_as<Mode, blocking>
    {
        return receive(out, deadline_after(timeout));
    }
    template <class D>
    result<T> receive(D) noexcept
        requires std::same_as<Mode, non_blocking> && is_deadline<D>
    {
        static_assert(always_false<D>,
                      "a non_blocking receiver returns at once, so a deadline means nothing: use a blocking receiver");
        return unexpected(errc::would_block);
    }
    template <class D>
    status receive(T&, D) noexcept
        requires std::same_as<Mode, non_blocking> && is_deadline<D>
    {
        static_assert(always_false<D>,
                      "a non_blocking receiver returns at once, so a deadline means nothing: use a blocking receiver");
        return {};
    }

private:
    friend Queue;
    using base::base;

    static auto pop(T& out) noexcept {
        return [&out](auto& cursor) { return cursor.try_pop(out); };
    }
    template <class Into>
    static result<T> as_result(Into&& into) noexcept {
        T out;
        const status s = into(out);
        if (!s) return unexpected(s.error());
        return out;
    }
};

}  // namespace ipckit::detail
