#pragma once
// An unbounded queue's head segment: what lies in it, what the handles and endpoints of one
// queue hold of it, and removing it with every chunk of its chain. See
// detail/queue/unbounded.hpp for the queue as a whole.

#include <ipckit/detail/chain/chunk_names.hpp>
#include <ipckit/detail/chain/chain_layout.hpp>
#include <ipckit/detail/chain/chunk_store.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sync/roster.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace ipckit::detail {

/// What lives in an unbounded queue's head segment after the header.
///   chain        where the chain stands (detail/chain/chain_layout.hpp); first, at a fixed place
///   data_bell    the receiver sleeps here while the queue is empty
///   chunk_bell   senders sleep here while another sender creates the chunk they need
///   senders      roster of up to MaxP senders (who, and which position each is claiming)
///   receivers    roster of the one receiver
template <std::size_t MaxP>
struct unbounded_shared {
    chain_control chain;
    alignas(cache_line) doorbell data_bell;
    alignas(cache_line) doorbell chunk_bell;
    roster<MaxP> senders;
    roster<1> receivers;
};

/// What the handles and endpoints of one queue made from one handle share: the head segment,
/// and the chain's names. (Of a process_owned queue, the owning process's chain_heads share one
/// mapping of the head, whose last release retires the chain and removes its chunks before the
/// head goes: segment::at_last_release.)
class chain_head {
public:
    chain_head(segment&& s, std::shared_ptr<const chain_info> info, const options& opt)
        : segment_(std::move(s)), info_(std::move(info)), options_(opt) {}
    chain_head(const chain_head&) = delete;
    chain_head& operator=(const chain_head&) = delete;

    [[nodiscard]] const segment& seg() const noexcept { return segment_; }
    [[nodiscard]] const std::string& name() const noexcept { return segment_.name(); }
    [[nodiscard]] void* body() const noexcept { return segment_.body(); }
    [[nodiscard]] chain_control& chain() const noexcept { return *static_cast<chain_control*>(segment_.body()); }
    [[nodiscard]] const std::shared_ptr<const chain_info>& info() const noexcept { return info_; }
    [[nodiscard]] const options& opts() const noexcept { return options_; }

private:
    segment segment_;
    std::shared_ptr<const chain_info> info_;
    options options_;
};

/// The start of every unbounded queue's head, whatever its number of senders: the chain, the
/// bells and the senders' roster header (the rosters' places follow, as many as it has senders).
inline constexpr std::size_t unbounded_common_prefix = offsetof(unbounded_shared<1>, senders) + roster_places_offset;
static_assert(offsetof(unbounded_shared<1>, senders) == offsetof(unbounded_shared<64>, senders) &&
                  offsetof(unbounded_shared<1>, data_bell) == offsetof(unbounded_shared<64>, data_bell),
              "the start of an unbounded queue's head must not depend on its number of senders");

/// Closes the unbounded queue whose head's body is `body`, of any message type and number of
/// senders, once its chain is retired: seals the senders' roster and wakes the receiver, so that
/// it gets `closed` after the last message (detail/sync/roster.hpp) rather than wait on a queue
/// removed, and the senders waiting for a chunk, which find the chain retired (closed).
inline void close_retired(void* body) noexcept {
    auto& sh = *static_cast<unbounded_shared<1>*>(body);  // only the common prefix is touched
    sh.senders.seal();
    sh.data_bell.ring();
    sh.chunk_bell.ring();
}

/// Removes the unbounded queue `name` (of any message type) and its chunks: Q::remove. A queue
/// created under the name meanwhile (another process removed this one and made its own) keeps
/// it. A segment `name` that is not an unbounded queue is removed by name alone. False if there
/// was none.
inline bool remove_unbounded_queue(std::string_view name) {
    validate_name(name);
    const std::string os = os_name(name);
    try {
        const sys::file f = sys::shm_open_existing(os);
        const std::string n(name);
        if (with_raw_chain(
                f, "segment '" + n + "'",
                [&](chain_control& c, const segment_header&) {
                    retire_chain(c, n, options{}.init_timeout);
                    close_retired(&c);  // the chain is first in the body
                },
                unbounded_common_prefix)) {
            (void)sys::shm_remove_if_same(os, f);
            return true;
        }
    } catch (const error&) {  // not there, not readable, or not an unbounded queue: just the name
    }
    return sys::shm_remove(os);  // not remove_segment, which refuses a chain's head
}

/// After `old`, once named `name`, was removed as abandoned (create replaced it, or an
/// inspector's remove_stale): if it was an unbounded queue whose process_owned owner had gone,
/// retires its chain and removes its chunks, which nobody else would.
inline void retire_abandoned_chain(const sys::file& old, std::string_view name, const options& opt) noexcept {
    try {
        const std::string n(name);
        (void)with_raw_chain(old, "segment '" + n + "'", [&](chain_control& c, const segment_header& h) {
            if (h.ownership != process_owned::id || sys::owner_mark_held(old)) return;  // an owner is there
            retire_chain(c, n, opt.init_timeout);
            close_retired(&c);  // the chain is first in the body
        }, unbounded_common_prefix);
    } catch (...) {  // cannot read it: leave it
    }
}

}  // namespace ipckit::detail
