#pragma once
// The public verbs of an endpoint of variable-size messages (bytes<Max>), as mixins over the one
// primitive each kind implements, so that every kind that carries bytes<Max> - byte ring or
// slots, queue or mailbox - offers the same verbs with the same meaning. Loans and views are
// the kinds' own types, in the one shape every loan and view has (data(), size(), commit /
// release; detail/queue/lending.hpp).

#include <ipckit/detail/endpoint/verbs.hpp>
#include <ipckit/detail/sys/exception_errc.hpp>
#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace ipckit::detail {

/// The characters of `s` as the bytes a send of bytes<Max> passes on (no terminating zero).
inline std::span<const std::byte> as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// The public send verbs of a sender of bytes<Max>, whose longest message is MaxMessage (Max, or
/// less where the ring is smaller), on top of the one primitive its kind implements (and
/// befriends this mixin for):
///
///     errc Derived::send_until(std::span<const std::byte> m, clock::time_point deadline) noexcept
///
/// as send_verbs' (detail/endpoint/verbs.hpp); m is never longer than MaxMessage there.
///
///     status send(std::span<const std::byte> m)        no deadline (blocking) or one attempt
///     status send(std::span<const std::byte> m, D d)   blocking only
///     status send(std::string_view s [, D d])           the characters of s, without a terminating zero
///
/// A message longer than MaxMessage is too_large at once, in either mode, with nothing sent.
template <class Derived, std::size_t MaxMessage, mode_policy Mode>
class bytes_send_verbs {
public:
    status send(std::span<const std::byte> m) noexcept { return send_until(m, clock::time_point::max()); }
    template <deadline D>
    status send(std::span<const std::byte> m, D deadline) noexcept {
        return send_until(m, blocking_deadline<Mode>(deadline));
    }
    status send(std::string_view s) noexcept { return send(as_bytes(s)); }
    template <deadline D>
    status send(std::string_view s, D deadline) noexcept {
        return send(as_bytes(s), deadline);
    }

private:
    status send_until(std::span<const std::byte> m, clock::time_point deadline) noexcept {
        if (m.size() > MaxMessage) return unexpected(errc::too_large);
        return to_status(static_cast<Derived&>(*this).send_until(m, deadline));
    }
};

/// The public receive verbs of a receiver of bytes<Max>, on top of the one primitive its kind
/// implements (and befriends this mixin for):
///
///     template <class Take>
///     errc Derived::receive_until(Take& take, clock::time_point deadline) noexcept
///
/// which waits, as that kind waits until `deadline`, for the next message and calls
/// take(std::span<const std::byte> message) on it in place. take returns ok when it has taken
/// the message (the primitive then lets it go: received); anything else leaves the message the
/// next one this receiver gets, and the primitive returns what take returned.
///
///     result<std::size_t> receive(std::span<std::byte> buffer [, D d])
///         the next message into `buffer`, and its length. A buffer too small for it: too_large,
///         and the message stays the next one, so that a bigger buffer can take it.
///     result<std::vector<std::byte>> receive([D d])
///         the next message in a vector of its size; never too_large. no_space if the vector
///         cannot be allocated (the message then stays the next one).
template <class Derived, mode_policy Mode>
class bytes_receive_verbs {
public:
    result<std::size_t> receive(std::span<std::byte> buffer) noexcept {
        return into(buffer, clock::time_point::max());
    }
    template <deadline D>
    result<std::size_t> receive(std::span<std::byte> buffer, D deadline) noexcept {
        return into(buffer, blocking_deadline<Mode>(deadline));
    }
    result<std::vector<std::byte>> receive() noexcept { return to_vector(clock::time_point::max()); }
    template <deadline D>
    result<std::vector<std::byte>> receive(D deadline) noexcept {
        return to_vector(blocking_deadline<Mode>(deadline));
    }

private:
    result<std::size_t> into(std::span<std::byte> buffer, clock::time_point deadline) noexcept {
        std::size_t n = 0;
        auto take = [buffer, &n](std::span<const std::byte> m) noexcept {
            if (m.size() > buffer.size()) return errc::too_large;
            if (!m.empty()) std::memcpy(buffer.data(), m.data(), m.size());
            n = m.size();
            return errc::ok;
        };
        const errc e = static_cast<Derived&>(*this).receive_until(take, deadline);
        if (e != errc::ok) return unexpected(e);
        return n;
    }

    result<std::vector<std::byte>> to_vector(clock::time_point deadline) noexcept {
        std::vector<std::byte> out;
        auto take = [&out](std::span<const std::byte> m) noexcept {
            try {
                out.resize(m.size());
            } catch (...) {  // std::bad_alloc, std::length_error: no_space
                return current_exception_errc();
            }
            if (!m.empty()) std::memcpy(out.data(), m.data(), m.size());
            return errc::ok;
        };
        const errc e = static_cast<Derived&>(*this).receive_until(take, deadline);
        if (e != errc::ok) return unexpected(e);
        return out;
    }
};

}  // namespace ipckit::detail
