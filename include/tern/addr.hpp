// Addresses: IPv4 (held in host order, converted only at the wire) and Ethernet MAC.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tern {

struct ipv4_addr {
    std::uint32_t value = 0; // host byte order: 198.18.0.1 is 0xc6120001

    static constexpr ipv4_addr from_octets(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
        return ipv4_addr{(std::uint32_t(a) << 24) | (std::uint32_t(b) << 16) | (std::uint32_t(c) << 8) | d};
    }
    static std::optional<ipv4_addr> parse(std::string_view text);
    std::string to_string() const;

    bool is_unspecified() const { return value == 0; }
    bool is_broadcast() const { return value == 0xffffffffu; }
    bool is_multicast() const { return (value >> 28) == 0xe; }

    friend constexpr auto operator<=>(ipv4_addr, ipv4_addr) = default;
};

// An address with its prefix length, as in "198.18.0.2/24".
struct ipv4_cidr {
    ipv4_addr addr;
    std::uint8_t prefix_len = 32;

    static std::optional<ipv4_cidr> parse(std::string_view text);
    std::uint32_t mask() const { return prefix_len == 0 ? 0 : ~std::uint32_t(0) << (32 - prefix_len); }
    bool contains(ipv4_addr a) const { return (a.value & mask()) == (addr.value & mask()); }
    ipv4_addr broadcast() const { return ipv4_addr{addr.value | ~mask()}; }
};

struct mac_addr {
    std::array<std::uint8_t, 6> bytes{};

    static constexpr mac_addr broadcast() { return mac_addr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
    static std::optional<mac_addr> parse(std::string_view text);
    std::string to_string() const;

    bool is_broadcast() const { return *this == broadcast(); }
    bool is_multicast() const { return (bytes[0] & 1) != 0; }
    bool is_zero() const { return *this == mac_addr{}; }

    friend constexpr bool operator==(const mac_addr&, const mac_addr&) = default;
};

} // namespace tern
