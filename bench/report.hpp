#pragma once
// What the rounds measured, and everything made from it: the tables on stdout, the ratios, the
// targets, and the CSV.
//
// Every cell (mechanism, pattern, size) keeps one value per round and metric. A table shows the
// median over the rounds. A ratio is taken inside each round (ipckit and the other mechanism
// measured minutes apart on the same shared machine drift together), and the median of those
// ratios is shown.

#include "patterns.hpp"
#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bench {

struct cell_key {
    std::string mechanism;
    std::string pattern;
    std::size_t size;
    auto operator<=>(const cell_key&) const = default;
};

/// One value per round; NaN where that round has none.
using series = std::vector<double>;

inline bool higher_is_better(std::string_view metric) { return metric == "msgs_per_s" || metric == "mb_per_s"; }

/// The metric by which a pattern's mechanisms are compared.
inline std::string_view headline_metric(shape kind) {
    switch (kind) {
    case shape::pingpong: return "rtt_median_ns";
    case shape::stream:
    case shape::fan:
    case shape::broadcast:
    case shape::calls: return "msgs_per_s";
    case shape::idle: break;
    }
    return "cpu_percent";
}

inline std::optional<double> median_of(const series& s) {
    std::vector<double> v;
    for (const double x : s)
        if (!std::isnan(x)) v.push_back(x);
    if (v.empty()) return std::nullopt;
    return median(std::move(v));
}

class results {
public:
    explicit results(unsigned rounds) : rounds_(rounds) {}

    void record(unsigned round, const cell_key& c, std::string_view metric, double v) {
        series& s = values_[{c, std::string(metric)}];
        if (s.empty()) s.assign(rounds_, NAN);
        s[round] = v;
    }
    /// Why a cell has no number: "n/a (...)", or the error that ended it.
    void set_reason(const cell_key& c, std::string why) { reasons_[c] = std::move(why); }

    [[nodiscard]] series get(const cell_key& c, std::string_view metric) const {
        const auto it = values_.find({c, std::string(metric)});
        return it == values_.end() ? series(rounds_, NAN) : it->second;
    }
    [[nodiscard]] std::optional<double> median(const cell_key& c, std::string_view metric) const {
        return median_of(get(c, metric));
    }
    [[nodiscard]] std::string reason(const cell_key& c) const {
        const auto it = reasons_.find(c);
        return it == reasons_.end() ? "" : it->second;
    }
    [[nodiscard]] unsigned rounds() const noexcept { return rounds_; }

private:
    unsigned rounds_;
    std::map<std::pair<cell_key, std::string>, series> values_;
    std::map<cell_key, std::string> reasons_;
};

// ---- formatting -------------------------------------------------------------------------------

inline std::string format(const char* fmt, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
}
inline std::string size_label(std::size_t size) {
    return size >= 1024 ? std::to_string(size / 1024) + " KiB" : std::to_string(size) + " B";
}
/// Microseconds from nanoseconds, with about three significant digits.
inline std::string micros(double ns) {
    const double us = ns / 1000;
    return format(us < 10 ? "%.2f" : us < 100 ? "%.1f" : "%.0f", us);
}
/// 85.2M, 950k: three significant digits and an SI prefix.
inline std::string si(double v) {
    const char* prefix = "";
    for (const char* p : {"k", "M", "G"}) {
        if (v < 1000) break;
        v /= 1000;
        prefix = p;
    }
    return format(v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f", v) + prefix;
}
inline std::string ratio_text(double r) { return format(r < 10 ? "%.3g" : "%.0f", r); }

inline void print_row(std::string_view first, int first_width, const std::vector<std::string>& cells, int width) {
    std::printf("%-*.*s", first_width, static_cast<int>(first.size()), first.data());
    for (std::size_t i = 0; i < cells.size(); ++i)
        std::printf(" %-*s", i + 1 < cells.size() ? width : 0, cells[i].c_str());
    std::printf("\n");
}

// ---- comparisons ------------------------------------------------------------------------------

/// ipckit's value divided by another's, round by round.
struct comparison {
    std::string with;       ///< a mechanism, or "best-peer"
    series ratio;           ///< one per round
    std::string best_peer;  ///< for "best-peer": the peer that was best in most rounds
};

class report {
public:
    /// `sizes`: the columns (the message sizes measured).
    report(const results& r, std::span<const mechanism_entry> table, std::span<const pattern> patterns,
           std::span<const std::size_t> sizes = message_sizes)
        : r_(r), table_(table), patterns_(patterns), sizes_(sizes) {}

    /// Every comparison of `ipckit` in one cell: with the ipckit row it is built on (entry's
    /// `over`), the reference, the best peer, each peer.
    [[nodiscard]] std::vector<comparison> compare(std::string_view ipckit, const pattern& pat, std::size_t size) const {
        const std::string_view metric = headline_metric(pat.kind);
        const series mine = r_.get({std::string(ipckit), std::string(pat.name), size}, metric);
        std::vector<comparison> out;
        series best(r_.rounds(), NAN);
        std::vector<int> best_index(r_.rounds(), -1);
        std::vector<const mechanism_entry*> peers;
        for (const auto& m : table_) {
            if (m.kind == family::ipckit) continue;
            const series theirs = r_.get({std::string(m.name), std::string(pat.name), size}, metric);
            if (m.kind == family::peer) {
                peers.push_back(&m);
                for (unsigned i = 0; i < r_.rounds(); ++i) {
                    if (std::isnan(theirs[i])) continue;
                    const bool better = higher_is_better(metric) ? theirs[i] > best[i] : theirs[i] < best[i];
                    if (std::isnan(best[i]) || better) {
                        best[i] = theirs[i];
                        best_index[i] = static_cast<int>(peers.size() - 1);
                    }
                }
            }
            out.push_back({std::string(m.name), divide(mine, theirs), ""});
        }
        std::vector<int> wins(peers.size(), 0);
        for (const int i : best_index)
            if (i >= 0) ++wins[static_cast<std::size_t>(i)];
        std::string best_name;
        int most = 0;
        for (std::size_t i = 0; i < wins.size(); ++i)
            if (wins[i] > most) {
                most = wins[i];
                best_name = peers[i]->name;
            }
        out.insert(out.begin() + (out.empty() || out[0].with != reference_name() ? 0 : 1),
                   comparison{"best-peer", divide(mine, best), best_name});
        // A row built on another ipckit row (a node on its links): first, what the layer costs.
        for (const auto& m : table_)
            if (m.name == ipckit && !m.over.empty()) {
                const series bare = r_.get({std::string(m.over), std::string(pat.name), size}, metric);
                out.insert(out.begin(), comparison{std::string(m.over), divide(mine, bare), ""});
            }
        return out;
    }

    void print_header(unsigned rounds, bool quick, const std::string& cpus) const {
        std::printf("ipckit_bench: %u round%s%s; %s\n", rounds, rounds == 1 ? "" : "s", quick ? " (--quick)" : "",
                    cpus.c_str());
        std::printf("mechanisms:\n");
        for (const auto& m : table_)
            std::printf("  %-26.*s %s\n", static_cast<int>(m.name.size()), m.name.data(), m.describe().c_str());
        std::printf("\n");
    }

    void print_round_trips() const {
        if (find_pattern("pingpong") == nullptr) return;
        std::printf("== Round trip (pingpong): microseconds, median / p99 / p99.9 (each the median over the rounds)\n");
        print_sizes_header(25);
        for (const auto& m : table_) {
            if (m.kind == family::bound) continue;
            std::vector<std::string> cells;
            for (const std::size_t size : sizes_) {
                const cell_key c{std::string(m.name), "pingpong", size};
                const auto med = r_.median(c, "rtt_median_ns");
                cells.push_back(med ? micros(*med) + " / " + micros(*r_.median(c, "rtt_p99_ns")) + " / " +
                                          micros(*r_.median(c, "rtt_p999_ns"))
                                    : missing(c));
            }
            print_row(m.name, name_width, cells, 25);
        }
        std::printf("\n");
    }

    /// The throughput table of `stream` and of each fan pattern (P producers into C consumers).
    void print_throughput() const {
        for (const auto& p : patterns_) {
            if (p.kind == shape::stream && p.name == "stream")
                std::printf("== One-way throughput (stream): messages/s and MB/s (10^6 B), medians over the rounds\n");
            else if (p.kind == shape::calls)
                std::printf("== Calls with %u in flight (%s): calls/s and MB/s (10^6 B) of arguments, medians over the "
                            "rounds\n",
                            p.in_flight, p.name.c_str());
            else if (p.kind == shape::broadcast)
                std::printf("== 1 producer to %u receivers, each getting every message (%s): messages/s and MB/s "
                            "(10^6 B) per receiver, medians over the rounds\n",
                            p.consumers, p.name.c_str());
            else if (p.kind == shape::fan)
                std::printf("== %u producer%s into %u consumer%s (%s): messages/s and MB/s (10^6 B) in all, medians "
                            "over the rounds\n",
                            p.producers, p.producers == 1 ? "" : "s", p.consumers, p.consumers == 1 ? "" : "s",
                            p.name.c_str());
            else
                continue;
            print_sizes_header(25);
            for (const auto& m : table_) {
                if (!m.refuses(p, sizes_.front()).empty() && m.kind == family::bound) continue;
                std::vector<std::string> cells;
                for (const std::size_t size : sizes_)
                    cells.push_back(throughput({std::string(m.name), p.name, size}));
                print_row(m.name, name_width, cells, 25);
            }
            std::printf("\n");
        }
    }

    void print_producers() const {
        std::vector<std::string> head;
        std::vector<const pattern*> many;
        for (const auto& p : patterns_)
            if (p.many && p.kind == shape::stream) {
                many.push_back(&p);
                head.push_back(std::to_string(p.producers) + (p.producers == 1 ? " producer" : " producers"));
            }
        if (many.empty()) return;
        std::printf("== Several producers into one consumer: messages/s and MB/s, medians over the rounds\n");
        print_row(std::string("mechanism") + std::string(name_width - 8, ' ') + "size", name_width + 8, head, 22);
        std::vector<std::string> notes;
        bool ipckit_has_many = false;
        for (const auto& m : table_) {
            if (m.kind == family::bound) continue;
            bool any = false;
            for (const std::size_t size : sizes_) any = any || m.refuses(*many[0], size).empty();
            if (!any) {
                notes.push_back(std::string(m.name) + ": " + m.refuses(*many[0], 8));
                continue;
            }
            if (m.kind == family::ipckit) ipckit_has_many = true;
            for (const std::size_t size : sizes_) {
                std::vector<std::string> cells;
                if (const std::string why = m.refuses(*many[0], size); !why.empty()) {
                    cells.push_back(why);
                } else {
                    for (const pattern* p : many)
                        cells.push_back(throughput({std::string(m.name), std::string(p->name), size}));
                }
                const std::string label = std::string(m.name) + std::string(name_width, ' ');
                print_row(label.substr(0, name_width) + " " + size_label(size), name_width + 8, cells, 22);
            }
        }
        if (!ipckit_has_many) std::printf("ipckit: not yet (SPSC only)\n");
        for (const auto& n : notes) std::printf("%s\n", n.c_str());
        std::printf("\n");
    }

    void print_idle(double seconds) const {
        if (find_pattern("idle") == nullptr) return;
        std::printf(
            "== Idle receiver: CPU it burns blocked in receive on an empty queue for %.1f s, %% of one CPU (median)\n",
            seconds);
        for (const auto& m : table_) {
            if (m.kind == family::bound) continue;
            const cell_key c{std::string(m.name), "idle", 8};
            const auto v = r_.median(c, "cpu_percent");
            print_row(m.name, name_width, {v ? format("%6.2f %%", *v) : missing(c)}, 20);
        }
        std::printf("\n");
    }

    void print_ratios() const {
        for (const auto& pat : patterns_) {
            if (pat.kind == shape::idle) continue;
            bool header = false;
            for (const auto& m : table_) {
                if (m.kind != family::ipckit) continue;
                std::map<std::string, std::vector<std::string>> rows;  // by comparison, one cell per size
                std::vector<std::string> order;
                std::vector<std::string> best;
                bool any = false;
                for (const std::size_t size : sizes_) {
                    std::string best_here = "-";
                    for (const auto& cmp : compare(m.name, pat, size)) {
                        if (!rows.count(cmp.with)) order.push_back(cmp.with);
                        const auto v = median_of(cmp.ratio);
                        any = any || v.has_value();
                        rows[cmp.with].push_back(v ? ratio_text(*v) : "-");
                        if (cmp.with == "best-peer" && !cmp.best_peer.empty()) best_here = cmp.best_peer;
                    }
                    best.push_back(best_here);
                }
                if (!any) continue;
                if (!header) {
                    const bool higher = higher_is_better(headline_metric(pat.kind));
                    std::printf("== ipckit / others, %s %.*s, median of the ratios within each round (%s)\n",
                                std::string(pat.name).c_str(), static_cast<int>(headline_metric(pat.kind).size()),
                                headline_metric(pat.kind).data(),
                                higher ? "above 1: ipckit is faster" : "below 1: ipckit is faster");
                    print_sizes_header(14, 2 * name_width + 3, "ipckit / other");
                    header = true;
                }
                bool first = true;
                for (const auto& with : order) {
                    const auto& cells = rows[with];
                    if (std::all_of(cells.begin(), cells.end(), [](const std::string& c) { return c == "-"; }))
                        continue;
                    const std::string label =
                        (first ? std::string(m.name) : std::string()) + std::string(name_width, ' ');
                    print_row(label.substr(0, name_width) + " / " + with, 2 * name_width + 3, rows[with], 14);
                    first = false;
                }
                print_row(std::string(name_width, ' ') + "   (best peer)", 2 * name_width + 3, best, 14);
            }
            if (header) std::printf("\n");
        }
    }

    /// A figure the issue asks ipckit to reach.
    struct target {
        const char* label;
        std::string_view mechanism;
        std::string_view pattern;
        std::size_t size;
        std::string_view against;  ///< "reference-ring", "best-peer", any other row, or "" for an absolute value
        const char* op;            ///< "<=", ">=" or "<"
        double goal;
        const char* unit;  ///< "x" for a ratio, " %" for a percentage, " ns" for a time
        /// The pattern of `against`'s figure, if not `pattern` (a row with 2 producers against
        /// itself with 1: "mpsc1").
        std::string_view against_pattern = {};
    };

    /// Prints the targets table; returns how many were missed. Beside each ratio to the best
    /// peer it shows the reference ring's own ratio: what this machine allows a ring to reach.
    int print_targets(std::span<const target> targets) const {
        struct line {
            std::string measured, goal, reference;
            bool pass;
        };
        std::vector<line> lines;
        int width = 8, label_width = 6, missed = 0;
        for (const auto& t : targets) {
            std::optional<double> v = target_value(t.mechanism, t);
            std::string why = "n/a (not measured)";
            if (!has_mechanism(t.mechanism))
                why = "n/a (no " + std::string(t.mechanism) + " yet)";
            else if (const std::string r = r_.reason({std::string(t.mechanism), std::string(t.pattern), t.size});
                     !r.empty())
                why = r;
            const std::string op(t.op);
            const std::string_view unit = t.unit;
            auto text = [&](double x) {
                if (unit == "x") return format("%.3gx", x);
                if (unit == " %") return format("%.2f %%", x);
                return format("%.0f", x) + std::string(unit);  // an absolute figure: " ns"
            };
            std::string ref = "-";
            if (!t.against.empty() && t.against != reference_name() && !is_ipckit(t.against) && t.against_pattern.empty())
                if (const auto r = target_value(reference_name(), t)) ref = text(*r);
            lines.push_back({v ? text(*v) : why, op + " " + format("%g", t.goal) + t.unit, ref,
                             v && (op == "<="   ? *v <= t.goal
                                   : op == ">=" ? *v >= t.goal
                                                : *v < t.goal)});
            width = std::max(width, static_cast<int>(lines.back().measured.size()));
            label_width = std::max(label_width, static_cast<int>(std::strlen(t.label)));
        }
        std::printf("== Targets (ratios: ipckit's value / the other's, median of the in-round ratios)\n");
        std::printf("%-*s  %-*s  %-9s %-6s  %s\n", label_width, "target", width, "measured", "goal", "result",
                    "reference ring, same ratio");
        for (std::size_t i = 0; i < targets.size(); ++i) {
            std::printf("%-*s  %-*s  %-9s %-6s  %s\n", label_width, targets[i].label, width, lines[i].measured.c_str(),
                        lines[i].goal.c_str(), lines[i].pass ? "PASS" : "MISS", lines[i].reference.c_str());
            missed += lines[i].pass ? 0 : 1;
        }
        std::printf("\n");
        return missed;
    }

    /// Writes one row per measured cell and metric (the median over the rounds), then the ratios.
    void write_csv(const std::string& path) const {
        std::FILE* f = std::fopen(path.c_str(), "w");
        if (f == nullptr) fail_errno("cannot write " + path);
        std::fprintf(f, "mechanism,pattern,size,metric,value\n");
        for (const auto& m : table_)
            for (const auto& pat : patterns_)
                for (const std::size_t size : sizes_)
                    for (const std::string_view metric : metrics)
                        if (const auto v = r_.median({std::string(m.name), std::string(pat.name), size}, metric))
                            std::fprintf(f, "%.*s,%.*s,%zu,%.*s,%.6g\n", static_cast<int>(m.name.size()), m.name.data(),
                                         static_cast<int>(pat.name.size()), pat.name.data(), size,
                                         static_cast<int>(metric.size()), metric.data(), *v);
        for (const auto& m : table_) {
            if (m.kind != family::ipckit) continue;
            for (const auto& pat : patterns_) {
                if (pat.kind == shape::idle) continue;
                for (const std::size_t size : sizes_)
                    for (const auto& cmp : compare(m.name, pat, size))
                        if (const auto v = median_of(cmp.ratio))
                            std::fprintf(f, "ratio:%.*s/%s,%.*s,%zu,%.*s,%.6g\n", static_cast<int>(m.name.size()),
                                         m.name.data(), cmp.with.c_str(), static_cast<int>(pat.name.size()),
                                         pat.name.data(), size, static_cast<int>(headline_metric(pat.kind).size()),
                                         headline_metric(pat.kind).data(), *v);
            }
        }
        if (std::fclose(f) != 0) fail_errno("cannot write " + path);
    }

private:
    static constexpr int name_width = 26;

    /// Target t's figure for `mechanism`: its value, or its median in-round ratio to t.against.
    [[nodiscard]] std::optional<double> target_value(std::string_view mechanism, const target& t) const {
        const pattern* pat = find_pattern(t.pattern);
        if (pat == nullptr || !has_mechanism(mechanism)) return std::nullopt;
        const std::string_view metric = headline_metric(pat->kind);
        if (t.against.empty()) return r_.median({std::string(mechanism), std::string(t.pattern), t.size}, metric);
        if (t.against_pattern.empty())
            for (const auto& cmp : compare(mechanism, *pat, t.size))
                if (cmp.with == t.against) return median_of(cmp.ratio);
        // Another ipckit row, or another pattern: the two figures' ratio within each round.
        const std::string_view theirs = t.against_pattern.empty() ? t.pattern : t.against_pattern;
        if (find_pattern(theirs) == nullptr || !has_mechanism(t.against)) return std::nullopt;
        return median_of(divide(r_.get({std::string(mechanism), std::string(t.pattern), t.size}, metric),
                                r_.get({std::string(t.against), std::string(theirs), t.size}, metric)));
    }

    static series divide(const series& a, const series& b) {
        series out(a.size(), NAN);
        for (std::size_t i = 0; i < a.size(); ++i) out[i] = a[i] / b[i];  // NaN if either is NaN
        return out;
    }
    [[nodiscard]] std::string_view reference_name() const {
        for (const auto& m : table_)
            if (m.kind == family::reference) return m.name;
        return {};
    }
    [[nodiscard]] bool is_ipckit(std::string_view name) const {
        for (const auto& m : table_)
            if (m.name == name) return m.kind == family::ipckit;
        return false;
    }
    [[nodiscard]] bool has_mechanism(std::string_view name) const {
        for (const auto& m : table_)
            if (m.name == name) return true;
        return false;
    }
    [[nodiscard]] const pattern* find_pattern(std::string_view name) const {
        for (const auto& p : patterns_)
            if (p.name == name) return &p;
        return nullptr;
    }
    [[nodiscard]] std::string missing(const cell_key& c) const {
        const std::string r = r_.reason(c);
        return r.empty() ? "-" : r.substr(0, 24);
    }
    [[nodiscard]] std::string throughput(const cell_key& c) const {
        const auto msgs = r_.median(c, "msgs_per_s");
        return msgs ? si(*msgs) + "  " + si(*r_.median(c, "mb_per_s")) + " MB/s" : missing(c);
    }
    void print_sizes_header(int width, int first_width = name_width, std::string_view first = "mechanism") const {
        std::vector<std::string> sizes;
        for (const std::size_t size : sizes_) sizes.push_back(size_label(size));
        print_row(first, first_width, sizes, width);
    }

    const results& r_;
    std::span<const mechanism_entry> table_;
    std::span<const pattern> patterns_;
    std::span<const std::size_t> sizes_;
};

}  // namespace bench
