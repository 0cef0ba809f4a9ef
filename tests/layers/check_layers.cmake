# Checks that each layer of include/ipckit includes only itself and the layers below it
# (README, "Layout of the repository"). Run as: cmake -DINCLUDE_DIR=<repo>/include -P check_layers.cmake
#
# A header's layer is its folder under detail/, or for a public header its own entry below. The
# order, lowest first, is the one README's layout table gives.

# The rank of the header `rel` (a path below include/ipckit) in OUT, or -1 when no layer claims it.
function(ipckit_layer_of rel out)
  set(rank 0)
  set(found -1)
  foreach(layer IN LISTS ipckit_layers)
    string(REPLACE "," ";" members "${layer}")
    foreach(member IN LISTS members)
      if(rel STREQUAL member OR rel MATCHES "^${member}/")
        set(found ${rank})
      endif()
    endforeach()
    math(EXPR rank "${rank} + 1")
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

# Lowest first. Members of one layer are separated by commas (a CMake list cannot nest).
set(ipckit_layers
  "error.hpp,segment_info.hpp,deadline.hpp,layout.hpp,records.hpp"  # the vocabulary: errors, deadlines, layouts, what inspection reports, batches of bytes
  "detail/sys"                            # the only code that calls the OS
  "detail/shm,policy.hpp,segment.hpp"     # named shared memory and what it must match
  "detail/sync"                           # doorbells, rosters
  "detail/inspect"                        # reading a segment without attaching
  "detail/ring,detail/chain"              # the algorithms in shared memory
  "detail/endpoint"                       # the one endpoint core and verb loop
  "detail/queue,queue.hpp"
  "detail/mailbox,detail/node,mailbox.hpp,node.hpp,node_options.hpp"
  "detail/net,net.hpp"                    # sockets, and connections over queues
  "detail/rpc,rpc.hpp"
  "detail/look,inspect.hpp,ipckit.hpp")   # what sees every kind

file(GLOB_RECURSE headers RELATIVE "${INCLUDE_DIR}/ipckit" "${INCLUDE_DIR}/ipckit/*.hpp")
set(failures 0)
foreach(rel IN LISTS headers)
  ipckit_layer_of("${rel}" mine)
  if(mine EQUAL -1)
    message(SEND_ERROR "include/ipckit/${rel}: no layer claims this header; add it to tests/layers/check_layers.cmake")
    math(EXPR failures "${failures} + 1")
    continue()
  endif()
  file(STRINGS "${INCLUDE_DIR}/ipckit/${rel}" includes REGEX "^#include <ipckit/")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^#include <ipckit/([^>]+)>.*" "\\1" target "${line}")
    ipckit_layer_of("${target}" theirs)
    if(theirs GREATER mine)
      message(SEND_ERROR "include/ipckit/${rel} (layer ${mine}) includes ipckit/${target} (layer ${theirs}), a layer above it")
      math(EXPR failures "${failures} + 1")
    endif()
  endforeach()
endforeach()
list(LENGTH headers count)
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} include(s) against the layering")
endif()
message(STATUS "${count} headers, each including only its own layer and those below")
