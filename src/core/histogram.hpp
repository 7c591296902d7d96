// A log-linear latency histogram over uint64 values (nanoseconds in practice), in the
// manner of HdrHistogram: the whole uint64 range, at most 1% relative error, O(1) record,
// no allocation after construction. The load generator keeps one per engine and merges
// them at the end (issue 4: p50, p90, p99, p99.9, p99.99 and max).
//
// Bucket math (S = sub_bucket_bits = 7, so 2^S = 128 sub-buckets per power of two):
//   * v < 2^S: bucket v, one value wide (exact).
//   * v >= 2^S: let e = floor(log2 v) (so 2^e <= v < 2^(e+1)) and w = 2^(e-S). The range
//     [2^e, 2^(e+1)) is cut into 2^S buckets of width w; v falls in sub-bucket
//     (v >> (e-S)) - 2^S, and its bucket is (e - S + 1) * 2^S + that sub-bucket.
//   Buckets are numbered densely, 0 .. (64 - S + 1) * 2^S - 1 = 7423 (58 KiB of counts).
//   A bucket [lo, lo + w - 1] with lo >= 2^e is reported as its highest value, lo + w - 1,
//   so a reported value r for a recorded value v satisfies v <= r and
//       (r - v) / v <= (w - 1) / 2^e < 2^(e-S) / 2^e = 2^-S = 1/128 < 0.79%,
//   i.e. the histogram never under-reports and over-reports by less than 1%, by
//   construction, for every value up to 2^64 - 1 (the top bucket ends exactly there).
//   Values below 2^(S+1) = 256 are in fact exact (w = 1).
//
// Percentiles use the nearest-rank definition: percentile(p) is the value of rank
// ceil(p/100 * count) (at least 1) in the sorted recorded values, reported as the highest
// value of its bucket and capped at max(). So percentile(100) == max() exactly, and
// percentile(0) is the reported value of the smallest recorded value.
//
// Empty histogram: count() == 0, and min(), max(), mean() and percentile() all return 0.
//
// Across processes (tern-load merge): a histogram leaves as its non-empty buckets and its exact
// min, max and sum, and assign() rebuilds it; merging those is the same as merging the
// originals, so percentiles of the merge are exact, not averaged.
#pragma once

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

namespace tern {

class histogram {
public:
    __extension__ typedef unsigned __int128 u128;
    static constexpr unsigned sub_bucket_bits = 7;
    static constexpr std::size_t sub_buckets = std::size_t(1) << sub_bucket_bits;
    static constexpr std::size_t bucket_count = (64 - sub_bucket_bits + 1) * sub_buckets;

    histogram() : counts_(bucket_count, 0) {}

    static constexpr std::size_t bucket_index(std::uint64_t v) {
        if (v < sub_buckets) return std::size_t(v);
        unsigned e = 63u - unsigned(std::countl_zero(v));
        unsigned shift = e - sub_bucket_bits;
        return (shift + 1) * sub_buckets + std::size_t((v >> shift) - sub_buckets);
    }

    static constexpr std::uint64_t bucket_lowest(std::size_t i) {
        if (i < sub_buckets) return i;
        unsigned shift = unsigned(i / sub_buckets) - 1;
        return (std::uint64_t(sub_buckets) + i % sub_buckets) << shift;
    }

    static constexpr std::uint64_t bucket_highest(std::size_t i) {
        if (i < sub_buckets) return i;
        unsigned shift = unsigned(i / sub_buckets) - 1;
        return bucket_lowest(i) + ((std::uint64_t(1) << shift) - 1);
    }

    // The value a recorded v is reported as (before the cap at max()).
    static constexpr std::uint64_t highest_equivalent(std::uint64_t v) { return bucket_highest(bucket_index(v)); }

    void record(std::uint64_t value, std::uint64_t count = 1) {
        if (count == 0) return;
        counts_[bucket_index(value)] += count;
        total_ += count;
        sum_ += u128(value) * count;
        min_ = std::min(min_, value);
        max_ = std::max(max_, value);
    }

    void merge(const histogram& other) {
        if (other.total_ == 0) return;
        for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
        total_ += other.total_;
        sum_ += other.sum_;
        min_ = std::min(min_, other.min_);
        max_ = std::max(max_, other.max_);
    }

    // p in [0, 100] (clamped; NaN counts as 0). See the header comment for the definition.
    std::uint64_t percentile(double p) const {
        if (total_ == 0) return 0;
        if (!(p > 0.0)) p = 0.0;
        if (p > 100.0) p = 100.0;
        // long double holds any uint64 count exactly on x86. p itself is a binary
        // approximation of a decimal (99.9 is 99.900000000000006): shave a few ulps off so
        // that ceil() does not round an exact rank such as 0.999 * 1000 up to the next one.
        long double x = static_cast<long double>(p) * static_cast<long double>(total_) / 100.0L;
        x -= x * 0x1p-50L;
        std::uint64_t rank = x <= 1.0L ? 1 : std::uint64_t(std::ceil(x));
        rank = std::clamp<std::uint64_t>(rank, 1, total_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::min(bucket_highest(i), max_);
        }
        assert(false && "counts do not add up to count()");
        return max_;
    }

    std::uint64_t count() const { return total_; }
    std::uint64_t min() const { return total_ == 0 ? 0 : min_; }
    std::uint64_t max() const { return max_; }
    // The exact mean of the recorded values (kept as an exact 128-bit sum, not from buckets).
    double mean() const { return total_ == 0 ? 0.0 : double(static_cast<long double>(sum_) / total_); }
    // Recorded values that fell in bucket i (for exporting the distribution).
    std::uint64_t count_in_bucket(std::size_t i) const { return counts_[i]; }
    // The exact sum of the recorded values.
    u128 sum() const { return sum_; }

    // Rebuilds an exported histogram: its non-empty buckets as (index, count), and its exact
    // min, max and sum. False, and *this unchanged, when they cannot have come from one
    // histogram: an index out of range or given twice, a count of 0, min or max outside the
    // first or last bucket, or a sum outside count * [min, max].
    bool assign(std::span<const std::pair<std::size_t, std::uint64_t>> buckets, std::uint64_t min, std::uint64_t max,
                u128 sum) {
        std::vector<std::uint64_t> counts(bucket_count, 0);
        u128 total = 0;
        std::size_t first = bucket_count, last = 0;
        for (auto [i, n] : buckets) {
            if (i >= bucket_count || n == 0 || counts[i] != 0) return false;
            counts[i] = n;
            total += n;
            first = std::min(first, i);
            last = std::max(last, i);
        }
        if (total > std::numeric_limits<std::uint64_t>::max()) return false;
        if (total == 0) {
            if (min != 0 || max != 0 || sum != 0) return false;
            reset();
            return true;
        }
        if (bucket_index(min) != first || bucket_index(max) != last || min > max) return false;
        if (sum < total * min || sum > total * max) return false;
        counts_ = std::move(counts);
        total_ = std::uint64_t(total);
        sum_ = sum;
        min_ = min;
        max_ = max;
        return true;
    }

    void reset() {
        std::fill(counts_.begin(), counts_.end(), 0);
        total_ = 0;
        sum_ = 0;
        min_ = std::numeric_limits<std::uint64_t>::max();
        max_ = 0;
    }

private:
    std::vector<std::uint64_t> counts_; // bucket_count entries, allocated once
    std::uint64_t total_ = 0;
    u128 sum_ = 0;
    std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t max_ = 0;
};

static_assert(histogram::bucket_index(std::numeric_limits<std::uint64_t>::max()) == histogram::bucket_count - 1);
static_assert(histogram::bucket_highest(histogram::bucket_count - 1) == std::numeric_limits<std::uint64_t>::max());
static_assert(histogram::bucket_index(255) == 255 && histogram::bucket_highest(255) == 255);
static_assert(histogram::bucket_index(256) == 256 && histogram::bucket_highest(256) == 257);

} // namespace tern
