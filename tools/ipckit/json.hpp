#pragma once
// The JSON the `ipckit` command writes with --json: schema 1, documented in README.md
// ("Inspecting and cleaning up"). Fields are added, never renamed or removed, within a schema.

#include <ipckit/segment_info.hpp>

#include <nlohmann/json.hpp>

#include <vector>

namespace ipckit_tool {

/// The version of the JSON schema; every document says it as "schema".
inline constexpr int json_schema = 1;

/// One segment, as every command writes it.
nlohmann::json to_json(const ipckit::segment_info& s);
/// `ipckit list --json`: {"schema": 1, "segments": [...]}.
nlohmann::json list_document(const std::vector<ipckit::segment_info>& segments);
/// `ipckit inspect --json`, `ipckit domain --json`: {"schema": 1, "segment": {...}}.
nlohmann::json segment_document(const ipckit::segment_info& s);

}  // namespace ipckit_tool
