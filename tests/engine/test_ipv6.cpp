// IPv6 on one engine (engine_ipv6.cpp): duplicate address detection at start and the
// advertisements after it, Neighbor Solicitations answered, echo answered, the multicast
// frames a host takes, and what is dropped while TCP over IPv6 is not built; every mbuf
// comes back (harness destructor).
#include <vector>

#include "harness.hpp"
#include "wire/checksum.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv6.hpp"

namespace tern::test {
namespace {

const ipv6_addr our_v6 = *ipv6_addr::parse("2001:2::2");
const ipv6_addr peer_v6 = *ipv6_addr::parse("2001:2::1");
const ipv6_addr our_link_local = ipv6_addr::link_local(our_mac);
const mac_addr all_nodes_mac{{0x33, 0x33, 0, 0, 0, 1}};

class ipv6_test : public engine_test {
protected:
    engine_config v6_config(bool detect = true) const {
        engine_config c = default_config();
        c.ipv6 = {*ipv6_cidr::parse("2001:2::2/64")};
        c.ipv6_duplicate_detection = detect;
        return c;
    }
    // An engine whose addresses are in use: detection done, its advertisements taken.
    void start_detected() {
        begin(v6_config());
        clock_.advance(nd_constants::retrans_timer);
        for (int i = 0; i < 3; ++i) {
            engine_->poll();
            clock_.advance(nd_constants::retrans_timer);
        }
        auto sent = take_sent();
        free_all(sent);
    }
    // Starts the engine and runs one round: what start() sends is out.
    void begin(const engine_config& c) {
        make_engine(c);
        engine_->start();
        engine_->poll();
    }
    // An IPv6 frame from the peer with `upper` as its ICMPv6 (or other) message.
    rte_mbuf* v6_frame(const ipv6_addr& src, const ipv6_addr& dst, std::uint8_t next, std::span<const std::uint8_t> upper,
                       std::uint8_t hop_limit = 64, mac_addr eth_dst = our_mac) {
        std::vector<std::uint8_t> buf(wire::ethernet_repr::length + wire::ipv6_header_length + upper.size());
        wire::ethernet_repr{eth_dst, peer_mac, wire::ether_type::ipv6}.emit(buf.data());
        wire::ipv6_repr{src, dst, next, hop_limit, std::uint16_t(upper.size())}.emit(buf.data() + wire::ethernet_repr::length);
        std::copy(upper.begin(), upper.end(), buf.begin() + wire::ethernet_repr::length + wire::ipv6_header_length);
        return frame(buf);
    }
    rte_mbuf* nd_frame(const ipv6_addr& src, const ipv6_addr& dst, const wire::nd_repr& m, mac_addr eth_dst) {
        std::vector<std::uint8_t> msg(m.length());
        m.emit(msg.data(), wire::pseudo_header_sum(src, dst, wire::ip_protocol::icmpv6, std::uint32_t(msg.size())));
        return v6_frame(src, dst, wire::ip_protocol::icmpv6, msg, 255, eth_dst);
    }
    rte_mbuf* echo_v6(const ipv6_addr& dst, std::uint16_t seq, mac_addr eth_dst = our_mac, const ipv6_addr& src = peer_v6) {
        std::vector<std::uint8_t> data(24, 0x5a);
        const wire::icmp_echo_repr echo{wire::icmpv6_type::echo_request, 0x42, seq, data};
        std::vector<std::uint8_t> msg(echo.length());
        echo.emit(msg.data(), wire::pseudo_header_sum(src, dst, wire::ip_protocol::icmpv6, std::uint32_t(msg.size())));
        return v6_frame(src, dst, wire::ip_protocol::icmpv6, msg, 64, eth_dst);
    }
    // A sent frame read back: its Ethernet, IPv6 and ICMPv6 checked (the checksum too).
    struct sent_v6 {
        mac_addr eth_dst;
        ipv6_addr src, dst;
        std::uint8_t hop_limit;
        std::uint8_t type;
        std::optional<wire::nd_message> nd;
        std::uint16_t sequence;
    };
    sent_v6 read(const rte_mbuf* m) {
        auto eth = wire::ethernet_view::parse(bytes(m));
        EXPECT_TRUE(eth && eth->type() == wire::ether_type::ipv6 && eth->src() == our_mac);
        auto ip = wire::ipv6_view::parse(eth->payload());
        EXPECT_TRUE(ip);
        auto icmp = wire::icmp_view::parse(ip->upper(), ip->src(), ip->dst());
        EXPECT_TRUE(icmp) << "checksum";
        sent_v6 s{eth->dst(), ip->src(), ip->dst(), ip->hop_limit(), icmp->type(), std::nullopt, icmp->sequence()};
        if (auto nd = wire::nd_message::parse(*icmp)) s.nd = *nd;
        return s;
    }
    std::uint64_t dropped(drop_reason r) const { return engine_->stats().dropped(r); }
};

// RFC 4862 §5.4: a solicitation from :: for each address at start; RetransTimer later
// they are used, and announced (RFC 4861 §7.2.6) three times.
TEST_F(ipv6_test, detection_at_start_then_advertisements) {
    begin(v6_config());
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 2u);
    for (rte_mbuf* m : sent) {
        const sent_v6 s = read(m);
        EXPECT_EQ(s.type, wire::icmpv6_type::neighbor_solicitation);
        EXPECT_TRUE(s.src.is_unspecified());
        EXPECT_EQ(s.hop_limit, 255);
        EXPECT_EQ(s.eth_dst, s.dst.multicast_mac());
        EXPECT_EQ(s.dst, s.nd->target.solicited_node());
    }
    EXPECT_EQ(read(sent[0]).nd->target, our_link_local);
    EXPECT_EQ(read(sent[1]).nd->target, our_v6);
    free_all(sent);
    // Not ours yet: an echo to it is not answered.
    deliver(echo_v6(our_v6, 1));
    EXPECT_TRUE(take_sent().empty());
    EXPECT_EQ(dropped(drop_reason::ipv6_not_for_us), 1u);

    int advertisements = 0;
    for (int i = 0; i < 4; ++i) {
        clock_.advance(nd_constants::retrans_timer);
        engine_->poll();
        sent = take_sent();
        for (rte_mbuf* m : sent) {
            const sent_v6 s = read(m);
            EXPECT_EQ(s.type, wire::icmpv6_type::neighbor_advertisement);
            EXPECT_EQ(s.dst, *ipv6_addr::parse("ff02::1"));
            EXPECT_EQ(s.eth_dst, all_nodes_mac);
            EXPECT_EQ(s.nd->link_layer, our_mac);
            ++advertisements;
        }
        free_all(sent);
    }
    EXPECT_EQ(advertisements, 6); // three for each address
    EXPECT_EQ(engine_->stats().nd_solicitations_out.get(), 2u);
    EXPECT_EQ(engine_->stats().nd_advertisements_out.get(), 6u);
}

// RFC 4861 §7.2.3-§7.2.4: the peer's solicitation, sent to our solicited-node group's
// MAC, is answered to the peer's MAC; the echo after it is answered from what it taught.
TEST_F(ipv6_test, answers_solicitation_then_echo) {
    start_detected();
    const ipv6_addr group = our_v6.solicited_node();
    deliver(nd_frame(peer_v6, group, {wire::icmpv6_type::neighbor_solicitation, 0, our_v6, peer_mac}, group.multicast_mac()));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    sent_v6 s = read(sent[0]);
    EXPECT_EQ(s.type, wire::icmpv6_type::neighbor_advertisement);
    EXPECT_EQ(s.eth_dst, peer_mac);
    EXPECT_EQ(s.src, our_v6);
    EXPECT_EQ(s.dst, peer_v6);
    EXPECT_TRUE(s.nd->solicited() && s.nd->override());
    EXPECT_EQ(s.nd->link_layer, our_mac);
    free_all(sent);

    deliver(echo_v6(our_v6, 7));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    s = read(sent[0]);
    EXPECT_EQ(s.type, wire::icmpv6_type::echo_reply);
    EXPECT_EQ(s.eth_dst, peer_mac);
    EXPECT_EQ(s.src, our_v6);
    EXPECT_EQ(s.dst, peer_v6);
    EXPECT_EQ(s.sequence, 7);
    free_all(sent);
    EXPECT_EQ(engine_->stats().icmpv6_echo_requests_in.get(), 1u);
    EXPECT_EQ(engine_->stats().icmpv6_echo_replies_out.get(), 1u);
}

// An echo from a neighbor we have no MAC for: a solicitation for it goes out (RFC 4861
// §7.2.2) and the reply waits; a second request waits too, with no second solicitation;
// the advertisement answers, and both replies go out in order.
TEST_F(ipv6_test, an_unknown_neighbor_is_solicited_and_the_reply_waits) {
    start_detected();
    deliver(echo_v6(our_v6, 1));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    sent_v6 s = read(sent[0]);
    EXPECT_EQ(s.type, wire::icmpv6_type::neighbor_solicitation);
    EXPECT_EQ(s.src, our_v6);
    EXPECT_EQ(s.dst, peer_v6.solicited_node());
    EXPECT_EQ(s.eth_dst, peer_v6.solicited_node().multicast_mac());
    EXPECT_EQ(s.nd->target, peer_v6);
    EXPECT_EQ(s.nd->link_layer, our_mac);
    free_all(sent);
    deliver(echo_v6(our_v6, 2)); // within RetransTimer: no second solicitation
    EXPECT_TRUE(take_sent().empty());
    EXPECT_EQ(engine_->stats().dropped_total(), 0u);

    deliver(nd_frame(peer_v6, our_v6, {wire::icmpv6_type::neighbor_advertisement,
                                       wire::nd_flag::solicited | wire::nd_flag::override, peer_v6, peer_mac},
                     our_mac));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 2u);
    for (std::uint16_t i = 0; i < 2; ++i) {
        EXPECT_EQ(read(sent[i]).type, wire::icmpv6_type::echo_reply);
        EXPECT_EQ(read(sent[i]).eth_dst, peer_mac);
        EXPECT_EQ(read(sent[i]).sequence, i + 1);
    }
    free_all(sent);
    deliver(echo_v6(our_v6, 3));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(read(sent[0]).type, wire::icmpv6_type::echo_reply);
    free_all(sent);
}

// RFC 4861 §7.2.2: MAX_MULTICAST_SOLICIT solicitations a RetransTimer apart, then what
// waits is dropped as unresolved.
TEST_F(ipv6_test, a_silent_neighbor_is_given_up_after_three_solicitations) {
    start_detected();
    deliver(echo_v6(our_v6, 1));
    std::size_t solicitations = 0;
    for (int round = 0; round < 5; ++round) {
        for (rte_mbuf* m : take_sent()) {
            EXPECT_EQ(read(m).type, wire::icmpv6_type::neighbor_solicitation);
            ++solicitations;
            rte_pktmbuf_free(m);
        }
        clock_.advance(nd_constants::retrans_timer);
        engine_->poll();
    }
    EXPECT_EQ(solicitations, nd_constants::max_multicast_solicit);
    EXPECT_EQ(dropped(drop_reason::nd_unresolved), 1u);
}

// A destination on none of our prefixes is reached through the IPv6 gateway: the router is
// solicited (from our link-local address, as its own is), and the reply goes to its MAC.
TEST_F(ipv6_test, a_reply_off_the_prefix_goes_through_the_gateway) {
    const ipv6_addr far = *ipv6_addr::parse("2001:2:5::9");
    const ipv6_addr router = *ipv6_addr::parse("fe80::1");
    const mac_addr router_mac{{0x02, 0, 0, 0, 0, 0x77}};
    engine_config c = v6_config(false);
    c.ipv6_gateway = router;
    begin(c);
    auto sent = take_sent();
    free_all(sent);
    deliver(echo_v6(our_v6, 1, our_mac, far));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    const sent_v6 ns = read(sent[0]);
    EXPECT_EQ(ns.type, wire::icmpv6_type::neighbor_solicitation);
    EXPECT_EQ(ns.nd->target, router);
    EXPECT_EQ(ns.src, our_link_local);
    free_all(sent);
    deliver(nd_frame(router, our_link_local, {wire::icmpv6_type::neighbor_advertisement,
                                              wire::nd_flag::router | wire::nd_flag::solicited | wire::nd_flag::override,
                                              router, router_mac},
                     our_mac));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    const sent_v6 reply = read(sent[0]);
    EXPECT_EQ(reply.type, wire::icmpv6_type::echo_reply);
    EXPECT_EQ(reply.dst, far);
    EXPECT_EQ(reply.eth_dst, router_mac);
    free_all(sent);
    EXPECT_EQ(engine_->next_hop_v6(far), router);
    EXPECT_EQ(engine_->next_hop_v6(peer_v6), peer_v6);
    EXPECT_EQ(engine_->stats().dropped_total(), 0u);
}

// Without a gateway such a destination has no route: nothing is solicited for it.
TEST_F(ipv6_test, a_reply_off_the_prefix_without_a_gateway_has_no_route) {
    begin(v6_config(false));
    auto sent = take_sent();
    free_all(sent);
    deliver(echo_v6(our_v6, 1, our_mac, *ipv6_addr::parse("2001:2:5::9")));
    EXPECT_TRUE(take_sent().empty());
    EXPECT_EQ(dropped(drop_reason::no_route), 1u);
    EXPECT_FALSE(engine_->next_hop_v6(*ipv6_addr::parse("2001:2:5::9")));
}

// Before detection is done there is no address to solicit from: a packet for an unknown
// neighbor is dropped as such, not as a full queue (it was nd_queue_full before).
TEST_F(ipv6_test, a_packet_before_detection_has_no_source_to_solicit_from) {
    begin(v6_config(true));
    auto sent = take_sent();
    free_all(sent);
    rte_mbuf* m = rte_pktmbuf_alloc(engine_->pool());
    ASSERT_NE(m, nullptr);
    auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, wire::ipv6_header_length));
    wire::ipv6_repr{our_v6, peer_v6, wire::ip_protocol::icmpv6, 64, 0}.emit(p);
    engine_->send_ipv6(m, peer_v6);
    EXPECT_TRUE(take_sent().empty());
    EXPECT_EQ(dropped(drop_reason::nd_no_source), 1u);
    EXPECT_EQ(dropped(drop_reason::nd_queue_full), 0u);
}

// RFC 4861 §7.2.5: an advertisement nobody asked for makes no entry: the echo after it
// still has its sender solicited first.
TEST_F(ipv6_test, an_unasked_advertisement_is_not_learned) {
    start_detected();
    deliver(nd_frame(peer_v6, *ipv6_addr::parse("ff02::1"),
                     {wire::icmpv6_type::neighbor_advertisement, wire::nd_flag::override, peer_v6, peer_mac}, all_nodes_mac));
    EXPECT_TRUE(take_sent().empty());
    deliver(echo_v6(our_v6, 1));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(read(sent[0]).type, wire::icmpv6_type::neighbor_solicitation);
    free_all(sent);
}

// RFC 4862 §5.4.4: an advertisement for a tentative address: it is never used.
TEST_F(ipv6_test, a_duplicate_address_is_never_used) {
    begin(v6_config());
    auto sent = take_sent();
    free_all(sent);
    deliver(nd_frame(peer_v6, *ipv6_addr::parse("ff02::1"),
                     {wire::icmpv6_type::neighbor_advertisement, wire::nd_flag::override, our_v6, peer_mac}, all_nodes_mac));
    EXPECT_EQ(engine_->stats().ipv6_duplicate_addresses.get(), 1u);
    clock_.advance(nd_constants::retrans_timer);
    engine_->poll();
    sent = take_sent();
    for (rte_mbuf* m : sent) EXPECT_NE(read(m).nd->target, our_v6); // only the link-local one is announced
    EXPECT_EQ(sent.size(), 1u);
    free_all(sent);
    deliver(echo_v6(our_v6, 1));
    EXPECT_EQ(dropped(drop_reason::ipv6_not_for_us), 1u);
}

TEST_F(ipv6_test, what_is_dropped_and_why) {
    start_detected();
    // A group we are not in, by its MAC: not for us at Ethernet.
    deliver(echo_v6(*ipv6_addr::parse("ff02::1:ff00:99"), 1, mac_addr{{0x33, 0x33, 0xff, 0, 0, 0x99}}));
    EXPECT_EQ(dropped(drop_reason::eth_not_for_us), 1u);
    // UDP: not ours to take, said so; TCP goes to the protocol handler, past its checksum.
    const std::uint8_t tcp[20] = {};
    deliver(v6_frame(peer_v6, our_v6, 17, tcp));
    EXPECT_EQ(dropped(drop_reason::ipv6_unknown_protocol), 1u);
    std::uint8_t bad_sum[20] = {};
    bad_sum[12] = 0x50; // data offset 5, checksum 0: wrong for these addresses
    deliver(v6_frame(peer_v6, our_v6, wire::ip_protocol::tcp, bad_sum));
    EXPECT_EQ(dropped(drop_reason::tcp_bad_checksum), 1u);
    // A fragment.
    const std::uint8_t fragment[16] = {wire::ip_protocol::icmpv6, 0, 0, 9, 0, 0, 0, 1};
    deliver(v6_frame(peer_v6, our_v6, wire::ipv6_ext::fragment, fragment));
    EXPECT_EQ(dropped(drop_reason::ipv6_fragment), 1u);
    // From a group.
    deliver(v6_frame(*ipv6_addr::parse("ff02::1"), our_v6, wire::ip_protocol::icmpv6, tcp));
    EXPECT_EQ(dropped(drop_reason::ipv6_bad_source), 1u);
    // An echo request to all nodes is not answered; a bad checksum is dropped.
    deliver(echo_v6(*ipv6_addr::parse("ff02::1"), 1, all_nodes_mac));
    EXPECT_EQ(dropped(drop_reason::icmpv6_unhandled_type), 1u);
    rte_mbuf* bad = echo_v6(our_v6, 1);
    rte_pktmbuf_mtod(bad, std::uint8_t*)[rte_pktmbuf_data_len(bad) - 1] ^= 1;
    deliver(bad);
    EXPECT_EQ(dropped(drop_reason::icmpv6_bad_checksum), 1u);
    // A solicitation that came through a router (hop limit below 255).
    std::vector<std::uint8_t> ns(wire::nd_fixed_length + 8);
    const wire::nd_repr r{wire::icmpv6_type::neighbor_solicitation, 0, our_v6, peer_mac};
    r.emit(ns.data(), wire::pseudo_header_sum(peer_v6, our_v6, wire::ip_protocol::icmpv6, std::uint32_t(ns.size())));
    deliver(v6_frame(peer_v6, our_v6, wire::ip_protocol::icmpv6, ns, 64));
    EXPECT_EQ(dropped(drop_reason::nd_invalid), 1u);
    EXPECT_TRUE(take_sent().empty());
}

// Without IPv6 addresses configured IPv6 is off, as before it existed.
TEST_F(ipv6_test, without_addresses_ipv6_frames_are_unknown) {
    begin(default_config());
    deliver(echo_v6(our_v6, 1));
    EXPECT_EQ(dropped(drop_reason::eth_unknown_type), 1u);
    EXPECT_TRUE(take_sent().empty());
}

} // namespace
} // namespace tern::test
