#pragma once
// What fuzz_segments's probe does after the scribbles, and what it tells the parent: each step
// (open, attach, receive, send, create, join) with its outcome, in memory shared with the parent,
// which judges them once the probe has ended (or crashed, or hung). The probe itself judges
// nothing: whatever it manages to log before a crash is still there to read.

#include "chaos_codec.hpp"
#include "support.hpp"

#include <ipckit/error.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>

namespace chaos {

/// The producer id of the probe's own messages.
inline constexpr std::uint32_t probe_producer = 1000;
/// How long the probe's blocking verbs wait: long enough to take a message that is there.
inline constexpr auto probe_wait = std::chrono::milliseconds(20);

/// Options for everything the probe opens: a dead peer noticed within 10 ms, a half-initialised
/// segment given up after 100 ms; broadcast mailboxes get a small table (the other kinds take
/// the options it derives from).
inline ipckit::broadcast_options probe_options() {
    ipckit::broadcast_options opt{ipckit_test::quick_liveness(), 8};
    opt.init_timeout = std::chrono::milliseconds(100);
    return opt;
}

/// One step of the probe.
struct step {
    enum verb : std::uint16_t { open, attach_receiver, attach_sender, receive, send, create, join };
    enum outcome : std::uint16_t { value, error, foreign };  ///< foreign: an exception other than ipckit::error
    std::uint16_t what;
    std::uint16_t how;
    std::uint32_t e;  ///< the errc, for how == error
    std::uint32_t producer;
    std::uint32_t intact;
    std::uint64_t seq;  ///< receive: the message's; send: the seq sent
};

inline const char* name_of(step::verb v) {
    static constexpr const char* names[] = {"open", "receiver()", "sender()", "receive", "send", "create", "join"};
    return names[v];
}

/// The probe's steps, in memory shared with the parent (made before the fork).
class probe_log {
public:
    static constexpr std::size_t max_steps = 512;

    probe_log() : memory_(sizeof(data)), data_(::new (memory_.data()) data) {}

    [[nodiscard]] std::size_t size() const noexcept {
        return std::min<std::size_t>(data_->count.load(std::memory_order_acquire), max_steps);
    }
    [[nodiscard]] const step& operator[](std::size_t i) const noexcept { return data_->steps[i]; }
    [[nodiscard]] const char* foreign_what() const noexcept { return data_->foreign; }

    void add(const step& s) noexcept {
        const std::uint32_t n = data_->count.load(std::memory_order_relaxed);
        if (n >= max_steps) return;
        data_->steps[n] = s;
        data_->count.store(n + 1, std::memory_order_release);
    }
    void foreign(const char* what) noexcept { std::snprintf(data_->foreign, sizeof data_->foreign, "%s", what); }

private:
    struct data {
        std::atomic<std::uint32_t> count{0};
        step steps[max_steps];
        char foreign[200] = {};
    };
    ipckit_test::shared_memory memory_;
    data* data_;
};

/// The probe's verbs, each logged as a step.
class prober {
public:
    explicit prober(probe_log& log) : log_(log) {}

    /// A set-up call: its value, or nothing (the errc, or the foreign exception, logged).
    template <class Make>
    auto setup(step::verb v, Make&& make) -> std::optional<decltype(make())> {
        try {
            std::optional<decltype(make())> made;
            made.emplace(make());
            log_.add({v, step::value, 0, 0, 0, 0});
            return made;
        } catch (const ipckit::error& e) {
            log_.add({v, step::error, static_cast<std::uint32_t>(e.reason()), 0, 0, 0});
        } catch (const std::exception& e) {
            log_.foreign(e.what());
            log_.add({v, step::foreign, 0, 0, 0, 0});
        }
        return std::nullopt;
    }

    /// Receives until a receive fails or `limit` messages came.
    template <class Codec, class Rx>
    void receive_all(Rx& rx, std::size_t limit = 64) {
        for (std::size_t i = 0; i < limit; ++i) {
            delivery d;
            const errc e = Codec::receive(rx, steady::now() + probe_wait, d);
            log_.add({step::receive, e == errc::ok ? step::value : step::error, static_cast<std::uint32_t>(e),
                      d.id.producer, d.intact ? 1u : 0u, d.id.seq});
            if (e != errc::ok) return;
        }
    }

    /// Sends the probe's own messages, seq 0, 1, ... until one fails or `count` went.
    template <class Codec, class Tx>
    void send_some(Tx& tx, std::size_t count = 4) {
        for (std::uint64_t seq = 0; seq < count; ++seq) {
            const errc e = Codec::send(tx, probe_producer, seq, steady::now() + probe_wait);
            log_.add({step::send, e == errc::ok ? step::value : step::error, static_cast<std::uint32_t>(e),
                      probe_producer, 1, seq});
            if (e != errc::ok) return;
        }
    }

    /// Logs a data-path result that is not a message (node verbs).
    void result(step::verb v, errc e) noexcept {
        log_.add({v, e == errc::ok ? step::value : step::error, static_cast<std::uint32_t>(e), 0, 0, 0});
    }
    void delivered(identity id, bool intact) noexcept {
        log_.add({step::receive, step::value, 0, id.producer, intact ? 1u : 0u, id.seq});
    }
    void sent(std::uint32_t producer, std::uint64_t seq, errc e) noexcept {
        log_.add({step::send, e == errc::ok ? step::value : step::error, static_cast<std::uint32_t>(e), producer, 1, seq});
    }

private:
    probe_log& log_;
};

/// The usual probe of a queue or mailbox Q: open it, receive what is there, send a few of the
/// probe's own, receive them, then try to create it again (it exists: README says
/// already_exists). `receives`: false where the probe may not be a receiver (a process_owned
/// mailbox, whose owner is the parent).
template <class Q, class Codec>
void probe_queue(const std::string& name, prober& p, bool receives = true) {
    if (auto q = p.setup(step::open, [&] { return Q::open(name, probe_options()); })) {
        auto rx = [&]() -> std::optional<decltype(q->receiver())> {
            if (!receives) return std::nullopt;
            return p.setup(step::attach_receiver, [&] { return q->receiver(); });
        }();
        if (rx) p.receive_all<Codec>(*rx);
        {
            auto tx = p.setup(step::attach_sender, [&] { return q->sender(); });
            if (tx) p.send_some<Codec>(*tx);
        }
        if (rx) p.receive_all<Codec>(*rx);
    }
    (void)p.setup(step::create, [&] { return Q::create(name, probe_options()); });
}

}  // namespace chaos
