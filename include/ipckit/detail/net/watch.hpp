#pragma once
// What lets one thread wait on many connections and listeners at once (ipckit::waitset): each
// watched link or acceptor signals the waitsets watching it when it may have become ready
// without a socket of the waitset's turning readable (a connection waits for accept, the I/O
// thread read a message in or ended a connection). A signal raises the waitset's eventfd, which
// sits in its epoll set beside the connections' sockets, so it only wakes the waiter; readiness
// is then read from the endpoints themselves, never from the signals, so a signal lost in a
// race costs nothing.
//
// Lock order: an endpoint's mutex, then nothing (signal() takes no lock); a waiting waitset
// holds no lock while it asks an endpoint.
//
// Queue and mailbox receivers have no socket and no I/O thread: their senders ring a doorbell in
// shared memory. A waitset arms those bells itself and has a bridge thread sleep on them, which
// raises the same eventfd (bell_bridge.hpp); receiver_watch is how it holds such a receiver.

#include <ipckit/detail/endpoint/watched.hpp>
#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/sys/poll.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace ipckit::detail {

/// The waitset's side: an eventfd that any thread may raise.
class watch_core {
public:
    void signal() const noexcept { wake_.raise(); }
    /// Unreadable again, before the waiter looks at its endpoints.
    void drain() const noexcept { wake_.drain(); }
    [[nodiscard]] int fd() const noexcept { return wake_.fd(); }

private:
    sys::event_fd wake_;
};

/// The endpoint's side: the waitsets watching it. Guarded by the endpoint's own mutex `m`,
/// which add() and remove() take (signal() is called with it held).
class watch_list {
public:
    void add(std::mutex& m, std::shared_ptr<watch_core> w) {
        std::lock_guard lock(m);
        watchers_.push_back(std::move(w));
    }
    void remove(std::mutex& m, const watch_core* w) noexcept {
        std::lock_guard lock(m);
        std::erase_if(watchers_, [&](const auto& p) { return p.get() == w; });
    }
    void signal() const noexcept {
        for (const auto& w : watchers_) w->signal();
    }

private:
    std::vector<std::shared_ptr<watch_core>> watchers_;
};

/// A queue or mailbox receiver a waitset watches, whatever its kind: where it is (it must stay
/// there while watched; or where the whole it is part of is), how to ask it whether it is ready, the bell it sleeps on (none once it
/// is closed: then ready for good) and what keeps that bell mapped.
struct receiver_watch {
    template <watchable_receiver R>
    explicit receiver_watch(R& r)
        : receiver(&r),
          ask([](void* p, bool ask_os) noexcept { return watch_access::ready(*static_cast<R*>(p), ask_os); }),
          bell(watch_access::bell(r)), keep(watch_access::keep(r)), liveness(watch_access::liveness(r)) {}
    /// `r` as the receiving part of `whole` (a shm:// connection: shm_duplex::watch), which
    /// `whole_ask(whole, ask_os)` asks instead, so that it may be ready for more than `r` says.
    template <watchable_receiver R>
    receiver_watch(R& r, void* whole, bool (*whole_ask)(void*, bool) noexcept)
        : receiver(whole), ask(whole_ask), bell(watch_access::bell(r)), keep(watch_access::keep(r)),
          liveness(watch_access::liveness(r)) {}

    [[nodiscard]] bool ready(bool ask_os) const noexcept { return ask(receiver, ask_os); }

    void* receiver;
    bool (*ask)(void*, bool) noexcept;
    doorbell* bell;
    std::shared_ptr<const void> keep;
    std::chrono::nanoseconds liveness;
};

}  // namespace ipckit::detail
