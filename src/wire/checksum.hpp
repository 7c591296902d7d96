// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement
// sum of the data taken as big-endian 16-bit words, an odd last byte padded with zero.
//
// A partial sum is a uint32_t holding a one's complement sum of big-endian word values
// (the numbers load_be16 would read). Partial sums add with an end-around carry, so they
// can be chained without ever overflowing; checksum_reduce folds one to 16 bits and
// checksum_fold gives the value to store (with store_be16) in a checksum field.
// Data that includes a correct checksum field sums to 0xffff, so checksum_ok checks it.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "tern/addr.hpp"

namespace tern::wire {

// a + b in one's complement arithmetic on 32 bits. 0xffff divides 2^32 - 1, so the
// 16-bit fold of the result is the same as if each had been folded first.
constexpr std::uint32_t checksum_add_sums(std::uint32_t a, std::uint32_t b) {
    std::uint32_t r = a + b;
    return r + (r < b);
}

// The same on 64 bits: the carry out of bit 63 comes back in at bit 0 (end-around). The
// result can not carry again: with a carry, a + b - 2^64 is at most 2^64 - 2.
inline std::uint64_t checksum_add_words(std::uint64_t a, std::uint64_t b) {
    std::uint64_t r;
    const bool carry = __builtin_add_overflow(a, b, &r);
    return r + carry;
}

// A 64-bit partial sum as a 32-bit one (its two halves added, end-around).
constexpr std::uint32_t checksum_fold_words(std::uint64_t sum) {
    return checksum_add_sums(std::uint32_t(sum), std::uint32_t(sum >> 32));
}

// Adds `data` to `sum`, taking data[0] as the high byte of a word: the data must start at
// an even offset of the checksummed bytes (use checksum_combine or checksum_accumulator
// to chain blocks of odd length). An odd last byte is padded with a zero byte.
std::uint32_t checksum_add(std::span<const std::uint8_t> data, std::uint32_t sum = 0);

// Copies `data` to `out` (which must not overlap it) and gives checksum_add(data): one
// pass over the bytes where a copy and then a sum take two.
std::uint32_t checksum_copy(std::uint8_t* out, std::span<const std::uint8_t> data);

// The partial sum folded to 16 bits, not complemented.
constexpr std::uint16_t checksum_reduce(std::uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return std::uint16_t(sum);
}

// The value to store in a checksum field: the one's complement of the folded sum.
constexpr std::uint16_t checksum_fold(std::uint32_t sum) {
    return std::uint16_t(~checksum_reduce(sum));
}

// Adds `block`, the partial sum of bytes that start at `offset` in the checksummed data.
// RFC 1071 §2(B): the sum is byte-order independent, so a block that starts at an odd
// offset contributes its own sum with the two bytes swapped.
constexpr std::uint32_t checksum_combine(std::uint32_t sum, std::uint32_t block, std::size_t offset) {
    if (offset & 1) {
        std::uint16_t r = checksum_reduce(block);
        block = std::uint16_t((r << 8) | (r >> 8));
    }
    return checksum_add_sums(sum, block);
}

// True if `data` (added to `sum`, e.g. a pseudo-header sum) includes a correct checksum.
inline bool checksum_ok(std::span<const std::uint8_t> data, std::uint32_t sum = 0) {
    return checksum_reduce(checksum_add(data, sum)) == 0xffff;
}

// checksum_ok for the 20 bytes of an IPv4 header without options, the header of nearly
// every packet received: three loads and their end-around-carry additions, where the
// general loop took ~68 instructions a packet. Native words, as checksum_add: a correct
// sum is 0xffff in either byte order.
inline bool checksum_ok_20(const std::uint8_t* p) {
    std::uint64_t a, b;
    std::uint32_t c;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    std::memcpy(&c, p + 16, 4);
    return checksum_reduce(checksum_fold_words(checksum_add_words(checksum_add_words(a, b), c))) == 0xffff;
}

// The TCP/UDP pseudo-header of RFC 9293 §3.1: source, destination, zero, protocol, and
// the length of the TCP header plus data.
constexpr std::uint32_t pseudo_header_sum(ipv4_addr src, ipv4_addr dst, std::uint8_t protocol,
                                          std::uint16_t l4_length) {
    return (src.value >> 16) + (src.value & 0xffff) + (dst.value >> 16) + (dst.value & 0xffff) +
           protocol + l4_length;
}

// For hardware L4 checksum offload: the NIC expects the checksum field to hold the
// pseudo-header sum folded but not complemented (DPDK rte_ipv4_phdr_cksum). For TSO pass
// l4_length 0, as rte_ipv4_phdr_cksum does with RTE_MBUF_F_TX_TCP_SEG. Store with store_be16.
constexpr std::uint16_t pseudo_header_partial(ipv4_addr src, ipv4_addr dst, std::uint8_t protocol,
                                              std::uint16_t l4_length) {
    return checksum_reduce(pseudo_header_sum(src, dst, protocol, l4_length));
}

// The 32 address bytes of IPv6's pseudo-header summed as eight native words, folded to 16
// bits, and put in the 16-bit groups' order: RFC 1071 §2(B), the sum of byte-swapped
// words is the byte-swapped sum. Group by group it took ~90 instructions a segment each
// way, the larger part of what a TCP segment costs more over IPv6 than over IPv4.
inline std::uint32_t address_words_sum(const ipv6_addr& src, const ipv6_addr& dst) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < 16; i += 4) {
        std::uint32_t s, d;
        std::memcpy(&s, src.bytes.data() + i, 4);
        std::memcpy(&d, dst.bytes.data() + i, 4);
        sum += std::uint64_t(s) + d;
    }
    sum = (sum & 0xffffffff) + (sum >> 32); // at most 33 bits
    sum = (sum & 0xffff) + (sum >> 16);     // at most 18 bits
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    const auto folded = std::uint16_t(sum);
    if constexpr (std::endian::native == std::endian::little) return std::uint16_t(folded << 8 | folded >> 8);
    return folded;
}

// The IPv6 pseudo-header of RFC 8200 §8.1, for TCP and ICMPv6 alike: source, destination,
// the upper-layer packet length (32 bits), three zero bytes and the Next Header value of
// the upper layer (not of an extension header before it).
constexpr std::uint32_t pseudo_header_sum(const ipv6_addr& src, const ipv6_addr& dst, std::uint8_t next_header,
                                          std::uint32_t upper_length) {
    std::uint32_t sum = (upper_length >> 16) + (upper_length & 0xffff) + next_header;
    if (std::is_constant_evaluated()) {
        for (std::size_t i = 0; i < 8; ++i) sum += std::uint32_t(src.group(i)) + dst.group(i);
        return sum; // at most 18 * 0xffff: no carry lost
    }
    return sum + address_words_sum(src, dst);
}

constexpr std::uint16_t pseudo_header_partial(const ipv6_addr& src, const ipv6_addr& dst, std::uint8_t next_header,
                                              std::uint32_t upper_length) {
    return checksum_reduce(pseudo_header_sum(src, dst, next_header, upper_length));
}

// Sums data that arrives in pieces of any length (a payload spread over several buffers),
// keeping track of the offset so that pieces of odd length chain correctly.
class checksum_accumulator {
public:
    constexpr checksum_accumulator() = default;
    // Starts from a partial sum, such as a pseudo-header sum; it takes no offset.
    constexpr explicit checksum_accumulator(std::uint32_t initial) : sum_(initial) {}

    void add(std::span<const std::uint8_t> data) {
        sum_ = checksum_combine(sum_, checksum_add(data), length_);
        length_ += data.size();
    }
    // add(data) while copying it to `out` (checksum_copy).
    void copy(std::uint8_t* out, std::span<const std::uint8_t> data) {
        sum_ = checksum_combine(sum_, checksum_copy(out, data), length_);
        length_ += data.size();
    }

    constexpr std::uint32_t sum() const { return sum_; }
    constexpr std::size_t length() const { return length_; }
    constexpr std::uint16_t checksum() const { return checksum_fold(sum_); }

private:
    std::uint32_t sum_ = 0;
    std::size_t length_ = 0;
};

} // namespace tern::wire
