// consumer: receives messages from a producer and checks every one of them, until the producer
// closes its end (or dies); then removes the queue.
//
//   terminal 1:  consumer --count 1000000 --size 64
//   terminal 2:  producer --count 1000000 --size 64
//
// It ends with the line
//   received N messages, L lost, O out of order, C corrupt
// and a line with the throughput, and exits with 0 only if all is well and the producer closed.
//
// A queue left behind by an earlier run that went wrong holds that run's messages and may say
// `closed` at once: remove it first (rm /dev/shm/ipckit.NAME), as the demo does.

#include "common.hpp"

namespace {

template <class Queue>
int consume(const example::settings& s) {
    auto queue = Queue::open_or_create(s.name);
    auto rx = queue.receiver();  // throws receiver_busy while another consumer is attached

    std::uint64_t received = 0, lost = 0, out_of_order = 0, corrupt = 0;
    std::uint64_t next = 0;  // the seq expected next: one past the highest seen

    // The clock costs ~25 ns, as much as a small message: read it at the first message, every
    // 1024 messages (also for the progress line), and at the end.
    example::clock::time_point first{}, last{};
    std::uint64_t timed = 0;  // messages received by `last`
    auto next_progress = example::clock::time_point::max();

    typename Queue::message_type m{};
    ipckit::errc end{};
    for (;;) {
        // receive(m) fills m in place; receive() would return it by value, a second copy of
        // up to 64 KiB for the large sizes.
        if (const ipckit::status got = rx.receive(m); !got) {
            end = got.error();
            break;
        }
        ++received;
        if (m.seq >= next) {
            lost += m.seq - next;
            next = m.seq + 1;
        } else {
            ++out_of_order;  // its gap was counted as lost when a later message came first
        }
        if (!example::intact(m, s.size)) ++corrupt;

        if (received == 1) {
            first = last = example::clock::now();
            next_progress = first + std::chrono::seconds(1);
        } else if (received % 1024 == 0) {
            last = example::clock::now();
            timed = received;
            if (last >= next_progress) {
                std::cerr << "... " << std::fixed << std::setprecision(1) << static_cast<double>(received) / 1e6
                          << " M messages\n";
                next_progress = last + std::chrono::seconds(1);
            }
        }
    }
    // `closed` comes right after the last message, so now is its time. peer_dead is noticed up
    // to options::liveness_interval (100 ms) later: keep the last reading before.
    if (end == ipckit::errc::closed && received > 0) {
        last = example::clock::now();
        timed = received;
    }
    if (s.count_given && next < s.count) lost += s.count - next;  // never saw the last ones

    Queue::remove(s.name);  // we have it open still; the next run starts afresh

    std::cout << "received " << received << " messages, " << lost << " lost, " << out_of_order
              << " out of order, " << corrupt << " corrupt\n";
    if (timed > 1)
        std::cout << "throughput: " << example::throughput(timed - 1, s.size, last - first) << " over "
                  << example::seconds(last - first) << ", from the first message to the last\n";
    else
        std::cout << "throughput: too few messages to time\n";

    if (end == ipckit::errc::peer_dead)
        std::cerr << "consumer: the producer's process ended without closing its end (peer_dead)\n";
    else if (end != ipckit::errc::closed)
        std::cerr << "consumer: receive failed: " << example::describe(end) << '\n';
    return end == ipckit::errc::closed && lost == 0 && out_of_order == 0 && corrupt == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const example::settings s = example::parse_command_line(
        argc, argv,
        {"consumer",
         "Receives messages of BYTES payload bytes from the queue NAME (creating it if needed) and\n"
         "checks them, until the producer closes its end; then removes the queue.",
         "messages to expect, so that missing ones at the end count as lost\n"
         "                 (default: as many as the producer sends)"});
    try {
        return example::with_queue_type(s, [&]<class Queue>(std::type_identity<Queue>) { return consume<Queue>(s); });
    } catch (const std::exception& e) {  // set-up: ipckit::error says what was wrong and what to do
        std::cerr << "consumer: " << e.what() << '\n';
        return 1;
    }
}
