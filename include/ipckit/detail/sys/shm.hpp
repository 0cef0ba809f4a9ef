#pragma once
// POSIX shared-memory objects and their mappings.
//
// Every object is created with O_EXCL and the exact permission bits asked for (umask does not
// narrow them), and its storage is reserved with posix_fallocate, so a full /dev/shm is
// no_space at creation rather than a SIGBUS on first touch. Names passed here are OS names
// ("/ipckit.<name>"); validating the user's name is the caller's job.

#include <ipckit/detail/sys/fd.hpp>
#include <ipckit/detail/sys/os_error.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <dirent.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

namespace ipckit::detail::sys {

/// Where glibc keeps POSIX shared-memory objects.
inline constexpr const char* shm_dir = "/dev/shm";

/// An open file descriptor, closed on destruction.
class file {
public:
    file() noexcept = default;
    explicit file(int fd) noexcept : fd_(fd) {}
    file(file&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    file& operator=(file o) noexcept {
        std::swap(fd_, o.fd_);
        return *this;
    }
    ~file() {
        if (fd_ >= 0) ::close(fd_);
    }
    [[nodiscard]] int get() const noexcept { return fd_; }

    /// The object's size and inode, from fstat.
    [[nodiscard]] struct stat status(const std::string& what) const {
        struct stat st {};
        if (::fstat(fd_, &st) != 0) throw_errno(errno, "fstat of " + what);
        return st;
    }

private:
    int fd_ = -1;
};

/// flock(2) on a shared-memory object. The kernel drops the lock when its holder dies, which
/// makes it the witness of "is the creator still at work / the owner still there?" that no pid
/// check can match. Returns false if another holds a conflicting lock (never blocks).
inline bool try_lock(const file& f, bool exclusive) noexcept {
    return ::flock(f.get(), (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0;
}
inline void unlock(const file& f) noexcept { ::flock(f.get(), LOCK_UN); }
/// Takes a shared flock, waiting while someone holds the exclusive one (a prober, for a moment).
inline void lock_shared(const file& f) noexcept {
    while (::flock(f.get(), LOCK_SH) != 0 && errno == EINTR) {
    }
}
/// try_lock(f, true) for a judgement that acts on the answer (removing what nobody holds):
/// tried again for a few milliseconds, since a prober (an inspector, an attacher asking whether
/// a creator is at work) holds the exclusive lock for a moment only, and is no creator or owner.
inline bool lock_exclusive_past_probers(const file& f) noexcept {
    for (int attempt = 0; attempt < 50; ++attempt) {
        if (try_lock(f, true)) return true;
        struct timespec pause {0, 100'000};
        ::nanosleep(&pause, nullptr);
    }
    return false;
}
/// Lets go of a lock taken on `f` when it goes, before `f` closes: a child forked meanwhile
/// shares the description, and closing only this descriptor would leave the lock to it.
class unlock_at_exit {
public:
    explicit unlock_at_exit(const file& f) noexcept : f_(f) {}
    unlock_at_exit(const unlock_at_exit&) = delete;
    unlock_at_exit& operator=(const unlock_at_exit&) = delete;
    ~unlock_at_exit() { unlock(f_); }

private:
    const file& f_;
};

/// A new open file description of the object `f` is open on (named `os_name` when it was
/// opened), with `f`'s access, as a bare descriptor (close-on-exec); -1 if it cannot be had.
/// Through /proc/self/fd, which reaches the object even once its name is gone, or where /proc
/// is not mounted by its name, if that still names the object. For a forked child, whose copy
/// of `f` shares its parent's description, and with it the parent's flock and OFD locks.
/// Async-signal-safe, as a child of a threaded process must be (shm_open is glibc's open of a
/// path it builds on the stack).
inline int reopen_description(const file& f, const std::string& os_name) noexcept {
    char path[32] = "/proc/self/fd/";
    char digits[12];
    int n = 0;
    for (auto v = static_cast<unsigned>(f.get()); n == 0 || v != 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
    std::size_t at = sizeof "/proc/self/fd/" - 1;
    while (n > 0) path[at++] = digits[--n];
    path[at] = '\0';
    const int flags = ::fcntl(f.get(), F_GETFL);
    if (flags < 0) return -1;
    if (const int fd = ::open(path, (flags & O_ACCMODE) | O_CLOEXEC); fd >= 0) return fd;
    const int fd = ::shm_open(os_name.c_str(), (flags & O_ACCMODE) | O_CLOEXEC, 0);
    struct stat mine {}, named {};
    if (fd >= 0 && ::fstat(f.get(), &mine) == 0 && ::fstat(fd, &named) == 0 && mine.st_dev == named.st_dev &&
        mine.st_ino == named.st_ino)
        return fd;
    if (fd >= 0) ::close(fd);
    return -1;
}

/// Makes `f` refer to `fd`'s open file description (closing `fd`), keeping its number.
inline void take_over(const file& f, int fd) noexcept {
    (void)::dup3(fd, f.get(), O_CLOEXEC);
    ::close(fd);
}

/// The inode now behind `os_name`, or 0 if there is none.
inline ino_t shm_inode(const std::string& os_name) noexcept {
    struct stat st {};
    const std::string path = std::string(shm_dir) + os_name;
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

/// Whether `os_name` still names the object `f` is open on.
inline bool still_named(const std::string& os_name, const file& f) noexcept {
    const file_identity mine = identity_of(f.get());
    return mine.known && shm_inode(os_name) == mine.ino;
}

/// Removes `os_name` if it still names the object `f` is open on. A caller that holds f's
/// exclusive lock (two processes that both mean to remove an old object) never removes a new
/// one that took the name meanwhile; one that does not (a live queue's remove, whose endpoints
/// hold the lock shared) only between this check and the unlink.
inline bool shm_remove_if_same(const std::string& os_name, const file& f) noexcept {
    return still_named(os_name, f) && ::shm_unlink(os_name.c_str()) == 0;
}

/// Creates `os_name` exclusively, empty, and returns it holding a shared flock: its creator's,
/// taken before it is sized (shm_reserve: reserving gigabytes takes seconds), so that no prober
/// takes a live creator's empty object for one whose creator died. `created(f)` (noexcept) runs
/// as soon as it exists, before the lock is taken. Throws already_exists, permission_denied or
/// invalid_name. A file that is not open (get() < 0) if the object lost its name before the lock
/// was taken (see below): the caller creates again.
template <class Created>
file shm_create(const std::string& os_name, unsigned mode, Created&& created) {
    file f(::shm_open(os_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode)));
    if (f.get() < 0) throw_errno(errno, "cannot create shared memory " + std::string(shm_dir) + os_name);
    created(f);
    lock_shared(f);
    // Between the create and the lock, a prober may have judged the object abandoned (empty and
    // init_timeout old: this creator was stopped that long) and removed its name, which another
    // process may have created since: then this object is nobody's.
    if (!still_named(os_name, f)) {
        unlock(f);
        return file{};
    }
    return f;
}
inline file shm_create(const std::string& os_name, unsigned mode) {
    return shm_create(os_name, mode, [](const file&) noexcept {});
}

/// Gives the object just created as `os_name` (shm_create) its mode and `size` bytes, storage
/// reserved. Throws permission_denied or no_space, the object removed again.
inline void shm_reserve(const file& f, const std::string& os_name, std::size_t size, unsigned mode) {
    auto fail = [&](int err, const std::string& what, const std::string& hint) {
        shm_remove_if_same(os_name, f);
        throw_errno(err, what, hint);
    };
    if (::fchmod(f.get(), static_cast<mode_t>(mode)) != 0)
        fail(errno, "cannot set the mode of " + std::string(shm_dir) + os_name, {});
    const int err = ::posix_fallocate(f.get(), 0, static_cast<off_t>(size));
    if (err != 0)
        fail(err, "cannot reserve " + std::to_string(size) + " bytes for " + std::string(shm_dir) + os_name,
             "Free space in " + std::string(shm_dir) + " (df -h " + shm_dir + ") or ask for a smaller capacity");
}

/// Opens an existing `os_name` read-write. Throws not_found or permission_denied.
inline file shm_open_existing(const std::string& os_name) {
    file f(::shm_open(os_name.c_str(), O_RDWR | O_CLOEXEC, 0));
    if (f.get() < 0) {
        const int err = errno;
        throw_errno(err, "cannot open shared memory " + std::string(shm_dir) + os_name,
                    err == ENOENT ? "Create it first, or check the name" : "");
    }
    return f;
}

/// Removes `os_name`; false if it did not exist. Processes that have it mapped keep it.
inline bool shm_remove(const std::string& os_name) {
    if (::shm_unlink(os_name.c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    throw_errno(errno, "cannot remove shared memory " + std::string(shm_dir) + os_name);
}

/// Removes `os_name` if it exists, reporting nothing: the clean-up of a creation that failed.
inline void shm_remove_quietly(const std::string& os_name) noexcept { ::shm_unlink(os_name.c_str()); }

/// An entry of shm_dir: its name (without the leading '/'), and whether it is a plain file (the
/// directory says so without a system call per entry; false for a directory, a link, a FIFO...
/// that only someone else could have put there).
struct shm_entry {
    std::string name;
    bool regular = true;
};

/// The entries of shm_dir whose names start with `prefix`. Throws (errc from errno: system_error
/// for EMFILE, permission_denied, ...) when shm_dir cannot be read: an empty list would read as
/// "there is nothing", and callers act on that.
inline std::vector<shm_entry> shm_scan(const std::string& prefix) {
    std::vector<shm_entry> out;
    const std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(shm_dir), ::closedir);
    if (dir == nullptr) {
        const int err = errno;
        throw_errno(err, "cannot list " + std::string(shm_dir),
                    err == EMFILE || err == ENFILE ? "Close some files, or raise the limit (ulimit -n)" : "");
    }
    for (;;) {
        errno = 0;
        const dirent* e = ::readdir(dir.get());
        if (e == nullptr) {
            if (const int err = errno; err != 0) throw_errno(err, "cannot read the directory " + std::string(shm_dir));
            break;
        }
        const std::string_view n = e->d_name;
        if (n.substr(0, prefix.size()) == prefix)
            out.push_back({std::string(n), e->d_type == DT_REG || e->d_type == DT_UNKNOWN});
    }
    return out;
}

/// The names (without the leading '/') of the shared-memory objects that start with `prefix`.
/// Throws as shm_scan does.
inline std::vector<std::string> shm_list(const std::string& prefix) {
    std::vector<std::string> out;
    for (auto& e : shm_scan(prefix)) out.push_back(std::move(e.name));
    return out;
}

/// Opens `os_name` read-only for a look that must neither wait nor change anything: no O_CREAT,
/// O_NONBLOCK (a FIFO that someone put there does not hold the open up), O_NOFOLLOW. Returns an
/// invalid file (get() < 0) with errno in `err` when the OS refuses.
inline file shm_open_for_reading(const std::string& os_name, int& err) noexcept {
    const std::string path = std::string(shm_dir) + os_name;
    file f(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
    err = f.get() < 0 ? errno : 0;
    return f;
}

/// The status of `os_name` without opening it (its owner and mode, when it cannot be opened):
/// of the entry itself, not of what a symbolic link there points to.
inline std::optional<struct stat> shm_stat(const std::string& os_name) noexcept {
    struct stat st {};
    const std::string path = std::string(shm_dir) + os_name;
    if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
    return st;
}

/// When the object `f` is open on was created: its birth time where the file system keeps one
/// (tmpfs does since Linux 5.x), else its status-change time, which ipckit's objects change only
/// while they are created (sizing, mode). nullopt if neither can be read.
inline std::optional<timespec> creation_time(const file& f) noexcept {
    struct statx sx {};
    if (::statx(f.get(), "", AT_EMPTY_PATH, STATX_BTIME | STATX_CTIME, &sx) != 0) return std::nullopt;
    const auto& t = (sx.stx_mask & STATX_BTIME) != 0 ? sx.stx_btime : sx.stx_ctime;
    return timespec{static_cast<time_t>(t.tv_sec), static_cast<long>(t.tv_nsec)};
}

/// Bytes of shm_dir that an unprivileged process may still fill (statvfs: f_bavail blocks of
/// f_frsize bytes), or 0 if statvfs fails.
inline std::uint64_t shm_free_bytes() noexcept {
    struct statvfs st {};
    if (::statvfs(shm_dir, &st) != 0) return 0;
    return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
}

/// How long ago the object behind `st` last changed status (its creation, for a segment that is
/// never renamed or re-permissioned), by the real-time clock as the kernel stamps it.
inline std::chrono::nanoseconds status_age(const struct stat& st) noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return std::chrono::seconds(now.tv_sec - st.st_ctim.tv_sec) + std::chrono::nanoseconds(now.tv_nsec - st.st_ctim.tv_nsec);
}

/// Whether `os_name` names an object still empty and younger than `grace`: one whose creator
/// may not have given it its mode yet (shm_reserve sets the mode, then the size). Until then,
/// umask may narrow the mode that shm_create gave it, and shut out another user that the mode
/// asked for lets in: such an opener tries again while this holds.
inline bool shm_still_empty(const std::string& os_name, std::chrono::nanoseconds grace) noexcept {
    struct stat st {};
    return ::stat((std::string(shm_dir) + os_name).c_str(), &st) == 0 && st.st_size == 0 && status_age(st) < grace;
}

/// Byte 0 of the object, locked as `type` (F_RDLCK, F_WRLCK): where the owner mark lives.
inline struct flock owner_mark_range(short type) noexcept {
    struct flock l {};
    l.l_type = type;
    l.l_whence = SEEK_SET;
    l.l_start = 0;
    l.l_len = 1;
    return l;
}
/// The owner mark: an open-file-description read lock (fcntl F_OFD_SETLK) on byte 0 that a
/// process_owned segment's creator holds while its process holds any handle of the segment; the
/// kernel drops it when the holder dies. fcntl locks are a namespace apart from flock's, and owner_mark_held()
/// only asks (F_OFD_GETLK takes nothing), so a prober holding the flock exclusively for a moment
/// (reclaim, creator_gone) is never taken for a live owner. False if the mark cannot be set.
inline bool set_owner_mark(const file& f) noexcept {
    struct flock l = owner_mark_range(F_RDLCK);
    return ::fcntl(f.get(), F_OFD_SETLK, &l) == 0;
}
/// Whether another open file description holds the owner mark of `f`'s object.
inline bool owner_mark_held(const file& f) noexcept {
    struct flock l = owner_mark_range(F_WRLCK);  // what would conflict with any holder's mark
    if (::fcntl(f.get(), F_OFD_GETLK, &l) != 0) return true;  // cannot tell: not gone
    return l.l_type != F_UNLCK;
}

/// A shared mapping of the first `size` bytes of a file, unmapped on destruction: read-write, or
/// read-only for an inspector (which then cannot change the segment even by mistake).
class mapping {
public:
    enum access { read_write, read_only };

    mapping() noexcept = default;
    mapping(const file& f, std::size_t size, const std::string& what, access a = read_write) : size_(size) {
        const int prot = a == read_write ? PROT_READ | PROT_WRITE : PROT_READ;
        void* p = ::mmap(nullptr, size, prot, MAP_SHARED, f.get(), 0);
        if (p == MAP_FAILED) throw_errno(errno, "cannot map " + what);
        addr_ = p;
    }
    mapping(mapping&& o) noexcept
        : addr_(std::exchange(o.addr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    mapping& operator=(mapping o) noexcept {
        std::swap(addr_, o.addr_);
        std::swap(size_, o.size_);
        return *this;
    }
    ~mapping() {
        if (addr_ != nullptr) ::munmap(addr_, size_);
    }
    [[nodiscard]] void* data() const noexcept { return addr_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    /// Maps the same range, read-write, through `fd` (a description of the same object), in
    /// place: the memory reads the same, and the mapping no longer holds the description it
    /// was made through (a mapping keeps its description, and that description's locks,
    /// alive). False, with the mapping as it was, if that cannot be done. Async-signal-safe.
    bool move_onto(int fd) noexcept {
        void* fresh = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (fresh == MAP_FAILED) return false;
        if (::mremap(fresh, size_, size_, MREMAP_MAYMOVE | MREMAP_FIXED, addr_) == MAP_FAILED) {
            ::munmap(fresh, size_);
            return false;
        }
        return true;
    }

private:
    void* addr_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace ipckit::detail::sys
