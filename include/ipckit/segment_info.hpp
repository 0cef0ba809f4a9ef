#pragma once
// What an inspection of a segment reports (ipckit/inspect.hpp): the documented result of
// ipckit::list_segments() and ipckit::inspect(name), and what the `ipckit` command shows and
// writes as JSON (README.md, "Inspecting and cleaning up").
//
// Everything here is a snapshot: other processes go on sending and receiving while it is taken,
// so counts are stale as soon as they are returned, and no two fields need be of one moment.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipckit {

/// What a segment holds, as its header's description says.
enum class segment_kind {
    unknown,          ///< a valid header whose description this ipckit does not know
    queue,            ///< ipckit::queue of any capacity (bounded, zero, the head of an unbounded one)
    mailbox,          ///< ipckit::mailbox with exclusive, any or round_robin delivery
    broadcast,        ///< ipckit::mailbox with broadcast delivery
    unbounded_chunk,  ///< one chunk of an unbounded queue's chain ("<queue>.<number>")
    domain,           ///< the registry of a node domain: its members
    link,             ///< a direct link between two members of a domain ("<domain>.<from>.<to>.<hex>.<hex>")
};

/// How far a look at a segment got.
enum class segment_status {
    ok,            ///< read and understood
    initializing,  ///< its creator is still at work on it (or died at it: then it is stale)
    corrupt,       ///< a damaged header, inconsistent indices or a truncated file: `problem` says what
    foreign,       ///< a file under ipckit's prefix that ipckit did not make (or whose magic was overwritten)
    incompatible,  ///< made by an ipckit of another layout version: only its name and size are known
    unreadable,    ///< the OS refused to open it (another user's, or its mode): `problem` says why
    vanished,      ///< removed while it was being looked at (list_segments() leaves it out, inspect() throws not_found)
};

/// How an endpoint's place in a roster stands.
enum class endpoint_state {
    alive,   ///< held by a process that runs
    dead,    ///< held by a process that has died without letting go
    closed,  ///< its holder let go (the place no longer says who that was)
};

constexpr const char* to_string(segment_kind k) noexcept {
    switch (k) {
    case segment_kind::unknown: return "unknown";
    case segment_kind::queue: return "queue";
    case segment_kind::mailbox: return "mailbox";
    case segment_kind::broadcast: return "broadcast";
    case segment_kind::unbounded_chunk: return "unbounded_chunk";
    case segment_kind::domain: return "domain";
    case segment_kind::link: return "link";
    }
    return "unknown";
}

constexpr const char* to_string(segment_status s) noexcept {
    switch (s) {
    case segment_status::ok: return "ok";
    case segment_status::initializing: return "initializing";
    case segment_status::corrupt: return "corrupt";
    case segment_status::foreign: return "foreign";
    case segment_status::incompatible: return "incompatible";
    case segment_status::unreadable: return "unreadable";
    case segment_status::vanished: return "vanished";
    }
    return "unknown";
}

constexpr const char* to_string(endpoint_state s) noexcept {
    switch (s) {
    case endpoint_state::alive: return "alive";
    case endpoint_state::dead: return "dead";
    case endpoint_state::closed: return "closed";
    }
    return "unknown";
}

/// One place of a roster (a queue's senders or receivers, a mailbox's, a broadcast mailbox's
/// receiver table) that has been held: vacant places are not listed.
struct endpoint_info {
    std::string role;       ///< "sender" or "receiver"
    std::size_t place = 0;  ///< its index in the roster
    std::uint32_t pid = 0;  ///< the holder's process id; 0 when closed
    endpoint_state state = endpoint_state::closed;
    /// Broadcast receivers: messages published that it has not read yet (nullopt while it attaches).
    std::optional<std::uint64_t> lag;
};

/// A member of a domain (a slot of its registry that is held, by a live or a dead process).
struct member_info {
    std::string name;  ///< empty while a joiner is writing the slot
    std::size_t slot = 0;
    std::uint64_t incarnation = 0;  ///< unique in the domain for each join; links are named after it
    std::uint32_t pid = 0;
    bool alive = false;
};

/// A link of a domain, as the domain's inspection sees it.
struct link_info {
    std::string name;  ///< the link's segment
    std::string from;
    std::string to;
    std::uint64_t from_incarnation = 0;
    std::uint64_t to_incarnation = 0;
    bool from_alive = false;  ///< that incarnation of `from` holds its slot and runs
    bool to_alive = false;
    std::optional<std::uint64_t> depth_messages;  ///< nullopt when the link cannot be read
    std::optional<std::uint64_t> depth_bytes;
    bool stale = false;  ///< neither end is a live member any more: nothing leads to it
};

/// Where an unbounded queue's chain stands (kind queue, capacity unbounded<...>).
struct chain_state {
    std::uint64_t base = 0;         ///< chunk k is the segment "<name>.<base + k>"
    std::uint64_t first_chunk = 0;  ///< chunks below it have been read and removed
    std::uint64_t next_chunk = 0;   ///< chunks below it have been created
    std::uint64_t chunk_bytes = 0;
    std::uint64_t cap_bytes = 0;     ///< the most bytes its chunks may take at once
    std::uint32_t grower_pid = 0;    ///< the process that holds the right to create the next chunk, 0 if none
    bool grower_alive = false;       ///< whether it runs (a dead one is taken over by the next sender)
    bool retired = false;            ///< removed (or its owner gone): no chunk is created any more
    /// The chunk segments that should exist now (next_chunk - first_chunk of them), in order;
    /// the first max_named of them if there are more.
    std::vector<std::string> chunks;
    static constexpr std::size_t max_named = 4096;
};

/// Everything an inspection knows about one segment. Optional fields are absent where the kind
/// has no such thing, or where the segment could not be read that far.
struct segment_info {
    std::string name;  ///< the segment's ipckit name (what open() takes)
    std::string path;  ///< its file, /dev/shm/ipckit.<name>
    segment_status status = segment_status::ok;
    std::string problem;  ///< why, when status is not ok; a sentence that follows the name
    std::string note;     ///< what could not be shown although the segment is fine, if anything
    segment_kind kind = segment_kind::unknown;
    std::string description;  ///< what its header says it holds (empty unless the header is valid)

    // --- what it carries
    std::string message_type;      ///< T's name, or "bytes" for variable-size messages
    std::size_t message_size = 0;  ///< sizeof(T), or the largest message for bytes<Max>
    std::size_t message_align = 0;
    std::string capacity;  ///< as the description writes it: "bounded<64>", "zero_capacity", ...
    std::optional<std::uint64_t> capacity_messages;  ///< messages it holds at most (bounded, mailboxes)
    std::optional<std::uint64_t> capacity_bytes;     ///< bytes of ring (bytes<Max>), or an unbounded queue's cap
    std::size_t max_senders = 0;
    std::size_t max_receivers = 0;  ///< broadcast: its receiver places
    std::string delivery;           ///< mailboxes: exclusive, any, round_robin, broadcast
    std::string mailbox_state;      ///< mailboxes: open, closed (close() or remove()), owner_gone (or closing)

    // --- who made it and who owns it
    std::string ownership;                ///< process_owned or system_owned
    std::optional<bool> owner_alive;      ///< process_owned: whether the owning process still holds it
    std::uint32_t owner_pid = 0;          ///< a process_owned mailbox's owner, as it says
    std::uint32_t creator_pid = 0;        ///< 0 if unknown
    std::optional<bool> creator_alive;
    std::optional<std::chrono::system_clock::time_point> created;
    std::uint32_t uid = 0;   ///< the file's owner
    std::uint32_t mode = 0;  ///< its permission bits
    std::uint64_t size_bytes = 0;       ///< the file's size
    std::uint64_t allocated_bytes = 0;  ///< what it takes in /dev/shm

    // --- what waits in it, and how much went through
    std::optional<std::uint64_t> depth_messages;  ///< messages waiting (broadcast: for the slowest receiver)
    std::optional<std::uint64_t> depth_bytes;     ///< bytes waiting (bytes<Max> rings: records included)
    /// Monotonic counters for rates (ipckit watch): messages (or, for bytes<Max>, bytes) sent
    /// and received over the segment's life.
    std::optional<std::uint64_t> sent_messages;
    std::optional<std::uint64_t> received_messages;
    std::optional<std::uint64_t> sent_bytes;
    std::optional<std::uint64_t> received_bytes;

    std::vector<endpoint_info> endpoints;
    std::vector<member_info> members;  ///< domains
    std::vector<link_info> links;      ///< domains: the links named after it
    std::optional<chain_state> chain;   ///< unbounded queues
    std::string queue;                 ///< an unbounded chunk's queue, or a link's domain
    std::optional<std::uint64_t> chunk_index;  ///< an unbounded chunk: k in its queue's chain

    /// What is left can no longer be used as meant: a process_owned segment whose owner died, a
    /// segment whose creator died half-way through initialising it, a chunk of an unbounded
    /// queue or a link of a domain that nothing leads to any more. A system_owned segment is
    /// never stale for having no process attached. ipckit::remove_stale() removes only these.
    bool stale = false;
    std::string stale_reason;
};

}  // namespace ipckit
