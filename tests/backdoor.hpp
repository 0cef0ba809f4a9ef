#pragma once
// A second mapping of a queue's or mailbox's segment (ipckit::segment::open), through which
// white-box tests look at and scribble on its shared part, as a hostile or crashed peer would.

#include <ipckit/segment.hpp>

#include <cstdint>
#include <string>

namespace ipckit_test {

/// A second mapping of queue or mailbox Q's segment, to look at and scribble on its shared part.
template <class Q>
class backdoor {
public:
    explicit backdoor(const std::string& name) : segment_(ipckit::segment::open(name, Q::layout(), {})) {}
    typename Q::shared& shared() { return *static_cast<typename Q::shared*>(segment_.body()); }
    auto& ring() { return shared().ring; }
    /// A byte ring's header word at `pos`, and writing one there.
    std::uint64_t header_at(std::uint64_t pos) { return ring().header(pos).load(); }
    void set_header(std::uint64_t pos, std::uint64_t word) { ring().header(pos).store(word); }

private:
    ipckit::segment segment_;
};

}  // namespace ipckit_test
