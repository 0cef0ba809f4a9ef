#pragma once
// The client's engine: calls in flight matched by id, retransmission, reconnection, deadlines.
//
// One thread per client (the I/O thread here) receives replies and completes calls; callers
// add a pending call and send its request themselves when connected. Every pending call ends
// exactly once, by its reply, by its deadline, or by one of the rules below, and is then erased,
// so a reply that comes later finds no call and is discarded (never given to another call:
// sequence numbers are not reused).
//
//   the connection ends      every sent call is `lost`; the thread reconnects and says hello
//   same server incarnation  every call is sent again with its id: the reply cache answers it
//   another incarnation      lost calls to methods both it and the server before declared
//                            idempotent are sent again; the others end with peer_dead (may or
//                            may not have run)
//   reconnecting fails       calls never sent end with not_sent; lost ones with peer_dead, or,
//                            if idempotent, try again until their deadline (then peer_dead)
//   no reply for retry_interval   sent again on the same connection (a lost reply)
//   expired, its only copy   the server refused the one copy sent (a call held up before it
//                            went while more later ones than its reply cache completed): it did
//                            not run, and goes again under a new number
//   the deadline             timed_out (peer_dead if it was lost, not_sent if it never went)
//
// Sequence numbers are 64-bit; a request's msgid is their low 32 bits, never 0 (the hello's).
// After 2^32 calls msgids come round again, so a reply's msgid is taken back to the pending call
// that has those low bits within 2^31 of the oldest pending one; and a call is refused (not_sent)
// while one started 2^31 or more numbers before it is still pending, so that no two calls in
// flight ever share a msgid. The server extends msgids the same way (reply_cache.hpp).
//
// The mutex m_ guards the pending calls and the connection pointer, and no send happens under it:
// a send that waits for room (a server that does not read) holds up neither the I/O thread nor
// a caller that only starts a call, asks in_flight() or gets a reply. send_turn_ lets one send
// at a time onto the connection. A caller sends its own request from its thread, waiting for its
// turn and for room until its deadline (the connection's backpressure); the I/O thread only
// tries, and tries again a slice later (not at once: the loop would spin). A call that never went
// by its deadline ends not_sent. close() ends these waits: a wait for the turn at once, a wait for
// room within a send slice (send_slice), and the call with closed.
//
// A reconnect attempt (connect and hello, up to reconnect_timeout) runs on a thread of its own,
// so that the client thread meanwhile ends calls at their deadlines and close() returns at once.
// The attempt touches nothing of the client's but the mutex and condition variable, which it
// shares (sync_); after close() it ends on its own by its deadline, closing what it made.
//
// Completions run on the I/O thread, and one may close the client or own its last reference (a
// callback that captured a shared_ptr to it). Then close() does not join the thread it runs on: it
// marks the client closing, and the loop ends the calls in flight once the completion returns; the
// destructor, run there, ends those calls itself, lets the thread go (detach), and marks the
// shared sync `gone`, which the loop, holding sync_ itself, reads before it touches the caller
// again, and then returns without a look at it. No completion is destroyed with m_ held.

#include <ipckit/deadline.hpp>
#include <ipckit/detail/rpc/incarnation.hpp>
#include <ipckit/detail/rpc/options.hpp>
#include <ipckit/detail/rpc/result.hpp>
#include <ipckit/detail/rpc/send_turn.hpp>
#include <ipckit/detail/rpc/wire.hpp>
#include <ipckit/net.hpp>

#include <msgpack.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace ipckit::detail::rpc {

class caller {
    using clock = std::chrono::steady_clock;
    using error = ipckit::rpc::error;
    using rerrc = ipckit::rpc::errc;
    static constexpr std::chrono::milliseconds poll{250};  // the longest the thread sleeps
    // A blocked shm:// receive asks the OS whether its peer lives only once it has waited the
    // queues' liveness interval (100 ms), counted from its own start. So after a second without
    // a frame from the server the thread waits a whole poll even when a retransmission falls due
    // sooner (it goes out late by at most that): a dead server is noticed whatever retry_interval is.
    static constexpr std::chrono::milliseconds long_wait_every{1'000};
    // The longest the thread sleeps otherwise: a call started while it sleeps has its deadline
    // and retransmissions kept within this much.
    static constexpr std::chrono::milliseconds slice{50};
    // A send that waits for room looks whether close() was called this often. Longer than the
    // queues' liveness interval, so that a blocked shm:// send still asks whether its peer lives.
    static constexpr std::chrono::milliseconds send_slice{250};

public:
    /// How a call ends: the reply's result (while the reply lives), or an error.
    using completion = std::function<void(const msgpack::object* result, const error& e)>;

    /// Connects and says hello; throws ipckit::error as connect() does.
    caller(std::string address, ipckit::rpc::client_options o)
        : address_(std::move(address)), options_(with_usable_net(std::move(o))) {
        hello_result r = say_hello(address_, options_.net, incarnation_, deadline_after(options_.reconnect_timeout));
        if (r.e != errc::ok) throw ipckit::error(r.e, "rpc::client: " + r.why);
        {
            std::lock_guard lock(m_);
            adopt(r);
        }
        thread_ = std::thread([this] { loop(); });
    }
    caller(const caller&) = delete;
    caller& operator=(const caller&) = delete;
    /// Closes (see close()). On the I/O thread itself (a completion held the client's last
    /// reference) it cannot wait for that thread: see the top.
    ~caller() {
        if (!on_io_thread()) {
            close();
            return;
        }
        std::vector<finished> out;
        {
            std::lock_guard lock(m_);
            closing_ = true;
            sync_->gone = true;  // the loop returns once this completion does, touching nothing here
            end_all(out);
        }
        send_turn_.close();
        cv_.notify_all();
        thread_.detach();
        for (auto& f : out) f.done(nullptr, f.e);
    }

    /// The next call's sequence number. Its msgid (low 32 bits) is never 0, the hello's.
    std::uint64_t next_seq() noexcept {
        for (;;)
            if (const std::uint64_t s = seq_.fetch_add(1); static_cast<std::uint32_t>(s) != hello_msgid) return s;
    }
    [[nodiscard]] std::uint64_t incarnation() const noexcept { return incarnation_; }
    [[nodiscard]] std::uint64_t server_incarnation() const {
        std::lock_guard lock(m_);
        return server_incarnation_;
    }
    [[nodiscard]] std::size_t in_flight() const {
        std::lock_guard lock(m_);
        return pending_.size();
    }

    /// Starts a call whose request (packed with `seq`'s low 32 bits) is `request`; `done` is called once.
    void start(std::uint64_t seq, std::string method, std::vector<char> request, clock::time_point deadline,
               completion done) {
        std::unique_lock lock(m_);
        error failed;
        if (closing_) failed = {rerrc::closed, "the client was closed"};
        else if (request.size() > max_frame)
            failed = {rerrc::too_large, "the request to " + method + " is " + std::to_string(request.size()) +
                                            " bytes, more than a frame's " + std::to_string(max_frame) + "; it was not sent"};
        else if (pending_.size() >= options_.max_in_flight)
            failed = {rerrc::not_sent, std::to_string(pending_.size()) + " calls are in flight, the most client_options::"
                                                                          "max_in_flight allows; " + method + " was not sent"};
        else if (!pending_.empty() && seq > pending_.begin()->first && seq - pending_.begin()->first >= msgid_reach)
            failed = {rerrc::not_sent, pending_.begin()->second.method + " has been in flight while 2^31 later calls were "
                                       "started, and a msgid names a call only within 2^31 of the others; " + method +
                                       " was not sent (give that call a deadline)"};
        if (failed.code != rerrc::ok) {
            lock.unlock();
            done(nullptr, failed);
            return;
        }
        pending p;
        p.method = std::move(method);
        p.request = std::make_shared<const std::vector<char>>(std::move(request));
        p.deadline = deadline;
        p.idempotent = idempotent_.count(p.method) != 0;
        p.done = std::move(done);
        pending_.emplace(seq, std::move(p));
        cv_.notify_all();
        transmit(lock, seq, true);
    }

    /// Sends a notification now: ok, or not_sent.
    error notify(const std::vector<char>& message) {
        std::shared_ptr<connection<frame>> c;
        {
            std::lock_guard lock(m_);
            if (closing_) return {rerrc::closed, "the client was closed"};
            if (message.size() > max_frame) return {rerrc::too_large, "the notification is larger than a frame"};
            if (!conn_) return {rerrc::not_sent, "not connected to " + address_};
            c = conn_;
        }
        const auto deadline = deadline_after(options_.reconnect_timeout);
        if (!send_turn_.take_until(deadline)) {
            if (send_turn_.closed()) return {rerrc::closed, "the client was closed"};
            return {rerrc::not_sent, "the notification could not be sent: other sends to " + address_ +
                                         " waited for room all the while (does the server read?)"};
        }
        const errc e = send_until(*c, std::as_bytes(std::span(message.data(), message.size())), deadline);
        send_turn_.give();
        if (e == errc::closed && send_turn_.closed()) return {rerrc::closed, "the client was closed"};
        if (e != errc::ok) return {rerrc::not_sent, std::string("the notification could not be sent: ") + ipckit::to_string(e)};
        return {};
    }

    /// Ends every call in flight with closed, and the thread; a send waiting for its turn or for
    /// room gives up (within send_slice). A reconnect attempt in progress is left to end on its own
    /// thread (see the top). Called from a completion (on the I/O thread), it returns at once, and
    /// the calls end once the completion has returned.
    void close() noexcept {
        {
            std::lock_guard lock(m_);
            closing_ = true;
        }
        send_turn_.close();
        cv_.notify_all();
        if (on_io_thread()) return;
        std::lock_guard lock(join_m_);  // two threads that close at once: one joins
        if (thread_.joinable()) thread_.join();
    }

private:
    [[nodiscard]] bool on_io_thread() const noexcept { return std::this_thread::get_id() == thread_.get_id(); }

    /// `bytes` sent on `c` by `deadline`, as c.send does (one try if it has passed), but one that
    /// waits for room looks every send_slice whether close() was called, and then ends: closed.
    errc send_until(connection<frame>& c, std::span<const std::byte> bytes, clock::time_point deadline) {
        for (;;) {
            if (send_turn_.closed()) return errc::closed;
            const auto until = std::min(deadline, clock::now() + send_slice);
            const auto s = c.send(bytes, until);
            if (s) return errc::ok;
            if (s.error() != errc::timed_out || until >= deadline) return s.error();
        }
    }

    struct pending {
        std::string method;
        std::shared_ptr<const std::vector<char>> request;  // shared with a send in progress
        clock::time_point deadline;
        clock::time_point next_send{};
        bool idempotent = false;
        bool sent = false;     // on some connection
        bool lost = false;     // the connection it was sent on ended
        bool sending = false;  // a thread is sending it now, without m_: it may have gone
        unsigned copies = 0;   // sends begun (counted before, as a reply may come before m_ again)
        completion done;
    };
    struct finished {
        completion done;
        std::shared_ptr<message> reply;  // a response: its result, or its error
        error e;
    };

    /// Sends (again) the call `seq`, if it is pending and connected and no other thread sends it
    /// now. `lock` holds m_, released during the send. `wait` (the caller's own thread): waits for
    /// its turn and for room until the call's deadline; else (the I/O thread) only tries. Marks the
    /// call sent if it went, and lost too if its connection ended meanwhile.
    void transmit(std::unique_lock<std::mutex>& lock, std::uint64_t seq, bool wait) {
        auto it = pending_.find(seq);
        if (it == pending_.end() || it->second.sending || !conn_) return;
        const auto c = conn_;
        const auto request = it->second.request;
        const auto deadline = wait ? it->second.deadline : clock::time_point{};  // past: one try
        it->second.sending = true;
        ++it->second.copies;
        lock.unlock();
        bool tried = false;
        bool went = false;
        if (wait ? send_turn_.take_until(deadline) : send_turn_.try_take()) {
            tried = true;
            went = send_until(*c, std::as_bytes(std::span(request->data(), request->size())), deadline) == errc::ok;
            send_turn_.give();
        }
        lock.lock();
        it = pending_.find(seq);  // only the I/O thread erases, and it may have ended the call meanwhile
        if (it == pending_.end()) return;
        it->second.sending = false;
        if (!tried) --it->second.copies;
        if (!went) {
            // No turn or no room now: the I/O thread tries again a slice from now, not on a wake
            // due at once (a call never sent goes on each wake, which is never past).
            if (it->second.sent) it->second.next_send = clock::now() + slice_;
            return;
        }
        it->second.sent = true;
        it->second.lost = c != conn_;
        it->second.next_send = deadline_after(options_.retry_interval);
    }

    /// Sends again what had no reply for retry_interval, and what never went; `lock` holds m_.
    void resend_due(std::unique_lock<std::mutex>& lock) {
        const auto t = clock::now();
        std::vector<std::uint64_t> due;  // transmit() lets go of m_: gather first
        for (auto& [seq, p] : pending_)
            if (!p.sent || p.next_send <= t) due.push_back(seq);
        for (const std::uint64_t seq : due) transmit(lock, seq, false);
    }

    /// The pending call whose msgid is `msgid`, or end(): the one within msgid_reach of the oldest.
    std::map<std::uint64_t, pending>::iterator find_msgid(std::uint32_t msgid) {
        if (pending_.empty()) return pending_.end();
        const std::uint64_t oldest = pending_.begin()->first;
        const std::uint64_t ahead = static_cast<std::uint32_t>(msgid - static_cast<std::uint32_t>(oldest));  // mod 2^32
        return ahead < msgid_reach ? pending_.find(oldest + ahead) : pending_.end();
    }

    void end(std::map<std::uint64_t, pending>::iterator it, error e, std::vector<finished>& out) {
        out.push_back({std::move(it->second.done), nullptr, std::move(e)});
        pending_.erase(it);
    }

    /// What a connect and hello came to: the connection and what the server said, or why not.
    struct hello_result {
        errc e = errc::ok;
        std::string why;
        std::shared_ptr<connection<frame>> conn;
        std::uint64_t incarnation = 0;  // the server's
        std::set<std::string> idempotent;
    };
    /// A reconnect attempt's outcome, shared with its thread; `done` and `result` under m_.
    struct attempt {
        bool done = false;
        hello_result result;
    };
    struct shared_sync {
        std::mutex m;
        std::condition_variable cv;
        bool gone = false;  // under m: the caller was destroyed on its I/O thread (see the top)
    };

    /// Connects to `address` and says hello as client `incarnation`, by `deadline`. Touches no
    /// member: a reconnect attempt runs it on a thread of its own.
    static hello_result say_hello(const std::string& address, const ipckit::net_options& net, std::uint64_t incarnation,
                                  clock::time_point deadline) {
        hello_result out;
        const auto fail = [&out](errc e, std::string why) {
            out.e = e;
            out.why = std::move(why);
            return std::move(out);
        };
        try {
            auto c = std::make_shared<connection<frame>>(ipckit::connect<frame>(address, deadline, net));
            msgpack::sbuffer hello;
            pack_request(hello, hello_msgid, hello_method, incarnation);
            if (auto s = c->send(std::as_bytes(std::span(hello.data(), hello.size())), deadline); !s)
                return fail(s.error(), "saying hello to " + address + ": " + ipckit::to_string(s.error()));
            for (;;) {
                auto r = c->receive(deadline);
                if (!r) return fail(r.error(), "waiting for " + address + "'s hello: " + ipckit::to_string(r.error()));
                std::string why;
                auto m = parse(r->data(), r->size(), why);
                if (!m) return fail(errc::corrupt, address + " answered hello with a malformed frame: " + why);
                if (m->type != kind::response || m->msgid != hello_msgid) continue;  // a late reply
                if (m->error.type == msgpack::type::NIL && m->result.type == msgpack::type::MAP) {
                    // a server in another language answers with an error: no incarnation, nothing idempotent
                    try {
                        const auto fields = m->result.as<std::map<std::string, msgpack::object>>();
                        if (auto i = fields.find("incarnation"); i != fields.end()) out.incarnation = i->second.as<std::uint64_t>();
                        if (auto i = fields.find("idempotent"); i != fields.end())
                            for (auto& n : i->second.as<std::vector<std::string>>()) out.idempotent.insert(std::move(n));
                    } catch (const std::exception& e) {
                        return fail(errc::corrupt, address + "'s hello is malformed: " + e.what());
                    }
                }
                out.conn = std::move(c);
                return out;
            }
        } catch (const ipckit::error& e) {
            return fail(e.reason(), e.what());
        } catch (const std::exception& e) {
            return fail(errc::system_error, e.what());
        }
    }

    /// Under m_: takes the connection of a hello that succeeded, and what the server said.
    void adopt(hello_result& r) {
        conn_ = std::move(r.conn);
        previous_incarnation_ = server_incarnation_;
        server_incarnation_ = r.incarnation;
        idempotent_ = std::move(r.idempotent);
        long_wait_due_ = clock::now() + long_wait_every;  // its hello: it lives
    }

    /// Under m_: starts a reconnect attempt, by `until`, on a thread of its own (see the top).
    void start_attempt(clock::time_point until) {
        auto a = std::make_shared<attempt>();
        try {
            std::thread([a, sync = sync_, address = address_, net = options_.net, inc = incarnation_, until] {
                hello_result r = say_hello(address, net, inc, until);
                {
                    std::lock_guard lock(sync->m);
                    a->result = std::move(r);
                    a->done = true;
                }
                sync->cv.notify_all();
            }).detach();
        } catch (const std::system_error& e) {
            a->result.e = errc::system_error;
            a->result.why = std::string("no thread to reconnect on: ") + e.what();
            a->done = true;
        }
        attempt_ = std::move(a);
    }

    void loop() {
        const std::shared_ptr<shared_sync> sync = sync_;  // outlives a caller destroyed by a completion
        std::vector<finished> out;
        std::unique_lock lock(sync->m);
        // Runs the completions in `out` without m_: false if one destroyed the caller, which the
        // loop must then leave untouched (see the top). Touches nothing of the caller's.
        const auto run_out = [&out, &lock, &sync] {
            if (out.empty()) return true;
            {
                auto batch = std::move(out);
                out.clear();
                lock.unlock();
                for (auto& f : batch) f.done(f.reply ? &f.reply->result : nullptr, f.e);
            }  // the batch goes before m_ is taken again: a completion may own the client
            lock.lock();
            return !sync->gone;
        };
        while (!closing_) {
            if (!run_out()) return;
            if (closing_) break;
            const auto now = clock::now();
            for (auto it = pending_.begin(); it != pending_.end();) {
                auto next = std::next(it);
                if (it->second.deadline <= now) {
                    if (!it->second.sent) {
                        // A first send in progress (sending) says whether it went, by the same
                        // deadline: the call ends at the next look after, sent or not_sent.
                        if (!it->second.sending)
                            end(it, {rerrc::not_sent, it->second.method + " was not sent by its deadline: " +
                                                          (conn_ ? "the connection to " + address_ +
                                                                       " had no room (does the server read?)"
                                                                 : "reconnecting to " + address_ + " had not succeeded") +
                                                          "; it did not run"},
                                out);
                    } else if (it->second.lost)
                        end(it, {rerrc::peer_dead, "the connection to " + address_ + " ended after " + it->second.method +
                                                       " was sent, and no reply came by the deadline; it may or may not have run"},
                            out);
                    else
                        end(it, {rerrc::timed_out, it->second.method + ": no reply from " + address_ +
                                                       " by the deadline; it may or may not have run"},
                            out);
                }
                it = next;
            }
            if (!out.empty()) continue;
            if (!conn_) {
                reconnect(lock, out);
                continue;
            }
            // A call started meanwhile cannot wake the receive below: sleep in short slices.
            const bool long_wait = !pending_.empty() && now >= long_wait_due_;
            auto wake = now + (long_wait ? poll : slice_);
            for (const auto& [seq, p] : pending_) {
                if (p.deadline > now || !p.sending) wake = std::min(wake, p.deadline);  // else: a slice
                if (p.sent && !long_wait) wake = std::min(wake, p.next_send);
            }
            auto c = conn_;
            lock.unlock();
            auto r = c->receive(wake);
            lock.lock();
            if (r || clock::now() - now >= poll) long_wait_due_ = now + long_wait_every;  // a frame: it lives
            if (r) {
                std::string why;
                auto m = parse(r->data(), r->size(), why);
                if (m && m->type != kind::response) why = "it sent a request to the client";
                if (!m || m->type != kind::response) {
                    drop(lock, rerrc::corrupt, address_ + " sent a frame that is not a MessagePack-RPC response (" + why +
                                                   "); the connection was dropped",
                         out);
                    continue;
                }
                const auto it = find_msgid(m->msgid);
                if (it == pending_.end()) {  // late: its call already ended
                    resend_due(lock);
                    continue;
                }
                auto msg = std::make_shared<message>(std::move(*m));
                error e;
                if (msg->error.type != msgpack::type::NIL) e = read_failure(msg->error);
                if (e.code == rerrc::expired && it->second.copies == 1 && renumber(it)) {
                    resend_due(lock);
                    continue;
                }
                out.push_back({std::move(it->second.done), e.code == rerrc::ok ? msg : nullptr, std::move(e)});
                pending_.erase(it);
                resend_due(lock);
            } else if (r.error() == errc::timed_out) {
                resend_due(lock);
            } else {
                conn_.reset();
                for (auto& [seq, p] : pending_)
                    if (p.sent) p.lost = true;
            }
        }
        end_all(out);
        if (!run_out()) return;  // the calls end before the connection's orderly close, which may wait
        auto c = std::move(conn_);
        lock.unlock();
        c.reset();  // up to net_options::close_timeout for what a server that does not read left unsent
    }

    /// Under m_: ends every pending call with closed.
    void end_all(std::vector<finished>& out) {
        for (auto it = pending_.begin(); it != pending_.end();) {
            auto next = std::next(it);
            end(it, {rerrc::closed, "the client was closed before " + it->second.method + " had a reply"}, out);
            it = next;
        }
    }

    /// Gives a pending call a new sequence number, to be sent as never sent: for one whose only
    /// copy the server refused as expired, which it did not run. False (nothing changed) if
    /// the new number would be 2^31 or more past the oldest pending call (see the top).
    bool renumber(std::map<std::uint64_t, pending>::iterator it) {
        const std::uint64_t seq = next_seq();
        auto first = pending_.begin();  // the oldest of the others
        if (first == it) ++first;
        const std::uint64_t oldest = first == pending_.end() ? seq : first->first;
        auto request = with_msgid(*it->second.request, static_cast<std::uint32_t>(seq));
        if (seq - oldest >= msgid_reach || !request) return false;
        pending p = std::move(it->second);
        pending_.erase(it);  // a send of it in progress finds it gone (transmit)
        p.request = std::make_shared<const std::vector<char>>(std::move(*request));
        p.sent = p.lost = p.sending = false;
        p.copies = 0;
        pending_.emplace(seq, std::move(p));
        return true;
    }

    /// A corrupt peer: the connection goes, and every call sent on it ends with `code`.
    void drop(std::unique_lock<std::mutex>&, rerrc code, const std::string& why, std::vector<finished>& out) {
        conn_.reset();
        for (auto it = pending_.begin(); it != pending_.end();) {
            auto next = std::next(it);
            if (it->second.sent) end(it, {code, why}, out);
            it = next;
        }
    }

    /// Under m_ with no connection: waits for work, or for a reconnect attempt, which it starts
    /// when due; once one has ended, applies the rules.
    void reconnect(std::unique_lock<std::mutex>& lock, std::vector<finished>& out) {
        const auto now = clock::now();
        auto earliest = clock::time_point::max();
        for (const auto& [seq, p] : pending_)  // one past its deadline and still sending says how it went: a slice
            earliest = std::min(earliest, p.deadline > now || !p.sending ? p.deadline : now + slice_);
        if (attempt_ && !attempt_->done) {  // its thread wakes us when it ends, as a new call or close() does
            cv_.wait_until(lock, earliest);
            return;
        }
        if (!attempt_) {
            if (pending_.empty())
                cv_.wait(lock, [&] { return closing_ || !pending_.empty(); });
            else if (now < next_connect_)
                cv_.wait_until(lock, std::min(next_connect_, earliest));
            else  // by its own timeout, not the earliest call's: a short call must not cut a long one short
                start_attempt(deadline_after(options_.reconnect_timeout));
            return;
        }
        hello_result r = std::move(attempt_->result);
        attempt_.reset();
        if (r.e != errc::ok) {
            const std::string& why = r.why;
            next_connect_ = clock::now() + std::min<std::chrono::milliseconds>(options_.retry_interval, poll);
            for (auto it = pending_.begin(); it != pending_.end();) {
                auto next = std::next(it);
                auto& p = it->second;
                if (!p.sent && !p.sending)
                    end(it, {rerrc::not_sent, "could not reach " + address_ + " (" + why + "); " + p.method + " was not sent"}, out);
                else if (!p.idempotent)
                    end(it, {rerrc::peer_dead, "the connection to " + address_ + " ended after " + p.method +
                                                   " was sent, and reconnecting failed (" + why + "); it may or may not have run"},
                        out);
                it = next;
            }
            return;
        }
        adopt(r);
        const bool restarted = server_incarnation_ == 0 || server_incarnation_ != previous_incarnation_;
        std::vector<std::uint64_t> again;
        for (auto it = pending_.begin(); it != pending_.end();) {
            auto next = std::next(it);
            auto& p = it->second;
            // Sent again to a new incarnation only if both it and the one before declared it
            // idempotent: the new one may be another version of the server.
            if ((p.lost || p.sending) && restarted && (!p.idempotent || idempotent_.count(p.method) == 0))
                end(it, {rerrc::peer_dead, "the server at " + address_ + " is a new incarnation (it restarted) after " +
                                               p.method + " was sent; it may or may not have run, and is not idempotent"},
                    out);
            else
                again.push_back(it->first);
            it = next;
        }
        for (const std::uint64_t seq : again) transmit(lock, seq, false);
    }

    const std::string address_;
    const ipckit::rpc::client_options options_;
    const std::uint64_t incarnation_ = new_incarnation();
    static constexpr std::uint64_t msgid_reach = std::uint64_t{1} << 31;  // calls in flight lie within it
    std::atomic<std::uint64_t> seq_{options_.first_sequence};

    const std::shared_ptr<shared_sync> sync_ = std::make_shared<shared_sync>();  // shared with a reconnect attempt
    std::mutex& m_ = sync_->m;
    std::condition_variable& cv_ = sync_->cv;
    send_turn<clock> send_turn_;  // one send at a time on the connection; never waited for with m_ held
    bool closing_ = false;
    std::shared_ptr<connection<frame>> conn_;
    std::uint64_t server_incarnation_ = 0;
    std::uint64_t previous_incarnation_ = 0;
    std::set<std::string> idempotent_;
    std::map<std::uint64_t, pending> pending_;
    std::shared_ptr<attempt> attempt_;  // the reconnect attempt running, or ended and not yet applied
    clock::time_point next_connect_{};
    clock::time_point long_wait_due_{};
    const std::chrono::milliseconds slice_ =
        std::clamp<std::chrono::milliseconds>(options_.retry_interval / 2, std::chrono::milliseconds(1), slice);
    std::mutex join_m_;  // close()'s join of thread_
    std::thread thread_;
};

}  // namespace ipckit::detail::rpc
