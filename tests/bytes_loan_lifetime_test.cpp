// Tests of a byte queue's loans and views (sender.loan(n), sender.loan_records(budget),
// receiver.receive_view(): detail/queue/bytes_endpoints.hpp) that outlive their endpoint: the
// endpoint's close or destruction ends them, as it does a fixed-size queue's
// (detail/queue/lending.hpp). A loan ended so sends nothing when committed and holds the next
// sender up in nothing; a view ended so leaves the next receiver every later message; and one
// that outlives its endpoint and the segment too touches nothing (a forked child does that, so
// that a fault shows as its death, not the test runner's).

#include "byte_messages.hpp"
#include "catch.hpp"
#include "contract/child_report.hpp"
#include "messages.hpp"
#include "support.hpp"

#include <ipckit/queue.hpp>

#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using ipckit::errc;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::err;
using ipckit_test::same;
using ipckit_test::scoped_name;
using ipckit_test::write_in_place;

namespace {

constexpr std::size_t max_bytes = 16;
constexpr std::size_t ring_bytes = 256;
using spsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<ring_bytes>>;
using mpsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::bounded<ring_bytes>, ipckit::multi_of<2>>;

using ipckit_test::as_bytes;

/// Everything there is now (non-blocking receiver), one message at a time.
template <class Rx>
std::vector<std::vector<std::byte>> drain(Rx& rx) {
    std::vector<std::vector<std::byte>> got;
    while (auto m = rx.receive()) got.push_back(std::move(*m));
    return got;
}

/// Whether `got` is exactly `want`, in order.
bool received(const std::vector<std::vector<std::byte>>& got, std::initializer_list<std::string_view> want) {
    if (got.size() != want.size()) return false;
    std::size_t i = 0;
    for (const std::string_view m : want)
        if (!same(got[i++], as_bytes(m))) return false;
    return true;
}

/// Sends messages that take the whole ring, lap after lap, and receives each: every byte of the
/// ring is free, nothing is held back. "" if all went so, else what went wrong.
template <class Tx, class Rx>
std::string ring_goes_round(Tx& tx, Rx& rx) {
    for (std::size_t i = 0; i < 3 * ring_bytes / 16; ++i) {  // records of 16 bytes: three laps
        const std::string_view m = i % 2 == 0 ? "even" : "odd!";
        if (!tx.send(m)) return "a send failed at message " + std::to_string(i);
        const auto got = rx.receive();
        if (!got) return "a receive failed at message " + std::to_string(i);
        if (!same(*got, as_bytes(m))) return "message " + std::to_string(i) + " came back wrong";
    }
    return "";
}

}  // namespace

TEMPLATE_TEST_CASE("bytes loan: a loan outlives its sender's close or destruction: commit is closed, nothing of it is "
                   "sent, and the next sender's messages all arrive in order",
                   "[unit]", spsc, mpsc) {
    scoped_name name("bytes-lifetime");
    auto q = TestType::create(name);
    auto rx = q.template receiver<ipckit::non_blocking>();
    std::optional<ipckit::sender<TestType, ipckit::non_blocking>> tx(q.template sender<ipckit::non_blocking>());
    auto loan = tx->loan(4);
    REQUIRE(loan);
    std::memcpy(loan->data().data(), "LOAN", 4);
    SECTION("closed") { tx->close(); }
    SECTION("destroyed") { tx.reset(); }
    CHECK_FALSE(*loan);
    CHECK(loan->size() == 0);
    CHECK(loan->data().empty());

    auto tx2 = q.template sender<ipckit::non_blocking>();
    REQUIRE(tx2.send("AAAA"));
    REQUIRE(tx2.send("BBBB"));
    CHECK(err(loan->commit()) == errc::closed);
    loan->abandon();  // does nothing now
    REQUIRE(tx2.send("CCCC"));
    CHECK(received(drain(rx), {"AAAA", "BBBB", "CCCC"}));
    CHECK(ring_goes_round(tx2, rx).empty());
}

TEMPLATE_TEST_CASE("bytes records loan: a loan of records outlives its sender's close: publish is closed, nothing of it "
                   "is sent, and the next sender's messages all arrive in order",
                   "[unit]", spsc, mpsc) {
    scoped_name name("bytes-lifetime");
    auto q = TestType::create(name);
    auto rx = q.template receiver<ipckit::non_blocking>();
    auto tx = q.template sender<ipckit::non_blocking>();
    auto loan = tx.loan_records(64);
    REQUIRE(loan);
    REQUIRE(write_in_place(*loan, as_bytes("lost")));
    tx.close();
    CHECK_FALSE(*loan);
    CHECK(loan->capacity() == 0);
    CHECK(loan->reserve(4) == nullptr);

    auto tx2 = q.template sender<ipckit::non_blocking>();
    REQUIRE(tx2.send("AAAA"));
    REQUIRE(tx2.send("BBBB"));
    CHECK(err(loan->publish()) == errc::closed);
    REQUIRE(tx2.send("CCCC"));
    CHECK(received(drain(rx), {"AAAA", "BBBB", "CCCC"}));
    CHECK(ring_goes_round(tx2, rx).empty());
}

TEMPLATE_TEST_CASE("bytes view: a view outlives its receiver's close or destruction: it is empty, and the next receiver "
                   "gets every later message in order, once",
                   "[unit]", spsc, mpsc) {
    scoped_name name("bytes-lifetime");
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    std::optional<ipckit::receiver<TestType, ipckit::non_blocking>> rx(q.template receiver<ipckit::non_blocking>());
    REQUIRE(tx.send("ONE"));
    REQUIRE(tx.send("TWO"));
    auto view = rx->receive_view();
    REQUIRE(view);
    CHECK(view->text() == "ONE");
    SECTION("closed") { rx->close(); }
    SECTION("destroyed") { rx.reset(); }
    CHECK_FALSE(*view);
    CHECK(view->size() == 0);
    CHECK(view->text().empty());

    auto rx2 = q.template receiver<ipckit::non_blocking>();
    REQUIRE(tx.send("THREE"));
    view->release();  // does nothing now
    CHECK(received(drain(rx2), {"TWO", "THREE"}));
    CHECK(ring_goes_round(tx, rx2).empty());
}

TEMPLATE_TEST_CASE("bytes loan and view: a loan, a loan of records and a view that outlive their endpoint and the "
                   "segment are ended, and are destroyed without touching it",
                   "[process]", spsc, mpsc) {
    using loan_type = typename TestType::template sender_type<ipckit::non_blocking>::loan_type;
    using records_type = typename TestType::template sender_type<ipckit::non_blocking>::records_loan_type;
    using view_type = typename TestType::template receiver_type<ipckit::non_blocking>::view_type;
    scoped_name name("bytes-lifetime");
    // Lends into `loan` and `view`, or into `records`, from endpoints that hold the last
    // references to the queue's segment: it is unmapped when this returns (and its name removed).
    const auto lend_past_segment = [&name](child_report& r, loan_type* loan, view_type* view, records_type* records) {
        auto q = TestType::create(name);
        auto tx = q.template sender<ipckit::non_blocking>();
        auto rx = q.template receiver<ipckit::non_blocking>();
        r.expect(err(tx.send("seen")), errc::ok);
        if (view != nullptr) {
            auto v = rx.receive_view();
            r.expect(err(v), errc::ok);
            *view = std::move(*v);
        }
        if (loan != nullptr) {
            auto l = tx.loan(4);
            r.expect(err(l), errc::ok);
            *loan = std::move(*l);
            std::memcpy(loan->data().data(), "LOAN", 4);
        }
        if (records != nullptr) {
            auto l = tx.loan_records(64);
            r.expect(err(l), errc::ok);
            *records = std::move(*l);
            r.check(write_in_place(*records, as_bytes("lost")), "room for a message");
        }
    };
    child_report report;
    // In a child: were the segment touched once unmapped, the child would die of it.
    child c = report.spawn([&](child_report& r) {
        {
            loan_type loan;  // declared before their endpoints: destroyed after them, untouched
            view_type view;
            lend_past_segment(r, &loan, &view, nullptr);
        }
        {
            records_type records;
            lend_past_segment(r, nullptr, nullptr, &records);
        }
        loan_type loan;
        view_type view;
        records_type records;
        lend_past_segment(r, &loan, &view, nullptr);
        r.check(!loan && loan.size() == 0 && loan.data().empty(), "the loan ended with its sender");
        r.check(!view && view.size() == 0 && view.data().empty(), "the view ended with its receiver");
        r.expect(err(loan.commit()), errc::closed);
        loan.abandon();
        view.release();
        lend_past_segment(r, nullptr, nullptr, &records);
        r.check(!records && records.capacity() == 0, "the loan of records ended with its sender");
        r.expect(err(records.publish()), errc::closed);
        records.abandon();
    });
    CHECK(report.finish(c) == as_expected);
}
