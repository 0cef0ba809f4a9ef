#include <ipckit/ipckit.hpp>

static_assert(ipckit::cache_line == 128);

int main() { return 0; }
