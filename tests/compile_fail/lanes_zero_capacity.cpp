// expect: lanes are offered on a bounded queue of fixed-size messages
// A rendezvous holds no message, so there is no lane to hold one: zero_capacity takes multi.
#include <ipckit/queue.hpp>
using q = ipckit::queue<int, ipckit::zero_capacity, ipckit::lanes<2>>;
q* unused = nullptr;
