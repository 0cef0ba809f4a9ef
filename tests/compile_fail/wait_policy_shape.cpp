// expect: wait_policy
// A wait policy says how long to spin and whether it may sleep.
#include <ipckit/queue.hpp>
struct lazy {
    static constexpr bool may_sleep = true;
};
using q = ipckit::queue<int, ipckit::bounded<8>, ipckit::single, ipckit::single, lazy>;
q::shared* unused = nullptr;
