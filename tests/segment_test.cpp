// Named segments: names, the init handshake, layout checks, corruption, ownership, no_space.

#include <ipckit/segment.hpp>

#include "catch.hpp"
#include "contract/child_report.hpp"
#include "support.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using ipckit::errc;
using ipckit::segment;
using header = ipckit::detail::segment_header;
using ipckit_test::as_expected;
using ipckit_test::child;
using ipckit_test::child_report;
using ipckit_test::scoped_name;
using ipckit_test::signal_pipe;

namespace {

// A body that holds a word the creator sets, so that an attacher can see initialisation done.
struct body {
    std::atomic<std::uint64_t> word;
};
constexpr std::uint64_t initialised = 0x5eed'1234'abcd'0001ULL;

ipckit::segment_layout layout_a() { return {"test-body<A>", ipckit::detail::header_size + 4096}; }
ipckit::segment_layout layout_b() { return {"test-body<B>", ipckit::detail::header_size + 4096}; }

void init_body(void* p) { ::new (p) body{initialised}; }
std::uint64_t word_of(const segment& s) { return static_cast<body*>(s.body())->word.load(); }

ipckit::options quick_open() {
    ipckit::options o;
    o.init_timeout = std::chrono::milliseconds(50);
    return o;
}

// The reason of the ipckit::error that f throws; fails the test if it throws nothing else.
template <class F>
errc reason_of(F&& f, std::string* what = nullptr) {
    try {
        f();
    } catch (const ipckit::error& e) {
        if (what != nullptr) *what = e.what();
        return e.reason();
    }
    return errc::ok;
}

std::string shm_path(const std::string& name) { return std::string("/dev/shm/ipckit.") + name; }

// Writes `bytes` at `offset` of the segment's file, as a process that scribbles on it would.
void scribble(const std::string& name, std::size_t offset, const void* bytes, std::size_t n) {
    const int fd = ::open(shm_path(name).c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, bytes, n, static_cast<off_t>(offset)) == static_cast<ssize_t>(n));
    ::close(fd);
}

}  // namespace

TEST_CASE("segment names are validated", "[unit]") {
    auto reason = [](const std::string& n, std::string* what = nullptr) {
        return reason_of([&] { (void)segment::open(n, layout_a(), {}); }, what);
    };
    std::string what;
    CHECK(reason("", &what) == errc::invalid_name);
    CHECK(what.find("empty") != std::string::npos);
    CHECK(reason(std::string(ipckit::max_name_length + 1, 'x'), &what) == errc::invalid_name);
    CHECK(what.find("201 characters") != std::string::npos);
    CHECK(reason("a/b", &what) == errc::invalid_name);
    CHECK(what.find("'/'") != std::string::npos);
    CHECK(reason("a b") == errc::invalid_name);
    CHECK(reason(".hidden") == errc::invalid_name);
    CHECK(reason("caf\xc3\xa9") == errc::invalid_name);
    // What the error quotes of a bad name is short, and printable: no line of a log forged.
    CHECK(reason("a\nb", &what) == errc::invalid_name);
    CHECK(what.find('\n') == std::string::npos);
    CHECK(what.find("a\\x0ab") != std::string::npos);
    CHECK(reason(std::string(100'000, 'x'), &what) == errc::invalid_name);
    CHECK(what.size() < 400);
    CHECK(what.find("100000 bytes") != std::string::npos);
    CHECK(reason_of([] { (void)ipckit::remove_segment("no/slash"); }) == errc::invalid_name);
    // The longest valid name works end to end.
    const std::string longest = "ipckit-long-" + std::to_string(::getpid()) + "-" +
                                std::string(ipckit::max_name_length - 13 - std::to_string(::getpid()).size(), 'n');
    REQUIRE(longest.size() == ipckit::max_name_length);
    ipckit::remove_segment(longest);
    {
        auto s = segment::create<ipckit::process_owned>(longest, layout_a(), {}, init_body);
        CHECK(word_of(s) == initialised);
    }
    CHECK_FALSE(ipckit::segment_exists(longest));
}

TEST_CASE("open of a missing segment is not_found, create of an existing one already_exists", "[unit]") {
    scoped_name name;
    std::string what;
    CHECK(reason_of([&] { (void)segment::open(name, layout_a(), {}); }, &what) == errc::not_found);
    CHECK(what.find(name.str()) != std::string::npos);

    auto s = segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body);
    CHECK(s.created());
    CHECK(reason_of([&] { (void)segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body); }, &what) ==
          errc::already_exists);
    CHECK(what.find("remove_segment") != std::string::npos);
    // What was there is untouched.
    CHECK(word_of(segment::open(name, layout_a(), {})) == initialised);
}

TEST_CASE("a segment holding another layout is incompatible_layout, saying what differs", "[unit]") {
    scoped_name name;
    auto s = segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body);
    std::string what;
    CHECK(reason_of([&] { (void)segment::open(name, layout_b(), {}); }, &what) == errc::incompatible_layout);
    CHECK(what.find("test-body<A>") != std::string::npos);
    CHECK(what.find("test-body<B>") != std::string::npos);
    // open_or_create does not replace it either.
    CHECK(reason_of([&] { (void)segment::open_or_create<ipckit::system_owned>(name, layout_b(), {}, init_body); }) ==
          errc::incompatible_layout);
    CHECK(word_of(s) == initialised);
}

TEST_CASE("a scribbled or truncated segment is corrupt, and is never read past its end", "[unit]") {
    scoped_name name;
    auto s = segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body);
    std::string what;

    SECTION("magic overwritten") {
        const char junk[8] = {'g', 'a', 'r', 'b', 'a', 'g', 'e', '!'};
        scribble(name, 0, junk, sizeof junk);
        CHECK(reason_of([&] { (void)segment::open(name, layout_a(), quick_open()); }, &what) == errc::corrupt);
        CHECK(what.find("not an ipckit segment") != std::string::npos);
        CHECK(what.find("remove_segment") != std::string::npos);  // and what to do about it
    }
    SECTION("state word out of range") {
        const std::uint32_t state = 77;
        scribble(name, offsetof(header, state), &state, sizeof state);
        CHECK(reason_of([&] { (void)segment::open(name, layout_a(), quick_open()); }, &what) == errc::corrupt);
        CHECK(what.find("state word 77") != std::string::npos);
    }
    SECTION("truncated to half") {
        REQUIRE(::truncate(shm_path(name).c_str(), static_cast<off_t>(layout_a().size / 2)) == 0);
        CHECK(reason_of([&] { (void)segment::open(name, layout_a(), quick_open()); }, &what) == errc::corrupt);
        CHECK(what.find("truncated") != std::string::npos);
    }
    SECTION("truncated below a header") {
        REQUIRE(::truncate(shm_path(name).c_str(), 10) == 0);
        CHECK(reason_of([&] { (void)segment::open(name, layout_a(), quick_open()); }, &what) == errc::corrupt);
        CHECK(what.find("too small") != std::string::npos);
    }
    SECTION("description length beyond its field") {
        const std::uint32_t len = 0xffff'ffff;
        scribble(name, offsetof(header, description_length), &len, sizeof len);
        // Caught by the checksum before the description is shown, and never read past its field.
        CHECK(reason_of([&] { (void)segment::open(name, layout_b(), quick_open()); }, &what) == errc::corrupt);
        CHECK(what.size() < 1024);
    }
}

TEST_CASE("a mismatch shows the stored description, never read past its field", "[unit]") {
    scoped_name name;
    const ipckit::segment_layout wordy{std::string(300, 'w'), layout_a().size};
    auto s = segment::create<ipckit::system_owned>(name, wordy, {}, init_body);
    std::string what;
    CHECK(reason_of([&] { (void)segment::open(name, layout_b(), {}); }, &what) == errc::incompatible_layout);
    CHECK(what.find(std::string(sizeof(header::description), 'w')) != std::string::npos);
    CHECK(what.find(std::string(sizeof(header::description) + 1, 'w')) == std::string::npos);
}

namespace {

// One field of the header: where it is and how wide (the description: its first 8 bytes).
struct header_field {
    const char* name;
    std::size_t offset;
    std::size_t width;
};
const header_field header_fields[] = {
    {"magic", offsetof(header, magic), 8},
    {"layout_version", offsetof(header, layout_version), 4},
    {"size", offsetof(header, size), 8},
    {"fingerprint", offsetof(header, fingerprint), 8},
    {"creator", offsetof(header, creator), 8},
    {"ownership", offsetof(header, ownership), 4},
    {"description_length", offsetof(header, description_length), 4},
    {"description", offsetof(header, description), 8},
    {"checksum", offsetof(header, checksum), 8},
};

// The bytes of the segment's file at [offset, offset + n).
std::vector<char> peek(const std::string& name, std::size_t offset, std::size_t n) {
    std::vector<char> out(n);
    const int fd = ::open(shm_path(name).c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::pread(fd, out.data(), n, static_cast<off_t>(offset)) == static_cast<ssize_t>(n));
    ::close(fd);
    return out;
}

// What open, open_or_create and create say of the damaged segment `name` (created as O), and
// that none of them replaced it: the body still holds `marker` once the header is restored by
// `restore`.
template <class O, class Restore>
void check_refused_and_kept(const std::string& name, std::uint64_t marker, Restore&& restore) {
    std::string what;
    CHECK(reason_of([&] { (void)segment::open(name, layout_a(), quick_open()); }, &what) == errc::corrupt);
    CHECK(what.find("remove_segment") != std::string::npos);
    CHECK(reason_of([&] { (void)segment::open_or_create<O>(name, layout_a(), quick_open(), init_body); }) ==
          errc::corrupt);
    CHECK(reason_of([&] { (void)segment::create<O>(name, layout_a(), quick_open(), init_body); }, &what) ==
          errc::corrupt);
    CHECK(what.find("does not replace") != std::string::npos);
    CHECK(what.find("remove_segment(\"" + name + "\")") != std::string::npos);
    REQUIRE(ipckit::segment_exists(name));
    restore();
    CHECK(word_of(segment::open(name, layout_a(), {})) == marker);  // the very segment, untouched
}

}  // namespace

TEST_CASE("a scribble of any header field is corrupt to open and to create, and is never replaced", "[unit]") {
    constexpr std::uint64_t marker = 0x0bad'cafe'0000'0001ULL;
    for (const header_field& field : header_fields) {
        for (const bool process_owned : {false, true}) {
            INFO("field " << field.name << (process_owned ? ", process_owned (owner alive)" : ", system_owned"));
            scoped_name name;
            std::optional<segment> s;
            if (process_owned)
                s.emplace(segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body));
            else
                s.emplace(segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body));
            static_cast<body*>(s->body())->word = marker;
            const std::vector<char> original = peek(name, field.offset, field.width);
            std::vector<char> damaged = original;
            if (field.offset == offsetof(header, ownership)) {
                // Another legal value, as in the issue: the other ownership's id.
                const std::uint32_t other = process_owned ? ipckit::system_owned::id : ipckit::process_owned::id;
                std::memcpy(damaged.data(), &other, sizeof other);
            } else {
                damaged[0] = static_cast<char>(damaged[0] ^ 1);  // one bit: version 3 reads as 2, ...
            }
            scribble(name, field.offset, damaged.data(), damaged.size());
            auto restore = [&] { scribble(name, field.offset, original.data(), original.size()); };
            if (process_owned)
                check_refused_and_kept<ipckit::process_owned>(name, marker, restore);
            else
                check_refused_and_kept<ipckit::system_owned>(name, marker, restore);
        }
    }
}

TEST_CASE("a scribbled state word is corrupt to open and to create, and is never replaced", "[unit]") {
    constexpr std::uint64_t marker = 0x0bad'cafe'0000'0002ULL;
    const std::uint32_t states[] = {header::uninit, header::initializing, header::corrupt, 77};
    for (const std::uint32_t state : states) {
        INFO("state word " << state);
        scoped_name name;
        auto s = segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body);
        static_cast<body*>(s.body())->word = marker;
        const std::uint32_t ready = header::ready;
        scribble(name, offsetof(header, state), &state, sizeof state);
        check_refused_and_kept<ipckit::system_owned>(
            name, marker, [&] { scribble(name, offsetof(header, state), &ready, sizeof ready); });
    }
}

TEST_CASE("a finished header with its state word and another field both scribbled is still never replaced",
          "[unit]") {
    // Two faults: the checksum no longer matches, and the state word says the creator never
    // finished. The checksum word having been written at all is what tells the two apart.
    constexpr std::uint64_t marker = 0x0bad'cafe'0000'0003ULL;
    const std::uint32_t states[] = {header::uninit, header::initializing, header::corrupt};
    for (const std::uint32_t state : states) {
        for (const header_field& field : header_fields) {
            if (field.offset == offsetof(header, state)) continue;
            INFO("state word " << state << " and field " << field.name);
            scoped_name name;
            auto s = segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body);
            static_cast<body*>(s.body())->word = marker;
            const std::vector<char> original = peek(name, field.offset, field.width);
            std::vector<char> damaged = original;
            damaged[0] = static_cast<char>(damaged[0] ^ 1);
            scribble(name, field.offset, damaged.data(), damaged.size());
            scribble(name, offsetof(header, state), &state, sizeof state);
            const std::uint32_t ready = header::ready;
            check_refused_and_kept<ipckit::system_owned>(name, marker, [&] {
                scribble(name, field.offset, original.data(), original.size());
                scribble(name, offsetof(header, state), &ready, sizeof ready);
            });
        }
    }
}

TEST_CASE("the ownership word of a process_owned segment whose owner died, scribbled, is corrupt, not replaced",
          "[process]") {
    scoped_name name;
    signal_pipe ready, hold;
    ipckit_test::child owner([&] {
        auto s = segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body);
        ready.post();
        return ipckit_test::block_until_killed(hold);
    });
    REQUIRE(ready.wait());
    REQUIRE(owner.kill() == ipckit_test::killed_by_sigkill);
    // It now reads as a system_owned segment that nobody owns: still corrupt, still kept.
    const std::uint32_t system = ipckit::system_owned::id, process = ipckit::process_owned::id;
    scribble(name, offsetof(header, ownership), &system, sizeof system);
    std::string what;
    CHECK(reason_of([&] { (void)segment::open(name, layout_a(), {}); }, &what) == errc::corrupt);
    CHECK(reason_of([&] { (void)segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body); }) ==
          errc::corrupt);
    REQUIRE(ipckit::segment_exists(name));
    // Restored, it is again what it was, a dead owner's segment: gone to open, replaced on create.
    scribble(name, offsetof(header, ownership), &process, sizeof process);
    CHECK(reason_of([&] { (void)segment::open(name, layout_a(), {}); }) == errc::not_found);
    auto s = segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body);
    CHECK(s.created());
}

TEST_CASE("a segment whose creator died while initialising it is corrupt, not waited on", "[process]") {
    scoped_name name;
    const pid_t child = ipckit_test::spawn([&] {
        (void)segment::create<ipckit::system_owned>(name, layout_a(), {}, [](void*) { ::_exit(7); });
        return 0;
    });
    REQUIRE(ipckit_test::wait_child(child) == 7);
    ipckit::options patient;
    patient.init_timeout = ipckit_test::patience;  // the verdict must come from the dead creator, not the timeout
    std::string what;
    CHECK(reason_of([&] { (void)segment::open(name, layout_a(), patient); }, &what) == errc::corrupt);
    CHECK(what.find("died") != std::string::npos);
    // create reclaims it: nobody can be using a half-made segment.
    auto s = segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body);
    CHECK(word_of(s) == initialised);
}

TEST_CASE("a segment whose creator died between sizing it and beginning its header is corrupt to open, and "
          "replaced by open_or_create and create at once",
          "[unit]") {
    scoped_name name;
    const std::string os = ipckit::detail::os_name(name.str());
    const auto leave_one = [&] {  // what such a creator leaves: sized, every byte 0 (state: uninit), unlocked
        const int fd = ::shm_open(os.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
        REQUIRE(fd >= 0);
        CHECK(::ftruncate(fd, 4096) == 0);
        ::close(fd);
    };
    leave_one();
    ipckit::options patient;
    patient.init_timeout = ipckit_test::patience;  // the verdict must come from the dead creator, not the timeout
    std::string what;
    CHECK(reason_of([&] { (void)segment::open(name, layout_a(), patient); }, &what) == errc::corrupt);
    CHECK(what.find("died") != std::string::npos);
    {
        auto s = segment::open_or_create<ipckit::system_owned>(name, layout_a(), patient, init_body);
        CHECK(s.created());
        CHECK(word_of(s) == initialised);
    }
    REQUIRE(ipckit::remove_segment(name.str()));
    leave_one();
    auto s = segment::create<ipckit::system_owned>(name, layout_a(), patient, init_body);
    CHECK(word_of(s) == initialised);
}

TEST_CASE("an attacher waits for a live creator to finish initialising", "[process]") {
    scoped_name name;
    int in_init[2], release[2];
    REQUIRE(::pipe(in_init) == 0);
    REQUIRE(::pipe(release) == 0);
    child_report creator_report;
    child creator = creator_report.spawn([&](child_report& r) {
        auto s = segment::create<ipckit::system_owned>(name, layout_a(), {}, [&](void* p) {
            char c = 'i';
            r.check(::write(in_init[1], &c, 1) == 1, "to say it is in init");
            r.check(::read(release[0], &c, 1) == 1, "the release byte");  // hold the segment half-made
            init_body(p);
        });
    });
    char c = 0;
    REQUIRE(::read(in_init[0], &c, 1) == 1);  // the creator is inside init now
    child_report attacher_report;
    child attacher = attacher_report.spawn([&](child_report& r) {
        ipckit::options patient;
        patient.init_timeout = ipckit_test::patience;
        auto s = segment::open(name, layout_a(), patient);
        r.expect_value(word_of(s), initialised);  // never half-made
    });
    REQUIRE(::write(release[1], "go", 1) == 1);
    CHECK(creator_report.finish(creator) == as_expected);
    CHECK(attacher_report.finish(attacher) == as_expected);
    for (int fd : {in_init[0], in_init[1], release[0], release[1]}) ::close(fd);
}

TEST_CASE("when processes race to open_or_create, exactly one creates", "[process]") {
    scoped_name name;
    int gate[2];
    REQUIRE(::pipe(gate) == 0);
    constexpr std::size_t racers = 6;
    signal_pipe made;  // 1 from the racer that created it, 0 from each that attached
    std::vector<child_report> reports(racers);
    std::vector<child> kids;
    for (std::size_t i = 0; i < racers; ++i) {
        kids.push_back(reports[i].spawn([&](child_report& r) {
            ::close(gate[1]);
            char c;
            r.check(::read(gate[0], &c, 1) == 0, "the gate to close");  // released together when the write end closes
            auto s = segment::open_or_create<ipckit::system_owned>(name, layout_a(), {}, init_body);
            r.expect_value(word_of(s), initialised);
            made.post_value(s.created() ? 1 : 0);
        }));
    }
    ::close(gate[0]);
    ::close(gate[1]);
    for (std::size_t i = 0; i < racers; ++i) CHECK(reports[i].finish(kids[i]) == as_expected);
    made.close_write();  // each has ended: what they said is in the pipe
    std::size_t created = 0, attached = 0;
    for (std::size_t i = 0; i < racers; ++i) {
        const auto was_creator = made.wait_value();
        REQUIRE(was_creator);
        created += *was_creator == 1;
        attached += *was_creator == 0;
    }
    CHECK(created == 1);
    CHECK(attached == racers - 1);
}

TEST_CASE("open_or_create that found a corrupt segment whose name another racer has since given to a new one, or "
          "freed, attaches or creates rather than calling the name corrupt",
          "[unit]") {
    scoped_name name;
    (void)segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body);  // stays: system_owned
    const bool freed = GENERATE(false, true);
    int opens = 0;
    // The first open finds the segment corrupt (a creator that died half-way, say); meanwhile
    // another racer reclaims it and makes a new one (or its creator gives up and removes it), so
    // this one's reclaim finds nothing abandoned to remove.
    auto s = ipckit::detail::create_or_open(
        name.str(), [&] { return segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body); },
        [&] {
            if (opens++ == 0) {
                (void)ipckit::remove_segment(name);
                if (!freed) (void)segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body);
                throw ipckit::error(errc::corrupt, "found half-initialised");
            }
            return segment::open(name, layout_a(), {});
        },
        [] { return false; });
    CHECK(s.created() == freed);
    CHECK(word_of(s) == initialised);
}

TEST_CASE("ownership: process_owned goes with its process's last handle, system_owned stays", "[unit]") {
    scoped_name name;
    {
        auto s = segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body);
        auto other = segment::open(name, layout_a(), {});  // an attacher does not own it
        CHECK(ipckit::segment_exists(name));
    }
    CHECK_FALSE(ipckit::segment_exists(name));
    {
        auto s = segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body);
    }
    CHECK(ipckit::segment_exists(name));
    CHECK(word_of(segment::open(name, layout_a(), {})) == initialised);
    CHECK(ipckit::remove_segment(name));
    CHECK_FALSE(ipckit::remove_segment(name));
    CHECK_FALSE(ipckit::segment_exists(name));
}

TEST_CASE("a process_owned segment lives while its owning process holds any handle of it, created or opened",
          "[process]") {
    scoped_name name;
    // What another process finds when it opens it: ok (and the word 7), or why it could not.
    auto seen_from_another_process = [&] {
        child_report report;
        signal_pipe seen;
        child c = report.spawn([&](child_report& r) {
            errc reason = errc::ok;
            try {
                r.expect_value(word_of(segment::open(name, layout_a(), {})), 7);
            } catch (const ipckit::error& e) {
                reason = e.reason();
            }
            seen.post_value(static_cast<std::uint64_t>(reason));
        });
        CHECK(report.finish(c) == as_expected);
        seen.close_write();
        const auto reason = seen.wait_value();
        REQUIRE(reason);
        return static_cast<errc>(*reason);
    };
    std::optional<segment> opened;
    {
        auto created = segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body);
        opened.emplace(segment::open(name, layout_a(), {}));
        static_cast<body*>(opened->body())->word = 7;
    }
    // The creating handle is gone, the process's opened one is not: the segment lives, for
    // this process and for others.
    CHECK(ipckit::segment_exists(name));
    CHECK(seen_from_another_process() == errc::ok);
    CHECK(reason_of([&] { (void)segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body); }) ==
          errc::already_exists);
    CHECK(word_of(segment::open(name, layout_a(), {})) == 7);
    opened.reset();  // the last one
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(seen_from_another_process() == errc::not_found);
}

TEST_CASE("a process_owned segment lives while any thread of its owning process holds a handle of it", "[unit]") {
    scoped_name name;
    std::optional<segment> mine;
    std::thread creator([&] {
        auto s = segment::open_or_create<ipckit::process_owned>(name, layout_a(), {}, init_body);
        mine.emplace(segment::open(name, layout_a(), {}));
    });  // the creating handle goes with its thread
    creator.join();
    REQUIRE(mine);
    CHECK(ipckit::segment_exists(name));
    bool created_again = true;
    std::uint64_t word = 0;
    std::thread other([&] {
        auto s = segment::open_or_create<ipckit::process_owned>(name, layout_a(), {}, init_body);
        created_again = s.created();
        word = static_cast<body*>(s.body())->word.fetch_add(1) + 1;
    });
    other.join();
    CHECK_FALSE(created_again);
    CHECK(word == initialised + 1);
    CHECK(word_of(*mine) == initialised + 1);  // the same segment
    mine.reset();
    CHECK_FALSE(ipckit::segment_exists(name));
}

TEST_CASE("a process_owned segment's creator removes only its own segment", "[unit]") {
    scoped_name name;
    auto first = segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body);
    REQUIRE(ipckit::remove_segment(name));
    auto second = segment::create<ipckit::system_owned>(name, layout_b(), {}, init_body);
    { auto gone = std::move(first); }  // first's handle goes: it must not remove the second
    CHECK(ipckit::segment_exists(name));
    CHECK_NOTHROW(segment::open(name, layout_b(), {}));
}

TEST_CASE("remove_name removes the name only while it names this segment, never one made under it since",
          "[unit]") {
    // What Q::remove and Mailbox::remove do after they close the queue they opened: another
    // process may have removed it and created its own under the name meanwhile.
    scoped_name name;
    const auto first = segment::create<ipckit::system_owned>(name, layout_a(), {}, init_body);
    REQUIRE(ipckit::remove_segment(name));
    const auto second = segment::create<ipckit::system_owned>(name, layout_b(), {}, init_body);
    CHECK_FALSE(first.remove_name());
    CHECK_NOTHROW(segment::open(name, layout_b(), {}));
    CHECK(second.remove_name());
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK_FALSE(second.remove_name());
}

TEST_CASE("a process_owned segment left by a killed creator is replaced on create", "[process]") {
    scoped_name name;
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    child_report report;
    child owner = report.spawn([&](child_report& r) {
        auto s = segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body);
        static_cast<body*>(s.body())->word = 42;
        r.check(::write(ready[1], "r", 1) == 1, "to say it is ready");
        for (;;) ::pause();  // until killed
    });
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    CHECK(owner.kill() == ipckit_test::killed_by_sigkill);
    CHECK(ipckit::segment_exists(name));  // nobody removed it, but it went with its owner...
    std::string what;
    CHECK(reason_of([&] { (void)segment::open(name, layout_a(), {}); }, &what) == errc::not_found);
    CHECK(what.find("ended") != std::string::npos);
    auto s = segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body);  // ...and create replaces it
    CHECK(s.created());
    CHECK(word_of(s) == initialised);
    ::close(ready[0]);
    ::close(ready[1]);
}

TEST_CASE("a process_owned segment goes with its owner while children it forked still run", "[process]") {
    scoped_name name;
    signal_pipe working, ready, release;
    child_report report;
    child owner = report.spawn([&](child_report& r) {
        auto s = segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body);
        // A worker forked after the create, as a pool's are: it keeps its copy of the handle.
        const pid_t worker = ::fork();
        if (worker == 0) {
            working.post();
            _exit(release.wait() ? 0 : 1);
        }
        r.check(worker > 0 && working.wait(), "fork a worker");
        ready.post();
        for (;;) ::pause();  // until killed
    });
    REQUIRE(report.reached(owner, ready) == as_expected);
    CHECK(owner.kill() == ipckit_test::killed_by_sigkill);
    std::string what;
    CHECK(reason_of([&] { (void)segment::open(name, layout_a(), {}); }, &what) == errc::not_found);
    CHECK(what.find("ended") != std::string::npos);
    auto s = segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body);  // replaced
    CHECK(s.created());
    CHECK(word_of(s) == initialised);
    release.post();  // the worker ends
}

TEST_CASE("a process_owned segment goes with its owner while a child forked by another thread as it was being "
          "created still runs",
          "[process]") {
    scoped_name name;
    const ipckit::segment_layout big{"test-body<big>", ipckit::detail::header_size + (std::size_t{256} << 20)};
    signal_pipe ready, release;
    child_report report;
    child owner = report.spawn([&](child_report& r) {
        std::thread forker([&] {
            // Once the object exists and its creator holds its lock, while it reserves 256 MiB.
            const std::string os = ipckit::detail::os_name(name);
            for (;;) {
                int err = 0;
                const auto f = ipckit::detail::sys::shm_open_for_reading(os, err);
                if (f.get() >= 0 && !ipckit::detail::sys::try_lock(f, true)) break;
                if (f.get() >= 0) ipckit::detail::sys::unlock(f);
            }
            const pid_t worker = ::fork();
            if (worker == 0) _exit(release.wait() ? 0 : 1);  // a worker, which keeps running
            r.check(worker > 0, "fork a worker");
        });
        auto s = segment::create<ipckit::process_owned>(name, big, {}, init_body);
        forker.join();
        ready.post();
        for (;;) ::pause();  // until killed
    });
    REQUIRE(report.reached(owner, ready) == as_expected);
    CHECK(owner.kill() == ipckit_test::killed_by_sigkill);
    CHECK(reason_of([&] { (void)segment::open(name, big, {}); }) == errc::not_found);
    release.post();
}

TEST_CASE("a segment larger than /dev/shm can hold is no_space at creation, leaving nothing behind", "[unit]") {
    scoped_name name;
    const ipckit::segment_layout huge{"test-body<huge>", std::size_t{1} << 46};  // 64 TiB
    std::string what;
    CHECK(reason_of([&] { (void)segment::create<ipckit::system_owned>(name, huge, {}, init_body); }, &what) ==
          errc::no_space);
    CHECK(what.find("/dev/shm") != std::string::npos);
    CHECK_FALSE(ipckit::segment_exists(name));
}

TEST_CASE("segments are created with exactly the mode asked for", "[unit]") {
    scoped_name name;
    const mode_t old = ::umask(077);
    ipckit::options o;
    o.mode = 0640;
    auto s = segment::create<ipckit::system_owned>(name, layout_a(), o, init_body);
    ::umask(old);
    struct stat st {};
    REQUIRE(::stat(shm_path(name).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);

    scoped_name plain;
    auto d = segment::create<ipckit::system_owned>(plain, layout_a(), {}, init_body);
    REQUIRE(::stat(shm_path(plain).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("another user's open waits out the moment in which umask narrows a new segment's mode, before its creator "
          "sets the mode asked for, rather than being refused",
          "[process]") {
    if (::geteuid() != 0) {
        WARN("skipped: not root, and the test needs a second user (CI runs as root)");
        return;
    }
    scoped_name name;
    const std::string os = ipckit::detail::os_name(name.str());
    // A live creator of mode 0666 between its create, umask 077 narrowing the mode, and its
    // fchmod: the object empty, its creator's lock held (here, by this process).
    const ipckit::detail::sys::file creator = ipckit::detail::sys::shm_create(os, 0600);
    REQUIRE(creator.get() >= 0);
    signal_pipe said;
    const pid_t opener = ipckit_test::spawn([&] {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 2;  // nobody
        if (::shm_open(os.c_str(), O_RDWR, 0) >= 0 || errno != EACCES) return 3;  // the mode shuts it out
        ipckit::options patient;
        patient.init_timeout = std::chrono::seconds(60);
        said.post_value(static_cast<std::uint64_t>(ipckit_test::setup_errc([&] { (void)segment::open(name, layout_a(), patient); })));
        return 0;
    });
    // The opener, refused, sleeps before it tries again (it has nothing else to sleep on); the
    // old open said permission_denied at once, and ended. Meanwhile the creator's work goes on:
    // the object counts as being made for 2 s from its last change of status, however long the
    // fork takes on a loaded machine.
    CHECK(ipckit_test::wait_until_sleeping(opener, opener, [&] { (void)::fchmod(creator.get(), 0600); }));
    // The creator sets the mode, then sizes the object: scribbled, so that the opener, let in,
    // says corrupt where it would have attached.
    REQUIRE(::fchmod(creator.get(), 0666) == 0);
    const std::vector<char> junk(4096, '\xff');
    REQUIRE(::pwrite(creator.get(), junk.data(), junk.size(), 0) == static_cast<ssize_t>(junk.size()));
    const auto reason = said.wait_value();
    CHECK(ipckit_test::wait_child(opener) == 0);
    ipckit::detail::sys::shm_remove_quietly(os);
    REQUIRE(reason);
    CHECK(static_cast<errc>(*reason) == errc::corrupt);
}

TEST_CASE("when a process_owned owner dies, processes racing to replace it agree on one segment", "[process]") {
    scoped_name name;
    int ready[2], gate[2], counted[2], finish[2];
    for (int* p : {ready, gate, counted, finish}) REQUIRE(::pipe(p) == 0);
    child_report owner_report;
    child owner = owner_report.spawn([&](child_report& r) {
        auto s = segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body);
        r.check(::write(ready[1], "r", 1) == 1, "to say it is ready");
        for (;;) ::pause();
    });
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    REQUIRE(owner.kill() == ipckit_test::killed_by_sigkill);

    constexpr std::size_t racers = 6;
    signal_pipe made;  // 1 from the racer that created it, 0 from each that attached
    std::vector<child_report> reports(racers);
    std::vector<child> kids;
    for (std::size_t i = 0; i < racers; ++i) {
        kids.push_back(reports[i].spawn([&](child_report& r) {
            ::close(gate[1]);
            ::close(finish[1]);
            char g;
            r.check(::read(gate[0], &g, 1) == 0, "the gate to close");  // released together
            auto s = segment::open_or_create<ipckit::process_owned>(name, layout_a(), {}, init_body);
            static_cast<body*>(s.body())->word.fetch_add(1);  // count who ended up where
            r.check(::write(counted[1], "c", 1) == 1, "to say it counted itself");
            // Keeps the handle until all have counted.
            r.check(::read(finish[0], &g, 1) == 0, "the finish pipe to close");
            made.post_value(s.created() ? 1 : 0);
        }));
    }
    ::close(gate[0]);
    ::close(gate[1]);
    for (std::size_t i = 0; i < racers; ++i) REQUIRE(::read(counted[0], &c, 1) == 1);
    // Every racer counted itself into the one segment that the name now names.
    CHECK(word_of(segment::open(name, layout_a(), {})) == initialised + racers);
    ::close(finish[1]);
    for (std::size_t i = 0; i < racers; ++i) CHECK(reports[i].finish(kids[i]) == as_expected);
    made.close_write();  // each has ended: what they said is in the pipe
    std::size_t created = 0;
    for (std::size_t i = 0; i < racers; ++i) {
        const auto was_creator = made.wait_value();
        REQUIRE(was_creator);
        created += *was_creator == 1;
    }
    CHECK(created == 1);
    for (int fd : {ready[0], ready[1], counted[0], counted[1], finish[0]}) ::close(fd);
}

TEST_CASE("a dead owner's segment is gone to an attacher even while another process probes it under its lock",
          "[process]") {
    scoped_name name;
    signal_pipe ready, hold;
    ipckit_test::child owner([&] {
        auto s = segment::create<ipckit::process_owned>(name, layout_a(), {}, init_body);
        ready.post();
        return ipckit_test::block_until_killed(hold);
    });
    REQUIRE(ready.wait());
    CHECK(segment::open(name, layout_a(), {}).created() == false);  // the owner lives: it opens
    CHECK(owner.kill() == ipckit_test::killed_by_sigkill);

    // What a racing create() does before it removes the dead owner's segment: hold the object's
    // exclusive flock for a moment. An attacher must not take that holder for the owner.
    const std::string os = ipckit::detail::os_name(name.str());
    const int prober = ::shm_open(os.c_str(), O_RDWR, 0);
    REQUIRE(prober >= 0);
    REQUIRE(::flock(prober, LOCK_EX | LOCK_NB) == 0);
    CHECK(ipckit_test::setup_errc([&] { return segment::open(name, layout_a(), {}); }) == errc::not_found);
    ::flock(prober, LOCK_UN);
    ::close(prober);
    CHECK(ipckit_test::setup_errc([&] { return segment::open(name, layout_a(), {}); }) == errc::not_found);
}

TEST_CASE("an empty object left by a creator that died before sizing it is replaced after a grace period", "[unit]") {
    scoped_name name;
    const std::string os = ipckit::detail::os_name(name.str());
    const int fd = ::shm_open(os.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);  // what such a creator leaves
    REQUIRE(fd >= 0);
    ::close(fd);
    std::optional<segment> s;
    SECTION("create, once the object is older than init_timeout") {
        ipckit::options impatient;
        impatient.init_timeout = std::chrono::milliseconds(0);
        s.emplace(segment::create<ipckit::system_owned>(name, layout_a(), impatient, init_body));
    }
    SECTION("open_or_create, after waiting init_timeout for its creator to size it") {
        ipckit::options brief;
        brief.init_timeout = std::chrono::milliseconds(20);
        s.emplace(segment::open_or_create<ipckit::system_owned>(name, layout_a(), brief, init_body));
    }
    REQUIRE(s);
    CHECK(s->created());
    CHECK(word_of(*s) == initialised);
}

TEST_CASE("a creator stopped between creating its object and locking it, whose object was judged abandoned and "
          "replaced meanwhile, does not take the replacement's name for its own",
          "[unit]") {
    scoped_name name;
    const std::string os = ipckit::detail::os_name(name.str());
    ipckit::options impatient;
    impatient.init_timeout = std::chrono::milliseconds(0);
    std::optional<segment> other;
    // The moment between the create and the lock, in which a creator stopped for init_timeout
    // lets another process take its empty object for abandoned, remove it, and create the name.
    const auto stopped_creator = [&](const ipckit::detail::sys::file&) noexcept {
        try {
            if (segment::remove_if_abandoned(name.str(), impatient))
                other.emplace(segment::create<ipckit::system_owned>(name, layout_a(), impatient, init_body));
        } catch (...) {
        }
    };
    const ipckit::detail::sys::file lost = ipckit::detail::sys::shm_create(os, 0600, stopped_creator);
    REQUIRE(other);
    CHECK(lost.get() < 0);  // not a creator of the name
    // The other's segment is the name's, whole, and stays so.
    const segment again = segment::open(name, layout_a(), {});
    CHECK(word_of(again) == initialised);
}

TEST_CASE("an open with init_timeout milliseconds::max() says corrupt for an object whose creator died before "
          "initialising it, rather than waiting for ever",
          "[unit]") {
    scoped_name name;
    const std::string os = ipckit::detail::os_name(name.str());
    const int fd = ::shm_open(os.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);  // unlocked: its creator is gone
    REQUIRE(fd >= 0);
    SECTION("sized, its header not begun") { REQUIRE(::ftruncate(fd, static_cast<off_t>(layout_a().size)) == 0); }
    SECTION("never sized (the open waits a grace of a few seconds for it)") {}
    ::close(fd);
    ipckit::options forever;
    forever.init_timeout = std::chrono::milliseconds::max();
    std::string what;
    CHECK(reason_of([&] { (void)segment::open(name, layout_a(), forever); }, &what) == errc::corrupt);
    INFO(what);
    CHECK(what.find("remove_segment") != std::string::npos);  // it says what to do
}

TEST_CASE("an open with init_timeout milliseconds::max() waits for a creator still sizing its object, not a moment",
          "[process]") {
    scoped_name name;
    const std::string os = ipckit::detail::os_name(name.str());
    // A live creator that has not sized its object yet: the object exists, empty, its creator's
    // lock held (here, by this process).
    const ipckit::detail::sys::file creator = ipckit::detail::sys::shm_create(os, 0600);
    REQUIRE(creator.get() >= 0);
    signal_pipe opening, said;
    child opener([&] {
        ipckit::options forever;
        forever.init_timeout = std::chrono::milliseconds::max();
        opening.post();
        said.post_value(static_cast<std::uint64_t>(ipckit_test::setup_errc([&] { (void)segment::open(name, layout_a(), forever); })));
        return 0;
    });
    // Overflowed, the deadline lay in the past: the open said corrupt ("its creator died
    // before sizing it") at once, as soon as it began.
    REQUIRE(opening.wait());
    CHECK_FALSE(said.wait_value(std::chrono::milliseconds(200)).has_value());
    (void)opener.kill();
    ipckit::detail::sys::shm_remove_quietly(os);
}
