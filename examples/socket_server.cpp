// socket_server: listens on an address and echoes every message back to the client that sent
// it, for any number of clients at once (a thread each), over tcp, unix or shm alike.
//
//   socket_server --listen tcp://127.0.0.1:0        prints "listening on tcp://127.0.0.1:40123"
//   socket_server --listen unix:///tmp/echo.sock --clients 2
//
// With --clients N it ends after serving N clients, with 0 if each of them closed in order
// (and 1 if one ended otherwise: peer_dead, corrupt...); without, it serves until killed.

#include "socket_common.hpp"

#include <cstddef>
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

const char* const usage =
    "usage: socket_server --listen ADDRESS [--clients N]\n"
    "  --listen ADDRESS  tcp://HOST:PORT (port 0: the system picks one), unix:///path, unix://@name or shm://name\n"
    "  --clients N       end after N clients (default: serve until killed)\n";

/// Echoes what `c` sends until it ends; whether it ended with an orderly close.
bool echo(ipckit::connection<example::socket_message> c, std::size_t client) {
    std::vector<std::byte> buffer(example::socket_max);
    std::size_t echoed = 0;
    for (;;) {
        const auto n = c.receive(std::span(buffer));
        if (!n) {
            const bool orderly = n.error() == ipckit::errc::closed;
            std::printf("client %zu: echoed %zu messages, then %s%s%s\n", client, echoed,
                        ipckit::make_error_code(n.error()).message().c_str(), orderly ? "" : ": ", c.fault().c_str());
            return orderly;
        }
        if (const auto s = c.send(std::span<const std::byte>(buffer.data(), *n)); !s) {
            std::printf("client %zu: echoed %zu messages, then a send failed: %s\n", client, echoed,
                        ipckit::make_error_code(s.error()).message().c_str());
            return false;
        }
        ++echoed;
    }
}

}  // namespace

int main(int argc, char** argv) try {
    example::check_usage(argc, argv, "--listen", usage);
    const std::string address = *example::flag(argc, argv, "--listen");
    const std::size_t clients = example::number_flag(argc, argv, "--clients", 0, 1, 1'000'000);

    auto srv = ipckit::listener<example::socket_message>::bind(address);
    std::printf("listening on %s\n", srv.address().c_str());
    std::fflush(stdout);

    std::vector<std::thread> served;
    std::vector<char> orderly;  // per client (not vector<bool>: each thread writes its own)
    orderly.reserve(clients);
    for (std::size_t n = 0; clients == 0 || n < clients; ++n) {
        auto c = srv.accept();
        if (!c) {
            std::fprintf(stderr, "accept on %s failed: %s\n", srv.address().c_str(),
                         ipckit::make_error_code(c.error()).message().c_str());
            break;
        }
        if (clients == 0) {
            std::thread(echo, std::move(*c), n).detach();
        } else {
            orderly.push_back(0);
            served.emplace_back([&orderly, n, conn = std::move(*c)]() mutable { orderly[n] = echo(std::move(conn), n); });
        }
    }
    for (auto& t : served) t.join();
    for (const char ok : orderly)
        if (!ok) return 1;
    return orderly.size() == clients ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "socket_server: %s\n", e.what());
    return 1;
}
