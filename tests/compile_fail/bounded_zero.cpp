// expect: zero capacity is a rendezvous
#include <ipckit/queue.hpp>
constexpr auto n = ipckit::bounded<0>::capacity;
