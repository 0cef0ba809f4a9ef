// expect: variable-size messages are not offered for mailboxes
#include <ipckit/mailbox.hpp>
using box = ipckit::mailbox<ipckit::bytes<64>, ipckit::bounded<1024>, ipckit::exclusive, ipckit::system_owned>;
auto f() { return box::layout(); }
