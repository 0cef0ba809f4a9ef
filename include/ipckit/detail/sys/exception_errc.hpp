#pragma once
// The one mapping from an exception caught on the data path to the errc a verb returns.
//
// Data-path verbs never throw, but some do set-up on first use (a node opening a link) or
// allocate (a message received into a vector). Each catches everything and returns
//
//     catch (...) { return unexpected(current_exception_errc()); }
//
// and what it returns is decided here, once:
//   ipckit::error            its own errc (not_found, no_space, corrupt, ...)
//   std::bad_alloc,
//   std::length_error        no_space: memory ran out (the address space, or a size too large
//                            to allocate)
//   std::system_error        its errno as an errc (EMFILE: system_error, ENOSPC: no_space, ...),
//                            when its category is the generic or system one; system_error else
//   anything else            system_error: a failure ipckit does not know, reported as the one
//                            errc that means "another failure" rather than guessed at

#include <ipckit/detail/sys/os_error.hpp>
#include <ipckit/error.hpp>

#include <exception>
#include <new>
#include <stdexcept>
#include <system_error>

namespace ipckit::detail {

/// The errc for the exception being handled; call it only inside a catch block.
inline errc current_exception_errc() noexcept {
    try {
        throw;
    } catch (const error& e) {
        return e.reason();
    } catch (const std::bad_alloc&) {
        return errc::no_space;
    } catch (const std::length_error&) {
        return errc::no_space;
    } catch (const std::system_error& e) {
        const auto& cat = e.code().category();
        if (cat == std::generic_category() || cat == std::system_category()) return sys::errc_from_errno(e.code().value());
        if (cat == ipckit::category()) return static_cast<errc>(e.code().value());
        return errc::system_error;
    } catch (...) {
        return errc::system_error;
    }
}

}  // namespace ipckit::detail
