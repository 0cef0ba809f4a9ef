// expect: needs bounded<2> or more
#include <ipckit/queue.hpp>
using q = ipckit::queue<int, ipckit::bounded<1>, ipckit::multi, ipckit::single>;
q::shared* unused = nullptr;
