#pragma once
// What an inspector reads of an unbounded queue, knowing its policies only at run time: where
// the head's rosters lie, the chain's state, and whether a chunk is one nothing leads to.

#include <ipckit/detail/chain/chain_layout.hpp>
#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/queue/unbounded_head.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/segment_info.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace ipckit::detail {

/// For an inspector: where an unbounded_shared's rosters lie for up to `maxp` senders.
struct unbounded_offsets {
    std::size_t senders;
    std::size_t receivers;
};
constexpr unbounded_offsets unbounded_layout(std::size_t maxp) noexcept {
    const std::size_t senders = sizeof(chain_control) + 2 * cache_line;
    return {senders, senders + roster_bytes(maxp)};
}
template <std::size_t MaxP>
constexpr bool unbounded_layout_holds() noexcept {
    using shared = unbounded_shared<MaxP>;
    return offsetof(shared, chain) == 0 && offsetof(shared, senders) == unbounded_layout(MaxP).senders &&
           offsetof(shared, receivers) == unbounded_layout(MaxP).receivers;
}
static_assert(unbounded_layout_holds<1>() && unbounded_layout_holds<64>(),
              "unbounded_layout() must say where unbounded_shared's parts lie, or inspectors misread unbounded queues");

/// For an inspector: the endpoints, depth, counters and chain of the unbounded queue `name`
/// described by `d`, whose head's body is `v`. The chain's words are read grower first, then
/// chunk_next, then first_live: what unreachable_chunk() relies on. Reads only; throws
/// inspect_fault.
inline void inspect_unbounded_head(const body_view& v, const queue_description& d, const std::string& name,
                                   segment_info& out) {
    const auto& c = *v.at<chain_control>(0, "chain control block");
    if (c.magic != chain_control::magic_value || c.version != chain_control::current_version ||
        c.chunk_bytes != d.capacity_value || c.slots == 0 || c.cap < c.chunk_bytes)
        throw inspect_fault("has a damaged chain control block (magic, version, chunk size or cap)");
    const unbounded_offsets o = unbounded_layout(d.producers);
    add_roster(v, o.senders, d.producers, "sender", out);
    add_roster(v, o.receivers, 1, "receiver", out);
    chain_state chain;
    // SYNC POINT READ: acquire, in the order each grows (see chain_control::consistent); paired
    // with the grower's and the consumer's release stores.
    const std::uint64_t grower = c.grower.load(std::memory_order_acquire);
    const std::uint64_t first = c.first_live.load(std::memory_order_acquire);
    const std::uint64_t head = c.head.load(std::memory_order_acquire);
    const std::uint64_t tail = c.tail.load(std::memory_order_acquire);
    const std::uint64_t next = c.chunk_next.load(std::memory_order_acquire);
    const std::uint64_t first_again = c.first_live.load(std::memory_order_acquire);
    if (!c.consistent(first, head, tail, next, first_again))
        throw inspect_fault("has inconsistent chain indices (first chunk " + std::to_string(first) + ", head " +
                            std::to_string(head) + ", tail " + std::to_string(tail) + ", next chunk " +
                            std::to_string(next) + "): they were overwritten");
    chain.base = c.base;
    chain.first_chunk = first_again;
    chain.next_chunk = next;
    chain.chunk_bytes = c.chunk_bytes;
    chain.cap_bytes = c.cap;
    chain.retired = grower == chain_control::retired;
    if (grower != chain_control::idle && !chain.retired) {
        chain.grower_pid = sys::process_id::unpack(grower).pid;
        chain.grower_alive = v.live().alive(grower);
    }
    // Named up to a bound: a cap of many small chunks may allow millions.
    for (std::uint64_t k = std::min(first_again, next); k < next && chain.chunks.size() < chain_state::max_named; ++k)
        chain.chunks.push_back(name + "." + std::to_string(c.base + k));
    out.chain = std::move(chain);
    out.capacity_bytes = c.cap;
    out.depth_messages = tail - head;
    out.sent_messages = tail;
    out.received_messages = head;
}

/// For an inspector: why chunk `index` of base `base` is one that nothing leads to any more,
/// given its queue's chain as read after the chunk was opened (inspect_unbounded_head); nullopt
/// if the chain needs it, or may need it. A chunk is needed from when it is created (chunk_next
/// passes it) until the receiver has read it (first_live passes it); chunk_next's chunk itself
/// while a live process creates it. Each bound only grows, and the grower word is read before
/// chunk_next, so a chunk created after that look is never judged by it: once unneeded, a chunk
/// stays so.
inline std::optional<std::string> unreachable_chunk(const chain_state& chain, std::uint64_t base, std::uint64_t index) {
    if (base != chain.base) return "its queue was created again since (it belongs to an earlier one)";
    if (index < chain.first_chunk) return "its queue's receiver has read it to the end";
    if (index > chain.next_chunk || (index == chain.next_chunk && !chain.grower_alive))
        return "a sender died creating it, before the queue's chain led to it";
    return std::nullopt;
}

/// For an inspector: the chunk number (k in its queue's chain) and chain base that the chunk
/// whose body is `v` says of itself; throws inspect_fault unless it says it is the chunk `seq`.
inline std::pair<std::uint64_t, std::uint64_t> inspect_chunk(const body_view& v, std::uint64_t seq) {
    const auto& c = *v.at<chunk_control>(0, "chunk control block");
    if (c.magic != chunk_control::magic_value || c.base > seq || seq - c.base != c.index)
        throw inspect_fault("has a damaged chunk control block (it does not say it is chunk " + std::to_string(seq) + ")");
    return {c.base, c.index};
}

}  // namespace ipckit::detail
