// Binding by name on one machine through a domain's shared-memory registry: a server found by
// its name, an unknown name not_found naming it, a name held by a live server taken, an entry
// that goes when its server dies, and a restarted server found again.

#include "../catch.hpp"
#include "rpc_support.hpp"

#include <ipckit/node.hpp>
#include <ipckit/rpc.hpp>

#include <cstdint>
#include <string>

using namespace std::chrono_literals;
using ipckit_test::in_child;
using ipckit_test::killed_by_sigkill;
using ipckit_test::patience;
using ipckit_test::signal_pipe;
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

/// 0 if the server called `name` answers add; `fail` + the errc of a lookup that throws.
int call_by_name(const std::string& domain, const std::string& name, int fail) {
    try {
        auto c = rpc::client::in_domain(domain, name);
        auto r = c.call<std::int64_t>("add", 20, 22, patience);
        return r && *r == 42 ? 0 : fail;
    } catch (const ipckit::error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return fail + static_cast<int>(e.reason());
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
        CHECK(in_child([&] { return call_by_name(domain, "calc", 10); }) == 0);

        // an unknown name: not_found, naming it
        const int unknown = in_child([&] {
            try {
                (void)rpc::client::in_domain(domain, "calculator");
                return 2;
            } catch (const ipckit::error& e) {
                return e.reason() == ipckit::errc::not_found && ipckit_test::contains(e.what(), "'calculator'") ? 0 : 3;
            }
        });
        CHECK(unknown == 0);

        // a second server under a live server's name: name_taken
        const int taken = in_child([&] {
            try {
                auto srv = rpc::server::in_domain(domain, "calc");
                return 2;
            } catch (const ipckit::error& e) {
                return e.reason() == ipckit::errc::name_taken ? 0 : 3;
            }
        });
        CHECK(taken == 0);

        // its death frees the name: the lookup says not_found
        CHECK(first.kill() == killed_by_sigkill);
        CHECK(in_child([&] { return call_by_name(domain, "calc", 10); }) == 10 + static_cast<int>(ipckit::errc::not_found));
    }
    {
        signal_pipe up;
        signal_pipe hold;
        auto second = serve_by_name(domain, "calc", up, hold);  // a restart takes the name over
        REQUIRE(up.wait());
        CHECK(in_child([&] { return call_by_name(domain, "calc", 10); }) == 0);
    }
    ipckit::remove_domain(domain);
}
