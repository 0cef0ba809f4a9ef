#pragma once
// What the handle of every mailbox has, whatever its delivery: a queue's handle (by name,
// endpoints attached from it) whose close() and remove() follow the mailbox close protocol
// (control.hpp, remove.hpp), whose is_open() reads the control block, and whose refusals of one
// more endpoint say what the mailbox allows.

#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/remove.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// The handle of a mailbox kind `Box` (CRTP): a queue_handle, plus Box::open(name) (which
/// remove() uses) and the kind_constants.
template <class Box>
class mailbox_handle : public queue_handle<Box> {
public:
    /// Closes the mailbox `name` (close()) and removes its name, which is free from then on.
    /// False if there was none. Throws invalid_name, incompatible_layout (another kind of segment
    /// has the name: remove it with ipckit::remove_segment), permission_denied.
    static bool remove(std::string_view name) {
        return remove_mailbox(name, [&] { Box::open(name).close_and_unname(); });
    }

    /// Whether the mailbox still takes messages (not closed or removed, and a process_owned
    /// one's owner not gone). process_owned: asks the OS whether the owner lives, since an owner
    /// that died said nothing (the senders mark it gone when they next look).
    [[nodiscard]] bool is_open() const noexcept {
        if (!control().is_open()) return false;
        if constexpr (std::is_same_v<typename Box::ownership_type, process_owned>) {
            const std::uint64_t owner = control().owner.load(std::memory_order_acquire);
            return owner == 0 || sys::is_alive(sys::process_id::unpack(owner));
        }
        return true;
    }

    /// Closes the mailbox as a whole, for every process: from now on every send returns closed
    /// (nothing more is accepted), each receiver gets every message it accepted and then closed,
    /// and blocked endpoints wake. The name stays until remove(). Never undone; does nothing if it
    /// is closed already.
    void close() const noexcept { close_mailbox(this->shared_mut()); }

protected:
    using queue_handle<Box>::queue_handle;

    [[nodiscard]] mailbox_control& control() const noexcept { return this->shared_mut().control; }

    /// Attaches an endpoint of type Endpoint; where the mailbox has no place left for it
    /// (sender_busy, receiver_busy), says so with `busy_text()`, which tells what it allows.
    template <class Endpoint, class BusyText>
    Endpoint attach(BusyText&& busy_text) const {
        try {
            return Endpoint(this->segment_, this->options_);
        } catch (const error& e) {
            if (e.reason() != errc::sender_busy && e.reason() != errc::receiver_busy) throw;
            throw error(e.reason(), busy_text());
        }
    }
    /// What a mailbox that has all its senders says, whatever its delivery.
    [[nodiscard]] std::string senders_busy() const {
        return "mailbox '" + this->name() + "' already has " + std::to_string(Box::max_senders) +
               " live senders. Close one first (a sender that has died is replaced by the next one)";
    }
};

}  // namespace ipckit::detail
