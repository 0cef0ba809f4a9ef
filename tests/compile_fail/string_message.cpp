// expect: T must be trivially copyable
// A std::string holds a pointer into one process's heap: it cannot be a message.
#include <ipckit/queue.hpp>
#include <string>
using q = ipckit::queue<std::string, ipckit::bounded<8>>;
q::shared* unused = nullptr;
