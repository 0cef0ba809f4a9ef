#pragma once
// The header every segment starts with: its layout, its checksum, the one validation every
// reader goes through before it trusts a field (check_header), an inspector's snapshot of it, and
// a look at the body behind a header that can be trusted (with_ready_body), for code that must
// read what lies there without knowing the segment's full layout. Only the segment layer reads
// headers: everything above goes through these.

#include <ipckit/detail/shm/layout.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace ipckit::detail {

/// Layout of the first 256 bytes of every segment; the body follows at offset 256.
///
///   0   magic               "ipckit" 0x00 0x01: an ipckit segment at all
///   8   layout_version      bumped whenever any shared layout changes
///   12  state               futex word: uninit(0) -> initializing(1) -> ready(2) | corrupt(3)
///   16  size                total bytes of the segment, header included
///   24  fingerprint         fnv1a(description)
///   32  creator             packed process id of the creator (written before state leaves uninit)
///   40  ownership           process_owned::id or system_owned::id
///   44  description_length  bytes used in description
///   48  description         what lives inside, e.g. "queue<tick (16 B, align 8), bounded<64>, ...>"
///   248 checksum            header_checksum(): every field above but state, written last
///
/// Everything but state is immutable once the creator has written it. The checksum is that
/// part's redundancy: a field overwritten with another legal value (ownership 2 -> 1, a size, a
/// fingerprint) is still caught, and check_header() refuses every field until it matches. It
/// guards against scribbles and stray writes, not against a hostile writer, who can recompute
/// it (a hostile writer can only make ipckit report corrupt or misbehave inside the mapping).
/// The creator writes it after init(body) and before state becomes ready, so a header without
/// a valid checksum under a state other than ready is one whose creator never finished.
struct segment_header {
    static constexpr std::uint64_t magic_value = 0x0100'7469'6b63'7069ULL;  // "ipckit\0\1" little-endian
    /// 2: the owner mark (an OFD lock). 3: the header checksum (and the description field
    /// shortened to make room for it), and the rings' slot stamps and index checks. 4: the
    /// rosters' `sealed` word (a queue closed as a whole), which an older program would ignore.
    /// 5: a bytes<Max> slot's length complement (ring/record.hpp), which an older program leaves
    /// unwritten.
    static constexpr std::uint32_t current_version = 5;
    enum : std::uint32_t { uninit = 0, initializing = 1, ready = 2, corrupt = 3 };

    std::uint64_t magic;
    std::uint32_t layout_version;
    std::atomic<std::uint32_t> state;
    std::uint64_t size;
    std::uint64_t fingerprint;
    std::atomic<std::uint64_t> creator;
    std::uint32_t ownership;
    std::uint32_t description_length;
    char description[200];
    std::uint64_t checksum;
};
static_assert(sizeof(segment_header) == 256 && std::is_standard_layout_v<segment_header> &&
                  offsetof(segment_header, checksum) == 248,
              "the segment header is a fixed 256-byte layout shared by every program of one layout version");

inline constexpr std::size_t header_size = sizeof(segment_header);

/// The checksum of `h`'s immutable part, as if its layout version were `version`.
inline std::uint64_t header_checksum(const segment_header& h, std::uint32_t version) noexcept {
    const auto bytes = [](const auto& v) { return std::string_view(reinterpret_cast<const char*>(&v), sizeof v); };
    const std::uint64_t creator = h.creator.load(std::memory_order_relaxed);
    std::uint64_t sum = fnv1a(bytes(h.magic));
    for (const std::string_view field : {bytes(version), bytes(h.size), bytes(h.fingerprint), bytes(creator),
                                         bytes(h.ownership), bytes(h.description_length), bytes(h.description)})
        sum = fnv1a(field, sum);
    return sum;
}

/// Whether the creator got as far as writing the checksum of `h`, which it does last, just
/// before ready: a checksum word that is not 0 any more, whether or not it still matches. So a
/// finished header whose state word and another field were both damaged is still known for a
/// finished one, and is never taken for a creation that died half-way (by create, or by an
/// inspector). (A real checksum of 0 has odds of 2^-64; such a header would be judged by its
/// state and lock alone.)
inline bool checksum_written(const segment_header& h) noexcept { return h.checksum != 0; }

/// What is wrong with a header: the errc to report, and a sentence that follows the segment's
/// name ("segment 'x' " + why).
struct header_fault {
    errc reason;
    std::string why;
};

/// The one validation of a header, which everything that reads one goes through before it
/// trusts any field of it but state (open, create's reclaim of an abandoned segment, an
/// unbounded queue's chain, a mailbox's explanation of a mismatch). `object_size` is the size
/// of the object it heads. Returns nothing when the header can be trusted; otherwise corrupt
/// (not ipckit's, damaged, or a size the object does not have) or incompatible_layout (made by
/// an ipckit of another layout version). A caller must never read a fault as "absent" or
/// "abandoned": a damaged header says nothing about who uses the segment.
inline std::optional<header_fault> check_header(const segment_header& h, std::size_t object_size) {
    const std::uint32_t version = h.layout_version;
    if (h.magic != segment_header::magic_value)
        return header_fault{errc::corrupt, "is not an ipckit segment, or its header was overwritten"};
    if (version != segment_header::current_version) {
        // Another version's header has its own layout, so its checksum is not ours to check;
        // but if ours matches once the version word is put back, only that word was overwritten.
        if (h.checksum == header_checksum(h, segment_header::current_version))
            return header_fault{errc::corrupt, "has a damaged header: its layout version word says " +
                                                   std::to_string(version) + ", but the rest of it is version " +
                                                   std::to_string(segment_header::current_version) +
                                                   "'s and was overwritten there"};
        return header_fault{errc::incompatible_layout,
                            "was made by an ipckit with layout version " + std::to_string(version) +
                                "; this program uses version " + std::to_string(segment_header::current_version) +
                                ". Rebuild both programs against the same ipckit, or remove the segment"};
    }
    if (h.checksum != header_checksum(h, version))
        return header_fault{errc::corrupt, "has a damaged header: its checksum does not match its fields (one of "
                                           "them was overwritten)"};
    if (h.ownership != process_owned::id && h.ownership != system_owned::id)
        return header_fault{errc::corrupt, "has a damaged header: its ownership word is " +
                                               std::to_string(h.ownership) +
                                               ", neither process_owned nor system_owned"};
    if (h.size != object_size)
        return header_fault{errc::corrupt, "is " + std::to_string(object_size) + " bytes but its header says " +
                                               std::to_string(h.size) + ": it was truncated or overwritten"};
    return std::nullopt;
}

/// What one look at a segment's header finds, for an inspector (ipckit/inspect.hpp): read as it
/// is, without waiting for a creator and without taking any lock. Fields other than `state` come
/// from a header that passed check_header() (`valid`), except `creator` of a header still being
/// initialised, which its creator writes before the state leaves uninit.
struct header_snapshot {
    std::uint32_t state = segment_header::uninit;
    /// Why the header cannot be trusted: check_header()'s fault (a ready header), an invalid
    /// state word, or a finished header under a state other than ready.
    std::optional<header_fault> fault;
    /// Whether the magic says ipckit made it (a fault with a wrong magic: not ipckit's at all).
    bool ipckit_magic = false;
    /// The creator wrote the checksum (checksum_written): it had finished the header.
    bool finished = false;
    /// Ready, and check_header() found nothing wrong: the fields below can be believed.
    bool valid = false;
    std::string description;
    std::uint32_t ownership = 0;
    std::uint64_t size = 0;
    sys::process_id creator{};
};

/// Looks at the header `h` of an object of `object_size` bytes (at least header_size). Reads
/// only; never waits.
inline header_snapshot snapshot_header(const segment_header& h, std::size_t object_size) {
    header_snapshot s;
    // SYNC POINT READ: acquire, paired with the creator's release store of ready: the header is
    // complete if the state says so.
    s.state = h.state.load(std::memory_order_acquire);
    s.ipckit_magic = h.magic == segment_header::magic_value;
    s.finished = checksum_written(h);
    if (s.state == segment_header::ready) {
        s.fault = check_header(h, object_size);
    } else if (s.state > segment_header::corrupt) {
        s.fault = header_fault{errc::corrupt, "has an invalid header (state word " + std::to_string(s.state) +
                                                  "): it is not an ipckit segment or was overwritten"};
    } else if (s.finished && s.ipckit_magic) {
        s.fault = header_fault{errc::corrupt, "has a damaged header: its state word says " +
                                                  std::to_string(s.state) + ", but its creator had finished it"};
    } else if (s.finished || (h.magic != 0 && !s.ipckit_magic)) {  // a creator writes the magic first
        s.fault = header_fault{errc::corrupt, "is not an ipckit segment, or its header was overwritten"};
    }
    s.creator = sys::process_id::unpack(h.creator.load(std::memory_order_acquire));
    s.valid = s.state == segment_header::ready && !s.fault;
    if (s.valid) {
        s.description.assign(h.description, std::min<std::size_t>(h.description_length, sizeof h.description));
        s.ownership = h.ownership;
        s.size = h.size;
    }
    return s;
}

/// Runs fn(body, header) on the segment open as `f`, mapped for the call, if it is a ready
/// ipckit segment whose header passes check_header() and whose body has at least `body_bytes`
/// bytes; `body` points at its first byte. Returns whether fn ran: false if the segment is
/// smaller, not ready, or its header cannot be trusted. Throws what mapping it throws.
template <class Fn>
bool with_ready_body(const sys::file& f, std::size_t body_bytes, const std::string& what, Fn&& fn) {
    const std::size_t need = header_size + body_bytes;
    const auto size = static_cast<std::size_t>(f.status(what).st_size);
    if (size < need) return false;
    sys::mapping m(f, need, what);
    auto& h = *static_cast<segment_header*>(m.data());
    // SYNC POINT READ: acquire, paired with the creator's release store of ready: the header and
    // the body it initialised are complete.
    if (h.state.load(std::memory_order_acquire) != segment_header::ready || check_header(h, size)) return false;
    fn(static_cast<void*>(static_cast<char*>(m.data()) + header_size), static_cast<const segment_header&>(h));
    return true;
}

}  // namespace ipckit::detail
