#pragma once
// What the rpc tests share: a server in a child process on any transport, and the services the
// tests call. The test process itself makes no server, client or connection: every fork happens
// before any I/O thread exists (net_process_test.cpp says why), so servers and clients both run
// in children, and the clients report through child_report (contract/child_report.hpp): what they
// saw, what they expected, and where. An rpc result is put in a sentence by returned() and
// failed_with() below, for child_report::expect.

#include "../messages.hpp"
#include "../net_support.hpp"

#include <ipckit/rpc.hpp>

#include <msgpack.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ipckit_test {

/// The transports the rpc tests run over: shm, a Unix path and tcp on loopback.
inline constexpr net_kind rpc_transports[] = {net_kind::shm, net_kind::unix_path, net_kind::tcp};

/// What a served child is given: the address to bind, a call that says it listens (with the
/// address bound, for its real port), and a call that blocks until the parent kills it.
struct serving {
    const std::string& bound;
    std::function<void(const std::string& address)> listening;
    std::function<int()> until_killed;
};

/// A server in a child process: `setup` binds its methods, then it serves until the parent
/// kills it (when this goes, or by kill()). address() is what a client connects to.
class served {
public:
    served(net_kind kind, const std::function<void(ipckit::rpc::server&)>& setup, ipckit::rpc::server_options o = {})
        : served(bind_address(kind), setup, std::move(o)) {}
    /// On exactly `address` (a restarted server on the address of the one before).
    served(std::string address, const std::function<void(ipckit::rpc::server&)>& setup, ipckit::rpc::server_options o = {})
        : served(std::move(address), [&setup, o](const serving& s) mutable {
              ipckit::rpc::server srv(s.bound, std::move(o));
              setup(srv);
              srv.start();
              s.listening(srv.address());
              return s.until_killed();
          }) {}
    /// Anything else that listens on `kind`'s address (a peer that is no rpc::server): `serve`
    /// binds s.bound, calls s.listening, and returns s.until_killed().
    served(net_kind kind, const std::function<int(const serving& s)>& serve) : served(bind_address(kind), serve) {}
    served(std::string address, const std::function<int(const serving& s)>& serve)
        : bound_(std::move(address)),
          proc_([&] {
              return serve(serving{bound_, [this](const std::string& a) { port_.post_value(ipckit::parse_address(a).port); },
                                   [this] { return block_until_killed(hold_); }});
          }) {
        const auto port = port_.wait_value();
        if (!port) throw std::runtime_error("the server child did not start on " + bound_);
        auto a = ipckit::parse_address(bound_);
        a.port = static_cast<std::uint16_t>(*port);
        address_ = a.str();
    }
    served(const served&) = delete;
    served& operator=(const served&) = delete;
    ~served() { (void)kill(); }
    [[nodiscard]] const std::string& address() const noexcept { return address_; }
    /// SIGKILLs the server now; what wait_child says (killed_by_sigkill).
    int kill() {
        if (killed_) return killed_by_sigkill;
        killed_ = true;
        const int how = proc_.kill();
        remove_leftovers(bound_);
        return how;
    }

private:
    std::string bound_;
    signal_pipe port_;
    signal_pipe hold_;
    child proc_;
    std::string address_;
    bool killed_ = false;
};

/// Runs `fn` in a child process and says how it went: as_expected, or what it reported (what it
/// saw where it expected what, at which line), or how it ended without a report.
inline std::string in_child(const std::function<void(child_report&)>& fn) {
    child_report report;
    child c = report.spawn(fn);
    return report.finish(c);
}

// ---- rpc results in a sentence ---------------------------------------------------------------

/// An rpc::error as the sentences show it: "rpc::errc(timed_out): <its message>".
inline std::string rpc_error_text(const ipckit::rpc::error& e) {
    return std::string("rpc::errc(") + ipckit::rpc::to_string(e.code) + "): " + e.message;
}

/// How `call` (e.g. "add(2, 40)") ended: as_expected if it returned a result, else its error.
template <class R>
std::string returned(const ipckit::rpc::result<R>& r, std::string_view call) {
    if (r) return as_expected;
    return std::string(call) + " gave " + rpc_error_text(r.error()) + " where it expected a result";
}

/// as_expected if `call` returned `want`; else its error, or the value it returned (a number's).
template <class R, class T>
std::string returned(const ipckit::rpc::result<R>& r, const T& want, std::string_view call) {
    if (const auto s = returned(r, call); s != as_expected) return s;
    if (*r == want) return as_expected;
    if constexpr (std::is_arithmetic_v<R> && std::is_arithmetic_v<T>)
        return std::string(call) + " returned " + std::to_string(*r) + " where it expected " + std::to_string(want);
    else
        return std::string(call) + " returned another value than the one it expected";
}

/// as_expected if `call` failed with `code` and a message containing `needle`; else what it did.
template <class R>
std::string failed_with(const ipckit::rpc::result<R>& r, ipckit::rpc::errc code, std::string_view needle,
                        std::string_view call) {
    const std::string wanted =
        " where it expected rpc::errc(" + std::string(ipckit::rpc::to_string(code)) + ") saying '" + std::string(needle) + "'";
    if (r) return std::string(call) + " returned a result" + wanted;
    if (r.error().code == code && contains(r.error().message, needle)) return as_expected;
    return std::string(call) + " gave " + rpc_error_text(r.error()) + wanted;
}

// ---- services --------------------------------------------------------------------------------

struct point {
    double x = 0;
    double y = 0;
    std::string label;
    MSGPACK_DEFINE(x, y, label)
};

/// Methods of every type the library promises to carry.
inline void calculator(ipckit::rpc::server& s) {
    s.bind("add", [](std::int64_t a, std::int64_t b) { return a + b; });
    s.bind("echo", [](std::string t) { return t; });
    s.bind("negate", [](bool b) { return !b; });
    s.bind("half", [](double d) { return d / 2; });
    s.bind("reverse", [](std::vector<unsigned char> blob) { return std::vector<unsigned char>(blob.rbegin(), blob.rend()); });
    s.bind("sum", [](std::vector<double> v) {
        double t = 0;
        for (const double d : v) t += d;
        return t;
    });
    s.bind("lookup", [](std::map<std::string, std::int64_t> m, std::string key) -> std::optional<std::int64_t> {
        const auto it = m.find(key);
        if (it == m.end()) return std::nullopt;
        return it->second;
    });
    s.bind("scale", [](point p, double f) { return point{p.x * f, p.y * f, p.label + "*"}; });
    s.bind("fail", [](std::string why) -> std::int64_t { throw std::runtime_error(why); });
    s.bind("nothing", [] {});
    s.bind("big", [](std::uint32_t n) { return std::string(n, 'b'); });
}

}  // namespace ipckit_test
