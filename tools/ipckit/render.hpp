#pragma once
// How the `ipckit` command shows segments to a person: the table of `list` and `watch`, the
// details of `inspect`, the members and links of `domain`.

#include <ipckit/segment_info.hpp>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace ipckit_tool {

/// Columns that are left-aligned text, separated by two spaces, each as wide as its widest cell.
class table {
public:
    explicit table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print(std::ostream& out) const;

private:
    std::vector<std::vector<std::string>> rows_;
};

/// "1.5 KiB", "64 MiB": a byte count for people.
std::string human_bytes(std::uint64_t n);
/// The time as "2025-06-01 12:34:56" in local time.
std::string local_time(std::chrono::system_clock::time_point t);
/// What waits in `s`: "12", "3 (48 B)", "-".
std::string depth_text(const ipckit::segment_info& s);
/// What `s` holds at most: "4096", "64 KiB", "0", "unbounded", "-".
std::string capacity_text(const ipckit::segment_info& s);
/// Endpoints of `role` in `s`: "1", "0 +1 dead"; "-" where it has no rosters, or they were not read.
std::string endpoints_text(const ipckit::segment_info& s, const char* role);
/// The last column of a listing: why it is stale, what is wrong, or a note.
std::string remark(const ipckit::segment_info& s);

/// Whether the table leaves `s` out unless asked for all: a chunk of an unbounded queue that
/// its queue leads to, or is creating (its queue's row counts it).
bool folded(const ipckit::segment_info& s);
/// `ipckit list`: the table, sorted as given; without `all`, folded() rows are left out, but for
/// those that one of `patterns` names exactly.
void print_list(std::ostream& out, const std::vector<ipckit::segment_info>& segments, bool all,
                const std::vector<std::string>& patterns);
/// `ipckit inspect`: everything known about one segment.
void print_details(std::ostream& out, const ipckit::segment_info& s);
/// `ipckit domain`: a domain's members and links.
void print_domain(std::ostream& out, const ipckit::segment_info& s);

}  // namespace ipckit_tool
