// A hostile or broken peer on a socket: garbage, an oversize, truncated or unknown frame, a
// client that never handshakes or falls silent, more clients than the cap, and one that closes
// and then never reads what we were still writing. Each is dropped (or refused) with the reason,
// and the listener and the other connections go on.

#include "catch.hpp"
#include "net_support.hpp"

#include <ipckit/net.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit::detail::frame_type;
using ipckit_test::all_net_kinds;
using ipckit_test::bind_address;
using ipckit_test::contains;
using ipckit_test::eventually;
using ipckit_test::patience;
using ipckit_test::raw_client;
using ipckit_test::raw_peer;

namespace {
using msg = ipckit::bytes<4096>;

/// A listener with one healthy connection, to show that it is unaffected by what a test does
/// to another.
struct bystander : ipckit_test::pair_over<msg> {
    using pair_over::pair_over;
    /// The healthy connection still carries a message each way, and the listener accepts.
    void still_fine() {
        REQUIRE(client.send("ping").has_value());
        REQUIRE(server.receive(patience).value().size() == 4);
        REQUIRE(server.send("pong").has_value());
        REQUIRE(client.receive(patience).value().size() == 4);
        auto another = ipckit::connect<msg>(srv.address(), patience);
        auto end = srv.accept(patience);
        REQUIRE(end.has_value());
        REQUIRE(another.send("new").has_value());
        REQUIRE(end->receive(patience).value().size() == 3);
    }
};

/// A peer's flood of heartbeat frames on socket `fd` (after its handshake), from a thread of
/// ours, which outruns the connection's reader here, so that the socket never runs dry. A
/// watchdog cuts it off if it still runs after patience: a read loop that waits for the socket
/// to run dry then ends, and the test fails (cut_off) instead of holding up the suite.
class heartbeat_flood {
public:
    explicit heartbeat_flood(int fd)
        : fd_(fd),
          flood_([this] {
              std::vector<std::byte> beats(1 << 20);
              for (std::size_t i = 0; i < beats.size(); i += ipckit::detail::frame_header_size)
                  ipckit::detail::encode_frame_header(beats.data() + i, frame_type::heartbeat, 0);
              while (::send(fd_, beats.data(), beats.size(), MSG_NOSIGNAL) > 0) {
              }
          }),
          watchdog_([this] {
              if (finished_.wait()) return;
              cut_off_ = true;
              ::shutdown(fd_, SHUT_RDWR);
          }) {}
    ~heartbeat_flood() {
        finished_.post();
        watchdog_.join();
        ::shutdown(fd_, SHUT_RDWR);  // ends the flood's send, waiting for room or not
        flood_.join();
    }
    heartbeat_flood(const heartbeat_flood&) = delete;
    heartbeat_flood& operator=(const heartbeat_flood&) = delete;
    /// The watchdog ended the flood: the test ran past patience.
    [[nodiscard]] bool cut_off() const noexcept { return cut_off_; }

private:
    const int fd_;
    ipckit_test::signal_pipe finished_;
    std::atomic<bool> cut_off_{false};
    std::thread flood_;
    std::thread watchdog_;
};

/// The last rejection, once there is one.
ipckit::net_rejection last_rejection(const ipckit::listener<msg>& srv, std::uint64_t after) {
    REQUIRE(eventually([&] { return srv.rejected() > after; }));
    const auto r = srv.rejections();
    REQUIRE(!r.empty());
    return r.back();
}
}  // namespace

TEST_CASE("net bad input: garbage instead of a handshake is refused as corrupt", "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        bystander b(kind);
        raw_client raw(b.srv.address());
        raw.write(std::vector<std::byte>(64, std::byte{'G'}));
        const auto r = last_rejection(b.srv, 0);
        CHECK(r.reason == errc::corrupt);
        CHECK(contains(r.what, "not an ipckit connection"));
        b.still_fine();
    }
}

TEST_CASE("net bad input: a frame longer than Max drops the connection as corrupt", "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        bystander b(kind);
        for (const std::uint32_t length : {4097U, 0xffffffffU}) {
            auto [raw, end] = raw_peer<msg>(b.srv);
            raw.frame(frame_type::data, 3, 3);  // one good message first: it is still received
            raw.frame(frame_type::data, length);
            CHECK(end.receive(patience).value().size() == 3);
            CHECK(end.receive(patience).error() == errc::corrupt);
            CHECK(contains(end.fault(), "longer than"));
            CHECK(end.send("anyone?").error() == errc::corrupt);
        }
        b.still_fine();
    }
}

TEST_CASE("net bad input: a batch receive takes the whole frames before one longer than Max, then corrupt", "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        bystander b(kind);
        auto [raw, end] = raw_peer<msg>(b.srv);
        raw.frame(frame_type::data, 3, 3);
        raw.frame(frame_type::data, 5, 5);
        raw.frame(frame_type::data, 4097);  // its length is checked before anything is taken
        std::vector<std::byte> storage(ipckit::records::storage_for(8, 4096));
        ipckit::records batch{storage};
        std::vector<std::size_t> sizes;
        auto r = end.receive(batch, patience);
        for (; r.has_value(); r = end.receive(batch, patience))  // the frames may come in more reads than one
            for (const std::span<const std::byte> m : batch) sizes.push_back(m.size());
        CHECK(sizes == std::vector<std::size_t>{3, 5});
        CHECK(r.error() == errc::corrupt);
        CHECK(contains(end.fault(), "longer than"));
        b.still_fine();
    }
}

TEST_CASE("net bad input: an unknown frame type drops the connection as corrupt", "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        bystander b(kind);
        auto [raw, end] = raw_peer<msg>(b.srv);
        std::vector<std::byte> bad(ipckit::detail::frame_header_size, std::byte{0});
        bad[0] = std::byte{77};
        raw.write(bad);
        CHECK(end.receive(patience).error() == errc::corrupt);
        CHECK(contains(end.fault(), "unknown type"));
        b.still_fine();
    }
}

TEST_CASE("net bad input: a truncated frame, then end of stream, is peer_dead", "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        bystander b(kind);
        auto [raw, end] = raw_peer<msg>(b.srv);
        raw.frame(frame_type::data, 100, 10);
        raw.close();
        CHECK(end.receive(patience).error() == errc::peer_dead);
        CHECK(contains(end.fault(), "truncated"));
        b.still_fine();
    }
}

TEST_CASE("net bad input: a client that never sends its handshake is dropped at the deadline", "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        ipckit::net_options o;
        o.handshake_timeout = 200ms;
        bystander b(kind, o);
        raw_client silent(b.srv.address());
        b.still_fine();  // while the silent one waits
        const auto r = last_rejection(b.srv, 0);
        CHECK(r.reason == errc::timed_out);
        CHECK(contains(r.what, "no handshake within 200 ms"));
        b.still_fine();
    }
}

TEST_CASE("net bad input: a peer that falls silent is peer_dead within the liveness interval", "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        ipckit::net_options o;
        o.liveness_interval = 200ms;
        bystander b(kind, o);
        auto [raw, end] = raw_peer<msg>(b.srv);  // handshakes, and then not a byte, not even a heartbeat
        CHECK(end.receive(patience).error() == errc::peer_dead);
        CHECK(contains(end.fault(), "heartbeat"));
        CHECK(end.send("hello?").error() == errc::peer_dead);
        // A live but idle peer is kept alive by heartbeats: five intervals pass without a word.
        CHECK(b.server.receive(1s).error() == errc::timed_out);
        CHECK(b.client.receive(10ms).error() == errc::timed_out);
        b.still_fine();
    }
}

TEST_CASE("net bad input: past the connection cap a client is refused with the reason, and the listener goes on", "[unit]") {
    for (const auto kind : ipckit_test::all_transports) {
        INFO(ipckit_test::to_string(kind));
        ipckit::net_options o;
        o.max_connections = 2;
        auto srv = ipckit::listener<msg>::bind(bind_address(kind), o);
        auto one = ipckit::connect<msg>(srv.address(), patience);
        auto one_end = srv.accept(patience).value();
        {
            auto two = ipckit::connect<msg>(srv.address(), patience);
            auto two_end = srv.accept(patience).value();
            const auto e = ipckit_test::setup_error([&] { return ipckit::connect<msg>(srv.address(), patience); });
            REQUIRE(e);
            CHECK(e->reason() == errc::no_space);
            CHECK(contains(e->what(), "cap of 2"));
            CHECK(contains(e->what(), srv.address()));
            CHECK(srv.rejections().back().reason == errc::no_space);
        }  // two goes, both ends
        REQUIRE(eventually([&] { return srv.live_connections() < 2; }));
        auto three = ipckit::connect<msg>(srv.address(), patience);
        auto three_end = srv.accept(patience).value();
        REQUIRE(three.send("in").has_value());
        CHECK(three_end.receive(patience).value().size() == 2);
        REQUIRE(one.send("still").has_value());
        CHECK(one_end.receive(patience).value().size() == 5);
    }
}

TEST_CASE("net bad input: a shm:// request for queues that are missing or never ready is dropped with the reason",
          "[unit]") {
    ipckit::net_options o;
    o.handshake_timeout = 200ms;
    bystander b(ipckit_test::net_kind::shm, o);
    const std::string name = ipckit::parse_address(b.srv.address()).path;
    auto requests = ipckit::detail::shm_request_queue<msg>::open(name).sender<ipckit::blocking>();

    // Queues that were never made, and a queue whose maker never finished it (a hostile or
    // broken client): each request is dropped, the second at the handshake deadline.
    constexpr std::uint64_t missing = 1, unfinished = 2;
    const std::string stuck = ipckit::detail::os_name(ipckit::detail::shm_down_name(name, unfinished));
    const int fd = ::shm_open(stuck.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    REQUIRE(fd >= 0);
    ::close(fd);
    REQUIRE(requests.send(ipckit_test::placed_request<msg>(name, missing), patience).has_value());
    REQUIRE(requests.send(ipckit_test::placed_request<msg>(name, unfinished), patience).has_value());
    b.still_fine();  // its accept goes past both
    ::shm_unlink(stuck.c_str());
    CHECK(b.srv.live_connections() == 1);  // the pair's: the rejected requests gave their places back

    const auto r = b.srv.rejections();
    REQUIRE(r.size() == 2);
    CHECK(r[0].reason == errc::not_found);
    CHECK(contains(r[0].what, "could not be opened"));
    CHECK(r[1].reason == errc::timed_out);
    CHECK(contains(r[1].what, "no handshake within 200 ms"));
}

TEST_CASE("net bad input: a shm:// request naming a door place it does not hold is refused with the reason, and "
          "frees or takes no place",
          "[unit]") {
    ipckit::net_options o;
    o.max_connections = 1;
    auto srv = ipckit::listener<msg>::bind(bind_address(ipckit_test::net_kind::shm), o);
    const std::string name = ipckit::parse_address(srv.address()).path;
    auto requests = ipckit::detail::shm_request_queue<msg>::open(name).sender<ipckit::blocking>();
    const std::uint64_t someone = ipckit::detail::sys::self().pack();
    // A hostile or broken client: its request names the one place, free, as if it held it.
    REQUIRE(requests.send(ipckit::detail::shm_request<msg>{1, 0, someone}, patience).has_value());
    CHECK(srv.accept(0ms).error() == errc::timed_out);  // one look
    auto r = srv.rejections();
    REQUIRE(r.size() == 1);
    CHECK(r[0].reason == errc::peer_dead);
    CHECK(contains(r[0].what, "does not hold its client"));
    CHECK(srv.live_connections() == 0);
    // A place the listener took is its own: a request naming it is refused, and the client
    // whose place it is goes on.
    auto client = ipckit::connect<msg>(srv.address(), patience, o);
    REQUIRE(srv.live_connections() == 1);
    REQUIRE(requests.send(ipckit::detail::shm_request<msg>{2, 0, someone}, patience).has_value());
    auto end = srv.accept(patience);
    REQUIRE(end.has_value());
    REQUIRE(client.send("in").has_value());
    CHECK(end->receive(patience).value().size() == 2);
    CHECK(srv.accept(0ms).error() == errc::timed_out);  // one look
    r = srv.rejections();
    REQUIRE(r.size() == 2);
    CHECK(contains(r[1].what, "does not hold its client"));
    CHECK(srv.live_connections() == 1);
}

TEST_CASE("net bad input: out of file descriptors, a listener says why and accepts the waiting client once some are free",
          "[unit]") {
    if (ipckit_test::under_asan()) {
        // UBSan's vptr check opens a pipe to probe memory: out of descriptors it reports every
        // virtual call (Asio's, Catch's) as made on an invalid object.
        WARN("skipped under the sanitizers: their own checks need file descriptors");
        return;
    }
    auto srv = ipckit::listener<ipckit::bytes<64>>::bind("tcp://127.0.0.1:0");
    const auto port = ipckit::parse_address(srv.address()).port;
    rlimit before{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
    // Every descriptor number below the limit taken but one, for the client's socket: the
    // listener's accept then has none.
    int highest = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
        highest = std::max(highest, std::stoi(entry.path().filename().string()));
    rlimit low = before;
    low.rlim_cur = static_cast<rlim_t>(highest + 32);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::vector<int> filler;
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) filler.push_back(fd);
    REQUIRE(!filler.empty());
    ::close(filler.back());  // the one number free
    filler.pop_back();
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(client >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(client, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0);  // the kernel queues it
    const bool said = ipckit_test::eventually([&] {
        for (const auto& r : srv.rejections())
            if (contains(r.what, "accepting a connection failed")) return true;
        return false;
    });
    for (const int fd : filler) ::close(fd);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &before) == 0);
    CHECK(said);
    CHECK(ipckit_test::eventually([&] { return srv.live_connections() == 1; }));  // taken, with no new client
    ::close(client);
}

TEST_CASE("net bad input: a peer that closes and stops reading while our sends are still being written cannot hold "
          "the connection",
          "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        ipckit::net_options o;
        o.close_timeout = 200ms;
        o.send_buffer = 64 * 1024;
        auto srv = ipckit::listener<msg>::bind(bind_address(kind), o);
        raw_client raw(srv.address());
        raw.handshake<msg>();
        {
            auto end = srv.accept(patience).value();
            // Until the socket is full and the send buffer too: the I/O thread's write of it
            // then waits for a reader that never comes.
            const std::string chunk(4096, 'w');
            while (end.send(chunk, 200ms)) {
            }
            raw.frame(frame_type::close, 0);
            CHECK(end.receive(patience).error() == errc::closed);
            CHECK(srv.live_connections() == 1);
        }  // closed, its write still pending: not a connection held for good
        CHECK(eventually([&] { return srv.live_connections() == 0; }));
        raw.close();
    }
}

TEST_CASE("net bad input: a peer that floods heartbeats holds up neither receive's deadline nor the process's other "
          "connections",
          "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        ipckit::net_options o;
        o.liveness_interval = 1s;
        auto srv = ipckit::listener<msg>::bind(bind_address(kind), o);
        // A healthy connection beside it (in this process: a fork while the I/O thread runs is
        // not safe under ASan's allocator, net_process_test.cpp): each end hears the other's
        // heartbeats, or ends peer_dead once the flood holds up the I/O thread, which serves
        // both, for a liveness interval.
        auto other = ipckit::connect<msg>(srv.address(), patience, o);
        auto other_end = srv.accept(patience).value();

        raw_client raw(srv.address());
        raw.handshake<msg>();
        auto flooded = srv.accept(patience).value();
        heartbeat_flood flood(raw.native_handle());

        // Each returns, at its deadline, for all the peer sends (without a bound on the read
        // loops they ran until the peer paused, and held up the I/O thread meanwhile).
        for (int i = 0; i < 5; ++i) CHECK(flooded.receive(100ms).error() == errc::timed_out);
        ipckit::waitset ws;
        const auto id = ws.add(flooded);
        for (int i = 0; i < 5; ++i) CHECK(ws.wait(100ms).error() == errc::timed_out);
        ws.remove(id);  // the I/O thread reads it alone from now on
        // The I/O thread serves the others meanwhile: a new client gets in, and the healthy
        // connection has heard heartbeats all along.
        auto late = ipckit::connect<msg>(srv.address(), patience, o);
        auto late_end = srv.accept(patience).value();
        REQUIRE(late.send("late").has_value());
        CHECK(late_end.receive(patience).value().size() == 4);
        CHECK(other_end.send("done").has_value());
        const auto done = other.receive(patience);  // peer_dead if it heard nothing for an interval
        REQUIRE(done.has_value());
        CHECK(done->size() == 4);

        CHECK(!flood.cut_off());
    }
}

TEST_CASE("net bad input: a peer that is alive but does not read cannot hold a connection we closed, nor its place "
          "under the cap",
          "[unit]") {
    for (const auto kind : all_net_kinds) {
        INFO(ipckit_test::to_string(kind));
        ipckit::net_options o;
        o.close_timeout = 200ms;
        o.liveness_interval = 200ms;  // the client's heartbeats come every 50 ms, after our close too
        o.max_connections = 1;
        auto srv = ipckit::listener<msg>::bind(bind_address(kind), o);
        auto client = ipckit::connect<msg>(srv.address(), patience, o);
        {
            auto end = srv.accept(patience).value();
            // More than the client reads ahead: it stops reading, and our close frame waits
            // in its socket behind the rest.
            const std::string m(1000, 'x');
            for (int i = 0; i < 100; ++i) REQUIRE(end.send(m, patience).has_value());
        }  // closed
        CHECK(eventually([&] { return srv.live_connections() == 0; }));
        auto next = ipckit::connect<msg>(srv.address(), patience, o);
        auto next_end = srv.accept(patience).value();
        REQUIRE(next.send("in").has_value());
        CHECK(next_end.receive(patience).value().size() == 2);
    }
}

TEST_CASE("net bad input: a shm:// connect to a listener's segment that was never sized gives up by the connect's "
          "deadline, naming the address",
          "[unit]") {
    // A listener killed before it sized its request queue, or a hostile local process: the name
    // holds an empty object, which the connect waits for no longer than its own deadline.
    const std::string name = ipckit_test::unique_name("conn");
    const std::string os = ipckit::detail::os_name(name);
    const int fd = ::shm_open(os.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    REQUIRE(fd >= 0);
    ::close(fd);
    ipckit_test::signal_pipe returned;
    errc why = errc::ok;
    std::string what;
    std::thread connecting([&] {
        try {
            (void)ipckit::connect<msg>("shm://" + name, 50ms);
        } catch (const ipckit::error& e) {
            why = e.reason();
            what = e.what();
        }
        returned.post();
    });
    REQUIRE(returned.wait(patience));
    connecting.join();
    ::shm_unlink(os.c_str());
    CHECK(why == errc::corrupt);
    CHECK(contains(what, "connecting to shm://" + name));
}

TEST_CASE("net bad input: a shm:// connect that finds every sender's place on the listener's request queue taken "
          "waits for one, until its deadline",
          "[unit]") {
    auto srv = ipckit::listener<msg>::bind(bind_address(ipckit_test::net_kind::shm));
    const std::string name = ipckit::parse_address(srv.address()).path;
    const auto requests = ipckit::detail::shm_request_queue<msg>::open(name);
    // The 64 places, held as clients waiting for room in the listener's ring hold them.
    std::vector<decltype(requests.sender<ipckit::blocking>())> held;
    for (std::size_t i = 0; i < ipckit::detail::shm_request_queue<msg>::max_senders; ++i)
        held.push_back(requests.sender<ipckit::blocking>());
    // None comes free: timed_out at the deadline, as a socket's full backlog, naming the address.
    try {
        (void)ipckit::connect<msg>(srv.address(), 100ms);
        FAIL("connected with no place to ask from");
    } catch (const ipckit::error& e) {
        CHECK(e.reason() == errc::timed_out);
        CHECK(contains(e.what(), "connecting to " + srv.address()));
    }
    // One comes free while a connect waits: it asks, and is accepted.
    std::optional<ipckit::connection<msg>> client;
    errc why = errc::ok;
    std::thread connecting([&] {
        try {
            client.emplace(ipckit::connect<msg>(srv.address(), patience));
        } catch (const ipckit::error& e) {
            why = e.reason();
        }
    });
    held.pop_back();
    connecting.join();
    REQUIRE(why == errc::ok);
    auto end = srv.accept(patience).value();
    REQUIRE(client->send("in").has_value());
    CHECK(end.receive(patience).value().size() == 2);
}

TEST_CASE("net bad input: a shm:// listener whose request queue was scribbled over closes by its handshake deadline, "
          "leaving nothing",
          "[unit]") {
    ipckit::net_options o;
    o.handshake_timeout = 1s;
    auto srv = ipckit::listener<msg>::bind(bind_address(ipckit_test::net_kind::shm), o);
    const std::string name = ipckit::parse_address(srv.address()).path;
    {
        // Random bytes over the ring (a hostile local process): a request that looks claimed and
        // never written, which close() waits for until the handshake deadline.
        const int fd = ::shm_open(ipckit::detail::os_name(name).c_str(), O_RDWR, 0);
        REQUIRE(fd >= 0);
        struct stat st {};
        REQUIRE(::fstat(fd, &st) == 0);
        const auto size = static_cast<std::size_t>(st.st_size);
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ::close(fd);
        REQUIRE(p != MAP_FAILED);
        std::mt19937_64 random(0);
        auto* bytes = static_cast<unsigned char*>(p);
        for (std::size_t i = ipckit::detail::header_size; i < size; ++i) bytes[i] = static_cast<unsigned char>(random());
        ::munmap(p, size);
    }
    srv.close();
    CHECK(ipckit_test::shm_segments_of(srv.address()).empty());
}

TEST_CASE("net bad input: a second bind of a live shm:// listener's name is already_exists, says so, and leaves the "
          "live listener's waiting clients be",
          "[unit]") {
    auto live = ipckit::listener<msg>::bind(bind_address(ipckit_test::net_kind::shm));
    const std::string address = live.address();
    const std::string name = ipckit::parse_address(address).path;
    auto waiting = ipckit::connect<msg>(address, patience);  // not accepted yet
    const auto second_bind = [&] {
        try {
            (void)ipckit::listener<msg>::bind(address);
        } catch (const ipckit::error& e) {
            CHECK(e.reason() == errc::already_exists);
            CHECK(contains(e.what(), address + " is bound by a live listener"));
            CHECK(!contains(e.what(), "remove_segment"));  // never advice that breaks the live one
            return;
        }
        FAIL("a second listener bound a live one's name");
    };
    second_bind();
    // Its door removed by hand all the same: the name is still the live listener's, and the
    // second bind takes nothing of it (its waiting client's queues above all).
    REQUIRE(ipckit::remove_segment(name + ".door"));
    second_bind();
    auto end = live.accept(patience);
    REQUIRE(end.has_value());
    REQUIRE(waiting.send("in").has_value());
    CHECK(end->receive(patience).value().size() == 2);
}
