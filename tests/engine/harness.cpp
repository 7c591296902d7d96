#include "harness.hpp"

#include <cstring>
#include <string>

namespace tern::test {

mbuf_pool engine_test::make_pool() {
    static int n = 0;
    auto pool = mbuf_pool::create("test_pool_" + std::to_string(n++), 2047);
    if (!pool) throw std::runtime_error(pool.error());
    return std::move(*pool);
}

engine_test::~engine_test() {
    free_all(dev_.sent);
    for (rte_mbuf* m : dev_.inbox) rte_pktmbuf_free(m);
    dev_.inbox.clear();
    engine_.reset();
    // DESIGN.md "Memory": every mbuf taken is returned.
    EXPECT_EQ(pool_.in_use(), 0u);
}

engine_config engine_test::default_config() const {
    engine_config c;
    c.address = ipv4_cidr{our_ip, 24};
    c.mac = our_mac;
    c.gratuitous_arp = false;
    c.tx_backlog = 64;
    c.arp.max_pending = 4;
    c.arp.max_resolutions = 4;
    return c;
}

engine& engine_test::make_engine(const engine_config& config) {
    engine_port port{0, 0, our_mac, port_offloads{}};
    engine_ = std::make_unique<engine>(0, config, port, dev_, pool_.get(), neighbors_, clock_);
    return *engine_;
}

rte_mbuf* engine_test::frame(std::span<const std::uint8_t> data) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_.get());
    EXPECT_NE(m, nullptr);
    auto* p = rte_pktmbuf_append(m, std::uint16_t(data.size()));
    std::memcpy(p, data.data(), data.size());
    return m;
}

rte_mbuf* engine_test::arp_frame(wire::arp_op op, mac_addr sha, ipv4_addr spa, mac_addr tha, ipv4_addr tpa,
                                 mac_addr eth_dst) {
    std::uint8_t buf[wire::ethernet_repr::length + wire::arp_repr::length];
    wire::ethernet_repr{eth_dst, sha, wire::ether_type::arp}.emit(buf);
    wire::arp_repr{op, sha, spa, tha, tpa}.emit(buf + wire::ethernet_repr::length);
    return frame(buf);
}

rte_mbuf* engine_test::echo_request(ipv4_addr src, std::uint16_t id, std::uint16_t seq, std::size_t payload,
                                    mac_addr eth_src) {
    std::vector<std::uint8_t> data(payload);
    for (std::size_t i = 0; i < payload; ++i) data[i] = std::uint8_t(i * 7 + 3);
    wire::icmp_echo_repr echo{wire::icmp_type::echo_request, id, seq, data};
    std::vector<std::uint8_t> buf(wire::ethernet_repr::length + wire::ipv4_repr::header_length + echo.length());
    wire::ethernet_repr{our_mac, eth_src, wire::ether_type::ipv4}.emit(buf.data());
    wire::ipv4_repr ip{src, our_ip, wire::ip_protocol::icmp, 64, 0x1234, std::uint16_t(echo.length()), true, 0};
    ip.emit(buf.data() + wire::ethernet_repr::length);
    echo.emit(buf.data() + wire::ethernet_repr::length + wire::ipv4_repr::header_length);
    return frame(buf);
}

void engine_test::deliver(rte_mbuf* m) {
    dev_.inbox.push_back(m);
    engine_->poll();
}

std::vector<rte_mbuf*> engine_test::take_sent() {
    std::vector<rte_mbuf*> out;
    out.swap(dev_.sent);
    return out;
}

void engine_test::free_all(std::vector<rte_mbuf*>& v) {
    for (rte_mbuf* m : v) rte_pktmbuf_free(m);
    v.clear();
}

void expect_echo_reply(std::span<const std::uint8_t> frame, std::uint16_t id, std::uint16_t seq, std::size_t payload,
                       ipv4_addr to, mac_addr to_mac) {
    auto eth = wire::ethernet_view::parse(frame);
    ASSERT_TRUE(eth.has_value());
    EXPECT_EQ(eth->dst(), to_mac);
    EXPECT_EQ(eth->src(), our_mac);
    auto ip = wire::ipv4_view::parse(eth->payload()); // verifies the header checksum
    ASSERT_TRUE(ip.has_value()) << to_string(ip.error());
    EXPECT_EQ(ip->src(), our_ip);
    EXPECT_EQ(ip->dst(), to);
    EXPECT_EQ(ip->header_length(), 20u);
    EXPECT_FALSE(ip->is_fragment());
    auto icmp = wire::icmp_view::parse(ip->payload()); // verifies the ICMP checksum
    ASSERT_TRUE(icmp.has_value()) << to_string(icmp.error());
    EXPECT_EQ(icmp->type(), wire::icmp_type::echo_reply);
    EXPECT_EQ(icmp->identifier(), id);
    EXPECT_EQ(icmp->sequence(), seq);
    ASSERT_EQ(icmp->payload().size(), payload);
    for (std::size_t i = 0; i < payload; ++i) ASSERT_EQ(icmp->payload()[i], std::uint8_t(i * 7 + 3));
}

} // namespace tern::test
