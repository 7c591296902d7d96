// IPv6 header (RFC 8200 §3) and the walk over its extension headers (§4) to the upper
// layer. Like ipv4_view it checks the format only; tern neither forwards nor fragments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "tern/addr.hpp"
#include "tern/drop_reason.hpp"
#include "tern/result.hpp"
#include "wire/bytes.hpp"
#include "wire/ipv4.hpp" // ip_protocol, ecn_codepoint: the same numbers and bits in both

namespace tern::wire {

namespace ip_protocol {
inline constexpr std::uint8_t icmpv6 = 58;
} // namespace ip_protocol

// Next Header values of the extension headers the walk knows (RFC 8200 §4.1).
namespace ipv6_ext {
inline constexpr std::uint8_t hop_by_hop = 0;
inline constexpr std::uint8_t routing = 43;
inline constexpr std::uint8_t fragment = 44;
inline constexpr std::uint8_t no_next_header = 59;
inline constexpr std::uint8_t destination_options = 60;
} // namespace ipv6_ext

namespace ipv6_field {
inline constexpr std::size_t version_class_flow = 0; // 4-bit version, 8-bit traffic class, 20-bit flow label
inline constexpr std::size_t payload_length = 4;
inline constexpr std::size_t next_header = 6;
inline constexpr std::size_t hop_limit = 7;
inline constexpr std::size_t src = 8;
inline constexpr std::size_t dst = 24;
} // namespace ipv6_field

inline constexpr std::size_t ipv6_header_length = 40;
inline constexpr std::size_t ipv6_fragment_header_length = 8;
static_assert(ipv6_field::dst + 16 == ipv6_header_length);

// The walk stops with ipv6_too_many_extensions past this many extension headers: a
// packet legitimately carries a few (RFC 8200 §4.1 lists six kinds, each once, the
// Destination Options twice), and the bound keeps a crafted chain from costing more.
inline constexpr std::size_t ipv6_max_extension_headers = 8;

// The Fragment header's fields (RFC 8200 §4.5).
struct ipv6_fragment_info {
    std::uint32_t id = 0;
    std::uint16_t offset = 0;  // in 8-byte units
    bool more = false;         // the M flag
    std::uint8_t next_header = 0;
    std::size_t header_offset = 0; // from the start of the IPv6 header: the unfragmentable part's length
};

class ipv6_view {
public:
    // Checks, in order: length (ipv6_truncated), version (ipv6_bad_version), payload
    // length (ipv6_bad_payload_length: past the packet; a longer packet is Ethernet
    // padding and trimmed), then walks the extension headers:
    // - Hop-by-Hop Options only right after this header (RFC 8200 §4.1), every header
    //   whole inside the payload (both ipv6_bad_extension);
    // - in Hop-by-Hop and Destination Options, an option whose type's two high bits ask
    //   anything but "skip" is one tern does not know (ipv6_unknown_option, §4.2; Pad1,
    //   PadN and the skippable ones pass);
    // - a Routing header with segments left is addressed through us to another node:
    //   a host forwards nothing (ipv6_unknown_routing, §4.4); with none left it is skipped;
    // - a Fragment header ends the walk unless it is an atomic fragment (offset 0, no M:
    //   RFC 6946 §4, a whole datagram), since what follows is part of a datagram;
    // - at most ipv6_max_extension_headers of them (ipv6_too_many_extensions).
    // Any other Next Header value is the upper layer's protocol, for the caller to take or
    // drop. There is no header checksum in IPv6.
    static result<ipv6_view, drop_reason> parse(std::span<const std::uint8_t> packet);
    // The same walk over what an ICMPv6 error quotes of a packet (RFC 4443 §2.4 (c)): as
    // much of it as fits, so the payload length may run past what is there and the
    // packet ends where the quote ends.
    static result<ipv6_view, drop_reason> parse_quoted(std::span<const std::uint8_t> quote);

    std::uint8_t version() const { return data_[0] >> 4; }
    std::uint8_t traffic_class() const { return std::uint8_t(load_be16(data_.data()) >> 4); }
    ecn_codepoint ecn() const { return ecn_codepoint(traffic_class() & 0x03); }
    std::uint32_t flow_label() const { return load_be32(data_.data()) & 0xfffff; }
    std::uint16_t payload_length() const { return load_be16(data_.data() + ipv6_field::payload_length); }
    std::uint8_t next_header() const { return data_[ipv6_field::next_header]; } // the first one
    std::uint8_t hop_limit() const { return data_[ipv6_field::hop_limit]; }
    ipv6_addr src() const { return address_at(ipv6_field::src); }
    ipv6_addr dst() const { return address_at(ipv6_field::dst); }

    // The protocol after the extension headers: TCP, ICMPv6, No Next Header, or whatever
    // the walk did not know. For a fragment, the Fragment header's Next Header.
    std::uint8_t upper_protocol() const { return upper_protocol_; }
    // The bytes after the extension headers, trimmed to the payload length: the upper
    // layer's message, or a fragment's data.
    std::span<const std::uint8_t> upper() const { return data_.subspan(upper_offset_, end_ - upper_offset_); }
    std::size_t upper_offset() const { return upper_offset_; }
    std::span<const std::uint8_t> header() const { return data_.first(ipv6_header_length); }
    // The packet trimmed to its payload length (a quote: to what was quoted).
    std::span<const std::uint8_t> packet() const { return data_.first(end_); }

    // The Fragment header, when there was one (an atomic fragment's too).
    const std::optional<ipv6_fragment_info>& fragment() const { return fragment_; }
    // Part of a larger datagram: more fragments follow, or this one does not start it.
    bool is_fragment() const { return fragment_ && (fragment_->more || fragment_->offset != 0); }

private:
    ipv6_view(std::span<const std::uint8_t> packet, std::size_t end) : data_(packet), end_(end) {}
    static result<ipv6_view, drop_reason> read(std::span<const std::uint8_t> packet, bool quoted);
    ipv6_addr address_at(std::size_t offset) const;
    std::optional<drop_reason> walk(); // nothing when the walk reached an upper layer

    std::span<const std::uint8_t> data_;
    std::size_t end_;
    std::size_t upper_offset_ = ipv6_header_length;
    std::uint8_t upper_protocol_ = 0;
    std::optional<ipv6_fragment_info> fragment_;
};

// A header without extension headers.
struct ipv6_repr {
    ipv6_addr src;
    ipv6_addr dst;
    std::uint8_t next_header = 0;
    std::uint8_t hop_limit = 64;
    std::uint16_t payload_length = 0;
    std::uint8_t traffic_class = 0; // DSCP and ECN (RFC 3168, as IPv4's TOS)
    std::uint32_t flow_label = 0;   // 20 bits

    static constexpr std::size_t header_length = ipv6_header_length;

    // The fixed header's fields; the payload length is the upper layer's alone and the
    // next header its protocol, the extension headers left out.
    static ipv6_repr from(const ipv6_view& v) {
        return {v.src(),
                v.dst(),
                v.upper_protocol(),
                v.hop_limit(),
                std::uint16_t(v.upper().size()),
                v.traffic_class(),
                v.flow_label()};
    }

    // Writes `header_length` bytes at `out`.
    void emit(std::uint8_t* out) const;

    friend bool operator==(const ipv6_repr&, const ipv6_repr&) = default;
};

} // namespace tern::wire
