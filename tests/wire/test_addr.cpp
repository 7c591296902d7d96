#include "tern/addr.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

TEST(Ipv4Addr, ParsesDottedQuad) {
    EXPECT_EQ(ipv4_addr::parse("198.18.0.1"), ipv4_addr{0xc6120001});
    EXPECT_EQ(ipv4_addr::parse("0.0.0.0"), ipv4_addr{0});
    EXPECT_EQ(ipv4_addr::parse("255.255.255.255"), ipv4_addr{0xffffffff});
    EXPECT_EQ(ipv4_addr::parse("10.0.200.3"), ipv4_addr::from_octets(10, 0, 200, 3));
}

TEST(Ipv4Addr, RefusesMalformedText) {
    for (const char* text : {"", ".", "1.2.3", "1.2.3.4.5", "1.2.3.4.", ".1.2.3.4", "1..2.3", "256.0.0.1",
                             "1.2.3.256", "1.2.3.1000", "1.2.3.-1", "+1.2.3.4", " 1.2.3.4", "1.2.3.4 ",
                             "a.b.c.d", "1.2.3.0x4", "1.2.3.4/24", "01.2.3.4", "1.2.3.00", "1,2,3,4"}) {
        EXPECT_FALSE(ipv4_addr::parse(text)) << '"' << text << '"';
    }
}

TEST(Ipv4Addr, FormatsAndRoundTrips) {
    EXPECT_EQ(ipv4_addr{0xc6120001}.to_string(), "198.18.0.1");
    for (const char* text : {"0.0.0.0", "198.19.255.254", "255.255.255.255", "10.0.0.1"})
        EXPECT_EQ(ipv4_addr::parse(text)->to_string(), text);
}

TEST(Ipv4Addr, Classifies) {
    EXPECT_TRUE(ipv4_addr{}.is_unspecified());
    EXPECT_TRUE(ipv4_addr::from_octets(255, 255, 255, 255).is_broadcast());
    EXPECT_TRUE(ipv4_addr::from_octets(224, 0, 0, 1).is_multicast());
    EXPECT_TRUE(ipv4_addr::from_octets(239, 255, 255, 255).is_multicast());
    EXPECT_FALSE(ipv4_addr::from_octets(240, 0, 0, 1).is_multicast());
    EXPECT_FALSE(ipv4_addr::from_octets(198, 18, 0, 1).is_multicast());
}

TEST(Ipv4Cidr, ParsesPrefix) {
    auto c = ipv4_cidr::parse("198.18.0.2/24");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->addr, ipv4_addr::from_octets(198, 18, 0, 2));
    EXPECT_EQ(c->prefix_len, 24);
    EXPECT_EQ(c->mask(), 0xffffff00u);
    EXPECT_TRUE(c->contains(ipv4_addr::from_octets(198, 18, 0, 200)));
    EXPECT_FALSE(c->contains(ipv4_addr::from_octets(198, 18, 1, 2)));
    EXPECT_EQ(c->broadcast(), ipv4_addr::from_octets(198, 18, 0, 255));

    auto host = ipv4_cidr::parse("198.18.0.2");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->prefix_len, 32);
    EXPECT_EQ(host->mask(), 0xffffffffu);

    auto all = ipv4_cidr::parse("0.0.0.0/0");
    ASSERT_TRUE(all);
    EXPECT_EQ(all->mask(), 0u);
    EXPECT_TRUE(all->contains(ipv4_addr::from_octets(8, 8, 8, 8)));

    auto bench = ipv4_cidr::parse("198.18.0.0/15");
    ASSERT_TRUE(bench);
    EXPECT_TRUE(bench->contains(ipv4_addr::from_octets(198, 19, 255, 255)));
    EXPECT_FALSE(bench->contains(ipv4_addr::from_octets(198, 20, 0, 0)));
}

TEST(Ipv4Cidr, RefusesMalformedText) {
    for (const char* text : {"", "/24", "198.18.0.2/", "198.18.0.2/33", "198.18.0.2/-1", "198.18.0.2/+8",
                             "198.18.0.2/024", "198.18.0.2/24/1", "198.18.0/24", "198.18.0.2/ 24", "198.18.0.2/x"}) {
        EXPECT_FALSE(ipv4_cidr::parse(text)) << '"' << text << '"';
    }
}

TEST(MacAddr, ParsesBothSeparatorsAndCases) {
    auto m = mac_addr::parse("02:00:00:00:00:01");
    ASSERT_TRUE(m);
    EXPECT_EQ(*m, (mac_addr{{0x02, 0, 0, 0, 0, 0x01}}));
    EXPECT_EQ(mac_addr::parse("AA-bb-CC-dd-EE-ff"), (mac_addr{{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}));
    EXPECT_EQ(mac_addr::parse("ff:ff:ff:ff:ff:ff"), mac_addr::broadcast());
}

TEST(MacAddr, RefusesMalformedText) {
    for (const char* text : {"", "02:00:00:00:00", "02:00:00:00:00:01:", "02:00:00:00:00:001", "02:00:00-00:00:01",
                             "02.00.00.00.00.01", "0g:00:00:00:00:01", "+2:00:00:00:00:01", "-2:00:00:00:00:01",
                             " 2:00:00:00:00:01", "2:0:0:0:0:1", "0200:0000:0001", "02:00:00:00:00:0x"}) {
        EXPECT_FALSE(mac_addr::parse(text)) << '"' << text << '"';
    }
}

TEST(MacAddr, FormatsAndClassifies) {
    mac_addr m{{0x02, 0xab, 0, 0, 0, 0x01}};
    EXPECT_EQ(m.to_string(), "02:ab:00:00:00:01");
    EXPECT_EQ(mac_addr::parse(m.to_string()), m);
    EXPECT_TRUE(mac_addr::broadcast().is_broadcast());
    EXPECT_TRUE(mac_addr::broadcast().is_multicast());
    EXPECT_TRUE((mac_addr{{0x01, 0x00, 0x5e, 0, 0, 1}}).is_multicast());
    EXPECT_FALSE(m.is_multicast());
    EXPECT_TRUE(mac_addr{}.is_zero());
    EXPECT_FALSE(m.is_zero());
}


// ip_addr: IPv4 in its mapped form (RFC 4291 §2.5.5.2), the same at run time as at compile
// time (the run-time paths load words; the compile-time ones go byte by byte).
TEST(IpAddr, HoldsIPv4AsItsMappedForm) {
    constexpr ip_addr at_compile_time = ipv4_addr::from_octets(198, 18, 0, 2);
    static_assert(at_compile_time.is_v4() && at_compile_time.v4() == ipv4_addr::from_octets(198, 18, 0, 2));
    volatile std::uint32_t raw = ipv4_addr::from_octets(198, 18, 0, 2).value;
    const ip_addr at_run_time = ipv4_addr{raw};
    EXPECT_EQ(at_run_time, at_compile_time);
    EXPECT_TRUE(at_run_time.is_v4());
    EXPECT_EQ(at_run_time.v4(), ipv4_addr{raw});
    EXPECT_EQ(at_run_time.v6(), *ipv6_addr::parse("::ffff:198.18.0.2"));
    EXPECT_EQ(at_run_time.to_string(), "198.18.0.2");
    EXPECT_EQ(ip_addr().to_string(), "0.0.0.0");
    EXPECT_TRUE(ip_addr().is_unspecified());
}

TEST(IpAddr, HoldsIPv6AndTakesAMappedAddressAsIPv4) {
    const ip_addr v6 = *ipv6_addr::parse("2001:2::1");
    EXPECT_TRUE(v6.is_v6());
    EXPECT_EQ(v6.to_string(), "2001:2::1");
    EXPECT_NE(v6, ip_addr(ipv4_addr::from_octets(0, 0, 0, 1)));
    const ip_addr mapped = *ipv6_addr::parse("::ffff:10.0.0.1");
    EXPECT_TRUE(mapped.is_v4());
    EXPECT_EQ(mapped, ip_addr(ipv4_addr::from_octets(10, 0, 0, 1)));
    // Almost mapped: one byte of the prefix off.
    EXPECT_TRUE(ip_addr(*ipv6_addr::parse("::fffe:10.0.0.1")).is_v6());
    EXPECT_TRUE(ip_addr(*ipv6_addr::parse("1::ffff:10.0.0.1")).is_v6());
    EXPECT_TRUE(ip_addr(ipv6_addr{}).is_v6()); // ::, not 0.0.0.0
}

TEST(IpAddr, ParsesEitherFamily) {
    EXPECT_EQ(ip_addr::parse("198.18.0.2"), ip_addr(ipv4_addr::from_octets(198, 18, 0, 2)));
    EXPECT_EQ(ip_addr::parse("2001:2::2"), ip_addr(*ipv6_addr::parse("2001:2::2")));
    EXPECT_FALSE(ip_addr::parse("198.18.0"));
    EXPECT_FALSE(ip_addr::parse("[2001:2::2]"));
    EXPECT_FALSE(ip_addr::parse(""));
}

} // namespace
} // namespace tern
