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
// listing goes on past it. One thing a look cannot survive: a segment that a process other than
// ipckit (which never shrinks one) truncates while it is being read faults the look with SIGBUS,
// as it faults every process that uses it (the `ipckit` command ends, saying so).
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

#include <ipckit/detail/look/look.hpp>
#include <ipckit/detail/mailbox/remove.hpp>
#include <ipckit/detail/queue/close_any.hpp>
#include <ipckit/detail/queue/unbounded.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/node.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>
#include <ipckit/segment_info.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipckit {

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
    if (!detail::sys::lock_exclusive_past_probers(f)) {
        say("a process holds it");
        return false;
    }
    const detail::sys::unlock_at_exit locked(f);
    detail::liveness fresh;
    const segment_info again = detail::inspect_open(name, f, fresh, detail::own_lock::held);
    if (!again.stale) {
        say("it is in use again");
        return false;
    }
    return detail::sys::shm_remove_if_same(os, f);
}

namespace detail {

/// Removes the unbounded queue `name`, its chain retired with its chunks, and then the chunks
/// of its name that the chain did not lead to: a damaged chain, or one whose base was scribbled
/// so that it names other chunks than its own. With the queue gone nothing leads to them, and
/// they go as remove_stale removes them.
inline bool remove_chain_and_strays(std::string_view name, liveness& live) {
    const bool removed = remove_unbounded_queue(name);
    const std::string prefix = std::string(name) + ".";
    for (const auto& n : segment_names(prefix)) {
        // Only chunks: "NAME.2024" may be another queue of its own, stale for its own reasons.
        if (!parse_decimal(std::string_view(n).substr(prefix.size())) || look(n, live).kind != segment_kind::unbounded_chunk)
            continue;
        try {
            (void)remove_stale(n);
        } catch (const error&) {  // one this user may not remove: the others still go
        }
    }
    return removed;
}

}  // namespace detail

/// Removes the segment `name` whatever it holds, as its kind's own remove does: a queue or a
/// mailbox closed first (its endpoints wake and see closed once they have taken what it holds;
/// not one whose description was cut short in its header, whose layout cannot be read), an
/// unbounded queue with every chunk of its chain (one whose chain is damaged too: with the chunks
/// found by their names), a domain with its links; a node's link, and anything else, by its name
/// alone. Processes that have it mapped keep what they have. It does not ask whether anyone uses
/// it (the `ipckit` command refuses a live segment without --force). False if there was none.
/// Throws invalid_name, permission_denied.
inline bool remove_any(std::string_view name) {
    detail::validate_name(name);
    detail::liveness live;
    const segment_info info = detail::look(name, live);
    if (info.status == segment_status::vanished) return false;
    if (info.status == segment_status::ok) {
        if (info.chain) return detail::remove_chain_and_strays(name, live);
        if (info.kind == segment_kind::mailbox || info.kind == segment_kind::broadcast)
            return detail::remove_mailbox_of_any_type(name);
        if (info.kind == segment_kind::domain) return remove_domain(name);
        // Not a node's link: its nodes take a closed link for a member that left, and would
        // drop it, then miss what is sent on its successor of the same name.
        // An unbounded queue whose description was cut short in its header (a message type
        // with a long name) shows no chain, but heads one all the same.
        if (info.kind == segment_kind::queue)
            return detail::heads_a_chain(name) ? detail::remove_unbounded_queue(name) : detail::remove_queue_of_any_type(name);
    }
    // Its header says unbounded queue, but its chain did not read as one (remove_segment
    // refuses such a name): what of the chain can still be trusted is retired, else the name
    // alone goes.
    if (info.status != segment_status::ok && detail::heads_a_chain(name)) return detail::remove_chain_and_strays(name, live);
    return remove_segment(name);
}

}  // namespace ipckit
