// Byte fixtures for the wire tests, and small helpers to build and mend packets.
//
// The captured frames come from one session on Linux 6.18: a veth pair between two
// network namespaces made for the capture (198.18.0.1, MAC 02:00:00:00:00:01, and
// 198.18.0.2, MAC 02:00:00:00:00:02; RFC 2544 benchmarking range), with transmit checksum
// offload off (`ethtool -K ... tx off`) so that every checksum is final, captured with
// `tcpdump -i twb -XX` on the 198.18.0.2 side. tcpdump -v reported every checksum
// "correct". Traffic: `ping -c1 -s 16 198.18.0.2` and a Python socket client that
// connected to port 5001, sent "ping" and got "pong".
#pragma once

#include <cctype>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"

namespace tern::wire::test {

// "0200 0000 ..." (tcpdump -X columns) to bytes; whitespace is ignored.
inline std::vector<std::uint8_t> from_hex(std::string_view hex) {
    std::vector<std::uint8_t> out;
    int high = -1;
    for (char c : hex) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
        if (v < 0 || v > 15) throw std::invalid_argument("bad hex digit");
        if (high < 0) {
            high = v;
        } else {
            out.push_back(std::uint8_t(high << 4 | v));
            high = -1;
        }
    }
    if (high >= 0) throw std::invalid_argument("odd number of hex digits");
    return out;
}

// 00:03:32.378452 ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28
inline const std::vector<std::uint8_t> arp_request_frame = from_hex(
    "ffff ffff ffff 0200 0000 0001 0806 0001"
    "0800 0604 0001 0200 0000 0001 c612 0001"
    "0000 0000 0000 c612 0002");

// 00:03:32.378485 ARP, Reply 198.18.0.2 is-at 02:00:00:00:00:02, length 28
inline const std::vector<std::uint8_t> arp_reply_frame = from_hex(
    "0200 0000 0001 0200 0000 0002 0806 0001"
    "0800 0604 0002 0200 0000 0002 c612 0002"
    "0200 0000 0001 c612 0001");

// 00:03:32.378491 IP 198.18.0.1 > 198.18.0.2: ICMP echo request, id 7024, seq 1, length 24
// (IPv4 id 0x4b25, DF, TTL 64, header checksum 0x6384; ICMP checksum 0xf12c)
inline const std::vector<std::uint8_t> icmp_echo_request_frame = from_hex(
    "0200 0000 0002 0200 0000 0001 0800 4500"
    "002c 4b25 4000 4001 6384 c612 0001 c612"
    "0002 0800 f12c 1b70 0001 5431 026b 0000"
    "0000 8fc5 0500 0000 0000");

// 00:03:32.378657 IP 198.18.0.2 > 198.18.0.1: ICMP echo reply, id 7024, seq 1, length 24
// The ICMP message only (tcpdump -X, IPv4 header left out): checksum 0xf92c.
inline const std::vector<std::uint8_t> icmp_echo_reply_message = from_hex(
    "0000 f92c 1b70 0001 5431 026b 0000 0000"
    "8fc5 0500 0000 0000");

// 00:03:32.501841 IP 198.18.0.1.59052 > 198.18.0.2.5001: Flags [S], seq 1587299860,
// win 64240, options [mss 1460,sackOK,TS val 1049213276 ecr 0,nop,wscale 10], length 0
// (IPv4 id 0xfeeb, header checksum 0xafa8; TCP checksum 0x2a18)
inline const std::vector<std::uint8_t> tcp_syn_frame = from_hex(
    "0200 0000 0002 0200 0000 0001 0800 4500"
    "003c feeb 4000 4006 afa8 c612 0001 c612"
    "0002 e6ac 1389 5e9c 4614 0000 0000 a002"
    "faf0 2a18 0000 0204 05b4 0402 080a 3e89"
    "b95c 0000 0000 0103 030a");

// 00:03:32.502237 IP 198.18.0.1.59052 > 198.18.0.2.5001: Flags [P.], seq 1:5, ack 1,
// win 63, options [nop,nop,TS val 1049213276 ecr 2996050961], length 4 ("ping")
// (IPv4 id 0xfeed, header checksum 0xafaa; TCP checksum 0xfe19; absolute seq 1587299861,
// ack 4160860138)
inline const std::vector<std::uint8_t> tcp_data_frame = from_hex(
    "0200 0000 0002 0200 0000 0001 0800 4500"
    "0038 feed 4000 4006 afaa c612 0001 c612"
    "0002 e6ac 1389 5e9c 4615 f801 afea 8018"
    "003f fe19 0000 0101 080a 3e89 b95c b294"
    "1c11 7069 6e67");

inline constexpr std::size_t eth_len = 14;
inline constexpr std::size_t ip_len = 20;

// The IPv4 packet of a frame (everything after the Ethernet header).
inline std::vector<std::uint8_t> ip_packet(const std::vector<std::uint8_t>& frame) {
    return {frame.begin() + eth_len, frame.end()};
}
// The L4 part of a frame with a 20-byte IPv4 header.
inline std::vector<std::uint8_t> l4_part(const std::vector<std::uint8_t>& frame) {
    return {frame.begin() + eth_len + ip_len, frame.end()};
}

// Recomputes the IPv4 header checksum after a test changed a field (IHL read from byte 0,
// clamped to the buffer).
inline void fix_ipv4_checksum(std::vector<std::uint8_t>& packet) {
    std::size_t ihl = std::size_t(packet[0] & 0x0f) * 4;
    if (ihl > packet.size()) ihl = packet.size();
    store_be16(packet.data() + 10, 0);
    store_be16(packet.data() + 10, checksum_fold(checksum_add({packet.data(), ihl})));
}

// Recomputes the TCP checksum of `segment` for the given addresses.
inline void fix_tcp_checksum(std::vector<std::uint8_t>& segment, ipv4_addr src, ipv4_addr dst) {
    store_be16(segment.data() + 16, 0);
    auto pseudo = pseudo_header_sum(src, dst, 6, std::uint16_t(segment.size()));
    store_be16(segment.data() + 16, checksum_fold(checksum_add(segment, pseudo)));
}

inline void fix_icmp_checksum(std::vector<std::uint8_t>& message) {
    store_be16(message.data() + 2, 0);
    store_be16(message.data() + 2, checksum_fold(checksum_add(message)));
}

inline constexpr ipv4_addr host_a = ipv4_addr::from_octets(198, 18, 0, 1);
inline constexpr ipv4_addr host_b = ipv4_addr::from_octets(198, 18, 0, 2);
inline constexpr mac_addr mac_a{{0x02, 0, 0, 0, 0, 0x01}};
inline constexpr mac_addr mac_b{{0x02, 0, 0, 0, 0, 0x02}};

} // namespace tern::wire::test
