// fuzz_segments: for each kind of segment, traffic, then random bytes scribbled at random places
// (most aimed at the header, indices, sequence words, record headers, roster places and
// payloads, found from the layout structs: fuzz_layout.hpp), or the file truncated or extended;
// then a probe, in a forked child, opens the segment, receives, sends and creates with deadlines.
// Built with AddressSanitizer and UndefinedBehaviorSanitizer, which abort the probe on the first
// error they see.
//
// A trial fails if
//   - the probe crashes (a signal: SIGSEGV, SIGBUS, or a sanitizer's abort) or hangs (30 s);
//   - a result is neither a value nor an errc that README lists (set-up: invalid_name, not_found,
//     already_exists, incompatible_layout, corrupt, no_space, permission_denied, sender_busy,
//     receiver_busy, and for nodes name_taken and invalid_argument; data path: would_block,
//     timed_out, closed, peer_dead, too_large, no_space, in_use, corrupt, and for nodes
//     invalid_argument and not_found), or an exception other than ipckit::error escapes;
//   - open says not_found of a segment that exists (README: not_found is a missing name), or
//     opens one whose magic, version, state, size, fingerprint or ownership word changed, or
//     create replaces one whose creator lives (README: already_exists; a file cut shorter than
//     a header is the exception: it looks like one whose creator died before sizing it);
//   - a message is delivered that no producer sent, or one already received (a replay), or one
//     older than one already received from its producer, or one that is not intact (garbage,
//     or read at the wrong place) unless a scribble hit a payload, whose change no queue can
//     detect (the rings' index checks and slot stamps make every other case corrupt).
//
// The parent never runs the library on a scribbled segment: it puts the traffic through before,
// restores a truncated file's size after the probe, and removes the segments by name.

#include "chaos_driver.hpp"
#include "fuzz_kinds.hpp"
#include "fuzz_layout.hpp"
#include "fuzz_probe.hpp"
#include "support.hpp"

#include <ipckit/ipckit.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// The sanitizers' settings, here so that a run by hand behaves as the ctest entry: stop at the
// first error, by abort(), so that the parent sees the probe die of a signal.
extern "C" __attribute__((used)) const char* __asan_default_options() { return "abort_on_error=1"; }
extern "C" __attribute__((used)) const char* __ubsan_default_options() {
    return "halt_on_error=1:abort_on_error=1:print_stacktrace=1";
}

namespace {

using namespace chaos;
using ipckit::errc;

/// How long a probe may run before it counts as a hang.
constexpr auto probe_deadline = std::chrono::seconds(30);

std::string unique_trial_name() {
    static unsigned n = 0;
    // Letters and digits only: valid as a segment name and as a node domain.
    return "chaosfuzz" + std::to_string(::getpid()) + "x" + std::to_string(n++);
}

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

// ---- the scribbles ------------------------------------------------------------------------

/// What the scribbles of a trial did, and what they may explain.
struct damage {
    std::vector<std::string> notes;  ///< one line per scribble
    bool payload = false;            ///< a message's bytes may have changed
    bool header = false;             ///< the segment header was hit, or the file resized
    /// What the first segment (the one a probe opens first) lost that must make its open fail:
    /// a changed magic, version, state, size, fingerprint or ownership word, or its file's size.
    std::vector<std::string> primary_broken;
    /// The first segment's file was cut shorter than a header: nothing says what it was, and
    /// create may take it for one whose creator died before sizing it, and replace it.
    bool primary_headerless = false;

    [[nodiscard]] std::string text() const {
        std::string s;
        for (const auto& n : notes) {
            s += "\n      scribbled: ";
            s += n;
        }
        return s;
    }
};

/// The segments of a trial, opened for writing, and the scribbles made on them.
class scribbler {
public:
    explicit scribbler(std::vector<segment_regions> segments) : segments_(std::move(segments)) {
        for (const auto& s : segments_) {
            fds_.push_back(::shm_open(ipckit::detail::os_name(s.name).c_str(), O_RDWR, 0));
        }
    }
    ~scribbler() {
        for (const int fd : fds_)
            if (fd >= 0) ::close(fd);
    }
    scribbler(const scribbler&) = delete;
    scribbler& operator=(const scribbler&) = delete;

    /// Scribbles on the segments: words in regions (most trials), bytes anywhere, or a resize.
    damage scribble(rng& r) {
        damage d;
        // The first segment's header as it was, to tell afterwards which of its words changed
        // (a word written twice may be back where it was).
        std::uint8_t header_before[header_size] = {};
        (void)!::pread(fds_[0], header_before, sizeof header_before, 0);
        const auto mode = r.below(100);
        if (mode < 75) {
            for (auto n = r.between(1, 4); n > 0; --n) word(r, d);
        } else if (mode < 87) {
            const std::size_t s = pick_segment(r);
            for (auto n = r.between(1, 8); n > 0; --n) {
                const std::size_t at = static_cast<std::size_t>(r.below(segments_[s].size));
                write(s, at, 1, r.next(), d, "a byte at random");
            }
        } else {
            resize(r, d);
        }
        std::uint8_t header_after[header_size] = {};
        (void)!::pread(fds_[0], header_after, sizeof header_after, 0);
        for (const auto& g : segments_[0].map.regions())
            if (is_checked_on_open(g) && std::memcmp(header_before + g.offset, header_after + g.offset, g.size) != 0)
                d.primary_broken.push_back(g.name);
        return d;
    }

    /// Gives every segment back the size it had (the parent's own mappings must stay valid).
    void restore_sizes() noexcept {
        for (std::size_t i = 0; i < segments_.size(); ++i)
            if (fds_[i] >= 0) (void)!::ftruncate(fds_[i], static_cast<off_t>(segments_[i].size));
    }

    [[nodiscard]] std::size_t regions() const noexcept {
        std::size_t n = 0;
        for (const auto& s : segments_) n += s.map.regions().size();
        return n;
    }

private:
    std::size_t pick_segment(rng& r) const {
        for (;;) {
            const auto s = static_cast<std::size_t>(r.below(segments_.size()));
            if (fds_[s] >= 0 && segments_[s].size > 0) return s;
        }
    }

    /// One scribble on a region: chosen by class (most weight on what says where messages are),
    /// then a mutation of its word, or a few bytes of a longer region.
    void word(rng& r, damage& d) {
        static constexpr std::pair<region_class, unsigned> weights[] = {
            {region_class::header, 20}, {region_class::control, 6}, {region_class::index, 20},
            {region_class::sequence, 20}, {region_class::record, 16}, {region_class::payload, 5},
            {region_class::roster, 9},  {region_class::bell, 4}};
        const std::size_t s = pick_segment(r);
        const auto& all = segments_[s].map.regions();
        std::vector<const region*> candidates;
        while (candidates.empty()) {
            auto roll = r.below(100);
            region_class want = region_class::header;
            for (const auto& [c, w] : weights) {
                if (roll < w) {
                    want = c;
                    break;
                }
                roll -= w;
            }
            for (const auto& g : all)
                if (g.what == want && g.offset + g.size <= segments_[s].size) candidates.push_back(&g);
        }
        const region& g = *candidates[static_cast<std::size_t>(r.below(candidates.size()))];
        if (g.size != 1 && g.size != 2 && g.size != 4 && g.size != 8) {
            const std::size_t n = std::min<std::size_t>(g.size, static_cast<std::size_t>(r.between(1, 8)));
            const std::size_t at = g.offset + static_cast<std::size_t>(r.below(g.size - n + 1));
            for (std::size_t i = 0; i < n; ++i) write(s, at + i, 1, r.next(), d, g.name);
            return;
        }
        const std::uint64_t cur = read(s, g.offset, g.size);
        std::uint64_t v = 0;
        static constexpr std::uint64_t deltas[] = {1, 2, 7, 8, 9, 16, 64, 128, 4096};
        switch (r.below(6)) {
        case 0: v = r.next(); break;
        case 1: {
            const std::uint64_t delta = deltas[r.below(std::size(deltas))];
            v = r.percent(50) ? cur + delta : cur - delta;
            break;
        }
        case 2: v = 0; break;
        case 3: v = r.below(5); break;
        case 4: {  // another word of the same class: head := tail, a sequence from another slot...
            const region* other = candidates[static_cast<std::size_t>(r.below(candidates.size()))];
            v = other->size == g.size ? read(s, other->offset, g.size) : r.next();
            break;
        }
        default: v = cur ^ (std::uint64_t{1} << r.below(g.size * 8)); break;
        }
        write(s, g.offset, g.size, v, d, g.name);
    }

    void resize(rng& r, damage& d) {
        const std::size_t s = pick_segment(r);
        const std::size_t size = segments_[s].size;
        const std::size_t choices[] = {0, 1, header_size / 2, header_size - 1, header_size, header_size + 8,
                                       size / 2, size - 8, size - 1, size + 1, size + 4096, size * 2};
        const std::size_t to = std::min<std::size_t>(choices[r.below(std::size(choices))], std::size_t{4} << 20);
        d.header = true;
        d.notes.push_back(segments_[s].name + ": resized from " + std::to_string(size) + " to " + std::to_string(to) +
                          " bytes");
        if (s == 0 && to != size) d.primary_broken.push_back("the file's size");
        if (s == 0 && to < header_size) d.primary_headerless = true;
        (void)!::ftruncate(fds_[s], static_cast<off_t>(to));
    }

    std::uint64_t read(std::size_t s, std::size_t at, std::size_t n) const {
        std::uint64_t v = 0;
        (void)!::pread(fds_[s], &v, n, static_cast<off_t>(at));
        return v;
    }

    void write(std::size_t s, std::size_t at, std::size_t n, std::uint64_t v, damage& d, const std::string& what) {
        const std::uint64_t before = read(s, at, n);
        (void)!::pwrite(fds_[s], &v, n, static_cast<off_t>(at));
        const region* g = segments_[s].map.at(at);
        const std::uint64_t mask = n == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * n)) - 1;
        d.notes.push_back(segments_[s].name + " +" + std::to_string(at) + " (" +
                          (g != nullptr ? g->name + ", " + name_of(g->what) : what + ", no region") + "): " +
                          std::to_string(n) + " byte(s) " + hex(before) + " -> " + hex(v & mask));
        if (g == nullptr) return;
        d.payload = d.payload || g->what == region_class::payload;
        d.header = d.header || g->what == region_class::header;
    }

    std::vector<segment_regions> segments_;
    std::vector<int> fds_;
};

// ---- judging the probe ----------------------------------------------------------------------

bool listed_for_set_up(errc e) {
    switch (e) {
    case errc::invalid_name:
    case errc::not_found:
    case errc::already_exists:
    case errc::incompatible_layout:
    case errc::corrupt:
    case errc::no_space:
    case errc::permission_denied:
    case errc::sender_busy:
    case errc::receiver_busy:
    case errc::name_taken:        // nodes: join
    case errc::timed_out:         // nodes: join, while the registry lock stays held by a live process
    case errc::invalid_argument:  // mailboxes: a process_owned mailbox's roles
        return true;
    default: return false;
    }
}

bool listed_for_data_path(errc e) {
    switch (e) {
    case errc::would_block:
    case errc::timed_out:
    case errc::closed:
    case errc::peer_dead:
    case errc::too_large:
    case errc::no_space:
    case errc::in_use:
    case errc::corrupt:
    case errc::invalid_argument:  // nodes
    case errc::not_found:         // nodes
        return true;
    default: return false;
    }
}

/// Whether every receiver reads every message (broadcast): a new receiver may then get messages
/// that another one received before, which is no replay.
template <class Kind>
constexpr bool receivers_share_messages = false;
template <class Q, class C, std::size_t S>
    requires std::is_same_v<typename Q::delivery_type, ipckit::broadcast>
constexpr bool receivers_share_messages<ring_fuzz<Q, C, S>> = true;

/// The step that opens a kind's first segment: a node's is its registry, which join opens.
template <class Kind>
constexpr step::verb opens_first_segment = std::is_same_v<Kind, node_fuzz> ? step::join : step::open;

template <class Kind>
void judge(trial& t, const probe_log& log, const traffic& before, const damage& d) {
    std::set<std::pair<std::uint32_t, std::uint64_t>> seen =
        receivers_share_messages<Kind> ? decltype(before.received){} : before.received;
    std::map<std::uint32_t, std::uint64_t> next;  // producer -> seq after the last one received
    for (const auto& [producer, seq] : seen) next[producer] = std::max(next[producer], seq + 1);
    std::uint64_t probe_sent = 0;
    bool opened_broken = false;
    const std::string where = d.text();
    for (std::size_t i = 0; i < log.size(); ++i) {
        const step& s = log[i];
        const auto v = static_cast<step::verb>(s.what);
        const auto e = static_cast<errc>(s.e);
        const std::string verb = name_of(v);
        if (s.how == step::foreign) {
            t.fail(verb + " threw something other than ipckit::error: " + log.foreign_what() + where);
            continue;
        }
        const bool set_up = v != step::receive && v != step::send;
        if (s.how == step::error) {
            if (set_up ? !listed_for_set_up(e) : !listed_for_data_path(e))
                t.fail(verb + " returned " + errc_name(e) + ", which README does not list" + where);
            else if (v == step::open && e == errc::not_found)
                t.fail("open said not_found of a segment that exists (README: not_found is a missing name)" + where);
            else if (v == step::create && e != errc::already_exists && e != errc::corrupt)
                t.fail(std::string("create of a name that exists returned ") + errc_name(e) +
                           " (README: already_exists)" + where);
            continue;
        }
        if (v == step::create) {
            if (!d.primary_headerless)
                t.fail("create replaced a segment that exists and whose creator lives (README: already_exists)" + where);
            continue;
        }
        if (v == opens_first_segment<Kind> && !d.primary_broken.empty() && !d.primary_headerless && !opened_broken) {
            opened_broken = true;  // once: a node joins twice
            std::string broken;
            for (const auto& b : d.primary_broken) {
                broken += broken.empty() ? "" : ", ";
                broken += b;
            }
            t.fail(verb + " succeeded on a segment whose " + broken +
                       " changed (README: corrupt, or incompatible_layout for another policy)" + where);
        }
        if (v == step::send) probe_sent = s.seq + 1;
        if (v != step::receive) continue;
        if (s.intact == 0) {
            if (!d.payload) t.fail("a message that is not intact was delivered (garbage, or read at the wrong place)" + where);
            continue;
        }
        const std::string id = "(producer " + std::to_string(s.producer) + ", seq " + std::to_string(s.seq) + ")";
        const auto sent_it = before.sent.find(s.producer);
        const std::uint64_t sent = s.producer == probe_producer ? probe_sent
                                   : sent_it != before.sent.end() ? sent_it->second
                                                                  : 0;
        if (s.seq >= sent)
            t.fail("message " + id + " was delivered, but never sent" + where);
        else if (seen.count({s.producer, s.seq}) != 0)
            t.fail("message " + id + " was delivered again: a replay" + where);
        else if (next.count(s.producer) != 0 && s.seq < next[s.producer])
            t.fail("message " + id + " was delivered after seq " + std::to_string(next[s.producer] - 1) +
                       " of its producer: out of place" + where);
        seen.insert({s.producer, s.seq});
        next[s.producer] = std::max(next[s.producer], s.seq + 1);
    }
}

// ---- a trial --------------------------------------------------------------------------------

template <class Kind>
void fuzz_trial(trial& t) {
    const std::string name = unique_trial_name();
    auto cleanup = [&] {
        // Whatever the scribbles left: chunks by name, then the segment itself, unbounded head or
        // not (remove_segment refuses a head whose chunks it cannot see to).
        for (const auto& n : ipckit::detail::segment_names(name + ".")) (void)ipckit::remove_segment(n);
        ipckit::detail::sys::shm_remove_quietly(ipckit::detail::os_name(name));
    };
    cleanup();
    traffic before;
    std::shared_ptr<void> holder;
    try {
        holder = Kind::setup(name, t.random(), before);
    } catch (const ipckit::error& e) {
        t.fail(std::string("the traffic before the scribbles failed: ") + e.what());
        cleanup();
        return;
    }
    scribbler s(Kind::segments(name));
    const damage d = s.scribble(t.random());
    for (const auto& n : d.notes) t.note("%s", n.c_str());

    probe_log log;
    const pid_t pid = ipckit_test::spawn([&] {
        prober p(log);
        Kind::probe(name, p);
        return 0;
    });
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    pollfd pfd{pidfd, POLLIN, 0};
    int ready = 0;
    do {
        ready = ::poll(&pfd, 1, static_cast<int>(std::chrono::milliseconds(probe_deadline).count()));
    } while (ready < 0 && errno == EINTR);
    ::close(pidfd);
    int status = 0;
    if (ready <= 0) {
        status = ipckit_test::kill_child(pid);
        t.fail("hang: the probe did not end within " + std::to_string(probe_deadline.count()) + " s, after " +
               std::to_string(log.size()) + " steps" + d.text());
    } else {
        status = ipckit_test::wait_child(pid);
        if (status >= 1000)
            t.fail("crash: the probe died of signal " + std::to_string(status - 1000) + " (" +
                   ::strsignal(status - 1000) + ") after " + std::to_string(log.size()) + " steps" + d.text());
        else if (status != 0)
            t.fail("the probe exited with " + std::to_string(status) + d.text());
    }
    for (std::size_t i = 0; i < log.size(); ++i) {
        const step& st = log[i];
        t.note("step %zu: %s -> %s%s", i, name_of(static_cast<step::verb>(st.what)),
               st.how == step::value ? "value" : st.how == step::foreign ? "foreign exception"
                                                                        : errc_name(static_cast<errc>(st.e)),
               st.how == step::value && (st.what == step::receive || st.what == step::send)
                   ? (" (producer " + std::to_string(st.producer) + ", seq " + std::to_string(st.seq) +
                      (st.intact != 0 ? ")" : ", not intact)"))
                         .c_str()
                   : "");
    }
    judge<Kind>(t, log, before, d);
    s.restore_sizes();
    holder.reset();
    cleanup();
}

template <class Kind>
kind_entry kind(const char* name, const char* what) {
    return {name, what, [](trial& t) { fuzz_trial<Kind>(t); }};
}

}  // namespace

int main(int argc, char** argv) {
    using ipckit::bounded;
    using ipckit::multi;
    using ipckit::single;
    using ipckit::system_owned;
    using ipckit::process_owned;
    using ipckit::adaptive;
    using T = stamped;
    using bytes_msg = ipckit::bytes<200>;
    const std::vector<kind_entry> kinds = {
        kind<ring_fuzz<ipckit::queue<T, bounded<8>>, fixed_codec, 1>>("spsc", "queue<T, bounded<8>>, process_owned"),
        kind<ring_fuzz<ipckit::queue<T, bounded<8>, multi, single, adaptive, system_owned>, fixed_codec, 2>>("mpsc", "queue<T, bounded<8>, multi, single>, system_owned"),
        kind<ring_fuzz<ipckit::queue<T, bounded<8>, single, multi, adaptive, system_owned>, fixed_codec, 1>>("spmc", "queue<T, bounded<8>, single, multi>, system_owned"),
        kind<ring_fuzz<ipckit::queue<T, bounded<8>, multi, multi, adaptive, system_owned>, fixed_codec, 2>>("mpmc", "queue<T, bounded<8>, multi, multi>, system_owned"),
        kind<ring_fuzz<ipckit::queue<T, bounded<8>, ipckit::lanes<4>, single, adaptive, system_owned>, fixed_codec, 3>>("lanes", "queue<T, bounded<8>, lanes<4>>, system_owned"),
        kind<ring_fuzz<ipckit::queue<bytes_msg, bounded<1024>, single, single, adaptive, system_owned>, bytes_codec<200>, 1>>("bytes_spsc", "queue<bytes<200>, bounded<1024>>, system_owned"),
        kind<ring_fuzz<ipckit::queue<bytes_msg, bounded<1024>, multi, single, adaptive, process_owned>, bytes_codec<200>, 2>>("bytes_mpsc", "queue<bytes<200>, bounded<1024>, multi>, process_owned"),
        kind<ring_fuzz<ipckit::queue<bytes_msg, bounded<16 * sizeof(ipckit::detail::record<200>)>, multi, multi, adaptive, system_owned>, bytes_codec<200>, 2>>("bytes_mpmc", "queue<bytes<200>, bounded<16 slots>, multi, multi>, system_owned"),
        kind<unbounded_fuzz<ipckit::queue<T, ipckit::unbounded<4096>, multi, single, adaptive, system_owned>>>("unbounded", "queue<T, unbounded<4096>, multi>, system_owned: head and chunks"),
        kind<two_process_fuzz<ipckit::queue<T, ipckit::zero_capacity, multi, multi, adaptive, system_owned>, fixed_codec, 0, false>>("rendezvous", "queue<T, zero_capacity, multi, multi>, system_owned"),
        kind<ring_fuzz<ipckit::mailbox<T, bounded<8>, ipckit::exclusive, system_owned>, fixed_codec, 2>>("mailbox_exclusive", "mailbox<T, bounded<8>, exclusive, system_owned>"),
        kind<two_process_fuzz<ipckit::mailbox<T, bounded<8>, ipckit::exclusive, process_owned>, fixed_codec, 8, true>>("mailbox_owned", "mailbox<T, bounded<8>, exclusive, process_owned>"),
        kind<ring_fuzz<ipckit::mailbox<T, bounded<8>, ipckit::any, system_owned>, fixed_codec, 2>>("mailbox_any", "mailbox<T, bounded<8>, any, system_owned>"),
        kind<ring_fuzz<ipckit::mailbox<T, bounded<8>, ipckit::round_robin, system_owned>, fixed_codec, 2>>("mailbox_round_robin", "mailbox<T, bounded<8>, round_robin, system_owned>"),
        kind<ring_fuzz<ipckit::mailbox<T, bounded<8>, ipckit::broadcast, system_owned>, fixed_codec, 2>>("mailbox_broadcast", "mailbox<T, bounded<8>, broadcast, system_owned>, 8 receiver places"),
        kind<node_fuzz>("node", "node links: a domain's registry and a link with messages unread"),
    };
    return run_driver(argc, argv,
                      "scribble on each kind's segments and check that nothing crashes, hangs, or delivers a message "
                      "it should not",
                      kinds);
}
