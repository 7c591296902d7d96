// ICMPv6 (RFC 4443) and Neighbor Discovery's NS and NA (RFC 4861), against packets the
// kernel sent (fixtures_ipv6.hpp), and the TCP and ICMPv6 checksums over IPv6.
#include "wire/icmpv6.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "fixtures_ipv6.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace tern::wire {
namespace {

using namespace test;

ipv6_addr v6(std::string_view text) { return *ipv6_addr::parse(text); }

ipv6_view ip(const std::vector<std::uint8_t>& p) {
    auto v = ipv6_view::parse(p);
    if (!v) throw std::runtime_error(std::string(to_string(v.error())));
    return *v;
}

icmp_view icmp(const ipv6_view& v) {
    auto m = icmp_view::parse(v.upper(), v.src(), v.dst());
    if (!m) throw std::runtime_error(std::string(to_string(m.error())));
    return *m;
}

const std::vector<std::uint8_t>* const all_icmpv6[] = {&v6_dad_solicitation, &v6_mld_report,
                                                       &v6_neighbor_solicitation, &v6_neighbor_advertisement,
                                                       &v6_echo_request, &v6_echo_reply};

// The checksums the kernel computed verify with RFC 8200 §8.1's pseudo-header, and the
// sum of the message with its checksum field zeroed gives them back.
TEST(Icmpv6Checksum, KernelsVerifyAndAreReproduced) {
    for (const auto* p : all_icmpv6) {
        const ipv6_view v = ip(*p);
        ASSERT_EQ(v.upper_protocol(), ip_protocol::icmpv6);
        EXPECT_TRUE(icmp_view::parse(v.upper(), v.src(), v.dst()));
        std::vector<std::uint8_t> zeroed(v.upper().begin(), v.upper().end());
        const std::uint16_t stored = load_be16(zeroed.data() + icmp_field::checksum);
        store_be16(zeroed.data() + icmp_field::checksum, 0);
        EXPECT_EQ(checksum_fold(checksum_add(zeroed, pseudo_header_sum(v.src(), v.dst(), ip_protocol::icmpv6,
                                                                       std::uint32_t(zeroed.size())))),
                  stored);
    }
}

TEST(TcpOverIpv6Checksum, KernelsVerifyAndAreReproduced) {
    for (const auto* p : {&v6_syn, &v6_data_ping}) {
        const ipv6_view v = ip(*p);
        ASSERT_EQ(v.upper_protocol(), ip_protocol::tcp);
        const std::uint32_t pseudo = pseudo_header_sum(v.src(), v.dst(), ip_protocol::tcp, std::uint32_t(v.upper().size()));
        EXPECT_TRUE(checksum_ok(v.upper(), pseudo));
        std::vector<std::uint8_t> zeroed(v.upper().begin(), v.upper().end());
        const std::uint16_t stored = load_be16(zeroed.data() + tcp_field::checksum);
        store_be16(zeroed.data() + tcp_field::checksum, 0);
        EXPECT_EQ(checksum_fold(checksum_add(zeroed, pseudo)), stored);
        // The addresses are in the sum: the same segment to another address fails.
        EXPECT_FALSE(checksum_ok(v.upper(), pseudo_header_sum(v.src(), v6("2001:2::3"), ip_protocol::tcp,
                                                                std::uint32_t(v.upper().size()))));
    }
    const ipv6_view data = ip(v6_data_ping);
    const std::span<const std::uint8_t> tcp = data.upper();
    EXPECT_EQ(std::string(tcp.end() - 4, tcp.end()), "ping");
}

// tcp_view over IPv6 reads the kernel's SYN, and refuses it under another address.
TEST(TcpOverIpv6, ParsesTheKernelsSyn) {
    const ipv6_view v = ip(v6_syn);
    auto tcp = tcp_view::parse(v.upper(), v.src(), v.dst());
    ASSERT_TRUE(tcp) << to_string(tcp.error());
    EXPECT_EQ(tcp->src_port(), 33584);
    EXPECT_EQ(tcp->dst_port(), 5001);
    EXPECT_EQ(tcp->seq(), 888242367u);
    EXPECT_EQ(tcp->flags(), tcp_flags::syn);
    const tcp_options o = tcp->options();
    EXPECT_EQ(o.mss, 1440);
    EXPECT_TRUE(o.sack_permitted);
    EXPECT_EQ(o.window_scale, 10);
    ASSERT_TRUE(o.timestamp);
    EXPECT_EQ(o.timestamp->first, 3783854080u);
    EXPECT_EQ(tcp_view::parse(v.upper(), v.src(), v6("2001:2::3")).error(), drop_reason::tcp_bad_checksum);
    EXPECT_TRUE(tcp_view::parse(v.upper(), v.src(), v6("2001:2::3"), false)); // the NIC checked it
}

// What tern writes over IPv6 for the kernel's fields is the kernel's segment, byte for byte:
// the SYN through tcp_repr, "ping" through the per-segment tcp_plain_repr.
TEST(TcpOverIpv6, WritesTheKernelsSegments) {
    const ipv6_view syn = ip(v6_syn);
    const tcp_repr r = tcp_repr::from(*tcp_view::parse(syn.upper(), syn.src(), syn.dst()));
    std::vector<std::uint8_t> out(r.header_length());
    r.emit(out.data(), syn.src(), syn.dst(), {}, checksum_mode::software);
    EXPECT_EQ(out, std::vector<std::uint8_t>(syn.upper().begin(), syn.upper().end()));

    const ipv6_view data = ip(v6_data_ping);
    const auto seg = tcp_view::parse(data.upper(), data.src(), data.dst());
    ASSERT_TRUE(seg);
    const tcp_options o = seg->options();
    ASSERT_TRUE(o.timestamp);
    const tcp_plain_repr plain{seg->src_port(), seg->dst_port(), seg->seq(), seg->ack(), seg->flags(),
                               seg->window(), true, o.timestamp->first, o.timestamp->second};
    std::vector<std::uint8_t> bytes(plain.header_length() + seg->payload().size());
    plain.emit(bytes.data(), data.src(), data.dst(), seg->payload(), checksum_mode::software);
    EXPECT_EQ(bytes, std::vector<std::uint8_t>(data.upper().begin(), data.upper().end()));
}

// Checksum offload over IPv6: the field holds the pseudo-header's folded sum (DPDK's
// rte_ipv6_phdr_cksum), with the length, or without it for segmentation offload.
TEST(TcpOverIpv6, OffloadLeavesThePseudoHeaderSum) {
    const ipv6_view syn = ip(v6_syn);
    const tcp_repr r = tcp_repr::from(*tcp_view::parse(syn.upper(), syn.src(), syn.dst()));
    std::vector<std::uint8_t> out(r.header_length());
    r.emit(out.data(), syn.src(), syn.dst(), {}, checksum_mode::offload);
    EXPECT_EQ(load_be16(out.data() + tcp_field::checksum),
              pseudo_header_partial(syn.src(), syn.dst(), ip_protocol::tcp, std::uint32_t(out.size())));
    r.emit(out.data(), syn.src(), syn.dst(), {}, checksum_mode::offload_tso);
    EXPECT_EQ(load_be16(out.data() + tcp_field::checksum), pseudo_header_partial(syn.src(), syn.dst(), ip_protocol::tcp, 0));
}

// The Hop-by-Hop header (Router Alert, PadN: RFC 8200 §4.3) the kernel puts before MLD.
TEST(Icmpv6, TheWalkPassesTheKernelsHopByHopHeader) {
    const ipv6_view v = ip(v6_mld_report);
    EXPECT_EQ(v.next_header(), ipv6_ext::hop_by_hop);
    EXPECT_EQ(v.upper_protocol(), ip_protocol::icmpv6);
    EXPECT_EQ(v.upper_offset(), 48u);
    EXPECT_EQ(icmp(v).type(), 143); // MLDv2 report (RFC 3810)
}

TEST(Icmpv6, RefusesShortAndCorruptMessages) {
    const ipv6_view v = ip(v6_echo_request);
    EXPECT_EQ(icmp_view::parse(v.upper().first(7), v.src(), v.dst()).error(), drop_reason::icmpv6_truncated);
    std::vector<std::uint8_t> corrupt(v.upper().begin(), v.upper().end());
    corrupt.back() ^= 0x01;
    EXPECT_EQ(icmp_view::parse(corrupt, v.src(), v.dst()).error(), drop_reason::icmpv6_bad_checksum);
    EXPECT_TRUE(icmp_view::parse(corrupt, v.src(), v.dst(), false)); // the NIC checked it
    // Another destination: the pseudo-header differs.
    EXPECT_EQ(icmp_view::parse(v.upper(), v.src(), v6("2001:2::3")).error(), drop_reason::icmpv6_bad_checksum);
}

// The reply the kernel sent, written by icmp_echo_repr over ICMPv6's pseudo-header.
TEST(Icmpv6, EchoReplyIsTheKernels) {
    const ipv6_view request = ip(v6_echo_request);
    const icmp_view m = icmp(request);
    EXPECT_EQ(m.type(), icmpv6_type::echo_request);
    EXPECT_EQ(m.identifier(), 12322);
    EXPECT_EQ(m.sequence(), 1);
    EXPECT_EQ(m.payload().size(), 16u);
    const icmp_echo_repr reply{icmpv6_type::echo_reply, m.identifier(), m.sequence(), m.payload()};
    std::vector<std::uint8_t> out(reply.length());
    reply.emit(out.data(), pseudo_header_sum(request.dst(), request.src(), ip_protocol::icmpv6, std::uint32_t(out.size())));
    const ipv6_view kernels = ip(v6_echo_reply);
    EXPECT_EQ(out, std::vector<std::uint8_t>(kernels.upper().begin(), kernels.upper().end()));
}

TEST(Icmpv6, ErrorsAreTheTypesBelow128) {
    EXPECT_TRUE(icmpv6_is_error(icmpv6_type::destination_unreachable));
    EXPECT_TRUE(icmpv6_is_error(icmpv6_type::packet_too_big));
    EXPECT_TRUE(icmpv6_is_error(icmpv6_type::parameter_problem));
    EXPECT_TRUE(icmpv6_is_error(127));
    EXPECT_FALSE(icmpv6_is_error(icmpv6_type::echo_request));
    EXPECT_FALSE(icmpv6_is_error(icmpv6_type::neighbor_advertisement));
}

// RFC 4443 §3.2 and §2.4 (c): a router's Packet Too Big, its MTU and the quote of our SYN.
TEST(Icmpv6, PacketTooBigQuotesOurSegment) {
    const ipv6_view syn = ip(v6_syn);
    const icmp_error_repr ptb{icmpv6_type::packet_too_big, 0, 1280, syn.packet()};
    std::vector<std::uint8_t> out(ptb.length());
    const ipv6_addr router = v6("2001:2::fe");
    ptb.emit(out.data(), pseudo_header_sum(router, syn.src(), ip_protocol::icmpv6, std::uint32_t(out.size())));
    auto m = icmp_view::parse(out, router, syn.src());
    ASSERT_TRUE(m);
    EXPECT_EQ(m->type(), icmpv6_type::packet_too_big);
    EXPECT_EQ(packet_too_big_mtu(*m), 1280u);
    const auto quoted = icmpv6_quoted_tcp::parse(m->payload());
    ASSERT_TRUE(quoted);
    EXPECT_EQ(quoted->src, v6("2001:2::1"));
    EXPECT_EQ(quoted->dst, v6("2001:2::2"));
    EXPECT_EQ(quoted->src_port, 33584);
    EXPECT_EQ(quoted->dst_port, 5001);
    EXPECT_EQ(quoted->seq, 888242367u);
}

TEST(Icmpv6, QuotesWithoutTcpPortsAndSequenceAreRefused) {
    const std::span<const std::uint8_t> syn = v6_syn;
    EXPECT_TRUE(icmpv6_quoted_tcp::parse(syn.first(48))); // header and 8 bytes of TCP: enough
    EXPECT_FALSE(icmpv6_quoted_tcp::parse(syn.first(47)));
    EXPECT_FALSE(icmpv6_quoted_tcp::parse(syn.first(39)));
    EXPECT_FALSE(icmpv6_quoted_tcp::parse(v6_echo_request)); // not TCP
    // A later fragment of a TCP segment: its data holds no header.
    std::vector<std::uint8_t> later(syn.begin(), syn.begin() + 40);
    later[ipv6_field::next_header] = ipv6_ext::fragment;
    const std::uint8_t fragment[8] = {ip_protocol::tcp, 0, 0, 8 << 3, 0, 0, 0, 1};
    later.insert(later.end(), fragment, fragment + 8);
    later.insert(later.end(), syn.begin() + 40, syn.end());
    store_be16(later.data() + ipv6_field::payload_length, std::uint16_t(later.size() - 40));
    EXPECT_FALSE(icmpv6_quoted_tcp::parse(later));
    later[40 + 3] = 0; // the same as a first fragment: the header is there
    EXPECT_TRUE(icmpv6_quoted_tcp::parse(later));
}

// ---- Neighbor Discovery ----

TEST(NeighborDiscovery, ReadsTheKernelsSolicitationAndAdvertisement) {
    const auto ns = nd_message::parse(icmp(ip(v6_neighbor_solicitation)));
    ASSERT_TRUE(ns);
    EXPECT_EQ(ns->type, icmpv6_type::neighbor_solicitation);
    EXPECT_EQ(ns->target, v6("2001:2::2"));
    EXPECT_EQ(ns->link_layer, mac_addr::parse("02:00:00:00:00:01"));

    const auto na = nd_message::parse(icmp(ip(v6_neighbor_advertisement)));
    ASSERT_TRUE(na);
    EXPECT_EQ(na->type, icmpv6_type::neighbor_advertisement);
    EXPECT_EQ(na->target, v6("2001:2::2"));
    EXPECT_TRUE(na->solicited());
    EXPECT_TRUE(na->override());
    EXPECT_FALSE(na->router());
    EXPECT_EQ(na->link_layer, mac_addr::parse("02:00:00:00:00:02"));
}

// RFC 4862 §5.4.2: duplicate address detection solicits from :: without a Source
// Link-Layer Address; the kernel's Nonce option (RFC 7527) is one we skip (§4.6).
TEST(NeighborDiscovery, DuplicateAddressDetectionCarriesNoLinkLayerAddress) {
    const ipv6_view v = ip(v6_dad_solicitation);
    EXPECT_TRUE(v.src().is_unspecified());
    EXPECT_EQ(v.dst(), v6("2001:2::2").solicited_node());
    const auto ns = nd_message::parse(icmp(v));
    ASSERT_TRUE(ns);
    EXPECT_EQ(ns->target, v6("2001:2::2"));
    EXPECT_FALSE(ns->link_layer);
}

// What we send is byte for byte what the kernel sent for the same fields.
TEST(NeighborDiscovery, WritesTheKernelsMessages) {
    for (const auto* p : {&v6_neighbor_solicitation, &v6_neighbor_advertisement}) {
        const ipv6_view v = ip(*p);
        const auto m = nd_message::parse(icmp(v));
        ASSERT_TRUE(m);
        const nd_repr r{m->type, m->flags, m->target, m->link_layer};
        std::vector<std::uint8_t> out(r.length());
        r.emit(out.data(), pseudo_header_sum(v.src(), v.dst(), ip_protocol::icmpv6, std::uint32_t(out.size())));
        EXPECT_EQ(out, std::vector<std::uint8_t>(v.upper().begin(), v.upper().end()));
    }
    const nd_repr dad{icmpv6_type::neighbor_solicitation, 0, v6("2001:2::2"), std::nullopt};
    EXPECT_EQ(dad.length(), nd_fixed_length);
}

// RFC 4861 §4.6: "Nodes MUST silently discard an ND packet that contains an option with
// length zero"; an option past the message is as malformed.
TEST(NeighborDiscovery, RefusesBadOptionsAndShortMessages) {
    const ipv6_view v = ip(v6_neighbor_solicitation);
    std::vector<std::uint8_t> m(v.upper().begin(), v.upper().end());
    auto parse = [&](const std::vector<std::uint8_t>& bytes) {
        return nd_message::parse(*icmp_view::parse(bytes, v.src(), v.dst(), false));
    };
    ASSERT_TRUE(parse(m));
    std::vector<std::uint8_t> zero = m;
    zero[nd_fixed_length + 1] = 0;
    EXPECT_EQ(parse(zero).error(), drop_reason::nd_bad_option);
    std::vector<std::uint8_t> past = m;
    past[nd_fixed_length + 1] = 2; // 16 bytes, 8 there
    EXPECT_EQ(parse(past).error(), drop_reason::nd_bad_option);
    std::vector<std::uint8_t> half = m;
    half.push_back(nd_option::mtu); // an option's type and no length
    EXPECT_EQ(parse(half).error(), drop_reason::nd_bad_option);
    EXPECT_EQ(parse(std::vector<std::uint8_t>(m.begin(), m.begin() + 23)).error(), drop_reason::icmpv6_truncated);
    // An unknown option first, then the address: skipped, and the address still read.
    std::vector<std::uint8_t> unknown(m.begin(), m.begin() + nd_fixed_length);
    const std::uint8_t other[8] = {200, 1, 0, 0, 0, 0, 0, 0};
    unknown.insert(unknown.end(), other, other + 8);
    unknown.insert(unknown.end(), m.begin() + nd_fixed_length, m.end());
    const auto skipped = parse(unknown);
    ASSERT_TRUE(skipped);
    EXPECT_EQ(skipped->link_layer, mac_addr::parse("02:00:00:00:00:01"));
}

} // namespace
} // namespace tern::wire
