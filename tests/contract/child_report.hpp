#pragma once
// How a forked child of a contract scenario says what went wrong: not through a magic exit code,
// but by writing what it saw, what it expected and the source line of the check through a pipe,
// once, before it _exits. The parent then asserts on a sentence that names all three, e.g.
//   "saw errc(timed out) where it expected errc(ok), at line 57"
// so a failing scenario says what the child saw without a look at its code.
//
//   child_report report;
//   child c = report.spawn([&](child_report& r) {
//       r.expect(K::send(tx, 0), errc::ok);      // on a mismatch: writes, then _exit(1)
//       r.expect_value(seq, 7);                  // values too
//   });
//   CHECK(report.finish(c) == as_expected);     // waits for the child, reads its report
//
// The child uses no Catch2 macros and starts no threads; an exception that leaves it is reported
// too (spawn() catches it). One report is one pipe: make one per child.

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

#include <unistd.h>

namespace ipckit_test {

/// What child_report::finish says of a child that did all it was asked and exited with 0.
inline const std::string as_expected = "as expected";

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

    /// Forks a child that runs fn(*this) and exits with 0 if it returns; the report then says
    /// as_expected. An exception that leaves fn is reported with its what().
    child spawn(const std::function<void(child_report&)>& fn) {
        return child([this, &fn] {
            try {
                fn(*this);
            } catch (const std::exception& e) {
                fail_text(std::string("threw: ") + e.what());
            } catch (...) {
                fail_text("threw something not a std::exception");
            }
            return 0;
        });
    }

    /// In the parent: waits for the child to end and says what it reported, as_expected if all
    /// went as it expected.
    std::string finish(child& c) {
        pipe_.close_write();
        const int status = c.wait();
        record r{};
        if (!pipe_.get(&r, sizeof r, std::chrono::milliseconds(0))) {
            if (status == 0) return as_expected;
            return status >= 1000 ? "was killed by signal " + std::to_string(status - 1000) + " without a report"
                                  : "exited with " + std::to_string(status) + " without a report";
        }
        if (r.kind == record::text_kind) {
            char text[sizeof r.text + 1] = {};
            std::memcpy(text, r.text, sizeof r.text);
            return text;
        }
        const auto show = [&](std::int64_t v) {
            return r.kind == record::errc_kind
                       ? "errc(" + ipckit::make_error_code(static_cast<ipckit::errc>(v)).message() + ")"
                       : std::to_string(static_cast<std::uint64_t>(v));
        };
        return "saw " + show(r.seen) + " where it expected " + show(r.wanted) + ", at line " + std::to_string(r.line);
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

    [[noreturn]] void fail(record r) const {
        pipe_.put(&r, sizeof r);
        std::fflush(nullptr);
        ::_exit(1);
    }
    [[noreturn]] void fail_text(const std::string& s) const {
        record r{};
        r.kind = record::text_kind;
        std::memcpy(r.text, s.data(), std::min(s.size(), sizeof r.text));
        fail(r);
    }

    signal_pipe pipe_;
};

}  // namespace ipckit_test
