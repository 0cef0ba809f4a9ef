// kill_random: producers and receivers as processes, one of them SIGKILLed at a random moment,
// and the exact accounting README promises checked afterwards. For every kind of queue, mailbox
// delivery and node links (tests/chaos/kill_kinds.hpp).
//
// A trial:
//   1. The parent creates the queue or mailbox (kill_kinds.hpp: setup) and draws the victim (any
//      of the producers and receivers) and its moment: "before it opens", or "after its k-th
//      operation" (attach, send or receive), then at once or up to 300 us later. A victim
//      receiver that has not got that far when every producer has sent everything is killed then.
//   2. Receivers start and attach first; then producers. Each producer sends seq 0..M-1 (its id
//      is its slot), each receiver logs what it receives (kill_log.hpp). Nothing waits on a
//      sleep: the victim tells the parent through a pipe when it reaches its moment, and
//      children wait for the parent's answers on futex words.
//   3. The parent SIGKILLs the victim and starts a replacement where README says one may come
//      (a sender's or receiver's place held by a dead process is taken over by the next one; a
//      node member rejoins under its old name; a process_owned mailbox ends with its owner).
//      Producers close only once the kill is over, the replacement has attached and every
//      producer has attached (else, for a moment, none would be, and receivers would rightly
//      end). When every producer process has ended, mailboxes are removed (the only way one
//      ends), and receivers run to their end.
//   4. Checks, from the logs:
//      - every process not killed exited cleanly and ended with what README names as an end:
//        producers after sending everything; receivers with closed (queues: every producer
//        closed, after at most one late peer_dead and only if a producer was killed; mailboxes:
//        removed and drained; node links: every peer left and nothing is left to read);
//      - every message received is intact, was sent, and from each producer in the order sent;
//      - exactly once: no message twice; every accepted message (a send that returned ok)
//        received, except what a killed receiver had taken and not yet logged (README: a
//        receiver killed between taking a message and returning it takes that one with it; a
//        batch kind's receiver, up to what one receive takes). A killed producer's message in
//        flight may or may not arrive; of a batch kind's run in flight, its first messages may,
//        never one without the one before. Node links: accepted = delivered + undelivered
//        (handed back to the sender), again less at most the one a killed receiver took. A
//        process_owned mailbox whose owner was killed is gone, and with it what was still in
//        it: its owner's messages must be each producer's first ones;
//      - broadcast: every receiver gets every message sent while it was attached, in order;
//      - no hang: everything within a generous deadline per trial (60 s), else the seed is printed.
//
// Quick form (ctest, label stress): 20 trials per kind. Long form (README): --trials 1000.

#include "chaos_driver.hpp"
#include "kill_kinds.hpp"
#include "kill_log.hpp"
#include "support.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace chaos;
using ipckit::errc;

/// Messages each producer sends in a trial.
constexpr std::size_t messages_per_producer = 200;
/// How long a trial may take before it counts as a hang.
constexpr auto trial_deadline = std::chrono::seconds(60);

const char* text(errc e) { return errc_name(e); }

/// "(producer P, seq S)": how failures name a message.
std::string message_text(std::uint32_t producer, std::uint64_t seq) {
    std::string s = "(producer ";
    s += std::to_string(producer);
    s += ", seq ";
    s += std::to_string(seq);
    s += ")";
    return s;
}

std::string unique_trial_name() {
    static unsigned n = 0;
    // Letters and digits only: valid as a segment name and as a node domain.
    return "chaoskill" + std::to_string(::getpid()) + "x" + std::to_string(n++);
}

struct process {
    enum class role { producer, receiver };
    role what = role::producer;
    std::size_t slot = 0;
    std::size_t role_index = 0;
    pid_t pid = -1;
    int pidfd = -1;
    bool running = false;
    bool attached = false;
    bool sent_all = false;
    bool killed = false;
    bool replacement = false;
    int status = 0;  ///< as ipckit_test::wait_child says

    [[nodiscard]] const char* role_name() const { return what == role::producer ? "producer" : "receiver"; }
    [[nodiscard]] std::string label() const {
        return std::string(replacement ? "replacement " : "") + role_name() + " " + std::to_string(role_index) +
               " (slot " + std::to_string(slot) + ")";
    }
};

/// One trial of kind Kind: see the top of this file.
template <class Kind>
class kill_trial {
    static constexpr std::size_t P = Kind::producers;
    static constexpr std::size_t C = Kind::receivers;
    /// Messages a receiver may have taken and not yet logged at its kill: one, or what one
    /// receive takes where the codec takes runs. (A producer's in flight: run_in_flight.)
    static constexpr std::uint64_t taken_in_flight = most_taken_per_call<typename Kind::codec>;

public:
    explicit kill_trial(trial& t) : t_(t), log_(P + C + 1, (P + 1) * messages_per_producer + 16) {}

    void run() {
        Kind::cleanup(name_);
        std::shared_ptr<void> holder;
        try {
            holder = Kind::setup(name_);
        } catch (const ipckit::error& e) {
            t_.fail(std::string("set-up of the trial failed: ") + e.what());
            return;
        }
        draw_victim();
        const bool ended = drive();
        if (ended) check();
        holder.reset();
        try {
            Kind::cleanup(name_);
        } catch (...) {
        }
    }

private:
    // ---- the victim ---------------------------------------------------------------------

    void draw_victim() {
        auto& r = t_.random();
        victim_index_ = static_cast<std::size_t>(r.below(P + C));  // < C: a receiver, else a producer
        const bool receiver = victim_index_ < C;
        // Operations the victim will surely reach: its sends, or its share of the messages.
        const std::uint64_t all = P * messages_per_producer;
        const std::uint64_t ops = !receiver ? messages_per_producer
                                  : Kind::every_receiver_gets_all || C == 1 ? all
                                                                            : std::max<std::uint64_t>(1, all / C);
        trigger_at_ = r.percent(10) ? -1 : static_cast<std::int64_t>(r.below(ops));
        // Half the kills come as soon as the parent hears of the moment (tens of microseconds),
        // the others up to 300 us later: a victim does several operations in that time.
        delay_us_ = r.percent(50) ? 0 : r.below(300);
        t_.note("victim %s %zu, killed %s %lld ops and %llu us", receiver ? "receiver" : "producer",
                receiver ? victim_index_ : victim_index_ - C, trigger_at_ < 0 ? "before it opens, after" : "after",
                static_cast<long long>(std::max<std::int64_t>(trigger_at_, 0)),
                static_cast<unsigned long long>(delay_us_));
    }
    [[nodiscard]] bool is_victim(const process& p) const {
        if (p.replacement) return false;
        return p.what == process::role::receiver ? p.role_index == victim_index_ : p.role_index + C == victim_index_;
    }

    // ---- processes ----------------------------------------------------------------------

    process& start(process::role what, std::size_t role_index, bool replacement) {
        process p;
        p.what = what;
        p.slot = procs_.size();
        p.role_index = role_index;
        p.replacement = replacement;
        const std::int64_t trigger = is_victim(p) ? trigger_at_ : child_ctx::never;
        const auto deadline = deadline_;
        p.pid = ipckit_test::spawn([&] {
            child_ctx c(log_, p.slot, role_index, trigger, name_, messages_per_producer, deadline);
            try {
                return what == process::role::producer ? Kind::produce(c) : Kind::consume(c);
            } catch (const std::exception& e) {
                c.problem(e.what());
            } catch (...) {
                c.problem("an exception that is not a std::exception");
            }
            return 3;
        });
        p.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, p.pid, 0));
        if (p.pidfd < 0) {
            std::perror("pidfd_open");
            std::abort();
        }
        p.running = true;
        procs_.push_back(p);
        return procs_.back();
    }

    void ended(process& p, int status) {
        p.status = status;
        p.running = false;
        ::close(p.pidfd);
        p.pidfd = -1;
    }

    void kill_victim() {
        kill_done_ = true;
        for (auto& p : procs_) {
            if (!is_victim(p) || !p.running) continue;
            if (delay_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us_));  // when: the randomness itself
            const auto& rec = log_.record(p.slot);
            p.killed = true;
            ended(p, ipckit_test::kill_child(p.pid));
            t_.note("killed %s after %llu sent, %llu received", p.label().c_str(),
                    static_cast<unsigned long long>(rec.sent.load()), static_cast<unsigned long long>(rec.got.load()));
            const bool replaceable = !(Kind::owner_receives && p.what == process::role::receiver);
            if (replaceable) {
                replacement_slot_ = start(p.what, p.role_index, true).slot;
                t_.note("replacement started in slot %zu", *replacement_slot_);
            }
            return;
        }
        // The victim had ended on its own: nothing to kill.
    }

    /// Tells the producers that they may close, once the kill is over, its replacement (if any)
    /// has attached or ended, and every producer has attached or ended: until then a producer
    /// that closes could leave, for a moment, no producer attached, and receivers would rightly
    /// end with closed while another producer is still to come.
    void maybe_settle() {
        if (settled_ || !kill_done_) return;
        const bool everyone_there = std::all_of(procs_.begin(), procs_.end(), [&](const process& p) {
            return p.attached || !p.running || (p.what == process::role::receiver && p.slot != replacement_slot_);
        });
        if (!everyone_there) return;
        settled_ = true;
        trial_log::raise(log_.settled());
    }

    void kill_everyone() {
        for (auto& p : procs_)
            if (p.running) ended(p, ipckit_test::kill_child(p.pid));
    }

    // ---- the parent's loop ----------------------------------------------------------------

    /// Runs the trial's processes to their end; false if they did not end by the deadline.
    bool drive() {
        for (std::size_t i = 0; i < C; ++i) start(process::role::receiver, i, false);
        bool producers_started = false, producers_done = false;
        for (;;) {
            if (!producers_started && receivers_ready()) {
                for (std::size_t i = 0; i < P; ++i) start(process::role::producer, i, false);
                producers_started = true;
            }
            if (producers_started && !kill_done_ && victim_index_ < C && every_producer_sent()) kill_victim();
            if (producers_started) maybe_settle();
            if (producers_started && !producers_done && no_producer_runs()) {
                producers_done = true;
                try {
                    Kind::finish(name_);
                } catch (const ipckit::error& e) {
                    // README: a process_owned mailbox is gone with its owner (not_found), and
                    // one whose creator died initialising it is corrupt.
                    const bool gone = owner_killed() && (e.reason() == errc::not_found || e.reason() == errc::corrupt);
                    if (!gone) t_.fail(std::string("ending the queue or mailbox failed: ") + e.what());
                }
                trial_log::raise(log_.producers_done());
            }
            if (std::none_of(procs_.begin(), procs_.end(), [](const process& p) { return p.running; })) return true;
            if (steady::now() >= deadline_) {
                hang();
                return false;
            }

            std::vector<pollfd> fds{{log_.events_read_fd(), POLLIN, 0}};
            for (const auto& p : procs_)
                if (p.running) fds.push_back({p.pidfd, POLLIN, 0});
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - steady::now()).count();
            const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(left, 0)));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                hang();
                return false;
            }
            if ((fds[0].revents & POLLIN) != 0) read_events();
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if ((fds[i].revents & POLLIN) == 0) continue;
                const auto it = std::find_if(procs_.begin(), procs_.end(),
                                             [&](const process& p) { return p.running && p.pidfd == fds[i].fd; });
                if (it == procs_.end()) continue;
                ended(*it, ipckit_test::wait_child(it->pid));
                if (is_victim(*it) && !kill_done_) kill_victim();  // ended before its moment
            }
        }
    }

    void read_events() {
        std::uint16_t tokens[64];
        const ssize_t n = ::read(log_.events_read_fd(), tokens, sizeof tokens);
        if (n <= 0) return;
        for (ssize_t i = 0; i < n / 2; ++i) {
            const std::size_t slot = tokens[i] >> 8;
            const auto kind = static_cast<event_kind>(tokens[i] & 0xff);
            if (slot >= procs_.size()) continue;
            process& p = procs_[slot];
            switch (kind) {
            case ev_attached:
                p.attached = true;
                break;
            case ev_trigger:
                if (is_victim(p) && !kill_done_) kill_victim();
                break;
            case ev_sent_all: p.sent_all = true; break;
            }
        }
    }

    [[nodiscard]] bool producer_killed() const {
        return std::any_of(procs_.begin(), procs_.end(),
                           [](const process& p) { return p.killed && p.what == process::role::producer; });
    }
    [[nodiscard]] bool owner_killed() const {
        return Kind::owner_receives && std::any_of(procs_.begin(), procs_.end(), [](const process& p) {
                   return p.killed && p.what == process::role::receiver;
               });
    }
    [[nodiscard]] bool receivers_ready() const {
        return std::all_of(procs_.begin(), procs_.end(), [](const process& p) {
            return p.what != process::role::receiver || p.attached || !p.running;
        });
    }
    [[nodiscard]] bool every_producer_sent() const {
        return std::all_of(procs_.begin(), procs_.end(), [](const process& p) {
            return p.what != process::role::producer || p.sent_all || !p.running;
        });
    }
    [[nodiscard]] bool no_producer_runs() const {
        return std::none_of(procs_.begin(), procs_.end(),
                            [](const process& p) { return p.what == process::role::producer && p.running; });
    }

    void hang() {
        std::string who;
        for (const auto& p : procs_) {
            if (!p.running) continue;
            const auto& rec = log_.record(p.slot);
            who += "\n      " + p.label() + ": phase " + std::to_string(rec.phase.load()) + ", sent " +
                   std::to_string(rec.sent.load()) + ", received " + std::to_string(rec.got.load());
        }
        t_.fail("hang: the trial did not end within " + std::to_string(trial_deadline.count()) +
                " s (victim drawn: " + std::to_string(victim_index_) + ", killed: " + (kill_done_ ? "yes" : "no") +
                "); still running:" + who);
        kill_everyone();
    }

    // ---- checks -------------------------------------------------------------------------

    struct producer_info {
        std::uint64_t sent = 0;
        bool killed = false;
        std::size_t role_index = 0;
    };
    /// How many of a producer's messages past the ones it counted sent may have been published:
    /// none unless it was killed, else the message or run it was sending.
    static std::uint64_t in_flight(const producer_info& p) {
        return p.killed ? run_in_flight<typename Kind::codec>(p.sent, messages_per_producer) : 0;
    }

    void check() {
        for (const auto& p : procs_) {
            const auto& rec = log_.record(p.slot);
            t_.note("%s: %s, exit %d, end %s%s, sent %llu, received %llu, handed back %llu", p.label().c_str(),
                    p.killed ? "killed" : "ran", p.status, text(static_cast<errc>(rec.end.load())),
                    rec.at_setup.load() != 0 ? " at set-up" : "", static_cast<unsigned long long>(rec.sent.load()),
                    static_cast<unsigned long long>(rec.got.load()), static_cast<unsigned long long>(rec.returned.load()));
        }
        std::map<std::uint32_t, producer_info> producers;
        bool receiver_killed = false, owner_killed = false;
        for (const auto& p : procs_) {
            if (p.what == process::role::producer) {
                producers[static_cast<std::uint32_t>(p.slot)] = {log_.record(p.slot).sent.load(), p.killed, p.role_index};
            } else {
                receiver_killed = receiver_killed || p.killed;
                owner_killed = owner_killed || (p.killed && Kind::owner_receives);
            }
        }
        check_processes(owner_killed);
        check_messages(producers, receiver_killed, owner_killed);
        if constexpr (std::is_same_v<Kind, node_kind>) check_departures(producers);
    }

    /// Exit codes and the results that ended each process's loop.
    void check_processes(bool owner_killed) {
        for (const auto& p : procs_) {
            if (p.killed) continue;
            const auto& rec = log_.record(p.slot);
            const std::string who = p.label();
            if (p.status != 0 || rec.problem[0] != '\0')
                t_.fail(who + " exited with " + std::to_string(p.status) +
                        (rec.problem[0] != '\0' ? std::string(": ") + rec.problem : std::string()));
            if (rec.phase.load() != proc_record::finished) {
                t_.fail(who + " ended without a result");
                continue;
            }
            const auto end = static_cast<errc>(rec.end.load());
            const bool at_setup = rec.at_setup.load() != 0;
            const std::string got = std::string(text(end)) + (at_setup ? " at set-up" : "");
            if (p.what == process::role::producer) {
                if (end == errc::ok && rec.sent.load() == messages_per_producer) continue;
                // README: when a process_owned mailbox's owner dies, the mailbox is gone: senders
                // get closed, and open() is not_found (corrupt if it died initialising it).
                const bool gone = owner_killed && (at_setup ? end == errc::not_found || end == errc::corrupt
                                                            : end == errc::closed);
                if (!gone)
                    t_.fail(who + " stopped after " + std::to_string(rec.sent.load()) + " of " +
                            std::to_string(messages_per_producer) + " sends, with " + got +
                            "; README: every send goes through while a receiver may come");
            } else {
                if (rec.late_death.load() != 0 && !producer_killed())
                    t_.fail(who + " read peer_dead after every producer had ended, but no producer was killed");
                if (end == errc::closed && !at_setup) continue;
                t_.fail(who + " ended with " + got +
                            "; README: closed once every producer has closed (mailbox: once removed) "
                            "and every message was received");
            }
        }
    }

    struct seen {
        std::size_t receiver_slot;
        bool returned;  // handed back as undelivered
    };

    void check_messages(const std::map<std::uint32_t, producer_info>& producers, bool receiver_killed,
                        bool owner_killed) {
        std::map<std::pair<std::uint32_t, std::uint64_t>, std::vector<seen>> where;
        // A log, checked on its own: intact, sent, and each producer's in order.
        auto read_log = [&](const process& p, const log_entry* entries, std::uint64_t n, bool returned) {
            std::map<std::uint32_t, std::uint64_t> last;  // producer -> seq + 1 of the last one
            for (std::uint64_t i = 0; i < n; ++i) {
                const log_entry& e = entries[i];
                const std::string what = std::string(returned ? "handed back to " : "received by ") + p.label();
                if (e.intact == 0) {
                    t_.fail("a message that is not intact (torn or garbage) " + what);
                    continue;
                }
                const auto it = producers.find(e.producer);
                const std::string id = message_text(e.producer, e.seq);
                // A killed producer may have published what it had not yet counted sent: its
                // message in flight, or its run in flight (batch kinds).
                if (it == producers.end() || e.seq >= it->second.sent + in_flight(it->second)) {
                    t_.fail("message " + id + " " + what + " was never sent");
                    continue;
                }
                if (last.count(e.producer) != 0 && e.seq < last[e.producer])
                    t_.fail("message " + id + " " + what + " after seq " + std::to_string(last[e.producer] - 1) +
                            " of the same producer: out of order");
                last[e.producer] = e.seq + 1;
                where[{e.producer, e.seq}].push_back({p.slot, returned});
            }
        };
        for (const auto& p : procs_) {
            const auto& rec = log_.record(p.slot);
            if (p.what == process::role::receiver) read_log(p, log_.received(p.slot), rec.got.load(), false);
            else read_log(p, log_.returned(p.slot), rec.returned.load(), true);
        }
        if constexpr (Kind::every_receiver_gets_all)
            check_broadcast(producers);
        else
            check_exactly_once(producers, where, receiver_killed, owner_killed);
        if constexpr (Kind::one_receiver_at_a_time) check_succession();
    }

    /// Each accepted message delivered (or handed back) exactly once, less at most one per
    /// killed receiver (batch kinds: what one receive takes); a killed producer's message in
    /// flight (batch kinds: the first messages of its run in flight) at most once.
    void check_exactly_once(const std::map<std::uint32_t, producer_info>& producers,
                            const std::map<std::pair<std::uint32_t, std::uint64_t>, std::vector<seen>>& where,
                            bool receiver_killed, bool owner_killed) {
        for (const auto& [id, places] : where) {
            if (places.size() > 1) {
                std::string list;
                for (const auto& s : places) {
                    list += ' ';
                    list += procs_[s.receiver_slot].label();
                    if (s.returned) list += " (handed back)";
                }
                t_.fail("message " + message_text(id.first, id.second) + " " +
                        std::to_string(places.size()) + " times:" + list);
            }
        }
        // A run is published in order, slot by slot or at once: what arrived of a killed
        // producer's run in flight is its first messages, never one without the one before.
        for (const auto& [producer, info] : producers) {
            for (std::uint64_t seq = info.sent + 1; seq < info.sent + in_flight(info); ++seq)
                if (where.count({producer, seq}) != 0 && where.count({producer, seq - 1}) == 0)
                    t_.fail("message " + message_text(producer, seq) + " of the killed producer's run in flight " +
                            "arrived, but not the one before it: a run is published in order");
        }
        std::vector<std::string> missing;
        for (const auto& [producer, info] : producers) {
            std::uint64_t lost = 0, first = 0, last = 0;
            for (std::uint64_t seq = 0; seq < info.sent; ++seq) {
                if (where.count({producer, seq}) == 0) {
                    missing.push_back(message_text(producer, seq));
                    // The owner's death takes the rest of its mailbox with it: the owner must
                    // have had each producer's first messages, so nothing after a gap arrived.
                    if (owner_killed) break;
                    if (lost++ == 0) first = seq;
                    last = seq;
                }
            }
            // What a killed receiver's last receive took is one stretch of the ring, where each
            // producer's messages lie in order: of each producer, it lost consecutive ones.
            if (lost > 1 && last - first + 1 != lost)
                t_.fail(std::to_string(lost) + " messages of producer " + std::to_string(producer) +
                        " never received, from " + message_text(producer, first) + " to " +
                        message_text(producer, last) + ", with some between them received: a receive takes one " +
                        "stretch of the ring, and the messages a killed receiver took are consecutive");
        }
        if (owner_killed) {
            for (const auto& [id, places] : where) {
                if (id.second > 0 && where.count({id.first, id.second - 1}) == 0)
                    t_.fail("the owner received " + message_text(id.first, id.second) + " but not the one before it");
            }
            return;
        }
        const std::size_t allowed = receiver_killed ? taken_in_flight : 0;
        if (missing.size() > allowed) {
            std::string list;
            for (std::size_t i = 0; i < missing.size() && i < 8; ++i) list += " " + missing[i];
            t_.fail(std::to_string(missing.size()) + " accepted message(s) never received" +
                    (std::is_same_v<Kind, node_kind> ? " nor handed back as undelivered" : "") + " (README allows " +
                    std::to_string(allowed) + ": what a killed receiver took and had not logged):" + list +
                    (missing.size() > 8 ? " ..." : ""));
        }
    }

    /// Broadcast: each receiver gets, from each producer, an unbroken run of its messages: all
    /// of them for a receiver attached throughout; from the start for one that was killed;
    /// to the end for one that attached later.
    void check_broadcast(const std::map<std::uint32_t, producer_info>& producers) {
        std::map<std::uint32_t, std::set<std::size_t>> in_flight_seen_by;  // producer -> receivers that got it
        std::size_t whole = 0;
        for (const auto& p : procs_) {
            if (p.what != process::role::receiver) continue;
            const bool attached_throughout = !p.killed && !p.replacement;
            whole += attached_throughout ? 1u : 0u;
            std::map<std::uint32_t, std::pair<std::uint64_t, std::uint64_t>> run;  // producer -> [first, last]
            const auto* entries = log_.received(p.slot);
            for (std::uint64_t i = 0; i < log_.record(p.slot).got.load(); ++i) {
                const auto& e = entries[i];
                if (e.intact == 0) continue;  // reported already
                auto it = run.find(e.producer);
                if (it == run.end()) {
                    run[e.producer] = {e.seq, e.seq};
                } else {
                    if (e.seq != it->second.second + 1)
                        t_.fail(p.label() + " received " + message_text(e.producer, e.seq) + " right after seq " +
                                std::to_string(it->second.second) +
                                ": README: every attached receiver gets every message, in order");
                    it->second.second = e.seq;
                }
            }
            for (const auto& [producer, info] : producers) {
                const auto it = run.find(producer);
                const bool any = it != run.end();
                const std::uint64_t first = any ? it->second.first : 0, last = any ? it->second.second : 0;
                if (any && info.killed && last == info.sent) in_flight_seen_by[producer].insert(p.slot);
                const std::string whose = p.label() + " got from producer " + std::to_string(producer) + " ";
                const std::string span = any ? "seq " + std::to_string(first) + ".." + std::to_string(last) : "nothing";
                if ((attached_throughout || p.killed) && any && first != 0)
                    t_.fail(whose + span + ", not from its first message, though attached before it was sent");
                if ((attached_throughout || p.replacement) && info.sent > 0 && (!any || last + 1 < info.sent) &&
                    (attached_throughout || any))
                    t_.fail(whose + span + " of " + std::to_string(info.sent) + " accepted: README: every "
                            "attached receiver gets every message");
            }
        }
        // A killed producer's message in flight was published to all or to none.
        for (const auto& [producer, receivers] : in_flight_seen_by) {
            std::size_t whole_seen = 0;
            for (const auto slot : receivers) whole_seen += (!procs_[slot].killed && !procs_[slot].replacement) ? 1u : 0u;
            if (whole_seen != 0 && whole_seen != whole)
                t_.fail("the killed producer " + std::to_string(producer) + "'s last message reached " +
                        std::to_string(whole_seen) + " of the " + std::to_string(whole) + " receivers attached throughout");
        }
    }

    /// One receiver at a time: a receiver that takes over goes on after its predecessor, so
    /// across them each producer's messages still rise.
    void check_succession() {
        std::map<std::uint32_t, std::uint64_t> next;  // producer -> seq + 1 of the last one received
        for (const auto& p : procs_) {  // in the order they started
            if (p.what != process::role::receiver) continue;
            const auto* entries = log_.received(p.slot);
            std::map<std::uint32_t, bool> first_of_this;
            for (std::uint64_t i = 0; i < log_.record(p.slot).got.load(); ++i) {
                const auto& e = entries[i];
                if (e.intact == 0) continue;
                if (!first_of_this[e.producer] && next.count(e.producer) != 0 && e.seq < next[e.producer])
                    t_.fail(p.label() + " received " + message_text(e.producer, e.seq) +
                            ", which its predecessor had received already");
                first_of_this[e.producer] = true;
                next[e.producer] = e.seq + 1;
            }
        }
    }

    /// Node links: each departure receive_any reported is closed or peer_dead, peer_dead only for
    /// a member whose process was killed, and the last one of a member whose last process left
    /// normally, closed.
    void check_departures(const std::map<std::uint32_t, producer_info>& producers) {
        for (const auto& p : procs_) {
            if (p.what != process::role::receiver || p.killed) continue;
            const auto& rec = log_.record(p.slot);
            std::map<std::uint32_t, errc> last;
            for (std::uint64_t i = 0; i < rec.departures.load(); ++i) {
                const departure d = log_.departures(p.slot)[i];
                const auto why = static_cast<errc>(d.why);
                bool killed_member = false;
                for (const auto& [id, info] : producers) killed_member = killed_member || (info.role_index == d.member && info.killed);
                if (d.member == node_kind::not_a_producer)
                    t_.fail(p.label() + " was told of the departure of a member that is no producer");
                else if (why == errc::peer_dead && !killed_member)
                    t_.fail(p.label() + " was told p" + std::to_string(d.member) +
                            " died (peer_dead), but no process of that name was killed");
                last[d.member] = why;
            }
            // The member's last process left normally; if this receiver heard from it at all, the
            // last word about that member must be closed.
            for (const auto& [id, info] : producers) {
                if (info.killed) continue;
                bool heard = false;
                const auto* entries = log_.received(p.slot);
                for (std::uint64_t i = 0; i < rec.got.load() && !heard; ++i) heard = entries[i].producer == id;
                const auto it = last.find(static_cast<std::uint32_t>(info.role_index));
                if (heard && (it == last.end() || it->second != errc::closed))
                    t_.fail(p.label() + " got the messages of p" + std::to_string(info.role_index) + " (slot " +
                            std::to_string(id) + "), which left normally, but was last told " +
                            (it == last.end() ? std::string("nothing") : std::string(text(it->second))) +
                            " of it; README: every message it sent, then (name, closed)");
            }
        }
    }

    trial& t_;
    trial_log log_;
    std::string name_ = unique_trial_name();
    std::vector<process> procs_;
    std::size_t victim_index_ = 0;
    std::int64_t trigger_at_ = 0;
    std::uint64_t delay_us_ = 0;
    bool kill_done_ = false;
    bool settled_ = false;
    std::optional<std::size_t> replacement_slot_;
    steady::time_point deadline_ = steady::now() + trial_deadline;
};

template <class Kind>
kind_entry kind(const char* name, const char* what) {
    return {name, what, [](trial& t) { kill_trial<Kind>(t).run(); }};
}

using ipckit::bounded;
using ipckit::multi;
using ipckit::single;

template <class Box, std::size_t P, std::size_t C>
using box = mailbox_kind<Box, P, C>;
/// A mailbox of bytes<200> holding 8 messages (bounded<N> counts bytes: 8 slots of 8 + 200).
template <class Delivery, class Ownership = ipckit::system_owned>
using bytes_box = ipckit::mailbox<ipckit::bytes<200>, bounded<8 * sizeof(ipckit::detail::record<200>)>, Delivery, Ownership>;

/// Several consumers of bytes<200>: 16 record slots.
template <class P>
using bytes_slots =
    ipckit::queue<ipckit::bytes<200>, bounded<16 * sizeof(ipckit::detail::record<200>)>, P, ipckit::multi>;

}  // namespace

int main(int argc, char** argv) {
    using fixed = fixed_codec;
    using batch = batch_codec<>;
    using batch_send = batch_codec<1>;  // receives one a call: a round_robin receiver passes the turn after each
    using bytes_batch = bytes_batch_codec<200>;
    using T = stamped;
    const std::vector<kind_entry> kinds = {
        kind<queue_kind<ipckit::queue<T, bounded<8>>, fixed, 1, 1>>("spsc", "queue<T, bounded<8>>: 1 producer, 1 receiver"),
        kind<queue_kind<ipckit::queue<T, bounded<8>, multi, single>, fixed, 3, 1>>("mpsc", "queue<T, bounded<8>, multi, single>: 3 producers, 1 receiver"),
        kind<queue_kind<ipckit::queue<T, bounded<8>, single, multi>, fixed, 1, 3>>("spmc", "queue<T, bounded<8>, single, multi>: 1 producer, 3 receivers"),
        kind<queue_kind<ipckit::queue<T, bounded<8>, multi, multi>, fixed, 3, 3>>("mpmc", "queue<T, bounded<8>, multi, multi>: 3 producers, 3 receivers"),
        kind<queue_kind<ipckit::queue<T, bounded<8>, ipckit::lanes<4>>, fixed, 3, 1>>("lanes", "queue<T, bounded<8>, lanes<4>>: 3 producers, 1 receiver"),
        kind<queue_kind<ipckit::queue<T, bounded<8>>, batch, 1, 1>>("spsc_batch", "queue<T, bounded<8>>, batches and loans of several: 1 producer, 1 receiver"),
        kind<queue_kind<ipckit::queue<T, bounded<8>, multi, single>, batch, 3, 1>>("mpsc_batch", "queue<T, bounded<8>, multi, single>, batches and loans of several: 3 producers, 1 receiver"),
        kind<queue_kind<ipckit::queue<T, bounded<8>, multi, multi>, batch, 3, 3>>("mpmc_batch", "queue<T, bounded<8>, multi, multi>, batches and loans of several: 3 producers, 3 receivers"),
        kind<queue_kind<ipckit::queue<T, bounded<8>, ipckit::lanes<4>>, batch, 3, 1>>("lanes_batch", "queue<T, bounded<8>, lanes<4>>, batches and loans of several: 3 producers, 1 receiver"),
        kind<queue_kind<ipckit::queue<ipckit::bytes<200>, bounded<1024>>, bytes_codec<200>, 1, 1>>("bytes_spsc", "queue<bytes<200>, bounded<1024>>: 1 producer, 1 receiver"),
        kind<queue_kind<ipckit::queue<ipckit::bytes<200>, bounded<1024>, multi>, bytes_codec<200>, 3, 1>>("bytes_mpsc", "queue<bytes<200>, bounded<1024>, multi>: 3 producers, 1 receiver"),
        kind<queue_kind<bytes_slots<single>, bytes_codec<200>, 1, 3>>("bytes_spmc", "queue<bytes<200>, bounded<16 slots>, single, multi>: 1 producer, 3 receivers"),
        kind<queue_kind<bytes_slots<multi>, bytes_codec<200>, 3, 3>>("bytes_mpmc", "queue<bytes<200>, bounded<16 slots>, multi, multi>: 3 producers, 3 receivers"),
        kind<queue_kind<ipckit::queue<ipckit::bytes<200>, bounded<1024>>, bytes_batch, 1, 1>>("bytes_spsc_batch", "queue<bytes<200>, bounded<1024>>, batches of records and loans of several: 1 producer, 1 receiver"),
        kind<queue_kind<ipckit::queue<ipckit::bytes<200>, bounded<1024>, multi>, bytes_batch, 3, 1>>("bytes_mpsc_batch", "queue<bytes<200>, bounded<1024>, multi>, batches of records and loans of several: 3 producers, 1 receiver"),
        kind<queue_kind<bytes_slots<multi>, bytes_batch, 3, 3>>("bytes_mpmc_batch", "queue<bytes<200>, bounded<16 slots>, multi, multi>, batches of records: 3 producers, 3 receivers"),
        kind<queue_kind<ipckit::queue<T, ipckit::unbounded<4096>, multi>, fixed, 2, 1>>("unbounded", "queue<T, unbounded<4096>, multi>: 2 producers, 1 receiver"),
        kind<queue_kind<ipckit::queue<T, ipckit::zero_capacity, multi, multi>, fixed, 2, 2>>("rendezvous", "queue<T, zero_capacity, multi, multi>: 2 producers, 2 receivers"),
        kind<queue_kind<ipckit::queue<ipckit::bytes<200>, ipckit::unbounded<4096>, multi>, bytes_codec<200>, 2, 1>>("bytes_unbounded", "queue<bytes<200>, unbounded<4096>, multi>: 2 producers, 1 receiver"),
        kind<queue_kind<ipckit::queue<ipckit::bytes<200>, ipckit::zero_capacity, multi, multi>, bytes_codec<200>, 2, 2>>("bytes_rendezvous", "queue<bytes<200>, zero_capacity, multi, multi>: 2 producers, 2 receivers"),
        kind<box<ipckit::mailbox<T, bounded<8>, ipckit::exclusive, ipckit::system_owned>, 2, 1>>("mailbox_exclusive", "mailbox<T, bounded<8>, exclusive, system_owned>: 2 senders, 1 receiver"),
        kind<owned_mailbox_kind<ipckit::mailbox<T, bounded<8>, ipckit::exclusive, ipckit::process_owned>, 2>>("mailbox_owned", "mailbox<T, bounded<8>, exclusive, process_owned>: 2 senders, the owner receives"),
        kind<box<ipckit::mailbox<T, bounded<8>, ipckit::any, ipckit::system_owned>, 2, 3>>("mailbox_any", "mailbox<T, bounded<8>, any, system_owned>: 2 senders, 3 receivers"),
        kind<box<ipckit::mailbox<T, bounded<8>, ipckit::round_robin, ipckit::system_owned>, 2, 3>>("mailbox_round_robin", "mailbox<T, bounded<8>, round_robin, system_owned>: 2 senders, 3 receivers"),
        kind<mailbox_kind<ipckit::mailbox<T, bounded<8>, ipckit::exclusive, ipckit::system_owned>, 2, 1, batch>>("mailbox_exclusive_batch", "mailbox<T, bounded<8>, exclusive, system_owned>, batches and loans of several: 2 senders, 1 receiver"),
        kind<mailbox_kind<ipckit::mailbox<T, bounded<8>, ipckit::any, ipckit::system_owned>, 2, 3, batch>>("mailbox_any_batch", "mailbox<T, bounded<8>, any, system_owned>, batches and loans of several: 2 senders, 3 receivers"),
        kind<mailbox_kind<ipckit::mailbox<T, bounded<8>, ipckit::round_robin, ipckit::system_owned>, 2, 3, batch_send>>("mailbox_round_robin_batch", "mailbox<T, bounded<8>, round_robin, system_owned>, batches and loans of several sent, one a call received: 2 senders, 3 receivers"),
        kind<box<ipckit::mailbox<T, bounded<8>, ipckit::broadcast, ipckit::system_owned>, 2, 3>>("mailbox_broadcast", "mailbox<T, bounded<8>, broadcast, system_owned>: 2 senders, 3 receivers"),
        kind<mailbox_kind<bytes_box<ipckit::exclusive>, 2, 1, bytes_codec<200>>>("mailbox_bytes_exclusive", "mailbox<bytes<200>, bounded<8 slots>, exclusive, system_owned>: 2 senders, 1 receiver"),
        kind<owned_mailbox_kind<bytes_box<ipckit::exclusive, ipckit::process_owned>, 2, bytes_codec<200>>>("mailbox_bytes_owned", "mailbox<bytes<200>, bounded<8 slots>, exclusive, process_owned>: 2 senders, the owner receives"),
        kind<mailbox_kind<bytes_box<ipckit::any>, 2, 3, bytes_codec<200>>>("mailbox_bytes_any", "mailbox<bytes<200>, bounded<8 slots>, any, system_owned>: 2 senders, 3 receivers"),
        kind<mailbox_kind<bytes_box<ipckit::exclusive>, 2, 1, bytes_batch>>("mailbox_bytes_exclusive_batch", "mailbox<bytes<200>, bounded<8 slots>, exclusive, system_owned>, batches of records: 2 senders, 1 receiver"),
        kind<mailbox_kind<bytes_box<ipckit::any>, 2, 3, bytes_batch>>("mailbox_bytes_any_batch", "mailbox<bytes<200>, bounded<8 slots>, any, system_owned>, batches of records: 2 senders, 3 receivers"),
        kind<mailbox_kind<bytes_box<ipckit::round_robin>, 2, 3, bytes_codec<200>>>("mailbox_bytes_round_robin", "mailbox<bytes<200>, bounded<8 slots>, round_robin, system_owned>: 2 senders, 3 receivers"),
        kind<node_kind>("node", "node links: members p0 and p1 send to rx (receive_any)"),
    };
    return run_driver(argc, argv,
                      "kill a random producer or receiver of each kind at a random moment and check README's accounting",
                      kinds);
}
