// expect: loans of several need a mailbox whose ring claims runs
// A broadcast mailbox's ring lends one slot a call (loan()); loans of several are for the
// deliveries on Vyukov's ring: exclusive, any and round_robin.
#include <ipckit/mailbox.hpp>
using box = ipckit::mailbox<long, ipckit::bounded<64>, ipckit::broadcast, ipckit::system_owned>;
void f(const box& b) {
    auto tx = b.sender();
    (void)tx.loan_n(4);
}
