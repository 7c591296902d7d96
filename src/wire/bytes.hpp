// Explicit big-endian loads and stores. Every multi-byte wire field goes through these:
// no casts onto packed structs, no bitfields, no alignment assumptions. g++ turns each
// into one load or store plus a bswap.
#pragma once

#include <cstdint>

namespace tern::wire {

constexpr std::uint16_t load_be16(const std::uint8_t* p) {
    return std::uint16_t((std::uint16_t(p[0]) << 8) | p[1]);
}

constexpr std::uint32_t load_be32(const std::uint8_t* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

constexpr void store_be16(std::uint8_t* p, std::uint16_t v) {
    p[0] = std::uint8_t(v >> 8);
    p[1] = std::uint8_t(v);
}

constexpr void store_be32(std::uint8_t* p, std::uint32_t v) {
    p[0] = std::uint8_t(v >> 24);
    p[1] = std::uint8_t(v >> 16);
    p[2] = std::uint8_t(v >> 8);
    p[3] = std::uint8_t(v);
}

} // namespace tern::wire
