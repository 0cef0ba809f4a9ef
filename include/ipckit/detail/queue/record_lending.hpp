#pragma once
// Zero copy for bytes<Max> carried in slots (detail/ring/record.hpp): a loan of n bytes of a
// slot to write a message in place, and a view of the message in a slot, in the shape of every
// loan and view (data(), size(), commit / release; bytes_loan and bytes_view of the byte ring
// look the same). Both lend through their endpoint, as a fixed-size message's do
// (detail/queue/lending.hpp: through_endpoint), so they follow it through a move and end when it
// closes.

#include <ipckit/detail/queue/lending.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/ring/ticket.hpp>
#include <ipckit/error.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ipckit::detail {

/// n bytes of a slot lent to a sender of bytes<Max>, from sender.loan(n). Move-only; an empty
/// (default-constructed, moved-from, committed) loan is false. data() is the n bytes to write;
/// commit() publishes all of them, commit(k) only the first k. Destroyed or abandon()ed
/// uncommitted, it sends nothing. If the sender is closed or destroyed first, the loan is
/// abandoned and commit() returns closed.
template <class Lender, std::size_t Max>
class record_loan : public lent<through_endpoint<Lender>> {
    using ends = through_endpoint<Lender>;

public:
    record_loan() noexcept = default;

    /// The bytes to write, in the slot: size() of them. Empty once the loan is no longer open.
    [[nodiscard]] std::span<std::byte> data() const noexcept {
        if (!*this) return {};
        return {this->held_.slot->data, size_};
    }
    /// How many bytes were lent (0 once the loan is no longer open).
    [[nodiscard]] std::size_t size() const noexcept { return *this ? size_ : 0; }

    /// Publishes all size() bytes. closed if the loan is no longer open.
    status commit() noexcept { return commit(size()); }
    /// Publishes the first `length` bytes: too_large (and the loan stays open) if length > size(),
    /// closed if the loan is no longer open.
    status commit(std::size_t length) noexcept {
        if (!*this) return unexpected(errc::closed);
        if (length > size_) return unexpected(errc::too_large);
        set_record_length(*this->held_.slot, length);
        ends::publish(*this->end(), this->held_);
        return {};
    }
    /// Gives the slot back unpublished, as destruction does.
    void abandon() noexcept { this->give_back(); }

private:
    friend Lender;
    record_loan(Lender* sender, ring_ticket<record<Max>> t, std::size_t n) noexcept
        : lent<ends>(sender, t), size_(n) {}

    std::size_t size_ = 0;
};

/// A message of bytes<Max> read in place, from receiver.receive_view(). Move-only; an empty
/// (default-constructed, moved-from, released) view is false. data() stays valid, and the slot
/// is not reused, until the view is released (destroyed, or release()). If the receiver is
/// closed or destroyed first, the view is released.
template <class Lender, std::size_t Max>
class record_view : public lent<through_endpoint<Lender>> {
    using ends = through_endpoint<Lender>;

public:
    record_view() noexcept = default;

    /// The message, in its slot. Empty once released.
    [[nodiscard]] std::span<const std::byte> data() const noexcept {
        if (!*this) return {};
        return record_bytes(*this->held_.slot, size_);
    }
    /// The message as characters.
    [[nodiscard]] std::string_view text() const noexcept {
        const auto d = data();
        return {reinterpret_cast<const char*>(d.data()), d.size()};
    }
    /// The message's length (0 once released).
    [[nodiscard]] std::size_t size() const noexcept { return *this ? size_ : 0; }

    /// Lets the slot be reused now, as destruction does.
    void release() noexcept { this->give_back(); }

private:
    friend Lender;
    /// `length` is the slot's length as record_length checked it: never read from the slot again.
    record_view(Lender* receiver, ring_ticket<const record<Max>> t, std::size_t length) noexcept
        : lent<ends>(receiver, t), size_(length) {}

    std::size_t size_ = 0;
};

}  // namespace ipckit::detail
