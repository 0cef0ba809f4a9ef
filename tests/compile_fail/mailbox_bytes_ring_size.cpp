// expect: bounded<N> counts bytes of storage
// For bytes<Max>, a mailbox's bounded<N> is bytes: 100 bytes hold no two slots of bytes<64>.
#include <ipckit/mailbox.hpp>
using box = ipckit::mailbox<ipckit::bytes<64>, ipckit::bounded<100>, ipckit::any, ipckit::system_owned>;
auto f() { return box::layout(); }
