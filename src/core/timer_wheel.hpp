// A hierarchical timing wheel (Varghese & Lauck, "Hashed and Hierarchical Timing Wheels",
// SOSP '87) laid out as tokio lays it out: levels of 64 slots, one 64-bit occupancy bitmap
// per level. It is a plain data structure: it never reads a clock (the engine hands it
// `now`) and never allocates (hooks are embedded in the objects that own the timers: one
// per connection, armed at the earliest of the deadlines the connection keeps itself
// (connection.hpp), one per ARP resolution, one for the endpoint's TIME-WAIT records).
//
// Time inside the wheel is counted in ticks since `start`. A deadline is rounded UP to a
// tick and `now` DOWN, so a timer never fires early and fires at most one tick late
// (provided advance() is called that often).
//
// Ordering: advance() fires hooks in expiry-tick order; hooks due in the same tick fire in
// the order they were (last) armed.
//
// Arming inside a fire callback: a hook armed during advance(now) for a deadline <= now
// (including the hook being fired) fires at the start of the NEXT advance, never in the
// current one. That bounds the work of one advance to one firing per armed hook, however
// long the idle gap: a periodic timer that fell behind catches up one period per advance
// rather than looping. Hooks armed for later than `now` are placed as usual.
//
// The wheel is single-threaded, like the engine that owns it.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>

#include "tern/time.hpp"

namespace tern {

class timer_wheel;

// One timer, embedded in its owner. Its links belong to the wheel it is armed in (one wheel
// at a time). Destroying an armed hook is a bug: cancel it first. The fire callback gets
// the hook: an owner that derives from it casts it back (a connection's stream does: 8
// bytes less in each of millions), one that holds it as a member uses owned_timer_hook.
struct timer_hook {
    std::uint32_t kind = 0;  // owner-defined: which of the owner's timers this is

    timer_hook() = default;
    explicit timer_hook(std::uint32_t owner_kind) : kind(owner_kind) {}
    timer_hook(const timer_hook&) = delete;
    timer_hook& operator=(const timer_hook&) = delete;
    ~timer_hook() { assert(!armed() && "destroying an armed timer_hook: cancel it first"); }

    bool armed() const { return where_ != unarmed; }

private:
    friend class timer_wheel;
    static constexpr std::uint8_t unarmed = 0xff;

    // where_ and slot_ sit in the padding after kind: a hook is 40 bytes, not 48, in every
    // connection.
    std::uint8_t where_ = unarmed;  // a level (0..5) or one of the wheel's other lists
    std::uint8_t slot_ = 0;         // slot within the level
    timer_hook* prev_ = nullptr;
    timer_hook* next_ = nullptr;
    std::uint64_t when_ = 0;        // expiry, in ticks since the wheel's start (rounded up)
};

// A hook that names its owner, for the callback to find it.
struct owned_timer_hook : timer_hook {
    void* owner = nullptr;

    owned_timer_hook() = default;
    owned_timer_hook(void* owner_object, std::uint32_t owner_kind) : timer_hook(owner_kind), owner(owner_object) {}
    // The owner of a fired hook of a kind that only owned_timer_hooks have.
    template <class T>
    static T& owner_of(timer_hook& h) { return *static_cast<T*>(static_cast<owned_timer_hook&>(h).owner); }
};

class timer_wheel {
public:
    // tick: the resolution, e.g. 10us..1ms. start: the instant of tick 0 (the engine's now).
    timer_wheel(duration tick, instant start);
    // Disarms every hook still armed (without firing it), so owners may outlive the wheel.
    ~timer_wheel();
    // Hooks point into the lists: the wheel stays where it was built.
    timer_wheel(const timer_wheel&) = delete;
    timer_wheel& operator=(const timer_wheel&) = delete;

    // O(1). Re-arming an armed hook moves it. A deadline not after the wheel's current tick
    // fires on the next advance.
    void arm(timer_hook& hook, instant deadline);
    // Arms the hook for `deadline` unless it is armed for that tick or earlier already.
    // For an owner whose deadline moves later on almost every event (a retransmission
    // timer restarted by each ACK): the hook then fires early, and its owner, which checks
    // what is due when it fires, arms it again. One early firing per timeout beats moving
    // the hook on every segment.
    void arm_no_later(timer_hook& hook, instant deadline) {
        if (!hook.armed() || hook.when_ > ticks_ceil(deadline)) arm(hook, deadline);
    }
    // O(1); no-op if the hook is not armed.
    void cancel(timer_hook& hook);

    // Fires, as fire(timer_hook&), every hook whose deadline is <= now; returns how many.
    // A hook is disarmed before its callback runs; the callback may arm or cancel any hook
    // (see the header comment for hooks armed for <= now) but must not call advance() and
    // must not throw. A `now` earlier than a previous one is treated as no time passing.
    // Cost: one step per occupied slot on the way, never one per tick, so a long idle gap
    // is cheap; each hook moves down at most once per level (see `overflow_` for more).
    template <class F>
    std::size_t advance(instant now, F&& fire);

    // The earliest pending expiry, or nullopt if nothing is armed. Never later than the
    // true one: exact (to the tick) when the earliest hook is in level 0 (due within the
    // 64-tick-aligned block the wheel is in), else the start of the slot holding it.
    // Advancing to that instant moves the hook to a finer level and the answer sharpens, so
    // an engine sleeping on it wakes at most once per level before the timer fires.
    std::optional<instant> next_deadline() const;

    std::size_t size() const { return size_; }  // armed hooks
    duration tick() const { return duration(static_cast<std::int64_t>(tick_ns_)); }

private:
    struct hook_list {
        timer_hook* head = nullptr;
        timer_hook* tail = nullptr;
        bool empty() const { return head == nullptr; }
    };
    struct slot_ref {
        std::uint8_t where;    // a level, or overflow_list
        std::uint8_t slot;
        std::uint64_t start;   // first tick the slot covers
    };

    static constexpr unsigned slot_bits = 6;
    static constexpr unsigned slot_count = 1u << slot_bits;
    static constexpr unsigned level_count = 6;
    static constexpr unsigned range_bits = slot_bits * level_count;  // the levels span 2^36 ticks
    // Values of timer_hook::where_ besides a level.
    static constexpr std::uint8_t overflow_list = level_count;
    static constexpr std::uint8_t due_list = level_count + 1;
    static constexpr std::uint8_t firing_list = level_count + 2;
    static constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();

    static std::uint64_t span_ns(instant from, instant to);
    std::uint64_t ticks_ceil(instant t) const;
    std::uint64_t ticks_floor(instant t) const;
    instant at(std::uint64_t ticks) const;
    static unsigned level_for(std::uint64_t now, std::uint64_t when);

    hook_list& list_of(std::uint8_t where, std::uint8_t slot);
    void push(hook_list& list, timer_hook& hook, std::uint8_t where, std::uint8_t slot);
    void unlink(timer_hook& hook);
    void place(timer_hook& hook);
    void move_to_firing(hook_list& from);
    void disarm_all(hook_list& list);
    std::optional<slot_ref> earliest_slot() const;
    void cascade(hook_list& list);
    template <class F>
    std::size_t fire_all(hook_list& list, F& fire);
    template <class F>
    std::size_t expire(const slot_ref& ref, F& fire);

    std::uint64_t tick_ns_;
    instant start_;
    std::uint64_t last_tick_;      // the last tick an instant can name
    std::uint64_t now_ = 0;        // every hook in a level or in overflow_ has when_ > now_
    std::uint64_t due_until_ = 0;  // a hook armed with when_ <= this waits in due_
    std::uint64_t due_min_ = never;       // <= every when_ in due_
    std::uint64_t overflow_min_ = never;  // <= every when_ in overflow_
    std::size_t size_ = 0;
    bool advancing_ = false;

    // A hook at level L agrees with now_ on every bit of its expiry above bit 6(L+1) and
    // sits in slot (when >> 6L) & 63, which is after now_'s own slot at that level. So a
    // level's occupied slots never wrap around (its earliest is its lowest set bit), and
    // every hook at a lower level expires before any hook at a higher one.
    std::array<std::uint64_t, level_count> occupied_{};
    std::array<std::array<hook_list, slot_count>, level_count> levels_{};
    // Expiries 2^36 ticks or more past now_ (past 19 hours at a 1us tick). When now_ reaches
    // the 2^36-tick span holding overflow_min_, the whole list is placed again; what is
    // still too far stays. Rare in practice, so a plain list beats a seventh level.
    hook_list overflow_;
    hook_list due_;     // armed for a tick already reached; fired first by the next advance
    hook_list firing_;  // taken out of due_ or overflow_ by the advance in progress
};

// ---- inline definitions ----

inline timer_wheel::timer_wheel(duration tick, instant start)
    : tick_ns_(static_cast<std::uint64_t>(tick.count())),
      start_(start),
      last_tick_(span_ns(start, instant::max()) / tick_ns_) {
    assert(tick.count() > 0);
}

inline timer_wheel::~timer_wheel() {
    for (auto& level : levels_) {
        for (auto& list : level) disarm_all(list);
    }
    disarm_all(overflow_);
    disarm_all(due_);
    disarm_all(firing_);
}

inline void timer_wheel::disarm_all(hook_list& list) {
    for (timer_hook* h = list.head; h != nullptr;) {
        timer_hook* next = h->next_;
        h->prev_ = h->next_ = nullptr;
        h->where_ = timer_hook::unarmed;
        h = next;
    }
    list = {};
}

// Nanoseconds from `from` to `to` (to >= from); unsigned, so no span can overflow.
inline std::uint64_t timer_wheel::span_ns(instant from, instant to) {
    return static_cast<std::uint64_t>(to.time_since_epoch().count()) -
           static_cast<std::uint64_t>(from.time_since_epoch().count());
}

inline std::uint64_t timer_wheel::ticks_ceil(instant t) const {
    if (t <= start_) return 0;
    const std::uint64_t ns = span_ns(start_, t);
    return ns / tick_ns_ + (ns % tick_ns_ != 0);
}

inline std::uint64_t timer_wheel::ticks_floor(instant t) const {
    if (t <= start_) return 0;
    return span_ns(start_, t) / tick_ns_;
}

// The instant of a tick, saturating at the end of time.
inline instant timer_wheel::at(std::uint64_t ticks) const {
    if (ticks > last_tick_) return instant::max();
    const std::uint64_t ns =
        static_cast<std::uint64_t>(start_.time_since_epoch().count()) + ticks * tick_ns_;
    return instant(duration(static_cast<std::int64_t>(ns)));
}

// The level whose slots tell `when` apart from `now`: the one holding the highest bit in
// which they differ (bits 0..5 are level 0 even when equal).
inline unsigned timer_wheel::level_for(std::uint64_t now, std::uint64_t when) {
    const std::uint64_t differ = (now ^ when) | (slot_count - 1);
    return static_cast<unsigned>(std::bit_width(differ) - 1) / slot_bits;
}

inline timer_wheel::hook_list& timer_wheel::list_of(std::uint8_t where, std::uint8_t slot) {
    if (where < level_count) return levels_[where][slot];
    if (where == overflow_list) return overflow_;
    if (where == due_list) return due_;
    assert(where == firing_list);
    return firing_;
}

inline void timer_wheel::push(hook_list& list, timer_hook& hook, std::uint8_t where,
                              std::uint8_t slot) {
    hook.where_ = where;
    hook.slot_ = slot;
    hook.next_ = nullptr;
    hook.prev_ = list.tail;
    (list.tail != nullptr ? list.tail->next_ : list.head) = &hook;
    list.tail = &hook;
}

inline void timer_wheel::unlink(timer_hook& hook) {
    hook_list& list = list_of(hook.where_, hook.slot_);
    (hook.prev_ != nullptr ? hook.prev_->next_ : list.head) = hook.next_;
    (hook.next_ != nullptr ? hook.next_->prev_ : list.tail) = hook.prev_;
    if (list.empty()) {
        if (hook.where_ < level_count) occupied_[hook.where_] &= ~(std::uint64_t{1} << hook.slot_);
        // Keep the minima exact when their list empties; otherwise they stay lower bounds.
        if (hook.where_ == overflow_list) overflow_min_ = never;
        if (hook.where_ == due_list) due_min_ = never;
    }
    hook.prev_ = hook.next_ = nullptr;
    hook.where_ = timer_hook::unarmed;
}

// Puts a hook due after now_ into its level, or into overflow_ when it is out of range.
inline void timer_wheel::place(timer_hook& hook) {
    assert(hook.when_ > now_);
    const unsigned level = level_for(now_, hook.when_);
    if (level >= level_count) {
        push(overflow_, hook, overflow_list, 0);
        overflow_min_ = std::min(overflow_min_, hook.when_);
        return;
    }
    const auto slot = static_cast<std::uint8_t>((hook.when_ >> (level * slot_bits)) & (slot_count - 1));
    push(levels_[level][slot], hook, static_cast<std::uint8_t>(level), slot);
    occupied_[level] |= std::uint64_t{1} << slot;
}

inline void timer_wheel::arm(timer_hook& hook, instant deadline) {
    if (hook.armed()) {
        unlink(hook);
    } else {
        ++size_;
    }
    hook.when_ = ticks_ceil(deadline);
    if (hook.when_ <= due_until_) {
        push(due_, hook, due_list, 0);
        due_min_ = std::min(due_min_, hook.when_);
        return;
    }
    place(hook);
}

inline void timer_wheel::cancel(timer_hook& hook) {
    if (!hook.armed()) return;
    unlink(hook);
    --size_;
}

// Moves a whole list to firing_, relabelling its hooks so callbacks can still cancel them.
inline void timer_wheel::move_to_firing(hook_list& from) {
    assert(firing_.empty());
    for (timer_hook* h = from.head; h != nullptr; h = h->next_) h->where_ = firing_list;
    firing_ = from;
    from = {};
}

// The first slot to expire: the lowest occupied slot of the lowest occupied level, else the
// start of the 2^36-tick span holding the earliest overflow hook.
inline std::optional<timer_wheel::slot_ref> timer_wheel::earliest_slot() const {
    for (unsigned level = 0; level < level_count; ++level) {
        if (occupied_[level] == 0) continue;
        const unsigned slot = static_cast<unsigned>(std::countr_zero(occupied_[level]));
        const unsigned shift = level * slot_bits;
        const std::uint64_t level_base = now_ & ~((std::uint64_t{1} << (shift + slot_bits)) - 1);
        return slot_ref{static_cast<std::uint8_t>(level), static_cast<std::uint8_t>(slot),
                        level_base | (std::uint64_t{slot} << shift)};
    }
    if (!overflow_.empty()) {
        const std::uint64_t span_base = overflow_min_ & ~((std::uint64_t{1} << range_bits) - 1);
        return slot_ref{overflow_list, 0, span_base};
    }
    return std::nullopt;
}

inline std::optional<instant> timer_wheel::next_deadline() const {
    if (!due_.empty()) return at(due_min_);
    const auto ref = earliest_slot();
    if (!ref) return std::nullopt;
    if (ref->where == overflow_list) return at(overflow_min_);
    return at(ref->start);
}

// Moves every hook of `list` not due at now_ to its finer place, leaving the due ones.
// Done before any callback runs, so hooks the callbacks arm for the same tick queue
// behind the ones armed earlier.
inline void timer_wheel::cascade(hook_list& list) {
    for (timer_hook* h = list.head; h != nullptr;) {
        timer_hook* next = h->next_;
        if (h->when_ > now_) {
            unlink(*h);
            place(*h);
        }
        h = next;
    }
}

// Fires the hooks left in `list` one at a time, so a callback may cancel the ones after it.
template <class F>
std::size_t timer_wheel::fire_all(hook_list& list, F& fire) {
    std::size_t fired = 0;
    while (timer_hook* h = list.head) {
        unlink(*h);
        --size_;
        ++fired;
        fire(*h);
    }
    return fired;
}

// Handles the slot that begins at now_: cascades what is not yet due, fires the rest.
template <class F>
std::size_t timer_wheel::expire(const slot_ref& ref, F& fire) {
    if (ref.where != overflow_list) {
        hook_list& list = levels_[ref.where][ref.slot];
        // A level-0 slot is one tick: all of it is due. Higher levels place into finer
        // levels only, never back into `list`.
        if (ref.where > 0) cascade(list);
        return fire_all(list, fire);
    }
    // Placing again may put hooks back into overflow_, so take the list out first.
    overflow_min_ = never;
    move_to_firing(overflow_);
    cascade(firing_);
    return fire_all(firing_, fire);
}

template <class F>
std::size_t timer_wheel::advance(instant now, F&& fire) {
    assert(!advancing_ && "advance() called from a fire callback");
    advancing_ = true;
    const std::uint64_t target = std::max(ticks_floor(now), now_);
    due_until_ = target;  // hooks armed by callbacks for <= now wait for the next advance

    // Hooks armed late since the last advance are due before anything in the levels.
    due_min_ = never;
    move_to_firing(due_);
    std::size_t fired = fire_all(firing_, fire);

    while (const auto ref = earliest_slot()) {
        if (ref->start > target) break;
        now_ = ref->start;
        fired += expire(*ref, fire);
    }
    now_ = target;
    advancing_ = false;
    return fired;
}

} // namespace tern
