// expect: lanes are offered on a bounded queue of fixed-size messages
// Lanes are bounded rings, one per sender: an unbounded queue takes multi producers instead.
#include <ipckit/queue.hpp>
using q = ipckit::queue<int, ipckit::unbounded<>, ipckit::lanes<2>>;
q* unused = nullptr;
