// The roster of one side of a queue (detail/roster.hpp): how its state reads to the peer while
// its holders come, let go, and die.

#include <ipckit/detail/roster.hpp>

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <memory>

namespace {

namespace sys = ipckit::detail::sys;
using ipckit::errc;
using roster4 = ipckit::detail::roster<4>;

/// The identity of a process that has ended: a forked child, reaped.
sys::process_id dead_process() {
    const pid_t pid = ipckit_test::spawn([] { return 0; });
    REQUIRE(ipckit_test::wait_child(pid) == 0);
    return {static_cast<std::uint32_t>(pid), 0};
}

}  // namespace

TEST_CASE("roster: nobody yet is ok, a live holder is ok, everyone let go is closed", "[unit]") {
    auto r = std::make_unique<roster4>();
    const auto me = sys::self();
    CHECK(r->state(true) == errc::ok);
    const auto place = r->claim(me);
    REQUIRE(place);
    CHECK(r->state(false) == errc::ok);
    CHECK(r->state(true) == errc::ok);
    r->release(*place, me);
    CHECK(r->state(false) == errc::closed);
    CHECK(r->state(true) == errc::closed);
}

TEST_CASE("roster: a holder that died without letting go is peer_dead", "[unit]") {
    auto r = std::make_unique<roster4>();
    const auto place = r->claim(dead_process());
    REQUIRE(place);
    CHECK(r->state(false) == errc::ok);  // without asking the OS, nobody is known to be gone
    CHECK(r->state(true) == errc::peer_dead);
}

TEST_CASE("roster: a place closed but not yet counted down reads as closed, not peer_dead", "[unit]") {
    // release() closes the place, then lowers `attached`: a peer asking between the two steps
    // (or after a holder killed between them) must see a holder that let go, not a dead one.
    auto r = std::make_unique<roster4>();
    const auto me = sys::self();
    const auto place = r->claim(me);
    REQUIRE(place);
    r->places[*place].holder.store(ipckit::detail::roster_place::closed);  // release's first step only
    CHECK(r->attached.load() == 1);
    CHECK(r->state(true) == errc::closed);
}

TEST_CASE("roster: one holder let go and another died is peer_dead", "[unit]") {
    auto r = std::make_unique<roster4>();
    const auto me = sys::self();
    const auto mine = r->claim(me);
    REQUIRE(mine);
    REQUIRE(r->claim(dead_process()));
    r->release(*mine, me);
    CHECK(r->state(true) == errc::peer_dead);
}
