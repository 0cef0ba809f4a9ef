#pragma once
// Bounded queues of fixed-size messages with a lane per sender: ipckit::queue<T, bounded<N>,
// lanes<Max>>. Each sender writes the SPSC ring of its roster place, the one receiver merges
// them round robin (detail/ring/lanes.hpp). The endpoints are the fixed-size queue's
// (fixed_endpoints.hpp: send, receive, loans and views), over the lanes' cursors; the verb
// loop, the rosters, the bells and the closed rule are every ring queue's. This file: what lives
// in the segment, the queue handle, and which combinations of lanes<Max> are offered.

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/queue/fixed_endpoints.hpp>
#include <ipckit/detail/queue/handle.hpp>
#include <ipckit/detail/ring/lanes.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace ipckit::detail {

/// What lives in a lanes queue's segment after the header (queue_shared's parts, in its order,
/// with lanes for its ring):
///   data_bell    the receiver sleeps here while every lane is empty: one bell for all lanes
///   closed       1 once the queue was closed as a whole: senders refuse (close_queue)
///   space_bell   senders sleep here while their own lane is full
///   senders      roster of up to MaxP senders: place i writes lane i
///   receivers    roster of the one receiver
///   ring         in_use and the lanes (detail/ring/lanes.hpp)
template <message T, std::size_t N, std::size_t MaxP>
struct lanes_shared {
    using ring_type = lanes_ring<T, N, MaxP>;
    using producer_type = lanes_producer<T, N, MaxP>;
    using consumer_type = lanes_consumer<T, N, MaxP>;

    alignas(cache_line) doorbell data_bell;
    std::atomic<std::uint32_t> closed{0};
    alignas(cache_line) doorbell space_bell;
    roster<MaxP> senders;
    roster<1> receivers;
    ring_type ring;
};

/// A bounded queue of fixed-size messages `T` with a lane of N slots for each of up to MaxP
/// senders, in a named shared-memory segment: what ipckit::queue<T, bounded<N>, lanes<MaxP>>
/// is. See <ipckit/queue.hpp>, and lanes in <ipckit/policy.hpp> for when to choose it.
template <message T, std::size_t N, std::size_t MaxP, wait_policy Wait, ownership_policy Ownership>
class lanes_queue : public queue_handle<lanes_queue<T, N, MaxP, Wait, Ownership>>,
                    public kind_constants<T, Wait, Ownership, N, MaxP, 1, lanes_shared<T, N, MaxP>>,
                    public endpoint_types<lanes_queue<T, N, MaxP, Wait, Ownership>, fixed_sender, fixed_receiver> {
public:
    using typename lanes_queue::kind_constants::shared;
    /// Where its endpoints sleep, and whom closing wakes (close()).
    template <class Role>
    using bells = role_bells<Role>;
    /// What sender_busy suggests to allow more senders; receiver_busy suggests none (one merges).
    static constexpr const char* more_endpoints = "lanes<N>";
    static constexpr bool one_receiver_only = true;

    /// The description and size a segment must match to be this queue. The capacity says
    /// "per lane", so that a bounded<N> shared ring is never mistaken for it.
    static segment_layout layout() {
        return {describe_queue<lanes<MaxP>, single, Ownership>(describe_message<T>(),
                                                               "bounded<" + std::to_string(N) + " per lane>"),
                header_size + sizeof(shared)};
    }

    /// How much is waiting now (every kind's depth()), here messages in every lane: a snapshot,
    /// stale as soon as it is returned. A lane whose indices are corrupt counts as empty.
    [[nodiscard]] std::size_t depth() const noexcept {
        const auto& ring = this->template shared_part<shared>().ring;
        std::size_t n = 0;
        for (std::size_t i = 0; i < ring.lanes_in_use(); ++i) n += tail_minus_head(ring.lanes[i], N);
        return n;
    }

private:
    friend queue_handle<lanes_queue>;
    lanes_queue(segment&& s, const options& opt) : queue_handle<lanes_queue>(std::move(s), opt) {}
};

/// Which lanes queue serves queue<Message, Capacity, lanes<MaxP>, Consumers, Wait, Ownership>:
/// a bounded queue of fixed-size messages with a single consumer; anything else is refused with
/// the reason.
template <class Message, class Capacity, std::size_t MaxP, class Consumers, class Wait, class Ownership>
struct lanes_for {
    static_assert(MaxP == 0,
                  "ipckit::queue<..., lanes<Max>>: lanes are offered on a bounded queue of fixed-size messages "
                  "(queue<T, bounded<N>, lanes<Max>>); for bytes<Max>, zero_capacity or unbounded<...> use multi");
};
template <message T, std::size_t N, std::size_t MaxP, class Consumers, class Wait, class Ownership>
    requires(!is_bytes<T>)
struct lanes_for<T, bounded<N>, MaxP, Consumers, Wait, Ownership> {
    static_assert(Consumers::max == 1,
                  "ipckit::queue<T, bounded<N>, lanes<Max>, Consumers>: lanes are merged by one receiver "
                  "(Consumers = single); for several receivers use multi producers over the shared ring");
    using type = lanes_queue<T, N, MaxP, Wait, Ownership>;
};

}  // namespace ipckit::detail
