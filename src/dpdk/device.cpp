#include "dpdk/device.hpp"

#include <rte_ethdev.h>

namespace tern {

std::uint16_t ethdev_queue::rx_burst(rte_mbuf** pkts, std::uint16_t n) {
    return rte_eth_rx_burst(port_id_, queue_id_, pkts, n);
}

std::uint16_t ethdev_queue::tx_burst(rte_mbuf** pkts, std::uint16_t n) {
    return rte_eth_tx_burst(port_id_, queue_id_, pkts, n);
}

bool ethdev_link::up() {
    if (!asking_.test_and_set(std::memory_order_acquire)) {
        rte_eth_link link{};
        // A driver that cannot say (no link_update) counts as up: nothing is blamed on a link
        // not known to be down.
        if (rte_eth_link_get_nowait(port_id_, &link) == 0)
            up_.store(link.link_status == RTE_ETH_LINK_UP, std::memory_order_relaxed);
        asking_.clear(std::memory_order_release);
    }
    return up_.load(std::memory_order_relaxed);
}

} // namespace tern
