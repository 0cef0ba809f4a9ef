#pragma once
// What a waitset (net/waitset.hpp) reads of a queue or mailbox receiver it watches: whether its
// receive may return at once (endpoint_core::may_not_wait, through each receiver kind's
// watched_ready), the bell that receive sleeps on (the waitset arms it as a sleeper would: see
// the Watchers paragraph of sync/doorbell.hpp), what keeps that bell mapped, and the liveness
// interval. Every receiver kind befriends watch_access; its public API gains nothing.

#include <ipckit/detail/sync/doorbell.hpp>

#include <chrono>
#include <concepts>
#include <memory>
#include <string>
#include <type_traits>

namespace ipckit::detail {

struct watch_access {
    /// Whether R is a receiver a waitset can watch: every queue and mailbox receiver.
    template <class R>
    static constexpr bool watchable = requires(R& r, bool ask_os) {
        { r.watched_ready(ask_os) } -> std::same_as<bool>;
    };

    /// Whether its receive may return at once now (on the waitset's thread; see may_not_wait).
    template <class R>
    static bool ready(R& r, bool ask_os) noexcept {
        return r.watched_ready(ask_os);
    }
    /// The bell its receive sleeps on, or none when it is closed (ready, for good).
    template <class R>
    static doorbell* bell(const R& r) noexcept {
        return r.shared_ != nullptr ? &r.sleep_bell() : nullptr;
    }
    /// What keeps that bell mapped (the segment, or an unbounded queue's chain head).
    template <class R>
    static std::shared_ptr<const void> keep(const R& r) noexcept {
        return r.segment_;
    }
    /// How often a waiting receive asks the OS about its peers.
    template <class R>
    static std::chrono::nanoseconds liveness(const R& r) noexcept {
        return r.liveness_;
    }
    template <class R>
    static const std::string& name(const R& r) noexcept {
        return r.name();
    }
};

/// A queue or mailbox receiver, which a waitset can watch.
template <class R>
concept watchable_receiver = watch_access::watchable<R>;

}  // namespace ipckit::detail
