// range_set: the sorted, disjoint ranges of sequence numbers under the SACK scoreboard, the
// retransmit log and the reassembly queue. Every test works near 2^32, so that ranges cross
// the wrap; the last one checks every operation against a bitmap of the octets.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "tcp/range_set.hpp"

namespace tern::tcp::test {
namespace {

constexpr std::uint32_t base = 0xfffffe00u; // offset 0x200 is sequence number 0
seq32 at(std::uint32_t offset) { return seq32(base + offset); }

using range_list = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

template <std::size_t N>
range_list ranges_of(const range_set<N>& s) {
    range_list out;
    for (const auto& r : s.ranges()) out.emplace_back(r.left.raw() - base, r.right.raw() - base);
    return out;
}

TEST(RangeSet, EmptyHoldsNothingOnTheHeap) {
    range_set<4> s;
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(s.heap_bytes(), 0u);
    EXPECT_FALSE(s.contains(at(0)));
    EXPECT_EQ(s.bytes(), 0u);
    s.erase_below(at(100));
    EXPECT_EQ(s.erase(at(0), at(10)), std::optional<std::uint32_t>(0));
    EXPECT_EQ(s.heap_bytes(), 0u);
    EXPECT_TRUE(s.insert(at(0), at(10)));
    EXPECT_EQ(s.heap_bytes(), 4 * sizeof(seq_range));
    s.clear();
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(s.heap_bytes(), 0u);
}

TEST(RangeSet, InsertMergesOverlappingAndTouchingRanges) {
    range_set<4> s;
    EXPECT_TRUE(s.insert(at(300), at(400)));
    EXPECT_TRUE(s.insert(at(100), at(200)));
    EXPECT_EQ(ranges_of(s), (range_list{{100, 200}, {300, 400}}));
    EXPECT_TRUE(s.insert(at(200), at(250))); // touches 100:200
    EXPECT_EQ(ranges_of(s), (range_list{{100, 250}, {300, 400}}));
    EXPECT_TRUE(s.insert(at(350), at(450))); // overlaps 300:400
    EXPECT_EQ(ranges_of(s), (range_list{{100, 250}, {300, 450}}));
    EXPECT_TRUE(s.insert(at(120), at(130))); // inside: nothing changes
    EXPECT_EQ(ranges_of(s), (range_list{{100, 250}, {300, 450}}));
    EXPECT_TRUE(s.insert(at(250), at(300))); // bridges the two
    EXPECT_EQ(ranges_of(s), (range_list{{100, 450}}));
    EXPECT_TRUE(s.insert(at(50), at(500))); // swallows it
    EXPECT_EQ(ranges_of(s), (range_list{{50, 500}}));
}

TEST(RangeSet, RangesAcrossTheWrapCompareModulo2To32) {
    range_set<4> s;
    // 0x1f0:0x210 holds 0xfffffff0 to 0x10; 0x220:0x230 lies above 0 only.
    EXPECT_TRUE(s.insert(at(0x220), at(0x230)));
    EXPECT_TRUE(s.insert(at(0x1f0), at(0x210)));
    EXPECT_EQ(ranges_of(s), (range_list{{0x1f0, 0x210}, {0x220, 0x230}}));
    EXPECT_TRUE(s.contains(seq32(0xffffffffu)));
    EXPECT_TRUE(s.contains(seq32(0)));
    EXPECT_FALSE(s.contains(seq32(0x10)));
    EXPECT_EQ(s.bytes(), 0x30u);
    EXPECT_EQ(s.covered(seq32(0xfffffff8u), seq32(0x28)), 0x08u + 0x10u + 0x8u);
    EXPECT_TRUE(s.insert(seq32(0x10), seq32(0x20))); // joins them across 0
    EXPECT_EQ(ranges_of(s), (range_list{{0x1f0, 0x230}}));
    s.erase_below(seq32(0x4));
    EXPECT_EQ(ranges_of(s), (range_list{{0x204, 0x230}}));
}

TEST(RangeSet, InsertIntoAFullSetOnlyWhenItMerges) {
    range_set<3> s;
    for (std::uint32_t i = 0; i < 3; ++i) EXPECT_TRUE(s.insert(at(100 * i), at(100 * i + 10)));
    EXPECT_TRUE(s.full());
    EXPECT_FALSE(s.insert(at(50), at(60))); // a fourth range: refused, nothing changes
    EXPECT_FALSE(s.insert(at(400), at(410)));
    EXPECT_EQ(ranges_of(s), (range_list{{0, 10}, {100, 110}, {200, 210}}));
    EXPECT_TRUE(s.insert(at(10), at(20)));  // extends one
    EXPECT_TRUE(s.insert(at(20), at(100))); // joins two: room for one more
    EXPECT_EQ(ranges_of(s), (range_list{{0, 110}, {200, 210}}));
    EXPECT_TRUE(s.insert(at(400), at(410)));
    EXPECT_EQ(ranges_of(s), (range_list{{0, 110}, {200, 210}, {400, 410}}));
}

TEST(RangeSet, EraseBelowDropsAndTrims) {
    range_set<4> s;
    s.insert(at(100), at(200));
    s.insert(at(300), at(400));
    s.insert(at(500), at(600));
    s.erase_below(at(100)); // at the left edge: nothing goes
    EXPECT_EQ(ranges_of(s), (range_list{{100, 200}, {300, 400}, {500, 600}}));
    s.erase_below(at(350));
    EXPECT_EQ(ranges_of(s), (range_list{{350, 400}, {500, 600}}));
    s.erase_below(at(450)); // in a gap
    EXPECT_EQ(ranges_of(s), (range_list{{500, 600}}));
    s.erase_below(at(600));
    EXPECT_TRUE(s.empty());
    EXPECT_NE(s.heap_bytes(), 0u); // the storage stays until clear()
}

TEST(RangeSet, PopFrontForgetsTheLowest) {
    range_set<4> s;
    s.insert(at(300), at(400));
    s.insert(at(100), at(200));
    s.pop_front();
    EXPECT_EQ(ranges_of(s), (range_list{{300, 400}}));
    EXPECT_EQ(s.front().left, at(300));
    EXPECT_EQ(s.back().right, at(400));
}

TEST(RangeSet, EraseTrimsSplitsAndRemoves) {
    range_set<3> s;
    s.insert(at(100), at(200));
    s.insert(at(300), at(400));
    EXPECT_EQ(s.erase(at(0), at(50)), std::optional<std::uint32_t>(0)); // nothing there
    EXPECT_EQ(s.erase(at(150), at(350)), std::optional<std::uint32_t>(100)); // the right of one, the left of the next
    EXPECT_EQ(ranges_of(s), (range_list{{100, 150}, {350, 400}}));
    EXPECT_EQ(s.erase(at(110), at(120)), std::optional<std::uint32_t>(10)); // splits 100:150
    EXPECT_EQ(ranges_of(s), (range_list{{100, 110}, {120, 150}, {350, 400}}));
    // Full: a split needs a fourth range. Refused, nothing changes.
    EXPECT_EQ(s.erase(at(360), at(370)), std::nullopt);
    EXPECT_EQ(ranges_of(s), (range_list{{100, 110}, {120, 150}, {350, 400}}));
    // Taking a whole range, or trimming one, needs no room.
    EXPECT_EQ(s.erase(at(90), at(130)), std::optional<std::uint32_t>(20));
    EXPECT_EQ(ranges_of(s), (range_list{{130, 150}, {350, 400}}));
    EXPECT_EQ(s.erase(at(0), at(1000)), std::optional<std::uint32_t>(70));
    EXPECT_TRUE(s.empty());
}

TEST(RangeSet, ContainsAWholeRangeOnlyWithinOneRange) {
    range_set<4> s;
    s.insert(at(100), at(200));
    s.insert(at(300), at(400));
    EXPECT_TRUE(s.contains(at(100), at(200)));
    EXPECT_TRUE(s.contains(at(150), at(160)));
    EXPECT_FALSE(s.contains(at(150), at(201)));
    EXPECT_FALSE(s.contains(at(150), at(350))); // the gap between is not held
    EXPECT_TRUE(s.contains(at(399)));
    EXPECT_FALSE(s.contains(at(400)));
}

TEST(RangeSet, NextGapSkipsWhatIsHeld) {
    range_set<4> s;
    s.insert(at(100), at(200));
    s.insert(at(300), at(400));
    auto gap = [&](std::uint32_t from, std::uint32_t limit) -> std::optional<std::pair<std::uint32_t, std::uint32_t>> {
        const auto g = s.next_gap(at(from), at(limit));
        if (!g) return std::nullopt;
        return std::pair{g->left.raw() - base, g->right.raw() - base};
    };
    using opt = std::optional<std::pair<std::uint32_t, std::uint32_t>>;
    EXPECT_EQ(gap(0, 1000), (opt{{0, 100}}));
    EXPECT_EQ(gap(150, 1000), (opt{{200, 300}}));
    EXPECT_EQ(gap(200, 250), (opt{{200, 250}}));
    EXPECT_EQ(gap(300, 1000), (opt{{400, 1000}}));
    EXPECT_EQ(gap(100, 200), std::nullopt);
    EXPECT_EQ(gap(120, 150), std::nullopt);
}

// Random inserts and erasures against a bitmap of W octets across the wrap: after each, the
// ranges are exactly the runs of the bitmap, a refusal comes exactly when the runs would
// exceed N (and changes nothing), and the queries agree with the bitmap.
TEST(RangeSet, AgreesWithABitmapOfTheOctets) {
    constexpr std::size_t n = 4;
    constexpr std::uint32_t w = 1024; // the wrap is at offset 0x200
    std::vector<bool> held(w, false);
    range_set<n> s;
    auto runs = [](const std::vector<bool>& bits) {
        range_list out;
        for (std::uint32_t i = 0; i < bits.size(); ++i) {
            if (!bits[i]) continue;
            std::uint32_t j = i;
            while (j < bits.size() && bits[j]) ++j;
            out.emplace_back(i, j);
            i = j;
        }
        return out;
    };
    std::mt19937 rng(11);
    auto pick = [&](std::uint32_t lo, std::uint32_t hi) { return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng); };
    int refused_inserts = 0;
    int refused_erasures = 0;
    for (int step = 0; step < 20000; ++step) {
        const std::uint32_t a = pick(0, w - 2);
        const std::uint32_t b = pick(a + 1, std::min(w, a + 80));
        const auto op = pick(0, 9);
        if (op < 5) {
            auto next = held;
            for (std::uint32_t i = a; i < b; ++i) next[i] = true;
            const bool fits = runs(next).size() <= n;
            ASSERT_EQ(s.insert(at(a), at(b)), fits) << "step " << step;
            if (fits) held = next;
            else ++refused_inserts;
        } else if (op < 9) {
            auto next = held;
            std::uint32_t removed = 0;
            for (std::uint32_t i = a; i < b; ++i) {
                removed += held[i];
                next[i] = false;
            }
            const bool fits = runs(next).size() <= n;
            ASSERT_EQ(s.erase(at(a), at(b)), fits ? std::optional<std::uint32_t>(removed) : std::nullopt)
                << "step " << step;
            if (fits) held = next;
            else ++refused_erasures;
        } else {
            const std::uint32_t below = pick(0, 64); // the low edge creeps up, as SND.UNA or RCV.NXT would
            for (std::uint32_t i = 0; i < below; ++i) held[i] = false;
            s.erase_below(at(below));
        }
        ASSERT_EQ(ranges_of(s), runs(held)) << "step " << step;

        const std::uint32_t p = pick(0, w - 1);
        EXPECT_EQ(s.contains(at(p)), bool(held[p]));
        std::uint32_t covered = 0;
        bool all = true;
        for (std::uint32_t i = a; i < b; ++i) {
            covered += held[i];
            all = all && held[i];
        }
        EXPECT_EQ(s.covered(at(a), at(b)), covered);
        EXPECT_EQ(s.contains(at(a), at(b)), all);
        EXPECT_EQ(s.bytes(), std::uint32_t(std::count(held.begin(), held.end(), true)));
        std::uint32_t first = a;
        while (first < b && held[first]) ++first;
        if (first == b) {
            EXPECT_EQ(s.next_gap(at(a), at(b)), std::nullopt);
        } else {
            std::uint32_t end = first;
            while (end < b && !held[end]) ++end;
            const auto g = s.next_gap(at(a), at(b));
            ASSERT_TRUE(g);
            EXPECT_EQ(g->left, at(first));
            EXPECT_EQ(g->right, at(end));
        }
    }
    // The walk reached the limits both ways, not only the easy cases.
    EXPECT_GT(refused_inserts, 100);
    EXPECT_GT(refused_erasures, 10);
}

} // namespace
} // namespace tern::tcp::test
