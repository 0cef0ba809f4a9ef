#pragma once
// Errors and results.
//
// Setting up (create, open, attach) throws ipckit::error, a std::system_error whose code is an
// ipckit::errc and whose message says what was wrong and what to do. The data path never
// throws: send and receive return result<T> (a value or an errc), which is std::expected when
// the standard library has it.

#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include <version>
#if defined(__cpp_lib_expected)
#include <expected>
#endif

namespace ipckit {

enum class errc : int {
    ok = 0,
    // data path
    would_block,          ///< non-blocking verb: nothing to receive / no room, right now
    timed_out,            ///< the deadline passed first
    closed,               ///< the peer closed its endpoint (after everything it sent was received)
    peer_dead,            ///< the peer's process ended without closing
    too_large,            ///< the message can never fit
    in_use,               ///< the endpoint's one loan or view is still outstanding
    // set-up
    already_exists,       ///< create: the name is taken
    not_found,            ///< open: no such name
    incompatible_layout,  ///< open: the segment holds another type, capacity or policy
    corrupt,              ///< the segment's header or indices are damaged
    permission_denied,    ///< the OS refused access to the segment
    no_space,             ///< /dev/shm (or the address space) is full
    invalid_name,         ///< empty, too long, or characters other than [A-Za-z0-9._-]
    sender_busy,          ///< a single-producer queue already has a live sender
    receiver_busy,        ///< a single-consumer queue already has a live receiver
    name_taken,           ///< join: a live member of the domain already has this name
    invalid_argument,     ///< a call that can never succeed as made, e.g. a node sending to itself
    system_error,         ///< any other OS failure; the message carries errno's text
};

/// What an errc means, in a few words.
constexpr const char* to_string(errc e) noexcept {
    switch (e) {
    case errc::ok: return "ok";
    case errc::would_block: return "would block";
    case errc::timed_out: return "timed out";
    case errc::closed: return "closed by the peer";
    case errc::peer_dead: return "the peer process died";
    case errc::too_large: return "message too large";
    case errc::in_use: return "a loan or view of this endpoint is still outstanding";
    case errc::already_exists: return "already exists";
    case errc::not_found: return "not found";
    case errc::incompatible_layout: return "incompatible layout";
    case errc::corrupt: return "corrupt segment";
    case errc::permission_denied: return "permission denied";
    case errc::no_space: return "no space left";
    case errc::invalid_name: return "invalid name";
    case errc::sender_busy: return "sender busy";
    case errc::receiver_busy: return "receiver busy";
    case errc::name_taken: return "name taken";
    case errc::invalid_argument: return "invalid argument";
    case errc::system_error: return "system error";
    }
    return "unknown ipckit error";
}

namespace detail {
/// What a caller or a peer gave (a name, an address), as an error message quotes it: at most
/// `most` bytes of it, each byte outside printable ASCII as \xNN, and what was cut said. So a
/// hostile peer's megabyte name or a newline in it neither swells nor forges a message or a log
/// line.
inline std::string quoted(std::string_view text, std::size_t most = 64) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const char c : text.substr(0, most)) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '\\') {
            out += c;
        } else {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        }
    }
    if (text.size() > most) out += "... (" + std::to_string(text.size()) + " bytes)";
    return out;
}

class error_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "ipckit"; }
    std::string message(int value) const override { return to_string(static_cast<errc>(value)); }
};
}  // namespace detail

inline const std::error_category& category() noexcept {
    static const detail::error_category instance;
    return instance;
}

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

/// Thrown by set-up calls. code() is an ipckit::errc; what() says what was wrong and what to do
/// (without std::system_error's ": <code message>" suffix: the sentence already says it).
class error : public std::system_error {
public:
    error(errc code, const std::string& what) : std::system_error(make_error_code(code)), what_(what) {}
    [[nodiscard]] errc reason() const noexcept { return static_cast<errc>(code().value()); }
    [[nodiscard]] const char* what() const noexcept override { return what_.what(); }

private:
    std::runtime_error what_;  // a string whose copy cannot throw
};

#if defined(__cpp_lib_expected)

template <class T>
using result = std::expected<T, errc>;
using unexpected = std::unexpected<errc>;

#else

/// The error half of a result, as std::unexpected is for std::expected.
class unexpected {
public:
    constexpr explicit unexpected(errc e) noexcept : error_(e) {}
    [[nodiscard]] constexpr errc error() const noexcept { return error_; }

private:
    errc error_;
};

/// A value or an errc: the subset of std::expected<T, errc> that ipckit uses, with the same names.
template <class T>
class [[nodiscard]] result {
public:
    using value_type = T;
    using error_type = errc;

    constexpr result() requires std::is_default_constructible_v<T> : value_(), has_(true) {}
    constexpr result(const T& v) : value_(v), has_(true) {}  // NOLINT(google-explicit-constructor)
    constexpr result(T&& v) : value_(std::move(v)), has_(true) {}  // NOLINT(google-explicit-constructor)
    constexpr result(unexpected u) noexcept : error_(u.error()), has_(false) {}  // NOLINT

    result(const result& o) requires std::is_copy_constructible_v<T> : has_(o.has_) { copy_from(o); }
    result(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : has_(o.has_) { move_from(o); }
    result& operator=(result o) noexcept(std::is_nothrow_move_constructible_v<T>) {
        destroy();
        has_ = o.has_;
        move_from(o);
        return *this;
    }
    ~result() { destroy(); }

    [[nodiscard]] constexpr bool has_value() const noexcept { return has_; }
    constexpr explicit operator bool() const noexcept { return has_; }
    [[nodiscard]] constexpr errc error() const noexcept { return error_; }

    constexpr T& operator*() & noexcept { return value_; }
    constexpr const T& operator*() const& noexcept { return value_; }
    constexpr T&& operator*() && noexcept { return std::move(value_); }
    constexpr T* operator->() noexcept { return &value_; }
    constexpr const T* operator->() const noexcept { return &value_; }

    /// The value; throws ipckit::error when there is none.
    T& value() & { check(); return value_; }
    const T& value() const& { check(); return value_; }
    T&& value() && { check(); return std::move(value_); }
    template <class U>
    T value_or(U&& other) const& { return has_ ? value_ : static_cast<T>(std::forward<U>(other)); }

private:
    void check() const {
        if (!has_) throw ipckit::error(error_, "ipckit::result::value() called on an error result");
    }
    void copy_from(const result& o) {
        if (has_) ::new (static_cast<void*>(&value_)) T(o.value_);
        else error_ = o.error_;
    }
    void move_from(result& o) {
        if (has_) ::new (static_cast<void*>(&value_)) T(std::move(o.value_));
        else error_ = o.error_;
    }
    void destroy() noexcept {
        if (has_) value_.~T();
    }

    union {
        T value_;
        errc error_;
    };
    bool has_;
};

/// Success or an errc; what send returns.
template <>
class [[nodiscard]] result<void> {
public:
    using value_type = void;
    using error_type = errc;

    constexpr result() noexcept = default;
    constexpr result(unexpected u) noexcept : error_(u.error()) {}  // NOLINT(google-explicit-constructor)

    [[nodiscard]] constexpr bool has_value() const noexcept { return error_ == errc::ok; }
    constexpr explicit operator bool() const noexcept { return has_value(); }
    [[nodiscard]] constexpr errc error() const noexcept { return error_; }
    void value() const {
        if (!has_value()) throw ipckit::error(error_, "ipckit::result::value() called on an error result");
    }

private:
    errc error_ = errc::ok;
};

#endif

/// What send returns: success, or why not.
using status = result<void>;

}  // namespace ipckit

template <>
struct std::is_error_code_enum<ipckit::errc> : std::true_type {};
