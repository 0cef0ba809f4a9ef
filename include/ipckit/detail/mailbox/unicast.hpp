#pragma once
// Mailboxes of fixed-size messages with delivery exclusive, any or round_robin: Vyukov's ring
// (detail/ring/mpmc.hpp) with up to 64 senders and 1 (exclusive) or 64 receivers, their
// rosters, and the mailbox's control block. The semantics are at the top of <ipckit/mailbox.hpp>.
//
// round_robin. The control block's turn word names the receivers' roster place whose turn it
// is. Only that receiver takes a message; then it passes the turn to the next place that is
// held, in place order, cyclically. Whoever finds the turn on a place nobody holds (its
// receiver closed) passes it on at once; a waiter that finds the turn on a place whose holder
// has died (checked about once per liveness interval) gives that place up for the dead holder,
// and passes it on. So n receivers that all keep up get messages 0, n, 2n... / 1, n+1... in
// place order, and no message ever waits for a receiver that is gone. The turn word also counts
// passes, and every pass is a CAS from the exact value that allowed it (the turn a receiver
// popped under, the dead place's turn a waiter found): a stale pass fails and changes nothing.
// A waiter retires a dead holder's place (roster::retire: it takes the place by CAS first)
// before it touches the place's sleeper registration or its turn, so a receiver that took the
// place over meanwhile keeps both. A receiver that attaches takes over a dead holder's place
// in preference to a free one (roster::claim), and with it that place's turns.

#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/queue/fixed.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/mailbox/common.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/ring/mpmc.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// What lives in a mailbox's segment after the header.
///   control      state, owner, turn (detail/mailbox/common.hpp)
///   data_bell    receivers sleep here: for a message, for their turn, for the removal
///   space_bell   senders sleep here while the mailbox is full
///   senders      roster of up to MaxP senders (who, and which position each is claiming)
///   receivers    roster of up to MaxC receivers
///   ring         Vyukov's ring (detail/ring/mpmc.hpp)
template <message T, std::size_t N, std::size_t MaxP, std::size_t MaxC>
struct mailbox_shared {
    using queue_part = queue_shared<T, N, MaxP, MaxC>;  // for its ring and cursor types
    static_assert(!queue_part::spsc);
    using ring_type = typename queue_part::ring_type;
    using producer_type = typename queue_part::producer_type;
    using consumer_type = typename queue_part::consumer_type;

    mailbox_control control;
    alignas(cache_line) doorbell data_bell;
    alignas(cache_line) doorbell space_bell;
    roster<MaxP> senders;
    roster<MaxC> receivers;
    ring_type ring;
};

/// For an inspector: where a mailbox_shared's rosters and ring lie for `maxc` receivers (64
/// senders) and a message aligned to `align`.
constexpr queue_shared_offsets mailbox_offsets(std::size_t maxc, std::size_t align) noexcept {
    const std::size_t senders = 3 * cache_line;
    const std::size_t receivers = senders + roster_bytes(multi::max);
    return {senders, receivers, align_up(receivers + roster_bytes(maxc), std::max(cache_line, align))};
}
template <class T, std::size_t MaxC>
constexpr bool mailbox_offsets_hold() noexcept {
    using shared = mailbox_shared<T, 4, multi::max, MaxC>;
    constexpr queue_shared_offsets o = mailbox_offsets(MaxC, alignof(T));
    return starts_as_mailbox<shared>() && offsetof(shared, senders) == o.senders &&
           offsetof(shared, receivers) == o.receivers && offsetof(shared, ring) == o.ring &&
           offsetof(typename shared::ring_type, tail) == 0 && offsetof(typename shared::ring_type, head) == cache_line;
}
static_assert(mailbox_offsets_hold<std::uint64_t, 1>() && mailbox_offsets_hold<char, multi::max>(),
              "mailbox_offsets() must say where mailbox_shared's parts lie, or inspectors misread mailboxes");

/// For an inspector: the state, owner, endpoints, depth and counters of a mailbox (delivery
/// exclusive, any or round_robin) described by `d`, whose body is `v`. Reads only; throws
/// inspect_fault.
inline void inspect_mailbox(const body_view& v, const mailbox_fields& d, segment_info& out) {
    const std::size_t maxc = d.delivery == exclusive::name ? 1 : multi::max;
    const queue_shared_offsets o = mailbox_offsets(maxc, d.message.align);
    out.max_senders = multi::max;
    out.max_receivers = maxc;
    inspect_mailbox_control(v, out);
    add_roster(v, o.senders, multi::max, "sender", out);
    add_roster(v, o.receivers, maxc, "receiver", out);
    set_message_counts(read_ring(v, o.ring, cache_line, d.slots), out);
}

/// Where a mailbox endpoint sleeps (its role's bell), and whom a closing receiver wakes: the
/// other receivers, which may be waiting for its turn to pass.
template <class Role>
struct mailbox_bells {
    static doorbell& sleep_bell(auto& sh, std::size_t /*place*/) noexcept { return Role::sleep_on(sh); }
    static void wake_on_close(auto& sh) noexcept {
        if constexpr (std::is_same_v<Role, consumer_role>) sh.data_bell.ring();
    }
};

template <class Box, mode_policy Mode>
class mailbox_sender;
template <class Box, mode_policy Mode>
class mailbox_receiver;

/// A mailbox of fixed-size messages with delivery exclusive, any or round_robin: what
/// ipckit::mailbox<T, bounded<N>, Delivery, Ownership, Wait> is. See <ipckit/mailbox.hpp>.
template <message T, std::size_t N, delivery_policy Delivery, ownership_policy Ownership, wait_policy Wait>
class mailbox_queue : public queue_handle<mailbox_queue<T, N, Delivery, Ownership, Wait>> {
    using base = queue_handle<mailbox_queue>;
    static_assert(!std::is_same_v<Delivery, broadcast>, "broadcast mailboxes live in detail/mailbox/broadcast.hpp");

public:
    using message_type = T;
    using delivery_type = Delivery;
    using ownership_type = Ownership;
    using wait_type = Wait;
    static constexpr std::size_t capacity = N;
    static constexpr std::size_t max_senders = multi::max;
    static constexpr std::size_t max_receivers = std::is_same_v<Delivery, exclusive> ? 1 : multi::max;

    using shared = mailbox_shared<T, N, max_senders, max_receivers>;
    template <mode_policy Mode>
    using sender_type = mailbox_sender<mailbox_queue, Mode>;
    template <mode_policy Mode>
    using receiver_type = mailbox_receiver<mailbox_queue, Mode>;
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a mailbox must be standard layout");
    static_assert(alignof(shared) <= header_size,
                  "a message type aligned to more than 256 bytes cannot live after the segment header");

    /// The description and size a segment must match to be this mailbox.
    static segment_layout layout() {
        return {mailbox_description<T>(capacity, Delivery::name, Ownership::name),
                header_size + sizeof(shared)};
    }

    /// Creates the mailbox `name`; for process_owned, this process becomes its owner (its one
    /// receiver). Throws already_exists, invalid_name, permission_denied, no_space.
    static mailbox_queue create(std::string_view name, const options& opt = {}) {
        return explained(name, layout().description, [&] { return base::create(name, opt); });
    }
    /// Opens the existing mailbox `name`. Throws not_found (also for a process_owned mailbox
    /// whose owner has gone), incompatible_layout (saying which policy or type differs), corrupt.
    static mailbox_queue open(std::string_view name, const options& opt = {}) {
        return explained(name, layout().description, [&] { return base::open(name, opt); });
    }
    /// Opens `name`, or creates it if there is none (exactly one of racing processes creates).
    static mailbox_queue open_or_create(std::string_view name, const options& opt = {}) {
        return explained(name, layout().description, [&] { return base::open_or_create(name, opt); });
    }
    /// Removes the mailbox `name`: from now on its senders get closed, its receivers get what
    /// was accepted and then closed, blocked ones wake, and the name is free. False if none.
    static bool remove(std::string_view name, const options& opt = {}) {
        return remove_mailbox(name, [&] { return open(name, opt); });
    }

    /// Attaches a sender. Throws sender_busy while 64 live senders are attached, and
    /// invalid_argument in the owner of a process_owned mailbox (the owner only receives).
    template <mode_policy Mode = blocking>
    [[nodiscard]] sender_type<Mode> sender() const {
        if (is_owner())
            throw error(errc::invalid_argument,
                        "mailbox '" + this->name() + "' is process_owned and this process owns it: the owner only "
                        "receives through its mailbox, other processes send to it. Send from another process, or "
                        "make the mailbox system_owned");
        return attach<sender_type<Mode>>(sender_busy_text());
    }
    /// Attaches a receiver. Throws receiver_busy while the mailbox has as many live receivers as
    /// it allows (1 for exclusive, 64 otherwise), and invalid_argument for a process_owned mailbox
    /// in any process but its owner.
    template <mode_policy Mode = blocking>
    [[nodiscard]] receiver_type<Mode> receiver() const {
        if constexpr (std::is_same_v<Ownership, process_owned>) {
            if (!is_owner())
                throw error(errc::invalid_argument,
                            "mailbox '" + this->name() + "' is process_owned: only its owner, process " +
                                std::to_string(sys::process_id::unpack(control().owner.load()).pid) +
                                ", receives through it. Send to it from here, or make the mailbox system_owned "
                                "so that any process may receive");
        }
        return attach<receiver_type<Mode>>(receiver_busy_text());
    }

    /// How much is waiting now (every kind's depth()), here messages: a snapshot, stale as soon
    /// as it is returned.
    [[nodiscard]] std::size_t depth() const noexcept {
        return tail_minus_head(this->template shared_part<shared>().ring, capacity);
    }
    /// Whether the mailbox still takes messages (not removed, and its owner, if any, not gone).
    [[nodiscard]] bool is_open() const noexcept { return control().is_open(); }

    /// Marks this mailbox removed without removing its name (remove() does both).
    void mark_removed() const noexcept { detail::mark_removed(shared_mut()); }

private:
    friend base;
    mailbox_queue(segment&& s, const options& opt) : base(std::move(s), opt) {
        if constexpr (std::is_same_v<Ownership, process_owned>) this->segment_->at_last_release(owner_gone<shared>);
    }

    static void init(void* body) {
        auto* sh = ::new (body) shared;
        if constexpr (std::is_same_v<Ownership, process_owned>)
            sh->control.owner.store(sys::self().pack(), std::memory_order_release);
    }

    shared& shared_mut() const noexcept { return *static_cast<shared*>(this->segment_->body()); }
    const mailbox_control& control() const noexcept { return shared_mut().control; }

    /// Whether this process owns the (process_owned) mailbox.
    bool is_owner() const {
        if constexpr (std::is_same_v<Ownership, process_owned>)
            return control().owner.load(std::memory_order_acquire) == sys::self().pack();
        else
            return false;
    }

    template <class Endpoint>
    Endpoint attach(const std::string& busy_text) const {
        try {
            return Endpoint(this->segment_, this->options_);
        } catch (const error& e) {
            if (e.reason() != errc::sender_busy && e.reason() != errc::receiver_busy) throw;
            throw error(e.reason(), busy_text);
        }
    }
    std::string sender_busy_text() const {
        return "mailbox '" + this->name() + "' already has " + std::to_string(max_senders) +
               " live senders. Close one first (a sender that has died is replaced by the next one)";
    }
    std::string receiver_busy_text() const {
        if (max_receivers == 1)
            return "mailbox '" + this->name() + "' delivers exclusive and already has its one live receiver. Wait "
                   "until it closes or its process ends (the next receiver then takes over, nothing lost), or use "
                   "delivery any or round_robin for several receivers";
        return "mailbox '" + this->name() + "' already has " + std::to_string(max_receivers) +
               " live receivers. Close one first";
    }
};

/// What the endpoints of a mailbox share: the roster place (endpoint_core), the ring cursor,
/// and the one loop that retries an attempt until it succeeds, the deadline passes, or the
/// mailbox is closed. Unlike a queue's endpoints, a mailbox's do not end when the other side
/// comes and goes: senders and receivers are independent users of the mailbox, which ends only
/// when it is removed or (process_owned) its owner goes.
template <class Box, class Role, class Cursor, mode_policy Mode>
class mailbox_endpoint : public endpoint_core<Box, Role, mailbox_bells<Role>> {
    using core = endpoint_core<Box, Role, mailbox_bells<Role>>;

public:
    mailbox_endpoint(mailbox_endpoint&& o) noexcept
        : core(std::move(o)), cursor_(o.cursor_), next_check_(o.next_check_) {}
    mailbox_endpoint& operator=(mailbox_endpoint&& o) noexcept {
        core::operator=(std::move(o));
        cursor_ = o.cursor_;
        next_check_ = o.next_check_;
        return *this;
    }

private:
    using core::peer;  // a queue's notion; a mailbox's peers come and go freely

protected:
    mailbox_endpoint(std::shared_ptr<segment> seg, const options& opt) : core(std::move(seg), opt) {
        if (!cursor_.attach(this->shared_->ring, Role::own(*this->shared_).places[this->place_].pending)) {
            const std::string box_name = this->name();
            this->abandon_place();
            throw error(errc::corrupt,
                        "mailbox '" + box_name + "' has inconsistent indices: remove it and create it again");
        }
        next_check_ = clock::now() + this->liveness_;
    }

    /// Runs `attempt` (ok, would_block, closed, corrupt) once (non_blocking) or until it does not
    /// would_block (blocking), sleeping until `ready()` and calling `check()` (system calls:
    /// liveness, recovery from dead peers) about once per liveness interval. A non-blocking
    /// verb calls check() too, on a would_block at least a liveness interval after the last one.
    template <class Attempt, class Ready, class Check>
    errc run(Attempt&& attempt, Ready&& ready, Check&& check, clock::time_point deadline) noexcept {
        if (this->shared_ == nullptr) return errc::closed;
        if constexpr (std::same_as<Mode, blocking>) {
            for (;;) {
                const errc e = attempt();
                if (e != errc::would_block) return e;
                const errc w = wait_until<typename Box::wait_type>(
                    this->sleep_bell(), this->asleep(), ready,
                    [&](bool ask_os) {
                        if (ask_os) check();
                        return errc::ok;
                    },
                    deadline, this->liveness_);
                if (w != errc::ok) return w;
            }
        } else {
            (void)ready;
            errc e = attempt();
            if (e == errc::would_block) {
                const auto now = clock::now();  // vDSO: no system call
                if (now >= next_check_) {
                    next_check_ = now + this->liveness_;
                    check();
                    e = attempt();
                }
            }
            return e;
        }
    }

    [[nodiscard]] typename Box::shared& sh() const noexcept { return *this->shared_; }
    [[nodiscard]] mailbox_control& control() const noexcept { return this->shared_->control; }
    Cursor& cursor() noexcept { return cursor_; }

    /// Finishes a slot that a dead process on the other side claimed and left unfinished.
    void recover() noexcept {
        cursor_.recover([this](std::uint64_t p) { return Role::peers(*this->shared_).live_claimant(p); });
    }

private:
    Cursor cursor_;
    clock::time_point next_check_{};
};

/// The sending end of a mailbox. Blocking: send waits while the mailbox is full (a deadline or
/// timeout may follow the message). Non-blocking: send returns would_block at once. Either
/// returns closed once the mailbox is removed or its owner has gone; a message that send
/// accepted (ok) is delivered unless that happens to a process_owned mailbox's owner.
/// Restricted thread-safe: one thread at a time.
template <class Box, mode_policy Mode>
class mailbox_sender
    : public mailbox_endpoint<Box, producer_role, typename Box::shared::producer_type, Mode>,
      public send_verbs<mailbox_sender<Box, Mode>, typename Box::message_type, Mode> {
    using base = mailbox_endpoint<Box, producer_role, typename Box::shared::producer_type, Mode>;
    using T = typename Box::message_type;
    using verbs = send_verbs<mailbox_sender, T, Mode>;

public:
    /// send(m), send(m, deadline) (send_verbs): sends a copy of `m`: ok, or closed (removed,
    /// owner gone: not sent), corrupt. Blocking: waits for room, or timed_out (not sent).
    /// Non-blocking: would_block when full.
    using verbs::send;

private:
    friend Box;
    friend verbs;
    using base::base;

    errc send_until(const T& m, clock::time_point deadline) noexcept {
        return this->run([&] { return attempt(m); },
                         [this] { return this->cursor().has_room() || !this->control().is_open(); },
                         [this] { check(); }, deadline);
    }

    errc attempt(const T& m) noexcept {
        if (!this->control().is_open()) return errc::closed;
        ring_ticket<T> t;
        const errc e = this->cursor().try_claim(t);
        if (e != errc::ok) return e;
        // The claim (tail) before the second look at the state, with the light half of the
        // asymmetric fence between: either the closer's heavy half makes our claim visible to
        // the receivers that read the tail after the final state, or we see the state closing
        // and withdraw the claim (mailbox_control). Nothing accepted is ever left behind.
        sys::light_fence(this->light_fence_);
        if (this->control().state.load(std::memory_order_relaxed) != mailbox_control::open) {
            this->cursor().abandon(t);  // a tombstone the receivers skip
            this->sh().data_bell.notify(this->light_fence_);
            return errc::closed;
        }
        std::memcpy(static_cast<void*>(t.slot), &m, sizeof(T));
        this->cursor().commit(t);
        this->sh().data_bell.notify(this->light_fence_);
        return errc::ok;
    }

    /// System calls, about once per liveness interval while it would block: frees a slot that
    /// a dead receiver took and never gave back, and notices that a process_owned mailbox's
    /// owner has died.
    void check() noexcept {
        this->recover();
        if constexpr (std::is_same_v<typename Box::ownership_type, process_owned>) {
            const std::uint64_t owner = this->control().owner.load(std::memory_order_acquire);
            if (this->control().is_open() && owner != 0 && !sys::is_alive(sys::process_id::unpack(owner))) {
                if (this->control().close_as(mailbox_control::owner_gone)) wake_everyone(this->sh());
            }
        }
    }
};

/// The receiving end of a mailbox. Blocking: receive waits for a message (and, round_robin, for
/// its turn); a deadline or timeout may be given. Non-blocking: receive returns would_block at
/// once (round_robin: also when it is another receiver's turn). Either returns closed only once
/// the mailbox is removed and every message it accepted has been received. Restricted
/// thread-safe: one thread at a time.
template <class Box, mode_policy Mode>
class mailbox_receiver
    : public mailbox_endpoint<Box, consumer_role, typename Box::shared::consumer_type, Mode>,
      public receive_verbs<mailbox_receiver<Box, Mode>, typename Box::message_type, Mode> {
    using base = mailbox_endpoint<Box, consumer_role, typename Box::shared::consumer_type, Mode>;
    using T = typename Box::message_type;
    using verbs = receive_verbs<mailbox_receiver, T, Mode>;
    static constexpr bool turns = std::is_same_v<typename Box::delivery_type, round_robin>;
    static constexpr std::uint64_t place_mask = 0xffff'ffffULL;

public:
    mailbox_receiver(mailbox_receiver&&) noexcept = default;
    mailbox_receiver& operator=(mailbox_receiver&&) noexcept = default;

    /// receive(), receive(deadline), receive(out), receive(out, deadline) (receive_verbs):
    /// receives a copy of the next message for this receiver. Blocking: waits for one; closed
    /// once the mailbox is removed and drained; timed_out. Non-blocking: would_block.
    using verbs::receive;

private:
    friend Box;
    friend verbs;
    using base::base;

    errc receive_until(T& out, clock::time_point deadline) noexcept {
        return this->run([&] { return attempt(out); }, [this] { return ready(); }, [this] { check(); }, deadline);
    }

    errc attempt(T& out) noexcept {
        [[maybe_unused]] std::uint64_t turn = 0;  // round_robin: the turn that lets us pop, the one we pass
        if constexpr (turns) {
            for (;;) {
                turn = this->control().turn.load(std::memory_order_acquire);
                const std::uint64_t place = turn & place_mask;
                if (place >= Box::max_receivers) return errc::corrupt;  // checked before use
                if (place == this->place_) break;
                if (!held(place)) {
                    pass(turn, place);  // its receiver has gone: on to the next one
                    continue;
                }
                return drained() ? errc::closed : errc::would_block;  // another receiver's turn
            }
        }
        const errc e = this->cursor().try_pop(out);
        if (e == errc::ok) {
            if constexpr (turns) {
                // The turn we were given, not a fresh look: if it was a predecessor's at this
                // place (given before we took the place over) and has been passed on since,
                // the CAS fails and the turn stays where it is, rather than being taken from
                // the receiver that has it now.
                pass(turn, this->place_);
                this->sh().data_bell.notify(this->light_fence_);  // the next receiver's turn
            }
            this->sh().space_bell.notify(this->light_fence_);
            return errc::ok;
        }
        if (e == errc::would_block && drained()) return errc::closed;
        return e;
    }

    /// Whether a blocked receive should look again.
    bool ready() noexcept {
        if constexpr (turns) {
            const std::uint64_t place = this->control().turn.load(std::memory_order_acquire) & place_mask;
            if (place >= Box::max_receivers || (place != this->place_ && !held(place))) return true;
            if (place != this->place_) return drained();
        }
        return this->cursor().has_data() || drained();
    }

    /// Whether the mailbox is closed and every message it accepted has been taken.
    bool drained() noexcept {
        // SYNC POINT READ: the final state (acquire) before the tail; paired with the closer's
        // heavy fence and a sender's claim, light fence and second look (mailbox_control).
        if (!this->control().closed_for_good()) return false;
        const auto& ring = this->sh().ring;
        return ring.tail.load(std::memory_order_acquire) == ring.head.load(std::memory_order_acquire);
    }

    /// Whether roster place `p` is held (by a live or a dead process).
    bool held(std::uint64_t p) const noexcept {
        return roster_place::names_holder(this->sh().receivers.places[p].holder.load(std::memory_order_acquire));
    }

    /// Passes the turn, which `turn` gave to place `from`, to the next place held after it.
    void pass(std::uint64_t turn, std::uint64_t from) noexcept {
        std::uint64_t next = from;
        for (std::uint64_t k = 1; k <= Box::max_receivers; ++k) {
            const std::uint64_t p = (from + k) % Box::max_receivers;
            if (held(p)) {
                next = p;
                break;
            }
        }
        const std::uint64_t passed = (((turn >> 32) + 1) << 32) | next;
        // SYNC POINT WRITE: acq_rel, so the next receiver's pop comes after ours; a stale `turn`
        // (someone passed meanwhile) fails and changes nothing.
        (void)this->control().turn.compare_exchange_strong(turn, passed, std::memory_order_acq_rel);
    }

    /// System calls, about once per liveness interval while it would block: skips a slot that
    /// a dead sender claimed and never published; round_robin: gives up the place of a dead
    /// receiver whose turn it is, so that the turn passes on.
    void check() noexcept {
        this->recover();
        if constexpr (turns) {
            const std::uint64_t turn = this->control().turn.load(std::memory_order_acquire);
            const std::uint64_t place = turn & place_mask;
            if (place >= Box::max_receivers || place == this->place_) return;
            auto& receivers = this->sh().receivers;
            const std::uint64_t h = receivers.places[place].holder.load(std::memory_order_acquire);
            if (!roster_place::names_holder(h)) return;
            if (sys::is_alive(sys::process_id::unpack(h))) return;
            // Retire the place for the dead holder: roster::retire takes it first, so if a new
            // receiver took it over since we looked, we touch neither its sleeper registration
            // nor its turn. Killed in the middle, the place stays held by us, dead in turn: the
            // next check() finds it and does all this again.
            if (!receivers.retire(place, h, this->me_,
                                  [this](std::size_t) -> doorbell& { return this->sh().data_bell; }))
                return;
            pass(turn, place);
            this->sh().data_bell.ring();
        }
    }
};

}  // namespace ipckit::detail
