// expect: N is the ring's size in bytes, and must be a multiple of 8
// For bytes<Max>, bounded<N> counts bytes, and records are aligned to 8.
#include <ipckit/queue.hpp>
using q = ipckit::queue<ipckit::bytes<64>, ipckit::bounded<100>>;
auto f() { return q::layout(); }
