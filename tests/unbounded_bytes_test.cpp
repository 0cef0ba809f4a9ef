// Tests of unbounded queues of variable-size messages, ipckit::queue<bytes<Max>, unbounded<B>,
// ...>, within one process: the layout, every size from 0 to Max across many chunks (and a
// message as large as a chunk allows), too_large, a buffer too small, the cap, a scribbled
// length, and producer threads feeding the receiver (the test to run under ThreadSanitizer).
// What the chain itself does (crash rules, removal, inspection) is unbounded_test.cpp's; across
// processes, slot_bytes_process_test.cpp and the contract scenarios.

#include "byte_messages.hpp"
#include "catch.hpp"
#include "messages.hpp"
#include "support.hpp"
#include "unbounded_support.hpp"

#include <ipckit/queue.hpp>
#include <ipckit/segment.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace std::chrono_literals;
using ipckit::errc;
using ipckit_test::chunks_of;
using ipckit_test::err;
using ipckit_test::mix;
using ipckit_test::patience;
using ipckit_test::pattern;
using ipckit_test::same;
using ipckit_test::scoped_queue;
using ipckit_test::setup_errc;

namespace {

constexpr std::size_t max_bytes = 100;
using spsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::unbounded<4096>>;
using mpsc = ipckit::queue<ipckit::bytes<max_bytes>, ipckit::unbounded<4096>, ipckit::multi_of<4>>;

/// The largest Max whose record fills a 4 KiB chunk on its own: one message per chunk.
constexpr std::size_t chunk_max = 4096 - ipckit::detail::header_size - ipckit::cache_line - 16;
using one_per_chunk = ipckit::queue<ipckit::bytes<chunk_max>, ipckit::unbounded<4096>>;
static_assert(one_per_chunk::slots_per_chunk == 1 &&
                  ipckit::detail::chain_slots_per_chunk<ipckit::detail::record<chunk_max + 8>, 4096,
                                                        ipckit::detail::header_size> == 0,
              "chunk_max must be the largest message a 4 KiB chunk holds");

}  // namespace

TEST_CASE("unbounded bytes: the layout names bytes<Max> and the chunks, and another Max or chunk is incompatible_layout",
          "[unit]") {
    CHECK(spsc::layout().description ==
          "ipckit::queue<bytes<100>, unbounded<4096>, single producer, single consumer, process_owned>");
    scoped_queue name;
    auto q = spsc::create(name);
    CHECK(setup_errc([&] { return ipckit::queue<ipckit::bytes<101>, ipckit::unbounded<4096>>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_errc([&] { return ipckit::queue<ipckit::bytes<100>, ipckit::unbounded<8192>>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_errc([&] { return ipckit::queue<std::uint64_t, ipckit::unbounded<4096>>::open(name); }) ==
          errc::incompatible_layout);
    CHECK(setup_errc([&] { return mpsc::open(name); }) == errc::incompatible_layout);
    CHECK(setup_errc([&] { return spsc::open(name); }) == errc::ok);
}

TEMPLATE_TEST_CASE("unbounded bytes: every size from 0 to Max arrives whole and in order across many chunks, which "
                   "are freed as read",
                   "[unit]", spsc, mpsc) {
    scoped_queue name;
    auto q = TestType::create(name);
    auto tx = q.template sender<ipckit::non_blocking>();
    auto rx = q.template receiver<ipckit::non_blocking>();
    // Each size once, then as many again at random: several chunks' worth, none read yet.
    std::vector<std::size_t> sizes;
    for (std::size_t n = 0; n <= max_bytes; ++n) sizes.push_back(n);
    for (std::size_t i = 0; i < 3 * TestType::slots_per_chunk; ++i) sizes.push_back(mix(i) % (max_bytes + 1));
    for (std::size_t i = 0; i < sizes.size(); ++i) REQUIRE(tx.send(pattern(sizes[i], i)));
    CHECK(q.depth() == sizes.size());
    CHECK(chunks_of(name).size() == (sizes.size() + TestType::slots_per_chunk - 1) / TestType::slots_per_chunk);

    std::array<std::byte, max_bytes> buf{};
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        if (i % 2 == 0) {
            const auto n = rx.receive(buf);
            REQUIRE(n);
            CHECK(same(std::span(buf.data(), *n), pattern(sizes[i], i)));
        } else {
            const auto v = rx.receive();
            REQUIRE(v);
            CHECK(same(*v, pattern(sizes[i], i)));
        }
    }
    CHECK(err(rx.receive(buf)) == errc::would_block);
    CHECK(chunks_of(name).size() <= 1);  // the one being written, if it is not full
    REQUIRE(tx.send(std::string_view("hello")));
    const auto v = rx.receive();
    REQUIRE(v);
    CHECK(same(*v, std::as_bytes(std::span(std::string_view("hello")))));
}

TEST_CASE("unbounded bytes: a message as large as a chunk allows takes a chunk of its own", "[unit]") {
    scoped_queue name;
    auto q = one_per_chunk::create(name);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    const std::vector<std::size_t> sizes = {chunk_max, 0, 1, chunk_max - 1, chunk_max};
    for (std::size_t i = 0; i < sizes.size(); ++i) REQUIRE(tx.send(pattern(sizes[i], i)));
    CHECK(chunks_of(name).size() == sizes.size());
    CHECK(err(tx.send(pattern(chunk_max + 1, 9))) == errc::too_large);
    std::vector<std::byte> buf(chunk_max);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const auto n = rx.receive(buf);
        REQUIRE(n);
        CHECK(same(std::span(buf.data(), *n), pattern(sizes[i], i)));
    }
    CHECK(chunks_of(name).empty());
}

TEMPLATE_TEST_CASE("unbounded bytes: a message over Max is too_large at once with nothing written, and a buffer too small is "
                   "too_large and the message stays the next",
                   "[unit]", spsc, mpsc) {
    scoped_queue name;
    auto q = TestType::create(name);
    auto tx = q.sender();  // blocking, yet it returns at once
    auto rx = q.receiver();
    CHECK(err(tx.send(pattern(max_bytes + 1, 1))) == errc::too_large);
    CHECK(err(tx.send(pattern(max_bytes + 1, 1), 10ms)) == errc::too_large);
    CHECK(q.depth() == 0);
    CHECK(chunks_of(name).empty());

    REQUIRE(tx.send(pattern(50, 1)));
    REQUIRE(tx.send(pattern(3, 2)));
    std::array<std::byte, 49> small{};
    CHECK(err(rx.receive(small)) == errc::too_large);
    CHECK(err(rx.receive(small, 10ms)) == errc::too_large);
    CHECK(err(rx.receive(std::span<std::byte>())) == errc::too_large);
    CHECK(q.depth() == 2);
    const auto v = rx.receive();  // a vector always has room
    REQUIRE(v);
    CHECK(same(*v, pattern(50, 1)));
    const auto n = rx.receive(small);
    REQUIRE(n);
    CHECK(same(std::span(small.data(), *n), pattern(3, 2)));
}

TEST_CASE("unbounded bytes: past the cap a send is no_space with nothing written, and succeeds again once a chunk is "
          "read",
          "[unit]") {
    scoped_queue name;
    ipckit::unbounded_options opt;
    opt.cap_bytes = 2 * 4096;
    auto q = spsc::create(name, opt);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    std::size_t sent = 0;
    while (tx.send(pattern(sent % (max_bytes + 1), sent))) ++sent;
    CHECK(sent == 2 * spsc::slots_per_chunk);
    CHECK(err(tx.send(pattern(0, 0))) == errc::no_space);
    CHECK(q.depth() == sent);
    for (std::size_t i = 0; i < spsc::slots_per_chunk; ++i) {
        const auto v = rx.receive();
        REQUIRE(v);
        CHECK(same(*v, pattern(i % (max_bytes + 1), i)));
    }
    CHECK(tx.send(pattern(max_bytes, sent)));
}

TEST_CASE("unbounded bytes: a length in a slot over Max is corrupt, never read past the slot", "[unit]") {
    scoped_queue name;
    auto q = spsc::create(name);
    auto tx = q.sender<ipckit::non_blocking>();
    auto rx = q.receiver<ipckit::non_blocking>();
    REQUIRE(tx.send(pattern(10, 1)));
    const auto chunks = chunks_of(name);
    REQUIRE(chunks.size() == 1);
    {
        // The first slot's record, through a second mapping of the chunk, as a hostile peer would.
        const int fd = ::shm_open(ipckit::detail::os_name(name.str() + "." + chunks[0]).c_str(), O_RDWR, 0);
        REQUIRE(fd >= 0);
        void* m = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ::close(fd);
        REQUIRE(m != MAP_FAILED);
        auto& c = *reinterpret_cast<spsc::chunk_type*>(static_cast<char*>(m) + ipckit::detail::header_size);
        c.slots[0].value.length = max_bytes + 1;
        ::munmap(m, 4096);
    }
    std::array<std::byte, 4 * max_bytes> buf{};
    CHECK(err(rx.receive(buf)) == errc::corrupt);
    CHECK(err(rx.receive()) == errc::corrupt);
}

TEST_CASE("unbounded bytes: producer threads pass 2e4 messages of every size to the receiver, each in order and whole",
          "[unit]") {
    scoped_queue name;
    auto q = mpsc::create(name);
    constexpr std::uint32_t producers = 4;
    constexpr std::uint64_t each = 5'000;
    auto rx = q.receiver();
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (std::uint32_t p = 0; p < producers; ++p) {
        threads.emplace_back([&failures, p, tx = q.sender()]() mutable {
            for (std::uint64_t s = 0; s < each; ++s)
                if (!tx.send(ipckit_test::numbered_message(p, s, max_bytes))) {
                    ++failures;
                    return;
                }
        });
    }
    std::vector<std::uint64_t> next(producers, 0);
    std::array<std::byte, max_bytes> buf{};
    for (std::uint64_t i = 0; i < producers * each; ++i) {
        std::uint32_t p = 0;
        std::uint64_t s = 0;
        const auto n = rx.receive(buf, patience);
        if (!n || !ipckit_test::numbered(std::span(buf.data(), *n), max_bytes, p, s) || p >= producers ||
            s != next[p]) {
            UNSCOPED_INFO("message " << i << " is missing, torn or out of order (producer " << p << ", seq " << s << ")");
            ++failures;
            break;
        }
        ++next[p];
    }
    for (auto& t : threads) t.join();
    REQUIRE(failures == 0);
    q.close();
    CHECK(err(rx.receive(patience)) == errc::closed);
}
