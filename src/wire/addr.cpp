#include "tern/addr.hpp"

#include <charconv>
#include <cstdio>
#include <vector>

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

// The groups of one side of "::" (or of a whole address without one): 1-4 hex digits
// each, the last one possibly a dotted quad when `last` holds the address's end.
bool parse_groups(std::string_view text, bool last, std::vector<std::uint16_t>& out) {
    if (text.empty()) return true;
    while (true) {
        const auto colon = text.find(':');
        const std::string_view part = text.substr(0, colon);
        if (colon == std::string_view::npos && last && part.find('.') != std::string_view::npos) {
            const auto v4 = ipv4_addr::parse(part);
            if (!v4) return false;
            out.push_back(std::uint16_t(v4->value >> 16));
            out.push_back(std::uint16_t(v4->value));
            return true;
        }
        if (part.empty() || part.size() > 4) return false;
        unsigned v = 0;
        auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v, 16);
        if (ec != std::errc{} || end != part.data() + part.size()) return false;
        out.push_back(std::uint16_t(v));
        if (colon == std::string_view::npos) return true;
        text = text.substr(colon + 1);
    }
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

std::optional<ipv6_addr> ipv6_addr::parse(std::string_view text) {
    if (text.size() > 45) return std::nullopt; // the longest form: six full groups and a dotted quad
    std::vector<std::uint16_t> head, tail;
    const auto gap = text.find("::");
    if (gap == std::string_view::npos) {
        if (!parse_groups(text, true, head) || head.size() != 8) return std::nullopt;
    } else {
        const std::string_view after = text.substr(gap + 2);
        if (after.find("::") != std::string_view::npos) return std::nullopt; // one "::" at most
        if (!parse_groups(text.substr(0, gap), false, head) || !parse_groups(after, true, tail) ||
            head.size() + tail.size() > 7)
            return std::nullopt;
        // ":::" or a colon hanging at either side of the gap leaves an empty group.
        if ((!after.empty() && after.front() == ':') || (gap > 0 && text[gap - 1] == ':')) return std::nullopt;
    }
    std::array<std::uint16_t, 8> groups{};
    std::copy(head.begin(), head.end(), groups.begin());
    std::copy(tail.begin(), tail.end(), groups.end() - tail.size());
    return from_groups(groups);
}

std::string ipv6_addr::to_string() const {
    if (is_v4_mapped())
        return "::ffff:" + ipv4_addr{(std::uint32_t(group(6)) << 16) | group(7)}.to_string();
    // The longest run of zero groups, the first of equals, if two groups or more.
    std::size_t best = 0, best_len = 0;
    for (std::size_t i = 0; i < 8;) {
        std::size_t n = 0;
        while (i + n < 8 && group(i + n) == 0) ++n;
        if (n > best_len) best = i, best_len = n;
        i += n ? n : 1;
    }
    if (best_len < 2) best_len = 0;
    std::string out;
    char buf[8];
    for (std::size_t i = 0; i < 8; ++i) {
        if (best_len && i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        std::snprintf(buf, sizeof buf, "%x", group(i));
        out += buf;
    }
    return out;
}

std::optional<ipv6_cidr> ipv6_cidr::parse(std::string_view text) {
    const auto slash = text.find('/');
    const auto addr = ipv6_addr::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    if (slash == std::string_view::npos) return ipv6_cidr{*addr, 128};
    const auto len = parse_number(text.substr(slash + 1), 128);
    if (!len) return std::nullopt;
    return ipv6_cidr{*addr, std::uint8_t(*len)};
}

std::optional<ip_addr> ip_addr::parse(std::string_view text) {
    if (auto v4 = ipv4_addr::parse(text)) return ip_addr(*v4);
    if (auto v6 = ipv6_addr::parse(text)) return ip_addr(*v6);
    return std::nullopt;
}

} // namespace tern
