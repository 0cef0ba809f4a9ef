#pragma once
// A message policy as a kind that carries every message in a fixed-size slot carries it (the
// unbounded chain, the rendezvous' offer slots): what a slot holds (T itself; record<Max> for
// bytes<Max>, detail/ring/record.hpp), how the layout description names the message, and
// which public verbs its endpoints offer (send_verbs / receive_verbs for T, the bytes verbs for
// bytes<Max>). One place, so that the kinds that take either message agree.

#include <ipckit/detail/endpoint/bytes_verbs.hpp>
#include <ipckit/detail/endpoint/verbs.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/policy.hpp>

#include <cstddef>
#include <string>

namespace ipckit::detail {

template <class M>
struct slot_message {
    using slot = M;
    template <class Derived, mode_policy Mode>
    using send_verbs_of = send_verbs<Derived, M, Mode>;
    template <class Derived, mode_policy Mode>
    using receive_verbs_of = receive_verbs<Derived, M, Mode>;
    static std::string description() { return describe_message<M>(); }
};

template <std::size_t Max>
struct slot_message<bytes<Max>> {
    using slot = record<Max>;
    template <class Derived, mode_policy Mode>
    using send_verbs_of = bytes_send_verbs<Derived, Max, Mode>;
    template <class Derived, mode_policy Mode>
    using receive_verbs_of = bytes_receive_verbs<Derived, Mode>;
    /// As every kind of bytes<Max> names it, so that opening with another Max is
    /// incompatible_layout naming both.
    static std::string description() { return "bytes<" + std::to_string(Max) + ">"; }
};

/// What a slot of a kind carrying message policy M holds: T, or record<Max>.
template <class M>
using slot_of = typename slot_message<M>::slot;

}  // namespace ipckit::detail
