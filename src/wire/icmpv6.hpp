// ICMPv6 (RFC 4443) and the Neighbor Solicitation and Advertisement of Neighbor Discovery
// (RFC 4861 §4.3, §4.4). The message header is ICMP's (icmp_view, icmp_echo_repr and
// icmp_error_repr serve both, given the IPv6 pseudo-header); this file adds the types,
// codes and the messages IPv4 has not. Formats only: which messages are valid for
// Neighbor Discovery (hop limit 255, code 0, ...) is for whoever acts on them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "tern/addr.hpp"
#include "tern/drop_reason.hpp"
#include "tern/result.hpp"
#include "wire/icmp.hpp"

namespace tern::wire {

namespace icmpv6_type {
inline constexpr std::uint8_t destination_unreachable = 1;
inline constexpr std::uint8_t packet_too_big = 2;
inline constexpr std::uint8_t time_exceeded = 3;
inline constexpr std::uint8_t parameter_problem = 4;
inline constexpr std::uint8_t echo_request = 128;
inline constexpr std::uint8_t echo_reply = 129;
inline constexpr std::uint8_t router_solicitation = 133;
inline constexpr std::uint8_t router_advertisement = 134;
inline constexpr std::uint8_t neighbor_solicitation = 135;
inline constexpr std::uint8_t neighbor_advertisement = 136;
inline constexpr std::uint8_t redirect = 137;
} // namespace icmpv6_type

// RFC 4443 §3.1.
namespace icmpv6_unreachable_code {
inline constexpr std::uint8_t no_route = 0;
inline constexpr std::uint8_t administratively_prohibited = 1;
inline constexpr std::uint8_t beyond_scope = 2;
inline constexpr std::uint8_t address = 3;
inline constexpr std::uint8_t port = 4;
} // namespace icmpv6_unreachable_code

// RFC 4443 §3.3.
namespace icmpv6_time_exceeded_code {
inline constexpr std::uint8_t hop_limit = 0;
inline constexpr std::uint8_t reassembly = 1;
} // namespace icmpv6_time_exceeded_code

// RFC 4443 §2.1: types 0-127 are errors, and no error answers one (§2.4 (e)).
inline constexpr bool icmpv6_is_error(std::uint8_t type) { return type < 128; }

// RFC 4443 §3.2: Packet Too Big carries the next hop's MTU in its 32 bits after the checksum.
inline std::uint32_t packet_too_big_mtu(const icmp_view& v) { return v.rest_of_header(); }

// What an ICMPv6 error quotes of a TCP segment we sent: its IPv6 header, any extension
// headers, and at least 8 bytes of TCP (RFC 4443 §2.4 (c) quotes as much as fits in the
// minimum MTU), which hold both ports and the sequence number.
struct icmpv6_quoted_tcp {
    ipv6_addr src;
    ipv6_addr dst;
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint32_t seq = 0;

    // Nothing when the quote is not an IPv6 packet whose upper layer is TCP with 8 bytes
    // quoted, or is a fragment other than the first.
    static std::optional<icmpv6_quoted_tcp> parse(std::span<const std::uint8_t> quoted);
};

// Neighbor Discovery option types (RFC 4861 §4.6).
namespace nd_option {
inline constexpr std::uint8_t source_link_layer = 1;
inline constexpr std::uint8_t target_link_layer = 2;
inline constexpr std::uint8_t prefix_information = 3;
inline constexpr std::uint8_t redirected_header = 4;
inline constexpr std::uint8_t mtu = 5;
} // namespace nd_option

// The flags of a Neighbor Advertisement, the first byte after the checksum (RFC 4861 §4.4).
namespace nd_flag {
inline constexpr std::uint8_t router = 0x80;
inline constexpr std::uint8_t solicited = 0x40;
inline constexpr std::uint8_t override = 0x20;
} // namespace nd_flag

// Type, code, checksum, 4 bytes of flags or reserved, the target address.
inline constexpr std::size_t nd_fixed_length = 24;
// An Ethernet link-layer address option: type, length 1 (8 bytes), the MAC (RFC 2464 §6).
inline constexpr std::size_t nd_link_layer_option_length = 8;

// A Neighbor Solicitation or Advertisement.
struct nd_message {
    std::uint8_t type = icmpv6_type::neighbor_solicitation;
    std::uint8_t flags = 0; // nd_flag, an advertisement's
    ipv6_addr target;
    // The sender's MAC: a solicitation's Source Link-Layer Address option, an
    // advertisement's Target Link-Layer Address option; the first one if several.
    std::optional<mac_addr> link_layer;

    // `v` an NS or NA. icmpv6_truncated below the fixed part; nd_bad_option for an option
    // of length 0 or past the message. Options of other types are skipped (§4.6: "silently
    // ignore"), as is a link-layer option too short for a MAC.
    static result<nd_message, drop_reason> parse(const icmp_view& v);

    bool router() const { return (flags & nd_flag::router) != 0; }
    bool solicited() const { return (flags & nd_flag::solicited) != 0; }
    bool override() const { return (flags & nd_flag::override) != 0; }
};

// Writes an NS or NA with its link-layer option when there is one.
struct nd_repr {
    std::uint8_t type = icmpv6_type::neighbor_solicitation;
    std::uint8_t flags = 0;
    ipv6_addr target;
    std::optional<mac_addr> link_layer; // as nd_message: source for NS, target for NA

    std::size_t length() const { return nd_fixed_length + (link_layer ? nd_link_layer_option_length : 0); }

    // Writes length() bytes at `out`, the checksum over `pseudo_header` (the sum of the
    // IPv6 pseudo-header it goes under) included.
    void emit(std::uint8_t* out, std::uint32_t pseudo_header) const;
};

} // namespace tern::wire
