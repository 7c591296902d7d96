// Shared by the simulation tests: a fixture owning an mbuf pool whose in-use count must
// come back to its start value after every test, numbered test packets, and a scripted
// inner device.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "tern/clock.hpp"
#include "dpdk/device.hpp"
#include "dpdk/mempool.hpp"
#include "script_device.hpp"

namespace tern::test {

// Packet layout: 14 bytes that stand for an Ethernet header, the packet's id (4 bytes,
// big-endian), then a pattern derived from id and position. Synthetic, not a real frame:
// these tests look at bytes, not protocols.
constexpr std::uint32_t eth_len = 14;
constexpr std::uint32_t id_offset = eth_len;

inline std::uint8_t pattern_byte(std::uint32_t id, std::uint32_t pos) {
    return std::uint8_t(id * 31u + pos * 7u + (pos >> 8));
}

inline std::vector<std::uint8_t> expected_bytes(std::uint32_t id, std::uint32_t len) {
    std::vector<std::uint8_t> b(len);
    for (std::uint32_t i = 0; i < len; ++i) b[i] = pattern_byte(id, i);
    for (std::uint32_t i = 0; i < eth_len && i < len; ++i) b[i] = std::uint8_t(0xe0 + i);
    for (std::uint32_t i = 0; i < 4 && id_offset + i < len; ++i) b[id_offset + i] = std::uint8_t(id >> (24 - 8 * i));
    return b;
}

// Every byte of the packet, across segments.
inline std::vector<std::uint8_t> bytes_of(const rte_mbuf* m) {
    std::vector<std::uint8_t> b(m->pkt_len);
    std::uint32_t at = 0;
    for (const rte_mbuf* seg = m; seg; seg = seg->next) {
        std::memcpy(b.data() + at, rte_pktmbuf_mtod(seg, const std::uint8_t*), seg->data_len);
        at += seg->data_len;
    }
    return b;
}

inline std::uint32_t id_of(const rte_mbuf* m) {
    auto b = bytes_of(m);
    return std::uint32_t(b[id_offset]) << 24 | std::uint32_t(b[id_offset + 1]) << 16 |
           std::uint32_t(b[id_offset + 2]) << 8 | b[id_offset + 3];
}

inline int differing_bits(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    if (a.size() != b.size()) return -1;
    int bits = 0;
    for (std::size_t i = 0; i < a.size(); ++i) bits += __builtin_popcount(unsigned(a[i] ^ b[i]));
    return bits;
}

class sim_test : public ::testing::Test {
public:
    sim_test() : pool_(make_pool("sim")), copy_pool_(make_pool("sim_copy")) {}

    void SetUp() override {
        start_in_use_ = pool_.in_use();
        start_copy_in_use_ = copy_pool_.in_use();
    }
    // Nothing leaked: every mbuf taken during the test is back.
    void TearDown() override {
        EXPECT_EQ(pool_.in_use(), start_in_use_) << "mbufs leaked from the test pool";
        EXPECT_EQ(copy_pool_.in_use(), start_copy_in_use_) << "mbufs leaked from the copy pool";
    }

    static mbuf_pool make_pool(const std::string& what) {
        static int serial = 0;
        auto pool = mbuf_pool::create(what + "_" + std::to_string(serial++), 8191);
        if (!pool) {
            ADD_FAILURE() << pool.error();
            std::abort();
        }
        return std::move(pool).value();
    }

    // A packet of `len` bytes (at least 18: header and id) with the given id.
    rte_mbuf* packet(std::uint32_t id, std::uint16_t len = 64) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool_.get());
        EXPECT_NE(m, nullptr);
        if (!m) return nullptr;
        auto b = expected_bytes(id, len);
        char* d = rte_pktmbuf_append(m, len);
        EXPECT_NE(d, nullptr);
        std::memcpy(d, b.data(), len);
        return m;
    }

    // The same bytes as packet(id, len) in two segments, split at `first`.
    rte_mbuf* chained_packet(std::uint32_t id, std::uint16_t len, std::uint16_t first) {
        auto b = expected_bytes(id, len);
        rte_mbuf* head = rte_pktmbuf_alloc(pool_.get());
        rte_mbuf* tail = rte_pktmbuf_alloc(pool_.get());
        std::memcpy(rte_pktmbuf_append(head, first), b.data(), first);
        std::memcpy(rte_pktmbuf_append(tail, std::uint16_t(len - first)), b.data() + first, len - first);
        EXPECT_EQ(rte_pktmbuf_chain(head, tail), 0);
        return head;
    }

    static void free_all(std::vector<rte_mbuf*>& v) {
        for (auto* m : v) rte_pktmbuf_free(m);
        v.clear();
    }

    mbuf_pool pool_;
    mbuf_pool copy_pool_;
    virtual_clock clock_;
    std::uint32_t start_in_use_ = 0;
    std::uint32_t start_copy_in_use_ = 0;
};

} // namespace tern::test
