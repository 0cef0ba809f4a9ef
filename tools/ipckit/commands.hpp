#pragma once
// The commands of the `ipckit` program, one file each; main.cpp parses the command line into
// these settings and calls them. Each returns the program's exit code.

#include <ipckit/segment_info.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ipckit_tool {

/// The exit codes, as git has them.
inline constexpr int exit_ok = 0;      ///< everything asked for was done
inline constexpr int exit_failed = 1;  ///< some target failed: not found, refused, unreadable...
inline constexpr int exit_usage = 2;   ///< the command line itself was wrong

struct list_settings {
    std::vector<std::string> patterns;  ///< names or shell patterns; none: every segment
    bool json = false;
    bool all = false;  ///< the table shows each chunk of an unbounded queue too
};
struct inspect_settings {
    std::string name;
    bool json = false;
    bool domain = false;  ///< `ipckit domain`: the name must be a domain
};
struct watch_settings {
    std::vector<std::string> patterns;
    double interval = 1.0;        ///< seconds between refreshes
    std::uint64_t iterations = 0;  ///< refreshes before it ends; 0: until interrupted
};
struct remove_settings {
    std::vector<std::string> names;  ///< names to remove, or with `stale`, patterns to look among
    bool stale = false;
    bool dry_run = false;
    bool force = false;
};

struct binder_settings {
    std::string listen;           ///< the address the binder serves on
    std::size_t max_names = 64;   ///< names one connection may hold
};

int run_list(const list_settings& s);
int run_inspect(const inspect_settings& s);
int run_watch(const watch_settings& s);
int run_remove(const remove_settings& s);
int run_binder(const binder_settings& s);

/// Whether `name` matches one of `patterns` (shell patterns: * ? [...]); all do if there are none.
bool matches(const std::vector<std::string>& patterns, std::string_view name);

/// Prints "ipckit <command>: <message>" on stderr.
void complain(std::string_view command, std::string_view message);

/// The processes that use `s` now: "process 12 (sender)", "process 13 (owner)"... Empty if
/// nobody does (a system_owned segment nobody has attached, a stale one).
std::vector<std::string> holders(const ipckit::segment_info& s);

}  // namespace ipckit_tool
