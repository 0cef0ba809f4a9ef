#pragma once
// The registry of a domain: which process holds which member name, in one shared-memory segment
// named after the domain (the seed's "direct communication": processes name each other).
//
// A member slot holds the packed identity (pid + start time) of the process that joined under its
// name, and the incarnation of that join: a number unique in the domain, never reused, so that a
// process that rejoins under an old name is told apart from its predecessor (links are named after
// incarnations, and a restarted peer gets fresh ones). A slot whose holder died is free again: the
// next join under that name, or under any name once the domain is full, takes it over.
//
// Joining, leaving and looking names up are set-up, serialised by one registry-wide lock word that
// holds the packed identity of its holder. A joiner killed while holding it leaves a dead identity
// there, which the next process steals by CAS once it has seen that the holder is dead. Every
// critical section writes in an order that leaves a consistent slot if it stops at any point:
//   join:  holder = writing(1) ; incarnation = new ; name ; holder = me (release)
// so a slot whose holder is `writing` after a steal belongs to nobody.
//
// Lock-free readers (a sender checking, per message, that its peer is still the incarnation it
// linked to; a receiver checking a silent peer's liveness) read holder and incarnation only; the
// name is read under the lock. The data path makes no system call here: liveness is asked of the
// OS only when a caller asks to (ask_os), about once per liveness interval.
//
// Each slot also carries what receive_any needs: a doorbell the member sleeps on while none of its
// incoming links has a message, and `links`, bumped by every process that starts a link to the
// member, so that it knows when to look for new incoming links.

#include <ipckit/detail/sync/doorbell.hpp>
#include <ipckit/detail/inspect/reader.hpp>
#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/error.hpp>
#include <ipckit/node_options.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/segment.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ipckit::detail {


/// Throws invalid_name unless `name` is 1..max of [A-Za-z0-9_-] (no '.': link names use it as
/// a separator). `what` is "member" or "domain".
inline void validate_node_name(std::string_view name, std::size_t max, const char* what) {
    check_name(name, max, what, false);
}

/// One member of a domain. Layout (one cache line):
///   0    holder       0 vacant, 1 being written, else the packed id of the member's process
///   8    incarnation  unique in the domain for each join; 0 in a slot never used
///   16   links        bumped by whoever starts a link to this member
///   20   name_length  bytes used in name (checked against max_member_name before use)
///   24   name         the member's name, written and read under the registry lock
///   56   bell         receive_any sleeps here; senders ring it
///   68   asleep       1 while the member counts itself among bell's sleepers
struct member_slot {
    static constexpr std::uint64_t vacant = 0;
    static constexpr std::uint64_t writing = 1;

    alignas(cache_line) std::atomic<std::uint64_t> holder{vacant};
    std::atomic<std::uint64_t> incarnation{0};
    std::atomic<std::uint32_t> links{0};
    std::uint32_t name_length = 0;
    char name[max_member_name] = {};
    doorbell bell;
    std::atomic<std::uint32_t> asleep{0};

    [[nodiscard]] std::string_view name_view() const noexcept {
        return {name, std::min<std::size_t>(name_length, max_member_name)};
    }
};
static_assert(sizeof(member_slot) == cache_line && std::is_standard_layout_v<member_slot>,
              "a member slot is one cache line, so that members do not share lines");

/// The head of a registry segment's body; `capacity` member slots follow it.
///   0            lock              0 free, else the packed id of the process inside
///   8            next_incarnation  the last incarnation handed out (seeded from the realtime
///                                  clock at creation, so a domain removed and created again
///                                  does not hand out its predecessor's numbers)
///   cache_line   slots[capacity]
struct registry_head {
    alignas(cache_line) std::atomic<std::uint64_t> lock{0};
    std::atomic<std::uint64_t> next_incarnation{0};
};
static_assert(sizeof(registry_head) == cache_line && std::is_standard_layout_v<registry_head>);

/// What registry::layout()'s description says: how many members the domain holds, and what
/// links its members use ("links of bytes<M> in bounded<B bytes>").
struct domain_fields {
    std::size_t capacity = 0;
    std::string links;
};
inline std::optional<domain_fields> parse_domain_description(std::string_view d) {
    const auto inner = between(d, "ipckit::domain<");
    if (!inner) return std::nullopt;
    const auto cut = inner->find(" members, ");
    const auto n = cut == std::string_view::npos ? std::nullopt : parse_decimal(inner->substr(0, cut));
    if (!n || *n == 0 || *n > 4096) return std::nullopt;
    return domain_fields{static_cast<std::size_t>(*n), std::string(inner->substr(cut + 10))};
}

/// For an inspector: the members of the domain of `capacity` slots whose registry's body is `v`,
/// read without the registry lock (an inspector never waits): a name is believed only if the
/// slot's holder was the same, and not `writing`, before and after it was read. Reads only;
/// throws inspect_fault.
inline void inspect_domain(const body_view& v, std::size_t capacity, segment_info& out) {
    const auto* slots = v.at<member_slot>(sizeof(registry_head), "member slots", capacity);
    for (std::size_t i = 0; i < capacity; ++i) {
        const member_slot& s = slots[i];
        // SYNC POINT READ: seq_cst, paired with join()'s and leave()'s stores of holder: a name
        // read between two equal loads of a holder other than `writing` is that holder's.
        const std::uint64_t h = s.holder.load(std::memory_order_seq_cst);
        if (h == member_slot::vacant) continue;
        member_info m;
        m.slot = i;
        m.incarnation = s.incarnation.load(std::memory_order_acquire);
        const std::uint32_t length = s.name_length;
        if (length > max_member_name)
            throw inspect_fault("has a member slot (" + std::to_string(i) + ") whose name is " + std::to_string(length) +
                                " characters long, more than a member's name may be: it was overwritten");
        std::string name(s.name, length);
        if (h != member_slot::writing && s.holder.load(std::memory_order_seq_cst) == h) {
            m.name = std::move(name);
            m.pid = sys::process_id::unpack(h).pid;
            m.alive = v.live().alive(h);
        }
        out.members.push_back(std::move(m));
    }
}

/// Who a member is: its slot, its incarnation, and the packed id of its process.
struct member_ref {
    std::size_t slot = 0;
    std::uint64_t incarnation = 0;
    std::uint64_t holder = 0;
};

/// A domain's registry, mapped. Set-up calls (join, leave, find, members) take the registry lock
/// and may throw where they say so; the rest is noexcept and lock-free. Thread safety: as the
/// segment's mapping, any number of threads; the node above it is one thread at a time.
class registry {
public:
    /// Opens the domain `domain`, creating it (system_owned) if there is none. `kind` describes
    /// the links its members use; a domain made with another capacity or kind is
    /// incompatible_layout, and so is a segment of that name that is not a domain.
    registry(std::string_view domain, std::size_t capacity, const std::string& kind, const options& opt)
        : segment_(open(domain, capacity, kind, opt, true)), capacity_(capacity),
          liveness_(liveness_of(opt)) {}
    struct existing_only_t {
        explicit existing_only_t() = default;
    };
    static constexpr existing_only_t existing_only{};
    /// Opens the domain `domain` only if it exists, creating nothing (a lookup leaves no trace):
    /// not_found if there is none; otherwise as the constructor above.
    registry(existing_only_t, std::string_view domain, std::size_t capacity, const std::string& kind, const options& opt)
        : segment_(open(domain, capacity, kind, opt, false)), capacity_(capacity),
          liveness_(liveness_of(opt)) {}

    static segment_layout layout(std::size_t capacity, const std::string& kind) {
        return {"ipckit::domain<" + std::to_string(capacity) + " members, " + kind + ">",
                header_size + sizeof(registry_head) + capacity * sizeof(member_slot)};
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] const std::string& name() const noexcept { return segment_.name(); }
    [[nodiscard]] member_slot& slot(std::size_t i) const noexcept { return slots()[i]; }

    /// Joins under `name` as `me`. Throws name_taken while a live process holds the name, and
    /// no_space when every slot is held by a live process.
    member_ref join(std::string_view name, const sys::process_id& me) {
        const std::uint64_t packed = me.pack();
        locked guard(*this);
        std::optional<std::size_t> same, free, dead;
        for (std::size_t i = 0; i < capacity_; ++i) {
            member_slot& s = slots()[i];
            const std::uint64_t h = s.holder.load(std::memory_order_acquire);
            const bool alive = h != member_slot::vacant && h != member_slot::writing &&
                               sys::is_alive(sys::process_id::unpack(h));
            if (s.name_view() == name && h != member_slot::vacant && h != member_slot::writing) {
                if (alive)
                    throw error(errc::name_taken,
                                "domain '" + this->name() + "' already has a live member '" + std::string(name) +
                                    "' (process " + std::to_string(sys::process_id::unpack(h).pid) +
                                    "): choose another name, or wait until that process leaves or ends");
                same = i;
            } else if (h == member_slot::vacant || h == member_slot::writing) {
                if (!free) free = i;
            } else if (!alive && !dead) {
                dead = i;
            }
        }
        const std::optional<std::size_t> pick = same ? same : free ? free : dead;
        if (!pick)
            throw error(errc::no_space, "domain '" + this->name() + "' is full: all " + std::to_string(capacity_) +
                                            " member places are held by live processes. Let a member leave, or "
                                            "recreate the domain with a larger node_options::members (when none of "
                                            "its members runs, remove it first, links and all, with "
                                            "ipckit::remove_domain(\"" + this->name() + "\"))");
        member_slot& s = slots()[*pick];
        // SYNC POINT WRITE: holder = writing before anything else changes, so that lock-free
        // readers (current(), incarnation_state()) never take the slot for its predecessor.
        s.holder.store(member_slot::writing, std::memory_order_seq_cst);
        const std::uint64_t inc = head().next_incarnation.fetch_add(1, std::memory_order_acq_rel) + 1;
        s.incarnation.store(inc, std::memory_order_release);
        s.name_length = static_cast<std::uint32_t>(name.size());
        std::memcpy(s.name, name.data(), name.size());
        // A predecessor killed asleep is still counted among the bell's sleepers.
        forget_sleeper(s.bell, s.asleep);
        // SYNC POINT WRITE: name and incarnation; READ by find() under the lock and by current().
        s.holder.store(packed, std::memory_order_seq_cst);
        return {*pick, inc, packed};
    }

    /// Gives the name back. seq_cst: paired with the peer's leave, so that of two members
    /// leaving at once at least one sees the other gone (and removes their links).
    void leave(const member_ref& m) noexcept {
        std::uint64_t expected = m.holder;
        slots()[m.slot].holder.compare_exchange_strong(expected, member_slot::vacant, std::memory_order_seq_cst);
    }

    /// The live member called `name`, if any. Throws timed_out when the registry lock stays
    /// held (see locked).
    [[nodiscard]] std::optional<member_ref> find(std::string_view name) const {
        locked guard(*this);
        for (std::size_t i = 0; i < capacity_; ++i) {
            const member_slot& s = slots()[i];
            if (s.name_view() != name) continue;
            const std::uint64_t h = s.holder.load(std::memory_order_acquire);
            if (h == member_slot::vacant || h == member_slot::writing || !sys::is_alive(sys::process_id::unpack(h)))
                continue;
            return member_ref{i, s.incarnation.load(std::memory_order_acquire), h};
        }
        return std::nullopt;
    }

    /// The names of the live members, in slot order.
    [[nodiscard]] std::vector<std::pair<std::string, member_ref>> members() const {
        std::vector<std::pair<std::string, member_ref>> out;
        locked guard(*this);
        for (std::size_t i = 0; i < capacity_; ++i) {
            const member_slot& s = slots()[i];
            const std::uint64_t h = s.holder.load(std::memory_order_acquire);
            if (h == member_slot::vacant || h == member_slot::writing || !sys::is_alive(sys::process_id::unpack(h)))
                continue;
            out.emplace_back(std::string(s.name_view()), member_ref{i, s.incarnation.load(std::memory_order_acquire), h});
        }
        return out;
    }

    /// Whether `m` still holds its slot: two loads, no system call (a dead holder still holds it).
    [[nodiscard]] bool current(const member_ref& m) const noexcept {
        const member_slot& s = slots()[m.slot];
        // SYNC POINT READ: seq_cst, paired with leave() and join()'s stores of holder.
        return s.holder.load(std::memory_order_seq_cst) == m.holder &&
               s.incarnation.load(std::memory_order_acquire) == m.incarnation;
    }

    /// How the member of incarnation `inc` stands: ok (it holds its slot and, with ask_os, runs),
    /// peer_dead (with ask_os: it holds its slot, dead), closed (it left, or its slot was taken
    /// over). Without ask_os, loads only.
    [[nodiscard]] errc incarnation_state(std::uint64_t inc, bool ask_os) const noexcept {
        for (std::size_t i = 0; i < capacity_; ++i) {
            const member_slot& s = slots()[i];
            if (s.incarnation.load(std::memory_order_acquire) != inc) continue;
            const std::uint64_t h = s.holder.load(std::memory_order_seq_cst);
            if (s.incarnation.load(std::memory_order_acquire) != inc) break;  // taken over meanwhile
            if (h == member_slot::vacant || h == member_slot::writing) return errc::closed;
            if (!ask_os) return errc::ok;
            return sys::is_alive(sys::process_id::unpack(h)) ? errc::ok : errc::peer_dead;
        }
        return errc::closed;
    }

    /// The member of incarnation `inc` while it holds its slot (alive or dead), found without the
    /// lock: loads only. nullopt once it has left or its slot was taken over. Set-up: a receiver
    /// that found a link by its name learns where to watch its sender (current()).
    [[nodiscard]] std::optional<member_ref> find_incarnation(std::uint64_t inc) const noexcept {
        for (std::size_t i = 0; i < capacity_; ++i) {
            const member_slot& s = slots()[i];
            if (s.incarnation.load(std::memory_order_acquire) != inc) continue;
            // SYNC POINT READ: seq_cst, paired with join() and leave()'s stores of holder.
            const std::uint64_t h = s.holder.load(std::memory_order_seq_cst);
            if (s.incarnation.load(std::memory_order_acquire) != inc) break;  // taken over meanwhile
            if (h == member_slot::vacant || h == member_slot::writing) break;
            return member_ref{i, inc, h};
        }
        return std::nullopt;
    }

    /// Whether the member of incarnation `inc` holds its slot and runs (system calls).
    [[nodiscard]] bool live(std::uint64_t inc) const noexcept { return incarnation_state(inc, true) == errc::ok; }

private:
    /// The registry lock, held for a scope; stolen from a holder found dead. A critical section
    /// takes microseconds (milliseconds for a scan of 4096 members' liveness), so a lock held past
    /// patience() by a process that runs is a member stopped inside it (a debugger, SIGSTOP) or a
    /// lock word damaged to name some other live process: either way waiting on is a hang, so the
    /// constructor throws timed_out saying which process holds it and what to do.
    class locked {
    public:
        explicit locked(const registry& r) : lock_(r.head().lock), me_(sys::self().pack()) {
            const auto start = clock::now();
            const auto give_up = start + r.patience();
            auto next_check = start + std::chrono::milliseconds(1);
            for (unsigned i = 0;; ++i) {
                std::uint64_t cur = 0;
                // SYNC POINT WRITE/READ: acquire, paired with the previous holder's release below.
                if (lock_.compare_exchange_strong(cur, me_, std::memory_order_acq_rel, std::memory_order_acquire)) return;
                if (i < 64) {
                    sys::cpu_relax();
                    continue;
                }
                const auto now = clock::now();
                if (now >= next_check) {
                    next_check = now + std::min<std::chrono::nanoseconds>(r.liveness_, std::chrono::milliseconds(10));
                    if (cur != me_ && !sys::is_alive(sys::process_id::unpack(cur)) &&
                        lock_.compare_exchange_strong(cur, me_, std::memory_order_acq_rel, std::memory_order_acquire))
                        return;  // its holder died inside; every critical section leaves slots consistent
                    if (now >= give_up) throw error(errc::timed_out, r.held_too_long(cur));
                }
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            }
        }
        ~locked() {
            std::uint64_t cur = me_;
            // SYNC POINT WRITE: what the critical section wrote; READ by the next holder's CAS.
            lock_.compare_exchange_strong(cur, 0, std::memory_order_release, std::memory_order_relaxed);
        }
        locked(const locked&) = delete;
        locked& operator=(const locked&) = delete;

    private:
        std::atomic<std::uint64_t>& lock_;
        std::uint64_t me_;
    };

    /// How long locked waits for a holder that still runs: 20 liveness intervals, 1 s to 60 s.
    [[nodiscard]] std::chrono::nanoseconds patience() const noexcept {
        return std::clamp<std::chrono::nanoseconds>(20 * liveness_, std::chrono::seconds(1), std::chrono::seconds(60));
    }

    [[nodiscard]] std::string held_too_long(std::uint64_t holder) const {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(patience()).count();
        return "the registry lock of domain '" + name() + "' has been held for over " + std::to_string(ms) +
               " ms by process " + std::to_string(sys::process_id::unpack(holder).pid) +
               ", which still runs. If that process is a member stopped in a debugger or by SIGSTOP, let it "
               "go on; if it is not a member of the domain, the registry is damaged: when none of its "
               "members runs, remove it with ipckit::remove_domain(\"" + name() + "\") and join again";
    }

    static segment open(std::string_view domain, std::size_t capacity, const std::string& kind, const options& opt,
                        bool create) {
        validate_node_name(domain, max_domain_name, "domain");
        if (capacity == 0 || capacity > 4096)
            throw error(errc::invalid_argument, "a domain holds 1 to 4096 members; " + std::to_string(capacity) +
                                                    " was asked for (node_options::members)");
        const segment_layout want = layout(capacity, kind);
        try {
            if (!create) return segment::open(domain, want, opt);
            return segment::open_or_create<system_owned>(domain, want, opt, [capacity](void* body) {
                auto* h = ::new (body) registry_head{};
                const auto now = std::chrono::system_clock::now().time_since_epoch();
                h->next_incarnation.store(
                    static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()),
                    std::memory_order_relaxed);
                auto* slots = reinterpret_cast<member_slot*>(static_cast<char*>(body) + sizeof(registry_head));
                for (std::size_t i = 0; i < capacity; ++i) ::new (&slots[i]) member_slot{};
            });
        } catch (const error& e) {
            if (e.reason() != errc::incompatible_layout) throw;
            throw error(errc::incompatible_layout,
                        "'" + std::string(domain) + "' is not a domain that this node can join: " + e.what() +
                            ". A domain's name must not be used by a queue or mailbox, and all its members must use "
                            "the same node type and node_options::members");
        }
    }

    [[nodiscard]] registry_head& head() const noexcept { return *static_cast<registry_head*>(segment_.body()); }
    [[nodiscard]] member_slot* slots() const noexcept {
        return reinterpret_cast<member_slot*>(static_cast<char*>(segment_.body()) + sizeof(registry_head));
    }

    segment segment_;
    std::size_t capacity_;
    std::chrono::nanoseconds liveness_;
};

}  // namespace ipckit::detail
