#pragma once
// How a forked child says what went wrong: not through a magic exit code, but by writing what it
// saw, what it expected and the source line of the check through a pipe, once, before it _exits.
// The parent then asserts on a sentence that names all three, e.g.
//   "saw errc(timed out) where it expected errc(ok), at line 57"
// so a failing test says what the child saw without a look at its code.
//
//   child_report report;
//   child c = report.spawn([&](child_report& r) {
//       r.expect(K::send(tx, 0), errc::ok);      // on a mismatch: writes, then _exit(1)
//       r.expect_value(seq, 7);                  // values too
//       r.check(name == "bob", "the name bob");  // any other condition, with what it expected
//       r.expect(send_all(tx, 0, n));            // a helper's sentence (messages.hpp), unless as_expected
//       ready.post();
//       ...
//   });
//   REQUIRE(report.reached(c, ready) == as_expected);  // it got there, or what it reported instead
//   CHECK(report.finish(c) == as_expected);            // waits for the child, reads its report
//
// A child to be killed at a known point posts, then calls r.block_until_killed(hold); one that
// raises SIGKILL itself is waited for with ended(c.wait(), killed_by_sigkill), which says what it
// reported if it failed a check first. The child uses no Catch2 macros and starts no threads; an
// exception that leaves it is reported too (spawn() catches it). One report is one pipe: make
// one per child. An exit status that is itself the behaviour under test (a child that _exits
// inside a set-up step, a program's 127 when exec fails) stays an exit status.

#include "../support.hpp"

#include <ipckit/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <string_view>

#include <unistd.h>

namespace ipckit_test {

/// What child_report::finish says of a child that did all it was asked and exited with 0, and
/// what a helper that describes an outcome in a sentence (messages.hpp) says when all went well.
inline const std::string as_expected = "as expected";

/// An errc as the sentences (and Catch2) show it: "errc(timed out)".
inline std::string errc_text(ipckit::errc e) { return "errc(" + ipckit::make_error_code(e).message() + ")"; }

class child_report {
public:
    /// In the child: on seen != wanted, reports both and the caller's line, and exits.
    void expect(ipckit::errc seen, ipckit::errc wanted, int line = __builtin_LINE()) const {
        if (seen != wanted) fail({line, record::errc_kind, static_cast<std::int64_t>(seen), static_cast<std::int64_t>(wanted), {}});
    }
    /// In the child: on got != want (a seq, a count...), reports both and the caller's line, and exits.
    void expect_value(std::uint64_t got, std::uint64_t want, int line = __builtin_LINE()) const {
        if (got != want) fail({line, record::value_kind, static_cast<std::int64_t>(got), static_cast<std::int64_t>(want), {}});
    }
    /// In the child: unless ok, reports "saw otherwise where it expected <what>" and the caller's
    /// line, and exits. `what` names the expectation, e.g. "the go signal", "a message from bob".
    void check(bool ok, std::string_view what, int line = __builtin_LINE()) const {
        if (!ok) fail_text("saw otherwise where it expected " + std::string(what), line);
    }
    /// In the child: unless `outcome` is as_expected, reports it (a sentence from a helper such as
    /// send_all) and the caller's line, and exits.
    void expect(std::string_view outcome, int line = __builtin_LINE()) const {
        if (outcome != as_expected) fail_text(std::string(outcome), line);
    }

    /// In the child: blocks until the parent kills it (see ipckit_test::block_until_killed); were
    /// it not killed, reports that and the caller's line, and exits.
    void block_until_killed(signal_pipe& hold, int line = __builtin_LINE()) const {
        (void)ipckit_test::block_until_killed(hold);
        fail_text("was not killed where it waited to be", line);
    }

    /// Forks a child that runs fn(*this) and exits with 0 if it returns; the report then says
    /// as_expected. An exception that leaves fn is reported with its what().
    child spawn(const std::function<void(child_report&)>& fn) {
        return child([this, &fn] {
            try {
                fn(*this);
            } catch (const std::exception& e) {
                fail_text(std::string("threw: ") + e.what(), no_line);
            } catch (...) {
                fail_text("threw something not a std::exception", no_line);
            }
            return 0;
        });
    }

    /// In the parent: waits for the child to end and says what it reported, as_expected if all
    /// went as it expected.
    std::string finish(child& c) { return ended(c.wait()); }

    /// In the parent, once the child has ended with `status` (what child::wait() or kill() says):
    /// what it reported or, if nothing, how it ended; as_expected if it ended as `wanted` (0, or
    /// killed_by_sigkill for a child that must die at a known point) without a report.
    std::string ended(int status, int wanted = 0) {
        pipe_.close_write();
        record r{};
        if (!pipe_.get(&r, sizeof r, std::chrono::milliseconds(0))) {
            if (status == wanted) return as_expected;
            return status >= 1000 ? "was killed by signal " + std::to_string(status - 1000) + " without a report"
                                  : "exited with " + std::to_string(status) + " without a report";
        }
        const std::string at = r.line == no_line ? "" : ", at line " + std::to_string(r.line);
        if (r.kind == record::text_kind) {
            char text[sizeof r.text + 1] = {};
            std::memcpy(text, r.text, sizeof r.text);
            return text + at;
        }
        const auto show = [&](std::int64_t v) {
            return r.kind == record::errc_kind ? errc_text(static_cast<ipckit::errc>(v))
                                               : std::to_string(static_cast<std::uint64_t>(v));
        };
        return "saw " + show(r.seen) + " where it expected " + show(r.wanted) + at;
    }

    /// In the parent: waits (with patience) for the child to post on `signal`, a point it must
    /// reach; as_expected if it did. If not, the child is killed (should it still run) and this
    /// says what it reported, or how it ended. Closes this side's write end of `signal`, so that
    /// a child that ends without posting is noticed at once when no other process holds one.
    std::string reached(child& c, signal_pipe& signal) {
        signal.close_write();
        return signal.wait() ? as_expected : ended(c.kill());
    }

private:
    struct record {
        enum kind_t : int { errc_kind, value_kind, text_kind };
        int line;
        kind_t kind;
        std::int64_t seen;
        std::int64_t wanted;
        char text[200];
    };

    static constexpr int no_line = 0;

    [[noreturn]] void fail(record r) const {
        pipe_.put(&r, sizeof r);
        std::fflush(nullptr);
        ::_exit(1);
    }
    [[noreturn]] void fail_text(const std::string& s, int line) const {
        record r{};
        r.line = line;
        r.kind = record::text_kind;
        std::memcpy(r.text, s.data(), std::min(s.size(), sizeof r.text));
        fail(r);
    }

    signal_pipe pipe_;
};

}  // namespace ipckit_test
