// a.cpp, b.cpp and this file each include the whole library. Should a header define
// something that is not inline (a function, a variable), the link fails with a multiple
// definition; running the program is only a formality.
#include <ipckit/ipckit.hpp>

#include <cstddef>

std::size_t odr_a();
std::size_t odr_b();

int main() { return odr_a() == odr_b() && odr_a() == ipckit::cache_line ? 0 : 1; }
