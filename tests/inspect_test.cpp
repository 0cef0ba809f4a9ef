// Inspection (ipckit/inspect.hpp): what list_segments() and inspect() report about every kind of
// segment, across real processes (a dead receiver, a dead owner, a creator killed half-way), how
// damaged, truncated and foreign files are reported, and that remove_stale() removes exactly the
// stale segments.

#include "backdoor.hpp"
#include "catch.hpp"
#include "inspect_support.hpp"
#include "messages.hpp"
#include "node_support.hpp"
#include "support.hpp"
#include "unbounded_support.hpp"

#include <ipckit/inspect.hpp>
#include <ipckit/ipckit.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace ipckit_test;
using ipckit::endpoint_state;
using ipckit::segment_info;
using ipckit::segment_kind;
using ipckit::segment_status;

namespace {

template <class A, class B>
struct pair_of {
    A a;
    B b;
};
struct alignas(256) wide {
    std::uint64_t v;
};

std::size_t count_endpoints(const segment_info& s, const std::string& role, endpoint_state state) {
    return static_cast<std::size_t>(std::count_if(s.endpoints.begin(), s.endpoints.end(), [&](const auto& e) {
        return e.role == role && e.state == state;
    }));
}

/// Looks at `name` until `pred` holds for what inspect() says, or patience runs out: for events
/// that another process brings about without a way to tell us (a send that blocks).
template <class Pred>
segment_info inspect_until(const std::string& name, Pred&& pred) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    for (;;) {
        segment_info s = ipckit::inspect(name);
        if (pred(s) || std::chrono::steady_clock::now() > deadline) return s;
        std::this_thread::yield();
    }
}

}  // namespace

TEST_CASE("inspect: layout descriptions are read back as they were written", "[unit]") {
    using namespace ipckit::detail;
    using Q = ipckit::queue<pair_of<int, char>, ipckit::bounded<12>, ipckit::multi_of<3>, ipckit::multi>;
    const auto q = parse_queue_description(Q::layout().description);
    REQUIRE(q);
    CHECK(q->message.type == type_name<pair_of<int, char>>());  // a type name with ", " in it
    CHECK(q->message.size == sizeof(pair_of<int, char>));
    CHECK(q->message.align == alignof(pair_of<int, char>));
    CHECK(q->capacity == "bounded<12>");
    CHECK(q->capacity_value == 12);
    CHECK(q->producers == 3);
    CHECK(q->consumers == 64);
    CHECK(q->ownership == "process_owned");

    using B = ipckit::queue<ipckit::bytes<100>, ipckit::bounded<4096>, ipckit::multi>;
    const auto b = parse_queue_description(B::layout().description);
    REQUIRE(b);
    CHECK(b->message.bytes);
    CHECK(b->message.size == 100);
    CHECK(b->capacity_value == 4096);
    CHECK(b->producers == 64);

    using L = ipckit::queue<tick, ipckit::bounded<16>, ipckit::lanes<5>>;
    const auto l = parse_queue_description(L::layout().description);
    REQUIRE(l);
    CHECK(l->lanes);
    CHECK(l->capacity_value == 16);
    CHECK(l->producers == 5);
    CHECK_FALSE(q->lanes);

    using U = ipckit::queue<tick, ipckit::unbounded<8192>, ipckit::single, ipckit::single, ipckit::adaptive,
                            ipckit::system_owned>;
    const auto u = parse_queue_description(U::layout().description);
    REQUIRE(u);
    CHECK(u->kind == queue_description::unbounded);
    CHECK(u->capacity_value == 8192);
    CHECK(u->ownership == "system_owned");

    using M = ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::round_robin, ipckit::system_owned>;
    const auto m = parse_mailbox_description(M::layout().description);
    REQUIRE(m);
    CHECK(m->slots == 16);
    CHECK(m->delivery == "round_robin");
    CHECK(m->ownership == "system_owned");

    const auto d = parse_domain_description(registry::layout(7, "links of bytes<64> in bounded<1024 bytes>").description);
    REQUIRE(d);
    CHECK(d->capacity == 7);
    CHECK(d->links == "links of bytes<64> in bounded<1024 bytes>");

    chain_info chain{"some.queue", "tick (16 B, align 8)", 1000, 4096, 10, {}};
    const auto c = parse_chunk_description(chain.chunk_layout(5).description);
    REQUIRE(c);
    CHECK(c->seq == 1005);
    CHECK(c->queue == "some.queue");

    for (const char* bad : {"", "ipckit::queue<", "ipckit::queue<tick, bounded<8>>", "ipckit::queue<x, bounded<8>, "
                            "single producer, single consumer, process_owned>", "ipckit::mailbox<tick (16 B, align 8), "
                            "bounded<0>, any, system_owned>", "ipckit::domain<0 members, x>",
                            // lanes: only of fixed-size messages, as a producer side, with a capacity per lane
                            "ipckit::queue<bytes<8>, bounded<8 per lane>, lanes<2> producer, single consumer, process_owned>",
                            "ipckit::queue<t (8 B, align 8), bounded<8 per lane>, single producer, lanes<2> consumer, process_owned>",
                            "ipckit::queue<t (8 B, align 8), bounded<8>, lanes<2> producer, single consumer, process_owned>",
                            "ipckit::queue<t (8 B, align 8), bounded<8 per lane>, multi<2> producer, single consumer, process_owned>"}) {
        INFO(bad);
        CHECK_FALSE(parse_queue_description(bad));
        CHECK_FALSE(parse_mailbox_description(bad));
        CHECK_FALSE(parse_domain_description(bad));
    }
}

/// Creates queue or mailbox Q as `name`, sends `k` ticks through one sender (kept attached),
/// and checks what inspect() says of it. `opt` is a broadcast mailbox's options; every other kind
/// takes the options it derives from.
template <class Q>
void check_kind(segment_kind kind, std::uint64_t k, std::uint64_t capacity, const ipckit::broadcast_options& opt = {}) {
    scoped_queue name;  // removed with any chunks
    INFO(Q::layout().description);
    auto q = Q::create(name, opt);
    auto tx = q.sender();
    for (std::uint64_t i = 0; i < k; ++i) REQUIRE(tx.send(make_tick(i)));
    const segment_info s = ipckit::inspect(name);
    INFO(s.problem << s.note);
    CHECK(s.status == segment_status::ok);
    CHECK(s.note.empty());
    CHECK(s.kind == kind);
    CHECK(s.description == Q::layout().description);
    CHECK(s.message_type == ipckit::detail::type_name<tick>());
    CHECK(s.message_size == sizeof(tick));
    CHECK(s.depth_messages == k);
    CHECK(s.sent_messages == k);
    CHECK(s.capacity_messages.value_or(0) == capacity);
    CHECK(count_endpoints(s, "sender", endpoint_state::alive) == 1);
    CHECK(s.endpoints.size() == 1);
    CHECK(s.creator_pid == static_cast<std::uint32_t>(::getpid()));
    CHECK(s.creator_alive == true);
    CHECK_FALSE(s.stale);
    CHECK(s.size_bytes == ipckit::detail::header_size + sizeof(typename Q::shared) +
                              (kind == segment_kind::broadcast ? 8 * sizeof(ipckit::detail::broadcast_place) : 0));
}

/// Creates Q of `wide` (aligned to 256 bytes), sends one, and checks what inspect() reads of it.
template <class Q>
void check_wide(const ipckit::broadcast_options& opt = {}) {
    scoped_name name("insp");
    auto q = Q::create(name, opt);
    auto tx = q.sender();
    REQUIRE(tx.send(wide{1}));
    const auto s = ipckit::inspect(name);
    INFO(Q::layout().description << ": " << s.problem);
    CHECK(s.status == segment_status::ok);
    CHECK(s.message_align == 256);
    CHECK(s.depth_messages == 1);
}

TEST_CASE("inspect: every kind of queue and mailbox is read where its layout puts it", "[unit]") {
    using ipckit::bounded;
    using ipckit::multi;
    using ipckit::multi_of;
    using ipckit::single;
    using ipckit::system_owned;
    using ipckit::adaptive;
    check_kind<ipckit::queue<tick, bounded<8>>>(segment_kind::queue, 5, 8);
    check_kind<ipckit::queue<tick, bounded<8>, multi>>(segment_kind::queue, 3, 8);
    check_kind<ipckit::queue<tick, bounded<9>, single, multi_of<5>>>(segment_kind::queue, 9, 9);
    check_kind<ipckit::queue<tick, bounded<4>, multi_of<3>, multi, adaptive, system_owned>>(segment_kind::queue, 2, 4);
    check_kind<ipckit::queue<tick, bounded<8>, ipckit::lanes<4>>>(segment_kind::queue, 5, 4 * 8);
    check_kind<ipckit::mailbox<tick, bounded<8>, ipckit::exclusive, system_owned>>(segment_kind::mailbox, 4, 8);
    check_kind<ipckit::mailbox<tick, bounded<8>, ipckit::any, system_owned>>(segment_kind::mailbox, 6, 8);
    check_kind<ipckit::mailbox<tick, bounded<8>, ipckit::round_robin, system_owned>>(segment_kind::mailbox, 1, 8);
    ipckit::broadcast_options eight;
    eight.max_receivers = 8;
    check_kind<ipckit::mailbox<tick, bounded<8>, ipckit::broadcast, system_owned>>(segment_kind::broadcast, 7, 8, eight);

    SECTION("a message aligned to 256 bytes, in each kind of ring") {
        check_wide<ipckit::queue<wide, bounded<3>>>();
        check_wide<ipckit::queue<wide, bounded<3>, multi, multi>>();
        check_wide<ipckit::mailbox<wide, bounded<4>, ipckit::broadcast, system_owned>>(eight);
    }
    SECTION("variable-size messages: bytes waiting, and the messages among them") {
        scoped_name name("insp");
        using B = ipckit::queue<ipckit::bytes<100>, bounded<256>, multi>;
        auto q = B::create(name);
        auto tx = q.sender();
        auto rx = q.receiver();
        // Records of 40 bytes (8 of header, 30 of message, 2 of padding) in a ring of 256: the
        // seventh wraps, behind a marker of 16 bytes, which the walk of the records passes.
        const std::string thirty(30, 'x');
        for (int i = 0; i < 6; ++i) REQUIRE(tx.send(std::string_view(thirty)));
        for (int i = 0; i < 5; ++i) REQUIRE(rx.receive());
        for (int i = 0; i < 3; ++i) REQUIRE(tx.send(std::string_view(thirty)));
        const auto s = ipckit::inspect(name);
        INFO(s.problem);
        CHECK(s.status == segment_status::ok);
        CHECK(s.message_type == "bytes");
        CHECK(s.capacity_bytes == 256);
        CHECK(s.depth_messages == 4);
        CHECK(s.depth_bytes == 4 * 40 + 16);
        CHECK(s.sent_bytes == 6 * 40 + 16 + 3 * 40);
        CHECK(s.received_bytes == 5 * 40);
    }
    SECTION("bytes<Max> with zero capacity: an offer of the last sender place, in its record slot") {
        scoped_name name("insp");
        using Z = ipckit::queue<ipckit::bytes<100>, ipckit::zero_capacity, multi_of<3>, multi>;
        auto q = Z::create(name);
        auto a = q.sender();
        auto b = q.sender();
        auto c = q.sender();  // the third place: its offer lies after two records of 100 bytes
        auto rx = q.receiver();
        std::thread offering([&c] { (void)c.send(std::string_view("offered"), ipckit_test::patience); });
        const auto s = inspect_until(name, [](const segment_info& i) { return i.depth_messages == 1; });
        const auto taken = rx.receive(ipckit_test::patience);
        offering.join();
        INFO(s.problem);
        CHECK(s.status == segment_status::ok);
        CHECK(s.message_type == "bytes");
        CHECK(s.depth_messages == 1);
        CHECK(count_endpoints(s, "sender", endpoint_state::alive) == 3);
        CHECK(count_endpoints(s, "receiver", endpoint_state::alive) == 1);
        REQUIRE(taken);
        CHECK(taken->size() == 7);
    }
    SECTION("bytes<Max> unbounded: the chain of record slots") {
        scoped_queue name;
        using U = ipckit::queue<ipckit::bytes<100>, ipckit::unbounded<4096>>;
        auto q = U::create(name);
        auto tx = q.sender();
        const std::uint64_t k = U::slots_per_chunk + 1;
        for (std::uint64_t i = 0; i < k; ++i) REQUIRE(tx.send(std::string_view("message")));
        const auto s = ipckit::inspect(name);
        INFO(s.problem);
        CHECK(s.status == segment_status::ok);
        CHECK(s.message_type == "bytes");
        CHECK(s.depth_messages == k);
        REQUIRE(s.chain);
        REQUIRE(s.chain->chunks.size() == 2);
        for (const auto& c : s.chain->chunks) CHECK(ipckit::inspect(c).status == segment_status::ok);
    }
    SECTION("zero capacity: nothing waits while no sender offers") {
        scoped_name name("insp");
        auto q = ipckit::queue<tick, ipckit::zero_capacity, multi>::create(name);
        const auto s = ipckit::inspect(name);
        INFO(s.problem);
        CHECK(s.status == segment_status::ok);
        CHECK(s.capacity_messages == 0);
        CHECK(s.depth_messages == 0);
    }
}

TEST_CASE("inspect: a broadcast mailbox of bytes<Max> names bytes<Max>, its slots and each receiver's lag", "[unit]") {
    using B = ipckit::mailbox<ipckit::bytes<100>, ipckit::bounded<8 * sizeof(ipckit::detail::record<100>)>,
                              ipckit::broadcast, ipckit::system_owned>;
    scoped_name name("insp");
    ipckit::broadcast_options opt;
    opt.max_receivers = 4;
    auto b = B::create(name, opt);
    auto rx = b.receiver<ipckit::non_blocking>();
    auto tx = b.sender();
    for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(tx.send(sized_message(i, 100)));
    REQUIRE(rx.receive());
    const segment_info s = ipckit::inspect(name);
    INFO(s.problem << s.note);
    CHECK(s.status == segment_status::ok);
    CHECK(s.kind == segment_kind::broadcast);
    CHECK(s.description == B::layout().description);
    CHECK(s.message_type == "bytes");
    CHECK(s.message_size == 100);
    CHECK(s.capacity == "bounded<" + std::to_string(8 * sizeof(ipckit::detail::record<100>)) + " bytes>");
    CHECK(s.capacity_messages.value_or(0) == 8);
    CHECK(s.max_receivers == 4);
    CHECK(s.sent_messages == 5);
    CHECK(s.depth_messages == 4);
    CHECK(count_endpoints(s, "receiver", endpoint_state::alive) == 1);
    CHECK(count_endpoints(s, "sender", endpoint_state::alive) == 1);
}

TEST_CASE("inspect: an unbounded queue shows its chain, whose chunks belong to it", "[unit]") {
    scoped_queue name;
    using U = ipckit::queue<tick, ipckit::unbounded<4096>, ipckit::single, ipckit::single, ipckit::adaptive,
                            ipckit::system_owned>;
    ipckit::unbounded_options opt;
    opt.cap_bytes = 64 * 4096;
    auto q = U::create(name, opt);
    auto tx = q.sender();
    const std::uint64_t k = 3 * U::slots_per_chunk - 1;
    for (std::uint64_t i = 0; i < k; ++i) REQUIRE(tx.send(make_tick(i)));
    const auto head = ipckit::inspect(name);
    INFO(head.problem);
    REQUIRE(head.status == segment_status::ok);
    CHECK(head.kind == segment_kind::queue);
    CHECK(head.depth_messages == k);
    REQUIRE(head.chain);
    CHECK(head.chain->chunks.size() == 3);
    CHECK(head.capacity_bytes == 64 * 4096);
    for (std::size_t i = 0; i < head.chain->chunks.size(); ++i) {
        const auto chunk = ipckit::inspect(head.chain->chunks[i]);
        INFO(chunk.name << ": " << chunk.problem << chunk.stale_reason);
        CHECK(chunk.status == segment_status::ok);
        CHECK(chunk.kind == segment_kind::unbounded_chunk);
        CHECK(chunk.queue == name.str());
        CHECK(chunk.chunk_index == i);
        CHECK_FALSE(chunk.stale);
    }
    SECTION("the chunk it is creating is known for one before its header says so") {
        const std::string next = name.str() + "." + std::to_string(head.chain->base + head.chain->next_chunk);
        write_foreign(next, {});  // as a sender's create leaves it for a moment
        const auto chunk = ipckit::inspect(next);
        CHECK(chunk.status == segment_status::initializing);
        CHECK(chunk.kind == segment_kind::unbounded_chunk);
        CHECK(chunk.queue == name.str());
        CHECK(chunk.chunk_index == head.chain->next_chunk);
        CHECK_FALSE(chunk.stale);
        (void)ipckit::remove_segment(next);
    }
    SECTION("its chunks are stale once its head is removed by name alone") {
        REQUIRE(unlink_only(name));
        for (const auto& c : head.chain->chunks) {
            const auto chunk = ipckit::inspect(c);
            CHECK(chunk.stale);
            CHECK(contains(chunk.stale_reason, "is gone"));
            CHECK(ipckit::remove_stale(c));
            CHECK_FALSE(ipckit::segment_exists(c));
        }
    }
    SECTION("remove_any removes it with every chunk") {
        CHECK(ipckit::remove_any(name));
        CHECK_FALSE(ipckit::segment_exists(name));
        CHECK(chunks_of(name).empty());
    }
}

namespace a_namespace_whose_name_is_long_enough_that_the_description_of_a_queue_of_a_type_in_it {
struct and_a_message_type_with_a_long_name_too {
    std::uint64_t seq;
};
}  // namespace a_namespace_whose_name_is_long_enough_that_the_description_of_a_queue_of_a_type_in_it

TEST_CASE("inspect: an unbounded queue whose description was cut short in its header keeps its chunks, and "
          "remove_any removes it with them",
          "[unit]") {
    using long_named =
        a_namespace_whose_name_is_long_enough_that_the_description_of_a_queue_of_a_type_in_it::and_a_message_type_with_a_long_name_too;
    using U = ipckit::queue<long_named, ipckit::unbounded<4096>, ipckit::single, ipckit::single, ipckit::adaptive,
                            ipckit::system_owned>;
    scoped_queue name;
    auto q = U::create(name);
    auto tx = q.sender();
    for (std::uint64_t i = 0; i < 2 * U::slots_per_chunk; ++i) REQUIRE(tx.send(long_named{i}));
    const auto head = ipckit::inspect(name);
    REQUIRE(head.status == segment_status::ok);
    REQUIRE(contains(head.note, "cut short"));
    const auto chunks = chunks_of(name);
    REQUIRE(chunks.size() == 2);
    for (const auto& c : chunks) {
        const std::string chunk = name.str() + "." + c;
        const auto info = ipckit::inspect(chunk);
        INFO(chunk << ": " << info.stale_reason);
        CHECK_FALSE(info.stale);
        CHECK_FALSE(ipckit::remove_stale(chunk));
    }
    auto rx = q.receiver();
    for (std::uint64_t i = 0; i < 2 * U::slots_per_chunk; ++i) {
        const auto m = rx.receive(std::chrono::milliseconds(0));
        REQUIRE(m);
        CHECK(m->seq == i);
    }
    CHECK(ipckit::remove_any(name));
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(chunks_of(name).empty());
}

namespace {

/// Every bell an endpoint of a queue whose shared part is `sh` may sleep on, and the seq of each.
template <class Shared>
std::vector<std::uint32_t> bell_seqs(const Shared& sh) {
    std::vector<std::uint32_t> out{sh.data_bell.seq.load()};
    if constexpr (requires { sh.space_bell; }) out.push_back(sh.space_bell.seq.load());
    if constexpr (requires { sh.room; })
        for (const auto& r : sh.room) out.push_back(r.bell.seq.load());
    if constexpr (requires { sh.offers; })
        for (const auto& o : sh.offers) out.push_back(o.bell.seq.load());
    return out;
}

namespace ik = ipckit;
using closing_fixed = ik::queue<tick, ik::bounded<8>>;
using closing_wide_mpmc = ik::queue<wide, ik::bounded<3>, ik::multi_of<3>, ik::multi_of<2>>;
using closing_byte_ring = ik::queue<ik::bytes<100>, ik::bounded<256>>;
using closing_byte_ring_mpsc = ik::queue<ik::bytes<100>, ik::bounded<256>, ik::multi>;
using closing_record_slots = ik::queue<ik::bytes<100>, ik::bounded<1024>, ik::multi_of<2>, ik::multi_of<3>>;
using closing_lanes = ik::queue<tick, ik::bounded<8>, ik::lanes<3>>;
using closing_rendezvous = ik::queue<wide, ik::zero_capacity, ik::multi_of<3>, ik::multi_of<2>>;
using closing_rendezvous_bytes = ik::queue<ik::bytes<100>, ik::zero_capacity, ik::multi_of<4>, ik::multi>;

}  // namespace

// The closed contract (contract/contract_closed_test.cpp) shows endpoints asleep on each kind
// woken by remove_any; but a sleeper also wakes at each liveness check and finds the seal, so
// only here does a bell rung in the wrong place show.
TEMPLATE_TEST_CASE("inspect: remove_any closes a bounded queue it knows no type of as its close does: the closed "
                   "word, both rosters sealed, every bell rung",
                   "[unit]", closing_fixed, closing_wide_mpmc, closing_byte_ring, closing_byte_ring_mpsc,
                   closing_record_slots, closing_lanes, closing_rendezvous, closing_rendezvous_bytes) {
    using Q = TestType;
    scoped_name name("close_any");
    auto q = Q::create(name);
    backdoor<Q> door(name);  // a mapping that outlives the name
    const auto& sh = door.shared();
    const auto before = bell_seqs(sh);
    REQUIRE(ipckit::remove_any(name));
    CHECK_FALSE(ipckit::segment_exists(name));
    if constexpr (requires { sh.closed; }) CHECK(sh.closed.load() == 1);
    CHECK(sh.senders.is_sealed());
    CHECK(sh.receivers.is_sealed());
    const auto after = bell_seqs(sh);
    REQUIRE(after.size() == before.size());
    for (std::size_t i = 0; i < after.size(); ++i) {
        INFO("bell " << i << " of " << after.size() << " (data_bell first)");
        CHECK(after[i] != before[i]);
    }
}

TEST_CASE("inspect: a name that does not exist is not_found, and the message names it", "[unit]") {
    const std::string name = unique_name("nosuch");
    const auto e = setup_error([&] { return ipckit::inspect(name); });
    REQUIRE(e);
    CHECK(e->reason() == ipckit::errc::not_found);
    CHECK(contains(e->what(), name));
    CHECK(setup_errc([] { return ipckit::inspect("a/b"); }) == ipckit::errc::invalid_name);
    CHECK_FALSE(ipckit::remove_stale(name));
    CHECK_FALSE(ipckit::remove_any(name));
}

TEST_CASE("inspect: damaged, truncated and foreign segments are reported with the reason, never a crash", "[unit]") {
    using Q = ipckit::queue<tick, ipckit::bounded<8>, ipckit::single, ipckit::single, ipckit::adaptive,
                            ipckit::system_owned>;
    const auto check = [](const std::string& name, segment_status status, const char* reason) {
        const auto s = ipckit::inspect(name);
        INFO(name << ": " << ipckit::to_string(s.status) << ": " << s.problem);
        CHECK(s.status == status);
        CHECK(contains(s.problem, reason));
        CHECK_FALSE(s.stale);
        const auto l = listed(name);  // and a listing goes on past it
        CHECK(l.status == status);
    };
    SECTION("a scribbled header") {
        scoped_name name("insp");
        (void)Q::create(name);
        scribble(name, offsetof(ipckit::detail::segment_header, description) + 3, "X", 1);
        check(name, segment_status::corrupt, "checksum");
    }
    SECTION("a header whose magic was overwritten") {
        scoped_name name("insp");
        (void)Q::create(name);
        scribble(name, 0, "garbage!", 8);
        check(name, segment_status::foreign, "not an ipckit segment");
    }
    SECTION("scribbled indices") {
        scoped_name name("insp");
        auto q = Q::create(name);
        const std::uint64_t tail = 1000;  // head 0: a thousand messages in a ring of eight
        scribble(name, ipckit::detail::header_size + ipckit::detail::queue_offsets(1, 1, alignof(tick)).ring, &tail,
                 sizeof tail);
        check(name, segment_status::corrupt, "inconsistent indices");
    }
    SECTION("a truncated file") {
        scoped_name name("insp");
        (void)Q::create(name);
        REQUIRE(::truncate(file_of(name).c_str(), 1000) == 0);
        check(name, segment_status::corrupt, "truncated");
        REQUIRE(::truncate(file_of(name).c_str(), 100) == 0);
        check(name, segment_status::corrupt, "truncated");
    }
    SECTION("a file of random bytes") {
        scoped_name name("insp");
        std::vector<unsigned char> bytes(8192);
        std::mt19937 random(42);
        for (auto& b : bytes) b = static_cast<unsigned char>(random());
        write_foreign(name, bytes);
        const auto s = ipckit::inspect(name);
        CHECK((s.status == segment_status::foreign || s.status == segment_status::corrupt));
        CHECK_FALSE(s.problem.empty());
    }
    SECTION("a small file that is not ipckit's") {
        scoped_name name("insp");
        write_foreign(name, {'h', 'e', 'l', 'l', 'o'});
        check(name, segment_status::foreign, "too small");
    }
    SECTION("an empty file, as a creator leaves it for a moment") {
        scoped_name name("insp");
        write_foreign(name, {});
        check(name, segment_status::initializing, "empty");
    }
    SECTION("a directory and a FIFO under ipckit's prefix") {
        const std::string dir = unique_name("dir");
        const std::string fifo = unique_name("fifo");
        REQUIRE(::mkdir(file_of(dir).c_str(), 0700) == 0);
        REQUIRE(::mkfifo(file_of(fifo).c_str(), 0600) == 0);
        check(dir, segment_status::foreign, "not a plain file");
        check(fifo, segment_status::foreign, "not a plain file");  // and opening it did not wait for a writer
        ::rmdir(file_of(dir).c_str());
        ::unlink(file_of(fifo).c_str());
    }
    SECTION("a symbolic link under ipckit's prefix is described as itself, not as the file it points to") {
        const std::string link = unique_name("link");
        const std::string target = "/tmp/" + link + ".target";  // 12345 bytes, mode 0640: not what is shown
        {
            std::ofstream out(target, std::ios::binary);
            out << std::string(12345, 'x');
        }
        REQUIRE(::chmod(target.c_str(), 0640) == 0);
        REQUIRE(::symlink(target.c_str(), file_of(link).c_str()) == 0);
        const auto s = ipckit::inspect(link);
        CHECK(s.status == segment_status::foreign);
        CHECK(contains(s.problem, "symbolic link"));
        CHECK(s.size_bytes == target.size());  // a link's own size: the length of what it names
        CHECK(s.mode == 0777u);
        ::unlink(file_of(link).c_str());
        ::unlink(target.c_str());
    }
    SECTION("a domain's member slot that says its name is longer than a name may be") {
        scoped_domain domain;
        ipckit::node a(domain, "a");
        const std::uint32_t length = 1000;
        scribble(domain.str(),
                 ipckit::detail::header_size + sizeof(ipckit::detail::registry_head) +
                     offsetof(ipckit::detail::member_slot, name_length),
                 &length, sizeof length);
        // The registry's header is intact: only the body is damaged.
        const auto s = ipckit::inspect(domain.str());
        CHECK(s.status == segment_status::corrupt);
        CHECK(contains(s.problem, "name is 1000 characters long"));
    }
    SECTION("a broadcast mailbox whose receiver table was overwritten") {
        scoped_name name("insp");
        using M = ipckit::mailbox<tick, ipckit::bounded<8>, ipckit::broadcast, ipckit::system_owned>;
        ipckit::broadcast_options opt;
        opt.max_receivers = 4;
        (void)M::create(name, opt);
        const std::uint64_t places = 1u << 30;
        scribble(name, ipckit::detail::header_size + ipckit::detail::broadcast_layout(alignof(tick)).places, &places,
                 sizeof places);
        check(name, segment_status::corrupt, "receiver table");
    }
    SECTION("a valid header that names something this ipckit does not know") {
        scoped_name name("insp");
        (void)ipckit::segment::create<ipckit::system_owned>(name, test_layout("unknown"), {}, [](void*) {});
        const auto s = ipckit::inspect(name);
        CHECK(s.status == segment_status::ok);
        CHECK(s.kind == segment_kind::unknown);
        CHECK(s.description == "ipckit_test::unknown");
        CHECK_FALSE(s.note.empty());
    }
}

TEST_CASE("inspect: a queue of a known type shows the right depth after k sends from another process", "[process]") {
    scoped_name name("insp");
    using Q = ipckit::queue<tick, ipckit::bounded<64>>;
    auto q = Q::create(name);
    constexpr std::uint64_t k = 23;
    signal_pipe sent, hold;
    child_report report;
    child sender = report.spawn([&](child_report& r) {
        auto tx = Q::open(name).sender();
        r.expect(send_all(tx, 0, k));
        sent.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(sender, sent) == as_expected);
    for (const auto& s : {ipckit::inspect(name), listed(name)}) {
        INFO(s.problem);
        CHECK(s.status == segment_status::ok);
        CHECK(s.kind == segment_kind::queue);
        CHECK(s.message_type == "ipckit_test::tick");
        CHECK(s.message_size == 16);
        CHECK(s.capacity_messages == 64);
        CHECK(s.depth_messages == k);
        CHECK(s.sent_messages == k);
        CHECK(s.received_messages == 0);
        CHECK(s.ownership == "process_owned");
        CHECK(s.owner_alive == true);
        REQUIRE(s.endpoints.size() == 1);
        CHECK(s.endpoints[0].role == "sender");
        CHECK(s.endpoints[0].state == endpoint_state::alive);
        CHECK_FALSE(s.stale);
    }
    CHECK(sender.kill() == killed_by_sigkill);
    const auto after = ipckit::inspect(name);
    REQUIRE(after.endpoints.size() == 1);
    CHECK(after.endpoints[0].state == endpoint_state::dead);
    CHECK(after.depth_messages == k);
}

TEST_CASE("inspect: a receiver killed with SIGKILL shows as dead, and the queue is not stale", "[process]") {
    scoped_name name("insp");
    using Q = ipckit::queue<tick, ipckit::bounded<16>, ipckit::multi, ipckit::multi>;
    auto q = Q::create(name);
    auto tx = q.sender();
    signal_pipe attached, hold;
    child receiver([&] {
        auto rx = Q::open(name).receiver();
        attached.post_value(ipckit::detail::sys::self().pid);
        return block_until_killed(hold);
    });
    const auto pid = attached.wait_value();
    REQUIRE(pid);
    REQUIRE(receiver.kill() == killed_by_sigkill);
    REQUIRE(tx.send(make_tick(0)));
    const auto s = ipckit::inspect(name);
    CHECK(count_endpoints(s, "receiver", endpoint_state::dead) == 1);
    CHECK(count_endpoints(s, "sender", endpoint_state::alive) == 1);
    const auto dead = std::find_if(s.endpoints.begin(), s.endpoints.end(), [](const auto& e) { return e.role == "receiver"; });
    REQUIRE(dead != s.endpoints.end());
    CHECK(dead->pid == *pid);
    CHECK(s.depth_messages == 1);
    CHECK_FALSE(s.stale);  // its owner, this process, lives
    CHECK_FALSE(ipckit::remove_stale(name));
    CHECK(ipckit::segment_exists(name));
}

TEST_CASE("inspect: a process_owned queue whose owner was killed is stale, and remove_stale removes it", "[process]") {
    scoped_name name("insp");
    using Q = ipckit::queue<tick, ipckit::bounded<16>>;
    signal_pipe created, hold;
    child_report report;
    child owner = report.spawn([&](child_report& r) {
        auto q = Q::create(name);
        auto tx = q.sender();
        r.expect(send_all(tx, 0, 3));
        created.post();
        r.block_until_killed(hold);
    });
    REQUIRE(report.reached(owner, created) == as_expected);
    CHECK_FALSE(ipckit::inspect(name).stale);
    CHECK_FALSE(ipckit::remove_stale(name));
    REQUIRE(owner.kill() == killed_by_sigkill);
    const auto s = ipckit::inspect(name);
    CHECK(s.owner_alive == false);
    CHECK(s.stale);
    CHECK(contains(s.stale_reason, "owner"));
    CHECK(s.depth_messages == 3);
    std::string why;
    CHECK(ipckit::remove_stale(name, &why));
    CHECK(contains(why, "owner"));
    CHECK_FALSE(ipckit::segment_exists(name));
}

TEST_CASE("inspect: a process_owned unbounded queue whose owner was killed is stale with its chunks", "[process]") {
    scoped_queue name;
    using U = ipckit::queue<tick, ipckit::unbounded<4096>>;
    std::vector<std::string> chunks;
    queue_whose_owner_was_killed<U>(name, 2 * U::slots_per_chunk);
    for (const auto& c : chunks_of(name)) chunks.push_back(name.str() + "." + c);
    REQUIRE(chunks.size() == 2);
    CHECK(ipckit::inspect(name).stale);
    for (const auto& c : chunks) {
        const auto chunk = ipckit::inspect(c);
        INFO(c << ": " << chunk.problem);
        CHECK(chunk.stale);
        CHECK(contains(chunk.stale_reason, "is stale: its owner"));
    }
    CHECK(ipckit::remove_stale(name));  // and its chunks with it, as create() would
    CHECK_FALSE(ipckit::segment_exists(name));
    CHECK(chunks_of(name).empty());
}

TEST_CASE("inspect: a segment being initialised is shown without waiting, and is stale once its creator dies",
          "[process]") {
    scoped_name name("insp");
    signal_pipe started, hold;
    child creator = creator_killed_half_way(name, started, hold);
    const auto busy = ipckit::inspect(name);  // its creator is at work: returns at once
    CHECK(busy.status == segment_status::initializing);
    CHECK(busy.creator_alive == true);
    CHECK_FALSE(busy.stale);
    CHECK_FALSE(ipckit::remove_stale(name));
    REQUIRE(creator.kill() == killed_by_sigkill);
    const auto left = ipckit::inspect(name);
    CHECK(left.status == segment_status::initializing);
    CHECK(left.creator_alive == false);
    CHECK(left.stale);
    CHECK(contains(left.stale_reason, "half-way"));
    CHECK(ipckit::remove_stale(name));
    CHECK_FALSE(ipckit::segment_exists(name));
}

TEST_CASE("inspect: an object whose creator is still sizing it is not stale, however long that takes", "[unit]") {
    namespace sys = ipckit::detail::sys;
    using namespace std::chrono_literals;
    scoped_name name("insp");
    const std::string os = ipckit::detail::os_name(name);
    {
        // A creator holds its lock from the moment the object exists, before it sizes it.
        const sys::file f = sys::shm_create(os, 0600);
        const sys::file prober = sys::shm_open_existing(os);
        CHECK_FALSE(sys::try_lock(prober, true));
        REQUIRE(sys::shm_remove(os));
    }
    // As a creator reserving gigabytes, which takes seconds: there, empty, and locked.
    const sys::file creator(::shm_open(os.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    REQUIRE(creator.get() >= 0);
    sys::lock_shared(creator);
    std::this_thread::sleep_for(ipckit::options{}.init_timeout + 100ms);  // past the grace a creator gets
    const auto busy = ipckit::inspect(name);
    CHECK(busy.status == segment_status::initializing);
    CHECK_FALSE(busy.stale);
    CHECK_FALSE(ipckit::remove_stale(name));
    ipckit::options quick;
    quick.init_timeout = 1ms;
    CHECK(setup_errc([&] {
              return ipckit::segment::create<ipckit::system_owned>(name, test_layout("other"), quick, [](void*) {});
          }) == ipckit::errc::already_exists);
    CHECK(ipckit::segment_exists(name));

    sys::unlock(creator);  // as its death would
    {
        // remove_stale judges again while it holds the object's lock: that judgement keeps it.
        const sys::file judge = sys::shm_open_existing(os);
        REQUIRE(sys::try_lock(judge, true));
        ipckit::detail::liveness live;
        CHECK(ipckit::detail::inspect_open(name, judge, live, ipckit::detail::own_lock::held).stale);
        CHECK_FALSE(sys::try_lock(creator, false));
        sys::unlock(judge);
    }
    const auto left = ipckit::inspect(name);
    CHECK(left.stale);
    CHECK(contains(left.stale_reason, "died before sizing it"));
    CHECK(ipckit::remove_stale(name));
    CHECK_FALSE(ipckit::segment_exists(name));
}

TEST_CASE("inspect: a zero-capacity queue counts the offers waiting for a receiver", "[process]") {
    scoped_name name("insp");
    using Z = ipckit::queue<tick, ipckit::zero_capacity, ipckit::multi>;
    auto q = Z::create(name);
    signal_pipe hold;
    child sender([&] {
        auto tx = Z::open(name).sender();
        (void)tx.send(make_tick(1));  // waits for a receiver that never comes
        return block_until_killed(hold);
    });
    const auto s = inspect_until(name, [](const segment_info& i) { return i.depth_messages == 1; });
    CHECK(s.depth_messages == 1);
    CHECK(count_endpoints(s, "sender", endpoint_state::alive) == 1);
}

TEST_CASE("inspect: a broadcast mailbox shows each receiver's lag", "[process]") {
    scoped_name name("insp");
    using M = ipckit::mailbox<tick, ipckit::bounded<16>, ipckit::broadcast, ipckit::system_owned>;
    ipckit::broadcast_options opt;
    opt.max_receivers = 4;
    auto box = M::create(name, opt);
    auto tx = box.sender();
    signal_pipe first_in, second_in, hold;
    child first([&] {
        auto rx = M::open(name).receiver();
        first_in.post();
        return block_until_killed(hold);
    });
    REQUIRE(first_in.wait());
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tx.send(make_tick(i)));
    child second([&] {
        auto rx = M::open(name).receiver();
        second_in.post();
        return block_until_killed(hold);
    });
    REQUIRE(second_in.wait());
    for (std::uint64_t i = 3; i < 5; ++i) REQUIRE(tx.send(make_tick(i)));
    auto s = ipckit::inspect(name);
    INFO(s.problem);
    CHECK(s.kind == segment_kind::broadcast);
    CHECK(s.max_receivers == 4);
    CHECK(s.depth_messages == 5);  // the slowest receiver's
    std::vector<std::uint64_t> lags;
    for (const auto& e : s.endpoints)
        if (e.role == "receiver" && e.lag) lags.push_back(*e.lag);
    std::sort(lags.begin(), lags.end());
    CHECK(lags == std::vector<std::uint64_t>{2, 5});
    REQUIRE(first.kill() == killed_by_sigkill);
    s = ipckit::inspect(name);
    CHECK(count_endpoints(s, "receiver", endpoint_state::dead) == 1);
    CHECK(count_endpoints(s, "receiver", endpoint_state::alive) == 1);
    CHECK_FALSE(s.stale);
    REQUIRE(M::remove(name));
}

TEST_CASE("inspect: a domain shows its members and its links with their depth", "[process]") {
    scoped_domain domain;
    signal_pipe ready, hold;
    child bob([&] {
        ipckit::node n(domain, "bob");
        ready.post();
        return block_until_killed(hold);
    });
    REQUIRE(ready.wait());
    signal_pipe sent;
    child_report alice_report;
    child alice = alice_report.spawn([&](child_report& r) {
        ipckit::node n(domain, "alice");
        for (int i = 0; i < 2; ++i)
            r.expect(err(n.sender().send("bob", std::string_view("hello"), patience)), ipckit::errc::ok);
        sent.post();
        r.block_until_killed(hold);
    });
    REQUIRE(alice_report.reached(alice, sent) == as_expected);
    auto s = ipckit::inspect(domain.str());
    INFO(s.problem);
    REQUIRE(s.kind == segment_kind::domain);
    REQUIRE(s.members.size() == 2);
    for (const auto& m : s.members) CHECK(m.alive);
    REQUIRE(s.links.size() == 1);
    CHECK(s.links[0].from == "alice");
    CHECK(s.links[0].to == "bob");
    CHECK(s.links[0].depth_messages == 2);
    CHECK(s.links[0].from_alive);
    CHECK_FALSE(s.links[0].stale);
    const auto link = ipckit::inspect(s.links[0].name);
    CHECK(link.kind == segment_kind::link);
    CHECK(link.queue == domain.str());
    REQUIRE(alice.kill() == killed_by_sigkill);
    REQUIRE(bob.kill() == killed_by_sigkill);
    s = ipckit::inspect(domain.str());
    for (const auto& m : s.members) CHECK_FALSE(m.alive);
    REQUIRE(s.links.size() == 1);
    CHECK(s.links[0].stale);
    CHECK_FALSE(s.stale);  // a domain is system_owned: it waits for its members to come back
}

TEST_CASE("inspect: a queue named as a link is a link only in a domain of that name, and never stale while a "
          "process holds it",
          "[unit]") {
    using L = ipckit::queue<ipckit::bytes<64>, ipckit::bounded<1024>, ipckit::single, ipckit::single, ipckit::adaptive,
                            ipckit::system_owned>;
    const auto in_use = [](const std::string& name) {
        INFO(name);
        const auto s = ipckit::inspect(name);
        CHECK_FALSE(s.stale);
        std::string why;
        CHECK_FALSE(ipckit::remove_stale(name, &why));
        CHECK(why == "it is not stale");
        CHECK(ipckit::segment_exists(name));
        return s.kind;
    };
    // Someone's queue whose name merely looks like a link of a domain "ipckit-insp-...", which
    // does not exist: a queue like any other.
    scoped_name prefix("insp");
    const std::string lone = prefix.str() + ".eu.us.1.2";
    {
        auto q = L::create(lone);
        auto tx = q.sender();
        auto rx = q.receiver();
        REQUIRE(tx.send(std::string_view("kept")));
        CHECK(in_use(lone) == segment_kind::queue);
    }
    CHECK(in_use(lone) == segment_kind::queue);  // let go, it keeps its message, as a system_owned queue does
    CHECK(contains(ipckit::inspect(lone).note, "named as a link of domain"));  // and says how to remove one
    CHECK(L::remove(lone));

    // In a domain, where members eu and us are not (nor were) live: a link, and while a process
    // holds its ends not stale; once they are let go, nothing leads to it any more.
    scoped_domain domain;
    ipckit::node n(domain, "watcher");
    const std::string link = domain.str() + ".eu.us.1.2";
    {
        auto q = L::create(link);
        auto tx = q.sender();
        auto rx = q.receiver();
        REQUIRE(tx.send(std::string_view("in flight")));
        CHECK(in_use(link) == segment_kind::link);
    }
    const auto s = ipckit::inspect(link);
    CHECK(s.kind == segment_kind::link);
    CHECK(s.stale);
    CHECK(ipckit::remove_stale(link));
    CHECK_FALSE(ipckit::segment_exists(link));
}

TEST_CASE("remove_stale removes exactly the stale segments", "[process]") {
    scoped_name dead_owner("insp"), half("insp"), live("insp"), kept_box("insp"), dead_receiver("insp");
    scoped_queue headless;
    scoped_domain domain;
    signal_pipe ready, hold;
    using Q = ipckit::queue<tick, ipckit::bounded<8>>;
    using S = ipckit::queue<tick, ipckit::bounded<8>, ipckit::single, ipckit::single, ipckit::adaptive,
                            ipckit::system_owned>;
    using M = ipckit::mailbox<tick, ipckit::bounded<8>, ipckit::any, ipckit::system_owned>;
    using U = ipckit::queue<tick, ipckit::unbounded<4096>, ipckit::single, ipckit::single, ipckit::adaptive,
                            ipckit::system_owned>;

    // Stale: a process_owned queue whose owner was killed...
    queue_whose_owner_was_killed<Q>(dead_owner, 2);
    // ... a segment whose creator was killed half-way...
    signal_pipe started;
    child creator = creator_killed_half_way(half, started, hold);
    REQUIRE(creator.kill() == killed_by_sigkill);
    // ... the link between two members that were both killed...
    child bob([&] {
        ipckit::node n(domain, "bob");
        ready.post();
        return block_until_killed(hold);
    });
    REQUIRE(ready.wait());
    signal_pipe sent;
    child_report alice_report;
    child alice = alice_report.spawn([&](child_report& r) {
        ipckit::node n(domain, "alice");
        r.expect(err(n.sender().send("bob", std::string_view("hi"), patience)), ipckit::errc::ok);
        sent.post();
        r.block_until_killed(hold);
    });
    REQUIRE(alice_report.reached(alice, sent) == as_expected);
    REQUIRE(alice.kill() == killed_by_sigkill);
    REQUIRE(bob.kill() == killed_by_sigkill);
    const auto links = domain.links();
    REQUIRE(links.size() == 1);
    // ... and the chunks of an unbounded queue whose head was removed by name alone.
    std::vector<std::string> chunks;
    {
        ipckit::unbounded_options opt;
        opt.cap_bytes = 16 * 4096;
        auto u = U::create(headless, opt);
        auto tx = u.sender();
        for (std::uint64_t i = 0; i < 2 * U::slots_per_chunk; ++i) REQUIRE(tx.send(make_tick(i)));
        for (const auto& c : chunks_of(headless)) chunks.push_back(headless.str() + "." + c);
        REQUIRE(unlink_only(headless));
    }
    REQUIRE(chunks.size() >= 2);

    // Not stale: a process_owned queue whose owner (this process) lives, a system_owned mailbox
    // that nobody is attached to but holds messages, a system_owned queue whose receiver died.
    auto q = Q::create(live);
    auto box = M::create(kept_box);
    {
        auto tx = box.sender();
        REQUIRE(tx.send(make_tick(1)));
        REQUIRE(tx.send(make_tick(2)));
    }
    auto s = S::create(dead_receiver);
    child receiver([&] {
        auto rx = S::open(dead_receiver).receiver();
        ready.post();
        return block_until_killed(hold);
    });
    REQUIRE(ready.wait());
    REQUIRE(receiver.kill() == killed_by_sigkill);

    std::vector<std::string> stale{dead_owner.str(), half.str(), links[0]};
    stale.insert(stale.end(), chunks.begin(), chunks.end());
    const std::vector<std::string> kept{live.str(), kept_box.str(), dead_receiver.str(), domain.str()};
    for (const auto& n : stale) {
        INFO(n);
        CHECK(ipckit::inspect(n).stale);
    }
    for (const auto& n : kept) {
        INFO(n);
        CHECK_FALSE(ipckit::inspect(n).stale);
    }
    for (const auto& n : kept) {
        INFO(n);
        std::string why;
        CHECK_FALSE(ipckit::remove_stale(n, &why));
        CHECK(why == "it is not stale");
        CHECK(ipckit::segment_exists(n));
    }
    for (const auto& n : stale) {
        INFO(n);
        CHECK(ipckit::remove_stale(n));
        CHECK_FALSE(ipckit::segment_exists(n));
    }
    // What was left alone still works: the mailbox kept its messages.
    auto rx = M::open(kept_box).receiver<ipckit::non_blocking>();
    CHECK(rx.receive());
    CHECK(rx.receive());
    CHECK(ipckit::inspect(kept_box).depth_messages == 0);
    M::remove(kept_box);
}

TEST_CASE("inspect: a segment this user may not open is listed as unreadable, and the listing goes on", "[process]") {
    scoped_name locked("insp"), open("insp");
    using S = ipckit::queue<tick, ipckit::bounded<8>, ipckit::single, ipckit::single, ipckit::adaptive,
                            ipckit::system_owned>;
    (void)S::create(locked);
    (void)S::create(open);
    REQUIRE(::chmod(file_of(locked).c_str(), 0) == 0);
    REQUIRE(::chmod(file_of(open).c_str(), 0644) == 0);
    child_report report;
    child other = report.spawn([&](child_report& r) {
        // Root opens anything: look as nobody (65534) instead.
        if (::geteuid() == 0)
            r.check(::setgroups(0, nullptr) == 0 && ::setgid(65534) == 0 && ::setuid(65534) == 0,
                    "to become nobody (65534)");
        bool saw_locked = false, saw_open = false;
        for (const auto& s : ipckit::list_segments()) {
            if (s.name == locked.str()) {
                r.check(s.status == segment_status::unreadable && contains(s.problem, "denied"),
                        "the locked segment unreadable, permission denied; its problem: " + s.problem);
                saw_locked = true;
            }
            if (s.name == open.str()) {
                r.check(s.status == segment_status::ok && s.kind == segment_kind::queue,
                        "the open segment read as a queue; its problem: " + s.problem);
                saw_open = true;
            }
        }
        r.check(saw_locked, "the locked segment listed");
        r.check(saw_open, "the open segment listed");
        r.check(ipckit::inspect(locked).status == segment_status::unreadable,
                "inspect to find the locked one unreadable");
    });
    CHECK(report.finish(other) == as_expected);
}

TEST_CASE("inspect: words scribbled at random over every kind's body are reported, never a crash", "[unit]") {
    // Each kind of segment, left with nobody attached, gets random words written over its body,
    // one at a time, and is looked at after each. Whatever a look makes of it, it must say so:
    // in the CI's build under ASan, a read outside the mapping fails the test.
    std::mt19937_64 random(20240601);
    const auto word = [&]() -> std::uint64_t {
        switch (random() % 4) {
        case 0: return random();
        case 1: return random() % 4096;
        case 2: return 0;
        default: return ~std::uint64_t{0} - random() % 16;
        }
    };
    const auto fuzz = [&](const std::string& name) {
        struct stat st {};
        REQUIRE(::stat(file_of(name).c_str(), &st) == 0);
        const std::size_t words = (static_cast<std::size_t>(st.st_size) - ipckit::detail::header_size) / 8;
        for (int round = 0; round < 300; ++round) {
            const std::uint64_t w = word();
            scribble(name, ipckit::detail::header_size + (random() % words) * 8, &w, sizeof w);
            const auto s = ipckit::inspect(name);
            INFO(name << " after " << round + 1 << " words: " << ipckit::to_string(s.status) << ": " << s.problem);
            CHECK((s.status == segment_status::ok || s.status == segment_status::corrupt));
        }
    };
    using ipckit::bounded;
    using ipckit::multi;
    using ipckit::single;
    using ipckit::system_owned;
    using ipckit::adaptive;
    scoped_name spsc("fuzz"), mpmc("fuzz"), bytes("fuzz"), zero("fuzz"), box("fuzz"), news("fuzz");
    scoped_queue chain;
    scoped_domain domain;
    {
        auto q = ipckit::queue<tick, bounded<8>, single, single, adaptive, system_owned>::create(spsc);
        auto tx = q.sender();
        REQUIRE(tx.send(make_tick(1)));
    }
    {
        auto q = ipckit::queue<tick, bounded<8>, multi, multi, adaptive, system_owned>::create(mpmc);
        auto tx = q.sender();
        REQUIRE(tx.send(make_tick(1)));
    }
    {
        auto q = ipckit::queue<ipckit::bytes<64>, bounded<512>, multi, single, adaptive, system_owned>::create(bytes);
        auto tx = q.sender();
        REQUIRE(tx.send(std::string_view("some bytes")));
    }
    (void)ipckit::queue<tick, ipckit::zero_capacity, multi, multi, adaptive, system_owned>::create(zero);
    {
        auto m = ipckit::mailbox<tick, bounded<8>, ipckit::round_robin, system_owned>::create(box);
        auto tx = m.sender();
        REQUIRE(tx.send(make_tick(1)));
    }
    {
        ipckit::broadcast_options opt;
        opt.max_receivers = 4;
        auto m = ipckit::mailbox<tick, bounded<8>, ipckit::broadcast, system_owned>::create(news, opt);
        auto tx = m.sender();
        REQUIRE(tx.send(make_tick(1)));
    }
    std::vector<std::string> chunks;
    {
        using U = ipckit::queue<tick, ipckit::unbounded<4096>, single, single, adaptive, system_owned>;
        ipckit::unbounded_options opt;
        opt.cap_bytes = 8 * 4096;
        auto u = U::create(chain, opt);
        auto tx = u.sender();
        for (std::uint64_t i = 0; i < U::slots_per_chunk + 1; ++i) REQUIRE(tx.send(make_tick(i)));
        for (const auto& c : chunks_of(chain)) chunks.push_back(chain.str() + "." + c);
    }
    {
        ipckit::node_options opt;
        opt.members = 4;
        ipckit::node a(domain, "a", opt);
    }
    for (const std::string& name : {spsc.str(), mpmc.str(), bytes.str(), zero.str(), box.str(), news.str(),
                                    chain.str(), chunks.at(0), domain.str()})
        fuzz(name);
    for (const auto& c : chunks) (void)ipckit::remove_segment(c);  // whatever the scribbled chain says
}

TEST_CASE("inspect: remove_any removes an unbounded queue whose chain is damaged, and its chunks", "[unit]") {
    using U = ipckit::queue<tick, ipckit::unbounded<4096>, ipckit::single, ipckit::single, ipckit::adaptive,
                            ipckit::system_owned>;
    using ipckit::detail::chain_control;
    // The chain's magic (nothing of the chain can be trusted), its chunk count (the walk cannot
    // trust its range), and its base (the chain still reads, but names chunks not its own).
    for (const std::size_t at :
         {offsetof(chain_control, magic), offsetof(chain_control, chunk_next), offsetof(chain_control, base)}) {
        INFO("scribbled at " << at);
        scoped_queue name;
        ipckit::unbounded_options opt;
        opt.cap_bytes = 16 * 4096;
        {
            auto q = U::create(name, opt);
            auto tx = q.sender();
            for (std::uint64_t i = 0; i < 2 * U::slots_per_chunk + 1; ++i) REQUIRE(tx.send(make_tick(i)));
        }
        REQUIRE(chunks_of(name).size() == 3);
        scribble(name, ipckit::detail::header_size + at, "XXXXXXXX", 8);
        if (at != offsetof(chain_control, base)) REQUIRE(ipckit::inspect(name).status == segment_status::corrupt);
        CHECK(ipckit::remove_any(name));
        CHECK_FALSE(ipckit::segment_exists(name));
        CHECK(chunks_of(name).empty());
    }
}

TEST_CASE("inspect: a shm:// listener's door says whose it is, its cap, the places taken and those dead clients "
          "hold",
          "[unit]") {
    scoped_name listener("insp");
    const std::string door = ipckit::detail::shm_door::name_for(listener);
    struct removed {
        std::string name;
        ~removed() {
            try {
                ipckit::remove_segment(name);
            } catch (...) {
            }
        }
    } guard{door};
    auto d = ipckit::detail::shm_door::create(listener, 3);
    REQUIRE(d.enter(ipckit::detail::sys::self().pack()));
    const auto s = ipckit::inspect(door);
    INFO(s.problem << s.note);
    CHECK(s.status == segment_status::ok);
    CHECK(s.capacity == "3 connections");
    CHECK(contains(s.note, "shm:// listener '" + listener.str() + "'"));
    CHECK(contains(s.note, "1 of 3 places taken, 0 clients refused"));
    CHECK(s.owner_alive == true);
    CHECK_FALSE(s.stale);

    // A client that died on its way in (a reaped child) leaves its place held: the note tells it
    // apart from the live client's.
    const pid_t gone = ipckit_test::spawn([] { return 0; });
    REQUIRE(ipckit_test::wait_child(gone) == 0);
    REQUIRE(d.enter(ipckit::detail::sys::process_id{static_cast<std::uint32_t>(gone), 0}.pack()));
    const auto after = ipckit::inspect(door);
    INFO(after.note);
    CHECK(contains(after.note, "2 of 3 places taken (1 by a client that died connecting"));
}
