// Binding by name on one machine through a domain's shared-memory registry: a server found by
// its name, an unknown name not_found naming it, a name held by a live server taken, an entry
// that goes when its server dies, a restarted server found again, and a lookup in a domain that
// does not exist not_found without creating it.

#include "../catch.hpp"
#include "rpc_support.hpp"

#include <ipckit/node.hpp>
#include <ipckit/rpc.hpp>

#include <cstdint>
#include <string>

using namespace std::chrono_literals;
using ipckit_test::as_expected;
using ipckit_test::child_report;
using ipckit_test::in_child;
using ipckit_test::killed_by_sigkill;
using ipckit_test::patience;
using ipckit_test::signal_pipe;
using ipckit::errc;
namespace rpc = ipckit::rpc;

namespace {

/// A calculator serving as `name` in `domain` from a child process, until killed.
ipckit_test::child serve_by_name(const std::string& domain, const std::string& name, signal_pipe& up, signal_pipe& hold) {
    return ipckit_test::child([&, domain, name] {
        auto srv = rpc::server::in_domain(domain, name);
        ipckit_test::calculator(srv);
        srv.start();
        up.post();
        return ipckit_test::block_until_killed(hold);
    });
}

/// In a child: the server called `name` answers add (a lookup that throws is reported by spawn).
void call_by_name(child_report& r, const std::string& domain, const std::string& name) {
    auto c = rpc::client::in_domain(domain, name);
    r.expect(ipckit_test::returned(c.call<std::int64_t>("add", 20, 22, patience), 42, "add(20, 22) on " + name));
}

/// as_expected if looking `name` up in `domain` throws `code` with a message containing `needle`.
std::string lookup_fails(const std::string& domain, const std::string& name, errc code, const std::string& needle) {
    const std::string wanted = " where it expected " + ipckit_test::errc_text(code) + " saying '" + needle + "'";
    try {
        (void)rpc::client::in_domain(domain, name);
        return "looking up '" + name + "' found a server" + wanted;
    } catch (const ipckit::error& e) {
        if (e.reason() == code && ipckit_test::contains(e.what(), needle)) return as_expected;
        return "looking up '" + name + "' threw " + ipckit_test::errc_text(e.reason()) + ": " + e.what() + wanted;
    }
}

}  // namespace

TEST_CASE("rpc binding: a client finds a server by name in a domain, and the name dies with it", "[process]") {
    const std::string domain = ipckit_test::unique_name("rpcdom");
    ipckit::remove_domain(domain);
    {
        signal_pipe up;
        signal_pipe hold;
        auto first = serve_by_name(domain, "calc", up, hold);
        REQUIRE(up.wait());
        CHECK(in_child([&](child_report& r) { call_by_name(r, domain, "calc"); }) == as_expected);

        // an unknown name: not_found, naming it
        CHECK(in_child([&](child_report& r) { r.expect(lookup_fails(domain, "calculator", errc::not_found, "'calculator'")); }) ==
              as_expected);

        // a second server under a live server's name: name_taken
        CHECK(in_child([&](child_report& r) {
                  try {
                      auto srv = rpc::server::in_domain(domain, "calc");
                      r.check(false, "errc(name taken) for a second server named calc");
                  } catch (const ipckit::error& e) {
                      r.expect(e.reason(), errc::name_taken);
                  }
              }) == as_expected);

        // its death frees the name: the lookup says not_found
        CHECK(first.kill() == killed_by_sigkill);
        CHECK(in_child([&](child_report& r) { r.expect(lookup_fails(domain, "calc", errc::not_found, "'calc'")); }) == as_expected);
    }
    {
        signal_pipe up;
        signal_pipe hold;
        auto second = serve_by_name(domain, "calc", up, hold);  // a restart takes the name over
        REQUIRE(up.wait());
        CHECK(in_child([&](child_report& r) { call_by_name(r, domain, "calc"); }) == as_expected);
    }
    ipckit::remove_domain(domain);
}

TEST_CASE("rpc binding: a lookup in a domain that does not exist is not_found naming it, and creates nothing", "[process]") {
    const std::string domain = ipckit_test::unique_name("rpcnodom");
    ipckit::remove_domain(domain);
    CHECK(in_child([&](child_report& r) { r.expect(lookup_fails(domain, "calc", errc::not_found, "domain '" + domain + "'")); }) ==
          as_expected);
    CHECK_FALSE(ipckit::segment_exists(domain));  // no registry left behind by the lookup
    ipckit::remove_domain(domain);
}
