// expect: zero capacity has no buffer to leave a message in.*must use a blocking send
// The seed: zero capacity "must use blocking send". A rendezvous sender cannot be non-blocking.
#include <ipckit/queue.hpp>
using q = ipckit::queue<int, ipckit::zero_capacity>;
void f(const q& queue) { auto tx = queue.sender<ipckit::non_blocking>(); }
