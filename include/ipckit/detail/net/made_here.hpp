#pragma once
// What a forked child does with the listeners, connections, waitsets and rpc servers and
// clients it inherited: nothing. Their sockets are the parent's streams (a close frame written
// from the child would end the parent's connection), their registrations live in the parent's
// epoll instances, which a fork shares (an Asio socket or descriptor destroyed in the child, or a
// waitset's removal of a socket, would unhook the parent's), their threads (the I/O thread, a
// waitset's bell bridge, an rpc server's or client's) are not in the child, where joining one
// would wait forever, and a server's name in a domain or at a binder is the parent's to give
// up. So closing or destroying one in a process other than its maker forgets it, running none
// of its code: the child leaks what it copied, the parent keeps all. Using one there (a send, a
// receive, an accept, a wait, a call) is not supported.

#include <ipckit/detail/sys/process.hpp>

#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

/// The process that made a listener, connection, waitset, rpc server or client: its close and
/// destructor act there only.
class made_here {
public:
    /// Whether this process made it (false in a forked child).
    [[nodiscard]] bool here() const noexcept { return maker_ == sys::this_pid(); }

private:
    std::uint32_t maker_ = sys::this_pid();
};

/// Lets go of `x` without destroying what it holds: `x` is moved into storage that is never
/// destroyed, so what it owned (a shared count, a thread, an allocation, a registration) is
/// never released in this process, and `x` is left empty. For a forked child's copies of its
/// parent's.
template <class T>
    requires std::is_nothrow_move_constructible_v<T>
void forget(T& x) noexcept {
    alignas(T) unsigned char never_destroyed[sizeof(T)];
    ::new (static_cast<void*>(never_destroyed)) T(std::move(x));
}

}  // namespace ipckit::detail
