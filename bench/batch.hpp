#pragma once
// The batch rows: ipckit's bounded queues driven through their batch verbs, B messages a call,
// beside the rows that send one a call (ipckit_queue, mechanisms.hpp), as a program that has its
// messages in arrays would: send(span), receive(span) for message<S> as a fixed-size T, and
// send(records), receive(records) for bytes<S> (ipckit::records, a buffer of B records).
//
// The sending end gathers the driver's messages into an array of B and sends it as one batch
// when it is full, or at once for an end marker (so that the consumer sees every message before
// the end); the receiving end takes up to B in one call into an array and hands them to the
// driver one at a time through visit(f). Both ends are written once, over any endpoint with the
// batch verbs (the connections' batch rows use them too: net_mechanisms.hpp). So the driver's patterns run unchanged; only streams
// make sense (a round trip of one message has nothing to batch): the row is stream-only.

#include "mechanisms.hpp"
#include "message.hpp"

#include <ipckit/queue.hpp>
#include <ipckit/records.hpp>

#include <cstddef>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace bench {

/// The sending end of a batch row over `Tx` (an endpoint with send(std::span<const M>)): gathers
/// the driver's messages into an array of B and sends it as one batch when it is full, or at once
/// for an end marker.
template <class Tx, class M, std::size_t B>
struct gathering_sender {
    Tx tx;
    std::vector<M> batch = std::vector<M>(B);
    std::size_t held = 0;

    void send(const M& m) {
        batch[held++] = m;
        if (held == B || is_end(m.seq())) flush();
    }

private:
    void flush() {
        const auto n = tx.send(std::span<const M>(batch.data(), held));
        if (!n) [[unlikely]]
            fail("ipckit send(span): " + make_error_code(n.error()).message());
        if (*n != held) [[unlikely]]
            fail("ipckit send(span): " + std::to_string(*n) + " of " + std::to_string(held) + " sent");
        held = 0;
    }
};

/// The receiving end of a batch row over `Rx` (an endpoint with receive(std::span<M>)): takes up
/// to B in one call and hands them to the driver one at a time.
template <class Rx, class M, std::size_t B>
struct batch_receiver {
    Rx rx;
    std::vector<M> batch = std::vector<M>(B);
    std::size_t next = 0, got = 0;

    void receive(M& m) {
        visit([&m](const M& in) { m = in; });
    }
    /// The next message of the batch last received, or of a new one.
    template <class F>
    void visit(F&& f) {
        if (next == got) {
            const auto n = rx.receive(std::span<M>(batch));
            if (!n) [[unlikely]]
                fail("ipckit receive(span): " + make_error_code(n.error()).message());
            next = 0;
            got = *n;
        }
        f(batch[next++]);
    }
};

/// The sending end of a batch row over `Tx` (an endpoint with send(const ipckit::records&)) of
/// bytes<S>: gathers the driver's messages into records of B and sends them as one batch when
/// full, or at once for an end marker.
template <class Tx, std::size_t S, std::size_t B>
struct gathering_records_sender {
    Tx tx;
    std::vector<std::byte> storage = std::vector<std::byte>(ipckit::records::storage_for(B, S));
    ipckit::records batch{storage};

    void send(const message<S>& m) {
        (void)batch.push_back(std::span<const std::byte>(m.bytes));  // B always fit
        if (batch.size() == B || is_end(m.seq())) flush();
    }

private:
    void flush() {
        const auto n = tx.send(batch);
        if (!n) [[unlikely]]
            fail("ipckit send(records): " + make_error_code(n.error()).message());
        if (*n != batch.size()) [[unlikely]]
            fail("ipckit send(records): " + std::to_string(*n) + " of " + std::to_string(batch.size()) + " sent");
        batch.clear();
    }
};

/// The receiving end of a batch row over `Rx` (an endpoint with receive(ipckit::records&)) of
/// bytes<S>: takes up to B in one call and hands them to the driver one at a time, where the
/// receive copied them.
template <class Rx, std::size_t S, std::size_t B>
struct records_receiver {
    Rx rx;
    std::vector<std::byte> storage = std::vector<std::byte>(ipckit::records::storage_for(B, S));
    ipckit::records batch{storage};
    ipckit::records::iterator next = batch.end();

    void receive(message<S>& m) {
        visit([&m](const message<S>& in) { m = in; });
    }
    /// The next message of the batch last received, or of a new one.
    template <class F>
    void visit(F&& f) {
        if (next == batch.end()) {
            if (const auto n = rx.receive(batch); !n) [[unlikely]]
                fail("ipckit receive(records): " + make_error_code(n.error()).message());
            next = batch.begin();
        }
        const std::span<const std::byte> d = *next++;
        if (d.size() != S) [[unlikely]]
            fail("ipckit receive(records): " + std::to_string(d.size()) + " bytes, expected " + std::to_string(S));
        // Records start 8-byte aligned where the storage is (ipckit/records.hpp), as message<S> needs.
        f(*std::launder(reinterpret_cast<const message<S>*>(d.data())));
    }
};

/// ipckit::queue<message<S> or bytes<S>, bounded<as deep as the others>, Producers, single,
/// adaptive>, B messages per send and up to B per receive.
template <std::size_t B, ipckit::cardinality_policy Producers, payload Payload = payload::fixed>
struct ipckit_batch {
    using kind = ipckit_kind<Payload, same_depth, Producers, ipckit::single, ipckit::adaptive>;

    static std::string describe() {
        const char* verbs = Payload == payload::fixed ? "(span)" : "(records)";
        return kind::describe() + "; send" + verbs + " of " + std::to_string(B) + " messages, receive" + verbs +
               " of up to " + std::to_string(B);
    }
    static std::string unsupported(std::size_t size, bool many_producers, bool many_consumers) {
        return kind::unsupported(size, many_producers, many_consumers);
    }

    template <std::size_t S>
    class link {
        using queue = typename kind::template link<S>::queue;  // the one the unbatched row measures
        using sending_end =
            std::conditional_t<Payload == payload::fixed, gathering_sender<ipckit::sender<queue>, message<S>, B>,
                               gathering_records_sender<ipckit::sender<queue>, S, B>>;
        using receiving_end =
            std::conditional_t<Payload == payload::fixed, batch_receiver<ipckit::receiver<queue>, message<S>, B>,
                               records_receiver<ipckit::receiver<queue>, S, B>>;
        named_ipckit<queue> queue_;

    public:
        explicit link(const link_config&) {}

        [[nodiscard]] sending_end open_sender() const { return {queue_.open().sender()}; }
        [[nodiscard]] receiving_end open_receiver() const { return {queue_.open().receiver()}; }
    };
};

}  // namespace bench
