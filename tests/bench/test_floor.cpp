// tern-bench's reading of bench/link_floor's output (apps/bench/floor.cpp).
#include <gtest/gtest.h>

#include "bench/floor.hpp"

namespace tern::bench {
namespace {

TEST(floor, reads_a_pings_round_trips_in_microseconds) {
    const auto r = parse_floor_round_trip(
        "EAL: Detected 2 lcore(s)\n"
        "round trip (ns, 300000 samples): p50 1495  p90 1679  p99 2039  p99.9 32127  p99.99 56063  max 4422871\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->samples, 300000u);
    EXPECT_DOUBLE_EQ(r->p50_us, 1.495);
    EXPECT_DOUBLE_EQ(r->p99_us, 2.039);
    EXPECT_DOUBLE_EQ(r->p99_9_us, 32.127); // not p99.99's
}

TEST(floor, refuses_output_without_round_trips) {
    EXPECT_FALSE(parse_floor_round_trip(""));
    EXPECT_FALSE(parse_floor_round_trip("link_floor: the link did not come up in 30 s\n"));
    EXPECT_FALSE(parse_floor_round_trip("round trip (ns, 0 samples): p50 0  p90 0  p99 0  p99.9 0  p99.99 0  max 0\n"));
    EXPECT_FALSE(parse_floor_round_trip("round trip (ns, 10 samples): p50 1  p90 2\n")); // cut short
}

TEST(floor, reads_the_rate_of_the_side_asked) {
    const std::string out = "blast: 47.27 Gbit/s, 3902338 frames/s\nsink: 46.90 Gbit/s, 3903019 frames/s\n";
    ASSERT_TRUE(parse_floor_gbit(out, "sink"));
    EXPECT_DOUBLE_EQ(*parse_floor_gbit(out, "sink"), 46.90);
    EXPECT_DOUBLE_EQ(*parse_floor_gbit(out, "blast"), 47.27);
    EXPECT_FALSE(parse_floor_gbit(out, "ping"));
    EXPECT_FALSE(parse_floor_gbit("sink: nothing arrived\n", "sink"));
    EXPECT_FALSE(parse_floor_gbit("not a sink: 3.00 Gbit/s\n", "sink")); // a line of its own
}

TEST(floor, reads_rounds_in_flight_and_their_rate) {
    const auto r = parse_floor_rounds("EAL: Detected 2 lcore(s)\nrounds: 1000 in flight, 4495992 round trips/s\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->in_flight, 1000u);
    EXPECT_DOUBLE_EQ(r->per_second, 4495992);
    EXPECT_FALSE(parse_floor_rounds(""));
    EXPECT_FALSE(parse_floor_rounds("link_floor: no frame came back\n"));
    EXPECT_FALSE(parse_floor_rounds("rounds: 32 in flight, 0 round trips/s\n"));
    EXPECT_FALSE(parse_floor_rounds("not rounds: 32 in flight, 5 round trips/s\n")); // a line of its own
}

} // namespace
} // namespace tern::bench
