#pragma once
// What the example programs print at the end, and how a test reads it back: messages received,
// lost, out of order or corrupt, and the throughput.
//
// Only ipckit's public API is used here; copy it along with the programs (common.hpp lists them).

#include "command_line.hpp"

#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace example {

/// "1234567 msg/s, 9.9 MB/s" for `messages` of `size` bytes in `seconds`.
inline std::string throughput(double messages, std::size_t size, double seconds) {
    if (seconds <= 0) return "too short to time";
    std::ostringstream out;
    out << std::fixed << std::setprecision(0) << messages / seconds << " msg/s, " << std::setprecision(1)
        << messages * static_cast<double>(size) / seconds / 1e6 << " MB/s";
    return out.str();
}
inline std::string throughput(std::uint64_t messages, std::size_t size, clock::duration elapsed) {
    return throughput(static_cast<double>(messages), size, std::chrono::duration<double>(elapsed).count());
}

inline std::string seconds(double s) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(3) << s << " s";
    return out.str();
}
inline std::string seconds(clock::duration elapsed) { return seconds(std::chrono::duration<double>(elapsed).count()); }

/// What an errc means, in words ("closed by the peer").
inline std::string describe(ipckit::errc e) { return ipckit::make_error_code(e).message(); }

/// What carried the messages of `s`, in words: the size class a fixed --size went into, the
/// capacity, the sides and the wait policy (see with_queue_type).
inline std::string carried_by(const settings& s) {
    std::string d;
    if (s.mailbox != mailbox_kind::none) {
        d = std::string(s.message == message_kind::bytes
                            ? "variable-size messages (bytes) in " + in_units(byte_ring) + " of record slots"
                            : "fixed messages in the " + in_units(s.payload) + " size class, " +
                                  std::to_string(ring_slots(s.payload)) + " slots") +
            " of a system_owned mailbox, delivery " + std::string(to_string(s.mailbox)) + ", " +
            std::to_string(s.producers) + (s.producers > 1 ? " senders x " : " sender x ") +
            std::to_string(s.consumers) + (s.consumers > 1 ? " receivers" : " receiver");
        return d + ", " + std::string(to_string(s.wait)) + " wait";
    }
    if (s.message == message_kind::bytes && s.capacity == capacity_kind::zero) {
        d = "variable-size messages (bytes) with zero capacity (a rendezvous)";
    } else if (s.message == message_kind::bytes && s.capacity == capacity_kind::unbounded) {
        d = "variable-size messages (bytes) on an unbounded chain of 1 MiB chunks";
    } else if (s.message == message_kind::bytes) {
        d = "variable-size messages (bytes) in " + in_units(byte_ring) +
            (s.consumers > 1 ? " of record slots" : " of byte ring");
    } else {
        d = "fixed messages in the " + in_units(s.payload) + " size class (" + std::to_string(sizeof(stamp) + s.payload) +
            " B each), ";
        switch (s.capacity) {
        case capacity_kind::ring: d += "on the default ring of " + std::to_string(ring_slots(s.payload)); break;
        case capacity_kind::given: d += "on a ring of " + std::to_string(s.capacity_n); break;
        case capacity_kind::zero: d += "with zero capacity (a rendezvous)"; break;
        case capacity_kind::unbounded: d += "on an unbounded chain of 1 MiB chunks"; break;
        }
    }
    const bool one_consumer = (s.message == message_kind::bytes && s.consumers == 1) || s.capacity == capacity_kind::unbounded;
    if (s.producers == 1 && s.consumers == 1)
        d += ", single producer x single consumer";
    else
        d += one_consumer ? ", multi producers x single consumer" : ", multi producers x multi consumers";
    return d + ", " + std::string(to_string(s.wait)) + " wait";
}

/// What a consumer reports at the end, in three lines:
///   received N messages, L lost, O out of order, C corrupt
///   throughput: R msg/s, B MB/s over T s, from the first message to the last
///   carried by: fixed messages in the 8 B size class (24 B each), on the default ring of ...
/// The demo reads the first two back from each consumer to add them up.
struct report {
    std::uint64_t received = 0, lost = 0, out_of_order = 0, corrupt = 0;
    std::uint64_t timed = 0;  // messages between the first one and the last (received - 1, or fewer)
    double seconds = 0;       // from the first to the last

    static constexpr std::string_view carried_by_line = "carried by: ";

    /// The first two lines, for messages of `size` bytes (any program that counts messages).
    void print(std::ostream& out, std::size_t size) const {
        out << "received " << received << " messages, " << lost << " lost, " << out_of_order << " out of order, "
            << corrupt << " corrupt\n";
        if (timed > 0 && seconds > 0)
            out << "throughput: " << throughput(static_cast<double>(timed), size, seconds) << " over "
                << example::seconds(seconds) << ", from the first message to the last\n";
        else
            out << "throughput: too few messages to time\n";
    }
    /// All three lines, for a queue that the flags in `s` chose.
    void print(std::ostream& out, const settings& s) const {
        print(out, s.size);
        out << carried_by_line << carried_by(s) << '\n';
    }

    /// The report in `text` (what print wrote), if there is one. The message count over the time
    /// comes back as well as the printed rate allows.
    static std::optional<report> parse(const std::string& text) {
        report r;
        const auto at = text.find("received ");
        if (at == std::string::npos ||
            std::sscanf(text.c_str() + at, "received %" SCNu64 " messages, %" SCNu64 " lost, %" SCNu64
                                           " out of order, %" SCNu64 " corrupt",
                        &r.received, &r.lost, &r.out_of_order, &r.corrupt) != 4)
            return std::nullopt;
        double rate = 0;
        if (const auto t = text.find("throughput: "); t != std::string::npos &&
            std::sscanf(text.c_str() + t, "throughput: %lf msg/s, %*f MB/s over %lf s", &rate, &r.seconds) == 2)
            r.timed = static_cast<std::uint64_t>(rate * r.seconds + 0.5);
        else
            r.seconds = 0;
        return r;
    }
};

}  // namespace example
