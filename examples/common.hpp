#pragma once
// What producer, consumer and demo share, one idea per file:
//   message.hpp       the message and its sealed payload, and the envelope that carries it
//   choices.hpp       the kinds, sizes, capacities and waits each build offers
//   command_line.hpp  the settings and the parser of the flags
//   number.hpp        a number on the command line, checked
//   queue_types.hpp   from flags chosen at run time to the queue type fixed at compile time
//   report.hpp        what the programs print at the end, and how a test reads it back
//
// Only ipckit's public API is used here; copy these files along with the programs.

#include "message.hpp"
#include "choices.hpp"
#include "command_line.hpp"
#include "queue_types.hpp"
#include "report.hpp"
