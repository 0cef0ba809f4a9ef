#pragma once
// Bounded queues of fixed-size messages: the SPSC ring for one sender and one receiver,
// Vyukov's ring for many of either, behind one pair of endpoint types.

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/ring/mpmc.hpp>
#include <ipckit/detail/ring/spsc.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
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
///   closed       1 once the queue was closed as a whole: senders refuse (close_queue). On
///                data_bell's line, which every send reads anyway (is a receiver asleep?)
///   space_bell   senders sleep here while it is full
///   senders      roster of up to MaxP senders (who, and which position each is claiming)
///   receivers    roster of up to MaxC receivers
///   ring         indices and slots (detail/ring/spsc.hpp or mpmc.hpp)
template <message T, std::size_t N, std::size_t MaxP, std::size_t MaxC>
struct queue_shared {
    static constexpr bool spsc = MaxP == 1 && MaxC == 1;
    static_assert(spsc || N >= 2,
                  "a queue with multi producers or consumers needs bounded<2> or more: with one slot, its "
                  "per-slot sequence cannot tell a full slot from a free one");
    using ring_type = std::conditional_t<spsc, spsc_ring<T, N>, mpmc_ring<T, N>>;
    using producer_type = std::conditional_t<spsc, spsc_producer<T, N>, mpmc_producer<T, N, (MaxP > 1)>>;
    using consumer_type = std::conditional_t<spsc, spsc_consumer<T, N>, mpmc_consumer<T, N, (MaxC > 1)>>;

    alignas(cache_line) doorbell data_bell;
    std::atomic<std::uint32_t> closed{0};
    alignas(cache_line) doorbell space_bell;
    roster<MaxP> senders;
    roster<MaxC> receivers;
    ring_type ring;
};

/// For an inspector, which knows the policies only at run time: where the parts of a
/// queue_shared lie for up to `maxp` senders and `maxc` receivers and a message aligned to
/// `align` (bytes_queue_shared's lie at the same places, with align 8). Each ring keeps its tail
/// at its start and its head a cache line on.
struct queue_shared_offsets {
    std::size_t senders;
    std::size_t receivers;
    std::size_t ring;
};
constexpr queue_shared_offsets queue_offsets(std::size_t maxp, std::size_t maxc, std::size_t align) noexcept {
    const std::size_t senders = 2 * cache_line;
    const std::size_t receivers = senders + roster_bytes(maxp);
    return {senders, receivers, align_up(receivers + roster_bytes(maxc), std::max(cache_line, align))};
}
template <class T, std::size_t MaxP, std::size_t MaxC>
constexpr bool queue_offsets_hold() noexcept {
    using shared = queue_shared<T, 4, MaxP, MaxC>;
    using ring = typename shared::ring_type;
    constexpr queue_shared_offsets o = queue_offsets(MaxP, MaxC, alignof(T));
    return offsetof(shared, senders) == o.senders && offsetof(shared, receivers) == o.receivers &&
           offsetof(shared, ring) == o.ring && offsetof(ring, tail) == 0 && offsetof(ring, head) == cache_line;
}
struct alignas(256) inspect_probe_256 {
    char c;
};
static_assert(queue_offsets_hold<std::uint64_t, 1, 1>() && queue_offsets_hold<char, 64, 3>() &&
                  queue_offsets_hold<std::uint64_t, 2, 64>() && queue_offsets_hold<inspect_probe_256, 1, 1>(),
              "queue_offsets() must say where queue_shared's parts lie, or inspectors misread queues");

/// For an inspector: the endpoints, depth and counters of a bounded queue of fixed-size
/// messages described by `d`, whose body is `v`. Reads only; throws inspect_fault.
inline void inspect_fixed_queue(const body_view& v, const queue_description& d, segment_info& out) {
    const queue_shared_offsets o = queue_offsets(d.producers, d.consumers, d.message.align);
    add_roster(v, o.senders, d.producers, "sender", out);
    add_roster(v, o.receivers, d.consumers, "receiver", out);
    set_message_counts(read_ring(v, o.ring, cache_line, d.capacity_value), out);
}

template <class Queue, mode_policy Mode>
class fixed_sender;
template <class Queue, mode_policy Mode>
class fixed_receiver;

/// A bounded queue of fixed-size messages `T` in a named shared-memory segment: what
/// ipckit::queue<T, bounded<N>, ...> is. See <ipckit/queue.hpp>.
template <message T, std::size_t N, cardinality_policy Producers, cardinality_policy Consumers,
          wait_policy Wait, ownership_policy Ownership>
class fixed_queue
    : public queue_handle<fixed_queue<T, N, Producers, Consumers, Wait, Ownership>>,
      public kind_constants<T, Wait, Ownership, N, Producers::max, Consumers::max,
                            queue_shared<T, N, Producers::max, Consumers::max>>,
      public endpoint_types<fixed_queue<T, N, Producers, Consumers, Wait, Ownership>, fixed_sender, fixed_receiver> {
public:
    using typename fixed_queue::kind_constants::shared;
    /// Where its endpoints sleep, and whom closing wakes (close()).
    template <class Role>
    using bells = role_bells<Role>;

    /// The description and size a segment must match to be this queue.
    static segment_layout layout() {
        return {describe_queue<Producers, Consumers, Ownership>(describe_message<T>(),
                                                                "bounded<" + std::to_string(N) + ">"),
                header_size + sizeof(shared)};
    }

    /// How much is waiting now (every kind's depth(): the part of the capacity in use, in the
    /// capacity's unit), here messages: a snapshot, stale as soon as it is returned. 0 if the
    /// indices are corrupt.
    [[nodiscard]] std::size_t depth() const noexcept {
        return tail_minus_head(this->template shared_part<shared>().ring, N);
    }

private:
    friend queue_handle<fixed_queue>;
    fixed_queue(segment&& s, const options& opt) : queue_handle<fixed_queue>(std::move(s), opt) {}
};

/// A slot of a queue lent to a sender (zero copy), shaped as every loan is (bytes_loan too):
/// write the message in place through data(), then commit(), which returns ok, or closed if
/// the loan is no longer open. Destroyed or abandon()ed uncommitted, it sends nothing.
/// Move-only; an empty (default-constructed, moved-from, committed) loan is false. It follows
/// its sender through a move of either; if the sender is closed or destroyed first, the loan is
/// abandoned and commit() returns closed.
template <class Sender, class T>
class fixed_loan {
public:
    fixed_loan() noexcept = default;
    fixed_loan(fixed_loan&& o) noexcept : sender_(std::exchange(o.sender_, nullptr)), ticket_(o.ticket_) { follow(); }
    fixed_loan& operator=(fixed_loan&& o) noexcept {
        if (this != &o) {
            abandon();
            sender_ = std::exchange(o.sender_, nullptr);
            ticket_ = o.ticket_;
            follow();
        }
        return *this;
    }
    fixed_loan(const fixed_loan&) = delete;
    fixed_loan& operator=(const fixed_loan&) = delete;
    ~fixed_loan() { abandon(); }

    /// The message to write, in its slot. Only while the loan is open.
    [[nodiscard]] T& data() const noexcept { return *ticket_.slot; }
    /// The bytes lent: sizeof(T), or 0 once the loan is no longer open.
    [[nodiscard]] std::size_t size() const noexcept { return sender_ == nullptr ? 0 : sizeof(T); }
    /// Whether the loan is still open.
    explicit operator bool() const noexcept { return sender_ != nullptr; }

    /// Publishes the message: the receivers may take it from now on. closed if the loan is no
    /// longer open.
    status commit() noexcept {
        if (sender_ == nullptr) return unexpected(errc::closed);
        std::exchange(sender_, nullptr)->end_loan(ticket_, true);
        return {};
    }
    /// Gives the slot back unpublished, as destruction does.
    void abandon() noexcept {
        if (sender_ != nullptr) std::exchange(sender_, nullptr)->end_loan(ticket_, false);
    }

private:
    friend Sender;
    fixed_loan(Sender* s, ring_ticket<T> t) noexcept : sender_(s), ticket_(t) { follow(); }
    /// Tells the sender where its loan now is, so that it can end it when it closes first.
    void follow() noexcept {
        if (sender_ != nullptr) sender_->loan_ = this;
    }

    Sender* sender_ = nullptr;
    ring_ticket<T> ticket_{};
};

/// A message read in place (zero copy), shaped as every view is (bytes_view too): data() is
/// valid while the view is open; its slot goes back to the senders when the view is destroyed
/// or release()d. Move-only; an empty (default-constructed, moved-from, released) view is
/// false. It follows its receiver through a move of either; if the receiver is closed or
/// destroyed first, the view is released.
template <class Receiver, class T>
class fixed_view {
public:
    fixed_view() noexcept = default;
    fixed_view(fixed_view&& o) noexcept : receiver_(std::exchange(o.receiver_, nullptr)), ticket_(o.ticket_) { follow(); }
    fixed_view& operator=(fixed_view&& o) noexcept {
        if (this != &o) {
            release();
            receiver_ = std::exchange(o.receiver_, nullptr);
            ticket_ = o.ticket_;
            follow();
        }
        return *this;
    }
    fixed_view(const fixed_view&) = delete;
    fixed_view& operator=(const fixed_view&) = delete;
    ~fixed_view() { release(); }

    /// The message, in its slot. Only while the view is open.
    [[nodiscard]] const T& data() const noexcept { return *ticket_.slot; }
    /// The message's bytes: sizeof(T), or 0 once released.
    [[nodiscard]] std::size_t size() const noexcept { return receiver_ == nullptr ? 0 : sizeof(T); }
    /// Whether the view still holds its message.
    explicit operator bool() const noexcept { return receiver_ != nullptr; }

    /// Gives the slot back now, as destruction does.
    void release() noexcept {
        if (receiver_ != nullptr) std::exchange(receiver_, nullptr)->end_view(ticket_);
    }

private:
    friend Receiver;
    fixed_view(Receiver* r, ring_ticket<const T> t) noexcept : receiver_(r), ticket_(t) { follow(); }
    /// Tells the receiver where its view now is, so that it can end it when it closes first.
    void follow() noexcept {
        if (receiver_ != nullptr) receiver_->view_ = this;
    }

    Receiver* receiver_ = nullptr;
    ring_ticket<const T> ticket_{};
};

/// The sending end of a queue. Blocking: send waits while the queue is full (a deadline or
/// timeout may follow the message). Non-blocking: send returns would_block at once. Closing
/// (close() or destruction) tells the receivers, which get `closed` once every sender has
/// closed and they have taken every message.
template <class Queue, mode_policy Mode>
class fixed_sender : public endpoint<Queue, producer_role, typename Queue::shared::producer_type, Mode>,
                     public send_verbs<fixed_sender<Queue, Mode>, typename Queue::message_type, Mode> {
    using base = endpoint<Queue, producer_role, typename Queue::shared::producer_type, Mode>;
    using T = typename Queue::message_type;
    using verbs = send_verbs<fixed_sender, T, Mode>;

public:
    using loan_type = fixed_loan<fixed_sender, T>;

    /// send(m), send(m, deadline) (send_verbs): sends a copy of `m`. Blocking: waits for room,
    /// then ok; or timed_out (not sent), closed / peer_dead (every receiver is gone and the queue
    /// is full), corrupt. Non-blocking: ok, would_block, closed or corrupt, at once. in_use while
    /// a loan is outstanding.
    using verbs::send;

    /// Zero copy: lends the next slot to write a message in place; commit() the loan to send it.
    /// Waits (blocking) or fails (non-blocking) as send does. One loan at a time per sender.
    result<loan_type> loan() noexcept { return lend([&](auto op) { return this->template run<false>(op); }); }
    template <deadline D>
    result<loan_type> loan(D deadline) noexcept {
        return lend([&](auto op) { return this->template run<false>(op, deadline); });
    }

    // An outstanding loan follows this sender through a move, and is abandoned when it closes.
    fixed_sender(fixed_sender&& o) noexcept : base(std::move(o)), verbs(), loan_(std::exchange(o.loan_, nullptr)) {
        if (loan_ != nullptr) loan_->sender_ = this;
    }
    fixed_sender& operator=(fixed_sender&& o) noexcept {
        if (this != &o) {
            end_outstanding();
            base::operator=(std::move(o));
            loan_ = std::exchange(o.loan_, nullptr);
            if (loan_ != nullptr) loan_->sender_ = this;
        }
        return *this;
    }
    ~fixed_sender() { end_outstanding(); }
    /// Lets go now, as destruction would (endpoint_core::close); an outstanding loan is abandoned.
    void close() noexcept {
        end_outstanding();
        base::close();
    }

private:
    friend Queue;
    friend queue_handle<Queue>;
    friend loan_type;
    friend verbs;
    using base::base;

    errc send_until(const T& m, clock::time_point deadline) noexcept {
        return loan_ != nullptr ? errc::in_use : this->run_until(push(m), deadline);
    }

    static auto push(const T& m) noexcept {
        return [&m](auto& cursor) { return cursor.try_push(m); };
    }

    template <class Run>
    result<loan_type> lend(Run&& run) noexcept {
        if (loan_ != nullptr) return unexpected(errc::in_use);
        ring_ticket<T> t;
        const errc e = run([&t](auto& cursor) { return cursor.try_claim(t); });
        if (e != errc::ok) return unexpected(e);
        return loan_type(this, t);
    }

    void end_loan(const ring_ticket<T>& t, bool commit) noexcept {
        if (commit)
            this->cursor().commit(t);
        else
            this->cursor().abandon(t);  // receivers may be waiting on this position
        loan_ = nullptr;
        this->progress();
    }
    /// Abandons the outstanding loan, if any, before this sender lets go of its place.
    void end_outstanding() noexcept {
        if (loan_ == nullptr) return;
        if (this->shared_ != nullptr) return loan_->abandon();  // through end_loan
        std::exchange(loan_, nullptr)->sender_ = nullptr;      // no place left to give the slot back to
    }

    loan_type* loan_ = nullptr;  ///< the outstanding loan, wherever it has moved; nullptr if none
};

/// The receiving end of a queue. Blocking: receive waits for a message (a deadline or timeout
/// may be given). Non-blocking: receive returns would_block at once. Either way it returns
/// closed or peer_dead only after every message the senders sent has been received.
template <class Queue, mode_policy Mode>
class fixed_receiver : public endpoint<Queue, consumer_role, typename Queue::shared::consumer_type, Mode>,
                       public receive_verbs<fixed_receiver<Queue, Mode>, typename Queue::message_type, Mode> {
    using base = endpoint<Queue, consumer_role, typename Queue::shared::consumer_type, Mode>;
    using T = typename Queue::message_type;
    using verbs = receive_verbs<fixed_receiver, T, Mode>;

public:
    using view_type = fixed_view<fixed_receiver, T>;

    /// receive(), receive(deadline), receive(out), receive(out, deadline) (receive_verbs):
    /// receives a copy of the oldest message. Blocking: waits for one; closed or peer_dead once
    /// the senders have gone and the queue is empty; timed_out. Non-blocking: would_block when
    /// empty. in_use while a view is outstanding.
    using verbs::receive;

    /// Zero copy: the oldest message, read in place; its slot stays taken until the view goes.
    /// Waits or fails as receive does. One view at a time per receiver.
    result<view_type> receive_view() noexcept {
        return view([&](auto op) { return this->template run<false>(op); });
    }
    template <deadline D>
    result<view_type> receive_view(D deadline) noexcept {
        return view([&](auto op) { return this->template run<false>(op, deadline); });
    }

    // An outstanding view follows this receiver through a move, and is released when it closes.
    fixed_receiver(fixed_receiver&& o) noexcept : base(std::move(o)), verbs(), view_(std::exchange(o.view_, nullptr)) {
        if (view_ != nullptr) view_->receiver_ = this;
    }
    fixed_receiver& operator=(fixed_receiver&& o) noexcept {
        if (this != &o) {
            end_outstanding();
            base::operator=(std::move(o));
            view_ = std::exchange(o.view_, nullptr);
            if (view_ != nullptr) view_->receiver_ = this;
        }
        return *this;
    }
    ~fixed_receiver() { end_outstanding(); }
    /// Lets go now, as destruction would (endpoint_core::close); an outstanding view is released.
    void close() noexcept {
        end_outstanding();
        base::close();
    }

private:
    friend Queue;
    friend queue_handle<Queue>;
    friend view_type;
    friend verbs;
    using base::base;

    errc receive_until(T& out, clock::time_point deadline) noexcept {
        return view_ != nullptr ? errc::in_use : this->run_until(pop(out), deadline);
    }

    static auto pop(T& out) noexcept {
        return [&out](auto& cursor) { return cursor.try_pop(out); };
    }

    template <class Run>
    result<view_type> view(Run&& run) noexcept {
        if (view_ != nullptr) return unexpected(errc::in_use);
        ring_ticket<const T> t;
        const errc e = run([&t](auto& cursor) { return cursor.try_claim(t); });
        if (e != errc::ok) return unexpected(e);
        return view_type(this, t);
    }

    void end_view(const ring_ticket<const T>& t) noexcept {
        this->cursor().release(t);
        view_ = nullptr;
        this->progress();
    }
    /// Releases the outstanding view, if any, before this receiver lets go of its place.
    void end_outstanding() noexcept {
        if (view_ == nullptr) return;
        if (this->shared_ != nullptr) return view_->release();  // through end_view
        std::exchange(view_, nullptr)->receiver_ = nullptr;     // no place left to give the slot back to
    }

    view_type* view_ = nullptr;  ///< the outstanding view, wherever it has moved; nullptr if none
};

}  // namespace ipckit::detail
