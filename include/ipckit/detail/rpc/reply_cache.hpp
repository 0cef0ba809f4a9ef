#pragma once
// At-most-once on the server: one client's replies by sequence number, bounded.
//
// A request is admitted once: the first time its sequence number comes it is `fresh` (and is
// marked running), while it runs a retransmission is `running` (the reply goes out when it is
// done), afterwards `done` (answered from the cache, never run again). At most `capacity`
// replies are kept; the one stored first goes first (a reply just made is the one a lost message
// will ask for again), and every number up to the evicted one is then `expired`: a retransmission
// that old is refused, never run a second time, and so is a first request that arrives after
// more than `capacity` later ones completed. So a client keeps fewer calls in flight than the
// capacity (client_options::max_in_flight is below the default).
//
// Sequence numbers are 64-bit; the wire carries their low 32 bits (the MessagePack-RPC msgid),
// which wrap after 2^32 calls. extend() gives a msgid back its 64 bits: the number with those low
// bits nearest the newest admitted. That is the client's own number as long as no call of the
// client's stays in flight while 2^31 later ones are made, which the client refuses (caller.hpp).
// So after the wrap a msgid is a new number, never `expired` and never answered from the entry of
// the call 2^32 before it; and a reply finished 2^31 or more numbers behind the newest is one the
// client cannot be waiting for: complete() says so, and it is not sent (its msgid may be a newer
// call's by then).
//
// Bytes. The count alone lets a server hold max_clients × capacity of the largest replies. So a
// cache also counts its replies' bytes into a budget that all the server's clients share
// (reply_budget.hpp), and the client table has the client holding the most drop its oldest
// (drop_oldest) while the budget is over. A reply dropped that way is one more eviction: its
// retransmission is `expired`, never run again. Each reply counts with what keeping it costs
// beside its bytes (entry_cost: its map node, its vector and its place in the order), so that
// a million one-byte replies are not counted as a megabyte.
//
// Not thread-safe: its client's mutex guards it (session.hpp, client_state).

#include <ipckit/detail/rpc/reply_budget.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <utility>
#include <vector>

namespace ipckit::detail::rpc {

class reply_cache {
public:
    enum class seen { fresh, running, done, expired };

    /// At most `capacity` replies, their bytes counted in `budget` (none: counted nowhere).
    explicit reply_cache(std::size_t capacity, std::shared_ptr<reply_budget> budget = nullptr)
        : capacity_(capacity == 0 ? 1 : capacity), budget_(std::move(budget)) {}
    reply_cache(const reply_cache&) = delete;
    reply_cache& operator=(const reply_cache&) = delete;
    ~reply_cache() {
        if (budget_) budget_->remove(bytes_);
    }

    /// The sequence number whose msgid (low 32 bits) is `msgid`: the one nearest the newest admitted.
    [[nodiscard]] std::uint64_t extend(std::uint32_t msgid) const noexcept {
        const auto ahead = static_cast<std::int32_t>(msgid - static_cast<std::uint32_t>(newest_));  // mod 2^32
        if (ahead >= 0) return newest_ + static_cast<std::uint64_t>(ahead);
        const auto behind = static_cast<std::uint64_t>(-std::int64_t{ahead});
        return behind <= newest_ ? newest_ - behind : msgid;  // none is below 0: a msgid of the first 2^32
    }

    /// What `seq` is; a fresh one is marked running, a done one's reply copied to `reply`.
    seen admit(std::uint64_t seq, std::vector<char>& reply) {
        const auto it = entries_.find(seq);
        if (it != entries_.end()) {
            if (!it->second.done) return seen::running;
            reply = it->second.reply;
            return seen::done;
        }
        if (seq < floor_) return seen::expired;
        entries_.emplace(seq, entry{});
        newest_ = std::max(newest_, seq);
        return seen::fresh;
    }

    /// Stores the reply of a request admitted as fresh, evicting the oldest past capacity.
    /// Returns whether the client may still wait for it: false if it is 2^31 or more behind the
    /// newest admitted, when its msgid may already name a newer call.
    bool complete(std::uint64_t seq, std::vector<char> reply) {
        auto it = entries_.find(seq);
        if (it == entries_.end() || it->second.done) return false;
        it->second.done = true;
        it->second.reply = std::move(reply);
        completed_.push_back(seq);
        count(cost_of(it->second.reply), true);
        while (completed_.size() > capacity_) drop_oldest();
        return newest_ - seq < half_range;
    }

    /// Evicts the reply stored first; none stored: nothing.
    void drop_oldest() {
        if (completed_.empty()) return;
        const std::uint64_t old = completed_.front();
        completed_.pop_front();
        const auto it = entries_.find(old);
        count(cost_of(it->second.reply), false);
        entries_.erase(it);
        if (old >= floor_) floor_ = old + 1;
    }

    /// The highest sequence admitted (0: none).
    [[nodiscard]] std::uint64_t newest() const noexcept { return newest_; }
    /// For the new cache of a client whose cache was dropped while it held sequences up to
    /// `newest` (client_table): each of them is expired, never run again.
    void expire_through(std::uint64_t newest) noexcept {
        newest_ = std::max(newest_, newest);
        floor_ = std::max(floor_, newest + 1);
    }

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
    /// The bytes of the replies stored, each with entry_cost beside.
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

    /// What keeping a reply costs beside its bytes, about: a map node with its entry, a vector's
    /// allocation header, a deque slot.
    static constexpr std::size_t entry_cost = 128;

private:
    struct entry {
        bool done = false;
        std::vector<char> reply;
    };
    static constexpr std::uint64_t half_range = std::uint64_t{1} << 31;  // how far a msgid reaches either way

    static std::size_t cost_of(const std::vector<char>& reply) noexcept { return reply.size() + entry_cost; }

    void count(std::size_t n, bool stored) noexcept {
        bytes_ = stored ? bytes_ + n : bytes_ - n;
        if (budget_ && stored) budget_->add(n);
        if (budget_ && !stored) budget_->remove(n);
    }

    std::size_t capacity_;
    std::shared_ptr<reply_budget> budget_;
    std::size_t bytes_ = 0;  // of the done entries' replies
    std::map<std::uint64_t, entry> entries_;
    std::deque<std::uint64_t> completed_;  // the done entries, oldest reply first: evicted first
    std::uint64_t floor_ = 0;   // every sequence below it that is not in entries_ was evicted
    std::uint64_t newest_ = 0;  // the highest sequence admitted
};

}  // namespace ipckit::detail::rpc
