// node in one process: joining, names, members, links between nodes of this process, the
// blocking and non-blocking verbs, departures, and what bad input returns.

#include "catch.hpp"
#include "node_support.hpp"

#include <ipckit/node.hpp>
#include <ipckit/queue.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <future>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::scoped_domain;
using ipckit_test::text;

namespace {

/// Small links, so that a few messages fill one.
using small_node = ipckit::basic_node<64, 256>;

template <class F>
errc thrown(F&& f) {
    try {
        f();
    } catch (const ipckit::error& e) {
        return e.reason();
    }
    return errc::ok;
}

/// "a7": a letter and a number (appended, not "a" + std::string: gcc 12 warns falsely on that).
std::string numbered(char letter, int i) {
    std::string s(1, letter);
    s += std::to_string(i);
    return s;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

TEST_CASE("node: members join, are listed, and leave", "[unit]") {
    scoped_domain d;
    std::vector<std::string> after_leave;
    {
        ipckit::node alice(d, "alice");
        {
            ipckit::node bob(d, "bob");
            CHECK(sorted(alice.members()) == std::vector<std::string>{"alice", "bob"});
            CHECK(bob.name() == "bob");
            CHECK(bob.domain() == d.str());
        }
        after_leave = alice.members();
        ipckit::node bob_again(d, "bob");  // the name is free again once bob left
        CHECK(sorted(alice.members()) == std::vector<std::string>{"alice", "bob"});
    }
    CHECK(after_leave == std::vector<std::string>{"alice"});
    CHECK(ipckit::segment_exists(d.str()));  // the domain outlives its members
    CHECK(d.links().empty());
}

TEST_CASE("node: a name held by a live member is name_taken", "[unit]") {
    scoped_domain d;
    ipckit::node alice(d, "alice");
    try {
        ipckit::node again(d, "alice");
        FAIL("a second alice joined");
    } catch (const ipckit::error& e) {
        CHECK(e.reason() == errc::name_taken);
        CHECK(std::string(e.what()).find("alice") != std::string::npos);
    }
    CHECK(alice.members() == std::vector<std::string>{"alice"});
}

TEST_CASE("node: invalid member and domain names are invalid_name", "[unit]") {
    scoped_domain d;
    CHECK(thrown([&] { ipckit::node n(d, ""); }) == errc::invalid_name);
    CHECK(thrown([&] { ipckit::node n(d, "a.b"); }) == errc::invalid_name);
    CHECK(thrown([&] { ipckit::node n(d, "a/b"); }) == errc::invalid_name);
    CHECK(thrown([&] { ipckit::node n(d, std::string(ipckit::max_member_name + 1, 'x')); }) == errc::invalid_name);
    CHECK(thrown([&] { ipckit::node n("chat.x", "alice"); }) == errc::invalid_name);
    CHECK(thrown([&] { ipckit::node n("", "alice"); }) == errc::invalid_name);
    CHECK_FALSE(ipckit::segment_exists(d.str()));  // a bad member name is refused before the domain is made
    ipckit::node ok(d, std::string(ipckit::max_member_name, 'x'));
    CHECK(ok.members().size() == 1);
}

TEST_CASE("node: a domain name that holds a queue is incompatible_layout, saying it is not a domain", "[unit]") {
    scoped_domain d;
    auto q = ipckit::queue<int, ipckit::bounded<8>>::create(d.str());
    try {
        ipckit::node n(d, "alice");
        FAIL("joined a queue as a domain");
    } catch (const ipckit::error& e) {
        CHECK(e.reason() == errc::incompatible_layout);
        CHECK(std::string(e.what()).find("not a domain") != std::string::npos);
    }
    // Members of another node type or capacity cannot join either.
    scoped_domain d2;
    ipckit::node alice(d2, "alice");
    CHECK(thrown([&] { small_node n(d2, "bob"); }) == errc::incompatible_layout);
    ipckit::node_options more;
    more.members = 8;
    CHECK(thrown([&] { ipckit::node n(d2, "bob", more); }) == errc::incompatible_layout);
}

TEST_CASE("node: a full domain is no_space, saying how to raise its capacity", "[unit]") {
    scoped_domain d;
    ipckit::node_options opt;
    opt.members = 2;
    ipckit::node a(d, "a", opt);
    ipckit::node b(d, "b", opt);
    try {
        ipckit::node c(d, "c", opt);
        FAIL("a third member joined a domain of two");
    } catch (const ipckit::error& e) {
        CHECK(e.reason() == errc::no_space);
        CHECK(std::string(e.what()).find("members") != std::string::npos);
        // remove_domain, not remove_segment: that would leave the links behind
        CHECK(std::string(e.what()).find("ipckit::remove_domain(\"" + d.str() + "\")") != std::string::npos);
    }
    b.leave();
    ipckit::node c(d, "c", opt);
    CHECK(sorted(a.members()) == std::vector<std::string>{"a", "c"});
}

TEST_CASE("node: a node moves with its membership and links, and its endpoints follow it", "[unit]") {
    scoped_domain d;
    ipckit::node bob(d, "bob");
    auto from_bob = bob.receiver();
    std::vector<ipckit::node> members;  // nodes in a container: they move when it grows
    members.emplace_back(d, "alice");
    auto early = members.front().sender();  // made before the move
    REQUIRE(early.send("bob", "before"));
    for (int i = 0; i < 8; ++i) members.emplace_back(d, numbered('m', i));
    ipckit::node alice = std::move(members.front());  // moved twice now: by the vector, and out of it
    CHECK(alice.name() == "alice");
    CHECK(alice.domain() == d.str());
    REQUIRE(early.send("bob", "after"));  // the same link: the order holds across the move
    REQUIRE(alice.sender().send("bob", "new endpoint"));
    for (const char* want : {"before", "after", "new endpoint"}) {
        auto m = from_bob.receive("alice", 1s);
        REQUIRE(m);
        CHECK(text(*m) == want);
    }

    // The moved-from node is empty: no name, no members, and it leaves nothing when it goes.
    ipckit::node& empty = members.front();
    CHECK(empty.name().empty());
    CHECK(empty.members().empty());
    CHECK(empty.sender().send("bob", "x").error() == errc::closed);
    CHECK(empty.receiver<ipckit::non_blocking>().receive_any().message.error() == errc::closed);
    members.clear();
    CHECK(sorted(bob.members()) == std::vector<std::string>{"alice", "bob"});

    // Move assignment: the node assigned to leaves first (bob sees it go), then holds alice.
    ipckit::node carol(d, "carol");
    REQUIRE(carol.sender().send("bob", "from carol"));
    carol = std::move(alice);
    CHECK(carol.name() == "alice");
    auto c = from_bob.receive("carol", 1s);
    REQUIRE(c);
    CHECK(text(*c) == "from carol");
    CHECK(from_bob.receive("carol", 1s).error() == errc::closed);
    REQUIRE(carol.sender().send("bob", "still alice"));
    auto m = from_bob.receive("alice", 1s);
    REQUIRE(m);
    CHECK(text(*m) == "still alice");

    // An endpoint whose node has left: its verbs return closed.
    carol.leave();
    CHECK(early.send("bob", "late").error() == errc::closed);
}

TEST_CASE("node: bad input on the data path returns a status and loses nothing accepted", "[unit]") {
    scoped_domain d;
    ipckit::node alice(d, "alice");
    ipckit::node bob(d, "bob");
    REQUIRE(alice.sender().send("bob", "first"));
    CHECK(alice.sender().send("alice", "me").error() == errc::invalid_argument);
    CHECK(alice.receiver().receive("alice").error() == errc::invalid_argument);
    CHECK(alice.sender().send("carol", "who").error() == errc::not_found);
    CHECK(alice.receiver().receive("carol", 10ms).error() == errc::not_found);
    CHECK(alice.sender().send("bad.name", "x").error() == errc::not_found);
    CHECK(alice.sender().send("bob", std::string(ipckit::node::max_message + 1, 'x')).error() == errc::too_large);
    REQUIRE(alice.sender().send("bob", "second"));
    auto m1 = bob.receiver().receive("alice");
    auto m2 = bob.receiver().receive("alice");
    REQUIRE(m1);
    REQUIRE(m2);
    CHECK(text(*m1) == "first");
    CHECK(text(*m2) == "second");
}

TEST_CASE("node: symmetric send and receive both ways, in order", "[unit]") {
    scoped_domain d;
    ipckit::node alice(d, "alice");
    ipckit::node bob(d, "bob");
    for (int i = 0; i < 100; ++i) {
        REQUIRE(alice.sender().send("bob", numbered('a', i)));
        REQUIRE(bob.sender().send("alice", numbered('b', i)));
    }
    for (int i = 0; i < 100; ++i) {
        auto a = bob.receiver().receive("alice", 1s);
        auto b = alice.receiver().receive("bob", 1s);
        REQUIRE(a);
        REQUIRE(b);
        CHECK(text(*a) == numbered('a', i));
        CHECK(text(*b) == numbered('b', i));
    }
}

TEST_CASE("node: receive before the first send makes the link, and the message arrives on it", "[unit]") {
    scoped_domain d;
    ipckit::node alice(d, "alice");
    ipckit::node bob(d, "bob");
    CHECK(bob.receiver<ipckit::non_blocking>().receive("alice").error() == errc::would_block);
    REQUIRE(alice.sender().send("bob", "late"));
    auto m = bob.receiver().receive("alice", 1s);
    REQUIRE(m);
    CHECK(text(*m) == "late");
    CHECK(d.links().size() == 1);
}

TEST_CASE("node: receive_any returns each sender's name with its messages, taking turns", "[unit]") {
    scoped_domain d;
    ipckit::node hub(d, "hub");
    ipckit::node a(d, "a");
    ipckit::node b(d, "b");
    auto rx = hub.receiver();
    CHECK(rx.depth("a") == 0);  // no link yet
    for (int i = 0; i < 3; ++i) {
        REQUIRE(a.sender().send("hub", "a" + std::to_string(i)));
        REQUIRE(b.sender().send("hub", "b" + std::to_string(i)));
    }
    // depth(from): bytes waiting on the link, as on a bytes<Max> queue (8 + 2 rounded up to 8 each).
    CHECK(rx.depth("a") == 3 * 16);
    CHECK(rx.depth("b") == 3 * 16);
    std::vector<std::string> got;
    for (int i = 0; i < 6; ++i) {
        auto [from, m] = rx.receive_any(1s);
        REQUIRE(m);
        CHECK(text(*m).substr(0, 1) == from);
        got.push_back(text(*m));
    }
    CHECK(rx.depth("a") == 0);
    CHECK(rx.depth("b") == 0);
    // Each sender in order, and turns alternate while both have messages.
    CHECK(got[0].substr(0, 1) != got[1].substr(0, 1));
    std::vector<std::string> from_a, from_b;
    for (auto& g : got) (g[0] == 'a' ? from_a : from_b).push_back(g);
    CHECK(from_a == std::vector<std::string>{"a0", "a1", "a2"});
    CHECK(from_b == std::vector<std::string>{"b0", "b1", "b2"});
}

TEST_CASE("node: receiving into a buffer returns the length, and a buffer too small is too_large: the message "
          "stays, for a bigger one",
          "[unit]") {
    scoped_domain d;
    ipckit::node hub(d, "hub");
    std::array<std::byte, 16> small{};
    std::array<std::byte, 64> big{};
    auto as_text = [](std::span<const std::byte> b, std::size_t n) {
        return std::string(reinterpret_cast<const char*>(b.data()), n);
    };
    {
        ipckit::node a(d, "a");
        CHECK(hub.receiver<ipckit::non_blocking>().receive("a", std::span(big)).error() == errc::would_block);
        CHECK(hub.receiver().receive("a", std::span(big), 10ms).error() == errc::timed_out);
        REQUIRE(a.sender().send("hub", "a message longer than sixteen bytes"));
        REQUIRE(a.sender().send("hub", ""));
        REQUIRE(a.sender().send("hub", "short"));
        CHECK(hub.receiver().receive("a", std::span(small), 1s).error() == errc::too_large);
        CHECK(hub.receiver<ipckit::non_blocking>().receive("a", std::span(small)).error() == errc::too_large);
        auto n = hub.receiver().receive("a", std::span(big));
        REQUIRE(n);
        CHECK(as_text(big, *n) == "a message longer than sixteen bytes");
        auto empty = hub.receiver().receive("a", std::span(small), 1s);
        REQUIRE(empty);
        CHECK(*empty == 0);

        // receive_any: the sender's name with the length, or with too_large (the message stays).
        ipckit::node b(d, "b");
        REQUIRE(b.sender().send("hub", "from b, too long for sixteen"));
        std::vector<std::string> got;
        for (int i = 0; i < 2; ++i) {
            auto [from, len] = hub.receiver().receive_any(std::span(small), 1s);
            if (from == "b") {
                CHECK(len.error() == errc::too_large);
                auto [again, whole] = hub.receiver<ipckit::non_blocking>().receive_any(std::span(big));
                REQUIRE(whole);
                CHECK(again == "b");
                got.push_back(from + ":" + as_text(big, *whole));
            } else {
                REQUIRE(len);
                got.push_back(from + ":" + as_text(small, *len));
            }
        }
        CHECK(sorted(got) == std::vector<std::string>{"a:short", "b:from b, too long for sixteen"});
        CHECK(hub.receiver<ipckit::non_blocking>().receive_any(std::span(big)).message.error() == errc::would_block);
    }
    // Both left: each is reported once, as for receive().
    CHECK(hub.receiver().receive("a", std::span(big)).error() == errc::closed);
    auto end = hub.receiver().receive_any(std::span(big), 1s);
    CHECK(end.from == "b");
    CHECK(end.message.error() == errc::closed);
    CHECK(d.links().empty());
}

TEST_CASE("node: non-blocking verbs return would_block, and verbs with deadlines timed_out", "[unit]") {
    scoped_domain d;
    small_node alice(d, "alice");
    small_node bob(d, "bob");
    CHECK(bob.receiver<ipckit::non_blocking>().receive("alice").error() == errc::would_block);
    CHECK(bob.receiver<ipckit::non_blocking>().receive_any().message.error() == errc::would_block);
    CHECK(bob.receiver().receive("alice", 20ms).error() == errc::timed_out);
    auto t = bob.receiver().receive_any(20ms);
    CHECK(t.message.error() == errc::timed_out);
    CHECK(t.from.empty());
    // Fill the 256-byte link with 8-byte messages (16 bytes each).
    int accepted = 0;
    for (;;) {
        const std::uint64_t v = static_cast<std::uint64_t>(accepted);
        auto s = alice.sender<ipckit::non_blocking>().send("bob", ipckit_test::seq_bytes(v));
        if (!s) {
            CHECK(s.error() == errc::would_block);
            break;
        }
        ++accepted;
        REQUIRE(accepted <= 16);
    }
    CHECK(accepted == 16);
    const std::uint64_t extra = 999;
    CHECK(alice.sender().send("bob", ipckit_test::seq_bytes(extra), 20ms).error() == errc::timed_out);
    for (int i = 0; i < accepted; ++i) {
        auto m = bob.receiver<ipckit::non_blocking>().receive("alice");
        REQUIRE(m);
        CHECK(ipckit_test::seq_of(*m) == static_cast<std::uint64_t>(i));
    }
    CHECK(bob.receiver<ipckit::non_blocking>().receive("alice").error() == errc::would_block);
    CHECK(alice.sender<ipckit::non_blocking>().send("bob", "room again"));
}

TEST_CASE("node: a peer that leaves is drained, then closed, and its links are removed", "[unit]") {
    scoped_domain d;
    ipckit::node alice(d, "alice");
    {
        ipckit::node bob(d, "bob");
        REQUIRE(bob.sender().send("alice", "1"));
        REQUIRE(bob.sender().send("alice", "2"));
        ipckit::node carol(d, "carol");
        REQUIRE(carol.sender().send("alice", "c"));
    }
    auto m1 = alice.receiver().receive("bob");
    auto m2 = alice.receiver().receive("bob");
    REQUIRE(m1);
    REQUIRE(m2);
    CHECK(text(*m2) == "2");
    CHECK(alice.receiver().receive("bob").error() == errc::closed);
    CHECK(alice.receiver().receive("bob", 10ms).error() == errc::not_found);  // reported once; bob is gone
    auto c = alice.receiver().receive_any();
    REQUIRE(c.message);
    CHECK(c.from == "carol");
    auto end = alice.receiver().receive_any();
    CHECK(end.from == "carol");
    CHECK(end.message.error() == errc::closed);
    CHECK(alice.receiver().receive_any(10ms).message.error() == errc::timed_out);
    CHECK(d.links().empty());
}

TEST_CASE("node: a receiver that left makes send closed, undelivered hands back its unread messages, and "
          "its successor gets a fresh link",
          "[unit]") {
    scoped_domain d;
    ipckit::node alice(d, "alice");
    auto bob = std::make_unique<ipckit::node>(d, "bob");
    for (int i = 0; i < 5; ++i) REQUIRE(alice.sender().send("bob", std::to_string(i)));
    auto first = bob->receiver().receive("alice");
    REQUIRE(first);
    CHECK(text(*first) == "0");
    bob.reset();
    CHECK(alice.sender().send("bob", "not sent").error() == errc::closed);  // told once: the link is over
    CHECK(alice.sender().send("bob", "not sent").error() == errc::not_found);  // and bob is gone
    bob = std::make_unique<ipckit::node>(d, "bob");
    auto back = alice.undelivered("bob");
    REQUIRE(back);
    std::vector<std::string> unread;
    for (auto& m : *back) unread.push_back(text(m));
    CHECK(unread == std::vector<std::string>{"1", "2", "3", "4"});
    REQUIRE(alice.sender().send("bob", "hello again"));
    auto m = bob->receiver().receive("alice", 1s);
    REQUIRE(m);
    CHECK(text(*m) == "hello again");
    CHECK(d.links().size() == 1);
    bob.reset();
    alice.leave();
    CHECK(alice.sender().send("bob", "x").error() == errc::closed);
    CHECK(d.links().empty());
}

TEST_CASE("node: a link whose receiver left having read everything is removed by the send that finds it gone",
          "[unit]") {
    // A long-lived sender whose peer restarts many times must not keep a segment (and a file
    // descriptor) per restart until it calls undelivered().
    scoped_domain d;
    ipckit::node alice(d, "alice");
    for (int restart = 0; restart < 3; ++restart) {
        CAPTURE(restart);
        ipckit::node bob(d, "bob");
        if (restart > 0) {
            CHECK(alice.sender().send("bob", "not sent").error() == errc::closed);  // to the bob before
            CHECK(d.links().empty());  // that link held nothing: not kept for undelivered()
        }
        REQUIRE(alice.sender().send("bob", "hello"));
        auto m = bob.receiver().receive("alice", ipckit_test::patience);
        REQUIRE(m);
        CHECK(text(*m) == "hello");
    }
    CHECK(alice.sender().send("bob", "not sent").error() == errc::closed);
    CHECK(d.links().empty());
    auto back = alice.undelivered("bob");
    REQUIRE(back);
    CHECK(back->empty());
}

TEST_CASE("node: a sender that never sends to a departed receiver again keeps no link to it, and its next send to "
          "that name still says closed",
          "[unit]") {
    // A server replying to short-lived clients, each under its own name, never sends to one
    // again: it must not keep a segment and a file descriptor per client for as long as it runs.
    scoped_domain d;
    ipckit::node server(d, "server");
    const auto links_from_server = [&] {
        std::size_t n = 0;
        for (const auto& l : ipckit::detail::list_links(d.str())) n += l.from == "server" ? 1 : 0;
        return n;
    };
    for (int i = 0; i < 4; ++i) {
        CAPTURE(i);
        const std::string name = "client" + std::to_string(i);
        ipckit::node client(d, name);
        REQUIRE(client.sender().send("server", "request"));
        REQUIRE(server.receiver().receive(name, ipckit_test::patience));
        REQUIRE(server.sender().send(name, "reply"));
        auto reply = client.receiver().receive("server", ipckit_test::patience);
        REQUIRE(reply);
        CHECK(text(*reply) == "reply");
        CHECK(links_from_server() == 1);  // to this client: those to the clients before have gone
    }
    CHECK(server.sender().send("client0", "late").error() == errc::closed);
    CHECK(server.sender().send("client0", "later").error() == errc::not_found);
}

TEST_CASE("node: members that waited to receive from a live sender that never sent to them leave no link behind",
          "[unit]") {
    // Clients that ask a server and wait for it, each under its own name, and go without a
    // word from it: the links their receives made must go with them, not stay while it runs.
    scoped_domain d;
    ipckit::node server(d, "server");
    for (int i = 0; i < 4; ++i) {
        ipckit::node client(d, "client" + std::to_string(i));
        CHECK(client.receiver().receive("server", std::chrono::milliseconds(0)).error() == errc::timed_out);
        CHECK(ipckit::detail::list_links(d.str()).size() == 1);  // the one its receive made
    }
    CHECK(ipckit::detail::list_links(d.str()).empty());
}

TEST_CASE("node: a receiver that rejoined before the next send makes that send closed, not sent", "[unit]") {
    scoped_domain d;
    ipckit::node alice(d, "alice");
    auto bob = std::make_unique<ipckit::node>(d, "bob");
    REQUIRE(alice.sender().send("bob", "old"));
    bob.reset();
    bob = std::make_unique<ipckit::node>(d, "bob");
    CHECK(alice.sender().send("bob", "not sent").error() == errc::closed);
    REQUIRE(alice.sender().send("bob", "new"));
    auto m = bob->receiver().receive("alice", 1s);
    REQUIRE(m);
    CHECK(text(*m) == "new");
    auto back = alice.undelivered("bob");
    REQUIRE(back);
    REQUIRE(back->size() == 1);
    CHECK(text(back->front()) == "old");
}

TEST_CASE("node: a peer that leaves wakes a receiver asleep waiting for it, which returns closed at once", "[unit]") {
    // `waiter`: 0 receive(from) on a link the sender made, 1 receive(from) on a link the
    // receiver made (the sender never sent), 2 receive_any.
    const int waiter = GENERATE(0, 1, 2);
    CAPTURE(waiter);
    scoped_domain d;
    ipckit::node_options slow;
    slow.liveness_interval = std::chrono::hours(1);  // closed must not wait for a liveness check
    ipckit::node alice(d, "alice", slow);
    ipckit::node bob(d, "bob", slow);
    if (waiter != 1) {
        REQUIRE(bob.sender().send("alice", "first"));
        auto m = waiter == 0 ? alice.receiver().receive("bob", ipckit_test::patience) : alice.receiver().receive_any(ipckit_test::patience).message;
        REQUIRE(m);
        CHECK(text(*m) == "first");
    }
    std::promise<pid_t> tid;
    auto waiting = std::async(std::launch::async, [&]() -> std::pair<std::string, errc> {
        tid.set_value(ipckit_test::thread_id());
        if (waiter == 2) {
            auto e = alice.receiver().receive_any(ipckit_test::patience);
            return {e.from, e.message ? errc::ok : e.message.error()};
        }
        auto m = alice.receiver().receive("bob", ipckit_test::patience);
        return {"bob", m ? errc::ok : m.error()};
    });
    if (waiter == 1) {
        // The receive makes the link before it waits: were bob to leave before that, it would be
        // not_found (nothing to wait for), so a sleep seen earlier (a lock inside malloc) is no cue.
        const auto deadline = std::chrono::steady_clock::now() + ipckit_test::patience;
        while (d.links().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
        REQUIRE(d.links().size() == 1);
    }
    REQUIRE(ipckit_test::wait_until_sleeping(::getpid(), tid.get_future().get()));
    bob.leave();
    const auto [from, what] = waiting.get();
    CHECK(from == "bob");
    CHECK(what == errc::closed);  // not timed_out: the wake-up was not lost
    CHECK(d.links().empty());
}

TEST_CASE("node: receive(from) takes a predecessor's messages before its successor's", "[unit]") {
    scoped_domain d;
    ipckit::node alice(d, "alice");
    {
        ipckit::node bob(d, "bob");
        REQUIRE(bob.sender().send("alice", "old 1"));
        REQUIRE(bob.sender().send("alice", "old 2"));
    }
    ipckit::node bob(d, "bob");  // a new incarnation, and a link of its own
    REQUIRE(bob.sender().send("alice", "new"));
    REQUIRE(d.links().size() == 2);
    std::vector<std::string> got;
    for (int i = 0; i < 2; ++i) {
        auto m = alice.receiver().receive("bob", ipckit_test::patience);
        REQUIRE(m);
        got.push_back(text(*m));
    }
    CHECK(got == std::vector<std::string>{"old 1", "old 2"});
    CHECK(alice.receiver().receive("bob", ipckit_test::patience).error() == errc::closed);  // the first bob's link ends
    auto m = alice.receiver().receive("bob", ipckit_test::patience);
    REQUIRE(m);
    CHECK(text(*m) == "new");
}

TEST_CASE("node: joining sweeps stale links of its type, and leaves a queue that only has a link's name", "[unit]") {
    scoped_domain d;
    using user_queue = ipckit::queue<std::uint64_t, ipckit::bounded<8>, ipckit::single, ipckit::single, ipckit::adaptive,
                                     ipckit::system_owned>;
    const std::string user = d.str() + ".x.y.1.2";   // named like a link whose both ends are gone
    const std::string stale = d.str() + ".p.q.1.2";  // a link of ipckit::node whose both ends are gone
    (void)user_queue::create(user);
    (void)ipckit::node::link_queue::create(stale);
    {
        ipckit::node alice(d, "alice");  // sweeps
    }
    CHECK(ipckit::segment_exists(user));
    CHECK_FALSE(ipckit::segment_exists(stale));
    CHECK(user_queue::open(user).sender<ipckit::non_blocking>().send(7));  // still the user's queue
    CHECK(ipckit::remove_segment(user));
}

TEST_CASE("node: remove_domain removes the registry and every link left behind", "[unit]") {
    scoped_domain d;
    {
        ipckit::node alice(d, "alice");
    }
    (void)ipckit::node::link_queue::create(d.str() + ".alice.bob.1.2");
    (void)ipckit::node::link_queue::create(d.str() + ".bob.alice.2.1");
    REQUIRE(ipckit::segment_exists(d.str()));
    REQUIRE(d.links().size() == 2);
    CHECK(ipckit::remove_domain(d.str()));
    CHECK_FALSE(ipckit::segment_exists(d.str()));
    CHECK(d.links().empty());
    CHECK_FALSE(ipckit::remove_domain(d.str()));  // nothing left
    CHECK(thrown([&] { (void)ipckit::remove_domain("a.b"); }) == errc::invalid_name);
}
