#pragma once
// Named shared-memory segments: the seed's "shared-memory region" that process A creates and
// processes B and C attach to their address spaces.
//
// A segment starts with a header that says what lives inside (a readable description and its
// fingerprint), how big it is, and how far its initialisation got. Exactly one process creates
// and initialises a segment (O_EXCL decides); everyone else attaches only once the creator has
// marked it ready, and gets a clear error if the creator died half-way, if the segment holds
// something else, or if it has been truncated or overwritten.
//
// The creator holds a shared flock on the object while it initialises it, and a process_owned
// creator keeps holding it for as long as its handle lives. The kernel drops the lock when its
// holder dies, so "can I take an exclusive lock?" tells attachers whether a creator is still
// at work and tells create() whether a process_owned segment has lost its owner, with no
// window and no pid to misread. Whoever removes an abandoned segment does so holding that
// exclusive lock, after checking that the name still names the same object. Attachers ask
// whether a process_owned owner lives without taking any lock: the owner also holds an OFD read
// lock on byte 0 (the owner mark, detail/sys/shm.hpp), which F_OFD_GETLK reports, so a prober
// holding the flock for a moment is never mistaken for the owner.

#include <ipckit/detail/layout.hpp>
#include <ipckit/detail/sys/futex.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sys/file.h>
#include <time.h>
#include <unistd.h>

namespace ipckit {

/// Set-up options shared by every kind of segment and its endpoints.
struct options {
    /// How often a blocked send or receive checks that its peer process still lives; a peer
    /// killed without closing is reported as peer_dead within about this long.
    std::chrono::milliseconds liveness_interval{100};
    /// open: how long to wait for a segment's creator to finish initialising it.
    std::chrono::milliseconds init_timeout{2000};
    /// create: permission bits of the segment (umask does not narrow them).
    unsigned mode = 0600;
    /// unbounded queues: the most bytes of shared memory the chain of segments may hold at
    /// once; a send past it is no_space. 0: a quarter of the space free in /dev/shm when the
    /// queue is created.
    std::size_t unbounded_cap = 0;
    /// broadcast mailboxes, create: how many receivers may be attached at once (256 bytes of
    /// shared memory each). 0: 1024. Opening takes the mailbox's own number, whatever this says.
    std::size_t max_receivers = 0;
};

/// Longest name accepted; the rest of NAME_MAX is kept for ipckit's prefix and suffixes.
inline constexpr std::size_t max_name_length = 200;

namespace detail {

/// Throws invalid_name unless `name` is 1..max characters of [A-Za-z0-9_-], and '.' too (but not
/// first) where `dots` allows. `what` names the kind of name in the message ("segment", "member").
inline void check_name(std::string_view name, std::size_t max, const char* what, bool dots) {
    auto fail = [&](const std::string& why) {
        throw error(errc::invalid_name, std::string("invalid ") + what + " name '" + std::string(name) + "': " + why +
                                            ". Use 1 to " + std::to_string(max) + " characters from A-Z a-z 0-9 " +
                                            (dots ? ". _ -, not starting with '.'" : "_ -"));
    };
    if (name.empty()) fail("it is empty");
    if (name.size() > max) fail("it is " + std::to_string(name.size()) + " characters long");
    if (dots && name.front() == '.') fail("it starts with '.'");
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-' || (dots && c == '.');
        if (!ok) fail(c == '/' ? "it contains '/'" : "it contains the character '" + std::string(1, c) + "'");
    }
}

/// Throws invalid_name unless `name` is 1..max_name_length of [A-Za-z0-9._-], not starting with '.'.
inline void validate_name(std::string_view name) { check_name(name, max_name_length, "segment", true); }

/// create(), or open() if the name exists; again if it was removed between the two. Exactly one
/// of several racing processes creates: what every open_or_create is.
template <class Create, class Open>
auto create_or_open(Create&& create, Open&& open) -> decltype(create()) {
    for (;;) {
        try {
            return create();
        } catch (const error& e) {
            if (e.reason() != errc::already_exists) throw;
        }
        try {
            return open();
        } catch (const error& e) {
            if (e.reason() != errc::not_found) throw;  // removed between the two: try again
        }
    }
}

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

/// Layout of the first 256 bytes of every segment; the body follows at offset 256.
///
///   0   magic               "ipckit" 0x00 0x01: an ipckit segment at all
///   8   layout_version      bumped whenever any shared layout changes
///   12  state               futex word: uninit(0) -> initializing(1) -> ready(2) | corrupt(3)
///   16  size                total bytes of the segment, header included
///   24  fingerprint         fnv1a(description)
///   32  creator             packed process id of the creator (written before state leaves uninit)
///   40  ownership           process_owned::id or system_owned::id
///   44  description_length  bytes used in description
///   48  description         what lives inside, e.g. "queue<tick (16 B, align 8), bounded<64>, ...>"
struct segment_header {
    static constexpr std::uint64_t magic_value = 0x0100'7469'6b63'7069ULL;  // "ipckit\0\1" little-endian
    static constexpr std::uint32_t current_version = 3;  // 2: the owner mark (an OFD lock); 3: ring stamps and index checks
    enum : std::uint32_t { uninit = 0, initializing = 1, ready = 2, corrupt = 3 };

    std::uint64_t magic;
    std::uint32_t layout_version;
    std::atomic<std::uint32_t> state;
    std::uint64_t size;
    std::uint64_t fingerprint;
    std::atomic<std::uint64_t> creator;
    std::uint32_t ownership;
    std::uint32_t description_length;
    char description[208];
};
static_assert(sizeof(segment_header) == 256 && std::is_standard_layout_v<segment_header>,
              "the segment header is a fixed 256-byte layout shared by every ipckit version 1 program");

inline constexpr std::size_t header_size = sizeof(segment_header);

}  // namespace detail

/// A named shared-memory segment with a validated header. Movable, not copyable. The creator's
/// handle removes a process_owned segment when it goes; a system_owned one stays until remove_segment().
class segment {
public:
    /// Creates `name` exclusively and runs init(body) before anyone can attach. Throws
    /// already_exists (unless the existing segment is a process_owned one whose creator died,
    /// which is replaced), invalid_name, permission_denied, no_space.
    template <ownership_policy Ownership, class Init>
    static segment create(std::string_view name, const detail::segment_layout& want, const options& opt, Init&& init) {
        detail::validate_name(name);
        const std::string os = detail::os_name(name);
        for (int attempt = 0;; ++attempt) {
            try {
                detail::sys::file f = detail::sys::shm_create(os, want.size, opt.mode);
                return initialise<Ownership>(name, std::move(f), want, std::forward<Init>(init));
            } catch (const error& e) {
                if (e.reason() != errc::already_exists) throw;
                if (attempt == 0 && reclaim_if_abandoned(os, opt.init_timeout)) continue;
                throw error(errc::already_exists,
                            "segment '" + std::string(name) +
                                "' already exists: open it instead, or remove it first with ipckit::remove_segment(\"" +
                                std::string(name) + "\")");
            }
        }
    }

    /// Attaches to an existing `name`, waiting up to opt.init_timeout for its creator to finish.
    /// Throws not_found, incompatible_layout (saying what differs), corrupt, permission_denied.
    static segment open(std::string_view name, const detail::segment_layout& want, const options& opt) {
        detail::validate_name(name);
        const std::string os = detail::os_name(name);
        detail::sys::file f;
        try {
            f = detail::sys::shm_open_existing(os);
        } catch (const error& e) {
            if (e.reason() != errc::not_found) throw;
            throw error(errc::not_found, "segment '" + std::string(name) + "' does not exist (no " +
                                             detail::sys::shm_dir + os + "): create it first, or check the name");
        }
        return attach(name, std::move(f), want, opt);
    }

    /// Opens `name`, or creates it if it does not exist; when several processes race, exactly
    /// one creates and initialises and the others attach.
    template <ownership_policy Ownership, class Init>
    static segment open_or_create(std::string_view name, const detail::segment_layout& want, const options& opt,
                                  Init&& init) {
        return detail::create_or_open([&] { return create<Ownership>(name, want, opt, init); },
                                      [&] { return open(name, want, opt); });
    }

    segment(segment&&) noexcept = default;
    segment& operator=(segment&&) = delete;
    segment(const segment&) = delete;
    segment& operator=(const segment&) = delete;

    ~segment() {
        // A forked child inherits the handle but not the ownership.
        if (!removes_on_close_ || mapping_.data() == nullptr || ::getpid() != owner_pid_) return;
        // Remove the name only if it still names our object: someone may have removed it and
        // created another under the same name meanwhile.
        detail::sys::shm_remove_if_same(detail::os_name(name_), file_);
    }

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] bool created() const noexcept { return created_; }
    /// The bytes after the header, aligned to cache_line.
    [[nodiscard]] void* body() const noexcept { return static_cast<char*>(mapping_.data()) + detail::header_size; }
    [[nodiscard]] std::size_t size() const noexcept { return mapping_.size(); }

private:
    segment(std::string_view name, detail::sys::file f, detail::sys::mapping m, bool created, bool removes)
        : name_(name), file_(std::move(f)), mapping_(std::move(m)), owner_pid_(::getpid()),
          created_(created), removes_on_close_(removes) {}

    detail::segment_header& header() const noexcept { return *static_cast<detail::segment_header*>(mapping_.data()); }

    template <ownership_policy Ownership, class Init>
    static segment initialise(std::string_view name, detail::sys::file f, const detail::segment_layout& want, Init&& init) {
        const std::string os = detail::os_name(name);
        // Blocking: a prober may hold the exclusive lock for a moment.
        ::flock(f.get(), LOCK_SH);
        // The owner mark before the segment can be seen ready: an attacher never finds it unset
        // while the owner lives.
        if (std::is_same_v<Ownership, process_owned> && !detail::sys::set_owner_mark(f)) {
            const int err = errno;
            ::shm_unlink(os.c_str());
            detail::sys::throw_errno(err, "cannot mark segment '" + std::string(name) + "' as owned by this process",
                                     "A process_owned segment needs open file description locks (fcntl F_OFD_SETLK, "
                                     "Linux 3.15 or later) on /dev/shm; use system_owned otherwise");
        }
        segment s(name, std::move(f), detail::sys::mapping{}, true, std::is_same_v<Ownership, process_owned>);
        try {
            s.mapping_ = detail::sys::mapping(s.file_, want.size, "segment '" + std::string(name) + "'");
        } catch (...) {
            ::shm_unlink(os.c_str());
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
            ::shm_unlink(os.c_str());
            s.removes_on_close_ = false;
            throw;
        }
        // SYNC POINT WRITE: header and body; READ in attach() after its acquire load of state.
        h.state.store(detail::segment_header::ready, std::memory_order_release);
        detail::sys::futex_wake(h.state);
        if (!s.removes_on_close_) detail::sys::unlock(s.file_);  // a process_owned owner keeps it
        return s;
    }

    static segment attach(std::string_view name, detail::sys::file f, const detail::segment_layout& want, const options& opt) {
        using detail::segment_header;
        const std::string what = "segment '" + std::string(name) + "'";
        const std::string remedy = ". Remove it with ipckit::remove_segment(\"" + std::string(name) + "\") (or rm " +
                                   detail::sys::shm_dir + detail::os_name(name) + ") and create it again";
        const auto deadline = detail::sys::clock::now() + opt.init_timeout;
        auto st = f.status(what);
        // The creator sizes the object right after creating it; wait for that, but not forever.
        while (static_cast<std::size_t>(st.st_size) < detail::header_size) {
            if (detail::sys::clock::now() >= deadline)
                throw error(errc::corrupt, what + " is " + std::to_string(st.st_size) +
                                               " bytes, too small for an ipckit segment: its creator died "
                                               "before sizing it, or it is not an ipckit segment" + remedy);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            st = f.status(what);
        }
        const auto size = static_cast<std::size_t>(st.st_size);
        segment s(name, std::move(f), detail::sys::mapping{}, false, false);
        s.mapping_ = detail::sys::mapping(s.file_, size, what);
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
            if (state == segment_header::initializing && creator_gone(s.file_, h))
                throw error(errc::corrupt, what + " was left half-initialised by process " +
                                               std::to_string(detail::sys::process_id::unpack(
                                                                  h.creator.load(std::memory_order_acquire))
                                                                  .pid) +
                                               ", which died" + remedy);
            const auto now = detail::sys::clock::now();
            if (now >= deadline)
                throw error(errc::corrupt, what + " is still not initialised after " +
                                               std::to_string(opt.init_timeout.count()) + " ms" + remedy);
            detail::sys::futex_wait(h.state, state, std::min(deadline, now + std::chrono::milliseconds(10)));
        }
        if (h.magic != segment_header::magic_value)
            throw error(errc::corrupt, what + " is not an ipckit segment, or its header was overwritten" + remedy);
        if (h.layout_version != segment_header::current_version)
            throw error(errc::incompatible_layout,
                        what + " was made by an ipckit with layout version " + std::to_string(h.layout_version) +
                            "; this program uses version " + std::to_string(segment_header::current_version) +
                            ". Rebuild both programs against the same ipckit, or remove the segment");
        if (h.fingerprint != want.fingerprint()) {
            const std::size_t n = std::min<std::size_t>(h.description_length, sizeof h.description);
            throw error(errc::incompatible_layout, what + " holds " + std::string(h.description, n) +
                                                       ", but this program asks for " + want.description +
                                                       ". Use the same message type, capacity and producer/consumer "
                                                       "policies on both sides, or another name");
        }
        // A process_owned segment goes with its owner: if no one holds the owner mark, the
        // owner has ended and the segment is only waiting for the next create to replace it.
        // (Not a try of the exclusive flock: that fails as well while a prober (reclaim, another
        // attacher) holds it for a moment, and a dead owner's segment would be taken as live.)
        if (h.ownership == process_owned::id && !detail::sys::owner_mark_held(s.file_)) {
            throw error(errc::not_found, what + " belonged to a process that has ended (it is process_owned), "
                                                "so it is gone: create it again");
        }
        if (h.size != size || size != want.size)
            throw error(errc::corrupt, what + " is " + std::to_string(size) + " bytes but its header says " +
                                           std::to_string(h.size) + " and its layout needs " +
                                           std::to_string(want.size) + ": it was truncated or overwritten" + remedy);
        return s;
    }

    /// Whether the creator no longer holds its lock while the header still says `initializing`.
    static bool creator_gone(const detail::sys::file& f, const detail::segment_header& h) noexcept {
        if (!detail::sys::try_lock(f, true)) return false;
        const bool gone = h.state.load(std::memory_order_acquire) == detail::segment_header::initializing;
        detail::sys::unlock(f);
        return gone;
    }

    /// A segment that nobody can be using any more: a process_owned one whose owner has gone,
    /// one whose creator died before finishing it, or one left empty for longer than
    /// `grace`. Removes it (under its exclusive lock) and returns true.
    static bool reclaim_if_abandoned(const std::string& os, std::chrono::milliseconds grace) noexcept {
        try {
            detail::sys::file f = detail::sys::shm_open_existing(os);
            if (!detail::sys::try_lock(f, true)) return false;  // a creator or an owner is there
            const auto st = f.status(os);
            bool abandoned;
            if (static_cast<std::size_t>(st.st_size) < detail::header_size) {
                abandoned = age(st) > grace;  // its creator died before sizing it
            } else {
                detail::sys::mapping m(f, detail::header_size, os);
                const auto& h = *static_cast<const detail::segment_header*>(m.data());
                switch (h.state.load(std::memory_order_acquire)) {
                case detail::segment_header::ready:
                    abandoned = h.magic == detail::segment_header::magic_value && h.ownership == process_owned::id;
                    break;
                case detail::segment_header::uninit: abandoned = age(st) > grace; break;
                default: abandoned = true; break;  // initializing (creator died) or corrupt
                }
            }
            return abandoned && detail::sys::shm_remove_if_same(os, f);
        } catch (...) {
            return false;
        }
    }

    static std::chrono::nanoseconds age(const struct stat& st) noexcept {
        timespec now{};
        ::clock_gettime(CLOCK_REALTIME, &now);
        return std::chrono::seconds(now.tv_sec - st.st_ctim.tv_sec) + std::chrono::nanoseconds(now.tv_nsec - st.st_ctim.tv_nsec);
    }

    std::string name_;
    detail::sys::file file_;
    detail::sys::mapping mapping_;
    pid_t owner_pid_ = 0;
    bool created_ = false;
    bool removes_on_close_ = false;
};

/// Removes the segment `name` (a queue, a mailbox...). Processes that have it open keep using
/// it; new ones no longer find it. Returns false if there was none. Throws invalid_name.
/// (Not called remove: with `using namespace ipckit`, remove("x") would pick C's ::remove.)
inline bool remove_segment(std::string_view name) {
    detail::validate_name(name);
    return detail::sys::shm_remove(detail::os_name(name));
}

/// Whether a segment called `name` exists now.
inline bool segment_exists(std::string_view name) {
    detail::validate_name(name);
    return detail::sys::shm_inode(detail::os_name(name)) != 0;
}

}  // namespace ipckit
