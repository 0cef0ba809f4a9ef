#include "render.hpp"

#include "commands.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <ostream>
#include <string>

namespace ipckit_tool {

using ipckit::endpoint_state;
using ipckit::segment_info;
using ipckit::segment_kind;
using ipckit::segment_status;

void table::print(std::ostream& out) const {
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : rows_) {
        rows.emplace_back();
        for (const auto& cell : row) rows.back().push_back(printable(cell));
    }
    std::vector<std::size_t> width;
    for (const auto& row : rows) {
        if (width.size() < row.size()) width.resize(row.size(), 0);
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out << line << '\n';
    }
}

std::string human_bytes(std::uint64_t n) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    std::size_t u = 0;
    double v = static_cast<double>(n);
    while (v >= 1024 && u + 1 < std::size(units)) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    else
        std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

std::string local_time(std::chrono::system_clock::time_point t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::localtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::string depth_text(const segment_info& s) {
    if (s.depth_messages && s.depth_bytes) return std::to_string(*s.depth_messages) + " (" + human_bytes(*s.depth_bytes) + ")";
    if (s.depth_messages) return std::to_string(*s.depth_messages);
    if (s.depth_bytes) return human_bytes(*s.depth_bytes);
    return "-";
}

std::string capacity_text(const segment_info& s) {
    if (s.kind == segment_kind::domain) return s.capacity;
    if (s.chain) return "unbounded";
    if (s.capacity_messages) return std::to_string(*s.capacity_messages);
    if (s.capacity_bytes) return human_bytes(*s.capacity_bytes);
    return "-";
}

std::string endpoints_text(const segment_info& s, const char* role) {
    std::size_t alive = 0, dead = 0, closed = 0;
    for (const auto& e : s.endpoints) {
        if (e.role != role) continue;
        (e.state == endpoint_state::alive ? alive : e.state == endpoint_state::dead ? dead : closed) += 1;
    }
    if (s.status != segment_status::ok || s.kind == segment_kind::domain || s.kind == segment_kind::unbounded_chunk ||
        !holders_unknown(s).empty())
        return alive + dead + closed == 0 ? "-" : std::to_string(alive);
    std::string text = std::to_string(alive);
    if (dead != 0) text += " +" + std::to_string(dead) + " dead";
    return text;
}

std::string remark(const segment_info& s) {
    if (s.stale) return "STALE: " + s.stale_reason;
    if (s.status != segment_status::ok) return s.problem;
    if (s.kind == segment_kind::domain) {
        const auto alive = std::count_if(s.members.begin(), s.members.end(), [](const auto& m) { return m.alive; });
        return std::to_string(alive) + " of " + std::to_string(s.members.size()) + " members alive, " +
               std::to_string(s.links.size()) + (s.links.size() == 1 ? " link" : " links");
    }
    if (s.kind == segment_kind::unbounded_chunk) return "chunk " + std::to_string(s.chunk_index.value_or(0)) + " of " + s.queue;
    if (!s.mailbox_state.empty() && s.mailbox_state != "open") return "mailbox " + s.mailbox_state;
    if (s.chain && s.note.empty()) {
        const std::uint64_t chunks = s.chain->next_chunk - s.chain->first_chunk;
        return std::to_string(chunks) + (chunks == 1 ? " chunk, " : " chunks, ") +
               human_bytes(chunks * s.chain->chunk_bytes) + " of " + human_bytes(s.chain->cap_bytes);
    }
    return s.note;
}

bool folded(const segment_info& s) {
    return s.kind == segment_kind::unbounded_chunk && !s.stale &&
           (s.status == segment_status::ok || s.status == segment_status::initializing);
}

void print_list(std::ostream& out, const std::vector<segment_info>& segments, bool all,
                const std::vector<std::string>& patterns) {
    table t({"NAME", "KIND", "STATUS", "DEPTH", "CAPACITY", "SENDERS", "RECEIVERS", "OWNERSHIP", "REMARK"});
    for (const auto& s : segments) {
        if (!all && folded(s) && !named(patterns, s.name)) continue;
        t.add({s.name, ipckit::to_string(s.kind), ipckit::to_string(s.status), depth_text(s), capacity_text(s),
               endpoints_text(s, "sender"), endpoints_text(s, "receiver"), s.ownership.empty() ? "-" : s.ownership,
               remark(s)});
    }
    t.print(out);
}

namespace {

std::string count(const std::optional<std::uint64_t>& n) { return n ? std::to_string(*n) : "-"; }

std::string plural(std::uint64_t n, const std::string& what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

std::string process(std::uint32_t pid, const std::optional<bool>& alive) {
    if (pid == 0) return "-";
    std::string text = "process " + std::to_string(pid);
    if (alive) text += *alive ? " (alive)" : " (dead)";
    return text;
}

void line(std::ostream& out, const char* key, const std::string& value) {
    if (value.empty()) return;
    std::string k = std::string(key) + ":";
    k.resize(std::max<std::size_t>(k.size() + 1, 14), ' ');
    out << k << printable(value) << '\n';
}

}  // namespace

void print_details(std::ostream& out, const segment_info& s) {
    line(out, "name", s.name);
    line(out, "path", s.path);
    line(out, "kind", ipckit::to_string(s.kind));
    line(out, "status", std::string(ipckit::to_string(s.status)) + (s.problem.empty() ? "" : ": " + s.problem));
    line(out, "note", s.note);
    line(out, "holds", s.description);
    if (!s.message_type.empty())
        line(out, "message", s.message_type == "bytes" && s.message_align <= 1
                                 ? "variable size, up to " + std::to_string(s.message_size) + " bytes"
                                 : s.message_type + " (" + std::to_string(s.message_size) + " B, align " +
                                       std::to_string(s.message_align) + ")");
    line(out, "capacity", s.capacity);
    if (s.max_senders != 0 && s.kind != segment_kind::domain)
        line(out, "endpoints", "up to " + plural(s.max_senders, "sender") + " and " + plural(s.max_receivers, "receiver"));
    line(out, "delivery", s.delivery);
    line(out, "mailbox", s.mailbox_state);
    line(out, "ownership", s.ownership);
    if (s.owner_alive) line(out, "owner", process(s.owner_pid, s.owner_alive) + (*s.owner_alive ? "" : ": it has ended"));
    line(out, "creator", s.creator_pid == 0 ? "" : process(s.creator_pid, s.creator_alive));
    if (s.created) line(out, "created", local_time(*s.created));
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", s.mode);
    line(out, "file", std::to_string(s.size_bytes) + " bytes, " + human_bytes(s.allocated_bytes) +
                          " in /dev/shm, owner uid " + std::to_string(s.uid) + ", mode " + mode);
    if (s.depth_messages || s.depth_bytes)
        line(out, "depth", (s.depth_messages ? std::to_string(*s.depth_messages) + " messages" : std::string()) +
                               (s.depth_messages && s.depth_bytes ? ", " : "") +
                               (s.depth_bytes ? std::to_string(*s.depth_bytes) + " bytes" : std::string()));
    if (s.sent_messages || s.received_messages)
        line(out, "messages", "sent " + count(s.sent_messages) + ", received " + count(s.received_messages));
    if (s.sent_bytes || s.received_bytes)
        line(out, "bytes", "sent " + count(s.sent_bytes) + ", received " + count(s.received_bytes));
    if (s.chain) {
        const auto& c = *s.chain;
        std::string chain = plural(c.next_chunk - c.first_chunk, "chunk") + " of " + human_bytes(c.chunk_bytes);
        if (c.next_chunk > c.first_chunk)
            chain += " (numbers " + std::to_string(c.first_chunk) + " to " + std::to_string(c.next_chunk - 1) +
                     " of base " + std::to_string(c.base) + ")";
        chain += ", cap " + human_bytes(c.cap_bytes);
        if (c.retired) chain += ", retired";
        if (c.grower_pid != 0)
            chain += ", process " + std::to_string(c.grower_pid) +
                     (c.grower_alive ? " creating the next" : " (dead) was creating the next");
        line(out, "chain", chain);
        if (c.chunks.size() == 1) line(out, "chunk", c.chunks.front());
        if (c.chunks.size() > 1) line(out, "chunks", c.chunks.front() + " to " + c.chunks.back());
    }
    if (s.kind == segment_kind::unbounded_chunk) line(out, "queue", s.queue + ", chunk " + count(s.chunk_index));
    if (s.kind == segment_kind::link) line(out, "domain", s.queue);
    line(out, "stale", s.stale ? "yes: " + s.stale_reason : "no");
    if (!s.endpoints.empty()) {
        out << "endpoints:\n";
        table t({"  ROLE", "PLACE", "PID", "STATE", "LAG"});
        for (const auto& e : s.endpoints)
            t.add({"  " + e.role, std::to_string(e.place), e.pid == 0 ? "-" : std::to_string(e.pid),
                   ipckit::to_string(e.state), count(e.lag)});
        t.print(out);
    }
    if (s.kind == segment_kind::domain) print_domain(out, s);
}

void print_domain(std::ostream& out, const segment_info& s) {
    if (s.status != segment_status::ok) return;
    const auto stale = std::count_if(s.links.begin(), s.links.end(), [](const auto& l) { return l.stale; });
    out << "domain " << printable(s.name) << ": " << printable(remark(s)) << " (" << stale << " stale), room for "
        << s.capacity << "\n";
    out << "members:\n";
    table members({"  NAME", "SLOT", "PID", "STATE", "INCARNATION"});
    for (const auto& m : s.members)
        members.add({"  " + (m.name.empty() ? std::string("(joining)") : m.name), std::to_string(m.slot),
                     m.pid == 0 ? "-" : std::to_string(m.pid), m.alive ? "alive" : "dead", std::to_string(m.incarnation)});
    members.print(out);
    out << "links:\n";
    table links({"  LINK", "FROM", "TO", "DEPTH", "STATE"});
    for (const auto& l : s.links) {
        const auto end = [](const std::string& who, bool alive) { return who + (alive ? "" : " (gone)"); };
        std::string depth = count(l.depth_messages);
        if (l.depth_bytes) depth += " (" + human_bytes(*l.depth_bytes) + ")";
        links.add({"  " + l.name, end(l.from, l.from_alive), end(l.to, l.to_alive), depth, l.stale ? "STALE" : "ok"});
    }
    links.print(out);
}

}  // namespace ipckit_tool
