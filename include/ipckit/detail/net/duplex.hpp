#pragma once
// What a connection needs of its transport, whichever it is: a socket's link (link.hpp) or a
// pair of shared-memory queues (shm_duplex.hpp). One virtual call per verb, beside a system
// call (sockets) or a queue operation (shm).

#include <ipckit/error.hpp>

#include <chrono>
#include <cstddef>
#include <span>
#include <string>

namespace ipckit::detail {

/// A callable `errc(const std::byte*, std::size_t)` by reference, without allocating: what a
/// receive hands each message to. It returns ok to consume the message, or an errc (e.g.
/// too_large) to leave it first in line.
class take_fn {
public:
    template <class F>
    explicit take_fn(F& f) noexcept
        : ctx_(&f), call_([](void* c, const std::byte* p, std::size_t n) { return (*static_cast<F*>(c))(p, n); }) {}
    errc operator()(const std::byte* p, std::size_t n) const { return call_(ctx_, p, n); }

private:
    void* ctx_;
    errc (*call_)(void*, const std::byte*, std::size_t);
};

/// The messages of a batch send, by reference, without allocating: `size()` of them, the i-th
/// the bytes a callable `std::span<const std::byte>(std::size_t i)` returns (asked for in order,
/// an index perhaps more than once, never one below the last asked for).
class batch_fn {
public:
    template <class F>
    batch_fn(F& f, std::size_t count) noexcept
        : ctx_(&f), count_(count),
          call_([](void* c, std::size_t i) -> std::span<const std::byte> { return (*static_cast<F*>(c))(i); }) {}
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    std::span<const std::byte> operator()(std::size_t i) const { return call_(ctx_, i); }

private:
    void* ctx_;
    std::size_t count_;
    std::span<const std::byte> (*call_)(void*, std::size_t);
};

class duplex {
public:
    using time_point = std::chrono::steady_clock::time_point;

    virtual ~duplex() = default;
    /// Sends `n` bytes at `p` as one message; `may_block` false: one attempt (would_block).
    virtual errc send(const void* p, std::size_t n, time_point deadline, bool may_block) noexcept = 0;
    /// Sends the messages of `ms` in order, counting in `sent` those sent: ok once all are, else
    /// why it stopped (would_block: not `may_block`, and the rest did not fit now; timed_out...).
    /// The caller checked their lengths against max_message().
    virtual errc send(batch_fn ms, std::size_t& sent, time_point deadline, bool may_block) noexcept = 0;
    /// Hands the next message to `take`, waiting until `deadline` if `may_block`; then, up to
    /// `max` in all, each next one already here, until `take` refuses one (which stays first).
    /// ok once one was taken, else why none (a refusal's errc).
    virtual errc receive(take_fn take, std::size_t max, time_point deadline, bool may_block) noexcept = 0;
    /// Writes what sends buffered and waits (if `may_block`, until `deadline`) until the
    /// transport holds all of it: ok, would_block / timed_out, or how the connection ended.
    virtual errc flush(time_point deadline, bool may_block) noexcept = 0;
    /// Orderly close, waiting until `deadline` for what was sent to be on its way.
    virtual void close(time_point deadline) noexcept = 0;
    /// Why the connection ended, in words; empty while open or after an orderly close.
    [[nodiscard]] virtual std::string fault() const = 0;
    /// The longest message this connection carries.
    [[nodiscard]] virtual std::size_t max_message() const noexcept = 0;

protected:
    duplex() = default;
    duplex(const duplex&) = default;
    duplex& operator=(const duplex&) = default;
};

}  // namespace ipckit::detail
