// ipckit: list, inspect, watch and safely clean up ipckit's shared-memory segments; run the rpc binder.
//
//   ipckit list [PATTERN...] [--json]          every segment (or those matching), stale ones marked
//   ipckit inspect NAME [--json]               everything about one segment
//   ipckit watch [PATTERN...] [--interval S]   depth and message rates, refreshed like top
//   ipckit rm NAME... [--force] [--dry-run]    remove segments whole (queues with their chunks,
//                                              domains with their links); live ones need --force
//   ipckit rm --stale [PATTERN...] [--dry-run] remove only stale segments, safely
//   ipckit domain DOMAIN [--json]              a domain's members and links
//   ipckit binder --listen ADDRESS             the rpc binder: servers register names, clients look them up
//
// Exit status: 0 ok, 1 some target failed (or the output could not be written), 2 usage. See
// README.md, "Inspecting and cleaning up".

#include "commands.hpp"

#include <CLI/CLI.hpp>

#include <charconv>
#include <csignal>
#include <cstdint>
#include <exception>
#include <iostream>
#include <string>
#include <system_error>

#include <unistd.h>

namespace {

/// A look maps a segment at the size it has then, and reads it; if a process that is not ipckit
/// truncates it meanwhile (ipckit never shrinks a segment), the read faults with SIGBUS. The
/// processes that use such a segment fault on it too, so rather than copy bodies that may be
/// gigabytes, the command ends, saying what happened. Only async-signal-safe calls here.
void on_sigbus(int) {
    static const char message[] =
        "ipckit: SIGBUS: a shared-memory segment shrank under this command (a process that is not ipckit "
        "truncated it; the processes that use it fault on it too): run the command again, and `ipckit list` "
        "reports what is left of that segment\n";
    ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
    (void)ignored;
    ::_exit(ipckit_tool::exit_failed);
}

void exit_on_sigbus() {
    struct sigaction sa {};
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, nullptr);
}

/// Every count the tool takes: decimal digits only, all of the text, from `lo` to `hi`, or a usage
/// error (exit 2) naming the option. CLI11's own conversion is strtoull in base 0, which reads
/// " -1" and "-1" as 2^64 - 1, "010" as 8 and "0x10" as 16; so the text is checked here, then
/// handed on in its plain decimal form (hence transform(), not check(), whose changes are dropped).
CLI::Validator whole_number(std::uint64_t lo, std::uint64_t hi, const std::string& meaning = "") {
    const std::string wanted = "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) + meaning;
    return CLI::Validator(
        [lo, hi, wanted](std::string& text) {
            std::uint64_t n = 0;
            const char* const last = text.data() + text.size();
            const auto [end, ec] = std::from_chars(text.data(), last, n);
            if (ec != std::errc{} || end != last || n < lo || n > hi) return "'" + text + "': give " + wanted;
            text = std::to_string(n);
            return std::string();
        },
        "N");
}

}  // namespace

int main(int argc, char** argv) {
    using namespace ipckit_tool;
    exit_on_sigbus();
    CLI::App app{"Lists, inspects, watches and safely cleans up ipckit's shared-memory segments (/dev/shm/ipckit.*), "
                 "and runs the rpc binder.",
                 "ipckit"};
    app.footer("Exit status: 0 ok, 1 some target failed (not found, in use, unreadable) or the output could not be "
               "written, 2 usage.\n"
               "Run `ipckit COMMAND --help` for each command's options.");
    app.require_subcommand(1, 1);

    list_settings ls;
    auto* list = app.add_subcommand("list", "List every segment, sorted by name; stale ones are marked.");
    list->add_option("pattern", ls.patterns, "Only segments whose names match (shell patterns: * ? [...])");
    list->add_flag("--json", ls.json, "Write JSON (schema 1; see README.md): every segment, chunks included");
    list->add_flag("--all,-a", ls.all, "Also show each chunk of an unbounded queue (its queue's row counts them)");

    inspect_settings is;
    auto* inspect = app.add_subcommand("inspect", "Show everything about one segment: what it holds, who is "
                                                  "attached, how full it is, whether it is stale.");
    inspect->add_option("name", is.name, "The segment's name")->required();
    inspect->add_flag("--json", is.json, "Write JSON (schema 1; see README.md)");

    inspect_settings ds;
    ds.domain = true;
    auto* domain = app.add_subcommand("domain", "Show a node domain's members, alive or not, and its links with "
                                                "their depth.");
    domain->add_option("domain", ds.name, "The domain's name")->required();
    domain->add_flag("--json", ds.json, "Write JSON (schema 1; see README.md)");

    watch_settings ws;
    // Far more than anyone waits for, yet a count that ends (a refresh a millisecond: eleven days).
    constexpr std::uint64_t max_iterations = 1'000'000'000;
    auto* watch = app.add_subcommand("watch", "Show depth and message rates per segment, refreshed like top "
                                              "(rates from the change of the queues' indices).");
    watch->add_option("pattern", ws.patterns, "Only segments whose names match (shell patterns); a plain name "
                                              "must exist");
    watch->add_option("--interval", ws.interval, "Seconds between refreshes (default 1)");
    watch->add_option("--iterations", ws.iterations, "Stop after this many refreshes, at most " +
                                                         std::to_string(max_iterations) +
                                                         " (default 0: until interrupted)")
        ->transform(whole_number(0, max_iterations, " (0: until interrupted)"));

    remove_settings rs;
    auto* rm = app.add_subcommand("rm", "Remove segments: an unbounded queue with all its chunks, a domain with "
                                        "its links. A segment in use, one that a process may be creating, one whose "
                                        "users cannot be told (damaged, not ipckit's, unreadable, or its layout "
                                        "unknown) and a chunk that its queue still uses are refused unless --force. "
                                        "With --stale, remove only stale segments, "
                                        "judged again under each one's lock.");
    rm->add_option("name", rs.names, "Segments to remove; with --stale, patterns to look among (default: all)");
    auto* stale = rm->add_flag("--stale", rs.stale, "Remove only stale segments (see README.md)");
    rm->add_flag("--dry-run,-n", rs.dry_run, "Say what would be removed, and remove nothing");
    rm->add_flag("--force,-f", rs.force, "Remove named segments even while processes use them (a queue or mailbox is "
                "closed first: its endpoints wake and see closed once they have taken what it holds)")->excludes(stale);

    binder_settings bs;
    auto* binder = app.add_subcommand("binder", "Run an rpc binder, in the manner of rpcbind: rpc servers register "
                                                "their names and addresses (rpc::server::at_binder), clients look "
                                                "them up (rpc::client::at_binder); a name goes when its server "
                                                "disconnects. Serves until SIGINT or SIGTERM.");
    binder->add_option("--listen", bs.listen, "The address to serve on: tcp://HOST:PORT (port 0 picks one), "
                                              "unix:///PATH, unix://@NAME or shm://NAME")
        ->required();
    constexpr std::uint64_t max_names = std::uint64_t{1} << 20;
    binder->add_option("--max-names", bs.max_names, "Names one server (connection) may hold at once, at most " +
                                                        std::to_string(max_names) + " (default 64)")
        ->transform(whole_number(1, max_names));

    try {
        app.parse(argc, argv);
        if (*rm && !rs.stale && rs.names.empty())
            throw CLI::ValidationError("rm", "name the segments to remove, or give --stale");
        if (*watch && !(ws.interval > 0 && ws.interval <= 86400))
            throw CLI::ValidationError("--interval", "give a number of seconds above 0 (and at most a day)");
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    }

    const std::string command = app.get_subcommands().front()->get_name();
    int rc = exit_failed;
    try {
        if (*list)
            rc = run_list(ls);
        else if (*inspect)
            rc = run_inspect(is);
        else if (*domain)
            rc = run_inspect(ds);
        else if (*watch)
            rc = run_watch(ws);
        else if (*binder)
            rc = run_binder(bs);
        else
            rc = run_remove(rs);
    } catch (const std::exception& e) {  // /dev/shm cannot be listed...
        complain(command, e.what());
    }
    return output_written(command, rc);
}
