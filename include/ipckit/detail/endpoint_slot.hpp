#pragma once
// Who holds an endpoint of a segment: a word in shared memory that is vacant, closed, or the
// packed identity (pid + start time) of the process that holds it.
//
// Claimed by CAS, so two processes cannot both take it; taken over when its holder has died;
// set to closed when the holder lets go, so that the peer can tell "closed" from "died" from
// "not there yet".

#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>

#include <atomic>
#include <cstdint>
#include <optional>

namespace ipckit::detail {

struct endpoint_slot {
    static constexpr std::uint64_t vacant = 0;  ///< nobody has held it yet
    static constexpr std::uint64_t closed = 1;  ///< the last holder let go

    std::atomic<std::uint64_t> holder{vacant};

    /// Takes the slot for `me`. Returns nullopt on success, or the live process that holds it.
    std::optional<sys::process_id> claim(const sys::process_id& me) noexcept {
        std::uint64_t cur = holder.load(std::memory_order_acquire);
        for (;;) {
            if (cur != vacant && cur != closed) {
                const auto h = sys::process_id::unpack(cur);
                if (cur == me.pack() || sys::is_alive(h)) return h;
            }
            // SYNC POINT WRITE/READ: acq_rel, so a successor sees all its predecessor did.
            if (holder.compare_exchange_weak(cur, me.pack(), std::memory_order_acq_rel, std::memory_order_acquire))
                return std::nullopt;
        }
    }

    /// Lets go of a slot that `me` holds (nothing happens if someone took it over meanwhile).
    void release(const sys::process_id& me) noexcept {
        std::uint64_t cur = me.pack();
        // SYNC POINT WRITE: everything this holder published; READ by the peer's state().
        holder.compare_exchange_strong(cur, closed, std::memory_order_release, std::memory_order_relaxed);
    }

    /// ok while the holder is there (or nobody has come yet), closed after it let go, and
    /// peer_dead if ask_os and its process has ended. Without ask_os: one load, no system call.
    [[nodiscard]] errc state(bool ask_os) const noexcept {
        const std::uint64_t cur = holder.load(std::memory_order_acquire);
        if (cur == closed) return errc::closed;
        if (cur == vacant || !ask_os) return errc::ok;
        return sys::is_alive(sys::process_id::unpack(cur)) ? errc::ok : errc::peer_dead;
    }
};
static_assert(sizeof(endpoint_slot) == 8 && std::is_standard_layout_v<endpoint_slot>);

}  // namespace ipckit::detail
