#pragma once
// Zero copy for several messages at once on a byte queue: a loan of a run of the ring's room,
// in which the sender writes records one after another in place, and which it then publishes
// all together, with one index publication (sender.loan_records(budget); the ring's side is
// "Loans of records" at the top of detail/ring/bytes.hpp). Its writing verbs are those of
// ipckit::records (reserve, commit, fits, size, used), so that code that fills a records buffer
// in place fills a loan the same way.

#include <ipckit/detail/queue/lending.hpp>
#include <ipckit/detail/ring/bytes.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace ipckit::detail {

// The Ends of a loan from a byte ring, whose loan of one message's room has the same
// (bytes_endpoints.hpp, which includes this file first).
template <class Queue>
struct bytes_loan_ends;

/// A run of a byte ring's room lent to a sender to write several messages in place, from
/// sender.loan_records(budget). Move-only; an empty one (default-constructed, moved from,
/// published, abandoned) is false.
///
///   reserve(n)   where the next message's n bytes go, in the ring, or nullptr (and nothing
///                changes) if n is over Queue::max_message or its record does not fit in what
///                is left of the run: fits(n). Each message takes 8 bytes of header and its
///                length rounded up to 8, as in the ring.
///   commit(n)    ends that message, of n bytes (at most those reserved). Nothing is sent yet.
///   publish()    sends every message committed, in order, at once, and ends the loan.
///
/// Destroyed or abandon()ed unpublished, it sends nothing, whatever was committed (many senders:
/// the run becomes a record the receiver skips). Like a loan of one message, it goes back to the
/// ring, not through its sender, which ends it if it closes first (detail/queue/lending.hpp).
/// Use it in the process that made it. Restricted thread-safe: one thread.
template <class Queue>
class bytes_records_loan : public lent<bytes_loan_ends<Queue>> {
    using ends = bytes_loan_ends<Queue>;
    using shared = typename Queue::shared;
    using producer = typename shared::producer_type;

public:
    /// An empty loan: nothing fits, publish() returns closed.
    bytes_records_loan() noexcept = default;

    /// Bytes of the ring lent (0 once the loan has ended): what the messages' records may take.
    [[nodiscard]] std::size_t capacity() const noexcept {
        return *this ? static_cast<std::size_t>(this->held_.r.size) : 0;
    }
    /// Bytes the messages committed take (records: headers, bytes, padding).
    [[nodiscard]] std::size_t used() const noexcept {
        return *this ? static_cast<std::size_t>(next_ - this->held_.r.pos) : 0;
    }
    /// How many messages are committed (0 once the loan has ended).
    [[nodiscard]] std::size_t size() const noexcept { return *this ? count_ : 0; }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    /// Whether a message of `n` bytes fits after those committed.
    [[nodiscard]] bool fits(std::size_t n) const noexcept {
        return *this && n <= Queue::max_message &&
               bytes_record::size_for(n) <= this->held_.r.pos + this->held_.r.size - next_;
    }

    /// Where the next message's `n` bytes go, in the ring, or nullptr if they do not fit
    /// (fits(n)); the loan stays as it was either way. Nothing is added until commit(n). A
    /// later reserve replaces this one.
    [[nodiscard]] std::byte* reserve(std::size_t n) noexcept {
        if (!fits(n)) return nullptr;
        reserved_ = n;
        written_ = std::max(written_, next_ + bytes_record::size_for(n));
        return this->lender_->ring.payload(next_);
    }
    /// Adds the message of `n` bytes written where the last reserve said: too_large if n is
    /// more than it reserved, invalid_argument if no reserve is outstanding (each commit ends
    /// one), closed if the loan has ended. The loan stays as it was on any error.
    status commit(std::size_t n) noexcept {
        if (!*this) return unexpected(errc::closed);
        if (reserved_ == none) return unexpected(errc::invalid_argument);
        if (n > reserved_) return unexpected(errc::too_large);
        if (next_ == this->held_.r.pos)
            first_ = n;  // its header publishes the run (publish_run)
        else
            producer::place(this->lender_->ring, next_, n);
        next_ += bytes_record::size_for(n);
        ++count_;
        reserved_ = none;
        return {};
    }

    /// Sends every message committed, in order, with one index publication and one wake-up, and
    /// ends the loan. What was lent and not used goes back: with many senders, at once where no
    /// sender has claimed room after the loan's, else as a record the receiver skips. Returns
    /// how many were sent (0: none was committed, nothing is sent, and the room goes back as
    /// abandon() gives it), or closed if the loan had ended.
    result<std::size_t> publish() noexcept {
        if (!*this) return unexpected(errc::closed);
        const std::size_t sent = count_;
        shared& sh = *this->end();
        producer::publish_run(sh.ring, *this->held_.pending, this->held_.r, first_, next_, written_);
        // mpsc: also the skip record that stands for an unused run, for the receiver to pass.
        if (sent > 0 || shared::multi_producer) sh.data_bell.notify(this->held_.light_fence);
        return sent;
    }
    /// Gives the room back unpublished, as destruction does: nothing of it is sent.
    void abandon() noexcept { this->give_back(); }

private:
    template <class Q, mode_policy M>
    friend class bytes_sender;
    bytes_records_loan(shared* sh, const typename ends::held& h) noexcept
        : lent<ends>(sh, h), next_(h.r.pos), written_(h.r.pos) {}

    static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

    std::uint64_t next_ = 0;     ///< where the next message's record starts
    std::uint64_t written_ = 0;  ///< the end of what reserve lent: what may have been written
    std::uint64_t first_ = 0;    ///< the first message's length, once committed
    std::size_t count_ = 0;      ///< messages committed
    std::size_t reserved_ = none;  ///< bytes of the outstanding reserve, or none
};

}  // namespace ipckit::detail
