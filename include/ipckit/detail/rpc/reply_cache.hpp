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
// Not thread-safe: its client's mutex guards it (session.hpp, client_state).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <utility>
#include <vector>

namespace ipckit::detail::rpc {

class reply_cache {
public:
    enum class seen { fresh, running, done, expired };

    explicit reply_cache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

    /// What `seq` is; a fresh one is marked running, a done one's reply copied to `reply`.
    seen admit(std::uint32_t seq, std::vector<char>& reply) {
        const auto it = entries_.find(seq);
        if (it != entries_.end()) {
            if (!it->second.done) return seen::running;
            reply = it->second.reply;
            return seen::done;
        }
        if (seq < floor_) return seen::expired;
        entries_.emplace(seq, entry{});
        return seen::fresh;
    }

    /// Stores the reply of a request admitted as fresh, evicting the oldest past capacity.
    void complete(std::uint32_t seq, std::vector<char> reply) {
        auto it = entries_.find(seq);
        if (it == entries_.end() || it->second.done) return;
        it->second.done = true;
        it->second.reply = std::move(reply);
        completed_.push_back(seq);
        while (completed_.size() > capacity_) {
            const std::uint32_t old = completed_.front();
            completed_.pop_front();
            entries_.erase(old);
            if (old >= floor_) floor_ = std::uint64_t{old} + 1;
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

private:
    struct entry {
        bool done = false;
        std::vector<char> reply;
    };
    std::size_t capacity_;
    std::map<std::uint32_t, entry> entries_;
    std::deque<std::uint32_t> completed_;  // the done entries, oldest reply first: evicted first
    std::uint64_t floor_ = 0;  // every sequence below it that is not in entries_ was evicted
};

}  // namespace ipckit::detail::rpc
