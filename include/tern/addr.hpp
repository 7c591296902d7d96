// Addresses: IPv4 (held in host order, converted only at the wire), IPv6 (held as its 16
// bytes in network order, as on the wire), either of the two (ip_addr) and Ethernet MAC.
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

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

struct ipv6_addr {
    std::array<std::uint8_t, 16> bytes{}; // network byte order: 2001:2::1 is 20 01 00 02 00 .. 01

    // The eight 16-bit groups of the text form, most significant first.
    static constexpr ipv6_addr from_groups(const std::array<std::uint16_t, 8>& groups) {
        ipv6_addr a;
        for (std::size_t i = 0; i < 8; ++i) {
            a.bytes[2 * i] = std::uint8_t(groups[i] >> 8);
            a.bytes[2 * i + 1] = std::uint8_t(groups[i]);
        }
        return a;
    }
    // RFC 4291 §2.2: eight groups of 1-4 hex digits, one "::" for one or more groups of
    // zeros, the last 32 bits optionally as a dotted quad. Zone indices ("%eth0") are refused.
    static std::optional<ipv6_addr> parse(std::string_view text);
    // RFC 5952 §4: lower case, no leading zeros, the longest run of two or more zero groups
    // (the first of equals) as "::"; RFC 5952 §5: IPv4-mapped addresses end dotted.
    std::string to_string() const;

    constexpr std::uint16_t group(std::size_t i) const {
        return std::uint16_t((std::uint16_t(bytes[2 * i]) << 8) | bytes[2 * i + 1]);
    }
    constexpr bool is_unspecified() const { return *this == ipv6_addr{}; }
    constexpr bool is_loopback() const { return *this == from_groups({0, 0, 0, 0, 0, 0, 0, 1}); }
    constexpr bool is_multicast() const { return bytes[0] == 0xff; }             // ff00::/8
    constexpr bool is_link_local() const { return (group(0) & 0xffc0) == 0xfe80; } // fe80::/10
    // ::ffff:0:0/96, an IPv4 address in IPv6's form (RFC 4291 §2.5.5.2).
    constexpr bool is_v4_mapped() const {
        for (std::size_t i = 0; i < 10; ++i)
            if (bytes[i] != 0) return false;
        return bytes[10] == 0xff && bytes[11] == 0xff;
    }

    // RFC 4862 §5.3 and RFC 4291 Appendix A: fe80::/64 with the interface identifier made
    // from the MAC (modified EUI-64: ff:fe in the middle, the universal/local bit flipped).
    static constexpr ipv6_addr link_local(const mac_addr& mac) {
        ipv6_addr a;
        a.bytes[0] = 0xfe;
        a.bytes[1] = 0x80;
        a.bytes[8] = std::uint8_t(mac.bytes[0] ^ 0x02);
        a.bytes[9] = mac.bytes[1];
        a.bytes[10] = mac.bytes[2];
        a.bytes[11] = 0xff;
        a.bytes[12] = 0xfe;
        a.bytes[13] = mac.bytes[3];
        a.bytes[14] = mac.bytes[4];
        a.bytes[15] = mac.bytes[5];
        return a;
    }
    // RFC 4291 §2.7.1: ff02::1, every node on the link.
    static constexpr ipv6_addr all_nodes() { return from_groups({0xff02, 0, 0, 0, 0, 0, 0, 1}); }
    // RFC 4291 §2.7.1: ff02::1:ff00:0/104 with this address's low 24 bits, the group a
    // Neighbor Solicitation for it is sent to.
    constexpr ipv6_addr solicited_node() const {
        ipv6_addr a = from_groups({0xff02, 0, 0, 0, 0, 1, 0xff00, 0});
        a.bytes[13] = bytes[13];
        a.bytes[14] = bytes[14];
        a.bytes[15] = bytes[15];
        return a;
    }
    // RFC 2464 §7: a multicast address's Ethernet destination, 33:33 and its low 32 bits.
    constexpr mac_addr multicast_mac() const {
        return mac_addr{{0x33, 0x33, bytes[12], bytes[13], bytes[14], bytes[15]}};
    }

    friend constexpr auto operator<=>(const ipv6_addr&, const ipv6_addr&) = default;
    // Two words, not the array's memcmp: neighbors and our addresses are compared per packet.
    friend constexpr bool operator==(const ipv6_addr& a, const ipv6_addr& b) {
        if (std::is_constant_evaluated()) return a.bytes == b.bytes;
        std::uint64_t x[2], y[2];
        std::memcpy(x, a.bytes.data(), 16);
        std::memcpy(y, b.bytes.data(), 16);
        return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
    }
};

// An IPv6 address with its prefix length, as in "2001:2::2/64".
struct ipv6_cidr {
    ipv6_addr addr;
    std::uint8_t prefix_len = 128;

    static std::optional<ipv6_cidr> parse(std::string_view text);
    constexpr bool contains(const ipv6_addr& a) const {
        for (std::size_t bit = 0; bit < prefix_len; bit += 8) {
            const std::size_t i = bit / 8;
            const std::size_t n = prefix_len - bit < 8 ? prefix_len - bit : 8;
            const std::uint8_t mask = std::uint8_t(0xff00 >> n);
            if ((a.bytes[i] & mask) != (addr.bytes[i] & mask)) return false;
        }
        return true;
    }
};

// An address of either family, as TCP's flows and the API hold it: IPv6's 16 bytes, an
// IPv4 address in its IPv4-mapped form ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), so that one
// type, compared and hashed as 16 bytes, names both. An ipv6_addr that is itself
// IPv4-mapped therefore names the IPv4 address, as a dual-stack socket takes it. The
// default is IPv4's 0.0.0.0.
class ip_addr {
public:
    constexpr ip_addr() : ip_addr(ipv4_addr{}) {}
    constexpr ip_addr(ipv4_addr a) { // NOLINT: implicit, as the API took ipv4_addr before
        if (std::is_constant_evaluated()) {
            bytes_.bytes[10] = 0xff;
            bytes_.bytes[11] = 0xff;
            for (std::size_t i = 0; i < 4; ++i) bytes_.bytes[12 + i] = std::uint8_t(a.value >> (24 - 8 * i));
            return;
        }
        // Two stores: every segment in and out converts its addresses (TCP's hot path).
        const std::uint32_t tail[2] = {v4_marker(), to_network(a.value)};
        const std::uint64_t zero = 0;
        std::memcpy(bytes_.bytes.data(), &zero, 8);
        std::memcpy(bytes_.bytes.data() + 8, tail, 8);
    }
    constexpr ip_addr(const ipv6_addr& a) : bytes_(a) {} // NOLINT: implicit, as ipv4_addr's

    // A dotted quad or an IPv6 address (ipv4_addr::parse, ipv6_addr::parse).
    static std::optional<ip_addr> parse(std::string_view text);
    // The dotted quad for IPv4, RFC 5952's form for IPv6.
    std::string to_string() const { return is_v4() ? v4().to_string() : bytes_.to_string(); }

    constexpr bool is_v4() const {
        if (std::is_constant_evaluated()) return bytes_.is_v4_mapped();
        std::uint64_t head;
        std::uint32_t marker;
        std::memcpy(&head, bytes_.bytes.data(), 8);
        std::memcpy(&marker, bytes_.bytes.data() + 8, 4);
        return (head | (marker ^ v4_marker())) == 0;
    }
    constexpr bool is_v6() const { return !is_v4(); }
    // The IPv4 address; only for is_v4().
    constexpr ipv4_addr v4() const {
        if (std::is_constant_evaluated())
            return ipv4_addr{(std::uint32_t(bytes_.bytes[12]) << 24) | (std::uint32_t(bytes_.bytes[13]) << 16) |
                             (std::uint32_t(bytes_.bytes[14]) << 8) | bytes_.bytes[15]};
        std::uint32_t v;
        std::memcpy(&v, bytes_.bytes.data() + 12, 4);
        return ipv4_addr{to_network(v)}; // the same swap both ways
    }
    // The 16 bytes: an IPv6 address, or IPv4's mapped form.
    constexpr const ipv6_addr& v6() const { return bytes_; }
    constexpr bool is_unspecified() const { return is_v4() ? v4().is_unspecified() : bytes_.is_unspecified(); }

    friend constexpr auto operator<=>(const ip_addr&, const ip_addr&) = default;
    friend constexpr bool operator==(const ip_addr& a, const ip_addr& b) { return a.bytes_ == b.bytes_; }

private:
    // Bytes 8-11 of an IPv4-mapped address (00 00 ff ff) as one word in memory order, and a
    // word between host and network order.
    static constexpr std::uint32_t v4_marker() {
        return std::endian::native == std::endian::little ? 0xffff0000u : 0x0000ffffu;
    }
    static constexpr std::uint32_t to_network(std::uint32_t v) {
        return std::endian::native == std::endian::little ? __builtin_bswap32(v) : v;
    }

    ipv6_addr bytes_;
};

} // namespace tern
