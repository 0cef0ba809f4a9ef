#pragma once
// Mailboxes of fixed-size messages with delivery exclusive, any or round_robin: Vyukov's ring
// (detail/ring/mpmc.hpp) with up to 64 senders and 1 (exclusive) or 64 receivers, their
// rosters, and the mailbox's control block. The semantics are at the top of <ipckit/mailbox.hpp>;
// the shared layout is in unicast_layout.hpp, the endpoints in unicast_endpoints.hpp.

#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/description.hpp>
#include <ipckit/detail/mailbox/remove.hpp>
#include <ipckit/detail/mailbox/sender.hpp>
#include <ipckit/detail/mailbox/unicast_endpoints.hpp>
#include <ipckit/detail/mailbox/unicast_layout.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <cstddef>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

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
    using sending = unicast_sending<mailbox_queue>;
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
    /// Closes the mailbox `name` (close()) and removes its name, which is free from then on.
    /// False if there was none. Throws invalid_name, incompatible_layout (another kind of segment
    /// has the name: remove it with ipckit::remove_segment), permission_denied.
    static bool remove(std::string_view name) {
        return remove_mailbox(name, [&] { return open(name); });
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
    /// Whether the mailbox still takes messages (not closed or removed, and its owner, if any,
    /// not gone).
    [[nodiscard]] bool is_open() const noexcept { return control().is_open(); }

    /// Closes the mailbox as a whole, for every process: from now on every send returns closed
    /// (nothing more is accepted), receivers get every message it accepted and then closed, and
    /// blocked endpoints wake. The name stays until remove(). Never undone; does nothing if it is
    /// closed already.
    void close() const noexcept { close_mailbox(shared_mut()); }

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

}  // namespace ipckit::detail
