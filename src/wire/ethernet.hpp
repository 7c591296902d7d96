// Ethernet II framing (IEEE 802.3 with an EtherType): destination, source, type.
// No VLAN tags: a tagged frame shows up with type 0x8100 and the engine drops it.
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

constexpr std::size_t ethernet_header_len = 14;

namespace ether_type {
inline constexpr std::uint16_t ipv4 = 0x0800;
inline constexpr std::uint16_t arp = 0x0806;
inline constexpr std::uint16_t ipv6 = 0x86dd;
} // namespace ether_type

namespace ethernet_field {
inline constexpr std::size_t dst = 0;
inline constexpr std::size_t src = 6;
inline constexpr std::size_t type = 12;
} // namespace ethernet_field

static_assert(ethernet_field::type + 2 == ethernet_header_len);

// A frame whose header has been checked to be present.
class ethernet_view {
public:
    static result<ethernet_view, drop_reason> parse(std::span<const std::uint8_t> frame) {
        if (frame.size() < ethernet_header_len) return unexpected{drop_reason::eth_truncated};
        return ethernet_view{frame};
    }

    mac_addr dst() const { return load_mac(ethernet_field::dst); }
    mac_addr src() const { return load_mac(ethernet_field::src); }
    std::uint16_t type() const { return load_be16(data_.data() + ethernet_field::type); }
    std::span<const std::uint8_t> header() const { return data_.first(ethernet_header_len); }
    std::span<const std::uint8_t> payload() const { return data_.subspan(ethernet_header_len); }
    std::span<const std::uint8_t> frame() const { return data_; }

private:
    explicit ethernet_view(std::span<const std::uint8_t> frame) : data_(frame) {}

    mac_addr load_mac(std::size_t at) const {
        mac_addr m;
        std::memcpy(m.bytes.data(), data_.data() + at, m.bytes.size());
        return m;
    }

    std::span<const std::uint8_t> data_;
};

struct ethernet_repr {
    mac_addr dst;
    mac_addr src;
    std::uint16_t type = 0;

    static constexpr std::size_t length = ethernet_header_len;

    static ethernet_repr from(const ethernet_view& v) { return {v.dst(), v.src(), v.type()}; }

    // Writes `length` bytes at `out`.
    void emit(std::uint8_t* out) const {
        std::memcpy(out + ethernet_field::dst, dst.bytes.data(), dst.bytes.size());
        std::memcpy(out + ethernet_field::src, src.bytes.data(), src.bytes.size());
        store_be16(out + ethernet_field::type, type);
    }

    friend bool operator==(const ethernet_repr&, const ethernet_repr&) = default;
};

} // namespace tern::wire
