// ipckit inspect NAME [--json], ipckit domain DOMAIN [--json]

#include "commands.hpp"
#include "json.hpp"
#include "render.hpp"

#include <ipckit/inspect.hpp>

#include <iostream>

namespace ipckit_tool {

int run_inspect(const inspect_settings& s) {
    const char* command = s.domain ? "domain" : "inspect";
    ipckit::segment_info info;
    try {
        info = ipckit::inspect(s.name);
    } catch (const ipckit::error& e) {
        complain(command, cannot_inspect(s.name, e));
        return exit_failed;
    }
    if (s.domain && info.kind != ipckit::segment_kind::domain) {
        complain(command, "'" + s.name + "' is not a domain: it is " +
                              (info.status == ipckit::segment_status::ok
                                   ? std::string("a ") + ipckit::to_string(info.kind)
                                   : std::string(ipckit::to_string(info.status)) + " (" + info.problem + ")"));
        return exit_failed;
    }
    if (s.json)
        std::cout << json_text(segment_document(info)) << '\n';
    else if (s.domain)
        print_domain(std::cout, info);
    else
        print_details(std::cout, info);
    return info.status == ipckit::segment_status::unreadable ? exit_failed : exit_ok;
}

}  // namespace ipckit_tool
