// Catch2 for ipckit's tests: v3 where installed, else v2 (Debian 12 ships 2.13).
// tests/CMakeLists.txt defines IPCKIT_CATCH2_V3 when it found v3.
#pragma once

#if defined(IPCKIT_CATCH2_V3)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
