// One call from an Ethernet frame to its TCP segment, for the common case (and the
// benchmark). The engine's classifier makes the same checks step by step, because it
// also handles ARP and ICMP and counts what it drops.
#pragma once

#include <span>

#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace tern::wire {

struct tcp_ipv4_frame {
    ethernet_view eth;
    ipv4_view ip;
    tcp_view tcp;
};

// Checksums are verified unless the NIC says it has done so. A frame that is not IPv4 is
// eth_unknown_type and a datagram that is not TCP is ipv4_unknown_protocol; addresses
// are not looked at (whether a packet is for us is the engine's decision).
inline result<tcp_ipv4_frame, drop_reason> parse_tcp_ipv4_frame(std::span<const std::uint8_t> frame,
                                                                 bool verify_ipv4_checksum = true,
                                                                 bool verify_tcp_checksum = true) {
    auto eth = ethernet_view::parse(frame);
    if (!eth) return unexpected{eth.error()};
    if (eth->type() != ether_type::ipv4) return unexpected{drop_reason::eth_unknown_type};
    auto ip = ipv4_view::parse(eth->payload(), verify_ipv4_checksum);
    if (!ip) return unexpected{ip.error()};
    if (ip->protocol() != ip_protocol::tcp) return unexpected{drop_reason::ipv4_unknown_protocol};
    auto tcp = tcp_view::parse(ip->payload(), ip->src(), ip->dst(), verify_tcp_checksum);
    if (!tcp) return unexpected{tcp.error()};
    return tcp_ipv4_frame{*eth, *ip, *tcp};
}

} // namespace tern::wire
