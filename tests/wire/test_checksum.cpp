#include "wire/checksum.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "fixtures.hpp"
#include "wire/bytes.hpp"

namespace tern::wire {
namespace {

using test::from_hex;

// RFC 1071 as plainly as it can be written: 16-bit big-endian words, 32-bit sum, a last
// odd byte padded with zero, carries folded at the end. The reference for everything else.
std::uint16_t naive_checksum(std::span<const std::uint8_t> data, std::uint32_t initial = 0) {
    std::uint64_t sum = initial; // 64 bits: no carry lost below 2^48 words
    std::size_t i = 0;
    for (; i + 1 < data.size(); i += 2) sum += std::uint32_t(data[i]) << 8 | data[i + 1];
    if (i < data.size()) sum += std::uint32_t(data[i]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return std::uint16_t(~sum);
}

std::vector<std::uint8_t> random_bytes(std::mt19937& rng, std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (auto& b : v) b = std::uint8_t(rng());
    return v;
}

TEST(BigEndian, LoadsAndStores) {
    std::uint8_t b[4] = {0x12, 0x34, 0x56, 0x78};
    EXPECT_EQ(load_be16(b), 0x1234);
    EXPECT_EQ(load_be32(b), 0x12345678u);
    store_be16(b, 0xabcd);
    EXPECT_EQ(b[0], 0xab);
    EXPECT_EQ(b[1], 0xcd);
    store_be32(b, 0xdeadbeef);
    EXPECT_EQ((std::vector<std::uint8_t>(b, b + 4)), (std::vector<std::uint8_t>{0xde, 0xad, 0xbe, 0xef}));
    static_assert(load_be16(std::array<std::uint8_t, 2>{0xc6, 0x12}.data()) == 0xc612);
}

// RFC 1071 §3, "Numerical Examples": the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
TEST(Checksum, Rfc1071Example) {
    auto bytes = from_hex("0001 f203 f4f5 f6f7");
    EXPECT_EQ(checksum_reduce(checksum_add(bytes)), 0xddf2);
    EXPECT_EQ(checksum_fold(checksum_add(bytes)), 0x220d);
    // With its checksum appended the data verifies.
    bytes.push_back(0x22);
    bytes.push_back(0x0d);
    EXPECT_TRUE(checksum_ok(bytes));
}

// The IPv4 header of the captured SYN (fixtures.hpp), checksum 0xafa8.
TEST(Checksum, CapturedIpv4Header) {
    auto header = from_hex("4500 003c feeb 4000 4006 afa8 c612 0001 c612 0002");
    EXPECT_TRUE(checksum_ok(header));
    EXPECT_EQ(checksum_fold(checksum_add(header)), 0);
    store_be16(header.data() + 10, 0);
    EXPECT_EQ(checksum_fold(checksum_add(header)), 0xafa8);
}

// The 20-byte header check agrees with the general one on random headers given a right
// checksum, on the same with one bit flipped, and on sums that carry out of 64 bits.
TEST(Checksum, TwentyByteHeaderCheckMatchesTheGeneralOne) {
    std::mt19937 rng(20);
    std::vector<std::uint8_t> buffer(21);
    for (int round = 0; round < 20000; ++round) {
        const std::size_t at = std::size_t(round & 1); // aligned and not
        std::span<std::uint8_t> header(buffer.data() + at, 20);
        for (auto& b : header) b = round % 5 == 0 ? 0xff : std::uint8_t(rng());
        store_be16(header.data() + 10, 0);
        store_be16(header.data() + 10, naive_checksum(header));
        EXPECT_TRUE(checksum_ok_20(header.data()));
        ASSERT_EQ(checksum_ok_20(header.data()), checksum_ok(header)) << round;
        header[rng() % 20] ^= std::uint8_t(1u << (rng() % 8));
        ASSERT_EQ(checksum_ok_20(header.data()), checksum_ok(header)) << round;
    }
    auto captured = from_hex("4500 003c feeb 4000 4006 afa8 c612 0001 c612 0002");
    EXPECT_TRUE(checksum_ok_20(captured.data()));
    captured[19] ^= 1;
    EXPECT_FALSE(checksum_ok_20(captured.data()));
}

// The ICMP echo request of the capture: 24 bytes, checksum 0xf12c.
TEST(Checksum, CapturedIcmpMessage) {
    auto message = test::l4_part(test::icmp_echo_request_frame);
    ASSERT_EQ(message.size(), 24u);
    EXPECT_TRUE(checksum_ok(message));
    store_be16(message.data() + 2, 0);
    EXPECT_EQ(checksum_fold(checksum_add(message)), 0xf12c);
}

// The captured SYN verifies with its pseudo-header (RFC 9293 §3.1).
TEST(Checksum, CapturedTcpWithPseudoHeader) {
    auto segment = test::l4_part(test::tcp_syn_frame);
    auto pseudo = pseudo_header_sum(test::host_a, test::host_b, 6, std::uint16_t(segment.size()));
    EXPECT_TRUE(checksum_ok(segment, pseudo));
    EXPECT_FALSE(checksum_ok(segment, pseudo_header_sum(test::host_b, test::host_b, 6, std::uint16_t(segment.size()))));
    EXPECT_FALSE(checksum_ok(segment));
    store_be16(segment.data() + 16, 0);
    EXPECT_EQ(checksum_fold(checksum_add(segment, pseudo)), 0x2a18);
}

TEST(Checksum, EmptyAndZero) {
    EXPECT_EQ(checksum_add({}), 0u);
    EXPECT_EQ(checksum_fold(0), 0xffff);
    EXPECT_EQ(checksum_add({}, 0x1234), 0x1234u);
    std::vector<std::uint8_t> zeros(100, 0);
    EXPECT_EQ(checksum_fold(checksum_add(zeros)), 0xffff);
    EXPECT_FALSE(checksum_ok(zeros)); // a correct checksum of zeros is 0xffff, not 0
}

TEST(Checksum, OddLengthPadsLastByteWithZero) {
    auto odd = from_hex("0001 f203 f4f5 f6");
    auto even = from_hex("0001 f203 f4f5 f600");
    EXPECT_EQ(checksum_fold(checksum_add(odd)), checksum_fold(checksum_add(even)));
    EXPECT_EQ(checksum_fold(checksum_add(from_hex("ab"))), std::uint16_t(~0xab00));
}

TEST(Checksum, MatchesNaiveForEveryLengthAndAlignment) {
    std::mt19937 rng(1071);
    auto buffer = random_bytes(rng, 600);
    for (std::size_t start = 0; start < 8; ++start) {
        for (std::size_t n = 0; n + start <= buffer.size(); ++n) {
            std::span<const std::uint8_t> data(buffer.data() + start, n);
            ASSERT_EQ(checksum_fold(checksum_add(data)), naive_checksum(data)) << "start " << start << " len " << n;
        }
    }
}

// Long data goes through the vector sum where the CPU has one (64-byte blocks, in runs of
// 512 KiB), its tail through the scalar loop: lengths and starts around both edges, and
// words that push the lanes to their extremes (0xffff and 0x0000 are the largest and the
// smallest once the sum has flipped their top bits).
TEST(Checksum, MatchesNaiveForLongData) {
    std::mt19937 rng(9000);
    const auto buffer = random_bytes(rng, (1u << 20) + 200);
    for (std::size_t n : {255u, 256u, 257u, 319u, 320u, 1500u, 8999u, 9000u, 65535u, 524288u, 524352u, 1048579u}) {
        for (std::size_t start : {0u, 1u, 2u, 31u, 33u}) {
            std::span<const std::uint8_t> data(buffer.data() + start, n);
            ASSERT_EQ(checksum_fold(checksum_add(data)), naive_checksum(data)) << "start " << start << " len " << n;
        }
    }
    for (std::uint8_t fill : {0xff, 0x00, 0x80, 0x7f}) {
        const std::vector<std::uint8_t> same((1u << 20) + 64, fill);
        EXPECT_EQ(checksum_fold(checksum_add(same)), naive_checksum(same)) << "fill " << int(fill);
    }
}

TEST(Checksum, AllOnesDoNotOverflow) {
    std::vector<std::uint8_t> ff(65534, 0xff);
    EXPECT_EQ(checksum_fold(checksum_add(ff)), naive_checksum(ff));
    EXPECT_EQ(checksum_reduce(checksum_add(ff)), 0xffff);
    ff.push_back(0xff); // odd: the last word is ff00
    EXPECT_EQ(checksum_fold(checksum_add(ff)), naive_checksum(ff));
    EXPECT_EQ(checksum_reduce(checksum_add(ff)), 0xff00);
    // Chaining many partial sums stays correct: end-around carry on 32 bits.
    std::uint32_t sum = 0;
    std::uint32_t reference = 0;
    for (int i = 0; i < 100000; ++i) {
        sum = checksum_add(std::span(ff).first(64), sum);
        reference = checksum_add_sums(reference, 0xffff);
    }
    EXPECT_EQ(checksum_reduce(sum), 0xffff);
    EXPECT_EQ(checksum_reduce(reference), 0xffff);
}

TEST(Checksum, InitialSumIsAdded) {
    std::mt19937 rng(7);
    auto data = random_bytes(rng, 333);
    for (std::uint32_t initial : {0u, 1u, 0xffffu, 0x10000u, 0x12345678u, 0xffffffffu}) {
        std::uint32_t folded_initial = checksum_reduce(initial);
        EXPECT_EQ(checksum_fold(checksum_add(data, initial)), naive_checksum(data, folded_initial)) << initial;
    }
}

TEST(Checksum, ChainsAtEvenBoundariesByPlainAddition) {
    std::mt19937 rng(2);
    auto data = random_bytes(rng, 257);
    std::span<const std::uint8_t> all(data);
    for (std::size_t cut = 0; cut <= data.size(); cut += 2) {
        auto sum = checksum_add(all.subspan(cut), checksum_add(all.first(cut)));
        ASSERT_EQ(checksum_fold(sum), naive_checksum(all)) << cut;
    }
}

TEST(Checksum, ChainsAtOddBoundariesWithCombine) {
    std::mt19937 rng(3);
    auto data = random_bytes(rng, 203);
    std::span<const std::uint8_t> all(data);
    const auto expected = naive_checksum(all);
    for (std::size_t cut = 0; cut <= data.size(); ++cut) {
        auto sum = checksum_combine(checksum_add(all.first(cut)), checksum_add(all.subspan(cut)), cut);
        ASSERT_EQ(checksum_fold(sum), expected) << cut;
    }
    // Plain addition at an odd boundary is wrong, which is why combine exists.
    auto wrong = checksum_add(all.subspan(1), checksum_add(all.first(1)));
    EXPECT_NE(checksum_fold(wrong), expected);
}

// The accumulator adds, or copies into one run (checksum_copy), pieces of any length: short
// ones summed by the scalar loop, long ones by the vector loop (a send ring's wrap gives two
// pieces, of odd lengths).
TEST(Checksum, AccumulatorChainsPiecesOfAnyLength) {
    std::mt19937 rng(4);
    auto data = random_bytes(rng, 9000);
    std::span<const std::uint8_t> all(data);
    for (int round = 0; round < 200; ++round) {
        checksum_accumulator acc, copying;
        std::vector<std::uint8_t> out(data.size());
        const unsigned longest = round % 2 ? 70 : 3000;
        std::size_t at = 0;
        while (at < data.size()) {
            std::size_t n = std::min<std::size_t>(rng() % longest, data.size() - at);
            acc.add(all.subspan(at, n));
            copying.copy(out.data() + at, all.subspan(at, n));
            at += n;
        }
        ASSERT_EQ(acc.length(), data.size());
        ASSERT_EQ(acc.checksum(), naive_checksum(all));
        ASSERT_EQ(copying.checksum(), naive_checksum(all));
        ASSERT_EQ(out, data);
    }
    // Starting from a pseudo-header sum.
    auto segment = test::l4_part(test::tcp_data_frame);
    checksum_accumulator acc(pseudo_header_sum(test::host_a, test::host_b, 6, std::uint16_t(segment.size())));
    for (std::size_t i = 0; i < segment.size(); i += 3)
        acc.add(std::span(segment).subspan(i, std::min<std::size_t>(3, segment.size() - i)));
    EXPECT_EQ(checksum_reduce(acc.sum()), 0xffff);
    EXPECT_EQ(acc.checksum(), 0);
}

// checksum_copy sums what checksum_add sums and leaves an exact copy, nothing past it:
// short data (a plain copy and the scalar sum) and long data (the vector loop that copies
// as it sums, then its tail), from and to starts of every alignment.
TEST(Checksum, CopyGivesTheSumAndTheBytes) {
    std::mt19937 rng(8960);
    const auto source = random_bytes(rng, 9100);
    for (std::size_t n : {0u, 1u, 7u, 63u, 255u, 256u, 257u, 319u, 1448u, 1449u, 8948u, 8960u, 9000u}) {
        for (std::size_t from : {0u, 1u, 3u, 32u}) {
            for (std::size_t to : {0u, 1u, 5u}) {
                std::vector<std::uint8_t> out(to + n + 64, 0xa5);
                std::span<const std::uint8_t> data(source.data() + from, n);
                ASSERT_EQ(checksum_fold(checksum_copy(out.data() + to, data)), naive_checksum(data))
                    << "len " << n << " from " << from << " to " << to;
                ASSERT_TRUE(std::equal(data.begin(), data.end(), out.begin() + std::ptrdiff_t(to))) << "len " << n;
                ASSERT_TRUE(std::all_of(out.begin(), out.begin() + std::ptrdiff_t(to), [](auto b) { return b == 0xa5; }));
                ASSERT_TRUE(std::all_of(out.begin() + std::ptrdiff_t(to + n), out.end(), [](auto b) { return b == 0xa5; }));
            }
        }
    }
}

TEST(Checksum, PseudoHeader) {
    // 198.18.0.1 -> 198.18.0.2, TCP, 40 bytes:
    // c612 + 0001 + c612 + 0002 + 0006 + 0028 = 0x18c55, folded 0x8c56.
    EXPECT_EQ(pseudo_header_sum(test::host_a, test::host_b, 6, 40), 0x18c55u);
    EXPECT_EQ(pseudo_header_partial(test::host_a, test::host_b, 6, 40), 0x8c56);
    // The same as checksumming the 12 pseudo-header bytes of RFC 9293 §3.1.
    auto bytes = from_hex("c612 0001 c612 0002 0006 0028");
    EXPECT_EQ(checksum_reduce(checksum_add(bytes)), 0x8c56);
    static_assert(pseudo_header_partial(ipv4_addr{0xffffffff}, ipv4_addr{0xffffffff}, 0xff, 0xffff) ==
                  checksum_reduce(4 * 0xffff + 0xff + 0xffff));
}

// IPv6's pseudo-header at run time (address words, RFC 1071 §2(B)) against the 40 bytes of
// RFC 8200 §8.1 checksummed as they are, on random addresses and the all-ones ones.
TEST(Checksum, Ipv6PseudoHeaderByWordsMatchesTheBytes) {
    std::mt19937_64 rng(7);
    for (int n = 0; n < 2000; ++n) {
        ipv6_addr src, dst;
        for (auto& b : src.bytes) b = std::uint8_t(rng());
        for (auto& b : dst.bytes) b = std::uint8_t(rng());
        if (n == 0) src.bytes.fill(0xff), dst.bytes.fill(0xff);
        if (n == 1) src.bytes.fill(0), dst.bytes.fill(0);
        const auto length = std::uint32_t(rng() % 70000);
        std::vector<std::uint8_t> bytes(src.bytes.begin(), src.bytes.end());
        bytes.insert(bytes.end(), dst.bytes.begin(), dst.bytes.end());
        for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(std::uint8_t(length >> shift));
        bytes.insert(bytes.end(), {0, 0, 0, 6});
        const std::uint32_t sum = pseudo_header_sum(src, dst, 6, length);
        // Equal as one's complement sums: 0 and 0xffff are both zero.
        EXPECT_EQ(checksum_reduce(sum) % 0xffff, checksum_reduce(checksum_add(bytes)) % 0xffff) << n;
    }
}

// What a NIC with TCP checksum offload does: it sums the segment as it is, with the
// pseudo-header partial (folded, not complemented) in the checksum field, and stores the
// complement. The result must equal the software checksum.
TEST(Checksum, PseudoHeaderPartialIsWhatOffloadExpects) {
    auto segment = test::l4_part(test::tcp_data_frame);
    const auto len = std::uint16_t(segment.size());
    store_be16(segment.data() + 16, pseudo_header_partial(test::host_a, test::host_b, 6, len));
    const auto nic = checksum_fold(checksum_add(segment));
    EXPECT_EQ(nic, 0xfe19); // the captured checksum
}

} // namespace
} // namespace tern::wire
