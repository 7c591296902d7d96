// virtual_clock, and the TSC arithmetic of tsc_clock (tsc_clock itself needs EAL running,
// which this executable does not start).
#include "core/clock.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

TEST(virtual_clock, starts_where_told) {
    EXPECT_EQ(virtual_clock().now(), instant{});
    const instant start = instant{} + 42s;
    EXPECT_EQ(virtual_clock(start).now(), start);
}

TEST(virtual_clock, advance_and_set_move_forward) {
    virtual_clock vc;
    vc.advance(10us);
    EXPECT_EQ(vc.now(), instant{} + 10us);
    vc.advance(duration::zero());
    EXPECT_EQ(vc.now(), instant{} + 10us);
    vc.set(instant{} + 1s);
    EXPECT_EQ(vc.now(), instant{} + 1s);
    vc.set(instant{} + 1s);  // setting the same instant is not going back
    EXPECT_EQ(vc.now(), instant{} + 1s);
}

TEST(virtual_clock, usable_through_the_interface) {
    virtual_clock vc(instant{} + 5ms);
    clock& c = vc;
    vc.advance(1ms);
    EXPECT_EQ(c.now(), instant{} + 6ms);
}

#ifndef NDEBUG
TEST(virtual_clock_death, going_back_asserts) {
    EXPECT_DEATH(
        {
            virtual_clock vc(instant{} + 1s);
            vc.set(instant{});
        },
        "monotonic");
    EXPECT_DEATH(
        {
            virtual_clock vc;
            vc.advance(-1ns);
        },
        "monotonic");
}
#endif

TEST(tsc_cycles_to_duration, exact_for_whole_and_partial_seconds) {
    constexpr std::uint64_t hz = 2'500'000'000;  // 2.5 GHz: 0.4 ns a cycle
    EXPECT_EQ(tsc_cycles_to_duration(0, hz), 0ns);
    EXPECT_EQ(tsc_cycles_to_duration(5, hz), 2ns);  // 2.0 ns
    EXPECT_EQ(tsc_cycles_to_duration(hz, hz), 1s);
    EXPECT_EQ(tsc_cycles_to_duration(hz + hz / 2, hz), 1500ms);
}

TEST(tsc_cycles_to_duration, no_overflow_over_years) {
    constexpr std::uint64_t hz = 3'000'000'001;  // odd rate, so the remainder is never trivial
    constexpr std::uint64_t seconds_in_10_years = 10ull * 365 * 24 * 3600;
    const std::uint64_t cycles = seconds_in_10_years * hz + hz - 1;  // ~9.5e17, < 2^64
    const duration d = tsc_cycles_to_duration(cycles, hz);
    // (hz - 1) cycles is 999'999'999.67 ns, truncated.
    EXPECT_EQ(d, std::chrono::seconds(seconds_in_10_years) + 999'999'999ns);
}

TEST(tsc_cycles_to_duration, monotonic_in_cycles) {
    constexpr std::uint64_t hz = 2'100'000'017;
    duration last = duration::zero();
    for (std::uint64_t c = hz - 1000; c < hz + 1000; ++c) {
        const duration d = tsc_cycles_to_duration(c, hz);
        ASSERT_GE(d, last);
        last = d;
    }
}

// The engine's fast conversion agrees with the exact one: equal, or one nanosecond above
// where the exact value lies a hair under the next nanosecond; and never goes backwards.
TEST(tsc_scale, matches_the_exact_conversion) {
    for (std::uint64_t hz : {1'000'000'001ull, 2'100'000'017ull, 2'500'000'000ull, 2'994'373'000ull, 3'000'000'001ull}) {
        const tsc_scale scale(hz);
        EXPECT_EQ(scale(0), 0ns);
        EXPECT_EQ(scale(hz), 1s) << hz;
        std::uint64_t c = 1;
        duration last = duration::zero();
        for (int i = 0; i < 2000; ++i) {
            const duration exact = tsc_cycles_to_duration(c, hz), fast = scale(c);
            ASSERT_GE(fast, exact) << hz << " " << c;
            ASSERT_LE(fast, exact + 1ns) << hz << " " << c;
            ASSERT_GE(fast, last);
            last = fast;
            c = c * 3 / 2 + 7; // up to about ten years of cycles and past
            if (c > (std::uint64_t(1) << 60)) break;
        }
    }
    const tsc_scale slow(999'999'937); // under 1 GHz: the exact path
    EXPECT_EQ(slow(999'999'937), 1s);
    EXPECT_EQ(slow(12345), tsc_cycles_to_duration(12345, 999'999'937));
}

} // namespace
} // namespace tern
