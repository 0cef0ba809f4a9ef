#pragma once
// What a mailbox's segment says it is: the description that names its message, capacity,
// delivery and ownership policies, read back for an inspector, and the explanation given when a
// program opens a mailbox with another delivery or ownership policy than its creator's.

#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/shm/peek.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ipckit::detail {

/// What mailbox_description() wrote, read back.
struct mailbox_fields {
    message_description message;
    std::string capacity;  ///< "bounded<N>"
    std::uint64_t slots = 0;
    std::string delivery;
    std::string ownership;
};
inline std::optional<mailbox_fields> parse_mailbox_description(std::string_view d) {
    const auto f = description_fields(d, "ipckit::mailbox<", 4);
    if (!f) return std::nullopt;
    const auto message = parse_message_description((*f)[0]);
    std::uint64_t slots = 0;
    if (const auto n = between((*f)[1], "bounded<"))
        if (const auto v = parse_decimal(*n)) slots = *v;
    if (!message || slots == 0) return std::nullopt;
    // bytes<Max>: N bytes of records of Max bytes and a length (detail/ring/record.hpp).
    if (message->bytes) slots /= sizeof(std::uint64_t) + record_capacity(message->size);
    if (slots == 0) return std::nullopt;
    return mailbox_fields{*message, std::string((*f)[1]), slots, std::string((*f)[2]), std::string((*f)[3])};
}

/// How a mailbox's description names its message: describe_message<T>(), or "bytes<Max>".
template <class Message>
std::string describe_mailbox_message() {
    if constexpr (is_bytes<Message>)
        return "bytes<" + std::to_string(Message::max) + ">";
    else
        return describe_message<Message>();
}

/// "ipckit::mailbox<T (S B, align A), bounded<N>, delivery, ownership>" (for bytes<Max>:
/// "ipckit::mailbox<bytes<Max>, bounded<N>, ...>", N in bytes): what a mailbox's segment must say
/// it holds. The delivery and ownership come last, so that a mismatch can be named.
template <class Message>
std::string mailbox_description(std::size_t capacity, std::string_view delivery, std::string_view ownership) {
    std::string d = "ipckit::mailbox<" + describe_mailbox_message<Message>() + ", bounded<" + std::to_string(capacity) + ">, ";
    d += delivery;
    d += ", ";
    d += ownership;
    d += ">";
    return d;
}

/// Turns the segment layer's incompatible_layout into one that says which mailbox policy
/// differs, when the segment holds a mailbox of the same message and capacity. `want` is a
/// mailbox_description(). Returns the error to throw.
inline error explain_mismatch(std::string_view name, const std::string& want, const error& original) {
    std::string held;
    try {
        // The name may name another object by now: its description is read only if it can be trusted.
        if (!peek_segment(name, 0, [&](std::string_view description, void*) { held = description; })) return original;
    } catch (...) {
        return original;
    }
    // Both end in "<delivery>, <ownership>>" after the same message and capacity.
    const auto cut = [](const std::string& d, std::string& delivery, std::string& ownership) {
        const auto last = d.rfind(", ");
        if (last == std::string::npos || d.size() < 2 || d.back() != '>') return std::string::npos;
        const auto before = d.rfind(", ", last - 1);
        if (before == std::string::npos) return std::string::npos;
        delivery = d.substr(before + 2, last - before - 2);
        ownership = d.substr(last + 2, d.size() - last - 3);
        return before;
    };
    std::string want_d, want_o, held_d, held_o;
    const auto want_prefix = cut(want, want_d, want_o);
    const auto held_prefix = cut(held, held_d, held_o);
    if (want_prefix == std::string::npos || held_prefix != want_prefix ||
        held.compare(0, held_prefix, want, 0, want_prefix) != 0)
        return original;
    const std::string what = "mailbox '" + std::string(name) + "' is " + held + ", but this program opens it ";
    if (held_d != want_d)
        return error(errc::incompatible_layout,
                     what + "with delivery policy " + want_d + " (the mailbox's is " + held_d +
                         "). Every process must use the mailbox's own delivery policy: open it as " + held_d +
                         ", or give the new mailbox another name");
    if (held_o != want_o)
        return error(errc::incompatible_layout,
                     what + "as " + want_o + " (the mailbox is " + held_o +
                         "). Every process must use the mailbox's own ownership policy: open it as " + held_o +
                         ", or give the new mailbox another name");
    return original;
}

/// Runs a set-up call of a mailbox, turning an incompatible_layout into one that names the
/// differing policy.
template <class Make>
auto explained(std::string_view name, const std::string& want, Make&& make) {
    try {
        return make();
    } catch (const error& e) {
        if (e.reason() != errc::incompatible_layout) throw;
        throw explain_mismatch(name, want, e);
    }
}

}  // namespace ipckit::detail
