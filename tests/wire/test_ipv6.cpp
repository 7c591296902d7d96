// IPv6 addresses, the IPv6 header and its extension headers (RFC 8200), the IPv6
// pseudo-header checksum.
#include "wire/ipv6.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "fixtures.hpp"
#include "wire/checksum.hpp"

namespace tern::wire {
namespace {

ipv6_addr v6(std::string_view text) {
    auto a = ipv6_addr::parse(text);
    if (!a) throw std::invalid_argument(std::string(text));
    return *a;
}

// ---- addresses ----

TEST(Ipv6Addr, ParsesEveryTextForm) {
    EXPECT_EQ(v6("2001:2::1"), ipv6_addr::from_groups({0x2001, 2, 0, 0, 0, 0, 0, 1}));
    EXPECT_EQ(v6("::"), ipv6_addr{});
    EXPECT_EQ(v6("::1"), ipv6_addr::from_groups({0, 0, 0, 0, 0, 0, 0, 1}));
    EXPECT_EQ(v6("1::"), ipv6_addr::from_groups({1, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(v6("1:2:3:4:5:6:7::"), ipv6_addr::from_groups({1, 2, 3, 4, 5, 6, 7, 0})); // "::" for one group
    EXPECT_EQ(v6("::2:3:4:5:6:7:8"), ipv6_addr::from_groups({0, 2, 3, 4, 5, 6, 7, 8}));
    EXPECT_EQ(v6("2001:0db8:0000:0000:0001:0000:0000:0001"), ipv6_addr::from_groups({0x2001, 0xdb8, 0, 0, 1, 0, 0, 1}));
    EXPECT_EQ(v6("FE80::0202:B3FF:FE1E:8329"), ipv6_addr::from_groups({0xfe80, 0, 0, 0, 0x202, 0xb3ff, 0xfe1e, 0x8329}));
    EXPECT_EQ(v6("::ffff:198.18.0.1"), ipv6_addr::from_groups({0, 0, 0, 0, 0, 0xffff, 0xc612, 0x0001}));
    EXPECT_EQ(v6("1:2:3:4:5:6:198.18.0.1"), ipv6_addr::from_groups({1, 2, 3, 4, 5, 6, 0xc612, 1}));
    const ipv6_addr a = v6("2001:2::1");
    EXPECT_EQ(a.bytes[0], 0x20);
    EXPECT_EQ(a.bytes[1], 0x01);
    EXPECT_EQ(a.bytes[3], 0x02);
    EXPECT_EQ(a.bytes[15], 0x01);
}

TEST(Ipv6Addr, RefusesMalformedText) {
    for (const char* bad : {"", ":", ":::", "1:::2", "1::2::3", ":1::2", "1::2:", ":1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7",
                            "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "12345::", "g::", "::-1", "::+1", "1::2.3.4.5.6",
                            "1.2.3.4::", "::1.2.3.4:5", "fe80::1%eth0", "::ffff:256.1.1.1", "1:2:3:4:5:6:7:1.2.3.4",
                            "2001:2::/64", " ::1", "::1 "})
        EXPECT_FALSE(ipv6_addr::parse(bad)) << bad;
}

// RFC 5952 §4: the canonical text, whatever the input's.
TEST(Ipv6Addr, FormatsAsRfc5952) {
    const std::pair<const char*, const char*> cases[] = {
        {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
        {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"}, // §4.2.2: one zero group stays
        {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},          // §4.2.3: the longest run
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},    // §4.2.3: the first of equal runs
        {"FE80::0202:B3FF:FE1E:8329", "fe80::202:b3ff:fe1e:8329"}, // §4.3: lower case
        {"0:0:0:0:0:0:0:0", "::"},
        {"::1", "::1"},
        {"1::", "1::"},
        {"1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"},
        {"::ffff:c612:1", "::ffff:198.18.0.1"}, // §5: IPv4-mapped ends dotted
        {"2001:2::2", "2001:2::2"},
    };
    for (const auto& [in, out] : cases) {
        EXPECT_EQ(v6(in).to_string(), out) << in;
        EXPECT_EQ(v6(out), v6(in)) << out; // and it reads back
    }
}

TEST(Ipv6Addr, Classifies) {
    EXPECT_TRUE(v6("::").is_unspecified());
    EXPECT_FALSE(v6("::1").is_unspecified());
    EXPECT_TRUE(v6("::1").is_loopback());
    EXPECT_TRUE(v6("ff02::1").is_multicast());
    EXPECT_FALSE(v6("fe80::1").is_multicast());
    EXPECT_TRUE(v6("fe80::1").is_link_local());
    EXPECT_TRUE(v6("febf:ffff::1").is_link_local()); // fe80::/10
    EXPECT_FALSE(v6("fec0::1").is_link_local());
    EXPECT_FALSE(v6("2001:2::1").is_link_local());
    EXPECT_TRUE(v6("::ffff:198.18.0.1").is_v4_mapped());
    EXPECT_FALSE(v6("::fffe:198.18.0.1").is_v4_mapped());
    EXPECT_LT(v6("2001:2::1"), v6("2001:2::2"));
}

// RFC 4291 Appendix A: the interface identifier from a MAC is the modified EUI-64. The
// kernel made the first two for veths with those MACs (fixtures_ipv6.hpp's capture: the
// MLD reports come from them); the third is with the universal/local bit set to flip.
TEST(Ipv6Addr, LinkLocalFromTheMac) {
    EXPECT_EQ(ipv6_addr::link_local(*mac_addr::parse("02:00:00:00:00:01")), v6("fe80::ff:fe00:1"));
    EXPECT_EQ(ipv6_addr::link_local(*mac_addr::parse("02:00:00:00:00:02")), v6("fe80::ff:fe00:2"));
    EXPECT_EQ(ipv6_addr::link_local(*mac_addr::parse("00:1b:21:3a:4b:5c")), v6("fe80::21b:21ff:fe3a:4b5c"));
}

// RFC 4291 §2.7.1: ff02::1:ff and the low 24 bits; RFC 2464 §7: 33:33 and the low 32.
TEST(Ipv6Addr, SolicitedNodeGroupAndItsMac) {
    EXPECT_EQ(v6("2001:2::1:2345:6789").solicited_node(), v6("ff02::1:ff45:6789"));
    EXPECT_EQ(v6("fe80::c6:12ff:fe00:2").solicited_node(), v6("ff02::1:ff00:2"));
    EXPECT_EQ(v6("ff02::1:ff45:6789").multicast_mac(), *mac_addr::parse("33:33:ff:45:67:89"));
    EXPECT_EQ(v6("ff02::1").multicast_mac(), *mac_addr::parse("33:33:00:00:00:01"));
}

TEST(Ipv6Cidr, ParsesPrefixAndContains) {
    const auto c = ipv6_cidr::parse("2001:2::2/64");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->addr, v6("2001:2::2"));
    EXPECT_EQ(c->prefix_len, 64);
    EXPECT_TRUE(c->contains(v6("2001:2::ffff:ffff:ffff:ffff")));
    EXPECT_FALSE(c->contains(v6("2001:2:0:1::2")));
    EXPECT_EQ(ipv6_cidr::parse("2001:2::2")->prefix_len, 128);
    EXPECT_TRUE(ipv6_cidr::parse("::/0")->contains(v6("2001:2::1")));
    const auto odd = ipv6_cidr::parse("2001:2::/61"); // not on a byte
    EXPECT_TRUE(odd->contains(v6("2001:2:0:7::1")));
    EXPECT_FALSE(odd->contains(v6("2001:2:0:8::1")));
    const auto host = ipv6_cidr::parse("2001:2::2/128");
    EXPECT_TRUE(host->contains(v6("2001:2::2")));
    EXPECT_FALSE(host->contains(v6("2001:2::3")));
    for (const char* bad : {"2001:2::2/", "2001:2::2/129", "2001:2::2/-1", "2001:2::2/064", "/64", "2001:2::2/6 4"})
        EXPECT_FALSE(ipv6_cidr::parse(bad)) << bad;
}

// ---- the header and its extension headers ----

// A packet: the fixed header (next header `next`, payload length of what follows), then
// `rest`, then `padding` bytes past the payload (Ethernet's minimum frame).
std::vector<std::uint8_t> packet(std::uint8_t next, std::vector<std::uint8_t> rest, std::size_t padding = 0) {
    std::vector<std::uint8_t> p(ipv6_header_length);
    ipv6_repr{v6("2001:2::1"), v6("2001:2::2"), next, 64, std::uint16_t(rest.size())}.emit(p.data());
    p.insert(p.end(), rest.begin(), rest.end());
    p.resize(p.size() + padding, 0);
    return p;
}

// An extension header of `length` bytes (a multiple of 8) with options or data `body`.
std::vector<std::uint8_t> extension(std::uint8_t next, std::size_t length, std::vector<std::uint8_t> body = {}) {
    std::vector<std::uint8_t> h(length, 0);
    h[0] = next;
    h[1] = std::uint8_t(length / 8 - 1);
    std::copy(body.begin(), body.end(), h.begin() + 2);
    if (body.empty() && length > 2) { // PadN over the rest
        h[2] = 1;
        h[3] = std::uint8_t(length - 4);
    }
    return h;
}

std::vector<std::uint8_t> fragment_header(std::uint8_t next, std::uint16_t offset, bool more, std::uint32_t id) {
    std::vector<std::uint8_t> h(8, 0);
    h[0] = next;
    store_be16(h.data() + 2, std::uint16_t(offset << 3 | (more ? 1 : 0)));
    store_be32(h.data() + 4, id);
    return h;
}

std::vector<std::uint8_t> concat(std::initializer_list<std::vector<std::uint8_t>> parts) {
    std::vector<std::uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

const std::vector<std::uint8_t> tcp_bytes(20, 0xab);

drop_reason refused(const std::vector<std::uint8_t>& p) {
    auto v = ipv6_view::parse(p);
    EXPECT_FALSE(v);
    return v ? drop_reason::eth_truncated : v.error();
}

TEST(Ipv6View, ReadsTheFixedHeaderAndTrimsPadding) {
    std::vector<std::uint8_t> p = packet(ip_protocol::tcp, tcp_bytes, 6);
    store_be32(p.data(), 0x6b812345); // traffic class 0xb8 (DSCP 46, ECN 00), flow label 0x12345
    p[ipv6_field::hop_limit] = 255;
    auto v = ipv6_view::parse(p);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->version(), 6);
    EXPECT_EQ(v->traffic_class(), 0xb8);
    EXPECT_EQ(v->ecn(), ecn_codepoint::not_ect);
    EXPECT_EQ(v->flow_label(), 0x12345u);
    EXPECT_EQ(v->payload_length(), 20);
    EXPECT_EQ(v->hop_limit(), 255);
    EXPECT_EQ(v->src(), v6("2001:2::1"));
    EXPECT_EQ(v->dst(), v6("2001:2::2"));
    EXPECT_EQ(v->upper_protocol(), ip_protocol::tcp);
    EXPECT_EQ(v->upper_offset(), 40u);
    EXPECT_EQ(v->upper().size(), 20u); // not the padding
    EXPECT_EQ(v->packet().size(), 60u);
    EXPECT_FALSE(v->fragment());
    EXPECT_FALSE(v->is_fragment());
    store_be32(p.data(), 0x60312345); // traffic class 0x03: CE
    EXPECT_EQ(ipv6_view::parse(p)->ecn(), ecn_codepoint::ce);
}

TEST(Ipv6View, RefusesBadFixedHeaders) {
    std::vector<std::uint8_t> p = packet(ip_protocol::tcp, tcp_bytes);
    EXPECT_EQ(refused(std::vector<std::uint8_t>(p.begin(), p.begin() + 39)), drop_reason::ipv6_truncated);
    std::vector<std::uint8_t> v4 = p;
    v4[0] = 0x45;
    EXPECT_EQ(refused(v4), drop_reason::ipv6_bad_version);
    std::vector<std::uint8_t> long_payload = p;
    store_be16(long_payload.data() + ipv6_field::payload_length, 21);
    EXPECT_EQ(refused(long_payload), drop_reason::ipv6_bad_payload_length);
}

// RFC 8200 §4.1's order: Hop-by-Hop, Destination Options, Routing, Fragment (atomic here),
// Destination Options, then TCP.
TEST(Ipv6View, WalksEveryKnownExtensionHeaderToTheUpperLayer) {
    const auto p = packet(ipv6_ext::hop_by_hop,
                          concat({extension(ipv6_ext::destination_options, 8),
                                  extension(ipv6_ext::routing, 8),
                                  extension(ipv6_ext::fragment, 16, {4, 0}), // routing: SRH, 0 segments left
                                  fragment_header(ipv6_ext::destination_options, 0, false, 7),
                                  extension(ip_protocol::tcp, 24), tcp_bytes}));
    auto v = ipv6_view::parse(p);
    ASSERT_TRUE(v) << to_string(v.error());
    EXPECT_EQ(v->upper_protocol(), ip_protocol::tcp);
    EXPECT_EQ(v->upper_offset(), 40u + 8 + 8 + 16 + 8 + 24);
    EXPECT_EQ(v->upper().size(), 20u);
    ASSERT_TRUE(v->fragment()); // RFC 6946: an atomic fragment is a whole datagram
    EXPECT_FALSE(v->is_fragment());
    EXPECT_EQ(v->fragment()->id, 7u);
    EXPECT_EQ(v->fragment()->header_offset, 40u + 8 + 8 + 16);
}

TEST(Ipv6View, HopByHopOnlyFirst) {
    EXPECT_EQ(refused(packet(ipv6_ext::destination_options,
                             concat({extension(ipv6_ext::hop_by_hop, 8), extension(ip_protocol::tcp, 8), tcp_bytes}))),
              drop_reason::ipv6_bad_extension);
}

// RFC 8200 §4.2: the two high bits of an option's type say what a node that does not know
// it does: 00 skip, 01 discard, 10 and 11 discard and (maybe) tell the source.
TEST(Ipv6View, UnknownOptionsFollowTheirTypesHighBits) {
    auto with_option = [](std::uint8_t type) {
        return packet(ipv6_ext::destination_options,
                      concat({extension(ip_protocol::tcp, 8, {type, 4, 0, 0, 0, 0}), tcp_bytes}));
    };
    EXPECT_TRUE(ipv6_view::parse(with_option(0x3e))); // 00: skipped
    EXPECT_TRUE(ipv6_view::parse(with_option(0x05))); // Router Alert: 00 too
    for (std::uint8_t type : {0x7e, 0xbe, 0xfe, 0xc2 /* Jumbo Payload: not taken */})
        EXPECT_EQ(refused(with_option(type)), drop_reason::ipv6_unknown_option) << int(type);
    // Pad1 and PadN in any mix.
    EXPECT_TRUE(ipv6_view::parse(packet(ipv6_ext::hop_by_hop,
                                        concat({extension(ip_protocol::tcp, 8, {0, 1, 1, 0, 0, 0}), tcp_bytes}))));
    // An option past its header's end.
    EXPECT_EQ(refused(packet(ipv6_ext::hop_by_hop, concat({extension(ip_protocol::tcp, 8, {1, 5}), tcp_bytes}))),
              drop_reason::ipv6_bad_extension);
    EXPECT_EQ(refused(packet(ipv6_ext::hop_by_hop,
                             concat({extension(ip_protocol::tcp, 8, {0, 0, 0, 0, 0, 0x3e}), tcp_bytes}))),
              drop_reason::ipv6_bad_extension); // a type with no length byte left
}

// RFC 8200 §4.4: a host is the last segment; one with segments left was to go further.
TEST(Ipv6View, RoutingHeaderWithSegmentsLeftIsNotOurs) {
    std::vector<std::uint8_t> routing = extension(ip_protocol::tcp, 24);
    routing[2] = 4; // Segment Routing (RFC 8754)
    routing[3] = 1; // segments left
    EXPECT_EQ(refused(packet(ipv6_ext::routing, concat({routing, tcp_bytes}))), drop_reason::ipv6_unknown_routing);
    routing[3] = 0;
    EXPECT_TRUE(ipv6_view::parse(packet(ipv6_ext::routing, concat({routing, tcp_bytes}))));
}

TEST(Ipv6View, ExtensionHeadersMustFitTheirPayload) {
    EXPECT_EQ(refused(packet(ipv6_ext::hop_by_hop, {0x06, 0, 1, 0})), drop_reason::ipv6_bad_extension);
    std::vector<std::uint8_t> cut = extension(ip_protocol::tcp, 16);
    cut.resize(8); // says 16, 8 there
    EXPECT_EQ(refused(packet(ipv6_ext::destination_options, cut)), drop_reason::ipv6_bad_extension);
    EXPECT_EQ(refused(packet(ipv6_ext::fragment, {6, 0, 0, 0})), drop_reason::ipv6_bad_extension);
}

TEST(Ipv6View, TheWalkIsBounded) {
    auto chain = [](std::size_t n) {
        std::vector<std::uint8_t> rest;
        for (std::size_t i = 0; i < n; ++i) {
            auto h = extension(i + 1 == n ? ip_protocol::tcp : ipv6_ext::destination_options, 8);
            rest.insert(rest.end(), h.begin(), h.end());
        }
        rest.insert(rest.end(), tcp_bytes.begin(), tcp_bytes.end());
        return packet(ipv6_ext::destination_options, rest);
    };
    EXPECT_TRUE(ipv6_view::parse(chain(ipv6_max_extension_headers)));
    EXPECT_EQ(refused(chain(ipv6_max_extension_headers + 1)), drop_reason::ipv6_too_many_extensions);
}

// RFC 8200 §4.5: a fragment's data follows its Fragment header; the walk stops there.
TEST(Ipv6View, FragmentsStopTheWalk) {
    const std::vector<std::uint8_t> data(24, 0x5a);
    auto later = ipv6_view::parse(packet(ipv6_ext::fragment, concat({fragment_header(ip_protocol::tcp, 185, true, 0xdeadbeef), data})));
    ASSERT_TRUE(later);
    EXPECT_TRUE(later->is_fragment());
    EXPECT_EQ(later->fragment()->offset, 185);
    EXPECT_TRUE(later->fragment()->more);
    EXPECT_EQ(later->fragment()->id, 0xdeadbeefu);
    EXPECT_EQ(later->fragment()->next_header, ip_protocol::tcp);
    EXPECT_EQ(later->fragment()->header_offset, 40u);
    EXPECT_EQ(later->upper_protocol(), ip_protocol::tcp);
    EXPECT_EQ(later->upper_offset(), 48u);
    EXPECT_EQ(later->upper().size(), 24u);

    // The first fragment: what follows may be more extension headers, cut anywhere; they
    // are read after reassembly, not now.
    auto first = ipv6_view::parse(packet(ipv6_ext::fragment,
                                         concat({fragment_header(ipv6_ext::destination_options, 0, true, 1), {6, 9}})));
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->is_fragment());
    EXPECT_EQ(first->upper_protocol(), ipv6_ext::destination_options);
    EXPECT_EQ(first->upper().size(), 2u);

    auto last = ipv6_view::parse(packet(ipv6_ext::fragment, concat({fragment_header(ip_protocol::tcp, 3, false, 1), data})));
    ASSERT_TRUE(last);
    EXPECT_TRUE(last->is_fragment());
}

TEST(Ipv6View, NoNextHeaderCarriesNothing) {
    auto v = ipv6_view::parse(packet(ipv6_ext::no_next_header, {}));
    ASSERT_TRUE(v);
    EXPECT_EQ(v->upper_protocol(), ipv6_ext::no_next_header);
    EXPECT_TRUE(v->upper().empty());
}

// What an ICMPv6 error quotes may end before the payload length says.
TEST(Ipv6View, AQuoteEndsWhereItIsCut) {
    std::vector<std::uint8_t> p = packet(ipv6_ext::destination_options, concat({extension(ip_protocol::tcp, 8), tcp_bytes}));
    p.resize(40 + 8 + 8);
    EXPECT_EQ(refused(p), drop_reason::ipv6_bad_payload_length);
    auto q = ipv6_view::parse_quoted(p);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->upper_protocol(), ip_protocol::tcp);
    EXPECT_EQ(q->upper().size(), 8u);
    EXPECT_EQ(q->packet().size(), 56u);
    p.resize(44); // the extension header cut
    auto cut = ipv6_view::parse_quoted(p);
    EXPECT_FALSE(cut);
}

TEST(Ipv6Repr, EmitsWhatParses) {
    const ipv6_repr r{v6("2001:2::10"), v6("2001:2::2"), ip_protocol::tcp, 63, 20, 0x02, 0xabcde};
    std::vector<std::uint8_t> p(40 + 20, 0);
    r.emit(p.data());
    EXPECT_EQ(p[0], 0x60);
    EXPECT_EQ(p[1], 0x2a); // traffic class 0x02 then the flow label's high nibble 0xa
    auto v = ipv6_view::parse(p);
    ASSERT_TRUE(v);
    EXPECT_EQ(ipv6_repr::from(*v), r);
    EXPECT_EQ(v->ecn(), ecn_codepoint::ect0);
}

// RFC 8200 §8.1: the pseudo-header sums source, destination, the 32-bit upper-layer length
// and the Next Header value; checked against RFC 1071's sum over the pseudo-header laid out.
TEST(Ipv6Checksum, PseudoHeaderIsRfc8200s) {
    const ipv6_addr src = v6("2001:2::1:ffff"), dst = v6("fe80::c6:12ff:fe00:2");
    for (std::uint32_t length : {0u, 20u, 1440u, 65535u, 70000u}) {
        std::vector<std::uint8_t> laid_out(40, 0);
        std::copy(src.bytes.begin(), src.bytes.end(), laid_out.begin());
        std::copy(dst.bytes.begin(), dst.bytes.end(), laid_out.begin() + 16);
        store_be32(laid_out.data() + 32, length);
        laid_out[39] = ip_protocol::tcp;
        EXPECT_EQ(checksum_reduce(pseudo_header_sum(src, dst, ip_protocol::tcp, length)),
                  checksum_reduce(checksum_add(laid_out)))
            << length;
        EXPECT_EQ(pseudo_header_partial(src, dst, ip_protocol::tcp, length),
                  checksum_reduce(checksum_add(laid_out)));
    }
}

} // namespace
} // namespace tern::wire
