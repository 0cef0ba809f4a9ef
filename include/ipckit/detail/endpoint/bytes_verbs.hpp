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
#include <ipckit/records.hpp>

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

/// The public batch send verbs of a sender of bytes<Max>, beside bytes_send_verbs (a kind names
/// both, with a using-declaration of each send), as send_batch_verbs are beside send_verbs for
/// fixed-size messages (detail/endpoint/verbs.hpp), on top of the one primitive its kind
/// implements (and befriends this mixin for):
///
///     template <class It>
///     errc Derived::send_batch_until(It& next, It end, std::size_t& sent,
///                                    clock::time_point deadline) noexcept
///
/// sends the messages from `next` to `end` (each a std::span<const std::byte> of at most
/// MaxMessage bytes, and at least one), in order, moving `next` past each one sent and counting
/// it in `sent`: blocking, waiting for room until all are sent (ok) or the deadline passes or
/// the other side ends (why it stopped); non-blocking, as many as fit now (would_block where not
/// all did). It wakes the receivers at most once per attempt.
///
///     result<std::size_t> send(std::span<const std::span<const std::byte>> ms [, D deadline])
///     result<std::size_t> send(const ipckit::records& rs [, D deadline])
///
/// return how many were sent, the first that many, in order, where that is one or more (fewer
/// than all only when the deadline passed, the other side ended, or, non-blocking, the queue
/// filled: the next send says why); 0 at once for an empty batch; else why none was
/// (timed_out, would_block, closed, peer_dead, in_use...). A message longer than MaxMessage
/// anywhere in the batch: too_large at once, in either mode, with nothing sent.
template <class Derived, std::size_t MaxMessage, mode_policy Mode>
class bytes_send_batch_verbs {
public:
    result<std::size_t> send(std::span<const std::span<const std::byte>> ms) noexcept {
        return until(ms.begin(), ms.end(), clock::time_point::max());
    }
    template <deadline D>
    result<std::size_t> send(std::span<const std::span<const std::byte>> ms, D deadline) noexcept {
        return until(ms.begin(), ms.end(), blocking_deadline<Mode>(deadline));
    }
    result<std::size_t> send(const records& rs) noexcept { return until(rs.begin(), rs.end(), clock::time_point::max()); }
    template <deadline D>
    result<std::size_t> send(const records& rs, D deadline) noexcept {
        return until(rs.begin(), rs.end(), blocking_deadline<Mode>(deadline));
    }

private:
    template <class It>
    result<std::size_t> until(It begin, It end, clock::time_point deadline) noexcept {
        // Every length first: one message that can never fit fails the batch before any is sent.
        for (It i = begin; i != end; ++i)
            if ((*i).size() > MaxMessage) return unexpected(errc::too_large);
        if (begin == end) return std::size_t{0};
        std::size_t sent = 0;
        const errc e = static_cast<Derived&>(*this).send_batch_until(begin, end, sent, deadline);
        return batch_result(e, sent);
    }
};

/// The public batch receive verb of a receiver of bytes<Max>, beside bytes_receive_verbs (a
/// kind names both, with a using-declaration of each receive), on top of:
///
///     template <class Take>
///     errc Derived::receive_batch_until(Take& take, std::size_t& got,
///                                       clock::time_point deadline) noexcept
///
/// which waits, as that kind waits until `deadline`, for at least one message, and then calls
/// take(std::span<const std::byte> message) on each message there now, oldest first, in place,
/// counting in `got` those take returned ok for, until one take refuses (that message stays the
/// next one this receiver gets) or none is left; it lets the messages taken go, and wakes the
/// senders, once. It returns ok where got > 0, else why none (what take returned for the first).
///
///     result<std::size_t> receive(ipckit::records& out [, D deadline])
///
/// replaces what `out` held with the oldest messages, as many as are there now and fit in its
/// storage, at least one (blocking: waits for one), and returns how many. The first that does
/// not fit stays the next message, for a later receive with room; if not even the first fits:
/// too_large, nothing taken. Else why none (timed_out, would_block, closed, peer_dead, in_use...).
template <class Derived, mode_policy Mode>
class bytes_receive_batch_verbs {
public:
    result<std::size_t> receive(records& out) noexcept { return until(out, clock::time_point::max()); }
    template <deadline D>
    result<std::size_t> receive(records& out, D deadline) noexcept {
        return until(out, blocking_deadline<Mode>(deadline));
    }

private:
    result<std::size_t> until(records& out, clock::time_point deadline) noexcept {
        out.clear();
        auto take = [&out](std::span<const std::byte> m) noexcept {
            return out.push_back(m) ? errc::ok : errc::too_large;
        };
        std::size_t got = 0;
        const errc e = static_cast<Derived&>(*this).receive_batch_until(take, got, deadline);
        return batch_result(e, got);
    }
};

/// The public verb of a sender of bytes<Max> that lends room for several messages at once, to
/// write in place and send together, beside loan_verbs, over the one primitive its kind
/// implements (and befriends this mixin for):
///
///     result<records_loan_type> Derived::lend_records_until(std::size_t budget,
///                                                           clock::time_point deadline) noexcept
///
/// which lends up to `budget` bytes of room at once, waiting (or failing) as a loan of one
/// message does. What the least lent is, and what bad budgets return, is said where each kind
/// names this mixin.
///
///     loan_records(budget)               no deadline (blocking) or one attempt
///     loan_records(budget, D deadline)   blocking only
template <class Derived, mode_policy Mode>
class bytes_loan_records_verbs {
public:
    auto loan_records(std::size_t budget) noexcept {
        return derived().lend_records_until(budget, clock::time_point::max());
    }
    template <deadline D>
    auto loan_records(std::size_t budget, D deadline) noexcept {
        return derived().lend_records_until(budget, blocking_deadline<Mode>(deadline));
    }

private:
    Derived& derived() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace ipckit::detail
