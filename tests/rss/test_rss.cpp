// Unit tests of src/dpdk/rss.hpp: the software Toeplitz hash, the redirection table and the
// per-engine ephemeral port pools. No EAL: rte_softrss (the reference) is an inline function.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <set>
#include <span>
#include <type_traits>
#include <vector>

#include <rte_thash.h>

#include "dpdk/rss.hpp"
#include "tern/tcp.hpp"

namespace {

using namespace tern;
using rss::ipv4_tuple;
using rss::port_pool;
using rss::redirection_table;
using rss::toeplitz;

// The RSS verification suite's key: Microsoft, "Verifying the RSS Hash Calculation"
// (learn.microsoft.com/windows-hardware/drivers/network/verifying-the-rss-hash-calculation),
// also the default key of the Intel datasheets (82599 §7.1.2.8.3) and DPDK's
// app/test/test_thash.c `default_rss_key`.
constexpr std::array<std::uint8_t, 40> ms_key = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

struct ms_vector {
    ipv4_addr dst;
    std::uint16_t dst_port;
    ipv4_addr src;
    std::uint16_t src_port;
    std::uint32_t ipv4_only; // not what we compute; kept so the rows read as the table does
    std::uint32_t ipv4_tcp;
};

constexpr ipv4_addr ip(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return ipv4_addr::from_octets(a, b, c, d);
}

// The five IPv4 rows of the same suite, "IPv4 with TCP" column (the same in DPDK's
// app/test/test_thash.c v4_tbl, "From 82599 Datasheet 7.1.2.8.3 RSS Verification Suite").
constexpr std::array<ms_vector, 5> ms_vectors = {{
    {ip(161, 142, 100, 80), 1766, ip(66, 9, 149, 187), 2794, 0x323e8fc2, 0x51ccc178},
    {ip(65, 69, 140, 83), 4739, ip(199, 92, 111, 2), 14230, 0xd718262a, 0xc626b0ea},
    {ip(12, 22, 207, 184), 38024, ip(24, 19, 198, 95), 12898, 0xd2d0a5de, 0x5c2b394a},
    {ip(209, 142, 163, 6), 2217, ip(38, 27, 205, 30), 48228, 0x82989176, 0xafc7327f},
    {ip(202, 188, 127, 2), 1303, ip(153, 39, 163, 191), 44251, 0x5d1809c5, 0x10e828a2},
}};

toeplitz make_hash(std::span<const std::uint8_t> key) {
    auto h = toeplitz::make(key);
    EXPECT_TRUE(h.has_value());
    return std::move(h.value());
}

// DPDK's bit-by-bit rte_softrss with the key as the NIC takes it: the reference the table
// is checked against.
std::uint32_t softrss(const ipv4_tuple& t, std::span<const std::uint8_t> key) {
    alignas(16) std::array<std::uint8_t, 64> k{};
    std::copy(key.begin(), key.end(), k.begin());
    rte_ipv4_tuple in{};
    in.src_addr = t.src.value;
    in.dst_addr = t.dst.value;
    in.sport = t.src_port;
    in.dport = t.dst_port;
    return rte_softrss(reinterpret_cast<std::uint32_t*>(&in), RTE_THASH_V4_L4_LEN, k.data());
}

ipv4_tuple random_tuple(std::mt19937_64& rng) {
    return ipv4_tuple{ipv4_addr{std::uint32_t(rng())}, ipv4_addr{std::uint32_t(rng())}, std::uint16_t(rng()),
                      std::uint16_t(rng())};
}

ipv4_tuple reversed(const ipv4_tuple& t) { return ipv4_tuple{t.dst, t.src, t.dst_port, t.src_port}; }

// ---- the hash -------------------------------------------------------------------------

TEST(Toeplitz, MicrosoftVerificationSuiteIpv4Tcp) {
    const toeplitz h = make_hash(ms_key);
    for (const ms_vector& v : ms_vectors) {
        const ipv4_tuple t{v.src, v.dst, v.src_port, v.dst_port};
        EXPECT_EQ(h.hash(t), v.ipv4_tcp) << v.src.to_string() << ":" << v.src_port << " -> " << v.dst.to_string()
                                         << ":" << v.dst_port;
        EXPECT_EQ(softrss(t, ms_key), v.ipv4_tcp); // and the reference agrees with the suite
    }
}

// The suite's three IPv6 rows, "IPv6 with TCP" column (DPDK's test_thash.c v6_tbl too).
struct ms_vector_v6 {
    const char* dst;
    std::uint16_t dst_port;
    const char* src;
    std::uint16_t src_port;
    std::uint32_t ipv6_tcp;
};
constexpr std::array<ms_vector_v6, 3> ms_vectors_v6 = {{
    {"3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794, 0x40207d3d},
    {"ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230, 0xdde51bbf},
    {"fe80::200:f8ff:fe21:67cf", 38024, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, 0x02d1feef},
}};

// rte_softrss over the IPv6 tuple: nine 32-bit words in host order, as
// rte_thash_load_v6_addrs leaves the addresses, the ports in the last.
std::uint32_t softrss(const rss::ipv6_tuple& t, std::span<const std::uint8_t> key) {
    alignas(16) std::array<std::uint8_t, 64> k{};
    std::copy(key.begin(), key.end(), k.begin());
    std::array<std::uint32_t, 9> words{};
    for (std::size_t i = 0; i < 4; ++i) {
        const auto word = [&](const ipv6_addr& a) {
            return std::uint32_t(a.bytes[4 * i]) << 24 | std::uint32_t(a.bytes[4 * i + 1]) << 16 |
                   std::uint32_t(a.bytes[4 * i + 2]) << 8 | a.bytes[4 * i + 3];
        };
        words[i] = word(t.src);
        words[4 + i] = word(t.dst);
    }
    words[8] = std::uint32_t(t.src_port) << 16 | t.dst_port;
    return rte_softrss(words.data(), RTE_THASH_V6_L4_LEN, k.data());
}

rss::ipv6_tuple random_tuple_v6(std::mt19937_64& rng) {
    rss::ipv6_tuple t;
    for (auto& b : t.src.bytes) b = std::uint8_t(rng());
    for (auto& b : t.dst.bytes) b = std::uint8_t(rng());
    t.src_port = std::uint16_t(rng());
    t.dst_port = std::uint16_t(rng());
    return t;
}

TEST(Toeplitz, MicrosoftVerificationSuiteIpv6Tcp) {
    const toeplitz h = make_hash(ms_key);
    ASSERT_TRUE(h.has_ipv6());
    for (const ms_vector_v6& v : ms_vectors_v6) {
        const rss::ipv6_tuple t{*ipv6_addr::parse(v.src), *ipv6_addr::parse(v.dst), v.src_port, v.dst_port};
        EXPECT_EQ(h.hash(t), v.ipv6_tcp) << v.src << " -> " << v.dst;
        EXPECT_EQ(softrss(t, ms_key), v.ipv6_tcp);
    }
}

TEST(Toeplitz, Ipv6MatchesDpdkSoftrssAndNeedsFortyBytesOfKey) {
    std::mt19937_64 rng(6);
    for (std::size_t len : {rss::key_len_ipv6, rss::key_len_max}) {
        for (int k = 0; k < 20; ++k) {
            std::vector<std::uint8_t> key(len);
            for (auto& b : key) b = std::uint8_t(rng());
            const toeplitz h = make_hash(key);
            ASSERT_TRUE(h.has_ipv6());
            for (int i = 0; i < 500; ++i) {
                const rss::ipv6_tuple t = random_tuple_v6(rng);
                ASSERT_EQ(h.hash(t), softrss(t, key)) << "key length " << len;
            }
        }
    }
    EXPECT_FALSE(make_hash(std::span(ms_key).first(rss::key_len_ipv6 - 1)).has_ipv6());
    EXPECT_FALSE(make_hash(std::span(ms_key).first(rss::key_len_min)).has_ipv6());
}

// The symmetric key's 16-bit period holds for IPv6's longer input too.
TEST(Toeplitz, SymmetricKeyHashesBothDirectionsOfIpv6Alike) {
    const toeplitz h = toeplitz::symmetric();
    ASSERT_TRUE(h.has_ipv6());
    std::mt19937_64 rng(66);
    for (int i = 0; i < 1000; ++i) {
        const rss::ipv6_tuple t = random_tuple_v6(rng);
        ASSERT_EQ(h.hash(t), h.hash(rss::ipv6_tuple{t.dst, t.src, t.dst_port, t.src_port}));
    }
}

TEST(Toeplitz, MatchesDpdkSoftrssForRandomKeysAndTuples) {
    std::mt19937_64 rng(9);
    for (std::size_t len : {rss::key_len_min, std::size_t(40), rss::key_len_max}) {
        for (int k = 0; k < 20; ++k) {
            std::vector<std::uint8_t> key(len);
            for (auto& b : key) b = std::uint8_t(rng());
            const toeplitz h = make_hash(key);
            for (int i = 0; i < 500; ++i) {
                const ipv4_tuple t = random_tuple(rng);
                ASSERT_EQ(h.hash(t), softrss(t, key)) << "key length " << len;
            }
        }
    }
}

TEST(Toeplitz, ZeroTupleHashesToZeroAndOneBitGivesItsKeyWindow) {
    const toeplitz h = make_hash(ms_key);
    EXPECT_EQ(h.hash(ipv4_tuple{}), 0u);
    // The first input bit takes key bits 0..31; the last (bit 95) takes bits 95..126.
    EXPECT_EQ(h.hash(ipv4_tuple{ipv4_addr{0x80000000u}, {}, 0, 0}), 0x6d5a56dau);
    // Key bytes 11..15 are 3d 43 a3 8f b0: bit 95 is the last of 0x3d, bit 126 the 7th of 0xb0.
    const auto bits_95_to_126 = std::uint32_t((0x3d43a38fb0ull >> 1) & 0xffffffffull);
    EXPECT_EQ(h.hash(ipv4_tuple{{}, {}, 0, 1}), bits_95_to_126);
}

TEST(Toeplitz, ReadsOnlyTheFirstSixteenBytesOfTheKey) {
    const toeplitz full = make_hash(ms_key);
    const toeplitz head = make_hash(std::span(ms_key).first(rss::key_len_min));
    std::mt19937_64 rng(16);
    for (int i = 0; i < 1000; ++i) {
        const ipv4_tuple t = random_tuple(rng);
        ASSERT_EQ(full.hash(t), head.hash(t));
    }
}

TEST(Toeplitz, RefusesAKeyShorterThanTheInputNeeds) {
    auto h = toeplitz::make(std::span(ms_key).first(rss::key_len_min - 1));
    ASSERT_FALSE(h.has_value());
    EXPECT_EQ(h.error(), rss::error::key_too_short);
    EXPECT_FALSE(toeplitz::make({}).has_value());
}

TEST(Toeplitz, SymmetricKeyIsWhatPortsProgram) {
    constexpr auto key = rss::symmetric_key();
    static_assert(key.size() == rss::key_len_max);
    for (std::size_t i = 0; i < key.size(); i += 2) {
        EXPECT_EQ(key[i], 0x6d);
        EXPECT_EQ(key[i + 1], 0x5a);
    }
    const toeplitz h = toeplitz::symmetric();
    std::mt19937_64 rng(40);
    for (int i = 0; i < 1000; ++i) {
        const ipv4_tuple t = random_tuple(rng);
        ASSERT_EQ(h.hash(t), softrss(t, key));
        ASSERT_EQ(h.hash(t), softrss(t, std::span(key).first(40))); // a 40-byte NIC
    }
}

TEST(Toeplitz, SymmetricKeyHashesBothDirectionsAlike) {
    const toeplitz h = toeplitz::symmetric();
    std::mt19937_64 rng(1);
    for (int i = 0; i < 100000; ++i) {
        const ipv4_tuple t = random_tuple(rng);
        ASSERT_EQ(h.hash(t), h.hash(reversed(t))) << t.src.to_string() << ":" << t.src_port;
    }
    // Not a property of any key: the suite's key tells the directions apart.
    const toeplitz ms = make_hash(ms_key);
    const ms_vector& v = ms_vectors[0];
    const ipv4_tuple t{v.src, v.dst, v.src_port, v.dst_port};
    EXPECT_NE(ms.hash(t), ms.hash(reversed(t)));
}

// What rss.hpp warns of: with a key of period 16 bits the hash sees only the XOR of the
// tuple's six 16-bit words, so it is no flow-table hash (65,536 values at most).
TEST(Toeplitz, SymmetricKeyHashesOnlyTheXorOfTheTuplesWords) {
    const toeplitz h = toeplitz::symmetric();
    std::mt19937_64 rng(2);
    for (int i = 0; i < 10000; ++i) {
        const ipv4_tuple t = random_tuple(rng);
        const auto fold = std::uint16_t((t.src.value >> 16) ^ t.src.value ^ (t.dst.value >> 16) ^ t.dst.value ^
                                        t.src_port ^ t.dst_port);
        ASSERT_EQ(h.hash(t), h.hash(ipv4_tuple{{}, {}, 0, fold}));
    }
    // Two flows of one hash: addresses swapped, ports not; a client's address and its port
    // one apart in the same bit.
    EXPECT_EQ(h.hash({ip(198, 18, 0, 1), ip(198, 18, 0, 2), 40000, 80}),
              h.hash({ip(198, 18, 0, 2), ip(198, 18, 0, 1), 40000, 80}));
    EXPECT_EQ(h.hash({ip(198, 18, 0, 1), ip(198, 18, 0, 2), 40001, 80}),
              h.hash({ip(198, 18, 0, 0), ip(198, 18, 0, 2), 40000, 80}));
}

// ---- the redirection table ------------------------------------------------------------

TEST(RedirectionTable, RoundRobinOverTheEngines) {
    auto r = redirection_table::round_robin(128, 3);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->size(), 128u);
    EXPECT_EQ(r->engines(), 3);
    std::array<int, 3> owned{};
    for (std::uint32_t i = 0; i < 128; ++i) {
        EXPECT_EQ(r->entries()[i], i % 3);
        ++owned[r->entries()[i]];
    }
    EXPECT_EQ(owned, (std::array<int, 3>{43, 43, 42}));
    // Only the hash's low seven bits pick the entry.
    EXPECT_EQ(r->engine_of(0), 0);
    EXPECT_EQ(r->engine_of(4), 1);
    EXPECT_EQ(r->engine_of(128 + 4), 1);
    EXPECT_EQ(r->engine_of(0xffffff80u | 5), 2);
    EXPECT_EQ(r->engine_of(127), 127 % 3);
}

TEST(RedirectionTable, OneEngineOwnsEverything) {
    for (std::uint32_t size : {1u, 64u, 512u}) {
        auto r = redirection_table::round_robin(size, 1);
        ASSERT_TRUE(r.has_value());
        for (std::uint32_t h : {0u, 1u, 0xdeadbeefu, 0xffffffffu}) EXPECT_EQ(r->engine_of(h), 0);
    }
}

TEST(RedirectionTable, InTheFormRetaUpdateTakes) {
    auto r = redirection_table::round_robin(512, 5);
    ASSERT_TRUE(r.has_value());
    const auto groups = r->reta_update_entries();
    ASSERT_EQ(groups.size(), 512u / RTE_ETH_RETA_GROUP_SIZE);
    for (std::size_t g = 0; g < groups.size(); ++g) {
        EXPECT_EQ(groups[g].mask, ~std::uint64_t(0));
        for (std::size_t i = 0; i < RTE_ETH_RETA_GROUP_SIZE; ++i)
            EXPECT_EQ(groups[g].reta[i], (g * RTE_ETH_RETA_GROUP_SIZE + i) % 5);
    }
    auto small = redirection_table::round_robin(8, 2);
    ASSERT_TRUE(small.has_value());
    const auto one = small->reta_update_entries();
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0].mask, 0xffu);
    EXPECT_EQ(one[0].reta[7], 1);
}

TEST(RedirectionTable, RefusesBadSizesAndEngineCounts) {
    auto refused = [](std::uint32_t size, std::uint16_t engines) {
        auto r = redirection_table::round_robin(size, engines);
        EXPECT_FALSE(r.has_value()) << size << " entries, " << engines << " engines";
        return r.has_value() ? rss::error{} : r.error();
    };
    EXPECT_EQ(refused(128, 0), rss::error::no_engines);
    EXPECT_EQ(refused(0, 1), rss::error::reta_size_not_power_of_two);
    EXPECT_EQ(refused(100, 4), rss::error::reta_size_not_power_of_two);
    EXPECT_EQ(refused(1u << 16, 4), rss::error::reta_too_large);
    EXPECT_EQ(refused(2, 3), rss::error::reta_smaller_than_engines);
    EXPECT_TRUE(redirection_table::round_robin(redirection_table::reta_size_max, 4).has_value());
    EXPECT_TRUE(redirection_table::round_robin(4, 4).has_value());
    // Each refusal says what was wrong, each differently.
    std::set<std::string_view> texts;
    for (auto e : {rss::error::key_too_short, rss::error::no_engines, rss::error::reta_size_not_power_of_two,
                   rss::error::reta_too_large, rss::error::reta_smaller_than_engines, rss::error::empty_port_range,
                   rss::error::no_ipv6_key})
        texts.insert(rss::to_string(e));
    EXPECT_EQ(texts.size(), 7u);
    EXPECT_EQ(texts.count("?"), 0u);
}

// ---- the port pools -------------------------------------------------------------------

// Every port of every engine's pool hashes home, by DPDK's reference hash of the reply;
// the pools ascend, do not overlap and cover the range; each engine has about its share of
// the table's entries. Addr: ipv4_addr or ipv6_addr.
template <class Addr>
void check_pools(std::span<const std::uint8_t> key, std::uint32_t reta_size, std::uint16_t engines, Addr local,
                 Addr remote, std::uint16_t remote_port) {
    using tuple = std::conditional_t<std::is_same_v<Addr, ipv4_addr>, ipv4_tuple, rss::ipv6_tuple>;
    SCOPED_TRACE(testing::Message() << engines << " engines, RETA " << reta_size << ", " << local.to_string()
                                    << " -> " << remote.to_string() << ":" << remote_port);
    const toeplitz h = make_hash(key);
    auto reta = redirection_table::round_robin(reta_size, engines);
    ASSERT_TRUE(reta.has_value());
    auto pool = port_pool::make(h, *reta, local, remote, remote_port);
    ASSERT_TRUE(pool.has_value());
    ASSERT_EQ(pool->engines(), engines);
    const rss::port_range range = rss::ephemeral_range();
    std::vector<int> seen(65536, 0);
    std::size_t total = 0;
    for (std::uint16_t e = 0; e < engines; ++e) {
        const auto ports = pool->of(e);
        EXPECT_TRUE(std::is_sorted(ports.begin(), ports.end()));
        for (std::uint16_t port : ports) {
            const tuple reply{remote, local, remote_port, port};
            ASSERT_EQ(reta->entries()[softrss(reply, key) & (reta_size - 1)], e) << "port " << port;
            ++seen[port];
        }
        total += ports.size();
        const double entries =
            double(std::count(reta->entries().begin(), reta->entries().end(), e)) / double(reta_size);
        const double expected = entries * range.count;
        EXPECT_NEAR(double(ports.size()), expected, 0.1 * expected) << "engine " << e;
    }
    EXPECT_EQ(total, range.count);
    for (std::uint32_t p = 0; p < 65536; ++p) {
        const bool in_range = p >= range.first && p < range.first + range.count;
        ASSERT_EQ(seen[p], in_range ? 1 : 0) << "port " << p;
    }
}

TEST(PortPool, EveryPortHashesHomeAndThePoolsPartitionTheRange) {
    constexpr auto key = rss::symmetric_key();
    const ipv4_addr client = ip(198, 18, 0, 1), server = ip(198, 19, 0, 1);
    for (std::uint16_t engines : {1, 2, 3, 4, 5, 7, 8, 16}) check_pools(key, 128, engines, client, server, 80);
    for (std::uint16_t engines : {2, 3, 6, 64}) check_pools(key, 512, engines, client, server, 443);
    check_pools(key, 64, 64, ip(198, 18, 3, 7), ip(198, 19, 200, 1), 8080);
    check_pools(key, 1, 1, client, server, 80);
}

TEST(PortPool, DependsOnTheReplyDirectionWhateverTheKey) {
    // The suite's key is not symmetric: a pool still puts each port's reply home.
    check_pools(ms_key, 128, 4, ip(198, 18, 0, 1), ip(198, 19, 0, 1), 80);
    check_pools(ms_key, 512, 3, ip(198, 18, 0, 9), ip(198, 19, 0, 2), 5001);
}

// The same over IPv6: the reply's tuple is (remote, local, remote port, port) as for IPv4,
// hashed by the IPv6 TCP hash (its 36 bytes of input).
TEST(PortPool, Ipv6EveryPortHashesHomeAndThePoolsPartitionTheRange) {
    constexpr auto key = rss::symmetric_key();
    const ipv6_addr client = *ipv6_addr::parse("2001:2::1"), server = *ipv6_addr::parse("2001:2:0:1::9");
    for (std::uint16_t engines : {2, 4}) check_pools(key, 128, engines, client, server, 80);
    check_pools(key, 512, 4, server, client, 443);
    check_pools(ms_key, 128, 2, client, server, 8080); // a key of exactly key_len_ipv6 bytes
    check_pools(ms_key, 512, 4, *ipv6_addr::parse("fe80::1"), *ipv6_addr::parse("2001:db8::abcd"), 5001);
}

// A key too short for IPv6 is an error to report, not an assertion in the hash.
TEST(PortPool, Ipv6NeedsAnIpv6Key) {
    const toeplitz h = make_hash(std::span(ms_key).first(rss::key_len_min));
    auto reta = redirection_table::round_robin(128, 2);
    ASSERT_TRUE(reta.has_value());
    const ipv6_addr a = *ipv6_addr::parse("2001:2::1"), b = *ipv6_addr::parse("2001:2::2");
    auto pool = port_pool::make(h, *reta, a, b, 80);
    ASSERT_FALSE(pool.has_value());
    EXPECT_EQ(pool.error(), rss::error::no_ipv6_key);
    EXPECT_TRUE(port_pool::make(h, *reta, ip(198, 18, 0, 1), ip(198, 19, 0, 1), 80).has_value()); // IPv4 still works
}

TEST(PortPool, ProbesAreCheapAfterBuilding) {
    const toeplitz h = toeplitz::symmetric();
    auto reta = redirection_table::round_robin(512, 4);
    ASSERT_TRUE(reta.has_value());
    auto pool = port_pool::make(h, *reta, ip(198, 18, 0, 1), ip(198, 19, 0, 1), 80);
    ASSERT_TRUE(pool.has_value());
    // 2 bytes a port of the range and 4 an engine (+1), whatever the engine count.
    EXPECT_EQ(pool->memory_bytes(), std::size_t(tcp::ephemeral_port_count) * 2 + 5 * 4);
    EXPECT_EQ(rss::ephemeral_range().first, tcp::ephemeral_port_first);
    EXPECT_EQ(rss::ephemeral_range().count, tcp::ephemeral_port_count);
}

TEST(PortPool, OtherRangesAndBadRanges) {
    const toeplitz h = toeplitz::symmetric();
    auto reta = redirection_table::round_robin(128, 2);
    ASSERT_TRUE(reta.has_value());
    const ipv4_addr a = ip(198, 18, 0, 1), b = ip(198, 19, 0, 1);
    auto whole = port_pool::make(h, *reta, a, b, 80, {0, 65536});
    ASSERT_TRUE(whole.has_value());
    EXPECT_EQ(whole->of(0).size() + whole->of(1).size(), 65536u);
    auto last = port_pool::make(h, *reta, a, b, 80, {65535, 1});
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(last->of(0).size() + last->of(1).size(), 1u);
    for (rss::port_range bad : {rss::port_range{1024, 0}, rss::port_range{65535, 2}, rss::port_range{1, 65536}}) {
        auto p = port_pool::make(h, *reta, a, b, 80, bad);
        ASSERT_FALSE(p.has_value()) << bad.first << "+" << bad.count;
        EXPECT_EQ(p.error(), rss::error::empty_port_range);
    }
}

} // namespace
