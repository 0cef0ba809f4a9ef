#pragma once
// The names of direct links, and finding them in /dev/shm.
//
// A link from member `from` (incarnation fi) to member `to` (incarnation ti) of domain d is the
// queue segment
//
//     d.from.to.<fi in hex>.<ti in hex>
//
// Neither domain nor member names may hold '.', so a link's name parses back into its five parts,
// and no domain or link name collides with another. A new incarnation of either end names a new
// link, which is how a restarted peer gets a fresh one.
//
// list_links() lists the domain's segments (a directory read, through segment.hpp): set-up only,
// a receiver looking for new incoming links after its link counter moved, or a sweep of stale
// links at join and leave.

#include <ipckit/segment.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipckit::detail {

/// A link's segment name and the parts it is made of.
struct link_name {
    std::string segment;  ///< "domain.from.to.fi.ti"
    std::string from;
    std::string to;
    std::uint64_t from_incarnation = 0;
    std::uint64_t to_incarnation = 0;
};

inline std::string to_hex(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
    return buf;
}

/// The segment name of the link from (from, fi) to (to, ti) in `domain`.
inline std::string make_link_name(std::string_view domain, std::string_view from, std::uint64_t fi,
                                  std::string_view to, std::uint64_t ti) {
    std::string s(domain);
    s += '.';
    s += from;
    s += '.';
    s += to;
    s += '.';
    s += to_hex(fi);
    s += '.';
    s += to_hex(ti);
    return s;
}

inline std::optional<std::uint64_t> parse_hex(std::string_view s) noexcept {
    if (s.empty() || s.size() > 16) return std::nullopt;
    std::uint64_t v = 0;
    for (const char c : s) {
        unsigned d;
        if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
        else return std::nullopt;
        v = v * 16 + d;
    }
    return v;
}

/// Parses a segment name "domain.from.to.fi.ti" of `domain`; nullopt for anything else.
inline std::optional<link_name> parse_link_name(std::string_view domain, std::string_view segment) {
    std::string_view name = segment;
    if (name.size() <= domain.size() + 1 || name.substr(0, domain.size()) != domain || name[domain.size()] != '.')
        return std::nullopt;
    name.remove_prefix(domain.size() + 1);
    std::string_view parts[4];
    for (int i = 0; i < 4; ++i) {
        const auto dot = name.find('.');
        if ((i < 3) != (dot != std::string_view::npos)) return std::nullopt;
        parts[i] = name.substr(0, dot);
        if (parts[i].empty()) return std::nullopt;
        name = i < 3 ? name.substr(dot + 1) : std::string_view{};
    }
    const auto fi = parse_hex(parts[2]);
    const auto ti = parse_hex(parts[3]);
    if (!fi || !ti) return std::nullopt;
    return link_name{std::string(segment), std::string(parts[0]), std::string(parts[1]), *fi, *ti};
}

/// The links of `domain` that exist now.
inline std::vector<link_name> list_links(std::string_view domain) {
    std::vector<link_name> out;
    for (const auto& n : segment_names(std::string(domain) + ".")) {
        if (auto l = parse_link_name(domain, n)) out.push_back(std::move(*l));
    }
    return out;
}

}  // namespace ipckit::detail
