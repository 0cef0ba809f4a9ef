#pragma once
// A variable-size message (bytes<Max>) in a fixed-size slot: how every kind whose ring lends
// whole slots carries bytes<Max> - several consumers, mailboxes of every delivery, broadcast,
// unbounded chains and rendezvous - while the byte ring (ring/bytes.hpp) packs the records of a
// queue with one consumer.
//
// Why slots and not the byte ring there. A byte ring frees its records in ring order, so with
// several consumers (or broadcast receivers at different places) the space of a record held by
// one consumer could not be reused until every record before it had been freed, and a consumer
// killed in the middle of a record would need a second layer of claims to be recovered. A slot
// of Max bytes is claimed, published, released and recovered by each ring's own per-slot
// protocol (mpmc.hpp, broadcast.hpp, the chain, the rendezvous slots) exactly as a fixed-size
// message is, so every guarantee and crash rule of those rings holds for bytes<Max> unchanged.
// The price is memory: a slot takes Max bytes (plus 8 bytes: its length and the length's complement) whatever the length
// of the message in it, as in Boost's message_queue and POSIX message queues. Only the message's
// own bytes are copied in and out, never the whole slot.
//
// Shared memory is not trusted: a length read from a slot is checked against Max before any use,
// and against its complement beside it (record_length), so a scribbled length is `corrupt`,
// never a read outside the slot, nor a message cut short or padded with an earlier one's bytes.

#include <ipckit/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace ipckit::detail {

/// The payload bytes a slot reserves for bytes<Max>: Max rounded up to 8, so that slots of a
/// ring stay 8-byte aligned.
constexpr std::size_t record_capacity(std::size_t max) noexcept { return (max + 7) / 8 * 8; }

/// One message of up to Max bytes in a slot: its length, then its bytes. Trivially copyable,
/// but never copied whole: write_record and record_bytes touch only `length` bytes.
template <std::size_t Max>
struct alignas(8) record {
    static_assert(Max > 0 && Max <= (std::size_t{1} << 30), "record<Max>: Max must be between 1 and 1 GiB");
    static constexpr std::size_t max = Max;

    std::uint32_t length;      ///< bytes of `data` in use; checked on every read (record_length)
    std::uint32_t complement;  ///< ~length, written with it (set_record_length)
    std::byte data[record_capacity(Max)];
};

/// Sets the length of the message in slot `r` to `n` (at most Max: the caller checked).
template <std::size_t Max>
void set_record_length(record<Max>& r, std::size_t n) noexcept {
    r.length = static_cast<std::uint32_t>(n);
    r.complement = ~r.length;
}

/// Writes `m` into the slot `r`. The caller checked m.size() <= Max (too_large otherwise).
template <std::size_t Max>
void write_record(record<Max>& r, std::span<const std::byte> m) noexcept {
    if (!m.empty()) std::memcpy(r.data, m.data(), m.size());
    set_record_length(r, m.size());
}

/// The length of the message in slot `r`, checked: corrupt if the slot says more than Max, or
/// its length and complement disagree (one was changed alone).
template <std::size_t Max>
errc record_length(const record<Max>& r, std::size_t& length) noexcept {
    const std::uint32_t n = r.length;
    if (n > Max || r.complement != static_cast<std::uint32_t>(~n)) return errc::corrupt;
    length = n;
    return errc::ok;
}

/// The message in slot `r`, of `length` bytes as record_length returned it.
template <std::size_t Max>
std::span<const std::byte> record_bytes(const record<Max>& r, std::size_t length) noexcept {
    return {r.data, length};
}

template <class T>
inline constexpr bool is_record = false;
template <std::size_t Max>
inline constexpr bool is_record<record<Max>> = true;

}  // namespace ipckit::detail
