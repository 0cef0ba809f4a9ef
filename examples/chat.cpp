// chat: processes that talk to each other by name over direct links (ipckit::node), with both
// addressing styles: send(to, m) / receive(from) between two of them, and receive_any(), which
// says who sent each message, in a third.
//
//   chat --demo [--domain NAME]
//       Forks alice, bob and carol. alice and bob greet each other (symmetric addressing);
//       both also tell carol, who listens to anyone (asymmetric) until both have left.
//
//   chat --domain NAME --name ME [--to PEER --say TEXT]... [--listen MS]
//       Joins NAME as ME, sends each TEXT to the PEER named before it, then prints whatever
//       arrives from anyone until MS milliseconds (default 1000, at most a day: 86400000) pass
//       without a message.
//       Run two in two shells, e.g.
//         chat --domain room --name bob --listen 30000
//         chat --domain room --name alice --to bob --say "hi bob" --say "how are you?"
//
// The domain stays in /dev/shm after its members leave (it is system_owned): once none of its
// members runs, remove it and its links with ipckit::remove_domain("room"). --demo removes the
// domain afterwards only if it made it: one that was there before may have members of its own.
// If one of the three cannot join (a bad domain name, a name already taken there, a domain name
// used by something else), it says why, none talks, and --demo exits 1.

#include "number.hpp"

#include <ipckit/node.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

std::string text(const std::vector<std::byte>& m) { return {reinterpret_cast<const char*>(m.data()), m.size()}; }

void say(const std::string& who, const std::string& line) {
    std::string out = "[" + who + "] " + line + "\n";
    (void)!::write(STDOUT_FILENO, out.data(), out.size());  // one write per line: no interleaving
}

/// Sends `m` to `to`, saying so, or why not.
bool tell(ipckit::node& me, const std::string& to, const std::string& m) {
    const auto s = me.sender().send(to, m, 5s);
    say(me.name(), s ? "-> " + to + ": " + m : "cannot send to " + to + ": " + ipckit::to_string(s.error()));
    return s.has_value();
}

/// Prints what arrives from anyone, until `quiet` passes without a message or, when
/// `until_gone` is not empty, until every one of those peers has left.
void listen(ipckit::node& me, std::chrono::milliseconds quiet, std::vector<std::string> until_gone = {}) {
    const bool counting = !until_gone.empty();
    for (;;) {
        auto [from, m] = me.receiver().receive_any(quiet);
        if (m) {
            say(me.name(), "<- " + from + ": " + text(*m));
        } else if (m.error() == ipckit::errc::closed || m.error() == ipckit::errc::peer_dead) {
            say(me.name(), from + (m.error() == ipckit::errc::closed ? " left" : " died"));
            std::erase(until_gone, from);
            if (counting && until_gone.empty()) return;
        } else {
            if (m.error() != ipckit::errc::timed_out) say(me.name(), std::string("receive: ") + ipckit::to_string(m.error()));
            return;
        }
    }
}

/// Lets the demo's participants start talking only once all have joined, and sends them away
/// without a word if one cannot join. A participant writes a byte to `joined` once it has joined
/// and then closes its end; one that fails exits, which closes its end too. So once the parent
/// has closed its own copy, reading `joined` ends (EOF) as soon as every participant has either
/// joined or gone: the parent never waits for one that will not come. Likewise only the parent
/// keeps `go` open for writing, so that closing it unblocks every participant still waiting.
struct barrier {
    int joined[2];
    int go[2];
    barrier() {
        if (::pipe(joined) != 0 || ::pipe(go) != 0) {
            std::perror("chat: pipe");
            std::exit(1);
        }
    }
    /// In a participant, first thing after fork.
    void enter_participant() const {
        ::close(joined[0]);
        ::close(go[1]);
    }
    /// In a participant that has joined: true once all have, false if one could not.
    bool arrive_and_wait() const {
        char c = 'j';
        (void)!::write(joined[1], &c, 1);
        ::close(joined[1]);
        return ::read(go[0], &c, 1) == 1;
    }
    /// In the parent, once every participant is forked: how many have joined (all of them, or
    /// fewer once the others have ended).
    std::size_t wait_for_joins(std::size_t participants) const {
        ::close(joined[1]);
        ::close(go[0]);
        std::size_t arrived = 0;
        char c;
        while (arrived < participants && ::read(joined[0], &c, 1) == 1) ++arrived;
        return arrived;
    }
    /// In the parent: lets the participants talk, or (talk false) sends them away.
    void release(std::size_t participants, bool talk) const {
        const std::string go_bytes(talk ? participants : 0, 'g');
        (void)!::write(go[1], go_bytes.data(), go_bytes.size());
        ::close(go[1]);
    }
};

int participant(const std::string& domain, const std::string& name, const barrier& b) {
    try {
        ipckit::node me(domain, name);
        if (!b.arrive_and_wait()) return 0;  // another could not join: the parent says so
        if (name == "alice") {
            tell(me, "bob", "hi bob, it's alice");
            if (auto reply = me.receiver().receive("bob", 5s)) say(name, "<- bob: " + text(*reply));  // only from bob
            tell(me, "carol", "bob says hello too");
        } else if (name == "bob") {
            if (auto hello = me.receiver().receive("alice", 5s)) say(name, "<- alice: " + text(*hello));
            tell(me, "alice", "hi alice!");
            tell(me, "carol", "bob was here");
        } else {
            listen(me, 5s, {"alice", "bob"});  // from anyone, until both have left
        }
        return 0;
    } catch (const ipckit::error& e) {
        say(name, std::string("error: ") + e.what());
        return 1;
    }
}

int demo(const std::string& domain) {
    // Removed at the end only if the demo made it: it was not there, and one of the three joined
    // (made it). A name no segment can have cannot be there; the participants say what is wrong
    // with it.
    bool existed = true;
    try {
        existed = ipckit::segment_exists(domain);
    } catch (const ipckit::error&) {
    }
    barrier b;
    const std::vector<std::string> names = {"carol", "alice", "bob"};
    std::vector<pid_t> kids;
    for (const auto& name : names) {
        std::cout.flush();
        const pid_t pid = ::fork();
        if (pid < 0) {
            std::perror("chat: fork");
            break;
        }
        if (pid == 0) {
            b.enter_participant();
            ::_exit(participant(domain, name, b));
        }
        kids.push_back(pid);
    }
    const std::size_t joined = b.wait_for_joins(kids.size());
    const bool all_joined = kids.size() == names.size() && joined == kids.size();
    b.release(kids.size(), all_joined);
    int failed = 0;
    for (const pid_t pid : kids) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    if (!existed && joined > 0) {
        try {
            ipckit::remove_domain(domain);
        } catch (const ipckit::error& e) {
            std::cerr << "chat: cannot remove the demo's domain: " << e.what() << "\n";
        }
    }
    if (kids.size() < names.size()) {
        std::cerr << "chat: could not start all " << names.size() << " participants (see above); nobody talked\n";
        return 1;
    }
    if (!all_joined) {
        std::cerr << "chat: " << failed << " of " << names.size() << " participants could not join domain '" << domain
                  << "' (see above); nobody talked\n";
        return 1;
    }
    if (failed != 0) std::cerr << "chat: " << failed << " of " << names.size() << " participants failed (see above)\n";
    return failed == 0 ? 0 : 1;
}

// How long a participant listens after the last message: up to a day.
constexpr std::uint64_t max_listen_ms = 86'400'000;

/// How to call the program.
void print_usage(std::ostream& out) {
    out << "usage: chat --demo [--domain NAME]\n"
           "       chat --domain NAME --name ME [--to PEER --say TEXT]... [--listen MS]\n"
           "  MS: 0 to "
        << max_listen_ms << " (default 1000)\n";
}

/// Exits with 2, saying `why` (if anything) and how to call the program.
[[noreturn]] void usage(const std::string& why = {}) {
    if (!why.empty()) std::cerr << "chat: " << why << "\n";
    print_usage(std::cerr);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::string domain, name, to;
    std::vector<std::pair<std::string, std::string>> lines;  // (to, text)
    std::chrono::milliseconds quiet = 1000ms;
    bool run_demo = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(std::string(a) + " needs a value");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            print_usage(std::cout);
            return 0;
        }
        if (a == "--demo") run_demo = true;
        else if (a == "--domain") domain = value();
        else if (a == "--name") name = value();
        else if (a == "--to") to = value();
        else if (a == "--say") {
            if (to.empty()) usage("--say needs a --to PEER before it");
            lines.emplace_back(to, value());
        } else if (a == "--listen") {
            quiet = std::chrono::milliseconds(example::number(a, value(), 0, max_listen_ms, usage));
        } else {
            usage("unknown option " + std::string(a));
        }
    }
    if (run_demo) return demo(domain.empty() ? "chat-demo-" + std::to_string(::getpid()) : domain);
    if (domain.empty() || name.empty()) usage();
    try {
        ipckit::node me(domain, name);
        bool ok = true;
        for (const auto& [peer, line] : lines) ok = tell(me, peer, line) && ok;
        listen(me, quiet);
        return ok ? 0 : 1;
    } catch (const ipckit::error& e) {
        std::cerr << "chat: " << e.what() << "\n";
        return 1;
    }
}
