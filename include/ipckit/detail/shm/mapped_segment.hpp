#pragma once
// One process's mapping of a segment object, and the ownership of a process_owned segment in
// the process that created it.
//
// The seed's process-owned mailbox "disappears as soon as the process terminates": it belongs to
// the process, not to one handle of it. So every handle and endpoint that the owning process has
// of a process_owned segment shares one mapped_segment, the creator's: the creator registers it
// in owned_segments() by the object's identity (device and inode) before the segment becomes
// ready, and segment::open in the same process finds it there and shares it instead of mapping
// the object again. The segment then lives while the owning process holds any handle or endpoint
// of it, whichever thread made it, and goes with the last of them:
//   1. on_last_release(body) runs, if the layer above set one (a mailbox marks itself owner_gone
//      and wakes its senders; an unbounded queue retires its chain and removes its chunks);
//   2. the name is removed, if it still names this object;
//   3. the descriptor is closed, which drops the owner's flock and owner mark, so that other
//      processes see the owner gone (segment.hpp), as they do when the process dies.
// A forked child inherits copies of the parent's: there they do none of this, and the child
// owns nothing. Nor does it hold the owner's locks: its copies of the owner's descriptors would
// share the owner's open file descriptions, and with them the flock and owner mark, so that a
// segment whose owner died would still look owned while a child it forked (a worker of a pool)
// runs. A fork handler gives each a description of its own in the child, holding no lock; and
// closes, in the child, the descriptors of objects that other threads of the parent are
// creating (creation_in_progress), which hold a creator's flock and owner mark before own().

#include <ipckit/detail/sys/fd.hpp>
#include <ipckit/detail/sys/fork.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <pthread.h>
#include <sys/types.h>

namespace ipckit::detail {

class mapped_segment;

/// An object this process is creating (creation_in_progress, below): its creator's descriptor,
/// the object's identity, and the thread creating it.
struct object_in_creation {
    std::uint64_t token;
    int fd;
    sys::file_identity id;
    pthread_t thread;
};

/// The process_owned segments this process owns, by object identity (device, inode), and the
/// objects it is creating. Never destroyed: a handle that a static object holds may go after
/// main returns.
struct owned_segment_table {
    std::mutex mutex;
    std::map<std::pair<dev_t, ino_t>, std::weak_ptr<mapped_segment>> by_identity;
    std::vector<object_in_creation> creating;
    std::uint64_t last_token = 0;
};
inline owned_segment_table& owned_segments() {
    static auto* table = new owned_segment_table;
    return *table;
}

/// A descriptor of a segment object and its mapping, shared by the segment handles that refer
/// to it; in the owning process of a process_owned segment, its ownership too (see the top of
/// this file). Thread-safe as a shared_ptr is: any number of threads may hold and drop it.
class mapped_segment {
public:
    /// `os` names the object (for removing it), `f` is open on it.
    mapped_segment(std::string os, sys::file f) : os_(std::move(os)), file_(std::move(f)) {}
    mapped_segment(const mapped_segment&) = delete;
    mapped_segment& operator=(const mapped_segment&) = delete;
    ~mapped_segment() {
        if (owner_pid_ == 0 || sys::this_pid() != owner_pid_) return;  // not the owner, or a forked child
        forget();  // a handle opened from now on maps the object anew, and finds it gone
        if (on_last_release_) on_last_release_(static_cast<char*>(mapping_.data()));
        sys::shm_remove_if_same(os_, file_);
        // file_ closes after this, and with it the owner's locks.
    }

    /// Maps the first `size` bytes of the object. Throws as sys::mapping does.
    void map(std::size_t size, const std::string& what) { mapping_ = sys::mapping(file_, size, what); }

    [[nodiscard]] void* data() const noexcept { return mapping_.data(); }
    [[nodiscard]] std::size_t size() const noexcept { return mapping_.size(); }
    [[nodiscard]] const sys::file& file() const noexcept { return file_; }

    /// Makes this the owning process's mapping of the object, which every later segment::open
    /// of it in this process shares (this = the creator's, before the segment becomes ready).
    static void own(const std::shared_ptr<mapped_segment>& m) {
        handle_forks();
        const auto id = identity(m->file_);
        auto& table = owned_segments();
        const std::lock_guard<std::mutex> lock(table.mutex);
        table.by_identity[id] = m;
        std::erase_if(table.creating, [&](const object_in_creation& c) { return c.fd == m->file_.get(); });
        m->owner_pid_ = sys::this_pid();
        m->identity_ = id;
    }
    /// Undoes own(): the creator failed before the segment became ready.
    void disown() noexcept {
        if (owner_pid_ != 0) forget();
    }
    /// The owning process's mapping of the object `f` is open on, if this process owns it.
    static std::shared_ptr<mapped_segment> owned(const sys::file& f) {
        auto& table = owned_segments();
        const std::lock_guard<std::mutex> lock(table.mutex);
        const auto it = table.by_identity.find(identity(f));
        if (it == table.by_identity.end()) return nullptr;
        auto m = it->second.lock();  // null while the last handle is going: it is not shared any more
        return m != nullptr && m->owner_pid_ == sys::this_pid() ? m : nullptr;
    }

    /// Registers, once, the fork handlers that leave a child none of this process's owners' or
    /// creators' locks (see the top of this file). Where they cannot be (ENOMEM), a forked
    /// child keeps them.
    static void handle_forks() noexcept {
        static const bool registered = sys::on_fork(hold_table, release_table, let_go_in_child);
        (void)registered;
    }

    /// What the owner does, with the segment's first byte, before the name goes (see the top of
    /// this file). Set by the layer that created the segment, right after creating it; it must
    /// not throw.
    void on_last_release(std::function<void(char* base)> fn) noexcept { on_last_release_ = std::move(fn); }

private:
    // Around a fork: the table is held across it, so that the child finds it whole.
    static void hold_table() noexcept { owned_segments().mutex.lock(); }
    static void release_table() noexcept { owned_segments().mutex.unlock(); }
    /// In a forked child: each owned segment's descriptor gets an open file description of its
    /// own, without the owner's locks (see the top of this file).
    static void let_go_in_child() noexcept {
        auto& table = owned_segments();
        // Another thread's, which does not run here: nothing in the child goes on with it.
        std::erase_if(table.creating, [](const object_in_creation& c) {
            if (::pthread_equal(c.thread, ::pthread_self())) return false;  // the forking thread goes on making it
            if (c.id.same_as(sys::identity_of(c.fd))) sys::close_fd(c.fd);
            return true;
        });
        for (const auto& entry : table.by_identity)
            if (const auto m = entry.second.lock()) m->leave_owners_description();
        table.mutex.unlock();
    }
    /// Moves this child's copy of the descriptor, and the mapping made through it, onto a
    /// description of its own; where that cannot be done the child keeps the owner's locks.
    void leave_owners_description() noexcept {
        const int fd = sys::reopen_description(file_, os_);
        if (fd < 0) return;
        if (mapping_.data() != nullptr && !mapping_.move_onto(fd)) {
            sys::close_fd(fd);
            return;
        }
        sys::take_over(file_, fd);
    }

    static std::pair<dev_t, ino_t> identity(const sys::file& f) {
        const struct stat st = f.status("a shared-memory object");
        return {st.st_dev, st.st_ino};
    }
    /// Drops the table's entry (this one's: no other object can have the identity while our
    /// descriptor keeps this one alive), and the ownership with it.
    void forget() noexcept {
        auto& table = owned_segments();
        const std::lock_guard<std::mutex> lock(table.mutex);
        table.by_identity.erase(identity_);
        owner_pid_ = 0;
    }

    std::string os_;
    sys::file file_;
    sys::mapping mapping_;
    std::uint32_t owner_pid_ = 0;  // this process owns the object: it removes it with its last handle
    std::pair<dev_t, ino_t> identity_{};
    std::function<void(char*)> on_last_release_;
};

/// Marks the object open as `f` (note) as being created by this thread, from the moment it
/// exists until this goes (segment::create) or mapped_segment::own takes it: see the top of
/// this file.
class creation_in_progress {
public:
    creation_in_progress() noexcept { mapped_segment::handle_forks(); }
    void note(const sys::file& f) noexcept {
        const sys::file_identity id = sys::identity_of(f.get());
        if (!id.known) return;
        auto& table = owned_segments();
        const std::lock_guard<std::mutex> lock(table.mutex);
        try {
            table.creating.push_back({table.last_token + 1, f.get(), id, ::pthread_self()});
            token_ = ++table.last_token;
        } catch (...) {  // bad_alloc: a child forked meanwhile keeps the creator's locks
        }
    }
    ~creation_in_progress() {
        if (token_ == 0) return;
        auto& table = owned_segments();
        const std::lock_guard<std::mutex> lock(table.mutex);
        std::erase_if(table.creating, [this](const object_in_creation& c) { return c.token == token_; });
    }
    creation_in_progress(const creation_in_progress&) = delete;
    creation_in_progress& operator=(const creation_in_progress&) = delete;

private:
    std::uint64_t token_ = 0;
};

}  // namespace ipckit::detail
