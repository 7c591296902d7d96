#include <string>
#include <thread>
#include <vector>

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

const ipv6_addr a6 = *ipv6_addr::parse("2001:2::1");

// IPv6 entries: claimed without a MAC (held, not found), learned, refreshed, expired; a
// version of their own.
TEST(neighbor_cache, ipv6_entries_are_claimed_then_learned) {
    neighbor_cache c(16);
    EXPECT_FALSE(c.holds(a6));
    EXPECT_TRUE(c.claim(a6));
    EXPECT_TRUE(c.holds(a6));
    EXPECT_FALSE(c.lookup_entry(a6, t0));
    EXPECT_TRUE(c.entries6().empty());
    const std::uint64_t v4 = c.version(), v6 = c.version6();
    mac_addr m1{{2, 0, 0, 0, 0, 1}};
    EXPECT_TRUE(c.update(a6, m1, later));
    EXPECT_EQ(c.lookup_entry(a6, t0)->mac, m1);
    EXPECT_FALSE(c.lookup_entry(a6, later));
    EXPECT_EQ(c.version6(), v6 + 1);
    EXPECT_EQ(c.version(), v4);
    ASSERT_EQ(c.entries6().size(), 1u);
    EXPECT_EQ(c.entries6()[0].ip, a6);
    EXPECT_FALSE(c.lookup_entry(*ipv6_addr::parse("2001:2::2"), t0));
}

TEST(neighbor_cache, a_full_ipv6_table_refuses_new_addresses_but_keeps_old_ones) {
    neighbor_cache c(16);
    auto nth = [](int i) { return *ipv6_addr::parse("2001:2::" + std::to_string(100 + i)); };
    for (int i = 0; i < 16; ++i) EXPECT_TRUE(c.update(nth(i), mac_addr{{2, 0, 0, 0, 0, 1}}, later));
    EXPECT_FALSE(c.claim(nth(16)));
    EXPECT_FALSE(c.update(nth(16), mac_addr{{2, 0, 0, 0, 0, 1}}, later));
    for (int i = 0; i < 16; ++i) EXPECT_TRUE(c.lookup_entry(nth(i), t0));
}

// Two writers claiming the same 16-byte key at once end up in one slot: a second slot for
// it would leave one of them updating an entry no lookup finds.
TEST(neighbor_cache, ipv6_claims_racing_for_one_address_share_a_slot) {
    for (int round = 0; round < 200; ++round) {
        neighbor_cache c(16);
        const ipv6_addr x = *ipv6_addr::parse("2001:2::" + std::to_string(round + 1));
        std::atomic<bool> go{false};
        std::thread other([&] {
            while (!go) {}
            c.update(x, mac_addr{{2, 0, 0, 0, 0, 2}}, later);
        });
        go = true;
        c.claim(x);
        other.join();
        ASSERT_EQ(c.entries6().size(), 1u);
        ASSERT_TRUE(c.lookup_entry(x, t0)); // the slot lookups find is the one with the MAC
        for (int i = 0; i < 15; ++i) // every other slot is still free: 15 more addresses fit
            ASSERT_TRUE(c.claim(*ipv6_addr::parse("2001:3::" + std::to_string(i + 1))));
    }
}

// Our IPv6 addresses' states: what one engine publishes, another reads, with the version.
TEST(neighbor_cache, address_states_published_are_read_back) {
    neighbor_cache c(16);
    c.hold_addresses(3);
    std::vector<std::uint8_t> out(3, 9);
    const std::uint64_t before = c.read_addresses(out);
    EXPECT_EQ(out, (std::vector<std::uint8_t>{0, 0, 0}));
    c.publish_addresses(std::vector<std::uint8_t>{1, 2, 1});
    EXPECT_NE(c.addresses_version(), before);
    EXPECT_EQ(c.read_addresses(out), c.addresses_version());
    EXPECT_EQ(out, (std::vector<std::uint8_t>{1, 2, 1}));
}

} // namespace
} // namespace tern
