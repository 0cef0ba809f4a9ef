// expect: a queue of variable-size messages has one receiver at a time
// A byte ring frees its records in ring order: bytes<Max> queues have a single consumer.
#include <ipckit/queue.hpp>
using q = ipckit::queue<ipckit::bytes<64>, ipckit::bounded<1024>, ipckit::multi, ipckit::multi>;
auto f() { return q::layout(); }
