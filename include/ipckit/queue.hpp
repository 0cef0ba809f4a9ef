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
#include <ipckit/detail/roster.hpp>
#include <ipckit/detail/layout.hpp>
#include <ipckit/detail/ring/mpmc.hpp>
#include <ipckit/detail/ring/spsc.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
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

/// The deadline of a verb given a relative timeout (a huge timeout means none).
template <class Rep, class Period>
clock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout) noexcept {
    const auto now = clock::now();
    using seconds = std::chrono::duration<double>;
    if (seconds(timeout) >= seconds(clock::time_point::max() - now)) return clock::time_point::max();
    return now + std::chrono::duration_cast<clock::duration>(timeout);
}

/// A steady_clock deadline or a timeout: what the blocking verbs take last.
template <class D>
inline constexpr bool is_deadline = std::is_same_v<D, clock::time_point>;
template <class Rep, class Period>
inline constexpr bool is_deadline<std::chrono::duration<Rep, Period>> = true;

template <class>
inline constexpr bool always_false = false;

inline status to_status(errc e) noexcept { return e == errc::ok ? status{} : status{unexpected(e)}; }

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

/// Which roster and doorbells each side of a queue uses, so that sender and receiver share
/// one implementation (endpoint) below.
struct producer_role {
    static constexpr const char* name = "sender";
    static constexpr errc busy = errc::sender_busy;
    static auto& own(auto& sh) noexcept { return sh.senders; }
    static auto& peers(auto& sh) noexcept { return sh.receivers; }
    static doorbell& wake_peers(auto& sh) noexcept { return sh.data_bell; }  // after progress
    static doorbell& sleep_on(auto& sh) noexcept { return sh.space_bell; }   // while blocked
};
struct consumer_role {
    static constexpr const char* name = "receiver";
    static constexpr errc busy = errc::receiver_busy;
    static auto& own(auto& sh) noexcept { return sh.receivers; }
    static auto& peers(auto& sh) noexcept { return sh.senders; }
    static doorbell& wake_peers(auto& sh) noexcept { return sh.space_bell; }
    static doorbell& sleep_on(auto& sh) noexcept { return sh.data_bell; }
};

/// What sender and receiver have in common: the segment kept alive, a roster place held, the
/// cursor, and the one blocking loop. Restricted thread-safe: one thread at a time.
template <class Queue, class Role, class Cursor>
class endpoint {
    using shared = typename Queue::shared;

public:
    endpoint(endpoint&& o) noexcept
        : segment_(std::move(o.segment_)), shared_(std::exchange(o.shared_, nullptr)), cursor_(o.cursor_),
          me_(o.me_), place_(o.place_), light_fence_(o.light_fence_), liveness_(o.liveness_) {}
    endpoint& operator=(endpoint&& o) noexcept {
        if (this != &o) {
            close();
            segment_ = std::move(o.segment_);
            shared_ = std::exchange(o.shared_, nullptr);
            cursor_ = o.cursor_;
            me_ = o.me_;
            place_ = o.place_;
            light_fence_ = o.light_fence_;
            liveness_ = o.liveness_;
        }
        return *this;
    }
    endpoint(const endpoint&) = delete;
    endpoint& operator=(const endpoint&) = delete;
    ~endpoint() { close(); }

    /// The name of the queue.
    [[nodiscard]] const std::string& name() const noexcept { return segment_->name(); }

    /// Lets go now, as destruction would: the other side sees `closed` once everyone on this
    /// side has let go and it has taken every message. Verbs on a closed endpoint return closed.
    void close() noexcept {
        // A forked child inherits its parent's endpoints; closing one there must not close the
        // parent's.
        if (shared_ == nullptr) return;
        if (static_cast<std::uint32_t>(::getpid()) == me_.pid) {
            Role::own(*shared_).release(place_, me_);
            Role::wake_peers(*shared_).ring();
        }
        shared_ = nullptr;
    }

    /// Asks the OS about the other side: ok (someone is there, or nobody came yet), closed
    /// (everyone who came has let go) or peer_dead. A system call; the non-blocking data path
    /// never makes one.
    [[nodiscard]] errc peer() const noexcept {
        return shared_ == nullptr ? errc::closed : Role::peers(*shared_).state(true);
    }

protected:
    endpoint(std::shared_ptr<segment> seg, const options& opt)
        : segment_(std::move(seg)), shared_(static_cast<shared*>(segment_->body())), me_(sys::self()),
          light_fence_(sys::register_light_fence()),
          liveness_(std::clamp(opt.liveness_interval, std::chrono::milliseconds(1), std::chrono::milliseconds(3'600'000))) {
        auto& own = Role::own(*shared_);
        sys::process_id holder{};
        const auto place = own.claim(me_, &holder);
        if (!place) {
            std::string who = "process " + std::to_string(holder.pid);
            if (holder.pid == me_.pid) who += " (this one)";
            constexpr std::size_t max =
                std::is_same_v<Role, producer_role> ? Queue::max_senders : Queue::max_receivers;
            throw error(Role::busy, "queue '" + name() + "' already has " +
                                        (max == 1 ? std::string("a ") + Role::name + ": " + who
                                                  : "its " + std::to_string(max) + " " + Role::name + "s, the last " + who) +
                                        ". Close one first, or allow more with multi_of<N>");
        }
        place_ = *place;
        forget_sleeper(Role::sleep_on(*shared_), own.places[place_].asleep);
        if (!cursor_.attach(shared_->ring, own.places[place_].pending)) {
            own.release(place_, me_);
            throw error(errc::corrupt, "queue '" + name() + "' has inconsistent indices: remove it and create it again");
        }
    }

    /// One attempt: ok, would_block, closed (would block, and the other side has all gone),
    /// or corrupt. Wakes the other side's sleepers after progress.
    template <class Op>
    errc attempt(Op&& op) noexcept {
        if (shared_ == nullptr) return errc::closed;  // closed (or moved from)
        errc e = op(cursor_);
        if (e == errc::ok) {
            Role::wake_peers(*shared_).notify(light_fence_);
        } else if (e == errc::would_block && Role::peers(*shared_).state(false) == errc::closed) {
            // The other side published everything before it let go; one more look, then closed.
            e = ready() ? attempt(op) : errc::closed;
        }
        return e;
    }

    /// Retries `op` until it succeeds, the deadline passes, or the other side is gone.
    template <class Wait, class Op>
    errc attempt_until(Op&& op, clock::time_point deadline) noexcept {
        for (;;) {
            const errc e = attempt(op);
            if (e != errc::would_block) return e;
            const errc w = wait_until<Wait>(
                Role::sleep_on(*shared_), Role::own(*shared_).places[place_].asleep, [this] { return ready(); },
                [this](bool ask_os) {
                    // A dead process may hold the slot we wait for: finish it for them.
                    if (ask_os) cursor_.recover([this](std::uint64_t p) { return Role::peers(*shared_).live_claimant(p); });
                    return Role::peers(*shared_).state(ask_os);
                },
                deadline, liveness_);
            if (w != errc::ok) return w;
        }
    }

private:
    bool ready() noexcept {
        if constexpr (std::is_same_v<Role, producer_role>)
            return cursor_.has_room();
        else
            return cursor_.has_data();
    }

    std::shared_ptr<segment> segment_;
    shared* shared_;
    Cursor cursor_;
    sys::process_id me_;
    std::size_t place_ = 0;
    bool light_fence_;
    std::chrono::nanoseconds liveness_;
};

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
    static constexpr std::size_t max_senders = Producers::max;
    static constexpr std::size_t max_receivers = Consumers::max;

    using shared = detail::queue_shared<T, capacity, max_senders, max_receivers>;
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a queue must be standard layout");
    static_assert(alignof(shared) <= detail::header_size,
                  "a message type aligned to more than 256 bytes cannot live after the segment header");

    /// The description and size a segment must match to be this queue.
    static detail::layout layout() {
        auto side = [](std::string_view kind, std::size_t max, const char* what) {
            return std::string(kind) + (max > 1 ? "<" + std::to_string(max) + ">" : std::string()) + " " + what;
        };
        std::string d = "ipckit::queue<";
        d += detail::type_name<T>();
        d += " (" + std::to_string(sizeof(T)) + " B, align " + std::to_string(alignof(T)) + "), bounded<" +
             std::to_string(capacity) + ">, " + side(Producers::name, max_senders, "producer") + ", " +
             side(Consumers::name, max_receivers, "consumer") + ">";
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

    /// Attaches a sender. Throws sender_busy while Producers::max live senders are attached
    /// (one, for a single-producer queue; another endpoint of this process counts).
    template <mode_policy Mode = blocking>
    [[nodiscard]] ipckit::sender<queue, Mode> sender() const {
        return ipckit::sender<queue, Mode>(segment_, options_);
    }
    /// Attaches a receiver. Throws receiver_busy likewise.
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
        // Read apart, the two may be from different moments: clamp rather than call it corrupt.
        if (head > tail) return 0;
        return static_cast<std::size_t>(std::min<std::uint64_t>(tail - head, capacity));
    }

private:
    queue(segment&& s, const options& opt) : segment_(std::make_shared<segment>(std::move(s))), options_(opt) {}

    static void init(void* body) { ::new (body) shared; }

    std::shared_ptr<segment> segment_;
    options options_;
};

/// The sending end of a queue. Blocking: send waits while the queue is full (with deadline
/// overloads). Non-blocking: send returns would_block at once. Closing (destruction) tells the
/// receivers, which get `closed` once every sender has closed and they have taken every message.
template <class Queue, mode_policy Mode>
class sender : public detail::endpoint<Queue, detail::producer_role, typename Queue::shared::producer_type> {
    using base = detail::endpoint<Queue, detail::producer_role, typename Queue::shared::producer_type>;
    using T = typename Queue::message_type;

public:
    /// Sends `m`. Blocking: waits for room; ok, closed or peer_dead (every receiver is gone and
    /// the queue is full) or corrupt. Non-blocking: ok, would_block, closed or corrupt, at once.
    status send(const T& m) noexcept {
        if constexpr (std::same_as<Mode, blocking>)
            return send(m, detail::clock::time_point::max());
        else
            return detail::to_status(this->attempt(push(m)));
    }
    /// Blocking only: as send(m), or timed_out once `deadline` (steady_clock) has passed; the
    /// message is then not sent.
    status send(const T& m, detail::clock::time_point deadline) noexcept
        requires std::same_as<Mode, blocking>
    {
        return detail::to_status(this->template attempt_until<typename Queue::wait_type>(push(m), deadline));
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
class receiver : public detail::endpoint<Queue, detail::consumer_role, typename Queue::shared::consumer_type> {
    using base = detail::endpoint<Queue, detail::consumer_role, typename Queue::shared::consumer_type>;
    using T = typename Queue::message_type;

public:
    /// Receives the oldest message. Blocking: waits for one; closed or peer_dead once the
    /// senders have gone and the queue is empty. Non-blocking: would_block when empty.
    result<T> receive() noexcept {
        if constexpr (std::same_as<Mode, blocking>)
            return receive(detail::clock::time_point::max());
        else
            return as_result([&](T& out) { return receive(out); });
    }
    /// Blocking only: as receive(), or timed_out once `deadline` (steady_clock) has passed.
    result<T> receive(detail::clock::time_point deadline) noexcept
        requires std::same_as<Mode, blocking>
    {
        return as_result([&](T& out) { return receive(out, deadline); });
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
            return detail::to_status(this->attempt(pop(out)));
    }
    status receive(T& out, detail::clock::time_point deadline) noexcept
        requires std::same_as<Mode, blocking>
    {
        return detail::to_status(this->template attempt_until<typename Queue::wait_type>(pop(out), deadline));
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

}  // namespace ipckit
