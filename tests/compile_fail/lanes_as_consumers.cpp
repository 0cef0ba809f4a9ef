// expect: lanes belong to senders
// lanes<Max> is a Producers policy: given as the Consumers one, it is refused with the reason.
#include <ipckit/queue.hpp>
using q = ipckit::queue<int, ipckit::bounded<8>, ipckit::multi, ipckit::lanes<2>>;
q* unused = nullptr;
