#pragma once
// Producer processes that are SIGKILLed and replaced one after another, for tests of what a
// receiver gets from producers killed at arbitrary points: each one's bookkeeping (the next seq
// the receiver expects of it, after how many of its messages it dies), its process and report.
// Usable only in the parent (Catch2 asserts there); the children run the body they are given.

#include "contract/child_report.hpp"
#include "support.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ipckit_test {

/// Producers 0, 1, 2..., each a child process that runs until the parent kills it.
class killed_producers {
public:
    explicit killed_producers(std::uint32_t generations)
        : next(generations, 0), kill_at(generations, 0), live_(generations), reports_(generations) {}

    std::vector<std::uint64_t> next;     ///< the seq the receiver expects next of producer p
    std::vector<std::uint64_t> kill_at;  ///< producer p dies once this many of its messages are received
    std::uint32_t spawned = 0;           ///< producers started so far

    /// Starts producer `spawned`, to die once `kill_after` of its messages are received: a child
    /// that runs body(r, p, attached) and must post `attached` once it holds its roster place.
    /// Returns once it has (false if it never did): until then a receiver would see only dead
    /// senders, and rightly say peer_dead.
    template <class Body>
    bool spawn(std::uint64_t kill_after, Body body) {
        const std::uint32_t p = spawned++;
        kill_at[p] = kill_after;
        live_[p].emplace(reports_[p].spawn([this, &body, p](child_report& r) { body(r, p, attached_); }));
        return attached_.wait();
    }

    /// Whether producer p runs (started and not yet killed).
    [[nodiscard]] bool alive(std::uint32_t p) const { return p < spawned && live_[p].has_value(); }

    /// SIGKILLs producer p: as_expected, or what it reported (or how it ended) instead.
    std::string kill(std::uint32_t p) {
        const std::string how = reports_[p].ended(live_[p]->kill(), killed_by_sigkill);
        live_[p].reset();
        return how;
    }

private:
    std::vector<std::optional<child>> live_;
    std::vector<child_report> reports_;
    signal_pipe attached_;
};

}  // namespace ipckit_test
