#pragma once
// The offer slots of zero-capacity queues of fixed-size messages (the seed's rendezvous): the
// protocol by which a sender and a receiver meet, the state word it moves, and where the slots
// lie in the segment. The queue is rendezvous.hpp; its endpoints, each side's half of the
// protocol, rendezvous_endpoints.hpp.
//
// There is no buffer: a send returns ok only once a receiver has taken its message, so sender
// and receiver meet. Several senders and receivers pair off one to one: each message goes to
// exactly one receiver.
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
// each sender sleeps on its own slot's bell (rung by its taker's done and by a closing receiver).
// Both sides run the one verb loop (endpoint_core::run_verb, detail/endpoint/core.hpp), the
// sender in its two phases (offered, then taken), so deadlines, liveness checks and lost
// wake-ups are handled as in the other queues.

#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment_info.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>

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
                  rendezvous_layout_holds<std::uint16_t, 64, 2>() && rendezvous_layout_holds<record<13>, 2, 3>(),
              "rendezvous_layout() must say where rendezvous_shared's parts lie, or inspectors misread rendezvous");

/// rendezvous_layout() of the zero-capacity queue described by `d`. For bytes<Max>, each offer
/// slot holds a record<Max>: its length and complement words and Max bytes rounded up.
inline rendezvous_offsets rendezvous_layout(const queue_description& d) noexcept {
    const std::size_t size = d.message.bytes ? offsetof(record<1>, data) + record_capacity(d.message.size) : d.message.size;
    const std::size_t align = d.message.bytes ? alignof(record<1>) : d.message.align;
    return rendezvous_layout(d.producers, d.consumers, size, align);
}

/// For an inspector: the endpoints of a zero-capacity queue described by `d`, whose body is
/// `v`, and its depth: the offers out now, waiting for a receiver. Reads only; throws
/// inspect_fault.
inline void inspect_rendezvous(const body_view& v, const queue_description& d, segment_info& out) {
    const rendezvous_offsets o = rendezvous_layout(d);
    add_roster(v, o.senders, d.producers, "sender", out);
    add_roster(v, o.receivers, d.consumers, "receiver", out);
    (void)v.at<char>(o.offers, "offer slots", o.offer_size * d.producers);
    std::uint64_t offered = 0;
    for (std::size_t i = 0; i < d.producers; ++i)
        offered += offer_state::kind_of(v.word(o.offers + i * o.offer_size, "offer slot")) == offer_state::offered;
    out.depth_messages = offered;
    out.capacity_messages = 0;
}

}  // namespace ipckit::detail
