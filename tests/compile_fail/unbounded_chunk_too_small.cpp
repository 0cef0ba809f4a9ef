// expect: has no room for one message of type T
// A chunk must hold at least one message after its headers.
#include <ipckit/queue.hpp>
struct big {
    char bytes[4000];
};
using q = ipckit::queue<big, ipckit::unbounded<4096>>;
constexpr auto n = q::slots_per_chunk;
