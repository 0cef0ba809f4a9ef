// expect: a non_blocking endpoint returns at once
// A non-blocking endpoint of a bytes queue returns at once: a deadline would mean nothing.
#include <ipckit/queue.hpp>
#include <chrono>
using q = ipckit::queue<ipckit::bytes<64>, ipckit::bounded<1024>>;
void f(ipckit::receiver<q, ipckit::non_blocking>& rx) { (void)rx.receive_view(std::chrono::milliseconds(5)); }
