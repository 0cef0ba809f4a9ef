// ipckit rm NAME... [--force] [--dry-run], ipckit rm --stale [PATTERN...] [--dry-run]

#include "commands.hpp"

#include <ipckit/inspect.hpp>

#include <iostream>

namespace ipckit_tool {

namespace {

/// What goes with a segment when it is removed whole: " and its 3 chunks", " and its 2 links".
std::string parts(const ipckit::segment_info& s) {
    const auto n = s.chain ? s.chain->next_chunk - s.chain->first_chunk : s.links.size();
    if (n == 0 || (!s.chain && s.kind != ipckit::segment_kind::domain)) return "";
    return " and its " + std::to_string(n) + (s.chain ? " chunk" : " link") + (n == 1 ? "" : "s");
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
}

/// Why `rm NAME` leaves `s` unless forced, or empty if it may go: a process uses it, a process
/// may be creating it, nothing can tell whether one uses it, or it is a chunk that its queue
/// still leads to (removing it alone would break the queue for good). A stale one may go:
/// nothing can use it any more.
std::string refusal(const ipckit::segment_info& s) {
    const std::string name = "'" + s.name + "'";
    if (const auto who = holders(s); !who.empty())
        return name + " is in use by " + joined(who) + ": not removed. Stop those processes first, or use --force";
    if (s.stale) return "";
    // Not stale: still within a creator's grace, or a creator holds its lock. Which process that
    // is cannot be told before it writes its header (an empty object, or a header not begun).
    if (s.status == ipckit::segment_status::initializing)
        return name + " " + s.problem +
               ", and a process may be creating it right now: not removed. Run rm again once it is made, or use "
               "--force";
    if (const auto why = holders_unknown(s); !why.empty())
        return "cannot tell whether a process uses " + name + ": " + why + ". Not removed: --force removes it anyway";
    if (s.kind == ipckit::segment_kind::unbounded_chunk && s.status == ipckit::segment_status::ok)
        return name + " is chunk " + std::to_string(s.chunk_index.value_or(0)) + " of unbounded queue '" + s.queue +
               "', which still uses it: not removed (the queue would break without it). Remove the queue "
               "instead (ipckit rm " + s.queue + "), or use --force";
    return "";
}

int remove_named(const remove_settings& s) {
    int rc = exit_ok;
    for (const auto& name : s.names) {
        ipckit::segment_info info;
        try {
            info = ipckit::inspect(name);
        } catch (const ipckit::error& e) {
            complain("rm", cannot_inspect(name, e));
            rc = exit_failed;
            continue;
        }
        if (const auto refused = refusal(info); !refused.empty() && !s.force) {
            complain("rm", refused);
            rc = exit_failed;
            continue;
        }
        if (s.dry_run) {
            std::cout << "would remove " << printable(name) << parts(info) << '\n';
            continue;
        }
        try {
            if (ipckit::remove_any(name)) std::cout << "removed " << printable(name) << parts(info) << '\n';
        } catch (const std::exception& e) {
            complain("rm", e.what());
            rc = exit_failed;
        }
    }
    return rc;
}

int remove_stale_ones(const remove_settings& s) {
    const auto segments = ipckit::list_segments();
    int rc = check_named("rm", s.names, segments);
    std::size_t found = 0;
    for (const auto& info : segments) {
        if (!info.stale || !matches(s.names, info.name)) continue;
        ++found;
        if (s.dry_run) {
            std::cout << "would remove " << printable(info.name) << parts(info) << ": " << printable(info.stale_reason)
                      << '\n';
            continue;
        }
        try {
            std::string why;
            if (ipckit::remove_stale(info.name, &why))
                std::cout << "removed " << printable(info.name) << parts(info) << ": " << printable(why) << '\n';
            else if (why != "it is gone")  // went with its queue or domain, just before
                std::cout << "left " << printable(info.name) << ": " << printable(why) << '\n';
        } catch (const std::exception& e) {
            complain("rm", e.what());
            rc = exit_failed;
        }
    }
    if (found == 0) std::cout << "nothing is stale\n";
    return rc;
}

}  // namespace

int run_remove(const remove_settings& s) { return s.stale ? remove_stale_ones(s) : remove_named(s); }

}  // namespace ipckit_tool
