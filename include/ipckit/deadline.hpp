#pragma once
// What a blocking verb takes last: a deadline, as a steady_clock time point or a timeout.
//
//   tx.send(m, 100ms);                                   // a timeout: now + 100 ms
//   rx.receive(std::chrono::steady_clock::now() + 1s);   // a deadline
//
// Only blocking endpoints take one (on a non_blocking endpoint it does not compile: it returns
// at once, so a deadline would mean nothing). Deadlines are absolute on the monotonic clock, so
// a change of the wall clock moves none; a huge timeout means no deadline.

#include <algorithm>
#include <chrono>
#include <type_traits>

namespace ipckit {

/// The clock every deadline is on.
using deadline_clock = std::chrono::steady_clock;

namespace detail {
template <class D>
inline constexpr bool is_deadline_v = std::is_same_v<D, deadline_clock::time_point>;
template <class Rep, class Period>
inline constexpr bool is_deadline_v<std::chrono::duration<Rep, Period>> = true;
}  // namespace detail

/// A steady_clock time point or a std::chrono::duration: what the blocking verbs take last.
template <class D>
concept deadline = detail::is_deadline_v<std::remove_cvref_t<D>>;

namespace detail {

/// The deadline of a verb given a relative timeout: a huge timeout means none, one of zero or
/// less (or NaN) now. Compared in double seconds first, so that no timeout overflows the clock's
/// nanoseconds (milliseconds::max() and min() would).
template <class Rep, class Period>
deadline_clock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout) noexcept {
    const auto now = deadline_clock::now();
    using seconds = std::chrono::duration<double>;
    if (!(seconds(timeout) > seconds::zero())) return now;
    if (seconds(timeout) >= seconds(deadline_clock::time_point::max() - now)) return deadline_clock::time_point::max();
    return now + std::chrono::duration_cast<deadline_clock::duration>(timeout);
}

/// A verb's deadline as a steady_clock time point: as given, or now + the timeout. The one place
/// every verb that takes a deadline turns it into what detail::wait_until takes. A clock read for
/// a timeout; none for a time point.
template <deadline D>
deadline_clock::time_point time_point_of(D d) noexcept {
    if constexpr (std::is_same_v<std::remove_cvref_t<D>, deadline_clock::time_point>)
        return d;
    else
        return deadline_after(d);
}

/// A liveness interval (options::liveness_interval, net_options::liveness_interval) as ipckit
/// uses it: within 1 ms and 1 h, so that an interval of zero does not make every peer dead and
/// one of milliseconds::max() does not overflow the clock where it is added to a time.
inline std::chrono::milliseconds usable_liveness(std::chrono::milliseconds interval) noexcept {
    return std::clamp(interval, std::chrono::milliseconds(1), std::chrono::milliseconds(3'600'000));
}

}  // namespace detail
}  // namespace ipckit
