// consumer: receives messages from the producers and checks every one of them, until every
// producer has closed its end (or died), or the mailbox (--mailbox) is closed; then, if it is
// the only consumer, removes the queue or mailbox.
//
//   terminal 1:  consumer --count 1000000 --size 64
//   terminal 2:  producer --count 1000000 --size 64
//
// It ends with the line
//   received N messages, L lost, O out of order, C corrupt
// a line with the throughput and one that says what carried the messages (the size class, the
// capacity, the sides, the wait policy), and exits with 0 only if all is well and the producers
// closed.
//
// Each message carries its producer's id and seq. Per producer, the seqs must only go up: a seq
// lower than one seen before is out of order. The only consumer also counts the seqs it skipped
// (and, given --count, those it never reached) as lost, and so does each consumer of a broadcast
// mailbox, which must get every message. One of several other consumers cannot: the others got
// those messages. It reports 0 lost, and the demo counts the lost ones over all.
//
// A queue left behind by an earlier run that went wrong holds that run's messages and may say
// `closed` at once: remove it first (rm /dev/shm/ipckit.NAME), as the demo does.

#include "common.hpp"

namespace {

/// What the consumer makes of the messages it receives.
class tally {
public:
    // A broadcast consumer gets every message, as the only one does: it can count what it lost.
    explicit tally(const example::settings& s)
        : next_(s.producers, 0), alone_(s.consumers == 1 || s.mailbox == example::mailbox_kind::broadcast) {}

    void add(const example::stamp& id, bool intact) {
        ++r_.received;
        // A producer id beyond --producers: a producer run with other flags, or a corrupt stamp.
        const bool known = id.producer < next_.size();
        if (!intact || !known) ++r_.corrupt;
        if (!known) return;
        std::uint64_t& next = next_[id.producer];  // one past the highest seq seen
        if (id.seq >= next) {
            if (alone_) r_.lost += id.seq - next;
            next = id.seq + 1;
        } else {
            ++r_.out_of_order;  // its gap was counted as lost when a later message came first
        }
    }

    /// The report, once the producers have closed; those who were to send `count` each (if
    /// known) and stopped short lost the rest.
    example::report finish(std::optional<std::uint64_t> count) {
        if (alone_ && count)
            for (const std::uint64_t next : next_) r_.lost += next < *count ? *count - next : 0;
        return r_;
    }

    [[nodiscard]] std::uint64_t received() const noexcept { return r_.received; }

private:
    std::vector<std::uint64_t> next_;  // per producer
    bool alone_;
    example::report r_;
};

template <class Queue>
int consume(const example::settings& s) {
    auto queue = Queue::open_or_create(s.name);
    auto rx = queue.receiver();  // throws receiver_busy while all the consumers the queue has room for are attached
    // A broadcast receiver gets the messages sent after it attached: say it has, to whoever waits
    // for that before starting the producers (the demo reads this line first).
    if (s.mailbox == example::mailbox_kind::broadcast)
        std::cout << "attached to broadcast mailbox '" << s.name << "', it gets every message sent from now on"
                  << std::endl;

    tally t(s);
    // The clock costs ~25 ns, as much as a small message: read it at the first message, every
    // 1024 messages (also for the progress line), and at the end.
    example::clock::time_point first{}, last{};
    std::uint64_t timed = 0;  // messages received by `last`
    auto next_progress = example::clock::time_point::max();

    example::envelope<Queue> m;
    ipckit::errc end{};
    for (;;) {
        if (const ipckit::status got = m.receive(rx); !got) {
            end = got.error();
            break;
        }
        t.add(m.id(), m.intact(s.size));

        const std::uint64_t received = t.received();
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
    if (end == ipckit::errc::closed && t.received() > 0) {
        last = example::clock::now();
        timed = t.received();
    }
    example::report r = t.finish(s.count_given ? std::optional(s.count) : std::nullopt);
    r.timed = timed > 1 ? timed - 1 : 0;
    r.seconds = std::chrono::duration<double>(last - first).count();

    // The only consumer has the last word: we have it open still; the next run starts afresh.
    // With several, the last one to finish cannot tell it is the last: the demo removes it.
    if (s.consumers == 1) Queue::remove(s.name);

    r.print(std::cout, s);

    if (end == ipckit::errc::peer_dead)
        std::cerr << "consumer: a producer's process ended without closing its end (peer_dead)\n";
    else if (end != ipckit::errc::closed)
        std::cerr << "consumer: receive failed: " << example::describe(end) << '\n';
    return end == ipckit::errc::closed && r.lost == 0 && r.out_of_order == 0 && r.corrupt == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const example::settings s = example::parse_command_line(
        argc, argv,
        {"consumer",
         "Receives messages of BYTES bytes from the queue NAME (creating it if needed) and checks\n"
         "them, until every producer has closed its end; then, if it is the only consumer, removes\n"
         "the queue. With several producers the consumer ends only when the queue is closed as a\n"
         "whole (Queue::close() in any process) or removed with Queue::remove, as every queue of\n"
         "many senders does; the demo closes it once every producer has ended. A mailbox (--mailbox)\n"
         "ends likewise; a lone producer closes it after its last message.",
         "messages each producer sends, so that missing ones at the end count as\n"
         "                    lost (default: as many as the producers send)"});
    try {
        return example::with_queue_type(s, [&]<class Queue>(std::type_identity<Queue>) { return consume<Queue>(s); });
    } catch (const std::exception& e) {  // set-up: ipckit::error says what was wrong and what to do
        std::cerr << "consumer: " << e.what() << '\n';
        return 1;
    }
}
