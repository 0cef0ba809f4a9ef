#pragma once
// What a broadcast mailbox holds in shared memory after its segment header (its receiver table
// last), where an inspector finds each part and what it reads there, and how a receiver's table
// place is given up: for a dead holder, or by a receiver that closes.

#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/description.hpp>
#include <ipckit/detail/ring/broadcast.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment_info.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace ipckit::detail {

/// Receiver places of a broadcast mailbox created with broadcast_options::max_receivers = 0.
inline constexpr std::size_t default_broadcast_receivers = 1024;
/// The most receiver places a broadcast mailbox may have (256 MiB of table).
inline constexpr std::size_t max_broadcast_receivers = std::size_t{1} << 20;

/// What lives in a broadcast mailbox's segment after the header.
///   control        state (open / closed), unused owner and turn (detail/mailbox/control.hpp)
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

/// Gives up table place `i` of `places[0..count)` for its holder `holder` on behalf of `me`:
/// for a dead process (holder != me), or for this receiver itself when it closes (holder == me,
/// its cursor put back to its own count first: broadcast_consumer::settle).
/// Takes the place (so that it keeps gating meanwhile), takes the holder off the data bell's
/// sleepers, moves base for its cursor if the place is started (ring.give_up: base becomes where
/// it stopped if no other started place is held, else is raised to it; an unstarted place, an
/// attach not finished, leaves base as it is), clears its started flag, and leaves the holder
/// word at `to` (closed, or `me` to keep it), its cursor at 0. Returns false if the place was no
/// longer `holder`'s.
/// System calls: none (the caller asked whether `holder` lives). Killed half-way, the place
/// stays held by `me`, dead in turn: whoever finds it next does the same again, which moves base
/// only to the same cursor (still started) or not at all (its flag already cleared).
template <class Shared>
bool give_up_place(Shared& sh, broadcast_place* places, std::size_t count, std::size_t i, std::uint64_t holder,
                        std::uint64_t me, std::uint64_t to) noexcept {
    auto& p = places[i];
    std::uint64_t h = holder;
    // SYNC POINT WRITE/READ: seq_cst; from here the place is ours and still gates.
    if (!p.place.holder.compare_exchange_strong(h, me, std::memory_order_seq_cst)) return false;
    forget_sleeper(sh.data_bell, p.place.asleep);
    const bool started = p.place.pending.load(std::memory_order_seq_cst) == 1;
    const std::uint64_t next = p.taken_to();  // the holder's; nobody moves it now
    if (started) {
        // Only started places count as receivers that stay: one in its attach (alive or killed
        // there) gates at base at most, so it keeps what this one leaves in base, and it moves
        // base for nobody when it goes. Counting it would leave base where a faster receiver
        // left it, and the next lone receiver would lose what this one had not read.
        const bool last = sh.ring.started_places(sh.ring.high, places, count, i) == 0;
        sh.ring.give_up(next, last);
    }
    // SYNC POINT WRITE: after give_up; READ by senders' scans, which from here gate this place
    // at base at most (and read base after this flag), and by leavers' started_places.
    p.place.pending.store(0, std::memory_order_seq_cst);
    // SYNC POINT WRITE: before the holder word; READ by senders' scans. The place's next holder
    // counts as held from its claim, before it stores its own cursor (attach): a sender's scan
    // in between must not read this one, which may be past base (base moves back when the last
    // started receiver leaves) and would let it overwrite what is kept for the next receiver. 0
    // holds senders back instead, for that moment (the place is unstarted as well, so base
    // would too).
    p.next.store(0, std::memory_order_seq_cst);
    p.viewing.store(0, std::memory_order_seq_cst);
    if (to != me) {
        h = me;
        // SYNC POINT WRITE: after give_up; READ by senders' scans (the place stops gating).
        p.place.holder.compare_exchange_strong(h, to, std::memory_order_seq_cst);
    }
    return true;
}

/// If table place `i` is held by a dead process, gives it up for the dead receiver on behalf of
/// `me` and leaves its holder word at `to` (closed, or `me`). System calls. Returns whether it did.
template <class Shared>
bool give_up_if_dead(Shared& sh, broadcast_place* places, std::size_t count, std::size_t i, std::uint64_t me,
                     std::uint64_t to) noexcept {
    const std::uint64_t h = places[i].place.holder.load(std::memory_order_acquire);
    if (!holds(h) || h == me || sys::is_alive(sys::process_id::unpack(h))) return false;
    return give_up_place(sh, places, count, i, h, me, to);
}

/// Gives up the place of every dead receiver among `places[0..min(high, count))` on behalf of
/// `me`, the one furthest behind last, so that it is the one that sets base if no live receiver
/// stays: the next lone receiver then gets what none of them had read. One pass: a dead started
/// place is kept held while it is the furthest behind found so far, and every other dead place
/// is given up meanwhile (which only raises base, one started place being held). System calls,
/// one per place held. Returns whether it gave any up.
template <class Shared>
bool give_up_dead_places(Shared& sh, broadcast_place* places, std::size_t count, std::uint64_t me) noexcept {
    const auto high = static_cast<std::size_t>(std::min<std::uint64_t>(sh.ring.high.load(), count));
    bool freed = false;
    const auto give_up = [&](std::size_t i, std::uint64_t holder) {
        if (give_up_place(sh, places, count, i, holder, me, roster_place::closed)) freed = true;
    };
    std::optional<std::size_t> slowest;  // a dead started place, still held: the furthest behind so far
    std::uint64_t slowest_holder = 0;
    for (std::size_t i = 0; i < high; ++i) {
        const std::uint64_t h = places[i].place.holder.load(std::memory_order_acquire);
        if (!holds(h) || h == me || sys::is_alive(sys::process_id::unpack(h))) continue;
        // Dead: nobody moves its cursor or its flag but whoever gives it up.
        if (places[i].place.pending.load(std::memory_order_acquire) != 1) {
            give_up(i, h);  // unstarted: moves no base
        } else if (!slowest) {
            slowest = i;
            slowest_holder = h;
        } else if (places[i].taken_to() < places[*slowest].taken_to()) {
            give_up(*slowest, slowest_holder);  // raises base: this one is started and held
            slowest = i;
            slowest_holder = h;
        } else {
            give_up(i, h);  // raises base: the slowest is started and held
        }
    }
    if (slowest) give_up(*slowest, slowest_holder);
    return freed;
}

}  // namespace ipckit::detail
