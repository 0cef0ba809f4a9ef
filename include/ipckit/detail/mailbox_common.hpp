#pragma once
// What every mailbox kind shares, whatever its delivery policy: the control block at the start
// of its shared part (open / removed / owner gone, who owns it, whose turn it is), the layout
// description that names its delivery and ownership policies, the explanation given when a
// program opens a mailbox with other policies, the owner's token of a process_owned mailbox,
// and the removal protocol. The semantics are written down at the top of <ipckit/mailbox.hpp>.

#include <ipckit/detail/doorbell.hpp>
#include <ipckit/detail/layout.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

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

/// Names a delivery or ownership policy in a description.
template <class O>
constexpr const char* ownership_name() noexcept {
    return std::is_same_v<O, process_owned> ? "process_owned" : "system_owned";
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
        if (static_cast<std::size_t>(f.status("mailbox").st_size) < header_size) return original;
        const sys::mapping m(f, header_size, "mailbox '" + std::string(name) + "'");
        const auto& h = *static_cast<const segment_header*>(m.data());
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

/// Held by the owner of a process_owned mailbox (its handles and its receivers share one):
/// when the last of them goes in the owner's process, the mailbox is gone: its state becomes
/// owner_gone, senders get closed from then on, and blocked ones wake. A copy inherited by a
/// forked child does nothing there.
template <class Shared>
class mailbox_owner {
public:
    mailbox_owner(std::shared_ptr<segment> seg, Shared* sh) noexcept
        : segment_(std::move(seg)), shared_(sh), pid_(sys::this_pid()) {}
    mailbox_owner(const mailbox_owner&) = delete;
    mailbox_owner& operator=(const mailbox_owner&) = delete;
    ~mailbox_owner() {
        if (sys::this_pid() != pid_) return;
        if (shared_->control.close_as(mailbox_control::owner_gone)) wake_everyone(*shared_);
    }

private:
    std::shared_ptr<segment> segment_;  // the name is removed after the state is marked
    Shared* shared_;
    std::uint32_t pid_;
};

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

}  // namespace ipckit::detail
