// expect: no member named .*send
// The mode is chosen where an endpoint is made (n.sender<non_blocking>()), never per call: a
// node itself carries no verbs.
#include <ipckit/node.hpp>
void f(ipckit::node& n) { (void)n.send<ipckit::non_blocking>("bob", "hi"); }
