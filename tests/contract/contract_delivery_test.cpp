// Contract: every kind delivers each sender's messages exactly once and in the order sent, across
// processes (README, "Guarantees"). Written once, run for every kind (kinds.hpp).
//
// Senders are forked children that report through child_report; the receiver is the parent.

#include "../catch.hpp"
#include "../messages.hpp"
#include "child_report.hpp"
#include "kinds.hpp"

#include <cstdint>
#include <vector>

using namespace ipckit_test::contract;
using ipckit_test::as_expected;
using ipckit_test::child_report;

TEMPLATE_TEST_CASE("contract: each sender's messages arrive exactly once and in order, across processes", "[process]",
                   IPCKIT_CONTRACT_ALL_KINDS) {
    using K = TestType;
    constexpr unsigned senders = K::multi_producer ? 3 : 1;
    constexpr std::uint64_t per_sender = 20'000;
    const made<K> p;
    auto rx = K::receiver(p);  // first: a broadcast receiver gets only what is sent after it came

    std::vector<child_report> reports(senders);
    std::vector<child> children;
    signal_pipe attached, release;
    for (unsigned id = 0; id < senders; ++id) {
        children.push_back(reports[id].spawn([&, id](child_report& r) {
            auto tx = K::sender(p, id);
            attached.post();
            for (std::uint64_t i = 0; i < per_sender; ++i) r.expect(K::send(tx, tick_of(id, i), patience), errc::ok);
            (void)release.wait();  // attached until all is received: a sender's close is another promise
        }));
    }
    attached.close_write();
    for (unsigned id = 0; id < senders; ++id) REQUIRE(attached.wait());

    std::vector<std::uint64_t> next(senders, 0);
    std::uint64_t strangers = 0, out_of_order = 0;
    errc failed = errc::ok;
    for (std::uint64_t got = 0; got < senders * per_sender; ++got) {
        std::uint64_t seq = 0;
        failed = K::receive(rx, seq, patience);
        if (failed != errc::ok) break;
        const auto s = sender_of(seq);
        if (s >= senders) {
            ++strangers;
        } else {
            if (index_of(seq) != next[s]) ++out_of_order;
            next[s] = index_of(seq) + 1;
        }
    }
    release.post(senders);
    CHECK(failed == errc::ok);
    CHECK(strangers == 0);
    CHECK(out_of_order == 0);
    for (unsigned id = 0; id < senders; ++id) {
        INFO("sender " << id);
        CHECK(next[id] == per_sender);
        CHECK(reports[id].finish(children[id]) == as_expected);
    }
}
