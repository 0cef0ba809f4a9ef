#pragma once
// How a mailbox is removed: closed first, so that its endpoints wake and see closed after every
// message it accepted, and only then its name removed.

#include <ipckit/detail/mailbox/control.hpp>
#include <ipckit/detail/mailbox/description.hpp>
#include <ipckit/detail/shm/peek.hpp>
#include <ipckit/error.hpp>
#include <ipckit/segment.hpp>

#include <string_view>

namespace ipckit::detail {

/// Mailbox::remove(name) for a mailbox of whatever type and delivery (an inspector's removal
/// knows neither): closes it through its mailbox_prefix, so that its endpoints wake and see
/// closed, then removes its name. A segment `name` that is not a ready mailbox is removed by
/// name alone. False if there was none. Throws invalid_name, permission_denied.
inline bool remove_mailbox_of_any_type(std::string_view name) {
    validate_name(name);
    (void)peek_segment(name, sizeof(mailbox_prefix), [](std::string_view description, void* body) {
        if (parse_mailbox_description(description)) close_mailbox(*static_cast<mailbox_prefix*>(body));
    });
    return remove_segment(name);
}

/// Mailbox::remove(name): opens the mailbox with `open` (a callable returning its handle), closes
/// it (Mailbox::close), then removes its name. A process_owned mailbox whose owner has gone is
/// removed by name alone; a damaged one (corrupt, whose errors say to remove it this way) as
/// remove_mailbox_of_any_type does. Returns false if there was none.
template <class Open>
bool remove_mailbox(std::string_view name, Open&& open) {
    try {
        auto box = open();
        box.close();
    } catch (const error& e) {
        if (e.reason() == errc::corrupt) return remove_mailbox_of_any_type(name);
        if (e.reason() != errc::not_found) throw;
    }
    return remove_segment(name);
}

}  // namespace ipckit::detail
