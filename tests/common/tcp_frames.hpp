// Ethernet frames that carry one TCP segment, for tests and benchmarks that feed an engine
// by hand: the headers written by src/wire, checksums computed in software.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <rte_mbuf.h>

#include "tern/addr.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace tern::test {

// The two ends of a frame: MACs at the Ethernet layer, addresses at IPv4.
struct frame_ends {
    mac_addr eth_dst;
    mac_addr eth_src;
    ipv4_addr src;
    ipv4_addr dst;
};

// The bytes of a frame holding `tcp` and `payload`, with `ecn` in the IPv4 header.
inline std::vector<std::uint8_t> tcp_frame_bytes(const frame_ends& ends, const wire::tcp_repr& tcp,
                                                 std::span<const std::uint8_t> payload = {},
                                                 wire::ecn_codepoint ecn = wire::ecn_codepoint::not_ect) {
    constexpr std::size_t ip_at = wire::ethernet_repr::length;
    constexpr std::size_t tcp_at = ip_at + wire::ipv4_repr::header_length;
    const std::size_t tcp_len = tcp.header_length() + payload.size();
    std::vector<std::uint8_t> buf(tcp_at + tcp_len);
    wire::ethernet_repr{ends.eth_dst, ends.eth_src, wire::ether_type::ipv4}.emit(buf.data());
    wire::ipv4_repr{ends.src, ends.dst, wire::ip_protocol::tcp, 64, 1, std::uint16_t(tcp_len), true, std::uint8_t(ecn)}.emit(
        buf.data() + ip_at);
    std::uint8_t* body = buf.data() + tcp_at + tcp.header_length();
    if (!payload.empty()) std::memcpy(body, payload.data(), payload.size());
    tcp.emit(buf.data() + tcp_at, ends.src, ends.dst, {body, payload.size()}, wire::checksum_mode::software);
    return buf;
}

// The same frame in an mbuf of `pool`; null when the pool is empty.
inline rte_mbuf* tcp_frame_mbuf(rte_mempool* pool, const frame_ends& ends, const wire::tcp_repr& tcp,
                                std::span<const std::uint8_t> payload = {},
                                wire::ecn_codepoint ecn = wire::ecn_codepoint::not_ect) {
    const std::vector<std::uint8_t> bytes = tcp_frame_bytes(ends, tcp, payload, ecn);
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m) std::memcpy(rte_pktmbuf_append(m, std::uint16_t(bytes.size())), bytes.data(), bytes.size());
    return m;
}

// An ICMP destination unreachable from `ends.src` to `ends.dst` (RFC 792) with `code` and,
// for fragmentation needed, the next hop's `mtu` (RFC 1191 §4), quoting the IPv4 header and
// first 8 bytes of the TCP segment `quoted` that went from `from` to `to`.
inline std::vector<std::uint8_t> icmp_unreachable_bytes(const frame_ends& ends, std::uint8_t code, std::uint16_t mtu,
                                                        ipv4_addr from, ipv4_addr to, const wire::tcp_repr& quoted) {
    constexpr std::size_t ip_at = wire::ethernet_repr::length;
    constexpr std::size_t icmp_at = ip_at + wire::ipv4_repr::header_length;
    constexpr std::size_t quote_len = wire::ipv4_repr::header_length + 8;
    constexpr std::size_t icmp_len = wire::icmp_header_length + quote_len;
    std::vector<std::uint8_t> buf(icmp_at + icmp_len);
    wire::ethernet_repr{ends.eth_dst, ends.eth_src, wire::ether_type::ipv4}.emit(buf.data());
    wire::ipv4_repr{ends.src, ends.dst, wire::ip_protocol::icmp, 64, 1, std::uint16_t(icmp_len), true, 0}.emit(
        buf.data() + ip_at);
    std::uint8_t* icmp = buf.data() + icmp_at;
    icmp[wire::icmp_field::type] = wire::icmp_type::destination_unreachable;
    icmp[wire::icmp_field::code] = code;
    wire::store_be16(icmp + wire::icmp_field::sequence, mtu); // the low half of the rest of the header
    // The quote: the segment's IPv4 header and the first 8 bytes of its TCP header.
    std::vector<std::uint8_t> segment(wire::ipv4_repr::header_length + quoted.header_length());
    wire::ipv4_repr{from, to, wire::ip_protocol::tcp, 64, 1, std::uint16_t(quoted.header_length()), true, 0}.emit(
        segment.data());
    quoted.emit(segment.data() + wire::ipv4_repr::header_length, from, to, {}, wire::checksum_mode::software);
    std::memcpy(icmp + wire::icmp_header_length, segment.data(), quote_len);
    wire::store_be16(icmp + wire::icmp_field::checksum, wire::checksum_fold(wire::checksum_add({icmp, icmp_len})));
    return buf;
}

// A fragment of `whole`, a frame with a 20-byte IPv4 header (RFC 791): the same headers, the
// data bytes [begin, end) of the datagram, offset begin / 8, MF set unless `last`, and the
// identification `id`; the header checksum redone.
inline std::vector<std::uint8_t> ipv4_fragment(std::span<const std::uint8_t> whole, std::size_t begin, std::size_t end,
                                               bool last, std::uint16_t id = 1) {
    constexpr std::size_t ip_at = wire::ethernet_repr::length;
    constexpr std::size_t data_at = ip_at + wire::ipv4_repr::header_length;
    std::vector<std::uint8_t> f(whole.begin(), whole.begin() + data_at);
    f.insert(f.end(), whole.begin() + data_at + begin, whole.begin() + data_at + end);
    std::uint8_t* ip = f.data() + ip_at;
    wire::store_be16(ip + wire::ipv4_field::total_length, std::uint16_t(wire::ipv4_repr::header_length + end - begin));
    wire::store_be16(ip + wire::ipv4_field::id, id);
    wire::store_be16(ip + wire::ipv4_field::flags_fragment, std::uint16_t((last ? 0 : wire::ipv4_flag_mf) | begin / 8));
    wire::store_be16(ip + wire::ipv4_field::checksum, 0);
    wire::store_be16(ip + wire::ipv4_field::checksum,
                     wire::checksum_fold(wire::checksum_add({ip, wire::ipv4_repr::header_length})));
    return f;
}

// A bare segment from `src_port` to `dst_port` with only `flags` set (SYN: seq 1; with ACK:
// ack 1 too), a 65535 window and no options: what steering and the engine's validation look at.
inline wire::tcp_repr bare_segment(std::uint16_t src_port, std::uint16_t dst_port, std::uint8_t flags) {
    wire::tcp_repr seg{};
    seg.src_port = src_port;
    seg.dst_port = dst_port;
    seg.seq = 1;
    if (flags & wire::tcp_flags::ack) seg.ack = 1;
    seg.flags = flags;
    seg.window = 65535;
    return seg;
}

} // namespace tern::test
