// A connection between two network namespaces joined by a veth pair, and the link cut under it:
// both ends are peer_dead within the liveness interval, and nothing hangs (issue 13, "Tests").
//
// The test makes the namespaces itself, and so runs only as root (CI does); otherwise, or
// where the system refuses namespaces, it says why and does nothing. Names are unique to the
// run, the only addresses are 10.213.7.1 and .2 on the veth inside those namespaces, and the
// namespaces (with the veth pair in them) go when the test ends, passed or failed.
//
// The server and the client are forked children, each entering its namespace before it makes
// its first listener or connection; they report through child_report. The test process cuts
// the link once both say the traffic went through.

#include "catch.hpp"
#include "contract/child_report.hpp"
#include "messages.hpp"
#include "net_support.hpp"

#include <ipckit/net.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::patience;
using ipckit_test::signal_pipe;

namespace {

constexpr const char* ip_command = "/usr/sbin/ip";

/// Runs `ip` with `args` (its output to the test's); true if it exited with 0.
bool ip(const std::vector<std::string>& args) {
    const pid_t pid = ipckit_test::spawn([&] {
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(ip_command));
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(ip_command, argv.data());
        std::perror("execv /usr/sbin/ip");
        return 127;
    });
    return ipckit_test::wait_child(pid) == 0;
}

/// Two network namespaces "ipckit-<pid>-a" and "-b", joined by a veth pair whose ends carry
/// 10.213.7.1/30 (a) and 10.213.7.2/30 (b); both namespaces are deleted when this goes.
class two_namespaces {
public:
    two_namespaces() {
        const std::string id = std::to_string(::getpid());
        a = "ipckit-" + id + "-a";
        b = "ipckit-" + id + "-b";
        veth_a = "ik" + id + "a";  // an interface name has at most 15 characters
        veth_b = "ik" + id + "b";
        made_a_ = ip({"netns", "add", a});
        made_b_ = made_a_ && ip({"netns", "add", b});
        ok_ = made_b_ && ip({"link", "add", veth_a, "netns", a, "type", "veth", "peer", "name", veth_b, "netns", b}) &&
              ip({"-n", a, "addr", "add", "10.213.7.1/30", "dev", veth_a}) &&
              ip({"-n", b, "addr", "add", "10.213.7.2/30", "dev", veth_b}) &&
              ip({"-n", a, "link", "set", veth_a, "up"}) && ip({"-n", b, "link", "set", veth_b, "up"});
    }
    ~two_namespaces() {
        // Deleting a namespace deletes the veth end in it, and with it the pair.
        if (made_b_) (void)ip({"netns", "del", b});
        if (made_a_) (void)ip({"netns", "del", a});
    }
    two_namespaces(const two_namespaces&) = delete;
    two_namespaces& operator=(const two_namespaces&) = delete;

    /// Whether both namespaces and the link between them are up.
    [[nodiscard]] bool ok() const noexcept { return ok_; }
    /// Cuts the link: a's end down.
    bool cut() const { return ip({"-n", a, "link", "set", veth_a, "down"}); }

    std::string a, b, veth_a, veth_b;

private:
    bool made_a_ = false, made_b_ = false, ok_ = false;
};

/// In a child: moves this process into network namespace `name` (before any socket).
bool enter(const std::string& name) {
    const int fd = ::open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::setns(fd, CLONE_NEWNET) == 0;
    ::close(fd);
    return ok;
}

/// Why the test cannot run here, or empty if it can.
std::string cannot_run() {
    if (::geteuid() != 0) return "not root: making network namespaces needs root (CI runs as root)";
    if (!std::filesystem::exists(ip_command)) return std::string(ip_command) + " is missing (Debian: apt-get install iproute2)";
    return {};
}

constexpr int rounds = 100;

/// Echoes `rounds` messages each way, in order: ok, or the first verb's error.
template <class Conn>
void exchange(child_report& r, Conn& c, bool server) {
    for (int i = 0; i < rounds; ++i) {
        const std::string text = std::to_string(i);
        if (!server) r.expect(ipckit_test::err(c.send(text, patience)), errc::ok);
        auto m = c.receive(patience);
        r.expect(ipckit_test::err(m), errc::ok);
        r.expect_value(m->size(), text.size());
        if (server) r.expect(ipckit_test::err(c.send(text, patience)), errc::ok);
    }
}

}  // namespace

TEST_CASE("net netns: a link cut between two network namespaces is peer_dead on both sides, and nothing hangs",
          "[process]") {
    if (const auto why = cannot_run(); !why.empty()) {
        WARN("skipped: " << why);
        return;
    }
    two_namespaces ns;
    if (!ns.ok()) {
        WARN("skipped: the system refused to make the namespaces or the veth pair (see ip's messages above)");
        return;
    }

    using msg = ipckit::bytes<256>;
    ipckit::net_options o;
    o.liveness_interval = 1s;  // both ends: heartbeats every 250 ms, peer_dead after 1 s of silence
    o.close_timeout = 1s;
    // Generous: a deadline that passes means the cut was missed (timed_out), not slow.
    constexpr auto well_past_liveness = 30s;

    signal_pipe port, talked;
    child_report server_report, client_report;
    child server = server_report.spawn([&](child_report& r) {
        r.expect_value(enter(ns.a), true);
        auto srv = ipckit::listener<msg>::bind("tcp://10.213.7.1:0", o);
        port.post_value(ipckit::parse_address(srv.address()).port);
        auto c = srv.accept(patience);
        r.expect(ipckit_test::err(c), errc::ok);
        exchange(r, *c, true);
        talked.post();
        auto end = c->receive(well_past_liveness);
        r.expect(ipckit_test::err(end), errc::peer_dead);
        r.expect(ipckit_test::err(c->send("anyone?")), errc::peer_dead);
    });
    child client = client_report.spawn([&](child_report& r) {
        r.expect_value(enter(ns.b), true);
        const auto p = port.wait_value();
        r.expect_value(p.has_value(), true);
        auto c = ipckit::connect<msg>("tcp://10.213.7.1:" + std::to_string(*p), patience, o);
        exchange(r, c, false);
        talked.post();
        auto end = c.receive(well_past_liveness);
        r.expect(ipckit_test::err(end), errc::peer_dead);
        r.expect(ipckit_test::err(c.send("anyone?")), errc::peer_dead);
    });
    port.close_write();
    talked.close_write();
    const bool both_talked = talked.wait() && talked.wait();
    if (both_talked) CHECK(ns.cut());
    CHECK(server_report.finish(server) == as_expected);
    CHECK(client_report.finish(client) == as_expected);
    CHECK(both_talked);
}
