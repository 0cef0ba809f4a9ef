#pragma once
// The receiving end of a zero-capacity queue (the seed's rendezvous, rendezvous.hpp): the
// receiver's half of the offer-slot protocol (rendezvous_slots.hpp) as a plain step of the one
// verb loop, and, for bytes<Max>, the message it has taken but could not hand over (a buffer too
// small), parked until it can.

#include <ipckit/detail/endpoint/core.hpp>
#include <ipckit/detail/endpoint/roles.hpp>
#include <ipckit/detail/endpoint/step.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/queue/rendezvous_endpoints.hpp>
#include <ipckit/detail/queue/rendezvous_slots.hpp>
#include <ipckit/detail/queue/slot_message.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

namespace ipckit::detail {

/// The receiving end of a rendezvous. Blocking: receive waits for a sender's offer (with deadline
/// overloads). Non-blocking: receive takes an offer that is out now, or returns would_block at
/// once. Either way closed once every sender has closed, and (blocking only) peer_dead once every
/// sender still attached is dead, after any complete offer they left has been taken.
/// bytes<Max>: a buffer too small for the message taken is too_large, and the message stays
/// parked in this receiver, its next (rendezvous.hpp says what its sender sees meanwhile).
template <class Queue, mode_policy Mode>
class rendezvous_receiver
    : public rendezvous_endpoint<Queue, consumer_role>,
      public slot_message<typename Queue::message_type>::template receive_verbs_of<rendezvous_receiver<Queue, Mode>, Mode> {
    using base = rendezvous_endpoint<Queue, consumer_role>;
    using M = typename Queue::message_type;
    using T = typename Queue::slot_type;
    using verbs = typename slot_message<M>::template receive_verbs_of<rendezvous_receiver, Mode>;
    using st = offer_state;

public:
    /// receive(), receive(deadline), receive(out), receive(out, deadline) (receive_verbs): takes
    /// one sender's message. Blocking: waits for an offer; closed or peer_dead once the senders
    /// have gone; timed_out at a deadline (a steady_clock time point) or after a timeout (a
    /// duration), if one follows. Non-blocking: would_block when no sender is offering now.
    /// bytes<Max> (bytes_receive_verbs): receive(buffer [, deadline]) -> its length, or
    /// too_large (the message stays this receiver's next); receive([deadline]) -> a vector.
    using verbs::receive;

    rendezvous_receiver(rendezvous_receiver&&) noexcept = default;
    rendezvous_receiver& operator=(rendezvous_receiver&& o) noexcept {
        if (this != &o) {
            drop_parked();
            base::operator=(std::move(o));
            next_ = o.next_;
            parked_ = std::exchange(o.parked_, no_park);
            parked_seq_ = o.parked_seq_;
        }
        return *this;
    }
    ~rendezvous_receiver() { drop_parked(); }

    /// Lets go now, as destruction would; a message parked here (too_large) is dropped, and its
    /// sender's send returns ok (it was taken).
    void close() noexcept {
        drop_parked();
        base::close();
    }

private:
    friend queue_handle<Queue>;
    friend verbs;
    friend watch_access;
    using base::base;

    /// Its readiness, for a waitset (endpoint_core::may_not_wait): an offer out (or one parked
    /// here), or the senders gone. Nothing to recover (see receive_until).
    bool watched_ready(bool ask_os) noexcept {
        return this->may_not_wait([this]() noexcept { return offer_out(); }, []() noexcept { return false; },
                                  [this](bool ask) noexcept { return this->peers_state(ask); }, ask_os);
    }

    /// Takes an offer into `out`, through the one verb loop (endpoint_core::run_verb): closed or
    /// peer_dead once nothing is on offer and every sender has let go.
    errc receive_until(M& out, clock::time_point deadline) noexcept
        requires(!is_bytes<M>)
    {
        auto copy = [&out](const T& value) noexcept {
            std::memcpy(static_cast<void*>(&out), &value, sizeof(T));
            return errc::ok;
        };
        return take_until(copy, deadline);
    }
    /// bytes<Max>: take(span) on the message in the offer taken, its length checked first (over
    /// Max: corrupt, nothing delivered). A take that fails (a buffer too small) parks it.
    template <class Take>
    errc receive_until(Take& take, clock::time_point deadline) noexcept
        requires is_bytes<M>
    {
        auto in_place = [&take](const T& r) noexcept {
            std::size_t n = 0;
            if (record_length(r, n) != errc::ok) return errc::corrupt;
            return take(record_bytes(r, n));
        };
        return take_until(in_place, deadline);
    }

    template <class Take>
    errc take_until(Take& take, clock::time_point deadline) noexcept {
        step_of step{[this, &take]() noexcept { return try_take(take); }, [this]() noexcept { return offer_out(); },
                     // Nothing to finish for a dead sender: its offer is whole (and may be taken),
                     // or it was never published; the next sender in its place withdraws it.
                     []() noexcept { return false; },
                     [this](bool ask_os) noexcept { return this->peers_state(ask_os); }};
        return this->template run_verb<Mode, typename Queue::wait_type>(step, deadline);
    }

    /// Takes one offer through take(const T& value) -> errc, in place: ok or would_block, or
    /// what take returned where it could not take the message now (then parked: see
    /// finish_parked). corrupt where take finds the message corrupt: nothing is delivered.
    /// Loads, CASes and a copy; a system call only to wake a sender that sleeps.
    template <class Take>
    errc try_take(Take& take) noexcept {
        if (parked_ != no_park) {
            const errc e = finish_parked(take);
            if (e != errc::would_block) return e;
        }
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
            errc e = o.stamp.load(std::memory_order_relaxed) == st::offered_stamp(seq) ? take(o.value) : errc::corrupt;
            if (e != errc::ok && e != errc::corrupt) {
                // Taken, but not into this buffer: parked, still taken by us, with our token
                // listed, so that its sender waits for us (and our death would be noticed).
                parked_ = i;
                parked_seq_ = seq;
                next_ = i;
                return e;
            }
            if (!finish(i, seq, e == errc::ok)) continue;
            return e;
        }
        if (listed) pending.store(0, std::memory_order_release);
        return errc::would_block;
    }

    /// The message parked here, into take again: what take returned (it stays parked unless ok or
    /// corrupt), or would_block if it is no longer ours (only a sender that judged us dead moves
    /// a taken slot: a corrupt peer), to look at the offers out instead.
    template <class Take>
    errc finish_parked(Take& take) noexcept {
        auto& o = this->sh().offers[parked_];
        // SYNC POINT READ: the state we left; nobody else moves it while we live.
        if (o.state.load(std::memory_order_acquire) != st::pack(st::taken, this->place(), parked_seq_)) {
            parked_ = no_park;
            this->sh().receivers.places[this->place()].pending.store(0, std::memory_order_release);
            return errc::would_block;
        }
        const errc e = take(o.value);
        if (e != errc::ok && e != errc::corrupt) return e;
        const std::size_t i = std::exchange(parked_, no_park);
        return finish(i, parked_seq_, e == errc::ok) ? e : errc::would_block;
    }

    /// Ends our take of offer `seq` of slot i: with the taken stamp if the message was
    /// delivered, then done (its sender returns ok, or corrupt without the stamp), our token
    /// cleared, its sender woken. False if the slot was moved under us: what we read may be torn.
    bool finish(std::size_t i, std::uint64_t seq, bool delivered) noexcept {
        auto& o = this->sh().offers[i];
        if (delivered) o.stamp.store(st::taken_stamp(seq), std::memory_order_relaxed);
        std::uint64_t mine = st::pack(st::taken, this->place(), seq);
        // SYNC POINT WRITE: our read of value is over (and the stamp says so); READ by the
        // sender's acquire load of done, after which it may write the next message.
        const bool finished = o.state.compare_exchange_strong(mine, st::pack(st::done, this->place(), seq),
                                                              std::memory_order_release, std::memory_order_relaxed);
        // SYNC POINT WRITE: after done; READ by the sender's taker_alive().
        this->sh().receivers.places[this->place()].pending.store(0, std::memory_order_release);
        // Not the message of this offer: nothing is delivered, and a sender waiting on the slot,
        // finding done without the taken stamp, reports corrupt as well.
        // Only a sender that judged us dead resets a taken slot, and then what we copied may be
        // torn: drop it. (A live taker is never judged dead, so this is a corrupt peer.)
        if (!finished) return false;
        o.bell.notify(this->light_fence());
        if (delivered) next_ = (i + 1) % Queue::max_senders;
        return true;
    }

    /// On close: a message parked here is dropped as received (its sender returns ok). Not in a
    /// forked child, whose inherited endpoint is its parent's.
    void drop_parked() noexcept {
        if (parked_ == no_park || !this->attached() || sys::this_pid() != this->me_.pid) return;
        (void)finish(std::exchange(parked_, no_park), parked_seq_, true);
    }

    /// Whether some sender is offering now, or a message is parked here.
    bool offer_out() const noexcept {
        if (parked_ != no_park) return true;
        for (const auto& o : this->sh().offers)
            if (st::kind_of(o.state.load(std::memory_order_acquire)) == st::offered) return true;
        return false;
    }

    static constexpr std::size_t no_park = SIZE_MAX;
    std::size_t next_ = 0;            ///< the offer slot to look at first
    std::size_t parked_ = no_park;    ///< the slot of a message taken and not yet received (bytes<Max>)
    std::uint64_t parked_seq_ = 0;    ///< its offer's seq
};

}  // namespace ipckit::detail
