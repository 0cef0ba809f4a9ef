#pragma once
// What a binder and its callers agree on (binder.hpp serves it; client::at_binder and
// server::at_binder call it): three MessagePack-RPC methods, so that a client in another
// language can look names up too.
//
//   register(name: string, address: string) -> nil    the calling connection holds `name`
//                                                      at `address` until it unregisters it
//                                                      or ends (closed or peer_dead)
//   lookup(name: string) -> string or nil               nil: no server holds it now
//   unregister(name: string) -> bool                    false: this connection did not hold it
//
// A refusal is a remote error whose sentence starts with an ipckit::errc's name and ": ", e.g.
// "name_taken: 'calc' is held by another server, at tcp://10.0.0.2:41234" (refusal_codes below),
// which read_refusal turns back into that errc. Names follow in_domain's rule (1 to 32 of
// [A-Za-z0-9_-]), checked on both sides.

#include <ipckit/detail/node/registry.hpp>
#include <ipckit/detail/rpc/options.hpp>
#include <ipckit/detail/rpc/result.hpp>
#include <ipckit/error.hpp>
#include <ipckit/node_options.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace ipckit::detail::rpc {

inline constexpr std::string_view register_method = "register";
inline constexpr std::string_view lookup_method = "lookup";
inline constexpr std::string_view unregister_method = "unregister";

/// The longest address a binder keeps.
inline constexpr std::size_t max_binder_address = 256;

/// Throws invalid_name unless `name` is a server's name (as in a domain).
inline void check_server_name(std::string_view name) { validate_node_name(name, max_member_name, "server"); }

/// The codes a binder refuses with, by the names its sentences start with.
inline constexpr std::pair<ipckit::errc, std::string_view> refusal_codes[] = {
    {ipckit::errc::name_taken, "name_taken"},
    {ipckit::errc::invalid_name, "invalid_name"},
    {ipckit::errc::invalid_argument, "invalid_argument"},
    {ipckit::errc::no_space, "no_space"},
    {ipckit::errc::permission_denied, "permission_denied"},
};

/// What a binder's handler throws to refuse: "<code>: <sentence>".
inline std::runtime_error refusal(ipckit::errc code, const std::string& sentence) {
    for (const auto& [c, word] : refusal_codes)
        if (c == code) return std::runtime_error(std::string(word) + ": " + sentence);
    return std::runtime_error(sentence);
}

/// A binder call that failed, as the ipckit::error set-up throws: a refusal with its own code; a
/// binder that did not answer (timed_out, peer_dead, not_sent, closed) with that; anything else
/// (unknown_method, bad_arguments: not a binder, or another version) as invalid_argument.
inline ipckit::error binder_failure(const ipckit::rpc::error& e, std::string_view binder, std::string_view doing) {
    const std::string at = "the binder at " + std::string(binder) + " ";
    if (e.code == ipckit::rpc::errc::remote)
        for (const auto& [code, word] : refusal_codes)
            if (e.message.size() > word.size() + 2 && e.message.compare(0, word.size(), word) == 0 &&
                e.message.compare(word.size(), 2, ": ") == 0)
                return {code, at + "refused to " + std::string(doing) + ": " + e.message.substr(word.size() + 2)};
    ipckit::errc code = ipckit::errc::invalid_argument;
    switch (e.code) {
    case ipckit::rpc::errc::timed_out: code = ipckit::errc::timed_out; break;
    case ipckit::rpc::errc::peer_dead: code = ipckit::errc::peer_dead; break;
    case ipckit::rpc::errc::not_sent:
    case ipckit::rpc::errc::closed: code = ipckit::errc::closed; break;
    default: break;
    }
    return {code, at + "did not " + std::string(doing) + " (" + ipckit::rpc::to_string(e.code) + ": " + e.message +
                      "); is it an ipckit binder (ipckit binder --listen ADDRESS), and running?"};
}

/// A client of the binder at `binder`; throws the ipckit::error connecting throws, naming the binder.
template <class Client>
Client reach_binder(std::string_view binder, const ipckit::rpc::client_options& o) {
    try {
        return Client(binder, o);
    } catch (const ipckit::error& e) {
        throw ipckit::error(e.reason(), "the binder at " + std::string(binder) + " is unreachable: " + e.what());
    }
}

/// The address of the server called `name` at the binder `binder` (reached by `b`); throws
/// not_found naming both when no server holds it, or as binder_failure says.
template <class Client>
std::string lookup_at_binder(Client& b, std::string_view binder, std::string_view name) {
    auto r = b.template call<std::optional<std::string>>(lookup_method, std::string(name));
    if (!r) throw binder_failure(r.error(), binder, "look up '" + std::string(name) + "'");
    if (!*r)
        throw ipckit::error(ipckit::errc::not_found, "no server named '" + std::string(name) + "' is registered at the binder " +
                                                          std::string(binder) +
                                                          ": start it (rpc::server::at_binder), or check both names");
    return std::move(**r);
}

/// A server's name held at a binder: registered when made, unregistered when it goes, and gone
/// from the binder anyway once this process ends (the binder drops what a connection held when
/// it ends). While both live, a keeper thread asks the binder for the name once per liveness
/// interval (client_options::net) and registers it again where it is missing: after the
/// connection to the binder broke, or the binder restarted empty, the name is back within about
/// that interval of the binder being reachable again. Where another server took the name
/// meanwhile, it asks again each interval until that one lets it go.
template <class Client>
class binder_registration {
public:
    /// Registers `name` at `address`; throws not_found (binder unreachable), name_taken,
    /// invalid_name, no_space, ... naming the binder.
    binder_registration(std::string_view binder, std::string_view name, const std::string& address,
                        const ipckit::rpc::client_options& o)
        : name_(name), address_(address), every_(usable(o.net).liveness_interval), client_(reach_binder<Client>(binder, o)) {
        auto r = client_.template call<void>(register_method, name_, address_);
        if (!r) throw binder_failure(r.error(), binder, "register '" + name_ + "' at " + address_);
        keeper_ = std::thread([this] { keep(); });
    }
    ~binder_registration() {
        {
            std::lock_guard lock(m_);
            stopping_ = true;
        }
        cv_.notify_all();
        keeper_.join();
        (void)client_.template call<bool>(unregister_method, name_, std::chrono::seconds(2));
        client_.close();
    }
    binder_registration(const binder_registration&) = delete;
    binder_registration& operator=(const binder_registration&) = delete;

private:
    /// The keeper thread: once per interval, the name back where the binder lost it (see above).
    /// A binder that does not answer, or refuses, is asked again next interval.
    void keep() {
        std::unique_lock lock(m_);
        while (!cv_.wait_for(lock, every_, [this] { return stopping_; })) {
            lock.unlock();
            auto found = client_.template call<std::optional<std::string>>(lookup_method, name_, every_);
            if (found && !*found) (void)client_.template call<void>(register_method, name_, address_, every_);
            lock.lock();
        }
    }

    std::string name_;
    std::string address_;
    std::chrono::milliseconds every_;
    Client client_;
    std::mutex m_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread keeper_;  // last: it ends before what it uses goes
};

}  // namespace ipckit::detail::rpc
