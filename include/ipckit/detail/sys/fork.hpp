#pragma once
// Handlers around fork(2), for state that a fork would copy half-made or that the child must
// start afresh (the socket transports' I/O thread: detail/net/io_thread.hpp).

#include <pthread.h>

namespace ipckit::detail::sys {

/// Registers handlers that run at every fork of this process (pthread_atfork(3)): `prepare` in
/// the forking thread before the fork, `parent` and `child` after it, each in its process. They
/// stay for the life of the process. Returns false if they could not be registered (ENOMEM).
inline bool on_fork(void (*prepare)(), void (*parent)(), void (*child)()) noexcept {
    return ::pthread_atfork(prepare, parent, child) == 0;
}

}  // namespace ipckit::detail::sys
