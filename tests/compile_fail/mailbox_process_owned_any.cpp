// expect: a process_owned mailbox has exactly one receiver, its owner
// The seed: "since each mailbox has a unique owner, there can be no confusion about which process
// should receive a message sent to this mailbox": process_owned means exclusive delivery.
#include <ipckit/mailbox.hpp>
using box = ipckit::mailbox<int, ipckit::bounded<8>, ipckit::any, ipckit::process_owned>;
auto f() { return box::layout(); }
