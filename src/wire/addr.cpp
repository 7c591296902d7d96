#include "tern/addr.hpp"

#include <charconv>
#include <cstdio>

namespace tern {

namespace {

// Parses a number in [0, max] that fills all of `text`. A decimal number with a leading
// zero is refused: inet_aton would read "010" as octal 8, so it is ambiguous.
std::optional<unsigned> parse_number(std::string_view text, unsigned max, int base = 10) {
    if (text.empty() || text.size() > 3) return std::nullopt;
    if (base == 10 && text.size() > 1 && text[0] == '0') return std::nullopt;
    unsigned v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
    if (ec != std::errc{} || end != text.data() + text.size() || v > max) return std::nullopt;
    return v;
}

} // namespace

std::optional<ipv4_addr> ipv4_addr::parse(std::string_view text) {
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
        auto dot = text.find('.');
        if ((i < 3) == (dot == std::string_view::npos)) return std::nullopt;
        auto part = parse_number(text.substr(0, dot), 255);
        if (!part) return std::nullopt;
        value = (value << 8) | *part;
        text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    }
    return ipv4_addr{value};
}

std::string ipv4_addr::to_string() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
    return buf;
}

std::optional<ipv4_cidr> ipv4_cidr::parse(std::string_view text) {
    auto slash = text.find('/');
    auto addr = ipv4_addr::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    if (slash == std::string_view::npos) return ipv4_cidr{*addr, 32};
    auto len = parse_number(text.substr(slash + 1), 32);
    if (!len) return std::nullopt;
    return ipv4_cidr{*addr, std::uint8_t(*len)};
}

std::optional<mac_addr> mac_addr::parse(std::string_view text) {
    if (text.size() != 17) return std::nullopt;
    // One separator throughout: "02:00:00:00:00:01" or "02-00-00-00-00-01".
    const char sep = text[2];
    if (sep != ':' && sep != '-') return std::nullopt;
    mac_addr mac;
    for (std::size_t i = 0; i < 6; ++i) {
        if (i < 5 && text[i * 3 + 2] != sep) return std::nullopt;
        std::string_view hex = text.substr(i * 3, 2);
        auto byte = parse_number(hex, 255, 16);
        if (!byte || hex[0] == '+' || hex[0] == '-') return std::nullopt;
        mac.bytes[i] = std::uint8_t(*byte);
    }
    return mac;
}

std::string mac_addr::to_string() const {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]);
    return buf;
}

} // namespace tern
