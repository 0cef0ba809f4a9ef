// ipckit watch [PATTERN...] [--interval S] [--iterations N]
//
// Each refresh lists the segments again and shows their depth, and the rate at which messages
// (bytes, for queues of bytes<Max>) were sent and received since the refresh before: the change
// of the queues' monotonic indices over the time between the two looks. On a terminal each
// refresh replaces the last, as top does; otherwise refreshes follow one another.

#include "commands.hpp"
#include "render.hpp"

#include <ipckit/inspect.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include <unistd.h>

namespace ipckit_tool {

namespace {

using steady = std::chrono::steady_clock;

/// A segment's counters at one refresh.
struct sample {
    steady::time_point at;
    std::optional<std::uint64_t> sent;
    std::optional<std::uint64_t> received;
    bool bytes = false;
    std::uint64_t created = 0;  // a segment created again under the same name starts anew
};

sample sample_of(const ipckit::segment_info& s, steady::time_point at) {
    const bool bytes = !s.sent_messages && s.sent_bytes;
    return {at, bytes ? s.sent_bytes : s.sent_messages, bytes ? s.received_bytes : s.received_messages, bytes,
            s.created ? static_cast<std::uint64_t>(s.created->time_since_epoch().count()) : 0};
}

std::string rate(const std::optional<std::uint64_t>& now, const std::optional<std::uint64_t>& before, double seconds,
                 bool bytes) {
    if (!now || !before || *now < *before || seconds <= 0) return "-";
    const double r = static_cast<double>(*now - *before) / seconds;
    if (bytes) return human_bytes(static_cast<std::uint64_t>(r)) + "/s";
    char buf[32];
    if (r < 1000)
        std::snprintf(buf, sizeof buf, "%.0f", r);
    else if (r < 1e6)
        std::snprintf(buf, sizeof buf, "%.1fk", r / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%.1fM", r / 1e6);
    return buf;
}

}  // namespace

int run_watch(const watch_settings& s) {
    // A name asked for must be there, and readable by this user (as inspect and list have it).
    for (const auto& p : s.patterns) {
        if (!plain(p)) continue;
        try {
            const auto info = ipckit::inspect(p);
            if (info.status != ipckit::segment_status::unreadable) continue;
            complain("watch", "'" + p + "' " + info.problem);
        } catch (const ipckit::error& e) {
            complain("watch", e.reason() == ipckit::errc::not_found ? "no segment '" + p + "'" : std::string(e.what()));
        }
        return exit_failed;
    }
    const bool terminal = ::isatty(STDOUT_FILENO) == 1;
    std::map<std::string, sample> last;
    for (std::uint64_t refresh = 1; s.iterations == 0 || refresh <= s.iterations; ++refresh) {
        if (refresh > 1) std::this_thread::sleep_for(std::chrono::duration<double>(s.interval));
        const auto now = steady::now();
        std::map<std::string, sample> seen;
        table t({"NAME", "KIND", "DEPTH", "SENT/s", "RECEIVED/s", "SENDERS", "RECEIVERS", "REMARK"});
        for (const auto& seg : ipckit::list_segments()) {
            if (!matches(s.patterns, seg.name) || (folded(seg) && !named(s.patterns, seg.name))) continue;
            const sample cur = sample_of(seg, now);
            std::string sent = "-", received = "-";
            if (const auto it = last.find(seg.name); it != last.end() && it->second.created == cur.created) {
                const double dt = std::chrono::duration<double>(now - it->second.at).count();
                sent = rate(cur.sent, it->second.sent, dt, cur.bytes);
                received = rate(cur.received, it->second.received, dt, cur.bytes);
            }
            t.add({seg.name, ipckit::to_string(seg.kind), depth_text(seg), sent, received,
                   endpoints_text(seg, "sender"), endpoints_text(seg, "receiver"), remark(seg)});
            seen.emplace(seg.name, cur);
        }
        std::ostringstream frame;
        frame << "ipckit watch: " << seen.size() << (seen.size() == 1 ? " segment" : " segments") << ", refresh "
              << refresh << ", every " << s.interval
              << " s, " << local_time(std::chrono::system_clock::now()) << "\n\n";
        t.print(frame);
        std::cout << (terminal ? "\x1b[H\x1b[2J" : (refresh > 1 ? "\n" : "")) << frame.str() << std::flush;
        if (!std::cout) return exit_failed;  // main says why
        last = std::move(seen);
    }
    return exit_ok;
}

}  // namespace ipckit_tool
