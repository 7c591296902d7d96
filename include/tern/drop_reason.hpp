// Every received packet is either consumed or dropped with one of these reasons, and
// every reason has a counter per engine. Add a reason here rather than return silently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tern {

// X(name, what it means)
#define TERN_DROP_REASONS(X)                                                              \
    X(eth_truncated, "frame shorter than an Ethernet header")                             \
    X(eth_not_for_us, "destination MAC is neither ours nor broadcast")                    \
    X(eth_unknown_type, "EtherType we do not handle (not IPv4 or ARP)")                   \
    X(eth_multi_segment, "frame spans several mbufs: scatter RX is not enabled, not parsed")  \
    X(arp_truncated, "ARP packet shorter than an Ethernet/IPv4 ARP body")                 \
    X(arp_bad_format, "ARP hardware/protocol type or address lengths are not Ethernet/IPv4") \
    X(arp_bad_op, "ARP operation neither request nor reply")                              \
    X(arp_bad_sender, "ARP sender MAC is broadcast, multicast or zero, or its IPv4 address is ours") \
    X(arp_not_for_us, "ARP for another host's address")                                   \
    X(ipv4_truncated, "packet shorter than a minimal IPv4 header")                        \
    X(ipv4_bad_version, "IP version field is not 4")                                      \
    X(ipv4_bad_ihl, "IHL below 5 or past the packet")                                     \
    X(ipv4_bad_total_length, "total length smaller than the header or larger than the frame") \
    X(ipv4_bad_checksum, "IPv4 header checksum does not verify")                          \
    X(ipv4_fragment, "IPv4 fragment where a whole datagram is needed: reassembly is off (max_datagrams 0)") \
    X(ipv4_fragment_malformed, "IPv4 fragment of a bad shape: empty or not a multiple of 8 bytes with MF, past 65535 bytes, or past its datagram's end") \
    X(ipv4_fragment_duplicate, "IPv4 fragment whose bytes had all come already, the same")                    \
    X(ipv4_fragment_overlap, "IPv4 fragment overlapping another of its datagram with other bytes or bounds: the datagram is discarded") \
    X(ipv4_fragment_too_large, "IPv4 fragment of a datagram longer than one mbuf holds (our EMTU_R): the datagram is discarded") \
    X(ipv4_fragment_scattered, "IPv4 fragment that would leave its datagram in more pieces than reassembly tracks: discarded") \
    X(ipv4_fragment_no_buffer, "IPv4 fragment of a new datagram not kept: the mbuf pool is empty")           \
    X(ipv4_bad_source, "IPv4 source is broadcast, multicast or ours")                     \
    X(ipv4_not_for_us, "IPv4 destination is not our address")                             \
    X(ipv4_unknown_protocol, "IP protocol other than ICMP and TCP")                       \
    X(ipv6_truncated, "packet shorter than an IPv6 header")                               \
    X(ipv6_bad_version, "IP version field is not 6")                                      \
    X(ipv6_bad_payload_length, "IPv6 payload length past the frame")                      \
    X(ipv6_bad_extension, "IPv6 extension header past the payload, or hop-by-hop options not first (RFC 8200 §4.1)") \
    X(ipv6_too_many_extensions, "more IPv6 extension headers than tern walks (ipv6_max_extension_headers)") \
    X(ipv6_unknown_option, "IPv6 hop-by-hop or destination option unknown to tern whose type says to discard the packet (RFC 8200 §4.2)") \
    X(ipv6_unknown_routing, "IPv6 routing header with segments left: addressed through us to another node") \
    X(ipv6_bad_source, "IPv6 source is multicast or ours")                                \
    X(ipv6_not_for_us, "IPv6 destination is neither our address (a tentative one is not yet) nor a group we are in") \
    X(ipv6_fragment, "IPv6 fragment: tern does not reassemble IPv6 yet")                  \
    X(ipv6_unknown_protocol, "IPv6 upper layer other than ICMPv6: TCP over IPv6 is not built yet") \
    X(icmp_truncated, "ICMP message shorter than its header")                             \
    X(icmp_bad_checksum, "ICMP checksum does not verify")                                 \
    X(icmp_unhandled_type, "ICMP type we do not act on (echo request and destination unreachable are)") \
    X(icmp_bad_quote, "ICMP destination unreachable that quotes no TCP segment sent from our address") \
    X(icmpv6_truncated, "ICMPv6 message shorter than its header or its type's fixed part") \
    X(icmpv6_bad_checksum, "ICMPv6 checksum (with the IPv6 pseudo-header) does not verify") \
    X(nd_bad_option, "Neighbor Discovery option of length 0 or past the message (RFC 4861 §4.6)") \
    X(icmpv6_unhandled_type, "ICMPv6 type we do not act on (echo request to our unicast address, NS and NA are)") \
    X(nd_invalid, "Neighbor Solicitation or Advertisement failing RFC 4861 §7.1's checks: hop limit 255, code 0, target not multicast, ...") \
    X(nd_not_for_us, "Neighbor Solicitation for an address that is not ours")           \
    X(nd_tentative, "Neighbor Solicitation for an address of ours still being checked for duplicates, not from a node checking it too (RFC 4862 §5.4.3)") \
    X(tcp_truncated, "TCP segment shorter than a minimal TCP header")                     \
    X(tcp_bad_data_offset, "TCP data offset below 5 or past the segment")                 \
    X(tcp_bad_checksum, "TCP checksum does not verify")                                   \
    X(tcp_bad_option, "TCP option with length 0, 1 or past the header")                   \
    X(tcp_no_endpoint, "TCP segment and no TCP endpoint on the engine (no protocol handler)") \
    X(arp_queue_full, "outbound packet dropped: queue waiting on ARP resolution is full") \
    X(arp_unresolved, "outbound packet dropped: next hop did not answer ARP in time")     \
    X(nd_queue_full, "outbound IPv6 packet dropped: queue waiting on Neighbor Discovery is full") \
    X(nd_unresolved, "outbound IPv6 packet dropped: the neighbor did not answer Neighbor Solicitations in time (RFC 4861 §7.2.2)") \
    X(nd_no_source, "outbound IPv6 packet dropped: no preferred address of ours to solicit its neighbor from (detection not done)") \
    X(no_route, "outbound packet dropped: destination off-link and no gateway")           \
    X(no_mbuf, "reply not sent: the mbuf pool is empty")                                  \
    X(tx_backlog_full, "outbound packet dropped: TX backlog full after the NIC refused it") \
    X(tx_oversize, "outbound frame longer than the port's MTU plus Ethernet header: no device sends it") \
    X(tx_refused, "outbound packet dropped: the NIC refused it at the head of the backlog for tx_stall_timeout") \
    X(steer_ring_full, "received packet dropped: the ring to the engine that owns its flow was full")

enum class drop_reason : std::uint8_t {
#define TERN_DROP_ENUM(name, text) name,
    TERN_DROP_REASONS(TERN_DROP_ENUM)
#undef TERN_DROP_ENUM
};

inline constexpr std::size_t drop_reason_count = 0
#define TERN_DROP_COUNT(name, text) +1
    TERN_DROP_REASONS(TERN_DROP_COUNT)
#undef TERN_DROP_COUNT
    ;

constexpr std::string_view to_string(drop_reason r) {
    switch (r) {
#define TERN_DROP_NAME(name, text) case drop_reason::name: return #name;
        TERN_DROP_REASONS(TERN_DROP_NAME)
#undef TERN_DROP_NAME
    }
    return "unknown";
}

constexpr std::string_view describe(drop_reason r) {
    switch (r) {
#define TERN_DROP_TEXT(name, text) case drop_reason::name: return text;
        TERN_DROP_REASONS(TERN_DROP_TEXT)
#undef TERN_DROP_TEXT
    }
    return "unknown";
}

} // namespace tern
