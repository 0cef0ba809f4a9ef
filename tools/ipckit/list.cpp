// ipckit list [PATTERN...] [--json]

#include "commands.hpp"
#include "json.hpp"
#include "render.hpp"

#include <ipckit/inspect.hpp>

#include <algorithm>
#include <iostream>

namespace ipckit_tool {

int run_list(const list_settings& s) {
    std::vector<ipckit::segment_info> shown;
    for (auto& seg : ipckit::list_segments())
        if (matches(s.patterns, seg.name)) shown.push_back(std::move(seg));
    if (s.json)
        std::cout << list_document(shown).dump(2) << '\n';
    else
        print_list(std::cout, shown, s.all);
    // A plain name (no pattern characters) that names nothing is a target that failed.
    int rc = exit_ok;
    for (const auto& p : s.patterns) {
        if (p.find_first_of("*?[") != std::string::npos) continue;
        if (std::none_of(shown.begin(), shown.end(), [&](const auto& seg) { return seg.name == p; })) {
            complain("list", "no segment '" + p + "'");
            rc = exit_failed;
        }
    }
    return rc;
}

}  // namespace ipckit_tool
