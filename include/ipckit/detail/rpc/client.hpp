#pragma once
// rpc::client: typed calls by name, synchronous or many in flight (see <ipckit/rpc.hpp>).

#include <ipckit/deadline.hpp>
#include <ipckit/detail/net/made_here.hpp>
#include <ipckit/detail/rpc/binder_protocol.hpp>
#include <ipckit/detail/rpc/binding.hpp>
#include <ipckit/detail/rpc/caller.hpp>
#include <ipckit/detail/rpc/options.hpp>
#include <ipckit/detail/rpc/result.hpp>
#include <ipckit/detail/rpc/signature.hpp>
#include <ipckit/detail/rpc/wire.hpp>

#include <msgpack.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace ipckit::rpc {

namespace detail_client {
template <class... A>
struct last_is_deadline : std::false_type {};
template <class A>
struct last_is_deadline<A> : std::bool_constant<ipckit::deadline<std::decay_t<A>>> {};
template <class A, class B, class... C>
struct last_is_deadline<A, B, C...> : last_is_deadline<B, C...> {};
}  // namespace detail_client

class client {
    template <class... A>
    static constexpr bool last_is_deadline = detail_client::last_is_deadline<A...>::value;
    using clock = std::chrono::steady_clock;

public:
    /// Connects to the server at `address` (any ipckit address) and says hello. Throws
    /// ipckit::error as ipckit::connect does (not_found: nothing listens there, ...).
    explicit client(std::string_view address, client_options o = {})
        : default_deadline_(o.default_deadline), core_(std::make_unique<detail::rpc::caller>(std::string(address), std::move(o))) {}

    /// Connects to the server called `name` in `domain` on this machine (server::in_domain).
    /// Throws not_found, naming both, when no live server holds the name.
    static client in_domain(std::string_view domain, std::string_view name, client_options o = {},
                            const node_options& registry = {}) {
        return client(detail::rpc::lookup(domain, name, registry), std::move(o));
    }
    /// Connects to the server called `name` at the binder at `binder` (server::at_binder), both
    /// reached with `o`. Throws not_found naming both when no server holds the name, or an
    /// ipckit::error naming the binder when it is unreachable or refuses (invalid_name).
    static client at_binder(std::string_view binder, std::string_view name, client_options o = {}) {
        detail::rpc::check_server_name(name);
        std::string address;
        {
            client b = detail::rpc::reach_binder<client>(binder, o);
            address = detail::rpc::lookup_at_binder(b, binder, name);
        }
        return client(address, std::move(o));
    }

    /// Calls `method` with `args` and waits for its result as R: call<R>("name", args..., deadline).
    /// The deadline (a duration or a steady_clock time point) is optional, as the last argument;
    /// client_options::default_deadline if none. Never throws (but for std::bad_alloc).
    template <class R = void, class... A>
    result<R> call(std::string_view method, A&&... args) {
        return async_call<R>(method, std::forward<A>(args)...).get();
    }

    /// Starts a call and returns at once; the future holds its result. Many may be in flight.
    template <class R = void, class... A>
    std::future<result<R>> async_call(std::string_view method, A&&... args) {
        auto promise = std::make_shared<std::promise<result<R>>>();
        auto future = promise->get_future();
        call_then<R>(method, [promise](result<R> r) { promise->set_value(std::move(r)); }, std::forward<A>(args)...);
        return future;
    }

    /// Starts a call; `then(result<R>)` runs once when it ends, on the client's thread (so it
    /// must not wait for another call of this client). It may close the client, or destroy it
    /// (own its last reference): the calls in flight then end with closed.
    template <class R = void, class Then, class... A>
    void call_then(std::string_view method, Then then, A&&... args) {
        auto tuple = std::forward_as_tuple(std::forward<A>(args)...);
        constexpr std::size_t n = sizeof...(A);
        if constexpr (last_is_deadline<A...>) {
            const auto deadline = ipckit::detail::time_point_of(std::get<n - 1>(tuple));
            start<R>(method, deadline, std::move(then), tuple, std::make_index_sequence<n - 1>());
        } else {
            const auto deadline = ipckit::detail::deadline_after(default_deadline_);  // the longest: none
            start<R>(method, deadline, std::move(then), tuple, std::make_index_sequence<n>());
        }
    }

    /// Sends a notification ([2, method, params]): no reply, no retransmission, and it may be
    /// lost with a connection. ok once sent, else not_sent / too_large / closed.
    template <class... A>
    result<void> notify(std::string_view method, const A&... args) {
        msgpack::sbuffer b;
        detail::rpc::pack_notification(b, method, args...);
        if (!core_) return error{errc::closed, "the client was moved from"};
        auto e = core_->notify(std::vector<char>(b.data(), b.data() + b.size()));
        if (e.code != errc::ok) return e;
        return {};
    }

    /// Ends the calls in flight with closed, those whose send waits for room or for its turn too
    /// (within a quarter second); later calls are closed too. In a forked child, a
    /// copy of its parent's client is only forgotten, as it is when destroyed there: its thread
    /// and connection stay the parent's (detail/net/made_here.hpp).
    void close() noexcept {
        if (!core_) return;
        if (!made_.here()) return detail::forget(core_);
        core_->close();
    }
    client(client&&) noexcept = default;
    client& operator=(client&& o) noexcept {
        if (this != &o) {
            let_go();
            default_deadline_ = o.default_deadline_;
            core_ = std::move(o.core_);
            made_ = o.made_;
        }
        return *this;
    }
    ~client() { let_go(); }

    /// This client's life: with a sequence number, the id of each of its requests.
    [[nodiscard]] std::uint64_t incarnation() const noexcept { return core_ ? core_->incarnation() : 0; }
    /// The server's, as its hello said (0: a server that did not say).
    [[nodiscard]] std::uint64_t server_incarnation() const { return core_ ? core_->server_incarnation() : 0; }
    /// Calls started and not yet ended.
    [[nodiscard]] std::size_t in_flight() const { return core_ ? core_->in_flight() : 0; }

private:
    /// Ends what core_ holds: closed and destroyed here, only forgotten in a forked child.
    void let_go() noexcept {
        if (made_.here()) core_.reset();
        else detail::forget(core_);
    }

    template <class R, class Then, class Tuple, std::size_t... I>
    void start(std::string_view method, clock::time_point deadline, Then then, Tuple& args, std::index_sequence<I...>) {
        if (!core_) {
            then(result<R>(error{errc::closed, "the client was moved from"}));
            return;
        }
        const std::uint64_t seq = core_->next_seq();
        msgpack::sbuffer b;
        detail::rpc::pack_request(b, static_cast<std::uint32_t>(seq), method, std::get<I>(args)...);  // the msgid wraps
        std::string name(method);
        core_->start(seq, name, std::vector<char>(b.data(), b.data() + b.size()), deadline,
                     [then = std::move(then), name](const msgpack::object* r, const error& e) mutable {
                         if (e.code != errc::ok) then(result<R>(e));
                         else then(detail::rpc::decode_result<R>(name, *r));
                     });
    }

    std::chrono::milliseconds default_deadline_;
    std::unique_ptr<detail::rpc::caller> core_;
    detail::made_here made_;  // where close() and the destructor may act
};

}  // namespace ipckit::rpc
