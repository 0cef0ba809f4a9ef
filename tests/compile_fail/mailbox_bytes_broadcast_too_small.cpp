// expect: bounded<N> counts bytes of storage
// A broadcast mailbox of bytes<Max> holds N / (8 + Max rounded up to 8) messages: here none.
#include <ipckit/mailbox.hpp>
using box = ipckit::mailbox<ipckit::bytes<64>, ipckit::bounded<64>, ipckit::broadcast, ipckit::system_owned>;
auto f() { return box::layout(); }
