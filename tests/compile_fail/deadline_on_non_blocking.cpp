// expect: a non_blocking endpoint returns at once
// A non-blocking endpoint returns at once: a deadline would mean nothing.
#include <ipckit/queue.hpp>
#include <chrono>
using q = ipckit::queue<int, ipckit::bounded<8>>;
void f(ipckit::receiver<q, ipckit::non_blocking>& rx) { (void)rx.receive(std::chrono::milliseconds(5)); }
