// expect: lanes are offered on a bounded queue of fixed-size messages
// A lane is an SPSC ring of fixed-size slots: bytes<Max> take multi producers instead.
#include <ipckit/queue.hpp>
using q = ipckit::queue<ipckit::bytes<64>, ipckit::bounded<8>, ipckit::lanes<2>>;
q* unused = nullptr;
