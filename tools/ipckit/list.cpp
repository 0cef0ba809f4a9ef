// ipckit list [PATTERN...] [--json] [--all]

#include "commands.hpp"
#include "json.hpp"
#include "render.hpp"

#include <ipckit/inspect.hpp>

#include <iostream>

namespace ipckit_tool {

int run_list(const list_settings& s) {
    std::vector<ipckit::segment_info> shown;
    for (auto& seg : ipckit::list_segments())
        if (matches(s.patterns, seg.name)) shown.push_back(std::move(seg));
    if (s.json)
        std::cout << json_text(list_document(shown)) << '\n';
    else
        print_list(std::cout, shown, s.all, s.patterns);
    return check_named("list", s.patterns, shown);
}

}  // namespace ipckit_tool
