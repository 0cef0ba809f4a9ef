// expect: a rendezvous of variable-size messages is not offered
// Zero capacity carries fixed-size messages only.
#include <ipckit/queue.hpp>
using q = ipckit::queue<ipckit::bytes<64>, ipckit::zero_capacity>;
q* unused = nullptr;
