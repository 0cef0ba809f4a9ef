#include "commands.hpp"

#include <ipckit/segment.hpp>

#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
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
        if (!plain(p)) continue;
        const auto s = std::find_if(segments.begin(), segments.end(), [&](const auto& seg) { return seg.name == p; });
        if (s == segments.end())
            complain(command, "no segment '" + p + "'");
        else if (s->status == ipckit::segment_status::unreadable)  // as inspect: asked for, and not read
            complain(command, "'" + p + "' " + s->problem);
        else
            continue;
        rc = exit_failed;
    }
    return rc;
}

void complain(std::string_view command, std::string_view message) {
    std::cerr << "ipckit " << command << ": " << printable(message) << '\n';
}

namespace {

/// The length of the UTF-8 sequence at the start of `s` that is a printable character: 0 if
/// it is not one (a byte that does not begin a valid sequence, an overlong form, a surrogate,
/// or a C1 control character, which some terminals take for the start of an escape sequence).
std::size_t printable_sequence(std::string_view s) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char b = byte(0);
    if (b >= 0x20 && b < 0x7f) return 1;
    const std::size_t n = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n == 0 || s.size() < n) return 0;
    std::uint32_t c = b & (0x7fu >> n);
    for (std::size_t i = 1; i < n; ++i) {
        if ((byte(i) & 0xc0) != 0x80) return 0;
        c = c << 6 | (byte(i) & 0x3fu);
    }
    const std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || (c >= 0x80 && c <= 0x9f)) return 0;
    return n;
}

}  // namespace

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        if (const std::size_t n = printable_sequence(text.substr(i)); n != 0) {
            out.append(text.substr(i, n));
            i += n;
            continue;
        }
        static const char hex[] = "0123456789abcdef";
        const auto b = static_cast<unsigned char>(text[i++]);
        out += "\\x";
        out += hex[b >> 4];
        out += hex[b & 0xf];
    }
    return out;
}

std::string cannot_inspect(const std::string& name, const ipckit::error& e) {
    const std::string path = std::string(ipckit::detail::sys::shm_dir) + ipckit::detail::os_name(name);
    if (e.reason() == ipckit::errc::not_found) return "no segment '" + name + "' (no " + path + ")";
    struct stat st {};
    if (e.reason() == ipckit::errc::invalid_name && name.find('/') == std::string::npos && ::lstat(path.c_str(), &st) == 0)
        return "'" + name + "' is not named as ipckit names its segments, so ipckit did not make it and leaves it alone; "
               "if it is not wanted, remove it by hand: rm -- '" + path + "'";
    return e.what();
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
    // What is not ipckit's, or cannot be opened, has no rosters this look could read; a live
    // process may still hold it (a queue whose magic was overwritten under its sender).
    if (s.status == segment_status::corrupt || s.status == segment_status::incompatible ||
        s.status == segment_status::foreign || s.status == segment_status::unreadable)
        return "it " + s.problem;
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
