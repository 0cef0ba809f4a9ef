#pragma once
// ipckit: inter-process communication primitives for Linux, header-only, C++20.
//
// The umbrella header. Each part can also be included on its own:
//   <ipckit/error.hpp>    errc, error, result<T>, status
//   <ipckit/policy.hpp>   bounded<N>, single, spin / futex / adaptive, blocking / non_blocking,
//                         process_owned / system_owned, exclusive / any / round_robin /
//                         broadcast, and the concepts that check them
//   <ipckit/segment.hpp>  named shared-memory segments, options, remove_segment
//   <ipckit/layout.hpp>   cache_line and segment_layout: what a segment's layout is made of
//   <ipckit/deadline.hpp> the deadline concept: what blocking verbs take last
//   <ipckit/queue.hpp>    queue<T, Capacity, ...> with sender and receiver endpoints
//   <ipckit/node.hpp>     node: members of a domain, direct links by name, through its
//                         sender() / receiver() endpoints (node_options.hpp: its options)
//   <ipckit/mailbox.hpp>  mailbox<T, Capacity, Delivery, Ownership>: indirect communication
//   <ipckit/records.hpp>  records: several bytes<Max> messages in one buffer, for batch verbs
//   <ipckit/inspect.hpp>  list_segments(), inspect(name), remove_stale(name): what the `ipckit`
//                         command shows, for a program's own monitoring

#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/inspect.hpp>
#include <ipckit/layout.hpp>
#include <ipckit/mailbox.hpp>
#include <ipckit/node.hpp>
#include <ipckit/node_options.hpp>
#include <ipckit/policy.hpp>
#include <ipckit/queue.hpp>
#include <ipckit/records.hpp>
#include <ipckit/segment.hpp>

#define IPCKIT_VERSION_MAJOR 0
#define IPCKIT_VERSION_MINOR 1
#define IPCKIT_VERSION_PATCH 0
