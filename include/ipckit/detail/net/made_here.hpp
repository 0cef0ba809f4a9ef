#pragma once
// What a forked child does with the listeners and connections it inherited: nothing. Their
// sockets are the parent's streams (a close frame written from the child would end the parent's
// connection), their registrations live in the parent's epoll instance, which a fork shares (an
// Asio socket destroyed in the child would unhook the parent's), and their I/O thread is not in
// the child (io_thread.hpp). So closing or destroying one in a process other than its maker
// forgets it, running none of its code: the child leaks what it copied, the parent keeps all.
// Using one there (a send, a receive, an accept) is not supported.

#include <ipckit/detail/sys/process.hpp>

#include <cstdint>
#include <memory>
#include <new>
#include <utility>

namespace ipckit::detail {

/// The process that made a listener or connection: its close runs there only.
class made_here {
public:
    /// Whether this process made it (false in a forked child).
    [[nodiscard]] bool here() const noexcept { return maker_ == sys::this_pid(); }

private:
    std::uint32_t maker_ = sys::this_pid();
};

/// Lets go of `p` without releasing what it owns: its count never falls to zero in this
/// process, so its destructor never runs here. For a forked child's copy of its parent's.
template <class T>
void forget(std::shared_ptr<T>& p) noexcept {
    alignas(std::shared_ptr<T>) unsigned char never_destroyed[sizeof(std::shared_ptr<T>)];
    ::new (static_cast<void*>(never_destroyed)) std::shared_ptr<T>(std::move(p));
}

}  // namespace ipckit::detail
