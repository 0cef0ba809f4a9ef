#pragma once
// How an unbounded queue's chunks are named and described: chunk k of queue `name` is the
// segment "<name>.<base + k>", whose header's description says which chunk of which queue it is
// (so that an inspector can tell a chunk from any other segment, and which queue it belongs to).
// What every process with a handle on one queue needs to name, create and check its chunks.

#include <ipckit/segment.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ipckit::detail {

/// Characters a chunk's name adds to its queue's: '.' and up to 20 digits.
inline constexpr std::size_t chunk_suffix_length = 21;

/// What every process with a handle on one queue needs to name, create and check its chunks.
struct chain_info {
    std::string name;     ///< the queue's name
    std::string element;  ///< the message type, as chunk descriptions spell it
    std::uint64_t base;   ///< chunk k is "<name>.<base + k>"
    std::size_t chunk_bytes;
    std::size_t slots;
    options chunk_options;  ///< the options chunks are created and opened with (mode from the head)

    [[nodiscard]] std::string chunk_name(std::uint64_t k) const { return name + "." + std::to_string(base + k); }
    [[nodiscard]] segment_layout chunk_layout(std::uint64_t k) const {
        return {"ipckit::unbounded chunk " + std::to_string(base + k) + " of queue '" + name + "' of " + element +
                    ", " + std::to_string(slots) + " per chunk",
                chunk_bytes};
    }
};

/// What a chunk's description (chain_info::chunk_layout) says: its number, and its queue's name
/// when the description is whole (a header keeps 200 characters of it, and a queue's name may
/// take 179). nullopt if `d` is not a chunk's description.
struct chunk_fields {
    std::uint64_t seq = 0;
    std::optional<std::string> queue;
};
inline std::optional<chunk_fields> parse_chunk_description(std::string_view d) {
    constexpr std::string_view start = "ipckit::unbounded chunk ";
    constexpr std::string_view of_queue = " of queue '";
    if (d.substr(0, start.size()) != start) return std::nullopt;
    d.remove_prefix(start.size());
    const auto space = d.find(of_queue);
    const auto seq = space == std::string_view::npos ? std::nullopt : parse_decimal(d.substr(0, space));
    if (!seq) return std::nullopt;
    chunk_fields f{*seq, std::nullopt};
    d.remove_prefix(space + of_queue.size());
    if (const auto quote = d.find("' of "); quote != std::string_view::npos) f.queue = std::string(d.substr(0, quote));
    return f;
}

}  // namespace ipckit::detail
