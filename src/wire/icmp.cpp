#include "wire/icmp.hpp"

#include <cstring>

#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace tern::wire {

result<icmp_view, drop_reason> icmp_view::parse(std::span<const std::uint8_t> message, bool verify_checksum) {
    if (message.size() < icmp_header_length) return unexpected{drop_reason::icmp_truncated};
    if (verify_checksum && !checksum_ok(message)) return unexpected{drop_reason::icmp_bad_checksum};
    return icmp_view{message};
}

result<icmp_view, drop_reason> icmp_view::parse(std::span<const std::uint8_t> message, const ipv6_addr& src,
                                                const ipv6_addr& dst, bool verify_checksum) {
    if (message.size() < icmp_header_length) return unexpected{drop_reason::icmpv6_truncated};
    if (verify_checksum && !checksum_ok(message, pseudo_header_sum(src, dst, ip_protocol::icmpv6, message.size())))
        return unexpected{drop_reason::icmpv6_bad_checksum};
    return icmp_view{message};
}

std::optional<icmp_quoted_tcp> icmp_quoted_tcp::parse(std::span<const std::uint8_t> quoted) {
    if (quoted.size() < ipv4_min_header_length) return std::nullopt;
    const std::uint8_t* ip = quoted.data();
    const std::size_t ihl = std::size_t(ip[ipv4_field::version_ihl] & 0x0f) * 4;
    if ((ip[ipv4_field::version_ihl] >> 4) != 4 || ihl < ipv4_min_header_length) return std::nullopt;
    if (ip[ipv4_field::protocol] != std::uint8_t(ip_protocol::tcp) || quoted.size() < ihl + 8) return std::nullopt;
    // A quote of a later fragment holds no TCP header (and tern sends no fragments).
    if ((load_be16(ip + ipv4_field::flags_fragment) & ipv4_fragment_offset_mask) != 0) return std::nullopt;
    const std::uint8_t* tcp = ip + ihl;
    return icmp_quoted_tcp{ipv4_addr{load_be32(ip + ipv4_field::src)}, ipv4_addr{load_be32(ip + ipv4_field::dst)},
                           load_be16(tcp + tcp_field::src_port), load_be16(tcp + tcp_field::dst_port),
                           load_be32(tcp + tcp_field::seq)};
}

void icmp_echo_repr::emit(std::uint8_t* out, std::uint32_t pseudo_header) const {
    std::uint8_t* body = out + icmp_header_length;
    // Move the payload first: it may overlap the header bytes about to be written.
    if (!payload.empty() && payload.data() != body) std::memmove(body, payload.data(), payload.size());
    out[icmp_field::type] = type;
    out[icmp_field::code] = 0;
    store_be16(out + icmp_field::checksum, 0);
    store_be16(out + icmp_field::identifier, identifier);
    store_be16(out + icmp_field::sequence, sequence);
    store_be16(out + icmp_field::checksum, checksum_fold(checksum_add({out, length()}, pseudo_header)));
}

void icmp_error_repr::emit(std::uint8_t* out, std::uint32_t pseudo_header) const {
    out[icmp_field::type] = type;
    out[icmp_field::code] = code;
    store_be16(out + icmp_field::checksum, 0);
    store_be32(out + icmp_field::rest_of_header, rest_of_header);
    std::memcpy(out + icmp_header_length, quoted.data(), quoted.size());
    store_be16(out + icmp_field::checksum, checksum_fold(checksum_add({out, length()}, pseudo_header)));
}

} // namespace tern::wire
