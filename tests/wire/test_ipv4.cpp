#include "wire/ipv4.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "fixtures.hpp"

namespace tern::wire {
namespace {

static_assert(ipv4_repr::header_length == 20);

std::vector<std::uint8_t> syn_packet() { return test::ip_packet(test::tcp_syn_frame); }

drop_reason drop_of(const std::vector<std::uint8_t>& packet, bool verify = true) {
    auto v = ipv4_view::parse(packet, verify);
    EXPECT_FALSE(v);
    return v ? drop_reason::no_route : v.error(); // no_route: never a parse result
}

TEST(Ipv4, ParsesCapturedHeader) {
    auto packet = syn_packet();
    auto ip = ipv4_view::parse(packet);
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->version(), 4);
    EXPECT_EQ(ip->header_length(), 20u);
    EXPECT_EQ(ip->tos(), 0);
    EXPECT_EQ(ip->total_length(), 60);
    EXPECT_EQ(ip->id(), 0xfeeb);
    EXPECT_TRUE(ip->dont_fragment());
    EXPECT_FALSE(ip->more_fragments());
    EXPECT_EQ(ip->flags(), ipv4_flag_df);
    EXPECT_EQ(ip->fragment_offset(), 0);
    EXPECT_EQ(ip->ttl(), 64);
    EXPECT_EQ(ip->protocol(), ip_protocol::tcp);
    EXPECT_EQ(ip->checksum(), 0xafa8);
    EXPECT_EQ(ip->src(), test::host_a);
    EXPECT_EQ(ip->dst(), test::host_b);
    EXPECT_EQ(ip->header().size(), 20u);
    EXPECT_TRUE(ip->options().empty());
    EXPECT_EQ(ip->payload().size(), 40u);
    EXPECT_EQ(ip->payload().data(), packet.data() + 20);

    auto icmp = test::ip_packet(test::icmp_echo_request_frame);
    auto ip2 = ipv4_view::parse(icmp);
    ASSERT_TRUE(ip2);
    EXPECT_EQ(ip2->protocol(), ip_protocol::icmp);
    EXPECT_EQ(ip2->payload().size(), 24u);
}

TEST(Ipv4, TruncatedAtEveryLengthBelow20) {
    auto packet = syn_packet();
    for (std::size_t n = 0; n < 20; ++n) {
        auto v = ipv4_view::parse(std::span(packet).first(n));
        ASSERT_FALSE(v) << n;
        EXPECT_EQ(v.error(), drop_reason::ipv4_truncated) << n;
    }
}

TEST(Ipv4, BadVersion) {
    for (std::uint8_t version : {0, 1, 5, 6, 15}) {
        auto packet = syn_packet();
        packet[0] = std::uint8_t(version << 4 | 5);
        test::fix_ipv4_checksum(packet);
        EXPECT_EQ(drop_of(packet), drop_reason::ipv4_bad_version) << int(version);
    }
}

TEST(Ipv4, IhlBelowFive) {
    for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
        auto packet = syn_packet();
        packet[0] = std::uint8_t(0x40 | ihl);
        test::fix_ipv4_checksum(packet);
        EXPECT_EQ(drop_of(packet), drop_reason::ipv4_bad_ihl) << int(ihl);
    }
}

TEST(Ipv4, IhlPastThePacket) {
    // A bare 20-byte header that claims 24, and the 60-byte SYN packet cut to 56 with IHL 15.
    auto packet = syn_packet();
    packet.resize(20);
    packet[0] = 0x46;
    store_be16(packet.data() + 2, 20);
    test::fix_ipv4_checksum(packet);
    EXPECT_EQ(drop_of(packet), drop_reason::ipv4_bad_ihl);

    packet = syn_packet();
    packet.resize(56);
    packet[0] = 0x4f;
    store_be16(packet.data() + 2, 56);
    test::fix_ipv4_checksum(packet);
    EXPECT_EQ(drop_of(packet), drop_reason::ipv4_bad_ihl);
}

TEST(Ipv4, TotalLengthLargerThanThePacket) {
    for (std::uint16_t total : {61, 100, 0xffff}) {
        auto packet = syn_packet();
        store_be16(packet.data() + 2, total);
        test::fix_ipv4_checksum(packet);
        EXPECT_EQ(drop_of(packet), drop_reason::ipv4_bad_total_length) << total;
    }
}

TEST(Ipv4, TotalLengthSmallerThanTheHeader) {
    for (std::uint16_t total : {0, 1, 19}) {
        auto packet = syn_packet();
        store_be16(packet.data() + 2, total);
        test::fix_ipv4_checksum(packet);
        EXPECT_EQ(drop_of(packet), drop_reason::ipv4_bad_total_length) << total;
    }
    // With options, the header is 24 bytes and a total of 20..23 is too small.
    auto packet = syn_packet();
    packet.insert(packet.begin() + 20, {1, 1, 1, 0});
    packet[0] = 0x46;
    store_be16(packet.data() + 2, 23);
    test::fix_ipv4_checksum(packet);
    EXPECT_EQ(drop_of(packet), drop_reason::ipv4_bad_total_length);
}

TEST(Ipv4, HeaderOnlyDatagramIsValid) {
    auto packet = syn_packet();
    store_be16(packet.data() + 2, 20);
    test::fix_ipv4_checksum(packet);
    auto ip = ipv4_view::parse(packet);
    ASSERT_TRUE(ip);
    EXPECT_TRUE(ip->payload().empty());
}

TEST(Ipv4, EthernetPaddingIsTrimmed) {
    // The captured ICMP frame is 58 bytes; on a real wire it would be padded to 60 (64
    // with the FCS). Here the 44-byte datagram sits in a 46-byte Ethernet payload.
    auto packet = test::ip_packet(test::icmp_echo_request_frame);
    packet.resize(46, 0);
    auto ip = ipv4_view::parse(packet);
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->total_length(), 44);
    EXPECT_EQ(ip->payload().size(), 24u);
}

TEST(Ipv4, BadHeaderChecksum) {
    auto packet = syn_packet();
    packet[10] ^= 0x01;
    EXPECT_EQ(drop_of(packet), drop_reason::ipv4_bad_checksum);
    // A flipped bit anywhere in the header.
    for (std::size_t byte = 0; byte < 20; ++byte) {
        if (byte < 4 || byte == 6 || byte == 7) continue; // those change other checks
        auto p = syn_packet();
        p[byte] ^= 0x10;
        EXPECT_EQ(drop_of(p), drop_reason::ipv4_bad_checksum) << byte;
    }
    // The payload is not covered.
    auto p = syn_packet();
    p[30] ^= 0xff;
    EXPECT_TRUE(ipv4_view::parse(p));
}

TEST(Ipv4, ChecksumNotVerifiedWhenTheNicDid) {
    auto packet = syn_packet();
    store_be16(packet.data() + 10, 0x1234);
    EXPECT_EQ(drop_of(packet), drop_reason::ipv4_bad_checksum);
    auto ip = ipv4_view::parse(packet, false);
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->checksum(), 0x1234);
}

// A fragment is a valid header (the engine reassembles it); is_fragment() tells it apart.
TEST(Ipv4, FragmentsParseAndSayTheyAreFragments) {
    struct {
        std::uint16_t flags_fragment;
        const char* what;
    } cases[] = {
        {0x2000, "MF, offset 0 (first fragment)"},
        {0x0001, "offset 8 bytes (last fragment)"},
        {0x2001, "MF and offset (middle fragment)"},
        {0x1fff, "largest offset"},
        {0x4001, "DF with an offset"},
        {0x6000, "DF and MF"},
    };
    for (const auto& c : cases) {
        auto packet = syn_packet();
        store_be16(packet.data() + 6, c.flags_fragment);
        test::fix_ipv4_checksum(packet);
        auto ip = ipv4_view::parse(packet);
        ASSERT_TRUE(ip) << c.what;
        EXPECT_TRUE(ip->is_fragment()) << c.what;
        EXPECT_EQ(ip->fragment_offset(), c.flags_fragment & 0x1fff) << c.what;
        EXPECT_EQ(ip->more_fragments(), (c.flags_fragment & 0x2000) != 0) << c.what;
    }
}

TEST(Ipv4, DontFragmentAloneOrNoFlagsIsFine) {
    for (std::uint16_t flags : {0x0000, 0x4000, 0x8000 /* reserved bit: ignored */}) {
        auto packet = syn_packet();
        store_be16(packet.data() + 6, flags);
        test::fix_ipv4_checksum(packet);
        auto ip = ipv4_view::parse(packet);
        ASSERT_TRUE(ip) << flags;
        EXPECT_EQ(ip->dont_fragment(), flags == 0x4000);
        EXPECT_FALSE(ip->is_fragment()) << flags;
    }
}

TEST(Ipv4, ChecksumIsCheckedBeforeFragmentation) {
    auto packet = syn_packet();
    store_be16(packet.data() + 6, 0x2000); // MF, checksum not mended
    EXPECT_EQ(drop_of(packet), drop_reason::ipv4_bad_checksum);
}

// RFC 1122 §3.2.1.7: "A host MUST NOT send a datagram with a Time-to-Live (TTL) value of
// zero. A host MUST NOT discard a datagram just because it was received with TTL less
// than 2."
TEST(Ipv4, Rfc1122_3_2_1_7_HostAcceptsTtlBelowTwo) {
    for (std::uint8_t ttl : {0, 1}) {
        auto packet = syn_packet();
        packet[8] = ttl;
        test::fix_ipv4_checksum(packet);
        auto ip = ipv4_view::parse(packet);
        ASSERT_TRUE(ip) << int(ttl);
        EXPECT_EQ(ip->ttl(), ttl);
    }
}

TEST(Ipv4, OptionsAreAcceptedAndSkipped) {
    // Router Alert (RFC 2113: type 148, length 4, value 0), then the TCP segment.
    auto packet = syn_packet();
    packet.insert(packet.begin() + 20, {0x94, 0x04, 0x00, 0x00});
    packet[0] = 0x46;
    store_be16(packet.data() + 2, std::uint16_t(packet.size()));
    test::fix_ipv4_checksum(packet);
    auto ip = ipv4_view::parse(packet);
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->header_length(), 24u);
    EXPECT_EQ(ip->options().size(), 4u);
    EXPECT_EQ(ip->options()[0], 0x94);
    EXPECT_EQ(ip->payload().size(), 40u);
    EXPECT_EQ(ip->payload()[0], 0xe6); // source port 59052, high byte

    // The largest header: 40 bytes of NOP options.
    auto big = syn_packet();
    big.insert(big.begin() + 20, 40, 0x01);
    big[0] = 0x4f;
    store_be16(big.data() + 2, std::uint16_t(big.size()));
    test::fix_ipv4_checksum(big);
    auto ip2 = ipv4_view::parse(big);
    ASSERT_TRUE(ip2);
    EXPECT_EQ(ip2->header_length(), 60u);
    EXPECT_EQ(ip2->payload().size(), 40u);
}

TEST(Ipv4, EmitMatchesCapturedHeader) {
    ipv4_repr repr{test::host_a, test::host_b, ip_protocol::tcp, 64, 0xfeeb, 40, true};
    std::vector<std::uint8_t> out(20, 0xee);
    repr.emit(out.data());
    auto packet = syn_packet();
    EXPECT_EQ(out, std::vector<std::uint8_t>(packet.begin(), packet.begin() + 20));
}

TEST(Ipv4, EmitWithoutChecksumLeavesFieldZero) {
    ipv4_repr repr{test::host_a, test::host_b, ip_protocol::tcp, 64, 0xfeeb, 40, true};
    std::vector<std::uint8_t> out(20, 0xee);
    repr.emit(out.data(), false);
    EXPECT_EQ(load_be16(out.data() + 10), 0);
    out.resize(60, 0);
    EXPECT_FALSE(ipv4_view::parse(out));
    EXPECT_TRUE(ipv4_view::parse(out, false));
}

TEST(Ipv4, RoundTrips) {
    ipv4_repr reprs[] = {
        {test::host_a, test::host_b, ip_protocol::icmp, 1, 0, 0, false},
        {ipv4_addr::from_octets(198, 19, 255, 254), test::host_a, ip_protocol::tcp, 255, 0xffff, 1480, true, 0x02},
        {test::host_b, test::host_a, 17, 64, 12345, 8, true, 0xb8},
    };
    for (const auto& repr : reprs) {
        std::vector<std::uint8_t> out(20 + repr.payload_length, 0);
        repr.emit(out.data());
        auto ip = ipv4_view::parse(out);
        ASSERT_TRUE(ip);
        EXPECT_EQ(ipv4_repr::from(*ip), repr);
        EXPECT_EQ(ip->payload().size(), repr.payload_length);
        EXPECT_EQ(ip->ecn(), ecn_codepoint(repr.tos & 3));
    }
}

} // namespace
} // namespace tern::wire
