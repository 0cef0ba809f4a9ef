// ipckit binder --listen ADDRESS [--max-names N]
//
// Runs a binder (include/ipckit/detail/rpc/binder.hpp): rpc servers register their names and
// real addresses there (rpc::server::at_binder), clients look them up (rpc::client::at_binder).
// Prints "ipckit binder: listening on ADDRESS" (tcp port 0: the real port) and a line for each
// registration and removal, and serves until SIGINT or SIGTERM, then exits with 0.

#include "commands.hpp"

#include <ipckit/rpc.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <pthread.h>

namespace ipckit_tool {

int run_binder(const binder_settings& s) {
    // Blocked before the binder's threads start, so that they inherit the mask and sigwait
    // below takes the signals.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    ipckit::rpc::binder_options o;
    o.max_names = s.max_names;
    // What it logs names what servers registered: printable, as every name the tool writes.
    o.log = [](const std::string& what) { std::cout << "ipckit binder: " << printable(what) << std::endl; };
    try {
        ipckit::rpc::binder b(s.listen, o);
        b.start();
        std::cout << "ipckit binder: listening on " << b.address() << std::endl;
        int got = 0;
        sigwait(&stop_signals, &got);
        std::cout << "ipckit binder: stopping on signal " << got << std::endl;
        b.stop();
    } catch (const ipckit::error& e) {
        complain("binder", e.what());
        return exit_failed;
    }
    return exit_ok;
}

}  // namespace ipckit_tool
