#pragma once
// The contract every ring's cursors meet: what the one endpoint loop (detail/endpoint/) needs
// from a producer's or a consumer's place in a ring or chain, whatever the ring does inside.
//
//   attach(ring, ...)      binds the cursor to the ring in shared memory (and to its roster place's
//                          `pending` word, where it lists a claim in progress); false where the
//                          ring's indices cannot be trusted. Its arguments differ per ring (a
//                          broadcast ring also takes its receiver table, a chain the process's id),
//                          so attaches_to names them.
//   has_room / has_data    loads only: whether the next attempt might not would_block. What the
//                          loop sleeps on; never a system call.
//   recover(live_claimant) finishes a claim that a process on the other side made and died
//                          before finishing (live_claimant(pos + 1) says whether a live process
//                          still lists it), so that what lies behind it is not hidden; whether it
//                          finished any. May make system calls: the loop calls it only off the
//                          fast path. A cursor whose peers leave no claims behind returns false.
//   claim / commit / abandon (producers), claim / release (consumers)
//                          work in place on a ring_ticket: try_claim, then commit (publish) or
//                          abandon (a tombstone the consumers skip); a consumer's claim ends in
//                          release. The byte ring claims records of a size rather than slots
//                          (try_loan / commit / abandon, peek / consume / hold / release), and a
//                          chain only pushes and pops whole messages: they meet the loop's part of
//                          the contract (producer_cursor, consumer_cursor), not the slot claim's.
//   try_push_n / try_pop_n (bounded rings of fixed-size messages: batch_producer,
//                          batch_consumer) copy several messages in or out with one index
//                          publication, as many as there are now.
//   take_progress()        (where a ring has it) whether the last attempt did something the
//                          other side may sleep on although it may have returned no message:
//                          tombstones or skip records freed, a wrap marker published. The
//                          endpoint wakes the other side then (progress_made below).
//
// Each ring's header checks its cursors against these concepts, and the endpoints require them,
// so a cursor that drifts from the contract does not compile.

#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/error.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <span>

namespace ipckit::detail {

/// The shape of recover()'s argument: whether a live process lists position pos as claimed,
/// given pos + 1. Declared only, to state the concepts.
struct live_claimant_query {
    bool operator()(std::uint64_t pos_plus_1) const noexcept;
};

/// Whether `c`'s last attempt made progress the other side may sleep on, whatever it returned
/// (its take_progress(), which resets it); false for a cursor whose attempts make none but
/// their messages.
template <class C>
bool progress_made(C& c) noexcept {
    if constexpr (requires { c.take_progress(); })
        return c.take_progress();
    else
        return false;
}

/// What every cursor has: it moves with its endpoint, and recovers dead peers' claims.
template <class C>
concept ring_cursor = std::movable<C> && requires(C& c, live_claimant_query live) {
    { c.recover(live) } noexcept -> std::same_as<bool>;
};

/// A producer's cursor: the loop sleeps until has_room().
template <class C>
concept producer_cursor = ring_cursor<C> && requires(C& c) {
    { c.has_room() } noexcept -> std::same_as<bool>;
};

/// A consumer's cursor: the loop sleeps until has_data().
template <class C>
concept consumer_cursor = ring_cursor<C> && requires(C& c) {
    { c.has_data() } noexcept -> std::same_as<bool>;
};

/// A cursor that attaches to a ring with these arguments (see the top of this file).
template <class C, class... Args>
concept attaches_to = requires(C& c, Args&... args) {
    { c.attach(args...) } noexcept;
};

/// A producer that lends slots of T in place: try_claim, then commit or abandon.
template <class C, class T>
concept claiming_producer = producer_cursor<C> && requires(C& c, ring_ticket<T>& t) {
    { c.try_claim(t) } noexcept -> std::same_as<errc>;
    { c.commit(t) } noexcept;
    { c.abandon(t) } noexcept;
};

/// A consumer that reads slots of T in place: try_claim, then release.
template <class C, class T>
concept claiming_consumer = consumer_cursor<C> && requires(C& c, ring_ticket<const T>& t) {
    { c.try_claim(t) } noexcept -> std::same_as<errc>;
    { c.release(t) } noexcept;
};

/// A claiming consumer whose claim would otherwise live in its process alone, and which marks a
/// claim held across calls (a view) in shared memory: hold(t), once claimed, so that a
/// successor of a consumer killed holding it does not deliver it again (lender::mark_held).
template <class C, class T>
concept view_holding_consumer = claiming_consumer<C, T> && requires(C& c, const ring_ticket<const T>& t) {
    { c.hold(t) } noexcept;
};

/// A claiming producer whose claim would otherwise live in its process alone, and which lists
/// a claim held across calls (a loan) where the consumer looks: hold(t), once claimed, so that
/// a consumer that finds the queue closed waits for the message the loan is writing.
template <class C, class T>
concept loan_holding_producer = claiming_producer<C, T> && requires(C& c, const ring_ticket<T>& t) {
    { c.hold(t) } noexcept;
};

/// A producer that also publishes copies of several messages at once (bounded rings of
/// fixed-size messages): try_push_n(src, n, pushed), n > 0, publishes as many as fit now with one
/// index publication: ok (pushed >= 1), would_block (none) or why not.
template <class C, class T>
concept batch_producer = producer_cursor<C> && requires(C& c, const T* src, std::size_t n, std::size_t& pushed) {
    { c.try_push_n(src, n, pushed) } noexcept -> std::same_as<errc>;
};

/// A consumer that also takes copies of several messages at once: try_pop_n(out, n, popped),
/// n > 0, takes up to n with one index publication: ok (popped >= 1), would_block (none) or why
/// not.
template <class C, class T>
concept batch_consumer = consumer_cursor<C> && requires(C& c, T* out, std::size_t n, std::size_t& popped) {
    { c.try_pop_n(out, n, popped) } noexcept -> std::same_as<errc>;
};

/// Publishes a copy of `m` through a producer that claims slots: claim, copy, commit. ok, or why
/// the claim failed (would_block, corrupt). What every such cursor's try_push is. Always
/// inline: g++ 12 kept it (and pop_copy) out of line for the MPSC ring, a call a message
/// (bench/ipckit_per_message.cpp counts what that cost).
template <class T, class C>
    requires claiming_producer<C, T>
[[gnu::always_inline]] inline errc push_copy(C& cursor, const T& m) noexcept {
    ring_ticket<T> t;
    const errc e = cursor.try_claim(t);
    if (e != errc::ok) return e;
    std::memcpy(static_cast<void*>(t.slot), &m, sizeof(T));
    cursor.commit(t);
    return errc::ok;
}

/// Takes a copy of the next message through a consumer that claims slots: claim, copy, release.
/// ok, or why the claim failed. What a cursor's try_pop is where releasing ends the read (a
/// broadcast receiver checks its copy first, and so has its own).
template <class T, class C>
    requires claiming_consumer<C, T>
[[gnu::always_inline]] inline errc pop_copy(C& cursor, T& out) noexcept {
    ring_ticket<const T> t;
    const errc e = cursor.try_claim(t);
    if (e != errc::ok) return e;
    std::memcpy(static_cast<void*>(&out), t.slot, sizeof(T));
    cursor.release(t);
    return errc::ok;
}

/// Publishes the message `m` (at most Max bytes: the caller checked) through a producer that
/// claims slots of record<Max>: claim, write its bytes and length in place, commit. Only m's own
/// bytes are copied, never the whole slot. ok, or why the claim failed.
template <std::size_t Max, class C>
    requires claiming_producer<C, record<Max>>
errc push_record(C& cursor, std::span<const std::byte> m) noexcept {
    ring_ticket<record<Max>> t;
    const errc e = cursor.try_claim(t);
    if (e != errc::ok) return e;
    write_record(*t.slot, m);
    cursor.commit(t);
    return errc::ok;
}

/// A producer of record<Max> slots that lends runs of them (try_claim_run / slots_of /
/// commit_run, as a loan of several does): a batch of records then costs one claim a run.
template <class C, std::size_t Max>
concept record_run_producer =
    claiming_producer<C, record<Max>> && requires(C& c, ring_ticket<record<Max>>& t, std::size_t n, std::uint64_t m) {
        { c.try_claim_run(n, t) } noexcept -> std::same_as<errc>;
        c.slots_of(t);
        c.commit_run(t, m);
    };

/// Writes the messages from `next` on into the claimed run `t` of record<Max> slots, one a slot,
/// t.count of them (there are at least that many: the run was claimed for them; each at most
/// Max bytes: the caller checked), moving `next` past them. The caller then commits the run.
template <std::size_t Max, class C, class It>
    requires record_run_producer<C, Max>
void write_records(C& cursor, const ring_ticket<record<Max>>& t, It& next) noexcept {
    for (record<Max>& r : cursor.slots_of(t)) {
        write_record(r, *next);
        ++next;
    }
}

/// Publishes the messages from `next` to `end` (at least one; each at most Max bytes: the caller
/// checked) as far as there is room now, a run of slots at a time (one claim for each run: the
/// whole batch, or the part before the ring's wrap and the part after it), moving `next` past
/// what it published and counting it in `pushed`: ok where it published any, else why the first
/// claim failed (would_block, corrupt).
template <std::size_t Max, class C, class It>
    requires record_run_producer<C, Max>
errc push_records(C& cursor, It& next, It end, std::size_t& pushed) noexcept {
    pushed = 0;
    while (next != end) {
        ring_ticket<record<Max>> t;
        if (const errc e = cursor.try_claim_run(static_cast<std::size_t>(std::distance(next, end)), t); e != errc::ok)
            return pushed > 0 ? errc::ok : e;
        write_records<Max>(cursor, t, next);
        cursor.commit_run(t, t.count);
        pushed += static_cast<std::size_t>(t.count);
    }
    return errc::ok;
}

}  // namespace ipckit::detail
