// producer: sends messages 0 .. N-1 on a queue, then closes its end.
//
//   terminal 1:  consumer --count 1000000 --size 64
//   terminal 2:  producer --count 1000000 --size 64
//
// Either may start first. The queue is system_owned: it outlives the process that created it,
// and the messages in it (as many as it holds) wait for a consumer that comes later.

#include "common.hpp"

namespace {

template <class Queue>
int produce(const example::settings& s) {
    auto queue = Queue::open_or_create(s.name);
    typename Queue::message_type m{};
    example::clock::duration elapsed{};
    {
        auto tx = queue.sender();  // throws sender_busy while another producer is attached
        const auto start = example::clock::now();
        for (std::uint64_t seq = 0; seq < s.count; ++seq) {
            example::fill(m, seq, s.size);
            // Waits while the queue is full. Fails only if the consumer went away and left it full:
            // closed (it closed its end) or peer_dead (its process died).
            if (const ipckit::status sent = tx.send(m); !sent) {
                std::cerr << "producer: sending message " << seq << ": " << example::describe(sent.error()) << '\n';
                return 1;
            }
        }
        elapsed = example::clock::now() - start;
    }  // tx closes here: the consumer gets `closed` once it has taken every message.

    std::cout << "sent " << s.count << " messages in " << example::seconds(elapsed) << " ("
              << example::throughput(s.count, s.size, elapsed) << ")\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const example::settings s = example::parse_command_line(
        argc, argv,
        {"producer", "Sends N messages of BYTES payload bytes on the queue NAME (creating it if needed),\nthen closes its end.",
         "messages to send (default 10000000)"});
    try {
        return example::with_queue_type(s, [&]<class Queue>(std::type_identity<Queue>) { return produce<Queue>(s); });
    } catch (const std::exception& e) {  // set-up: ipckit::error says what was wrong and what to do
        std::cerr << "producer: " << e.what() << '\n';
        return 1;
    }
}
