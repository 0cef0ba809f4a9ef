// demo: runs consumers and producers as processes on one queue, waits for all of them, and ends
// with the consumers' report.
//
//   demo [--name NAME] [--count N] [--size BYTES] [--wait spin|futex|adaptive]
//        [--producers P] [--consumers C] [--capacity zero|N|unbounded] [--message fixed|bytes]
//        [--mailbox exclusive|any|round_robin|broadcast]
//
// The consumer and producer programs are found next to this one, and get the same flags; each
// producer gets its --id too. With one consumer its report is the demo's; with several, each
// one's lines come first and then their sum, checked against the P x N messages sent (a
// broadcast mailbox: each consumer's against all P x N, since each must get every message).

#include "common.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace {

/// Starts the program `name` that lies next to this one, with `flags`; with stdout_to >= 0,
/// its standard output goes there. Returns its pid.
pid_t start(const char* name, const std::vector<std::string>& flags, int stdout_to = -1) {
    const std::string path = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / name).string();
    std::vector<char*> argv{const_cast<char*>(path.c_str())};
    for (const std::string& f : flags) argv.push_back(const_cast<char*>(f.c_str()));
    argv.push_back(nullptr);

    std::cout.flush();  // our lines first, then the child's
    const pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
        if (stdout_to >= 0) ::dup2(stdout_to, STDOUT_FILENO);
        ::execv(path.c_str(), argv.data());
        std::cerr << "demo: cannot run " << path << ": " << std::strerror(errno) << '\n';
        ::_exit(127);
    }
    return pid;
}

/// Whether a child's wait status says it exited with 0; if not, says how it ended.
bool succeeded(const std::string& name, int status) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
    if (WIFEXITED(status))
        std::cerr << "demo: " << name << " exited with status " << WEXITSTATUS(status) << '\n';
    else if (WIFSIGNALED(status))
        std::cerr << "demo: " << name << " was killed by signal " << WTERMSIG(status) << " ("
                  << ::strsignal(WTERMSIG(status)) << ")\n";
    return false;
}

struct child {
    std::string name;  // "consumer 2"
    pid_t pid;
    bool producer;
    int report = -1;  // a consumer's standard output
    bool running = true;
};

/// Waits for every child, and calls producers_done() once the last producer has ended. Once one
/// has failed, perhaps before it attached to the queue, the others could wait for it for ever:
/// they get a few seconds to notice and report, then SIGTERM. Returns whether all succeeded.
bool wait_for_all(std::vector<child>& children, const std::function<void()>& producers_done) {
    auto producers = std::ranges::count_if(children, &child::producer);
    auto running = children.size();
    std::optional<example::clock::time_point> deadline;
    bool stopped = false;
    bool ok = true;
    while (running > 0) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, deadline && !stopped ? WNOHANG : 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "waitpid");
        }
        if (pid == 0) {  // none ended yet, and one has failed
            if (example::clock::now() < *deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            } else {
                for (const child& c : children)
                    if (c.running) ::kill(c.pid, SIGTERM);
                stopped = true;
            }
            continue;
        }
        const auto c = std::ranges::find(children, pid, &child::pid);
        if (c == children.end()) continue;
        c->running = false;
        --running;
        if (!succeeded(c->name, status)) {
            ok = false;
            if (!deadline) deadline = example::clock::now() + std::chrono::seconds(3);
        }
        if (c->producer && --producers == 0) producers_done();
    }
    return ok;
}

/// What `fd` gives up to and including its first newline (or all of it, if it ends first).
std::string read_line(int fd) {
    std::string line;
    char c = 0;
    while (::read(fd, &c, 1) == 1) {
        line += c;
        if (c == '\n') break;
    }
    return line;
}

std::string read_all(int fd) {
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return text;
}

/// Runs the consumers and producers, prints the report, and returns the exit status.
int run(const example::settings& s, const std::function<void()>& producers_done) {
    // A consumer's report comes through a pipe, to be printed last. It is two lines: far less
    // than a pipe holds, so the consumer never waits for us to read.
    const std::vector<std::string> flags = example::to_flags(s);
    std::vector<child> children;
    for (unsigned k = 0; k < s.consumers; ++k) {
        int report[2];
        if (::pipe2(report, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
        children.push_back({"consumer " + std::to_string(k), start("consumer", flags, report[1]), false, report[0]});
        ::close(report[1]);
    }
    // A broadcast consumer gets the messages sent after it attached: start the producers once
    // each has said so (its first line), or ended without (then wait_for_all tells).
    std::vector<std::string> heads(children.size());
    if (s.mailbox == example::mailbox_kind::broadcast)
        for (std::size_t k = 0; k < children.size(); ++k) heads[k] = read_line(children[k].report);
    for (unsigned k = 0; k < s.producers; ++k) {
        std::vector<std::string> own = flags;
        own.insert(own.end(), {"--id", std::to_string(k)});
        children.push_back({"producer " + std::to_string(k), start("producer", own), true});
    }
    bool ok = wait_for_all(children, producers_done);

    if (s.consumers == 1) {
        std::cout << heads.front() << read_all(children.front().report);  // the consumer checked everything itself
        return ok ? 0 : 1;
    }
    // Each consumer saw only its share: it can tell what came out of order or corrupt, not what
    // was lost. Their sum can.
    const bool broadcast = s.mailbox == example::mailbox_kind::broadcast;
    const std::uint64_t sent = std::uint64_t{s.producers} * s.count;
    unsigned complete = 0;  // broadcast: the consumers that got all `sent`, none lost, out of order or corrupt
    example::report total;
    for (std::size_t k = 0; k < children.size(); ++k) {
        const child& c = children[k];
        if (c.producer) continue;
        const std::string text = heads[k] + read_all(c.report);
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);)  // what carried them comes once, with the sum
            if (!line.starts_with(example::report::carried_by_line)) std::cout << c.name << ": " << line << '\n';
        const std::optional<example::report> r = example::report::parse(text);
        if (!r) {
            std::cerr << "demo: " << c.name << " gave no report\n";
            ok = false;
            continue;
        }
        total.received += r->received;
        total.lost += r->lost;
        total.out_of_order += r->out_of_order;
        total.corrupt += r->corrupt;
        total.timed += r->timed;  // over the longest consumer's time: they ran side by side
        total.seconds = std::max(total.seconds, r->seconds);
        if (r->received == sent && r->lost == 0 && r->out_of_order == 0 && r->corrupt == 0) ++complete;
    }
    if (broadcast) {  // each consumer counted its own losses against all that was sent
        total.print(std::cout, s);
        const bool all = complete == s.consumers;
        std::cout << "broadcast: " << complete << " of " << s.consumers << " consumers received every one of the "
                  << sent << " messages" << (all ? "" : " (FAILED: each must)") << '\n';
        return ok && all ? 0 : 1;
    }
    if (total.received < sent) total.lost += sent - total.received;
    if (total.received > sent) {
        std::cerr << "demo: the consumers received " << total.received - sent
                  << " messages more than the producers sent\n";
        ok = false;
    }
    total.print(std::cout, s);
    return ok && total.lost == 0 && total.out_of_order == 0 && total.corrupt == 0 ? 0 : 1;
}

/// Creates the queue, runs everyone on it, and removes it. One of that name already there is
/// left alone: a program may be using it, or an earlier run stopped before it removed it.
template <class Queue>
int demo(const example::settings& s) {
    auto queue = [&] {
        try {
            return Queue::create(s.name);
        } catch (const ipckit::error& e) {
            if (e.reason() != ipckit::errc::already_exists) throw;
            throw std::runtime_error("'" + s.name + "' already exists: a program may be using it, or an earlier "
                                     "run stopped before it removed it. Pick another --name, or remove it with "
                                     "`ipckit rm " + s.name + "` (which refuses while a process uses it)");
        }
    }();
    int status = 0;
    if constexpr (Queue::max_senders == 1) {
        status = run(s, [] {});
    } else {
        // A queue of many producers, and every mailbox, ends only when it is closed as a whole (the
        // closed rule): the demo does that once every producer has ended, and the consumers then
        // get `closed` after the last message.
        status = run(s, [&] { queue.close(); });
    }
    Queue::remove(s.name);  // a lone consumer did, unless something went wrong
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    const example::settings s = example::parse_command_line(
        argc, argv,
        {"demo",
         "Runs P producers and C consumers, found next to this program, as processes on the queue\n"
         "(or --mailbox) NAME, with these flags, and ends with the consumers' report.",
         "messages each producer sends (default 10000000)"});
    try {
        std::cout << "demo: " << s.producers << (s.producers > 1 ? " producers" : " producer") << " x " << s.count
                  << " messages of " << s.size << " bytes to " << s.consumers
                  << (s.consumers > 1 ? " consumers" : " consumer") << " on "
                  << (s.mailbox == example::mailbox_kind::none
                          ? std::string("queue")
                          : std::string(example::to_string(s.mailbox)) + " mailbox")
                  << " '" << s.name << "'\n";
        // The demo's handle never waits: one wait policy is enough to compile for it.
        return example::with_queue_type<example::waits::adaptive_only>(
            s, [&]<class Queue>(std::type_identity<Queue>) { return demo<Queue>(s); });
    } catch (const std::exception& e) {
        std::cerr << "demo: " << e.what() << '\n';
        return 1;
    }
}
