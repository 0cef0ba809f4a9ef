#pragma once
// Two network namespaces joined by a veth pair, made by the test itself, for the tests that cut
// a link under a connection (net_netns_test.cpp, rpc/rpc_plain_test.cpp). Root only: a test
// that cannot make them says why (cannot_run) and does nothing. The only addresses are
// 10.213.7.1 and .2 on the veth inside those namespaces; the namespaces (with the veth pair in
// them) go when the object goes, passed or failed.

#include "support.hpp"

#include <filesystem>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

namespace ipckit_test {

inline constexpr const char* ip_command = "/usr/sbin/ip";

/// Runs `ip` with `args` (its output to the test's); true if it exited with 0.
inline bool ip(const std::vector<std::string>& args) {
    const pid_t pid = spawn([&] {
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(ip_command));
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(ip_command, argv.data());
        std::perror("execv /usr/sbin/ip");
        return 127;
    });
    return wait_child(pid) == 0;
}

/// Two network namespaces "ipckit-<pid>-a" and "-b", joined by a veth pair whose ends carry
/// 10.213.7.1/30 (a) and 10.213.7.2/30 (b); both namespaces are deleted when this goes.
class two_namespaces {
public:
    two_namespaces() {
        const std::string id = std::to_string(::getpid());
        a = "ipckit-" + id + "-a";
        b = "ipckit-" + id + "-b";
        veth_a = "ik" + id + "a";  // an interface name has at most 15 characters
        veth_b = "ik" + id + "b";
        made_a_ = ip({"netns", "add", a});
        made_b_ = made_a_ && ip({"netns", "add", b});
        ok_ = made_b_ && ip({"link", "add", veth_a, "netns", a, "type", "veth", "peer", "name", veth_b, "netns", b}) &&
              ip({"-n", a, "addr", "add", "10.213.7.1/30", "dev", veth_a}) &&
              ip({"-n", b, "addr", "add", "10.213.7.2/30", "dev", veth_b}) &&
              ip({"-n", a, "link", "set", veth_a, "up"}) && ip({"-n", b, "link", "set", veth_b, "up"});
    }
    ~two_namespaces() {
        // Deleting a namespace deletes the veth end in it, and with it the pair.
        if (made_b_) (void)ip({"netns", "del", b});
        if (made_a_) (void)ip({"netns", "del", a});
    }
    two_namespaces(const two_namespaces&) = delete;
    two_namespaces& operator=(const two_namespaces&) = delete;

    /// Whether both namespaces and the link between them are up.
    [[nodiscard]] bool ok() const noexcept { return ok_; }
    /// Cuts the link: a's end down.
    bool cut() const { return ip({"-n", a, "link", "set", veth_a, "down"}); }

    std::string a, b, veth_a, veth_b;

private:
    bool made_a_ = false, made_b_ = false, ok_ = false;
};

/// In a child: moves this process into network namespace `name` (before any socket).
inline bool enter(const std::string& name) {
    const int fd = ::open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::setns(fd, CLONE_NEWNET) == 0;
    ::close(fd);
    return ok;
}

/// Why the test cannot run here, or empty if it can.
inline std::string cannot_run() {
    if (::geteuid() != 0) return "not root: making network namespaces needs root (CI runs as root)";
    if (!std::filesystem::exists(ip_command)) return std::string(ip_command) + " is missing (Debian: apt-get install iproute2)";
    return {};
}

}  // namespace ipckit_test
