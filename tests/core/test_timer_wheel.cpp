// The timer wheel on its own: ordering, rounding, cancel and re-arm (also from callbacks),
// past and far-future deadlines, next_deadline(). Randomized tests are in
// test_timer_wheel_random.cpp.
#include "core/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <random>
#include <utility>
#include <vector>

namespace tern {
namespace {

constexpr duration tick = 10us;
// Not zero and not a multiple of the tick, so rounding is measured from the wheel's start.
const instant t0 = instant{} + 1h + 3us;

instant at_tick(std::uint64_t n) { return t0 + n * tick; }

class wheel_test : public ::testing::Test {
protected:
    wheel_test() {
        for (std::uint32_t i = 0; i < hooks.size(); ++i) {
            hooks[i].owner = this;
            hooks[i].kind = i;
        }
    }

    // Advances to `now`, recording each fired hook's kind, then calling on_fire if set.
    std::size_t run(instant now) {
        return wheel.advance(now, [&](timer_hook& h) {
            EXPECT_EQ(static_cast<owned_timer_hook&>(h).owner, this);
            EXPECT_FALSE(h.armed());
            fired.push_back(h.kind);
            if (on_fire) on_fire(h);
        });
    }

    std::vector<std::uint32_t> take_fired() { return std::exchange(fired, {}); }

    std::array<owned_timer_hook, 16> hooks;
    timer_wheel wheel{tick, t0};  // declared after the hooks: destroyed first, disarming them
    std::vector<std::uint32_t> fired;
    std::function<void(timer_hook&)> on_fire;
};

using ids = std::vector<std::uint32_t>;

TEST_F(wheel_test, empty_wheel) {
    EXPECT_EQ(wheel.size(), 0u);
    EXPECT_EQ(wheel.tick(), tick);
    EXPECT_FALSE(wheel.next_deadline());
    EXPECT_EQ(run(t0 + 1h), 0u);
    EXPECT_FALSE(wheel.next_deadline());
}

TEST_F(wheel_test, arm_and_cancel_count_armed_hooks) {
    wheel.arm(hooks[0], t0 + 1ms);
    wheel.arm(hooks[1], t0 + 2ms);
    EXPECT_TRUE(hooks[0].armed());
    EXPECT_EQ(wheel.size(), 2u);
    wheel.arm(hooks[0], t0 + 3ms);  // re-arming moves, does not add
    EXPECT_EQ(wheel.size(), 2u);
    wheel.cancel(hooks[0]);
    EXPECT_FALSE(hooks[0].armed());
    EXPECT_EQ(wheel.size(), 1u);
    wheel.cancel(hooks[0]);  // not armed: no-op
    EXPECT_EQ(wheel.size(), 1u);
    EXPECT_EQ(run(t0 + 2ms), 1u);
    EXPECT_EQ(wheel.size(), 0u);
    EXPECT_FALSE(hooks[1].armed());
}

// arm_no_later moves a hook only earlier: a later deadline leaves it where it is (it
// fires early, and its owner arms it again), an earlier one moves it, an unarmed one arms.
TEST_F(wheel_test, arm_no_later_only_moves_a_hook_earlier) {
    wheel.arm_no_later(hooks[0], t0 + 3ms); // unarmed: armed
    EXPECT_TRUE(hooks[0].armed());
    wheel.arm_no_later(hooks[0], t0 + 5ms); // later: stays at 3 ms
    EXPECT_EQ(run(t0 + 3ms), 1u);
    EXPECT_EQ(take_fired(), (ids{0}));
    wheel.arm_no_later(hooks[1], t0 + 9ms);
    wheel.arm_no_later(hooks[1], t0 + 6ms); // earlier: moves
    EXPECT_EQ(run(t0 + 6ms), 1u);
    EXPECT_EQ(take_fired(), (ids{1}));
    EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(wheel_test, fires_in_deadline_order) {
    // Spread over several levels, armed out of order.
    const std::array<duration, 8> after = {5s, 30us, 700ms, 10us, 2min, 1ms, 40ms, 20us};
    for (std::uint32_t i = 0; i < after.size(); ++i) wheel.arm(hooks[i], t0 + after[i]);
    EXPECT_EQ(run(t0 + 1h), 8u);
    EXPECT_EQ(take_fired(), (ids{3, 7, 1, 5, 6, 2, 0, 4}));
}

TEST_F(wheel_test, same_tick_fires_in_arm_order) {
    // 3 and 1 share tick 2 with 0 (t0 + 11us rounds up to it); 2 is re-armed last.
    wheel.arm(hooks[2], at_tick(2));
    wheel.arm(hooks[3], at_tick(2));
    wheel.arm(hooks[0], t0 + 11us);
    wheel.arm(hooks[1], at_tick(2));
    wheel.arm(hooks[2], at_tick(2));
    EXPECT_EQ(run(at_tick(2)), 4u);
    EXPECT_EQ(take_fired(), (ids{3, 0, 1, 2}));
}

TEST_F(wheel_test, same_tick_arm_order_survives_cascading) {
    // 0 is armed far ahead (a coarse level), 1 for the same tick once it is near (level 0).
    const instant deadline = at_tick(5000);
    wheel.arm(hooks[0], deadline);
    run(at_tick(4990));
    wheel.arm(hooks[1], deadline);
    run(deadline);
    EXPECT_EQ(take_fired(), (ids{0, 1}));
}

TEST_F(wheel_test, same_tick_arm_order_holds_for_hooks_armed_by_callbacks) {
    // 0 and 1 share the level-1 slot [64, 128). Advancing to tick 70 fires 0 (tick 64),
    // whose callback arms 2 for tick 100, the tick of 1, which was armed long before.
    wheel.arm(hooks[0], at_tick(64));
    wheel.arm(hooks[1], at_tick(100));
    on_fire = [&](timer_hook& h) {
        if (h.kind == 0) wheel.arm(hooks[2], at_tick(100));
    };
    run(at_tick(70));
    run(at_tick(100));
    EXPECT_EQ(take_fired(), (ids{0, 1, 2}));
}

TEST_F(wheel_test, never_early_deadline_rounds_up_to_the_tick) {
    wheel.arm(hooks[0], t0 + 25us);  // between ticks 2 and 3
    wheel.arm(hooks[1], at_tick(3));  // on tick 3 exactly
    run(t0 + 25us - 1ns);
    run(t0 + 25us);  // due now, but the tick has not come: rounding is never early
    run(at_tick(3) - 1ns);
    EXPECT_TRUE(fired.empty());
    run(at_tick(3));
    EXPECT_EQ(take_fired(), (ids{0, 1}));
}

TEST_F(wheel_test, fires_at_most_one_tick_late) {
    std::mt19937_64 rng(7);
    std::vector<instant> deadline(hooks.size());
    for (std::uint32_t i = 0; i < hooks.size(); ++i) {
        deadline[i] = t0 + duration(std::uniform_int_distribution<std::int64_t>(1, 2'000'000)(rng));
        wheel.arm(hooks[i], deadline[i]);
    }
    instant before = t0;
    for (instant now = t0; wheel.size() > 0;) {
        now += duration(std::uniform_int_distribution<std::int64_t>(1, 25'000)(rng));
        run(now);
        for (std::uint32_t id : take_fired()) {
            EXPECT_LE(deadline[id], now) << id;             // never early
            EXPECT_LT(before, deadline[id] + tick) << id;   // not owed by the previous advance
        }
        before = now;
    }
}

TEST_F(wheel_test, cancel_before_fire) {
    wheel.arm(hooks[0], t0 + 1ms);
    wheel.arm(hooks[1], t0 + 10s);  // a coarse level
    wheel.cancel(hooks[0]);
    wheel.cancel(hooks[1]);
    EXPECT_EQ(run(t0 + 1h), 0u);
    EXPECT_FALSE(wheel.next_deadline());
}

TEST_F(wheel_test, cancel_one_of_many_in_a_slot) {
    for (auto& h : hooks) wheel.arm(h, t0 + 1ms);
    wheel.cancel(hooks[0]);   // head
    wheel.cancel(hooks[15]);  // tail
    wheel.cancel(hooks[7]);   // middle
    EXPECT_EQ(wheel.size(), 13u);
    EXPECT_EQ(run(t0 + 1ms), 13u);
    EXPECT_EQ(take_fired(), (ids{1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14}));
}

// Hook 0 fires first and cancels hook 1, which the same advance would fire later; the
// parameter is hook 1's deadline in ticks, hook 0's is tick 64 (a level-1 slot start).
class cancel_in_callback : public wheel_test, public ::testing::WithParamInterface<std::uint64_t> {};

TEST_P(cancel_in_callback, cancelled_hook_does_not_fire) {
    wheel.arm(hooks[0], at_tick(64));
    wheel.arm(hooks[1], at_tick(GetParam()));
    wheel.arm(hooks[2], at_tick(GetParam()));  // a neighbour that must still fire
    on_fire = [&](timer_hook& h) {
        if (h.kind == 0) wheel.cancel(hooks[1]);
    };
    EXPECT_EQ(run(at_tick(100'000)), 2u);
    EXPECT_EQ(take_fired(), (ids{0, 2}));
    EXPECT_EQ(wheel.size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    timer_wheel, cancel_in_callback,
    ::testing::Values(64,      // same tick: in the list being fired
                      65,      // same level-1 slot, moved to level 0 before firing
                      127,     // end of that slot
                      128,     // next level-1 slot
                      5000,    // level 2
                      99'999)  // last tick of the advance
);

TEST_F(wheel_test, hook_is_disarmed_in_its_own_callback) {
    wheel.arm(hooks[0], t0 + 1ms);
    on_fire = [&](timer_hook& h) {
        EXPECT_FALSE(h.armed());
        wheel.cancel(h);  // no-op
    };
    EXPECT_EQ(run(t0 + 1ms), 1u);
    EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(wheel_test, rearm_moves_earlier) {
    wheel.arm(hooks[0], t0 + 10s);
    wheel.arm(hooks[0], t0 + 1ms);
    EXPECT_EQ(wheel.size(), 1u);
    EXPECT_LE(wheel.next_deadline(), at_tick(100));  // t0 + 1ms is tick 100, in level 1
    EXPECT_EQ(run(t0 + 1ms), 1u);
    EXPECT_EQ(run(t0 + 1h), 0u);
}

TEST_F(wheel_test, rearm_moves_later) {
    wheel.arm(hooks[0], t0 + 1ms);
    wheel.arm(hooks[0], t0 + 10s);
    EXPECT_EQ(run(t0 + 10s - 1ns), 0u);
    EXPECT_EQ(run(t0 + 10s), 1u);
    EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(wheel_test, periodic_rearm_in_callback) {
    constexpr duration period = 1ms;
    instant due = t0 + period;
    wheel.arm(hooks[0], due);
    on_fire = [&](timer_hook& h) {
        due += period;
        wheel.arm(h, due);
    };
    for (instant now = t0; now < t0 + 1s; now += 100us) run(now + 100us);
    EXPECT_EQ(fired.size(), 1000u);
    EXPECT_TRUE(hooks[0].armed());
    EXPECT_LE(wheel.next_deadline(), at_tick(100'100));  // t0 + 1001ms, in level 1
    wheel.cancel(hooks[0]);
}

TEST_F(wheel_test, rearm_in_callback_for_a_passed_deadline_fires_next_advance) {
    // A periodic timer that fell 5 periods behind catches up one firing per advance.
    constexpr duration period = 1ms;
    instant due = t0 + period;
    wheel.arm(hooks[0], due);
    on_fire = [&](timer_hook& h) {
        due += period;
        wheel.arm(h, due);
    };
    const instant now = t0 + 5500us;
    for (int catch_up = 0; catch_up < 5; ++catch_up) EXPECT_EQ(run(now), 1u) << catch_up;
    EXPECT_EQ(run(now), 0u);  // due is now t0 + 6ms
    EXPECT_EQ(run(t0 + 6ms), 1u);
    wheel.cancel(hooks[0]);
}

TEST_F(wheel_test, arm_in_callback_for_later_in_the_same_advance_waits) {
    // The advance covers ticks up to 1000; hook 1 is armed by 0's callback for tick 500.
    wheel.arm(hooks[0], at_tick(10));
    wheel.arm(hooks[2], at_tick(800));
    on_fire = [&](timer_hook& h) {
        if (h.kind == 0) {
            wheel.arm(hooks[1], at_tick(500));    // <= now: next advance
            wheel.arm(hooks[3], at_tick(1001));   // > now: at its tick
        }
    };
    EXPECT_EQ(run(at_tick(1000)), 2u);
    EXPECT_EQ(take_fired(), (ids{0, 2}));
    EXPECT_EQ(wheel.next_deadline(), at_tick(500));
    EXPECT_EQ(run(at_tick(1000)), 1u);
    EXPECT_EQ(run(at_tick(1001)), 1u);
    EXPECT_EQ(take_fired(), (ids{1, 3}));
}

TEST_F(wheel_test, past_deadlines_fire_on_the_next_advance) {
    wheel.arm(hooks[0], t0 - 1s);  // before the wheel's start
    wheel.arm(hooks[1], t0);       // at it
    EXPECT_EQ(wheel.next_deadline(), t0);
    EXPECT_EQ(run(t0), 2u);  // even with no time passing
    EXPECT_EQ(take_fired(), (ids{0, 1}));

    run(t0 + 1s);
    wheel.arm(hooks[2], t0 + 1s);
    wheel.arm(hooks[3], t0 + 500ms);
    wheel.arm(hooks[4], t0 + 1s + 1ns);  // next tick: not past
    EXPECT_EQ(wheel.next_deadline(), t0 + 500ms);  // the earliest late one
    EXPECT_EQ(run(t0 + 1s), 2u);
    EXPECT_EQ(take_fired(), (ids{2, 3}));  // late ones fire in arm order
    EXPECT_EQ(wheel.size(), 1u);
    EXPECT_EQ(wheel.next_deadline(), at_tick(100'001));
}

TEST_F(wheel_test, backwards_now_is_no_time_passing) {
    run(t0 + 1s);
    wheel.arm(hooks[0], t0 + 1s + 1ms);
    EXPECT_EQ(run(t0), 0u);
    EXPECT_EQ(run(t0 + 1s + 1ms), 1u);
}

// Deadlines at every level boundary and beyond the levels' 2^36 ticks, from a wheel position
// that is not aligned to any level. The parameter is the distance in ticks.
class far_future : public wheel_test, public ::testing::WithParamInterface<std::uint64_t> {};

TEST_P(far_future, fires_on_its_tick_never_before) {
    const std::uint64_t from = 64 * 64 * 64 + 4095 + 17;  // odd position
    run(at_tick(from));
    const std::uint64_t due = from + GetParam();
    wheel.arm(hooks[0], at_tick(due));
    wheel.arm(hooks[1], at_tick(due) - 1ns);  // the same tick, once rounded up
    wheel.arm(hooks[2], at_tick(due) + 1ns);  // the tick after

    auto nd = wheel.next_deadline();
    ASSERT_TRUE(nd);
    EXPECT_LE(*nd, at_tick(due));
    EXPECT_GT(*nd, at_tick(from));

    EXPECT_EQ(run(at_tick(due) - 1ns), 0u);
    EXPECT_EQ(run(at_tick(due)), 2u);
    EXPECT_EQ(take_fired(), (ids{0, 1}));
    EXPECT_EQ(wheel.next_deadline(), at_tick(due + 1));
    EXPECT_EQ(run(at_tick(due + 1)), 1u);
}

constexpr std::uint64_t pow64(unsigned n) { return n == 0 ? 1 : 64 * pow64(n - 1); }

INSTANTIATE_TEST_SUITE_P(
    timer_wheel, far_future,
    ::testing::Values(1, 63, 64, 65, 4095, 4096, pow64(3) - 1, pow64(3), pow64(4) + 7,
                      pow64(5) - 1, pow64(5), pow64(6) - 1, pow64(6), pow64(6) + 1,
                      3 * pow64(6) + 12345, 1'000'000'000'000ull, std::uint64_t{1} << 45));

TEST_F(wheel_test, long_idle_advance_skips_empty_time) {
    // Stepping tick by tick would take hours here; skipping takes a few steps.
    EXPECT_EQ(run(t0 + std::chrono::hours(24 * 365 * 100)), 0u);  // 100 years, empty

    const instant start = t0 + std::chrono::hours(24 * 365 * 100);
    wheel.arm(hooks[0], start + 1'000'000'000'000 * tick);  // 10^12 ticks: beyond the levels
    wheel.arm(hooks[1], start + 123'456'789 * tick);
    wheel.arm(hooks[2], start + 5 * tick);
    EXPECT_EQ(run(start + 2'000'000'000'000 * tick), 3u);
    EXPECT_EQ(take_fired(), (ids{2, 1, 0}));
}

TEST_F(wheel_test, next_deadline_is_exact_in_the_current_64_tick_block) {
    wheel.arm(hooks[0], t0 + 25us);
    EXPECT_EQ(wheel.next_deadline(), at_tick(3));
    wheel.arm(hooks[1], at_tick(63));
    EXPECT_EQ(wheel.next_deadline(), at_tick(3));
    wheel.cancel(hooks[0]);
    EXPECT_EQ(wheel.next_deadline(), at_tick(63));
}

TEST_F(wheel_test, next_deadline_sharpens_as_the_wheel_advances) {
    // An engine that sleeps until next_deadline() wakes at most once per level early.
    const instant deadline = t0 + 2h + 123us;  // 720'000'013 ticks: level 4
    const instant rounded = at_tick(720'000'013);
    wheel.arm(hooks[0], deadline);
    int wakeups = 0;
    while (auto nd = wheel.next_deadline()) {
        ASSERT_LE(*nd, rounded);
        run(*nd);
        ++wakeups;
    }
    EXPECT_EQ(take_fired(), (ids{0}));
    EXPECT_LE(wakeups, 5);
}

TEST_F(wheel_test, deadline_at_the_end_of_time) {
    wheel.arm(hooks[0], instant::max());
    const auto nd = wheel.next_deadline();
    ASSERT_TRUE(nd);
    EXPECT_LE(*nd, instant::max());
    EXPECT_EQ(run(instant::max() - 1ns), 0u);
    EXPECT_TRUE(hooks[0].armed());
    wheel.cancel(hooks[0]);
}

TEST_F(wheel_test, owner_and_kind_dispatch) {
    // How a TCB embeds several timers and gets back to itself from the callback.
    struct connection {
        enum timer_kind : std::uint32_t { rto, delayed_ack };
        owned_timer_hook rto_timer{this, rto};
        owned_timer_hook ack_timer{this, delayed_ack};
        int rto_fired = 0;
        int acks_fired = 0;
    };
    connection conn;
    timer_wheel w(1ms, t0);
    w.arm(conn.rto_timer, t0 + 200ms);
    w.arm(conn.ack_timer, t0 + 40ms);
    w.advance(t0 + 1s, [](timer_hook& h) {
        auto& c = owned_timer_hook::owner_of<connection>(h);
        (h.kind == connection::rto ? c.rto_fired : c.acks_fired)++;
    });
    EXPECT_EQ(conn.rto_fired, 1);
    EXPECT_EQ(conn.acks_fired, 1);
}

TEST_F(wheel_test, an_owner_derived_from_its_hook_is_cast_back) {
    // How the endpoint's streams carry their one timer: no owner pointer in the hook.
    struct stream : timer_hook {
        stream() : timer_hook(7) {}
        int fired = 0;
    };
    stream a, b;
    static_assert(sizeof(timer_hook) <= 32, "a hook in each of millions of streams");
    timer_wheel w(1ms, t0);
    w.arm(a, t0 + 5ms);
    w.arm(b, t0 + 9ms);
    w.advance(t0 + 6ms, [](timer_hook& h) {
        EXPECT_EQ(h.kind, 7u);
        ++static_cast<stream&>(h).fired;
    });
    EXPECT_EQ(a.fired, 1);
    EXPECT_EQ(b.fired, 0);
    w.cancel(b);
}

TEST(timer_wheel, destroying_the_wheel_disarms_its_hooks) {
    timer_hook near, far, late;
    {
        timer_wheel w(tick, t0);
        w.arm(near, t0 + 1ms);
        w.arm(far, t0 + 1'000'000'000'000 * tick);
        w.arm(late, t0 - 1s);
    }
    EXPECT_FALSE(near.armed());
    EXPECT_FALSE(far.armed());
    EXPECT_FALSE(late.armed());
}

#ifndef NDEBUG
TEST(timer_wheel_death, destroying_an_armed_hook_asserts) {
    EXPECT_DEATH(
        {
            timer_wheel w(tick, t0);
            auto* h = new timer_hook;
            w.arm(*h, t0 + 1ms);
            delete h;
        },
        "armed");
}

TEST(timer_wheel_death, advance_from_a_callback_asserts) {
    EXPECT_DEATH(
        {
            timer_wheel w(tick, t0);
            timer_hook h;
            w.arm(h, t0);
            w.advance(t0, [&](timer_hook&) { w.advance(t0, [](timer_hook&) {}); });
        },
        "callback");
}
#endif

} // namespace
} // namespace tern
