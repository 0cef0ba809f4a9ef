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
class rendezvous_queue
    : public queue_handle<rendezvous_queue<T, Producers, Consumers, Wait, Ownership>>,
      public kind_constants<T, Wait, Ownership, 0, Producers::max, Consumers::max,
                            rendezvous_shared<T, Producers::max, Consumers::max>>,
      public endpoint_types<rendezvous_queue<T, Producers, Consumers, Wait, Ownership>, rendezvous_sender,
                            rendezvous_receiver> {
public:
    using typename rendezvous_queue::kind_constants::shared;
    /// Where its endpoints sleep, and whom closing wakes (close()).
    template <class Role>
    using bells = rendezvous_bells<Role>;

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
};

}  // namespace ipckit::detail
