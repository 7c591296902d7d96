#include "wire/icmpv6.hpp"

#include <cstring>

#include "wire/checksum.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace tern::wire {

std::optional<icmpv6_quoted_tcp> icmpv6_quoted_tcp::parse(std::span<const std::uint8_t> quoted) {
    const auto ip = ipv6_view::parse_quoted(quoted);
    if (!ip || ip->upper_protocol() != ip_protocol::tcp || ip->upper().size() < 8) return std::nullopt;
    // A quote of a later fragment holds no TCP header (and tern sends no fragments).
    if (ip->fragment() && ip->fragment()->offset != 0) return std::nullopt;
    const std::uint8_t* tcp = ip->upper().data();
    return icmpv6_quoted_tcp{ip->src(), ip->dst(), load_be16(tcp + tcp_field::src_port),
                             load_be16(tcp + tcp_field::dst_port), load_be32(tcp + tcp_field::seq)};
}

result<nd_message, drop_reason> nd_message::parse(const icmp_view& v) {
    const std::span<const std::uint8_t> m = v.message();
    if (m.size() < nd_fixed_length) return unexpected{drop_reason::icmpv6_truncated};
    nd_message out;
    out.type = v.type();
    out.flags = m[icmp_field::rest_of_header];
    std::memcpy(out.target.bytes.data(), m.data() + 8, 16);
    const std::uint8_t wanted =
        out.type == icmpv6_type::neighbor_solicitation ? nd_option::source_link_layer : nd_option::target_link_layer;
    for (std::size_t at = nd_fixed_length; at < m.size();) {
        if (at + 2 > m.size()) return unexpected{drop_reason::nd_bad_option};
        const std::size_t length = std::size_t(m[at + 1]) * 8;
        if (length == 0 || at + length > m.size()) return unexpected{drop_reason::nd_bad_option};
        if (m[at] == wanted && !out.link_layer && length >= nd_link_layer_option_length) {
            mac_addr mac;
            std::memcpy(mac.bytes.data(), m.data() + at + 2, mac.bytes.size());
            out.link_layer = mac;
        }
        at += length;
    }
    return out;
}

void nd_repr::emit(std::uint8_t* out, std::uint32_t pseudo_header) const {
    out[icmp_field::type] = type;
    out[icmp_field::code] = 0;
    store_be16(out + icmp_field::checksum, 0);
    store_be32(out + icmp_field::rest_of_header, std::uint32_t(flags) << 24);
    std::memcpy(out + 8, target.bytes.data(), 16);
    if (link_layer) {
        std::uint8_t* option = out + nd_fixed_length;
        option[0] = type == icmpv6_type::neighbor_solicitation ? nd_option::source_link_layer : nd_option::target_link_layer;
        option[1] = 1;
        std::memcpy(option + 2, link_layer->bytes.data(), link_layer->bytes.size());
    }
    store_be16(out + icmp_field::checksum, checksum_fold(checksum_add({out, length()}, pseudo_header)));
}

} // namespace tern::wire
