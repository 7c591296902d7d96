// The MTU's reach below the engine: mbufs that hold a whole frame (mbuf_data_room), and the
// ports that refuse an MTU they cannot carry (mtu_refusal), from the limits a driver reports.
// The limits here are those DPDK 22.11's drivers give in rte_eth_dev_info.
#include <climits>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"

namespace tern::test {
namespace {

// net_tap: no max_mtu of its own (65535), frames of at most 1522 bytes.
port_limits tap_limits() { return port_limits{0, "net_tap", 68, UINT16_MAX, 1522}; }

// net_memif: no max_mtu, max_rx_pktlen 1518 (which it does not keep), buffers of `bsize`.
port_limits memif_limits(std::uint32_t bsize) { return port_limits{1, "net_memif", 68, UINT16_MAX, 1518, bsize}; }

std::uint32_t mbuf_bytes(std::uint16_t mtu) { return mbuf_data_room(mtu) - RTE_PKTMBUF_HEADROOM; }

TEST(mbuf_data_room, is_dpdks_default_up_to_an_mtu_of_2034) {
    EXPECT_EQ(mbuf_data_room(576), RTE_MBUF_DEFAULT_BUF_SIZE);
    EXPECT_EQ(mbuf_data_room(1500), RTE_MBUF_DEFAULT_BUF_SIZE);
    EXPECT_EQ(mbuf_data_room(2034), RTE_MBUF_DEFAULT_BUF_SIZE); // 2034 + 14 = 2048
    EXPECT_GT(mbuf_data_room(2035), RTE_MBUF_DEFAULT_BUF_SIZE);
}

TEST(mbuf_data_room, holds_headroom_and_a_whole_frame_in_cache_lines) {
    for (std::uint16_t mtu : {2035, 4000, 8999, 9000}) {
        const std::uint16_t room = mbuf_data_room(mtu);
        EXPECT_GE(room, RTE_PKTMBUF_HEADROOM + 14u + mtu) << mtu;
        EXPECT_LT(room, RTE_PKTMBUF_HEADROOM + 14u + mtu + RTE_CACHE_LINE_SIZE) << mtu;
        EXPECT_EQ(room % RTE_CACHE_LINE_SIZE, 0u) << mtu;
    }
}

// What the TCP endpoint does with one segment: IPv4 + TCP + payload appended (up to the
// MTU), then Ethernet prepended into the headroom (engine::send_to).
TEST(mbuf_data_room, an_mbuf_of_a_9000_pool_takes_a_full_frame) {
    auto pool = mbuf_pool::create("mtu_9000_pool", 1023, mbuf_data_room(9000));
    ASSERT_TRUE(pool.has_value()) << pool.error();
    rte_mbuf* m = rte_pktmbuf_alloc(pool->get());
    ASSERT_NE(m, nullptr);
    EXPECT_NE(rte_pktmbuf_append(m, 9000), nullptr);
    EXPECT_NE(rte_pktmbuf_prepend(m, 14), nullptr);
    EXPECT_EQ(rte_pktmbuf_pkt_len(m), 9014u);
    EXPECT_EQ(m->nb_segs, 1);
    rte_pktmbuf_free(m);
}

TEST(mtu_refusal, a_port_takes_what_its_largest_frame_holds) {
    // 1522 - 18 (Ethernet header and CRC, the overhead DPDK assumes without a max_mtu).
    EXPECT_FALSE(mtu_refusal(tap_limits(), 1500, mbuf_bytes(1500)));
    EXPECT_FALSE(mtu_refusal(tap_limits(), 1504, mbuf_bytes(1504)));
    auto no = mtu_refusal(tap_limits(), 1505, mbuf_bytes(1505));
    ASSERT_TRUE(no);
    EXPECT_EQ(*no, "1505 is more than port 0 (net_tap) takes: it receives frames of at most 1522 bytes, an MTU of at "
                   "most 1504");
    EXPECT_TRUE(mtu_refusal(tap_limits(), 9000, mbuf_bytes(9000)));
}

// A driver that gives a max_mtu (a NIC: frames of 9626 bytes for an MTU of 9600, a VLAN tag
// counted in) is held to it.
TEST(mtu_refusal, a_ports_max_mtu_is_its_limit) {
    EXPECT_FALSE(mtu_refusal(port_limits{2, "net_nic", 68, 9600, 9626}, 9000, mbuf_bytes(9000)));
    EXPECT_FALSE(mtu_refusal(port_limits{2, "net_nic", 68, 9000, 9026}, 9000, mbuf_bytes(9000)));
    auto no = mtu_refusal(port_limits{2, "net_nic", 68, 8999, 9025}, 9000, mbuf_bytes(9000));
    ASSERT_TRUE(no);
    EXPECT_EQ(*no, "9000 is more than port 2 (net_nic) takes (at most 8999)");
}

TEST(mtu_refusal, below_the_ports_minimum_is_refused) {
    const port_limits nic{0, "net_nic", 1280, 9600, 9626};
    auto no = mtu_refusal(nic, 576, mbuf_bytes(576));
    ASSERT_TRUE(no);
    EXPECT_EQ(*no, "576 is less than port 0 (net_nic) takes (at least 1280)");
}

TEST(mtu_refusal, a_driver_without_a_frame_limit_takes_any_mtu) {
    const port_limits null{0, "net_null", 68, UINT16_MAX, UINT32_MAX};
    EXPECT_FALSE(mtu_refusal(null, 576, mbuf_bytes(576)));
    EXPECT_FALSE(mtu_refusal(null, 9000, mbuf_bytes(9000)));
}

// net_memif's 1518 is not a limit it keeps; its buffers are. With the defaults (2048 a
// buffer, mbufs of 2048 after the headroom) an MTU of 1500 goes as before.
TEST(mtu_refusal, memif_is_limited_by_its_buffers_not_its_reported_frame) {
    EXPECT_FALSE(mtu_refusal(memif_limits(2048), 1500, mbuf_bytes(1500)));
    EXPECT_FALSE(mtu_refusal(memif_limits(mbuf_bytes(9000)), 9000, mbuf_bytes(9000)));
    EXPECT_FALSE(mtu_refusal(memif_limits(16384), 9000, mbuf_bytes(9000)));
    auto no = mtu_refusal(memif_limits(2048), 9000, mbuf_bytes(9000));
    ASSERT_TRUE(no);
    EXPECT_EQ(*no, "9000 is more than port 1 (net_memif) carries with buffers of 2048 bytes: add bsize=" +
                       std::to_string(mbuf_bytes(9000)) + " (or more) to the net_memif --vdev arguments of both sides");
    // Buffers smaller than DPDK's default mbuf are refused at any MTU.
    EXPECT_TRUE(mtu_refusal(memif_limits(1024), 1500, mbuf_bytes(1500)));
    // Zero-copy memif has no buffers of its own (memif_buffer 0): nothing to check.
    EXPECT_FALSE(mtu_refusal(memif_limits(0), 9000, mbuf_bytes(9000)));
}

TEST(memif_buffer_size, read_from_the_device_arguments) {
    EXPECT_EQ(memif_buffer_size(""), 2048u);
    EXPECT_EQ(memif_buffer_size("role=server,socket=/run/t.sock,rsize=14"), 2048u);
    EXPECT_EQ(memif_buffer_size("role=client,socket=/run/t.sock,rsize=14,bsize=9216"), 9216u);
    EXPECT_EQ(memif_buffer_size("bsize=4096,role=client"), 4096u);
    EXPECT_EQ(memif_buffer_size("role=client,xbsize=9216"), 2048u);
    EXPECT_EQ(memif_buffer_size("bsize=lots"), 2048u);
}

TEST(memif_ring_slots, read_from_the_device_arguments) {
    EXPECT_EQ(memif_ring_slots(""), 1024u); // net_memif's default rsize, 10
    EXPECT_EQ(memif_ring_slots("role=client,socket=/run/t.sock,rsize=14"), 16384u);
    EXPECT_EQ(memif_ring_slots("rsize=12,bsize=9216"), 4096u);
    EXPECT_EQ(memif_ring_slots("role=client,xrsize=14"), 1024u);
}

TEST(memif_zero_copy_client, read_from_the_device_arguments) {
    EXPECT_TRUE(memif_zero_copy_client("role=client,zero-copy=yes,rsize=14"));
    EXPECT_TRUE(memif_zero_copy_client("zero-copy=yes")); // a client unless it says otherwise
    EXPECT_FALSE(memif_zero_copy_client("role=server,zero-copy=yes"));
    EXPECT_FALSE(memif_zero_copy_client("role=client,rsize=14"));
    EXPECT_FALSE(memif_zero_copy_client("role=client,zero-copy=no"));
    EXPECT_TRUE(memif_zero_copy_client("socket=/run/role=server.sock,zero-copy=yes")); // a path is not a role
}

// A zero-copy client's rings take mbufs of its own pool: one too small for both (the default
// 8191 against rsize=14) received nothing at all; it is refused with what would do.
TEST(pool_refusal, zero_copy_memif_needs_a_pool_for_both_rings) {
    port_limits l = memif_limits(0);
    l.memif_zero_copy_slots = 16384;
    auto no = pool_refusal(l, 8191);
    ASSERT_TRUE(no);
    EXPECT_EQ(*no, "8191 mbufs are too few for port 1 (net_memif) in zero-copy mode: its two rings of 16384 slots "
                   "hold up to 32768 of them; give at least 33792 (or a smaller rsize)");
    EXPECT_FALSE(pool_refusal(l, 33792));
    l.memif_zero_copy_slots = 1024; // rsize=10: the default pool will do
    EXPECT_FALSE(pool_refusal(l, 8191));
    EXPECT_FALSE(pool_refusal(memif_limits(2048), 1023)); // copying memif: its own buffers
}

} // namespace
} // namespace tern::test
