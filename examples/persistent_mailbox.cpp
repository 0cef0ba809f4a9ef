// A persistent mailbox: system_owned, so it and its messages outlive every process. Notes sent
// while no receiver runs wait in it; a receiver that starts later (or restarts) finds them.
//
//   persistent_mailbox send NAME TEXT...   creates NAME if needed, leaves one note per TEXT
//   persistent_mailbox receive NAME        prints the notes waiting, then exits
//   persistent_mailbox remove NAME         deletes the mailbox and what is left in it
//   persistent_mailbox demo                the whole story, as separate processes
//
// demo runs this program again for each step: send two notes, receive them, send two more
// while no receiver runs, receive again (the restarted receiver finds them), remove.

#include <ipckit/mailbox.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

struct note {
    char text[120];
};
using notes = ipckit::mailbox<note, ipckit::bounded<256>, ipckit::exclusive, ipckit::system_owned>;

int send(const char* name, int count, char** texts) {
    auto out = notes::open_or_create(name).sender<ipckit::non_blocking>();
    for (int i = 0; i < count; ++i) {
        note n{};
        std::strncpy(n.text, texts[i], sizeof n.text - 1);
        if (auto s = out.send(n); !s) {
            std::fprintf(stderr, "send: %s\n", ipckit::to_string(s.error()));
            return 1;
        }
    }
    return 0;
}

int receive(const char* name) {
    auto in = notes::open(name).receiver<ipckit::non_blocking>();
    int count = 0;
    while (auto n = in.receive()) {
        std::printf("%s: %s\n", name, n->text);
        ++count;
    }
    std::printf("%s: %d note(s) received\n", name, count);
    return 0;
}

/// Runs this program again with `args`; its exit code.
int run(const std::vector<std::string>& args) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv("/proc/self/exe", argv.data());
        std::perror("execv");
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int demo() {
    const std::string name = "persistent_mailbox.demo." + std::to_string(::getpid());
    const std::string self = "persistent_mailbox";
    int failed = 0;
    failed += run({self, "send", name, "hello", "world"});
    failed += run({self, "receive", name});
    std::printf("-- no receiver runs now; two more notes are sent --\n");
    failed += run({self, "send", name, "sent while", "you were away"});
    failed += run({self, "receive", name});  // the restarted receiver finds them
    failed += run({self, "remove", name});
    return failed == 0 ? 0 : 1;
}

}  // namespace

constexpr const char* usage_line = "usage: persistent_mailbox send NAME TEXT... | receive NAME | remove NAME | demo\n";

int main(int argc, char** argv) {
    try {
        const std::string verb = argc > 1 ? argv[1] : "";
        if (verb == "--help" || verb == "-h") {
            std::fputs(usage_line, stdout);
            return 0;
        }
        if (verb == "demo") return demo();
        if (verb == "send" && argc > 3) return send(argv[2], argc - 3, argv + 3);
        if (verb == "receive" && argc == 3) return receive(argv[2]);
        if (verb == "remove" && argc == 3) return notes::remove(argv[2]) ? 0 : 1;
    } catch (const ipckit::error& e) {
        std::fprintf(stderr, "persistent_mailbox: %s\n", e.what());
        return 1;
    }
    std::fputs(usage_line, stderr);
    return 2;
}
