// demo: runs a consumer and a producer as two processes on one queue, waits for both, and
// ends with the consumer's report.
//
//   demo [--name NAME] [--count N] [--size BYTES] [--wait spin|futex|adaptive]
//
// The consumer and producer programs are found next to this one, and get the same flags.

#include "common.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
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
bool succeeded(const char* name, int status) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
    if (WIFEXITED(status))
        std::cerr << "demo: " << name << " exited with status " << WEXITSTATUS(status) << '\n';
    else if (WIFSIGNALED(status))
        std::cerr << "demo: " << name << " was killed by signal " << WTERMSIG(status) << " ("
                  << ::strsignal(WTERMSIG(status)) << ")\n";
    return false;
}

/// Waits for `pid`; if it is still running at `deadline`, stops it with SIGTERM.
int wait_for(pid_t pid, std::optional<example::clock::time_point> deadline) {
    int status = 0;
    if (!deadline) {
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return status;
    }
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (example::clock::now() >= *deadline) {
            ::kill(pid, SIGTERM);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    const example::settings s = example::parse_command_line(
        argc, argv,
        {"demo",
         "Runs the consumer and the producer found next to this program as two processes on\n"
         "the queue NAME, with these flags, and ends with the consumer's report.",
         "messages to send (default 10000000)"});
    const std::vector<std::string> flags = example::to_flags(s);
    try {
        // A queue left by an earlier run could hold its messages, or another message size.
        ipckit::remove_segment(s.name);

        std::cout << "demo: " << s.count << " messages of " << s.size << " bytes on queue '" << s.name << "', "
                  << example::to_string(s.wait) << " wait\n";

        // The consumer's report comes through a pipe, to be printed last. It is two lines: far
        // less than a pipe holds, so the consumer never waits for us to read.
        int report[2];
        if (::pipe2(report, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
        const pid_t consumer = start("consumer", flags, report[1]);
        ::close(report[1]);
        const pid_t producer = start("producer", flags);

        // Whichever ends first: if it failed, perhaps before it attached to the queue, the other
        // could wait for it for ever. Give that one a few seconds to notice and report.
        int status = 0;
        pid_t done = -1;
        while ((done = ::waitpid(-1, &status, 0)) < 0 && errno == EINTR) {}
        const bool consumer_first = done == consumer;
        bool ok = succeeded(consumer_first ? "consumer" : "producer", status);
        const pid_t other = consumer_first ? producer : consumer;
        status = wait_for(other, ok ? std::nullopt : std::optional(example::clock::now() + std::chrono::seconds(3)));
        ok = succeeded(consumer_first ? "producer" : "consumer", status) && ok;

        ipckit::remove_segment(s.name);  // the consumer did, unless something went wrong

        char buf[4096];
        for (ssize_t n; (n = ::read(report[0], buf, sizeof buf)) > 0;) std::cout.write(buf, n);
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "demo: " << e.what() << '\n';
        return 1;
    }
}
