// expect: a non_blocking endpoint returns at once
#include <ipckit/queue.hpp>
#include <chrono>
using q = ipckit::queue<int, ipckit::bounded<8>>;
void f(ipckit::sender<q, ipckit::non_blocking>& tx) { (void)tx.send(1, std::chrono::steady_clock::now()); }
