#pragma once
// Binding by name on one machine, without a daemon: a server joins a domain's shared-memory
// registry (detail/node/registry.hpp) under its name, and listens on an address made from the
// domain and the name; a client finds the name in the registry and connects there.
//
// The registry holds who holds each name (a live process, checked with the OS), and nothing
// else, so the address is derived, not stored: unix://@ipckit.rpc.<domain>.<name>, a socket in
// Linux's abstract namespace, which leaves no file behind and vanishes with its process. A
// server that dies frees its name at once (the registry sees a dead holder), and a restarted one
// takes it over. The domain is a registry of its own kind ("ipckit::rpc servers"): a node domain
// of the same name is incompatible_layout. Remove it with ipckit::remove_domain when done.

#include <ipckit/detail/node/membership.hpp>
#include <ipckit/detail/node/registry.hpp>
#include <ipckit/error.hpp>
#include <ipckit/node_options.hpp>

#include <string>
#include <string_view>

namespace ipckit::detail::rpc {

inline const std::string& servers_kind() {
    static const std::string kind = "ipckit::rpc servers";
    return kind;
}

/// Where the server called `name` in `domain` listens.
inline std::string domain_address(std::string_view domain, std::string_view name) {
    return "unix://@ipckit.rpc." + std::string(domain) + "." + std::string(name);
}

/// A server's claim on its name: held while it lives.
class advertisement {
public:
    advertisement(std::string_view domain, std::string_view name, const node_options& o)
        : member_(domain, name, o, servers_kind()) {}
    ~advertisement() { member_.leave(); }
    advertisement(const advertisement&) = delete;
    advertisement& operator=(const advertisement&) = delete;

private:
    membership member_;
};

/// The address of the live server called `name` in `domain`; throws not_found naming both. A
/// lookup creates nothing: a domain that does not exist is not_found too, naming the domain.
inline std::string lookup(std::string_view domain, std::string_view name, const node_options& o) {
    validate_node_name(name, max_member_name, "server");
    const registry r = [&] {
        try {
            return registry(registry::existing_only, domain, o.members, servers_kind(), o);
        } catch (const error& e) {
            if (e.reason() != errc::not_found) throw;
            throw error(errc::not_found, "no domain '" + std::string(domain) + "' on this machine, so no server named '" +
                                             std::string(name) + "' in it: start the server first (rpc::server::in_domain), "
                                             "or check the domain's name");
        }
    }();
    if (!r.find(name))
        throw error(errc::not_found, "no live server named '" + std::string(name) + "' in domain '" + std::string(domain) +
                                         "': start it (rpc::server::in_domain), or check both names");
    return domain_address(domain, name);
}

}  // namespace ipckit::detail::rpc
