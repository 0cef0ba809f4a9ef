// expect: has no room for one message of Max bytes
// A chunk must hold at least one record of bytes<Max> after its headers.
#include <ipckit/queue.hpp>
using q = ipckit::queue<ipckit::bytes<4000>, ipckit::unbounded<4096>>;
constexpr auto n = q::slots_per_chunk;
