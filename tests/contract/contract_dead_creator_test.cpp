// Contract: a process_owned channel whose creator was SIGKILLed is replaced by the next create()
// (README, "Ownership"): a kill runs no destructor, so the name is still there, but nobody can be
// using what it names. The new channel is empty (and an unbounded queue's chunks are gone) and
// takes a sender and a receiver. Written once, run for every kind that promises it (kinds.hpp);
// the segment layer's own test is segment_test.cpp's.

#include "../catch.hpp"
#include "../messages.hpp"
#include "child_report.hpp"
#include "kinds.hpp"

#include <ipckit/segment.hpp>

#include <cstdint>

using namespace ipckit_test::contract;
using ipckit_test::as_expected;
using ipckit_test::child_report;

TEMPLATE_TEST_CASE("contract: a process_owned channel whose creator was killed is replaced on create", "[process]",
                   IPCKIT_CONTRACT_DEAD_CREATOR_KINDS) {
    using K = TestType;
    typename K::place p;
    child_report report;
    signal_pipe created, hold;
    // The creator leaves messages in it (a rendezvous: none) and is killed.
    child creator = report.spawn([&](child_report& r) {
        auto q = K::create(p);
        auto tx = q.sender();
        for (std::uint64_t i = 0; i < K::holds; ++i) r.expect(K::send(tx, i, patience), errc::ok);
        created.post();
        r.expect_value(static_cast<std::uint64_t>(block_until_killed(hold)), 0);  // never returns
    });
    created.close_write();
    const bool got_there = created.wait();
    if (!got_there) CHECK(report.finish(creator) == as_expected);
    REQUIRE(got_there);
    CHECK(creator.kill() == killed_by_sigkill);
    CHECK(ipckit::segment_exists(p));
    if constexpr (requires { K::chunks(p); }) CHECK(K::chunks(p) > 1);

    auto q = K::create(p);  // not already_exists
    CHECK(q.created());
    if constexpr (requires { K::chunks(p); }) CHECK(K::chunks(p) == 0);
    auto tx = q.sender();  // not sender_busy
    auto rx = q.template receiver<ipckit::non_blocking>();
    std::uint64_t seq = 0;
    CHECK(K::receive(rx, seq) == errc::would_block);  // nothing of the dead creator's
    if constexpr (K::holds > 0) {
        REQUIRE(K::send(tx, 7, patience) == errc::ok);
        REQUIRE(K::receive(rx, seq) == errc::ok);
        CHECK(seq == 7);
    }
}
