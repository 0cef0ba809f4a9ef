#pragma once
// Zero-capacity queues: the seed's rendezvous. There is no buffer: a send returns ok only once a
// receiver has taken its message, so sender and receiver meet. Several senders and receivers
// pair off one to one: each message goes to exactly one receiver. This file: the queue's handle.
// The protocol by which they meet, and the offer slots it runs on, are rendezvous_slots.hpp; the
// endpoints, rendezvous_endpoints.hpp (and the receiver, rendezvous_receiver.hpp).
//
// Messages of a fixed-size type T, or of bytes<Max>: then each offer slot holds a record<Max>
// (detail/ring/record.hpp), written in place by the sender and read in place by its taker, only
// the message's own bytes copied; the protocol is the same. A message over Max is too_large at
// once, nothing offered; an empty one is valid. A receive buffer too small for the message a
// receiver has taken: too_large, and the message stays this receiver's next (its offer stays
// taken by it, parked in the receiver, until a receive with room for it, or receive() into a
// vector, finishes the take). Its sender waits meanwhile, past its deadline if it has one (the
// message was taken: a send that times out is never delivered, and this one will be), and
// returns ok once the take is finished; also when the receiver closes (or is destroyed) with
// the message parked, which drops it: it was this receiver's. If the receiver's process dies
// instead, the sender gets peer_dead, as for any taker that dies. A length in a slot over Max is
// corrupt, and nothing is delivered.
// No loans or views, for T as for bytes<Max>: a send returns once its message is taken, so a
// loan would have to stay open until a receiver came, and a view would hold its sender.

#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/queue/rendezvous_endpoints.hpp>
#include <ipckit/detail/queue/rendezvous_receiver.hpp>
#include <ipckit/detail/queue/rendezvous_slots.hpp>
#include <ipckit/detail/queue/slot_message.hpp>
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
template <message_policy T, cardinality_policy Producers, cardinality_policy Consumers, wait_policy Wait,
          ownership_policy Ownership>
class rendezvous_queue
    : public queue_handle<rendezvous_queue<T, Producers, Consumers, Wait, Ownership>>,
      public kind_constants<T, Wait, Ownership, 0, Producers::max, Consumers::max,
                            rendezvous_shared<slot_of<T>, Producers::max, Consumers::max>>,
      public endpoint_types<rendezvous_queue<T, Producers, Consumers, Wait, Ownership>, rendezvous_sender,
                            rendezvous_receiver> {
public:
    using typename rendezvous_queue::kind_constants::shared;
    /// What an offer slot holds: T, or record<Max> for bytes<Max>.
    using slot_type = slot_of<T>;
    /// Where its endpoints sleep, and whom closing wakes (close()).
    template <class Role>
    using bells = rendezvous_bells<Role>;

    /// The description and size a segment must match to be this queue.
    static segment_layout layout() {
        return {describe_queue<Producers, Consumers, Ownership>(slot_message<T>::description(), "zero_capacity"),
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
