#pragma once
// The batch rows: ipckit's bounded queues driven through their batch verbs, B messages a call,
// beside the rows that send one a call (ipckit_queue, mechanisms.hpp), as a program that has its
// messages in arrays would: send(span), receive(span) for message<S> as a fixed-size T, and
// send(records), receive(records) for bytes<S> (ipckit::records, a caller's buffer of B records).
//
// The sending end gathers the driver's messages into a batch of B and sends it as one batch
// when it is full, or at once for an end marker (so that the consumer sees every message before
// the end); the receiving end takes up to B in one call and hands them to the driver one at a
// time through visit(f). So the driver's patterns run unchanged; only streams make sense (a
// round trip of one message has nothing to batch): the row is stream-only.

#include "mechanisms.hpp"
#include "message.hpp"

#include <ipckit/queue.hpp>
#include <ipckit/records.hpp>

#include <cstddef>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace bench {

/// ipckit::queue<message<S> or bytes<S>, bounded<as deep as the others>, Producers, single,
/// adaptive>, B messages per send and up to B per receive.
template <std::size_t B, ipckit::cardinality_policy Producers, payload Payload = payload::fixed>
struct ipckit_batch {
    using kind = ipckit_kind<Payload, same_depth, Producers, ipckit::single, ipckit::adaptive>;

    static std::string describe() {
        const char* verbs = Payload == payload::fixed ? " (span)" : " (records)";
        return kind::describe() + "; send" + verbs + " of " + std::to_string(B) + " messages, receive" + verbs +
               " of up to " + std::to_string(B);
    }
    static std::string unsupported(std::size_t size, bool many_producers, bool many_consumers) {
        return kind::unsupported(size, many_producers, many_consumers);
    }

    template <std::size_t S>
    class link {
        using message_type = std::conditional_t<Payload == payload::fixed, message<S>, ipckit::bytes<S>>;
        using queue = ipckit::queue<message_type, typename ipckit_capacity<Payload, same_depth, S>::type, Producers,
                                    ipckit::single, ipckit::adaptive>;
        scoped_name name_{[](const std::string& n) { queue::remove(n); }};
        queue queue_ = queue::create(name_.str());

        [[noreturn]] static void failed(const char* verb, ipckit::errc e) {
            fail(std::string("ipckit ") + verb + ": " + make_error_code(e).message());
        }

    public:
        explicit link(const link_config&) {}

        /// Fixed-size messages: an array of B.
        struct fixed_sending_end {
            ipckit::sender<queue> tx;
            std::vector<message<S>> batch = std::vector<message<S>>(B);
            std::size_t held = 0;

            void send(const message<S>& m) {
                batch[held++] = m;
                if (held == B || is_end(m.seq())) flush();
            }

        private:
            void flush() {
                const auto n = tx.send(std::span<const message<S>>(batch.data(), held));
                if (!n) [[unlikely]]
                    failed("send(span)", n.error());
                if (*n != held) [[unlikely]]
                    fail("ipckit send(span): " + std::to_string(*n) + " of " + std::to_string(held) + " sent");
                held = 0;
            }
        };
        struct fixed_receiving_end {
            ipckit::receiver<queue> rx;
            std::vector<message<S>> batch = std::vector<message<S>>(B);
            std::size_t next = 0, got = 0;

            void receive(message<S>& m) {
                visit([&m](const message<S>& in) { m = in; });
            }
            /// The next message of the batch last received, or of a new one.
            template <class F>
            void visit(F&& f) {
                if (next == got) {
                    const auto n = rx.receive(std::span<message<S>>(batch));
                    if (!n) [[unlikely]]
                        failed("receive(span)", n.error());
                    next = 0;
                    got = *n;
                }
                f(batch[next++]);
            }
        };

        /// bytes<S>: records of B messages of S bytes, in storage of the caller's (this end's).
        struct bytes_sending_end {
            ipckit::sender<queue> tx;
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
                    failed("send(records)", n.error());
                if (*n != batch.size()) [[unlikely]]
                    fail("ipckit send(records): " + std::to_string(*n) + " of " + std::to_string(batch.size()) +
                         " sent");
                batch.clear();
            }
        };
        struct bytes_receiving_end {
            ipckit::receiver<queue> rx;
            std::vector<std::byte> storage = std::vector<std::byte>(ipckit::records::storage_for(B, S));
            ipckit::records batch{storage};
            ipckit::records::iterator next = batch.end();

            void receive(message<S>& m) {
                visit([&m](const message<S>& in) { m = in; });
            }
            /// The next message of the batch last received, or of a new one, read where the
            /// receive copied it.
            template <class F>
            void visit(F&& f) {
                if (next == batch.end()) {
                    if (const auto n = rx.receive(batch); !n) [[unlikely]]
                        failed("receive(records)", n.error());
                    next = batch.begin();
                }
                const std::span<const std::byte> d = *next++;
                if (d.size() != S) [[unlikely]]
                    fail("ipckit receive(records): " + std::to_string(d.size()) + " bytes, expected " +
                         std::to_string(S));
                // Records start 8-byte aligned where the storage is (ipckit/records.hpp), as
                // message<S> needs.
                f(*std::launder(reinterpret_cast<const message<S>*>(d.data())));
            }
        };

        using sending_end = std::conditional_t<Payload == payload::fixed, fixed_sending_end, bytes_sending_end>;
        using receiving_end = std::conditional_t<Payload == payload::fixed, fixed_receiving_end, bytes_receiving_end>;

        [[nodiscard]] sending_end open_sender() const { return {queue::open(name_.str()).sender()}; }
        [[nodiscard]] receiving_end open_receiver() const { return {queue::open(name_.str()).receiver()}; }
    };
};

}  // namespace bench
