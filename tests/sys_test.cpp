// The OS layer: futex waits and wakes across processes, process identity and liveness, fork
// handlers and the count of forks.

#include <ipckit/detail/sys/fork.hpp>
#include <ipckit/detail/sys/futex.hpp>
#include <ipckit/detail/sys/poll.hpp>
#include <ipckit/detail/sys/process.hpp>

#include "catch.hpp"
#include "contract/child_report.hpp"
#include "support.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include <sys/mman.h>
#include <sys/prctl.h>

namespace sys = ipckit::detail::sys;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;

namespace {

// A futex word in memory shared with forked children, as a segment would hold it.
struct shared_word {
    shared_word() {
        void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        REQUIRE(p != MAP_FAILED);
        word = ::new (p) std::atomic<std::uint32_t>(0);
    }
    ~shared_word() { ::munmap(word, 4096); }
    std::atomic<std::uint32_t>* word;
};

}  // namespace

TEST_CASE("futex_wait returns at once when the word already differs, or the deadline has passed", "[unit]") {
    std::atomic<std::uint32_t> word{5};
    CHECK(sys::futex_wait(word, 4, sys::clock::time_point::max()) == sys::futex_result::value_changed);
    CHECK(sys::futex_wait(word, 5, sys::clock::now() - std::chrono::seconds(1)) == sys::futex_result::timed_out);
    CHECK(sys::futex_wait(word, 5, sys::clock::now() + std::chrono::milliseconds(5)) == sys::futex_result::timed_out);
    CHECK(sys::futex_wake(word) == 0);  // nobody sleeps there
}

TEST_CASE("a poll's timeout is 0 for any deadline passed, however long ago, and -1 only for none", "[unit]") {
    using clock = std::chrono::steady_clock;
    using ipckit::detail::sys::poll_timeout;
    CHECK(poll_timeout(clock::time_point::min()) == 0);  // "already past": the difference would overflow
    CHECK(poll_timeout(clock::now() - std::chrono::hours(1)) == 0);
    CHECK(poll_timeout(clock::time_point::max()) == -1);
    const int soon = poll_timeout(clock::now() + std::chrono::seconds(30));
    CHECK(soon > 0);
    CHECK(soon <= 30'000);
    CHECK(poll_timeout(clock::time_point::max() - std::chrono::hours(1)) == 1'000'000'000);  // clamped
}

TEST_CASE("a futex wake in one process ends a wait in another", "[process]") {
    shared_word shared;
    auto& word = *shared.word;
    child_report report;
    child waiter = report.spawn([&](child_report& r) {
        word.store(1);  // "about to sleep"
        sys::futex_wake(word);
        const auto deadline = sys::clock::now() + ipckit_test::patience;
        // Wait until the parent moves the word to 2; each result means "look again".
        while (word.load() != 2)
            r.check(sys::futex_wait(word, 1, deadline) != sys::futex_result::timed_out, "the word moved to 2 in time");
    });
    const auto deadline = sys::clock::now() + ipckit_test::patience;
    while (word.load() != 1) REQUIRE(sys::futex_wait(word, 0, deadline) != sys::futex_result::timed_out);
    word.store(2);
    sys::futex_wake(word);
    CHECK(report.finish(waiter) == as_expected);
}

namespace {
/// What the fork handlers below saw, each in its own process's copy.
std::uint64_t prepared = 0, in_parent = 0, in_child = 0;
}  // namespace

TEST_CASE("on_fork's handlers run around a fork: prepare and parent in the parent, child in the child",
          "[process]") {
    REQUIRE(sys::on_fork([] { ++prepared; }, [] { ++in_parent; }, [] { ++in_child; }));
    child_report report;
    child c = report.spawn([&](child_report& r) {
        r.expect_value(prepared, 1);  // copied from the parent, which prepared before the fork
        r.expect_value(in_parent, 0);
        r.expect_value(in_child, 1);
    });
    CHECK(prepared == 1);
    CHECK(in_parent == 1);
    CHECK(in_child == 0);
    CHECK(report.finish(c) == as_expected);
}

TEST_CASE("fork_generation counts the forks between the process that first asked and this one", "[process]") {
    const std::uint32_t here = sys::fork_generation();
    child_report report;
    child c = report.spawn([&](child_report& r) {
        r.expect_value(sys::fork_generation(), here + 1);
        child_report grandchild_report;
        child g = grandchild_report.spawn([&](child_report& gr) { gr.expect_value(sys::fork_generation(), here + 2); });
        r.expect(grandchild_report.finish(g));
        r.expect_value(sys::fork_generation(), here + 1);
    });
    CHECK(report.finish(c) == as_expected);
    CHECK(sys::fork_generation() == here);
}

TEST_CASE("a process id packs and unpacks", "[unit]") {
    const sys::process_id id{4'194'303, (std::uint64_t{1} << 42) - 1};
    const auto packed = id.pack();
    CHECK(packed > 1);  // never "vacant" or "closed"
    CHECK(sys::process_id::unpack(packed) == id);
    const sys::process_id small{1, 0};
    CHECK(small.pack() > 1);
    CHECK(sys::process_id::unpack(small.pack()) == small);
}

TEST_CASE("this process is alive, while an ended, a zombie or a reused pid is not", "[process]") {
    const auto me = sys::self();
    CHECK(me.pid == static_cast<std::uint32_t>(::getpid()));
    CHECK(me.start_time != 0);
    CHECK(sys::is_alive(me));

    // Same pid, another start time: a pid that was reused.
    CHECK_FALSE(sys::is_alive({me.pid, me.start_time + 1}));
    CHECK_FALSE(sys::is_alive({0, 0}));

    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ipckit_test::spawn([&] {
        const auto id = sys::self();
        if (::write(ready[1], &id, sizeof id) != sizeof id) return 3;
        for (;;) ::pause();
    });
    sys::process_id id{};
    REQUIRE(::read(ready[0], &id, sizeof id) == sizeof id);
    CHECK(id.pid == static_cast<std::uint32_t>(child));
    CHECK(sys::is_alive(id));

    ::kill(child, SIGKILL);
    // Not reaped yet: a zombie, which must count as dead. Wait for the state to show.
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT) == 0);
    CHECK_FALSE(sys::is_alive(id));
    CHECK(ipckit_test::wait_child(child) == 1000 + SIGKILL);
    CHECK_FALSE(sys::is_alive(id));
    ::close(ready[0]);
    ::close(ready[1]);
}

TEST_CASE("/proc stat parsing copes with odd process names", "[process]") {
    // comm may hold spaces and parentheses: "pid (a) b) c) S ...".
    child_report report;
    child named = report.spawn([](child_report& r) {
        ::prctl(PR_SET_NAME, "a) b (c");
        const auto id = ipckit::detail::sys::self();
        const auto st = sys::read_proc_stat(id.pid);
        r.check(static_cast<bool>(st), "its /proc stat read and parsed");
        r.check(st->state == 'R', "its state R (running), not " + std::string(1, st->state));
        r.check(st->start_time != 0, "a start time");
        r.check(sys::is_alive(id), "itself alive");
    });
    CHECK(report.finish(named) == as_expected);
}
