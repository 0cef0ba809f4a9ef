// Connections over tcp and Unix sockets, in one process with threads: the queues' verbs and
// results, ends, backpressure, and every bad input of issue 13 (run over each transport).

#include "catch.hpp"
#include "net_support.hpp"

#include <ipckit/net.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::all_net_kinds;
using ipckit_test::all_transports;
using ipckit_test::bind_address;
using ipckit_test::contains;
using ipckit_test::eventually;
using ipckit_test::pair_over;
using ipckit_test::patience;

namespace {
using msg = ipckit::bytes<4096>;
struct point {
    std::int32_t x;
    std::int32_t y;
};
struct other {
    std::int64_t z;
};

std::string text(const std::vector<std::byte>& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

/// A live Unix listener that takes nobody now: a socket at `path`, made by hand, listening with
/// a backlog of 0, its queue filled by clients it never accepts (the next connect(2) would
/// block: a non-blocking one fails with EAGAIN).
class busy_unix_listener {
public:
    explicit busy_unix_listener(std::string path) : path_(std::move(path)) {
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        REQUIRE(path_.size() < sizeof a.sun_path);
        path_.copy(a.sun_path, path_.size());
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd_, 0) == 0);
        for (;;) {
            const int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            REQUIRE(c >= 0);
            if (::connect(c, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0) {
                queued_.push_back(c);
                continue;
            }
            const int why = errno;
            ::close(c);
            REQUIRE(why == EAGAIN);
            break;
        }
        REQUIRE(!queued_.empty());
    }
    ~busy_unix_listener() {
        for (const int c : queued_) ::close(c);
        ::close(fd_);
        ::unlink(path_.c_str());
    }
    busy_unix_listener(const busy_unix_listener&) = delete;
    busy_unix_listener& operator=(const busy_unix_listener&) = delete;
    [[nodiscard]] std::string address() const { return "unix://" + path_; }

private:
    std::string path_;
    int fd_ = -1;
    std::vector<int> queued_;
};

/// A stale Unix socket file at `path`: bound by hand and closed, as a listener that died
/// leaves it (a connect to it is refused).
void leave_stale_socket(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof a.sun_path);
    path.copy(a.sun_path, path.size());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
    ::close(fd);
    REQUIRE(std::filesystem::is_socket(path));
}
}  // namespace

TEST_CASE("net connection: bytes go both ways, whole and in order, over every transport", "[unit]") {
    for (const auto kind : all_transports) {
        INFO(ipckit_test::to_string(kind));
        pair_over<msg> p(kind);
        REQUIRE(p.client.send("").has_value());
        std::string big(4096, 'b');
        REQUIRE(p.client.send(big).has_value());
        for (int i = 0; i < 1000; ++i) REQUIRE(p.client.send(std::to_string(i)).has_value());
        auto first = p.server.receive(patience);
        REQUIRE(first.has_value());
        CHECK(first->empty());
        CHECK(text(p.server.receive(patience).value()) == big);
        for (int i = 0; i < 1000; ++i) {
            auto m = p.server.receive(patience);
            REQUIRE(m.has_value());
            CHECK(text(*m) == std::to_string(i));
        }
        REQUIRE(p.server.send("back").has_value());
        std::array<std::byte, 16> buf{};
        auto n = p.client.receive(std::span(buf), patience);
        REQUIRE(n.has_value());
        CHECK(*n == 4);
    }
}

TEST_CASE("net connection: fixed-size messages, and a listener's real address", "[unit]") {
    for (const auto kind : all_transports) {
        INFO(ipckit_test::to_string(kind));
        pair_over<point> p(kind);
        if (kind == ipckit_test::net_kind::tcp) {
            CHECK(contains(p.srv.address(), "tcp://127.0.0.1:"));
            CHECK(!contains(p.srv.address(), ":0"));
        }
        for (std::int32_t i = 0; i < 100; ++i) REQUIRE(p.client.send(point{i, -i}).has_value());
        for (std::int32_t i = 0; i < 100; ++i) {
            point q{};
            REQUIRE(p.server.receive(q, patience).has_value());
            CHECK(q.x == i);
            CHECK(q.y == -i);
        }
    }
}

TEST_CASE("net connection: would_block, timed_out and too_large, with nothing lost", "[unit]") {
    for (const auto kind : all_transports) {
        INFO(ipckit_test::to_string(kind));
        pair_over<msg, ipckit::non_blocking> nb(kind);
        CHECK(nb.server.receive().error() == errc::would_block);

        pair_over<msg> p(kind);
        CHECK(p.server.receive(10ms).error() == errc::timed_out);
        CHECK(p.client.send(std::string(4097, 'x')).error() == errc::too_large);
        REQUIRE(p.client.send("twelve bytes").has_value());
        std::array<std::byte, 4> small{};
        CHECK(p.server.receive(std::span(small), patience).error() == errc::too_large);
        CHECK(text(p.server.receive(patience).value()) == "twelve bytes");  // it stayed first in line

        // A receive whose deadline has passed still takes what waits in the socket, even right
        // after a receive that found the socket empty and slept.
        CHECK(p.server.receive(10ms).error() == errc::timed_out);
        REQUIRE(p.client.send("late").has_value());
        std::string got;
        CHECK(eventually([&] {
            auto m = p.server.receive(0ms);
            if (m) got = text(*m);
            return m.has_value();
        }));
        CHECK(got == "late");
    }
}

TEST_CASE("net connection: batches of bytes over every transport: spans or records in, records out, and bad input "
          "loses nothing",
          "[unit]") {
    const auto bytes_of = [](const std::string& s) { return std::as_bytes(std::span(s)); };
    // What a records batch holds, as text.
    const auto texts = [](const ipckit::records& rs) {
        std::vector<std::string> v;
        for (const std::span<const std::byte> m : rs) v.emplace_back(reinterpret_cast<const char*>(m.data()), m.size());
        return v;
    };
    using spans = std::span<const std::span<const std::byte>>;
    for (const auto kind : all_transports) {
        INFO(ipckit_test::to_string(kind));
        pair_over<msg> p(kind);
        const std::string a(100, 'a'), b = "bee", c = "sea", too_long(4097, 'x');
        const std::array<std::span<const std::byte>, 3> bad{bytes_of(a), bytes_of(too_long), bytes_of(c)};
        CHECK(p.client.send(spans(bad)).error() == errc::too_large);  // one past Max anywhere: nothing sent
        CHECK(p.client.send(spans()).value() == 0);                   // an empty batch: 0 at once
        const std::array<std::span<const std::byte>, 3> good{bytes_of(a), bytes_of(b), bytes_of(c)};
        REQUIRE(p.client.send(spans(good), patience).value() == 3);

        // No room for the first: too_large, and it stays first.
        std::vector<std::byte> tiny(ipckit::records::storage_for(1, a.size() / 2));
        ipckit::records small{tiny};
        CHECK(p.server.receive(small, patience).error() == errc::too_large);
        CHECK(small.empty());
        // Room for the first alone: it, and the next stays first.
        std::vector<std::byte> one(ipckit::records::storage_for(1, a.size()));
        ipckit::records first{one};
        CHECK(p.server.receive(first, patience).value() == 1);
        CHECK(texts(first) == std::vector<std::string>{a});
        // The rest, in one batch or more (a socket may not have read them all yet).
        std::vector<std::byte> room(ipckit::records::storage_for(8, 4096));
        ipckit::records rest{room};
        std::vector<std::string> got;
        while (got.size() < 2) {
            REQUIRE(p.server.receive(rest, patience).has_value());
            for (auto& t : texts(rest)) got.push_back(t);
        }
        CHECK(got == std::vector<std::string>{b, c});

        // A batch received goes on as it is.
        REQUIRE(p.server.send(first, patience).value() == 1);
        CHECK(p.client.receive(rest, patience).value() == 1);
        CHECK(texts(rest) == std::vector<std::string>{a});
    }
}

TEST_CASE("net connection: net_options of milliseconds::max() mean as long as it takes, over every transport",
          "[unit]") {
    // Overflowed, a liveness interval or handshake timeout of milliseconds::max() in nanoseconds
    // was -1 ms: every connection was peer_dead at once, every handshake late.
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        ipckit::net_options o;
        o.liveness_interval = std::chrono::milliseconds::max();
        o.handshake_timeout = std::chrono::milliseconds::max();
        o.close_timeout = std::chrono::milliseconds::max();
        pair_over<msg> p(kind, o);
        REQUIRE(p.client.send("over").has_value());
        auto got = p.server.receive(patience);
        REQUIRE(got.has_value());
        CHECK(text(*got) == "over");
        REQUIRE(p.server.send("back").has_value());
        auto back = p.client.receive(patience);
        REQUIRE(back.has_value());
        CHECK(text(*back) == "back");
    }
}

TEST_CASE("net connection: orderly close, the peer drains, then closed", "[unit]") {
    for (const auto kind : all_transports) {
        INFO(ipckit_test::to_string(kind));
        pair_over<msg> p(kind);
        for (int i = 0; i < 500; ++i) REQUIRE(p.client.send(std::to_string(i)).has_value());
        p.client.close();
        CHECK(p.client.send("late").error() == errc::closed);
        for (int i = 0; i < 500; ++i) REQUIRE(text(p.server.receive(patience).value()) == std::to_string(i));
        CHECK(p.server.receive(patience).error() == errc::closed);
        // A socket knows at once; a shm queue's sender learns only when its ring is full.
        if (kind != ipckit_test::net_kind::shm) CHECK(p.server.send("to nobody").error() == errc::closed);
        CHECK(p.server.fault().empty());
    }
}

TEST_CASE("net connection: a peer that stops reading holds back its sender, and only it", "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        ipckit::net_options o;
        o.send_buffer = 64 * 1024;
        o.receive_buffer = 64 * 1024;
        auto srv = ipckit::listener<msg>::bind(bind_address(kind), o);
        auto slow = ipckit::connect<msg, ipckit::non_blocking>(srv.address(), patience, o);
        auto slow_end = srv.accept(patience).value();
        auto fast = ipckit::connect<msg>(srv.address(), patience, o);
        auto fast_end = srv.accept(patience).value();

        // Fill everything between `slow` and a server that does not read it, until its sends
        // stay would_block (a hundred tries in a row, a millisecond apart): never without end.
        // Whether the buffers were quite full by then does not matter to the checks below.
        const std::string chunk(1000, 'c');
        std::size_t sent = 0;
        for (int refused = 0; refused < 100;) {
            const auto s = slow.send(chunk);
            if (s) {
                ++sent;
                refused = 0;
                REQUIRE(sent < 100'000);  // bounded: 64 KiB here, 64 KiB in flight, and the socket's
            } else {
                REQUIRE(s.error() == errc::would_block);
                ++refused;
                std::this_thread::sleep_for(1ms);
            }
        }
        // The other connection flows meanwhile.
        REQUIRE(fast.send("still here").has_value());
        CHECK(text(fast_end.receive(patience).value()) == "still here");
        // Reading frees the stalled sender, and everything it sent arrives.
        std::size_t got = 0;
        while (got < sent) {
            auto m = slow_end.receive(patience);
            REQUIRE(m.has_value());
            CHECK(m->size() == chunk.size());
            ++got;
        }
        CHECK(eventually([&] { return slow.send(chunk).has_value(); }));
    }
}

TEST_CASE("net connection: bytes of different Max agree on the smaller", "[unit]") {
    auto srv = ipckit::listener<ipckit::bytes<100>>::bind("tcp://127.0.0.1:0");
    auto cli = ipckit::connect<ipckit::bytes<4096>>(srv.address(), patience);
    auto end = srv.accept(patience).value();
    CHECK(cli.max_message() == 100);
    CHECK(end.max_message() == 100);
    CHECK(cli.send(std::string(101, 'x')).error() == errc::too_large);
    REQUIRE(cli.send(std::string(100, 'x')).has_value());
    CHECK(end.receive(patience).value().size() == 100);
}

TEST_CASE("net setup: an address in use, nothing listening, an unresolvable host and another message type are "
          "errors naming the address, over every transport",
          "[unit]") {
    for (const auto kind : all_transports) {
        INFO(ipckit_test::to_string(kind));
        auto srv = ipckit::listener<point>::bind(bind_address(kind));
        auto e = ipckit_test::setup_error([&] { return ipckit::listener<point>::bind(srv.address()); });
        REQUIRE(e);
        CHECK(e->reason() == errc::already_exists);
        CHECK(contains(e->what(), srv.address()));

        e = ipckit_test::setup_error([&] { return ipckit::connect<other>(srv.address(), patience); });
        REQUIRE(e);
        CHECK(e->reason() == errc::incompatible_layout);
        CHECK(contains(e->what(), srv.address()));
        CHECK(contains(e->what(), "point"));
        CHECK(contains(e->what(), "other"));
        if (kind != ipckit_test::net_kind::shm) {  // a shm:// client finds out alone, from the listener's layout
            // The bind above may have knocked on a unix path to see whether it is live: that
            // probe, which closes at once, is a rejection too, recorded before or after this one.
            const auto refused_other = [&] {
                const auto r = srv.rejections();
                return std::any_of(r.begin(), r.end(), [](const ipckit::net_rejection& x) {
                    return x.reason == errc::incompatible_layout && contains(x.what, "other");
                });
            };
            CHECK(eventually(refused_other));
        }

        const std::string gone = srv.address();
        srv.close();
        e = ipckit_test::setup_error([&] { return ipckit::connect<point>(gone, patience); });
        REQUIRE(e);
        CHECK(e->reason() == errc::not_found);
        CHECK(contains(e->what(), gone));
    }
    auto e = ipckit_test::setup_error([&] { return ipckit::connect<point>("tcp://no-such-host.invalid:7000", patience); });
    REQUIRE(e);
    CHECK(e->reason() == errc::not_found);
    CHECK(contains(e->what(), "no-such-host.invalid"));
}

TEST_CASE("net connection: a listener closed before accepting closes its waiting connections", "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        auto srv = ipckit::listener<msg>::bind(bind_address(kind));
        auto accepted = ipckit::connect<msg>(srv.address(), patience);
        auto end = srv.accept(patience).value();
        auto waiting = ipckit::connect<msg>(srv.address(), patience);
        REQUIRE(ipckit_test::eventually([&] { return srv.live_connections() == 2; }));
        srv.close();
        CHECK(waiting.receive(patience).error() == errc::closed);
        REQUIRE(accepted.send("still on").has_value());  // the accepted one lives on
        CHECK(text(end.receive(patience).value()) == "still on");
    }
}

TEST_CASE("net setup: every socket is close-on-exec, so a program this process starts inherits none", "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        pair_over<msg> p(kind);  // a listening socket, a connected one and an accepted one
        std::size_t sockets = 0;
        for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
            std::error_code ec;
            const auto target = std::filesystem::read_symlink(entry.path(), ec).string();
            if (ec || target.rfind("socket:", 0) != 0) continue;
            ++sockets;
            const int fd = std::stoi(entry.path().filename().string());
            const int flags = ::fcntl(fd, F_GETFD);
            INFO("fd " << fd << " (" << target << ")");
            CHECK((flags >= 0 && (flags & FD_CLOEXEC) != 0));
        }
        CHECK(sockets >= 3);
    }
}

TEST_CASE("net setup: a closed listener's address can be bound again at once", "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        auto first = ipckit::listener<msg>::bind(bind_address(kind));
        const std::string address = first.address();  // with tcp's real port
        for (int round = 0; round < 20; ++round) {
            INFO("round " << round);
            auto c = ipckit::connect<msg>(address, patience);  // an accept in flight on the I/O thread
            first.close();
            first = ipckit::listener<msg>::bind(address);  // not already_exists
            REQUIRE(first.address() == address);
        }
    }
}

TEST_CASE("net connection: a shm:// connect racing the listener's close fails as if nothing listened, or is closed, "
          "never left waiting, and nothing is left behind",
          "[unit]") {
    // A client connects again and again, and the listener closes once the first is in: the close
    // lands in the middle of a connect. The close drains the requests it never took; one that
    // goes in as it closes is either drained too (the client sees closed) or finds the queue
    // closed (connect throws not_found, as if nothing listened there).
    constexpr std::size_t most = 8;
    for (int round = 0; round < 100; ++round) {
        INFO("round " << round);
        auto srv = ipckit::listener<msg>::bind(bind_address(ipckit_test::net_kind::shm));
        const std::string address = srv.address();
        std::atomic<bool> first_in{false};
        std::vector<ipckit::connection<msg>> made;
        errc refused = errc::ok;
        std::thread client([&] {
            while (made.size() < most && refused == errc::ok) {
                refused = ipckit_test::setup_errc([&] { made.push_back(ipckit::connect<msg>(address, patience)); });
                first_in.store(true);
            }
        });
        while (!first_in.load()) std::this_thread::yield();
        srv.close();
        client.join();
        CHECK((refused == errc::not_found || made.size() == most));
        for (auto& c : made) CHECK(c.receive(patience).error() == errc::closed);
        made.clear();
        CHECK(ipckit_test::shm_segments_of(address).empty());
    }
}

TEST_CASE("net setup: binding the path of a live unix listener whose backlog is full is already_exists, not a hang",
          "[unit]") {
    const std::string path = "/tmp/" + ipckit_test::unique_name("sock");
    busy_unix_listener busy(path);
    // The bind runs in a child, so that one that waits for the backlog (for ever) fails this
    // test at patience instead of hanging it.
    ipckit_test::signal_pipe said;
    ipckit_test::child binder([&] {
        const auto e = ipckit_test::setup_errc([&] { return ipckit::listener<msg>::bind(busy.address()); });
        said.post_value(static_cast<std::uint64_t>(e));
        return 0;
    });
    const auto e = said.wait_value();
    REQUIRE(e.has_value());
    CHECK(static_cast<errc>(*e) == errc::already_exists);
    CHECK(binder.wait() == 0);
    CHECK(std::filesystem::is_socket(path));  // not taken for stale and removed
}

TEST_CASE("net setup: of listeners binding one stale unix socket file at once, one replaces it and listens, the "
          "others are already_exists",
          "[unit]") {
    constexpr int binders = 4;
    for (int round = 0; round < 30; ++round) {
        INFO("round " << round);
        const std::string path = "/tmp/" + ipckit_test::unique_name("sock");
        leave_stale_socket(path);
        std::atomic<int> ready{0};
        std::array<errc, binders> got{};
        std::array<std::optional<ipckit::listener<msg>>, binders> bound;
        std::vector<std::thread> threads;
        for (int i = 0; i < binders; ++i)
            threads.emplace_back([&, i] {
                ready.fetch_add(1);
                while (ready.load() < binders) std::this_thread::yield();
                got[static_cast<std::size_t>(i)] = ipckit_test::setup_errc(
                    [&] { bound[static_cast<std::size_t>(i)].emplace(ipckit::listener<msg>::bind("unix://" + path)); });
            });
        for (auto& t : threads) t.join();
        CHECK(std::count(got.begin(), got.end(), errc::ok) == 1);
        CHECK(std::count(got.begin(), got.end(), errc::already_exists) == binders - 1);
        // The one that says it listens is the one the path leads to.
        for (auto& l : bound) {
            if (!l) continue;
            auto c = ipckit::connect<msg>("unix://" + path, patience);
            auto end = l->accept(patience);
            REQUIRE(end.has_value());
            REQUIRE(c.send("here").has_value());
            CHECK(end->receive(patience).has_value());
        }
    }
}

TEST_CASE("net setup: a unix listener closing removes its own socket file only, not one bound at its path since",
          "[unit]") {
    const std::string address = bind_address(ipckit_test::net_kind::unix_path);
    auto first = ipckit::listener<msg>::bind(address);
    std::filesystem::remove(ipckit::parse_address(address).path);  // by hand, say, or a cleanup script
    auto second = ipckit::listener<msg>::bind(address);
    first.close();
    auto c = ipckit::connect<msg>(address, patience);  // not_found if the close removed second's file
    auto end = second.accept(patience).value();
    REQUIRE(c.send("second").has_value());
    CHECK(text(end.receive(patience).value()) == "second");
    second.close();
    CHECK(!std::filesystem::exists(ipckit::parse_address(address).path));  // its own it does remove
}

TEST_CASE("net setup: a connect to a unix listener whose backlog is full waits for room until its deadline, then "
          "timed_out",
          "[unit]") {
    busy_unix_listener busy("/tmp/" + ipckit_test::unique_name("sock"));
    const auto e = ipckit_test::setup_error([&] { return ipckit::connect<msg>(busy.address(), 200ms); });
    REQUIRE(e);
    CHECK(e->reason() == errc::timed_out);  // as over tcp; not system_error's "no buffer space"
    CHECK(contains(e->what(), busy.address()));
}
