#pragma once
// rpc::server: methods by name, served on any ipckit address (see <ipckit/rpc.hpp>).
//
// Threads: one accepts; one per connection receives and parses (session.hpp); `threads` run the
// handlers (pool.hpp). A request is admitted through its client's reply cache (reply_cache.hpp)
// by the connection's reader, so a retransmission never reaches a handler; the handler thread
// stores the reply, then sends it to the client's current connection.
//
// Plain MessagePack-RPC clients (server_options::plain_clients). On tcp:// and unix:// the same
// address also serves clients in other languages, which send MessagePack-RPC arrays on the bare
// stream. They are told apart by the first byte at accept (detail/net/first_byte.hpp): an
// ipckit client begins with its hello's magic, 'i' (0x69), which MessagePack reads as the
// integer 105, never a message; a MessagePack-RPC message begins with an array header (0x93,
// 0x94). One address rather than a second one or an option per client: a foreign client is
// given the one address the server has (its binding, its advertisement), and needs to know
// nothing of ipckit. Such a socket becomes a session (plain_stream.hpp) on its own reader
// thread, exactly as an ipckit connection does.

#include <ipckit/deadline.hpp>
#include <ipckit/detail/net/made_here.hpp>
#include <ipckit/detail/rpc/binder_protocol.hpp>
#include <ipckit/detail/rpc/binding.hpp>
#include <ipckit/detail/rpc/client.hpp>
#include <ipckit/detail/rpc/incarnation.hpp>
#include <ipckit/detail/rpc/options.hpp>
#include <ipckit/detail/rpc/origin.hpp>
#include <ipckit/detail/rpc/pool.hpp>
#include <ipckit/detail/rpc/reply_cache.hpp>
#include <ipckit/detail/rpc/request_budget.hpp>
#include <ipckit/detail/rpc/session.hpp>
#include <ipckit/detail/rpc/signature.hpp>
#include <ipckit/detail/rpc/wire.hpp>
#include <ipckit/net.hpp>

#include <msgpack.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace ipckit::rpc {

/// Marks a method that may run twice without harm: a client retries it on a new server incarnation.
struct idempotent_t {
    explicit idempotent_t() = default;
};
inline constexpr idempotent_t idempotent{};

class server {
    using frame = detail::rpc::frame;
    using clock = std::chrono::steady_clock;
    // How soon the threads notice stop(). Longer than the shm:// queues' liveness interval
    // (100 ms), which a blocked receive measures from its own start: a shorter wait would never
    // ask the OS whether a shm:// client still lives.
    static constexpr std::chrono::milliseconds poll{250};

public:
    /// Binds `address` (any ipckit address; tcp port 0 picks one). Throws ipckit::error as
    /// listener::bind does. Serves nothing until start() or run().
    explicit server(std::string_view address, server_options o = {}) : server(address, std::move(o), nullptr) {}
    /// Serves as `name` in `domain` on this machine (detail/rpc/binding.hpp): clients find it
    /// with client::in_domain(domain, name). Throws ipckit::error: name_taken while a live server
    /// holds the name, invalid_name, or as the constructor above.
    static server in_domain(std::string_view domain, std::string_view name, server_options o = {},
                            const node_options& registry = {}) {
        const name_in_domain n{domain, name, registry};
        return server(detail::rpc::domain_address(domain, name), std::move(o), &n);
    }
    /// Serves on `address` (port 0 picks one) as `name` at the binder at `binder` (binder.hpp),
    /// which holds the real address while this server lives and stays connected to it: clients
    /// find it with client::at_binder(binder, name). Throws ipckit::error naming the binder:
    /// name_taken while another live server holds the name, invalid_name, the code of an
    /// unreachable binder's connect; or as the constructor above.
    static server at_binder(std::string_view binder, std::string_view name, std::string_view address,
                            server_options o = {}) {
        detail::rpc::check_server_name(name);
        const name_at_binder b{binder, name};
        return server(address, std::move(o), nullptr, &b);
    }
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    /// Stops (stop()). In a forked child, a copy of its parent's server is only forgotten: its
    /// threads are not in the child, and its sessions, name and binder registration stay the
    /// parent's (detail/net/made_here.hpp).
    ~server() {
        if (made_.here()) {
            stop();
            return;
        }
        detail::forget(registered_);
        detail::forget(advertised_);
        detail::forget(sessions_);
        detail::forget(acceptor_);
        detail::forget(pool_);
    }

    /// Registers `f` as `name`; its parameter and return types are its signature (MessagePack
    /// adaptors: integers, floats, bool, std::string, std::vector<unsigned char> as a blob,
    /// vectors, maps, optionals, a user's struct with MSGPACK_DEFINE). Before start() only.
    template <class F>
    void bind(std::string name, F f) {
        add(std::move(name), std::move(f), false);
    }
    template <class F>
    void bind(std::string name, F f, idempotent_t) {
        add(std::move(name), std::move(f), true);
    }
    /// Calls `f(connection)` on the connection's reader thread once a connection has ended
    /// (closed, peer_dead, corrupt, or this server stopping), for state a handler keeps per
    /// connection (a handler whose first parameter is an rpc::origin, origin.hpp). Before start() only.
    void on_disconnect(std::function<void(std::uint64_t connection)> f) {
        if (started_) throw ipckit::error(ipckit::errc::invalid_argument, "rpc::server::on_disconnect: call it before start()");
        on_disconnect_ = std::move(f);
    }

    /// Serves in the background until stop(). Throws ipckit::error (system_error) if the
    /// system makes too few threads: the server is then as before, and start() may be tried again.
    void start() {
        std::lock_guard lock(run_m_);
        if (started_) return;
        try {
            pool_ = std::make_unique<detail::rpc::pool>(options_.threads, [this] { own_thread_of = this; });
            acceptor_ = std::thread([this] { accept_loop(); });
        } catch (const std::system_error& e) {
            pool_.reset();
            throw ipckit::error(ipckit::errc::system_error,
                                std::string("rpc::server::start: the system made too few threads (") + e.what() +
                                    "); raise the process's limits or lower server_options::threads");
        } catch (...) {
            pool_.reset();
            throw;
        }
        started_ = true;
        std::lock_guard sessions(sessions_m_);
        serving_ = true;
        std::erase_if(sessions_, [this](const std::shared_ptr<detail::rpc::session>& s) {  // plain clients that came before
            return !s->reader.joinable() && !start_reader(s, "a plain MessagePack-RPC client");
        });
    }
    /// Serves until stop() is called (from another thread, or a handler), and returns once
    /// stopped.
    void run() {
        start();
        stopping_.wait(false);
        finish_stop();
    }
    /// Stops accepting and serving; requests already queued run, their replies are dropped.
    /// From one of this server's own threads (a handler, an on_disconnect function), which
    /// cannot wait for itself, it only asks: run() returns once the rest is done, or the
    /// destructor does it.
    void stop() noexcept {
        stopping_ = true;
        stopping_.notify_all();  // run() returns
        if (own_thread_of != this) finish_stop();
    }

    /// The address bound (with the real port).
    [[nodiscard]] std::string address() const { return listener_.address(); }
    /// This server's life: a client that reconnects to another incarnation retries only idempotent calls.
    [[nodiscard]] std::uint64_t incarnation() const noexcept { return incarnation_; }
    /// Connections dropped because they sent a frame that is not MessagePack-RPC.
    [[nodiscard]] std::uint64_t corrupt_connections() const noexcept { return corrupt_.load(); }
    /// Why the last few connections were dropped, newest last.
    [[nodiscard]] std::vector<std::string> faults() const {
        std::lock_guard lock(faults_m_);
        return {faults_.begin(), faults_.end()};
    }
    /// Client incarnations remembered now.
    [[nodiscard]] std::size_t clients() const { return clients_.size(); }
    /// Bytes that the requests waiting for a handler thread or running hold, all connections
    /// together: each its length on the wire and a msgpack::object (24 bytes) for it and each
    /// element of its arrays and maps (wire.hpp, held_size). At most
    /// server_options::max_queued_bytes, or one larger request.
    [[nodiscard]] std::size_t queued_request_bytes() const { return queued_bytes_.used(); }
    /// Bytes of replies kept for retransmissions, all clients together (at most about
    /// server_options::reply_cache_bytes).
    [[nodiscard]] std::size_t cached_reply_bytes() const noexcept { return clients_.reply_bytes(); }

private:
    /// How long a reply may wait for a client that does not read: send_timeout from now (the
    /// longest duration: no limit, never a deadline that overflowed into the past).
    [[nodiscard]] clock::time_point reply_deadline() const noexcept { return ipckit::detail::deadline_after(options_.send_timeout); }

    struct name_in_domain {
        std::string_view domain;
        std::string_view name;
        const node_options& registry;
    };
    struct name_at_binder {
        std::string_view binder;
        std::string_view name;
    };
    /// In a domain the name is taken before the address is bound: a second server under a live
    /// one's name is name_taken, not the address's already_exists. At a binder it is registered
    /// after, with the address bound (the real port).
    server(std::string_view address, server_options o, const name_in_domain* n, const name_at_binder* b = nullptr)
        : options_(detail::rpc::with_usable_net(std::move(o))),
          advertised_(n ? std::make_unique<detail::rpc::advertisement>(n->domain, n->name, n->registry) : nullptr),
          clients_(options_.max_clients, options_.reply_cache, options_.reply_cache_bytes),
          queued_bytes_(options_.max_queued_bytes),
          listener_(detail::listener_access::bind<frame>(address, options_.net, plain_clients())),
          registered_(b ? std::make_unique<registration>(b->binder, b->name, listener_.address(), binder_client_options())
                        : nullptr) {}

    using registration = detail::rpc::binder_registration<client>;
    /// The binder connection's: this server's socket options.
    [[nodiscard]] client_options binder_client_options() const {
        client_options c;
        c.net = options_.net;
        return c;
    }

    struct method {
        detail::rpc::handler run;
        bool idempotent;
    };
    using request = std::shared_ptr<detail::rpc::message>;

    template <class F>
    void add(std::string name, F f, bool is_idempotent) {
        if (name.empty() || name == detail::rpc::hello_method)
            throw ipckit::error(ipckit::errc::invalid_argument, "rpc::server::bind: '" + name + "' is empty or reserved; choose another name");
        if (started_) throw ipckit::error(ipckit::errc::invalid_argument, "rpc::server::bind(" + name + "): bind every method before start()");
        auto h = detail::rpc::make_handler(name, std::move(f));
        methods_.insert_or_assign(std::move(name), method{std::move(h), is_idempotent});
    }

    /// What the listener does with a socket that is not an ipckit client: a plain
    /// MessagePack-RPC session (on the I/O thread, under the listener's lock: never after
    /// listener_.close() returned). It must not throw: a socket it cannot serve is closed.
    detail::foreign_stream_fn plain_clients() {
        if (!options_.plain_clients) return {};
        return [this](detail::net_socket sock, std::function<void()> released) noexcept {
            try {
                auto s = std::make_shared<detail::rpc::session>(std::move(sock), std::move(released),
                                                                options_.net.liveness_interval);
                std::lock_guard lock(sessions_m_);
                if (stopping_) return;  // s closes here
                sessions_.push_back(s);
                if (serving_ && !start_reader(s, "a plain MessagePack-RPC client")) sessions_.pop_back();  // s closes here
            } catch (...) {
                note_unserved("a plain MessagePack-RPC client");
            }
        };
    }

    /// Under sessions_m_: starts the reader thread of `s`, `what` (for the fault); false (noted)
    /// if the system made none.
    bool start_reader(const std::shared_ptr<detail::rpc::session>& s, std::string_view what) noexcept {
        try {
            s->reader = std::thread([this, s] { serve(s); });
            return true;
        } catch (...) {
            note_unserved(what);
            return false;
        }
    }
    /// Notes a connection dropped because the system had no memory or thread to serve it.
    void note_unserved(std::string_view what) noexcept {
        try {
            note_fault("dropped " + std::string(what) + " on " + address() + ": out of memory or threads");
        } catch (...) {
        }
    }

    /// The rest of stop(), once stopping_ is set: joins the threads, gives up the name, and
    /// closes the listener. Once, by whichever thread comes first; a later call finds it done.
    void finish_stop() noexcept {
        std::lock_guard lock(stop_m_);
        if (acceptor_.joinable()) acceptor_.join();
        std::vector<std::shared_ptr<detail::rpc::session>> all;
        {
            std::lock_guard sessions(sessions_m_);
            all.swap(sessions_);
        }
        for (auto& s : all)
            if (s->reader.joinable()) s->reader.join();
        advertised_.reset();  // the name goes first: a client that finds it finds it served
        registered_.reset();
        if (pool_) pool_->stop();
        listener_.close();
    }

    void accept_loop() {
        own_thread_of = this;
        while (!stopping_) {
            auto c = listener_.accept(poll);
            reap();
            if (!c) {
                if (c.error() == ipckit::errc::closed) return;
                continue;
            }
            try {
                auto s = std::make_shared<detail::rpc::session>(std::move(*c));
                std::lock_guard lock(sessions_m_);
                sessions_.push_back(s);
                if (!start_reader(s, "a connection")) sessions_.pop_back();  // s closes here
            } catch (...) {  // no memory for the session: drop it
                note_unserved("a connection");
            }
        }
    }

    /// Joins and forgets the sessions whose readers finished.
    void reap() {
        std::lock_guard lock(sessions_m_);
        std::erase_if(sessions_, [](const std::shared_ptr<detail::rpc::session>& s) {
            if (!s->done) return false;
            s->reader.join();
            return true;
        });
    }

    void serve(std::shared_ptr<detail::rpc::session> s) {
        own_thread_of = this;
        const rpc::origin from(open_.add(), open_);
        auto client = std::make_shared<detail::rpc::client_state>(options_.reply_cache, false);
        client->current = s;
        using found = detail::rpc::incoming::what;
        const std::size_t queued_max = std::max<std::size_t>(options_.max_queued_per_connection, 1);
        while (!stopping_ && !s->cut) {
            if (!s->room_for_one(queued_max, clock::now() + poll)) continue;  // read no more from it meanwhile
            auto in = s->receive(clock::now() + poll);
            if (in.found == found::idle) continue;
            if (in.found == found::ended) {  // closed, peer_dead, corrupt: this connection is over
                // A plain client that sent its requests and then ended its sending half reads
                // the replies still: they go out before the connection closes.
                if (s->peer_may_read())
                    while (!stopping_ && !s->cut && !s->room_for_one(1, clock::now() + poll)) {
                    }
                break;
            }
            if (s->cut) break;
            if (in.msg && in.msg->type == detail::rpc::kind::response) {
                in.found = found::corrupt;
                in.why = "it sent a response to the server";
            }
            if (in.found == found::corrupt) {
                ++corrupt_;
                note_fault("dropped a connection on " + address() + " (corrupt): " + in.why);
                break;
            }
            auto req = std::make_shared<detail::rpc::message>(std::move(*in.msg));
            if (req->type == detail::rpc::kind::request && req->msgid == detail::rpc::hello_msgid &&
                req->method == detail::rpc::hello_method) {
                client = hello(s, *req, client);
                continue;
            }
            if (!room_for(*s, req->held)) break;  // stopping, or the connection was cut meanwhile
            if (req->type == detail::rpc::kind::notification)
                post_for(s, req->held, [this, req, from] { (void)execute(*req, from); });
            else
                admit(s, client, req, from);
        }
        open_.end(from.connection());  // origin::open() is false from here, before on_disconnect runs
        s->close();
        if (on_disconnect_) on_disconnect_(from.connection());
        s->done = true;
    }

    /// ["ipckit.hello", [incarnation]]: the connection speaks for that client from now on, and
    /// no longer for another hello's before (`previous`), which it then no longer keeps in the
    /// table: an ipckit client says hello once a connection, and a peer that names one client
    /// after another on a connection it keeps open would otherwise hold every one of them there
    /// past max_clients. Requests sent before any hello are still answered on it.
    std::shared_ptr<detail::rpc::client_state> hello(const std::shared_ptr<detail::rpc::session>& s,
                                                     const detail::rpc::message& req,
                                                     std::shared_ptr<detail::rpc::client_state> previous) {
        msgpack::sbuffer out;
        const auto& p = req.params.via.array;
        if (p.size != 1 || p.ptr[0].type != msgpack::type::POSITIVE_INTEGER) {
            detail::rpc::pack_failure(out, req.msgid, rpc::errc::bad_arguments,
                                      "ipckit.hello takes one uint64, the client's incarnation");
            (void)s->send(out.data(), out.size(), reply_deadline());
            return previous;
        }
        auto client = clients_.attach(p.ptr[0].via.u64, s);
        // An anonymous previous (requests before any hello) is this connection's alone and in
        // no table: it keeps the connection, for the replies to those requests.
        if (client != previous && previous->dedupe) {
            std::lock_guard lock(previous->m);
            if (previous->current.lock() == s) previous->current.reset();
        }
        msgpack::sbuffer result;
        detail::rpc::packer pk(result);
        pk.pack_map(2);
        pk.pack(std::string("incarnation"));
        pk.pack(incarnation_);
        pk.pack(std::string("idempotent"));
        std::vector<std::string> names;
        for (const auto& [name, m] : methods_)
            if (m.idempotent) names.push_back(name);
        pk.pack(names);
        detail::rpc::pack_success(out, req.msgid, result);
        (void)s->send(out.data(), out.size(), reply_deadline());
        return client;
    }

    /// For a connection's reader: waits until `n` more bytes of requests (what one holds,
    /// message::held) fit in the server's
    /// budget (request_budget.hpp) and takes them; false if the server stops or the connection
    /// is cut first.
    bool room_for(const detail::rpc::session& s, std::size_t n) {
        while (!stopping_ && !s.cut)
            if (queued_bytes_.take(n, clock::now() + poll)) return true;
        return false;
    }

    /// A request through its client's reply cache: run once, answered from the cache after. Its
    /// bytes were taken from the request budget; a handler gives them back, or this does when
    /// the request is not run.
    void admit(const std::shared_ptr<detail::rpc::session>& s, const std::shared_ptr<detail::rpc::client_state>& client,
               const request& req, const rpc::origin& from) {
        if (!client->dedupe) {
            post_for(s, req->held, [this, client, req, from] { answer(client, *req, 0, execute(*req, from)); });
            return;
        }
        std::vector<char> cached;
        detail::rpc::reply_cache::seen seen;
        std::uint64_t seq = 0;  // the msgid with its 64 bits back (reply_cache.hpp: across the wrap)
        {
            std::lock_guard lock(client->m);
            seq = client->replies.extend(req->msgid);
            seen = client->replies.admit(seq, cached);
        }
        using seen_t = detail::rpc::reply_cache::seen;
        if (seen != seen_t::fresh) queued_bytes_.give_back(req->held);
        switch (seen) {
        case seen_t::fresh:
            post_for(s, req->held, [this, client, req, seq, from] { answer(client, *req, seq, execute(*req, from)); });
            break;
        case seen_t::running: break;  // its reply goes to the client's current connection when done
        case seen_t::done: (void)s->send(cached.data(), cached.size(), reply_deadline()); break;
        case seen_t::expired: {
            msgpack::sbuffer out;
            detail::rpc::pack_failure(out, req->msgid, rpc::errc::expired,
                                      "request " + std::to_string(req->msgid) + " (" + detail::quoted(req->method) +
                                          ") is older than the replies kept for this client; it was not run now, and an "
                                          "earlier copy of it may have run");
            (void)s->send(out.data(), out.size(), reply_deadline());
            break;
        }
        }
    }

    /// Gives `job` to a handler thread as one of the requests of connection `s`, which counts
    /// it until it is done (session::begun, finished; its reader waits while too many are),
    /// and gives its `bytes` back to the request budget then.
    template <class Job>
    void post_for(const std::shared_ptr<detail::rpc::session>& s, std::size_t bytes, Job job) {
        s->begun();
        pool_->post([this, s, bytes, job = std::move(job)] {
            job();
            s->finished();
            queued_bytes_.give_back(bytes);
        });
    }

    /// Runs a request's method: the packed response (the result, or an error naming the cause).
    std::vector<char> execute(const detail::rpc::message& req, const rpc::origin& from) {
        msgpack::sbuffer result;
        std::string why;
        rpc::errc code = rpc::errc::ok;
        const auto it = methods_.find(req.method);
        if (it == methods_.end()) {
            code = rpc::errc::unknown_method;
            why = "no method '" + detail::quoted(req.method) + "' on this server";
        } else {
            code = it->second.run(from, req.params, result, why);
        }
        msgpack::sbuffer out;
        if (code == rpc::errc::ok) detail::rpc::pack_success(out, req.msgid, result);
        else detail::rpc::pack_failure(out, req.msgid, code, why);
        if (out.size() > detail::rpc::max_frame) {  // the sentence names the method short: it fits in any frame
            const std::size_t size = out.size();
            out.clear();
            detail::rpc::pack_failure(out, req.msgid, rpc::errc::too_large,
                                      "the reply of " + detail::quoted(req.method) + " is " + std::to_string(size) +
                                          " bytes, more than a frame's " + std::to_string(detail::rpc::max_frame));
        }
        return {out.data(), out.data() + out.size()};
    }

    /// Stores the reply (as sequence number `seq`) and sends it to the client's current connection,
    /// unless the fault hook says otherwise or the client can no longer wait for it.
    void answer(const std::shared_ptr<detail::rpc::client_state>& client, const detail::rpc::message& req, std::uint64_t seq,
                std::vector<char> reply) {
        std::shared_ptr<detail::rpc::session> to;
        {
            std::lock_guard lock(client->m);
            to = client->current.lock();
            if (client->dedupe && !client->replies.complete(seq, reply)) to.reset();  // 2^31 calls late
        }
        clients_.trim();
        const fault_action act = options_.fault_hook ? options_.fault_hook(req.method, req.msgid) : fault_action::deliver;
        if (!to) return;
        if (act == fault_action::deliver && to->send(reply.data(), reply.size(), reply_deadline()) == ipckit::errc::timed_out)
            note_fault("dropped a client on " + address() + " that did not read its replies: one waited " +
                       std::to_string(options_.send_timeout.count()) + " ms (server_options::send_timeout)");
        if (act == fault_action::cut_connection) to->cut = true;  // its reader drops it on its next wake
    }

    void note_fault(std::string why) {
        std::lock_guard lock(faults_m_);
        faults_.push_back(std::move(why));
        if (faults_.size() > 16) faults_.pop_front();
    }

    server_options options_;
    detail::made_here made_;  // where the destructor may act
    std::unique_ptr<detail::rpc::advertisement> advertised_;  // in_domain: the name held
    detail::rpc::client_table clients_;
    detail::rpc::request_budget queued_bytes_;
    std::map<std::string, method, std::less<>> methods_;
    std::function<void(std::uint64_t)> on_disconnect_;
    detail::rpc::open_connections open_;  // numbers the connections (origin.hpp)
    const std::uint64_t incarnation_ = detail::rpc::new_incarnation();

    /// The server whose thread (acceptor, reader, handler) this is, if any: its stop() may not
    /// join itself.
    static inline thread_local const server* own_thread_of = nullptr;
    std::mutex run_m_;   // start() runs once
    std::mutex stop_m_;  // finish_stop() too
    bool started_ = false;
    // run() waits on it: an atomic wait, not a condition variable, whose destruction in a
    // forked child would wait for the parent's thread in run() to leave it.
    std::atomic<bool> stopping_{false};
    bool serving_ = false;  // under sessions_m_: start() ran, a new session gets its reader at once
    std::unique_ptr<detail::rpc::pool> pool_;
    std::thread acceptor_;
    std::mutex sessions_m_;
    std::vector<std::shared_ptr<detail::rpc::session>> sessions_;

    std::atomic<std::uint64_t> corrupt_{0};
    mutable std::mutex faults_m_;
    std::deque<std::string> faults_;
    // Last: its plain_clients() function may run as soon as it is bound, and uses the members above.
    listener<frame> listener_;
    std::unique_ptr<registration> registered_;  // at_binder: the name held (registered once bound)
};

}  // namespace ipckit::rpc
