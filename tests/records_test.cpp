// ipckit::records: several variable-size messages in one buffer of the caller's.

#include <ipckit/records.hpp>

#include "catch.hpp"

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::string text(std::span<const std::byte> m) {
    return {reinterpret_cast<const char*>(m.data()), m.size()};
}

std::vector<std::string> walk(const ipckit::records& rs) {
    std::vector<std::string> out;
    for (std::span<const std::byte> m : rs) out.push_back(text(m));
    return out;
}

}  // namespace

TEST_CASE("records walk back the messages appended, in order, empty ones included", "[unit]") {
    std::vector<std::byte> storage(ipckit::records::storage_for(4, 16));
    ipckit::records rs{storage};
    CHECK(rs.empty());
    CHECK(rs.begin() == rs.end());

    CHECK(rs.push_back(std::string_view("first")));
    CHECK(rs.push_back(std::string_view("")));
    CHECK(rs.push_back(std::string_view("sixteen bytes!!!")));

    CHECK(rs.size() == 3);
    CHECK(walk(rs) == std::vector<std::string>{"first", "", "sixteen bytes!!!"});
}

TEST_CASE("records refuse a message that does not fit and keep what they hold", "[unit]") {
    std::vector<std::byte> storage(ipckit::records::storage_for(2, 8));
    ipckit::records rs{storage};
    CHECK(rs.push_back(std::string_view("12345678")));
    CHECK(rs.push_back(std::string_view("abc")));
    const std::size_t used = rs.used();

    CHECK_FALSE(rs.fits(1));
    CHECK_FALSE(rs.push_back(std::string_view("x")));
    CHECK(rs.reserve(0) == nullptr);
    CHECK(rs.used() == used);
    CHECK(walk(rs) == std::vector<std::string>{"12345678", "abc"});

    SECTION("a message longer than the whole storage never fits, even when empty") {
        rs.clear();
        CHECK(rs.empty());
        CHECK_FALSE(rs.fits(storage.size()));
        CHECK(rs.fits(16));
    }
}

TEST_CASE("records reserve and commit let a writer copy a message in place", "[unit]") {
    std::vector<std::byte> storage(ipckit::records::storage_for(2, 32));
    ipckit::records rs{storage};
    const std::string_view m = "written in place";

    std::byte* to = rs.reserve(m.size());
    REQUIRE(to != nullptr);
    CHECK(rs.empty());  // nothing appended until commit
    std::memcpy(to, m.data(), m.size());
    rs.commit(m.size());

    CHECK(walk(rs) == std::vector<std::string>{std::string(m)});
}

TEST_CASE("records start each message's bytes 8-aligned within the storage", "[unit]") {
    std::vector<std::byte> storage(ipckit::records::storage_for(3, 24));
    ipckit::records rs{storage};
    for (std::string_view s : {"a", "bbbbbbbbb", "cc"}) REQUIRE(rs.push_back(s));
    for (std::span<const std::byte> m : rs) CHECK((m.data() - storage.data()) % 8 == 0);
}
