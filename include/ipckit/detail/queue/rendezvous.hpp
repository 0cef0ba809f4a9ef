#pragma once
// Zero-capacity queues of fixed-size messages: the seed's rendezvous. There is no buffer: a send
// returns ok only once a receiver has taken its message, so sender and receiver meet. Several
// senders and receivers pair off one to one: each message goes to exactly one receiver. This
// file: the queue's handle. The protocol by which they meet, and the offer slots it runs on, are
// rendezvous_slots.hpp; the endpoints, rendezvous_endpoints.hpp.

#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/queue/rendezvous_endpoints.hpp>
#include <ipckit/detail/queue/rendezvous_slots.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// A zero-capacity queue of fixed-size messages `T` in a named shared-memory segment: what
/// ipckit::queue<T, zero_capacity, ...> is. See <ipckit/queue.hpp> and the top of this file.
template <message T, cardinality_policy Producers, cardinality_policy Consumers, wait_policy Wait,
          ownership_policy Ownership>
class rendezvous_queue : public queue_handle<rendezvous_queue<T, Producers, Consumers, Wait, Ownership>> {
public:
    using message_type = T;
    using wait_type = Wait;
    using ownership_type = Ownership;
    static constexpr std::size_t capacity = 0;
    static constexpr std::size_t max_senders = Producers::max;
    static constexpr std::size_t max_receivers = Consumers::max;

    using shared = rendezvous_shared<T, max_senders, max_receivers>;
    /// Where its endpoints sleep, and whom closing wakes (close()).
    template <class Role>
    using bells = rendezvous_bells<Role>;
    template <mode_policy Mode>
    using sender_type = rendezvous_sender<rendezvous_queue, Mode>;
    template <mode_policy Mode>
    using receiver_type = rendezvous_receiver<rendezvous_queue, Mode>;
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a queue must be standard layout");
    static_assert(alignof(shared) <= header_size,
                  "a message type aligned to more than 256 bytes cannot live after the segment header");

    /// The description and size a segment must match to be this queue.
    static segment_layout layout() {
        return {describe_queue<Producers, Consumers, Ownership>(describe_message<T>(), "zero_capacity"),
                header_size + sizeof(shared)};
    }

    /// How much is waiting now (every kind's depth()), here messages on offer: senders whose
    /// message waits for a receiver to take it. A snapshot, stale as soon as it is returned.
    [[nodiscard]] std::size_t depth() const noexcept {
        const auto& sh = this->template shared_part<shared>();
        std::size_t n = 0;
        for (const auto& o : sh.offers)
            n += offer_state::kind_of(o.state.load(std::memory_order_acquire)) == offer_state::offered;
        return n;
    }

private:
    friend queue_handle<rendezvous_queue>;
    rendezvous_queue(segment&& s, const options& opt) : queue_handle<rendezvous_queue>(std::move(s), opt) {}

    static void init(void* body) { ::new (body) shared; }
};

}  // namespace ipckit::detail
