#include "wire/frame.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "fixtures.hpp"
#include "fixtures_ipv6.hpp"

namespace tern::wire {
namespace {

struct ipv4_prefix_case {
    std::uint16_t payload_length;
    std::uint16_t id;
};

TEST(Frame, ParsesCapturedSynInOneCall) {
    auto f = parse_tcp_ipv4_frame(test::tcp_syn_frame);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->eth.src(), test::mac_a);
    EXPECT_EQ(f->ip.src(), test::host_a);
    EXPECT_EQ(f->ip.dst(), test::host_b);
    EXPECT_EQ(f->tcp.dst_port(), 5001);
    EXPECT_EQ(f->tcp.options().mss, 1460);
}

// The look-ahead's peek agrees with the full parse on a TCP frame, and finds nothing in
// ARP, ICMP, a truncated frame or one whose IHL is below the minimum.
// The IPv6 peek on the kernel's SYN behind an Ethernet header: its addresses, ports and
// flags; nothing for ICMPv6, IPv4, a truncated frame, or TCP behind an extension header.
TEST(Frame, PeekFindsTheEndsOfAnIPv6TcpFrameOnly) {
    auto frame_of = [](const std::vector<std::uint8_t>& packet) {
        std::vector<std::uint8_t> f(14, 0);
        f[12] = 0x86;
        f[13] = 0xdd;
        f.insert(f.end(), packet.begin(), packet.end());
        return f;
    };
    const auto syn = frame_of(test::v6_syn);
    const auto e = peek_tcp_ipv6_ends(syn);
    ASSERT_TRUE(e.found);
    EXPECT_EQ(e.src, *ipv6_addr::parse("2001:2::1"));
    EXPECT_EQ(e.dst, *ipv6_addr::parse("2001:2::2"));
    EXPECT_EQ(e.src_port, 0x8330);
    EXPECT_EQ(e.dst_port, 5001);
    EXPECT_EQ(e.flags, tcp_flags::syn);
    EXPECT_FALSE(peek_tcp_ipv6_ends(frame_of(test::v6_echo_request)).found);
    EXPECT_FALSE(peek_tcp_ipv6_ends(test::tcp_syn_frame).found);
    EXPECT_FALSE(peek_tcp_ipv6_ends(std::span(syn).first(14 + 40 + 13)).found);
    auto behind_options = syn;
    behind_options[14 + 6] = 60; // next header: destination options
    EXPECT_FALSE(peek_tcp_ipv6_ends(behind_options).found);
}

TEST(Frame, PeekFindsTheEndsOfATcpFrameOnly) {
    auto f = parse_tcp_ipv4_frame(test::tcp_syn_frame);
    ASSERT_TRUE(f);
    const auto e = peek_tcp_ipv4_ends(test::tcp_syn_frame);
    ASSERT_TRUE(e.found);
    EXPECT_EQ(e.src, f->ip.src());
    EXPECT_EQ(e.dst, f->ip.dst());
    EXPECT_EQ(e.src_port, f->tcp.src_port());
    EXPECT_EQ(e.dst_port, f->tcp.dst_port());
    EXPECT_FALSE(peek_tcp_ipv4_ends(test::arp_request_frame).found);
    EXPECT_FALSE(peek_tcp_ipv4_ends(test::icmp_echo_request_frame).found);
    EXPECT_FALSE(peek_tcp_ipv4_ends(std::span(test::tcp_syn_frame).first(14 + 20 + 3)).found);
    auto short_ihl = test::tcp_syn_frame;
    short_ihl[14] = 0x44; // IHL 4: 16 bytes
    EXPECT_FALSE(peek_tcp_ipv4_ends(short_ihl).found);
    // A fragment: only the first holds the ports, and a later one's data would read as ports.
    for (std::uint16_t flags_fragment : {0x2000, 0x0003, 0x2003}) {
        auto fragment = test::tcp_syn_frame;
        store_be16(fragment.data() + 14 + ipv4_field::flags_fragment, flags_fragment);
        EXPECT_FALSE(peek_tcp_ipv4_ends(fragment).found) << flags_fragment;
    }
}

// A prefix written for a datagram is the headers ethernet_repr and ipv4_repr write for it,
// checksum included, whatever the length and identification; without the checksum the
// field is 0 (for the NIC to fill).
TEST(Frame, PrefixWritesTheHeadersOfEachDatagram) {
    const ethernet_repr eth{test::mac_b, test::mac_a, ether_type::ipv4};
    const ipv4_prefix_case cases[] = {{0, 0}, {20, 1}, {1460, 0xfffe}, {0xffff - 20, 0xffff}, {517, 0x8001}};
    for (const auto& c : cases) {
        const ipv4_frame_prefix prefix(eth, ipv4_repr{test::host_a, test::host_b, ip_protocol::tcp, 64, 999, 7});
        std::array<std::uint8_t, ipv4_frame_prefix::length> got{}, want{};
        prefix.emit(got.data(), c.payload_length, c.id, true);
        eth.emit(want.data());
        ipv4_repr{test::host_a, test::host_b, ip_protocol::tcp, 64, c.id, c.payload_length}.emit(
            want.data() + ethernet_header_len, true);
        EXPECT_EQ(got, want) << c.payload_length << " " << c.id;
        prefix.emit(got.data(), c.payload_length, c.id, false);
        EXPECT_EQ(load_be16(got.data() + ethernet_header_len + ipv4_field::checksum), 0);
        // With an ECN codepoint (RFC 3168 §5): the same as ipv4_repr with that TOS.
        for (auto ecn : {ecn_codepoint::ect0, ecn_codepoint::ect1, ecn_codepoint::ce}) {
            prefix.emit(got.data(), c.payload_length, c.id, true, ecn);
            ipv4_repr{test::host_a, test::host_b, ip_protocol::tcp, 64, c.id, c.payload_length, true, std::uint8_t(ecn)}.emit(
                want.data() + ethernet_header_len, true);
            EXPECT_EQ(got, want) << c.payload_length << " " << c.id << " ecn " << int(ecn);
        }
    }
}

// The IPv6 prefix writes what ethernet_repr and ipv6_repr write for the same packet, ECN
// in the traffic class (RFC 3168 §5), each packet's length its own.
TEST(Frame, IPv6PrefixWritesTheHeadersOfEachPacket) {
    const ethernet_repr eth{test::mac_b, test::mac_a, ether_type::ipv6};
    const ipv6_addr src = *ipv6_addr::parse("2001:2::1"), dst = *ipv6_addr::parse("2001:2::ff:2");
    const ipv6_frame_prefix prefix(eth, src, dst);
    std::array<std::uint8_t, ipv6_frame_prefix::length> got{}, want{};
    eth.emit(want.data());
    for (std::uint16_t length : {0, 20, 1440, 0xffff})
        for (auto ecn : {ecn_codepoint::not_ect, ecn_codepoint::ect0, ecn_codepoint::ect1, ecn_codepoint::ce}) {
            got.fill(0xee);
            prefix.emit(got.data(), length, ecn);
            ipv6_repr{src, dst, ip_protocol::tcp, 64, length, std::uint8_t(ecn)}.emit(want.data() + ethernet_header_len);
            EXPECT_EQ(got, want) << length << " ecn " << int(ecn);
        }
}

TEST(Frame, ParsesPaddedFrame) {
    auto frame = test::tcp_data_frame; // 70 bytes: pad as a NIC might, to 80
    frame.resize(80, 0);
    auto f = parse_tcp_ipv4_frame(frame);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->tcp.payload().size(), 4u);
}

TEST(Frame, ReportsTheFirstFailure) {
    auto check = [](const std::vector<std::uint8_t>& frame, drop_reason expected, bool verify = true) {
        auto f = parse_tcp_ipv4_frame(frame, verify, verify);
        ASSERT_FALSE(f);
        EXPECT_EQ(f.error(), expected);
    };
    check(std::vector<std::uint8_t>(13, 0), drop_reason::eth_truncated);
    check(test::arp_request_frame, drop_reason::eth_unknown_type);
    check(test::icmp_echo_request_frame, drop_reason::ipv4_unknown_protocol);
    auto fragment = test::tcp_syn_frame;
    store_be16(fragment.data() + 14 + ipv4_field::flags_fragment, 0x2000); // MF
    check(fragment, drop_reason::ipv4_fragment, false);

    auto bad_ip = test::tcp_syn_frame;
    bad_ip[14 + 10] ^= 1;
    check(bad_ip, drop_reason::ipv4_bad_checksum);
    EXPECT_TRUE(parse_tcp_ipv4_frame(bad_ip, false, true));

    auto bad_tcp = test::tcp_syn_frame;
    bad_tcp.back() ^= 1;
    check(bad_tcp, drop_reason::tcp_bad_checksum);
    EXPECT_TRUE(parse_tcp_ipv4_frame(bad_tcp, true, false));

    auto cut = test::tcp_syn_frame;
    cut.resize(14 + 20 + 19);
    check(cut, drop_reason::ipv4_bad_total_length);
}

} // namespace
} // namespace tern::wire
