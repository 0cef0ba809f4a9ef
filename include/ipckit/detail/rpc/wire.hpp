#pragma once
// The MessagePack-RPC wire format, checked as untrusted input.
//
//   request        [0, msgid, method, params]      msgid: uint32, method: str, params: array
//   response       [1, msgid, error, result]       error nil and a result, or an error and nil
//   notification   [2, method, params]
//
// Each message is one frame of an ipckit connection (net.hpp), the array itself and nothing
// after it; or, from a plain MessagePack-RPC client, one of the arrays its stream is a
// concatenation of (plain_stream.hpp). An ipckit client numbers its calls with 64 bits and
// sends the low 32 as the msgid, which wraps (caller.hpp; the server extends it back,
// reply_cache.hpp). ipckit's additions are ordinary calls that another client need not make:
//
//   ["ipckit.hello"]  a request with msgid 0, params [client incarnation: uint64], made first on
//                     each connection by an ipckit client; the result is a map
//                     {"incarnation": uint64 (the server's), "idempotent": [method names]}.
//                     Without it a connection is anonymous: its requests run each time they come.
//   error          a string "<code>: <sentence>", the code one of rpc::errc's names (result.hpp),
//                  so that a client in another language reads a sentence and an ipckit client a code.
//
// Limits. A frame is at most max_frame bytes (the connection enforces it before it allocates).
// msgpack-cxx makes room for an array's or map's elements as soon as it reads the header, so
// before a frame is unpacked, msgpack-cxx's parser passes over it allocating nothing
// (declared_elements): the elements that all its headers declare, summed over the whole message,
// must fit in the frame (each element takes a byte at least, so a whole message never declares
// more), and nesting stops at max_depth. Unpacking then allows no string, binary or extension
// longer than the frame. So what msgpack-cxx allocates for the objects is bounded by a small
// multiple of the frame's length, never by a length the peer wrote, however the headers nest.
// That multiple is up to 25 (a nil: one byte, and a 24-byte object), so what a server queues is
// counted at what a message holds (held_size), not its length.
// A plain stream has no frames: its messages are held to max_frame and plain_limits() instead
// (plain_stream.hpp).

#include <ipckit/detail/rpc/result.hpp>
#include <ipckit/policy.hpp>

#include <msgpack.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipckit::detail::rpc {

/// The longest frame (request or reply) a connection carries.
inline constexpr std::size_t max_frame = 256 * 1024;
using frame = ipckit::bytes<max_frame>;
inline constexpr std::size_t max_depth = 32;

inline constexpr std::uint32_t hello_msgid = 0;
inline constexpr std::string_view hello_method = "ipckit.hello";

enum class kind : std::uint8_t { request = 0, response = 1, notification = 2 };

/// One parsed frame. The objects point into `handle`'s zone and live as long as it.
struct message {
    msgpack::object_handle handle;
    kind type = kind::request;
    std::uint32_t msgid = 0;
    std::string_view method;  // request, notification
    msgpack::object params;   // request, notification: an array
    msgpack::object error;    // response
    msgpack::object result;   // response
    std::size_t bytes = 0;    // its length on the wire
    std::size_t held = 0;     // what it holds unpacked: held_size() (what the server's request budget counts)
};

/// What a message of `wire` bytes holds once unpacked, with `elements` elements in its arrays and
/// maps (a map's pair two): its bytes, copied into its zone, and a msgpack::object (24 bytes) for
/// itself and each element. A nil is one byte on the wire and 25 held, so a request budget that
/// counted wire bytes alone would hold up to 25 times its limit.
inline constexpr std::size_t held_size(std::size_t wire, std::uint64_t elements) noexcept {
    return wire + sizeof(msgpack::object) * static_cast<std::size_t>(elements + 1);
}

/// The elements of an unpacked object's arrays and maps, however deep (at most max_depth): what
/// held_size() counts, taken from the tree itself rather than by a second parse of its bytes.
inline std::uint64_t elements_of(const msgpack::object& o) noexcept {
    std::uint64_t n = 0;
    if (o.type == msgpack::type::ARRAY) {
        n += o.via.array.size;
        for (std::uint32_t i = 0; i < o.via.array.size; ++i) n += elements_of(o.via.array.ptr[i]);
    } else if (o.type == msgpack::type::MAP) {
        n += 2 * std::uint64_t{o.via.map.size};
        for (std::uint32_t i = 0; i < o.via.map.size; ++i)
            n += elements_of(o.via.map.ptr[i].key) + elements_of(o.via.map.ptr[i].val);
    }
    return n;
}

/// The unpack limits for a frame of `n` bytes: nothing longer than the frame could hold.
inline msgpack::unpack_limit limits_for(std::size_t n) {
    return msgpack::unpack_limit(n, n / 2, n, n, n, max_depth);
}

/// The pass over a frame before it is unpacked (see Limits, above): whether the elements its
/// arrays and maps declare fit in its `length` bytes, summed over the whole message, and it nests
/// at most max_depth deep. msgpack-cxx's parser calls it; returning false stops the parse.
class declared_elements : public msgpack::null_visitor {
public:
    explicit declared_elements(std::size_t length) noexcept : left_(length), length_(length) {}
    /// The elements declared so far: after a whole parse, those of the message (held_size()).
    [[nodiscard]] std::uint64_t declared() const noexcept { return length_ - left_; }
    bool start_array(std::uint32_t n) { return declare(n); }
    bool start_map(std::uint32_t n) { return declare(2 * std::uint64_t{n}); }
    bool end_array() noexcept { return leave(); }
    bool end_map() noexcept { return leave(); }
    /// Why it stopped the parse; empty if it did not.
    [[nodiscard]] const std::string& why() const noexcept { return why_; }

private:
    bool declare(std::uint64_t n) {
        if (depth_ == max_depth) {
            why_ = "it nests arrays and maps more than " + std::to_string(max_depth) + " deep";
            return false;
        }
        if (n > left_) {
            why_ = "its arrays and maps declare more elements than its " + std::to_string(length_) + " bytes could hold";
            return false;
        }
        left_ -= n;
        ++depth_;
        return true;
    }
    bool leave() noexcept {
        --depth_;
        return true;
    }

    std::uint64_t left_;
    std::size_t length_;
    std::size_t depth_ = 0;
    std::string why_;
};

/// Checks one unpacked object as a MessagePack-RPC message, which then holds `h`. On one that
/// is not, returns nothing and says why in `why`.
inline std::optional<message> check(msgpack::object_handle h, std::string& why) noexcept {
    try {
        message m;
        m.handle = std::move(h);
        const msgpack::object& o = m.handle.get();
        if (o.type != msgpack::type::ARRAY || o.via.array.size < 3 || o.via.array.size > 4) {
            why = "not a MessagePack-RPC message (an array of 3 or 4)";
            return std::nullopt;
        }
        const msgpack::object* a = o.via.array.ptr;
        if (a[0].type != msgpack::type::POSITIVE_INTEGER || a[0].via.u64 > 2) {
            why = "the message type is not 0, 1 or 2";
            return std::nullopt;
        }
        m.type = static_cast<kind>(a[0].via.u64);
        const std::uint32_t want = m.type == kind::notification ? 3 : 4;
        if (o.via.array.size != want) {
            why = "a message of type " + std::to_string(a[0].via.u64) + " has " + std::to_string(want) +
                  " elements, not " + std::to_string(o.via.array.size);
            return std::nullopt;
        }
        if (m.type != kind::notification) {
            if (a[1].type != msgpack::type::POSITIVE_INTEGER || a[1].via.u64 > std::numeric_limits<std::uint32_t>::max()) {
                why = "the msgid is not a 32-bit unsigned integer";
                return std::nullopt;
            }
            m.msgid = static_cast<std::uint32_t>(a[1].via.u64);
        }
        if (m.type == kind::response) {
            m.error = a[2];
            m.result = a[3];
            return m;
        }
        const msgpack::object& method = a[m.type == kind::request ? 2 : 1];
        const msgpack::object& params = a[m.type == kind::request ? 3 : 2];
        if (method.type != msgpack::type::STR) {
            why = "the method name is not a string";
            return std::nullopt;
        }
        if (params.type != msgpack::type::ARRAY) {
            why = "the params are not an array";
            return std::nullopt;
        }
        m.method = std::string_view(method.via.str.ptr, method.via.str.size);
        m.params = params;
        return m;
    } catch (...) {
        why = "out of memory checking a message";
    }
    return std::nullopt;
}

/// Unpacks and checks one frame. On a malformed one, returns nothing and says why in `why`.
inline std::optional<message> parse(const std::byte* p, std::size_t n, std::string& why) noexcept {
    try {
        const char* data = reinterpret_cast<const char*>(p);
        declared_elements pass(n);
        if (!msgpack::parse(data, n, pass) && !pass.why().empty()) {
            why = pass.why();
            return std::nullopt;
        }
        std::size_t off = 0;  // malformed otherwise: unpack says how
        auto h = msgpack::unpack(data, n, off, nullptr, nullptr, limits_for(n));
        if (off != n) {
            why = std::to_string(n - off) + " bytes after the message";
            return std::nullopt;
        }
        auto m = check(std::move(h), why);
        if (m) {
            m->bytes = n;
            m->held = held_size(n, pass.declared());
        }
        return m;
    } catch (const std::exception& e) {
        why = std::string("malformed MessagePack: ") + e.what();
    } catch (...) {
        why = "malformed MessagePack";
    }
    return std::nullopt;
}

/// What a session's receive found (session.hpp): a message, nothing yet, the end of the
/// connection, or bytes that are not MessagePack-RPC (the connection is then dropped).
struct incoming {
    enum class what { message, idle, ended, corrupt } found = what::idle;
    std::optional<message> msg;
    std::string why;  // corrupt: what was wrong
};

using packer = msgpack::packer<msgpack::sbuffer>;

/// [0, msgid, method, [args...]]
template <class... A>
void pack_request(msgpack::sbuffer& out, std::uint32_t msgid, std::string_view method, const A&... args) {
    packer pk(out);
    pk.pack_array(4);
    pk.pack(0);
    pk.pack(msgid);
    pk.pack_str(static_cast<std::uint32_t>(method.size()));
    pk.pack_str_body(method.data(), static_cast<std::uint32_t>(method.size()));
    pk.pack_array(static_cast<std::uint32_t>(sizeof...(A)));
    (pk.pack(args), ...);
}

/// The request `request` (made by pack_request) under another msgid; nullopt if it is not one.
inline std::optional<std::vector<char>> with_msgid(const std::vector<char>& request, std::uint32_t msgid) {
    if (request.size() < 3 || static_cast<unsigned char>(request[0]) != 0x94 || request[1] != 0) return std::nullopt;
    std::size_t old = 0;  // the bytes of the msgid as packed: a positive fixint or uint 8, 16, 32
    switch (static_cast<unsigned char>(request[2])) {
    case 0xcc: old = 2; break;
    case 0xcd: old = 3; break;
    case 0xce: old = 5; break;
    default: old = static_cast<unsigned char>(request[2]) < 0x80 ? 1 : 0;
    }
    if (old == 0 || request.size() < 2 + old) return std::nullopt;
    msgpack::sbuffer id;
    packer(id).pack(msgid);
    std::vector<char> out(request.begin(), request.begin() + 2);
    out.insert(out.end(), id.data(), id.data() + id.size());
    out.insert(out.end(), request.begin() + static_cast<std::ptrdiff_t>(2 + old), request.end());
    return out;
}

/// [2, method, [args...]]
template <class... A>
void pack_notification(msgpack::sbuffer& out, std::string_view method, const A&... args) {
    packer pk(out);
    pk.pack_array(3);
    pk.pack(2);
    pk.pack_str(static_cast<std::uint32_t>(method.size()));
    pk.pack_str_body(method.data(), static_cast<std::uint32_t>(method.size()));
    pk.pack_array(static_cast<std::uint32_t>(sizeof...(A)));
    (pk.pack(args), ...);
}

/// [1, msgid, nil, result], the result already packed in `result`.
inline void pack_success(msgpack::sbuffer& out, std::uint32_t msgid, const msgpack::sbuffer& result) {
    packer pk(out);
    pk.pack_array(4);
    pk.pack(1);
    pk.pack(msgid);
    pk.pack_nil();
    out.write(result.data(), result.size());
}

/// [1, msgid, "<code>: <sentence>", nil]
inline void pack_failure(msgpack::sbuffer& out, std::uint32_t msgid, ipckit::rpc::errc code, std::string_view sentence) {
    packer pk(out);
    pk.pack_array(4);
    pk.pack(1);
    pk.pack(msgid);
    pk.pack(std::string(ipckit::rpc::to_string(code)) + ": " + std::string(sentence));
    pk.pack_nil();
}

/// The error of a response as ipckit reports it: the code named at the start of the string, or
/// remote for any other error object (a server in another language).
inline ipckit::rpc::error read_failure(const msgpack::object& e) {
    using ipckit::rpc::errc;
    if (e.type != msgpack::type::STR) return {errc::remote, "the server returned an error that is not a string"};
    const std::string_view s(e.via.str.ptr, e.via.str.size);
    for (const errc c : {errc::timed_out, errc::peer_dead, errc::not_sent, errc::closed, errc::too_large, errc::corrupt,
                         errc::unknown_method, errc::bad_arguments, errc::bad_reply, errc::remote, errc::expired}) {
        const std::string_view name = ipckit::rpc::to_string(c);
        if (s.size() > name.size() + 1 && s.substr(0, name.size()) == name && s.substr(name.size(), 2) == ": ")
            return {c, std::string(s.substr(name.size() + 2))};
    }
    return {errc::remote, std::string(s)};
}

/// What a MessagePack object is, in a word, for error messages.
inline const char* type_word(const msgpack::object& o) noexcept {
    switch (o.type) {
    case msgpack::type::NIL: return "nil";
    case msgpack::type::BOOLEAN: return "bool";
    case msgpack::type::POSITIVE_INTEGER: return "uint";
    case msgpack::type::NEGATIVE_INTEGER: return "int";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return "float";
    case msgpack::type::STR: return "string";
    case msgpack::type::BIN: return "bin";
    case msgpack::type::ARRAY: return "array";
    case msgpack::type::MAP: return "map";
    case msgpack::type::EXT: return "ext";
    }
    return "?";
}

}  // namespace ipckit::detail::rpc
