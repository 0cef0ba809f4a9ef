#pragma once
// Removing links that are over: one link quietly (on the way out, where a failure changes
// nothing), and the sweep of every link of a domain that is over: its receiver gone (left or
// died, while its sender lives or not), or left half-made by a sender that died.
//
// The sweep runs when a member joins and when it leaves. It reads the directory and asks the OS
// about each end; a segment is removed only if it opens as a link of this node type: a queue
// that merely has a link's name ("<domain>.x.y.1.2"), or one still being made, stays. A link
// left half-made by a creator that died is removed as segment::create would replace it
// (remove_if_abandoned, judged under the segment's lock) once its sender is gone, whether its
// receiver lives or not: no message can be on it, the receiver never opens it (it is not ready),
// and a long-lived receiver of senders that crash would otherwise keep every such link.

#include <ipckit/detail/node/link_name.hpp>
#include <ipckit/detail/node/membership.hpp>
#include <ipckit/segment.hpp>

#include <chrono>
#include <string>

namespace ipckit::detail {

/// Removes the segment `link`, ignoring every failure (it is gone already, or not ours).
inline void remove_link_quietly(const std::string& link) noexcept {
    try {
        remove_segment(link);
    } catch (...) {
    }
}

/// Removes the names of the domain's links that nobody will open again: their receiver has left
/// or died (an incarnation never comes back); or their sender died making them. Throws what
/// listing /dev/shm throws.
template <class LinkQueue>
void sweep_links(const membership& m) {
    options quick = m.link_options();
    quick.init_timeout = std::chrono::milliseconds(0);
    for (const auto& l : list_links(m.domain())) {
        // A live receiver may read it (once its sender is gone, whatever is left). A live sender
        // with its receiver gone keeps its own mapping of it (undelivered() reads that): the name
        // nobody will open again goes, not its messages.
        const bool receiver_gone = !m.members().live(l.to_incarnation);
        if (!receiver_gone && m.members().live(l.from_incarnation)) continue;
        try {
            (void)LinkQueue::open(l.segment, quick);
        } catch (...) {
            try {
                (void)segment::remove_if_abandoned(l.segment, m.link_options());
            } catch (...) {
                // damaged, not half-made: it is not ours to remove
            }
            continue;
        }
        if (receiver_gone) remove_link_quietly(l.segment);  // a live receiver reads what is on it
    }
}

}  // namespace ipckit::detail
