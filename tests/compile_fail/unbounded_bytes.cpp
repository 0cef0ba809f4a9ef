// expect: variable-size messages on an unbounded queue are not offered
// Unbounded queues carry fixed-size messages only.
#include <ipckit/queue.hpp>
using q = ipckit::queue<ipckit::bytes<64>, ipckit::unbounded<>>;
constexpr auto n = q::slots_per_chunk;
