#pragma once
// How the chaos drivers send and receive their messages (chaos_message.hpp) through any
// endpoint: fixed_codec for queues and mailboxes of T (taken by copy and by view in turn),
// bytes_codec<Max> for bytes<Max> queues, one message a call; batch_codec and
// bytes_batch_codec<Max> for the same through the batch verbs and loans of several, a run of
// messages a call. Each verb takes a steady_clock deadline (a past one makes a blocking endpoint
// try once) and returns an errc; a receive says who sent each message and whether it was intact.

#include "chaos_message.hpp"

#include <ipckit/error.hpp>
#include <ipckit/records.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace chaos {

using ipckit::errc;
using steady = std::chrono::steady_clock;

/// An errc as README spells it: "peer_dead", not "the peer process died".
constexpr const char* errc_name(errc e) noexcept {
    switch (e) {
    case errc::ok: return "ok";
    case errc::would_block: return "would_block";
    case errc::timed_out: return "timed_out";
    case errc::closed: return "closed";
    case errc::peer_dead: return "peer_dead";
    case errc::too_large: return "too_large";
    case errc::in_use: return "in_use";
    case errc::already_exists: return "already_exists";
    case errc::not_found: return "not_found";
    case errc::incompatible_layout: return "incompatible_layout";
    case errc::corrupt: return "corrupt";
    case errc::permission_denied: return "permission_denied";
    case errc::no_space: return "no_space";
    case errc::invalid_name: return "invalid_name";
    case errc::sender_busy: return "sender_busy";
    case errc::receiver_busy: return "receiver_busy";
    case errc::name_taken: return "name_taken";
    case errc::invalid_argument: return "invalid_argument";
    case errc::system_error: return "system_error";
    }
    return "errc(?)";
}

template <class R>
errc errc_of(const R& r) noexcept {
    return r ? errc::ok : r.error();
}

/// What a receive gave: the identity of the message and whether it was intact.
struct delivery {
    identity id;
    bool intact = false;
};

// ---- messages: fixed-size T, or bytes -------------------------------------------------------

struct fixed_codec {
    using message = stamped;
    template <class Tx>
    static errc send(Tx& tx, std::uint32_t producer, std::uint64_t seq, steady::time_point deadline) noexcept {
        return errc_of(tx.send(make_stamped(producer, seq), deadline));
    }
    template <class Rx>
    static errc receive(Rx& rx, steady::time_point deadline, delivery& out) noexcept {
        auto r = rx.receive(deadline);
        if (!r) return r.error();
        out = {r->id(), intact(*r)};
        return errc::ok;
    }
    /// As receive, handing the message to got(delivery): every other call, where the receiver
    /// lends views, read in place by a view released only after got() has logged it. So a
    /// receiver killed holding a view has logged the message it takes along (README: lost with
    /// it), and a successor that received it again would be caught receiving it twice.
    template <class Rx, class Got>
    static errc receive_one(Rx& rx, steady::time_point deadline, Got&& got) noexcept {
        if constexpr (requires { rx.receive_view(deadline); }) {
            static bool by_view = false;  // one receiver a process
            if ((by_view = !by_view)) {
                auto v = rx.receive_view(deadline);
                if (!v) return v.error();
                got(delivery{v->data().id(), intact(v->data())});
                return errc::ok;
            }
        }
        delivery d;
        const errc e = receive(rx, deadline, d);
        if (e == errc::ok) got(d);
        return e;
    }
};

template <std::size_t Max>
struct bytes_codec {
    static_assert(Max >= bytes_head);
    template <class Tx>
    static errc send(Tx& tx, std::uint32_t producer, std::uint64_t seq, steady::time_point deadline) noexcept {
        std::array<std::byte, Max> buf;
        const std::size_t n = encode(producer, seq, Max, buf);
        return errc_of(tx.send(std::span<const std::byte>(buf.data(), n), deadline));
    }
    template <class Rx>
    static errc receive(Rx& rx, steady::time_point deadline, delivery& out) noexcept {
        std::array<std::byte, Max> buf;
        auto r = rx.receive(std::span<std::byte>(buf), deadline);
        if (!r) return r.error();
        const auto id = decode(std::span<const std::byte>(buf.data(), *r), Max);
        out = {id.value_or(identity{}), id.has_value()};
        return errc::ok;
    }
};

/// How long the run from `seq` is, of a sender with `left` messages to send, sending runs of 1
/// to `most` (drawn from the run's first seq, so that the driver knows it too).
constexpr std::uint64_t run_from(std::uint64_t seq, std::uint64_t left, std::size_t most) noexcept {
    return std::min<std::uint64_t>(left, 1 + seq % most);
}

/// Fixed-size T through the batch verbs and loans of several (issue 15). A sender sends runs
/// (run_from), in turn by send(span) and by loan_n (written in place, committed whole); a
/// receiver takes up to MostPerReceive a call with receive(span), or one a call where
/// MostPerReceive is 1 (a round_robin receiver, which passes the turn after every message). So
/// a killed sender may have a run in flight (published, not yet counted sent), and a receiver
/// killed between a receive and logging what it took loses up to what one receive takes: the
/// driver allows for both (run_in_flight, most_taken_per_call).
template <std::size_t MostPerReceive = 5>
struct batch_codec : fixed_codec {  // its receive, one a call, where MostPerReceive is 1
    static constexpr std::size_t most_per_send = 5;  // under the rings' 8 slots: runs meet the wrap and a full ring
    static constexpr std::size_t most_per_receive = MostPerReceive;

    /// Sends up to `left` (> 0) messages from `seq` on as one run; `sent` says how many went.
    template <class Tx>
    static errc send_run(Tx& tx, std::uint32_t producer, std::uint64_t seq, std::uint64_t left,
                         steady::time_point deadline, std::size_t& sent) noexcept {
        sent = 0;
        const auto n = static_cast<std::size_t>(run_from(seq, left, most_per_send));
        if (seq % 3 == 2) {
            auto loans = tx.loan_n(n, deadline);  // up to n slots, fewer at the ring's wrap
            if (!loans) return loans.error();
            auto slots = loans->data();
            for (std::size_t i = 0; i < loans->size(); ++i) slots[i] = make_stamped(producer, seq + i);
            const std::size_t lent = loans->size();
            if (auto done = loans->commit(); !done) return done.error();
            sent = lent;
            return errc::ok;
        }
        std::array<stamped, most_per_send> run;
        for (std::size_t i = 0; i < n; ++i) run[i] = make_stamped(producer, seq + i);
        auto r = tx.send(std::span<const stamped>(run.data(), n), deadline);
        if (!r) return r.error();
        sent = *r;
        return errc::ok;
    }
    /// Takes up to most_per_receive messages, at least one, and hands each to got(delivery).
    template <class Rx, class Got>
    static errc receive_run(Rx& rx, steady::time_point deadline, Got&& got) noexcept {
        std::array<stamped, most_per_receive> out;
        auto r = rx.receive(std::span<stamped>(out), deadline);
        if (!r) return r.error();
        for (std::size_t i = 0; i < *r; ++i) got(delivery{out[i].id(), intact(out[i])});
        return errc::ok;
    }
};

/// bytes<Max> through the batch verbs (issue 15): a sender sends runs (run_from) in
/// ipckit::records, and where its ring lends room for several at once (a byte
/// ring's loan_records) every third run is written there in place; a receiver takes with
/// receive(records) into room for most_per_send messages of Max bytes, which holds up to
/// most_per_receive of the shortest.
template <std::size_t Max>
struct bytes_batch_codec {
    static_assert(Max >= bytes_head);
    static constexpr std::size_t most_per_send = 5;
    static constexpr std::size_t room = ipckit::records::storage_for(most_per_send, Max);
    static constexpr std::size_t most_per_receive = room / ipckit::records::footprint(bytes_head);

    template <class Tx>
    static errc send_run(Tx& tx, std::uint32_t producer, std::uint64_t seq, std::uint64_t left,
                         steady::time_point deadline, std::size_t& sent) noexcept {
        sent = 0;
        const auto n = static_cast<std::size_t>(run_from(seq, left, most_per_send));
        if constexpr (requires { typename Tx::records_loan_type; }) {  // a byte ring's sender
            if (seq % 3 == 2) {
                auto lent = tx.loan_records(room, deadline);  // at least one message of Max fits
                if (!lent) return lent.error();
                fill(*lent, producer, seq, n);
                auto r = lent->publish();
                if (!r) return r.error();
                sent = *r;
                return errc::ok;
            }
        }
        std::array<std::byte, room> storage;
        ipckit::records run{storage};
        fill(run, producer, seq, n);
        auto r = tx.send(run, deadline);
        if (!r) return r.error();
        sent = *r;
        return errc::ok;
    }
    template <class Rx, class Got>
    static errc receive_run(Rx& rx, steady::time_point deadline, Got&& got) noexcept {
        std::array<std::byte, room> storage;
        ipckit::records in{storage};
        auto r = rx.receive(in, deadline);
        if (!r) return r.error();
        for (const std::span<const std::byte> m : in) {
            const auto id = decode(m, Max);
            got(delivery{id.value_or(identity{}), id.has_value()});
        }
        return errc::ok;
    }

private:
    /// Writes messages seq, seq + 1 ... of `producer` into `out` (records, or a loan of several:
    /// the same reserve and commit), up to n of them, as many as fit.
    template <class Out>
    static void fill(Out& out, std::uint32_t producer, std::uint64_t seq, std::size_t n) noexcept {
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t len = bytes_length(producer, seq + i, Max);
            std::byte* at = out.reserve(len);
            if (at == nullptr) return;
            encode(producer, seq + i, Max, std::span<std::byte>(at, len));
            (void)out.commit(len);
        }
    }
};

/// How many of a sender's messages may be in flight at its kill, if it had counted seq 0 ..
/// sent-1 of its `messages` sent: the run it was sending where Codec sends runs, else the one.
template <class Codec>
constexpr std::uint64_t run_in_flight(std::uint64_t sent, std::uint64_t messages) noexcept {
    if constexpr (requires { Codec::most_per_send; })
        return run_from(sent, messages - sent, Codec::most_per_send);
    else
        return 1;
}
/// How many messages one receive of Codec may take: where Codec takes runs, up to a run.
template <class Codec>
inline constexpr std::size_t most_taken_per_call = [] {
    if constexpr (requires { Codec::most_per_receive; })
        return Codec::most_per_receive;
    else
        return std::size_t{1};
}();

/// One call's worth of sending through Codec: a run where Codec sends runs, else one message.
template <class Codec, class Tx>
errc send_some(Tx& tx, std::uint32_t producer, std::uint64_t seq, std::uint64_t left, steady::time_point deadline,
               std::size_t& sent) noexcept {
    if constexpr (requires { Codec::most_per_send; }) {
        return Codec::send_run(tx, producer, seq, left, deadline, sent);
    } else {
        const errc e = Codec::send(tx, producer, seq, deadline);
        sent = e == errc::ok ? 1 : 0;
        return e;
    }
}

/// One call's worth of receiving through Codec, each message handed to got(delivery).
template <class Codec, class Rx, class Got>
errc receive_some(Rx& rx, steady::time_point deadline, Got&& got) noexcept {
    if constexpr (most_taken_per_call<Codec> > 1) {
        return Codec::receive_run(rx, deadline, got);
    } else if constexpr (requires { Codec::receive_one(rx, deadline, got); }) {
        return Codec::receive_one(rx, deadline, got);
    } else {
        delivery d;
        const errc e = Codec::receive(rx, deadline, d);
        if (e == errc::ok) got(d);
        return e;
    }
}

}  // namespace chaos
