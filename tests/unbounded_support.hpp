#pragma once
// Helpers for the unbounded queue tests: a queue name removed with its chunks, and the chunks of
// a queue that exist now.

#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace ipckit_test {

/// A unique queue name, with the queue and its chunks removed at set-up and when it goes.
class scoped_queue {
    // Q::remove finds the chunks of any unbounded queue of the name, whatever its message type.
    using any_unbounded = ipckit::queue<tick, ipckit::unbounded<4096>>;

public:
    scoped_queue() : name_("ub") { (void)any_unbounded::remove(name_); }
    ~scoped_queue() {
        try {
            (void)any_unbounded::remove(name_);
        } catch (...) {
        }
    }
    scoped_queue(const scoped_queue&) = delete;
    scoped_queue& operator=(const scoped_queue&) = delete;
    [[nodiscard]] const std::string& str() const noexcept { return name_.str(); }
    operator const std::string&() const noexcept { return name_.str(); }  // NOLINT(google-explicit-constructor)
    operator std::string_view() const noexcept { return name_.str(); }    // NOLINT(google-explicit-constructor)

private:
    scoped_name name_;
};

/// The chunks of queue `name` that exist now: their names after "<name>.", sorted.
inline std::vector<std::string> chunks_of(const std::string& name) {
    std::vector<std::string> found;
    for (auto& n : ipckit::detail::segment_names(name + ".")) found.push_back(n.substr(name.size() + 1));
    std::sort(found.begin(), found.end());
    return found;
}

}  // namespace ipckit_test
