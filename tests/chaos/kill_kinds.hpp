#pragma once
// The kinds kill_random puts through the same trial: what each one's producers and receivers do
// in their processes, and what README says about each. The trial itself (tests/chaos/
// kill_random.cpp) is written once against this shape:
//
//   name, what                  how --kind names it, and a line for --help
//   producers, receivers        how many of each a trial starts
//   every_receiver_gets_all     broadcast: every receiver gets every message (else exactly one)
//   one_receiver_at_a_time      a receiver that takes over continues where its predecessor stopped
//   owner_receives              process_owned mailbox: the receiver creates and owns the mailbox;
//                               killing it ends the mailbox (README: senders get closed) and
//                               nobody replaces it
//   ends_when_producers_close   queues: the closed rule (README, "Errors"): a single-producer
//                               queue's receivers end with closed once its producer closed; a
//                               many-producer queue ends when the parent closes it as a whole,
//                               once every producer has ended (finish()); mailboxes end only when
//                               removed, which the parent does then
//   setup(name)                 what the parent creates and holds for the trial
//   finish(name)                once every producer process has ended
//   cleanup(name)               after the trial, whatever happened
//   produce(ctx), consume(ctx)  a producer's and a receiver's process
//
// The messages carry (producer id, seq, checksum): chaos_message.hpp, sent through chaos_codec.hpp.

#include "chaos_codec.hpp"
#include "chaos_message.hpp"
#include "kill_log.hpp"
#include "support.hpp"

#include <ipckit/ipckit.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace chaos {

/// Options for every endpoint of a trial: a dead peer is noticed within 10 ms; broadcast
/// mailboxes get a small table (the other kinds take the options it derives from).
inline ipckit::broadcast_options trial_options() { return {ipckit_test::quick_liveness(), 8}; }

// ---- the processes of the queue-like kinds --------------------------------------------------

/// Runs a set-up call (open, attach, join). If it throws ipckit::error, logs its errc as the
/// process's end, at set-up (the parent judges whether README allows it there), and returns
/// nothing.
template <class Make>
auto set_up(child_ctx& c, Make&& make) -> std::optional<decltype(make())> {
    try {
        std::optional<decltype(make())> made;
        made.emplace(make());
        return made;
    } catch (const ipckit::error& e) {
        (void)c.end(e.reason(), true);
        return std::nullopt;
    }
}

/// A producer: sends seq 0 .. messages-1 with id = its slot (one a call, or in runs: the codec
/// says), retrying what Kind says a producer retries (what was not sent), then waits until the
/// kill is over (so that a replacement has attached before anyone closes) and closes.
template <class Kind>
int produce(child_ctx& c) {
    c.starting();
    auto tx = set_up(c, [&] { return Kind::sender(c.name()); });
    if (!tx) return 0;
    c.attached();
    for (std::uint64_t seq = 0; seq < c.messages();) {
        std::size_t sent = 0;
        const errc e = send_some<typename Kind::codec>(*tx, c.id(), seq, c.messages() - seq, c.deadline(), sent);
        if (sent > 0) c.sent(seq += sent);
        if (e != errc::ok && !Kind::producer_retries(e)) return c.end(e);
    }
    c.sent_all();
    if (!c.wait_settled()) return c.end(errc::timed_out);
    tx.reset();
    return c.end(errc::ok);
}

/// A receiver: receives and logs until a result ends it. peer_dead (or closed, on a side of
/// one) does not end it while producers run where a producer may be replaced (README: a
/// sender's slot held by a dead process is taken over by the next one): it waits for the
/// replacement. Once they have all ended, one peer_dead is still no end (README: peer_dead
/// comes once to each endpoint, at the first of its verbs that would block after the death,
/// then the closed rule): a receiver that never had to wait between a producer's death and
/// its replacement's close reads it only then. It logs that it did, and the parent checks
/// that a producer was killed.
template <class Kind>
int consume(child_ctx& c) {
    c.starting();
    auto rx = set_up(c, [&] { return Kind::receiver(c.name()); });
    if (!rx) return 0;
    c.attached();
    bool late_death_read = false;
    for (;;) {
        const bool done_before = c.producers_done();
        const errc e =
            receive_some<typename Kind::codec>(*rx, c.deadline(), [&c](const delivery& d) { c.got(d.id, d.intact); });
        if (e == errc::ok) continue;
        if constexpr (Kind::ends_when_producers_close) {
            if (!done_before && Kind::waits_for_replacement(e)) continue;
            if (e == errc::peer_dead && !std::exchange(late_death_read, true)) {
                c.read_late_death();
                continue;
            }
        }
        return c.end(e);
    }
}

/// A queue `Q` with P producers and C receivers, created by the parent.
template <class Q, class Codec, std::size_t P, std::size_t C>
struct queue_kind {
    using codec = Codec;
    static constexpr std::size_t producers = P;
    static constexpr std::size_t receivers = C;
    static constexpr bool every_receiver_gets_all = false;
    static constexpr bool one_receiver_at_a_time = C == 1;
    static constexpr bool owner_receives = false;
    static constexpr bool ends_when_producers_close = true;

    static std::shared_ptr<void> setup(const std::string& name) {
        return std::make_shared<Q>(Q::create(name, trial_options()));
    }
    static void finish(const std::string& name) {
        if constexpr (Q::max_senders > 1) Q::open(name, trial_options()).close();
    }
    static void cleanup(const std::string& name) { (void)Q::remove(name); }

    static auto sender(const std::string& name) { return Q::open(name, trial_options()).sender(); }
    static auto receiver(const std::string& name) { return Q::open(name, trial_options()).receiver(); }
    /// A blocked send returns peer_dead while every receiver is dead (not sent); README: a new
    /// receiver may attach, and the sender may go on sending to it.
    static bool producer_retries(errc e) noexcept { return waits_for_replacement(e); }
    /// A side that lost its holders reads peer_dead once; a side of one that did, closed after
    /// that (README: closed is not sticky, a newcomer makes the side live again), until the
    /// replacement the trial starts has attached. Either way the end is not yet.
    static bool waits_for_replacement(errc e) noexcept { return e == errc::peer_dead || e == errc::closed; }

    static int produce(child_ctx& c) { return chaos::produce<queue_kind>(c); }
    static int consume(child_ctx& c) { return chaos::consume<queue_kind>(c); }
};

/// A system_owned mailbox `Box` with P senders and C receivers, created by the parent and
/// removed by it once every producer has ended (README: receivers then get every accepted
/// message, then closed). Codec: fixed_codec for T, bytes_codec<Max> for bytes<Max>.
template <class Box, std::size_t P, std::size_t C, class Codec = fixed_codec>
struct mailbox_kind {
    using codec = Codec;
    static constexpr std::size_t producers = P;
    static constexpr std::size_t receivers = C;
    static constexpr bool every_receiver_gets_all = std::is_same_v<typename Box::delivery_type, ipckit::broadcast>;
    static constexpr bool one_receiver_at_a_time = C == 1;
    static constexpr bool owner_receives = false;
    static constexpr bool ends_when_producers_close = false;

    static std::shared_ptr<void> setup(const std::string& name) {
        return std::make_shared<Box>(Box::create(name, trial_options()));
    }
    static void finish(const std::string& name) { (void)Box::remove(name); }
    static void cleanup(const std::string& name) { (void)ipckit::remove_segment(name); }

    static auto sender(const std::string& name) { return Box::open(name, trial_options()).sender(); }
    static auto receiver(const std::string& name) { return Box::open(name, trial_options()).receiver(); }
    static bool producer_retries(errc) noexcept { return false; }

    static int produce(child_ctx& c) { return chaos::produce<mailbox_kind>(c); }
    static int consume(child_ctx& c) { return chaos::consume<mailbox_kind>(c); }
};

/// The process_owned mailbox: its one receiver creates it and owns it. Killing the owner ends the
/// mailbox (README: senders get closed, messages still in it are dropped) and nobody replaces
/// it; otherwise the parent removes it once every producer has ended.
template <class Box, std::size_t P, class Codec = fixed_codec>
struct owned_mailbox_kind : mailbox_kind<Box, P, 1, Codec> {
    static constexpr bool owner_receives = true;

    static std::shared_ptr<void> setup(const std::string&) { return nullptr; }

    /// The owner's handle and its receiver, which must live together.
    struct owner {
        Box box;
        typename Box::template receiver_type<ipckit::blocking> rx;
        template <class... Args>
        auto receive(Args... args) noexcept {
            return rx.receive(args...);
        }
    };
    static owner receiver(const std::string& name) {
        auto box = Box::create(name, trial_options());
        auto rx = box.receiver();
        return owner{std::move(box), std::move(rx)};
    }

    static int produce(child_ctx& c) { return chaos::produce<owned_mailbox_kind>(c); }
    static int consume(child_ctx& c) { return chaos::consume<owned_mailbox_kind>(c); }
};

// ---- node links ---------------------------------------------------------------------------

/// Node links: P producer members ("p0", "p1"...) send to one receiver member "rx" of a domain;
/// the receiver takes them with receive_any. A killed member rejoins under its old name (README:
/// its name is free at once). Across a kill, README's accounting is accepted = delivered +
/// undelivered: every producer, before it leaves, takes back with undelivered("rx") what a dead
/// receiver never read.
struct node_kind {
    static constexpr std::size_t max_message = 256;
    using node = ipckit::basic_node<max_message, 2048>;
    using codec = bytes_codec<node::max_message>;
    static constexpr std::size_t producers = 2;
    static constexpr std::size_t receivers = 1;
    static constexpr bool every_receiver_gets_all = false;
    static constexpr bool one_receiver_at_a_time = true;
    static constexpr bool owner_receives = false;
    static constexpr bool ends_when_producers_close = false;

    /// The first member to join creates the domain: a victim killed before it opens may die
    /// half-way through creating it, and the next join must then replace it.
    static std::shared_ptr<void> setup(const std::string&) { return nullptr; }
    static void finish(const std::string&) {}
    static void cleanup(const std::string& domain) { (void)ipckit::remove_domain(domain); }

    static std::string member(std::size_t i) { return "p" + std::to_string(i); }
    static constexpr const char* receiver_name = "rx";

    static ipckit::node_options options() {
        ipckit::node_options o;
        static_cast<ipckit::options&>(o) = trial_options();
        o.members = 16;
        return o;
    }

    static int produce(child_ctx& c) {
        c.starting();
        std::optional<node> n;
        try {
            n.emplace(c.name(), member(c.role_index()), options());
        } catch (const ipckit::error& e) {
            return c.end(e.reason(), true);
        }
        c.attached();
        std::array<std::byte, max_message> buf;
        for (std::uint64_t seq = 0; seq < c.messages(); ++seq) {
            const std::size_t len = encode(c.id(), seq, max_message, buf);
            bool waited = false;
            for (;;) {
                const auto s = n->sender().send(receiver_name, std::span<const std::byte>(buf.data(), len), c.deadline());
                if (s) break;
                const errc e = s.error();
                if (e == errc::not_found) {
                    // The receiver died and has not rejoined yet: wait until the parent says its
                    // replacement joined, then try again. not_found after that is a failure.
                    if (!waited && c.wait_settled()) {
                        waited = true;
                        continue;
                    }
                    return c.end(e);
                }
                // README: the receiver left or died; the message is not sent. Take back what it
                // never read, and send again to its next incarnation.
                if (e != errc::peer_dead && e != errc::closed) return c.end(e);
                if (!take_back(*n, c)) return c.end(errc::no_space);
            }
            c.sent(seq + 1);
        }
        c.sent_all();
        if (!c.wait_settled()) return c.end(errc::timed_out);
        if (!take_back(*n, c)) return c.end(errc::no_space);
        n.reset();  // leaves: the receiver gets every message, then (name, closed)
        return c.end(errc::ok);
    }

    /// The receiver: receive_any until every producer process has ended and nothing is left.
    /// Each departure it is told of is logged.
    static int consume(child_ctx& c) {
        c.starting();
        std::optional<node> n;
        try {
            n.emplace(c.name(), receiver_name, options());
        } catch (const ipckit::error& e) {
            return c.end(e.reason(), true);
        }
        c.attached();
        std::array<std::byte, max_message> buf;
        for (;;) {
            const bool done_before = c.producers_done();
            // A slice, not the trial's deadline: after the producers have all left, a slice
            // that passes with nothing received means nothing is left to receive.
            const auto slice = std::min(c.deadline(), steady::now() + std::chrono::milliseconds(50));
            auto env = n->receiver().receive_any(std::span<std::byte>(buf), slice);
            if (env.message) {
                const auto id = decode(std::span<const std::byte>(buf.data(), *env.message), max_message);
                c.got(id.value_or(identity{}), id.has_value());
                continue;
            }
            const errc e = env.message.error();
            if (e == errc::closed || e == errc::peer_dead) {
                c.departed(member_index(env.from), e);
                continue;
            }
            if (e == errc::timed_out) {
                if (done_before) return c.end(errc::closed);
                if (steady::now() < c.deadline()) continue;
            }
            return c.end(e);
        }
    }

    /// The index of member name "p<i>", or not_a_producer for any other name.
    static std::uint32_t member_index(const std::string& from) {
        if (from.size() < 2 || from.size() > 4 || from[0] != 'p') return not_a_producer;
        std::uint32_t i = 0;
        for (const char ch : from.substr(1)) {
            if (ch < '0' || ch > '9') return not_a_producer;
            i = i * 10 + static_cast<std::uint32_t>(ch - '0');
        }
        return i;
    }
    static constexpr std::uint32_t not_a_producer = 9999;

private:
    static bool take_back(node& n, child_ctx& c) {
        auto back = n.undelivered(receiver_name);
        if (!back) return false;
        for (const auto& m : *back) {
            const auto id = decode(std::span<const std::byte>(m.data(), m.size()), max_message);
            c.returned(id.value_or(identity{}), id.has_value());
        }
        return true;
    }
};

}  // namespace chaos
