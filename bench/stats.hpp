#pragma once
// The two statistics the benchmark uses: a quantile of many samples (a round's round-trip
// percentiles) and the median of a few (one cell over the rounds).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace bench {

/// The q-quantile (0 < q <= 1) of [first, last), nearest rank; reorders the range. NaN if empty.
template <class It>
double quantile(It first, It last, double q) {
    const auto n = static_cast<std::size_t>(last - first);
    if (n == 0) return NAN;
    const std::size_t rank = std::min(n, static_cast<std::size_t>(std::ceil(q * static_cast<double>(n))));
    const It nth = first + static_cast<std::ptrdiff_t>(rank == 0 ? 0 : rank - 1);
    std::nth_element(first, nth, last);
    return static_cast<double>(*nth);
}

/// The median, the mean of the middle two for an even count. NaN if empty.
inline double median(std::vector<double> v) {
    if (v.empty()) return NAN;
    const std::size_t mid = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
    if (v.size() % 2 == 1) return v[mid];
    const double upper = v[mid];
    return (*std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid)) + upper) / 2;
}

}  // namespace bench
