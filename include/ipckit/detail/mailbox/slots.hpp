#pragma once
// What one slot of a mailbox's ring holds for its message policy, and how many slots its
// capacity makes: a fixed-size message T is its own slot, and bounded<N> is N of them; bytes<Max>
// is carried as a record<Max> slot (detail/ring/record.hpp), and bounded<N> counts BYTES of
// storage, as it does for a queue of bytes<Max>: N / sizeof(record<Max>) slots.

#include <ipckit/detail/ring/record.hpp>
#include <ipckit/policy.hpp>

#include <cstddef>

namespace ipckit::detail {

/// The bytes one record<Max> slot takes: its length and complement words, and Max rounded up to 8.
constexpr std::size_t record_slot_bytes(std::size_t max) noexcept { return 8 + record_capacity(max); }
static_assert(sizeof(record<1>) == record_slot_bytes(1) && sizeof(record<1000>) == record_slot_bytes(1000),
              "record_slot_bytes must say what a record<Max> takes, or inspectors count a mailbox's slots wrong");

template <class Message>
struct mailbox_slot_of {
    using type = Message;
    static constexpr std::size_t slots(std::size_t n) noexcept { return n; }
};
template <std::size_t Max>
struct mailbox_slot_of<bytes<Max>> {
    using type = record<Max>;
    static constexpr std::size_t slots(std::size_t n) noexcept { return n / record_slot_bytes(Max); }
};

/// What one slot of a mailbox of `Message` holds.
template <class Message>
using mailbox_slot = typename mailbox_slot_of<Message>::type;
/// The slots of a mailbox of `Message` with capacity bounded<N>.
template <class Message, std::size_t N>
inline constexpr std::size_t mailbox_slots = mailbox_slot_of<Message>::slots(N);

}  // namespace ipckit::detail
