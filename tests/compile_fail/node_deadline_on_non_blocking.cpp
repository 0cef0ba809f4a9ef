// expect: a non_blocking endpoint returns at once
// A node's endpoints follow the queues' rule: the mode is the endpoint's, and a non-blocking
// receive returns at once, so a deadline would mean nothing.
#include <ipckit/node.hpp>
#include <chrono>
void f(ipckit::node& n) { (void)n.receiver<ipckit::non_blocking>().receive_any(std::chrono::milliseconds(5)); }
