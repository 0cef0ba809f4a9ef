#include "json.hpp"

#include <cstdio>
#include <ctime>
#include <optional>
#include <string>

namespace ipckit_tool {

using nlohmann::json;

namespace {

template <class T>
json optional(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}
json text(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

/// ISO 8601 in UTC with milliseconds: "2025-06-01T12:34:56.789Z".
std::string utc(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[40];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03lldZ", static_cast<long long>(ms % 1000));
    return buf;
}

json process(std::uint32_t pid, const std::optional<bool>& alive) {
    if (pid == 0) return nullptr;
    return {{"pid", pid}, {"alive", optional(alive)}};
}

}  // namespace

json to_json(const ipckit::segment_info& s) {
    json j;
    j["name"] = s.name;
    j["path"] = s.path;
    j["kind"] = ipckit::to_string(s.kind);
    j["status"] = ipckit::to_string(s.status);
    j["problem"] = text(s.problem);
    j["note"] = text(s.note);
    j["description"] = text(s.description);
    j["message"] = s.message_type.empty()
                       ? json(nullptr)
                       : json{{"type", s.message_type}, {"size", s.message_size}, {"align", s.message_align}};
    j["capacity"] = s.capacity.empty() ? json(nullptr)
                                       : json{{"text", s.capacity},
                                              {"messages", optional(s.capacity_messages)},
                                              {"bytes", optional(s.capacity_bytes)}};
    j["max_senders"] = s.max_senders;
    j["max_receivers"] = s.max_receivers;
    j["delivery"] = text(s.delivery);
    j["mailbox_state"] = text(s.mailbox_state);
    j["ownership"] = text(s.ownership);
    j["owner"] = s.owner_alive ? process(s.owner_pid, s.owner_alive) : json(nullptr);
    j["creator"] = process(s.creator_pid, s.creator_alive);
    j["created"] = s.created ? json(utc(*s.created)) : json(nullptr);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", s.mode);
    j["file"] = {{"uid", s.uid}, {"mode", mode}, {"size", s.size_bytes}, {"allocated", s.allocated_bytes}};
    j["depth"] = {{"messages", optional(s.depth_messages)}, {"bytes", optional(s.depth_bytes)}};
    j["counters"] = {{"sent_messages", optional(s.sent_messages)},
                     {"received_messages", optional(s.received_messages)},
                     {"sent_bytes", optional(s.sent_bytes)},
                     {"received_bytes", optional(s.received_bytes)}};
    j["endpoints"] = json::array();
    for (const auto& e : s.endpoints)
        j["endpoints"].push_back({{"role", e.role},
                                  {"place", e.place},
                                  {"pid", e.pid == 0 ? json(nullptr) : json(e.pid)},
                                  {"state", ipckit::to_string(e.state)},
                                  {"lag", optional(e.lag)}});
    j["members"] = json::array();
    for (const auto& m : s.members)
        j["members"].push_back({{"name", text(m.name)},
                                {"slot", m.slot},
                                {"incarnation", m.incarnation},
                                {"pid", m.pid == 0 ? json(nullptr) : json(m.pid)},
                                {"alive", m.alive}});
    j["links"] = json::array();
    for (const auto& l : s.links)
        j["links"].push_back({{"name", l.name},
                              {"from", l.from},
                              {"to", l.to},
                              {"from_incarnation", l.from_incarnation},
                              {"to_incarnation", l.to_incarnation},
                              {"from_alive", l.from_alive},
                              {"to_alive", l.to_alive},
                              {"depth", {{"messages", optional(l.depth_messages)}, {"bytes", optional(l.depth_bytes)}}},
                              {"stale", l.stale}});
    if (s.chain) {
        const auto& c = *s.chain;
        j["chain"] = {{"base", c.base},
                      {"first_chunk", c.first_chunk},
                      {"next_chunk", c.next_chunk},
                      {"chunk_bytes", c.chunk_bytes},
                      {"cap_bytes", c.cap_bytes},
                      {"grower", process(c.grower_pid, c.grower_alive)},
                      {"retired", c.retired},
                      {"chunks", c.chunks}};
    } else {
        j["chain"] = nullptr;
    }
    j["queue"] = s.kind == ipckit::segment_kind::unbounded_chunk ? text(s.queue) : json(nullptr);
    j["domain"] = s.kind == ipckit::segment_kind::link ? text(s.queue) : json(nullptr);
    j["chunk_index"] = optional(s.chunk_index);
    j["stale"] = s.stale;
    j["stale_reason"] = text(s.stale_reason);
    return j;
}

json list_document(const std::vector<ipckit::segment_info>& segments) {
    json list = json::array();
    for (const auto& s : segments) list.push_back(to_json(s));
    return {{"schema", json_schema}, {"segments", std::move(list)}};
}

json segment_document(const ipckit::segment_info& s) { return {{"schema", json_schema}, {"segment", to_json(s)}}; }

// Everything beyond ASCII as \uNNNN: a name in /dev/shm may hold C1 controls (U+0080 to U+009F),
// valid UTF-8 that JSON may carry raw and a terminal would act on.
std::string json_text(const json& document) { return document.dump(2, ' ', true, json::error_handler_t::replace); }

}  // namespace ipckit_tool
