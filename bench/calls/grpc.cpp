// The gRPC rows of --rpc, the peer of ipckit::rpc (issue 14): Debian's gRPC C++ (libgrpc++-dev),
// unary calls over unix:PATH and tcp loopback, insecure credentials. The server is gRPC's
// synchronous server (its own thread pool); the client is the asynchronous stub with one
// completion queue, so that one thread keeps 16 calls in flight as ipckit's async_call does.
// Part of ipckit_bench when CMake finds gRPC, protoc and grpc_cpp_plugin (bench/CMakeLists.txt).

#include "../calls.hpp"
#include "../net_mechanisms.hpp"

#include "echo.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

namespace bench {
namespace {

/// The echo service: Echo returns its argument; End lets the server process end.
class echo_service final : public ipckit_bench::Echo::Service {
public:
    grpc::Status Echo(grpc::ServerContext*, const ipckit_bench::Blob* in, ipckit_bench::Blob* out) override {
        out->set_data(in->data());
        return grpc::Status::OK;
    }
    grpc::Status End(grpc::ServerContext*, const ipckit_bench::Blob*, ipckit_bench::Blob*) override {
        {
            std::lock_guard lock(m_);
            ended_ = true;
        }
        cv_.notify_all();
        return grpc::Status::OK;
    }
    void wait_for_end() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return ended_; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    bool ended_ = false;
};

template <call_over Over>
struct grpc_calls {
    static_assert(Over != call_over::shm, "gRPC has no shared-memory transport");

    static std::string describe() {
        return std::string("gRPC ") + grpc::Version() + " unary Echo(bytes) over " +
               (Over == call_over::unix_socket ? "unix:/tmp/name" : "127.0.0.1:port") +
               ", sync server (its thread pool), async stub on one completion queue";
    }
    static std::string unsupported(std::size_t, bool many_producers, bool many_consumers) {
        return many_producers || many_consumers ? "n/a (one client, one server)" : "";
    }
    static std::string make_address() {
        if (Over == call_over::unix_socket) return "unix:/tmp/" + unique_name();
        return "127.0.0.1:" + std::to_string(free_tcp_port());
    }

    class server {
    public:
        explicit server(const std::string& address) : address_(address) {
            grpc::ServerBuilder b;
            int port = 0;
            b.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
            b.RegisterService(&service_);
            server_ = b.BuildAndStart();
            if (!server_ || port == 0) fail("gRPC: could not listen on " + address);
        }
        ~server() {
            if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
            if (Over == call_over::unix_socket) ::unlink(address_.substr(std::strlen("unix:")).c_str());
        }
        server(const server&) = delete;
        server& operator=(const server&) = delete;
        void wait_for_end() { service_.wait_for_end(); }

    private:
        std::string address_;
        echo_service service_;
        std::unique_ptr<grpc::Server> server_;
    };

    class client {
    public:
        explicit client(const std::string& address)
            : stub_(ipckit_bench::Echo::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {}
        ~client() {
            cq_.Shutdown();
            void* tag = nullptr;
            bool ok = false;
            while (cq_.Next(&tag, &ok)) {
            }
        }
        client(const client&) = delete;
        client& operator=(const client&) = delete;

        template <std::size_t S>
        void begin(unsigned slot, const message<S>& m) {
            call& c = calls_[slot];
            c.context = std::make_unique<grpc::ClientContext>();
            c.context->set_wait_for_ready(true);  // the first calls may come before the channel is up
            c.context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
            c.request.set_data(m.bytes, S);
            c.done = false;
            c.reader = stub_->AsyncEcho(c.context.get(), c.request, &cq_);
            c.reader->Finish(&c.reply, &c.status, reinterpret_cast<void*>(static_cast<std::uintptr_t>(slot)));
        }
        template <std::size_t S>
        void finish(unsigned slot, message<S>& back) {
            call& c = calls_[slot];
            while (!c.done) {
                void* tag = nullptr;
                bool ok = false;
                if (!cq_.Next(&tag, &ok)) fail("gRPC: the completion queue was shut down");
                const auto done = static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(tag));
                if (done >= calls_.size() || !ok) fail("gRPC: a call ended without its reply");
                calls_[done].done = true;
            }
            if (!c.status.ok()) fail("gRPC Echo: " + c.status.error_message());
            const std::string& data = c.reply.data();
            if (data.size() != S) fail("gRPC Echo returned " + std::to_string(data.size()) + " bytes, sent " + std::to_string(S));
            std::memcpy(back.bytes, data.data(), S);
        }
        void end() {
            grpc::ClientContext context;
            ipckit_bench::Blob request, reply;
            if (const grpc::Status s = stub_->End(&context, request, &reply); !s.ok()) fail("gRPC End: " + s.error_message());
        }

    private:
        struct call {
            std::unique_ptr<grpc::ClientContext> context;
            ipckit_bench::Blob request, reply;
            grpc::Status status;
            std::unique_ptr<grpc::ClientAsyncResponseReader<ipckit_bench::Blob>> reader;
            bool done = true;
        };
        std::unique_ptr<ipckit_bench::Echo::Stub> stub_;
        grpc::CompletionQueue cq_;
        std::array<call, max_in_flight> calls_;
    };
};

}  // namespace

std::vector<mechanism_entry> grpc_rows() {
    return {call_entry<grpc_calls<call_over::unix_socket>>("grpc-unix", family::socket_peer),
            call_entry<grpc_calls<call_over::tcp>>("grpc-tcp", family::socket_peer)};
}

}  // namespace bench
