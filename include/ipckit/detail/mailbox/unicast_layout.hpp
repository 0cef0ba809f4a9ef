#pragma once
// What a mailbox with delivery exclusive, any or round_robin holds in shared memory after its
// segment header, where an inspector finds each part, and what it reads there.

#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/description.hpp>
#include <ipckit/detail/queue/fixed.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment_info.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace ipckit::detail {

/// What lives in a mailbox's segment after the header.
///   control      state, owner, turn (detail/mailbox/control.hpp)
///   data_bell    receivers sleep here: for a message, for their turn, for the close
///   space_bell   senders sleep here while the mailbox is full
///   senders      roster of up to MaxP senders (who, and which position each is claiming)
///   receivers    roster of up to MaxC receivers
///   ring         Vyukov's ring (detail/ring/mpmc.hpp)
template <message T, std::size_t N, std::size_t MaxP, std::size_t MaxC>
struct mailbox_shared {
    using queue_part = queue_shared<T, N, MaxP, MaxC>;  // for its ring and cursor types
    static_assert(!queue_part::spsc);
    using ring_type = typename queue_part::ring_type;
    using producer_type = typename queue_part::producer_type;
    using consumer_type = typename queue_part::consumer_type;

    mailbox_control control;
    alignas(cache_line) doorbell data_bell;
    alignas(cache_line) doorbell space_bell;
    roster<MaxP> senders;
    roster<MaxC> receivers;
    ring_type ring;
};

/// For an inspector: where a mailbox_shared's rosters and ring lie for `maxc` receivers (64
/// senders) and a message aligned to `align`.
constexpr queue_shared_offsets mailbox_offsets(std::size_t maxc, std::size_t align) noexcept {
    const std::size_t senders = 3 * cache_line;
    const std::size_t receivers = senders + roster_bytes(multi::max);
    return {senders, receivers, align_up(receivers + roster_bytes(maxc), std::max(cache_line, align))};
}
template <class T, std::size_t MaxC>
constexpr bool mailbox_offsets_hold() noexcept {
    using shared = mailbox_shared<T, 4, multi::max, MaxC>;
    constexpr queue_shared_offsets o = mailbox_offsets(MaxC, alignof(T));
    return starts_as_mailbox<shared>() && offsetof(shared, senders) == o.senders &&
           offsetof(shared, receivers) == o.receivers && offsetof(shared, ring) == o.ring &&
           offsetof(typename shared::ring_type, tail) == 0 && offsetof(typename shared::ring_type, head) == cache_line;
}
static_assert(mailbox_offsets_hold<std::uint64_t, 1>() && mailbox_offsets_hold<char, multi::max>(),
              "mailbox_offsets() must say where mailbox_shared's parts lie, or inspectors misread mailboxes");

/// For an inspector: the state, owner, endpoints, depth and counters of a mailbox (delivery
/// exclusive, any or round_robin) described by `d`, whose body is `v`. Reads only; throws
/// inspect_fault.
inline void inspect_mailbox(const body_view& v, const mailbox_fields& d, segment_info& out) {
    const std::size_t maxc = d.delivery == exclusive::name ? 1 : multi::max;
    const queue_shared_offsets o = mailbox_offsets(maxc, d.message.align);
    out.max_senders = multi::max;
    out.max_receivers = maxc;
    inspect_mailbox_control(v, out);
    add_roster(v, o.senders, multi::max, "sender", out);
    add_roster(v, o.receivers, maxc, "receiver", out);
    set_message_counts(read_ring(v, o.ring, cache_line, d.slots), out);
}

}  // namespace ipckit::detail
