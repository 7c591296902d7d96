#include <thread>

#include <gtest/gtest.h>

#include "core/neighbor_cache.hpp"

namespace tern {
namespace {

const instant t0{};
const auto later = t0 + std::chrono::seconds(60);
const ipv4_addr a = ipv4_addr::from_octets(198, 18, 0, 1);

TEST(neighbor_cache, learns_refreshes_and_expires) {
    neighbor_cache c(16);
    EXPECT_FALSE(c.lookup(a, t0));
    mac_addr m1{{2, 0, 0, 0, 0, 1}}, m2{{2, 0, 0, 0, 0, 2}};
    EXPECT_TRUE(c.update(a, m1, later));
    EXPECT_EQ(c.lookup(a, t0), m1);
    EXPECT_TRUE(c.update(a, m2, later));
    EXPECT_EQ(c.lookup(a, t0), m2);
    EXPECT_FALSE(c.lookup(a, later)); // an entry is good strictly before its expiry
    ASSERT_EQ(c.entries().size(), 1u);
}

TEST(neighbor_cache, static_entries_win_and_never_expire) {
    neighbor_cache c(16);
    mac_addr fixed{{2, 0, 0, 0, 0, 9}};
    c.update(a, fixed, instant::max(), true);
    c.update(a, mac_addr{{2, 0, 0, 0, 0, 1}}, later);
    EXPECT_EQ(c.lookup(a, later + std::chrono::hours(24 * 365)), fixed);
    EXPECT_TRUE(c.entries()[0].is_static);
}

TEST(neighbor_cache, full_table_refuses_new_addresses_but_keeps_old_ones) {
    neighbor_cache c(16);
    for (std::uint32_t i = 1; i <= 16; ++i) EXPECT_TRUE(c.update(ipv4_addr{0xc6120000 + i}, mac_addr{{2, 0, 0, 0, 0, 1}}, later));
    EXPECT_FALSE(c.update(ipv4_addr{0xc6120000 + 100}, mac_addr{{2, 0, 0, 0, 0, 1}}, later));
    for (std::uint32_t i = 1; i <= 16; ++i) EXPECT_TRUE(c.lookup(ipv4_addr{0xc6120000 + i}, t0));
    EXPECT_FALSE(c.lookup(ipv4_addr{0xc6120000 + 100}, t0));
}

// Readers on one thread, a writer on another: a reader sees either the old or the new
// MAC, never a mix of the two (the seqlock's job).
TEST(neighbor_cache, readers_never_see_a_torn_entry) {
    neighbor_cache c(16);
    mac_addr x{{0x02, 0x11, 0x11, 0x11, 0x11, 0x11}}, y{{0x02, 0x22, 0x22, 0x22, 0x22, 0x22}};
    c.update(a, x, later);
    std::atomic<bool> done{false};
    std::thread writer([&] {
        for (int i = 0; i < 200000; ++i) c.update(a, i % 2 ? x : y, later);
        done = true;
    });
    std::uint64_t reads = 0;
    while (!done || reads < 1000) {
        auto m = c.lookup(a, t0);
        ASSERT_TRUE(m.has_value());
        ASSERT_TRUE(*m == x || *m == y) << m->to_string();
        ++reads;
    }
    writer.join();
}

} // namespace
} // namespace tern
