// Lost messages and dead processes, across processes over shm, a Unix path and tcp: every call
// runs exactly once while replies are dropped and connections cut; a server killed mid-call is
// peer_dead at once; a client killed mid-call leaves the server serving; a restarted server
// gets the idempotent calls again and never the others; calls across the msgid's wrap at 2^32
// run once each; a call held up before it went while later ones filled the reply cache runs
// once; while the client reconnects to a server that hangs, each call ends at its own deadline
// and close() returns; a send waiting for room at a server that does not read holds up no other
// caller, and close() ends it and the calls waiting for their turn behind it; a client closed or
// destroyed by its own callback ends its calls, without a hang; with the longest retry_interval a
// request goes once on a connection; a server the system gives too few threads says so and can
// start later.

#include "../catch.hpp"
#include "rpc_support.hpp"

#include <ipckit/rpc.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sys/resource.h>

using namespace std::chrono_literals;
using ipckit_test::as_expected;
using ipckit_test::child_report;
using ipckit_test::failed_with;
using ipckit_test::in_child;
using ipckit_test::killed_by_sigkill;
using ipckit_test::patience;
using ipckit_test::returned;
using ipckit_test::rpc_transports;
using ipckit_test::served;
using ipckit_test::signal_pipe;
namespace rpc = ipckit::rpc;

namespace {

/// incr(token) counts the runs for each token and returns that token's count; total() all runs.
void counter(rpc::server& s) {
    struct counts {
        std::mutex m;
        std::map<std::uint64_t, std::uint64_t> by_token;
        std::uint64_t total = 0;
    };
    auto c = std::make_shared<counts>();
    s.bind("incr", [c](std::uint64_t token) {
        std::lock_guard lock(c->m);
        ++c->total;
        return ++c->by_token[token];
    });
    s.bind("total", [c] {
        std::lock_guard lock(c->m);
        return c->total;
    }, rpc::idempotent);
}

/// A method that tells `started` it runs, then never returns (until its process is killed);
/// `idempotent`: declared so (rpc::idempotent), and then retried on a new server incarnation.
void blocking(rpc::server& s, const signal_pipe& started, const std::string& name, bool idempotent = false) {
    auto never_returns = [&started] {
        started.post();
        std::mutex m;
        std::condition_variable cv;
        std::unique_lock lock(m);
        cv.wait(lock, [] { return false; });
        return std::int64_t{0};
    };
    if (idempotent)
        s.bind(name, never_returns, rpc::idempotent);
    else
        s.bind(name, never_returns);
}

/// A peer that answers a client's hello (with an error, as a server in another language may) and
/// then reads nothing more: the client's requests fill the connection, and a send waits for room.
/// It holds the connection until killed, and `beyond` the wait of until_killed() (patience), which
/// ends a stray one: a test that waits with patience for what the client does must not see the
/// peer end first.
int deaf(const ipckit_test::serving& s, std::chrono::minutes beyond = {}) {
    using frame = ipckit::detail::rpc::frame;
    auto l = ipckit::listener<frame>::bind(s.bound);
    s.listening(l.address());
    auto c = l.accept(patience);
    if (c) {
        if (auto hello = c->receive(patience)) {
            msgpack::sbuffer out;
            ipckit::detail::rpc::pack_failure(out, ipckit::detail::rpc::hello_msgid, rpc::errc::unknown_method, "no hello here");
            (void)c->send(std::as_bytes(std::span(out.data(), out.size())), patience);
        }
    }
    std::this_thread::sleep_for(beyond);  // how long it lives, not an order of events
    return s.until_killed();
}

/// A peer that answers the hello as deaf() does, then reads: posts `first` when the first request
/// comes, and, when a notification comes, the number of requests before it to `requests`.
int request_counter(const ipckit_test::serving& s, const signal_pipe& first, const signal_pipe& requests) {
    using frame = ipckit::detail::rpc::frame;
    auto l = ipckit::listener<frame>::bind(s.bound);
    s.listening(l.address());
    auto c = l.accept(patience);
    if (c) {
        if (auto hello = c->receive(patience)) {
            msgpack::sbuffer out;
            ipckit::detail::rpc::pack_failure(out, ipckit::detail::rpc::hello_msgid, rpc::errc::unknown_method, "no hello here");
            (void)c->send(std::as_bytes(std::span(out.data(), out.size())), patience);
        }
        std::uint64_t seen = 0;
        while (auto f = c->receive(patience)) {
            std::string why;
            const auto m = ipckit::detail::rpc::parse(f->data(), f->size(), why);
            if (!m) break;
            if (m->type == ipckit::detail::rpc::kind::request && seen++ == 0) first.post();
            if (m->type == ipckit::detail::rpc::kind::notification) {
                requests.post_value(seen);
                break;
            }
        }
    }
    return s.until_killed();
}

/// gate() returns 1 once the test posts `go` (one run for each post).
void gated(rpc::server& s, const signal_pipe& go) {
    s.bind("gate", [&go] {
        (void)go.wait();
        return std::int64_t{1};
    });
}

/// A server that hangs: it makes connections (saying `knocked` for each) and keeps them, but
/// never answers a client's hello. A client's reconnect attempt there lasts to its deadline.
int mute(const ipckit_test::serving& s, const signal_pipe& knocked) {
    auto l = ipckit::listener<ipckit::detail::rpc::frame>::bind(s.bound);
    s.listening(l.address());
    std::vector<ipckit::connection<ipckit::detail::rpc::frame>> held;
    for (;;) {
        if (auto c = l.accept(patience)) {
            held.push_back(std::move(*c));
            knocked.post();
        }
    }
}

/// Packs as its token once `go` is ready, saying `packing` first: a call held up after it took
/// its number and before it went.
struct held_token {
    std::uint64_t token;
    std::promise<void>* packing;
    std::shared_future<void> go;
    template <class Packer>
    void msgpack_pack(Packer& pk) const {
        packing->set_value();
        go.wait();
        pk.pack(token);
    }
};

/// The address space this process has mapped now (VmSize), in bytes.
std::size_t mapped_bytes() {
    std::ifstream status("/proc/self/status");
    std::string key;
    std::size_t kib = 0;
    while (status >> key)
        if (key == "VmSize:" && status >> kib) break;
    return kib * 1024;
}

}  // namespace

TEST_CASE("rpc faults: every call runs exactly once while replies are dropped and connections cut", "[process]") {
    constexpr std::uint64_t calls = 300;
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        rpc::server_options o;
        o.threads = 2;
        o.fault_hook = [](std::string_view method, std::uint32_t msgid) {
            if (method != "incr") return rpc::fault_action::deliver;
            if (msgid % 11 == 3) return rpc::fault_action::cut_connection;
            if (msgid % 3 == 1) return rpc::fault_action::drop_reply;
            return rpc::fault_action::deliver;
        };
        served srv(kind, counter, o);
        CHECK(in_child([&](child_report& r) {
                  rpc::client_options co;
                  co.retry_interval = 20ms;  // a dropped reply is asked for again soon
                  rpc::client c(srv.address(), co);
                  // each incr returns how often it ran for its token: 1, or it ran twice
                  // half one at a time, half 16 in flight at once
                  for (std::uint64_t t = 0; t < calls / 2; ++t)
                      r.expect(returned(c.call<std::uint64_t>("incr", t, patience), std::uint64_t{1}, "incr(" + std::to_string(t) + ")"));
                  for (std::uint64_t t = calls / 2; t < calls; t += 16) {
                      std::vector<std::future<rpc::result<std::uint64_t>>> batch;
                      for (std::uint64_t i = t; i < t + 16 && i < calls; ++i) batch.push_back(c.async_call<std::uint64_t>("incr", i, patience));
                      for (std::uint64_t i = t; i < t + 16 && i < calls; ++i)
                          r.expect(returned(batch[i - t].get(), std::uint64_t{1}, "incr(" + std::to_string(i) + ")"));
                  }
                  r.expect(returned(c.call<std::uint64_t>("total", patience), calls, "total()"));  // exactly once each
              }) == as_expected);
    }
}

TEST_CASE("rpc faults: a server killed mid-call is peer_dead at the client, without a hang", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        signal_pipe started;
        served srv(kind, [&](rpc::server& s) { blocking(s, started, "block"); });
        child_report report;
        ipckit_test::child client = report.spawn([&](child_report& r) {
            rpc::client c(srv.address());
            r.expect(failed_with(c.call<std::int64_t>("block", patience), rpc::errc::peer_dead, "may or may not have run", "block()"));
        });
        REQUIRE(started.wait());
        CHECK(srv.kill() == killed_by_sigkill);
        CHECK(report.finish(client) == as_expected);
    }
}

TEST_CASE("rpc faults: a client killed mid-call leaves the server serving the others", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        signal_pipe started;
        served srv(kind, [&](rpc::server& s) {
            ipckit_test::calculator(s);
            blocking(s, started, "block");
        });
        child_report doomed_report;
        ipckit_test::child doomed = doomed_report.spawn([&](child_report& r) {
            rpc::client c(srv.address());
            const auto b = c.call<std::int64_t>("block", patience);
            r.check(false, "to be killed while block() ran; it ended with " +
                               (b ? std::string("a result") : ipckit_test::rpc_error_text(b.error())));
        });
        REQUIRE(started.wait());
        CHECK(doomed_report.ended(doomed.kill(), killed_by_sigkill) == as_expected);
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  for (std::int64_t i = 0; i < 50; ++i)
                      r.expect(returned(c.call<std::int64_t>("add", i, 1, patience), i + 1, "add(" + std::to_string(i) + ", 1)"));
              }) == as_expected);
    }
}

TEST_CASE("rpc faults: a restarted server gets the idempotent calls again, the others end peer_dead", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        signal_pipe started;
        auto first = std::make_unique<served>(kind, [&](rpc::server& s) {
            blocking(s, started, "charge");
            blocking(s, started, "balance", true);  // blocks in the first server, as charge does
            blocking(s, started, "audit", true);    // idempotent here, not in the second server
        });
        const std::string address = first->address();
        child_report report;
        ipckit_test::child client = report.spawn([&](child_report& r) {
            rpc::client_options co;
            co.retry_interval = 50ms;
            rpc::client c(address, co);
            auto charge = c.async_call<std::int64_t>("charge", patience);
            auto balance = c.async_call<std::int64_t>("balance", patience);
            auto audit = c.async_call<std::int64_t>("audit", patience);
            r.expect(failed_with(charge.get(), rpc::errc::peer_dead, "", "charge()"));  // never run twice
            r.expect(returned(balance.get(), 7, "balance()"));                           // answered by the second server
            r.expect(failed_with(audit.get(), rpc::errc::peer_dead, "", "audit()"));    // the new server's word counts too
        });
        REQUIRE(started.wait());
        REQUIRE(started.wait());
        REQUIRE(started.wait());
        CHECK(first->kill() == killed_by_sigkill);
        served second(address, [](rpc::server& s) {
            s.bind("charge", [] { return std::int64_t{1}; });
            s.bind("balance", [] { return std::int64_t{7}; }, rpc::idempotent);
            s.bind("audit", [] { return std::int64_t{1}; });
        });
        CHECK(report.finish(client) == as_expected);
    }
}

TEST_CASE("rpc faults: calls across the msgid's wrap at 2^32 each run once, none refused as expired", "[process]") {
    constexpr std::uint64_t calls = 48;
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        rpc::server_options o;
        o.threads = 2;
        o.reply_cache = 4;  // evictions move the expiry floor up to the wrap, while replies are dropped
        o.fault_hook = [](std::string_view method, std::uint32_t msgid) {
            if (method != "incr") return rpc::fault_action::deliver;
            if (msgid % 7 == 3) return rpc::fault_action::cut_connection;
            if (msgid % 3 == 1) return rpc::fault_action::drop_reply;
            return rpc::fault_action::deliver;
        };
        served srv(kind, counter, o);
        CHECK(in_child([&](child_report& r) {
                  rpc::client_options co;
                  co.retry_interval = 20ms;
                  co.first_sequence = (std::uint64_t{1} << 32) - calls / 2;  // half the calls before the wrap, half after
                  rpc::client c(srv.address(), co);
                  for (std::uint64_t t = 0; t < calls; ++t)  // each returns how often it ran for its token
                      r.expect(returned(c.call<std::uint64_t>("incr", t, patience), std::uint64_t{1}, "incr(" + std::to_string(t) + ")"));
                  r.expect(returned(c.call<std::uint64_t>("total", patience), calls, "total()"));
              }) == as_expected);
    }
}

TEST_CASE("rpc faults: a call held up before it went, while later calls push it out of the reply cache, runs once", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        rpc::server_options o;
        o.reply_cache = 2;  // three later calls completed: the held call's number is below what the server keeps
        served srv(kind, counter, o);
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  std::promise<void> packing;
                  std::promise<void> go;
                  auto held = std::async(std::launch::async, [&c, &packing, g = go.get_future().share()] {
                      return c.call<std::uint64_t>("incr", held_token{100, &packing, g}, patience);
                  });
                  packing.get_future().wait();
                  for (std::uint64_t t = 0; t < 3; ++t)
                      r.expect(returned(c.call<std::uint64_t>("incr", t, patience), std::uint64_t{1}, "incr(" + std::to_string(t) + ")"));
                  go.set_value();
                  // it never ran: not expired ("may have run"), but sent again and run once
                  r.expect(returned(held.get(), std::uint64_t{1}, "incr(100), held up while 3 later calls completed"));
                  r.expect(returned(c.call<std::uint64_t>("total", patience), std::uint64_t{4}, "total()"));
              }) == as_expected);
    }
}

TEST_CASE("rpc faults: while the client reconnects to a server that hangs, each call ends at its own deadline and "
          "close() returns",
          "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        auto first = std::make_unique<served>(kind, counter);
        const std::string address = first->address();
        signal_pipe connected;
        signal_pipe killed;
        signal_pipe noticed;
        signal_pipe restarted;
        signal_pipe knocked;
        child_report report;
        ipckit_test::child client = report.spawn([&](child_report& r) {
            rpc::client_options co;
            co.reconnect_timeout = std::chrono::hours(1);  // an attempt at the hung server lasts an hour
            co.retry_interval = 10ms;                      // the next attempt soon after one that failed
            rpc::client c(address, co);
            r.expect(returned(c.call<std::uint64_t>("incr", 1, patience), std::uint64_t{1}, "incr(1)"));
            connected.post();
            r.check(killed.wait(), "the server was killed");
            r.check(!c.call<std::uint64_t>("incr", 9, patience), "incr(9) failed, no server there");  // the client knows
            noticed.post();
            r.check(restarted.wait(), "the server was restarted, hung");
            auto brief = c.async_call<std::uint64_t>("incr", 3, 200ms);  // the next attempt starts for it
            r.check(knocked.wait(), "the client's reconnect attempt reached the hung server");
            auto hour = c.async_call<std::uint64_t>("incr", 2, std::chrono::hours(1));
            const auto ends_unsent = [&r](std::future<rpc::result<std::uint64_t>>& f, const std::string& call) {
                r.check(f.wait_for(patience) == std::future_status::ready, call + " ended by its deadline, the attempt going on");
                r.expect(failed_with(f.get(), rpc::errc::not_sent, "incr", call));
            };
            ends_unsent(brief, "incr(3)");
            // by its end, an attempt cut short at incr(3)'s deadline would have ended incr(2) too
            auto another = c.async_call<std::uint64_t>("incr", 4, 200ms);
            ends_unsent(another, "incr(4)");
            r.check(hour.wait_for(0s) == std::future_status::timeout,
                    "incr(2), an hour from its deadline, still waits for the attempt after shorter calls ended");
            std::promise<void> closing;
            auto closed = closing.get_future();
            std::thread([&c, &closing] {
                c.close();
                closing.set_value();
            }).detach();
            r.check(closed.wait_for(patience) == std::future_status::ready, "close() returned, the attempt going on");
            r.expect(failed_with(hour.get(), rpc::errc::closed, "", "incr(2)"));
        });
        REQUIRE(connected.wait());
        CHECK(first->kill() == killed_by_sigkill);
        killed.post();
        REQUIRE(noticed.wait());
        served hung(address, [&knocked](const ipckit_test::serving& s) { return mute(s, knocked); });
        restarted.post();
        CHECK(report.finish(client) == as_expected);
    }
}

TEST_CASE("rpc faults: a send waiting for room at a server that does not read holds up no other caller", "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, [](const ipckit_test::serving& s) { return deaf(s); });
        child_report report;
        signal_pipe refused;
        signal_pipe hold;
        ipckit_test::child client = report.spawn([&](child_report& r) {
            rpc::client c(srv.address());
            std::thread filler([&c] {  // sends until the connection is full, then waits for room, for an hour
                const std::string big(200 * 1024, 'x');
                for (;;) {
                    auto f = c.async_call<std::string>("echo", big, std::chrono::hours(1));
                    if (f.wait_for(0s) == std::future_status::ready) return;  // refused: too many in flight
                }
            });
            filler.detach();  // the process is killed, filler and all
            // Meanwhile this caller's calls go out and time out (nobody answers) while there is
            // room, and end not_sent at their own deadline once there is none: they do not wait
            // for the filler's hour.
            for (;;) {
                auto a = c.call<std::int64_t>("add", 1, 2, 100ms);
                r.check(!a, "no reply from a server that does not read");
                if (a.error().code == rpc::errc::not_sent) break;
                r.expect(failed_with(a, rpc::errc::timed_out, "add", "add(1, 2)"));
            }
            // From then on the filler holds the send turn: no call goes, and each says so
            // (not_sent: it did not run), never timed_out (it may or may not have). 200 ms: past
            // the client thread's slice, so that it wakes at the deadline, as the caller does.
            for (int i = 0; i < 10; ++i)
                r.expect(failed_with(c.call<std::int64_t>("add", 1, 2, 200ms), rpc::errc::not_sent, "add",
                                     "add(1, 2), the room gone"));
            refused.post();
            r.block_until_killed(hold);
        });
        REQUIRE(report.reached(client, refused) == as_expected);
        CHECK(report.ended(client.kill(), killed_by_sigkill) == as_expected);
    }
}

TEST_CASE("rpc faults: close() ends a send waiting for room and the calls waiting for their turn behind it, with closed",
          "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        served srv(kind, [](const ipckit_test::serving& s) { return deaf(s, std::chrono::minutes(60)); });
        CHECK(in_child([&](child_report& r) {
                  rpc::client c(srv.address());
                  // The filler sends until the connection is full, then waits for room, for an hour.
                  auto filler_ended = std::make_shared<std::promise<rpc::result<std::string>>>();
                  auto filled = filler_ended->get_future();
                  std::thread([&c, filler_ended] {
                      const std::string big(200 * 1024, 'x');
                      for (;;) {
                          auto f = c.async_call<std::string>("echo", big, std::chrono::hours(1));
                          if (f.wait_for(0s) == std::future_status::ready) {
                              filler_ended->set_value(f.get());
                              return;
                          }
                      }
                  }).detach();  // on a failure the process _exits, filler and all
                  // Once a short call finds no room by its deadline, the filler waits in its send.
                  for (;;) {
                      auto a = c.call<std::int64_t>("add", 1, 2, 100ms);
                      r.check(!a, "no reply from a server that does not read");
                      if (a.error().code == rpc::errc::not_sent) break;
                  }
                  // This one waits for its turn behind the filler, for an hour too.
                  auto behind_ended = std::make_shared<std::promise<rpc::result<std::int64_t>>>();
                  auto behind = behind_ended->get_future();
                  std::thread([&c, behind_ended] {
                      behind_ended->set_value(c.call<std::int64_t>("add", 1, 2, std::chrono::hours(1)));
                  }).detach();
                  c.close();
                  r.check(filled.wait_for(patience) == std::future_status::ready, "the filler's send ended at close()");
                  r.expect(failed_with(filled.get(), rpc::errc::closed, "", "echo(200 KiB) waiting for room"));
                  r.check(behind.wait_for(patience) == std::future_status::ready, "the call behind it ended at close()");
                  r.expect(failed_with(behind.get(), rpc::errc::closed, "", "add(1, 2) waiting for its turn"));
              }) == as_expected);
    }
}

TEST_CASE("rpc faults: a client closed or destroyed by its own callback ends its calls with closed, without a hang",
          "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        signal_pipe started;
        signal_pipe go;
        served srv(kind, [&](rpc::server& s) {
            ipckit_test::calculator(s);
            blocking(s, started, "block");
            gated(s, go);
        });
        CHECK(in_child([&](child_report& r) {
                  // Destroyed: the callback holds the client's last reference, and drops it on the
                  // client's own thread.
                  struct last_owner {
                      std::shared_ptr<rpc::client> c;
                      std::promise<void> destroyed;
                      ~last_owner() {
                          c.reset();
                          destroyed.set_value();
                      }
                  };
                  auto owner = std::make_shared<last_owner>();
                  owner->c = std::make_shared<rpc::client>(srv.address());
                  auto destroyed = owner->destroyed.get_future();
                  auto stuck = owner->c->async_call<std::int64_t>("block", patience);
                  owner->c->call_then<std::int64_t>("gate", [owner](const rpc::result<std::int64_t>&) {}, patience);
                  owner.reset();
                  go.post();  // gate() returns: its callback goes, and the client with it
                  r.check(destroyed.wait_for(patience) == std::future_status::ready,
                          "the client's destructor returned on its thread");
                  r.expect(failed_with(stuck.get(), rpc::errc::closed, "", "block(), in flight as the client went"));
              }) == as_expected);
        CHECK(in_child([&](child_report& r) {
                  // Closed from its callback, and destroyed later by its owner.
                  rpc::client c(srv.address());
                  auto stuck = c.async_call<std::int64_t>("block", patience);
                  std::promise<void> closed_there;
                  c.call_then<std::int64_t>("gate", [&](const rpc::result<std::int64_t>&) {
                      c.close();
                      closed_there.set_value();
                  }, patience);
                  go.post();
                  r.check(closed_there.get_future().wait_for(patience) == std::future_status::ready,
                          "close() returned in the client's own callback");
                  r.expect(failed_with(stuck.get(), rpc::errc::closed, "", "block(), in flight at close()"));
                  r.expect(failed_with(c.call<std::int64_t>("add", 1, 2, patience), rpc::errc::closed, "",
                                       "add(1, 2) after close()"));
              }) == as_expected);
    }
}

TEST_CASE("rpc faults: with retry_interval at its longest, a request without a reply is not sent again on its connection",
          "[process]") {
    for (const auto kind : rpc_transports) {
        INFO(ipckit_test::to_string(kind));
        signal_pipe first;
        signal_pipe requests;
        served peer(kind, [&](const ipckit_test::serving& s) { return request_counter(s, first, requests); });
        child_report report;
        ipckit_test::child client = report.spawn([&](child_report& r) {
            rpc::client_options co;
            co.retry_interval = std::chrono::milliseconds::max();  // never, on one connection
            rpc::client c(peer.address(), co);
            auto call = c.async_call<std::int64_t>("add", 1, 2, patience);
            r.check(first.wait(), "the peer got add(1, 2)");
            r.expect(returned(c.notify("after"), "notify(after)"));  // the peer counts the requests before it
            r.check(call.wait_for(0s) == std::future_status::timeout, "add(1, 2) still waits for its reply");
        });
        const auto copies = requests.wait_value();  // of add(1, 2), before the notification
        REQUIRE(copies.has_value());
        CHECK(*copies == 1);
        CHECK(report.finish(client) == as_expected);
    }
}

TEST_CASE("rpc faults: a server the system gives too few threads says so from start(), and starts once it can",
          "[process]") {
    if (ipckit_test::under_asan()) {
        WARN("skipped under ASan: its shadow memory does not fit under an address-space limit");
        return;
    }
    constexpr std::size_t threads = 64;
    // Room for a few threads' stacks more than the process maps now, far fewer than 64.
    pthread_attr_t defaults;
    std::size_t stack = 0;
    REQUIRE(::pthread_getattr_default_np(&defaults) == 0);
    REQUIRE(::pthread_attr_getstacksize(&defaults, &stack) == 0);
    ::pthread_attr_destroy(&defaults);
    const std::size_t room = std::min<std::size_t>(std::size_t{16} << 20, 8 * stack);
    rlimit was{};
    REQUIRE(::getrlimit(RLIMIT_AS, &was) == 0);
    if (was.rlim_max != RLIM_INFINITY && was.rlim_max < mapped_bytes() + 2 * room) {
        WARN("skipped: the hard limit on address space leaves no room to lower and raise it again");
        return;
    }
    CHECK(in_child([&](child_report& r) {
        rpc::server_options o;
        o.threads = threads;
        rpc::server srv(ipckit_test::bind_address(ipckit_test::net_kind::tcp), o);
        counter(srv);
        rlimit tight = was;
        tight.rlim_cur = static_cast<rlim_t>(mapped_bytes() + room);
        r.check(::setrlimit(RLIMIT_AS, &tight) == 0, "setrlimit(RLIMIT_AS)");
        std::string why;
        try {
            srv.start();
        } catch (const ipckit::error& e) {
            why = e.what();
        }
        r.check(::setrlimit(RLIMIT_AS, &was) == 0, "the limit lifted");
        r.check(ipckit_test::contains(why, "too few threads") && ipckit_test::contains(why, "server_options::threads"),
                "start() to throw, saying the system made too few threads and what to change");
        srv.start();  // as it was before: it starts now
        rpc::client c(srv.address());
        r.expect(returned(c.call<std::uint64_t>("incr", 1, patience), std::uint64_t{1}, "incr(1)"));
    }) == as_expected);
}
