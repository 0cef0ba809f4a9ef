#pragma once
// The commands of the `ipckit` program, one file each; main.cpp parses the command line into
// these settings and calls them. Each returns the program's exit code.

#include <ipckit/error.hpp>
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
/// Whether `pattern` is a plain name (no * ? [): one that must name a segment.
bool plain(std::string_view pattern);
/// Whether one of `patterns` is the plain name `name`: a segment asked for by name, never hidden.
bool named(const std::vector<std::string>& patterns, std::string_view name);
/// Complains "no segment 'x'" for each plain name among `patterns` that none of `segments` has,
/// and names each one that this user cannot read (unreadable); exit_failed if there was one,
/// else exit_ok.
int check_named(std::string_view command, const std::vector<std::string>& patterns,
                const std::vector<ipckit::segment_info>& segments);

/// Why `name` could not be looked at, as ipckit::inspect threw `e`: no such segment (naming the
/// file that is not there), or, for a name ipckit would never make that is there all the same
/// (list shows it as foreign), how to remove it by hand; else what `e` says.
std::string cannot_inspect(const std::string& name, const ipckit::error& e);

/// Prints "ipckit <command>: <message>" on stderr (printable).
void complain(std::string_view command, std::string_view message);

/// `text` as it may reach a terminal: control characters and bytes that are not UTF-8 written
/// as \xNN. Names in /dev/shm are anyone's bytes, and an escape sequence in one would act on
/// the terminal of whoever lists it.
std::string printable(std::string_view text);

/// The processes that use `s` now: "process 12 (sender)", "process 13 (owner)"... Empty if
/// nobody does (a system_owned segment nobody has attached, a stale one), or if that cannot be
/// told (holders_unknown).
std::vector<std::string> holders(const ipckit::segment_info& s);

/// Why it cannot be told which processes use `s`, or empty if it can: its rosters were not read
/// because it is damaged, of another layout version, not ipckit's (foreign: overwritten, or not
/// a plain file), cannot be opened by this user, or holds what this ipckit cannot read (a
/// description cut short in its header, a kind it does not know).
std::string holders_unknown(const ipckit::segment_info& s);

/// `rc`, or exit_failed (saying why on stderr) if what `command` wrote on stdout did not all
/// get there: a full disk, a closed pipe.
int output_written(std::string_view command, int rc);

}  // namespace ipckit_tool
