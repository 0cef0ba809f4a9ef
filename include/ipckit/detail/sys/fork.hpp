#pragma once
// Handlers around fork(2), for state that a fork would copy half-made or that the child must
// start afresh (the socket transports' I/O thread: detail/net/io_thread.hpp), and a count of
// forks for what must tell its own process from a child's copy of it on a data path.

#include <pthread.h>

#include <atomic>
#include <cstdint>

namespace ipckit::detail::sys {

/// Registers handlers that run at every fork of this process (pthread_atfork(3)): `prepare` in
/// the forking thread before the fork, `parent` and `child` after it, each in its process. They
/// stay for the life of the process. Returns false if they could not be registered (ENOMEM).
inline bool on_fork(void (*prepare)(), void (*parent)(), void (*child)()) noexcept {
    return ::pthread_atfork(prepare, parent, child) == 0;
}

/// How many forks lie between the process that first called this and the caller: 0 there, 1
/// in a child it forked, 2 in that child's child. For "was this made in my parent, before the
/// fork?" where getpid(2), a system call, would cost too much (a loan or view, made and ended
/// per message): a relaxed load. Counting starts at the first call, so what asks must have
/// called it before it can be copied by a fork (a loan asks as it is made). Where the handler
/// could not be registered (ENOMEM), it stays 0 in every process.
inline std::uint32_t fork_generation() noexcept {
    static std::atomic<std::uint32_t> generation{0};
    static const bool counting =
        on_fork(nullptr, nullptr, [] { generation.fetch_add(1, std::memory_order_relaxed); });
    (void)counting;
    return generation.load(std::memory_order_relaxed);
}

}  // namespace ipckit::detail::sys
