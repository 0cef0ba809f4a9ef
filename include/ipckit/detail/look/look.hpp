#pragma once
// For an inspector (ipckit/inspect.hpp): one look at a segment by its name, and whether it is
// stale. The object is opened and mapped read-only, its file examined, its header checked by
// check_header() (snapshot_header), its body read by its kind (detail/look/body.hpp); a chunk
// or a link is judged stale by a look at what should lead to it (its queue, its domain). Never
// a write, a wait or a lock: what cannot be read is reported with the reason.

#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/look/body.hpp>
#include <ipckit/detail/node/link_name.hpp>
#include <ipckit/detail/queue/unbounded.hpp>
#include <ipckit/detail/shm/header.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>
#include <ipckit/segment_info.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/stat.h>

namespace ipckit::detail {

/// The file of segment `name`: /dev/shm/ipckit.<name>.
inline std::string segment_path(std::string_view name) { return std::string(sys::shm_dir) + os_name(name); }

/// Whether `name` is one that ipckit gives segments.
inline bool valid_segment_name(std::string_view name) noexcept {
    try {
        validate_name(name);
        return true;
    } catch (...) {
        return false;
    }
}

inline std::chrono::system_clock::time_point to_time_point(const timespec& t) noexcept {
    return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec)));
}

/// Whether the segment described by `info` was created longer than a creator's grace ago (what
/// segment::create gives a creator to begin: options::init_timeout).
inline bool past_grace(const segment_info& info) noexcept {
    return info.created && std::chrono::system_clock::now() - *info.created > options{}.init_timeout;
}

/// Whether a process holds a flock on the object open as `f`: a creator at work on it holds one
/// from the moment it exists (sys::shm_create). Takes nothing (a prober's moment aside).
inline bool locked_by_another(const sys::file& f) noexcept {
    if (!sys::try_lock(f, true)) return true;
    sys::unlock(f);
    return false;
}

inline void set_stale(segment_info& info, std::string why) {
    info.stale = true;
    info.stale_reason = std::move(why);
}

inline segment_info look(std::string_view name, liveness& live);

/// Whether `info`'s description fills the header's field, and so may have been cut short there,
/// before it says what capacity its queue has (an unbounded queue's cut description that still
/// says so is heads_a_chain's).
inline bool capacity_cut(const segment_info& info) noexcept {
    const std::string_view d = info.description;
    return d.size() >= sizeof(segment_header::description) && d.find(", bounded<") == std::string_view::npos &&
           d.find(", zero_capacity") == std::string_view::npos;
}

/// Whether the chunk described by `info` (its chain's base `base`) is one that nothing leads to
/// any more: its queue's head, looked at now (after the chunk was opened), is gone or stale,
/// belongs to another chain, or no longer (or never) leads to it.
inline void judge_chunk(segment_info& info, std::uint64_t base, liveness& live) {
    const segment_info head = look(info.queue, live);
    if (head.status == segment_status::vanished) {
        set_stale(info, "its queue '" + info.queue + "' is gone");
    } else if (head.stale) {  // its owner (or creator) died: for good, and a new create starts a new chain
        set_stale(info, "its queue '" + info.queue + "' is stale: " + head.stale_reason);
    } else if (head.status == segment_status::ok && head.chain) {
        if (auto why = unreachable_chunk(*head.chain, base, *info.chunk_index)) set_stale(info, std::move(*why));
    } else if (head.status == segment_status::ok && !heads_a_chain(info.queue) && !capacity_cut(head)) {
        set_stale(info, "'" + info.queue + "' is not an unbounded queue");
    }
    // A head that cannot be read says nothing about its chunks: they are left alone. Nor does
    // one whose description was cut short in its header (a message type with a long name), so
    // that its chain cannot be read from it: it may be an unbounded queue all the same.
}

/// Whether the link described by `info` is one that nothing leads to any more: neither end's
/// incarnation is a live member of its domain (incarnations are never reused, so such a link
/// never comes back to use; a member's node removes such links when it joins), and no live
/// process holds either end. Only a domain of that name makes a queue named as a link one:
/// without it, it is a queue like any other, someone's, whose name merely looks like a link's.
inline void judge_link(segment_info& info, liveness& live) {
    const auto l = parse_link_name(info.queue, info.name);
    const segment_info domain = look(info.queue, live);
    if (domain.status == segment_status::vanished ||
        (domain.status == segment_status::ok && domain.kind != segment_kind::domain)) {
        info.kind = segment_kind::queue;
        if (info.note.empty())
            info.note = "named as a link of domain '" + info.queue +
                        "', which is not there: if it is a link its domain's removal left, nothing uses it, and "
                        "ipckit rm removes it by name";
        info.queue.clear();
        return;
    }
    if (std::any_of(info.endpoints.begin(), info.endpoints.end(),
                    [](const endpoint_info& e) { return e.state == endpoint_state::alive; }))
        return;  // in use, whatever the domain says
    if (domain.status != segment_status::ok || !l) return;
    const auto live_member = [&](std::uint64_t inc) {
        return std::any_of(domain.members.begin(), domain.members.end(),
                           [&](const member_info& m) { return m.incarnation == inc && m.alive; });
    };
    if (!live_member(l->from_incarnation) && !live_member(l->to_incarnation))
        set_stale(info, "neither of its ends (" + l->from + ", " + l->to + ") is a live member of domain '" + info.queue +
                            "' any more");
}

/// An initialising segment `name` = "<q>.<n>" is the chunk that unbounded queue q's chain is
/// creating now if n is its next chunk's number: then `info` says so (its header does not yet).
inline void recognise_new_chunk(segment_info& info, liveness& live) {
    const auto dot = info.name.rfind('.');
    const auto n = dot == std::string::npos ? std::nullopt : parse_decimal(std::string_view(info.name).substr(dot + 1));
    if (!n) return;
    const segment_info head = look(std::string_view(info.name).substr(0, dot), live);
    if (head.status != segment_status::ok || !head.chain || *n != head.chain->base + head.chain->next_chunk) return;
    info.kind = segment_kind::unbounded_chunk;
    info.queue = head.name;
    info.chunk_index = head.chain->next_chunk;
}

/// Whether the caller of inspect_open holds `f`'s exclusive flock itself (remove_stale judging
/// again before it removes): then no creator holds it, and asking would let go of that lock.
enum class own_lock : bool { not_held, held };

/// Inspects the object open (read-only) as `f`, named `name`.
inline segment_info inspect_open(std::string_view name, const sys::file& f, liveness& live,
                                 own_lock lock = own_lock::not_held) {
    const auto creator_at_work = [&] { return lock == own_lock::not_held && locked_by_another(f); };
    segment_info info;
    info.name = std::string(name);
    info.path = segment_path(name);
    struct stat st {};
    try {
        st = f.status(info.path);
    } catch (const error& e) {
        info.status = segment_status::unreadable;
        info.problem = std::string("cannot be examined: ") + e.what();
        return info;
    }
    info.uid = st.st_uid;
    info.mode = st.st_mode & 07777u;
    info.size_bytes = static_cast<std::uint64_t>(st.st_size);
    info.allocated_bytes = static_cast<std::uint64_t>(st.st_blocks) * 512;
    if (const auto t = sys::creation_time(f)) info.created = to_time_point(*t);
    if (!S_ISREG(st.st_mode)) {
        info.status = segment_status::foreign;
        info.problem = "is not a plain file: ipckit did not make it";
        return info;
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size == 0) {
        info.status = segment_status::initializing;
        info.problem = "is empty: its creator has not sized it yet";
        if (past_grace(info) && !creator_at_work())
            set_stale(info, "it is still empty: its creator died before sizing it");
        recognise_new_chunk(info, live);
        return info;
    }
    sys::mapping m;
    try {
        m = sys::mapping(f, size, info.path, sys::mapping::read_only);
    } catch (const error& e) {
        info.status = segment_status::unreadable;
        info.problem = std::string("cannot be mapped: ") + e.what();
        return info;
    }
    if (size < header_size) {
        std::uint64_t magic = 0;
        if (size >= sizeof magic) std::memcpy(&magic, m.data(), sizeof magic);
        const bool ours = magic == segment_header::magic_value;
        info.status = ours ? segment_status::corrupt : segment_status::foreign;
        info.problem = "is " + std::to_string(size) + " bytes, too small for an ipckit segment: " +
                       (ours ? "it was truncated" : "it is not an ipckit segment");
        return info;
    }
    const header_snapshot h = snapshot_header(*static_cast<const segment_header*>(m.data()), size);
    if (h.fault) {
        info.status = !h.ipckit_magic                                  ? segment_status::foreign
                      : h.fault->reason == errc::incompatible_layout ? segment_status::incompatible
                                                                       : segment_status::corrupt;
        info.problem = h.fault->why;
        return info;
    }
    if (!h.valid) {  // uninit, initializing, or given up (corrupt) before it was finished
        info.status = segment_status::initializing;
        recognise_new_chunk(info, live);
        if (h.state == segment_header::uninit) {
            info.problem = "is not initialised yet: its creator has not begun";
            if (past_grace(info) && !creator_at_work())
                set_stale(info, "nobody has begun to initialise it since it was created: its creator died");
            return info;
        }
        info.creator_pid = h.creator.pid;
        info.creator_alive = live.alive(h.creator);
        const std::string who = "process " + std::to_string(h.creator.pid);
        if (h.state == segment_header::corrupt) {
            info.problem = "was given up by its creator (" + who + ") half-way through initialising it";
            set_stale(info, "its creator (" + who + ") gave up initialising it");
        } else {
            info.problem = "is being initialised by its creator (" + who + ")";
            if (!*info.creator_alive) set_stale(info, "its creator (" + who + ") died half-way through initialising it");
        }
        return info;
    }
    info.description = h.description;
    info.ownership = h.ownership == process_owned::id ? process_owned::name : system_owned::name;
    info.creator_pid = h.creator.pid;
    info.creator_alive = live.alive(h.creator);
    if (h.ownership == process_owned::id) {
        info.owner_alive = sys::owner_mark_held(f);
        info.owner_pid = h.creator.pid;
    }
    body_facts facts;
    try {
        inspect_body(body_view(static_cast<const char*>(m.data()) + header_size, size - header_size, live), info, facts);
    } catch (const inspect_fault& e) {
        info.status = segment_status::corrupt;
        info.problem = e.what();
        return info;
    }
    if (info.owner_alive == false)
        set_stale(info, "its owner (process " + std::to_string(info.owner_pid) +
                            ") has ended: a process_owned segment goes with its owner");
    else if (info.kind == segment_kind::unbounded_chunk)
        judge_chunk(info, facts.chunk_base, live);
    else if (info.kind == segment_kind::link)
        judge_link(info, live);
    return info;
}

/// A segment_info for a name that cannot be looked at: `status`, and `problem`.
inline segment_info cannot_look(std::string_view name, segment_status status, std::string problem) {
    segment_info info;
    info.name = std::string(name);
    info.path = segment_path(name);
    info.status = status;
    info.problem = std::move(problem);
    if (const auto st = sys::shm_stat(os_name(name))) {
        info.uid = st->st_uid;
        info.mode = st->st_mode & 07777u;
        info.size_bytes = static_cast<std::uint64_t>(st->st_size);
        info.allocated_bytes = static_cast<std::uint64_t>(st->st_blocks) * 512;
    }
    return info;
}

/// Opens segment `name` read-only and inspects it; vanished if it is not there (any more).
inline segment_info look(std::string_view name, liveness& live) {
    if (!valid_segment_name(name))
        return cannot_look(name, segment_status::foreign, "is not named as ipckit names its segments");
    int err = 0;
    const sys::file f = sys::shm_open_for_reading(os_name(name), err);
    if (f.get() < 0) {
        if (err == ENOENT) return cannot_look(name, segment_status::vanished, "is gone");
        if (err == ELOOP) return cannot_look(name, segment_status::foreign, "is a symbolic link: ipckit did not make it");
        auto info = cannot_look(name, segment_status::unreadable,
                                "cannot be opened by this user: " + std::string(std::strerror(err)));
        info.problem += " (owner uid " + std::to_string(info.uid) + ", mode 0" + std::to_string(info.mode >> 6 & 7) +
                        std::to_string(info.mode >> 3 & 7) + std::to_string(info.mode & 7) + ")";
        return info;
    }
    return inspect_open(name, f, live);
}

/// Fills domain.links from `segments`, the links of its name among them.
inline void fill_links(segment_info& domain, const std::vector<const segment_info*>& segments) {
    for (const segment_info* s : segments) {
        if (s->kind != segment_kind::link || s->queue != domain.name) continue;
        const auto l = parse_link_name(domain.name, s->name);
        if (!l) continue;
        link_info li;
        li.name = s->name;
        li.from = l->from;
        li.to = l->to;
        li.from_incarnation = l->from_incarnation;
        li.to_incarnation = l->to_incarnation;
        for (const auto& m : domain.members) {
            li.from_alive = li.from_alive || (m.incarnation == l->from_incarnation && m.alive);
            li.to_alive = li.to_alive || (m.incarnation == l->to_incarnation && m.alive);
        }
        li.depth_messages = s->depth_messages;
        li.depth_bytes = s->depth_bytes;
        li.stale = s->stale;
        domain.links.push_back(std::move(li));
    }
}

}  // namespace ipckit::detail
