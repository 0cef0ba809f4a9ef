// rpc_server: a calculator and a small key-value store, served by name over any ipckit address.
//
//   rpc_server --listen ADDRESS           e.g. tcp://127.0.0.1:7600, unix:///tmp/calc.sock, shm://calc
//   rpc_server --domain NAME --name ME    found by rpc_client --domain NAME --name ME (this machine)
//   rpc_server --listen ADDRESS --binder BINDER --name ME
//                                         registers ME at the binder (ipckit binder --listen BINDER)
//                                         with the real address (port 0 allowed), found by
//                                         rpc_client --binder BINDER --name ME (any machine)
//
// Methods: add, sub, mul, div (int64; div by zero is a remote error), tally(token) -> how many
// times that token was seen (rpc_client checks that each of its calls ran once), put(key, value),
// get(key) -> optional value (idempotent), del(key). Serves until SIGINT (Ctrl-C) or SIGTERM,
// then stops cleanly (a shm:// listener removes its queues).

#include <ipckit/rpc.hpp>

#include <csignal>
#include <pthread.h>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

void serve(ipckit::rpc::server& srv) {
    srv.bind("add", [](std::int64_t a, std::int64_t b) { return a + b; });
    srv.bind("sub", [](std::int64_t a, std::int64_t b) { return a - b; });
    srv.bind("mul", [](std::int64_t a, std::int64_t b) { return a * b; });
    srv.bind("div", [](std::int64_t a, std::int64_t b) {
        if (b == 0) throw std::domain_error("division by zero");
        return a / b;
    });
    static std::mutex m;
    static std::map<std::uint64_t, std::uint64_t> tallies;
    static std::map<std::string, std::string> store;
    srv.bind("tally", [](std::uint64_t token) {
        std::lock_guard lock(m);
        return ++tallies[token];
    });
    srv.bind("put", [](std::string key, std::string value) {
        std::lock_guard lock(m);
        store[key] = std::move(value);
    });
    srv.bind("get", [](const std::string& key) -> std::optional<std::string> {
        std::lock_guard lock(m);
        const auto it = store.find(key);
        if (it == store.end()) return std::nullopt;
        return it->second;
    }, ipckit::rpc::idempotent);
    srv.bind("del", [](const std::string& key) {
        std::lock_guard lock(m);
        return store.erase(key) == 1;
    });
    srv.start();
    sigset_t stop_signals;  // blocked in main() before any thread started: sigwait takes them
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    int got = 0;
    sigwait(&stop_signals, &got);
    std::printf("rpc_server: stopping on signal %d\n", got);
    srv.stop();
}

int usage() {
    std::fprintf(stderr, "usage: rpc_server --listen ADDRESS [--binder BINDER --name ME] | --domain NAME --name ME\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string listen, domain, binder, name;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view opt = argv[i];
        if (opt == "--listen") listen = argv[i + 1];
        else if (opt == "--domain") domain = argv[i + 1];
        else if (opt == "--binder") binder = argv[i + 1];
        else if (opt == "--name") name = argv[i + 1];
        else return usage();
    }
    // one of: --listen; --listen --binder --name; --domain --name
    const bool direct = !listen.empty() && binder.empty() && domain.empty() && name.empty();
    const bool by_binder = !listen.empty() && !binder.empty() && domain.empty() && !name.empty();
    const bool by_domain = listen.empty() && binder.empty() && !domain.empty() && !name.empty();
    if (argc % 2 == 0 || !(direct || by_binder || by_domain)) return usage();
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // every thread inherits the mask
    try {
        if (direct) {
            ipckit::rpc::server srv(listen);
            std::printf("rpc_server: listening on %s\n", srv.address().c_str());
            std::fflush(stdout);
            serve(srv);
        } else if (by_binder) {
            auto srv = ipckit::rpc::server::at_binder(binder, name, listen);
            std::printf("rpc_server: serving as '%s' at the binder %s (%s)\n", name.c_str(), binder.c_str(),
                        srv.address().c_str());
            std::fflush(stdout);
            serve(srv);
        } else {
            auto srv = ipckit::rpc::server::in_domain(domain, name);
            std::printf("rpc_server: serving as '%s' in domain '%s' (%s)\n", name.c_str(), domain.c_str(),
                        srv.address().c_str());
            std::fflush(stdout);
            serve(srv);
        }
    } catch (const ipckit::error& e) {
        std::fprintf(stderr, "rpc_server: %s\n", e.what());
        return 1;
    }
    return 0;
}
