#pragma once
// rpc::binder: binding by name across machines, in the manner of rpcbind. It is an rpc::server
// with three methods (binder_protocol.hpp): a server registers its name and real address, a
// client looks the name up, and connects there.
//
// An entry lives as long as the connection that registered it: a server keeps its connection
// to the binder open while it serves (server::at_binder), and the end of that connection, closed
// (an orderly stop, which unregisters first anyway) or peer_dead (the server died, or its
// machine went silent past the liveness interval), removes its entries. So a name held by a
// live server is name_taken, and one whose server died is free again once its connection ends.
// A register that runs after its connection ended registers nothing (origin::open(), checked
// under the lock that on_disconnect takes too).
//
// Limits against a careless or hostile peer: names follow in_domain's rule, addresses must parse
// and are at most max_binder_address long, and one connection holds at most
// binder_options::max_names; with the server's connection cap (net_options::max_connections)
// that bounds the table. The entries live in this process only: a binder that restarts starts
// empty, and each live server registers again within about its liveness interval
// (binder_registration, binder_protocol.hpp), as servers re-register with a restarted rpcbind.
//
// Thread safety: start(), stop() and the accessors may be called from any thread.

#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/rpc/binder_protocol.hpp>
#include <ipckit/detail/rpc/options.hpp>
#include <ipckit/detail/rpc/origin.hpp>
#include <ipckit/detail/rpc/server.hpp>
#include <ipckit/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ipckit::rpc {

struct binder_options {
    /// Names one connection (one server) may hold at once; one more is refused with no_space.
    std::size_t max_names = 64;
    /// The binder's own server: its handler threads, its connection cap and liveness (net).
    server_options server;
    /// Told of each change, in a sentence ("registered 'calc' at tcp://...", "dropped 'calc'
    /// (its connection ended)"); called under the binder's lock, so it must not call the binder.
    std::function<void(const std::string&)> log;
};

class binder {
public:
    /// Binds `address` (any ipckit address; tcp port 0 picks one). Throws ipckit::error as
    /// server's constructor does. Serves nothing until start() or run().
    explicit binder(std::string_view address, binder_options o = {})
        : max_names_(o.max_names), log_(std::move(o.log)), server_(address, std::move(o.server)) {
        server_.bind(std::string(detail::rpc::register_method),
                     [this](const origin& from, std::string name, std::string at) { put(from, name, at); });
        server_.bind(std::string(detail::rpc::lookup_method),
                     [this](std::string name) { return find(name); }, idempotent);
        server_.bind(std::string(detail::rpc::unregister_method),
                     [this](const origin& from, std::string name) { return drop(from, name); });
        server_.on_disconnect([this](std::uint64_t connection) { forget(connection); });
    }

    /// Serves in the background until stop().
    void start() { server_.start(); }
    /// Serves until stop() is called from another thread.
    void run() { server_.run(); }
    void stop() noexcept { server_.stop(); }

    /// The address bound (with the real port).
    [[nodiscard]] std::string address() const { return server_.address(); }
    /// The names held now, and where.
    [[nodiscard]] std::map<std::string, std::string> names() const {
        std::lock_guard lock(m_);
        std::map<std::string, std::string> out;
        for (const auto& [name, e] : entries_) out.emplace(name, e.address);
        return out;
    }

private:
    struct entry {
        std::string address;
        std::uint64_t connection;
    };

    void put(const origin& from, const std::string& name, const std::string& address) {
        check(name);
        if (address.size() > detail::rpc::max_binder_address)
            throw detail::rpc::refusal(errc_t::invalid_argument,
                                       "the address is " + std::to_string(address.size()) + " characters long, more than the " +
                                           std::to_string(detail::rpc::max_binder_address) + " a binder keeps");
        // What a binder keeps, it prints and hands to every client that asks: printable ASCII
        // only, since beyond it lie C1 controls (U+0080 to U+009F) that a terminal acts on.
        if (const auto c = std::find_if(address.begin(), address.end(),
                                        [](char x) {
                                            const auto u = static_cast<unsigned char>(x);
                                            return u < 0x20 || u >= 0x7f;
                                        });
            c != address.end())
            throw detail::rpc::refusal(errc_t::invalid_argument,
                                       "the address '" + detail::quoted(address) +
                                           "' holds a control character or a byte beyond ASCII (byte " +
                                           std::to_string(c - address.begin()) + "); register a printable ASCII address");
        try {
            (void)ipckit::parse_address(address);
        } catch (const ipckit::error& e) {
            throw detail::rpc::refusal(errc_t::invalid_argument, e.what());
        }
        std::lock_guard lock(m_);
        if (!from.open()) return;  // its connection ended: on_disconnect has dropped, or will drop, its names
        const auto it = entries_.find(name);
        if (it != entries_.end()) {
            if (it->second.connection != from.connection())
                throw detail::rpc::refusal(errc_t::name_taken, "'" + name + "' is held by another live server, at " +
                                                                   it->second.address + "; choose another name, or stop that server");
            it->second.address = address;  // the same server again: where it is now
            say("registered '" + name + "' again, at " + address);
            return;
        }
        auto& held = held_[from.connection()];
        if (held >= max_names_)
            throw detail::rpc::refusal(errc_t::no_space, "this connection holds " + std::to_string(held) + " names, the most a binder allows one connection "
                                                         "(binder_options::max_names); unregister one first");
        ++held;
        entries_.emplace(name, entry{address, from.connection()});
        say("registered '" + name + "' at " + address);
    }

    std::optional<std::string> find(const std::string& name) const {
        check(name);
        std::lock_guard lock(m_);
        const auto it = entries_.find(name);
        if (it == entries_.end()) return std::nullopt;
        return it->second.address;
    }

    bool drop(const origin& from, const std::string& name) {
        check(name);
        std::lock_guard lock(m_);
        const auto it = entries_.find(name);
        if (it == entries_.end()) return false;
        if (it->second.connection != from.connection())
            throw detail::rpc::refusal(errc_t::permission_denied, "'" + name + "' is held by another server, at " + it->second.address +
                                                                      "; only the connection that registered a name may unregister it");
        erase(it);
        say("unregistered '" + name + "'");
        return true;
    }

    /// on_disconnect: the connection's names go with it.
    void forget(std::uint64_t connection) {
        std::lock_guard lock(m_);
        if (held_.find(connection) == held_.end()) return;
        for (auto it = entries_.begin(); it != entries_.end();) {
            auto next = std::next(it);
            if (it->second.connection == connection) {
                say("dropped '" + it->first + "' at " + it->second.address + ": its server's connection ended");
                erase(it);
            }
            it = next;
        }
    }

    /// Under m_.
    void erase(std::map<std::string, entry, std::less<>>::iterator it) {
        const auto h = held_.find(it->second.connection);
        if (h != held_.end() && --h->second == 0) held_.erase(h);
        entries_.erase(it);
    }

    static void check(const std::string& name) {
        try {
            detail::rpc::check_server_name(name);
        } catch (const ipckit::error& e) {
            throw detail::rpc::refusal(e.reason(), e.what());
        }
    }

    void say(const std::string& what) const {
        if (log_) log_(what);
    }

    using errc_t = ipckit::errc;

    const std::size_t max_names_;
    const std::function<void(const std::string&)> log_;
    mutable std::mutex m_;
    std::map<std::string, entry, std::less<>> entries_;
    std::map<std::uint64_t, std::size_t> held_;  // names per connection
    server server_;  // last: its threads end before what they use goes
};

}  // namespace ipckit::rpc
