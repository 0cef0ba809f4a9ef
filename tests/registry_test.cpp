// A domain's registry (detail/node/registry.hpp): its lock. A lock word that names a process which
// still runs but never lets go (a member stopped inside, or a damaged word naming some other live
// process) must not hang join, lookups or listings: they give up with timed_out, saying who holds
// it and what to do, and the domain works again once the lock is free.

#include "catch.hpp"
#include "node_support.hpp"

#include <ipckit/node.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::scoped_domain;

namespace {

/// The registry lock word of domain `domain`, mapped read-write from its file in /dev/shm.
class registry_lock_word {
public:
    explicit registry_lock_word(const std::string& domain) {
        const int fd = ::shm_open(ipckit::detail::os_name(domain).c_str(), O_RDWR, 0);
        if (fd < 0) throw std::system_error(errno, std::generic_category(), "shm_open " + domain);
        struct stat st {};
        ::fstat(fd, &st);
        size_ = static_cast<std::size_t>(st.st_size);
        data_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ::close(fd);
        if (data_ == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap " + domain);
    }
    ~registry_lock_word() { ::munmap(data_, size_); }
    registry_lock_word(const registry_lock_word&) = delete;
    registry_lock_word& operator=(const registry_lock_word&) = delete;

    std::atomic<std::uint64_t>& operator*() const noexcept {
        auto* head = reinterpret_cast<ipckit::detail::registry_head*>(static_cast<char*>(data_) + ipckit::detail::header_size);
        return head->lock;
    }

private:
    void* data_;
    std::size_t size_ = 0;
};

template <class F>
ipckit::error thrown_error(F&& f) {
    try {
        f();
    } catch (const ipckit::error& e) {
        return e;
    }
    FAIL("no ipckit::error was thrown");
    return ipckit::error(errc::ok, "");
}

}  // namespace

TEST_CASE("registry: a lock held by a live process that never lets go is timed_out, naming it, and the domain works "
          "once it is free",
          "[unit]") {
    scoped_domain d;
    ipckit::node_options opt;
    opt.liveness_interval = 10ms;  // patience: 20 intervals, at least 1 s
    ipckit::node alice(d, "alice", opt);
    registry_lock_word lock(d.str());
    // This process, with an unknown start time: alive to every check, and not the holder's own id.
    const std::uint64_t stranger = ipckit::detail::sys::process_id{ipckit::detail::sys::this_pid(), 0}.pack();
    (*lock).store(stranger);

    const ipckit::error joining = thrown_error([&] { ipckit::node bob(d, "bob", opt); });
    CHECK(joining.reason() == errc::timed_out);
    CHECK(std::string(joining.what()).find("process " + std::to_string(::getpid())) != std::string::npos);
    CHECK(std::string(joining.what()).find("remove_domain") != std::string::npos);
    CHECK(thrown_error([&] { (void)alice.members(); }).reason() == errc::timed_out);

    (*lock).store(0);  // the holder lets go
    ipckit::node bob(d, "bob", opt);
    CHECK(alice.members().size() == 2);
}
