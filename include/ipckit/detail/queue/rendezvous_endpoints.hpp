#pragma once
// The endpoints of a zero-capacity queue (the seed's rendezvous, rendezvous.hpp): where each
// side sleeps and whom it wakes, what both have, and the sender's half of the offer-slot protocol
// (rendezvous_slots.hpp) on the one verb loop (endpoint_core::run_verb), as a step of two phases
// (its offer out, then taken). The receiver's half is rendezvous_receiver.hpp.

#include <ipckit/detail/endpoint/core.hpp>
#include <ipckit/detail/endpoint/roles.hpp>
#include <ipckit/detail/endpoint/step.hpp>
#include <ipckit/detail/endpoint/verbs.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/queue/rendezvous_slots.hpp>
#include <ipckit/detail/queue/slot_message.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

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
/// may or may not have been seen), reported as any death is, once. Closing (destruction) tells
/// the receivers, which get `closed` once every sender has closed.
template <class Queue, mode_policy Mode>
class rendezvous_sender
    : public rendezvous_endpoint<Queue, producer_role>,
      public slot_message<typename Queue::message_type>::template send_verbs_of<rendezvous_sender<Queue, Mode>, Mode> {
    static_assert(std::same_as<Mode, blocking>,
                  "ipckit::queue<T, zero_capacity>: zero capacity has no buffer to leave a message in, so a send "
                  "must wait until a receiver takes it: a rendezvous must use a blocking send. Use "
                  "sender<ipckit::blocking>() (with a deadline if the sender must not wait long), or a bounded<N> "
                  "queue for a send that does not wait");

    using base = rendezvous_endpoint<Queue, producer_role>;
    using M = typename Queue::message_type;
    using T = typename Queue::slot_type;
    using verbs = typename slot_message<M>::template send_verbs_of<rendezvous_sender, Mode>;
    using st = offer_state;

public:
    /// send(m) (send_verbs; bytes_send_verbs for bytes<Max>: a span or string_view, too_large
    /// past Max with nothing offered): offers `m` and waits until a receiver takes it: ok,
    /// closed, peer_dead or corrupt.
    /// send(m, deadline): as send(m), or timed_out once the deadline (a steady_clock time point)
    /// or timeout (a duration) has passed with nobody taking m; m is then withdrawn. A receiver
    /// that took m before that makes it ok, once its copy is done.
    using verbs::send;

private:
    friend queue_handle<Queue>;
    friend verbs;

    rendezvous_sender(std::shared_ptr<segment> seg, const options& opt) : base(std::move(seg), opt) {
        // A predecessor in this place killed with its offer out: take the offer back, so that
        // its message does not arrive among ours. (A copy in progress is waited out by the first
        // send.)
        auto& o = offer();
        std::uint64_t s = o.state.load(std::memory_order_acquire);
        if (st::kind_of(s) == st::offered) (void)reset(s);
    }

    rendezvous_offer<T>& offer() const noexcept { return this->sh().offers[this->place()]; }

    /// Offers `m` until `deadline`, through the one verb loop with an offer_step: the send
    /// verbs' primitive.
    errc send_until(const M& m, clock::time_point deadline) noexcept
        requires(!is_bytes<M>)
    {
        return offer_until([&m](T& slot) noexcept { std::memcpy(static_cast<void*>(&slot), &m, sizeof(T)); }, deadline);
    }
    /// bytes<Max>: `m` (checked against Max by the verbs) written into the offer's record.
    errc send_until(std::span<const std::byte> m, clock::time_point deadline) noexcept
        requires is_bytes<M>
    {
        return offer_until([m](T& slot) noexcept { write_record(slot, m); }, deadline);
    }

    /// write(T& slot) noexcept writes the message into the offer slot, in place.
    template <class Write>
    errc offer_until(const Write& write, clock::time_point deadline) noexcept {
        offer_step<Write> step{*this, write};
        return this->template run_verb<Mode, typename Queue::wait_type>(step, deadline);
    }

    /// The sender's half of the protocol (see rendezvous_slots.hpp) as a committing_step of the
    /// verb loop (detail/endpoint/step.hpp), in three phases:
    ///   preparing  the slot is not ours to write yet: a predecessor's offer is out (taken back),
    ///              or its taker still copies (waited out; reset if the taker died). Then m is
    ///              offered: the value and stamp, then a release store of offered(seq).
    ///   offered    waiting for a taker, as long as the receivers' side lasts (peers) and until
    ///              the deadline; where the loop would end, give_up() withdraws the offer: THE
    ///              DECISION, against a receiver's CAS to taken.
    ///   taken      committed: a receiver took m, and the send succeeds once its copy is done
    ///              (done, with its taken stamp). No deadline any more: the copy takes a moment.
    ///              Its taker's death is the attempt's own error, peer_dead; the slot then stays
    ///              taken until the next send resets it.
    /// write(T& slot) writes the message in place when it is offered.
    template <class Write>
    class offer_step {
    public:
        offer_step(rendezvous_sender& tx, const Write& write) noexcept : tx_(tx), write_(write) {}

        errc attempt() noexcept { return phase_ == preparing ? prepare() : await(); }
        bool ready() const noexcept {
            if (taker_dead_) return true;
            return o().state.load(std::memory_order_acquire) != (phase_ == offered ? on_offer() : seen_);
        }
        /// Preparing: resets a slot whose taker died before its done. Taken: notes that our
        /// taker died. System calls.
        bool recover() noexcept {
            if (phase_ == preparing && st::kind_of(seen_) == st::taken && !tx_.taker_alive(seen_)) return tx_.reset(seen_);
            if (phase_ == taken && !taker_dead_ && !tx_.taker_alive(seen_)) taker_dead_ = true;
            return taker_dead_;
        }
        /// An offer out waits on the receivers' side; the slot's own taker is recover()'s. Waiting
        /// out a predecessor's taker (preparing), only the side's close ends it, as prepare()
        /// would: a taker that holds its message parked (bytes<Max>) may keep the slot for ever.
        errc peers(bool ask_os) const noexcept {
            if (phase_ == offered) return tx_.peers_state(ask_os);
            if (phase_ == preparing && tx_.sh().receivers.state(false) == errc::closed) return errc::closed;
            return errc::ok;  // taken: committed, it waits for its taker (recover()), closed or not
        }
        bool committed() const noexcept { return phase_ == taken; }
        bool give_up() noexcept {
            if (phase_ == preparing) return true;  // nothing out
            if (phase_ == taken) return false;
            std::uint64_t cur = on_offer();
            // THE DECISION: offered -> empty (withdrawn) here, or offered -> taken by a receiver's
            // CAS; whichever comes second fails. Once withdrawn, no receiver can take it.
            if (o().state.compare_exchange_strong(cur, st::pack(st::empty, 0, seq_), std::memory_order_acq_rel,
                                                 std::memory_order_acquire)) {
                o().stamp.store(0, std::memory_order_relaxed);  // withdrawn: no receiver may take it
                phase_ = preparing;
                return true;
            }
            // A receiver took it first: the send succeeds once its copy is done. (What it has
            // moved the state to is for the next attempt to read: ready() until then.)
            phase_ = taken;
            seen_ = on_offer();
            return false;
        }

    private:
        enum phase_t { preparing, offered, taken };

        std::uint64_t on_offer() const noexcept { return st::pack(st::offered, 0, seq_); }

        /// Makes the slot ours (empty or done) and offers m: would_block then, to wait for a
        /// taker. Only after a predecessor was killed (or our own last taker was) is there
        /// anything to clear first.
        errc prepare() noexcept {
            // The receivers' side has ended (the closed rule): nobody will take m. Said before
            // the offer, so that a deadline already past does not hide it behind timed_out. A load.
            if (tx_.sh().receivers.state(false) == errc::closed) return tx_.ended();
            std::uint64_t s = 0;
            for (;;) {
                // SYNC POINT READ: done, paired with the taker's release CAS: its copy is finished.
                s = o().state.load(std::memory_order_acquire);
                const std::uint64_t kind = st::kind_of(s);
                if (kind == st::empty || kind == st::done) break;
                if (kind == st::taken && tx_.taker_alive(s)) {
                    seen_ = s;  // a predecessor's taker, still copying: let it finish
                    return errc::would_block;
                }
                // offered (a predecessor's), taken by a dead taker, or a kind no one writes: ours
                // to reset. A receiver may take an offered one first; then we wait for its copy.
                (void)tx_.reset(s);
            }
            seq_ = st::next_seq(st::seq_of(s));
            write_(o().value);
            o().stamp.store(st::offered_stamp(seq_), std::memory_order_relaxed);
            // SYNC POINT WRITE: value and stamp; READ by the receiver whose CAS takes offered(seq).
            o().state.store(on_offer(), std::memory_order_release);
            tx_.sh().data_bell.notify(tx_.light_fence());
            phase_ = offered;
            return errc::would_block;
        }

        /// Offered or taken: whether the taker's copy is done (ok), still to come (would_block),
        /// or cannot come (peer_dead: the taker died; corrupt: the state or stamp was moved).
        errc await() noexcept {
            // SYNC POINT READ: done, paired with the taker's release CAS: it has finished reading
            // value, so the next send may overwrite it.
            const std::uint64_t s = o().state.load(std::memory_order_acquire);
            if (phase_ == offered) {
                if (s == on_offer()) return errc::would_block;
                phase_ = taken;  // no longer ours to withdraw: only the taker moves it now
            }
            seen_ = s;
            if (st::seq_of(s) != seq_) return errc::corrupt;
            // Done, and a taker copied this offer (its stamp, stored before its release CAS).
            // Done without it: the state was moved, and nobody took the message.
            if (st::kind_of(s) == st::done)
                return o().stamp.load(std::memory_order_relaxed) == st::taken_stamp(seq_) ? errc::ok : errc::corrupt;
            if (st::kind_of(s) != st::taken) return errc::corrupt;
            // Dead: prepare() clears it. Its death is reported as every death is (report_dead):
            // its place let go of, and counted as this sender's report, so that the next send
            // that finds nobody there says what the closed rule says, not peer_dead again.
            return taker_dead_ ? tx_.report_dead() : errc::would_block;
        }

        /// Our offer slot. (Not kept from the start: a closed sender has none, and the loop says
        /// closed before it asks.)
        rendezvous_offer<T>& o() const noexcept { return tx_.offer(); }

        rendezvous_sender& tx_;
        const Write& write_;
        phase_t phase_ = preparing;
        std::uint64_t seq_ = 0;   ///< the offer's seq, once offered
        std::uint64_t seen_ = 0;  ///< the state last seen, which ready() waits to change
        bool taker_dead_ = false;
    };

    /// Resets our slot from state `s` (a predecessor's offer, a dead taker's take, or junk) to
    /// empty, clearing the stamp: a message taken back is never one a receiver can take. False
    /// if the state had moved on from `s` (a receiver took the offer first, say).
    bool reset(std::uint64_t s) noexcept {
        auto& o = offer();
        if (!o.state.compare_exchange_strong(s, st::pack(st::empty, 0, st::seq_of(s)), std::memory_order_acq_rel,
                                             std::memory_order_relaxed))
            return false;
        o.stamp.store(0, std::memory_order_relaxed);  // taken back: no receiver may take it
        return true;
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

}  // namespace ipckit::detail
