// Unit tests of the log-linear latency histogram (src/core/histogram.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "core/histogram.hpp"

namespace {

using tern::histogram;

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

// The reported value r of a recorded v: never below v, less than 1% above it.
void expect_within_bound(std::uint64_t v) {
    std::uint64_t r = histogram::highest_equivalent(v);
    ASSERT_GE(r, v) << v;
    // (r - v) / v <= 1/128 < 1%, checked without floating point: 128 * (r - v) <= v.
    unsigned __int128 err = r - v;
    ASSERT_LE(err * 128, static_cast<unsigned __int128>(v)) << v << " -> " << r;
    ASSERT_LE(err * 100, static_cast<unsigned __int128>(v)) << v << " -> " << r;
}

TEST(Histogram, ErrorBoundEveryValueBelow2Pow20) {
    for (std::uint64_t v = 0; v < (1u << 20); ++v) {
        expect_within_bound(v);
        if (v < 256) {
            ASSERT_EQ(histogram::highest_equivalent(v), v);
        }
    }
}

TEST(Histogram, ErrorBoundAtBucketEdgesOverWholeRange) {
    for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
        std::uint64_t lo = histogram::bucket_lowest(i), hi = histogram::bucket_highest(i);
        ASSERT_LE(lo, hi);
        ASSERT_EQ(histogram::bucket_index(lo), i);
        ASSERT_EQ(histogram::bucket_index(hi), i);
        if (i + 1 < histogram::bucket_count) {
            ASSERT_EQ(histogram::bucket_lowest(i + 1), hi + 1) << i; // no gaps
        }
        expect_within_bound(lo); // the worst case of each bucket
        expect_within_bound(hi);
        expect_within_bound(lo + (hi - lo) / 2);
    }
    EXPECT_EQ(histogram::bucket_lowest(0), 0u);
    EXPECT_EQ(histogram::bucket_highest(histogram::bucket_count - 1), u64_max);
}

TEST(Histogram, ErrorBoundRandomHugeValues) {
    std::mt19937_64 rng(99);
    for (int i = 0; i < 1'000'000; ++i) {
        std::uint64_t v = rng() >> (rng() % 64);
        expect_within_bound(v);
    }
    expect_within_bound(u64_max);
    expect_within_bound(u64_max - 1);
    expect_within_bound(std::uint64_t(1) << 63);
    expect_within_bound((std::uint64_t(1) << 63) - 1);
    expect_within_bound(3'600'000'000'000ull); // one hour in ns
}

TEST(Histogram, RecordedValuesReportWithinBound) {
    histogram h;
    for (std::uint64_t v : {std::uint64_t(1), std::uint64_t(999), std::uint64_t(123456789), std::uint64_t(3'600'000'000'000), u64_max}) {
        h.reset();
        h.record(v);
        EXPECT_EQ(h.count(), 1u);
        EXPECT_EQ(h.min(), v);
        EXPECT_EQ(h.max(), v);
        for (double p : {0.0, 50.0, 99.99, 100.0}) EXPECT_EQ(h.percentile(p), v) << v; // capped at max
    }
}

TEST(Histogram, EmptyHistogram) {
    histogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.mean(), 0.0);
    EXPECT_EQ(h.percentile(0), 0u);
    EXPECT_EQ(h.percentile(50), 0u);
    EXPECT_EQ(h.percentile(100), 0u);
    h.record(17, 0); // a zero count records nothing
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.min(), 0u);
}

TEST(Histogram, Constant) {
    histogram h;
    h.record(1000, 5000);
    EXPECT_EQ(h.count(), 5000u);
    EXPECT_EQ(h.min(), 1000u);
    EXPECT_EQ(h.max(), 1000u);
    EXPECT_DOUBLE_EQ(h.mean(), 1000.0);
    for (double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) EXPECT_EQ(h.percentile(p), 1000u) << p;
}

TEST(Histogram, UniformOneToMillion) {
    histogram h;
    constexpr std::uint64_t n = 1'000'000;
    for (std::uint64_t v = 1; v <= n; ++v) h.record(v);
    EXPECT_EQ(h.count(), n);
    EXPECT_EQ(h.min(), 1u);
    EXPECT_EQ(h.max(), n);
    EXPECT_DOUBLE_EQ(h.mean(), 500000.5);
    // Nearest rank: the exact p-th percentile of 1..n is ceil(p/100 * n).
    for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
        std::uint64_t exact = std::uint64_t(p * 10000 + 0.5); // p/100 * 1e6, p has <= 2 decimals
        std::uint64_t got = h.percentile(p);
        EXPECT_GE(got, exact) << p;
        EXPECT_LE(double(got), double(exact) * 1.01) << p;
        EXPECT_EQ(got, std::min(histogram::highest_equivalent(exact), n)) << p; // capped at max
    }
    EXPECT_EQ(h.percentile(100), n);
    EXPECT_EQ(h.percentile(0), 1u);
}

TEST(Histogram, RankArithmeticIsExactForDecimalPercentiles) {
    // 99.9 is not exact in binary; 0.999 * 1000 must still be rank 999, not 1000.
    histogram h;
    for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v);
    // (values 512..1023 sit in buckets two wide: 999 reports as 999, 990 as 991)
    EXPECT_EQ(h.percentile(99.9), histogram::highest_equivalent(999));
    EXPECT_EQ(h.percentile(99.8), histogram::highest_equivalent(998));
    EXPECT_EQ(h.percentile(99.0), histogram::highest_equivalent(990));
    EXPECT_EQ(h.percentile(99.95), 1000u);
    EXPECT_EQ(h.percentile(0.1), 1u);
    EXPECT_EQ(h.percentile(0.11), 2u);
    histogram k;
    for (std::uint64_t v = 1; v <= 10000; ++v) k.record(v * 1000);
    EXPECT_EQ(k.percentile(99.99), std::min<std::uint64_t>(histogram::highest_equivalent(9999000), 10000000));
    EXPECT_EQ(k.percentile(50), histogram::highest_equivalent(5000000));
    EXPECT_EQ(k.percentile(90), histogram::highest_equivalent(9000000));
}

TEST(Histogram, TwoPointDistributions) {
    // 1% slow: p99 is the last fast one, anything above p99 is slow.
    const std::uint64_t fast = histogram::highest_equivalent(1000); // 1000..1003 share a bucket
    histogram h;
    h.record(1'000, 990);
    h.record(5'000'000, 10);
    EXPECT_EQ(h.percentile(50), fast);
    EXPECT_EQ(h.percentile(99), fast);
    EXPECT_EQ(h.percentile(99.1), 5'000'000u);
    EXPECT_EQ(h.percentile(99.9), 5'000'000u);
    EXPECT_EQ(h.max(), 5'000'000u);

    // 1.1% slow: p99 must report the slow value.
    histogram g;
    g.record(1'000, 989);
    g.record(5'000'000, 11);
    EXPECT_EQ(g.percentile(98.9), fast);
    EXPECT_EQ(g.percentile(99), 5'000'000u);

    // 0.9% slow: p99 is fast, p99.9 is slow.
    histogram f;
    f.record(1'000, 991);
    f.record(5'000'000, 9);
    EXPECT_EQ(f.percentile(99), fast);
    EXPECT_EQ(f.percentile(99.9), 5'000'000u);

    // Large counts: rank arithmetic stays exact.
    histogram e;
    e.record(10, 99'000'000'000ull);
    e.record(20, 1'000'000'000ull);
    EXPECT_EQ(e.percentile(99), 10u);
    EXPECT_EQ(e.percentile(99.0001), 20u);
}

TEST(Histogram, MaxAndMinExactMeanExact) {
    histogram h;
    h.record(123'456'789);
    h.record(987'654'321'987ull);
    h.record(555);
    EXPECT_EQ(h.min(), 555u);
    EXPECT_EQ(h.max(), 987'654'321'987ull);
    EXPECT_EQ(h.percentile(100), 987'654'321'987ull);
    EXPECT_DOUBLE_EQ(h.mean(), (123'456'789.0 + 987'654'321'987.0 + 555.0) / 3);
    h.record(u64_max, 3); // the sum does not overflow
    EXPECT_DOUBLE_EQ(h.mean(), (123'456'789.0 + 987'654'321'987.0 + 555.0 + 3.0 * 18446744073709551615.0) / 6);
    EXPECT_EQ(h.max(), u64_max);
}

TEST(Histogram, MergeEqualsRecordingIntoOne) {
    std::mt19937_64 rng(5);
    histogram parts[3], whole;
    std::lognormal_distribution<double> latency(10.0, 1.5); // median ~22 us, long tail
    for (int i = 0; i < 300'000; ++i) {
        std::uint64_t v = std::uint64_t(latency(rng));
        parts[i % 3].record(v);
        whole.record(v);
    }
    histogram merged;
    for (auto& p : parts) merged.merge(p);
    histogram empty;
    merged.merge(empty); // merging an empty one changes nothing (min stays right)
    EXPECT_EQ(merged.count(), whole.count());
    EXPECT_EQ(merged.min(), whole.min());
    EXPECT_EQ(merged.max(), whole.max());
    EXPECT_DOUBLE_EQ(merged.mean(), whole.mean());
    for (std::size_t i = 0; i < histogram::bucket_count; ++i) ASSERT_EQ(merged.count_in_bucket(i), whole.count_in_bucket(i));
    for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) EXPECT_EQ(merged.percentile(p), whole.percentile(p));
    empty.merge(whole); // into an empty one
    EXPECT_EQ(empty.min(), whole.min());
    EXPECT_EQ(empty.percentile(99.9), whole.percentile(99.9));
}

TEST(Histogram, PercentilesAgainstSortedSamples) {
    std::mt19937_64 rng(11);
    std::lognormal_distribution<double> latency(12.0, 2.0);
    histogram h;
    std::vector<std::uint64_t> samples;
    for (int i = 0; i < 100'000; ++i) {
        samples.push_back(std::uint64_t(latency(rng)) + 1);
        h.record(samples.back());
    }
    std::sort(samples.begin(), samples.end());
    for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
        std::size_t rank = std::max<std::size_t>(1, std::size_t(p * 1000 + 0.5)); // p/100 * 1e5
        std::uint64_t exact = samples[rank - 1];
        std::uint64_t got = h.percentile(p);
        EXPECT_GE(got, exact) << p;
        EXPECT_LE(double(got - exact), double(exact) / 100) << p;
    }
}

TEST(Histogram, PercentileClampsItsArgument) {
    histogram h;
    h.record(10);
    h.record(20);
    EXPECT_EQ(h.percentile(-5), 10u);
    EXPECT_EQ(h.percentile(250), 20u);
    EXPECT_EQ(h.percentile(std::numeric_limits<double>::quiet_NaN()), 10u);
}

TEST(Histogram, Reset) {
    histogram h;
    h.record(1, 10);
    h.record(1'000'000);
    h.reset();
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.percentile(50), 0u);
    h.record(7);
    EXPECT_EQ(h.min(), 7u);
    EXPECT_EQ(h.max(), 7u);
    EXPECT_EQ(h.percentile(50), 7u);
}

} // namespace
