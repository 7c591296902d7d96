// ARP for IPv4 over Ethernet (RFC 826). Only this one combination of hardware and
// protocol types exists for us; any other is arp_bad_format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "tern/addr.hpp"
#include "tern/drop_reason.hpp"
#include "tern/result.hpp"
#include "wire/bytes.hpp"

namespace tern::wire {

enum class arp_op : std::uint16_t {
    request = 1,
    reply = 2,
};

namespace arp_field {
inline constexpr std::size_t htype = 0;       // hardware type: 1, Ethernet
inline constexpr std::size_t ptype = 2;       // protocol type: 0x0800, IPv4
inline constexpr std::size_t hlen = 4;        // hardware address length: 6
inline constexpr std::size_t plen = 5;        // protocol address length: 4
inline constexpr std::size_t op = 6;
inline constexpr std::size_t sender_mac = 8;
inline constexpr std::size_t sender_ip = 14;
inline constexpr std::size_t target_mac = 18;
inline constexpr std::size_t target_ip = 24;
} // namespace arp_field

inline constexpr std::uint16_t arp_htype_ethernet = 1;
inline constexpr std::uint16_t arp_ptype_ipv4 = 0x0800;

// The Ethernet/IPv4 body: 8 bytes of header and two (6-byte MAC, 4-byte IPv4) pairs.
inline constexpr std::size_t arp_length = 28;
static_assert(arp_field::target_ip + 4 == arp_length);

class arp_view {
public:
    // Checks, in order: length (arp_truncated), the Ethernet/IPv4 types and address
    // lengths (arp_bad_format), the operation (arp_bad_op). Trailing bytes (Ethernet
    // padding) are ignored.
    static result<arp_view, drop_reason> parse(std::span<const std::uint8_t> packet);

    arp_op op() const { return arp_op(load_be16(at(arp_field::op))); }
    mac_addr sender_mac() const { return load_mac(arp_field::sender_mac); }
    ipv4_addr sender_ip() const { return ipv4_addr{load_be32(at(arp_field::sender_ip))}; }
    mac_addr target_mac() const { return load_mac(arp_field::target_mac); }
    ipv4_addr target_ip() const { return ipv4_addr{load_be32(at(arp_field::target_ip))}; }
    std::span<const std::uint8_t> bytes() const { return data_.first(arp_length); }

private:
    explicit arp_view(std::span<const std::uint8_t> packet) : data_(packet) {}

    const std::uint8_t* at(std::size_t offset) const { return data_.data() + offset; }
    mac_addr load_mac(std::size_t offset) const {
        mac_addr m;
        std::memcpy(m.bytes.data(), at(offset), m.bytes.size());
        return m;
    }

    std::span<const std::uint8_t> data_;
};

struct arp_repr {
    arp_op op = arp_op::request;
    mac_addr sender_mac;
    ipv4_addr sender_ip;
    mac_addr target_mac;
    ipv4_addr target_ip;

    static constexpr std::size_t length = arp_length;

    static arp_repr from(const arp_view& v) {
        return {v.op(), v.sender_mac(), v.sender_ip(), v.target_mac(), v.target_ip()};
    }

    // Writes `length` bytes at `out`.
    void emit(std::uint8_t* out) const;

    friend bool operator==(const arp_repr&, const arp_repr&) = default;
};

} // namespace tern::wire
