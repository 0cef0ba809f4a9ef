#pragma once
// mailbox: the seed's indirect communication. Processes send to a named mailbox (a port), not
// to each other; a delivery policy answers "P1 sends, P2 and P3 both receive: who gets it?",
// and an ownership policy says how long the mailbox lives.
//
//   mailbox<Message,     T (fixed size, trivially copyable), or bytes<Max> (0 to Max bytes;
//                        delivery exclusive, any or round_robin)
//           Capacity,    bounded<N>: at most N messages wait (bytes<Max>: N bytes, below)
//           Delivery,    exclusive (the default), any, round_robin or broadcast
//           Ownership,   process_owned (the default) or system_owned
//           Wait>        spin, futex or adaptive (the default)
//
//   using jobs = ipckit::mailbox<job, ipckit::bounded<1024>, ipckit::round_robin, ipckit::system_owned>;
//   jobs::create("render.jobs");
//   auto in = jobs::open("render.jobs").receiver();     // in each worker
//   auto out = jobs::open("render.jobs").sender();      // in each client
//
// Handle. Mailbox::create / open / open_or_create(name, options) return a handle (copyable,
// shareable between threads; a broadcast mailbox's create takes ipckit::broadcast_options, which
// add the size of its receiver table); handle.close() closes the mailbox for every process, and
// Mailbox::remove(name) closes and removes one, as Q::remove(name) does a queue. handle.sender<Mode>() and
// handle.receiver<Mode>() attach endpoints (Mode blocking, the default, or non_blocking) with
// the verbs send(m [, deadline]) and receive([deadline]) of ipckit::queue, and zero copy:
// sender.loan() (loan(n) for bytes<Max>; every delivery), sender.loan_n(n) (several slots of T
// side by side; exclusive, any, round_robin) and receiver.receive_view() (exclusive, any,
// round_robin), one at a time per endpoint, whose other verbs are in_use meanwhile. Set-up
// throws ipckit::error; send and receive never throw and return status / result<T>.
//
// Delivery (who gets a message; every message goes to exactly one receiver unless broadcast).
//   exclusive    one receiver at a time; another one gets receiver_busy until the first closes
//                or its process dies; the next receiver then takes over where it left off.
//   any          up to 64 competing receivers; each message goes to whichever takes it first.
//   round_robin  up to 64 receivers take turns, in the order of the places they hold: a
//                receiver takes a message only on its turn, then the turn passes to the next.
//                When all keep up, n receivers get exactly equal shares (message k to the
//                (k mod n)-th). The others wait while the receiver whose turn it is does not
//                call receive - that is what taking turns means - and a non-blocking receive
//                off its turn returns would_block. A receiver that closes passes its turn at
//                once; one that dies is skipped within about options::liveness_interval.
//   broadcast    every attached receiver gets every message (detail/mailbox/broadcast.hpp).
//
// Senders. Up to 64 at once, in any processes; each sender's messages are delivered in the
// order it sent them (with round_robin, to the receivers in turn). A sender waits (blocking)
// or gets would_block (non-blocking) while the mailbox is full, whether or not a receiver is
// attached: senders and receivers come and go independently, and neither side's leaving
// closes the other.
//
// Closing (the closed rule, as for a many-producer queue). A mailbox ends only when it is closed
// as a whole - handle.close() in any process, or Mailbox::remove(name) - or, process_owned, when
// its owner goes; never because no sender happens to be attached. From then on every send
// returns closed (nothing more is accepted), receivers get every message that was accepted and
// then closed, and blocked endpoints wake. A send racing the close either returns ok, and its
// message is received, or closed, and nothing was sent. A closed mailbox stays closed; its name
// stays until remove().
//
// Ownership (the seed: "owned by a process / by the operating system").
//   process_owned  the creator is the owner and the only receiver (so delivery must be
//                  exclusive; anything else does not compile); receiver() in another process,
//                  and sender() in the owner, throw invalid_argument. When the owner process's
//                  last handle and receiver of it are gone (whichever thread had them, however
//                  they were opened), or the process dies, the mailbox is gone:
//                  senders get closed (blocked ones wake, within about liveness_interval for a
//                  death), messages still in it are dropped with it, open() is not_found, and
//                  a new process may create the name again.
//   system_owned   the mailbox and its messages survive every process; a receiver that
//                  restarts finds the messages sent while it was away. Only remove() deletes it.
//
// Removal. Mailbox::remove(name) first closes the mailbox, then removes the name, which is free
// from then on. (Use Mailbox::remove, not ipckit::remove_segment, which only removes the name.)
//
// Mismatches. Opening a mailbox with another delivery or ownership policy, message type or
// capacity is incompatible_layout, and the message names what differs.
//
// Crashes. A sender killed in the middle of a send (or holding a loan) loses that one message
// (receivers skip its slot within about liveness_interval); its earlier messages are delivered.
// A receiver killed between taking a message and returning it (or holding a view, or a bytes
// message parked) takes that one message with it; every other message goes to the other
// receivers (any, round_robin) or to the next receiver (exclusive).
//
// Variable-size messages (bytes<Max>), every delivery. bounded<N> counts bytes of storage, as
// for every kind of bytes<Max>: each message waits in a slot of its own of sizeof(record<Max>) =
// 8 + Max rounded up to 8 bytes, so N / that many messages fit (a static_assert says what to
// write when too few), and depth() is in those bytes. The slots are the rings' (detail/mailbox/
// unicast.hpp, broadcast.hpp), so every rule above holds as for T. The verbs are a queue of
// bytes<Max>'s: send(span | string_view [, deadline]), loan(n [, deadline]), receive(buffer [,
// deadline]) -> length, receive([deadline]) -> vector, receive_view([deadline]). A message over
// Max: too_large at once, nothing sent. A buffer too small: too_large, and the message stays this
// receiver's next (exclusive, any, round_robin: its slot parked in the receiver, so no other
// receiver gets it and round_robin's turn has passed on; a receiver that closes with one parked
// gives the slot back and the message is lost with it; broadcast: the receiver's place stays on
// it). A length read from a slot is checked: a scribbled one is corrupt. Another Max or N is
// incompatible_layout. Broadcast receivers read each message in place (receive_view), the same
// bytes the sender wrote once (loan).
//
// Unbounded or zero capacity are not offered for mailboxes: a
// static_assert says so and what to use instead.

#include <ipckit/detail/mailbox/broadcast.hpp>
#include <ipckit/detail/mailbox/unicast.hpp>
#include <ipckit/detail/ring/record.hpp>
#include <ipckit/policy.hpp>

#include <cstddef>
#include <type_traits>

namespace ipckit {

namespace detail {

/// Which implementation serves a combination of mailbox policies. A combination with no
/// specialisation here is one ipckit does not offer; the static_asserts say why.
template <class Message, class Capacity, class Delivery, class Ownership, class Wait>
struct mailbox_for {
    static_assert(is_bytes<Message> || message<Message>,
                  "ipckit::mailbox<T, ...>: a message is copied byte for byte into another process, so T must be "
                  "trivially copyable, standard layout and default-constructible (no std::string, no pointers)");
    static_assert(!message_policy<Message>,
                  "ipckit::mailbox<Message, Capacity>: a mailbox holds bounded<N> (N messages of T, or N bytes of "
                  "bytes<Max> messages); unbounded and zero capacity are not offered for mailboxes");
};

template <message T, std::size_t N, delivery_policy D, ownership_policy O, wait_policy W>
    requires(!is_bytes<T>)
struct mailbox_for<T, bounded<N>, D, O, W> {
    static_assert(!std::is_same_v<O, process_owned> || std::is_same_v<D, exclusive>,
                  "ipckit::mailbox<T, Capacity, Delivery, process_owned>: a process_owned mailbox has exactly one "
                  "receiver, its owner (the seed: \"since each mailbox has a unique owner, there can be no confusion "
                  "about which process should receive a message sent to this mailbox\"), so its delivery must be "
                  "exclusive. For several receivers, make the mailbox system_owned");
    using type = mailbox_queue<T, N, D, O, W>;
};

/// bytes<Max> with delivery exclusive, any or round_robin: bounded<N> counts bytes of storage,
/// in slots of sizeof(record<Max>) = 8 + Max rounded up to 8 (detail/mailbox/unicast.hpp).
template <std::size_t Max, std::size_t N, delivery_policy D, ownership_policy O, wait_policy W>
    requires(!std::is_same_v<D, broadcast>)
struct mailbox_for<bytes<Max>, bounded<N>, D, O, W> {
    static_assert(!std::is_same_v<O, process_owned> || std::is_same_v<D, exclusive>,
                  "ipckit::mailbox<bytes<Max>, Capacity, Delivery, process_owned>: a process_owned mailbox has "
                  "exactly one receiver, its owner (the seed: \"since each mailbox has a unique owner, there can be no "
                  "confusion about which process should receive a message sent to this mailbox\"), so its delivery "
                  "must be exclusive. For several receivers, make the mailbox system_owned");
    static_assert(mailbox_slots<bytes<Max>, N> >= 2,
                  "ipckit::mailbox<bytes<Max>, bounded<N>, ...>: for bytes<Max>, bounded<N> counts bytes of storage, "
                  "and each message takes a slot of 8 + Max (rounded up to 8) bytes, whatever its length; the "
                  "mailbox's ring needs at least 2 slots. Write bounded<N> with N at least 2 * (8 + Max rounded up "
                  "to 8), e.g. bounded<64 * (8 + Max)> for 64 messages");
    using type = mailbox_queue<bytes<Max>, N, D, O, W>;
};

/// Broadcast, of T or of bytes<Max> (bounded<N> then counts bytes: N / sizeof(record<Max>) slots).
template <message_policy M, std::size_t N, ownership_policy O, wait_policy W>
struct mailbox_for<M, bounded<N>, broadcast, O, W> {
    static_assert(!std::is_same_v<O, process_owned>,
                  "ipckit::mailbox<T, Capacity, broadcast, process_owned>: a process_owned mailbox has exactly one "
                  "receiver, its owner (the seed: \"since each mailbox has a unique owner, there can be no confusion "
                  "about which process should receive a message sent to this mailbox\"), so its delivery must be "
                  "exclusive. For several receivers, make the mailbox system_owned");
    static_assert(mailbox_slots<M, N> >= 1,
                  "ipckit::mailbox<bytes<Max>, bounded<N>, broadcast>: for bytes<Max>, bounded<N> counts bytes of "
                  "storage, and each message takes a slot of Max rounded up to 8, plus 8 bytes; N is less than one "
                  "slot. Write bounded<k * (Max + 8)> (Max a multiple of 8) for a ring of k messages");
    using type = broadcast_mailbox<M, N, O, W>;
};

}  // namespace detail

/// A mailbox in a named shared-memory segment; see the top of this file for the policies.
template <class Message, capacity_policy Capacity, delivery_policy Delivery = exclusive,
          ownership_policy Ownership = process_owned, wait_policy Wait = adaptive>
using mailbox = typename detail::mailbox_for<Message, Capacity, Delivery, Ownership, Wait>::type;

}  // namespace ipckit
