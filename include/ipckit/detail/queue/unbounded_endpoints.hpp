#pragma once
// The sender and the receiver of an unbounded queue (detail/queue/unbounded.hpp): the endpoint
// core over the chain's head, the chain's cursors, and their steps for the one verb loop.

#include <ipckit/detail/chain/chain_consumer.hpp>
#include <ipckit/detail/chain/chain_producer.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/queue/slot_message.hpp>
#include <ipckit/detail/queue/unbounded_head.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

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

/// The sending end of an unbounded queue (of T, or of bytes<Max>: each message written in place
/// into its slot, only its own bytes copied). A send never waits for the receiver: it returns ok,
/// no_space (the cap is reached: nothing was written), closed (the queue was removed, or, for
/// a process_owned queue, the receiver has closed; a system_owned queue keeps what is sent for
/// the next receiver) or corrupt. The one wait there is: for another sender that is creating
/// the chunk this one needs, which a blocking sender waits out (within its deadline, else
/// timed_out) and a non-blocking sender answers with would_block. Closing tells the receiver,
/// which gets `closed` once every sender has closed and it has taken every message.
template <class Queue, mode_policy Mode>
class unbounded_sender
    : public chain_endpoint<Queue, producer_role,
                            chain_producer<typename Queue::slot_type, Queue::slots_per_chunk,
                                           (Queue::max_senders > 1), typename Queue::chunks>>,
      public slot_message<typename Queue::message_type>::template send_verbs_of<unbounded_sender<Queue, Mode>, Mode> {
    using M = typename Queue::message_type;
    using T = typename Queue::slot_type;
    using verbs = typename slot_message<M>::template send_verbs_of<unbounded_sender, Mode>;
    using cursor = chain_producer<T, Queue::slots_per_chunk, (Queue::max_senders > 1), typename Queue::chunks>;
    using base = chain_endpoint<Queue, producer_role, cursor>;

public:
    /// send(m) (send_verbs, or bytes_send_verbs for bytes<Max>: a span or string_view, too_large
    /// past Max with nothing sent): sends `m`: ok, no_space, closed or corrupt (or the OS's
    /// reason for failing to create a chunk). Non-blocking: also would_block, only while another
    /// sender creates a chunk.
    /// send(m, deadline), blocking only: as send(m), with a deadline (a steady_clock time point)
    /// or a timeout (a duration) that bounds only the wait for another sender creating a chunk:
    /// timed_out, and the message is not sent.
    using verbs::send;

private:
    friend Queue;
    friend verbs;
    explicit unbounded_sender(std::shared_ptr<chain_head> head) : base(std::move(head)) {}

    /// Sends `m` through the one verb loop (endpoint_core::run_verb). It would block only while
    /// another sender creates the chunk it needs: it waits until that sender has let go of the
    /// chain's grower word or published the chunk (the cursor's has_room), and looks again once
    /// per liveness interval, since that sender may have died (try_push then takes over). A
    /// sender's verbs never end because of the receiver, so peers() says ok.
    errc send_until(const M& m, clock::time_point deadline) noexcept
        requires(!is_bytes<M>)
    {
        return send_with([&m](T& slot) noexcept { std::memcpy(static_cast<void*>(&slot), &m, sizeof(T)); }, deadline);
    }
    /// bytes<Max>: `m` (checked against Max by the verbs) written into its slot's record.
    errc send_until(std::span<const std::byte> m, clock::time_point deadline) noexcept
        requires is_bytes<M>
    {
        return send_with([m](T& slot) noexcept { write_record(slot, m); }, deadline);
    }

    /// write(T& slot) noexcept writes the message in place.
    template <class Write>
    errc send_with(const Write& write, clock::time_point deadline) noexcept {
        bool look_again = false;
        step_of step{[this, &write, &look_again]() noexcept {
                         look_again = false;
                         return push(write);
                     },
                     [this, &look_again]() noexcept { return look_again || this->cursor_.has_room() || nobody_reads(); },
                     [&look_again]() noexcept {
                         look_again = true;
                         return false;
                     },
                     [](bool) noexcept { return errc::ok; }};
        return this->template run_verb<Mode, typename Queue::wait_type>(step, deadline);
    }

    /// Whether nobody will read what this sender would send: two loads, no system call. A
    /// system_owned queue outlives its users: there a receiver that closed is only a pause, and
    /// what is sent waits for the next one. A queue closed as a whole (close()) says so to both;
    /// a removed one, through its chain (try_push_with says closed once the chain is retired,
    /// chunk needed or not: the receiver may never reach the chunk this sender has mapped).
    /// Asked before each push, and by a sender waiting for a chunk when it wakes, so that
    /// close() ends that wait too.
    [[nodiscard]] bool nobody_reads() const noexcept {
        const auto& sh = *this->shared_;
        if constexpr (std::is_same_v<typename Queue::ownership_type, process_owned>)
            return sh.receivers.state(false) == errc::closed;
        else
            return sh.receivers.is_sealed();
    }

    template <class Write>
    errc push(const Write& write) noexcept {
        auto& sh = *this->shared_;
        if (nobody_reads()) return errc::closed;
        const errc e = this->cursor_.try_push_with(write);
        if (this->cursor_.grew()) sh.chunk_bell.notify(this->light_fence_);
        if (e == errc::ok) sh.data_bell.notify(this->light_fence_);
        return e;
    }
};

/// The receiving end of an unbounded queue (the only one; of T, or of bytes<Max>: each message
/// read in place from its slot, only its own bytes copied out). Blocking: receive waits for a
/// message (with deadline overloads). Non-blocking: receive returns would_block at once when
/// the queue is empty. Either way it returns closed or peer_dead only after every message the
/// senders sent has been received.
template <class Queue, mode_policy Mode>
class unbounded_receiver
    : public chain_endpoint<Queue, consumer_role,
                            chain_consumer<typename Queue::slot_type, Queue::slots_per_chunk, typename Queue::chunks>>,
      public slot_message<typename Queue::message_type>::template receive_verbs_of<unbounded_receiver<Queue, Mode>, Mode> {
    using M = typename Queue::message_type;
    using T = typename Queue::slot_type;
    using verbs = typename slot_message<M>::template receive_verbs_of<unbounded_receiver, Mode>;
    using cursor = chain_consumer<T, Queue::slots_per_chunk, typename Queue::chunks>;
    using base = chain_endpoint<Queue, consumer_role, cursor>;

public:
    /// receive(), receive(out) (receive_verbs): receives the oldest message. Blocking: waits for
    /// one; closed or peer_dead once the senders have gone and the queue is empty; timed_out.
    /// Non-blocking: would_block when empty.
    /// receive(deadline), receive(out, deadline), blocking only: with a deadline (a steady_clock
    /// time point) or a timeout (a duration).
    /// bytes<Max> (bytes_receive_verbs): receive(buffer [, deadline]) -> its length, too_large
    /// (the message stays the next one) if the buffer is too small; receive([deadline]) -> a
    /// vector. A length in shared memory over Max: corrupt.
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
    friend watch_access;
    explicit unbounded_receiver(std::shared_ptr<chain_head> head) : base(std::move(head)) {}

    /// Its readiness, for a waitset (endpoint_core::may_not_wait).
    bool watched_ready(bool ask_os) noexcept {
        return this->may_not_wait([this]() noexcept { return this->cursor_.has_data(); },
                                  [this]() noexcept { return recover(); },
                                  [this](bool ask) noexcept {
                                      return this->peers_unless_claim_held(ask, [this]() noexcept { return recover(); });
                                  },
                                  ask_os);
    }

    /// Takes the oldest message into `out`, through the one verb loop (endpoint_core::run_verb).
    /// A claim left by a sender that died (its place since taken over and let go) is skipped
    /// by recover().
    errc receive_until(M& out, clock::time_point deadline) noexcept
        requires(!is_bytes<M>)
    {
        return receive_with([this, &out]() noexcept { return this->cursor_.try_pop(out); }, deadline);
    }
    /// bytes<Max>: take(span) on the oldest message in its slot, its length checked first; a
    /// take that fails (a buffer too small) leaves it the oldest.
    template <class Take>
    errc receive_until(Take& take, clock::time_point deadline) noexcept
        requires is_bytes<M>
    {
        return receive_with(
            [this, &take]() noexcept {
                return this->cursor_.try_take([&take](const T& r) noexcept {
                    std::size_t n = 0;
                    if (record_length(r, n) != errc::ok) return errc::corrupt;
                    return take(record_bytes(r, n));
                });
            },
            deadline);
    }

    template <class Pop>
    errc receive_with(const Pop& pop, clock::time_point deadline) noexcept {
        step_of step{[&pop]() noexcept { return pop(); },
                     [this]() noexcept { return this->cursor_.has_data(); }, [this]() noexcept { return recover(); },
                     [this](bool ask_os) noexcept { return this->peers_state(ask_os); },
                     [this]() noexcept { return this->claim_held_; }};
        return this->template run_verb<Mode, typename Queue::wait_type>(step, deadline);
    }

    /// Finishes what a dead sender claimed and left unfinished; notes whether it stopped at a
    /// claim a live sender holds (claim_held_).
    bool recover() noexcept {
        auto& senders = this->shared_->senders;
        return this->recover_noting_claims(this->cursor_,
                                           [&senders](std::uint64_t p) noexcept { return senders.live_claimant(p); });
    }
};

}  // namespace ipckit::detail
