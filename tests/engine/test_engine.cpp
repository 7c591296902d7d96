// The engine's ARP, ICMP, drop accounting and TX backlog, driven frame by frame on a
// virtual clock. Every test ends with every mbuf back in the pool (harness destructor).
#include <cstring>
#include <thread>

#include "core/clock.hpp"
#include "harness.hpp"
#include "tcp_frames.hpp"
#include "wire/checksum.hpp"
#include "wire/tcp.hpp"

namespace tern::test {
namespace {

struct parsed_arp {
    wire::ethernet_repr eth;
    wire::arp_repr arp;
};

parsed_arp parse_arp(std::span<const std::uint8_t> frame) {
    auto eth = wire::ethernet_view::parse(frame);
    EXPECT_TRUE(eth.has_value());
    EXPECT_EQ(eth->type(), wire::ether_type::arp);
    auto arp = wire::arp_view::parse(eth->payload());
    EXPECT_TRUE(arp.has_value());
    return {wire::ethernet_repr::from(*eth), wire::arp_repr::from(*arp)};
}

// The production clock reads the system's monotonic time (since boot), not time since it
// was made: TSvals must keep rising across a restart of the process, or a peer's TIME-WAIT
// refuses the new SYNs on reused 4-tuples (PAWS, RFC 7323 §5) for a whole SYN timeout.
// CI's load_nginx saw that: 4 SYN retransmissions and a 1 s stall after each restart.
TEST(tsc_clock, reads_time_since_boot_so_a_new_process_goes_on_where_the_last_left_off) {
    tsc_clock first;
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // clocks counting from their start would differ by this
    const auto system = [] {
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        return instant(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
    };
    const instant before = system();
    tsc_clock second; // as made by a process started later
    const instant read = second.now();
    const instant after = system();
    EXPECT_GE(read, before - std::chrono::milliseconds(5));
    EXPECT_LE(read, after + std::chrono::milliseconds(5));
    const duration apart = first.now() - second.now(); // one timeline for both
    EXPECT_LT(std::chrono::abs(apart), std::chrono::milliseconds(5));
}

TEST_F(engine_test, answers_arp_request_for_our_address) {
    make_engine();
    deliver(arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, our_ip));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    auto r = parse_arp(bytes(sent[0]));
    EXPECT_EQ(r.eth.dst, peer_mac);
    EXPECT_EQ(r.eth.src, our_mac);
    EXPECT_EQ(r.arp.op, wire::arp_op::reply);
    EXPECT_EQ(r.arp.sender_mac, our_mac);
    EXPECT_EQ(r.arp.sender_ip, our_ip);
    EXPECT_EQ(r.arp.target_mac, peer_mac);
    EXPECT_EQ(r.arp.target_ip, peer_ip);
    // RFC 826: the requester is learned, so our reply to its ping needs no ARP of ours.
    EXPECT_EQ(neighbors_.lookup(peer_ip, clock_.now()), peer_mac);
    EXPECT_EQ(engine_->stats().arp_replies_out.get(), 1u);
    free_all(sent);
}

// engine_config::extra_addresses (a load generator's source addresses): ARP requests for
// any of them are answered with that address; one past the range is not ours.
TEST_F(engine_test, answers_arp_for_its_extra_addresses) {
    engine_config c = default_config();
    c.extra_addresses = ipv4_range{ipv4_addr::from_octets(198, 18, 0, 100), 3};
    make_engine(c);
    const ipv4_addr extra = ipv4_addr::from_octets(198, 18, 0, 102);
    deliver(arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, extra));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    auto r = parse_arp(bytes(sent[0]));
    EXPECT_EQ(r.arp.op, wire::arp_op::reply);
    EXPECT_EQ(r.arp.sender_mac, our_mac);
    EXPECT_EQ(r.arp.sender_ip, extra);
    EXPECT_EQ(r.arp.target_ip, peer_ip);
    free_all(sent);
    deliver(arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, ipv4_addr::from_octets(198, 18, 0, 103)));
    EXPECT_TRUE(take_sent().empty());
    EXPECT_EQ(engine_->stats().arp_replies_out.get(), 1u);
    EXPECT_TRUE(engine_->is_local(extra));
    EXPECT_FALSE(engine_->is_local(ipv4_addr::from_octets(198, 18, 0, 99)));
}

TEST_F(engine_test, ignores_arp_for_another_address_and_does_not_learn_from_it) {
    make_engine();
    deliver(arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, ipv4_addr::from_octets(198, 18, 0, 9)));
    EXPECT_TRUE(take_sent().empty());
    EXPECT_EQ(engine_->stats().dropped(drop_reason::arp_not_for_us), 1u);
    EXPECT_FALSE(neighbors_.lookup(peer_ip, clock_.now()).has_value());
}

TEST_F(engine_test, arp_for_another_address_refreshes_an_entry_we_hold) {
    make_engine();
    neighbors_.update(peer_ip, mac_addr{{2, 9, 9, 9, 9, 9}}, clock_.now() + std::chrono::seconds(60));
    deliver(arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, ipv4_addr::from_octets(198, 18, 0, 9)));
    EXPECT_EQ(neighbors_.lookup(peer_ip, clock_.now()), peer_mac); // RFC 826 merge step
}

TEST_F(engine_test, arp_claiming_our_address_or_from_a_multicast_mac_is_dropped) {
    make_engine();
    deliver(arp_frame(wire::arp_op::reply, peer_mac, our_ip, our_mac, our_ip, our_mac));
    deliver(arp_frame(wire::arp_op::request, mac_addr::broadcast(), peer_ip, mac_addr{}, our_ip));
    EXPECT_TRUE(take_sent().empty());
    EXPECT_EQ(engine_->stats().dropped(drop_reason::arp_bad_sender), 2u);
}

TEST_F(engine_test, arp_probe_is_answered_but_not_learned) {
    make_engine();
    // RFC 5227 §2.1.1: a probe has sender IP 0.0.0.0.
    deliver(arp_frame(wire::arp_op::request, peer_mac, ipv4_addr{}, mac_addr{}, our_ip));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(parse_arp(bytes(sent[0])).eth.dst, peer_mac);
    EXPECT_TRUE(neighbors_.entries().empty());
    free_all(sent);
}

TEST_F(engine_test, gratuitous_arp_at_start) {
    auto config = default_config();
    config.gratuitous_arp = true;
    make_engine(config).start();
    engine_->poll();
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    auto r = parse_arp(bytes(sent[0]));
    EXPECT_TRUE(r.eth.dst.is_broadcast());
    EXPECT_EQ(r.arp.op, wire::arp_op::request);
    EXPECT_EQ(r.arp.sender_ip, our_ip);
    EXPECT_EQ(r.arp.target_ip, our_ip);
    free_all(sent);
}

TEST_F(engine_test, answers_echo_request_from_a_known_neighbor) {
    make_engine();
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    deliver(echo_request(peer_ip, 0x4242, 7));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    expect_echo_reply(bytes(sent[0]), 0x4242, 7, 56);
    EXPECT_EQ(engine_->stats().icmp_echo_replies_out.get(), 1u);
    free_all(sent);
}

TEST_F(engine_test, echo_reply_checksum_is_right_for_every_identifier_and_size) {
    make_engine();
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    // The reply's checksum is adjusted incrementally (RFC 1624): try values that wrap.
    for (std::uint16_t id : {0x0000, 0x0001, 0xf7ff, 0xffff}) {
        for (std::size_t size : {0u, 1u, 7u, 56u, 1472u}) {
            SCOPED_TRACE("id " + std::to_string(id) + " size " + std::to_string(size));
            deliver(echo_request(peer_ip, id, std::uint16_t(size), size));
            auto sent = take_sent();
            ASSERT_EQ(sent.size(), 1u);
            expect_echo_reply(bytes(sent[0]), id, std::uint16_t(size), size);
            free_all(sent);
        }
    }
}

TEST_F(engine_test, echo_request_with_ip_options_and_ethernet_padding) {
    make_engine();
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    // Build by hand: IHL 6 (one NOP option word) and 10 bytes of Ethernet padding.
    std::uint8_t data[4] = {1, 2, 3, 4};
    wire::icmp_echo_repr echo{wire::icmp_type::echo_request, 9, 10, data};
    std::vector<std::uint8_t> buf(14 + 24 + echo.length() + 10, 0);
    wire::ethernet_repr{our_mac, peer_mac, wire::ether_type::ipv4}.emit(buf.data());
    std::uint8_t* ip = buf.data() + 14;
    wire::ipv4_repr{peer_ip, our_ip, wire::ip_protocol::icmp, 64, 1, std::uint16_t(echo.length() + 4), true, 0}.emit(ip);
    std::memmove(ip + 24, ip + 20, 0);
    ip[0] = 0x46;
    wire::store_be16(ip + 2, std::uint16_t(24 + echo.length()));
    std::memset(ip + 20, 1, 4); // NOP options
    wire::store_be16(ip + 10, 0);
    wire::store_be16(ip + 10, wire::checksum_fold(wire::checksum_add({ip, 24})));
    echo.emit(ip + 24);
    deliver(frame(buf));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    auto eth = wire::ethernet_view::parse(bytes(sent[0]));
    ASSERT_TRUE(eth.has_value());
    EXPECT_EQ(rte_pktmbuf_pkt_len(sent[0]), 14u + 20u + echo.length());
    auto rip = wire::ipv4_view::parse(eth->payload());
    ASSERT_TRUE(rip.has_value());
    auto icmp = wire::icmp_view::parse(rip->payload());
    ASSERT_TRUE(icmp.has_value());
    EXPECT_EQ(icmp->sequence(), 10);
    EXPECT_TRUE(std::equal(icmp->payload().begin(), icmp->payload().end(), data));
    free_all(sent);
}

TEST_F(engine_test, echo_from_unknown_neighbor_waits_for_arp_then_goes) {
    make_engine();
    deliver(echo_request(peer_ip, 1, 1));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u); // our ARP request; the reply waits
    auto req = parse_arp(bytes(sent[0]));
    EXPECT_TRUE(req.eth.dst.is_broadcast());
    EXPECT_EQ(req.arp.op, wire::arp_op::request);
    EXPECT_EQ(req.arp.target_ip, peer_ip);
    EXPECT_EQ(req.arp.sender_ip, our_ip);
    free_all(sent);
    EXPECT_EQ(engine_->arp_in_progress(), 1u);

    deliver(arp_frame(wire::arp_op::reply, peer_mac, peer_ip, our_mac, our_ip, our_mac));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    expect_echo_reply(bytes(sent[0]), 1, 1, 56);
    EXPECT_EQ(engine_->arp_in_progress(), 0u);
    EXPECT_EQ(engine_->stats().arp_resolved.get(), 1u);
    free_all(sent);
}

TEST_F(engine_test, unanswered_arp_retries_then_fails_and_tells_the_sender) {
    auto config = default_config();
    config.arp.max_requests = 3;
    config.arp.retry_interval = std::chrono::milliseconds(500);
    make_engine(config);
    std::vector<ipv4_addr> unreachable;
    engine_->on_unreachable([&](const ip_addr& ip) { unreachable.push_back(ip.v4()); });
    deliver(echo_request(peer_ip, 1, 1));
    deliver(echo_request(peer_ip, 1, 2));
    auto first = take_sent();
    EXPECT_EQ(first.size(), 1u); // one request for both waiting packets
    free_all(first);
    for (int i = 0; i < 2; ++i) {
        clock_.advance(std::chrono::milliseconds(499));
        engine_->poll();
        EXPECT_EQ(dev_.sent.size(), std::size_t(i)) << "no retry before the interval";
        clock_.advance(std::chrono::milliseconds(1));
        engine_->poll();
        EXPECT_EQ(dev_.sent.size(), std::size_t(i + 1)) << "retry " << i + 1;
    }
    EXPECT_TRUE(unreachable.empty());
    clock_.advance(std::chrono::milliseconds(500));
    engine_->poll();
    EXPECT_EQ(dev_.sent.size(), 2u);
    ASSERT_EQ(unreachable.size(), 1u);
    EXPECT_EQ(unreachable[0], peer_ip);
    EXPECT_EQ(engine_->stats().dropped(drop_reason::arp_unresolved), 2u);
    EXPECT_EQ(engine_->stats().arp_failed.get(), 1u);
    EXPECT_EQ(engine_->stats().arp_requests_out.get(), 3u);
    EXPECT_EQ(engine_->arp_in_progress(), 0u);
}

TEST_F(engine_test, packets_waiting_on_arp_are_bounded) {
    make_engine(); // max_pending 4
    for (std::uint16_t i = 0; i < 6; ++i) deliver(echo_request(peer_ip, 1, i));
    EXPECT_EQ(engine_->stats().dropped(drop_reason::arp_queue_full), 2u);
    auto sent = take_sent();
    free_all(sent);
    deliver(arp_frame(wire::arp_op::reply, peer_mac, peer_ip, our_mac, our_ip, our_mac));
    sent = take_sent();
    EXPECT_EQ(sent.size(), 4u);
    for (std::uint16_t i = 0; i < 4; ++i) expect_echo_reply(bytes(sent[i]), 1, i, 56);
    free_all(sent);
}

// All resolutions together hold at most max_pending_total packets; a resolution that
// completes gives its room back to the others.
TEST_F(engine_test, packets_waiting_on_arp_are_bounded_in_total) {
    engine_config config = default_config(); // max_pending 4
    config.arp.max_pending_total = 6;
    make_engine(config);
    const ipv4_addr other = ipv4_addr::from_octets(198, 18, 0, 20);
    for (std::uint16_t i = 0; i < 4; ++i) deliver(echo_request(peer_ip, 1, i));
    for (std::uint16_t i = 0; i < 4; ++i) deliver(echo_request(other, 2, i));
    EXPECT_EQ(engine_->stats().dropped(drop_reason::arp_queue_full), 2u); // other's last two
    auto sent = take_sent(); // the two ARP requests
    free_all(sent);
    deliver(arp_frame(wire::arp_op::reply, peer_mac, peer_ip, our_mac, our_ip, our_mac));
    sent = take_sent();
    EXPECT_EQ(sent.size(), 4u);
    free_all(sent);
    // peer_ip's four gave their room back: other's queue fills to its own bound.
    for (std::uint16_t i = 4; i < 7; ++i) deliver(echo_request(other, 2, i));
    EXPECT_EQ(engine_->stats().dropped(drop_reason::arp_queue_full), 3u);
    const mac_addr other_mac{{0x02, 0, 0, 0, 0, 0x20}};
    deliver(arp_frame(wire::arp_op::reply, other_mac, other, our_mac, our_ip, our_mac));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 4u);
    for (std::uint16_t k = 0; k < 4; ++k) expect_echo_reply(bytes(sent[k]), 2, k < 2 ? k : std::uint16_t(k + 2), 56, other, other_mac);
    free_all(sent);
}

TEST_F(engine_test, resolutions_at_once_are_bounded) {
    make_engine(); // max_resolutions 4
    for (std::uint8_t i = 0; i < 6; ++i) deliver(echo_request(ipv4_addr::from_octets(198, 18, 0, 10 + i), 1, 1));
    EXPECT_EQ(engine_->arp_in_progress(), 4u);
    EXPECT_EQ(engine_->stats().dropped(drop_reason::arp_queue_full), 2u);
}

TEST_F(engine_test, resolve_without_a_packet_and_static_entries) {
    make_engine();
    engine_->resolve(peer_ip);
    engine_->poll();
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(parse_arp(bytes(sent[0])).arp.target_ip, peer_ip);
    free_all(sent);
    // A static entry is not replaced by what the wire says.
    ipv4_addr fixed = ipv4_addr::from_octets(198, 18, 0, 50);
    neighbors_.update(fixed, mac_addr{{2, 5, 5, 5, 5, 5}}, instant::max(), true);
    deliver(arp_frame(wire::arp_op::reply, peer_mac, fixed, our_mac, our_ip, our_mac));
    EXPECT_EQ(neighbors_.lookup(fixed, clock_.now()), (mac_addr{{2, 5, 5, 5, 5, 5}}));
}

TEST_F(engine_test, learned_entries_expire) {
    auto config = default_config();
    config.arp.entry_lifetime = std::chrono::seconds(10);
    make_engine(config);
    deliver(arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, our_ip));
    auto sent = take_sent();
    free_all(sent);
    clock_.advance(std::chrono::seconds(10));
    deliver(echo_request(peer_ip, 1, 1));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(parse_arp(bytes(sent[0])).arp.op, wire::arp_op::request); // asks again
    free_all(sent);
}

// The engine keeps its last next hop's MAC, but a change to the shared table (a new MAC
// learned, here by another engine) is used at the next send, and an entry that expired
// while kept is not.
TEST_F(engine_test, the_kept_next_hop_follows_the_neighbor_table) {
    auto config = default_config();
    config.arp.entry_lifetime = std::chrono::seconds(10);
    make_engine(config);
    deliver(arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, our_ip));
    auto sent = take_sent();
    free_all(sent);
    deliver(echo_request(peer_ip, 1, 1));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(wire::ethernet_view::parse(bytes(sent[0]))->dst(), peer_mac);
    free_all(sent);
    const mac_addr moved{{0x02, 0, 0, 0, 0, 0x77}};
    neighbors_.update(peer_ip, moved, clock_.now() + std::chrono::seconds(5));
    deliver(echo_request(peer_ip, 1, 2));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(wire::ethernet_view::parse(bytes(sent[0]))->dst(), moved);
    free_all(sent);
    clock_.advance(std::chrono::seconds(5)); // the entry expires; the table is not written
    deliver(echo_request(peer_ip, 1, 3));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(parse_arp(bytes(sent[0])).arp.op, wire::arp_op::request); // asks again
    free_all(sent);
}

// The prebuilt headers a TCP sender writes whole frames with (tcp_frame_prefix) name the
// right pair of addresses and the next hop's MAC for each of many pairs asked in turn (a
// load generator's source addresses, several peers), follow a change of the neighbor
// table, and are not given once the entry expired or for a destination without a route:
// the sender then goes through send_ipv4 (ARP, no_route).
TEST_F(engine_test, frame_prefixes_follow_the_neighbor_table_for_every_address_pair) {
    auto config = default_config();
    config.extra_addresses = ipv4_range{ipv4_addr::from_octets(198, 18, 0, 100), 20};
    make_engine(config);
    EXPECT_EQ(engine_->tcp_frame_prefix(our_ip, peer_ip), nullptr); // no MAC yet
    const ipv4_addr peer2 = ipv4_addr::from_octets(198, 18, 0, 77);
    const mac_addr peer2_mac{{0x02, 0, 0, 0, 0, 0x78}};
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(10));
    neighbors_.update(peer2, peer2_mac, clock_.now() + std::chrono::seconds(60));
    auto check = [&](ipv4_addr src, ipv4_addr dst, mac_addr mac) {
        const wire::ipv4_frame_prefix* p = engine_->tcp_frame_prefix(src, dst);
        ASSERT_NE(p, nullptr);
        std::array<std::uint8_t, wire::ipv4_frame_prefix::length> b{};
        p->emit(b.data(), 0, 1, true); // a datagram of headers alone, as long as the buffer
        auto eth = wire::ethernet_view::parse(b);
        ASSERT_TRUE(eth);
        EXPECT_EQ(eth->dst(), mac);
        EXPECT_EQ(eth->src(), our_mac);
        auto ip = wire::ipv4_view::parse(std::span(b).subspan(wire::ethernet_header_len), false);
        ASSERT_TRUE(ip);
        EXPECT_EQ(ip->src(), src);
        EXPECT_EQ(ip->dst(), dst);
        EXPECT_EQ(ip->protocol(), wire::ip_protocol::tcp);
    };
    for (int round = 0; round < 3; ++round) {
        check(our_ip, peer_ip, peer_mac);
        for (std::uint32_t i = 0; i < config.extra_addresses.count; ++i) {
            check(config.extra_addresses.at(i), peer_ip, peer_mac);
            check(config.extra_addresses.at(i), peer2, peer2_mac);
        }
    }
    const mac_addr moved{{0x02, 0, 0, 0, 0, 0x77}};
    neighbors_.update(peer_ip, moved, clock_.now() + std::chrono::seconds(5));
    check(our_ip, peer_ip, moved);
    check(config.extra_addresses.at(3), peer_ip, moved);
    clock_.advance(std::chrono::seconds(5)); // peer_ip's entry expires; the table is not written
    engine_->poll();
    EXPECT_EQ(engine_->tcp_frame_prefix(our_ip, peer_ip), nullptr);
    check(our_ip, peer2, peer2_mac);
    EXPECT_EQ(engine_->tcp_frame_prefix(our_ip, ipv4_addr::from_octets(198, 19, 1, 1)), nullptr); // no route
}

TEST_F(engine_test, off_link_destinations_go_to_the_gateway_or_nowhere) {
    make_engine();
    ipv4_addr far = ipv4_addr::from_octets(198, 19, 1, 1);
    deliver(echo_request(far, 1, 1));
    EXPECT_EQ(engine_->stats().dropped(drop_reason::no_route), 1u);
    EXPECT_TRUE(take_sent().empty());

    auto config = default_config();
    config.gateway = gateway_ip;
    make_engine(config);
    deliver(echo_request(far, 1, 1));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(parse_arp(bytes(sent[0])).arp.target_ip, gateway_ip);
    free_all(sent);
}

TEST_F(engine_test, another_engine_learning_the_address_completes_our_resolution) {
    make_engine();
    deliver(echo_request(peer_ip, 3, 3));
    auto sent = take_sent();
    free_all(sent);
    // Engine B saw the reply (it landed on B's queue) and wrote the shared cache.
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    engine_->poll();
    sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    expect_echo_reply(bytes(sent[0]), 3, 3, 56);
    free_all(sent);
}

TEST_F(engine_test, every_malformed_or_foreign_frame_is_counted_under_its_reason) {
    make_engine();
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    auto expect_drop = [&](rte_mbuf* m, drop_reason r) {
        std::uint64_t before = engine_->stats().dropped(r);
        std::uint64_t all_before = engine_->stats().dropped_total();
        deliver(m);
        EXPECT_EQ(engine_->stats().dropped(r), before + 1) << to_string(r);
        EXPECT_EQ(engine_->stats().dropped_total(), all_before + 1) << to_string(r);
        EXPECT_TRUE(dev_.sent.empty()) << to_string(r);
    };
    // Changes one byte of the frame; with fix_ip the IPv4 header checksum is redone.
    auto mutate = [&](rte_mbuf* m, std::size_t offset, std::uint8_t value, bool fix_ip = false) {
        auto* p = rte_pktmbuf_mtod(m, std::uint8_t*);
        p[offset] = value;
        if (fix_ip) {
            std::size_t ihl = std::size_t(p[14] & 0x0f) * 4;
            wire::store_be16(p + 24, 0);
            wire::store_be16(p + 24, wire::checksum_fold(wire::checksum_add({p + 14, ihl})));
        }
        return m;
    };
    constexpr std::size_t ip = 14;
    std::uint8_t short_frame[10] = {};
    expect_drop(frame(short_frame), drop_reason::eth_truncated);
    expect_drop(mutate(echo_request(peer_ip, 1, 1), 5, 0x99), drop_reason::eth_not_for_us);
    expect_drop(mutate(echo_request(peer_ip, 1, 1), 12, 0x86), drop_reason::eth_unknown_type);
    auto arp = arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, our_ip);
    rte_pktmbuf_trim(arp, 10);
    expect_drop(arp, drop_reason::arp_truncated);
    expect_drop(mutate(arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, our_ip), 14 + 4, 8),
                drop_reason::arp_bad_format);
    expect_drop(mutate(arp_frame(wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, our_ip), 14 + 7, 3),
                drop_reason::arp_bad_op);
    auto tiny_ip = echo_request(peer_ip, 1, 1, 0);
    rte_pktmbuf_trim(tiny_ip, 28 - 19);
    expect_drop(tiny_ip, drop_reason::ipv4_truncated);
    expect_drop(mutate(echo_request(peer_ip, 1, 1), ip, 0x65), drop_reason::ipv4_bad_version);
    expect_drop(mutate(echo_request(peer_ip, 1, 1), ip, 0x44), drop_reason::ipv4_bad_ihl);
    expect_drop(mutate(echo_request(peer_ip, 1, 1), ip + 2, 0x7f, true), drop_reason::ipv4_bad_total_length);
    expect_drop(mutate(echo_request(peer_ip, 1, 1), ip + 10, 0x00), drop_reason::ipv4_bad_checksum);
    // MF with 65 bytes of data: not a multiple of 8 (RFC 791). Whole fragments: test_reassembly.
    expect_drop(mutate(echo_request(peer_ip, 1, 1, 57), ip + 6, 0x20, true), drop_reason::ipv4_fragment_malformed);
    expect_drop(mutate(echo_request(peer_ip, 1, 1), ip + 15, 0xff, true), drop_reason::ipv4_bad_source);
    expect_drop(mutate(echo_request(peer_ip, 1, 1), ip + 19, 0x09, true), drop_reason::ipv4_not_for_us);
    expect_drop(mutate(echo_request(peer_ip, 1, 1), ip + 9, 17, true), drop_reason::ipv4_unknown_protocol);
    auto short_icmp = echo_request(peer_ip, 1, 1, 0);
    {
        auto* p = rte_pktmbuf_mtod(short_icmp, std::uint8_t*);
        wire::store_be16(p + ip + 2, 20 + 4);
        mutate(short_icmp, ip + 8, 64, true);
    }
    expect_drop(short_icmp, drop_reason::icmp_truncated);
    expect_drop(mutate(echo_request(peer_ip, 1, 1), ip + 20 + 8, 0xee), drop_reason::icmp_bad_checksum);
    expect_drop(mutate(mutate(echo_request(peer_ip, 1, 1), ip + 20, 13), ip + 20 + 2, 0), drop_reason::icmp_bad_checksum);

    // A valid timestamp request (type 13) is not answered.
    {
        rte_mbuf* m = echo_request(peer_ip, 1, 1, 0);
        auto* p = rte_pktmbuf_mtod(m, std::uint8_t*) + ip + 20;
        p[0] = 13;
        wire::store_be16(p + 2, 0);
        wire::store_be16(p + 2, wire::checksum_fold(wire::checksum_add({p, 8})));
        expect_drop(m, drop_reason::icmp_unhandled_type);
    }
    EXPECT_EQ(engine_->stats().rx_packets.get(), 19u);
}

TEST_F(engine_test, a_frame_in_several_mbufs_is_dropped_as_such) {
    make_engine();
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    // A valid echo request split after its Ethernet header into two chained mbufs.
    rte_mbuf* whole = echo_request(peer_ip, 1, 1);
    auto data = bytes(whole);
    rte_mbuf* head = frame(data.first(14));
    rte_mbuf* tail = frame(data.subspan(14));
    rte_pktmbuf_free(whole);
    ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
    deliver(head);
    EXPECT_EQ(engine_->stats().dropped(drop_reason::eth_multi_segment), 1u);
    EXPECT_EQ(engine_->stats().dropped_total(), 1u);
    EXPECT_TRUE(dev_.sent.empty());
}

TEST_F(engine_test, tcp_segments_are_validated_then_have_no_endpoint_yet) {
    make_engine();
    std::vector<std::uint8_t> buf =
        tcp_frame_bytes({our_mac, peer_mac, peer_ip, our_ip}, bare_segment(40000, 80, wire::tcp_flags::syn));
    deliver(frame(buf));
    EXPECT_EQ(engine_->stats().dropped(drop_reason::tcp_no_endpoint), 1u);
    buf[34 + 16] ^= 0xff; // break the checksum
    deliver(frame(buf));
    EXPECT_EQ(engine_->stats().dropped(drop_reason::tcp_bad_checksum), 1u);
}

TEST_F(engine_test, refused_packets_stay_in_order_for_the_next_round) {
    make_engine();
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    dev_.accept = 2;
    for (std::uint16_t i = 0; i < 5; ++i) dev_.inbox.push_back(echo_request(peer_ip, 1, i));
    engine_->poll();
    EXPECT_EQ(dev_.sent.size(), 2u);
    EXPECT_EQ(engine_->tx_backlog(), 3u);
    EXPECT_EQ(engine_->stats().tx_deferred.get(), 3u);
    dev_.accept = UINT64_MAX;
    engine_->poll();
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 5u);
    for (std::uint16_t i = 0; i < 5; ++i) expect_echo_reply(bytes(sent[i]), 1, i, 56);
    EXPECT_EQ(engine_->stats().tx_packets.get(), 5u);
    free_all(sent);
}

// A device whose link is down (memif before its peer connects) refuses everything: counted
// as tx_deferred_link_down, not as a busy device's tx_deferred. The link is asked at most
// every link_check_interval while the device takes nothing, and not at all while it takes.
TEST_F(engine_test, refusals_while_the_link_is_down_are_counted_apart) {
    make_engine();
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    dev_.accept = 0;
    dev_.link = false;
    for (std::uint16_t i = 0; i < 3; ++i) dev_.inbox.push_back(echo_request(peer_ip, 1, i));
    engine_->poll();
    EXPECT_EQ(engine_->tx_backlog(), 3u);
    EXPECT_EQ(engine_->stats().tx_deferred_link_down.get(), 3u);
    EXPECT_EQ(engine_->stats().tx_deferred.get(), 0u);
    EXPECT_EQ(dev_.link_queries, 1u);
    // The link comes up, the device is busy: until the next check the refusals are the link's.
    dev_.link = true;
    clock_.advance(engine::link_check_interval - std::chrono::milliseconds(1));
    engine_->poll();
    EXPECT_EQ(engine_->stats().tx_deferred_link_down.get(), 6u);
    EXPECT_EQ(dev_.link_queries, 1u);
    clock_.advance(std::chrono::milliseconds(1));
    engine_->poll();
    EXPECT_EQ(engine_->stats().tx_deferred_link_down.get(), 6u);
    EXPECT_EQ(engine_->stats().tx_deferred.get(), 3u);
    EXPECT_EQ(dev_.link_queries, 2u);
    // A device that takes some has its link up without being asked, even if it would say
    // otherwise.
    dev_.link = false;
    dev_.accept = 1;
    clock_.advance(engine::link_check_interval);
    engine_->poll();
    EXPECT_EQ(engine_->stats().tx_deferred.get(), 5u);
    EXPECT_EQ(dev_.link_queries, 2u);
    dev_.accept = UINT64_MAX;
    engine_->poll();
    EXPECT_EQ(engine_->tx_backlog(), 0u);
    EXPECT_EQ(engine_->stats().tx_packets.get(), 3u);
    EXPECT_EQ(engine_->stats().tx_deferred.get(), 5u);
    EXPECT_EQ(engine_->stats().tx_deferred_link_down.get(), 6u);
    EXPECT_EQ(dev_.link_queries, 2u);
    auto sent = take_sent();
    free_all(sent);
}

TEST_F(engine_test, a_full_backlog_drops_with_a_reason) {
    auto config = default_config();
    config.tx_backlog = 4;
    config.burst = 8;
    make_engine(config);
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    dev_.accept = 0;
    for (std::uint16_t i = 0; i < 6; ++i) dev_.inbox.push_back(echo_request(peer_ip, 1, i));
    engine_->poll();
    EXPECT_EQ(engine_->tx_backlog(), 4u);
    EXPECT_EQ(engine_->stats().dropped(drop_reason::tx_backlog_full), 2u);
}

// The backlog is a ring: packets refused across its wrap still leave oldest first, and
// the bytes counted are those of the packets taken.
TEST_F(engine_test, refused_packets_leave_in_order_across_the_backlog_wrap) {
    auto config = default_config();
    config.tx_backlog = 4;
    make_engine(config);
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    std::uint16_t next = 0;
    std::vector<rte_mbuf*> sent;
    for (int round = 0; round < 6; ++round) {
        dev_.accept = 1; // takes one a round, so the ring's head walks round it
        for (int k = 0; k < 2 && next < 14; ++k) dev_.inbox.push_back(echo_request(peer_ip, 7, next++));
        engine_->poll();
    }
    dev_.accept = UINT64_MAX;
    engine_->poll();
    sent = take_sent();
    ASSERT_EQ(sent.size(), 10u); // 12 sent in, 2 dropped when the backlog of 4 was full
    EXPECT_EQ(engine_->stats().dropped(drop_reason::tx_backlog_full), 2u);
    std::uint64_t bytes_sent = 0;
    std::uint16_t last = 0;
    for (std::size_t i = 0; i < sent.size(); ++i) {
        auto icmp = wire::icmp_view::parse(wire::ipv4_view::parse(wire::ethernet_view::parse(bytes(sent[i]))->payload(), true)->payload());
        ASSERT_TRUE(icmp.has_value());
        if (i > 0) {
            EXPECT_GT(icmp->sequence(), last) << "out of order at " << i;
        }
        last = icmp->sequence();
        bytes_sent += rte_pktmbuf_pkt_len(sent[i]);
    }
    EXPECT_EQ(engine_->stats().tx_packets.get(), 10u);
    EXPECT_EQ(engine_->stats().tx_bytes.get(), bytes_sent);
    free_all(sent);
}

// A device that refuses a full backlog is asked once a round, not once per packet sent.
TEST_F(engine_test, a_full_backlog_asks_the_device_once_a_round) {
    auto config = default_config();
    config.tx_backlog = 4;
    config.burst = 32;
    make_engine(config);
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    dev_.accept = 0;
    for (std::uint16_t i = 0; i < 20; ++i) dev_.inbox.push_back(echo_request(peer_ip, 1, i));
    const std::uint64_t calls = dev_.tx_calls;
    engine_->poll();
    EXPECT_EQ(engine_->stats().dropped(drop_reason::tx_backlog_full), 16u);
    EXPECT_LE(dev_.tx_calls - calls, 2u); // one for the full backlog, one at the round's end
}

// Input first: a round reads up to rx_bursts full bursts; when even that leaves packets
// waiting, the engine says it is behind (engine::congested), and so it does while its
// device refuses a quarter of the backlog or more.
TEST_F(engine_test, a_round_reads_several_full_bursts_and_says_when_it_is_behind) {
    auto config = default_config();
    config.burst = 4;
    config.rx_bursts = 3;
    config.tx_backlog = 64;
    make_engine(config);
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    for (std::uint16_t i = 0; i < 13; ++i) dev_.inbox.push_back(echo_request(peer_ip, 1, i));
    engine_->poll();
    EXPECT_EQ(dev_.inbox.size(), 1u); // 3 bursts of 4
    EXPECT_TRUE(engine_->congested());
    EXPECT_EQ(engine_->stats().rx_budget_spent.get(), 1u);
    engine_->poll();
    EXPECT_EQ(engine_->stats().rx_budget_spent.get(), 1u);
    EXPECT_TRUE(dev_.inbox.empty());
    EXPECT_FALSE(engine_->congested());
    auto sent = take_sent();
    EXPECT_EQ(sent.size(), 13u);
    free_all(sent);

    dev_.accept = 0;
    for (std::uint16_t i = 0; i < 15; ++i) dev_.inbox.push_back(echo_request(peer_ip, 2, i));
    for (int r = 0; r < 5; ++r) engine_->poll();
    EXPECT_EQ(engine_->tx_backlog(), 15u);
    EXPECT_FALSE(engine_->congested()); // 15 of 64: under a quarter
    dev_.inbox.push_back(echo_request(peer_ip, 2, 15));
    engine_->poll();
    EXPECT_TRUE(engine_->congested()); // 16 of 64
    dev_.accept = UINT64_MAX;
    engine_->poll();
    EXPECT_FALSE(engine_->congested());
}

// A round that starts 1 ms or more after the one before is a stall, counted with its length:
// the thread was away (or the round ran long), and what came due meanwhile waited.
TEST_F(engine_test, a_round_late_by_a_millisecond_or_more_is_counted_a_stall) {
    make_engine(default_config());
    engine_->poll();
    clock_.advance(std::chrono::microseconds(999));
    engine_->poll();
    EXPECT_EQ(engine_->stats().stalls.get(), 0u);
    clock_.advance(std::chrono::microseconds(3500));
    engine_->poll();
    EXPECT_EQ(engine_->stats().stalls.get(), 1u);
    EXPECT_EQ(engine_->stats().stalled_us.get(), 3500u);
    clock_.advance(std::chrono::milliseconds(1));
    engine_->poll();
    EXPECT_EQ(engine_->stats().stalls.get(), 2u);
    EXPECT_EQ(engine_->stats().stalled_us.get(), 4500u);
}

// An engine with a small RX budget (bursts of 4) and an ARP resolution under way for
// peer_ip, whose retry is due 500 ms on; the echo request that started it waits on it.
class held_timers : public engine_test {
protected:
    void start(std::uint16_t rx_bursts) {
        auto config = default_config();
        config.burst = 4;
        config.rx_bursts = rx_bursts;
        config.arp.retry_interval = std::chrono::milliseconds(500);
        config.timer_hold = std::chrono::milliseconds(200);
        make_engine(config);
        deliver(echo_request(peer_ip, 1, 1));
        auto request = take_sent();
        ASSERT_EQ(request.size(), 1u); // the ARP request
        free_all(request);
    }
    // n frames that cost a round's budget and ask nothing of us (ARP for another address).
    void queue_others(int n) {
        for (int i = 0; i < n; ++i)
            dev_.inbox.push_back(arp_frame(wire::arp_op::request, peer_mac, ipv4_addr::from_octets(198, 18, 0, 8), mac_addr{},
                                           ipv4_addr::from_octets(198, 18, 0, 9)));
    }
};

// Input that waited comes before the timers it may meet: a round that leaves input in the
// queue fires only the timers due before the last round that read everything. Here the
// engine comes back from a stall past the ARP retry's deadline with the reply still queued
// behind a full RX budget of other frames: the reply settles the resolution, and no
// request goes again.
TEST_F(held_timers, timers_wait_for_the_input_queued_before_them) {
    start(2);
    clock_.advance(std::chrono::milliseconds(600)); // the stall: the retry is 100 ms overdue
    queue_others(8);
    dev_.inbox.push_back(arp_frame(wire::arp_op::reply, peer_mac, peer_ip, our_mac, our_ip, our_mac));
    engine_->poll(); // the budget: 8 frames, the reply still waiting
    EXPECT_EQ(dev_.inbox.size(), 1u);
    EXPECT_TRUE(dev_.sent.empty()) << "the retry went out ahead of the reply waiting for it";
    engine_->poll();
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    expect_echo_reply(bytes(sent[0]), 1, 1, 56);
    free_all(sent);
    EXPECT_EQ(engine_->stats().arp_requests_out.get(), 1u);
    EXPECT_EQ(engine_->stats().arp_resolved.get(), 1u);
}

// The wait is bounded: an engine that stays behind (every round spends its RX budget) still
// fires a timer once it is timer_hold overdue, and no later than one round after.
TEST_F(held_timers, timers_held_behind_input_fire_once_timer_hold_overdue) {
    start(1);
    auto behind_for = [&](std::chrono::milliseconds step) {
        queue_others(5); // one more than the budget: never drained
        clock_.advance(step);
        engine_->poll();
        while (dev_.inbox.size() > 0) { // drop what the next round would read: the count stays exact
            rte_pktmbuf_free(dev_.inbox.front());
            dev_.inbox.pop_front();
        }
    };
    behind_for(std::chrono::milliseconds(100)); // from here on the engine is behind
    for (int ms = 200; ms < 700; ms += 100) {
        behind_for(std::chrono::milliseconds(100));
        EXPECT_TRUE(dev_.sent.empty()) << ms << " ms: the retry (due at 500) is not yet 200 ms overdue";
    }
    behind_for(std::chrono::milliseconds(100)); // 700 ms: 200 ms overdue
    auto retry = take_sent();
    ASSERT_EQ(retry.size(), 1u);
    EXPECT_EQ(parse_arp(bytes(retry[0])).arp.op, wire::arp_op::request);
    free_all(retry);
    EXPECT_EQ(engine_->stats().arp_requests_out.get(), 2u);
}

// With flush_every, after a round that received nothing (the peer was waiting on us), the
// answers to every `flush_every` packets leave before the rest is read: the peer starts on
// them while this engine works through its bursts. After a round with input (the peer is
// busy too) a round is not split: more, smaller TX bursts would only cost.
TEST_F(engine_test, flush_every_sends_answers_before_reading_on_after_an_idle_round) {
    for (std::uint16_t every : {0, 4}) {
        auto config = default_config();
        config.burst = 8;
        config.rx_bursts = 2;
        config.tx_backlog = 64;
        config.flush_every = every;
        make_engine(config);
        neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
        std::uint16_t seq = 0;
        auto round = [&](std::uint16_t arriving) {
            dev_.took_per_call.clear();
            for (std::uint16_t i = 0; i < arriving; ++i) dev_.inbox.push_back(echo_request(peer_ip, every, seq++));
            engine_->poll();
            return dev_.took_per_call;
        };
        using calls = std::vector<std::uint16_t>;
        const calls split_start = every ? calls{4, 4, 4, 4} : calls{16};
        EXPECT_EQ(round(20), split_start) << every; // after an idle start; 4 left in the device
        EXPECT_EQ(round(6), (calls{10})) << every;  // after a round with input
        EXPECT_EQ(round(0), calls()) << every;
        const calls split_after_idle = every ? calls{4, 2} : calls{6};
        EXPECT_EQ(round(6), split_after_idle) << every; // after an idle round
        auto sent = take_sent();
        ASSERT_EQ(sent.size(), 32u);
        for (std::uint16_t i = 0; i < 32; ++i) expect_echo_reply(bytes(sent[i]), every, i, 56); // in order
        free_all(sent);
    }
}

// A frame longer than the port's MTU + 14 is one that no device sends: net_tap refuses it
// on every call, and it used to sit at the head of the backlog and stall TX for good.
TEST_F(engine_test, an_oversize_frame_is_dropped_and_does_not_stall_tx) {
    make_engine(); // port MTU 1500: frames up to 1514 bytes
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    dev_.max_frame = 1514;
    // 14 + 20 + 8 + 1473 = 1515 bytes: the reply is one byte over.
    dev_.inbox.push_back(echo_request(peer_ip, 1, 0, 1473));
    dev_.inbox.push_back(echo_request(peer_ip, 1, 1, 1472));
    engine_->poll();
    EXPECT_EQ(engine_->stats().dropped(drop_reason::tx_oversize), 1u);
    EXPECT_EQ(engine_->tx_backlog(), 0u);
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(rte_pktmbuf_pkt_len(sent[0]), 1514u);
    expect_echo_reply(bytes(sent[0]), 1, 1, 1472);
    free_all(sent);
}

TEST_F(engine_test, the_port_mtu_sets_the_largest_frame) {
    engine_port port{0, 0, our_mac, port_offloads{}};
    port.mtu = 576;
    engine_ = std::make_unique<engine>(0, default_config(), port, dev_, pool_.get(), neighbors_, clock_);
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    deliver(echo_request(peer_ip, 1, 0, 576 - 28 + 1));
    deliver(echo_request(peer_ip, 1, 1, 576 - 28));
    EXPECT_EQ(engine_->stats().dropped(drop_reason::tx_oversize), 1u);
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    expect_echo_reply(bytes(sent[0]), 1, 1, 576 - 28);
    free_all(sent);
}

// A packet the device keeps refusing at the head of the backlog, though it fits the MTU,
// is dropped once the device has taken nothing for tx_stall_timeout; then TX goes on.
TEST_F(engine_test, a_packet_refused_for_the_stall_timeout_is_dropped) {
    auto config = default_config();
    config.tx_stall_timeout = std::chrono::milliseconds(100);
    make_engine(config);
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    dev_.max_frame = 200; // this device takes small frames only
    dev_.inbox.push_back(echo_request(peer_ip, 1, 0, 56));
    dev_.inbox.push_back(echo_request(peer_ip, 1, 1, 500));
    dev_.inbox.push_back(echo_request(peer_ip, 1, 2, 56));
    engine_->poll();
    EXPECT_EQ(dev_.sent.size(), 1u);
    EXPECT_EQ(engine_->tx_backlog(), 2u);
    // Refused for 99 ms: still waiting, in order.
    clock_.advance(std::chrono::milliseconds(99));
    engine_->poll();
    EXPECT_EQ(engine_->tx_backlog(), 2u);
    EXPECT_EQ(engine_->stats().dropped(drop_reason::tx_refused), 0u);
    // 100 ms without the device taking anything: the head goes, the rest follows.
    clock_.advance(std::chrono::milliseconds(1));
    engine_->poll();
    EXPECT_EQ(engine_->stats().dropped(drop_reason::tx_refused), 1u);
    EXPECT_EQ(engine_->tx_backlog(), 0u);
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 2u);
    expect_echo_reply(bytes(sent[0]), 1, 0, 56);
    expect_echo_reply(bytes(sent[1]), 1, 2, 56);
    EXPECT_EQ(engine_->stats().dropped_total(), 1u);
    free_all(sent);
}

// A device that takes some packets every round is busy, not stuck: however long that
// lasts, nothing is dropped.
TEST_F(engine_test, a_slow_device_that_keeps_taking_packets_loses_none) {
    auto config = default_config();
    config.tx_stall_timeout = std::chrono::milliseconds(100);
    make_engine(config);
    neighbors_.update(peer_ip, peer_mac, clock_.now() + std::chrono::seconds(60));
    for (std::uint16_t i = 0; i < 20; ++i) dev_.inbox.push_back(echo_request(peer_ip, 1, i));
    dev_.accept = 0;
    engine_->poll();
    EXPECT_EQ(engine_->tx_backlog(), 20u);
    for (int round = 0; round < 20 && engine_->tx_backlog() > 0; ++round) {
        clock_.advance(std::chrono::milliseconds(60));
        dev_.accept = 1;
        engine_->poll();
    }
    EXPECT_EQ(engine_->tx_backlog(), 0u);
    EXPECT_EQ(engine_->stats().dropped_total(), 0u);
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 20u);
    for (std::uint16_t i = 0; i < 20; ++i) expect_echo_reply(bytes(sent[i]), 1, i, 56);
    free_all(sent);
}

} // namespace
} // namespace tern::test
