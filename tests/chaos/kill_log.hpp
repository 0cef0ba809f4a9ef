#pragma once
// What the processes of one kill_random trial tell the parent, and how they wait for it: a log
// in memory shared by the parent and every child it forks (MAP_SHARED | MAP_ANONYMOUS, made
// before the first fork), and a pipe of events.
//
// Each process has a record: what it attached to, how many sends returned ok (its messages are
// seq 0 .. sent-1), every message it received (identity and whether it was intact), every
// message handed back to it as undelivered (node links), the peer departures it was told of
// (node links), and the result that ended its loop. An entry is written before the count that
// covers it is stored (release), so a process killed half-way through logging a message has not
// logged it: the parent counts it as taken and not returned, which is what README allows a
// killed receiver.
//
// Events go through a pipe (two bytes each, atomic: shorter than PIPE_BUF) so that the parent can
// wait for them with poll(): a process attached, the victim reached the operation at which it is
// to be killed, a producer sent all its messages. The parent answers through two words of the
// log that children wait on with a futex: `settled` (the kill is over and any replacement has
// attached) and `producers_done` (every producer process has ended).

#include "chaos_message.hpp"

#include <ipckit/detail/sys/futex.hpp>
#include <ipckit/error.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

namespace chaos {

/// An entry of a receiver's log: who sent the message, its seq, and whether it was intact.
struct log_entry {
    std::uint32_t producer;
    std::uint32_t intact;  ///< 1 if the message passed its checksum; 0: garbage (its identity means nothing)
    std::uint64_t seq;
};

/// A departure a node receiver was told of: (member index, closed or peer_dead).
struct departure {
    std::uint32_t member;
    std::uint32_t why;  ///< an errc
};

/// One process's record.
struct proc_record {
    enum : std::uint32_t { idle = 0, attached = 1, finished = 2 };
    std::atomic<std::uint32_t> phase{idle};
    std::atomic<std::uint32_t> end{0};        ///< the errc that ended its loop (ok: a producer sent everything)
    std::atomic<std::uint32_t> at_setup{0};   ///< 1 if `end` was thrown by set-up (open, attach, join)
    std::atomic<std::uint64_t> sent{0};       ///< producer: sends that returned ok
    std::atomic<std::uint64_t> got{0};        ///< receiver: entries in its received log
    std::atomic<std::uint64_t> returned{0};   ///< producer: entries in its undelivered log
    std::atomic<std::uint64_t> departures{0}; ///< node receiver: entries in its departure log
    std::atomic<std::uint32_t> late_death{0};  ///< queue receiver: read peer_dead after every producer ended
    char problem[200] = {};                   ///< what went wrong that no result says (an exception)
};

/// Events on the pipe: (slot << 8) | kind.
enum event_kind : std::uint16_t { ev_attached = 1, ev_trigger = 2, ev_sent_all = 3 };

/// The log of a trial of up to `procs` processes, each logging up to `capacity` messages.
class trial_log {
public:
    static constexpr std::size_t max_departures = 64;

    trial_log(std::size_t procs, std::size_t capacity) : procs_(procs), capacity_(capacity) {
        size_ = sizeof(head) + procs * (sizeof(proc_record) + 2 * capacity * sizeof(log_entry) +
                                        max_departures * sizeof(departure));
        data_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (data_ == MAP_FAILED) throw std::bad_alloc();
        ::new (data_) head;
        for (std::size_t i = 0; i < procs; ++i) ::new (static_cast<void*>(&record(i))) proc_record;
        if (::pipe(events_) != 0) throw std::bad_alloc();
    }
    ~trial_log() {
        ::munmap(data_, size_);
        ::close(events_[0]);
        ::close(events_[1]);
    }
    trial_log(const trial_log&) = delete;
    trial_log& operator=(const trial_log&) = delete;

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t procs() const noexcept { return procs_; }
    [[nodiscard]] int events_read_fd() const noexcept { return events_[0]; }
    [[nodiscard]] int events_write_fd() const noexcept { return events_[1]; }

    proc_record& record(std::size_t slot) const noexcept {
        return *reinterpret_cast<proc_record*>(base() + sizeof(head) + slot * sizeof(proc_record));
    }
    log_entry* received(std::size_t slot) const noexcept { return entries(slot, 0); }
    log_entry* returned(std::size_t slot) const noexcept { return entries(slot, 1); }
    departure* departures(std::size_t slot) const noexcept {
        return reinterpret_cast<departure*>(base() + sizeof(head) + procs_ * sizeof(proc_record) +
                                            2 * procs_ * capacity_ * sizeof(log_entry) +
                                            slot * max_departures * sizeof(departure));
    }

    // ---- the parent's answers, which children wait for ------------------------------------
    std::atomic<std::uint32_t>& settled() const noexcept { return h().settled; }
    std::atomic<std::uint32_t>& producers_done() const noexcept { return h().producers_done; }

    /// Sets `word` to 1 and wakes whoever waits on it.
    static void raise(std::atomic<std::uint32_t>& word) noexcept {
        word.store(1, std::memory_order_release);
        ipckit::detail::sys::futex_wake(word);
    }
    /// Waits until `word` is 1, or `deadline`; whether it is.
    static bool wait_for(std::atomic<std::uint32_t>& word, std::chrono::steady_clock::time_point deadline) noexcept {
        while (word.load(std::memory_order_acquire) == 0) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            (void)ipckit::detail::sys::futex_wait(word, 0, deadline);
        }
        return true;
    }

private:
    struct head {
        alignas(64) std::atomic<std::uint32_t> settled{0};
        std::atomic<std::uint32_t> producers_done{0};
    };
    head& h() const noexcept { return *static_cast<head*>(data_); }
    char* base() const noexcept { return static_cast<char*>(data_); }
    log_entry* entries(std::size_t slot, std::size_t which) const noexcept {
        return reinterpret_cast<log_entry*>(base() + sizeof(head) + procs_ * sizeof(proc_record) +
                                            (which * procs_ + slot) * capacity_ * sizeof(log_entry));
    }

    std::size_t procs_;
    std::size_t capacity_;
    std::size_t size_ = 0;
    void* data_ = nullptr;
    int events_[2] = {-1, -1};
};

/// What a child of a trial knows and how it logs: its slot (also its producer id), its role's
/// index (which original producer or receiver it is or replaces: a node's member name), when
/// to tell the parent it may be killed, and the deadline of every blocking verb.
class child_ctx {
public:
    static constexpr std::int64_t never = INT64_MAX;

    child_ctx(const trial_log& log, std::size_t slot, std::size_t role_index, std::int64_t trigger_at,
              std::string name, std::size_t messages, std::chrono::steady_clock::time_point deadline)
        : log_(&log), slot_(slot), role_index_(role_index), trigger_at_(trigger_at), name_(std::move(name)),
          messages_(messages), deadline_(deadline) {}

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] std::uint32_t id() const noexcept { return static_cast<std::uint32_t>(slot_); }
    [[nodiscard]] std::size_t role_index() const noexcept { return role_index_; }
    [[nodiscard]] std::size_t messages() const noexcept { return messages_; }
    [[nodiscard]] std::chrono::steady_clock::time_point deadline() const noexcept { return deadline_; }
    [[nodiscard]] bool producers_done() const noexcept {
        return log_->producers_done().load(std::memory_order_acquire) != 0;
    }

    /// Before set-up: the victim whose moment is "before it opens" says so.
    void starting() noexcept {
        if (trigger_at_ == -1) post(ev_trigger);
    }
    /// Set-up is done: attached to the queue, mailbox or domain.
    void attached() noexcept {
        rec().phase.store(proc_record::attached, std::memory_order_release);
        post(ev_attached);
        operation();
    }
    /// A send returned ok: seq 0 .. n-1 have been accepted. Each message counts as an
    /// operation, whether it came alone or in a run.
    void sent(std::uint64_t n) noexcept {
        const std::uint64_t before = rec().sent.load(std::memory_order_relaxed);
        rec().sent.store(n, std::memory_order_release);
        operation(static_cast<std::int64_t>(n - before));
    }
    void sent_all() noexcept { post(ev_sent_all); }
    /// A message received (identity meaningful only if intact).
    void got(identity id, bool intact) noexcept {
        const std::uint64_t n = rec().got.load(std::memory_order_relaxed);
        if (n >= log_->capacity()) return problem("more messages received than were ever sent");
        log_->received(slot_)[n] = {id.producer, intact ? 1u : 0u, id.seq};
        rec().got.store(n + 1, std::memory_order_release);
        operation();
    }
    /// A queue receiver read peer_dead after every producer process had ended (kill_kinds.hpp:
    /// consume): the parent checks that one was killed.
    void read_late_death() noexcept { rec().late_death.store(1, std::memory_order_release); }
    /// A message handed back as undelivered.
    void returned(identity id, bool intact) noexcept {
        const std::uint64_t n = rec().returned.load(std::memory_order_relaxed);
        if (n >= log_->capacity()) return problem("more messages handed back than were ever sent");
        log_->returned(slot_)[n] = {id.producer, intact ? 1u : 0u, id.seq};
        rec().returned.store(n + 1, std::memory_order_release);
    }
    /// A node peer's departure, reported by receive_any.
    void departed(std::uint32_t member, ipckit::errc why) noexcept {
        const std::uint64_t n = rec().departures.load(std::memory_order_relaxed);
        if (n >= trial_log::max_departures) return;
        log_->departures(slot_)[n] = {member, static_cast<std::uint32_t>(why)};
        rec().departures.store(n + 1, std::memory_order_release);
    }
    /// The loop ended with `e` (ok: a producer that sent everything). Returns the exit code 0.
    int end(ipckit::errc e, bool at_setup = false) noexcept {
        rec().end.store(static_cast<std::uint32_t>(e), std::memory_order_relaxed);
        rec().at_setup.store(at_setup ? 1 : 0, std::memory_order_relaxed);
        rec().phase.store(proc_record::finished, std::memory_order_release);
        return 0;
    }
    /// Something no result says went wrong (an unexpected exception): the parent fails the trial.
    void problem(const char* what) noexcept {
        std::snprintf(rec().problem, sizeof rec().problem, "%s", what);
    }

    /// Waits until the parent says the kill is over (and any replacement attached).
    bool wait_settled() const noexcept { return trial_log::wait_for(log_->settled(), deadline_); }
    /// Waits until the parent says every producer has ended.
    bool wait_producers_done() const noexcept { return trial_log::wait_for(log_->producers_done(), deadline_); }

private:
    proc_record& rec() const noexcept { return log_->record(slot_); }
    void post(event_kind k) const noexcept {
        const auto token = static_cast<std::uint16_t>((slot_ << 8) | k);
        (void)!::write(log_->events_write_fd(), &token, sizeof token);
    }
    /// `k` more operations: the victim tells the parent when they reach its moment.
    void operation(std::int64_t k = 1) noexcept {
        const std::int64_t before = ops_;
        ops_ += k;
        if (before <= trigger_at_ && trigger_at_ < ops_) post(ev_trigger);
    }

    const trial_log* log_;
    std::size_t slot_;
    std::size_t role_index_;
    std::int64_t trigger_at_;
    std::int64_t ops_ = 0;
    std::string name_;
    std::size_t messages_;
    std::chrono::steady_clock::time_point deadline_;
};

}  // namespace chaos
