#include "wire/checksum.hpp"

#include <bit>
#include <cstring>

namespace tern::wire {

namespace {

// a + b with the carry out of bit 63 added back in (end-around carry). The result can not
// overflow again: with a carry, a + b - 2^64 is at most 2^64 - 2.
inline std::uint64_t add_end_around(std::uint64_t a, std::uint64_t b) {
    std::uint64_t r;
    bool carry = __builtin_add_overflow(a, b, &r);
    return r + carry;
}

// Native-order loads: byte order does not matter to the sum until the end.
template <class T>
inline T load_native(const std::uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline std::uint64_t load64(const std::uint8_t* p) { return load_native<std::uint64_t>(p); }
inline std::uint32_t load32(const std::uint8_t* p) { return load_native<std::uint32_t>(p); }
inline std::uint16_t load16(const std::uint8_t* p) { return load_native<std::uint16_t>(p); }

} // namespace

std::uint32_t checksum_add(std::span<const std::uint8_t> data, std::uint32_t sum) {
    // The words are summed in native byte order, 8 bytes at a time, and the 16-bit result
    // swapped to big-endian once at the end: RFC 1071 §2(B), byte order independence.
    // Two accumulators keep the add-with-carry chains independent.
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
    std::uint64_t acc0 = 0;
    std::uint64_t acc1 = 0;
    for (; n >= 32; p += 32, n -= 32) {
        acc0 = add_end_around(acc0, load64(p));
        acc1 = add_end_around(acc1, load64(p + 8));
        acc0 = add_end_around(acc0, load64(p + 16));
        acc1 = add_end_around(acc1, load64(p + 24));
    }
    for (; n >= 8; p += 8, n -= 8) acc0 = add_end_around(acc0, load64(p));
    // Fixed-size loads for the last 0..7 bytes (a memcpy of variable length would be a
    // call). A 32-bit word is two 16-bit words: hi * 2^16 + lo equals hi + lo mod 0xffff.
    // `tail` stays below 2^33, so plain additions do.
    std::uint64_t tail = 0;
    if (n & 4) {
        tail += load32(p);
        p += 4;
    }
    if (n & 2) {
        tail += load16(p);
        p += 2;
    }
    if (n & 1) {
        // An odd last byte is the first byte of its 16-bit word, padded with zero
        // (RFC 1071 §1): the low half of a native word on a little-endian machine.
        tail += std::endian::native == std::endian::little ? std::uint64_t(*p) : std::uint64_t(*p) << 8;
    }
    acc1 = add_end_around(acc1, tail);
    std::uint64_t acc = add_end_around(acc0, acc1);
    std::uint32_t folded = checksum_add_sums(std::uint32_t(acc), std::uint32_t(acc >> 32));
    std::uint16_t native = checksum_reduce(folded);
    std::uint16_t be = std::endian::native == std::endian::little ? __builtin_bswap16(native) : native;
    return checksum_add_sums(sum, be);
}

} // namespace tern::wire
