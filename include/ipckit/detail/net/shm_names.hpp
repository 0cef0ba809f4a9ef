#pragma once
// Who removes the names of a shm:// connection's queues, "<listener>.<id>.up" and ".down", so
// that what a client sent outlives the client until the listener takes it, as a socket's data
// waits in the kernel for accept.
//
// The queues are system_owned: a client that sends, closes and exits before accept leaves them,
// and its messages, behind. Their names are removed (the mappings stay with whoever has them):
//   by accept          as soon as it has opened both (the connection is then its two mappings);
//   by accept          when it rejects the request (the queues are closed first: the client
//                      sees closed);
//   by the listener    when it closes, for every request it never took (closed first, likewise);
//   by a new listener  of the same name at bind, for pairs an earlier one left (killed with
//                      requests pending; closed first, likewise): no client can ask the new one
//                      before its bind ends;
//   by the client      when it finds, while unaccepted, that its listener has gone (a verb or
//                      a waitset looks about once per liveness interval: shm_unclaimed::look),
//                      or when it ends unaccepted with its listener gone;
//   by the client      when its request could not be sent, or was sent to a listener that had
//                      closed.
// A client removes only names it created: an id is the client's pid and 32 random bits, and
// connect makes another on already_exists, so a pid reused by a later process never names a
// dead client's pair (shm_rendezvous.hpp).
//   by another client  that takes over the door place of a client killed before its request
//                      was taken (shm_door.hpp), for the pairs the dead one made.
// What is left: the pair of a client killed between making its queues and sending its request,
// and the pairs of a listener killed with requests pending whose clients were killed too, until
// the next bind of that name or, for the first, until a client takes over the dead one's place
// (at most the request ring's 64 plus the door's cap, and the pairs a client killed half-way
// through making them left without a header).
//
// Names. A listener's name is a segment name (segment.hpp: at most max_name_length), less room
// for the longest of these suffixes, which address.hpp's parse_address checks (shm_name_room).

#include <ipckit/detail/net/address.hpp>
#include <ipckit/detail/shm/header.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/segment.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace ipckit::detail {

/// The longest suffix a listener's name gets: a connection's ".<id>.down", the id's 20 digits
/// at most (address.hpp keeps room for it).
static_assert(shm_name_room == std::string_view(".").size() + (std::numeric_limits<std::uint64_t>::digits10 + 1) +
                                   std::string_view(".down").size(),
              "a shm:// listener's name must leave room for \".<id>.down\" (see address.hpp)");

inline std::string shm_up_name(const std::string& name, std::uint64_t id) { return name + "." + std::to_string(id) + ".up"; }
inline std::string shm_down_name(const std::string& name, std::uint64_t id) {
    return name + "." + std::to_string(id) + ".down";
}

/// Removes both names of the connection `id` of listener `name` (the mappings stay). Never throws.
inline void shm_forget(const std::string& name, std::uint64_t id) noexcept {
    sys::shm_remove_quietly(os_name(shm_up_name(name, id)));
    sys::shm_remove_quietly(os_name(shm_down_name(name, id)));
}

/// The connection id in `segment` if it is one of listener `name`'s connection queues: exactly
/// "<name>.<digits>.up" or ".down" (so listener "a" never takes listener "a.1"'s, "a.1.<id>.up"),
/// with an id that fits 64 bits; nullopt otherwise.
inline std::optional<std::uint64_t> shm_connection_id_in(std::string_view name, std::string_view segment) noexcept {
    if (segment.size() <= name.size() + 1 || segment.substr(0, name.size()) != name || segment[name.size()] != '.')
        return std::nullopt;
    const std::string_view rest = segment.substr(name.size() + 1);
    std::uint64_t id = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), id);
    const std::string_view suffix(end, static_cast<std::size_t>(rest.data() + rest.size() - end));
    if (ec != std::errc{} || end == rest.data() || (suffix != ".up" && suffix != ".down")) return std::nullopt;
    return id;
}
inline bool shm_is_connection_name(std::string_view name, std::string_view segment) noexcept {
    return shm_connection_id_in(name, segment).has_value();
}

/// The creator word of the header of segment object `os` (a packed process id), or 0 if it
/// cannot be read (gone, too short, not ours to open). Never throws.
inline std::uint64_t shm_creator_of(const std::string& os) noexcept {
    try {
        const sys::file f = sys::shm_open_existing(os);
        std::uint64_t creator = 0;
        constexpr auto at = static_cast<off_t>(offsetof(segment_header, creator));
        return ::pread(f.get(), &creator, sizeof creator, at) == static_cast<ssize_t>(sizeof creator) ? creator : 0;
    } catch (...) {
        return 0;
    }
}

/// Removes the connection queues of listener `name` that the dead client `client` (its packed
/// process id) made: those of a client killed before the listener took its request, whose door
/// place another client has taken over (the listener refuses that request, should it come, so
/// nobody will ever take them). Only a pair whose id carries the client's pid and whose header
/// names it as creator: never that of a live process that got the same pid. Never throws.
inline void shm_forget_pairs_of(const std::string& name, std::uint64_t client) noexcept {
    const std::uint32_t pid = sys::process_id::unpack(client).pid;
    try {
        for (const auto& s : segment_names(name + ".")) {
            const auto id = shm_connection_id_in(name, s);
            if (id && (*id >> 32) == pid && shm_creator_of(os_name(s)) == client) sys::shm_remove_quietly(os_name(s));
        }
    } catch (...) {
    }
}

/// At bind, after the door (which no live listener of `name` holds), once no live listener holds
/// the request queue either (shm_rendezvous.hpp), and before the request queue: closes
/// (`close(segment name)`, which must not throw) and removes the connection queues an earlier
/// listener of `name` left, so that a client still waiting on one sees closed. Never throws
/// (what cannot be listed stays).
template <class Close>
void shm_sweep(const std::string& name, Close&& close) noexcept {
    try {
        for (const auto& s : segment_names(name + "."))
            if (shm_is_connection_name(name, s)) {
                close(s);
                sys::shm_remove_quietly(os_name(s));
            }
    } catch (...) {
    }
}

/// A client's: removes its queue names when its end goes, if no listener took them (accept
/// removes them) and none will (the listener it asked has gone); and, while its end lives, tells
/// whether that listener has taken them, or gone without (look). Movable, not copyable.
class shm_unclaimed {
public:
    /// What look() found.
    enum class claim {
        pending,  // the queues wait for the listener asked, which lives
        taken,    // the listener took them (or dropped them, closing them first): nothing to watch
        lost,     // the listener asked has gone without taking them: nobody ever will
    };

    shm_unclaimed() = default;
    /// For the connection `id` that asked listener `name`, whose request queue is open as `requests`.
    shm_unclaimed(std::string name, std::uint64_t id, ino_t requests) : name_(std::move(name)), id_(id), requests_(requests) {}
    shm_unclaimed(shm_unclaimed&& o) noexcept : name_(std::move(o.name_)), id_(o.id_), requests_(o.requests_) {
        o.name_.clear();
    }
    shm_unclaimed& operator=(shm_unclaimed&&) = delete;
    shm_unclaimed(const shm_unclaimed&) = delete;
    shm_unclaimed& operator=(const shm_unclaimed&) = delete;

    ~shm_unclaimed() {
        if (name_.empty() || sys::shm_inode(os_name(shm_up_name(name_, id_))) == 0) return;  // taken, or moved from
        if (!listener_lives()) shm_forget(name_, id_);
    }

    /// Whether there is anything to watch: a client's, until look() said taken or forget().
    [[nodiscard]] bool watching() const noexcept { return !name_.empty(); }

    /// Asks the OS whether the listener asked has taken the queues (accept removes their names
    /// once it has them), or has gone without: its request queue is another, or nobody owns it.
    /// System calls. Taken: there is nothing more to watch (watching() is false from then on).
    [[nodiscard]] claim look() noexcept {
        if (name_.empty()) return claim::taken;
        const auto up = os_name(shm_up_name(name_, id_));
        if (sys::shm_inode(up) != 0) {
            if (listener_lives()) return claim::pending;
            // Gone, unless it took the queues and then closed (which removes its request
            // queue's name) between the two looks.
            if (sys::shm_inode(up) != 0) return claim::lost;
        }
        name_.clear();
        return claim::taken;
    }

    /// Removes the queues' names now (look() said lost); nothing is left to watch or remove.
    void forget() noexcept {
        if (name_.empty()) return;
        shm_forget(name_, id_);
        name_.clear();
    }

private:
    /// Whether the request queue asked is still there and its owner (the listener) lives.
    [[nodiscard]] bool listener_lives() const noexcept {
        try {
            const sys::file f = sys::shm_open_existing(os_name(name_));
            return f.status(name_).st_ino == requests_ && sys::owner_mark_held(f);
        } catch (...) {
            return false;
        }
    }

    std::string name_;  // empty: nothing to do
    std::uint64_t id_ = 0;
    ino_t requests_ = 0;
};

}  // namespace ipckit::detail
