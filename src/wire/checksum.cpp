#include "wire/checksum.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tern::wire {

namespace {

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

#if defined(__x86_64__)
// Payloads are summed 64 bytes at a time in AVX2 lanes when the CPU has them (the build
// targets a baseline without): at MTU 9000 the scalar loop took 15% of a bulk sender's
// cycles and as much of its receiver's. At 256 bytes the two take the same time (bench_wire).
constexpr std::size_t vector_min = 256;

bool has_avx2() {
    static const bool yes = __builtin_cpu_supports("avx2");
    return yes;
}

// The plain sum of the native 16-bit words of `blocks` 64-byte blocks at p; with Copy,
// the blocks are stored at `out` as they are read (a sender that copies its payload into
// the frame reads each byte once instead of twice: the copy, then the sum over the copy).
// vpmaddwd adds adjacent words into 32-bit lanes, but takes them as signed: flipping each
// word's top bit first makes it w - 0x8000, so every pair comes out 0x10000 short, which is
// added back at the end. That is three instructions a 32 bytes (masking and shifting took
// four, and the ports, not the additions' latency, set the pace). Each of the two sums'
// lanes moves by at most 2^16 a block, so after a run of 8192 blocks (512 KiB) even their
// sum fits in 32 bits; longer data goes run by run.
template <bool Copy>
__attribute__((target("avx2"))) std::uint64_t sum_blocks_avx2(std::uint8_t* out, const std::uint8_t* p,
                                                               std::size_t blocks) {
    const __m256i top_bits = _mm256_set1_epi16(std::int16_t(0x8000));
    const __m256i ones = _mm256_set1_epi16(1);
    std::int64_t total = 0;
    const std::size_t pairs = blocks * 16; // 64 bytes are 16 pairs of words
    while (blocks > 0) {
        std::size_t run = std::min<std::size_t>(blocks, 8192);
        blocks -= run;
        __m256i sum_a = _mm256_setzero_si256();
        __m256i sum_b = _mm256_setzero_si256();
        for (; run > 0; --run, p += 64) {
            const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
            const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
            if constexpr (Copy) {
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), a);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32), b);
                out += 64;
            }
            sum_a = _mm256_add_epi32(sum_a, _mm256_madd_epi16(_mm256_xor_si256(a, top_bits), ones));
            sum_b = _mm256_add_epi32(sum_b, _mm256_madd_epi16(_mm256_xor_si256(b, top_bits), ones));
        }
        alignas(32) std::int32_t lanes[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi32(sum_a, sum_b));
        for (std::int32_t lane : lanes) total += lane;
    }
    return std::uint64_t(total + std::int64_t(pairs) * 0x10000);
}
#endif

// Adds the n bytes at p to `acc0`, a sum of native words (of any width: a sum of 16-bit
// words and one of 64-bit words with end-around carry agree modulo 0xffff, which divides
// 2^64 - 1), and gives the total as checksum_add does, added to `sum`. The words are summed
// in native byte order, 8 bytes at a time, and the 16-bit result swapped to big-endian
// once at the end: RFC 1071 §2(B), byte order independence. Two accumulators keep the
// add-with-carry chains independent.
std::uint32_t finish_sum(const std::uint8_t* p, std::size_t n, std::uint64_t acc0, std::uint32_t sum) {
    std::uint64_t acc1 = 0;
    for (; n >= 32; p += 32, n -= 32) {
        acc0 = checksum_add_words(acc0, load64(p));
        acc1 = checksum_add_words(acc1, load64(p + 8));
        acc0 = checksum_add_words(acc0, load64(p + 16));
        acc1 = checksum_add_words(acc1, load64(p + 24));
    }
    for (; n >= 8; p += 8, n -= 8) acc0 = checksum_add_words(acc0, load64(p));
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
    acc1 = checksum_add_words(acc1, tail);
    std::uint64_t acc = checksum_add_words(acc0, acc1);
    std::uint32_t folded = checksum_fold_words(acc);
    std::uint16_t native = checksum_reduce(folded);
    std::uint16_t be = std::endian::native == std::endian::little ? __builtin_bswap16(native) : native;
    return checksum_add_sums(sum, be);
}

// checksum_add(data, sum), and with Copy the data stored at `out` too: 64-byte blocks
// through the vector loop where the CPU has one, the rest (and short data) through the
// scalar one.
template <bool Copy>
std::uint32_t sum_and_copy(std::uint8_t* out, std::span<const std::uint8_t> data, std::uint32_t sum) {
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
    std::uint64_t acc = 0;
#if defined(__x86_64__)
    if (n >= vector_min && has_avx2()) {
        const std::size_t blocks = n / 64;
        acc = sum_blocks_avx2<Copy>(out, p, blocks);
        p += blocks * 64;
        n -= blocks * 64;
        if constexpr (Copy) out += blocks * 64;
    }
#endif
    if constexpr (Copy) {
        if (n > 0) std::memcpy(out, p, n);
    }
    return finish_sum(p, n, acc, sum);
}

} // namespace

std::uint32_t checksum_add(std::span<const std::uint8_t> data, std::uint32_t sum) {
    return sum_and_copy<false>(nullptr, data, sum);
}

std::uint32_t checksum_copy(std::uint8_t* out, std::span<const std::uint8_t> data) {
    return sum_and_copy<true>(out, data, 0);
}

} // namespace tern::wire
