// Tests of rendezvous of variable-size messages, ipckit::queue<bytes<Max>, zero_capacity, ...>,
// within one process (the other side on a thread): the layout, every size from 0 to Max,
// too_large with nothing offered, a buffer too small (the message parked in the receiver, its
// next, and its sender waiting until it is received or the receiver closes), and a scribbled
// length. The protocol itself is rendezvous_test.cpp's; across processes,
// slot_bytes_process_test.cpp and the contract scenarios.

#include "byte_messages.hpp"
#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>
#include <ipckit/segment.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::err;
using ipckit_test::patience;
using ipckit_test::pattern;
using ipckit_test::same;
using ipckit_test::scoped_name;
using ipckit_test::setup_errc;

namespace {

constexpr std::size_t max_bytes = 100;
using spsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::zero_capacity>;
using mpmc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::zero_capacity, ipckit::multi_of<4>, ipckit::multi_of<4>>;

/// A send on its own thread: its result once it has returned.
class sending {
public:
    template <class Tx>
    sending(Tx& tx, std::vector<std::byte> m)
        : thread_([this, &tx, m = std::move(m)] {
              result_ = err(tx.send(m, patience));
              done_ = true;
          }) {}
    ~sending() {
        if (thread_.joinable()) thread_.join();
    }
    sending(const sending&) = delete;
    sending& operator=(const sending&) = delete;
    [[nodiscard]] bool done() const { return done_; }
    errc result() {
        thread_.join();
        return result_;
    }

private:
    errc result_ = errc::ok;
    std::atomic<bool> done_{false};
    std::thread thread_;
};

}  // namespace

TEST_CASE("rendezvous bytes: the layout names bytes<Max>, and another Max is incompatible_layout", "[unit]") {
    CHECK(spsc::layout().description ==
          "ipckit::queue<bytes<100>, zero_capacity, single producer, single consumer, process_owned>");
    scoped_name name("rvb");
    auto q = spsc::create(name);
    CHECK(setup_errc([&] { return ipckit::queue<ipckit::bytes<101>, ipckit::zero_capacity>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_errc([&] { return ipckit::queue<std::uint64_t, ipckit::zero_capacity>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_errc([&] { return spsc::open(name); }) == errc::ok);
}

TEMPLATE_TEST_CASE("rendezvous bytes: every size from 0 to Max is received whole, each send returning once taken",
                   "[unit]", spsc, mpmc) {
    scoped_name name("rvb");
    auto q = TestType::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    std::thread receiver([&rx] {
        std::array<std::byte, max_bytes> buf{};
        for (std::size_t n = 0; n <= max_bytes; ++n) {
            const auto r = n % 2 == 0 ? rx.receive(buf, patience) : rx.receive(buf);
            if (!r || !same(std::span(buf.data(), *r), pattern(n, n))) return;
        }
        (void)rx.receive(patience);  // the string_view
    });
    std::size_t sent = 0;
    for (std::size_t n = 0; n <= max_bytes; ++n) sent += tx.send(pattern(n, n), patience).has_value();
    CHECK(sent == max_bytes + 1);
    CHECK(tx.send(std::string_view("bye"), patience));
    receiver.join();
}

TEMPLATE_TEST_CASE("rendezvous bytes: a message over Max is too_large at once, with nothing offered", "[unit]", spsc,
                   mpmc) {
    scoped_name name("rvb");
    auto q = TestType::create(name);
    auto tx = q.sender();
    auto rx = q.template receiver<ipckit::non_blocking>();
    CHECK(err(tx.send(pattern(max_bytes + 1, 1))) == errc::too_large);
    CHECK(err(tx.send(pattern(max_bytes + 1, 1), 10ms)) == errc::too_large);
    CHECK(q.depth() == 0);
    CHECK(err(rx.receive()) == errc::would_block);
}

TEST_CASE("rendezvous bytes: a buffer too small is too_large, the message stays the receiver's next and its sender "
          "waits until it is received",
          "[unit]") {
    scoped_name name("rvb");
    auto q = mpmc::create(name);
    auto a = q.sender();
    auto b = q.sender();
    auto rx = q.receiver();
    std::array<std::byte, 49> small{};
    sending first(a, pattern(50, 1));
    CHECK(err(rx.receive(small, patience)) == errc::too_large);  // taken, parked here
    CHECK(q.depth() == 0);                                      // no longer on offer
    sending second(b, pattern(3, 2));
    REQUIRE(ipckit_test::eventually([&] { return q.depth() == 1; }));  // b's offer is out
    // The parked message stays this receiver's next: too_large again, not b's 3 bytes.
    CHECK(err(rx.receive(small)) == errc::too_large);
    CHECK_FALSE(first.done());  // its send returns only once the message is received
    const auto v = rx.receive(patience);
    REQUIRE(v);
    CHECK(same(*v, pattern(50, 1)));
    CHECK(first.result() == errc::ok);
    const auto n = rx.receive(small, patience);
    REQUIRE(n);
    CHECK(same(std::span(small.data(), *n), pattern(3, 2)));
    CHECK(second.result() == errc::ok);
}

TEST_CASE("rendezvous bytes: a receiver moved onto another keeps its parked message, and its sender waits for it",
          "[unit]") {
    scoped_name name("rvb");
    auto q = mpmc::create(name);
    auto tx = q.sender();
    auto into = q.receiver();
    auto rx = q.receiver();
    std::array<std::byte, 4> small{};
    sending s(tx, pattern(10, 1));
    CHECK(err(rx.receive(small, patience)) == errc::too_large);  // parked in rx
    into = std::move(rx);
    const auto v = into.receive(patience);
    REQUIRE(v);
    CHECK(same(*v, pattern(10, 1)));
    CHECK(s.result() == errc::ok);
}

TEST_CASE("rendezvous bytes: a receiver that closes with a message parked drops it, and its send returns ok",
          "[unit]") {
    scoped_name name("rvb");
    auto q = spsc::create(name);
    auto tx = q.sender();
    auto rx = q.receiver();
    std::array<std::byte, 4> small{};
    sending s(tx, pattern(10, 1));
    CHECK(err(rx.receive(small, patience)) == errc::too_large);
    rx.close();
    CHECK(s.result() == errc::ok);
    // A receiver after it gets the next message, not the dropped one.
    auto rx2 = q.receiver();
    sending t(tx, pattern(5, 2));
    const auto v = rx2.receive(patience);
    REQUIRE(v);
    CHECK(same(*v, pattern(5, 2)));
    CHECK(t.result() == errc::ok);
}

TEST_CASE("rendezvous bytes: an offer whose length is over Max is corrupt and delivered to nobody", "[unit]") {
    scoped_name name("rvb");
    auto q = mpmc::create(name);
    auto rx = q.receiver<ipckit::non_blocking>();
    {
        // An offer out in vacant sender place 3, as a hostile peer would make it.
        using st = ipckit::detail::offer_state;
        auto seg = ipckit::segment::open(name, mpmc::layout(), {});
        auto& o = static_cast<mpmc::shared*>(seg.body())->offers[3];
        o.value.length = max_bytes + 1;
        o.stamp.store(st::offered_stamp(1));
        o.state.store(st::pack(st::offered, 0, 1));
    }
    CHECK(err(rx.receive()) == errc::corrupt);
    CHECK(err(rx.receive()) == errc::would_block);  // it is gone
}
