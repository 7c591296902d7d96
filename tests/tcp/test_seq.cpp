// seq32: RFC 9293 §3.4 comparison modulo 2^32; and the connection's deadline type.
#include <gtest/gtest.h>

#include <algorithm>
#include <type_traits>

#include "tcp/seq.hpp"
#include "tcp/types.hpp"

namespace tern::tcp {
namespace {

static_assert(!std::is_convertible_v<seq32, std::uint32_t>);
static_assert(!std::is_convertible_v<seq32, int>);
static_assert(!std::is_convertible_v<std::uint32_t, seq32>);

// A connection's timer: unset until given an instant, unset again by reset(); the earliest
// of several is the least of their or_never(), an unset one never.
TEST(Deadline, IsUnsetUntilGivenAnInstant) {
    static_assert(sizeof(deadline) == sizeof(instant));
    deadline d;
    EXPECT_FALSE(d);
    EXPECT_EQ(d.or_never(), instant::max());
    const instant t = instant(std::chrono::seconds(5));
    d = t;
    EXPECT_TRUE(d);
    EXPECT_EQ(*d, t);
    d = instant(); // the clock's epoch is an instant like any other
    EXPECT_TRUE(d);
    EXPECT_EQ(*d, instant());
    deadline other;
    EXPECT_EQ(std::min(d.or_never(), other.or_never()), instant());
    d.reset();
    EXPECT_FALSE(d);
}

TEST(Seq32, OrdersPlainNumbers) {
    EXPECT_LT(seq32(1), seq32(2));
    EXPECT_GT(seq32(2), seq32(1));
    EXPECT_LE(seq32(2), seq32(2));
    EXPECT_GE(seq32(2), seq32(2));
    EXPECT_EQ(seq32(7), seq32(7));
    EXPECT_NE(seq32(7), seq32(8));
}

TEST(Seq32, OrdersAcrossTheWrap) {
    const seq32 before(0xfffffff0u);
    const seq32 after(0x10u);
    EXPECT_LT(before, after);
    EXPECT_GT(after, before);
    EXPECT_EQ(after - before, 0x20);
    EXPECT_EQ(before - after, -0x20);
}

TEST(Seq32, AdditionWraps) {
    EXPECT_EQ(seq32(0xffffffffu) + 1, seq32(0));
    EXPECT_EQ(seq32(0) - 1, seq32(0xffffffffu));
    seq32 s(0xfffffffeu);
    s += 4;
    EXPECT_EQ(s, seq32(2));
    s -= 4;
    EXPECT_EQ(s, seq32(0xfffffffeu));
}

TEST(Seq32, HalfTheSpaceApartIsOrderedBySign) {
    // 2^31 apart is the one ambiguous distance; like Linux, a - b = INT32_MIN means a < b.
    const seq32 a(0);
    const seq32 b(0x80000000u);
    EXPECT_LT(b, a);
    EXPECT_GT(a, b + 1); // b + 1 is 2^31 - 1 behind a
    EXPECT_LT(a, b - 1);
}

TEST(Seq32, RangeAndDistanceAcrossTheWrap) {
    const seq32 lo(0xffffff00u);
    EXPECT_TRUE(in_range(lo, lo, lo + 0x200));
    EXPECT_TRUE(in_range(lo, seq32(0x10), lo + 0x200));
    EXPECT_FALSE(in_range(lo, lo + 0x200, lo + 0x200));
    EXPECT_FALSE(in_range(lo, lo - 1, lo + 0x200));
    EXPECT_FALSE(in_range(lo, seq32(5), lo)); // empty range
    EXPECT_EQ(seq_distance(lo, seq32(0x100)), 0x200u);
    EXPECT_EQ(seq_max(lo, seq32(1)), seq32(1));
    EXPECT_EQ(seq_min(lo, seq32(1)), lo);
}

} // namespace
} // namespace tern::tcp
