#pragma once
// The public verbs of an endpoint of fixed-size messages, as mixins over the one primitive each
// kind implements (send_until, receive_until): send, receive, with and without a deadline, and
// what a verb's errc becomes in its status. A non_blocking endpoint's verbs take no deadline
// (that does not compile, with the reason).

#include <ipckit/detail/sync/doorbell.hpp>  // detail::clock
#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <concepts>
#include <cstddef>
#include <span>

namespace ipckit::detail {

/// As time_point_of, for a verb of an endpoint in `Mode`: a deadline given to a non_blocking
/// endpoint does not compile, with the reason.
template <mode_policy Mode, deadline D>
clock::time_point blocking_deadline(D d) noexcept {
    static_assert(std::same_as<Mode, blocking>,
                  "a non_blocking endpoint returns at once, so a deadline means nothing: use a blocking endpoint");
    return time_point_of(d);
}

template <class>
inline constexpr bool always_false = false;

inline status to_status(errc e) noexcept { return e == errc::ok ? status{} : status{unexpected(e)}; }

/// The public send verbs of a sender of fixed-size messages `T`, on top of the one primitive
/// its kind implements (and befriends this mixin for):
///
///     errc Derived::send_until(const T& m, clock::time_point deadline) noexcept
///
/// Blocking endpoint: sends m, waiting as that kind waits until `deadline` (time_point::max():
/// no deadline), and returns ok or why not (timed_out once the deadline has passed). Non-blocking
/// endpoint: one attempt, would_block where a blocking one would wait; `deadline` is then always
/// time_point::max() and means nothing. The verbs below read no clock unless given a timeout,
/// and a non_blocking endpoint's verbs take none (that does not compile), so its send stays free
/// of clock reads and system calls as far as its primitive is.
///
///     status send(const T& m)               no deadline (blocking) or one attempt
///     status send(const T& m, D deadline)   blocking only: a steady_clock time point or a duration
///
/// What each returns is said where each kind names this mixin.
template <class Derived, class T, mode_policy Mode>
class send_verbs {
public:
    status send(const T& m) noexcept { return to_status(derived().send_until(m, clock::time_point::max())); }
    template <deadline D>
    status send(const T& m, D deadline) noexcept {
        return to_status(derived().send_until(m, blocking_deadline<Mode>(deadline)));
    }

private:
    Derived& derived() noexcept { return static_cast<Derived&>(*this); }
};

/// The public receive verbs of a receiver of fixed-size messages `T`, on top of the one
/// primitive its kind implements (and befriends this mixin for):
///
///     errc Derived::receive_until(T& out, clock::time_point deadline) noexcept
///
/// Blocking endpoint: writes the next message into `out`, waiting as that kind waits until
/// `deadline` (time_point::max(): no deadline), and returns ok or why not (timed_out once the
/// deadline has passed); `out` is written only on ok. Non-blocking endpoint: one attempt,
/// would_block where a blocking one would wait; `deadline` is then always time_point::max()
/// and means nothing. No clock read here but for a timeout, which a non_blocking endpoint's
/// verbs do not take (that does not compile).
///
///     result<T> receive()                    the message, or why not
///     result<T> receive(D deadline)          blocking only: a steady_clock time point or a duration
///     status receive(T& out)                 into `out` (no copy through a result; for large messages)
///     status receive(T& out, D deadline)     blocking only
///
/// What each returns is said where each kind names this mixin.
template <class Derived, class T, mode_policy Mode>
class receive_verbs {
public:
    result<T> receive() noexcept { return as_result(clock::time_point::max()); }
    template <deadline D>
    result<T> receive(D deadline) noexcept {
        return as_result(blocking_deadline<Mode>(deadline));
    }
    status receive(T& out) noexcept { return to_status(derived().receive_until(out, clock::time_point::max())); }
    template <deadline D>
    status receive(T& out, D deadline) noexcept {
        return to_status(derived().receive_until(out, blocking_deadline<Mode>(deadline)));
    }

private:
    Derived& derived() noexcept { return static_cast<Derived&>(*this); }

    result<T> as_result(clock::time_point deadline) noexcept {
        T out;
        const errc e = derived().receive_until(out, deadline);
        if (e != errc::ok) return unexpected(e);
        return out;
    }
};

/// What a batch verb returns, from its primitive's errc and count: how many, where any (or the
/// batch was empty: 0); else why none.
inline result<std::size_t> batch_result(errc e, std::size_t n) noexcept {
    if (n > 0 || e == errc::ok) return n;
    return unexpected(e);
}

/// The public batch send verbs of a sender of fixed-size messages `T`, beside send_verbs (a kind
/// names both, with a using-declaration of each send), on top of the one primitive its kind
/// implements (and befriends this mixin for):
///
///     errc Derived::send_batch_until(std::span<const T> ms, std::size_t& sent,
///                                    clock::time_point deadline) noexcept
///
/// sends the messages of `ms` in order, counting those sent in `sent`: blocking, waiting for
/// room until all are sent (ok) or the deadline passes or the other side ends (why it stopped);
/// non-blocking, as many as fit now (would_block where not all did).
///
///     result<std::size_t> send(std::span<const T> ms)               no deadline, or one attempt
///     result<std::size_t> send(std::span<const T> ms, D deadline)   blocking only
///
/// return how many of ms were sent, the first that many, in order, where that is one or more
/// (fewer than ms.size() only when the deadline passed, the other side ended, or, non-blocking,
/// the queue filled: the next send says why); 0 at once for an empty span; else why none was
/// (timed_out, would_block, closed, peer_dead, in_use...).
template <class Derived, class T, mode_policy Mode>
class send_batch_verbs {
public:
    result<std::size_t> send(std::span<const T> ms) noexcept { return until(ms, clock::time_point::max()); }
    template <deadline D>
    result<std::size_t> send(std::span<const T> ms, D deadline) noexcept {
        return until(ms, blocking_deadline<Mode>(deadline));
    }

private:
    result<std::size_t> until(std::span<const T> ms, clock::time_point deadline) noexcept {
        std::size_t sent = 0;
        const errc e = static_cast<Derived&>(*this).send_batch_until(ms, sent, deadline);
        return batch_result(e, sent);
    }
};

/// The public batch receive verbs of a receiver of fixed-size messages `T`, beside
/// receive_verbs (a kind names both, with a using-declaration of each receive), on top of:
///
///     errc Derived::receive_batch_until(std::span<T> out, std::size_t& got,
///                                       clock::time_point deadline) noexcept
///
/// takes up to out.size() of the oldest messages into out's first `got` elements: blocking,
/// waiting until at least one is there (or the deadline, or the other side's end); non-blocking,
/// one attempt.
///
///     result<std::size_t> receive(std::span<T> out)               no deadline, or one attempt
///     result<std::size_t> receive(std::span<T> out, D deadline)   blocking only
///
/// return how many were taken (out's first that many, in order), one or more; 0 at once for an
/// empty span; else why none (timed_out, would_block, closed, peer_dead, in_use...).
template <class Derived, class T, mode_policy Mode>
class receive_batch_verbs {
public:
    result<std::size_t> receive(std::span<T> out) noexcept { return until(out, clock::time_point::max()); }
    template <deadline D>
    result<std::size_t> receive(std::span<T> out, D deadline) noexcept {
        return until(out, blocking_deadline<Mode>(deadline));
    }

private:
    result<std::size_t> until(std::span<T> out, clock::time_point deadline) noexcept {
        std::size_t got = 0;
        const errc e = static_cast<Derived&>(*this).receive_batch_until(out, got, deadline);
        return batch_result(e, got);
    }
};

}  // namespace ipckit::detail
