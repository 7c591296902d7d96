#include "wire/ipv6.hpp"

#include <algorithm>
#include <cstring>

namespace tern::wire {

namespace {

// RFC 8200 §4.2: the options of a Hop-by-Hop or Destination Options header, type-length-
// value, Pad1 a single byte. The two high bits of an unknown type say what to do with the
// packet: 00 skip the option, anything else discard it (with or without an ICMP Parameter
// Problem, which tern does not send). Pad1 and PadN are 00 too, so known and unknown
// options the host may skip go the same way.
std::optional<drop_reason> check_options(std::span<const std::uint8_t> options) {
    for (std::size_t i = 0; i < options.size();) {
        const std::uint8_t type = options[i];
        if (type == 0) { // Pad1
            ++i;
            continue;
        }
        if (i + 2 > options.size() || i + 2 + options[i + 1] > options.size()) return drop_reason::ipv6_bad_extension;
        if ((type >> 6) != 0) return drop_reason::ipv6_unknown_option;
        i += 2 + options[i + 1];
    }
    return std::nullopt;
}

} // namespace

result<ipv6_view, drop_reason> ipv6_view::parse(std::span<const std::uint8_t> packet) { return read(packet, false); }

result<ipv6_view, drop_reason> ipv6_view::parse_quoted(std::span<const std::uint8_t> quote) { return read(quote, true); }

// A quote may end before the payload length says; a packet may not.
result<ipv6_view, drop_reason> ipv6_view::read(std::span<const std::uint8_t> packet, bool quoted) {
    if (packet.size() < ipv6_header_length) return unexpected{drop_reason::ipv6_truncated};
    std::size_t end = ipv6_header_length + load_be16(packet.data() + ipv6_field::payload_length);
    if (quoted) end = std::min(end, packet.size());
    ipv6_view v{packet, end};
    if (v.version() != 6) return unexpected{drop_reason::ipv6_bad_version};
    if (end > packet.size()) return unexpected{drop_reason::ipv6_bad_payload_length};
    if (auto bad = v.walk()) return unexpected{*bad};
    return v;
}

std::optional<drop_reason> ipv6_view::walk() {
    const std::size_t end = end_;
    std::uint8_t next = next_header();
    std::size_t at = ipv6_header_length;
    for (std::size_t n = 0;; ++n) {
        const bool extension = next == ipv6_ext::hop_by_hop || next == ipv6_ext::routing ||
                               next == ipv6_ext::fragment || next == ipv6_ext::destination_options;
        if (!extension) break;
        if (n == ipv6_max_extension_headers) return drop_reason::ipv6_too_many_extensions;
        if (next == ipv6_ext::hop_by_hop && n != 0) return drop_reason::ipv6_bad_extension;
        // Every extension header starts with its Next Header and, but for the Fragment
        // header (8 bytes), its length in 8-byte units after the first 8.
        if (at + 8 > end) return drop_reason::ipv6_bad_extension;
        const std::uint8_t* h = data_.data() + at;
        const std::size_t length = next == ipv6_ext::fragment ? ipv6_fragment_header_length : (std::size_t(h[1]) + 1) * 8;
        if (at + length > end) return drop_reason::ipv6_bad_extension;
        if (next == ipv6_ext::fragment) {
            const std::uint16_t offset_flags = load_be16(h + 2);
            fragment_ = ipv6_fragment_info{load_be32(h + 4), std::uint16_t(offset_flags >> 3), (offset_flags & 1) != 0,
                                           h[0], at};
            next = h[0];
            at += length;
            if (is_fragment()) break; // the rest belongs to a datagram still in pieces
            continue;
        }
        if (next == ipv6_ext::routing) {
            if (h[3] != 0) return drop_reason::ipv6_unknown_routing; // segments left: not ours to forward
        } else if (auto bad = check_options({h + 2, length - 2})) {
            return bad;
        }
        next = h[0];
        at += length;
    }
    upper_protocol_ = next;
    upper_offset_ = at;
    return std::nullopt;
}

ipv6_addr ipv6_view::address_at(std::size_t offset) const {
    ipv6_addr a;
    std::memcpy(a.bytes.data(), data_.data() + offset, a.bytes.size());
    return a;
}

void ipv6_repr::emit(std::uint8_t* out) const {
    store_be32(out, (6u << 28) | (std::uint32_t(traffic_class) << 20) | (flow_label & 0xfffff));
    store_be16(out + ipv6_field::payload_length, payload_length);
    out[ipv6_field::next_header] = next_header;
    out[ipv6_field::hop_limit] = hop_limit;
    std::memcpy(out + ipv6_field::src, src.bytes.data(), 16);
    std::memcpy(out + ipv6_field::dst, dst.bytes.data(), 16);
}

} // namespace tern::wire
