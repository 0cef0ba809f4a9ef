#pragma once
// Mailboxes whose every attached receiver gets every message, in order (delivery policy
// broadcast): what ipckit::mailbox<T, bounded<N>, broadcast, system_owned, Wait> is. The ring is
// detail/ring/broadcast.hpp; the control block, the removal protocol and the layout description
// are every mailbox's (detail/mailbox/control.hpp, description.hpp, remove.hpp); the layout is in
// broadcast_layout.hpp, the endpoints in broadcast_endpoints.hpp.
//
// Receivers. Any number may attach, up to the size of the receiver table, chosen when the
// mailbox is created (broadcast_options::max_receivers, 1024 by default; 256 bytes of shared memory each).
// A receiver gets every message sent after it attached, in the order the ring holds them (each
// sender's messages in the order sent). If no other receiver was attached, it starts instead at
// the oldest message no receiver has read: a receiver that restarts finds what was sent while
// nobody listened. A receiver that closes stops gating senders at once; one whose process died
// is given up by a sender that waits for it (about once per options::liveness_interval), or by
// the next receiver that attaches.
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

#include <ipckit/detail/mailbox/broadcast_endpoints.hpp>
#include <ipckit/detail/mailbox/broadcast_layout.hpp>
#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/description.hpp>
#include <ipckit/detail/mailbox/remove.hpp>
#include <ipckit/detail/mailbox/sender.hpp>
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

/// A broadcast mailbox of fixed-size messages `T` with room for N of them; see the top of this
/// file. A handle may be copied and shared between threads; its endpoints keep the segment alive.
template <message T, std::size_t N, ownership_policy Ownership, wait_policy Wait>
class broadcast_mailbox : public queue_handle<broadcast_mailbox<T, N, Ownership, Wait>> {
    using base = queue_handle<broadcast_mailbox>;
    static_assert(std::is_same_v<Ownership, system_owned>,
                  "ipckit::mailbox<T, bounded<N>, broadcast, process_owned>: a process_owned mailbox's owner is its "
                  "only receiver, so a broadcast would reach nobody else. Use system_owned for broadcast (it stays "
                  "until Mailbox::remove), or exclusive delivery for a process_owned mailbox");

public:
    using message_type = T;
    using delivery_type = broadcast;
    using ownership_type = Ownership;
    using wait_type = Wait;
    static constexpr std::size_t capacity = N;
    static constexpr std::size_t max_senders = multi::max;
    /// Receiver places when broadcast_options::max_receivers is 0; each mailbox says its own
    /// through receiver_places(). (endpoint_core asks for a constant.)
    static constexpr std::size_t max_receivers = default_broadcast_receivers;

    using shared = broadcast_shared<T, N, max_senders>;
    using sending = broadcast_sending<broadcast_mailbox>;
    template <mode_policy M>
    using sender_type = mailbox_sender<broadcast_mailbox, M>;
    template <mode_policy M>
    using receiver_type = broadcast_receiver<broadcast_mailbox, M>;
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a mailbox must be standard layout");
    static_assert(alignof(shared) <= header_size,
                  "a message type aligned to more than 256 bytes cannot live after the segment header");

    /// The description and size a segment must match to be this mailbox with `places` receiver
    /// places. The description does not name the places: a program opens the mailbox whatever
    /// its creator chose.
    static segment_layout layout(std::size_t places = default_broadcast_receivers) {
        return {mailbox_description<T>(capacity, broadcast::name, Ownership::name), size_for(places)};
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
        return create_or_open([&] { return create(name, opt); }, [&] { return open(name, opt); });
    }
    /// Closes the mailbox `name` (close()) and removes its name, which is free from then on.
    /// False if there was none. Throws invalid_name, incompatible_layout (another kind of segment
    /// has the name: remove it with ipckit::remove_segment), permission_denied.
    static bool remove(std::string_view name) {
        return remove_mailbox(name, [&] { return open(name); });
    }

    /// Attaches a sender. Throws sender_busy while 64 live senders are attached.
    template <mode_policy M = blocking>
    [[nodiscard]] sender_type<M> sender() const {
        try {
            return sender_type<M>(this->segment_, this->options_);
        } catch (const error& e) {
            if (e.reason() != errc::sender_busy) throw;
            throw error(e.reason(), "mailbox '" + this->name() + "' already has " + std::to_string(max_senders) +
                                        " live senders. Close one first (a sender that has died is replaced by "
                                        "the next one)");
        }
    }
    /// Attaches a receiver, which gets every message sent from now on (or, if no other receiver
    /// is attached, every message no receiver has read yet). Throws receiver_busy while every
    /// receiver place holds a live receiver.
    template <mode_policy M = blocking>
    [[nodiscard]] receiver_type<M> receiver() const {
        try {
            return receiver_type<M>(this->segment_, this->options_);
        } catch (const error& e) {
            if (e.reason() != errc::receiver_busy) throw;
            const std::string count = std::to_string(receiver_places());
            throw error(e.reason(), "mailbox '" + this->name() + "' already has " + count +
                                        " live receivers, one per receiver place. Close one first, or create the "
                                        "mailbox with a larger broadcast_options::max_receivers (it was created "
                                        "with " + count + ")");
        }
    }

    /// How many receivers may be attached at once: broadcast_options::max_receivers at creation.
    [[nodiscard]] std::size_t receiver_places() const noexcept { return places_in(this->segment_->size()); }
    /// Receivers attached now (a dead one counts until it is noticed): a snapshot.
    [[nodiscard]] std::size_t receivers() const noexcept {
        auto& ring = shared_mut().ring;
        return ring.held_places(ring.high, places_of(shared_mut()), receiver_places());
    }
    /// How much is waiting now (every kind's depth()), here messages: those the slowest attached
    /// receiver has not read yet, or, with none attached, those kept for the next one. A
    /// snapshot, as `ipckit inspect` shows it; each lag is capped at the capacity.
    [[nodiscard]] std::size_t depth() const noexcept {
        auto& sh = shared_mut();
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
        return static_cast<std::size_t>(
            std::min<std::uint64_t>(slowest ? *slowest : tail - std::min(kept_from, tail), capacity));
    }
    /// Whether the mailbox still takes messages (not closed or removed).
    [[nodiscard]] bool is_open() const noexcept { return shared_mut().control.is_open(); }
    /// Closes the mailbox as a whole, for every process: from now on every send returns closed
    /// (nothing more is accepted), each receiver gets every message it accepted and then closed,
    /// and blocked endpoints wake. The name stays until remove(). Never undone; does nothing if it
    /// is closed already.
    void close() const noexcept { close_mailbox(shared_mut()); }

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
    friend base;
    broadcast_mailbox(segment&& s, const options& opt) : base(std::move(s), opt) {
        const std::size_t places = places_in(this->segment_->size());
        if (places == 0 || shared_mut().places != places)
            throw error(errc::corrupt, "mailbox '" + this->name() + "' has a receiver table of " +
                                           std::to_string(shared_mut().places) + " places in a segment of " +
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

    shared& shared_mut() const noexcept { return *static_cast<shared*>(this->segment_->body()); }
};

}  // namespace ipckit::detail
