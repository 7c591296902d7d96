#include "wire/arp.hpp"

namespace tern::wire {

result<arp_view, drop_reason> arp_view::parse(std::span<const std::uint8_t> packet) {
    if (packet.size() < arp_length) return unexpected{drop_reason::arp_truncated};
    const std::uint8_t* p = packet.data();
    if (load_be16(p + arp_field::htype) != arp_htype_ethernet || load_be16(p + arp_field::ptype) != arp_ptype_ipv4 ||
        p[arp_field::hlen] != 6 || p[arp_field::plen] != 4)
        return unexpected{drop_reason::arp_bad_format};
    auto op = load_be16(p + arp_field::op);
    if (op != std::uint16_t(arp_op::request) && op != std::uint16_t(arp_op::reply))
        return unexpected{drop_reason::arp_bad_op};
    return arp_view{packet};
}

void arp_repr::emit(std::uint8_t* out) const {
    store_be16(out + arp_field::htype, arp_htype_ethernet);
    store_be16(out + arp_field::ptype, arp_ptype_ipv4);
    out[arp_field::hlen] = 6;
    out[arp_field::plen] = 4;
    store_be16(out + arp_field::op, std::uint16_t(op));
    std::memcpy(out + arp_field::sender_mac, sender_mac.bytes.data(), 6);
    store_be32(out + arp_field::sender_ip, sender_ip.value);
    std::memcpy(out + arp_field::target_mac, target_mac.bytes.data(), 6);
    store_be32(out + arp_field::target_ip, target_ip.value);
}

} // namespace tern::wire
