#pragma once
// One member's place in its domain, and what every link of the member needs to know about it:
// the domain and the member's name, the options its links are made with, the registry it
// joined, its slot and incarnation there, and how often to look at a silent peer.
//
// Joining is the constructor (validated names, the registry opened or created, the name taken);
// leaving the registry is leave(), the first step of a node's departure (see node.hpp). A node
// keeps its membership at one address for its whole life (behind a pointer), so the links that
// refer to it survive a move of the node.

#include <ipckit/detail/node/registry.hpp>
#include <ipckit/detail/sys/cpu.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/node_options.hpp>
#include <ipckit/segment.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace ipckit::detail {

class membership {
public:
    /// Joins `domain` under `name`; `kind` describes the links (the domain's layout names it, so
    /// members of another node type are incompatible_layout). Throws as basic_node's constructor.
    membership(std::string_view domain, std::string_view name, const node_options& opt, const std::string& kind)
        : domain_(domain), name_(name), links_(opt),
          registry_((validate_node_name(name, max_member_name, "member"), domain), opt.members, kind, opt),
          self_(sys::self()), me_(registry_.join(name, self_)), light_fence_(sys::register_light_fence()),
          liveness_(liveness_of(opt)) {}

    membership(const membership&) = delete;
    membership& operator=(const membership&) = delete;

    [[nodiscard]] const std::string& domain() const noexcept { return domain_; }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// The options every link of this member is opened or created with.
    [[nodiscard]] const options& link_options() const noexcept { return links_; }
    [[nodiscard]] registry& members() noexcept { return registry_; }
    [[nodiscard]] const registry& members() const noexcept { return registry_; }
    /// This member's place: its slot and incarnation.
    [[nodiscard]] const member_ref& me() const noexcept { return me_; }
    /// This member's slot: its doorbell, its sleep flag and its link counter.
    [[nodiscard]] member_slot& slot() const noexcept { return registry_.slot(me_.slot); }
    /// The slot of another member.
    [[nodiscard]] member_slot& slot_of(const member_ref& m) const noexcept { return registry_.slot(m.slot); }
    [[nodiscard]] bool light_fence() const noexcept { return light_fence_; }
    [[nodiscard]] std::chrono::nanoseconds liveness() const noexcept { return liveness_; }
    /// Whether this is the process that joined: a forked child inherits the node, not the
    /// membership.
    [[nodiscard]] bool in_joining_process() const noexcept { return sys::this_pid() == self_.pid; }

    /// Gives the name back (seq_cst): of two members leaving at once, at least one sees the other
    /// gone afterwards and removes their links.
    void leave() noexcept { registry_.leave(me_); }

private:
    std::string domain_;
    std::string name_;
    options links_;
    registry registry_;
    sys::process_id self_;
    member_ref me_;
    bool light_fence_;
    std::chrono::nanoseconds liveness_;
};

}  // namespace ipckit::detail
