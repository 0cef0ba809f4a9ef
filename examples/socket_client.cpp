// socket_client: connects to a socket_server, sends --count messages of --size bytes, checks
// every echo that comes back (whole, in order, uncorrupted), and reports as consumer does:
//
//   socket_client --connect tcp://127.0.0.1:40123 --count 100000 --size 64
//   received 100000 messages, 0 lost, 0 out of order, 0 corrupt
//   throughput: 412345 msg/s, 26.4 MB/s over 0.243 s, from the first message to the last
//
// It keeps up to --window messages in flight (so that neither end waits for the other's
// every reply), exits with 0 if every echo came back right, and with 1 and the reason if the
// connection failed (each failure is an ipckit::error or errc naming what happened).

#include "common.hpp"
#include "socket_common.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <span>
#include <string>
#include <vector>

namespace {

const char* const usage =
    "usage: socket_client --connect ADDRESS [--count N] [--size S] [--window W]\n"
    "  --connect ADDRESS  what socket_server printed: tcp://HOST:PORT, unix:///path, unix://@name or shm://name\n"
    "  --count N          messages to send (default 100000)\n"
    "  --size S           bytes each, 16 to 65536 (default 64): a stamp and a checked payload\n"
    "  --window W         messages in flight at most (default 64)\n";

using namespace std::chrono_literals;
constexpr auto patience = 30s;  // a verb that waits longer than this means the server is gone

}  // namespace

int main(int argc, char** argv) try {
    example::check_usage(argc, argv, "--connect", usage);
    const std::string address = *example::flag(argc, argv, "--connect");
    const std::size_t count = example::number_flag(argc, argv, "--count", 100'000, 1, 1'000'000'000);
    const std::size_t size = example::number_flag(argc, argv, "--size", 64, sizeof(example::stamp), example::socket_max);
    const std::size_t window = example::number_flag(argc, argv, "--window", 64, 1, 1'000'000);

    auto c = ipckit::connect<example::socket_message>(address, 10s);  // throws, naming the address
    std::vector<std::byte> out(size), in(example::socket_max);
    example::report r;
    std::uint64_t sent = 0, expected = 0;
    const auto start = example::clock::now();
    while (r.received < count) {
        for (; sent < count && sent - r.received < window; ++sent) {
            example::stamp id{sent, 0, 0};
            example::seal(id, out.data() + sizeof id, size - sizeof id);
            std::memcpy(out.data(), &id, sizeof id);
            if (const auto s = c.send(std::span<const std::byte>(out), patience); !s) {
                std::fprintf(stderr, "sending to %s failed: %s %s\n", address.c_str(), example::describe(s.error()).c_str(),
                             c.fault().c_str());
                return 1;
            }
        }
        const auto n = c.receive(std::span(in), patience);
        if (!n) {
            std::fprintf(stderr, "receiving from %s failed after %llu echoes: %s %s\n", address.c_str(),
                         static_cast<unsigned long long>(r.received), example::describe(n.error()).c_str(),
                         c.fault().c_str());
            return 1;
        }
        ++r.received;
        example::stamp id{};
        if (*n != size) {
            ++r.corrupt;
            continue;
        }
        std::memcpy(&id, in.data(), sizeof id);
        if (!example::sealed(id, in.data() + sizeof id, size - sizeof id)) {
            ++r.corrupt;
        } else if (id.seq < expected) {
            ++r.out_of_order;
        } else {
            r.lost += id.seq - expected;
            expected = id.seq + 1;
        }
    }
    r.timed = r.received;
    r.seconds = std::chrono::duration<double>(example::clock::now() - start).count();
    c.close();
    r.print(std::cout, size);
    return r.lost == 0 && r.out_of_order == 0 && r.corrupt == 0 ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "socket_client: %s\n", e.what());
    return 1;
}
