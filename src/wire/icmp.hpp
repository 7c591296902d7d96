// ICMP for IPv4 (RFC 792). The view checks only the format; which types are answered
// is the engine's choice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "tern/addr.hpp"
#include "tern/drop_reason.hpp"
#include "tern/result.hpp"
#include "wire/bytes.hpp"

namespace tern::wire {

namespace icmp_type {
inline constexpr std::uint8_t echo_reply = 0;
inline constexpr std::uint8_t destination_unreachable = 3;
inline constexpr std::uint8_t echo_request = 8;
inline constexpr std::uint8_t time_exceeded = 11;
} // namespace icmp_type

namespace icmp_field {
inline constexpr std::size_t type = 0;
inline constexpr std::size_t code = 1;
inline constexpr std::size_t checksum = 2;
inline constexpr std::size_t rest_of_header = 4; // echo: identifier, then sequence number
inline constexpr std::size_t identifier = 4;
inline constexpr std::size_t sequence = 6;
} // namespace icmp_field

// Destination unreachable (type 3) codes, RFC 792 page 4 and RFC 1191 §4.
namespace icmp_unreachable_code {
inline constexpr std::uint8_t net = 0;
inline constexpr std::uint8_t host = 1;
inline constexpr std::uint8_t protocol = 2;
inline constexpr std::uint8_t port = 3;
inline constexpr std::uint8_t fragmentation_needed = 4; // and DF set
} // namespace icmp_unreachable_code

// Time exceeded (type 11) codes, RFC 792 page 6.
namespace icmp_time_exceeded_code {
inline constexpr std::uint8_t ttl = 0;
inline constexpr std::uint8_t reassembly = 1; // fragment reassembly time exceeded
} // namespace icmp_time_exceeded_code

// Whether an ICMP type is an error message: no ICMP error answers one (RFC 1122 §3.2.2).
inline constexpr bool icmp_is_error(std::uint8_t type) {
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

inline constexpr std::size_t icmp_header_length = 8;
static_assert(icmp_field::sequence + 2 == icmp_header_length);

class icmp_view {
public:
    // Checks the length (icmp_truncated) and, unless told the NIC did, the checksum over
    // the whole message (icmp_bad_checksum). `message` is the IPv4 payload.
    static result<icmp_view, drop_reason> parse(std::span<const std::uint8_t> message, bool verify_checksum = true);
    // An ICMPv6 message (RFC 4443 §2.1: the same 8-byte header), `message` the upper layer
    // of an IPv6 packet from `src` to `dst`: its checksum covers the IPv6 pseudo-header
    // (§2.3). icmpv6_truncated, icmpv6_bad_checksum.
    static result<icmp_view, drop_reason> parse(std::span<const std::uint8_t> message, const ipv6_addr& src,
                                                const ipv6_addr& dst, bool verify_checksum = true);

    std::uint8_t type() const { return data_[icmp_field::type]; }
    std::uint8_t code() const { return data_[icmp_field::code]; }
    std::uint16_t checksum() const { return load_be16(data_.data() + icmp_field::checksum); }
    std::uint32_t rest_of_header() const { return load_be32(data_.data() + icmp_field::rest_of_header); }
    // Meaningful for echo request and reply only.
    std::uint16_t identifier() const { return load_be16(data_.data() + icmp_field::identifier); }
    std::uint16_t sequence() const { return load_be16(data_.data() + icmp_field::sequence); }
    std::span<const std::uint8_t> payload() const { return data_.subspan(icmp_header_length); }
    std::span<const std::uint8_t> message() const { return data_; }

private:
    explicit icmp_view(std::span<const std::uint8_t> message) : data_(message) {}

    std::span<const std::uint8_t> data_;
};

// RFC 1191 §4: "fragmentation needed" carries the next hop's MTU in the low 16 bits of
// the rest of its header; a router older than RFC 1191 leaves it 0.
inline std::uint16_t next_hop_mtu(const icmp_view& v) { return std::uint16_t(v.rest_of_header() & 0xffff); }

// What an ICMP error quotes of the datagram that caused it, when that was a TCP segment: its
// IPv4 header and at least the first 8 bytes of its data (RFC 792; RFC 1812 §4.3.2.3 lets
// routers quote more), which hold both ports and the sequence number.
struct icmp_quoted_tcp {
    ipv4_addr src;
    ipv4_addr dst;
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint32_t seq = 0;

    // Nothing when the quote is not an IPv4 header of protocol TCP followed by 8 bytes.
    static std::optional<icmp_quoted_tcp> parse(std::span<const std::uint8_t> quoted);
};

// Echo request (type 8) or echo reply (type 0), RFC 792 page 14.
struct icmp_echo_repr {
    std::uint8_t type = icmp_type::echo_request;
    std::uint16_t identifier = 0;
    std::uint16_t sequence = 0;
    std::span<const std::uint8_t> payload;

    std::size_t length() const { return icmp_header_length + payload.size(); }

    // Writes length() bytes at `out`, checksum included. The payload may already sit at
    // out + 8 (a reply written over the request it answers) or overlap it. ICMPv6 passes
    // its pseudo-header's sum (RFC 4443 §2.3); IPv4's ICMP has none.
    void emit(std::uint8_t* out, std::uint32_t pseudo_header = 0) const;
};

// An error message (destination unreachable, time exceeded, ...): type, code, the 4 bytes
// after the checksum (unused: 0; the next hop's MTU for fragmentation needed), then the
// quote of the datagram it is about: its IPv4 header and the first 8 bytes of its data
// (RFC 792).
struct icmp_error_repr {
    std::uint8_t type = icmp_type::time_exceeded;
    std::uint8_t code = 0;
    std::uint32_t rest_of_header = 0;
    std::span<const std::uint8_t> quoted;

    std::size_t length() const { return icmp_header_length + quoted.size(); }

    // Writes length() bytes at `out`, checksum included; `quoted` must not overlap them.
    // ICMPv6 passes its pseudo-header's sum, as for echo.
    void emit(std::uint8_t* out, std::uint32_t pseudo_header = 0) const;
};

} // namespace tern::wire
