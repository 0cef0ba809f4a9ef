#pragma once
// ipckit::connection: one end of a connection, over any transport (see <ipckit/net.hpp>).

#include <ipckit/detail/endpoint/endpoint.hpp>
#include <ipckit/detail/net/duplex.hpp>
#include <ipckit/detail/net/made_here.hpp>
#include <ipckit/detail/net/shm_duplex.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/records.hpp>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipckit {

class waitset;

/// One end of a connection: duplex, carrying Message (a fixed-size T or bytes<Max>), its verbs
/// blocking or not by Mode. Destroying it closes it (see close()).
template <class Message, mode_policy Mode = blocking>
class connection {
    static_assert(message_policy<Message>,
                  "ipckit::connection<Message>: Message must be a trivially copyable, standard-layout T, or bytes<Max>");
    static constexpr bool fixed = !is_bytes<Message>;
    static constexpr bool may_block = std::is_same_v<Mode, blocking>;

public:
    /// The longest message this connection carries: sizeof(T), or the smaller Max of both ends.
    [[nodiscard]] std::size_t max_message() const noexcept { return link_->max_message(); }

    // ---- fixed-size T ------------------------------------------------------------------------

    /// Sends a copy of `m`: ok, or would_block / timed_out (the peer does not read), closed,
    /// peer_dead, corrupt.
    status send(const Message& m) noexcept requires fixed { return send_value(m, forever()); }
    template <ipckit::deadline D>
    status send(const Message& m, D deadline) noexcept requires fixed {
        return send_value(m, detail::blocking_deadline<Mode>(deadline));
    }
    /// The next message, or would_block / timed_out / closed / peer_dead / corrupt.
    result<Message> receive() noexcept requires fixed { return receive_value(forever()); }
    template <ipckit::deadline D>
    result<Message> receive(D deadline) noexcept requires fixed {
        return receive_value(detail::blocking_deadline<Mode>(deadline));
    }
    /// Into `out`, written only on ok.
    status receive(Message& out) noexcept requires fixed { return receive_into(out, forever()); }
    template <ipckit::deadline D>
    status receive(Message& out, D deadline) noexcept requires fixed {
        return receive_into(out, detail::blocking_deadline<Mode>(deadline));
    }

    /// Batches, as a queue's (endpoint/verbs.hpp): sends the messages of `ms` in order and returns
    /// how many were sent, the first that many: blocking, waiting for room until all are or the
    /// deadline passes; non-blocking, as many as fit now. Fewer than all only when the deadline
    /// passed, the buffers filled (non-blocking) or the connection ended part way (the next send
    /// says why); 0 at once for an empty span; else why none (timed_out, would_block, closed,
    /// peer_dead, corrupt). Over a socket, the batch goes into the send buffer under one lock,
    /// with at most one write per buffer's worth.
    result<std::size_t> send(std::span<const Message> ms) noexcept requires fixed { return send_many(ms, forever()); }
    template <ipckit::deadline D>
    result<std::size_t> send(std::span<const Message> ms, D deadline) noexcept requires fixed {
        return send_many(ms, detail::blocking_deadline<Mode>(deadline));
    }
    /// Takes the next message into out[0], waiting as receive() does, then as many of those
    /// already here as fit in `out`: how many (one or more); 0 at once for an empty span; else why
    /// none.
    result<std::size_t> receive(std::span<Message> out) noexcept requires fixed { return receive_many(out, forever()); }
    template <ipckit::deadline D>
    result<std::size_t> receive(std::span<Message> out, D deadline) noexcept requires fixed {
        return receive_many(out, detail::blocking_deadline<Mode>(deadline));
    }

    // ---- bytes<Max> --------------------------------------------------------------------------

    /// Sends the bytes of `m` as one message: ok, too_large (past max_message(), nothing sent),
    /// or as for a fixed-size send.
    status send(std::span<const std::byte> m) noexcept requires(!fixed) { return send_span(m, forever()); }
    template <ipckit::deadline D>
    status send(std::span<const std::byte> m, D deadline) noexcept requires(!fixed) {
        return send_span(m, detail::blocking_deadline<Mode>(deadline));
    }
    status send(std::string_view s) noexcept requires(!fixed) { return send(std::as_bytes(std::span(s.data(), s.size()))); }
    template <ipckit::deadline D>
    status send(std::string_view s, D deadline) noexcept requires(!fixed) {
        return send(std::as_bytes(std::span(s.data(), s.size())), deadline);
    }
    /// The next message into `buffer`, returning its length; too_large if it does not fit (the
    /// message stays first in line, so a bigger buffer can take it).
    result<std::size_t> receive(std::span<std::byte> buffer) noexcept requires(!fixed) {
        return receive_span(buffer, forever());
    }
    template <ipckit::deadline D>
    result<std::size_t> receive(std::span<std::byte> buffer, D deadline) noexcept requires(!fixed) {
        return receive_span(buffer, detail::blocking_deadline<Mode>(deadline));
    }
    /// The next message in a vector of its size (no_space if that cannot be allocated).
    result<std::vector<std::byte>> receive() noexcept requires(!fixed) { return receive_vector(forever()); }
    template <ipckit::deadline D>
    result<std::vector<std::byte>> receive(D deadline) noexcept requires(!fixed) {
        return receive_vector(detail::blocking_deadline<Mode>(deadline));
    }

    /// Batches, as for a fixed-size T: the messages of `ms` (or of `rs`, a batch received, say)
    /// in order, how many were sent. One past max_message() anywhere in the batch: too_large,
    /// nothing sent.
    result<std::size_t> send(std::span<const std::span<const std::byte>> ms) noexcept requires(!fixed) {
        return send_many(ms, forever());
    }
    template <ipckit::deadline D>
    result<std::size_t> send(std::span<const std::span<const std::byte>> ms, D deadline) noexcept requires(!fixed) {
        return send_many(ms, detail::blocking_deadline<Mode>(deadline));
    }
    result<std::size_t> send(const records& rs) noexcept requires(!fixed) { return send_many(rs, forever()); }
    template <ipckit::deadline D>
    result<std::size_t> send(const records& rs, D deadline) noexcept requires(!fixed) {
        return send_many(rs, detail::blocking_deadline<Mode>(deadline));
    }
    /// Replaces what `out` held with the next message, waiting as receive() does, then as many of
    /// those already here as fit: how many (one or more). The first that does not fit stays first
    /// in line; too_large if that is the first of all (nothing taken: a bigger buffer can take it).
    result<std::size_t> receive(records& out) noexcept requires(!fixed) { return receive_records(out, forever()); }
    template <ipckit::deadline D>
    result<std::size_t> receive(records& out, D deadline) noexcept requires(!fixed) {
        return receive_records(out, detail::blocking_deadline<Mode>(deadline));
    }

    // ---- both --------------------------------------------------------------------------------

    /// A send returns once its message is buffered: small messages coalesce for up to 20 µs
    /// while the socket is busy (link.hpp). flush() returns once the socket has taken every
    /// message sent before it, so a process that is then killed loses none of them (over shm://
    /// a send is in the queue when it returns: at once). ok, would_block / timed_out (the peer
    /// does not read), closed, peer_dead, corrupt.
    status flush() noexcept { return flush_until(forever()); }
    template <ipckit::deadline D>
    status flush(D deadline) noexcept {
        return flush_until(detail::blocking_deadline<Mode>(deadline));
    }

    /// Orderly close: what was sent is written (waiting up to net_options::close_timeout), then
    /// a close frame; the peer receives everything, then closed. Later verbs here return closed.
    /// In a forked child, a copy of its parent's connection is only forgotten: the parent's
    /// stream goes on (detail/net/made_here.hpp).
    void close() noexcept {
        if (!link_) return;
        if (!made_.here()) {
            shm_ = nullptr;
            return detail::forget(link_);
        }
        link_->close(detail::deadline_after(close_timeout_));
    }
    /// Why the connection ended, in words; empty while it is open or after an orderly close.
    [[nodiscard]] std::string fault() const { return link_ ? link_->fault() : std::string(); }
    /// The address this connection was made to (connect) or accepted on (listener).
    [[nodiscard]] const std::string& address() const noexcept { return address_; }

    connection(connection&& o) noexcept
        : link_(std::move(o.link_)),
          shm_(std::exchange(o.shm_, nullptr)),
          address_(std::move(o.address_)),
          close_timeout_(o.close_timeout_),
          made_(o.made_) {}
    connection& operator=(connection&& o) noexcept {
        if (this != &o) {
            close();
            link_ = std::move(o.link_);
            shm_ = std::exchange(o.shm_, nullptr);
            address_ = std::move(o.address_);
            close_timeout_ = o.close_timeout_;
            made_ = o.made_;
        }
        return *this;
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() { close(); }

    /// Made by connect() and listener::accept().
    connection(std::shared_ptr<detail::duplex> l, std::string address, std::chrono::milliseconds close_timeout)
        : link_(std::move(l)),
          shm_(dynamic_cast<detail::shm_duplex<Message, Mode>*>(link_.get())),
          address_(std::move(address)),
          close_timeout_(close_timeout) {}

private:
    friend class waitset;
    static constexpr detail::clock::time_point forever() noexcept { return detail::clock::time_point::max(); }

    // Each verb goes straight to the shm:// queues when it has them (shm_), else through the
    // transport's virtual interface.
    status send_value(const Message& m, detail::clock::time_point deadline) noexcept {
        if (shm_) return shm_->send(m, deadline);
        return send_bytes(&m, sizeof m, deadline);
    }
    status send_span(std::span<const std::byte> m, detail::clock::time_point deadline) noexcept {
        if (shm_) return shm_->send(m, deadline);
        return send_bytes(m.data(), m.size(), deadline);
    }
    status flush_until(detail::clock::time_point deadline) noexcept {
        if (!link_) return unexpected(errc::closed);
        return detail::to_status(link_->flush(deadline, may_block));
    }
    status send_bytes(const void* p, std::size_t n, detail::clock::time_point deadline) noexcept {
        if (!link_) return unexpected(errc::closed);
        return detail::to_status(link_->send(p, n, deadline, may_block));
    }
    status receive_into(Message& out, detail::clock::time_point deadline) noexcept {
        if (shm_) return shm_->receive(out, deadline);
        if (!link_) return unexpected(errc::closed);
        auto take = [&](const std::byte* p, std::size_t n) {
            if (n != sizeof(Message)) return errc::corrupt;  // the transport checked it already
            std::memcpy(&out, p, n);
            return errc::ok;
        };
        return detail::to_status(link_->receive(detail::take_fn(take), 1, deadline, may_block));
    }
    result<Message> receive_value(detail::clock::time_point deadline) noexcept {
        Message out{};
        if (auto s = receive_into(out, deadline); !s) return unexpected(s.error());
        return out;
    }
    result<std::size_t> receive_span(std::span<std::byte> buffer, detail::clock::time_point deadline) noexcept {
        if (shm_) return shm_->receive(buffer, deadline);
        if (!link_) return unexpected(errc::closed);
        std::size_t got = 0;
        auto take = [&](const std::byte* p, std::size_t n) {
            if (n > buffer.size()) return errc::too_large;
            if (n != 0) std::memcpy(buffer.data(), p, n);
            got = n;
            return errc::ok;
        };
        const errc e = link_->receive(detail::take_fn(take), 1, deadline, may_block);
        if (e != errc::ok) return unexpected(e);
        return got;
    }
    result<std::vector<std::byte>> receive_vector(detail::clock::time_point deadline) noexcept {
        if (shm_) return shm_->receive(deadline);
        if (!link_) return unexpected(errc::closed);
        std::vector<std::byte> out;
        auto take = [&](const std::byte* p, std::size_t n) {
            try {
                out.assign(p, p + n);
            } catch (...) {
                return errc::no_space;
            }
            return errc::ok;
        };
        const errc e = link_->receive(detail::take_fn(take), 1, deadline, may_block);
        if (e != errc::ok) return unexpected(e);
        return out;
    }

    /// A batch send, fixed T or bytes: `ms` a span of T, a span of spans, or records.
    template <class Batch>
    result<std::size_t> send_many(const Batch& ms, detail::clock::time_point deadline) noexcept {
        if (ms.empty()) return std::size_t{0};
        // The i-th message's bytes, walking forward (records have no index; batch_fn asks in order).
        auto at = [it = std::ranges::begin(ms), k = std::size_t{0}](std::size_t i) mutable -> std::span<const std::byte> {
            for (; k < i; ++k) ++it;
            if constexpr (fixed) return std::as_bytes(std::span(&*it, 1));
            else return *it;
        };
        if constexpr (!fixed) {
            for (std::span<const std::byte> m : ms)
                if (m.size() > max_message()) return unexpected(errc::too_large);
        }
        if (shm_) return shm_->send_many(ms, deadline);
        const detail::batch_fn batch(at, std::size(ms));
        if (!link_) return unexpected(errc::closed);
        std::size_t sent = 0;
        const errc e = link_->send(batch, sent, deadline, may_block);  // before `sent` is read
        return detail::batch_result(e, sent);
    }
    result<std::size_t> receive_many(std::span<Message> out, detail::clock::time_point deadline) noexcept {
        if (out.empty()) return std::size_t{0};
        if (shm_) return shm_->receive_many(out, deadline);
        if (!link_) return unexpected(errc::closed);
        std::size_t got = 0;
        auto take = [&](const std::byte* p, std::size_t n) {
            if (n != sizeof(Message)) return errc::corrupt;  // the transport checked it already
            std::memcpy(&out[got++], p, n);
            return errc::ok;
        };
        const errc e = link_->receive(detail::take_fn(take), out.size(), deadline, may_block);  // before `got` is read
        return detail::batch_result(e, got);
    }
    result<std::size_t> receive_records(records& out, detail::clock::time_point deadline) noexcept {
        if (shm_) return shm_->receive_many(out, deadline);
        out.clear();
        if (!link_) return unexpected(errc::closed);
        auto take = [&](const std::byte* p, std::size_t n) {
            return out.push_back(std::span<const std::byte>(p, n)) ? errc::ok : errc::too_large;
        };
        const errc e = link_->receive(detail::take_fn(take), std::numeric_limits<std::size_t>::max(), deadline, may_block);
        return detail::batch_result(e, out.size());
    }

    std::shared_ptr<detail::duplex> link_;  // a socket's link, or a pair of shm queues
    detail::shm_duplex<Message, Mode>* shm_ = nullptr;  // link_ itself when it is a pair of shm queues
    std::string address_;
    std::chrono::milliseconds close_timeout_{};
    detail::made_here made_;  // where close() may act
};

}  // namespace ipckit
