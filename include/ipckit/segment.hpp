#pragma once
// Named shared-memory segments: the seed's "shared-memory region" that process A creates and
// processes B and C attach to their address spaces.
//
// A segment starts with a header that says what lives inside (a readable description and its
// fingerprint), how big it is, and how far its initialisation got. Exactly one process creates
// and initialises a segment (O_EXCL decides); everyone else attaches only once the creator has
// marked it ready, and gets a clear error if the creator died half-way, if the segment holds
// something else, or if it has been truncated or overwritten. The header's immutable part carries
// a checksum, and every reader validates it (detail::check_header) before it trusts any field:
// a header that does not validate is corrupt, whatever field is wrong, and never read as "absent"
// or "abandoned". create() refuses to replace such a segment and says how to remove it.
//
// The creator holds a shared flock on the object from its creation (before it sizes it) until
// it has initialised it, and a process_owned creator keeps holding it for as long as its
// process holds any handle of the segment (they all share the creator's descriptor:
// detail/shm/mapped_segment.hpp). The kernel drops the lock when its holder dies, so "can I take
// an exclusive lock?" tells attachers whether a creator is still at work and tells create()
// whether a process_owned segment has lost its owner, with no window and no pid to misread. Whoever removes an abandoned segment does so holding that
// exclusive lock, after checking that the name still names the same object. Attachers ask
// whether a process_owned owner lives without taking any lock: the owner also holds an OFD read
// lock on byte 0 (the owner mark, detail/sys/shm.hpp), which F_OFD_GETLK reports, so a prober
// holding the flock for a moment is never mistaken for the owner.

#include <ipckit/deadline.hpp>
#include <ipckit/detail/shm/header.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/shm/mapped_segment.hpp>
#include <ipckit/detail/sys/futex.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ipckit {

/// Set-up options shared by every kind of segment and its endpoints.
struct options {
    /// How often a blocked send or receive checks that its peer process still lives; a peer
    /// killed without closing is reported as peer_dead within about this long.
    std::chrono::milliseconds liveness_interval{100};
    /// open: how long to wait for a segment's creator to finish initialising it (a creator found
    /// dead is corrupt at once; one that died before sizing its object, within 2 s at most).
    std::chrono::milliseconds init_timeout{2000};
    /// create: permission bits of the segment (umask does not narrow them).
    unsigned mode = 0600;
};

/// Longest name accepted; the rest of NAME_MAX is kept for ipckit's prefix and suffixes.
inline constexpr std::size_t max_name_length = 200;

namespace detail {

/// The liveness interval a process uses for `opt`: opt.liveness_interval within range
/// (usable_liveness). The one place every endpoint, mailbox and node reads it.
inline std::chrono::nanoseconds liveness_of(const options& opt) noexcept {
    return usable_liveness(opt.liveness_interval);
}

/// Throws invalid_name unless `name` is 1..max characters of [A-Za-z0-9_-], and '.' too (but not
/// first) where `dots` allows. `what` names the kind of name in the message ("segment", "member").
inline void check_name(std::string_view name, std::size_t max, const char* what, bool dots) {
    auto fail = [&](const std::string& why) {
        throw error(errc::invalid_name, std::string("invalid ") + what + " name '" + detail::quoted(name) + "': " + why +
                                            ". Use 1 to " + std::to_string(max) + " characters from A-Z a-z 0-9 " +
                                            (dots ? ". _ -, not starting with '.'" : "_ -"));
    };
    if (name.empty()) fail("it is empty");
    if (name.size() > max) fail("it is " + std::to_string(name.size()) + " characters long");
    if (dots && name.front() == '.') fail("it starts with '.'");
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-' || (dots && c == '.');
        if (!ok) fail(c == '/' ? "it contains '/'" : "it contains the character '" + detail::quoted({&c, 1}) + "'");
    }
}

/// Throws invalid_name unless `name` is 1..max_name_length of [A-Za-z0-9._-], not starting with '.'.
inline void validate_name(std::string_view name) { check_name(name, max_name_length, "segment", true); }

/// What ipckit puts before a segment's name to name its POSIX shared-memory object.
inline constexpr std::string_view os_prefix = "ipckit.";

/// The names of the segments that exist now and start with `prefix` (without ipckit's prefix).
inline std::vector<std::string> segment_names(std::string_view prefix) {
    std::vector<std::string> out;
    for (auto& n : sys::shm_list(std::string(os_prefix) + std::string(prefix))) out.push_back(n.substr(os_prefix.size()));
    return out;
}

/// The name of the POSIX shared-memory object behind a validated segment name.
inline std::string os_name(std::string_view name) {
    // Appended piece by piece: gcc 12 warns falsely (-Wrestrict) on "/" + std::string&&.
    std::string os = "/";
    os += os_prefix;
    os += name;
    return os;
}

/// create(), or open() if the name exists; again if it was removed between the two, or if
/// open() found it corrupt and reclaim() (segment::remove_if_abandoned) removed it as
/// abandoned: its creator died before sizing or finishing it, which create() could not yet
/// tell (an object still empty is judged abandoned only once it is options::init_timeout old,
/// which open() has just waited); or if, reclaim() or not, `name` no longer names the object
/// open() found corrupt (another racer reclaimed it and made a new one, or its creator gave up
/// and removed it): that one's fault is not the name's. Exactly one of several racing processes
/// creates: what every open_or_create is. A damaged segment stays corrupt.
template <class Create, class Open, class Reclaim>
auto create_or_open(std::string_view name, Create&& create, Open&& open, Reclaim&& reclaim) -> decltype(create()) {
    for (;;) {
        try {
            return create();
        } catch (const error& e) {
            if (e.reason() != errc::already_exists) throw;
        }
        const ino_t opened = sys::shm_inode(os_name(name));  // the object open() is about to find
        try {
            return open();
        } catch (const error& e) {
            if (e.reason() == errc::not_found) continue;  // removed between the two: try again
            if (e.reason() != errc::corrupt) throw;
            if (!reclaim() && opened != 0 && sys::shm_inode(os_name(name)) == opened) throw;
        }
    }
}

/// How to remove the segment `name`, for a message: "ipckit::remove_segment("x") (or rm ...)".
inline std::string how_to_remove(std::string_view name) {
    return "ipckit::remove_segment(\"" + std::string(name) + "\") (or rm " + sys::shm_dir + os_name(name) + ")";
}

}  // namespace detail

/// A named shared-memory segment with a validated header. Movable, not copyable. A
/// process_owned segment lives while the process that created it holds any handle of it (every
/// handle that process opens on it shares the creator's mapping: detail/shm/mapped_segment.hpp), and
/// goes with the last of them or with the process; a system_owned one stays until remove_segment().
class segment {
public:
    /// Creates `name` exclusively and runs init(body) before anyone can attach. Throws
    /// already_exists (unless the existing segment is abandoned: a process_owned one whose owner
    /// has gone, or one whose creator died before finishing it, which is replaced), corrupt (the
    /// existing segment's header is damaged: it is never replaced), invalid_name,
    /// permission_denied, no_space.
    template <ownership_policy Ownership, class Init>
    static segment create(std::string_view name, const segment_layout& want, const options& opt, Init&& init) {
        detail::validate_name(name);
        const std::string os = detail::os_name(name);
        for (int attempt = 0;; ++attempt) {
            try {
                detail::creation_in_progress making;
                detail::sys::file f = detail::sys::shm_create(
                    os, opt.mode, [&making](const detail::sys::file& made) noexcept { making.note(made); });
                if (f.get() < 0) {  // it lost its name before this creator locked it: again
                    if (attempt < 8) continue;
                    throw error(errc::system_error,
                                "segment '" + std::string(name) + "' lost its name while being created, " +
                                    std::to_string(attempt + 1) +
                                    " times: something removes new objects from /dev/shm as they appear");
                }
                detail::sys::shm_reserve(f, os, want.size, opt.mode);
                return initialise<Ownership>(name, std::move(f), want, std::forward<Init>(init));
            } catch (const error& e) {
                if (e.reason() != errc::already_exists) throw;
                if (attempt == 0 && reclaim_if_abandoned(name, os, opt.init_timeout)) continue;
                throw error(errc::already_exists,
                            "segment '" + std::string(name) +
                                "' already exists: open it instead, or remove it first with ipckit::remove_segment(\"" +
                                std::string(name) + "\")");
            }
        }
    }

    /// Attaches to an existing `name`, waiting up to opt.init_timeout for its creator to finish.
    /// Throws not_found, incompatible_layout (saying what differs), corrupt, permission_denied.
    static segment open(std::string_view name, const segment_layout& want, const options& opt) {
        detail::validate_name(name);
        const std::string os = detail::os_name(name);
        const auto deadline = detail::deadline_after(opt.init_timeout);  // milliseconds::max(): for ever
        const auto refused_for = std::min(opt.init_timeout, unlocked_grace);  // a creator's umask moment at most
        const auto refused_until = detail::deadline_after(refused_for);
        detail::sys::file f;
        for (;;) {
            try {
                f = detail::sys::shm_open_existing(os);
                break;
            } catch (const error& e) {
                // Refused by a mode that umask narrowed, for the moment before its creator sets
                // the mode asked for (another user's creator: sys::shm_still_empty): again.
                if (e.reason() == errc::permission_denied && detail::sys::clock::now() < refused_until &&
                    detail::sys::shm_still_empty(os, refused_for)) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                    continue;
                }
                if (e.reason() != errc::not_found) throw;
                throw error(errc::not_found, "segment '" + std::string(name) + "' does not exist (no " +
                                                 detail::sys::shm_dir + os + "): create it first, or check the name");
            }
        }
        return attach(name, std::move(f), want, opt, deadline);
    }

    /// Opens `name`, or creates it if it does not exist; when several processes race, exactly
    /// one creates and initialises and the others attach.
    template <ownership_policy Ownership, class Init>
    static segment open_or_create(std::string_view name, const segment_layout& want, const options& opt,
                                  Init&& init) {
        return detail::create_or_open(name, [&] { return create<Ownership>(name, want, opt, init); },
                                      [&] { return open(name, want, opt); },
                                      [&] { return remove_if_abandoned(name, opt); });
    }

    /// Removes `name` if it is abandoned, as create() would replace it: a process_owned segment
    /// whose owner has gone, one whose creator died or gave up before finishing it, an empty
    /// object older than opt.init_timeout. Judged while holding the object's exclusive lock (so
    /// never while a creator or an owner holds it), and removed only if the name still names the
    /// object judged: it never races a process that creates that name. Returns whether the name
    /// is free now (false: in use, or not abandoned). Throws corrupt when the header is damaged
    /// (a damaged segment is never taken for abandoned), invalid_name.
    static bool remove_if_abandoned(std::string_view name, const options& opt = {}) {
        detail::validate_name(name);
        return reclaim_if_abandoned(name, detail::os_name(name), opt.init_timeout);
    }

    segment(segment&&) noexcept = default;
    segment& operator=(segment&&) = delete;
    segment(const segment&) = delete;
    segment& operator=(const segment&) = delete;
    ~segment() = default;  // the last handle of a process_owned segment in its owner removes it

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] bool created() const noexcept { return created_; }
    /// The bytes after the header, aligned to cache_line.
    [[nodiscard]] void* body() const noexcept { return static_cast<char*>(mapped_->data()) + detail::header_size; }
    [[nodiscard]] std::size_t size() const noexcept { return mapped_->size(); }
    /// Removes the name if it still names this segment: one created under the name since this
    /// one was opened keeps it. False if the name is gone or names another.
    bool remove_name() const { return detail::sys::shm_remove_if_same(detail::os_name(name_), mapped_->file()); }

    /// For the layer that created a process_owned segment, right after creating it: `fn(body)`
    /// runs when the last handle of it in this process goes, before the name is removed (a
    /// mailbox marks itself owner_gone there). It must not throw. Does nothing on a handle that
    /// did not create the segment, or on a system_owned one.
    void at_last_release(std::function<void(void* body)> fn) {
        if (!created_ || !detail::mapped_segment::owned(mapped_->file())) return;
        mapped_->on_last_release([fn = std::move(fn)](char* base) { fn(base + detail::header_size); });
    }

private:
    /// How long an empty object that nobody holds locked may be waited on as one still being
    /// created, where init_timeout is as long: its creator locks it a moment after creating it
    /// (sys::shm_create), and gives it its mode and size right after.
    static constexpr std::chrono::milliseconds unlocked_grace{2000};

    segment(std::string_view name, std::shared_ptr<detail::mapped_segment> m, bool created)
        : name_(name), mapped_(std::move(m)), created_(created) {}

    detail::segment_header& header() const noexcept { return *static_cast<detail::segment_header*>(mapped_->data()); }

    template <ownership_policy Ownership, class Init>
    static segment initialise(std::string_view name, detail::sys::file f, const segment_layout& want, Init&& init) {
        const std::string os = detail::os_name(name);
        // `f` holds the creator's shared flock (shm_create took it before sizing the object).
        // The owner mark before the segment can be seen ready: an attacher never finds it unset
        // while the owner lives.
        if (std::is_same_v<Ownership, process_owned> && !detail::sys::set_owner_mark(f)) {
            const int err = errno;
            detail::sys::shm_remove_quietly(os);
            detail::sys::throw_errno(err, "cannot mark segment '" + std::string(name) + "' as owned by this process",
                                     "A process_owned segment needs open file description locks (fcntl F_OFD_SETLK, "
                                     "Linux 3.15 or later) on /dev/shm; use system_owned otherwise");
        }
        constexpr bool owned = std::is_same_v<Ownership, process_owned>;
        segment s(name, std::make_shared<detail::mapped_segment>(os, std::move(f)), true);
        try {
            // Before ready: a thread of this process that opens the segment once it is ready
            // shares this mapping, and with it the ownership. Before mapping: from here a child
            // forked meanwhile moves the mapping onto a description of its own, which it could
            // not do for one mapped before (mapped_segment.hpp).
            if (owned) detail::mapped_segment::own(s.mapped_);
            s.mapped_->map(want.size, "segment '" + std::string(name) + "'");
        } catch (...) {
            detail::sys::shm_remove_quietly(os);
            throw;
        }
        auto& h = s.header();
        // SYNC POINT WRITE: creator before state leaves uninit, so a waiter that sees
        // initializing can tell whether the creator still lives.
        h.creator.store(detail::sys::self().pack(), std::memory_order_relaxed);
        std::uint32_t expected = detail::segment_header::uninit;
        h.state.compare_exchange_strong(expected, detail::segment_header::initializing, std::memory_order_release);
        h.magic = detail::segment_header::magic_value;
        h.layout_version = detail::segment_header::current_version;
        h.size = want.size;
        h.fingerprint = want.fingerprint();
        h.ownership = Ownership::id;
        h.description_length =
            static_cast<std::uint32_t>(std::min(want.description.size(), sizeof h.description));
        std::memcpy(h.description, want.description.data(), h.description_length);
        try {
            init(s.body());
        } catch (...) {
            h.state.store(detail::segment_header::corrupt, std::memory_order_release);
            detail::sys::futex_wake(h.state);
            detail::sys::shm_remove_quietly(os);
            s.mapped_->disown();
            throw;
        }
        // Last before ready: a header with a valid checksum is one whose creator finished it.
        h.checksum = detail::header_checksum(h, detail::segment_header::current_version);
        // SYNC POINT WRITE: header (checksum included) and body; READ in attach() after its
        // acquire load of state.
        h.state.store(detail::segment_header::ready, std::memory_order_release);
        detail::sys::futex_wake(h.state);
        if (!owned) detail::sys::unlock(s.mapped_->file());  // a process_owned owner keeps it
        return s;
    }

    /// Attaches to the object `f` of `name`, waiting until `deadline` (open's, from
    /// opt.init_timeout) for its creator to finish.
    static segment attach(std::string_view name, detail::sys::file f, const segment_layout& want, const options& opt,
                          deadline_clock::time_point deadline) {
        using detail::segment_header;
        const std::string what = "segment '" + std::string(name) + "'";
        const std::string remedy = ". Remove it with " + detail::how_to_remove(name) + " and create it again";
        auto st = f.status(what);
        // The creator sizes the object right after creating it; wait for that, but not forever:
        // nor, where init_timeout is as long, past a few seconds for an empty object that nobody
        // holds locked, whose creator died before sizing it (a live one holds its lock from a
        // moment after it creates the object: sys::shm_create). A shorter init_timeout is waited
        // whole, so that a caller can tell a creator too slow for it (shm:// handshakes do).
        const bool judge_unlocked = opt.init_timeout >= unlocked_grace;  // the default's 2 s too
        while (static_cast<std::size_t>(st.st_size) < detail::header_size) {
            if (detail::sys::clock::now() >= deadline ||
                (judge_unlocked && detail::sys::status_age(st) > unlocked_grace && !held_by_another(f)))
                throw error(errc::corrupt, what + " is " + std::to_string(st.st_size) +
                                               " bytes, too small for an ipckit segment: its creator died "
                                               "before sizing it, or it is not an ipckit segment" + remedy);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            st = f.status(what);
        }
        const auto size = static_cast<std::size_t>(st.st_size);
        segment s(name, std::make_shared<detail::mapped_segment>(detail::os_name(name), std::move(f)), false);
        s.mapped_->map(size, what);
        auto& h = s.header();
        for (;;) {
            // SYNC POINT READ: everything the creator wrote before its release store of ready.
            const std::uint32_t state = h.state.load(std::memory_order_acquire);
            if (state == segment_header::ready) break;
            if (state == segment_header::corrupt)
                throw error(errc::corrupt, what + " is marked corrupt: its creator failed while initialising it" + remedy);
            if (state > segment_header::corrupt)
                throw error(errc::corrupt, what + " has an invalid header (state word " + std::to_string(state) +
                                               "): it is not an ipckit segment or was overwritten" + remedy);
            if (creator_gone(s.mapped_->file(), h))
                throw error(errc::corrupt,
                            what +
                                (written(h) ? std::string(" has a damaged header: its state word says ") +
                                                  (state == segment_header::uninit ? "uninit" : "initializing") +
                                                  ", but its creator had finished it"
                                             : " was left half-initialised by process " +
                                                   std::to_string(detail::sys::process_id::unpack(
                                                                      h.creator.load(std::memory_order_acquire))
                                                                      .pid) +
                                                   ", which died") +
                                remedy);
            const auto now = detail::sys::clock::now();
            if (now >= deadline)
                throw error(errc::corrupt, what + " is still not initialised after " +
                                               std::to_string(opt.init_timeout.count()) + " ms" + remedy);
            detail::sys::futex_wait(h.state, state, std::min(deadline, now + std::chrono::milliseconds(10)));
        }
        // No field but state is read before the header has passed its one validation.
        if (const auto fault = detail::check_header(h, size))
            throw error(fault->reason, what + " " + fault->why + (fault->reason == errc::corrupt ? remedy : ""));
        if (h.fingerprint != want.fingerprint()) {
            const std::size_t n = std::min<std::size_t>(h.description_length, sizeof h.description);
            throw error(errc::incompatible_layout, what + " holds " + std::string(h.description, n) +
                                                       ", but this program asks for " + want.description +
                                                       ". Use the same message type, capacity, producer/consumer "
                                                       "and ownership policies on both sides, or another name");
        }
        if (want.size != 0 && size != want.size)
            throw error(errc::corrupt, what + " is " + std::to_string(size) + " bytes, but its layout needs " +
                                           std::to_string(want.size) + ": it was truncated or overwritten" + remedy);
        // A process_owned segment goes with its owner: if no one holds the owner mark, the
        // owner has ended and the segment is only waiting for the next create to replace it.
        // (Not a try of the exclusive flock: that fails as well while a prober (reclaim, another
        // attacher) holds it for a moment, and a dead owner's segment would be taken as live.)
        if (h.ownership == process_owned::id && !detail::sys::owner_mark_held(s.mapped_->file())) {
            throw error(errc::not_found, what + " belonged to a process that has ended (it is process_owned), "
                                                "so it is gone: create it again");
        }
        // In the owning process, every handle shares the owner's mapping: the segment lives
        // while any of them does (detail/shm/mapped_segment.hpp).
        if (h.ownership == process_owned::id)
            if (auto mine = detail::mapped_segment::owned(s.mapped_->file())) s.mapped_ = std::move(mine);
        return s;
    }

    /// Whether the creator no longer holds its lock while the header still says `uninit` or
    /// `initializing`: it took it before sizing the object, and lets go once it is ready.
    static bool creator_gone(const detail::sys::file& f, const detail::segment_header& h) noexcept {
        if (!detail::sys::try_lock(f, true)) return false;
        const std::uint32_t state = h.state.load(std::memory_order_acquire);
        const bool gone = state == detail::segment_header::uninit || state == detail::segment_header::initializing;
        detail::sys::unlock(f);
        return gone;
    }
    /// Whether a process holds a flock on the object `f` (a creator at work, an owner, a prober
    /// for a moment). Takes nothing (its own probe's moment aside).
    static bool held_by_another(const detail::sys::file& f) noexcept {
        if (!detail::sys::try_lock(f, true)) return true;
        detail::sys::unlock(f);
        return false;
    }

    /// Removes the segment `os` (named `name`) if nobody can be using it any more, and returns
    /// true; false while it is in use, or not ours to judge (another layout version), or if it
    /// cannot be read. Throws corrupt when its header is damaged, whatever field is wrong and
    /// whoever holds it: a damaged segment says nothing about who uses it, so it is never taken
    /// for an abandoned one, and create refuses it.
    static bool reclaim_if_abandoned(std::string_view name, const std::string& os, std::chrono::milliseconds grace) {
        try {
            const detail::sys::file f = detail::sys::shm_open_existing(os);
            (void)abandoned(name, f, os, grace, false);  // a damaged ready header, even while its owner lives
            if (!detail::sys::lock_exclusive_past_probers(f)) return false;  // a creator or an owner is there
            const detail::sys::unlock_at_exit locked(f);
            return abandoned(name, f, os, grace, true) && detail::sys::shm_remove_if_same(os, f);
        } catch (const error& e) {
            if (e.reason() == errc::corrupt) throw;
            return e.reason() == errc::not_found;  // removed meanwhile: the name is free again
        } catch (...) {
            return false;
        }
    }

    /// Whether the segment open as `f` is abandoned. `locked`: the caller holds its exclusive
    /// flock, so no creator or owner is at work on it; without the lock, only what no creator or
    /// owner could be in the middle of is judged, and the answer is false. Abandoned: a
    /// process_owned segment whose header is intact (so that its ownership word can be believed);
    /// one whose creator died or gave up before finishing its header (it has no valid checksum
    /// yet); an empty object older than `grace` (its creator died before sizing it). Throws
    /// corrupt, saying how to remove it, when its header is damaged.
    static bool abandoned(std::string_view name, const detail::sys::file& f, const std::string& os,
                          std::chrono::milliseconds grace, bool locked) {
        using detail::segment_header;
        const auto st = f.status(os);
        const auto size = static_cast<std::size_t>(st.st_size);
        std::optional<detail::header_fault> damage;
        bool gone = false;
        if (size == 0) {
            gone = locked && detail::sys::status_age(st) > grace;
        } else if (size < detail::header_size) {  // a creator sizes it whole, at once
            damage = detail::header_fault{errc::corrupt, "is " + std::to_string(size) +
                                                             " bytes, too small for an ipckit segment: it was "
                                                             "truncated, or it is not an ipckit segment"};
        } else {
            const detail::sys::mapping m(f, detail::header_size, os);
            const auto& h = *static_cast<const segment_header*>(m.data());
            const std::uint32_t state = h.state.load(std::memory_order_acquire);
            if (state == segment_header::ready) {
                damage = detail::check_header(h, size);
                if (damage && damage->reason != errc::corrupt) return false;    // another version's
                gone = locked && !damage && h.ownership == process_owned::id;  // and no owner holds it
            } else if (state > segment_header::corrupt) {
                damage = detail::header_fault{errc::corrupt, "has an invalid header (state word " +
                                                                 std::to_string(state) + "): it was overwritten"};
            } else if (!locked) {
                return false;  // its creator may be at work
            } else if (written(h)) {
                damage = detail::header_fault{errc::corrupt, "has a damaged header: its state word says " +
                                                                 std::to_string(state) +
                                                                 ", but its creator had finished it"};
            } else {
                // Never finished: its creator died (initializing; uninit, if it died between
                // sizing the object and beginning its header) or gave up (corrupt). A creator
                // sizes the object only once it holds its lock (sys::shm_create), which we hold.
                gone = true;
            }
        }
        if (damage)
            throw error(errc::corrupt, "cannot create segment '" + std::string(name) +
                                           "': a segment of that name exists and " + damage->why +
                                           ". create does not replace a damaged segment, which may still hold what "
                                           "someone needs. If nothing does, remove it with " +
                                           detail::how_to_remove(name) + " and create it again");
        return gone;
    }

    static bool written(const detail::segment_header& h) noexcept { return detail::checksum_written(h); }

    std::string name_;
    std::shared_ptr<detail::mapped_segment> mapped_;
    bool created_ = false;
};

namespace detail {

/// Whether the segment `name` is the head of an unbounded queue, as its header says (its
/// description names an unbounded<...> capacity): a segment whose messages lie in other
/// segments, which removing it by name alone would leave behind. False if it is not, is gone,
/// or its header cannot be trusted (then nothing leads to chunks anyway).
inline bool heads_a_chain(std::string_view name) {
    try {
        const sys::file f = sys::shm_open_existing(os_name(name));
        bool chain = false;
        (void)with_ready_body(f, 0, "segment '" + std::string(name) + "'", [&](void*, const segment_header& h) {
            const std::string_view d(h.description, std::min<std::size_t>(h.description_length, sizeof h.description));
            const auto q = parse_queue_description(d);
            // A description cut short at 200 characters does not parse; its capacity still shows.
            chain = q ? q->kind == queue_description::unbounded
                      : d.substr(0, 14) == "ipckit::queue<" && d.find(", unbounded<") != std::string_view::npos;
        });
        return chain;
    } catch (const error&) {  // gone, or not ours to read: the removal itself will say
        return false;
    }
}

}  // namespace detail

/// Removes the segment `name` (a queue, a mailbox...). Processes that have it open keep using
/// it; new ones no longer find it. Returns false if there was none. Throws invalid_name, and
/// invalid_argument for the head of an unbounded queue, which would leave its chunks behind:
/// that one is removed whole by Q::remove(name) or ipckit::remove_any(name).
/// (Not called remove: with `using namespace ipckit`, remove("x") would pick C's ::remove.)
inline bool remove_segment(std::string_view name) {
    detail::validate_name(name);
    if (detail::heads_a_chain(name))
        throw error(errc::invalid_argument,
                    "segment '" + std::string(name) +
                        "' is an unbounded queue, whose messages lie in chunk segments '" + std::string(name) +
                        ".<number>' that removing it by name alone would leave behind. Remove the whole queue with "
                        "Q::remove(\"" + std::string(name) + "\"), ipckit::remove_any(\"" + std::string(name) +
                        "\") (<ipckit/inspect.hpp>) or `ipckit rm " + std::string(name) + "`");
    return detail::sys::shm_remove(detail::os_name(name));
}

/// Whether a segment called `name` exists now.
inline bool segment_exists(std::string_view name) {
    detail::validate_name(name);
    return detail::sys::shm_inode(detail::os_name(name)) != 0;
}

}  // namespace ipckit
