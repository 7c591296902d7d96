// Randomized tests of the timer wheel, each with a fixed seed so a failure replays exactly:
// a million timers, and a differential test against a plain std::multimap model.
#include "core/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <vector>

namespace tern {
namespace {

using rng_t = std::mt19937_64;

std::int64_t uniform(rng_t& rng, std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
}

// The wheel's rounding, restated: deadlines round up to a tick, `now` rounds down.
struct tick_math {
    duration tick;
    instant start;

    std::uint64_t ceil(instant t) const {
        if (t <= start) return 0;
        const auto ns = static_cast<std::uint64_t>((t - start).count());
        const auto per = static_cast<std::uint64_t>(tick.count());
        return (ns + per - 1) / per;
    }
    std::uint64_t floor(instant t) const {
        if (t <= start) return 0;
        return static_cast<std::uint64_t>((t - start).count()) / static_cast<std::uint64_t>(tick.count());
    }
    instant at(std::uint64_t n) const { return start + static_cast<std::int64_t>(n) * tick; }
};

// ---- a million timers ----

TEST(timer_wheel_random, million_timers_fire_once_in_order_with_half_cancelled) {
    constexpr std::size_t n = 1'000'000;
    constexpr duration tick = 1us;
    const tick_math ticks{tick, instant{} + 17ns};
    rng_t rng(20240601);

    std::vector<timer_hook> hooks(n);
    std::vector<instant> deadline(n);
    std::vector<std::uint8_t> fired(n, 0);
    std::vector<std::uint8_t> cancelled(n, 0);
    timer_wheel wheel(tick, ticks.start);  // after the hooks: destroyed first

    for (std::uint32_t i = 0; i < n; ++i) {
        hooks[i].kind = i;
        // Log-uniform up to 2^40 ticks (past the levels' 2^36), a few in the past.
        const std::int64_t span_ns = (std::int64_t{1} << uniform(rng, 0, 40)) * tick.count();
        deadline[i] = ticks.start + duration(uniform(rng, -span_ns / 100, span_ns));
        wheel.arm(hooks[i], deadline[i]);
    }
    ASSERT_EQ(wheel.size(), n);

    std::vector<std::uint32_t> to_cancel;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (rng() & 1) to_cancel.push_back(i);
    }
    std::shuffle(to_cancel.begin(), to_cancel.end(), rng);
    std::size_t cancel_next = 0;
    auto cancel_some = [&](std::size_t count) {
        for (; count > 0 && cancel_next < to_cancel.size(); --count, ++cancel_next) {
            const std::uint32_t i = to_cancel[cancel_next];
            if (!hooks[i].armed()) continue;  // fired already
            wheel.cancel(hooks[i]);
            cancelled[i] = 1;
        }
    };
    const std::size_t upfront = to_cancel.size() * 3 / 4;
    cancel_some(upfront);  // before any time passes; the rest while the wheel turns

    instant now = ticks.start;
    instant before = now;
    std::uint64_t last_tick = 0;
    std::size_t total_fired = 0;
    bool ok = true;
    auto on_fire = [&](timer_hook& h) {
        const std::uint32_t i = h.kind;
        const std::uint64_t t = ticks.ceil(deadline[i]);
        // EXPECT in a million-fold loop floods the log; report the first failure only.
        if (fired[i] != 0 || cancelled[i] != 0 || deadline[i] > now || t < last_tick ||
            (deadline[i] > ticks.start && before >= deadline[i] + tick)) {
            if (ok) ADD_FAILURE() << "hook " << i << " fired wrongly at " << now.time_since_epoch().count();
            ok = false;
        }
        fired[i] = 1;
        last_tick = t;
    };
    while (wheel.size() > 0) {
        now += duration(uniform(rng, 0, std::int64_t{1} << uniform(rng, 0, 30)) * tick.count());
        total_fired += wheel.advance(now, on_fire);
        before = now;
        cancel_some(16);
        ASSERT_TRUE(ok);
    }

    std::size_t total_cancelled = 0;
    for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(fired[i] + cancelled[i], 1) << i;
        total_cancelled += cancelled[i];
    }
    EXPECT_EQ(total_fired + total_cancelled, n);
    EXPECT_GE(total_cancelled, upfront);  // plus the later ones that had not fired yet
    EXPECT_GT(total_cancelled, n * 3 / 8);
    EXPECT_FALSE(wheel.next_deadline());
}

// ---- differential test against a simple model ----

// What the wheel promises, kept in a multimap from key tick to hook: hooks fire in key
// order, ties in arm order (a multimap inserts after equal keys). A hook armed for a tick
// already reached is keyed at the current tick, so it comes before anything in the future;
// one armed that way inside a fire callback waits for the next advance.
class model_wheel {
public:
    model_wheel(tick_math ticks, std::size_t hooks) : ticks_(ticks), where_(hooks), deferred_in_(hooks, 0) {}

    void arm(std::size_t i, instant deadline) {
        cancel(i);
        const std::uint64_t when = ticks_.ceil(deadline);
        const bool late = when <= due_until_;
        deferred_in_[i] = late && advancing_ ? advance_id_ : 0;
        where_[i] = pending_.emplace(late ? due_until_ : when, entry{i, when});
    }

    void cancel(std::size_t i) {
        if (!where_[i]) return;
        pending_.erase(*where_[i]);
        where_[i].reset();
    }

    template <class F>
    void advance(instant now, F&& fire) {
        const std::uint64_t target = std::max(ticks_.floor(now), now_);
        due_until_ = target;
        ++advance_id_;
        advancing_ = true;
        while (!pending_.empty()) {
            const auto first = pending_.begin();
            const std::size_t i = first->second.hook;
            if (first->first > target || deferred_in_[i] == advance_id_) break;
            pending_.erase(first);
            where_[i].reset();
            fire(i);
        }
        now_ = target;
        advancing_ = false;
    }

    bool armed(std::size_t i) const { return where_[i].has_value(); }
    std::size_t size() const { return pending_.size(); }
    std::uint64_t now() const { return now_; }

    // The earliest real expiry tick (late hooks are keyed at now, but expired earlier).
    std::optional<std::uint64_t> earliest_when() const {
        std::optional<std::uint64_t> best;
        for (const auto& [key, e] : pending_) best = std::min(best.value_or(e.when), e.when);
        return best;
    }

private:
    struct entry {
        std::size_t hook;
        std::uint64_t when;
    };
    using map = std::multimap<std::uint64_t, entry>;

    tick_math ticks_;
    map pending_;
    std::vector<std::optional<map::iterator>> where_;
    std::vector<std::uint64_t> deferred_in_;  // the advance a late arm must skip
    std::uint64_t now_ = 0;
    std::uint64_t due_until_ = 0;
    std::uint64_t advance_id_ = 0;
    bool advancing_ = false;
};

constexpr std::int64_t pow64(unsigned n) { return n == 0 ? 1 : 64 * pow64(n - 1); }

struct differential : public ::testing::TestWithParam<std::uint64_t> {
    static constexpr std::size_t hook_count = 32;
    static constexpr duration tick = 1us;
    using deadline_array = std::array<instant, hook_count>;

    differential() {
        for (std::uint32_t i = 0; i < hook_count; ++i) hooks[i].kind = i;
    }

    // Any instant from a little in the past to well past the levels' range, with extra
    // weight on the edges of level slots.
    instant random_deadline(rng_t& r) const {
        const std::int64_t t = tick.count();
        switch (uniform(r, 0, 5)) {
        case 0: return cur + duration(uniform(r, -5 * t, 5 * t));
        case 1: return cur + duration(uniform(r, 0, pow64(2) * t));
        case 2: return cur + duration(uniform(r, 0, pow64(4) * t));
        case 3: return cur + duration(uniform(r, 0, pow64(6) * t));
        case 4: return cur + duration(uniform(r, 0, (std::int64_t{1} << 40) * t));
        default: return near_slot_edge(r) - duration(uniform(r, 0, t - 1));  // rounds up to the edge
        }
    }

    // A tick next to a slot boundary of a random level, a little ahead of cur.
    instant near_slot_edge(rng_t& r) const {
        const auto size = static_cast<std::uint64_t>(pow64(static_cast<unsigned>(uniform(r, 1, 6))));
        const std::uint64_t edge = (ticks.floor(cur) / size + static_cast<std::uint64_t>(uniform(r, 1, 3))) * size;
        return ticks.at(edge + static_cast<std::uint64_t>(uniform(r, 0, 2)) - 1);
    }

    instant random_advance(rng_t& r) const {
        const std::int64_t t = tick.count();
        switch (uniform(r, 0, 19)) {
        case 0: return cur - duration(uniform(r, 0, 100 * t));  // backwards: no time passes
        case 1: return cur + duration(uniform(r, 0, (std::int64_t{1} << 39) * t));
        case 2: case 3: case 4: return near_slot_edge(r);
        case 5: case 6: case 7: return cur + duration(uniform(r, 0, pow64(5) * t));
        case 8: case 9: case 10: case 11: case 12: case 13: return cur + duration(uniform(r, 0, pow64(3) * t));
        default: return cur + duration(uniform(r, 0, 100 * t));
        }
    }

    // What a fire callback does, the same on both sides: re-arm itself (maybe for a
    // deadline already passed), cancel another hook, arm another (maybe for the very
    // deadline of a third, to meet it in the same tick). `deadlines` is that side's record.
    template <class Arm, class Cancel>
    void callback_actions(rng_t& r, std::size_t self, instant now, const deadline_array& deadlines,
                          Arm&& arm, Cancel&& cancel) const {
        const std::int64_t roll = uniform(r, 0, 9);
        const auto other = static_cast<std::size_t>(uniform(r, 0, hook_count - 1));
        const auto third = static_cast<std::size_t>(uniform(r, 0, hook_count - 1));
        const instant later = now + duration(uniform(r, -3 * tick.count(), pow64(3) * tick.count()));
        if (roll < 2) arm(self, later);
        else if (roll < 3) cancel(other);
        else if (roll < 4) arm(other, later);
        else if (roll < 5) arm(other, deadlines[third]);
    }

    const tick_math ticks{tick, instant{} + 1234567ns};
    instant cur = ticks.start;
    std::array<timer_hook, hook_count> hooks;
    timer_wheel wheel{tick, ticks.start};
    model_wheel model{ticks, hook_count};
    deadline_array wheel_deadline{};  // the last deadline each hook was armed for, per side
    deadline_array model_deadline{};
};

TEST_P(differential, wheel_matches_model) {
    const std::uint64_t seed = GetParam();
    rng_t rng(seed);
    auto wheel_arm = [&](std::size_t i, instant d) { wheel_deadline[i] = d; wheel.arm(hooks[i], d); };
    auto wheel_cancel = [&](std::size_t i) { wheel.cancel(hooks[i]); };
    auto model_arm = [&](std::size_t i, instant d) { model_deadline[i] = d; model.arm(i, d); };
    auto model_cancel = [&](std::size_t i) { model.cancel(i); };

    for (int step = 0; step < 20'000; ++step) {
        const std::int64_t op = uniform(rng, 0, 99);
        const auto i = static_cast<std::size_t>(uniform(rng, 0, hook_count - 1));
        if (op < 40) {
            const auto same_as = static_cast<std::size_t>(uniform(rng, 0, hook_count - 1));
            const instant d = op < 5 ? wheel_deadline[same_as] : random_deadline(rng);
            wheel_arm(i, d);
            model_arm(i, d);
        } else if (op < 55) {
            wheel_cancel(i);
            model_cancel(i);
        } else {
            const instant now = random_advance(rng);
            const std::uint64_t callback_seed = rng();
            std::vector<std::size_t> want;
            std::vector<std::size_t> got;
            rng_t model_rng(callback_seed);
            model.advance(now, [&](std::size_t h) {
                want.push_back(h);
                callback_actions(model_rng, h, now, model_deadline, model_arm, model_cancel);
            });
            rng_t wheel_rng(callback_seed);
            const std::size_t count = wheel.advance(now, [&](timer_hook& h) {
                got.push_back(h.kind);
                EXPECT_LE(wheel_deadline[h.kind], std::max(cur, now)) << "fired early";
                callback_actions(wheel_rng, h.kind, now, wheel_deadline, wheel_arm, wheel_cancel);
            });
            ASSERT_EQ(got, want) << "seed " << seed << " step " << step;
            ASSERT_EQ(count, got.size());
            cur = std::max(cur, now);
        }

        ASSERT_EQ(wheel.size(), model.size()) << "step " << step;
        for (std::size_t h = 0; h < hook_count; ++h) ASSERT_EQ(hooks[h].armed(), model.armed(h)) << h;
        const auto nd = wheel.next_deadline();
        const auto earliest = model.earliest_when();
        ASSERT_EQ(nd.has_value(), earliest.has_value());
        if (earliest) {
            ASSERT_LE(*nd, ticks.at(*earliest)) << "step " << step;  // never later than the truth
            if (*earliest > model.now()) {
                ASSERT_GT(*nd, ticks.at(model.now()));  // and nothing claimed due early
            }
        }
    }
    // Drain: everything left fires, in the model's order.
    wheel.advance(instant::max(), [](timer_hook&) {});
    EXPECT_EQ(wheel.size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(timer_wheel, differential, ::testing::Range<std::uint64_t>(1, 65));

} // namespace
} // namespace tern
