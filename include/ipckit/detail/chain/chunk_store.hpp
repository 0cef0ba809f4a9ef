#pragma once
// The system calls behind a chain of chunks (its cursors make none): each cursor's chunk_store
// maps, creates and removes chunk segments; retire_chain ends a chain and removes its chunks;
// with_raw_chain finds a chain in a head segment of any message type.

#include <ipckit/deadline.hpp>
#include <ipckit/detail/chain/chunk_names.hpp>
#include <ipckit/detail/chain/chain_layout.hpp>
#include <ipckit/detail/shm/header.hpp>
#include <ipckit/detail/shm/peek.hpp>
#include <ipckit/detail/sys/exception_errc.hpp>
#include <ipckit/detail/sys/futex.hpp>
#include <ipckit/detail/sys/process.hpp>
#include <ipckit/detail/sys/shm.hpp>
#include <ipckit/error.hpp>
#include <ipckit/segment.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <utility>

namespace ipckit::detail {

/// Removes the chunk segment called `chunk`, if it is there. Never throws.
inline void remove_chunk(const std::string& chunk) noexcept {
    try {
        sys::shm_remove(os_name(chunk));
    } catch (...) {  // not ours to remove (EACCES...): nothing better to do on the way out
    }
}

/// The chunk_source of a cursor: the one chunk it has mapped, and the system calls that
/// create, open and remove chunks, as errcs. Each cursor has its own.
template <class Chunk>
class chunk_store {
public:
    explicit chunk_store(std::shared_ptr<const chain_info> info) noexcept : info_(std::move(info)) {}

    Chunk* mapped(std::uint64_t k) noexcept {
        return seg_ != nullptr && k_ == k ? static_cast<Chunk*>(seg_->body()) : nullptr;
    }

    errc open(std::uint64_t k) noexcept {
        drop();
        return guarded([&] {
            auto s = std::make_unique<segment>(
                segment::open(info_->chunk_name(k), info_->chunk_layout(k), info_->chunk_options));
            const auto& c = static_cast<const Chunk*>(s->body())->control;
            if (c.magic != chunk_control::magic_value || c.base != info_->base || c.index != k) return errc::corrupt;
            seg_ = std::move(s);
            k_ = k;
            return errc::ok;
        });
    }

    errc create(std::uint64_t k) noexcept {
        drop();
        for (int attempt = 0;; ++attempt) {
            const errc e = guarded([&] {
                const std::uint64_t base = info_->base;
                seg_ = std::make_unique<segment>(segment::create<system_owned>(
                    info_->chunk_name(k), info_->chunk_layout(k), info_->chunk_options, [&](void* body) {
                        // The rest is zero, as posix_fallocate left it: every slot empty.
                        ::new (body) chunk_control{chunk_control::magic_value, base, k};
                    }));
                k_ = k;
                return errc::ok;
            });
            // Whoever creates chunk k holds the chain's grower word, and chunk names are unique
            // to this queue: what is there already was left by a grower that died after
            // creating it (already_exists), or between writing its header's checksum and
            // marking it ready, which create cannot tell from a damaged segment (corrupt).
            // Nobody has it: chunk k is not published yet. Replace it, once.
            if ((e != errc::already_exists && e != errc::corrupt) || attempt > 0) return e;
            remove(k);
        }
    }

    void drop() noexcept { seg_.reset(); }

    void remove(std::uint64_t k) noexcept {
        try {
            remove_chunk(info_->chunk_name(k));
        } catch (...) {  // bad_alloc building the name
        }
    }

    bool alive(std::uint64_t packed) noexcept { return sys::is_alive(sys::process_id::unpack(packed)); }

private:
    template <class F>
    static errc guarded(F&& f) noexcept {
        try {
            return f();
        } catch (...) {
            // Another layout under a chunk's name is not a chunk of ours.
            const errc e = current_exception_errc();
            return e == errc::incompatible_layout ? errc::corrupt : e;
        }
    }

    std::shared_ptr<const chain_info> info_;
    std::unique_ptr<segment> seg_;
    std::uint64_t k_ = 0;
};

/// Retires the chain of queue `name` and removes its chunks: after it, no process creates a
/// chunk of it. Waits (up to `patience`) for a live process that is creating a chunk to finish,
/// so that its chunk is removed too. Never throws.
inline void retire_chain(chain_control& c, const std::string& name, std::chrono::milliseconds patience) noexcept {
    const auto deadline = deadline_after(patience);
    for (;;) {
        std::uint64_t g = c.grower.load(std::memory_order_acquire);
        if (g == chain_control::retired) break;
        if (g == chain_control::idle || !sys::is_alive(sys::process_id::unpack(g)) || sys::clock::now() >= deadline) {
            // SYNC POINT WRITE/READ: acq_rel, paired with the last grower's release of the word:
            // its chunk_next is visible below.
            if (c.grower.compare_exchange_strong(g, chain_control::retired, std::memory_order_acq_rel)) break;
            continue;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a live grower: a moment
    }
    const std::uint64_t base = c.base;
    const std::uint64_t first = c.first_live.load(std::memory_order_acquire);
    const std::uint64_t next = c.chunk_next.load(std::memory_order_acquire);
    try {
        // Shared memory is not trusted: only a plausible range is walked. Chunk `next` is
        // included: a grower that died may have left it unpublished.
        if (next >= first && next - first <= std::min<std::uint64_t>(c.max_chunks() + 1, std::uint64_t{1} << 24))
            for (std::uint64_t k = first; k <= next; ++k) remove_chunk(name + "." + std::to_string(base + k));
        // Damaged indices would leave chunks outside that range in /dev/shm for good: the ones
        // still listed go too, each once its own control block says it is a chunk of this chain
        // (a segment that only looks like "<name>.<number>" is someone else's).
        const std::string prefix = name + ".";
        for (const auto& n : segment_names(prefix)) {
            const auto seq = parse_decimal(std::string_view(n).substr(prefix.size()));
            if (!seq || *seq < base) continue;
            try {
                bool ours = false;
                (void)peek_segment(n, sizeof(chunk_control), [&](std::string_view, void* body) {
                    const auto& k = *static_cast<const chunk_control*>(body);
                    ours = k.magic == chunk_control::magic_value && k.base == base && k.index == *seq - base;
                });
                if (ours) remove_chunk(n);
            } catch (...) {  // not readable (permission_denied): left, and the others looked at
            }
        }
    } catch (...) {  // bad_alloc building a name, /dev/shm not listable: what is left stays
    }
}

/// Runs fn(control, header) on the segment open as `f` if it is a ready ipckit segment whose
/// header passes the segment layer's checks (with_ready_body) and whose body starts with an
/// unbounded queue's chain (of any message type), mapping `body_bytes` of the body (at least the
/// chain's control block); false if it is not one, or cannot be trusted to be one.
template <class Fn>
bool with_raw_chain(const sys::file& f, const std::string& what, Fn&& fn, std::size_t body_bytes = sizeof(chain_control)) {
    bool chain = false;
    body_bytes = std::max(body_bytes, sizeof(chain_control));
    (void)with_ready_body(f, body_bytes, what, [&](void* body, const segment_header& h) {
        auto& c = *static_cast<chain_control*>(body);
        if (c.magic != chain_control::magic_value || c.version != chain_control::current_version) return;
        chain = true;
        fn(c, h);
    });
    return chain;
}

}  // namespace ipckit::detail
