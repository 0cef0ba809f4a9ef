// The roster of one side of a queue (detail/sync/roster.hpp): how its state reads to the peer while
// its holders come, let go, and die.

#include <ipckit/detail/sync/roster.hpp>

#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace {

namespace sys = ipckit::detail::sys;
using ipckit::errc;
using ipckit::detail::roster_place;
using roster4 = ipckit::detail::roster<4>;

/// The identity of a process that has ended: a forked child, reaped.
sys::process_id dead_process() {
    const pid_t pid = ipckit_test::spawn([] { return 0; });
    REQUIRE(ipckit_test::wait_child(pid) == 0);
    return {static_cast<std::uint32_t>(pid), 0};
}

/// A process that lives until kill(): a place claimed for it is held by a process that dies
/// later.
class doomed {
public:
    doomed() : pid_(ipckit_test::spawn([this] { return ipckit_test::block_until_killed(hold_); })) {}
    ~doomed() {
        if (pid_ > 0) (void)ipckit_test::kill_child(pid_);
    }
    doomed(const doomed&) = delete;
    doomed& operator=(const doomed&) = delete;
    [[nodiscard]] sys::process_id id() const { return {static_cast<std::uint32_t>(pid_), 0}; }
    void kill() { REQUIRE(ipckit_test::kill_child(std::exchange(pid_, -1)) == ipckit_test::killed_by_sigkill); }

private:
    ipckit_test::signal_pipe hold_;
    pid_t pid_;
};

/// The doorbell every holder of a test roster sleeps on.
struct one_bell {
    ipckit::detail::doorbell bell;
    ipckit::detail::doorbell& operator()(std::size_t /*place*/) noexcept { return bell; }
};

/// Takes a place in `r` for `who` (which may be a dead process: a holder that died later).
template <class Roster>
std::optional<std::size_t> claim(Roster& r, const sys::process_id& who) {
    one_bell b;
    return r.claim(who, b);
}

}  // namespace

TEST_CASE("roster: nobody yet is ok, a live holder is ok, the one holder of a side of one let go is closed, every "
          "holder of a side of many let go is not (the closed rule)",
          "[unit]") {
    const auto me = sys::self();
    auto one = std::make_unique<ipckit::detail::roster<1>>();
    CHECK(one->state(true) == errc::ok);
    const auto only = claim(*one, me);
    REQUIRE(only);
    CHECK(one->state(false) == errc::ok);
    one->release(*only, me);
    CHECK(one->state(false) == errc::closed);
    CHECK(one->state(true) == errc::closed);

    auto r = std::make_unique<roster4>();
    CHECK(r->state(true) == errc::ok);
    const auto place = claim(*r, me);
    REQUIRE(place);
    CHECK(r->state(false) == errc::ok);
    CHECK(r->state(true) == errc::ok);
    r->release(*place, me);
    CHECK(r->state(false) == errc::ok);  // more may come
    CHECK(r->state(true) == errc::ok);
}

TEST_CASE("roster: a sealed side is closed, whoever holds a place (a queue closed as a whole)", "[unit]") {
    const auto me = sys::self();
    auto r = std::make_unique<roster4>();
    const auto place = claim(*r, me);
    REQUIRE(place);
    CHECK_FALSE(r->is_sealed());
    r->seal();
    CHECK(r->is_sealed());
    CHECK(r->state(false) == errc::closed);
    CHECK(r->state(true) == errc::closed);
    r->release(*place, me);
    CHECK(r->state(false) == errc::closed);
}

TEST_CASE("roster: a holder that died without letting go is peer_dead", "[unit]") {
    auto r = std::make_unique<roster4>();
    const auto place = claim(*r, dead_process());
    REQUIRE(place);
    CHECK(r->state(false) == errc::ok);  // without asking the OS, nobody is known to be gone
    CHECK(r->state(true) == errc::peer_dead);
}

TEST_CASE("roster: a place closed but not yet counted down reads as let go, not peer_dead", "[unit]") {
    // release() closes the place, then lowers `attached`: a peer asking between the two steps
    // (or after a holder killed between them) must see a holder that let go, not a dead one.
    const auto me = sys::self();
    auto one = std::make_unique<ipckit::detail::roster<1>>();
    const auto only = claim(*one, me);
    REQUIRE(only);
    one->places[*only].holder.store(ipckit::detail::roster_place::closed);  // release's first step only
    CHECK(one->attached.load() == 1);
    CHECK(one->state(true) == errc::closed);
    CHECK(one->state(false) == errc::closed);  // a non-blocking verb too: the count is one too high for good
    auto r = std::make_unique<roster4>();
    const auto place = claim(*r, me);
    REQUIRE(place);
    r->places[*place].holder.store(ipckit::detail::roster_place::closed);
    CHECK(r->state(true) == errc::ok);  // a side of many: let go, and more may come
}

TEST_CASE("roster: a claimant killed after counting itself and before its claim is nobody, and the count one too "
          "high hides no death",
          "[unit]") {
    // take_free() counts, then claims: killed in between, it leaves `attached` one too high and
    // its place as it was.
    const auto me = sys::self();
    auto one = std::make_unique<ipckit::detail::roster<1>>();
    one->attached.store(1);
    CHECK(one->state(false) == errc::ok);  // nobody came yet
    CHECK(one->state(true) == errc::ok);
    const auto only = claim(*one, me);
    REQUIRE(only);
    one->release(*only, me);
    CHECK(one->state(false) == errc::closed);  // the one who came let go
    CHECK(one->state(true) == errc::closed);

    auto r = std::make_unique<roster4>();
    r->attached.store(1);
    REQUIRE(claim(*r, dead_process()));
    CHECK(r->state(true) == errc::peer_dead);
    one_bell b;
    r->retire_dead(me, b);  // a peer reported the death and let go of the place
    CHECK(r->nobody_holds());  // for every other peer to report it too, the count one too high
}

TEST_CASE("roster: a count gone below the places held (wrapped) is not believed", "[unit]") {
    // A place held by a process that died before it was counted (an older ipckit claimed, then
    // counted) or a scribbled count: the places say what is true.
    const auto me = sys::self();
    auto one = std::make_unique<ipckit::detail::roster<1>>();
    REQUIRE(claim(*one, dead_process()));
    one->attached.store(0);  // never counted
    const auto only = claim(*one, me);  // takes the dead one's place over, as still counted
    REQUIRE(only);
    one->release(*only, me);
    CHECK(one->state(false) == errc::closed);  // the count wrapped; the place says let go
    CHECK(one->state(true) == errc::closed);

    auto r = std::make_unique<roster4>();
    REQUIRE(claim(*r, dead_process()));
    r->attached.store(0);  // never counted
    const auto place = claim(*r, me);
    REQUIRE(place);
    r->release(*place, me);
    REQUIRE(claim(*r, dead_process()));  // the next holder dies
    CHECK(r->state(true) == errc::peer_dead);

    auto scribbled = std::make_unique<roster4>();
    REQUIRE(claim(*scribbled, dead_process()));
    scribbled->attached.store(~std::uint32_t{0});
    CHECK(scribbled->state(true) == errc::peer_dead);
}

TEST_CASE("roster: one holder let go and another died is peer_dead", "[unit]") {
    auto r = std::make_unique<roster4>();
    const auto me = sys::self();
    const auto mine = claim(*r, me);
    REQUIRE(mine);
    REQUIRE(claim(*r, dead_process()));
    r->release(*mine, me);
    CHECK(r->state(true) == errc::peer_dead);
}

TEST_CASE("roster: a newcomer takes over a dead holder's place and retires the other dead ones' places", "[unit]") {
    auto r = std::make_unique<roster4>();
    const auto me = sys::self();
    doomed a, b, c;
    REQUIRE(claim(*r, a.id()) == 0u);
    REQUIRE(claim(*r, b.id()) == 1u);
    REQUIRE(claim(*r, me) == 2u);
    REQUIRE(claim(*r, c.id()) == 3u);
    a.kill();
    b.kill();
    c.kill();
    r->release(2, me);
    CHECK(r->attached.load() == 3);
    CHECK(claim(*r, me) == 0u);  // the first dead holder's place, before the closed one
    CHECK(r->places[1].holder.load() == roster_place::closed);
    CHECK(r->places[3].holder.load() == roster_place::closed);
    CHECK(r->attached.load() == 1);
    CHECK(r->retirements.load() == 2);
    r->release(0, me);
    CHECK(r->state(true) == errc::ok);  // no dead holder left to report; a side of many waits on
}

TEST_CASE("roster: a dead holder caught in a claim keeps it listed, and the newcomer takes a place with none",
          "[unit]") {
    auto r = std::make_unique<roster4>();
    const auto me = sys::self();
    doomed a;
    REQUIRE(claim(*r, a.id()) == 0u);
    r->places[0].pending.store(42);  // it dies between claiming position 41 and finishing it
    a.kill();
    CHECK(claim(*r, me) == 1u);
    CHECK(r->places[0].holder.load() == roster_place::closed);
    CHECK(r->places[0].pending.load() == 42);  // still listed, by a place nobody live holds
    CHECK_FALSE(r->live_claimant(42));
    CHECK(r->attached.load() == 1);
    CHECK(r->retirements.load() == 0);  // the newcomer stands in for it: not a death nobody replaced
}

TEST_CASE("roster: with one place, a newcomer takes the dead claimant's place and clears its claim", "[unit]") {
    auto r = std::make_unique<ipckit::detail::roster<1>>();
    const auto me = sys::self();
    REQUIRE(claim(*r, dead_process()) == 0u);
    r->places[0].pending.store(42);
    CHECK(claim(*r, me) == 0u);
    CHECK(r->places[0].pending.load() == 0);  // ours now: it lists only what we claim
    CHECK_FALSE(r->live_claimant(42));
    CHECK(r->attached.load() == 1);
}

TEST_CASE("roster: retiring the dead lets go of their places once, and forgets them as sleepers", "[unit]") {
    auto r = std::make_unique<roster4>();
    const auto me = sys::self();
    one_bell b;
    const auto mine = claim(*r, me);
    REQUIRE(mine == 0u);
    const auto dead = dead_process();
    REQUIRE(claim(*r, dead) == 1u);
    r->places[1].asleep.store(1);  // killed asleep
    b.bell.sleepers.store(1);
    r->release(*mine, me);
    CHECK(r->state(true) == errc::peer_dead);
    r->retire_dead(me, b);
    CHECK(r->state(false) == errc::ok);  // every place let go of: a side of many waits on
    CHECK(r->state(true) == errc::ok);
    CHECK(r->retirements.load() == 1);
    CHECK(b.bell.sleepers.load() == 0);
    CHECK_FALSE(r->retire(1, dead.pack(), me, b));  // already done: nothing happens twice
    CHECK(r->retirements.load() == 1);
    CHECK(r->attached.load() == 0);
}
