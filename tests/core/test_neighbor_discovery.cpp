// Neighbor Discovery for our own addresses (RFC 4861 §7) and duplicate address detection
// (RFC 4862 §5.4), message by message on a virtual clock.
#include "core/neighbor_discovery.hpp"

#include <gtest/gtest.h>

#include <string>

#include <vector>

#include "../wire/fixtures_ipv6.hpp"
#include "wire/checksum.hpp"

namespace tern {
namespace {

namespace icmpv6_type = wire::icmpv6_type;
namespace nd_flag = wire::nd_flag;

ipv6_addr v6(std::string_view text) { return *ipv6_addr::parse(text); }

const mac_addr our_mac = *mac_addr::parse("02:00:00:00:00:02");
const mac_addr peer_mac = *mac_addr::parse("02:00:00:00:00:01");
const ipv6_cidr our_global = *ipv6_cidr::parse("2001:2::2/64");
const ipv6_addr peer = v6("2001:2::1");
const instant t0{std::chrono::seconds(100)};

// An NS or NA as it comes off the wire, kept with the views of it.
struct received {
    received(const ipv6_addr& src, const ipv6_addr& dst, const wire::nd_repr& m, std::uint8_t hop_limit = 255,
             std::uint8_t code = 0)
        : bytes(wire::ipv6_header_length + m.length()) {
        wire::ipv6_repr{src, dst, wire::ip_protocol::icmpv6, hop_limit, std::uint16_t(m.length())}.emit(bytes.data());
        std::uint8_t* icmp = bytes.data() + wire::ipv6_header_length;
        m.emit(icmp, wire::pseudo_header_sum(src, dst, wire::ip_protocol::icmpv6, std::uint32_t(m.length())));
        if (code != 0) { // written after the checksum: parsed without checking it
            icmp[wire::icmp_field::code] = code;
        }
        parse();
    }
    explicit received(const std::vector<std::uint8_t>& packet) : bytes(packet) { parse(); }
    void parse() {
        ip.emplace(*wire::ipv6_view::parse(bytes));
        icmp.emplace(*wire::icmp_view::parse(ip->upper(), ip->src(), ip->dst(), false));
        nd = *wire::nd_message::parse(*icmp);
    }
    result<nd_outcome, drop_reason> to(neighbor_discovery& d) const {
        return nd.type == icmpv6_type::neighbor_solicitation ? d.on_solicitation(*ip, *icmp, nd)
                                                             : d.on_advertisement(*ip, *icmp, nd);
    }
    std::vector<std::uint8_t> bytes;
    std::optional<wire::ipv6_view> ip;
    std::optional<wire::icmp_view> icmp;
    wire::nd_message nd;
};

wire::nd_repr solicitation(const ipv6_addr& target, std::optional<mac_addr> source = std::nullopt) {
    return {icmpv6_type::neighbor_solicitation, 0, target, source};
}

wire::nd_repr advertisement(const ipv6_addr& target, std::uint8_t flags, std::optional<mac_addr> mac) {
    return {icmpv6_type::neighbor_advertisement, flags, target, mac};
}

// The packet an nd_send makes: what the engine would put after the Ethernet header.
std::vector<std::uint8_t> packet_of(const nd_send& s) {
    std::vector<std::uint8_t> p(wire::ipv6_header_length + s.message.length());
    wire::ipv6_repr{s.src, s.dst, wire::ip_protocol::icmpv6, nd_constants::hop_limit, std::uint16_t(s.message.length())}
        .emit(p.data());
    s.message.emit(p.data() + wire::ipv6_header_length,
                   wire::pseudo_header_sum(s.src, s.dst, wire::ip_protocol::icmpv6, std::uint32_t(s.message.length())));
    return p;
}

neighbor_discovery detected(instant& now) {
    neighbor_discovery d(our_mac, {&our_global, 1});
    d.poll(now);
    now += nd_constants::retrans_timer;
    d.poll(now);
    return d;
}

// RFC 4862 §5.4: each address is tentative, solicited for from :: once, and preferred
// RetransTimer later; RFC 4861 §7.2.6: then three unsolicited advertisements.
TEST(NeighborDiscovery, DetectionMakesAddressesPreferredAndAdvertisesThem) {
    neighbor_discovery d(our_mac, {&our_global, 1});
    ASSERT_EQ(d.addresses().size(), 2u);
    EXPECT_EQ(d.addresses()[0].cidr.addr, v6("fe80::ff:fe00:2"));
    EXPECT_EQ(d.addresses()[1].cidr.addr, our_global.addr);
    for (const auto& a : d.addresses()) EXPECT_EQ(a.state, address_state::tentative);
    EXPECT_FALSE(d.is_ours(our_global.addr));
    EXPECT_FALSE(d.accepts(our_global.addr)); // RFC 4862 §5.4: not yet
    EXPECT_TRUE(d.accepts(our_global.addr.solicited_node()));
    EXPECT_FALSE(d.source_for(peer));

    const auto solicitations = d.poll(t0);
    ASSERT_EQ(solicitations.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        const nd_send& s = solicitations[i];
        const ipv6_addr& target = d.addresses()[i].cidr.addr;
        EXPECT_TRUE(s.src.is_unspecified());
        EXPECT_EQ(s.dst, target.solicited_node());
        EXPECT_EQ(s.eth_dst, mac_addr::parse("33:33:ff:00:00:02"));
        EXPECT_EQ(s.message.type, icmpv6_type::neighbor_solicitation);
        EXPECT_EQ(s.message.target, target);
        EXPECT_FALSE(s.message.link_layer);
    }
    EXPECT_EQ(d.next_deadline(), t0 + nd_constants::retrans_timer);
    EXPECT_TRUE(d.poll(t0 + nd_constants::retrans_timer - 1ns).empty());

    instant now = t0 + nd_constants::retrans_timer;
    std::vector<nd_send> adverts = d.poll(now);
    EXPECT_TRUE(d.is_ours(our_global.addr));
    EXPECT_TRUE(d.accepts(our_global.addr));
    for (int round = 0; round < 3; ++round) {
        ASSERT_EQ(adverts.size(), 2u) << round;
        for (const nd_send& s : adverts) {
            EXPECT_EQ(s.src, s.message.target);
            EXPECT_EQ(s.dst, v6("ff02::1"));
            EXPECT_EQ(s.eth_dst, mac_addr::parse("33:33:00:00:00:01"));
            EXPECT_EQ(s.message.flags, nd_flag::override); // not solicited
            EXPECT_EQ(s.message.link_layer, our_mac);
        }
        now += nd_constants::retrans_timer;
        adverts = d.poll(now);
    }
    EXPECT_TRUE(adverts.empty());
    EXPECT_FALSE(d.next_deadline());
}

TEST(NeighborDiscovery, WithoutDetectionAddressesArePreferredAtOnce) {
    neighbor_discovery d(our_mac, {&our_global, 1}, false);
    EXPECT_TRUE(d.is_ours(our_global.addr));
    EXPECT_TRUE(d.is_ours(v6("fe80::ff:fe00:2")));
    const auto adverts = d.poll(t0);
    ASSERT_EQ(adverts.size(), 2u);
    EXPECT_EQ(adverts[0].message.type, icmpv6_type::neighbor_advertisement);
}

// RFC 4862 §5.4.3: another node detecting the same address; §5.4.4: one using it.
TEST(NeighborDiscovery, AnotherNodesClaimMakesATentativeAddressDuplicate) {
    {
        neighbor_discovery d(our_mac, {&our_global, 1});
        d.poll(t0);
        const auto r = received(ipv6_addr{}, our_global.addr.solicited_node(), solicitation(our_global.addr)).to(d);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->duplicate, our_global.addr);
        EXPECT_FALSE(r->reply);
        EXPECT_EQ(d.addresses()[1].state, address_state::duplicate);
        d.poll(t0 + nd_constants::retrans_timer);
        EXPECT_FALSE(d.is_ours(our_global.addr)); // never used
        EXPECT_TRUE(d.is_ours(v6("fe80::ff:fe00:2")));
    }
    {
        neighbor_discovery d(our_mac, {&our_global, 1});
        d.poll(t0);
        const auto r = received(our_global.addr, v6("ff02::1"), advertisement(our_global.addr, nd_flag::override, peer_mac)).to(d);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->duplicate, our_global.addr);
        EXPECT_FALSE(r->learned);
        EXPECT_EQ(d.addresses()[1].state, address_state::duplicate);
    }
    {
        // A node that uses an address asks for our tentative one: not answered.
        neighbor_discovery d(our_mac, {&our_global, 1});
        d.poll(t0);
        const auto r = received(peer, our_global.addr.solicited_node(), solicitation(our_global.addr, peer_mac)).to(d);
        EXPECT_EQ(r.error(), drop_reason::nd_tentative);
        EXPECT_EQ(d.addresses()[1].state, address_state::tentative);
    }
}

// RFC 4861 §7.2.3-§7.2.4: the kernel's own solicitation for 2001:2::2, answered as the
// kernel answered it, byte for byte (tests/wire/fixtures_ipv6.hpp).
TEST(NeighborDiscovery, AnswersASolicitationAsTheKernelDid) {
    instant now = t0;
    neighbor_discovery d = detected(now);
    const auto r = received(wire::test::v6_neighbor_solicitation).to(d);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->learned, std::pair(peer, peer_mac));
    ASSERT_TRUE(r->reply);
    EXPECT_EQ(r->reply->eth_dst, peer_mac);
    EXPECT_EQ(packet_of(*r->reply), wire::test::v6_neighbor_advertisement);
    EXPECT_FALSE(r->duplicate);
}

// RFC 4861 §7.2.4: a node detecting our address is told it is taken, at all-nodes.
TEST(NeighborDiscovery, DefendsAPreferredAddress) {
    instant now = t0;
    neighbor_discovery d = detected(now);
    const auto r = received(ipv6_addr{}, our_global.addr.solicited_node(), solicitation(our_global.addr)).to(d);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->learned);
    EXPECT_FALSE(r->duplicate);
    ASSERT_TRUE(r->reply);
    EXPECT_EQ(r->reply->dst, v6("ff02::1"));
    EXPECT_EQ(r->reply->eth_dst, mac_addr::parse("33:33:00:00:00:01"));
    EXPECT_EQ(r->reply->message.flags, nd_flag::override);
    EXPECT_TRUE(d.is_ours(our_global.addr));
}

TEST(NeighborDiscovery, AdvertisementsTeachNeighborsAddresses) {
    instant now = t0;
    neighbor_discovery d = detected(now);
    const auto r = received(wire::test::v6_neighbor_advertisement).to(d);
    ASSERT_TRUE(r);
    // The kernel advertised 2001:2::2, which is ours here (the capture with its roles
    // reversed): nothing to learn.
    EXPECT_FALSE(r->learned);
    const auto other = received(peer, our_global.addr, advertisement(peer, nd_flag::solicited | nd_flag::override, peer_mac)).to(d);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->learned, std::pair(peer, peer_mac));
    EXPECT_FALSE(other->reply);
    const auto bare = received(peer, our_global.addr, advertisement(peer, nd_flag::solicited, std::nullopt)).to(d);
    ASSERT_TRUE(bare);
    EXPECT_FALSE(bare->learned);
}

// RFC 4861 §7.1.1 and §7.1.2: what a host silently discards.
TEST(NeighborDiscovery, RefusesInvalidMessages) {
    instant now = t0;
    neighbor_discovery d = detected(now);
    const ipv6_addr group = our_global.addr.solicited_node();
    auto reason = [&](const received& r) {
        const auto out = r.to(d);
        EXPECT_FALSE(out);
        return out ? drop_reason::eth_truncated : out.error();
    };
    EXPECT_EQ(reason(received(peer, group, solicitation(our_global.addr, peer_mac), 254)), drop_reason::nd_invalid);
    EXPECT_EQ(reason(received(peer, group, solicitation(our_global.addr, peer_mac), 255, 1)), drop_reason::nd_invalid);
    EXPECT_EQ(reason(received(peer, group, solicitation(v6("ff02::1"), peer_mac))), drop_reason::nd_invalid);
    // From :: only to the solicited-node group, and without a link-layer address.
    EXPECT_EQ(reason(received(ipv6_addr{}, our_global.addr, solicitation(our_global.addr))), drop_reason::nd_invalid);
    EXPECT_EQ(reason(received(ipv6_addr{}, group, solicitation(our_global.addr, peer_mac))), drop_reason::nd_invalid);
    // Solicited advertisements never go to a group.
    EXPECT_EQ(reason(received(peer, v6("ff02::1"), advertisement(peer, nd_flag::solicited, peer_mac))), drop_reason::nd_invalid);
    EXPECT_EQ(reason(received(peer, our_global.addr, advertisement(peer, 0, peer_mac), 64)), drop_reason::nd_invalid);
    // Someone else's address.
    EXPECT_EQ(reason(received(peer, v6("2001:2::3").solicited_node(), solicitation(v6("2001:2::3"), peer_mac))),
              drop_reason::nd_not_for_us);
}

// RFC 4291 §2.8: what a host receives.
TEST(NeighborDiscovery, AcceptsItsAddressesAndGroupsOnly) {
    instant now = t0;
    neighbor_discovery d = detected(now);
    EXPECT_TRUE(d.accepts(our_global.addr));
    EXPECT_TRUE(d.accepts(v6("fe80::ff:fe00:2")));
    EXPECT_TRUE(d.accepts(v6("ff02::1")));
    EXPECT_TRUE(d.accepts(v6("ff02::1:ff00:2")));
    EXPECT_FALSE(d.accepts(v6("ff02::2"))); // all-routers
    EXPECT_FALSE(d.accepts(v6("ff02::1:ff00:3")));
    EXPECT_FALSE(d.accepts(v6("2001:2::3")));
}

TEST(NeighborDiscovery, ChoosesASourceAddress) {
    const ipv6_cidr second = *ipv6_cidr::parse("2001:3::2/64");
    const ipv6_cidr both[] = {our_global, second};
    neighbor_discovery d(our_mac, both, false);
    EXPECT_EQ(d.source_for(v6("fe80::1")), v6("fe80::ff:fe00:2"));
    EXPECT_EQ(d.source_for(peer), our_global.addr);
    EXPECT_EQ(d.source_for(v6("2001:3::9")), second.addr);
    EXPECT_EQ(d.source_for(v6("2001:4::1")), our_global.addr); // off every prefix: the first global
    neighbor_discovery link_local_only(our_mac, {}, false);
    EXPECT_FALSE(link_local_only.source_for(peer));
    EXPECT_EQ(link_local_only.source_for(v6("fe80::1")), v6("fe80::ff:fe00:2"));
}

// RFC 4861 §5.2: on-link is link-local or on the prefix of an address of ours, whatever
// its length (a /60 and a /127 here), and whatever the address's state.
TEST(NeighborDiscovery, TellsOnLinkDestinations) {
    const ipv6_cidr mine[] = {our_global, *ipv6_cidr::parse("2001:3::2/60"), *ipv6_cidr::parse("2001:4::2/127"),
                              *ipv6_cidr::parse("2001:2::7/64")};
    neighbor_discovery d(our_mac, mine, true);
    EXPECT_TRUE(d.on_link(v6("fe80::1")));
    EXPECT_TRUE(d.on_link(peer));
    EXPECT_TRUE(d.on_link(v6("2001:2::ffff:1")));
    EXPECT_TRUE(d.on_link(v6("2001:3:0:f::1")));
    EXPECT_FALSE(d.on_link(v6("2001:3:0:10::1")));
    EXPECT_TRUE(d.on_link(v6("2001:4::3")));
    EXPECT_FALSE(d.on_link(v6("2001:4::4")));
    EXPECT_FALSE(d.on_link(v6("2001:5::2")));
    EXPECT_FALSE(d.is_ours(our_global.addr)); // tentative yet
}

// is_ours finds an address by its last word: addresses that share one (2001:2::2 and
// 2001:3::2), and strangers that land on a taken slot, are told apart all the same.
TEST(NeighborDiscovery, KnowsItsPreferredAddressesOnly) {
    std::vector<ipv6_cidr> mine{our_global, *ipv6_cidr::parse("2001:3::2/64")};
    for (int i = 0; i < 8; ++i) mine.push_back(ipv6_cidr{v6("2001:2::" + std::to_string(10 + i)), 64});
    neighbor_discovery d(our_mac, mine, false);
    for (const ipv6_cidr& c : mine) EXPECT_TRUE(d.is_ours(c.addr)) << c.addr.to_string();
    EXPECT_TRUE(d.is_ours(v6("fe80::ff:fe00:2")));
    for (const char* stranger : {"2001:4::2", "2001:2::18", "2001:2::1:10", "2001:2::1", "fe80::ff:fe00:3", "::"})
        EXPECT_FALSE(d.is_ours(v6(stranger))) << stranger;
}

} // namespace
} // namespace tern
