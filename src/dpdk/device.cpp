#include "dpdk/device.hpp"

#include <rte_ethdev.h>

namespace tern {

std::uint16_t ethdev_queue::rx_burst(rte_mbuf** pkts, std::uint16_t n) {
    return rte_eth_rx_burst(port_id_, queue_id_, pkts, n);
}

std::uint16_t ethdev_queue::tx_burst(rte_mbuf** pkts, std::uint16_t n) {
    return rte_eth_tx_burst(port_id_, queue_id_, pkts, n);
}

} // namespace tern
