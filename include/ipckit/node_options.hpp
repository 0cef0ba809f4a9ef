#pragma once
// What a node is set up with: its options, and the limits on the names of domains and members.

#include <ipckit/segment.hpp>

#include <cstddef>

namespace ipckit {

/// Longest member name; a name is 1 to this many of [A-Za-z0-9_-].
inline constexpr std::size_t max_member_name = 32;
/// Longest domain name; [A-Za-z0-9_-] as for members (no '.': link names use it as separator).
inline constexpr std::size_t max_domain_name = 48;

/// Set-up options of a node: those of its links, and the domain's capacity.
struct node_options : options {
    /// How many members the domain holds at once; fixed by the first member to join (creating
    /// the domain), and every later member must ask for the same.
    std::size_t members = 64;
};

}  // namespace ipckit
