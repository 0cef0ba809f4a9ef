// expect: loan_records lends room for several messages side by side in a byte ring
// A queue of bytes<Max> with several receivers carries each message in a slot of its own: it
// has no run of room to lend for several messages at once (the byte ring's loan_records).
#include <ipckit/queue.hpp>
using q = ipckit::queue<ipckit::bytes<64>, ipckit::bounded<1024>, ipckit::multi_of<2>, ipckit::multi_of<2>>;
void f(ipckit::sender<q>& tx) { (void)tx.loan_records(256); }
