#include "commands.hpp"

#include <fnmatch.h>

#include <iostream>
#include <string>

namespace ipckit_tool {

bool matches(const std::vector<std::string>& patterns, std::string_view name) {
    if (patterns.empty()) return true;
    const std::string n(name);
    for (const auto& p : patterns)
        if (::fnmatch(p.c_str(), n.c_str(), 0) == 0) return true;
    return false;
}

void complain(std::string_view command, std::string_view message) {
    std::cerr << "ipckit " << command << ": " << message << '\n';
}

std::vector<std::string> holders(const ipckit::segment_info& s) {
    std::vector<std::string> who;
    const auto add = [&](std::uint32_t pid, const std::string& as) {
        who.push_back("process " + std::to_string(pid) + " (" + as + ")");
    };
    if (s.status == ipckit::segment_status::initializing && s.creator_alive == true) add(s.creator_pid, "creating it");
    if (s.owner_alive == true) add(s.owner_pid, "owner");
    for (const auto& e : s.endpoints)
        if (e.state == ipckit::endpoint_state::alive) add(e.pid, e.role);
    for (const auto& m : s.members)
        if (m.alive) add(m.pid, "member " + m.name);
    return who;
}

}  // namespace ipckit_tool
