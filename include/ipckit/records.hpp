#pragma once
// ipckit::records: several variable-size messages (bytes<Max>) in one buffer of the caller's,
// and the way to walk them. A batch receive fills one; a batch send takes one (or a span of
// spans), so a batch received can be passed on as it is.
//
//   std::vector<std::byte> storage(ipckit::records::storage_for(64, 1024));
//   ipckit::records batch{storage};
//   auto n = rx.receive(batch);                    // up to what fits, at least one message
//   for (std::span<const std::byte> m : batch) use(m);
//   tx.send(batch);                                // all of them, in order
//
// Each message is a length word and its bytes, rounded up to 8, so that a message's bytes start
// 8-aligned where the storage is. The buffer is the caller's and never reallocated: a message
// that does not fit is refused (push_back false, reserve nullptr) and nothing changes.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <span>
#include <string_view>

namespace ipckit {

class records {
public:
    /// Bytes one message of `n` bytes takes: its length word and its bytes, rounded up to 8.
    static constexpr std::size_t footprint(std::size_t n) noexcept {
        return sizeof(length_word) + (n + 7) / 8 * 8;
    }
    /// Storage that holds `count` messages of at most `max` bytes each.
    static constexpr std::size_t storage_for(std::size_t count, std::size_t max) noexcept {
        return count * footprint(max);
    }

    records() noexcept = default;
    /// Empty, over `storage` (the caller's, which must outlive this).
    explicit records(std::span<std::byte> storage) noexcept : storage_(storage) {}

    /// How many messages it holds.
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    /// Bytes of the storage in use.
    [[nodiscard]] std::size_t used() const noexcept { return used_; }
    [[nodiscard]] std::span<std::byte> storage() const noexcept { return storage_; }
    /// Whether a message of `n` bytes fits after those it holds.
    [[nodiscard]] bool fits(std::size_t n) const noexcept {
        return n <= storage_.size() && footprint(n) <= storage_.size() - used_;
    }
    /// Forgets every message (the storage stays).
    void clear() noexcept { count_ = used_ = 0; }

    /// Appends a copy of `m`: false, with nothing changed, if it does not fit.
    bool push_back(std::span<const std::byte> m) noexcept {
        std::byte* to = reserve(m.size());
        if (to == nullptr) return false;
        if (!m.empty()) std::memcpy(to, m.data(), m.size());
        commit(m.size());
        return true;
    }
    bool push_back(std::string_view s) noexcept {
        return push_back(std::span<const std::byte>(reinterpret_cast<const std::byte*>(s.data()), s.size()));
    }

    /// Where the next message's `n` bytes go, for a writer that copies them itself (e.g. straight
    /// out of a ring), or nullptr if they do not fit. Nothing is appended until commit(n).
    [[nodiscard]] std::byte* reserve(std::size_t n) noexcept {
        return fits(n) ? storage_.data() + used_ + sizeof(length_word) : nullptr;
    }
    /// Appends the message of `n` bytes written where reserve(n) said (n as reserved).
    void commit(std::size_t n) noexcept {
        const auto word = static_cast<length_word>(n);
        std::memcpy(storage_.data() + used_, &word, sizeof word);
        used_ += footprint(n);
        ++count_;
    }

    /// Walks the messages in order; each is a std::span<const std::byte> into the storage.
    class iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = std::span<const std::byte>;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = value_type;

        iterator() noexcept = default;
        value_type operator*() const noexcept {
            length_word n = 0;
            std::memcpy(&n, at_, sizeof n);
            return {at_ + sizeof n, static_cast<std::size_t>(n)};
        }
        iterator& operator++() noexcept {
            at_ += footprint((**this).size());
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator was = *this;
            ++*this;
            return was;
        }
        friend bool operator==(const iterator&, const iterator&) noexcept = default;

    private:
        friend class records;
        explicit iterator(const std::byte* at) noexcept : at_(at) {}
        const std::byte* at_ = nullptr;
    };
    [[nodiscard]] iterator begin() const noexcept { return iterator(storage_.data()); }
    [[nodiscard]] iterator end() const noexcept { return iterator(storage_.data() + used_); }

private:
    // Lengths and offsets are the records' own, written here and never read from a peer: the
    // storage is the caller's private memory.
    using length_word = std::uint64_t;

    std::span<std::byte> storage_;
    std::size_t used_ = 0;
    std::size_t count_ = 0;
};

static_assert(std::forward_iterator<records::iterator>);

}  // namespace ipckit
