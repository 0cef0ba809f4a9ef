// Binding by name across machines, through a binder (rpc::binder, what `ipckit binder` runs),
// over tcp and a Unix path: a server registers its real address and a client finds and calls
// it; a SIGKILLed server's name goes from the binder, and a restart on port 0 is found at its
// new address; an orderly stop unregisters; bad input is refused with a reason; an unreachable
// binder is an error naming it. The binder, the servers and the clients each run in a child.

#include "../catch.hpp"
#include "../contract/child_report.hpp"
#include "rpc_support.hpp"

#include <ipckit/rpc.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

using namespace std::chrono_literals;
using ipckit_test::as_expected;
using ipckit_test::child_report;
using ipckit_test::net_kind;
using ipckit_test::patience;
using ipckit_test::signal_pipe;
namespace rpc = ipckit::rpc;

namespace {

/// The transports a binder listens on in these tests (servers listen on tcp port 0).
constexpr net_kind binder_kinds[] = {net_kind::tcp, net_kind::unix_path};

/// A child that serves something at an address it reports (a binder, a server by name) until
/// it is killed. `body` sets up and calls ready(address), which never returns.
class serving {
public:
    using ready_fn = std::function<void(const std::string&)>;
    explicit serving(const std::function<void(child_report&, const ready_fn&)>& body)
        : proc_(report_.spawn([&](child_report& r) {
              body(r, [&](const std::string& address) {
                  const std::uint64_t n = address.size();
                  up_.put(&n, sizeof n);
                  up_.put(address.data(), address.size());
                  r.block_until_killed(hold_);
              });
          })) {
        std::uint64_t n = 0;
        up_.close_write();
        if (up_.get(&n, sizeof n) && n < 4096) {
            address_.resize(n);
            if (!up_.get(address_.data(), n)) address_.clear();
        }
    }
    serving(const serving&) = delete;
    serving& operator=(const serving&) = delete;
    ~serving() { (void)kill(); }

    /// Where it serves; empty if it never said (started() is then false, and why says what it reported).
    [[nodiscard]] const std::string& address() const noexcept { return address_; }
    [[nodiscard]] bool started() const noexcept { return !address_.empty(); }
    /// What the child reported if it failed before it was ready.
    std::string why() { return report_.ended(proc_.kill()); }
    /// SIGKILLs it now; what the report says (as_expected when it was killed where it waited).
    std::string kill() {
        if (killed_) return as_expected;
        killed_ = true;
        const std::string how = report_.ended(proc_.kill(), ipckit_test::killed_by_sigkill);
        if (!address_.empty()) ipckit_test::remove_leftovers(address_);
        return how;
    }

private:
    child_report report_;
    signal_pipe up_;
    signal_pipe hold_;
    ipckit_test::child proc_;
    std::string address_;
    bool killed_ = false;
};

/// A binder on exactly `address` (a restarted one on the address of the one before).
serving binder_at(const std::string& address, rpc::binder_options o = {}) {
    return serving([address, o](child_report&, const serving::ready_fn& ready) {
        rpc::binder b(address, o);
        b.start();
        ready(b.address());
    });
}

/// A binder on `kind`.
serving binder_on(net_kind kind, rpc::binder_options o = {}) { return binder_at(ipckit_test::bind_address(kind), std::move(o)); }

/// A calculator called `name` at `binder`, serving on tcp port 0.
serving calc_at(const std::string& binder, const std::string& name, rpc::server_options o = {}) {
    return serving([binder, name, o](child_report&, const serving::ready_fn& ready) {
        auto srv = rpc::server::at_binder(binder, name, "tcp://127.0.0.1:0", o);
        ipckit_test::calculator(srv);
        srv.start();
        ready(srv.address());
    });
}

/// Runs `fn` in a child with a report; what it reported (as_expected if all held).
std::string in_child(const std::function<void(child_report&)>& fn) {
    child_report report;
    auto c = report.spawn(fn);
    return report.finish(c);
}

/// What the binder says of `name`, asked directly: its address, or nothing.
std::optional<std::string> lookup(rpc::client& b, const std::string& name, const child_report& r) {
    auto found = b.call<std::optional<std::string>>("lookup", name, patience);
    r.check(found.has_value(), "an answer to lookup('" + name + "'), not " + found.error().message);
    return *found;
}

/// The ipckit::error that f() throws, as "<errc>: <what>"; "no error" if none.
template <class F>
std::string thrown(F&& f) {
    const auto e = ipckit_test::setup_error(std::forward<F>(f));
    return e ? ipckit_test::errc_text(e->reason()) + ": " + e->what() : "no error";
}

/// Waits (with patience) until the binder holds no `name`, asking again after each answer.
bool gone_from(rpc::client& b, const std::string& name, const child_report& r) {
    return ipckit_test::eventually([&] { return !lookup(b, name, r); });
}

}  // namespace

TEST_CASE("rpc binder: a server registers its real address by name, and a client finds and calls it", "[process]") {
    for (const auto kind : binder_kinds) {
        INFO("binder over " << ipckit_test::to_string(kind));
        serving binder = binder_on(kind);
        REQUIRE(binder.started());
        serving calc = calc_at(binder.address(), "calc");
        REQUIRE(calc.started());
        CHECK(ipckit::parse_address(calc.address()).port != 0);  // port 0 became a real one

        CHECK(in_child([&](child_report& r) {
                  rpc::client b(binder.address());
                  r.check(lookup(b, "calc", r) == calc.address(), "the server's real address, " + calc.address());
                  auto c = rpc::client::at_binder(binder.address(), "calc");
                  auto sum = c.call<std::int64_t>("add", 20, 22, patience);
                  r.check(sum && *sum == 42, "add(20, 22) = 42 from the server found by name");
              }) == as_expected);

        // an unknown name: not_found, naming it and the binder
        CHECK(in_child([&](child_report& r) {
                  const auto e = thrown([&] { return rpc::client::at_binder(binder.address(), "calculator"); });
                  r.check(ipckit_test::contains(e, "errc(not found)") && ipckit_test::contains(e, "'calculator'") &&
                              ipckit_test::contains(e, binder.address()),
                          "not_found naming 'calculator' and the binder, not " + e);
              }) == as_expected);

        // a second server under a live server's name: name_taken, naming the holder's address
        CHECK(in_child([&](child_report& r) {
                  const auto e = thrown([&] { return rpc::server::at_binder(binder.address(), "calc", "tcp://127.0.0.1:0"); });
                  r.check(ipckit_test::contains(e, "errc(name taken)") && ipckit_test::contains(e, calc.address()),
                          "name_taken naming where 'calc' is served, not " + e);
              }) == as_expected);
    }
}

TEST_CASE("rpc binder: a SIGKILLed server goes from the binder, and its restart on port 0 is found at its new address",
          "[process]") {
    for (const auto kind : binder_kinds) {
        INFO("binder over " << ipckit_test::to_string(kind));
        serving binder = binder_on(kind);
        REQUIRE(binder.started());
        std::string first;
        {
            serving calc = calc_at(binder.address(), "calc");
            REQUIRE(calc.started());
            first = calc.address();
            CHECK(calc.kill() == as_expected);
        }
        // its connection to the binder ended with it: the name goes (asked until it has)
        CHECK(in_child([&](child_report& r) {
                  rpc::client b(binder.address());
                  r.check(gone_from(b, "calc", r), "'calc' gone from the binder once its server was killed");
                  const auto e = thrown([&] { return rpc::client::at_binder(binder.address(), "calc"); });
                  r.check(ipckit_test::contains(e, "errc(not found)"), "not_found for the dead server's name, not " + e);
              }) == as_expected);

        serving again = calc_at(binder.address(), "calc");  // the name is free: no name_taken
        REQUIRE(again.started());
        INFO("first at " << first << ", restarted at " << again.address());
        CHECK(in_child([&](child_report& r) {
                  rpc::client b(binder.address());
                  r.check(lookup(b, "calc", r) == again.address(), "the restarted server's address, " + again.address());
                  auto c = rpc::client::at_binder(binder.address(), "calc");
                  r.check(c.server_incarnation() != 0, "a hello from the restarted server");
                  auto sum = c.call<std::int64_t>("add", 1, 2, patience);
                  r.check(sum && *sum == 3, "add(1, 2) = 3 from the restarted server");
              }) == as_expected);
    }
}

TEST_CASE("rpc binder: a restarted binder gets back the name of a server still serving, within about its liveness "
          "interval",
          "[process]") {
    rpc::server_options quick;
    quick.net.liveness_interval = 1s;  // the server asks the binder for its name every second
    for (const auto kind : binder_kinds) {
        INFO("binder over " << ipckit_test::to_string(kind));
        serving binder = binder_on(kind);
        REQUIRE(binder.started());
        const std::string at = binder.address();
        serving calc = calc_at(at, "calc", quick);
        REQUIRE(calc.started());
        CHECK(binder.kill() == as_expected);  // its table dies with it

        serving again = binder_at(at);  // starts empty, on the same address
        REQUIRE(again.started());
        CHECK(in_child([&](child_report& r) {
                  rpc::client b(at);
                  r.check(ipckit_test::eventually([&] { return lookup(b, "calc", r) == calc.address(); }),
                          "'calc' registered again at " + calc.address() + " by the server that kept serving");
                  auto c = rpc::client::at_binder(at, "calc");
                  auto sum = c.call<std::int64_t>("add", 2, 3, patience);
                  r.check(sum && *sum == 5, "add(2, 3) = 5 from the server found through the restarted binder");
              }) == as_expected);
    }
}

TEST_CASE("rpc binder: an orderly stop unregisters the name, and so does unregister", "[process]") {
    serving binder = binder_on(net_kind::unix_path);
    REQUIRE(binder.started());
    child_report report;
    signal_pipe stopped;
    signal_pipe hold;
    auto srv = report.spawn([&](child_report& r) {
        auto s = rpc::server::at_binder(binder.address(), "calc", "tcp://127.0.0.1:0");
        ipckit_test::calculator(s);
        s.start();
        s.stop();
        stopped.post();
        r.block_until_killed(hold);  // alive, its process holds no connection to the binder
    });
    REQUIRE(report.reached(srv, stopped) == as_expected);
    CHECK(in_child([&](child_report& r) {
              rpc::client b(binder.address());
              r.check(!lookup(b, "calc", r), "no 'calc' once its server stopped (it unregistered before stop() returned)");
          }) == as_expected);
    CHECK(report.ended(srv.kill(), ipckit_test::killed_by_sigkill) == as_expected);

    // the methods themselves, as a client in another language would call them
    CHECK(in_child([&](child_report& r) {
              rpc::client b(binder.address());
              auto reg = b.call<void>("register", std::string("solo"), std::string("tcp://192.0.2.1:7000"), patience);
              r.check(reg.has_value(), "register('solo') to succeed, not " + reg.error().message);
              r.check(lookup(b, "solo", r) == std::string("tcp://192.0.2.1:7000"), "solo's address as registered");
              auto un = b.call<bool>("unregister", std::string("solo"), patience);
              r.check(un && *un, "unregister('solo') to say it held it");
              r.check(!lookup(b, "solo", r), "no 'solo' once unregistered");
              auto again = b.call<bool>("unregister", std::string("solo"), patience);
              r.check(again && !*again, "a second unregister('solo') to say it held nothing");
          }) == as_expected);
}

TEST_CASE("rpc binder: bad input is refused with a reason, and the binder goes on", "[process]") {
    rpc::binder_options o;
    o.max_names = 3;
    serving binder = binder_on(net_kind::tcp, o);
    REQUIRE(binder.started());
    const auto refused = [](const rpc::error& e, const std::string& code, const std::string& naming) {
        return e.code == rpc::errc::remote && e.message.rfind(code + ": ", 0) == 0 && ipckit_test::contains(e.message, naming);
    };
    CHECK(in_child([&](child_report& r) {
              rpc::client b(binder.address());
              auto unknown = b.call<void>("bind", std::string("calc"), patience);
              r.check(!unknown && unknown.error().code == rpc::errc::unknown_method &&
                          ipckit_test::contains(unknown.error().message, "'bind'"),
                      "unknown_method naming 'bind', not " + unknown.error().message);

              // the signature stated has no origin: only what goes on the wire
              auto wrong = b.call<void>("register", 1, 2, patience);
              r.check(!wrong && wrong.error().code == rpc::errc::bad_arguments &&
                          ipckit_test::contains(wrong.error().message, "register(string, string) -> nil"),
                      "bad_arguments stating register(string, string) -> nil, not " + wrong.error().message);

              const std::string long_name(ipckit::max_member_name + 1, 'n');
              auto too_long = b.call<void>("register", long_name, std::string("tcp://127.0.0.1:1"), patience);
              r.check(!too_long && refused(too_long.error(), "invalid_name", long_name),
                      "invalid_name naming the long name, not " + too_long.error().message);
              auto looked = b.call<std::optional<std::string>>("lookup", std::string("a/b"), patience);
              r.check(!looked && refused(looked.error(), "invalid_name", "a/b"),
                      "invalid_name for lookup('a/b'), not " + looked.error().message);
              const auto e = thrown([&] { return rpc::client::at_binder(binder.address(), long_name); });
              r.check(ipckit_test::contains(e, "errc(invalid name)"), "at_binder to refuse the long name, not " + e);

              auto nowhere = b.call<void>("register", std::string("calc"), std::string("nowhere"), patience);
              r.check(!nowhere && refused(nowhere.error(), "invalid_argument", "nowhere"),
                      "invalid_argument naming the address 'nowhere', not " + nowhere.error().message);
              // an address that would forge a line of the binder's log, or of a client's error
              const std::string forged = "unix:///tmp/x\nipckit binder: registered 'bank' at tcp://127.0.0.1:1";
              auto control = b.call<void>("register", std::string("calc"), forged, patience);
              r.check(!control && refused(control.error(), "invalid_argument", "control character") &&
                          !ipckit_test::contains(control.error().message, "\n"),
                      "invalid_argument for an address with a newline, quoted without it, not " +
                          control.error().message);
              const std::string c1 = "unix:///tmp/x\xc2\x9b" "2J";  // U+009B, CSI: valid UTF-8 a terminal acts on
              auto beyond = b.call<void>("register", std::string("calc"), c1, patience);
              r.check(!beyond && refused(beyond.error(), "invalid_argument", "beyond ASCII") &&
                          !ipckit_test::contains(beyond.error().message, "\xc2\x9b"),
                      "invalid_argument for an address with a C1 control, quoted without it, not " +
                          beyond.error().message);

              // one connection holds at most max_names
              for (int i = 0; i < 3; ++i) {
                  auto ok = b.call<void>("register", "n" + std::to_string(i), std::string("tcp://127.0.0.1:1"), patience);
                  r.check(ok.has_value(), "register('n" + std::to_string(i) + "') within the cap, not " + ok.error().message);
              }
              auto over = b.call<void>("register", std::string("n3"), std::string("tcp://127.0.0.1:1"), patience);
              r.check(!over && refused(over.error(), "no_space", "max_names"),
                      "no_space naming binder_options::max_names, not " + over.error().message);

              // another connection: its own cap, and no hold on this one's names
              rpc::client other(binder.address());
              auto theirs = other.call<void>("register", std::string("n3"), std::string("tcp://127.0.0.1:2"), patience);
              r.check(theirs.has_value(), "another connection to register 'n3', not " + theirs.error().message);
              auto taken = other.call<void>("register", std::string("n0"), std::string("tcp://127.0.0.1:2"), patience);
              r.check(!taken && refused(taken.error(), "name_taken", "'n0'"), "name_taken for 'n0', not " + taken.error().message);
              auto steal = other.call<bool>("unregister", std::string("n0"), patience);
              r.check(!steal && refused(steal.error(), "permission_denied", "'n0'"),
                      "permission_denied to unregister another's 'n0', not " + steal.error().message);
              r.check(lookup(b, "n0", r) == std::string("tcp://127.0.0.1:1"), "'n0' still held by the first connection");
          }) == as_expected);
    // that client's end dropped its names
    CHECK(in_child([&](child_report& r) {
              rpc::client b(binder.address());
              for (const char* name : {"n0", "n1", "n2", "n3"})
                  r.check(gone_from(b, name, r), std::string("'") + name + "' gone once its connection ended");
          }) == as_expected);
}

TEST_CASE("rpc binder: an unreachable binder is an error naming its address", "[process]") {
    const std::string nowhere = ipckit_test::bind_address(net_kind::unix_path);  // nothing listens there
    CHECK(in_child([&](child_report& r) {
              const auto c = thrown([&] { return rpc::client::at_binder(nowhere, "calc"); });
              r.check(ipckit_test::contains(c, "the binder at " + nowhere + " is unreachable"),
                      "client::at_binder to name the unreachable binder, not " + c);
              const auto s = thrown([&] { return rpc::server::at_binder(nowhere, "calc", "tcp://127.0.0.1:0"); });
              r.check(ipckit_test::contains(s, "the binder at " + nowhere + " is unreachable"),
                      "server::at_binder to name the unreachable binder, not " + s);
          }) == as_expected);
}
