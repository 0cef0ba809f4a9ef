#pragma once
// A kind of queue as a templated scenario sees it (peer_death_process_test.cpp,
// closed_rule_test.cpp): the queue type, and a send and a receive of tick `seq` that say what
// happened as an errc, with a deadline (by default ipckit_test::patience). A tick is checked
// on the way in; a bytes<Max> queue carries a tick's bytes.

#include "messages.hpp"
#include "support.hpp"

#include <ipckit/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace ipckit_test {

/// A kind of queue of ticks.
template <class Q>
struct ticks {
    using queue = Q;
    static ipckit::errc send(auto& tx, std::uint64_t seq, auto deadline) {
        return err(tx.send(make_tick(seq), deadline));
    }
    static ipckit::errc send(auto& tx, std::uint64_t seq) { return send(tx, seq, patience); }
    static ipckit::errc receive(auto& rx, std::uint64_t& seq, auto deadline) {
        const auto r = rx.receive(deadline);
        if (!r) return r.error();
        if (r->check != check_of(r->seq)) return ipckit::errc::corrupt;
        seq = r->seq;
        return ipckit::errc::ok;
    }
    static ipckit::errc receive(auto& rx, std::uint64_t& seq) { return receive(rx, seq, patience); }
};

/// A kind of queue of bytes<Max>: a tick's bytes are the message.
template <class Q>
struct tick_bytes {
    using queue = Q;
    static ipckit::errc send(auto& tx, std::uint64_t seq, auto deadline) {
        const tick t = make_tick(seq);
        return err(tx.send(std::as_bytes(std::span(&t, 1)), deadline));
    }
    static ipckit::errc send(auto& tx, std::uint64_t seq) { return send(tx, seq, patience); }
    static ipckit::errc receive(auto& rx, std::uint64_t& seq, auto deadline) {
        std::array<std::byte, 2 * sizeof(tick)> buf{};
        const auto n = rx.receive(std::span(buf), deadline);
        if (!n) return n.error();
        tick t{};
        if (*n != sizeof t) return ipckit::errc::corrupt;
        std::memcpy(&t, buf.data(), sizeof t);
        if (t.check != check_of(t.seq)) return ipckit::errc::corrupt;
        seq = t.seq;
        return ipckit::errc::ok;
    }
    static ipckit::errc receive(auto& rx, std::uint64_t& seq) { return receive(rx, seq, patience); }
};

}  // namespace ipckit_test
