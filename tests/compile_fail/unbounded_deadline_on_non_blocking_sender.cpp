// expect: a non_blocking endpoint returns at once
// An unbounded queue's non-blocking sender takes no deadline either.
#include <ipckit/queue.hpp>
#include <chrono>
using q = ipckit::queue<int, ipckit::unbounded<>, ipckit::multi>;
void f(ipckit::sender<q, ipckit::non_blocking>& tx) { (void)tx.send(1, std::chrono::milliseconds(5)); }
