#pragma once
// Zero-capacity queues of fixed-size messages: the seed's rendezvous. There is no buffer: a send
// returns ok only once a receiver has taken its message, so sender and receiver meet. Several
// senders and receivers pair off one to one: each message goes to exactly one receiver.
//
// The protocol. Sender place i of the roster owns offer slot i: a state word, a doorbell its
// sender sleeps on, and room for one message. The state word packs
//
//     bits  0..3   kind    empty (0), offered (1), taken (2), done (3)
//     bits  4..15  taker   the receiver's roster place, in taken and done
//     bits 16..63  seq     which offer of this slot it is; each new offer bumps it
//
// and moves only along these edges (s a seq, r a receiver place):
//
//     empty(s) | done(s)   -- sender: write value, then a release store -->  offered(s+1)
//     offered(s)           -- a receiver's CAS (it takes the message) ---->  taken(s, r)
//     offered(s)           -- the sender's CAS (it withdraws) ----------->  empty(s)
//     taken(s, r)          -- receiver r's CAS, after its copy ---------->  done(s, r)
//     taken(s, r)          -- the slot's sender, once r is known dead --->  empty(s)
//     offered(s) | junk    -- the next sender in a dead one's place ----->  empty(s)
//
// Why each interleaving is safe:
//   - A receiver reads `value` only after its CAS to taken succeeded, which acquires the sender's
//     release store of offered: the message is complete. A sender killed while writing never
//     published, so the slot does not say offered and receivers skip it.
//   - "Receiver takes" and "sender gives up" (deadline, every receiver gone) are decided by one
//     CAS each on the same word offered(s): exactly one succeeds, and the loser sees the winner's
//     state. A sender whose withdrawal succeeded returns timed_out / closed / peer_dead, and no
//     receiver can take the message afterwards. A sender whose withdrawal failed has had its
//     message taken: it waits for done with no deadline (the copy takes a moment) and returns ok,
//     so a receiver still copying at the deadline does not make the send report timed_out.
//   - The sender writes `value` only while its slot is empty or done; done is the taker's
//     release CAS after its copy, acquired by the sender, so the next message cannot tear a copy.
//   - seq makes each offer distinct, so a receiver that read offered(s) long ago cannot CAS a
//     later offer by mistake (and the taker's token below names one offer only).
//   - A taker killed mid-copy: before its CAS a receiver writes the token (seq, slot) of the offer
//     into its roster place's `pending`, and clears it after done. A sender waiting on taken(s, r)
//     asks, once per liveness interval, whether place r still lists that token and is held by a
//     live process; if not, the taker died and the send returns peer_dead. The message may or
//     may not have been seen by then: it was taken, but not by a receiver that returned it. The
//     slot stays taken until that sender's next send resets it.
//   - A sender killed with an offer out left a complete message: receivers may still take it,
//     also after its roster place was retired (detail/sync/roster.hpp). The next sender to hold that
//     place withdraws it (and waits out a copy in progress) before writing its own.
//
// Stamps. The state word alone cannot tell a scribbled word from a real move: done(s) put back
// to offered(s) would hand a message out twice, offered(s) turned into done(s) would make the
// sender report a message delivered that nobody took. So the slot also has a stamp: the sender
// stores offered_stamp(s) with the message, before its release store of offered(s); the taker
// checks it after its CAS to taken (a stale or withdrawn message is corrupt, not delivered) and
// stores taken_stamp(s) after its copy, before its release CAS to done(s); the sender checks that
// on done. The sender clears the stamp to 0 whenever it takes an offer back, so that a message
// withdrawn is never one a receiver can take.
//
// Sleeping: receivers sleep on data_bell (rung by each new offer and by a closing sender);
// each sender sleeps on its own slot's bell (rung by its taker's done and by a closing receiver),
// through detail::wait_until, so deadlines, liveness checks and lost wake-ups are handled as in
// the other queues.

#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// The state word of an offer slot, and the token a taker lists in its roster place.
struct offer_state {
    enum kind : std::uint64_t { empty = 0, offered = 1, taken = 2, done = 3 };

    static constexpr unsigned taker_shift = 4;
    static constexpr std::uint64_t taker_mask = 0xfff;
    static constexpr unsigned seq_shift = 16;
    static constexpr std::uint64_t seq_mask = (std::uint64_t{1} << 48) - 1;
    /// Receiver places the taker field can name.
    static constexpr std::size_t max_takers = taker_mask + 1;

    static constexpr std::uint64_t pack(kind k, std::size_t taker, std::uint64_t seq) noexcept {
        return static_cast<std::uint64_t>(k) | ((static_cast<std::uint64_t>(taker) & taker_mask) << taker_shift) |
               ((seq & seq_mask) << seq_shift);
    }
    static constexpr std::uint64_t kind_of(std::uint64_t w) noexcept { return w & 0xf; }
    static constexpr std::size_t taker_of(std::uint64_t w) noexcept {
        return static_cast<std::size_t>((w >> taker_shift) & taker_mask);
    }
    static constexpr std::uint64_t seq_of(std::uint64_t w) noexcept { return (w >> seq_shift) & seq_mask; }
    static constexpr std::uint64_t next_seq(std::uint64_t seq) noexcept { return (seq + 1) & seq_mask; }

    /// What a receiver writes in its roster place's `pending` while it takes offer `seq` of
    /// slot `slot`. Never 0, which means "taking nothing".
    static constexpr std::uint64_t token(std::size_t slot, std::uint64_t seq) noexcept {
        return ((seq & seq_mask) << seq_shift) | (static_cast<std::uint64_t>(slot) + 1);
    }

    /// The slot's stamp while offer `seq`'s message lies there, and once its taker has copied it
    /// (see the top of this file). Neither is 0, the stamp of no message.
    static constexpr std::uint64_t offered_stamp(std::uint64_t seq) noexcept { return (seq & seq_mask) | (std::uint64_t{1} << 62); }
    static constexpr std::uint64_t taken_stamp(std::uint64_t seq) noexcept { return (seq & seq_mask) | (std::uint64_t{2} << 62); }
};

/// One sender place's offer slot.
///   0     state   offer_state word (see the top of this file)
///   8     bell    the sender sleeps here while its offer waits to be taken or copied
///   +     stamp   which offer's message `value` holds, and whether it was taken
///   +     value   the message on offer (at T's alignment)
template <message T>
struct rendezvous_offer {
    alignas(cache_line) std::atomic<std::uint64_t> state{0};
    doorbell bell;
    std::atomic<std::uint64_t> stamp{0};
    T value;
};

/// What lives in a zero-capacity queue's segment after the header.
///   data_bell     receivers sleep here while no offer is out
///   senders       roster of up to MaxP senders
///   receivers     roster of up to MaxC receivers; `pending` holds the token of the offer taken
///   offers        offers[i] belongs to whoever holds senders.places[i]
template <message T, std::size_t MaxP, std::size_t MaxC>
struct rendezvous_shared {
    static_assert(MaxC <= offer_state::max_takers,
                  "a rendezvous names its taker in 12 bits of the offer's state word: at most 4096 receivers");
    static_assert(MaxP < (std::size_t{1} << offer_state::seq_shift) - 1,
                  "a rendezvous token names the offer slot in 16 bits: at most 65534 senders");

    alignas(cache_line) doorbell data_bell;
    roster<MaxP> senders;
    roster<MaxC> receivers;
    rendezvous_offer<T> offers[MaxP];
};

/// For an inspector, which knows the policies only at run time: where the parts of a
/// rendezvous_shared lie for up to `maxp` senders and `maxc` receivers and a message of `size`
/// bytes aligned to `align`, and how big each offer slot is.
struct rendezvous_offsets {
    std::size_t senders;
    std::size_t receivers;
    std::size_t offers;
    std::size_t offer_size;
};
constexpr rendezvous_offsets rendezvous_layout(std::size_t maxp, std::size_t maxc, std::size_t size,
                                               std::size_t align) noexcept {
    const std::size_t a = std::max(cache_line, align);
    const std::size_t value = align_up(offsetof(rendezvous_offer<char>, bell) + sizeof(doorbell), align);
    const std::size_t senders = cache_line;
    const std::size_t receivers = senders + roster_bytes(maxp);
    return {senders, receivers, align_up(receivers + roster_bytes(maxc), a), align_up(value + size, a)};
}
template <class T, std::size_t MaxP, std::size_t MaxC>
constexpr bool rendezvous_layout_holds() noexcept {
    using shared = rendezvous_shared<T, MaxP, MaxC>;
    constexpr rendezvous_offsets o = rendezvous_layout(MaxP, MaxC, sizeof(T), alignof(T));
    return offsetof(shared, senders) == o.senders && offsetof(shared, receivers) == o.receivers &&
           offsetof(shared, offers) == o.offers && sizeof(rendezvous_offer<T>) == o.offer_size &&
           offsetof(rendezvous_offer<T>, state) == 0;
}
struct inspect_probe_odd {
    char c[13];
};
static_assert(rendezvous_layout_holds<std::uint64_t, 1, 1>() && rendezvous_layout_holds<inspect_probe_odd, 3, 64>() &&
                  rendezvous_layout_holds<std::uint16_t, 64, 2>(),
              "rendezvous_layout() must say where rendezvous_shared's parts lie, or inspectors misread rendezvous");

/// For an inspector: the endpoints of a zero-capacity queue described by `d`, whose body is
/// `v`, and its depth: the offers out now, waiting for a receiver. Reads only; throws
/// inspect_fault.
inline void inspect_rendezvous(const body_view& v, const queue_description& d, segment_info& out) {
    const rendezvous_offsets o = rendezvous_layout(d.producers, d.consumers, d.message.size, d.message.align);
    add_roster(v, o.senders, d.producers, "sender", out);
    add_roster(v, o.receivers, d.consumers, "receiver", out);
    (void)v.at<char>(o.offers, "offer slots", o.offer_size * d.producers);
    std::uint64_t offered = 0;
    for (std::size_t i = 0; i < d.producers; ++i)
        offered += offer_state::kind_of(v.word(o.offers + i * o.offer_size, "offer slot")) == offer_state::offered;
    out.depth_messages = offered;
    out.capacity_messages = 0;
}

template <class Queue, mode_policy Mode>
class rendezvous_sender;
template <class Queue, mode_policy Mode>
class rendezvous_receiver;
template <class Role>
struct rendezvous_bells;

/// A zero-capacity queue of fixed-size messages `T` in a named shared-memory segment: what
/// ipckit::queue<T, zero_capacity, ...> is. See <ipckit/queue.hpp> and the top of this file.
template <message T, cardinality_policy Producers, cardinality_policy Consumers, wait_policy Wait,
          ownership_policy Ownership>
class rendezvous_queue : public queue_handle<rendezvous_queue<T, Producers, Consumers, Wait, Ownership>> {
public:
    using message_type = T;
    using wait_type = Wait;
    using ownership_type = Ownership;
    static constexpr std::size_t capacity = 0;
    static constexpr std::size_t max_senders = Producers::max;
    static constexpr std::size_t max_receivers = Consumers::max;

    using shared = rendezvous_shared<T, max_senders, max_receivers>;
    /// Where its endpoints sleep, and whom closing wakes (close()).
    template <class Role>
    using bells = rendezvous_bells<Role>;
    template <mode_policy Mode>
    using sender_type = rendezvous_sender<rendezvous_queue, Mode>;
    template <mode_policy Mode>
    using receiver_type = rendezvous_receiver<rendezvous_queue, Mode>;
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a queue must be standard layout");
    static_assert(alignof(shared) <= header_size,
                  "a message type aligned to more than 256 bytes cannot live after the segment header");

    /// The description and size a segment must match to be this queue.
    static segment_layout layout() {
        return {describe_queue<Producers, Consumers, Ownership>(describe_message<T>(), "zero_capacity"),
                header_size + sizeof(shared)};
    }

    /// How much is waiting now (every kind's depth()), here messages on offer: senders whose
    /// message waits for a receiver to take it. A snapshot, stale as soon as it is returned.
    [[nodiscard]] std::size_t depth() const noexcept {
        const auto& sh = this->template shared_part<shared>();
        std::size_t n = 0;
        for (const auto& o : sh.offers)
            n += offer_state::kind_of(o.state.load(std::memory_order_acquire)) == offer_state::offered;
        return n;
    }

private:
    friend queue_handle<rendezvous_queue>;
    rendezvous_queue(segment&& s, const options& opt) : queue_handle<rendezvous_queue>(std::move(s), opt) {}

    static void init(void* body) { ::new (body) shared; }
};

/// Where the endpoints of a rendezvous sleep, and whom they wake when they close: a sender
/// sleeps on its own offer's bell (waiting for a taker), a receiver on data_bell. A closing
/// receiver wakes the senders waiting for a taker, so that they see `closed`.
template <class Role>
struct rendezvous_bells {
    static constexpr bool is_sender = std::is_same_v<Role, producer_role>;
    static doorbell& sleep_bell(auto& sh, std::size_t place) noexcept {
        if constexpr (is_sender)
            return sh.offers[place].bell;
        else
            return sh.data_bell;
    }
    /// Where the holder of place `place` on the other side sleeps.
    static doorbell& peer_sleep_bell(auto& sh, std::size_t place) noexcept {
        if constexpr (is_sender)
            return sh.data_bell;
        else
            return sh.offers[place].bell;
    }
    static void wake_on_close(auto& sh) noexcept {
        if constexpr (is_sender) {
            sh.data_bell.ring();
        } else {
            // The fence orders release()'s store before the loads of sleepers, as ring() would,
            // and pairs with the heavy fence of a sender going to sleep.
            std::atomic_thread_fence(std::memory_order_seq_cst);
            for (auto& o : sh.offers)
                if (o.bell.sleepers.load(std::memory_order_relaxed) != 0) o.bell.ring();
        }
    }
};

/// What the sender and receiver of a rendezvous have in common: the endpoint core (segment,
/// roster place, closing), sleeping where rendezvous_bells says.
template <class Queue, class Role>
class rendezvous_endpoint : public endpoint_core<Queue, Role, rendezvous_bells<Role>> {
    using core = endpoint_core<Queue, Role, rendezvous_bells<Role>>;

protected:
    using shared = typename Queue::shared;
    static constexpr bool is_sender = rendezvous_bells<Role>::is_sender;

    rendezvous_endpoint(std::shared_ptr<segment> seg, const options& opt) : core(std::move(seg), opt) {}

    [[nodiscard]] bool attached() const noexcept { return this->shared_ != nullptr; }
    [[nodiscard]] shared& sh() const noexcept { return *this->shared_; }
    [[nodiscard]] std::size_t place() const noexcept { return this->place_; }
    [[nodiscard]] bool light_fence() const noexcept { return this->light_fence_; }
    [[nodiscard]] std::chrono::nanoseconds liveness() const noexcept { return this->liveness_; }
};

/// The sending end of a rendezvous: always blocking. send(m) offers m and returns ok once a
/// receiver has taken it; timed_out (deadline overloads), closed (every receiver let go) or
/// peer_dead (every receiver died) after taking the offer back, so that m is then never
/// received; peer_dead also if the receiver that took m died before it finished copying it (m
/// may or may not have been seen). Closing (destruction) tells the receivers, which get
/// `closed` once every sender has closed.
template <class Queue, mode_policy Mode>
class rendezvous_sender : public rendezvous_endpoint<Queue, producer_role>,
                          public send_verbs<rendezvous_sender<Queue, Mode>, typename Queue::message_type, Mode> {
    static_assert(std::same_as<Mode, blocking>,
                  "ipckit::queue<T, zero_capacity>: zero capacity has no buffer to leave a message in, so a send "
                  "must wait until a receiver takes it: a rendezvous must use a blocking send. Use "
                  "sender<ipckit::blocking>() (with a deadline if the sender must not wait long), or a bounded<N> "
                  "queue for a send that does not wait");

    using base = rendezvous_endpoint<Queue, producer_role>;
    using T = typename Queue::message_type;
    using verbs = send_verbs<rendezvous_sender, T, Mode>;
    using Wait = typename Queue::wait_type;
    using st = offer_state;

public:
    /// send(m) (send_verbs): offers `m` and waits until a receiver takes it: ok, closed,
    /// peer_dead or corrupt.
    /// send(m, deadline): as send(m), or timed_out once the deadline (a steady_clock time point)
    /// or timeout (a duration) has passed with nobody taking m; m is then withdrawn. A receiver
    /// that took m before that makes it ok, once its copy is done.
    using verbs::send;

private:
    friend Queue;
    friend queue_handle<Queue>;
    friend verbs;

    rendezvous_sender(std::shared_ptr<segment> seg, const options& opt) : base(std::move(seg), opt) {
        // A predecessor in this place killed with its offer out: take the offer back, so that
        // its message does not arrive among ours. (A copy in progress is waited out by the first
        // send.)
        auto& o = offer();
        std::uint64_t s = o.state.load(std::memory_order_acquire);
        if (st::kind_of(s) == st::offered &&
            o.state.compare_exchange_strong(s, st::pack(st::empty, 0, st::seq_of(s)), std::memory_order_acq_rel,
                                            std::memory_order_relaxed))
            o.stamp.store(0, std::memory_order_relaxed);  // withdrawn: no receiver may take it
    }

    rendezvous_offer<T>& offer() const noexcept { return this->sh().offers[this->place()]; }

    /// Offers `m` until `deadline`: the send verbs' primitive.
    errc send_until(const T& m, clock::time_point deadline) noexcept {
        if (!this->attached()) return errc::closed;
        // The receivers' side has ended (the closed rule): nobody will take m. Said before the
        // offer, so that a deadline already past does not hide it behind timed_out. A load.
        if (this->sh().receivers.state(false) == errc::closed) return this->ended();
        auto& o = offer();
        std::uint64_t seq = 0;
        if (const errc e = make_ready(deadline, seq); e != errc::ok) return e;
        seq = st::next_seq(seq);
        std::memcpy(static_cast<void*>(&o.value), &m, sizeof(T));
        o.stamp.store(st::offered_stamp(seq), std::memory_order_relaxed);
        // SYNC POINT WRITE: value and stamp; READ by the receiver whose CAS takes offered(seq).
        o.state.store(st::pack(st::offered, 0, seq), std::memory_order_release);
        this->sh().data_bell.notify(this->light_fence());
        return await_taker(seq, deadline);
    }

    /// Waits until the slot is ours to write: empty or done. Only after a predecessor was killed
    /// (or our own taker was) is there anything to clear. Gives the seq of the last offer.
    errc make_ready(clock::time_point deadline, std::uint64_t& seq) noexcept {
        auto& o = offer();
        for (;;) {
            // SYNC POINT READ: done, paired with the taker's release CAS: its copy is finished.
            std::uint64_t s = o.state.load(std::memory_order_acquire);
            const std::uint64_t kind = st::kind_of(s);
            if (kind == st::empty || kind == st::done) {
                seq = st::seq_of(s);
                return errc::ok;
            }
            if (kind == st::taken && taker_alive(s)) {
                // A predecessor's taker, still copying: let it finish.
                const errc w = wait_until<Wait>(
                    o.bell, this->asleep(), [&] { return o.state.load(std::memory_order_acquire) != s; },
                    [&](bool ask_os) { return ask_os && !taker_alive(s) ? errc::peer_dead : errc::ok; }, deadline,
                    this->liveness());
                if (w == errc::timed_out) return w;
                continue;
            }
            // offered (a predecessor's), taken by a dead taker, or a kind no one writes: ours to
            // reset. A receiver may take an offered one first; then we wait for its copy.
            if (o.state.compare_exchange_strong(s, st::pack(st::empty, 0, st::seq_of(s)), std::memory_order_acq_rel,
                                                std::memory_order_relaxed))
                o.stamp.store(0, std::memory_order_relaxed);  // taken back: no receiver may take it
        }
    }

    /// Waits until a receiver takes offer `seq`, or withdraws it at the deadline or when every
    /// receiver has gone.
    errc await_taker(std::uint64_t seq, clock::time_point deadline) noexcept {
        auto& o = offer();
        const std::uint64_t on_offer = st::pack(st::offered, 0, seq);
        const errc w = wait_until<Wait>(
            o.bell, this->asleep(), [&] { return o.state.load(std::memory_order_acquire) != on_offer; },
            [&](bool ask_os) { return this->peers_state(ask_os); }, deadline, this->liveness());
        if (w != errc::ok) {
            std::uint64_t cur = on_offer;
            // THE DECISION: offered -> empty (withdrawn) here, or offered -> taken by a receiver's
            // CAS; whichever comes second fails. Once withdrawn, no receiver can take it.
            if (o.state.compare_exchange_strong(cur, st::pack(st::empty, 0, seq), std::memory_order_acq_rel,
                                                std::memory_order_acquire)) {
                o.stamp.store(0, std::memory_order_relaxed);  // withdrawn: no receiver may take it
                if (w == errc::peer_dead) return this->report_dead();
                return w == errc::closed ? this->ended() : w;
            }
            // A receiver took it first: the send succeeds once its copy is done.
        }
        return await_done(seq);
    }

    /// Offer `seq` has been taken: waits for the taker's done, with no deadline, or for its death.
    errc await_done(std::uint64_t seq) noexcept {
        auto& o = offer();
        for (;;) {
            // SYNC POINT READ: done, paired with the taker's release CAS: it has finished reading
            // value, so the next send may overwrite it.
            const std::uint64_t s = o.state.load(std::memory_order_acquire);
            if (st::seq_of(s) != seq) return errc::corrupt;
            // Done, and a taker copied this offer (its stamp, stored before its release CAS).
            // Done without it: the state was moved, and nobody took the message.
            if (st::kind_of(s) == st::done)
                return o.stamp.load(std::memory_order_relaxed) == st::taken_stamp(seq) ? errc::ok : errc::corrupt;
            if (st::kind_of(s) != st::taken) return errc::corrupt;  // only the taker moves it now
            const errc w = wait_until<Wait>(
                o.bell, this->asleep(), [&] { return o.state.load(std::memory_order_acquire) != s; },
                [&](bool ask_os) { return ask_os && !taker_alive(s) ? errc::peer_dead : errc::ok; },
                clock::time_point::max(), this->liveness());
            if (w == errc::peer_dead) return w;  // the slot stays taken; make_ready clears it
        }
    }

    /// Whether the receiver named in taken-state `s` of our slot may still be copying: its place
    /// still lists the offer's token and a live process holds the place. True as well if the
    /// state has moved on from `s` (the caller looks again). System calls.
    bool taker_alive(std::uint64_t s) const noexcept {
        const std::size_t t = st::taker_of(s);
        if (t >= Queue::max_receivers) return false;  // no receiver has that place: nobody copies
        const auto& place = this->sh().receivers.places[t];
        // SYNC POINT READ: pending, paired with the taker's release clear after done: if we see
        // it cleared, the load of state below sees done.
        const std::uint64_t token = place.pending.load(std::memory_order_acquire);
        if (offer().state.load(std::memory_order_acquire) != s) return true;
        // A place whose holder died keeps its token until a newcomer takes it (roster::claim
        // clears it then); held_by_live_process() below tells a dead holder from a live one.
        if (token != st::token(this->place(), st::seq_of(s))) return false;
        return place.held_by_live_process();
    }
};

/// The receiving end of a rendezvous. Blocking: receive waits for a sender's offer (with deadline
/// overloads). Non-blocking: receive takes an offer that is out now, or returns would_block at
/// once. Either way closed once every sender has closed, and (blocking only) peer_dead once every
/// sender still attached is dead, after any complete offer they left has been taken.
template <class Queue, mode_policy Mode>
class rendezvous_receiver : public rendezvous_endpoint<Queue, consumer_role>,
                            public receive_verbs<rendezvous_receiver<Queue, Mode>, typename Queue::message_type, Mode> {
    using base = rendezvous_endpoint<Queue, consumer_role>;
    using T = typename Queue::message_type;
    using verbs = receive_verbs<rendezvous_receiver, T, Mode>;
    using Wait = typename Queue::wait_type;
    using st = offer_state;

public:
    /// receive(), receive(deadline), receive(out), receive(out, deadline) (receive_verbs): takes
    /// one sender's message. Blocking: waits for an offer; closed or peer_dead once the senders
    /// have gone; timed_out at a deadline (a steady_clock time point) or after a timeout (a
    /// duration), if one follows. Non-blocking: would_block when no sender is offering now.
    using verbs::receive;

private:
    friend Queue;
    friend queue_handle<Queue>;
    friend verbs;
    using base::base;

    /// Takes an offer into `out`, through the one verb loop (endpoint_core::run_verb): closed or
    /// peer_dead once nothing is on offer and every sender has let go.
    errc receive_until(T& out, clock::time_point deadline) noexcept {
        step_of step{[this, &out]() noexcept { return try_take(out); }, [this]() noexcept { return offer_out(); },
                     // Nothing to finish for a dead sender: its offer is whole (and may be taken),
                     // or it was never published; the next sender in its place withdraws it.
                     []() noexcept { return false; },
                     [this](bool ask_os) noexcept { return this->peers_state(ask_os); }};
        return this->template run_verb<Mode, Wait>(step, deadline);
    }

    /// Takes one offer into `out`: ok or would_block. Loads, CASes and a copy; a system call only
    /// to wake a sender that sleeps.
    errc try_take(T& out) noexcept {
        auto& sh = this->sh();
        auto& pending = sh.receivers.places[this->place()].pending;
        constexpr std::size_t n = Queue::max_senders;
        bool listed = false;
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t i = (next_ + k) % n;  // start past the last taken: no sender starves
            auto& o = sh.offers[i];
            std::uint64_t s = o.state.load(std::memory_order_relaxed);
            if (st::kind_of(s) != st::offered) continue;
            const std::uint64_t seq = st::seq_of(s);
            // Ordered before the CAS by its release: a sender that sees taken sees the token.
            pending.store(st::token(i, seq), std::memory_order_relaxed);
            listed = true;
            // THE DECISION: offered -> taken here, against other receivers and the sender's
            // withdrawal. SYNC POINT READ (acquire): value, paired with the sender's release store
            // of offered.
            if (!o.state.compare_exchange_strong(s, st::pack(st::taken, this->place(), seq),
                                                 std::memory_order_acq_rel, std::memory_order_relaxed))
                continue;
            // The message of offer seq, or a stale or withdrawn one under a moved state word.
            const bool stamped = o.stamp.load(std::memory_order_relaxed) == st::offered_stamp(seq);
            if (stamped) {
                std::memcpy(static_cast<void*>(&out), &o.value, sizeof(T));
                o.stamp.store(st::taken_stamp(seq), std::memory_order_relaxed);
            }
            std::uint64_t mine = st::pack(st::taken, this->place(), seq);
            // SYNC POINT WRITE: our read of value is over (and the stamp says so); READ by the
            // sender's acquire load of done, after which it may write the next message.
            const bool finished = o.state.compare_exchange_strong(mine, st::pack(st::done, this->place(), seq),
                                                                  std::memory_order_release, std::memory_order_relaxed);
            // SYNC POINT WRITE: after done; READ by the sender's taker_alive().
            pending.store(0, std::memory_order_release);
            // Not the message of this offer: nothing is delivered, and a sender waiting on the
            // slot, finding done without the taken stamp, reports corrupt as well.
            if (!stamped) {
                o.bell.notify(this->light_fence());
                return errc::corrupt;
            }
            // Only a sender that judged us dead resets a taken slot, and then what we copied may
            // be torn: drop it. (A live taker is never judged dead, so this is a corrupt peer.)
            if (!finished) continue;
            o.bell.notify(this->light_fence());
            next_ = (i + 1) % n;
            return errc::ok;
        }
        if (listed) pending.store(0, std::memory_order_release);
        return errc::would_block;
    }

    /// Whether some sender is offering now.
    bool offer_out() const noexcept {
        for (const auto& o : this->sh().offers)
            if (st::kind_of(o.state.load(std::memory_order_acquire)) == st::offered) return true;
        return false;
    }

    std::size_t next_ = 0;  ///< the offer slot to look at first
};

}  // namespace ipckit::detail
