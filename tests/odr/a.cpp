// One of two translation units that include all of ipckit; see main.cpp.
#include <ipckit/ipckit.hpp>

#include <cstddef>

std::size_t odr_a() { return ipckit::cache_line; }
