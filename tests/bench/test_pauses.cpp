// tern-bench's meter of the machine's own pauses (apps/bench/pauses.hpp).
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bench/pauses.hpp"

using namespace tern::bench;
using namespace std::chrono_literals;

namespace {

// Readings a microsecond apart but for three gaps: each gap counts in every threshold it is
// over, and the span is from the first reading to the last.
TEST(Pauses, GapsCountInEachThresholdTheyAreOver) {
    pause_meter m;
    auto t = std::chrono::steady_clock::time_point{} + 1s;
    m.reading(t);
    for (auto gap : {1us, 15us, 1us, 25us, 10us, 150us, 1us}) m.reading(t += gap);
    const pause_count c = m.result(3);
    EXPECT_EQ(c.core, 3);
    EXPECT_EQ(c.over_10us, 3u); // 15, 25, 150 (10 is not over 10)
    EXPECT_EQ(c.over_20us, 2u);
    EXPECT_EQ(c.over_100us, 1u);
    EXPECT_DOUBLE_EQ(c.longest_us, 150);
    EXPECT_NEAR(c.seconds, 203e-6, 1e-9);
    EXPECT_NEAR(c.per_second(c.over_10us), 3 / 203e-6, 1e-3);
}

TEST(Pauses, NoReadingsNoRate) {
    const pause_count c = pause_meter{}.result(0);
    EXPECT_EQ(c.seconds, 0);
    EXPECT_EQ(c.per_second(5), 0);
}

// A real run on the cores tern-bench uses (0 and 1; 0 alone on a one-core machine), all
// at once: each spins for the span asked and is reported under its own number, in order.
TEST(Pauses, MeasuresEachCoreForTheSpanAsked) {
    std::vector<int> cores{0};
    if (std::thread::hardware_concurrency() >= 2) cores.push_back(1);
    const auto counts = measure_pauses(cores, 50ms);
    ASSERT_EQ(counts.size(), cores.size());
    for (std::size_t i = 0; i < cores.size(); ++i) {
        EXPECT_EQ(counts[i].core, cores[i]);
        EXPECT_GE(counts[i].seconds, 0.050) << "core " << cores[i]; // the span asked, a pause at its end included
        EXPECT_LT(counts[i].seconds, 5) << "core " << cores[i]; // bounded, whatever the machine does meanwhile
        EXPECT_LE(counts[i].over_100us, counts[i].over_20us);
        EXPECT_LE(counts[i].over_20us, counts[i].over_10us);
    }
}

// A core the machine does not have is an error naming it, not a run elsewhere.
TEST(Pauses, ACoreThatDoesNotExistIsRefused) {
    const int missing = int(std::thread::hardware_concurrency());
    try {
        measure_pauses({missing}, 10ms);
        FAIL() << "no error for core " << missing;
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("core " + std::to_string(missing)), std::string::npos) << e.what();
    }
}

} // namespace
