#include "commands.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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

bool plain(std::string_view pattern) { return pattern.find_first_of("*?[") == std::string_view::npos; }

bool named(const std::vector<std::string>& patterns, std::string_view name) {
    return std::any_of(patterns.begin(), patterns.end(), [&](const auto& p) { return plain(p) && p == name; });
}

int check_named(std::string_view command, const std::vector<std::string>& patterns,
                const std::vector<ipckit::segment_info>& segments) {
    int rc = exit_ok;
    for (const auto& p : patterns) {
        if (!plain(p) || std::any_of(segments.begin(), segments.end(), [&](const auto& s) { return s.name == p; }))
            continue;
        complain(command, "no segment '" + p + "'");
        rc = exit_failed;
    }
    return rc;
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

std::string holders_unknown(const ipckit::segment_info& s) {
    using ipckit::segment_status;
    if (s.status == segment_status::corrupt || s.status == segment_status::incompatible) return "it " + s.problem;
    // Every kind whose layout was read says its capacity, but a chunk, which has no rosters.
    if (s.status == segment_status::ok && s.kind != ipckit::segment_kind::unbounded_chunk && s.capacity.empty())
        return s.note.empty() ? std::string("its layout cannot be read") : s.note;
    return "";
}

int output_written(std::string_view command, int rc) {
    std::cout.flush();
    if (std::cout) return rc;
    const int e = errno;
    complain(command, "could not write its output" + (e == 0 ? std::string() : ": " + std::string(std::strerror(e))));
    return exit_failed;
}

}  // namespace ipckit_tool
