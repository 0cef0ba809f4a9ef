#pragma once
// Bounded queues of fixed-size messages: the SPSC ring for one sender and one receiver,
// Vyukov's ring for many of either, behind one pair of endpoint types. The pieces: what lives
// in the segment (fixed_layout.hpp), the endpoints and what they lend (fixed_endpoints.hpp),
// and here the queue handle that makes them.

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/queue/fixed_endpoints.hpp>
#include <ipckit/detail/queue/fixed_layout.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <cstddef>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// A bounded queue of fixed-size messages `T` in a named shared-memory segment: what
/// ipckit::queue<T, bounded<N>, ...> is. See <ipckit/queue.hpp>.
template <message T, std::size_t N, cardinality_policy Producers, cardinality_policy Consumers,
          wait_policy Wait, ownership_policy Ownership>
class fixed_queue
    : public queue_handle<fixed_queue<T, N, Producers, Consumers, Wait, Ownership>>,
      public kind_constants<T, Wait, Ownership, N, Producers::max, Consumers::max,
                            queue_shared<T, N, Producers::max, Consumers::max>>,
      public endpoint_types<fixed_queue<T, N, Producers, Consumers, Wait, Ownership>, fixed_sender, fixed_receiver> {
public:
    using typename fixed_queue::kind_constants::shared;
    /// Where its endpoints sleep, and whom closing wakes (close()).
    template <class Role>
    using bells = role_bells<Role>;

    /// The description and size a segment must match to be this queue.
    static segment_layout layout() {
        return {describe_queue<Producers, Consumers, Ownership>(describe_message<T>(),
                                                                "bounded<" + std::to_string(N) + ">"),
                header_size + sizeof(shared)};
    }

    /// How much is waiting now (every kind's depth(): the part of the capacity in use, in the
    /// capacity's unit), here messages: a snapshot, stale as soon as it is returned. 0 if the
    /// indices are corrupt.
    [[nodiscard]] std::size_t depth() const noexcept {
        return tail_minus_head(this->template shared_part<shared>().ring, N);
    }

private:
    friend queue_handle<fixed_queue>;
    fixed_queue(segment&& s, const options& opt) : queue_handle<fixed_queue>(std::move(s), opt) {}
};

}  // namespace ipckit::detail
