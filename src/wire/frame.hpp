// One call from an Ethernet frame to its TCP segment, for the common case (and the
// benchmark). The engine's classifier makes the same checks step by step, because it
// also handles ARP and ICMP and counts what it drops.
#pragma once

#include <array>
#include <cstring>
#include <span>

#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace tern::wire {

struct tcp_ipv4_frame {
    ethernet_view eth;
    ipv4_view ip;
    tcp_view tcp;
};

// Checksums are verified unless the NIC says it has done so. A frame that is not IPv4 is
// eth_unknown_type, a fragment ipv4_fragment (the engine reassembles; this reads one frame)
// and a datagram that is not TCP is ipv4_unknown_protocol; addresses
// are not looked at (whether a packet is for us is the engine's decision).
inline result<tcp_ipv4_frame, drop_reason> parse_tcp_ipv4_frame(std::span<const std::uint8_t> frame,
                                                                 bool verify_ipv4_checksum = true,
                                                                 bool verify_tcp_checksum = true) {
    auto eth = ethernet_view::parse(frame);
    if (!eth) return unexpected{eth.error()};
    if (eth->type() != ether_type::ipv4) return unexpected{drop_reason::eth_unknown_type};
    auto ip = ipv4_view::parse(eth->payload(), verify_ipv4_checksum);
    if (!ip) return unexpected{ip.error()};
    if (ip->is_fragment()) return unexpected{drop_reason::ipv4_fragment};
    if (ip->protocol() != ip_protocol::tcp) return unexpected{drop_reason::ipv4_unknown_protocol};
    auto tcp = tcp_view::parse(ip->payload(), ip->src(), ip->dst(), verify_tcp_checksum);
    if (!tcp) return unexpected{tcp.error()};
    return tcp_ipv4_frame{*eth, *ip, *tcp};
}

// The addresses and ports of what looks like an IPv4 TCP frame, read without validation
// (no checksum, no length beyond what the reads need): for looking ahead in a burst, to
// start loading a flow's state before the frame's turn comes. `found` is false when the
// frame is not one, or is a fragment (only the first holds the ports, and its datagram is
// reassembled on the engine that received it); the frame is parsed properly later in any case.
struct tcp_ipv4_ends {
    bool found = false;
    ipv4_addr src, dst;
    std::uint16_t src_port = 0, dst_port = 0;
    std::uint8_t flags = 0; // the TCP flags, 0 if the frame is too short to hold them
};

inline tcp_ipv4_ends peek_tcp_ipv4_ends(std::span<const std::uint8_t> frame) {
    constexpr std::size_t ip_at = ethernet_header_len;
    if (frame.size() < ip_at + ipv4_min_header_length + 4) return {};
    const std::uint8_t* p = frame.data();
    if (load_be16(p + ethernet_field::type) != std::uint16_t(ether_type::ipv4)) return {};
    const std::uint8_t* ip = p + ip_at;
    if (ip[ipv4_field::protocol] != std::uint8_t(ip_protocol::tcp)) return {};
    if ((load_be16(ip + ipv4_field::flags_fragment) & (ipv4_flag_mf | ipv4_fragment_offset_mask)) != 0) return {};
    const std::size_t ihl = std::size_t(ip[ipv4_field::version_ihl] & 0x0f) * 4;
    if (ihl < ipv4_min_header_length || frame.size() < ip_at + ihl + 4) return {};
    const bool has_flags = frame.size() > ip_at + ihl + tcp_field::flags;
    return {true, ipv4_addr{load_be32(ip + ipv4_field::src)}, ipv4_addr{load_be32(ip + ipv4_field::dst)},
            load_be16(ip + ihl + tcp_field::src_port), load_be16(ip + ihl + tcp_field::dst_port),
            has_flags ? ip[ihl + tcp_field::flags] : std::uint8_t(0)};
}

// The same for TCP straight behind an IPv6 header (no extension headers: the common case;
// a segment behind them is simply not looked ahead for).
// The addresses come first: behind a leading bool they sat one byte off, and copying them
// into a flow key read each back across stores of other sizes (failed store forwards, a
// third of the look-ahead's cycles over IPv6).
struct tcp_ipv6_ends {
    ipv6_addr src, dst;
    std::uint16_t src_port = 0, dst_port = 0;
    std::uint8_t flags = 0;
    bool found = false;
};

inline tcp_ipv6_ends peek_tcp_ipv6_ends(std::span<const std::uint8_t> frame) {
    constexpr std::size_t ip_at = ethernet_header_len, tcp_at = ip_at + ipv6_header_length;
    if (frame.size() < tcp_at + tcp_field::flags + 1) return {};
    const std::uint8_t* p = frame.data();
    if (load_be16(p + ethernet_field::type) != std::uint16_t(ether_type::ipv6)) return {};
    if (p[ip_at + ipv6_field::next_header] != std::uint8_t(ip_protocol::tcp)) return {};
    tcp_ipv6_ends e{{}, {}, load_be16(p + tcp_at + tcp_field::src_port), load_be16(p + tcp_at + tcp_field::dst_port),
                    p[tcp_at + tcp_field::flags], true};
    std::memcpy(e.src.bytes.data(), p + ip_at + ipv6_field::src, 16);
    std::memcpy(e.dst.bytes.data(), p + ip_at + ipv6_field::dst, 16);
    return e;
}

// For an ICMP destination unreachable that quotes a TCP segment: the ends of that segment's
// flow as a segment coming back would carry them (the quote's destination is the source),
// so that steering gives the error to the engine that owns the flow. Unvalidated, as above.
inline tcp_ipv4_ends peek_icmp_quoted_ends(std::span<const std::uint8_t> frame) {
    constexpr std::size_t ip_at = ethernet_header_len;
    if (frame.size() < ip_at + ipv4_min_header_length) return {};
    const std::uint8_t* ip = frame.data() + ip_at;
    if (load_be16(frame.data() + ethernet_field::type) != std::uint16_t(ether_type::ipv4)) return {};
    if (ip[ipv4_field::protocol] != std::uint8_t(ip_protocol::icmp)) return {};
    if ((load_be16(ip + ipv4_field::flags_fragment) & (ipv4_flag_mf | ipv4_fragment_offset_mask)) != 0) return {};
    const std::size_t ihl = std::size_t(ip[ipv4_field::version_ihl] & 0x0f) * 4;
    if (ihl < ipv4_min_header_length || frame.size() < ip_at + ihl + icmp_header_length) return {};
    if (ip[ihl + icmp_field::type] != icmp_type::destination_unreachable) return {};
    const auto q = icmp_quoted_tcp::parse(frame.subspan(ip_at + ihl + icmp_header_length));
    if (!q) return {};
    return {true, q->dst, q->src, q->dst_port, q->src_port, 0};
}

// For steering an IPv6 frame peek_tcp_ipv6_ends did not read: a TCP segment behind extension
// headers (the bounded walk of ipv6_view::parse), or a Packet Too Big quoting one of our
// segments, whose ends are given as a segment coming back would carry them. Slower than the
// peek (it parses), and only for such frames. A fragment has no ports to steer by.
inline tcp_ipv6_ends peek_ipv6_flow_ends(std::span<const std::uint8_t> frame) {
    if (frame.size() < ethernet_header_len ||
        load_be16(frame.data() + ethernet_field::type) != std::uint16_t(ether_type::ipv6))
        return {};
    const auto ip = ipv6_view::parse(frame.subspan(ethernet_header_len));
    if (!ip || ip->is_fragment()) return {};
    const std::span<const std::uint8_t> upper = ip->upper();
    if (ip->upper_protocol() == ip_protocol::tcp && upper.size() >= 4) {
        tcp_ipv6_ends e{ip->src(), ip->dst(), load_be16(upper.data() + tcp_field::src_port),
                        load_be16(upper.data() + tcp_field::dst_port), 0, true};
        return e;
    }
    if (ip->upper_protocol() != ip_protocol::icmpv6 || upper.size() < icmp_header_length ||
        upper[icmp_field::type] != icmpv6_type::packet_too_big)
        return {};
    const auto q = icmpv6_quoted_tcp::parse(upper.subspan(icmp_header_length));
    if (!q) return {};
    return {q->dst, q->src, q->dst_port, q->src_port, 0, true};
}

// The Ethernet and IPv4 headers (without IP options) that every frame between two
// addresses starts with, written once: only the total length, the identification and the
// checksum change from one packet to the next. The checksum is the prefix's own sum plus
// those two fields (RFC 1071 §2: the sum is associative), not summed anew each time.
struct ipv4_frame_prefix {
    static constexpr std::size_t length = ethernet_header_len + ipv4_min_header_length;

    ipv4_frame_prefix() = default;
    // ip.id and ip.payload_length are not used.
    ipv4_frame_prefix(const ethernet_repr& eth, ipv4_repr ip) {
        eth.emit(bytes_.data());
        ip.id = 0;
        ip.payload_length = 0;
        std::uint8_t* header = bytes_.data() + ethernet_header_len;
        ip.emit(header, false);
        store_be16(header + ipv4_field::total_length, 0);
        sum_ = checksum_add({header, ipv4_min_header_length});
    }

    // Writes `length` bytes at `out`: the headers of a datagram carrying `payload_length`
    // bytes with identification `id` and ECN field `ecn` (the prefix's own is not-ECT).
    // With compute_checksum false the checksum field is left 0, as the NIC's IPv4 checksum
    // offload expects.
    void emit(std::uint8_t* out, std::uint16_t payload_length, std::uint16_t id, bool compute_checksum,
              ecn_codepoint ecn = ecn_codepoint::not_ect) const {
        std::memcpy(out, bytes_.data(), length);
        std::uint8_t* header = out + ethernet_header_len;
        const auto total = std::uint16_t(ipv4_min_header_length + payload_length);
        store_be16(header + ipv4_field::total_length, total);
        store_be16(header + ipv4_field::id, id);
        // The TOS byte is the low half of the header's first 16-bit word: the ECN bits add
        // to the checksum as they are.
        header[ipv4_field::tos] |= std::uint8_t(ecn);
        if (compute_checksum)
            store_be16(header + ipv4_field::checksum,
                       checksum_fold(checksum_add_sums(sum_, std::uint32_t(total) + id + std::uint8_t(ecn))));
    }

private:
    std::array<std::uint8_t, length> bytes_{};
    std::uint32_t sum_ = 0; // of the IPv4 header with total length, identification and checksum 0
};

// The same for IPv6: Ethernet and the fixed IPv6 header of a TCP segment from src to dst
// (hop limit 64, traffic class and flow label 0). IPv6 has no header checksum.
struct ipv6_frame_prefix {
    static constexpr std::size_t length = ethernet_header_len + ipv6_header_length;

    ipv6_frame_prefix() = default;
    ipv6_frame_prefix(const ethernet_repr& eth, const ipv6_addr& src, const ipv6_addr& dst) {
        eth.emit(bytes_.data());
        ipv6_repr{src, dst, std::uint8_t(ip_protocol::tcp), 64, 0}.emit(bytes_.data() + ethernet_header_len);
    }

    // Writes `length` bytes at `out`: the headers of a packet carrying `payload_length`
    // bytes with ECN field `ecn`.
    void emit(std::uint8_t* out, std::uint16_t payload_length, ecn_codepoint ecn = ecn_codepoint::not_ect) const {
        std::memcpy(out, bytes_.data(), length);
        std::uint8_t* header = out + ethernet_header_len;
        store_be16(header + ipv6_field::payload_length, payload_length);
        // ECN is the traffic class's low two bits (RFC 3168 §5), bits 4-5 of the second byte.
        header[1] |= std::uint8_t(std::uint8_t(ecn) << 4);
    }

private:
    std::array<std::uint8_t, length> bytes_{};
};

} // namespace tern::wire
