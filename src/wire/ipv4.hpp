// IPv4 header (RFC 791). Fragments parse like whole datagrams (is_fragment() tells them
// apart): the engine reassembles them (core/ipv4_reassembly.hpp); tern never fragments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tern/addr.hpp"
#include "tern/drop_reason.hpp"
#include "tern/result.hpp"
#include "wire/bytes.hpp"

namespace tern::wire {

namespace ip_protocol {
inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
} // namespace ip_protocol

namespace ipv4_field {
inline constexpr std::size_t version_ihl = 0;
inline constexpr std::size_t tos = 1;          // DSCP and ECN
inline constexpr std::size_t total_length = 2;
inline constexpr std::size_t id = 4;
inline constexpr std::size_t flags_fragment = 6; // 3 flag bits, 13-bit offset in 8-byte units
inline constexpr std::size_t ttl = 8;
inline constexpr std::size_t protocol = 9;
inline constexpr std::size_t checksum = 10;
inline constexpr std::size_t src = 12;
inline constexpr std::size_t dst = 16;
} // namespace ipv4_field

inline constexpr std::size_t ipv4_min_header_length = 20;
inline constexpr std::size_t ipv4_max_header_length = 60;
inline constexpr std::uint16_t ipv4_flag_df = 0x4000;
inline constexpr std::uint16_t ipv4_flag_mf = 0x2000;
inline constexpr std::uint16_t ipv4_fragment_offset_mask = 0x1fff;
static_assert(ipv4_field::dst + 4 == ipv4_min_header_length);

// The ECN field, the low two bits of the TOS byte (RFC 3168 §5).
enum class ecn_codepoint : std::uint8_t {
    not_ect = 0,
    ect1 = 1,
    ect0 = 2,
    ce = 3, // congestion experienced
};

class ipv4_view {
public:
    // Checks, in order: length (ipv4_truncated), version (ipv4_bad_version), IHL
    // (ipv4_bad_ihl), total length (ipv4_bad_total_length), header checksum unless the
    // NIC has verified it (ipv4_bad_checksum). A fragment is a valid view: whoever needs
    // a whole datagram asks is_fragment(). The packet
    // may be longer than the total length (Ethernet padding): payload() is trimmed.
    // Options are accepted and skipped. The TTL is not checked: RFC 1122 §3.2.1.7, a host
    // MUST NOT discard a datagram just because it was received with TTL less than 2.
    static result<ipv4_view, drop_reason> parse(std::span<const std::uint8_t> packet, bool verify_checksum = true);

    std::uint8_t version() const { return data_[ipv4_field::version_ihl] >> 4; }
    std::size_t header_length() const { return std::size_t(data_[ipv4_field::version_ihl] & 0x0f) * 4; }
    std::uint8_t tos() const { return data_[ipv4_field::tos]; }
    ecn_codepoint ecn() const { return ecn_codepoint(data_[ipv4_field::tos] & 0x03); }
    std::uint16_t total_length() const { return load_be16(at(ipv4_field::total_length)); }
    std::uint16_t id() const { return load_be16(at(ipv4_field::id)); }
    std::uint16_t flags() const { return load_be16(at(ipv4_field::flags_fragment)) & 0xe000; }
    bool dont_fragment() const { return (flags() & ipv4_flag_df) != 0; }
    bool more_fragments() const { return (flags() & ipv4_flag_mf) != 0; }
    // In 8-byte units (RFC 791).
    std::uint16_t fragment_offset() const {
        return load_be16(at(ipv4_field::flags_fragment)) & ipv4_fragment_offset_mask;
    }
    // Part of a larger datagram: more fragments follow, or this one does not start it.
    bool is_fragment() const {
        return (load_be16(at(ipv4_field::flags_fragment)) & (ipv4_flag_mf | ipv4_fragment_offset_mask)) != 0;
    }
    std::uint8_t ttl() const { return data_[ipv4_field::ttl]; }
    std::uint8_t protocol() const { return data_[ipv4_field::protocol]; }
    std::uint16_t checksum() const { return load_be16(at(ipv4_field::checksum)); }
    ipv4_addr src() const { return ipv4_addr{load_be32(at(ipv4_field::src))}; }
    ipv4_addr dst() const { return ipv4_addr{load_be32(at(ipv4_field::dst))}; }

    std::span<const std::uint8_t> header() const { return data_.first(header_length()); }
    std::span<const std::uint8_t> options() const {
        return data_.subspan(ipv4_min_header_length, header_length() - ipv4_min_header_length);
    }
    // Trimmed to the total length.
    std::span<const std::uint8_t> payload() const {
        return data_.subspan(header_length(), total_length() - header_length());
    }

private:
    explicit ipv4_view(std::span<const std::uint8_t> packet) : data_(packet) {}
    const std::uint8_t* at(std::size_t offset) const { return data_.data() + offset; }

    std::span<const std::uint8_t> data_;
};

// A header without options.
struct ipv4_repr {
    ipv4_addr src;
    ipv4_addr dst;
    std::uint8_t protocol = 0;
    std::uint8_t ttl = 64;
    std::uint16_t id = 0;
    std::uint16_t payload_length = 0;
    bool dont_fragment = true;
    std::uint8_t tos = 0; // DSCP and ECN (RFC 3168)

    static constexpr std::size_t header_length = ipv4_min_header_length;

    // The options of the view are not kept.
    static ipv4_repr from(const ipv4_view& v) {
        return {v.src(),
                v.dst(),
                v.protocol(),
                v.ttl(),
                v.id(),
                std::uint16_t(v.total_length() - v.header_length()),
                v.dont_fragment(),
                v.tos()};
    }

    // Writes `header_length` bytes at `out`. With compute_checksum false the checksum
    // field is left 0, as the NIC's IPv4 checksum offload expects.
    void emit(std::uint8_t* out, bool compute_checksum = true) const;

    friend bool operator==(const ipv4_repr&, const ipv4_repr&) = default;
};

} // namespace tern::wire
