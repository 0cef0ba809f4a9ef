#pragma once
// Every mailbox's control block, and how a mailbox closes: the state word (open, closed, owner
// gone) at the start of its shared part, the close protocol that loses no accepted message,
// both halves of it (a sender's publish, a receiver's "closed and drained"), and what closing
// wakes. The semantics are written down at the top of <ipckit/mailbox.hpp>.

#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>
#include <ipckit/segment_info.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace ipckit::detail {

/// The first cache line of every mailbox's shared part.
///
///   0   state   open (0) -> closed (1) by Mailbox::close or Mailbox::remove, or -> owner_gone (2)
///               when the owner of a process_owned mailbox lets go or dies, each through its
///               `closing` form (the value | closing); never back to open
///   8   owner   packed process id of a process_owned mailbox's owner (its creator); 0 otherwise
///   16  turn    round_robin: (passes << 32) | the receivers' roster place whose turn it is
///
/// Closing without losing a message, and without a fence per send. A sender claims its slot,
/// issues the light half of the asymmetric fence (sys/cpu.hpp) and looks at the state once more:
/// not open, and it withdraws the claim (a tombstone) and returns closed. The closer stores
/// `why | closing`, issues the heavy half (a membarrier: a full barrier on every CPU running a
/// sender), and only then stores `why`. A receiver concludes "closed and drained" only from a
/// final state, read before the tail: so either the sender saw `closing` and withdrew, or its
/// claim was visible before the membarrier returned, hence to the receiver that reads the tail
/// after the final state. A closer killed between its two stores leaves `closing`, which the
/// first receiver to see it finishes (its own membarrier first).
struct mailbox_control {
    enum : std::uint32_t { open = 0, closed = 1, owner_gone = 2, closing = 0x100 };

    alignas(cache_line) std::atomic<std::uint32_t> state{open};
    std::atomic<std::uint64_t> owner{0};
    std::atomic<std::uint64_t> turn{0};

    /// Whether the mailbox still takes messages. A load: the data path may ask on every call.
    [[nodiscard]] bool is_open() const noexcept { return state.load(std::memory_order_acquire) == open; }

    /// Moves the state from open to `why` (through its closing form); false if it had already
    /// left open.
    bool close_as(std::uint32_t why) noexcept {
        std::uint32_t expected = open;
        // SYNC POINT WRITE: the closing form, then the heavy fence; READ by a sender's second
        // look at the state after its claim and light fence (publish_unless_closed).
        if (!state.compare_exchange_strong(expected, why | closing, std::memory_order_seq_cst)) return false;
        finish_closing(why | closing);
        return true;
    }

    /// For a receiver: whether the mailbox has left open for good, so that no sender can publish
    /// a message it accepted any more, and "nothing left to read" means drained. Finishes a
    /// closing whose closer stopped between its two stores.
    [[nodiscard]] bool closed_for_good() noexcept {
        const std::uint32_t s = state.load(std::memory_order_acquire);
        if (s == open) return false;
        if ((s & closing) != 0) finish_closing(s);
        return true;
    }

private:
    void finish_closing(std::uint32_t seen) noexcept {
        sys::heavy_fence();
        // Only closed and owner_gone are ever closing: any other reason (a scribbled word, open
        // among them) finishes as closed, never back to open.
        const std::uint32_t why = seen & ~std::uint32_t{closing};
        // SYNC POINT WRITE: the final state, after the heavy fence; READ by closed_for_good()
        // (acquire) before the tail. A failed CAS: another process finished it.
        state.compare_exchange_strong(seen, why == owner_gone ? owner_gone : closed, std::memory_order_seq_cst);
    }
};
static_assert(std::is_standard_layout_v<mailbox_control> && sizeof(mailbox_control) == cache_line);

/// A sender's half of the protocol above, for a ring cursor with try_claim / abandon / commit:
/// claims into `t`, by `claim()` (the next slot, or a run of them), and returns ok (the caller
/// writes it in place and commits it, or abandons it), or closed (nothing claimed) or what the
/// claim said (would_block, corrupt). A claim withdrawn because the mailbox closed wakes the
/// receivers sleeping on `data_bell`. No system call: the light fence is a compiler barrier
/// where membarrier works. What a send, a batch of records and a loan (zero copy) start with.
template <class Cursor, class Slot, class Claim>
[[gnu::always_inline]] inline errc claim_unless_closed(mailbox_control& control, doorbell& data_bell, Cursor& cursor,
                                                          ring_ticket<Slot>& t, bool light_fence, Claim&& claim) noexcept {
    if (!control.is_open()) return errc::closed;
    const errc e = claim();
    if (e != errc::ok) return e;
    // The claim (tail) before the second look at the state, with the light half of the
    // asymmetric fence between: either the closer's heavy half makes our claim visible to the
    // receivers that read the tail after the final state, or we see the state closing and
    // withdraw the claim. Nothing accepted is ever left behind.
    sys::light_fence(light_fence);
    // SYNC POINT READ: the closer's `why | closing` (mailbox_control::close_as).
    if (control.state.load(std::memory_order_relaxed) != mailbox_control::open) {
        cursor.abandon(t);  // tombstones the receivers skip
        data_bell.notify(light_fence);
        return errc::closed;
    }
    return errc::ok;
}

/// claim_unless_closed of the next slot.
template <class Cursor, class Slot>
[[gnu::always_inline]] inline errc claim_unless_closed(mailbox_control& control, doorbell& data_bell, Cursor& cursor,
                                                          ring_ticket<Slot>& t, bool light_fence) noexcept {
    return claim_unless_closed(control, data_bell, cursor, t, light_fence, [&cursor, &t] { return cursor.try_claim(t); });
}

/// A sender's whole send: claims a slot as claim_unless_closed does, lets `write(slot)` fill it
/// in place, publishes it and wakes the receivers sleeping on `data_bell`: ok, or closed
/// (nothing sent), would_block, corrupt. Always inlined: it is a sender's whole fast path, which
/// GCC 12 otherwise left as a call of its own in the benchmark's send loop (about a tenth of the
/// 8 B stream rate).
template <class Slot, class Cursor, class Write>
[[gnu::always_inline]] inline errc publish_unless_closed(mailbox_control& control, doorbell& data_bell, Cursor& cursor,
                                                            Write&& write, bool light_fence) noexcept {
    ring_ticket<Slot> t;
    const errc e = claim_unless_closed(control, data_bell, cursor, t, light_fence);
    if (e != errc::ok) return e;
    write(*t.slot);
    cursor.commit(t);
    data_bell.notify(light_fence);
    return errc::ok;
}

/// As publish_unless_closed, for a batch, with a cursor that claims runs (try_claim_n / commit_n
/// / abandon_n): sends copies of as many of the n (> 0) messages at `src` as fit now, under one
/// claim and one second look at the state (ok, `pushed` says how many, at least one), or returns
/// closed (nothing sent: a claimed run is abandoned whole) or what try_claim_n said. One wake-up.
template <class Cursor, class T>
[[gnu::always_inline]] inline errc publish_n_unless_closed(mailbox_control& control, doorbell& data_bell, Cursor& cursor,
                                                              const T* src, std::size_t n, std::size_t& pushed,
                                                              bool light_fence) noexcept {
    pushed = 0;
    if (!control.is_open()) return errc::closed;
    ring_run run;
    const errc e = cursor.try_claim_n(n, run);
    if (e != errc::ok) return e;
    // As publish_unless_closed: the claim of the whole run before the second look.
    sys::light_fence(light_fence);
    // SYNC POINT READ: the closer's `why | closing` (mailbox_control::close_as).
    if (control.state.load(std::memory_order_relaxed) != mailbox_control::open) {
        cursor.abandon_n(run);  // tombstones the receivers skip
        data_bell.notify(light_fence);
        return errc::closed;
    }
    cursor.commit_n(run, src);
    data_bell.notify(light_fence);
    pushed = static_cast<std::size_t>(run.count);
    return errc::ok;
}

/// A receiver's half: whether the mailbox is closed for good and `caught_up()` says this
/// receiver has taken every message claimed so far, so that "nothing to read" means closed.
template <class CaughtUp>
bool closed_and_drained(mailbox_control& control, CaughtUp&& caught_up) noexcept {
    // SYNC POINT READ: the final state (acquire) before the tail that caught_up() reads; paired
    // with the closer's heavy fence and a sender's claim, light fence and second look.
    if (!control.closed_for_good()) return false;
    return caught_up();
}


/// The start of every mailbox's shared part, whatever its delivery (each kind static_asserts
/// that it starts so): what an inspector, or a removal that does not know the mailbox's type,
/// finds there.
struct mailbox_prefix {
    mailbox_control control;
    alignas(cache_line) doorbell data_bell;
    alignas(cache_line) doorbell space_bell;
};
static_assert(std::is_standard_layout_v<mailbox_prefix>);

/// Whether a mailbox's shared part `Shared` starts with a mailbox_prefix.
template <class Shared>
constexpr bool starts_as_mailbox() noexcept {
    return offsetof(Shared, control) == offsetof(mailbox_prefix, control) &&
           offsetof(Shared, data_bell) == offsetof(mailbox_prefix, data_bell) &&
           offsetof(Shared, space_bell) == offsetof(mailbox_prefix, space_bell);
}

/// For an inspector: the state and owner a mailbox's control block says (body `v`). Throws
/// inspect_fault for a state no mailbox has.
inline void inspect_mailbox_control(const body_view& v, segment_info& out) {
    const auto& c = v.at<mailbox_prefix>(0, "control block")->control;
    const std::uint32_t state = c.state.load(std::memory_order_acquire);
    const std::uint32_t why = state & ~std::uint32_t{mailbox_control::closing};
    if (why > mailbox_control::owner_gone || (why == mailbox_control::open && state != why))
        throw inspect_fault("has an invalid mailbox state word (" + std::to_string(state) + "): it was overwritten");
    out.mailbox_state = why == mailbox_control::open     ? "open"
                        : why == mailbox_control::closed ? "closed"
                                                         : "owner_gone";
    if (state != why) out.mailbox_state += " (closing)";
    if (const std::uint64_t owner = c.owner.load(std::memory_order_acquire); owner > roster_place::closed)
        out.owner_pid = sys::process_id::unpack(owner).pid;
}


/// Wakes everyone who may be waiting on a mailbox, after its state left open.
template <class Shared>
void wake_everyone(Shared& sh) noexcept {
    sh.data_bell.ring();
    sh.space_bell.ring();
}

/// Closes the mailbox behind `sh` as `why` (unless it was closed already) and wakes every
/// sleeper on it, even when it was: a closer killed before it rang woke nobody (a close is rare,
/// a ring cheap).
template <class Shared>
void close_and_wake(Shared& sh, std::uint32_t why) noexcept {
    (void)sh.control.close_as(why);
    wake_everyone(sh);
}

/// What the owner of a process_owned mailbox does when its process lets go of the last handle
/// or endpoint of it (segment::at_last_release): the mailbox is gone, its state becomes
/// owner_gone, senders get closed from then on, and blocked ones wake. Then the name goes.
template <class Shared>
void owner_gone(void* body) noexcept {
    close_and_wake(*static_cast<Shared*>(body), mailbox_control::owner_gone);
}

/// Mailbox::close(): closes the mailbox behind `sh` and wakes every sleeper on it.
/// Mailbox::remove does this first, then removes the name.
template <class Shared>
void close_mailbox(Shared& sh) noexcept {
    close_and_wake(sh, mailbox_control::closed);
}
}  // namespace ipckit::detail
