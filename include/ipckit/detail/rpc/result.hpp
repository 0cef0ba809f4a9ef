#pragma once
// What a remote call returns: a value, or an rpc::error (a code and a sentence).
//
// The codes separate what the caller must tell apart: whether the request ran (never for
// not_sent, unknown_method, bad_arguments, too_large; maybe for peer_dead and timed_out;
// yes for remote, whose handler threw), and whose fault it was.

#include <ipckit/error.hpp>

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace ipckit::rpc {

enum class errc : int {
    ok = 0,
    timed_out,       ///< the deadline passed with the request sent and no reply: it may or may not have run
    peer_dead,       ///< the server's connection died after the request was sent, and the call could not
                     ///< be retried on the same server incarnation: it may or may not have run
    not_sent,        ///< the request never left this process (the server could not be reached): it did not run
    closed,          ///< the client was closed before a reply came
    too_large,       ///< the request or the reply is longer than a frame may be; the request did not run
                     ///< (request) or ran (reply)
    corrupt,         ///< the peer sent a frame that is not MessagePack-RPC; the connection was dropped
    unknown_method,  ///< the server has no method of that name; it did not run
    bad_arguments,   ///< the arguments do not match the method's signature; it did not run
    bad_reply,       ///< the result does not convert to the type the caller asked for; it ran
    remote,          ///< the handler threw; the message is the exception's; it ran
    expired,         ///< the server keeps no reply this old and did not run it now; an earlier copy of a
                     ///< call sent more than once may have run (one whose only copy is refused goes
                     ///< again under a new number: it did not run)
};

constexpr const char* to_string(errc e) noexcept {
    switch (e) {
    case errc::ok: return "ok";
    case errc::timed_out: return "timed_out";
    case errc::peer_dead: return "peer_dead";
    case errc::not_sent: return "not_sent";
    case errc::closed: return "closed";
    case errc::too_large: return "too_large";
    case errc::corrupt: return "corrupt";
    case errc::unknown_method: return "unknown_method";
    case errc::bad_arguments: return "bad_arguments";
    case errc::bad_reply: return "bad_reply";
    case errc::remote: return "remote";
    case errc::expired: return "expired";
    }
    return "unknown";
}

/// Why a call failed: the code, and a sentence naming what was wrong.
struct error {
    errc code = errc::ok;
    std::string message;
};

/// A value or an rpc::error, with std::expected's names (has_value, *, ->, value(), error()).
template <class T>
class [[nodiscard]] result {
public:
    result(T v) : v_(std::in_place_index<0>, std::move(v)) {}  // NOLINT(google-explicit-constructor)
    result(struct error e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT(google-explicit-constructor)

    [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }
    T& operator*() & noexcept { return *std::get_if<0>(&v_); }
    const T& operator*() const& noexcept { return *std::get_if<0>(&v_); }
    T&& operator*() && noexcept { return std::move(*std::get_if<0>(&v_)); }
    T* operator->() noexcept { return std::get_if<0>(&v_); }
    const T* operator->() const noexcept { return std::get_if<0>(&v_); }
    /// The value; throws ipckit::error (invalid_argument) carrying the rpc error's sentence if none.
    T& value() & {
        check();
        return **this;
    }
    const struct error& error() const noexcept {
        static const struct error none {};
        const auto* e = std::get_if<1>(&v_);
        return e ? *e : none;
    }

private:
    void check() const {
        if (!has_value())
            throw ipckit::error(ipckit::errc::invalid_argument,
                                std::string("rpc call failed: ") + to_string(error().code) + ": " + error().message);
    }
    std::variant<T, struct error> v_;
};

/// The result of a call whose method returns nothing.
template <>
class [[nodiscard]] result<void> {
public:
    result() = default;
    result(struct error e) : e_(std::move(e)) {}  // NOLINT(google-explicit-constructor)
    [[nodiscard]] bool has_value() const noexcept { return e_.code == errc::ok; }
    explicit operator bool() const noexcept { return has_value(); }
    const struct error& error() const noexcept { return e_; }

private:
    struct error e_;
};

}  // namespace ipckit::rpc
