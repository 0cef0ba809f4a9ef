// expect: needs 2 slots or more
// Several consumers of bytes<Max> keep each message in a slot of 8 + Max bytes: 200 bytes hold one.
#include <ipckit/queue.hpp>
using q = ipckit::queue<ipckit::bytes<100>, ipckit::bounded<200>, ipckit::multi, ipckit::multi>;
auto f() { return q::layout(); }
