#pragma once
// Mailboxes whose every attached receiver gets every message, in order (delivery policy
// broadcast): what ipckit::mailbox<T or bytes<Max>, bounded<N>, broadcast, system_owned, Wait>
// is. The ring is detail/ring/broadcast.hpp; the control block, the removal protocol and the
// layout description are every mailbox's (detail/mailbox/control.hpp, description.hpp,
// remove.hpp); the layout is in broadcast_layout.hpp, the endpoints in broadcast_endpoints.hpp
// (T) and bytes_sender.hpp, broadcast_bytes_receiver.hpp (bytes<Max>).
//
// bytes<Max>. Each message is a record<Max> slot of the same ring (detail/ring/record.hpp), so
// every rule below holds unchanged, counted in slots; bounded<N> counts BYTES, as for a queue of
// bytes<Max>: N / sizeof(record<Max>) slots (slots.hpp; fewer than one does not compile, with
// what to write instead). The description names bytes<Max> and "bounded<N bytes>", so opening
// with another Max or N is incompatible_layout. Zero copy: a loan writes a message once in
// place, and every receiver's view reads those bytes in place; a view, or a message left for a
// bigger buffer (too_large), stays at its receiver's cursor, which gates the senders, so it is
// never overwritten (broadcast_bytes_receiver.hpp says how).
//
// Receivers. Any number may attach, up to the size of the receiver table, chosen when the
// mailbox is created (broadcast_options::max_receivers, 1024 by default; 256 bytes of shared memory each).
// A receiver gets every message sent after it attached, in the order the ring holds them (each
// sender's messages in the order sent). If no other receiver was attached, it starts instead at
// the oldest message no receiver has read: a receiver that restarts finds what was sent while
// nobody listened. For that, the last receiver to leave keeps where it stopped, and a receiver
// still in its attach (or killed there) does not count as one that stays: it holds senders at
// what is kept until it has started, and moves nothing when it goes. A receiver that closes
// stops gating senders at once; one whose process died is given up by a sender that waits for
// it (about once per options::liveness_interval), by the next receiver that attaches, or by one
// that leaves, with every other dead one, the furthest behind last: what the slowest of them
// had not read is what is kept, unless a live receiver stays.
//
// Senders (up to 64 at once). The ring holds N messages. Once the slowest attached receiver is N
// messages behind, a blocking send waits until it reads (or the deadline passes: timed_out, not
// sent), and a non-blocking send returns would_block. With no receiver attached at all, the ring
// keeps the last N unread messages for the next receiver, and senders wait likewise.
//
// Ending. As for every mailbox, neither side ends when the other comes and goes: only close()
// or remove() ends it. From then on sends return closed (a send that had already claimed its slot gives it
// up), and each receiver gets every message accepted before, then closed; blocked ones wake.
//
// process_owned does not compile with broadcast: a process_owned mailbox's owner is its only
// receiver, so there would be nobody to broadcast to.

#include <ipckit/detail/sync/doorbell.hpp>

#include <ipckit/detail/mailbox/broadcast_bytes_receiver.hpp>
#include <ipckit/detail/mailbox/broadcast_endpoints.hpp>
#include <ipckit/detail/mailbox/bytes_sender.hpp>
#include <ipckit/detail/mailbox/broadcast_layout.hpp>
#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/description.hpp>
#include <ipckit/detail/mailbox/remove.hpp>
#include <ipckit/detail/mailbox/sender.hpp>
#include <ipckit/detail/mailbox/slots.hpp>
#include <ipckit/detail/mailbox/handle.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <cstddef>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>

namespace ipckit {

/// Set-up options of a broadcast mailbox: every segment's options, and the size of its receiver
/// table, which only a broadcast mailbox has.
struct broadcast_options : options {
    /// create: how many receivers may be attached at once (256 bytes of shared memory each).
    /// 0: 1024. Opening takes the mailbox's own number.
    std::size_t max_receivers = 0;
};

}  // namespace ipckit

namespace ipckit::detail {

/// Which endpoints a broadcast mailbox of `Message` has: those of fixed-size messages, or of
/// bytes<Max> (send(span), receive(buffer), loan(n), receive_view()).
template <class Box, class Message>
using broadcast_endpoint_types =
    std::conditional_t<is_bytes<Message>, endpoint_types<Box, mailbox_bytes_sender, broadcast_bytes_receiver>,
                       endpoint_types<Box, mailbox_sender, broadcast_receiver>>;

/// A broadcast mailbox of fixed-size messages `T` with room for N of them, or of bytes<Max> in
/// N bytes of record<Max> slots (slots.hpp); see the top of this file. A handle may be copied and
/// shared between threads; its endpoints keep the segment alive. Its ring's slots are its
/// message_type (T, or record<Max>), capacity of them.
template <message_policy Message, std::size_t N, ownership_policy Ownership, wait_policy Wait>
class broadcast_mailbox
    : public mailbox_handle<broadcast_mailbox<Message, N, Ownership, Wait>>,
      public kind_constants<mailbox_slot<Message>, Wait, Ownership, mailbox_slots<Message, N>, multi::max,
                            default_broadcast_receivers,
                            broadcast_shared<mailbox_slot<Message>, mailbox_slots<Message, N>, multi::max>>,
      public broadcast_endpoint_types<broadcast_mailbox<Message, N, Ownership, Wait>, Message> {
    using base = mailbox_handle<broadcast_mailbox>;
    static_assert(std::is_same_v<Ownership, system_owned>,
                  "ipckit::mailbox<T, bounded<N>, broadcast, process_owned>: a process_owned mailbox's owner is its "
                  "only receiver, so a broadcast would reach nobody else. Use system_owned for broadcast (it stays "
                  "until Mailbox::remove), or exclusive delivery for a process_owned mailbox");

public:
    // max_receivers (kind_constants) is the receiver places when broadcast_options::max_receivers
    // is 0; each mailbox says its own through receiver_places(). (endpoint_core asks for a
    // constant.)
    using typename broadcast_mailbox::kind_constants::shared;
    using delivery_type = broadcast;
    using sending = broadcast_sending<broadcast_mailbox>;

    /// The description and size a segment must match to be this mailbox with `places` receiver
    /// places. The description does not name the places: a program opens the mailbox whatever
    /// its creator chose.
    static segment_layout layout(std::size_t places = default_broadcast_receivers) {
        return {mailbox_description<Message>(N, broadcast::name, Ownership::name), size_for(places)};
    }

    /// Creates the mailbox `name` with opt.max_receivers receiver places (0: 1024). Throws
    /// already_exists, invalid_name, invalid_argument (max_receivers too large), permission_denied,
    /// no_space.
    static broadcast_mailbox create(std::string_view name, const broadcast_options& opt = {}) {
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
        // The description does not name the places: the segment is mapped at its own size, which
        // the constructor checks against the table it holds.
        return explained(name, layout().description,
                         [&] { return broadcast_mailbox(segment::open(name, {layout().description, 0}, opt), opt); });
    }
    /// Opens `name`, or creates it if there is none (exactly one of racing processes creates).
    static broadcast_mailbox open_or_create(std::string_view name, const broadcast_options& opt = {}) {
        return create_or_open(name, [&] { return create(name, opt); }, [&] { return open(name, opt); },
                              [&] { return segment::remove_if_abandoned(name, opt); });
    }
    // remove(name), is_open(), close(): mailbox_handle.

    /// Attaches a sender. Throws sender_busy while 64 live senders are attached.
    template <mode_policy M = blocking>
    [[nodiscard]] auto sender() const {
        return this->template attach<typename broadcast_mailbox::template sender_type<M>>([this] { return this->senders_busy(); });
    }
    /// Attaches a receiver, which gets every message sent from now on (or, if no other receiver
    /// is attached, every message no receiver has read yet). Throws receiver_busy while every
    /// receiver place holds a live receiver.
    template <mode_policy M = blocking>
    [[nodiscard]] auto receiver() const {
        return this->template attach<typename broadcast_mailbox::template receiver_type<M>>([this] {
            const std::string count = std::to_string(receiver_places());
            return "mailbox '" + this->name() + "' already has " + count +
                   " live receivers, one per receiver place. Close one first, or create the mailbox with a larger "
                   "broadcast_options::max_receivers (it was created with " + count + ")";
        });
    }

    /// How many receivers may be attached at once: broadcast_options::max_receivers at creation.
    [[nodiscard]] std::size_t receiver_places() const noexcept { return places_in(this->segment_->size()); }
    /// Receivers attached now (a dead one counts until it is noticed): a snapshot.
    [[nodiscard]] std::size_t receivers() const noexcept {
        auto& ring = this->shared_mut().ring;
        return ring.held_places(ring.high, places_of(this->shared_mut()), receiver_places());
    }
    /// How much is waiting now (every kind's depth(), in the unit its capacity counts): the
    /// messages the slowest attached receiver has not read yet, or, with none attached, those
    /// kept for the next one; for bytes<Max>, the bytes of storage their slots take (each
    /// sizeof(record<Max>), whatever its length). A snapshot, as `ipckit inspect` shows it (in
    /// messages); each lag is capped at the capacity.
    [[nodiscard]] std::size_t depth() const noexcept {
        auto& sh = this->shared_mut();
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
        const auto messages = static_cast<std::size_t>(std::min<std::uint64_t>(
            slowest ? *slowest : tail - std::min(kept_from, tail), broadcast_mailbox::capacity));
        return is_bytes<Message> ? messages * sizeof(mailbox_slot<Message>) : messages;
    }
    // is_open(), close(): mailbox_handle.

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
    friend queue_handle<broadcast_mailbox>;
    broadcast_mailbox(segment&& s, const options& opt) : base(std::move(s), opt) {
        const std::size_t places = places_in(this->segment_->size());
        if (places == 0 || this->shared_mut().places != places)
            throw error(errc::corrupt, "mailbox '" + this->name() + "' has a receiver table of " +
                                           std::to_string(this->shared_mut().places) + " places in a segment of " +
                                           std::to_string(this->segment_->size()) +
                                           " bytes: it was truncated or overwritten. Remove it with "
                                           "Mailbox::remove(\"" + this->name() + "\") and create it again");
    }

    static std::size_t places_for(const broadcast_options& opt) {
        const std::size_t places = opt.max_receivers == 0 ? default_broadcast_receivers : opt.max_receivers;
        if (places > max_broadcast_receivers)
            throw error(errc::invalid_argument,
                        "broadcast_options::max_receivers is " + std::to_string(places) + ", more than the " +
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

};

}  // namespace ipckit::detail
