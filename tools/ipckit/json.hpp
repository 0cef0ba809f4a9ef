#pragma once
// The JSON the `ipckit` command writes with --json: schema 1, documented in README.md
// ("Inspecting and cleaning up"). Fields are added, never renamed or removed, within a schema.

#include <ipckit/segment_info.hpp>

#include <nlohmann/json.hpp>

#include <string>
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
/// A document as the command writes it, indented by 2. Bytes that are not UTF-8 (in a name, a
/// description, a member's name) become U+FFFD, so that one such segment does not stop a listing.
std::string json_text(const nlohmann::json& document);

}  // namespace ipckit_tool
