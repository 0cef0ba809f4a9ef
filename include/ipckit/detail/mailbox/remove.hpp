#pragma once
// How a mailbox is removed: closed first, so that its endpoints wake and see closed after every
// message it accepted, and only then its name removed.

#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/description.hpp>
#include <ipckit/detail/shm/peek.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/segment.hpp>

#include <string>
#include <string_view>

namespace ipckit::detail {

/// Mailbox::remove(name) for a mailbox of whatever type and delivery (an inspector's removal
/// knows neither): closes it through its mailbox_prefix, so that its endpoints wake and see
/// closed, then removes its name if that still names it (not a mailbox another process created
/// under it since). A segment `name` that is not a ready mailbox is removed by name alone. False
/// if there was none. Throws invalid_name, permission_denied.
inline bool remove_mailbox_of_any_type(std::string_view name) {
    validate_name(name);
    const sys::file f = open_if_exists(name);
    if (f.get() < 0) return false;
    bool closed = false;
    (void)peek_open(f, name, sizeof(mailbox_prefix), [&closed](std::string_view description, void* body) {
        if (!parse_mailbox_description(description)) return;
        close_mailbox(*static_cast<mailbox_prefix*>(body));
        closed = true;
    });
    if (!closed) return remove_segment(name);
    (void)sys::shm_remove_if_same(os_name(name), f);
    return true;
}

/// Removes the mailbox `name` that attaching found corrupt (`damage`), as
/// remove_mailbox_of_any_type does, holding its exclusive flock, and only if the name still
/// names the object locked: never one that a creator is still making (attaching says corrupt
/// of that too, once its init_timeout has passed) or whose owner runs. Throws corrupt, saying
/// so, when a process holds it.
inline bool remove_damaged_mailbox(std::string_view name, const error& damage) {
    const std::string os = os_name(name);
    sys::file f;
    try {
        f = sys::shm_open_existing(os);
    } catch (const error& e) {
        if (e.reason() == errc::not_found) return false;
        throw;
    }
    if (!sys::lock_exclusive_past_probers(f))
        throw error(errc::corrupt, std::string(damage.what()) +
                                       ". Not removed: a process holds it (its creator, still making it, or its "
                                       "owner); ipckit::remove_segment removes it whatever holds it");
    const sys::unlock_at_exit locked(f);
    (void)peek_open(f, name, sizeof(mailbox_prefix), [](std::string_view description, void* body) {
        if (parse_mailbox_description(description)) close_mailbox(*static_cast<mailbox_prefix*>(body));
    });
    return sys::shm_remove_if_same(os, f);
}

/// Mailbox::remove(name): `open_and_close` opens the mailbox, closes it (Mailbox::close), then
/// removes its name if that still names it (queue_handle::close_and_unname). A process_owned
/// mailbox whose owner has gone is removed by name alone; a damaged one (corrupt, whose errors
/// say to remove it this way) by remove_damaged_mailbox. Returns false if there was none.
template <class OpenAndClose>
bool remove_mailbox(std::string_view name, OpenAndClose&& open_and_close) {
    try {
        open_and_close();
        return true;
    } catch (const error& e) {
        if (e.reason() == errc::corrupt) return remove_damaged_mailbox(name, e);
        if (e.reason() != errc::not_found) throw;
    }
    return remove_segment(name);
}

}  // namespace ipckit::detail
