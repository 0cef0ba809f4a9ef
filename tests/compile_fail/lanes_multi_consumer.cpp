// expect: lanes are merged by one receiver
// One receiver merges the lanes: several receivers take multi producers over the shared ring.
#include <ipckit/queue.hpp>
using q = ipckit::queue<int, ipckit::bounded<8>, ipckit::lanes<2>, ipckit::multi>;
q* unused = nullptr;
