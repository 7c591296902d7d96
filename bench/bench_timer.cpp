// Micro benchmarks of the timer wheel (src/core/timer_wheel.hpp).
//   build/bench/bench_timer --benchmark_min_time=1
#include "core/timer_wheel.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

namespace {

using tern::duration;
using tern::instant;
using tern::timer_hook;
using tern::timer_wheel;
using namespace std::chrono_literals;

constexpr duration tick = 10us;
const instant t0{};

// `n` instants spread uniformly over [from, from + span), in random order.
std::vector<instant> random_deadlines(std::size_t n, instant from, duration span, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::int64_t> offset(0, span.count() - 1);
    std::vector<instant> out(n);
    for (auto& d : out) d = from + duration(offset(rng));
    return out;
}

void arm_all(timer_wheel& wheel, std::vector<timer_hook>& hooks, const std::vector<instant>& deadlines) {
    for (std::size_t i = 0; i < hooks.size(); ++i) wheel.arm(hooks[i], deadlines[i]);
}

// One arm and one cancel of the same hook (an RTO set and cleared by the next ACK), with
// range(0) other hooks armed: O(1) means the load does not matter.
void bm_arm_cancel(benchmark::State& state) {
    std::vector<timer_hook> load(static_cast<std::size_t>(state.range(0)));
    timer_wheel wheel(tick, t0);
    arm_all(wheel, load, random_deadlines(load.size(), t0, 60s, 1));
    const auto deadlines = random_deadlines(1024, t0, 60s, 2);  // spread over the levels
    timer_hook hook;
    std::size_t i = 0;
    for (auto _ : state) {
        wheel.arm(hook, deadlines[i++ & 1023]);
        wheel.cancel(hook);
    }
    benchmark::DoNotOptimize(wheel.size());
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(bm_arm_cancel)->Arg(0)->Arg(1 << 20);

// Re-arming an armed hook (an RTO restarted by every ACK): unlink and place again.
void bm_rearm(benchmark::State& state) {
    std::vector<timer_hook> load(static_cast<std::size_t>(state.range(0)));
    timer_wheel wheel(tick, t0);
    arm_all(wheel, load, random_deadlines(load.size(), t0, 60s, 1));
    const auto deadlines = random_deadlines(1024, t0, 60s, 2);
    timer_hook hook;
    wheel.arm(hook, deadlines[0]);
    std::size_t i = 1;
    for (auto _ : state) wheel.arm(hook, deadlines[i++ & 1023]);
    wheel.cancel(hook);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(bm_rearm)->Arg(0)->Arg(1 << 20);

// Arms range(1) hooks spread over range(0) ms, then advances in 100k equal steps until all
// have fired. Per item: the arm, the cascades and the firing of one timer. With arm_too
// false the arming is left out of the timing.
void arm_and_fire(benchmark::State& state, bool arm_too) {
    const auto n = static_cast<std::size_t>(state.range(1));
    const duration span = std::chrono::milliseconds(state.range(0));
    std::vector<timer_hook> hooks(n);
    const auto deadlines = random_deadlines(n, t0 + tick, span, 3);
    std::size_t fired = 0;
    instant now = t0;
    for (auto _ : state) {
        state.PauseTiming();
        timer_wheel wheel(tick, now);
        const duration shift = now - t0;
        state.ResumeTiming();
        if (!arm_too) state.PauseTiming();
        for (std::size_t i = 0; i < n; ++i) wheel.arm(hooks[i], deadlines[i] + shift);
        if (!arm_too) state.ResumeTiming();
        const duration step = span / 100'000 + 1ns;
        while (wheel.size() > 0) {
            now += step;
            fired += wheel.advance(now, [](timer_hook& h) { benchmark::DoNotOptimize(&h); });
        }
    }
    const auto rounds = static_cast<std::size_t>(state.iterations());
    if (fired != n * rounds) state.SkipWithError("lost timers");
    state.SetItemsProcessed(static_cast<std::int64_t>(n * rounds));
}
void bm_arm_and_fire(benchmark::State& state) { arm_and_fire(state, true); }
void bm_fire(benchmark::State& state) { arm_and_fire(state, false); }
// Spans: 1 s (levels 0-2 at a 10us tick), 2 min (RTO and TIME_WAIT scale), 2 h (keepalive).
// 1M hooks (40 MB, past the caches: the figure is memory bound) and 64K (in cache).
void fire_args(benchmark::internal::Benchmark* b) {
    for (std::int64_t n : {1 << 20, 1 << 16}) {
        for (std::int64_t span_ms : {1'000, 120'000, 7'200'000}) b->Args({span_ms, n});
    }
    b->ArgNames({"span_ms", "timers"})->Unit(benchmark::kMillisecond);
}
BENCHMARK(bm_arm_and_fire)->Apply(fire_args);
BENCHMARK(bm_fire)->Apply(fire_args);

// Advancing with nothing due, by range(0) ticks a call: the engine's common case. With an
// empty wheel, and with 1M hooks armed 10 to 11 hours ahead (nothing fires here).
void advance_nothing_due(benchmark::State& state, std::size_t armed) {
    std::vector<timer_hook> hooks(armed);
    timer_wheel wheel(tick, t0);
    arm_all(wheel, hooks, random_deadlines(armed, t0 + 10h, 1h, 4));
    const duration step = state.range(0) * tick;
    instant now = t0;
    std::size_t fired = 0;
    for (auto _ : state) {
        now += step;
        fired += wheel.advance(now, [](timer_hook&) {});
    }
    if (fired != 0) state.SkipWithError("fired");
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
void bm_advance_empty(benchmark::State& state) { advance_nothing_due(state, 0); }
void bm_advance_idle_1m(benchmark::State& state) { advance_nothing_due(state, 1 << 20); }
BENCHMARK(bm_advance_empty)->Arg(1)->Arg(360'000'000);  // a tick; an hour (empty only)
BENCHMARK(bm_advance_idle_1m)->Arg(1);

} // namespace

BENCHMARK_MAIN();
