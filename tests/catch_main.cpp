// Catch2 v2's main(), compiled once into ipckit_test_main for every test executable.
// (With Catch2 v3 the tests link Catch2::Catch2WithMain instead, and this file is unused.)
#define CATCH_CONFIG_MAIN
#include "catch.hpp"
