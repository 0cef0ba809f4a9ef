#pragma once
// Zero copy, one loan or view at a time: what every loan (room lent to write a message in
// place) and every view (a message lent to read in place) is made of, and the endpoint side
// that keeps track of the one it lent.
//
// A loan or view is a `lent`: a way back to what lent it, and what it holds there. Moving it
// moves what it holds; destroying it, or assigning over it, while it is open gives what it holds
// back unpublished, in the process that made it only: a forked child's copy of its parent's
// loan or view is forgotten there, for the slot or room it holds is its parent's (a view's
// slot given back from the child would be overwritten under the parent's reading; a loan
// abandoned there would undo the parent's claim). Its endpoint (`lending_endpoint`) keeps track
// of it wherever either moves, and ends it when it closes first (close() or destruction): a loan
// is abandoned, a view released, and the lent is then empty and touches nothing more, so it may
// outlive its endpoint and the segment. Where it goes back to decides the rest (its Ends):
//   - a queue of fixed-size messages lends through its endpoint (`lender`): the lent follows
//     it through a move, and its other verbs are in_use while it is out;
//   - a queue of bytes<Max> lends straight from its ring (detail/queue/bytes_endpoints.hpp),
//     which a move of the endpoint leaves where it is; its cursor says in_use meanwhile.

#include <ipckit/detail/endpoint/verbs.hpp>
#include <ipckit/detail/ring/cursor.hpp>
#include <ipckit/detail/sys/fork.hpp>
#include <ipckit/deadline.hpp>
#include <ipckit/error.hpp>
#include <ipckit/policy.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace ipckit::detail {

template <class Base, class Ends>
class lending_endpoint;

/// What a loan or a view holds: a pointer to what lent it (Ends::lender) and what it holds
/// there (Ends::held). Move-only; an empty one (default-constructed, moved from, ended) is
/// false. Open when destroyed or assigned over, it gives back what it holds unpublished:
/// Ends::give_back(lender, held); in a forked child, where the lender's is its parent's, it
/// only lets go (see the top of this file). The endpoint that lent it, once it keeps track of
/// it (lending_endpoint::keep), is told where it is after every move, and that it has none once
/// it ends or lets go. Restricted thread-safe: one thread at a time.
template <class Ends>
class lent {
    friend Ends;
    template <class, class>
    friend class lending_endpoint;

public:
    using lender_type = typename Ends::lender;
    using held_type = typename Ends::held;

    lent() noexcept = default;
    lent(lent&& o) noexcept
        : lender_(std::exchange(o.lender_, nullptr)), held_(o.held_), kept_(std::exchange(o.kept_, nullptr)),
          made_in_(o.made_in_) {
        follow();
    }
    lent& operator=(lent&& o) noexcept {
        if (this != &o) {
            give_back();
            lender_ = std::exchange(o.lender_, nullptr);
            held_ = o.held_;
            kept_ = std::exchange(o.kept_, nullptr);
            made_in_ = o.made_in_;
            follow();
        }
        return *this;
    }
    lent(const lent&) = delete;
    lent& operator=(const lent&) = delete;
    ~lent() { give_back(); }

    /// Whether it is still open.
    explicit operator bool() const noexcept { return lender_ != nullptr; }

protected:
    lent(lender_type* l, held_type h) noexcept : lender_(l), held_(h) {}

    /// Gives back what it holds, unpublished, if it is open: what destruction does. In a
    /// forked child it only lets go.
    void give_back() noexcept {
        if (lender_ == nullptr) return;
        lender_type& l = *end();
        if (made_in_ == sys::fork_generation()) Ends::give_back(l, held_);
    }
    /// Ends it, and tells its endpoint it has none: what lent it, or nullptr if it was not
    /// open. The caller finishes with held_.
    lender_type* end() noexcept {
        if (lender_ != nullptr && kept_ != nullptr) *std::exchange(kept_, nullptr) = nullptr;
        return std::exchange(lender_, nullptr);
    }

    lender_type* lender_ = nullptr;
    held_type held_{};

private:
    void follow() noexcept {
        if (lender_ != nullptr && kept_ != nullptr) *kept_ = this;
    }

    lent** kept_ = nullptr;  ///< where its endpoint keeps track of it (lending_endpoint::out_); nullptr if none does
    std::uint32_t made_in_ = sys::fork_generation();  ///< the process that made it (sys/fork.hpp)
};

/// An endpoint (Base, a ring endpoint) that lends one loan or view at a time, a lent<Ends>, and
/// keeps track of it (keep) wherever either moves. When the endpoint closes (close() or
/// destruction) first, it ends it: gives it back through its Ends (a loan abandoned, a view
/// released) while its place is still held, so that nothing of it is published later, and the
/// lent touches nothing once its endpoint and the segment are gone. Where the lent's way back is
/// the endpoint itself (through_endpoint), it follows a move of the endpoint too.
template <class Base, class Ends>
class lending_endpoint : public Base {
public:
    lending_endpoint(lending_endpoint&& o) noexcept : Base(std::move(o)), out_(std::exchange(o.out_, nullptr)) {
        follow_me();
    }
    lending_endpoint& operator=(lending_endpoint&& o) noexcept {
        if (this != &o) {
            end_outstanding();
            Base::operator=(std::move(o));
            out_ = std::exchange(o.out_, nullptr);
            follow_me();
        }
        return *this;
    }
    ~lending_endpoint() { end_outstanding(); }

    /// Lets go now, as destruction would (endpoint_core::close); an outstanding loan is
    /// abandoned, an outstanding view released.
    void close() noexcept {
        end_outstanding();
        Base::close();
    }

protected:
    using Base::Base;

    /// Whether a loan or view of this endpoint is outstanding.
    [[nodiscard]] bool lent_out() const noexcept { return out_ != nullptr; }

    /// Keeps track of `l`, just lent by this endpoint, from now on. Only while none is
    /// outstanding (lent_out()).
    void keep(lent<Ends>& l) noexcept {
        l.kept_ = &out_;
        // g++ 12 takes this for a local's address left in the endpoint (-Wdangling-pointer): it
        // does not see that the lent clears it as it ends, and moves it along as it moves.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
        out_ = &l;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
    }
    /// Lends a `Lent` that holds nothing but its lent, (l, Ends::held{parts...}), made in place
    /// in the result and kept track of from now on. A lent made apart and moved in, or whose
    /// held is copied whole, goes through memory just stored in narrower pieces (its address is
    /// kept, so it lives in memory), and those store-forwarding stalls cost a byte ring's loan
    /// and view 10 to 15 ns each on the hot path. Only while none is outstanding (lent_out()).
    template <class Lent, class Lender, class... Parts>
    result<Lent> lend_in_place(Lender* l, const Parts&... parts) noexcept {
        using held = typename Ends::held;
        static_assert(sizeof(Lent) == sizeof(lent<Ends>),
                      "a Lent made in place carries nothing but its lent (a size of its own goes through "
                      "its constructor, and then keep())");
        static_assert(std::is_trivially_destructible_v<held>, "its held is made again over the empty one's");
        result<Lent> out;  // an empty Lent, in place
        lent<Ends>& made = *out;
        made.lender_ = l;
        ::new (static_cast<void*>(&made.held_)) held{parts...};
        keep(made);
        return out;
    }

private:
    /// After a move of this endpoint: the outstanding lent keeps track of it here now.
    void follow_me() noexcept {
        if (out_ == nullptr) return;
        out_->kept_ = &out_;
        if constexpr (std::is_base_of_v<lending_endpoint, typename Ends::lender>)
            out_->lender_ = static_cast<typename Ends::lender*>(this);
    }
    /// Ends the outstanding loan or view, if any, before this endpoint lets go of its place: gives
    /// it back, or where no place is left to give it back to, only ends it.
    void end_outstanding() noexcept {
        if (out_ == nullptr) return;
        if (this->shared_ != nullptr)
            out_->give_back();
        else
            (void)out_->end();
    }

    lent<Ends>* out_ = nullptr;  ///< the outstanding loan or view, wherever it has moved; nullptr if none
};

template <class Lender>
struct through_endpoint;

/// A lending_endpoint (over Base, a ring endpoint) that lends one slot at a time through itself,
/// as a ticket (a loan: ring_ticket<T>; a view: ring_ticket<const T>): its outstanding loan or
/// view follows it through a move of either, and is given back when it closes (close() or
/// destruction); while it is out, the endpoint's other verbs return in_use (lent_out()).
template <class Base, class Ticket>
class lender : public lending_endpoint<Base, through_endpoint<lender<Base, Ticket>>> {
    using ends = through_endpoint<lender>;
    using base = lending_endpoint<Base, ends>;
    friend ends;
    using ticket_type = Ticket;

protected:
    using base::base;

    /// Lends the next slot as a `Lent` (whose Ends are through_endpoint<lender>): `run` runs the
    /// claim as the endpoint's verb (waiting or not). in_use while one is outstanding. `more`
    /// follow the ticket into Lent's constructor, read once the claim is done (a record loan's
    /// size, a record view's checked length, which `run` may set).
    template <class Lent, class Run, class... More>
    result<Lent> lend(Run&& run, const More&... more) noexcept {
        return lend_by<Lent>([](auto& cursor, Ticket& t) { return cursor.try_claim(t); }, run, more...);
    }
    /// As lend, with the claim made by claim(cursor, ticket): a run of slots for a loan of
    /// several (try_claim_run).
    template <class Lent, class Claim, class Run, class... More>
    result<Lent> lend_by(Claim claim, Run&& run, const More&... more) noexcept {
        if (this->lent_out()) return unexpected(errc::in_use);
        Ticket t;
        const errc e = run([&t, &claim](auto& cursor) { return claim(cursor, t); });
        if (e != errc::ok) return unexpected(e);
        return lend_claimed<Lent>(t, more...);
    }

    /// Lends `t`, a slot this endpoint has claimed itself, as a `Lent` made of (this, t,
    /// extra...): for a loan or view that carries more than its ticket (record_lending.hpp: a
    /// loan's size, a view's checked length). Only while none is outstanding (lent_out()).
    template <class Lent, class... Extra>
    result<Lent> lend_claimed(const Ticket& t, Extra... extra) noexcept {
        mark_held(t);
        result<Lent> out = Lent(this, t, extra...);  // in its place before its address is kept
        this->keep(*out);
        return out;
    }
    /// As lend_claimed, into `into`, an empty Lent this endpoint keeps for itself.
    template <class Lent, class... Extra>
    void lend_claimed_into(Lent& into, const Ticket& t, Extra... extra) noexcept {
        mark_held(t);
        into = Lent(this, t, extra...);
        this->keep(into);
    }

private:
    /// A view's ticket points at a const slot.
    static constexpr bool views = std::is_const_v<std::remove_pointer_t<decltype(Ticket::slot)>>;

    /// A slot lent across calls, claimed by a cursor whose claim leaves no trace in shared
    /// memory, is marked there as held (hold): a view's (spsc_consumer::hold), so that a
    /// receiver killed holding it takes its message along, and the one in its place goes on
    /// after it rather than receive it twice; a loan's (spsc_producer::hold), so that a
    /// receiver that finds the queue closed waits for the message the loan is writing.
    void mark_held(const Ticket& t) noexcept {
        using cursor_type = std::remove_reference_t<decltype(this->cursor())>;
        using message_type = std::remove_const_t<std::remove_pointer_t<decltype(Ticket::slot)>>;
        if constexpr (views ? view_holding_consumer<cursor_type, message_type>
                            : loan_holding_producer<cursor_type, message_type>)
            this->cursor().hold(t);
    }

    /// Ends the outstanding loan (published or abandoned) or view (released), which has told
    /// this endpoint it is no longer out (lent::end), and wakes the other side: the slot is
    /// theirs now.
    void finish(const Ticket& t, bool publish) noexcept {
        if constexpr (views)
            this->cursor().release(t);
        else if (publish)
            this->cursor().commit(t);
        else
            this->cursor().abandon(t);  // receivers may be waiting on this position
        this->progress();
    }
    /// Ends the outstanding loan of several slots: its first m published, the rest given back
    /// (one index publication: the cursor's commit_run), and one wake for them all.
    void finish_run(const Ticket& t, std::uint64_t m) noexcept {
        this->cursor().commit_run(t, m);
        this->progress();
    }
    /// The slots of an outstanding loan of several, as the cursor lays them out.
    auto slots_of(const Ticket& t) noexcept { return this->cursor().slots_of(t); }
};

/// The Ends of a slot lent by a lender endpoint: it goes back through the endpoint, and follows
/// it through a move (lending_endpoint).
template <class Lender>
struct through_endpoint {
    using lender = Lender;
    using held = typename Lender::ticket_type;

    static void give_back(Lender& l, const held& t) noexcept { l.finish(t, false); }
    static void publish(Lender& l, const held& t) noexcept { l.finish(t, true); }
    static void publish_run(Lender& l, const held& t, std::uint64_t m) noexcept { l.finish_run(t, m); }
    static auto slots_of(Lender& l, const held& t) noexcept { return l.slots_of(t); }
};

/// The public loan verbs of a sender, as send_verbs are its send verbs (detail/endpoint/verbs.hpp):
/// a mixin over the one primitive its kind implements (and befriends this mixin for),
///
///     result<loan_type> Derived::lend_until(Size... n, clock::time_point deadline) noexcept
///
/// which lends room for a message (a fixed-size message's slot: no Size; n bytes of bytes<Max>:
/// Size = std::size_t), waiting as the kind waits until `deadline` (time_point::max(): none), or
/// one attempt (non_blocking).
///
///     loan(n...)               no deadline (blocking) or one attempt
///     loan(n..., D deadline)   blocking only: a steady_clock time point or a duration
///
/// What each returns is said where each kind names this mixin.
template <class Derived, mode_policy Mode, class... Size>
class loan_verbs {
public:
    auto loan(Size... n) noexcept { return derived().lend_until(n..., clock::time_point::max()); }
    template <deadline D>
    auto loan(Size... n, D deadline) noexcept {
        return derived().lend_until(n..., blocking_deadline<Mode>(deadline));
    }

private:
    Derived& derived() noexcept { return static_cast<Derived&>(*this); }
};

/// The public verbs of a sender that lends several slots at once, beside loan_verbs, over:
///
///     result<loans_type> Derived::lend_n_until(std::size_t n, clock::time_point deadline) noexcept
///
/// which lends up to n free slots side by side (at least one: it waits, or fails, as a loan of
/// one does).
///
///     loan_n(n)               no deadline (blocking) or one attempt
///     loan_n(n, D deadline)   blocking only
template <class Derived, mode_policy Mode>
class loan_n_verbs {
public:
    auto loan_n(std::size_t n) noexcept { return derived().lend_n_until(n, clock::time_point::max()); }
    template <deadline D>
    auto loan_n(std::size_t n, D deadline) noexcept {
        return derived().lend_n_until(n, blocking_deadline<Mode>(deadline));
    }

private:
    Derived& derived() noexcept { return static_cast<Derived&>(*this); }
};

/// The public view verbs of a receiver, over the one primitive its kind implements (and
/// befriends this mixin for):
///
///     result<view_type> Derived::view_until(clock::time_point deadline) noexcept
///
/// which lends the receiver's next message to read in place, waiting as the kind waits until
/// `deadline` (time_point::max(): none), or one attempt (non_blocking).
///
///     receive_view()             no deadline (blocking) or one attempt
///     receive_view(D deadline)   blocking only
template <class Derived, mode_policy Mode>
class view_verbs {
public:
    auto receive_view() noexcept { return derived().view_until(clock::time_point::max()); }
    template <deadline D>
    auto receive_view(D deadline) noexcept {
        return derived().view_until(blocking_deadline<Mode>(deadline));
    }

private:
    Derived& derived() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace ipckit::detail
