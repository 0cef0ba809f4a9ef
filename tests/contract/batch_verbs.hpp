#pragma once
// The batch verbs of the contract kinds (kinds.hpp, net_kinds.hpp): a batch of ticks sent as one
// call, and one call's batch received, over the endpoint's send(span) and receive(span) for a
// fixed-size tick, or over ipckit::records for bytes<Max> (a tick's bytes each). The kinds of
// IPCKIT_CONTRACT_BATCH_KINDS name one of these (a connection, once connected).

#include "../messages.hpp"

#include <ipckit/error.hpp>
#include <ipckit/records.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace ipckit_test::contract {

/// send(span) and receive(span) of ticks.
struct batch_verbs {
    /// Sends ticks first, first + 1, ... (n of them) as one batch: how many were sent, or why none.
    static ipckit::result<std::size_t> send_batch(auto& tx, std::uint64_t first, std::size_t n, auto... deadline) {
        std::vector<tick> ts(n);
        for (std::size_t i = 0; i < n; ++i) ts[i] = make_tick(first + i);
        return tx.send(std::span<const tick>(ts), deadline...);
    }
    /// Receives up to `max` ticks as one batch, appending their seqs to `seqs`: how many, or why
    /// none (corrupt if one is torn, or the count is more than asked for).
    static ipckit::result<std::size_t> receive_batch(auto& rx, std::vector<std::uint64_t>& seqs, std::size_t max,
                                                     auto... deadline) {
        std::vector<tick> ts(max);
        const auto r = rx.receive(std::span<tick>(ts), deadline...);
        if (!r) return r;
        if (*r > max) return ipckit::unexpected(ipckit::errc::corrupt);
        for (std::size_t i = 0; i < *r; ++i) {
            if (ts[i].check != check_of(ts[i].seq)) return ipckit::unexpected(ipckit::errc::corrupt);
            seqs.push_back(ts[i].seq);
        }
        return r;
    }
};

/// send(records) and receive(records) of bytes<Max>, each message a tick's bytes.
struct records_batch_verbs {
    static ipckit::result<std::size_t> send_batch(auto& tx, std::uint64_t first, std::size_t n, auto... deadline) {
        std::vector<std::byte> storage(ipckit::records::storage_for(n, sizeof(tick)));
        ipckit::records batch{storage};
        for (std::size_t i = 0; i < n; ++i) {
            const tick t = make_tick(first + i);
            if (!batch.push_back(std::as_bytes(std::span(&t, 1)))) return ipckit::unexpected(ipckit::errc::no_space);
        }
        return tx.send(batch, deadline...);
    }
    /// As batch_verbs', into records with room for `max` ticks. (Records have no empty form: a
    /// receive into no room at all is too_large, so `max` 0 asks nothing, and is 0.)
    static ipckit::result<std::size_t> receive_batch(auto& rx, std::vector<std::uint64_t>& seqs, std::size_t max,
                                                     auto... deadline) {
        if (max == 0) return std::size_t{0};
        std::vector<std::byte> storage(ipckit::records::storage_for(max, sizeof(tick)));
        ipckit::records batch{storage};
        const auto r = rx.receive(batch, deadline...);
        if (!r) return r;
        if (*r > max || *r != batch.size()) return ipckit::unexpected(ipckit::errc::corrupt);
        for (const std::span<const std::byte> m : batch) {
            tick t{};
            if (m.size() != sizeof t) return ipckit::unexpected(ipckit::errc::corrupt);
            std::memcpy(&t, m.data(), sizeof t);
            if (t.check != check_of(t.seq)) return ipckit::unexpected(ipckit::errc::corrupt);
            seqs.push_back(t.seq);
        }
        return r;
    }
};

}  // namespace ipckit_test::contract
