#pragma once
// ipckit::waitset: one thread waiting on many connections and listeners (see <ipckit/net.hpp>).

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/net/acceptor.hpp>
#include <ipckit/detail/net/connection.hpp>
#include <ipckit/detail/net/link.hpp>
#include <ipckit/detail/net/listener.hpp>
#include <ipckit/detail/net/watch.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipckit {

/// One thread serving many clients: waits on any connections and listeners at once, with a
/// deadline, and says which are ready, so that the thread then receives from (or accepts on)
/// exactly those; a reply goes to whichever connection it chooses.
///
///   ipckit::waitset ws;
///   const auto srv_id = ws.add(srv);
///   for (;;) {
///       auto ready = ws.wait(1s);                        // timed_out if none by then
///       if (!ready) continue;
///       for (const auto id : *ready) {
///           if (id == srv_id) { auto c = srv.accept(0ms); ... ws.add(*c); ... }
///           else { auto m = conn(id).receive(0ms); ... }  // a message, or the connection's end
///       }
///   }
///
/// Ready means the verb would not wait: a connection holds a message or has ended (closed,
/// peer_dead, corrupt: remove it then, or it stays ready), a listener holds a connection or
/// was closed. An endpoint keeps what the waitset needs alive, so one destroyed while added
/// reads as ended until removed. Restricted thread-safe: one thread at a time.
class waitset {
public:
    using id = std::size_t;

    waitset() = default;
    waitset(const waitset&) = delete;
    waitset& operator=(const waitset&) = delete;
    ~waitset() {
        for (auto& e : entries_) unwatch(e);
    }

    /// Watches a connection; returns the id wait() reports it by.
    template <class Message, mode_policy Mode>
    id add(const connection<Message, Mode>& c) {
        if (!c.link_) throw error(errc::invalid_argument, "waitset::add: the connection was moved from");
        entry e{next_++, std::dynamic_pointer_cast<detail::link>(c.link_), nullptr};
        if (!e.link)
            throw error(errc::invalid_argument, "waitset::add: " + c.address() +
                                                    " is a shm:// connection; a waitset watches socket connections "
                                                    "and listeners only, so far");
        e.link->watch(core_);
        entries_.push_back(std::move(e));
        core_->signal();  // it may be ready already
        return entries_.back().key;
    }
    /// Watches a listener's pending accepts; returns the id wait() reports it by.
    template <class Message, mode_policy Mode>
    id add(const listener<Message, Mode>& l) {
        if (l.shm_)
            throw error(errc::invalid_argument, "waitset::add: " + l.address() +
                                                    " is a shm:// listener; a waitset watches socket connections and "
                                                    "listeners only, so far");
        entry e{next_++, nullptr, l.state_};
        if (!e.acceptor) throw error(errc::invalid_argument, "waitset::add: the listener was closed or moved from");
        e.acceptor->watch(core_);
        entries_.push_back(std::move(e));
        core_->signal();
        return entries_.back().key;
    }
    /// Stops watching `key` (nothing if it is not added).
    void remove(id key) noexcept {
        std::erase_if(entries_, [&](entry& e) {
            if (e.key != key) return false;
            unwatch(e);
            return true;
        });
    }
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

    /// The ids of the endpoints ready now, waiting until there is at least one (no deadline),
    /// or by `deadline` (a duration or a steady_clock time point): else timed_out.
    result<std::vector<id>> wait() noexcept { return wait_until(detail::clock::time_point::max()); }
    template <ipckit::deadline D>
    result<std::vector<id>> wait(D deadline) noexcept {
        return wait_until(ipckit::detail::time_point_of(deadline));
    }

private:
    struct entry {
        id key;
        std::shared_ptr<detail::link> link;
        std::shared_ptr<detail::acceptor_state> acceptor;
    };

    void unwatch(entry& e) noexcept {
        if (e.link) e.link->unwatch(core_.get());
        if (e.acceptor) e.acceptor->unwatch(core_.get());
    }

    result<std::vector<id>> wait_until(detail::clock::time_point deadline) noexcept {
        try {
            std::vector<id> ready;
            for (;;) {
                // Read the epoch first: a signal after it wakes the sleep below, so an endpoint
                // that turns ready while the others are asked is never missed.
                const auto seen = core_->epoch();
                for (const auto& e : entries_)
                    if (e.link ? e.link->ready() : e.acceptor->ready()) ready.push_back(e.key);
                if (!ready.empty()) return ready;
                if (!core_->wait_past(seen, deadline)) return unexpected(errc::timed_out);
            }
        } catch (...) {
            return unexpected(errc::no_space);
        }
    }

    std::shared_ptr<detail::watch_core> core_ = std::make_shared<detail::watch_core>();
    std::vector<entry> entries_;
    id next_ = 0;
};

}  // namespace ipckit
