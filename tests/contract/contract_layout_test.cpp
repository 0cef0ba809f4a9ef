// Contract: opening a channel as the same kind with another message type is incompatible_layout,
// whether open or open_or_create, and replaces nothing: the channel still opens as what it is
// (README, "Bad input"). Written once, run for every kind (kinds.hpp). What the message says of
// each kind's other parameters (capacity, ownership, delivery...) is in that kind's own tests.

#include "../catch.hpp"
#include "../messages.hpp"
#include "kinds.hpp"

#include <cstdint>

using namespace ipckit_test::contract;
using ipckit_test::setup_errc;

TEMPLATE_TEST_CASE("contract: opened with another message type, a channel is incompatible_layout and stays as it was",
                   "[unit]", IPCKIT_CONTRACT_ALL_KINDS) {
    using K = TestType;
    const made<K> p;
    auto rx = K::template receiver<ipckit::non_blocking>(p);
    CHECK(setup_errc([&] { K::open_other(p); return 0; }) == errc::incompatible_layout);
    auto tx = K::sender(p);
    std::uint64_t seq = 0;
    CHECK(K::receive(rx, seq) == errc::would_block);
    if constexpr (K::holds > 0) {
        REQUIRE(K::send(tx, 7, patience) == errc::ok);
        REQUIRE(receive_sent<K>(rx, seq) == errc::ok);
        CHECK(seq == 7);
    }
}
