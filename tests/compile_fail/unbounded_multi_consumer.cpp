// expect: an unbounded queue has a single consumer
// The receiver frees each chunk once it has read it: an unbounded queue has one consumer.
#include <ipckit/queue.hpp>
using q = ipckit::queue<int, ipckit::unbounded<>, ipckit::multi, ipckit::multi>;
constexpr auto n = q::slots_per_chunk;
