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
class fixed_queue : public queue_handle<fixed_queue<T, N, Producers, Consumers, Wait, Ownership>> {
public:
    using message_type = T;
    using wait_type = Wait;
    using ownership_type = Ownership;
    static constexpr std::size_t capacity = N;
    static constexpr std::size_t max_senders = Producers::max;
    static constexpr std::size_t max_receivers = Consumers::max;

    using shared = queue_shared<T, capacity, max_senders, max_receivers>;
    /// Where its endpoints sleep, and whom closing wakes (close()).
    template <class Role>
    using bells = role_bells<Role>;
    template <mode_policy Mode>
    using sender_type = fixed_sender<fixed_queue, Mode>;
    template <mode_policy Mode>
    using receiver_type = fixed_receiver<fixed_queue, Mode>;
    static_assert(std::is_standard_layout_v<shared>, "the shared part of a queue must be standard layout");
    static_assert(alignof(shared) <= header_size,
                  "a message type aligned to more than 256 bytes cannot live after the segment header");

    /// The description and size a segment must match to be this queue.
    static segment_layout layout() {
        return {describe_queue<Producers, Consumers, Ownership>(describe_message<T>(),
                                                                "bounded<" + std::to_string(capacity) + ">"),
                header_size + sizeof(shared)};
    }

    /// How much is waiting now (every kind's depth(): the part of the capacity in use, in the
    /// capacity's unit), here messages: a snapshot, stale as soon as it is returned. 0 if the
    /// indices are corrupt.
    [[nodiscard]] std::size_t depth() const noexcept {
        return tail_minus_head(this->template shared_part<shared>().ring, capacity);
    }

private:
    friend queue_handle<fixed_queue>;
    fixed_queue(segment&& s, const options& opt) : queue_handle<fixed_queue>(std::move(s), opt) {}

    static void init(void* body) { ::new (body) shared; }
};

}  // namespace ipckit::detail
