// expect: Max must be between 1 and 4096
// lanes<0> would be a queue nobody can send on.
#include <ipckit/queue.hpp>
using q = ipckit::queue<int, ipckit::bounded<8>, ipckit::lanes<0>>;
q* unused = nullptr;
