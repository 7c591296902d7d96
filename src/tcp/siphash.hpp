// SipHash-2-4 (Aumasson & Bernstein) of 64-bit words: the keyed pseudo-random function of
// RFC 6528 §3 (ISNs), of the SYN cookies (syn_cookie.hpp) and of the TSval offsets (RFC
// 7323 §7.1, endpoint.cpp). MD5 would also do (RFC 6528's
// example); this is shorter and faster.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "tern/addr.hpp"

namespace tern::tcp {

struct siphash_key {
    std::uint64_t k0 = 0;
    std::uint64_t k1 = 0;
};

inline std::uint64_t siphash(const siphash_key& key, std::initializer_list<std::uint64_t> words) {
    std::uint64_t v0 = key.k0 ^ 0x736f6d6570736575ull, v1 = key.k1 ^ 0x646f72616e646f6dull;
    std::uint64_t v2 = key.k0 ^ 0x6c7967656e657261ull, v3 = key.k1 ^ 0x7465646279746573ull;
    auto round = [&] {
        v0 += v1; v1 = std::rotl(v1, 13); v1 ^= v0; v0 = std::rotl(v0, 32);
        v2 += v3; v3 = std::rotl(v3, 16); v3 ^= v2;
        v0 += v3; v3 = std::rotl(v3, 21); v3 ^= v0;
        v2 += v1; v1 = std::rotl(v1, 17); v1 ^= v2; v2 = std::rotl(v2, 32);
    };
    auto compress = [&](std::uint64_t m) {
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    };
    for (std::uint64_t m : words) compress(m);
    compress(std::uint64_t(8 * words.size()) << 56); // the message length, no tail bytes
    v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) round();
    return v0 ^ v1 ^ v2 ^ v3;
}

// An address's 16 bytes as two words, for hashing the IPv6 flows.
inline std::pair<std::uint64_t, std::uint64_t> address_words(const ip_addr& a) {
    std::uint64_t w[2];
    std::memcpy(w, a.v6().bytes.data(), 16);
    return {w[0], w[1]};
}

} // namespace tern::tcp
