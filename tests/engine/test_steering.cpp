// Software flow steering (core/steering.hpp): two engines over one steering object; a TCP
// packet lands on the queue of the engine that does not own its flow and reaches the owner's
// protocol handler, once, whichever queue it came in on; the counters add up; a full ring
// drops with its reason and loses no mbuf.
#include <map>
#include <vector>

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "core/engine.hpp"
#include "core/steering.hpp"
#include "dpdk/mempool.hpp"
#include "dpdk/rss.hpp"
#include "engine_setup.hpp"
#include "script_device.hpp"
#include "tcp_frames.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace tern::test {
namespace {

const mac_addr our_mac{{0x02, 0, 0, 0, 0, 0x02}};
const mac_addr peer_mac{{0x02, 0, 0, 0, 0, 0x01}};
const ipv4_addr our_ip = ipv4_addr::from_octets(198, 18, 0, 2);
const ipv4_addr peer_ip = ipv4_addr::from_octets(198, 18, 0, 1);

// Keeps the source ports of the segments it was given.
class recorder final : public protocol_handler {
public:
    void on_tcp(rte_mbuf* m, const wire::ipv4_view&, const wire::tcp_view& tcp) override {
        ports.push_back(tcp.src_port());
        rte_pktmbuf_free(m);
    }
    void on_tcp6(rte_mbuf* m, const wire::ipv6_view&, const wire::tcp_view& tcp) override {
        ports.push_back(tcp.src_port());
        rte_pktmbuf_free(m);
    }
    void on_icmp_unreachable(std::uint8_t, std::uint16_t, const wire::icmp_quoted_tcp& quoted) override {
        icmp_ports.push_back(quoted.dst_port);
    }
    void on_packet_too_big(std::uint32_t, const wire::icmpv6_quoted_tcp& quoted) override {
        icmp_ports.push_back(quoted.dst_port);
    }
    void on_timer(timer_hook&) override {}
    void after_burst() override {}
    std::vector<std::uint16_t> ports;
    std::vector<std::uint16_t> icmp_ports; // the peer's port of the flows ICMP errors quoted
};

class steering_test : public ::testing::Test {
protected:
    static constexpr std::uint16_t engines = 2;

    explicit steering_test(std::uint32_t ring_size = steering::default_ring_size, port_offloads offloads = {},
                           std::optional<engine_config> config = std::nullopt) {
        static int n = 0;
        auto pool = mbuf_pool::create("steer_pool_" + std::to_string(n++), 4095);
        if (!pool) throw std::runtime_error(pool.error());
        pool_.emplace(std::move(*pool));
        auto s = steering::create(engines, ring_size);
        if (!s) throw std::runtime_error(s.error());
        steering_ = std::move(*s);
        const engine_config c = config.value_or(config_for(our_ip, our_mac, {}, engines));
        for (std::uint16_t i = 0; i < engines; ++i) {
            engines_[i] = std::make_unique<engine>(i, c, engine_port{0, i, our_mac, offloads}, devs_[i],
                                                   pool_->get(), neighbors_, clock_);
            engines_[i]->set_steering(steering_.get());
            engines_[i]->set_protocol_handler(&handlers_[i]);
        }
    }
    ~steering_test() override {
        for (auto& e : engines_) e.reset();
        steering_.reset();
        for (auto& d : devs_) {
            for (rte_mbuf* m : d.inbox) rte_pktmbuf_free(m);
            d.inbox.clear();
            for (rte_mbuf* m : d.sent) rte_pktmbuf_free(m);
            d.sent.clear();
        }
        EXPECT_EQ(pool_->in_use(), 0u); // DESIGN.md "Memory": every mbuf taken comes back
    }

    rte_mbuf* segment(std::uint16_t src_port) {
        return tcp_frame_mbuf(pool_->get(), {our_mac, peer_mac, peer_ip, our_ip},
                              bare_segment(src_port, 80, wire::tcp_flags::syn));
    }
    rte_mbuf* mbuf_of(const std::vector<std::uint8_t>& bytes) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool_->get());
        std::memcpy(rte_pktmbuf_append(m, std::uint16_t(bytes.size())), bytes.data(), bytes.size());
        return m;
    }
    std::uint16_t owner(std::uint16_t src_port) const { return steering_->owner({peer_ip, our_ip, src_port, 80}); }
    // A source port whose flow engine `e` owns, from `from` on.
    std::uint16_t port_of(std::uint16_t e, std::uint16_t from = 40000) const {
        for (std::uint16_t p = from;; ++p)
            if (owner(p) == e) return p;
    }
    void poll_all() {
        for (auto& e : engines_) e->poll();
    }
    std::uint64_t stat(std::uint16_t e, std::string_view name) const {
        for (auto& [k, v] : engines_[e]->stats().snapshot())
            if (k == name) return v;
        return ~0ull;
    }

    std::optional<mbuf_pool> pool_;
    std::unique_ptr<steering> steering_;
    script_device devs_[engines];
    virtual_clock clock_;
    neighbor_cache neighbors_{64};
    recorder handlers_[engines];
    std::unique_ptr<engine> engines_[engines];
};

TEST(steering, owner_is_the_same_for_both_directions_of_a_flow) {
    auto s = steering::create(4);
    ASSERT_TRUE(s);
    const ipv4_addr a = ipv4_addr::from_octets(198, 18, 0, 1), b = ipv4_addr::from_octets(198, 18, 1, 9);
    std::map<std::uint16_t, int> per_engine;
    for (std::uint16_t p = 1024; p < 1024 + 4096; ++p) {
        const std::uint16_t o = (*s)->owner({a, b, p, 80});
        EXPECT_EQ(o, (*s)->owner({b, a, 80, p}));
        ++per_engine[o];
    }
    EXPECT_EQ(per_engine.size(), 4u); // every engine owns some of the flows
}

TEST(steering, refuses_one_engine_and_a_ring_size_not_a_power_of_two) {
    EXPECT_FALSE(steering::create(1));
    EXPECT_FALSE(steering::create(2, 1000));
}

TEST(steering, follows_the_ports_redirection_table_size) {
    EXPECT_FALSE(steering::create(4, 1024, 2)); // fewer entries than engines
    auto s = steering::create(3, 1024, 512);
    ASSERT_TRUE(s);
    auto reta = rss::redirection_table::round_robin(512, 3);
    ASSERT_TRUE(reta);
    // 512 entries over 3 engines is not 128 over 3: hash 200 is entry 200 (engine 2) here,
    // entry 72 (engine 0) in a 128-entry table.
    EXPECT_EQ((*s)->owner_of_hash(200), reta->engine_of(200));
    EXPECT_EQ((*s)->owner_of_hash(200), 2);
}

// The NIC's hash, when the port has one over TCP ports and it has shown for 64 segments that
// it is tern's, decides; one that differs once is never used again; a hash of the addresses
// alone is never used.
class nic_hash_steering_test : public steering_test {
protected:
    static port_offloads with_rss(bool tcp_ports) {
        port_offloads o;
        o.rss = true;
        o.rss_tcp = tcp_ports;
        return o;
    }
    explicit nic_hash_steering_test(bool tcp_ports = true) : steering_test(steering::default_ring_size, with_rss(tcp_ports)) {}
    rte_mbuf* with_hash(rte_mbuf* m, std::uint32_t h) {
        m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
        m->hash.rss = h;
        return m;
    }
    // A segment of engine 0's flow with the NIC's hash as tern computes it.
    rte_mbuf* rightly_hashed() {
        const std::uint16_t p = port_of(0);
        return with_hash(segment(p), steering_->hash().hash({peer_ip, our_ip, p, 80}));
    }
    // A segment of engine 0's flow whose hash names an entry of engine 1.
    rte_mbuf* marked_for_engine_1() {
        std::uint32_t h = 0;
        while (steering_->owner_of_hash(h) != 1) ++h;
        return with_hash(segment(port_of(0)), h);
    }
};
class addresses_only_steering_test : public nic_hash_steering_test {
protected:
    addresses_only_steering_test() : nic_hash_steering_test(false) {}
};

TEST_F(nic_hash_steering_test, a_nic_hash_that_agreed_64_times_decides) {
    for (int i = 0; i < 64; ++i) devs_[0].inbox.push_back(rightly_hashed());
    poll_all();
    devs_[0].inbox.push_back(marked_for_engine_1()); // believed now, as a NIC's hash is
    poll_all();
    EXPECT_EQ(handlers_[0].ports.size(), 64u);
    EXPECT_EQ(handlers_[1].ports.size(), 1u);
    EXPECT_EQ(stat(0, "rss_hash_mismatch"), 0u);
}

TEST_F(nic_hash_steering_test, a_nic_hash_that_differs_once_is_not_used_again) {
    devs_[0].inbox.push_back(marked_for_engine_1());
    poll_all();
    for (int i = 0; i < 64; ++i) devs_[0].inbox.push_back(rightly_hashed());
    devs_[0].inbox.push_back(marked_for_engine_1());
    poll_all();
    EXPECT_EQ(handlers_[0].ports.size(), 66u); // every one by the software hash: engine 0's
    EXPECT_TRUE(handlers_[1].ports.empty());
    EXPECT_EQ(stat(0, "rss_hash_mismatch"), 1u);
}

TEST_F(addresses_only_steering_test, a_hash_of_the_addresses_alone_is_not_used) {
    for (int i = 0; i < 64; ++i) devs_[0].inbox.push_back(rightly_hashed());
    devs_[0].inbox.push_back(marked_for_engine_1());
    poll_all();
    EXPECT_EQ(handlers_[0].ports.size(), 65u);
    EXPECT_EQ(stat(0, "steered_out"), 0u);
}

TEST_F(steering_test, a_packet_on_the_wrong_queue_reaches_its_owner_once) {
    const std::uint16_t p0 = port_of(0), p1 = port_of(1);
    devs_[0].inbox.push_back(segment(p1)); // engine 1's flow on engine 0's queue
    devs_[0].inbox.push_back(segment(p0));
    devs_[1].inbox.push_back(segment(p0)); // and engine 0's on engine 1's
    poll_all();
    poll_all(); // engine 0 takes what engine 1 handed over in the first round
    EXPECT_EQ(handlers_[0].ports, (std::vector<std::uint16_t>{p0, p0}));
    EXPECT_EQ(handlers_[1].ports, (std::vector<std::uint16_t>{p1}));
    EXPECT_EQ(stat(0, "steered_out"), 1u);
    EXPECT_EQ(stat(0, "steered_in"), 1u);
    EXPECT_EQ(stat(1, "steered_out"), 1u);
    EXPECT_EQ(stat(1, "steered_in"), 1u);
    EXPECT_EQ(stat(0, "rx_packets") + stat(1, "rx_packets"), 3u); // counted where they arrived
}

// An ICMP error about a segment we sent goes to the engine of that segment's flow, found by
// the quote (the NIC hashed the ICMP packet's own addresses, which name no flow).
TEST_F(steering_test, an_icmp_error_reaches_the_engine_of_the_flow_it_quotes) {
    const std::uint16_t p0 = port_of(0), p1 = port_of(1);
    const frame_ends from_peer{our_mac, peer_mac, peer_ip, our_ip};
    auto icmp_about = [&](std::uint16_t peer_port) {
        return mbuf_of(icmp_unreachable_bytes(from_peer, wire::icmp_unreachable_code::fragmentation_needed, 1280,
                                              our_ip, peer_ip, bare_segment(80, peer_port, wire::tcp_flags::ack)));
    };
    devs_[0].inbox.push_back(icmp_about(p1));
    devs_[0].inbox.push_back(icmp_about(p0));
    poll_all();
    EXPECT_EQ(handlers_[0].icmp_ports, (std::vector<std::uint16_t>{p0}));
    EXPECT_EQ(handlers_[1].icmp_ports, (std::vector<std::uint16_t>{p1}));
    EXPECT_EQ(stat(0, "steered_out"), 1u);
    EXPECT_EQ(stat(1, "steered_in"), 1u);
}

// An IPv6 frame that is neither TCP nor a Packet Too Big about a TCP segment (Neighbor
// Discovery, echo, anything unreadable) is engine 0's (engine_ipv6.cpp): handed to it from
// another engine's queue.
TEST_F(steering_test, ipv6_frames_go_to_engine_zero) {
    std::vector<std::uint8_t> frame(wire::ethernet_header_len + 40, 0);
    wire::ethernet_repr{our_mac, peer_mac, wire::ether_type::ipv6}.emit(frame.data());
    frame[wire::ethernet_header_len] = 0x60;
    devs_[1].inbox.push_back(mbuf_of(frame));
    devs_[0].inbox.push_back(mbuf_of(frame));
    poll_all();
    poll_all();
    EXPECT_EQ(stat(1, "steered_out"), 1u);
    EXPECT_EQ(stat(0, "steered_in"), 1u);
    EXPECT_EQ(stat(0, "steered_out"), 0u);
    // These engines have no IPv6 address: engine 0 drops both as it did before IPv6.
    EXPECT_EQ(stat(0, "drop_eth_unknown_type"), 2u);
    EXPECT_EQ(stat(1, "drop_eth_unknown_type"), 0u);
}

// Only the first fragment of a segment holds its ports: fragments stay on the engine they
// came to, which puts the datagram together and hands it to the owner of its flow.
TEST_F(steering_test, a_fragmented_segment_is_reassembled_where_it_came_and_reaches_its_owner) {
    const std::uint16_t p1 = port_of(1);
    const auto whole = tcp_frame_bytes({our_mac, peer_mac, peer_ip, our_ip}, bare_segment(p1, 80, wire::tcp_flags::syn));
    devs_[0].inbox.push_back(mbuf_of(ipv4_fragment(whole, 8, 20, true))); // the rest of the header first
    devs_[0].inbox.push_back(mbuf_of(ipv4_fragment(whole, 0, 8, false)));  // ports and sequence number
    poll_all();
    poll_all();
    EXPECT_TRUE(handlers_[0].ports.empty());
    EXPECT_EQ(handlers_[1].ports, (std::vector<std::uint16_t>{p1}));
    EXPECT_EQ(stat(0, "ipv4_reassembled"), 1u);
    EXPECT_EQ(stat(0, "steered_out"), 1u);
    EXPECT_EQ(stat(1, "steered_in"), 1u);
    EXPECT_EQ(stat(0, "drop_tcp_bad_checksum") + stat(1, "drop_tcp_bad_checksum"), 0u);
}

TEST_F(steering_test, many_flows_on_one_queue_are_shared_out_by_owner) {
    std::map<std::uint16_t, int> expected;
    for (std::uint16_t p = 40000; p < 40000 + 200; ++p) {
        devs_[0].inbox.push_back(segment(p));
        ++expected[owner(p)];
    }
    for (int round = 0; round < 20; ++round) poll_all();
    EXPECT_EQ(int(handlers_[0].ports.size()), expected[0]);
    EXPECT_EQ(int(handlers_[1].ports.size()), expected[1]);
    for (std::uint16_t p : handlers_[1].ports) EXPECT_EQ(owner(p), 1);
    EXPECT_GT(expected[1], 0);
}

// ---- IPv6 on both engines ----------------------------------------------------------------

const ipv6_addr our_v6 = *ipv6_addr::parse("2001:2::2");
const ipv6_addr peer_v6 = *ipv6_addr::parse("2001:2::1");

class ipv6_steering_test : public steering_test {
protected:
    static engine_config with_ipv6(bool detect) {
        engine_config c = config_for(our_ip, our_mac, {}, engines);
        c.ipv6 = {*ipv6_cidr::parse("2001:2::2/64")};
        c.ipv6_duplicate_detection = detect;
        return c;
    }
    explicit ipv6_steering_test(bool detect = false)
        : steering_test(steering::default_ring_size, {}, with_ipv6(detect)) {}

    // Ethernet and IPv6 from the peer to us, then `ext` (extension headers), then `upper`.
    rte_mbuf* v6_frame(std::uint8_t next, std::span<const std::uint8_t> ext, std::span<const std::uint8_t> upper,
                       std::uint8_t hop_limit = 64) {
        std::vector<std::uint8_t> f(wire::ethernet_header_len + wire::ipv6_header_length);
        wire::ethernet_repr{our_mac, peer_mac, wire::ether_type::ipv6}.emit(f.data());
        wire::ipv6_repr{peer_v6, our_v6, next, hop_limit, std::uint16_t(ext.size() + upper.size())}.emit(
            f.data() + wire::ethernet_header_len);
        f.insert(f.end(), ext.begin(), ext.end());
        f.insert(f.end(), upper.begin(), upper.end());
        return mbuf_of(f);
    }
    static std::vector<std::uint8_t> tcp_bytes(const ipv6_addr& src, const ipv6_addr& dst, std::uint16_t src_port,
                                               std::uint16_t dst_port) {
        std::vector<std::uint8_t> t(20);
        bare_segment(src_port, dst_port, wire::tcp_flags::syn).emit(t.data(), src, dst, {}, wire::checksum_mode::software);
        return t;
    }
    rte_mbuf* segment6(std::uint16_t src_port, std::span<const std::uint8_t> ext = {}) {
        const auto tcp = tcp_bytes(peer_v6, our_v6, src_port, 80);
        return v6_frame(ext.empty() ? wire::ip_protocol::tcp : wire::ipv6_ext::hop_by_hop, ext, tcp);
    }
    std::uint16_t owner6(std::uint16_t src_port) const { return steering_->owner(rss::ipv6_tuple{peer_v6, our_v6, src_port, 80}); }
    std::uint16_t port6_of(std::uint16_t e) const {
        for (std::uint16_t p = 40000;; ++p)
            if (owner6(p) == e) return p;
    }
    static std::span<const std::uint8_t> frame_bytes(const rte_mbuf* m) {
        return {rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m)};
    }
    const std::vector<std::uint8_t> hop_by_hop{wire::ip_protocol::tcp, 0, 1, 4, 0, 0, 0, 0}; // PadN to 8 bytes
};

TEST_F(ipv6_steering_test, tcp_over_ipv6_reaches_the_engine_its_flow_hashes_to) {
    const std::uint16_t p0 = port6_of(0), p1 = port6_of(1);
    devs_[0].inbox.push_back(segment6(p1)); // engine 1's flow on engine 0's queue
    devs_[0].inbox.push_back(segment6(p0));
    devs_[1].inbox.push_back(segment6(p0)); // and engine 0's on engine 1's
    devs_[1].inbox.push_back(segment6(p1, hop_by_hop)); // behind an extension header: read by the walk
    poll_all();
    poll_all();
    EXPECT_EQ(handlers_[0].ports, (std::vector<std::uint16_t>{p0, p0}));
    EXPECT_EQ(handlers_[1].ports, (std::vector<std::uint16_t>{p1, p1}));
    EXPECT_EQ(stat(0, "steered_out"), 1u);
    EXPECT_EQ(stat(1, "steered_out"), 1u);
}

// RFC 8201: a Packet Too Big about one of our segments goes to the engine of its flow.
TEST_F(ipv6_steering_test, a_packet_too_big_reaches_the_engine_of_the_flow_it_quotes) {
    const std::uint16_t p1 = port6_of(1);
    std::vector<std::uint8_t> quoted(wire::ipv6_header_length);
    wire::ipv6_repr{our_v6, peer_v6, wire::ip_protocol::tcp, 64, 20}.emit(quoted.data());
    const auto tcp = tcp_bytes(our_v6, peer_v6, 80, p1);
    quoted.insert(quoted.end(), tcp.begin(), tcp.end());
    const wire::icmp_error_repr too_big{wire::icmpv6_type::packet_too_big, 0, 1280, quoted};
    std::vector<std::uint8_t> msg(too_big.length());
    too_big.emit(msg.data(), wire::pseudo_header_sum(peer_v6, our_v6, wire::ip_protocol::icmpv6, std::uint32_t(msg.size())));
    devs_[0].inbox.push_back(v6_frame(wire::ip_protocol::icmpv6, {}, msg));
    poll_all();
    poll_all();
    EXPECT_TRUE(handlers_[0].icmp_ports.empty());
    EXPECT_EQ(handlers_[1].icmp_ports, (std::vector<std::uint16_t>{p1}));
}

// Engine 1 sends to a neighbor it does not know: it solicits it; the answer is steered to
// engine 0, which learns it because engine 1 made an entry for it (RFC 4861 §7.2.5); engine
// 1 sees the shared entry and sends what waited.
TEST_F(ipv6_steering_test, an_engine_learns_the_neighbor_it_solicited_from_engine_0s_answer) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_->get());
    auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, wire::ipv6_header_length));
    wire::ipv6_repr{our_v6, peer_v6, wire::ipv6_ext::no_next_header, 64, 0}.emit(p);
    engines_[1]->send_ipv6(m, peer_v6);
    poll_all();
    ASSERT_EQ(devs_[1].sent.size(), 1u); // the solicitation
    EXPECT_EQ(stat(1, "nd_solicitations_out"), 1u);
    const wire::nd_repr na{wire::icmpv6_type::neighbor_advertisement, wire::nd_flag::solicited | wire::nd_flag::override,
                           peer_v6, peer_mac};
    std::vector<std::uint8_t> msg(na.length());
    na.emit(msg.data(), wire::pseudo_header_sum(peer_v6, our_v6, wire::ip_protocol::icmpv6, std::uint32_t(msg.size())));
    devs_[1].inbox.push_back(v6_frame(wire::ip_protocol::icmpv6, {}, msg, 255));
    poll_all();
    poll_all();
    EXPECT_EQ(stat(0, "nd_advertisements_in"), 1u);
    EXPECT_EQ(neighbors_.lookup_entry(peer_v6, clock_.now())->mac, peer_mac);
    ASSERT_EQ(devs_[1].sent.size(), 2u); // what waited, to the neighbor's MAC
    EXPECT_EQ(wire::ethernet_view::parse(frame_bytes(devs_[1].sent[1]))->dst(), peer_mac);
}

class ipv6_detection_steering_test : public ipv6_steering_test {
protected:
    ipv6_detection_steering_test() : ipv6_steering_test(true) {}
};

// RFC 4862 §5.4: detection runs once, on engine 0; engine 1 sends nothing for it and uses
// the addresses when engine 0 has found them free.
TEST_F(ipv6_detection_steering_test, engine_1_takes_up_engine_0s_detection) {
    for (auto& e : engines_) e->start();
    poll_all();
    EXPECT_EQ(stat(0, "nd_solicitations_out"), 2u); // the link-local address and ours
    EXPECT_FALSE(engines_[1]->is_local_v6(our_v6));
    EXPECT_FALSE(engines_[1]->ipv6_source_for(peer_v6));
    clock_.advance(nd_constants::retrans_timer);
    poll_all();
    EXPECT_TRUE(engines_[0]->is_local_v6(our_v6));
    EXPECT_TRUE(engines_[1]->is_local_v6(our_v6));
    EXPECT_EQ(engines_[1]->ipv6_source_for(peer_v6), our_v6);
    EXPECT_TRUE(devs_[1].sent.empty());
}

class small_ring_steering_test : public steering_test {
protected:
    small_ring_steering_test() : steering_test(4) {}
};

TEST_F(small_ring_steering_test, a_full_ring_drops_with_its_reason_and_keeps_no_mbuf) {
    int sent = 0;
    for (std::uint16_t p = port_of(1); sent < 10; p = port_of(1, std::uint16_t(p + 1)), ++sent)
        devs_[0].inbox.push_back(segment(p));
    engines_[0]->poll(); // engine 1 does not poll: its ring of 4 fills
    EXPECT_EQ(stat(0, "steered_out"), 4u);
    EXPECT_EQ(engines_[0]->stats().dropped(drop_reason::steer_ring_full), 6u);
    engines_[1]->poll();
    EXPECT_EQ(handlers_[1].ports.size(), 4u);
}

} // namespace
} // namespace tern::test
