// ethdev_queue over a real ethdev (net_ring, made from rte_rings in this process): an engine's
// device reads its own RX queue and the further ones it is given (engine_config::queues), no
// other, and a queue that always fills the burst does not starve the rest.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dpdk/device.hpp"
#include "dpdk/mempool.hpp"

namespace tern::test {
namespace {

constexpr std::uint16_t queue_count = 3;

// A started net_ring port with three queue pairs; RX queue q reads ring q. Each packet put on
// ring q carries q in its first byte.
class ring_port {
public:
    explicit ring_port(const std::string& name) : name_(name) {
        auto p = mbuf_pool::create(name + "_pool", 1023, RTE_MBUF_DEFAULT_BUF_SIZE);
        EXPECT_TRUE(p.has_value());
        if (!p) return;
        pool_.emplace(std::move(*p));
        for (std::uint16_t q = 0; q < queue_count; ++q)
            rings_[q] = rte_ring_create((name + "_r" + std::to_string(q)).c_str(), 256, SOCKET_ID_ANY,
                                        RING_F_SP_ENQ | RING_F_SC_DEQ);
        const int id = rte_eth_from_rings(name.c_str(), rings_.data(), queue_count, rings_.data(), queue_count,
                                          SOCKET_ID_ANY);
        EXPECT_GE(id, 0);
        id_ = std::uint16_t(id);
        rte_eth_conf conf{};
        EXPECT_EQ(rte_eth_dev_configure(id_, queue_count, queue_count, &conf), 0);
        for (std::uint16_t q = 0; q < queue_count; ++q) {
            EXPECT_EQ(rte_eth_rx_queue_setup(id_, q, 256, SOCKET_ID_ANY, nullptr, pool_->get()), 0);
            EXPECT_EQ(rte_eth_tx_queue_setup(id_, q, 256, SOCKET_ID_ANY, nullptr), 0);
        }
        EXPECT_EQ(rte_eth_dev_start(id_), 0);
    }
    ~ring_port() {
        rte_eth_dev_stop(id_);
        rte_eth_dev_close(id_);
        for (rte_ring* r : rings_) {
            rte_mbuf* m;
            while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
            rte_ring_free(r);
        }
    }

    std::uint16_t id() const { return id_; }

    void put(std::uint16_t queue, unsigned count) {
        for (unsigned i = 0; i < count; ++i) {
            rte_mbuf* m = rte_pktmbuf_alloc(pool_->get());
            ASSERT_NE(m, nullptr);
            *reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, 60)) = std::uint8_t(queue);
            ASSERT_EQ(rte_ring_enqueue(rings_[queue], m), 0);
        }
    }
    unsigned waiting(std::uint16_t queue) const { return rte_ring_count(rings_[queue]); }

private:
    std::string name_;
    std::optional<mbuf_pool> pool_;
    std::array<rte_ring*, queue_count> rings_{};
    std::uint16_t id_ = 0;
};

// Reads one burst of up to `n` and counts its packets by the queue they came from.
std::array<unsigned, queue_count> read_burst(device& dev, std::uint16_t n) {
    std::vector<rte_mbuf*> got(n);
    const std::uint16_t count = dev.rx_burst(got.data(), n);
    std::array<unsigned, queue_count> from{};
    for (std::uint16_t i = 0; i < count; ++i) {
        ++from[*rte_pktmbuf_mtod(got[i], std::uint8_t*)];
        rte_pktmbuf_free(got[i]);
    }
    return from;
}

TEST(ethdev_queue, reads_its_own_queue_then_the_further_ones_it_was_given_and_no_other) {
    ring_port port("tern_eq_a");
    ethdev_link link(port.id());
    ethdev_queue dev(port.id(), 0, link, {2}); // engine 0 of 2 on a port of 3 queues (4 would give 0 and 2 too)
    port.put(0, 5);
    port.put(1, 7);
    port.put(2, 9);
    auto from = read_burst(dev, 32);
    EXPECT_EQ(from[0], 5u);
    EXPECT_EQ(from[2], 9u);
    EXPECT_EQ(from[1], 0u);
    EXPECT_EQ(port.waiting(1), 7u); // engine 1's queue, untouched
}

TEST(ethdev_queue, a_queue_that_fills_every_burst_does_not_starve_the_next) {
    ring_port port("tern_eq_b");
    ethdev_link link(port.id());
    ethdev_queue dev(port.id(), 0, link, {2});
    port.put(0, 200);
    port.put(2, 40);
    auto first = read_burst(dev, 32);
    auto second = read_burst(dev, 32);
    EXPECT_EQ(first[0], 32u); // own queue first
    EXPECT_EQ(second[2], 32u); // then the burst starts at the next queue
    auto third = read_burst(dev, 32);
    EXPECT_EQ(third[0], 32u);
    auto fourth = read_burst(dev, 32);
    EXPECT_EQ(fourth[2], 8u); // queue 2's rest, and the burst filled from queue 0
    EXPECT_EQ(fourth[0], 24u);
}

TEST(ethdev_queue, without_further_queues_it_reads_only_its_own) {
    ring_port port("tern_eq_c");
    ethdev_link link(port.id());
    ethdev_queue dev(port.id(), 1, link);
    port.put(0, 3);
    port.put(1, 4);
    auto from = read_burst(dev, 32);
    EXPECT_EQ(from[1], 4u);
    EXPECT_EQ(from[0], 0u);
    EXPECT_EQ(port.waiting(0), 3u);
}

} // namespace
} // namespace tern::test
