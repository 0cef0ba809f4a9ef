#pragma once
// A typed handler behind a name: its signature read from the callable, its arguments converted
// from the request's params by msgpack-cxx's adaptors, a mismatch stated against the signature.
// A leading rpc::origin parameter is no argument: the server passes the request's (origin.hpp).

#include <ipckit/detail/rpc/origin.hpp>
#include <ipckit/detail/rpc/result.hpp>
#include <ipckit/detail/rpc/wire.hpp>

#include <msgpack.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ipckit::detail::rpc {

// ---- the signature of a callable ---------------------------------------------------------

/// The arguments on the wire: the parameters, less a leading rpc::origin.
template <class... A>
struct wire_args {
    using type = std::tuple<A...>;
    static constexpr bool takes_origin = false;
};
template <class... A>
struct wire_args<ipckit::rpc::origin, A...> {
    using type = std::tuple<A...>;
    static constexpr bool takes_origin = true;
};

template <class R, class... A>
struct signature_of {
    using result = R;
    using args = typename wire_args<std::decay_t<A>...>::type;
    static constexpr bool takes_origin = wire_args<std::decay_t<A>...>::takes_origin;
};

template <class F>
struct callable_traits : callable_traits<decltype(&std::decay_t<F>::operator())> {};
template <class R, class... A>
struct callable_traits<R (*)(A...)> : signature_of<R, A...> {};
template <class R, class... A>
struct callable_traits<R (*)(A...) noexcept> : signature_of<R, A...> {};
template <class R, class... A>
struct callable_traits<R(A...)> : signature_of<R, A...> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...)> : signature_of<R, A...> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) const> : signature_of<R, A...> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) noexcept> : signature_of<R, A...> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) const noexcept> : signature_of<R, A...> {};

// ---- type names, for the messages that state a signature ---------------------------------

template <class T, template <class...> class Of>
inline constexpr bool is_a = false;
template <template <class...> class Of, class... A>
inline constexpr bool is_a<Of<A...>, Of> = true;

template <class T>
std::string type_name() {
    if constexpr (std::is_same_v<T, void>) return "nil";
    else if constexpr (std::is_same_v<T, bool>) return "bool";
    else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) return "int" + std::to_string(8 * sizeof(T));
    else if constexpr (std::is_integral_v<T>) return "uint" + std::to_string(8 * sizeof(T));
    else if constexpr (std::is_same_v<T, float>) return "float32";
    else if constexpr (std::is_floating_point_v<T>) return "float64";
    else if constexpr (std::is_same_v<T, std::string>) return "string";
    else if constexpr (std::is_same_v<T, std::vector<unsigned char>> || std::is_same_v<T, std::vector<char>>) return "bin";
    else if constexpr (is_a<T, std::vector>) return "array<" + type_name<typename T::value_type>() + ">";
    else if constexpr (is_a<T, std::map> || is_a<T, std::unordered_map>)
        return "map<" + type_name<typename T::key_type>() + ", " + type_name<typename T::mapped_type>() + ">";
    else if constexpr (is_a<T, std::optional>) return "optional<" + type_name<typename T::value_type>() + ">";
    else return "object";  // a user's struct (MSGPACK_DEFINE: an array of its members), a tuple...
}

template <class Tuple, std::size_t... I>
std::string argument_names(std::index_sequence<I...>) {
    std::string s;
    ((s += (I == 0 ? "" : ", ") + type_name<std::tuple_element_t<I, Tuple>>()), ...);
    return s;
}

/// "add(int64, int64) -> int64"
template <class F>
std::string signature(std::string_view name) {
    using T = callable_traits<F>;
    using args = typename T::args;
    return std::string(name) + "(" + argument_names<args>(std::make_index_sequence<std::tuple_size_v<args>>()) +
           ") -> " + type_name<std::decay_t<typename T::result>>();
}

// ---- the handler ---------------------------------------------------------------------------

/// Runs a method on the request's params: ok with the result packed into `out`, or a code and
/// a sentence in `why` (bad_arguments, remote). `from` is the request's connection.
using handler = std::function<ipckit::rpc::errc(const ipckit::rpc::origin& from, const msgpack::object& params,
                                                msgpack::sbuffer& out, std::string& why)>;

template <class F>
handler make_handler(std::string name, F f) {
    using T = callable_traits<F>;
    using args = typename T::args;
    using R = typename T::result;
    constexpr std::size_t arity = std::tuple_size_v<args>;
    std::string sig = signature<F>(name);
    return [f = std::move(f), name = std::move(name), sig = std::move(sig)](
               const ipckit::rpc::origin& from, const msgpack::object& params, msgpack::sbuffer& out,
               std::string& why) mutable -> ipckit::rpc::errc {
        using ipckit::rpc::errc;
        if (params.via.array.size != arity) {
            why = name + " takes " + std::to_string(arity) + " argument" + (arity == 1 ? "" : "s") + ", not " +
                  std::to_string(params.via.array.size) + ": " + sig;
            return errc::bad_arguments;
        }
        args a;
        std::size_t at = 0;
        try {
            std::apply([&](auto&... each) { ((params.via.array.ptr[at].convert(each), ++at), ...); }, a);
        } catch (const std::exception&) {
            why = "argument " + std::to_string(at + 1) + " of " + name + " is a " + type_word(params.via.array.ptr[at]) +
                  " that does not convert to the parameter's type: " + sig;
            return errc::bad_arguments;
        }
        const auto run = [&] {
            if constexpr (T::takes_origin)
                return std::apply([&](auto&&... each) { return f(from, std::move(each)...); }, std::move(a));
            else {
                (void)from;
                return std::apply(f, std::move(a));
            }
        };
        try {
            packer pk(out);
            if constexpr (std::is_void_v<R>) {
                run();
                pk.pack_nil();
            } else {
                pk.pack(run());
            }
        } catch (const std::exception& e) {
            why = e.what();
            return errc::remote;
        } catch (...) {
            why = "the handler of " + name + " threw something that is not a std::exception";
            return errc::remote;
        }
        return errc::ok;
    };
}

/// A response's result as R, or bad_reply naming both types.
template <class R>
ipckit::rpc::result<R> decode_result(std::string_view method, const msgpack::object& o) {
    using ipckit::rpc::errc;
    if constexpr (std::is_void_v<R>) {
        (void)method;
        (void)o;
        return {};
    } else {
        try {
            return o.as<R>();
        } catch (const std::exception&) {
            return ipckit::rpc::error{errc::bad_reply, "the result of " + std::string(method) + " is a " + type_word(o) +
                                                           ", which does not convert to " + type_name<R>()};
        }
    }
}

}  // namespace ipckit::detail::rpc
