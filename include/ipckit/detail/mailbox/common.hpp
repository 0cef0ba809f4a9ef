#pragma once
// What every mailbox kind shares, whatever its delivery policy: the control block at the start
// of its shared part (open / removed / owner gone, who owns it, whose turn it is), the layout
// description that names its delivery and ownership policies, the explanation given when a
// program opens a mailbox with other policies, what the owner of a process_owned mailbox does
// when it goes, and the removal protocol. The semantics are written down at the top of
// <ipckit/mailbox.hpp>.

#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace ipckit::detail {

/// The first cache line of every mailbox's shared part.
///
///   0   state   open (0) -> removed (1) by Mailbox::remove, or -> owner_gone (2) when the owner
///               of a process_owned mailbox lets go or dies, each through its `closing` form
///               (the value | closing); never back to open
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
    enum : std::uint32_t { open = 0, removed = 1, owner_gone = 2, closing = 0x100 };

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
        // look at the state after its claim and light fence (mailbox_sender::attempt).
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
        // SYNC POINT WRITE: the final state, after the heavy fence; READ by closed_for_good()
        // (acquire) before the tail. A failed CAS: another process finished it.
        state.compare_exchange_strong(seen, seen & ~std::uint32_t{closing}, std::memory_order_seq_cst);
    }
};
static_assert(std::is_standard_layout_v<mailbox_control> && sizeof(mailbox_control) == cache_line);

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
    out.mailbox_state = why == mailbox_control::open      ? "open"
                        : why == mailbox_control::removed ? "removed"
                                                          : "owner_gone";
    if (state != why) out.mailbox_state += " (closing)";
    if (const std::uint64_t owner = c.owner.load(std::memory_order_acquire); owner > roster_place::closed)
        out.owner_pid = sys::process_id::unpack(owner).pid;
}

/// What mailbox_description() wrote, read back.
struct mailbox_fields {
    message_description message;
    std::string capacity;  ///< "bounded<N>"
    std::uint64_t slots = 0;
    std::string delivery;
    std::string ownership;
};
inline std::optional<mailbox_fields> parse_mailbox_description(std::string_view d) {
    const auto f = description_fields(d, "ipckit::mailbox<", 4);
    if (!f) return std::nullopt;
    const auto message = parse_message_description((*f)[0]);
    std::uint64_t slots = 0;
    if (const auto n = between((*f)[1], "bounded<"))
        if (const auto v = parse_decimal(*n)) slots = *v;
    if (!message || message->bytes || slots == 0) return std::nullopt;
    return mailbox_fields{*message, std::string((*f)[1]), slots, std::string((*f)[2]), std::string((*f)[3])};
}

/// "ipckit::mailbox<T (S B, align A), bounded<N>, delivery, ownership>": what a mailbox's segment
/// must say it holds. The delivery and ownership come last, so that a mismatch can be named.
template <class T>
std::string mailbox_description(std::size_t capacity, std::string_view delivery, std::string_view ownership) {
    std::string d = "ipckit::mailbox<" + describe_message<T>() + ", bounded<" + std::to_string(capacity) + ">, ";
    d += delivery;
    d += ", ";
    d += ownership;
    d += ">";
    return d;
}

/// Turns the segment layer's incompatible_layout into one that says which mailbox policy
/// differs, when the segment holds a mailbox of the same message and capacity. `want` is a
/// mailbox_description(). Returns the error to throw.
inline error explain_mismatch(std::string_view name, const std::string& want, const error& original) {
    std::string held;
    try {
        const sys::file f = sys::shm_open_existing(os_name(name));
        const auto size = static_cast<std::size_t>(f.status("mailbox").st_size);
        if (size < header_size) return original;
        const sys::mapping m(f, header_size, "mailbox '" + std::string(name) + "'");
        const auto& h = *static_cast<const segment_header*>(m.data());
        // The name may name another object by now: its description is read only if it can be trusted.
        if (h.state.load(std::memory_order_acquire) != segment_header::ready || check_header(h, size)) return original;
        held.assign(h.description, std::min<std::size_t>(h.description_length, sizeof h.description));
    } catch (...) {
        return original;
    }
    // Both end in "<delivery>, <ownership>>" after the same message and capacity.
    const auto cut = [](const std::string& d, std::string& delivery, std::string& ownership) {
        const auto last = d.rfind(", ");
        if (last == std::string::npos || d.size() < 2 || d.back() != '>') return std::string::npos;
        const auto before = d.rfind(", ", last - 1);
        if (before == std::string::npos) return std::string::npos;
        delivery = d.substr(before + 2, last - before - 2);
        ownership = d.substr(last + 2, d.size() - last - 3);
        return before;
    };
    std::string want_d, want_o, held_d, held_o;
    const auto want_prefix = cut(want, want_d, want_o);
    const auto held_prefix = cut(held, held_d, held_o);
    if (want_prefix == std::string::npos || held_prefix != want_prefix ||
        held.compare(0, held_prefix, want, 0, want_prefix) != 0)
        return original;
    const std::string what = "mailbox '" + std::string(name) + "' is " + held + ", but this program opens it ";
    if (held_d != want_d)
        return error(errc::incompatible_layout,
                     what + "with delivery policy " + want_d + " (the mailbox's is " + held_d +
                         "). Every process must use the mailbox's own delivery policy: open it as " + held_d +
                         ", or give the new mailbox another name");
    if (held_o != want_o)
        return error(errc::incompatible_layout,
                     what + "as " + want_o + " (the mailbox is " + held_o +
                         "). Every process must use the mailbox's own ownership policy: open it as " + held_o +
                         ", or give the new mailbox another name");
    return original;
}

/// Runs a set-up call of a mailbox, turning an incompatible_layout into one that names the
/// differing policy.
template <class Make>
auto explained(std::string_view name, const std::string& want, Make&& make) {
    try {
        return make();
    } catch (const error& e) {
        if (e.reason() != errc::incompatible_layout) throw;
        throw explain_mismatch(name, want, e);
    }
}

/// Wakes everyone who may be waiting on a mailbox, after its state left open.
template <class Shared>
void wake_everyone(Shared& sh) noexcept {
    sh.data_bell.ring();
    sh.space_bell.ring();
}

/// What the owner of a process_owned mailbox does when its process lets go of the last handle
/// or endpoint of it (segment::at_last_release): the mailbox is gone, its state becomes
/// owner_gone, senders get closed from then on, and blocked ones wake. Then the name goes.
template <class Shared>
void owner_gone(void* body) noexcept {
    auto& sh = *static_cast<Shared*>(body);
    if (sh.control.close_as(mailbox_control::owner_gone)) wake_everyone(sh);
}

/// Marks the mailbox behind `sh` removed (unless it is already closed) and wakes its waiters.
template <class Shared>
void mark_removed(Shared& sh) noexcept {
    if (sh.control.close_as(mailbox_control::removed)) wake_everyone(sh);
}

/// Mailbox::remove(name): opens the mailbox with `open` (a callable returning its handle), marks
/// it removed, then removes its name. A process_owned mailbox whose owner has gone is removed
/// by name alone. Returns false if there was none.
template <class Open>
bool remove_mailbox(std::string_view name, Open&& open) {
    try {
        auto box = open();
        box.mark_removed();
    } catch (const error& e) {
        if (e.reason() != errc::not_found) throw;
    }
    return remove_segment(name);
}

/// Mailbox::remove(name) for a mailbox of whatever type and delivery (an inspector's removal
/// knows neither): marks it removed through its mailbox_prefix, so that its endpoints wake and
/// see closed, then removes its name. A segment `name` that is not a ready mailbox is removed by
/// name alone. False if there was none. Throws invalid_name, permission_denied.
inline bool remove_mailbox_of_any_type(std::string_view name) {
    validate_name(name);
    try {
        const sys::file f = sys::shm_open_existing(os_name(name));
        constexpr std::size_t need = header_size + sizeof(mailbox_prefix);
        const auto size = static_cast<std::size_t>(f.status("mailbox '" + std::string(name) + "'").st_size);
        if (size >= need) {
            const sys::mapping m(f, need, "mailbox '" + std::string(name) + "'");
            const auto h = snapshot_header(*static_cast<const segment_header*>(m.data()), size);
            if (h.valid && parse_mailbox_description(h.description))
                mark_removed(*reinterpret_cast<mailbox_prefix*>(static_cast<char*>(m.data()) + header_size));
        }
    } catch (const error& e) {
        if (e.reason() != errc::not_found) throw;
    }
    return remove_segment(name);
}

}  // namespace ipckit::detail
