#pragma once
// A mailbox whose every attached receiver gets every message (delivery policy broadcast).
// Placeholder: the implementation lands with the broadcast ring.

#include <ipckit/policy.hpp>

#include <cstddef>

namespace ipckit::detail {

template <message T, std::size_t N, ownership_policy Ownership, wait_policy Wait>
class broadcast_mailbox;

}  // namespace ipckit::detail
