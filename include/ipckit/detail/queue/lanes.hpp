#pragma once
// Bounded queues of fixed-size messages with a lane per sender: ipckit::queue<T, bounded<N>,
// lanes<Max>>. Each sender writes the SPSC ring of its roster place, the one receiver merges
// them round robin (detail/ring/lanes.hpp). The endpoints are the fixed-size queue's
// (fixed_endpoints.hpp: send, receive, loans and views), over the lanes' cursors; the verb
// loop, the rosters, the bells and the closed rule are every ring queue's. This file: what lives
// in the segment, the queue handle, and which combinations of lanes<Max> are offered.

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/endpoint/roles.hpp>
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
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// A lane's room bell, on a line of its own: its sender sleeps there, its release rings there.
struct lane_bell {
    alignas(cache_line) doorbell bell;
};

/// What lives in a lanes queue's segment after the header:
///   data_bell    the receiver sleeps here while every lane is empty: one bell for all lanes
///   closed       1 once the queue was closed as a whole: senders refuse (close_queue). On
///                data_bell's line, which every send reads anyway (is the receiver asleep?)
///   room         lane_bell[MaxP]: the sender of lane i sleeps on room[i] while its lane is
///                full, and only a release in lane i wakes it (a shared bell would wake every
///                sleeping sender for each release, in whatever lane)
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
    lane_bell room[MaxP];
    roster<MaxP> senders;
    roster<1> receivers;
    ring_type ring;
};

/// Where the endpoints of a lanes queue sleep and whom they wake (the shape of role_bells,
/// detail/endpoint/roles.hpp): the receiver on data_bell, the sender of place i on room[i];
/// a release wakes the sender of the lane it freed (progress_bell), a send the receiver.
template <class Role>
struct lanes_bells {
    static constexpr bool sender = std::is_same_v<Role, producer_role>;

    /// Where the endpoint in `place` of this side sleeps.
    template <class Shared>
    static doorbell& sleep_bell(Shared& sh, std::size_t place) noexcept {
        if constexpr (sender)
            return room_of(sh, place);
        else
            return sh.data_bell;
    }
    /// Where the holder of `place` on the other side sleeps.
    template <class Shared>
    static doorbell& peer_sleep_bell(Shared& sh, std::size_t place) noexcept {
        if constexpr (sender)
            return sh.data_bell;
        else
            return room_of(sh, place);
    }
    /// The bell a receiver's release rings: the room of the lane it freed.
    template <class Shared, class Cursor>
        requires(!sender)
    static doorbell& progress_bell(Shared& sh, const Cursor& c) noexcept {
        return room_of(sh, c.last_lane());
    }
    /// Closing wakes the other side: a sender's close the receiver; the receiver's close (or the
    /// queue's) every sender that may sleep, in a lane below in_use (no other was ever taken).
    template <class Shared>
    static void wake_on_close(Shared& sh) noexcept {
        if constexpr (sender) {
            sh.data_bell.ring();
        } else {
            const std::size_t n = sh.ring.lanes_in_use();
            for (std::size_t i = 0; i < n; ++i) sh.room[i].bell.ring();
        }
    }

private:
    template <class Shared>
    static doorbell& room_of(Shared& sh, std::size_t place) noexcept {
        return sh.room[place % std::size(sh.room)].bell;
    }
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
    using bells = lanes_bells<Role>;
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
