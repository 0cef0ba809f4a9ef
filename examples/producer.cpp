// producer: sends messages 0 .. N-1 on a queue, each stamped with its --id, then closes its end.
//
//   terminal 1:  consumer --count 1000000 --size 64
//   terminal 2:  producer --count 1000000 --size 64
//
// Either may start first. The queue is system_owned: it outlives the process that created it,
// and the messages in it (as many as it holds) wait for a consumer that comes later. With
// several producers, start one per id (producer --producers 4 --id 0 ... --id 3), together.
// With --mailbox the same goes for a system_owned mailbox of that delivery; with broadcast, each
// consumer gets the messages sent after it attached, so start the consumers first.

#include "common.hpp"

#include <thread>

namespace {

template <class Queue>
int produce(const example::settings& s) {
    auto queue = Queue::open_or_create(s.name);
    example::envelope<Queue> m;
    std::uint64_t refused = 0;  // sends an unbounded queue refused at its cap
    example::clock::duration elapsed{};
    {
        auto tx = queue.sender();  // throws sender_busy while all the producers the queue has room for are attached
        const auto start = example::clock::now();
        for (std::uint64_t seq = 0; seq < s.count; ++seq) {
            m.make(seq, s.id, s.size);
            // Waits while the queue is full (zero capacity: until a consumer takes it). Fails only
            // if the consumers went away and left it full: closed (they closed their ends) or
            // peer_dead (their processes died). An unbounded queue never waits, but past its cap
            // (a share of /dev/shm) says no_space: give the consumer a moment to catch up.
            ipckit::status sent = m.send(tx);
            for (; !sent && sent.error() == ipckit::errc::no_space; ++refused) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                sent = m.send(tx);
            }
            if (!sent) {
                std::cerr << "producer: sending message " << seq << ": " << example::describe(sent.error()) << '\n';
                return 1;
            }
        }
        elapsed = example::clock::now() - start;
    }  // tx closes here: the consumers get `closed` once every producer has, and they have taken every message.
    // A mailbox ends only when closed as a whole, whoever is attached: the only producer knows it
    // has sent everything; several cannot tell who is last (the demo closes it after them all).
    if constexpr (requires { typename Queue::delivery_type; })
        if (s.producers == 1) queue.close();

    if (s.producers > 1) std::cout << "producer " << s.id << ": ";
    std::cout << "sent " << s.count << " messages in " << example::seconds(elapsed) << " ("
              << example::throughput(s.count, s.size, elapsed) << ")";
    if (refused > 0) std::cout << ", waited " << refused << " times for the consumer at the queue's cap";
    std::cout << '\n';
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const example::settings s = example::parse_command_line(
        argc, argv,
        {"producer",
         "Sends N messages of BYTES bytes on the queue NAME (creating it if needed), stamped with\n"
         "its id K and numbered 0 to N-1, then closes its end.",
         "messages to send (default 10000000)", true});
    try {
        return example::with_queue_type(s, [&]<class Queue>(std::type_identity<Queue>) { return produce<Queue>(s); });
    } catch (const std::exception& e) {  // set-up: ipckit::error says what was wrong and what to do
        std::cerr << "producer: " << e.what() << '\n';
        return 1;
    }
}
