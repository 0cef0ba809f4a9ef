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
#include "netns_support.hpp"

#include <ipckit/net.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::patience;
using ipckit_test::signal_pipe;
using ipckit_test::two_namespaces;
using ipckit_test::cannot_run;
using ipckit_test::enter;

namespace {

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
