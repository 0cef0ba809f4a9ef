#pragma once
// Inspecting segments: what lives in /dev/shm under ipckit's prefix, who is attached to it, how
// full it is, whether it is stale; and removing segments whole, or only if stale. The `ipckit`
// command (tools/ipckit) is built on this; a program may use it for its own monitoring.
//
//   for (const auto& s : ipckit::list_segments())     // every segment, sorted by name
//       if (s.stale) std::cout << s.name << " is stale: " << s.stale_reason << '\n';
//   auto q = ipckit::inspect("market.ticks");         // one segment; not_found if there is none
//   if (q.depth_messages) std::cout << *q.depth_messages << " waiting\n";
//   ipckit::remove_stale("market.ticks");             // only if stale, judged again under its lock
//
// What is reported, and what stale means: <ipckit/segment_info.hpp>.
//
// A look never changes a segment and never waits on one: segments are opened and mapped
// read-only, no lock is taken, a creator at work is not waited for (the segment is reported
// `initializing`), and the OS is asked only whether processes live and whether an owner still
// holds its owner mark. Reads are checked as the library checks them: the header by
// check_header(), then every index and length against the mapping, by each kind's own inspect
// function beside its layout. So a corrupt or truncated segment, or a file that is not ipckit's,
// is reported with what is wrong, never a crash; another user's segment is `unreadable`, and a
// listing goes on past it.
//
// Removal. remove_stale(name) removes a segment only if it is stale, judged again while holding
// its exclusive lock, and only if the name still names the object judged: a process_owned
// segment whose owner died, or one whose creator died half-way, through the library's own
// reclaim (segment::remove_if_abandoned, what create() does); an unbounded queue's chunk or a
// domain's link that nothing leads to any more, the same way. So it never races a process that
// is creating that name, and never removes a live segment. remove_any(name) removes a segment
// whatever it holds, as its kind's own remove does, without asking who uses it.
//
// Names. A segment `d.a.b.<hex>.<hex>` holding a single-producer, single-consumer, system_owned
// queue of bytes<Max> is a link of domain `d` (detail/node/link_name.hpp); a segment `q.<number>` that
// says it is a chunk is a chunk of unbounded queue `q`.

#include <ipckit/detail/mailbox/broadcast_layout.hpp>
#include <ipckit/detail/queue/bytes.hpp>
#include <ipckit/detail/queue/fixed.hpp>
#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/node/link_name.hpp>
#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/description.hpp>
#include <ipckit/detail/mailbox/remove.hpp>
#include <ipckit/detail/mailbox/unicast_layout.hpp>
#include <ipckit/detail/node/registry.hpp>
#include <ipckit/detail/queue/rendezvous.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/detail/queue/unbounded.hpp>
#include <ipckit/error.hpp>
#include <ipckit/node.hpp>
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

namespace ipckit {

namespace detail {

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

inline void set_stale(segment_info& info, std::string why) {
    info.stale = true;
    info.stale_reason = std::move(why);
}

/// A queue's description, read into `info` and its body inspected by its kind's function.
inline void inspect_queue(const body_view& v, const queue_description& q, segment_info& info) {
    info.kind = segment_kind::queue;
    info.message_type = q.message.type;
    info.message_size = q.message.size;
    info.message_align = q.message.align;
    info.capacity = q.capacity;
    info.max_senders = q.producers;
    info.max_receivers = q.consumers;
    switch (q.kind) {
    case queue_description::bounded:
        if (q.message.bytes) {
            info.capacity_bytes = q.capacity_value;
            inspect_bytes_queue(v, q, info);
        } else {
            info.capacity_messages = q.capacity_value;
            inspect_fixed_queue(v, q, info);
        }
        break;
    case queue_description::zero: inspect_rendezvous(v, q, info); break;
    case queue_description::unbounded: inspect_unbounded_head(v, q, info.name, info); break;
    }
    // A node's link: named after its domain, its ends and their incarnations (detail/node/link_name.hpp).
    const auto dot = info.name.find('.');
    if (q.kind == queue_description::bounded && q.message.bytes && q.producers == 1 && q.consumers == 1 &&
        info.ownership == system_owned::name && dot != std::string::npos &&
        parse_link_name(std::string_view(info.name).substr(0, dot), info.name)) {
        info.kind = segment_kind::link;
        info.queue = info.name.substr(0, dot);
    }
}

/// The chain base that a chunk says it belongs to, filled by inspect_body for judge_chunk.
struct body_facts {
    std::uint64_t chunk_base = 0;
};

/// Reads what the description of a valid header says and inspects the body by its kind. Throws
/// inspect_fault.
inline void inspect_body(const body_view& v, segment_info& info, body_facts& facts) {
    const std::string& d = info.description;
    if (const auto q = parse_queue_description(d)) {
        inspect_queue(v, *q, info);
    } else if (const auto m = parse_mailbox_description(d)) {
        info.kind = m->delivery == broadcast::name ? segment_kind::broadcast : segment_kind::mailbox;
        info.message_type = m->message.type;
        info.message_size = m->message.size;
        info.message_align = m->message.align;
        info.capacity = m->capacity;
        info.capacity_messages = m->slots;
        info.delivery = m->delivery;
        if (info.kind == segment_kind::broadcast)
            inspect_broadcast(v, *m, info);
        else
            inspect_mailbox(v, *m, info);
    } else if (const auto c = parse_chunk_description(d)) {
        info.kind = segment_kind::unbounded_chunk;
        const std::string suffix = "." + std::to_string(c->seq);
        const bool named = info.name.size() > suffix.size() &&
                           info.name.compare(info.name.size() - suffix.size(), suffix.size(), suffix) == 0;
        if (!named || (c->queue && *c->queue != info.name.substr(0, info.name.size() - suffix.size())))
            throw inspect_fault("says it is chunk " + std::to_string(c->seq) + " of queue '" + c->queue.value_or("?") +
                                "', which is not what its name says");
        info.queue = info.name.substr(0, info.name.size() - suffix.size());
        const auto [base, index] = inspect_chunk(v, c->seq);
        facts.chunk_base = base;
        info.chunk_index = index;
    } else if (const auto dm = parse_domain_description(d)) {
        info.kind = segment_kind::domain;
        info.capacity = std::to_string(dm->capacity) + " members";
        info.max_receivers = dm->capacity;
        inspect_domain(v, dm->capacity, info);
    } else {
        for (const auto& [prefix, kind] : {std::pair{"ipckit::queue<", segment_kind::queue},
                                           std::pair{"ipckit::mailbox<", segment_kind::mailbox},
                                           std::pair{"ipckit::domain<", segment_kind::domain}})
            if (d.rfind(prefix, 0) == 0) info.kind = kind;
        info.note = info.kind == segment_kind::unknown
                        ? "this ipckit does not know what its description names"
                        : "its description was cut short in the header (200 characters), so its layout cannot be read";
    }
}

inline segment_info look(std::string_view name, liveness& live);

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
    } else if (head.status == segment_status::ok) {
        set_stale(info, "'" + info.queue + "' is not an unbounded queue");
    }
    // A head that cannot be read says nothing about its chunks: they are left alone.
}

/// Whether the link described by `info` is one that nothing leads to any more: its domain is
/// gone, or neither end's incarnation is a live member of it (incarnations are never reused,
/// so such a link never comes back to use; a member's node removes such links when it joins).
inline void judge_link(segment_info& info, liveness& live) {
    const auto l = parse_link_name(info.queue, info.name);
    const segment_info domain = look(info.queue, live);
    if (domain.status == segment_status::vanished) {
        set_stale(info, "its domain '" + info.queue + "' is gone");
        return;
    }
    if (domain.status != segment_status::ok || domain.kind != segment_kind::domain || !l) return;
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

/// Inspects the object open (read-only) as `f`, named `name`.
inline segment_info inspect_open(std::string_view name, const sys::file& f, liveness& live) {
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
        if (past_grace(info)) set_stale(info, "it is still empty: its creator died before sizing it");
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
            if (past_grace(info)) set_stale(info, "nobody has begun to initialise it since it was created: its creator died");
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

}  // namespace detail

/// Every entry of /dev/shm under ipckit's prefix, inspected, sorted by name; each domain's
/// links are filled in from the same listing. Entries that cannot be read are listed as such;
/// entries removed between the directory's listing and their look are left out.
/// Throws (system_error, permission_denied) only when /dev/shm itself cannot be listed.
inline std::vector<segment_info> list_segments() {
    detail::liveness live;
    std::vector<segment_info> out;
    for (const auto& e : detail::sys::shm_scan(std::string(detail::os_prefix))) {
        const std::string_view name = std::string_view(e.name).substr(detail::os_prefix.size());
        segment_info info = e.regular ? detail::look(name, live)
                                      : detail::cannot_look(name, segment_status::foreign,
                                                            "is not a plain file: ipckit did not make it");
        if (info.status != segment_status::vanished) out.push_back(std::move(info));  // a chunk just read, say
    }
    std::sort(out.begin(), out.end(), [](const segment_info& a, const segment_info& b) { return a.name < b.name; });
    std::vector<const segment_info*> all;
    for (const auto& s : out) all.push_back(&s);
    for (auto& s : out)
        if (s.kind == segment_kind::domain && s.status == segment_status::ok) detail::fill_links(s, all);
    return out;
}

/// The segment `name`, inspected; a domain with its links. Throws not_found (naming it) when
/// there is none, invalid_name. A segment that cannot be read is returned as such (unreadable,
/// corrupt, foreign...), not thrown.
inline segment_info inspect(std::string_view name) {
    detail::validate_name(name);
    detail::liveness live;
    segment_info info = detail::look(name, live);
    if (info.status == segment_status::vanished)
        throw error(errc::not_found, "segment '" + std::string(name) + "' does not exist (no " + info.path + ")");
    if (info.kind == segment_kind::domain && info.status == segment_status::ok) {
        std::vector<segment_info> links;
        for (const auto& l : detail::list_links(name)) links.push_back(detail::look(l.segment, live));
        std::vector<const segment_info*> all;
        for (const auto& s : links) all.push_back(&s);
        detail::fill_links(info, all);
    }
    return info;
}

/// Removes the segment `name` if it is stale (segment_info::stale), judged again while holding
/// its exclusive lock, and only if its name still names the object judged: see the top of this
/// file. Returns whether it was removed (or had gone meanwhile); false if it is not stale or is
/// in use. `why`, if given, gets the reason it was stale, or why it was left. Throws
/// invalid_name, and permission_denied when it cannot be removed.
inline bool remove_stale(std::string_view name, std::string* why = nullptr) {
    detail::validate_name(name);
    const std::string os = detail::os_name(name);
    detail::liveness live;
    const segment_info info = detail::look(name, live);
    const auto say = [why](std::string s) {
        if (why != nullptr) *why = std::move(s);
    };
    if (info.status == segment_status::vanished) {
        say("it is gone");
        return false;
    }
    if (!info.stale) {
        say("it is not stale");
        return false;
    }
    say(info.stale_reason);
    if (info.status == segment_status::initializing || info.owner_alive == false) {
        // What create() replaces: the library's own reclaim. An unbounded queue's chunks go with it.
        detail::sys::file old;
        try {
            old = detail::sys::shm_open_existing(os);
        } catch (const error& e) {
            if (e.reason() == errc::not_found) return true;
            throw;
        }
        const bool removed = segment::remove_if_abandoned(name);
        if (removed) detail::retire_abandoned_chain(old, name, options{});
        if (!removed) say("it is in use again");
        return removed;
    }
    // A chunk or link that nothing leads to: judged again under the object's own lock (no
    // creator holds it), and removed only if the name still names that object.
    detail::sys::file f;
    try {
        f = detail::sys::shm_open_existing(os);
    } catch (const error& e) {
        if (e.reason() == errc::not_found) return true;
        throw;
    }
    if (!detail::sys::try_lock(f, true)) {
        say("a process holds it");
        return false;
    }
    detail::liveness fresh;
    const segment_info again = detail::inspect_open(name, f, fresh);
    if (!again.stale) {
        say("it is in use again");
        return false;
    }
    return detail::sys::shm_remove_if_same(os, f);
}

/// Removes the segment `name` whatever it holds, as its kind's own remove does: an unbounded
/// queue with every chunk of its chain, a mailbox marked removed first (its endpoints wake and
/// see closed), a domain with its links; anything else by its name. Processes that have it
/// mapped keep what they have. It does not ask whether anyone uses it (the `ipckit` command
/// refuses a live segment without --force). False if there was none. Throws invalid_name,
/// permission_denied.
inline bool remove_any(std::string_view name) {
    detail::validate_name(name);
    detail::liveness live;
    const segment_info info = detail::look(name, live);
    if (info.status == segment_status::vanished) return false;
    if (info.status == segment_status::ok) {
        if (info.chain) return detail::remove_unbounded_queue(name);
        if (info.kind == segment_kind::mailbox || info.kind == segment_kind::broadcast)
            return detail::remove_mailbox_of_any_type(name);
        if (info.kind == segment_kind::domain) return remove_domain(name);
    }
    return remove_segment(name);
}

}  // namespace ipckit
