#pragma once
// Mailboxes with delivery exclusive, any or round_robin: Vyukov's ring (detail/ring/mpmc.hpp)
// with up to 64 senders and 1 (exclusive) or 64 receivers, their rosters, and the mailbox's
// control block. The semantics are at the top of <ipckit/mailbox.hpp>; the shared layout is in
// unicast_layout.hpp, the endpoints in unicast_endpoints.hpp (fixed-size messages),
// bytes_sender.hpp and unicast_bytes_receiver.hpp (bytes<Max>).
//
// bytes<Max>. The ring's slots are records of Max bytes and a length (detail/ring/record.hpp),
// and bounded<N> counts bytes of storage, as for a queue of bytes<Max>: the mailbox holds
// N / sizeof(record<Max>) messages of any length from 0 to Max, each in a slot of its own, so
// the ring's claim, publish and recovery - and every guarantee and crash rule of the mailbox -
// are those of fixed-size messages.

#include <ipckit/detail/mailbox/bytes_sender.hpp>
#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/description.hpp>
#include <ipckit/detail/mailbox/remove.hpp>
#include <ipckit/detail/mailbox/sender.hpp>
#include <ipckit/detail/mailbox/slots.hpp>
#include <ipckit/detail/mailbox/unicast_bytes_receiver.hpp>
#include <ipckit/detail/mailbox/unicast_endpoints.hpp>
#include <ipckit/detail/mailbox/unicast_layout.hpp>
#include <ipckit/detail/mailbox/handle.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/ring/record.hpp>
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

/// How many receivers a mailbox with delivery exclusive, any or round_robin takes at once.
template <delivery_policy Delivery>
inline constexpr std::size_t unicast_receivers = std::is_same_v<Delivery, exclusive> ? 1 : multi::max;

/// The endpoints of a unicast mailbox of `Message`: those of T, or of bytes<Max> (whose slots
/// are record<Max>, as many as mailbox_slots says: slots.hpp).
template <class Message>
struct unicast_endpoints_of {
    template <class Box>
    using endpoints = endpoint_types<Box, mailbox_sender, mailbox_receiver>;
};
template <std::size_t Max>
struct unicast_endpoints_of<ipckit::bytes<Max>> {
    template <class Box>
    using endpoints = endpoint_types<Box, mailbox_bytes_sender, unicast_bytes_receiver>;
};

/// A mailbox with delivery exclusive, any or round_robin of fixed-size messages T or of
/// bytes<Max>: what ipckit::mailbox<Message, bounded<N>, Delivery, Ownership, Wait> is. See
/// <ipckit/mailbox.hpp>. Its message_type is the ring's slot (T, or record<Max>); its capacity N,
/// in messages for T, in bytes for bytes<Max>.
template <class Message, std::size_t N, delivery_policy Delivery, ownership_policy Ownership, wait_policy Wait>
class mailbox_queue
    : public mailbox_handle<mailbox_queue<Message, N, Delivery, Ownership, Wait>>,
      public kind_constants<mailbox_slot<Message>, Wait, Ownership, N, multi::max, unicast_receivers<Delivery>,
                            mailbox_shared<mailbox_slot<Message>, mailbox_slots<Message, N>, multi::max,
                                           unicast_receivers<Delivery>>>,
      public unicast_endpoints_of<Message>::template endpoints<mailbox_queue<Message, N, Delivery, Ownership, Wait>> {
    static constexpr std::size_t slots = mailbox_slots<Message, N>;
    using base = mailbox_handle<mailbox_queue>;
    static_assert(!std::is_same_v<Delivery, broadcast>, "broadcast mailboxes live in detail/mailbox/broadcast.hpp");

public:
    using typename mailbox_queue::kind_constants::shared;
    using delivery_type = Delivery;
    using sending = unicast_sending<mailbox_queue>;

    /// The description and size a segment must match to be this mailbox.
    static segment_layout layout() {
        return {mailbox_description<Message>(N, Delivery::name, Ownership::name),
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
    // remove(name), is_open(), close(): mailbox_handle.

    /// Attaches a sender. Throws sender_busy while 64 live senders are attached, and
    /// invalid_argument in the owner of a process_owned mailbox (the owner only receives).
    template <mode_policy Mode = blocking>
    [[nodiscard]] auto sender() const {
        if (is_owner())
            throw error(errc::invalid_argument,
                        "mailbox '" + this->name() + "' is process_owned and this process owns it: the owner only "
                        "receives through its mailbox, other processes send to it. Send from another process, or "
                        "make the mailbox system_owned");
        return this->template attach<typename mailbox_queue::template sender_type<Mode>>([this] { return this->senders_busy(); });
    }
    /// Attaches a receiver. Throws receiver_busy while the mailbox has as many live receivers as
    /// it allows (1 for exclusive, 64 otherwise), and invalid_argument for a process_owned mailbox
    /// in any process but its owner.
    template <mode_policy Mode = blocking>
    [[nodiscard]] auto receiver() const {
        if constexpr (std::is_same_v<Ownership, process_owned>) {
            if (!is_owner())
                throw error(errc::invalid_argument,
                            "mailbox '" + this->name() + "' is process_owned: only its owner, process " +
                                std::to_string(sys::process_id::unpack(this->control().owner.load()).pid) +
                                ", receives through it. Send to it from here, or make the mailbox system_owned "
                                "so that any process may receive");
        }
        return this->template attach<typename mailbox_queue::template receiver_type<Mode>>([this] { return receivers_busy(); });
    }

    /// How much is waiting now (every kind's depth()), in the unit the capacity counts:
    /// messages for T; for bytes<Max>, bytes of storage, sizeof(record<Max>) per message waiting
    /// whatever its length. A snapshot, stale as soon as it is returned.
    [[nodiscard]] std::size_t depth() const noexcept {
        constexpr std::size_t unit = is_bytes<Message> ? sizeof(typename mailbox_queue::message_type) : 1;
        return tail_minus_head(this->template shared_part<shared>().ring, slots) * unit;
    }

private:
    friend queue_handle<mailbox_queue>;
    mailbox_queue(segment&& s, const options& opt) : base(std::move(s), opt) {
        if constexpr (std::is_same_v<Ownership, process_owned>) this->segment_->at_last_release(owner_gone<shared>);
    }

    static void init(void* body) {
        auto* sh = ::new (body) shared;
        if constexpr (std::is_same_v<Ownership, process_owned>)
            sh->control.owner.store(sys::self().pack(), std::memory_order_release);
    }


    /// Whether this process owns the (process_owned) mailbox.
    bool is_owner() const {
        if constexpr (std::is_same_v<Ownership, process_owned>)
            return this->control().owner.load(std::memory_order_acquire) == sys::self().pack();
        else
            return false;
    }

    std::string receivers_busy() const {
        if (mailbox_queue::max_receivers == 1)
            return "mailbox '" + this->name() + "' delivers exclusive and already has its one live receiver. Wait "
                   "until it closes or its process ends (the next receiver then takes over, nothing lost), or use "
                   "delivery any or round_robin for several receivers";
        return "mailbox '" + this->name() + "' already has " + std::to_string(mailbox_queue::max_receivers) +
               " live receivers. Close one first";
    }
};

}  // namespace ipckit::detail
