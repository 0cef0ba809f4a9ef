#pragma once
// What the handle of every queue kind has: create / open / open_or_create / remove by name, the
// sender() and receiver() that attach endpoints, and the segment kept alive for them.

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// What every queue or mailbox kind says about itself, written once: its message, wait and
/// ownership policies, its capacity (in its own unit), how many senders and receivers it takes,
/// and its shared part (checked: standard layout, and placeable right after the segment header),
/// which init() constructs unless the kind has its own. A kind's class derives from it beside
/// queue_handle, and says the rest itself (its layout(), its endpoint types).
template <message_policy T, wait_policy Wait, ownership_policy Ownership, std::size_t Capacity, std::size_t MaxSenders,
          std::size_t MaxReceivers, class Shared>
struct kind_constants {
    using message_type = T;
    using wait_type = Wait;
    using ownership_type = Ownership;
    static constexpr std::size_t capacity = Capacity;
    static constexpr std::size_t max_senders = MaxSenders;
    static constexpr std::size_t max_receivers = MaxReceivers;

    using shared = Shared;
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a queue or mailbox must be standard layout");
    static_assert(alignof(shared) <= header_size,
                  "a message type aligned to more than 256 bytes cannot live after the segment header");

    /// Constructs the shared part in a new segment's body.
    static void init(void* body) { ::new (body) shared; }
};

/// The endpoint types of a queue or mailbox kind `Queue`: Sender<Queue, Mode> and
/// Receiver<Queue, Mode>, as Queue::sender_type<Mode> and Queue::receiver_type<Mode>. A kind's
/// class derives from it beside queue_handle and kind_constants.
template <class Queue, template <class, mode_policy> class Sender, template <class, mode_policy> class Receiver>
struct endpoint_types {
    template <mode_policy Mode>
    using sender_type = Sender<Queue, Mode>;
    template <mode_policy Mode>
    using receiver_type = Receiver<Queue, Mode>;
};

/// The handle of a queue kind `Queue` (CRTP). Queue provides layout() (the description and size
/// its segment must match), init(body) (constructs its shared part), ownership_type, shared
/// (kind_constants gives these three), bells<Role> (where its endpoints sleep), and
/// sender_type<Mode> / receiver_type<Mode> (endpoint_types), whose constructors take (segment,
/// options). A handle may be copied and shared between threads; its endpoints keep the segment
/// alive.
template <class Queue>
class queue_handle {
public:
    /// Creates the queue `name`. Throws already_exists, invalid_name, permission_denied, no_space.
    static Queue create(std::string_view name, const options& opt = {}) {
        return Queue(segment::create<typename Queue::ownership_type>(name, Queue::layout(), opt, Queue::init), opt);
    }
    /// Opens the existing queue `name`. Throws not_found, incompatible_layout (saying what
    /// differs), corrupt, permission_denied.
    static Queue open(std::string_view name, const options& opt = {}) {
        return Queue(segment::open(name, Queue::layout(), opt), opt);
    }
    /// Opens `name`, or creates it if there is none (exactly one of racing processes creates).
    static Queue open_or_create(std::string_view name, const options& opt = {}) {
        return Queue(segment::open_or_create<typename Queue::ownership_type>(name, Queue::layout(), opt, Queue::init),
                     opt);
    }
    /// Removes the queue `name`: closes it as a whole first (close()), so that the endpoints
    /// attached to it see `closed` rather than wait on a queue nobody can find any more; what
    /// they have mapped stays theirs. A queue created under the name meanwhile (another process
    /// removed this one and made its own) keeps it. A segment `name` that is not this queue is
    /// removed by name alone. False if there was none.
    static bool remove(std::string_view name) {
        try {
            open(name).close_and_unname();
            return true;
        } catch (const error&) {  // not there, or not this kind of queue
        }
        return remove_segment(name);
    }

    /// Closes the queue as a whole, for every process (the closed rule: detail/endpoint/
    /// core.hpp): every receiver, attached now or later, gets `closed` once it has taken every
    /// message; every send from now on gets `closed`, with nothing written (a message sent
    /// before is received if a receiver still takes it). Sleepers on both sides are woken. How
    /// a queue of many senders ends. Never undone: the name stays until removed.
    void close() const noexcept { close_queue<Queue::template bells>(shared_mut()); }

    /// Attaches a sender. Throws sender_busy while as many live senders as Producers allows are
    /// attached (one, for a single-producer queue; another endpoint of this process counts).
    template <mode_policy Mode = blocking>
    [[nodiscard]] auto sender() const {
        return typename Queue::template sender_type<Mode>(segment_, options_);
    }
    /// Attaches a receiver. Throws receiver_busy likewise.
    template <mode_policy Mode = blocking>
    [[nodiscard]] auto receiver() const {
        return typename Queue::template receiver_type<Mode>(segment_, options_);
    }

    [[nodiscard]] const std::string& name() const noexcept { return segment_->name(); }
    /// Whether this handle created the segment.
    [[nodiscard]] bool created() const noexcept { return segment_->created(); }

protected:
    queue_handle(segment&& s, const options& opt) : segment_(std::make_shared<segment>(std::move(s))), options_(opt) {}

    /// What remove(name) does once it has opened the queue: closes it (the kind's close()), then
    /// removes the name if it still names this queue, never one made under it since.
    void close_and_unname() const {
        static_cast<const Queue&>(*this).close();
        (void)segment_->remove_name();
    }

    /// The queue's shared part, for snapshots such as depth().
    template <class Shared>
    [[nodiscard]] const Shared& shared_part() const noexcept {
        return *static_cast<const Shared*>(segment_->body());
    }
    /// The queue's shared part, for what the handle does to it (close(), a mailbox's control
    /// block): the handle is const, the shared memory it stands for is not.
    [[nodiscard]] auto& shared_mut() const noexcept { return *static_cast<typename Queue::shared*>(segment_->body()); }

    std::shared_ptr<segment> segment_;
    options options_;
};

}  // namespace ipckit::detail
