// Tests across fork() of the kinds that carry bytes<Max> in slots of their own protocol, the
// unbounded chain and the rendezvous: messages of every size from 12 bytes to Max, numbered,
// with a sender or a receiver SIGKILLed in the middle of the traffic, and every message
// accounted for (whole, in order, none twice, none lost but the one a killed receiver held).
// The contract scenarios run the rest of the promises on these kinds (contract/kinds.hpp).
//
// Children do their work without Catch2 and report through pipes; the parent asserts. A thread
// is started only after the last fork. Every wait is on the event itself, bounded by patience.

#include "backdoor.hpp"
#include "byte_messages.hpp"
#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"
#include "unbounded_support.hpp"

#include <ipckit/queue.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <future>
#include <optional>
#include <span>
#include <thread>
#include <vector>

using ipckit::errc;
using ipckit_test::block_until_killed;
using ipckit_test::child;
using ipckit_test::err;
using ipckit_test::killed_by_sigkill;
using ipckit_test::numbered;
using ipckit_test::numbered_message;
using ipckit_test::patience;
using ipckit_test::quick_liveness;
using ipckit_test::scoped_name;
using ipckit_test::scoped_queue;
using ipckit_test::signal_pipe;

namespace {

constexpr std::size_t max_bytes = 200;
using chain = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::unbounded<4096>>;
using rendezvous = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::zero_capacity>;

/// A value a receiving child reports instead of a message's number: it found one torn, out of
/// order, or got an error.
constexpr std::uint64_t bad_message = ~std::uint64_t{0};

/// Receives the numbered messages of sender 0 from `rx`, each whole and the next in order from
/// `next`, until the receive fails or `limit` have come: how many it got, and how the stream
/// ended (that error, corrupt if a message was torn or out of order, ok at the limit).
template <class Rx>
std::pair<std::uint64_t, errc> receive_numbered(Rx& rx, std::uint64_t next,
                                                std::uint64_t limit = ~std::uint64_t{0}) {
    std::array<std::byte, max_bytes> buf{};
    std::uint64_t got = 0;
    while (got < limit) {
        const auto n = rx.receive(buf, patience);
        if (!n) return {got, n.error()};
        std::uint32_t p = 0;
        std::uint64_t s = 0;
        if (!numbered(std::span(buf.data(), *n), max_bytes, p, s) || p != 0 || s != next + got) return {got, errc::corrupt};
        ++got;
    }
    return {got, errc::ok};
}

/// A child that sends numbered messages of every size on Q until it is killed, posting on
/// `started` once it has sent `first`; a send that fails other than for room ends it (exit 3).
template <class Q>
int send_until_killed(const std::string& name, signal_pipe& started, std::uint64_t first) {
    auto tx = Q::open(name, quick_liveness()).sender();
    for (std::uint64_t s = 0;; ++s) {
        const auto m = numbered_message(0, s, max_bytes);
        errc e = errc::no_space;
        while (e == errc::no_space) e = err(tx.send(m, patience));  // the chain's cap: the receiver frees it
        if (e != errc::ok) return 3;
        if (s + 1 == first) started.post();
    }
}

}  // namespace

TEST_CASE("slot bytes: a chain's receiver gets every message of every size a killed sender sent, whole and in order, "
          "then peer_dead",
          "[process]") {
    scoped_queue name;
    ipckit::unbounded_options opt(quick_liveness());
    opt.cap_bytes = 8 * 4096;  // 8 chunks of 17 messages: the sender runs into the cap, and waits on it
    auto q = chain::create(name, opt);
    auto rx = q.receiver();
    signal_pipe started;
    // It says so once it has sent 600, which it can do only once 500 have been read.
    child sender([&] { return send_until_killed<chain>(name, started, 600); });
    started.close_write();
    // Half read while the sender runs, then it is killed, mid-send or blocked on the cap.
    const auto [first, first_end] = receive_numbered(rx, 0, 500);
    REQUIRE(first_end == errc::ok);
    REQUIRE(first == 500);
    REQUIRE(started.wait());
    CHECK(sender.kill() == killed_by_sigkill);
    const auto [got, end] = receive_numbered(rx, 500);
    CHECK(end == errc::peer_dead);
    CHECK(500 + got >= 600);  // at least what it had sent before it said so
    CHECK(chunks_of(name).size() <= 1);
}

TEST_CASE("slot bytes: a chain receiver killed mid-stream is replaced by one that goes on from its next message",
          "[process]") {
    scoped_queue name;
    auto q = chain::create(name, quick_liveness());
    constexpr std::uint64_t total = 3000;
    {
        auto tx = q.sender<ipckit::non_blocking>();
        for (std::uint64_t s = 0; s < total; ++s) REQUIRE(tx.send(numbered_message(0, s, max_bytes)));
    }  // closed: the stream ends after the last message
    signal_pipe reports;
    reports.hold_writer_to_a_page();  // so the kill below finds it mid-stream, some 1500 messages in at most
    signal_pipe hold;
    child receiver([&] {
        auto rx = chain::open(name, quick_liveness()).receiver();
        std::array<std::byte, max_bytes> buf{};
        for (std::uint64_t s = 0; s < total; ++s) {
            const auto n = rx.receive(buf, patience);
            std::uint32_t p = 1;
            std::uint64_t got = 0;
            const bool whole = n && numbered(std::span(buf.data(), *n), max_bytes, p, got) && p == 0 && got == s;
            reports.post_value(whole ? s : bad_message);
            if (!whole) return 2;
        }
        return block_until_killed(hold);
    });
    reports.close_write();
    // Killed once it has reported 1000, while it goes on receiving.
    std::uint64_t last = 0;
    for (std::uint64_t i = 0; i < 1000; ++i) {
        const auto r = reports.wait_value();
        REQUIRE(r);
        REQUIRE(*r == i);
        last = *r;
    }
    CHECK(receiver.kill() == killed_by_sigkill);
    while (const auto r = reports.wait_value()) {  // what it reported before it died
        REQUIRE(*r == last + 1);
        last = *r;
    }
    // The next receiver takes over its place: the message after the last it reported, or the one
    // after that if it was killed between taking a message and reporting it. Nothing twice.
    auto rx = q.receiver();
    std::array<std::byte, max_bytes> buf{};
    const auto n = rx.receive(buf, patience);
    REQUIRE(n);
    std::uint32_t p = 1;
    std::uint64_t first = 0;
    REQUIRE((numbered(std::span(buf.data(), *n), max_bytes, p, first) && p == 0));
    CHECK((first == last + 1 || first == last + 2));
    const auto [got, end] = receive_numbered(rx, first + 1);
    CHECK(first + 1 + got == total);
    CHECK(end == errc::closed);
    CHECK(chunks_of(name).size() <= 1);
}

TEST_CASE("slot bytes: a rendezvous receiver gets every message of every size a killed sender sent, whole and in "
          "order, then peer_dead",
          "[process]") {
    scoped_name name("rvb");
    auto q = rendezvous::create(name, quick_liveness());
    auto rx = q.receiver();
    signal_pipe started;
    child sender([&] { return send_until_killed<rendezvous>(name, started, 300); });
    started.close_write();
    const auto [first, first_end] = receive_numbered(rx, 0, 300);
    REQUIRE(first_end == errc::ok);
    REQUIRE(first == 300);
    REQUIRE(started.wait());
    CHECK(sender.kill() == killed_by_sigkill);
    // At most its one offer out, complete, is taken after its death; nothing else comes.
    const auto [got, end] = receive_numbered(rx, 300);
    CHECK(got <= 1);
    CHECK(end == errc::peer_dead);
}

TEST_CASE("slot bytes: a rendezvous receiver killed with a message parked (too_large) makes its send peer_dead, and "
          "the next receiver gets the next message",
          "[process]") {
    scoped_name name("rvb");
    auto q = rendezvous::create(name, quick_liveness());
    signal_pipe parked;
    signal_pipe hold;
    child receiver([&] {
        auto rx = rendezvous::open(name, quick_liveness()).receiver();
        std::array<std::byte, 4> small{};
        const auto n = rx.receive(small, patience);
        if (n || n.error() != errc::too_large) return 2;
        parked.post();
        return block_until_killed(hold);
    });
    parked.close_write();
    auto tx = q.sender();
    errc first = errc::ok;
    std::thread sending([&] { first = err(tx.send(numbered_message(0, 0, max_bytes), patience)); });
    const bool was_parked = parked.wait();
    CHECK(receiver.kill() == killed_by_sigkill);
    sending.join();
    REQUIRE(was_parked);
    CHECK(first == errc::peer_dead);  // taken by a receiver that died before it was received

    auto rx = q.receiver();
    errc second = errc::ok;
    std::thread again([&] { second = err(tx.send(numbered_message(0, 1, max_bytes), patience)); });
    const auto v = rx.receive(patience);
    again.join();
    REQUIRE(v);
    std::uint32_t p = 1;
    std::uint64_t s = 0;
    CHECK((numbered(*v, max_bytes, p, s) && p == 0 && s == 1));
    CHECK(second == errc::ok);
}

TEST_CASE("slot bytes: a rendezvous sender waiting out a killed predecessor's message, parked in a receiver, gets "
          "closed once the queue is closed",
          "[process]") {
    using namespace std::chrono_literals;
    scoped_name name("rvb");
    auto q = rendezvous::create(name, quick_liveness());
    auto rx = q.receiver();
    child first([&] {  // its send returns only once the message is received: never
        (void)rendezvous::open(name, quick_liveness()).sender().send(numbered_message(0, 0, max_bytes), patience);
        return 0;
    });
    std::array<std::byte, 4> small{};
    CHECK(err(rx.receive(small, patience)) == errc::too_large);  // parked here, its slot taken
    CHECK(first.kill() == killed_by_sigkill);
    ipckit::options slow;
    slow.liveness_interval = 1h;  // no look at the receivers' liveness wakes it meanwhile
    auto tx = rendezvous::open(name, slow).sender();  // in the killed one's place and slot
    ipckit_test::backdoor<rendezvous> door(name.str());
    auto sent = std::async(std::launch::async, [&tx] { return err(tx.send(numbered_message(0, 1, max_bytes), 1h)); });
    ipckit_test::let_go let_it_go(sent, [&] { rx.close(); });  // drops the parked message, which lets it go
    REQUIRE(ipckit_test::eventually([&] { return door.shared().senders.places[0].asleep.load() != 0; }));
    q.close();
    const bool woke = sent.wait_for(patience) == std::future_status::ready;
    CHECK(woke);  // not at its deadline, an hour on
    if (!woke) let_it_go();  // to end the test
    CHECK(sent.get() == errc::closed);
}
