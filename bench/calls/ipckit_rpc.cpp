// The ipckit rows of --rpc: ipckit::rpc over shm://, unix:// and tcp://, default server_options
// (4 handler threads) and client_options, as a user gets them. The server binds "echo", which
// returns its one argument, a byte blob (MessagePack bin); the client starts each call with
// async_call and waits on its future. Part of ipckit_bench (bench/CMakeLists.txt: built when
// msgpack-cxx is found).

#include "../calls.hpp"
#include "../net_mechanisms.hpp"

#include <ipckit/rpc.hpp>

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bench {
namespace {

using blob = std::vector<unsigned char>;

template <call_over Over>
struct ipckit_rpc {
    static std::string describe() {
        const char* over = Over == call_over::shm ? "shm://name" : Over == call_over::unix_socket ? "unix://@name" : "tcp://127.0.0.1:port";
        return std::string("ipckit::rpc over ") + over +
               ": call echo(bin) -> bin, async_call and its future, default server_options (4 handler threads)";
    }
    static std::string unsupported(std::size_t, bool many_producers, bool many_consumers) {
        return many_producers || many_consumers ? "n/a (one client, one server)" : "";
    }
    static std::string make_address() {
        switch (Over) {
        case call_over::shm: return "shm://" + unique_name();
        case call_over::unix_socket: return "unix://@" + unique_name();
        case call_over::tcp: return "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
        }
        return "";
    }

    class server {
    public:
        explicit server(const std::string& address) : srv_(address) {
            srv_.bind("echo", [](blob b) { return b; });
            srv_.bind("end", [this] {
                {
                    std::lock_guard lock(m_);
                    ended_ = true;
                }
                cv_.notify_all();
            });
            srv_.start();
        }
        void wait_for_end() {
            std::unique_lock lock(m_);
            cv_.wait(lock, [&] { return ended_; });
        }

    private:
        std::mutex m_;
        std::condition_variable cv_;
        bool ended_ = false;
        ipckit::rpc::server srv_;  // last: stopped (its handler threads joined) before the above go
    };

    class client {
    public:
        explicit client(const std::string& address) : c_(address) {}
        template <std::size_t S>
        void begin(unsigned slot, const message<S>& m) {
            const auto* p = reinterpret_cast<const unsigned char*>(m.bytes);
            calls_[slot] = c_.async_call<blob>("echo", blob(p, p + S));
        }
        template <std::size_t S>
        void finish(unsigned slot, message<S>& back) {
            auto r = calls_[slot].get();
            if (!r) fail("echo: " + std::string(ipckit::rpc::to_string(r.error().code)) + ": " + r.error().message);
            if (r->size() != S) fail("echo returned " + std::to_string(r->size()) + " bytes, sent " + std::to_string(S));
            std::memcpy(back.bytes, r->data(), S);
        }
        /// A notification: the server process ends once it ran, so a reply could be cut off.
        void end() {
            if (auto r = c_.notify("end"); !r)
                fail("end: " + std::string(ipckit::rpc::to_string(r.error().code)) + ": " + r.error().message);
        }

    private:
        ipckit::rpc::client c_;
        std::array<std::future<ipckit::rpc::result<blob>>, max_in_flight> calls_;
    };
};

}  // namespace

std::vector<mechanism_entry> ipckit_rpc_rows() {
    return {call_entry<ipckit_rpc<call_over::shm>>("ipckit-rpc-shm", family::ipckit, "ipckit-conn-shm"),
            call_entry<ipckit_rpc<call_over::unix_socket>>("ipckit-rpc-unix", family::ipckit, "ipckit-conn-unix"),
            call_entry<ipckit_rpc<call_over::tcp>>("ipckit-rpc-tcp", family::ipckit, "ipckit-conn-tcp")};
}

}  // namespace bench
