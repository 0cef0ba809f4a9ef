#pragma once
// Mailboxes whose every attached receiver gets every message, in order (delivery policy
// broadcast): what ipckit::mailbox<T, bounded<N>, broadcast, system_owned, Wait> is. The ring is
// detail/ring/broadcast.hpp; the control block, the removal protocol and the layout description
// are every mailbox's (detail/mailbox/common.hpp).
//
// Receivers. Any number may attach, up to the size of the receiver table, chosen when the
// mailbox is created (options::max_receivers, 1024 by default; 256 bytes of shared memory each).
// A receiver gets every message sent after it attached, in the order the ring holds them (each
// sender's messages in the order sent). If no other receiver was attached, it starts instead at
// the oldest message no receiver has read: a receiver that restarts finds what was sent while
// nobody listened. A receiver that closes stops gating senders at once; one whose process died
// is given up by a sender that waits for it (about once per options::liveness_interval), or by
// the next receiver that attaches.
//
// Senders (up to 64 at once). The ring holds N messages. Once the slowest attached receiver is N
// messages behind, a blocking send waits until it reads (or the deadline passes: timed_out, not
// sent), and a non-blocking send returns would_block. With no receiver attached at all, the ring
// keeps the last N unread messages for the next receiver, and senders wait likewise.
//
// Ending. As for every mailbox, neither side ends when the other comes and goes: only remove()
// ends it. From then on sends return closed (a send that had already claimed its slot gives it
// up), and each receiver gets every message accepted before, then closed; blocked ones wake.
//
// process_owned does not compile with broadcast: a process_owned mailbox's owner is its only
// receiver, so there would be nobody to broadcast to.

#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/mailbox/common.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/ring/broadcast.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// Receiver places of a broadcast mailbox created with options::max_receivers = 0.
inline constexpr std::size_t default_broadcast_receivers = 1024;
/// The most receiver places a broadcast mailbox may have (256 MiB of table).
inline constexpr std::size_t max_broadcast_receivers = std::size_t{1} << 20;

/// What lives in a broadcast mailbox's segment after the header.
///   control        state (open / removed), unused owner and turn (detail/mailbox/common.hpp)
///   data_bell      receivers sleep here while nothing new has been published
///   space_bell     senders sleep here while the slowest receiver is N behind
///   places         receiver places in the table below; written at creation, checked on open
///   senders        roster of up to MaxP senders (who, and which position each is claiming)
///   ring           tail, gate, base, epoch, high, slots (detail/ring/broadcast.hpp)
/// followed, at table_offset, by broadcast_place[places]: each receiver's holder and cursor.
template <message T, std::size_t N, std::size_t MaxP>
struct broadcast_shared {
    mailbox_control control;
    alignas(cache_line) doorbell data_bell;
    alignas(cache_line) doorbell space_bell;
    alignas(cache_line) std::uint64_t places = 0;
    roster<MaxP> senders;
    broadcast_ring<T, N> ring;

    static constexpr std::size_t table_offset = align_up(sizeof(broadcast_shared), cache_line);
};

/// For an inspector: where a broadcast_shared's parts lie for a message aligned to `align` (its
/// receiver table ends the segment: broadcast_mailbox::places_in).
struct broadcast_offsets {
    std::size_t places;
    std::size_t senders;
    std::size_t ring;
};
constexpr broadcast_offsets broadcast_layout(std::size_t align) noexcept {
    const std::size_t senders = 4 * cache_line;
    return {3 * cache_line, senders, align_up(senders + roster_bytes(multi::max), std::max(cache_line, align))};
}
template <class T>
constexpr bool broadcast_layout_holds() noexcept {
    using shared = broadcast_shared<T, 4, multi::max>;
    using ring = broadcast_ring<T, 4>;
    constexpr broadcast_offsets o = broadcast_layout(alignof(T));
    return starts_as_mailbox<shared>() && offsetof(shared, places) == o.places &&
           offsetof(shared, senders) == o.senders && offsetof(shared, ring) == o.ring && offsetof(ring, tail) == 0 &&
           offsetof(ring, base) == cache_line + 8 && offsetof(ring, high) == cache_line + 24 &&
           offsetof(broadcast_place, place) == 0 && offsetof(broadcast_place, next) == cache_line;
}
static_assert(broadcast_layout_holds<std::uint64_t>() && broadcast_layout_holds<char>(),
              "broadcast_layout() must say where broadcast_shared's parts lie, or inspectors misread broadcasts");

/// For an inspector: the state, senders, receivers (each with its lag), depth (what the slowest
/// receiver has not read; with none attached, what is kept for the next one) and counter of a
/// broadcast mailbox described by `d`, whose body is `v`. Reads only; throws inspect_fault.
inline void inspect_broadcast(const body_view& v, const mailbox_fields& d, segment_info& out) {
    const broadcast_offsets o = broadcast_layout(d.message.align);
    inspect_mailbox_control(v, out);
    add_roster(v, o.senders, multi::max, "sender", out);
    const std::uint64_t places = v.word(o.places, "receiver count");
    const std::uint64_t table_bytes = places * sizeof(broadcast_place);
    // The table ends the body; the slots before it are not read, so their layout does not matter.
    if (places == 0 || places > max_broadcast_receivers || table_bytes > v.size() ||
        v.size() - table_bytes < o.ring + 2 * cache_line || (v.size() - table_bytes) % cache_line != 0)
        throw inspect_fault("has a receiver table of " + std::to_string(places) + " places that does not fit its " +
                            std::to_string(v.size()) + " bytes: it was truncated or overwritten");
    const std::size_t table = v.size() - static_cast<std::size_t>(table_bytes);
    out.max_senders = multi::max;
    out.max_receivers = static_cast<std::size_t>(places);
    const auto* place = v.at<broadcast_place>(table, "receiver table", static_cast<std::size_t>(places));
    const std::uint64_t high = std::min(v.word(o.ring + cache_line + 24, "receiver high-water mark"), places);
    // Each cursor is read before the tail, which it never passes; the lags are of slightly
    // different moments, so each is capped at the ring's size, which gating keeps it within.
    std::optional<std::uint64_t> slowest;
    for (std::size_t i = 0; i < high; ++i) {
        auto e = endpoint_of(place[i].place.holder.load(std::memory_order_acquire), i, "receiver", v.live());
        if (!e) continue;
        // The started flag: its cursor is real (not the placeholder of an attach under way).
        if (e->state != endpoint_state::closed && place[i].place.pending.load(std::memory_order_acquire) == 1) {
            const std::uint64_t next = place[i].next.load(std::memory_order_acquire);
            const std::uint64_t tail = v.word(o.ring, "ring's tail");
            if (next > tail)
                throw inspect_fault("has a receiver (place " + std::to_string(i) + ") whose cursor " +
                                    std::to_string(next) + " is past the tail " + std::to_string(tail) +
                                    ": it was overwritten");
            e->lag = std::min(tail - next, d.slots);
            slowest = std::max(slowest.value_or(0), *e->lag);
        }
        out.endpoints.push_back(std::move(*e));
    }
    const std::uint64_t base = v.word(o.ring + cache_line + 8, "ring's base");
    const std::uint64_t tail = v.word(o.ring, "ring's tail");
    const bool anyone = std::any_of(out.endpoints.begin(), out.endpoints.end(), [](const endpoint_info& e) {
        return e.role == "receiver" && e.state != endpoint_state::closed;
    });
    out.depth_messages = anyone ? slowest.value_or(0) : std::min(tail - std::min(base, tail), d.slots);
    out.sent_messages = tail;
}

/// The receiver table of the mailbox whose shared part is `sh`.
template <class Shared>
broadcast_place* places_of(Shared& sh) noexcept {
    return reinterpret_cast<broadcast_place*>(reinterpret_cast<char*>(&sh) + Shared::table_offset);
}

/// Gives up table place `i` of `places[0..count)` for its holder `holder`, a dead process, on
/// behalf of `me`: takes the place (so that it keeps gating meanwhile), takes the dead one off
/// the data bell's sleepers, moves base for its cursor (ring.give_up), clears its started flag,
/// and leaves the holder word at `to` (closed, or `me` to keep it). Returns false if the place
/// was no longer `holder`'s. System calls: none (the caller asked whether `holder` lives).
/// Killed half-way, the place stays held by `me`, dead in turn: whoever finds it next does the
/// same again, which moves base only to the same cursor (started) or raises it (not started).
template <class Shared>
bool give_up_dead_place(Shared& sh, broadcast_place* places, std::size_t count, std::size_t i, std::uint64_t holder,
                        std::uint64_t me, std::uint64_t to) noexcept {
    auto& p = places[i];
    std::uint64_t h = holder;
    // SYNC POINT WRITE/READ: seq_cst; from here the place is ours and still gates.
    if (!p.place.holder.compare_exchange_strong(h, me, std::memory_order_seq_cst)) return false;
    forget_sleeper(sh.data_bell, p.place.asleep);
    const bool started = p.place.pending.load(std::memory_order_seq_cst) == 1;
    const std::uint64_t next = p.next.load(std::memory_order_seq_cst);  // the dead one's; nobody moves it
    const bool alone = sh.ring.held_places(sh.ring.high, places, count, i) == 0;
    sh.ring.give_up(next, started && alone);
    p.place.pending.store(0, std::memory_order_seq_cst);
    if (to != me) {
        h = me;
        // SYNC POINT WRITE: after give_up; READ by senders' scans (the place stops gating).
        p.place.holder.compare_exchange_strong(h, to, std::memory_order_seq_cst);
    }
    return true;
}

/// Where the endpoints of a broadcast mailbox sleep; closing wakes nobody (the other side does
/// not end when one endpoint goes).
template <class Role>
struct broadcast_bells {
    static doorbell& sleep_bell(auto& sh, std::size_t /*place*/) noexcept { return Role::sleep_on(sh); }
    static void wake_on_close(auto& /*sh*/) noexcept {}
};

/// The one loop of both endpoints: `attempt` (ok, would_block, closed, corrupt) once
/// (non_blocking) or until it does not would_block (blocking), sleeping on `bell` until
/// `ready()` and calling `check()` (system calls: liveness, recovery) about once per liveness
/// interval. A non-blocking verb calls check() too, on a would_block at least a liveness
/// interval after its last one (clock::now is a vDSO call, not a system call).
template <class Wait, class Mode, class Attempt, class Ready, class Check>
errc broadcast_run(Attempt&& attempt, Ready&& ready, Check&& check, doorbell& bell, std::atomic<std::uint32_t>& asleep,
                   clock::time_point deadline, std::chrono::nanoseconds liveness, clock::time_point& next_check) noexcept {
    if constexpr (std::same_as<Mode, blocking>) {
        for (;;) {
            const errc e = attempt();
            if (e != errc::would_block) return e;
            const errc w = wait_until<Wait>(
                bell, asleep, ready,
                [&](bool ask_os) {
                    if (ask_os) check();
                    return errc::ok;
                },
                deadline, liveness);
            if (w != errc::ok) return w;
        }
    } else {
        (void)ready;
        (void)bell;
        (void)asleep;
        (void)deadline;
        errc e = attempt();
        if (e == errc::would_block) {
            const auto now = clock::now();
            if (now >= next_check) {
                next_check = now + liveness;
                check();
                e = attempt();
            }
        }
        return e;
    }
}

template <class Box, mode_policy Mode>
class broadcast_sender;
template <class Box, mode_policy Mode>
class broadcast_receiver;

/// A broadcast mailbox of fixed-size messages `T` with room for N of them; see the top of this
/// file. A handle may be copied and shared between threads; its endpoints keep the segment alive.
template <message T, std::size_t N, ownership_policy Ownership, wait_policy Wait>
class broadcast_mailbox : public queue_handle<broadcast_mailbox<T, N, Ownership, Wait>> {
    using base = queue_handle<broadcast_mailbox>;
    static_assert(std::is_same_v<Ownership, system_owned>,
                  "ipckit::mailbox<T, bounded<N>, broadcast, process_owned>: a process_owned mailbox's owner is its "
                  "only receiver, so a broadcast would reach nobody else. Use system_owned for broadcast (it stays "
                  "until Mailbox::remove), or exclusive delivery for a process_owned mailbox");

public:
    using message_type = T;
    using delivery_type = broadcast;
    using ownership_type = Ownership;
    using wait_type = Wait;
    static constexpr std::size_t capacity = N;
    static constexpr std::size_t max_senders = multi::max;
    /// Receiver places when options::max_receivers is 0; each mailbox says its own through
    /// receiver_places(). (endpoint_core asks for a constant.)
    static constexpr std::size_t max_receivers = default_broadcast_receivers;

    using shared = broadcast_shared<T, N, max_senders>;
    template <mode_policy M>
    using sender_type = broadcast_sender<broadcast_mailbox, M>;
    template <mode_policy M>
    using receiver_type = broadcast_receiver<broadcast_mailbox, M>;
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a mailbox must be standard layout");
    static_assert(alignof(shared) <= header_size,
                  "a message type aligned to more than 256 bytes cannot live after the segment header");

    /// The description and size a segment must match to be this mailbox with `places` receiver
    /// places. The description does not name the places: a program opens the mailbox whatever
    /// its creator chose.
    static segment_layout layout(std::size_t places = default_broadcast_receivers) {
        return {mailbox_description<T>(capacity, broadcast::name, Ownership::name), size_for(places)};
    }

    /// Creates the mailbox `name` with options::max_receivers receiver places (0: 1024). Throws
    /// already_exists, invalid_name, invalid_argument (max_receivers too large), permission_denied,
    /// no_space.
    static broadcast_mailbox create(std::string_view name, const options& opt = {}) {
        const std::size_t places = places_for(opt);
        return explained(name, layout().description, [&] {
            return broadcast_mailbox(
                segment::create<Ownership>(name, layout(places), opt, [places](void* body) { init(body, places); }),
                opt);
        });
    }
    /// Opens the existing mailbox `name`, whatever number of receiver places it was created
    /// with. Throws not_found, incompatible_layout (saying which policy or type differs), corrupt.
    static broadcast_mailbox open(std::string_view name, const options& opt = {}) {
        return explained(name, layout().description, [&] { return attach(name, opt); });
    }
    /// Opens `name`, or creates it if there is none (exactly one of racing processes creates).
    static broadcast_mailbox open_or_create(std::string_view name, const options& opt = {}) {
        return create_or_open([&] { return create(name, opt); }, [&] { return open(name, opt); });
    }
    /// Removes the mailbox `name`: from now on its senders get closed, its receivers get what
    /// was accepted and then closed, blocked ones wake, and the name is free. False if none.
    static bool remove(std::string_view name, const options& opt = {}) {
        return remove_mailbox(name, [&] { return open(name, opt); });
    }

    /// Attaches a sender. Throws sender_busy while 64 live senders are attached.
    template <mode_policy M = blocking>
    [[nodiscard]] sender_type<M> sender() const {
        try {
            return sender_type<M>(this->segment_, this->options_);
        } catch (const error& e) {
            if (e.reason() != errc::sender_busy) throw;
            throw error(e.reason(), "mailbox '" + this->name() + "' already has " + std::to_string(max_senders) +
                                        " live senders. Close one first (a sender that has died is replaced by "
                                        "the next one)");
        }
    }
    /// Attaches a receiver, which gets every message sent from now on (or, if no other receiver
    /// is attached, every message no receiver has read yet). Throws receiver_busy while every
    /// receiver place holds a live receiver.
    template <mode_policy M = blocking>
    [[nodiscard]] receiver_type<M> receiver() const {
        return receiver_type<M>(this->segment_, this->options_);
    }

    /// How many receivers may be attached at once: options::max_receivers at creation.
    [[nodiscard]] std::size_t receiver_places() const noexcept { return places_in(this->segment_->size()); }
    /// Receivers attached now (a dead one counts until it is noticed): a snapshot.
    [[nodiscard]] std::size_t receivers() const noexcept {
        auto& ring = shared_mut().ring;
        return ring.held_places(ring.high, places_of(shared_mut()), receiver_places());
    }
    /// How much is waiting now (every kind's depth()), here messages: those the slowest attached
    /// receiver has not read yet, or, with none attached, those kept for the next one. A
    /// snapshot, as `ipckit inspect` shows it; each lag is capped at the capacity.
    [[nodiscard]] std::size_t depth() const noexcept {
        auto& sh = shared_mut();
        const broadcast_place* place = places_of(sh);
        const auto high = static_cast<std::size_t>(
            std::min<std::uint64_t>(sh.ring.high.load(std::memory_order_acquire), receiver_places()));
        std::optional<std::uint64_t> slowest;
        for (std::size_t i = 0; i < high; ++i) {
            // Started places only (pending 1): an attach under way has a placeholder cursor.
            if (!holds(place[i].place.holder.load(std::memory_order_acquire)) ||
                place[i].place.pending.load(std::memory_order_acquire) != 1)
                continue;
            // The cursor before the tail, which it never passes.
            const std::uint64_t next = place[i].next.load(std::memory_order_acquire);
            const std::uint64_t tail = sh.ring.tail.load(std::memory_order_acquire);
            slowest = std::max(slowest.value_or(0), tail - std::min(next, tail));
        }
        const std::uint64_t tail = sh.ring.tail.load(std::memory_order_acquire);
        const std::uint64_t kept_from = sh.ring.base.load(std::memory_order_acquire);
        return static_cast<std::size_t>(
            std::min<std::uint64_t>(slowest ? *slowest : tail - std::min(kept_from, tail), capacity));
    }
    /// Whether the mailbox still takes messages (not removed).
    [[nodiscard]] bool is_open() const noexcept { return shared_mut().control.is_open(); }
    /// Marks this mailbox removed without removing its name (remove() does both).
    void mark_removed() const noexcept { detail::mark_removed(shared_mut()); }

    /// Bytes of shared memory the segment of a mailbox with `places` receiver places takes.
    static constexpr std::size_t size_for(std::size_t places) noexcept {
        return header_size + shared::table_offset + places * sizeof(broadcast_place);
    }
    /// The receiver places a mapping of `size` bytes holds (0 if it is no such size).
    static constexpr std::size_t places_in(std::size_t size) noexcept {
        if (size < size_for(1)) return 0;
        const std::size_t rest = size - size_for(0);
        return rest % sizeof(broadcast_place) == 0 ? rest / sizeof(broadcast_place) : 0;
    }

private:
    friend base;
    broadcast_mailbox(segment&& s, const options& opt) : base(std::move(s), opt) {
        const std::size_t places = places_in(this->segment_->size());
        if (places == 0 || shared_mut().places != places)
            throw error(errc::corrupt, "mailbox '" + this->name() + "' has a receiver table of " +
                                           std::to_string(shared_mut().places) + " places in a segment of " +
                                           std::to_string(this->segment_->size()) +
                                           " bytes: it was truncated or overwritten. Remove it with "
                                           "Mailbox::remove(\"" + this->name() + "\") and create it again");
    }

    static std::size_t places_for(const options& opt) {
        const std::size_t places = opt.max_receivers == 0 ? default_broadcast_receivers : opt.max_receivers;
        if (places > max_broadcast_receivers)
            throw error(errc::invalid_argument,
                        "options::max_receivers is " + std::to_string(places) + ", more than the " +
                            std::to_string(max_broadcast_receivers) +
                            " receiver places a broadcast mailbox can have. Ask for fewer");
        return places;
    }

    static void init(void* body, std::size_t places) {
        auto* sh = ::new (body) shared;
        sh->places = places;
        auto* table = reinterpret_cast<broadcast_place*>(static_cast<char*>(body) + shared::table_offset);
        for (std::size_t i = 0; i < places; ++i) ::new (static_cast<void*>(table + i)) broadcast_place;
    }

    /// Opens `name` at the size its creator gave it: the number of receiver places is not in the
    /// description, so it is read from the object's size (and checked against the body).
    static broadcast_mailbox attach(std::string_view name, const options& opt) {
        validate_name(name);
        std::size_t places = default_broadcast_receivers;
        try {
            const sys::file f = sys::shm_open_existing(os_name(name));
            const auto deadline = clock::now() + opt.init_timeout;
            auto size = static_cast<std::size_t>(f.status("mailbox").st_size);
            // Its creator sizes it right after creating it (segment::open waits likewise).
            while (size < header_size && clock::now() < deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                size = static_cast<std::size_t>(f.status("mailbox").st_size);
            }
            if (const std::size_t p = places_in(size); p != 0) places = p;
        } catch (const error&) {
            // segment::open below says what is wrong (not_found, permission_denied...).
        }
        return broadcast_mailbox(segment::open(name, layout(places), opt), opt);
    }

    shared& shared_mut() const noexcept { return *static_cast<shared*>(this->segment_->body()); }
};

/// The sending end of a broadcast mailbox. Blocking: send waits while the slowest receiver is N
/// messages behind (a deadline or timeout may follow the message). Non-blocking: send returns
/// would_block at once then. Either returns closed once the mailbox is removed; a message that
/// send accepted (ok) reaches every receiver attached when it was sent. Restricted thread-safe:
/// one thread at a time.
template <class Box, mode_policy Mode>
class broadcast_sender : public endpoint_core<Box, producer_role, broadcast_bells<producer_role>>,
                         public send_verbs<broadcast_sender<Box, Mode>, typename Box::message_type, Mode> {
    using core = endpoint_core<Box, producer_role, broadcast_bells<producer_role>>;
    using T = typename Box::message_type;
    using verbs = send_verbs<broadcast_sender, T, Mode>;
    using shared = typename Box::shared;

public:
    broadcast_sender(broadcast_sender&& o) noexcept
        : core(std::move(o)), places_(o.places_), cursor_(o.cursor_), next_check_(o.next_check_) {}
    broadcast_sender& operator=(broadcast_sender&& o) noexcept {
        core::operator=(std::move(o));
        places_ = o.places_;
        cursor_ = o.cursor_;
        next_check_ = o.next_check_;
        return *this;
    }

    /// send(m), send(m, deadline) (send_verbs): sends a copy of `m` to every attached receiver:
    /// ok, or closed (removed: not sent), corrupt. Blocking: waits for room, or timed_out (not
    /// sent). Non-blocking: would_block when the slowest receiver is N behind.
    using verbs::send;

private:
    friend Box;
    friend verbs;
    using core::peer;  // a queue's notion; a mailbox's peers come and go freely

    broadcast_sender(std::shared_ptr<segment> seg, const options& opt) : core(std::move(seg), opt) {
        const std::size_t places = Box::places_in(this->segment_->size());
        places_ = places_of(sh());
        cursor_.attach(sh().ring, places_, places, sh().senders.places[this->place_].pending);
        next_check_ = clock::now() + this->liveness_;
    }

    shared& sh() const noexcept { return *this->shared_; }

    errc send_until(const T& m, clock::time_point deadline) noexcept {
        if (this->shared_ == nullptr) return errc::closed;
        return broadcast_run<typename Box::wait_type, Mode>(
            [&] { return attempt(m); }, [this] { return cursor_.has_room() || !sh().control.is_open(); },
            [this] { check(); }, sh().space_bell, this->asleep(), deadline, this->liveness_, next_check_);
    }

    errc attempt(const T& m) noexcept {
        if (!sh().control.is_open()) return errc::closed;
        ring_ticket<T> t;
        const errc e = cursor_.try_claim(t);
        if (e != errc::ok) return e;
        // The claim (tail) before the second look at the state, with the light half of the
        // asymmetric fence between: either the closer's heavy half makes our claim visible to
        // the receivers that read the tail after the final state, or we see the state closing
        // and withdraw the claim (mailbox_control). Nothing accepted is ever left behind.
        sys::light_fence(this->light_fence_);
        if (sh().control.state.load(std::memory_order_relaxed) != mailbox_control::open) {
            cursor_.abandon(t);  // a tombstone the receivers skip
            sh().data_bell.notify(this->light_fence_);
            return errc::closed;
        }
        std::memcpy(static_cast<void*>(t.slot), &m, sizeof(T));
        cursor_.commit(t);
        sh().data_bell.notify(this->light_fence_);
        return errc::ok;
    }

    /// System calls, about once per liveness interval while the ring is full: gives up the place
    /// of each receiver that holds senders back and whose process has died.
    void check() noexcept {
        cursor_.for_each_laggard([this](std::size_t i, std::uint64_t holder) {
            if (sys::is_alive(sys::process_id::unpack(holder))) return;
            // False: someone else gave it up, or took it over.
            (void)give_up_dead_place(sh(), places_, Box::places_in(this->segment_->size()), i, holder,
                                     this->me_.pack(), roster_place::closed);
        });
    }

    broadcast_place* places_ = nullptr;
    broadcast_producer<T, Box::capacity> cursor_;
    clock::time_point next_check_{};
};

/// The receiving end of a broadcast mailbox: gets every message sent while it is attached, in
/// order. Blocking: receive waits for the next one (a deadline or timeout may be given).
/// Non-blocking: receive returns would_block at once when there is nothing new. Either returns
/// closed only once the mailbox is removed and every message it accepted has been received.
/// Closing (close() or destruction) stops holding senders back. Restricted thread-safe: one
/// thread at a time.
template <class Box, mode_policy Mode>
class broadcast_receiver : public receive_verbs<broadcast_receiver<Box, Mode>, typename Box::message_type, Mode> {
    using T = typename Box::message_type;
    using verbs = receive_verbs<broadcast_receiver, T, Mode>;
    using shared = typename Box::shared;
    using consumer = broadcast_consumer<T, Box::capacity>;

public:
    broadcast_receiver(broadcast_receiver&& o) noexcept
        : segment_(std::move(o.segment_)), shared_(std::exchange(o.shared_, nullptr)), places_(o.places_),
          place_(o.place_), me_(o.me_), light_fence_(o.light_fence_), liveness_(o.liveness_), cursor_(o.cursor_),
          next_check_(o.next_check_) {}
    broadcast_receiver& operator=(broadcast_receiver&& o) noexcept {
        if (this != &o) {
            close();
            segment_ = std::move(o.segment_);
            shared_ = std::exchange(o.shared_, nullptr);
            places_ = o.places_;
            place_ = o.place_;
            me_ = o.me_;
            light_fence_ = o.light_fence_;
            liveness_ = o.liveness_;
            cursor_ = o.cursor_;
            next_check_ = o.next_check_;
        }
        return *this;
    }
    broadcast_receiver(const broadcast_receiver&) = delete;
    broadcast_receiver& operator=(const broadcast_receiver&) = delete;
    ~broadcast_receiver() { close(); }

    /// receive(), receive(deadline), receive(out), receive(out, deadline) (receive_verbs):
    /// receives a copy of the next message. Blocking: waits for one; closed once the mailbox is
    /// removed and drained; timed_out. Non-blocking: would_block when there is nothing new.
    using verbs::receive;

    /// Lets go now, as destruction would: senders are no longer held back by this receiver.
    /// Verbs on a closed receiver return closed. Does nothing in a forked child.
    void close() noexcept {
        if (shared_ == nullptr) return;
        if (sys::this_pid() == me_.pid) {
            // Alone: no other place held, so base becomes where we stopped (see give_up).
            auto& ring = shared_->ring;
            cursor_.leave(ring.held_places(ring.high, places_, Box::places_in(segment_->size()), place_) == 0);
            places_[place_].place.pending.store(0, std::memory_order_seq_cst);  // no longer started
            std::uint64_t mine = me_.pack();
            // SYNC POINT WRITE: after give_up; READ by senders' scans (the place stops gating).
            places_[place_].place.holder.compare_exchange_strong(mine, roster_place::closed, std::memory_order_seq_cst);
            shared_->space_bell.ring();  // senders waiting for us may go on
        }
        shared_ = nullptr;
    }

    /// The name of the mailbox.
    [[nodiscard]] const std::string& name() const noexcept { return segment_->name(); }

private:
    friend Box;
    friend verbs;

    broadcast_receiver(std::shared_ptr<segment> seg, const options& opt)
        : segment_(std::move(seg)), shared_(static_cast<shared*>(segment_->body())), me_(sys::self()),
          light_fence_(sys::register_light_fence()),
          liveness_(std::clamp(opt.liveness_interval, std::chrono::milliseconds(1), std::chrono::milliseconds(3'600'000))) {
        const std::size_t count = Box::places_in(segment_->size());
        places_ = places_of(*shared_);
        auto& ring = shared_->ring;
        // Give up the places of dead receivers first, so that "am I alone?" is answered for the
        // living (and a restarted receiver finds what its dead predecessor had not read).
        const std::size_t high = static_cast<std::size_t>(std::min<std::uint64_t>(ring.high.load(), count));
        for (std::size_t i = 0; i < high; ++i) (void)take_from_dead(i, roster_place::closed);
        const auto place = claim(count);
        if (!place) {
            const std::string box_name = name();
            shared_ = nullptr;
            throw error(errc::receiver_busy,
                        "mailbox '" + box_name + "' already has " + std::to_string(count) +
                            " live receivers, one per receiver place. Close one first, or create the mailbox with "
                            "a larger options::max_receivers (it was created with " + std::to_string(count) + ")");
        }
        place_ = *place;
        forget_sleeper(shared_->data_bell, places_[place_].place.asleep);
        if (!cursor_.attach(ring, places_, count, place_)) {
            const std::string box_name = name();
            close();
            throw error(errc::corrupt,
                        "mailbox '" + box_name + "' has inconsistent indices: remove it and create it again");
        }
        // A sender that went to sleep while our placeholder cursor held it back may go on now.
        shared_->space_bell.ring();
        next_check_ = clock::now() + liveness_;
    }

    /// A place for this process: first one nobody holds, then one whose holder died. Raises the
    /// table's high-water mark before the cursor is stored (senders scan up to it).
    std::optional<std::size_t> claim(std::size_t count) noexcept {
        auto& ring = shared_->ring;
        for (int pass = 0; pass < 2; ++pass) {
            for (std::size_t i = 0; i < count; ++i) {
                auto& holder = places_[i].place.holder;
                std::uint64_t h = holder.load(std::memory_order_acquire);
                bool won = false;
                if (!holds(h)) {
                    // SYNC POINT WRITE: seq_cst, before the high-water mark and the cursor.
                    won = holder.compare_exchange_strong(h, me_.pack(), std::memory_order_seq_cst);
                } else if (pass == 1) {
                    won = take_from_dead(i, me_.pack());
                }
                if (!won) continue;
                broadcast_ring<T, Box::capacity>::raise(ring.high, i + 1);
                return i;
            }
        }
        return std::nullopt;
    }

    /// If place `i` is held by a dead process, gives it up for the dead receiver and leaves its
    /// holder word at `to` (closed, or us: see give_up_dead_place). System calls. Returns
    /// whether it did.
    bool take_from_dead(std::size_t i, std::uint64_t to) noexcept {
        const std::uint64_t h = places_[i].place.holder.load(std::memory_order_acquire);
        if (!holds(h) || h == me_.pack() || sys::is_alive(sys::process_id::unpack(h))) return false;
        return give_up_dead_place(*shared_, places_, Box::places_in(segment_->size()), i, h, me_.pack(), to);
    }

    errc receive_until(T& out, clock::time_point deadline) noexcept {
        if (shared_ == nullptr) return errc::closed;
        return broadcast_run<typename Box::wait_type, Mode>(
            [&] { return attempt(out); }, [this] { return cursor_.has_data() || drained(); }, [this] { check(); },
            shared_->data_bell, places_[place_].place.asleep, deadline, liveness_, next_check_);
    }

    errc attempt(T& out) noexcept {
        const errc e = cursor_.try_pop(out);
        if (e == errc::ok) {
            shared_->space_bell.notify(light_fence_);
            return errc::ok;
        }
        if (e == errc::would_block && drained()) return errc::closed;
        return e;
    }

    /// Whether the mailbox is removed and every message it accepted has been read.
    bool drained() noexcept {
        // SYNC POINT READ: the final state (acquire) before the tail; paired with the closer's
        // heavy fence and a sender's claim, light fence and second look (mailbox_control).
        if (!shared_->control.closed_for_good()) return false;
        return cursor_.caught_up();
    }

    /// System calls, about once per liveness interval while nothing new is readable: skips a
    /// slot that a dead sender claimed and never published.
    void check() noexcept {
        cursor_.recover([this](std::uint64_t p) { return shared_->senders.live_claimant(p); });
    }

    std::shared_ptr<segment> segment_;
    shared* shared_;
    broadcast_place* places_ = nullptr;
    std::size_t place_ = 0;
    sys::process_id me_;
    bool light_fence_;
    std::chrono::nanoseconds liveness_;
    consumer cursor_;
    clock::time_point next_check_{};
};

}  // namespace ipckit::detail
