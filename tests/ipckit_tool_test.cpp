// The `ipckit` command (tools/ipckit), run as a program the way a user runs it: its output, its
// JSON (parsed here), its exit codes, across real processes that are killed at the wrong moment,
// and on segments that are damaged, truncated or not ipckit's at all.

#include "catch.hpp"
#include "inspect_support.hpp"
#include "messages.hpp"
#include "node_support.hpp"
#include "support.hpp"
#include "unbounded_support.hpp"

#include <ipckit/inspect.hpp>
#include <ipckit/ipckit.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef IPCKIT_TOOL
#error "IPCKIT_TOOL must name the ipckit program (tests/CMakeLists.txt defines it)"
#endif

using namespace ipckit_test;
using nlohmann::json;

namespace {

struct tool_run {
    int code = -1;  ///< exit status, or 1000 + the signal that ended it
    std::string out;
    std::string err;
};

/// How ipckit_tool runs the program, beyond its arguments.
struct run_options {
    const char* stdout_file = nullptr;  ///< its standard output goes to this file (and `out` stays empty)
    uid_t user = 0;                     ///< if not 0, it runs as this user (the tests run as root, or not)
    std::string signal_after;           ///< once its standard output holds this, it is sent `signal`
    int signal = 0;
};

/// Runs `ipckit args...` and collects its output and exit status.
tool_run ipckit_tool(const std::vector<std::string>& args, const run_options& o) {
    int out[2], err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    std::vector<char*> argv{const_cast<char*>(IPCKIT_TOOL)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int file = o.stdout_file == nullptr ? -1 : ::open(o.stdout_file, O_WRONLY | O_CLOEXEC);
        if (o.stdout_file != nullptr && file < 0) ::_exit(126);
        if (o.user != 0 && (::setgroups(0, nullptr) != 0 || ::setgid(o.user) != 0 || ::setuid(o.user) != 0))
            ::_exit(125);
        ::dup2(file < 0 ? out[1] : file, STDOUT_FILENO);
        ::dup2(err[1], STDERR_FILENO);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    tool_run r;
    bool signalled = o.signal == 0;
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    std::string* sinks[2] = {&r.out, &r.err};
    for (int open = 2; open > 0;) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            char buf[4096];
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                sinks[i]->append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open;
            }
        }
        if (!signalled && contains(r.out, o.signal_after)) {
            ::kill(pid, o.signal);
            signalled = true;
        }
    }
    r.code = wait_child(pid);
    return r;
}

/// Runs `ipckit args...`; with `stdout_file`, its standard output goes to that file instead.
tool_run ipckit_tool(const std::vector<std::string>& args, const char* stdout_file = nullptr) {
    run_options o;
    o.stdout_file = stdout_file;
    return ipckit_tool(args, o);
}

/// Runs `ipckit args... --json`, expects exit status 0, and parses what it wrote.
json ipckit_json(std::vector<std::string> args) {
    args.push_back("--json");
    const auto r = ipckit_tool(args);
    INFO(r.err);
    REQUIRE(r.code == 0);
    json j = json::parse(r.out);
    REQUIRE(j.at("schema") == 1);
    return j;
}

/// The segment of `list --json names...` called `name`.
json listed_json(const std::string& name) {
    const json list = ipckit_json({"list", name});
    REQUIRE(list.at("segments").size() == 1);
    return list.at("segments").at(0);
}

std::size_t count_endpoints(const json& s, const std::string& role, const std::string& state) {
    return static_cast<std::size_t>(std::count_if(s.at("endpoints").begin(), s.at("endpoints").end(),
                                                  [&](const json& e) { return e.at("role") == role && e.at("state") == state; }));
}

/// Every field README.md documents for schema 1 is there, with the right JSON type.
void check_schema(const json& s) {
    for (const char* key : {"name", "path", "kind", "status"}) CHECK(s.at(key).is_string());
    for (const char* key : {"problem", "note", "description", "message", "capacity", "delivery", "mailbox_state",
                            "ownership", "owner", "creator", "created", "chain", "queue", "domain", "chunk_index",
                            "stale_reason"})
        CHECK(s.contains(key));
    CHECK(s.at("max_senders").is_number_unsigned());
    CHECK(s.at("max_receivers").is_number_unsigned());
    CHECK(s.at("file").at("size").is_number_unsigned());
    CHECK(s.at("file").at("mode").is_string());
    CHECK(s.at("depth").contains("messages"));
    CHECK(s.at("depth").contains("bytes"));
    for (const char* key : {"sent_messages", "received_messages", "sent_bytes", "received_bytes"})
        CHECK(s.at("counters").contains(key));
    CHECK(s.at("endpoints").is_array());
    CHECK(s.at("members").is_array());
    CHECK(s.at("links").is_array());
    CHECK(s.at("stale").is_boolean());
}

/// Its queue's description does not fit the header's 200 characters: nothing can read its layout.
struct a_message_whose_type_name_is_so_long_that_the_description_of_its_queue_is_cut_short_in_the_header_of_the_segment_and_nothing_can_read_its_rosters {
    std::uint64_t v;
};

/// The row of `name` in a table that `ipckit list` wrote, split at spaces; empty if there is none.
std::vector<std::string> row_of(const std::string& table, const std::string& name) {
    for (std::size_t at = 0; at < table.size();) {
        const std::size_t end = std::min(table.find('\n', at), table.size());
        if (table.compare(at, name.size() + 1, name + " ") == 0) {
            std::vector<std::string> cells;
            std::istringstream words(table.substr(at, end - at));
            for (std::string w; words >> w;) cells.push_back(w);
            return cells;
        }
        at = end + 1;
    }
    return {};
}

using Q = ipckit::queue<tick, ipckit::bounded<64>>;
using S = ipckit::queue<tick, ipckit::bounded<64>, ipckit::single, ipckit::single, ipckit::adaptive,
                        ipckit::system_owned>;
using U = ipckit::queue<tick, ipckit::unbounded<4096>, ipckit::single, ipckit::single, ipckit::adaptive,
                        ipckit::system_owned>;

/// Creates the unbounded queue `name` with ticks 0..slots_per_chunk in it: two chunks, which it
/// keeps when nobody is attached.
U unbounded_with_two_chunks(const std::string& name) {
    ipckit::unbounded_options opt;
    opt.cap_bytes = 16 * 4096;
    auto u = U::create(name, opt);
    auto tx = u.sender();
    REQUIRE(send_all(tx, 0, U::slots_per_chunk + 1) == as_expected);
    return u;
}

}  // namespace

TEST_CASE("ipckit list and inspect show a queue of a known type with the right depth after k sends", "[process]") {
    scoped_name name("tool");
    auto q = Q::create(name);
    constexpr std::uint64_t k = 17;
    signal_pipe sent, hold;
    child_report report;
    child sender = report.spawn([&](child_report& r) {
        auto tx = Q::open(name).sender();
        r.expect(send_all(tx, 0, k));
        sent.post_value(static_cast<std::uint64_t>(::getpid()));
        r.block_until_killed(hold);
    });
    sent.close_write();
    const auto pid = sent.wait_value();
    if (!pid) CHECK(report.ended(sender.kill()) == as_expected);
    REQUIRE(pid);
    for (const json& s : {listed_json(name), ipckit_json({"inspect", name}).at("segment")}) {
        check_schema(s);
        CHECK(s.at("name") == name.str());
        CHECK(s.at("kind") == "queue");
        CHECK(s.at("status") == "ok");
        CHECK(s.at("message").at("type") == "ipckit_test::tick");
        CHECK(s.at("message").at("size") == 16);
        CHECK(s.at("capacity").at("messages") == 64);
        CHECK(s.at("depth").at("messages") == k);
        CHECK(s.at("counters").at("sent_messages") == k);
        CHECK(s.at("ownership") == "process_owned");
        CHECK(s.at("owner").at("alive") == true);
        REQUIRE(s.at("endpoints").size() == 1);
        CHECK(s.at("endpoints").at(0).at("role") == "sender");
        CHECK(s.at("endpoints").at(0).at("pid") == *pid);
        CHECK(s.at("endpoints").at(0).at("state") == "alive");
        CHECK(s.at("stale") == false);
    }
    const auto text = ipckit_tool({"list", name});
    CHECK(text.code == 0);
    CHECK(contains(text.out, "NAME"));
    CHECK(contains(text.out, name.str() + "  queue  ok      17"));
    const auto details = ipckit_tool({"inspect", name});
    CHECK(details.code == 0);
    CHECK(contains(details.out, "17 messages"));
    CHECK(contains(details.out, "ipckit_test::tick (16 B, align 8)"));
}

TEST_CASE("ipckit shows a SIGKILLed receiver as dead, and a queue whose owner was SIGKILLed as stale", "[process]") {
    scoped_name held("tool"), orphan("tool");
    auto q = S::create(held);
    signal_pipe attached, hold;
    child receiver([&] {
        auto rx = S::open(held).receiver();
        attached.post();
        return block_until_killed(hold);
    });
    REQUIRE(attached.wait());
    REQUIRE(receiver.kill() == killed_by_sigkill);
    {
        auto tx = q.sender();
        REQUIRE(tx.send(make_tick(0)));
        REQUIRE(tx.send(make_tick(1)));
    }
    queue_whose_owner_was_killed<Q>(orphan, 3);

    const json h = listed_json(held);
    CHECK(count_endpoints(h, "receiver", "dead") == 1);
    CHECK(h.at("depth").at("messages") == 2);
    CHECK(h.at("stale") == false);  // system_owned: it waits for the next receiver
    const json o = listed_json(orphan);
    CHECK(o.at("stale") == true);
    CHECK(o.at("owner").at("alive") == false);
    CHECK(contains(o.at("stale_reason").get<std::string>(), "owner"));

    const auto text = ipckit_tool({"list", held, orphan});
    CHECK(text.code == 0);
    CHECK(contains(text.out, "0 +1 dead"));
    CHECK(contains(text.out, "STALE: its owner"));
}

TEST_CASE("ipckit rm --stale removes exactly the stale segments", "[process]") {
    scoped_name orphan("tool"), half("tool"), live("tool"), box("tool");
    using M = ipckit::mailbox<tick, ipckit::bounded<8>, ipckit::any, ipckit::system_owned>;
    queue_whose_owner_was_killed<Q>(orphan, 1);
    signal_pipe started, hold;
    child creator = creator_killed_half_way(half, started, hold);
    REQUIRE(creator.kill() == killed_by_sigkill);
    auto q = Q::create(live);  // owned by this process, which lives
    auto mailbox = M::create(box);
    {
        auto tx = mailbox.sender();  // then nobody is attached, but it holds messages
        REQUIRE(tx.send(make_tick(1)));
        REQUIRE(tx.send(make_tick(2)));
    }
    const std::vector<std::string> names{orphan, half, live, box};
    std::vector<std::string> args{"rm", "--stale", "--dry-run"};
    args.insert(args.end(), names.begin(), names.end());

    const auto dry = ipckit_tool(args);
    INFO(dry.out << dry.err);
    CHECK(dry.code == 0);
    CHECK(contains(dry.out, "would remove " + orphan.str() + ": its owner"));
    CHECK(contains(dry.out, "would remove " + half.str() + ": its creator"));
    CHECK_FALSE(contains(dry.out, live.str()));
    CHECK_FALSE(contains(dry.out, box.str()));
    for (const auto& n : names) CHECK(ipckit::segment_exists(n));

    args.erase(args.begin() + 2);  // without --dry-run
    const auto done = ipckit_tool(args);
    INFO(done.out << done.err);
    CHECK(done.code == 0);
    CHECK(contains(done.out, "removed " + orphan.str()));
    CHECK(contains(done.out, "removed " + half.str()));
    CHECK_FALSE(ipckit::segment_exists(orphan));
    CHECK_FALSE(ipckit::segment_exists(half));
    CHECK(ipckit::segment_exists(live));
    CHECK(ipckit::segment_exists(box));
    CHECK(listed_json(box).at("depth").at("messages") == 2);

    const auto again = ipckit_tool({"rm", "--stale", live, box});
    CHECK(again.code == 0);
    CHECK(contains(again.out, "nothing is stale"));
    const auto gone = ipckit_tool(args);  // orphan and half name nothing now: as list, an error
    CHECK(gone.code == 1);
    CHECK(contains(gone.err, "no segment '" + orphan.str() + "'"));
    CHECK(contains(gone.err, "no segment '" + half.str() + "'"));
    M::remove(box);
}

TEST_CASE("ipckit lists corrupt, truncated and foreign segments with the reason, and does not crash", "[unit]") {
    scoped_name scribbled("tool"), indices("tool"), truncated("tool"), foreign("tool"), tiny("tool");
    (void)S::create(scribbled);
    scribble(scribbled, offsetof(ipckit::detail::segment_header, size), "\x01", 1);
    (void)S::create(indices);
    const std::uint64_t tail = 999;
    scribble(indices, ipckit::detail::header_size + ipckit::detail::queue_offsets(1, 1, alignof(tick)).ring, &tail,
             sizeof tail);
    (void)S::create(truncated);
    REQUIRE(::truncate(file_of(truncated).c_str(), 300) == 0);
    write_foreign(foreign, std::vector<unsigned char>(4096, 0xab));
    write_foreign(tiny, {'x'});

    const std::vector<std::pair<std::string, std::string>> expected{
        {scribbled, "corrupt"}, {indices, "corrupt"}, {truncated, "corrupt"}, {foreign, "foreign"}, {tiny, "foreign"}};
    std::vector<std::string> args{"list"};
    for (const auto& e : expected) args.push_back(e.first);
    const json list = ipckit_json(args);
    REQUIRE(list.at("segments").size() == expected.size());
    for (const json& s : list.at("segments")) {
        check_schema(s);
        const auto e = std::find_if(expected.begin(), expected.end(), [&](const auto& x) { return s.at("name") == x.first; });
        REQUIRE(e != expected.end());
        INFO(s.dump());
        CHECK(s.at("status") == e->second);
        CHECK(s.at("problem").is_string());
        CHECK(s.at("stale") == false);  // damaged is not stale: rm --stale leaves it alone
    }
    for (const auto& e : expected) {
        const auto r = ipckit_tool({"inspect", e.first});
        INFO(r.out << r.err);
        CHECK(r.code == 0);
        CHECK(contains(r.out, "status:       " + e.second));
    }
    const auto text = ipckit_tool(args);
    CHECK(text.code == 0);
    CHECK(contains(text.out, "inconsistent indices"));
    CHECK(contains(text.out, "truncated"));
    const auto all = ipckit_tool({"list"});  // everything in /dev/shm, whatever else is there
    CHECK(all.code == 0);
    const auto stale = ipckit_tool({"rm", "--stale", "--dry-run", scribbled, indices, truncated, foreign, tiny});
    CHECK(stale.code == 0);
    CHECK(contains(stale.out, "nothing is stale"));
}

TEST_CASE("ipckit watch refreshes the depth of a segment, with message rates", "[process]") {
    scoped_name name("tool");
    auto q = S::create(name);
    auto tx = q.sender();
    for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(tx.send(make_tick(i)));
    const auto r = ipckit_tool({"watch", name, "--interval", "0.05", "--iterations", "2"});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(contains(r.out, "refresh 1,"));
    CHECK(contains(r.out, "refresh 2,"));
    CHECK_FALSE(contains(r.out, "refresh 3,"));
    CHECK(contains(r.out, "SENT/s"));
    // Both refreshes show the queue and its depth; the second has rates (0: nothing moved).
    std::size_t rows = 0;
    for (std::size_t at = r.out.find(name.str() + "  queue  5"); at != std::string::npos;
         at = r.out.find(name.str() + "  queue  5", at + 1))
        ++rows;
    CHECK(rows == 2);
    CHECK(contains(r.out, name.str() + "  queue  5      0       0"));
}

TEST_CASE("ipckit watch --iterations takes a whole number from 0 to 10^9, and refuses anything else as usage",
          "[unit]") {
    scoped_name name("tool");
    (void)S::create(name);
    // Each of these once converted to a count that never ends (2^64 - 1) or to another number. If
    // one were taken, the watch would wait an hour after its first refresh: it is killed then.
    run_options o;
    o.signal_after = "refresh 1,";
    o.signal = SIGKILL;
    for (const std::string bad : {"99999999999999999999", " -1", "-1", "abc", "10abc", "+1", "0x10", "1000000001"}) {
        const auto r = ipckit_tool({"watch", name, "--interval", "3600", "--iterations", bad}, o);
        INFO("--iterations '" << bad << "': " << r.out << r.err);
        CHECK(r.code == 2);
        CHECK(contains(r.err, "--iterations: '" + bad + "': give a whole number from 0 to 1000000000"));
        CHECK(r.out.empty());
    }
    // A valid count still ends the watch after that many refreshes; "010" is ten, not octal 8.
    const auto r = ipckit_tool({"watch", name, "--interval", "0.001", "--iterations", "010"});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(contains(r.out, "refresh 10,"));
    CHECK_FALSE(contains(r.out, "refresh 11,"));
}

TEST_CASE("ipckit exit codes: 1 for a name that does not exist (naming it), 2 for usage, 0 for --help everywhere",
          "[unit]") {
    const std::string missing = unique_name("missing");
    using command_line = std::vector<std::string>;
    // a binder address that does not parse: 1, naming it
    const auto bad_listen = ipckit_tool({"binder", "--listen", missing});
    INFO("binder: " << bad_listen.err);
    CHECK(bad_listen.code == 1);
    CHECK(contains(bad_listen.err, "ipckit binder: "));
    CHECK(contains(bad_listen.err, missing));
    for (const auto& args : std::vector<command_line>{{"inspect", missing},
                                                      {"rm", missing},
                                                      {"rm", "--stale", missing},
                                                      {"domain", missing},
                                                      {"watch", missing, "--iterations", "1"},
                                                      {"list", missing}}) {
        const auto r = ipckit_tool(args);
        INFO(args[0] << ": " << r.err);
        CHECK(r.code == 1);
        CHECK(contains(r.err, "'" + missing + "'"));
    }
    for (const auto& args : std::vector<command_line>{{}, {"bogus"}, {"rm"}, {"inspect"}, {"watch", "--interval", "-1"},
                                                      {"watch", "--iterations", "-1"}, {"list", "--frobnicate"}, {"rm", "--stale", "--force"}, {"binder"},
                                                      {"binder", "--listen", "tcp://127.0.0.1:0", "--max-names", "0"}}) {
        const auto r = ipckit_tool(args);
        INFO((args.empty() ? std::string("(none)") : args[0]) << ": " << r.err);
        CHECK(r.code == 2);
        CHECK_FALSE(r.err.empty());
    }
    for (const char* command : {"", "list", "inspect", "watch", "rm", "domain", "binder"}) {
        std::vector<std::string> args;
        if (*command != '\0') args.push_back(command);
        args.push_back("--help");
        const auto r = ipckit_tool(args);
        INFO(command);
        CHECK(r.code == 0);
        CHECK(contains(r.out, "Usage: ipckit"));
    }
}

TEST_CASE("ipckit rm refuses a live segment without --force, saying who holds it, and with --force closes it for them",
          "[process]") {
    scoped_name name("tool"), idle("tool");
    auto q = S::create(name);
    signal_pipe attached;
    child_report report;
    child receiver = report.spawn([&](child_report& r) {
        auto rx = S::open(name).receiver();
        attached.post_value(static_cast<std::uint64_t>(::getpid()));
        r.expect(err(rx.receive(patience)), ipckit::errc::closed);  // asleep until the forced removal
    });
    const auto pid = attached.wait_value();
    if (!pid) CHECK(report.ended(receiver.kill()) == as_expected);
    REQUIRE(pid);
    const auto refused = ipckit_tool({"rm", name});
    CHECK(refused.code == 1);
    CHECK(contains(refused.err, "process " + std::to_string(*pid) + " (receiver)"));
    CHECK(ipckit::segment_exists(name));
    const auto forced = ipckit_tool({"rm", "--force", name});
    CHECK(forced.code == 0);
    CHECK(contains(forced.out, "removed " + name.str()));
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(report.finish(receiver) == as_expected);  // woken, and told the queue was closed
    // A system_owned queue that nobody is attached to is nobody's: no --force needed.
    (void)S::create(idle);
    const auto plain = ipckit_tool({"rm", idle});
    CHECK(plain.code == 0);
    CHECK_FALSE(ipckit::segment_exists(idle));
}

TEST_CASE("ipckit domain shows members and links, and rm removes a domain with its links", "[process]") {
    scoped_domain domain;
    signal_pipe ready, hold;
    child bob([&] {
        ipckit::node n(domain, "bob");
        ready.post();
        return block_until_killed(hold);
    });
    REQUIRE(ready.wait());
    signal_pipe sent;
    child_report alice_report;
    child alice = alice_report.spawn([&](child_report& r) {
        ipckit::node n(domain, "alice");
        for (int i = 0; i < 3; ++i)
            r.expect(err(n.sender().send("bob", std::string_view("hello"), patience)), ipckit::errc::ok);
        sent.post();
        r.block_until_killed(hold);
    });
    REQUIRE(alice_report.reached(alice, sent) == as_expected);
    const json d = ipckit_json({"domain", domain.str()}).at("segment");
    check_schema(d);
    CHECK(d.at("kind") == "domain");
    REQUIRE(d.at("members").size() == 2);
    for (const json& m : d.at("members")) CHECK(m.at("alive") == true);
    REQUIRE(d.at("links").size() == 1);
    CHECK(d.at("links").at(0).at("from") == "alice");
    CHECK(d.at("links").at(0).at("depth").at("messages") == 3);
    const auto text = ipckit_tool({"domain", domain.str()});
    CHECK(text.code == 0);
    CHECK(contains(text.out, "alice"));
    CHECK(contains(text.out, "bob"));
    const auto refused = ipckit_tool({"rm", domain.str()});
    CHECK(refused.code == 1);
    CHECK(contains(refused.err, "member alice"));

    REQUIRE(alice.kill() == killed_by_sigkill);
    REQUIRE(bob.kill() == killed_by_sigkill);
    const auto gone = ipckit_tool({"domain", domain.str()});
    CHECK(contains(gone.out, "STALE"));
    const auto removed = ipckit_tool({"rm", domain.str()});
    INFO(removed.err);
    CHECK(removed.code == 0);
    CHECK(contains(removed.out, "removed " + domain.str() + " and its 1 link"));
    CHECK(domain.links().empty());
    CHECK_FALSE(ipckit::segment_exists(domain.str()));
    const auto not_a_domain = ipckit_tool({"domain", "some.queue.name"});
    CHECK(not_a_domain.code == 1);
}

TEST_CASE("ipckit rm removes an unbounded queue with all its chunks", "[unit]") {
    scoped_queue name;
    ipckit::unbounded_options opt;
    opt.cap_bytes = 16 * 4096;
    {
        auto u = U::create(name, opt);
        auto tx = u.sender();
        for (std::uint64_t i = 0; i < 2 * U::slots_per_chunk + 1; ++i) REQUIRE(tx.send(make_tick(i)));
    }
    REQUIRE(chunks_of(name).size() == 3);
    const json head = listed_json(name);
    CHECK(head.at("chain").at("chunks").size() == 3);
    const auto r = ipckit_tool({"rm", name});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(contains(r.out, "removed " + name.str() + " and its 3 chunks"));
    CHECK(chunks_of(name).empty());
    CHECK_FALSE(ipckit::segment_exists(name));
}

TEST_CASE("ipckit rm refuses a chunk that its unbounded queue still uses, and names the queue to remove instead",
          "[unit]") {
    scoped_queue name;
    auto u = unbounded_with_two_chunks(name);
    const auto chunks = chunks_of(name);
    REQUIRE(chunks.size() == 2);
    const std::string first = name.str() + "." + chunks.front();

    const auto refused = ipckit_tool({"rm", first});
    INFO(refused.out << refused.err);
    CHECK(refused.code == 1);
    CHECK(contains(refused.err, "unbounded queue '" + name.str() + "'"));
    CHECK(contains(refused.err, "ipckit rm " + name.str()));
    CHECK(chunks_of(name) == chunks);
    auto rx = u.receiver();  // the queue is whole
    CHECK(receive_in_order(rx, 0, U::slots_per_chunk + 1) == as_expected);
}

TEST_CASE("ipckit list and watch show a chunk named exactly, which a pattern leaves to its queue's row", "[unit]") {
    scoped_queue name;
    auto u = unbounded_with_two_chunks(name);
    const auto chunks = chunks_of(name);
    REQUIRE(chunks.size() == 2);
    const std::string first = name.str() + "." + chunks.front();

    const auto listed = ipckit_tool({"list", first});
    INFO(listed.out << listed.err);
    CHECK(listed.code == 0);
    CHECK(row_of(listed.out, first).size() > 2);
    CHECK(row_of(ipckit_tool({"list", first + "*"}).out, first).empty());
    const auto watched = ipckit_tool({"watch", first, "--iterations", "1"});
    INFO(watched.out << watched.err);
    CHECK(watched.code == 0);
    CHECK(contains(watched.out, "1 segment,"));
    CHECK(row_of(watched.out, first).size() > 2);
}

TEST_CASE("ipckit rm refuses, without --force, a segment whose users it cannot tell, and list shows them as -",
          "[unit]") {
    scoped_name cut("tool"), scribbled("tool");
    using L = ipckit::queue<
        a_message_whose_type_name_is_so_long_that_the_description_of_its_queue_is_cut_short_in_the_header_of_the_segment_and_nothing_can_read_its_rosters,
        ipckit::bounded<8>, ipckit::single, ipckit::single, ipckit::adaptive, ipckit::system_owned>;
    auto q = L::create(cut);
    auto rx = q.receiver();  // this process uses it, and nothing can tell
    (void)S::create(scribbled);
    scribble(scribbled, offsetof(ipckit::detail::segment_header, size), "\x01", 1);

    const auto text = ipckit_tool({"list", cut});
    INFO(text.out);
    CHECK(text.code == 0);
    const auto row = row_of(text.out, cut);
    REQUIRE(row.size() > 6);
    CHECK(row[5] == "-");  // SENDERS
    CHECK(row[6] == "-");  // RECEIVERS
    for (const std::string& name : {cut.str(), scribbled.str()}) {
        const auto refused = ipckit_tool({"rm", name});
        INFO(refused.out << refused.err);
        CHECK(refused.code == 1);
        CHECK(contains(refused.err, "cannot tell whether a process uses '" + name + "'"));
        CHECK(contains(refused.err, "--force"));
        CHECK(ipckit::segment_exists(name));
        const auto forced = ipckit_tool({"rm", "--force", name});
        CHECK(forced.code == 0);
        CHECK_FALSE(ipckit::segment_exists(name));
    }
}

TEST_CASE("ipckit list --json and inspect --json go on past bytes that are not UTF-8, writing U+FFFD", "[unit]") {
    scoped_name described("tool");
    (void)ipckit::segment::create<ipckit::system_owned>(described, test_layout("caf\xe9"), {}, [](void*) {});
    const std::string odd = unique_name("tool") + "\xff";  // anyone may leave such a file in /dev/shm
    struct unlinked {
        std::string file;
        ~unlinked() { ::unlink(file.c_str()); }
    } guard{file_of(odd)};
    write_foreign(odd, {'x'});

    const json list = ipckit_json({"list", described, odd});
    REQUIRE(list.at("segments").size() == 2);
    for (const json& s : list.at("segments")) {
        if (s.at("status") == "foreign")
            CHECK(s.at("name") == odd.substr(0, odd.size() - 1) + "\xef\xbf\xbd");
        else
            CHECK(s.at("description") == "ipckit_test::caf\xef\xbf\xbd");
    }
    const json one = ipckit_json({"inspect", described}).at("segment");
    CHECK(one.at("description") == "ipckit_test::caf\xef\xbf\xbd");
}

TEST_CASE("ipckit list --json escapes a name's control characters beyond ASCII, which a terminal would act on",
          "[unit]") {
    const std::string csi = "\xc2\x9b";  // U+009B, CSI: valid UTF-8 that a terminal takes as a command
    const std::string odd = unique_name("tool") + csi + "2J";
    struct unlinked {
        std::string file;
        ~unlinked() { ::unlink(file.c_str()); }
    } guard{file_of(odd)};
    write_foreign(odd, {'x'});
    const auto r = ipckit_tool({"list", odd, "--json"});
    CHECK(r.code == 0);
    CHECK_FALSE(contains(r.out, csi));
    CHECK(contains(r.out, "\\u009b2J"));
    CHECK(json::parse(r.out).at("segments").at(0).at("name") == odd);  // the same name, read back
}

TEST_CASE("ipckit inspect and rm say how to remove by hand a file that list shows but ipckit would never have named",
          "[unit]") {
    const std::string odd = unique_name("tool") + " with spaces";
    struct unlinked {
        std::string file;
        ~unlinked() { ::unlink(file.c_str()); }
    } guard{file_of(odd)};
    write_foreign(odd, {'x'});
    REQUIRE(listed_json(odd).at("status") == "foreign");
    for (const auto& args : std::vector<std::vector<std::string>>{{"inspect", odd}, {"rm", odd}, {"rm", "--force", odd}}) {
        const auto r = ipckit_tool(args);
        INFO(args[0] << " " << args[1] << ": " << r.err);
        CHECK(r.code == 1);
        CHECK(contains(r.err, "remove it by hand: rm -- '" + file_of(odd) + "'"));
    }
    struct stat st {};
    CHECK(::lstat(file_of(odd).c_str(), &st) == 0);  // left where it was
}

TEST_CASE("ipckit exits with 1, saying so, when its output cannot be written", "[unit]") {
    scoped_name name("tool");
    auto q = S::create(name);
    using command_line = std::vector<std::string>;
    for (const auto& args : std::vector<command_line>{{"list", name},
                                                      {"list", name, "--json"},
                                                      {"inspect", name, "--json"},
                                                      {"watch", name, "--iterations", "1"},
                                                      {"rm", "--dry-run", name}}) {
        const auto r = ipckit_tool(args, "/dev/full");
        INFO(args[0] << ": " << r.err);
        CHECK(r.code == 1);
        CHECK(contains(r.err, "ipckit " + args[0] + ": could not write its output"));
    }
    CHECK(ipckit::segment_exists(name));
}

TEST_CASE("ipckit rm refuses, without --force, a segment that a process may be creating right now", "[unit]") {
    namespace sys = ipckit::detail::sys;
    scoped_name empty("tool"), uninit("tool");
    // A creator holds its lock from the moment the object exists, before it sizes it; then it
    // sizes it (all zeros) before it begins its header.
    const sys::file creator = sys::shm_create(ipckit::detail::os_name(empty), 0600);
    write_foreign(uninit, std::vector<unsigned char>(4096, 0));
    for (const std::string& name : {empty.str(), uninit.str()}) {
        INFO(name);
        REQUIRE(listed_json(name).at("status") == "initializing");
        const auto refused = ipckit_tool({"rm", name});
        INFO(refused.out << refused.err);
        CHECK(refused.code == 1);
        CHECK(contains(refused.err, "'" + name + "'"));
        CHECK(contains(refused.err, "a process may be creating it right now"));
        CHECK(contains(refused.err, "--force"));
        CHECK(ipckit::segment_exists(name));
        const auto forced = ipckit_tool({"rm", "--force", name});
        CHECK(forced.code == 0);
        CHECK_FALSE(ipckit::segment_exists(name));
    }
}

TEST_CASE("ipckit rm refuses, without --force, a foreign, unreadable or not plain segment, and --force removes it",
          "[process]") {
    scoped_name foreign("tool"), fifo("tool"), link("tool"), locked("tool");
    write_foreign(foreign, std::vector<unsigned char>(4096, 0xab));
    REQUIRE(::mkfifo(file_of(fifo).c_str(), 0600) == 0);
    REQUIRE(::symlink("/nonexistent", file_of(link).c_str()) == 0);
    for (const std::string& name : {foreign.str(), fifo.str(), link.str()}) {
        INFO(name);
        REQUIRE(listed_json(name).at("status") == "foreign");
        const auto refused = ipckit_tool({"rm", name});
        INFO(refused.out << refused.err);
        CHECK(refused.code == 1);
        CHECK(contains(refused.err, "cannot tell whether a process uses '" + name + "'"));
        CHECK(contains(refused.err, "--force"));
        struct stat st {};
        CHECK(::lstat(file_of(name).c_str(), &st) == 0);
        const auto forced = ipckit_tool({"rm", "--force", name});
        INFO(forced.err);
        CHECK(forced.code == 0);
        CHECK(::lstat(file_of(name).c_str(), &st) != 0);
    }

    // Root opens anything: then the commands run as nobody (65534), to whom the file is closed.
    (void)S::create(locked);
    run_options other;
    if (::geteuid() == 0)
        other.user = 65534;
    else
        REQUIRE(::chmod(file_of(locked).c_str(), 0) == 0);
    const auto refused = ipckit_tool({"rm", locked}, other);
    INFO(refused.out << refused.err);
    CHECK(refused.code == 1);
    CHECK(contains(refused.err, "cannot tell whether a process uses '" + locked.str() + "'"));
    CHECK(contains(refused.err, "cannot be opened by this user"));
    CHECK(ipckit::segment_exists(locked));
    // As `inspect` does, `list` and `watch` exit with 1 for a segment named that cannot be read.
    for (const std::vector<std::string>& args : {std::vector<std::string>{"inspect", locked},
                                                 std::vector<std::string>{"list", locked},
                                                 std::vector<std::string>{"watch", locked, "--iterations", "1"}}) {
        const auto r = ipckit_tool(args, other);
        INFO(args[0] << ": " << r.out << r.err);
        CHECK(r.code == 1);
    }
    const auto listing = ipckit_tool({"list", "ipckit-tool-*"}, other);  // a pattern: the listing goes on
    CHECK(listing.code == 0);
    CHECK(contains(listing.out, locked.str()));
}

TEST_CASE("ipckit rm --force removes an unbounded queue whose chain is damaged, with its chunks", "[unit]") {
    using ipckit::detail::chain_control;
    for (const std::size_t at : {offsetof(chain_control, magic), offsetof(chain_control, chunk_next)}) {
        scoped_queue name;
        (void)unbounded_with_two_chunks(name);
        REQUIRE(chunks_of(name).size() == 2);
        scribble(name, ipckit::detail::header_size + at, "XXXXXXXX", 8);
        INFO("scribbled at " << at);
        REQUIRE(listed_json(name).at("status") == "corrupt");
        const auto refused = ipckit_tool({"rm", name});
        CHECK(refused.code == 1);
        CHECK(ipckit::segment_exists(name));
        const auto forced = ipckit_tool({"rm", "--force", name});
        INFO(forced.out << forced.err);
        CHECK(forced.code == 0);
        CHECK(contains(forced.out, "removed " + name.str()));
        CHECK_FALSE(ipckit::segment_exists(name));
        CHECK(chunks_of(name).empty());
    }
}

TEST_CASE("ipckit says so, and exits with 1, when a segment shrinks under it (SIGBUS)", "[unit]") {
    // A segment that shrinks while it is read faults the reader: here the signal is sent, as
    // the kernel would send it, once the first refresh is out (no way to time a real shrink).
    scoped_name name("tool");
    (void)S::create(name);
    run_options o;
    o.signal_after = "refresh 1,";
    o.signal = SIGBUS;
    const auto r = ipckit_tool({"watch", name, "--interval", "3600"}, o);
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "ipckit: SIGBUS: a shared-memory segment shrank under this command"));
    CHECK(contains(r.err, "run the command again"));
}

TEST_CASE("ipckit writes control bytes and bytes that are not UTF-8 in names as hex escapes, never raw", "[unit]") {
    const std::string base = unique_name("tool");
    const std::string odd = base + "\x1b]0;owned\x07\n\xff";  // anyone may leave such a file in /dev/shm
    struct unlinked {
        std::string file;
        ~unlinked() { ::unlink(file.c_str()); }
    } guard{file_of(odd)};
    write_foreign(odd, {'x'});
    const std::string shown = base + "\\x1b]0;owned\\x07\\x0a\\xff";
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"list", base + "*"}, std::vector<std::string>{"watch", base + "*", "--iterations", "1"},
          std::vector<std::string>{"rm", odd}, std::vector<std::string>{"inspect", odd}}) {
        const auto r = ipckit_tool(args);
        INFO(args[0] << ": " << r.out << r.err);
        CHECK(contains(r.out + r.err, shown));
        for (const char c : {'\x1b', '\x07', '\xff'}) {
            CHECK(r.out.find(c) == std::string::npos);
            CHECK(r.err.find(c) == std::string::npos);
        }
    }
}
