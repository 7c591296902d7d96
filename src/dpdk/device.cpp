#include "dpdk/device.hpp"

#include <string_view>

#include <rte_ethdev.h>

namespace tern {

namespace {

// The drivers that unmap a queue's memory from their interrupt handler while the queue may
// be in a burst (burst_section.hpp).
bool unmaps_under_bursts(std::uint16_t port_id) {
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(port_id, &info) != 0 || info.driver_name == nullptr) return false;
    return std::string_view(info.driver_name) == "net_memif";
}

} // namespace

ethdev_queue::ethdev_queue(std::uint16_t port_id, std::uint16_t queue_id, ethdev_link& link,
                           std::vector<std::uint16_t> more_rx)
    : port_id_(port_id), queue_id_(queue_id), link_(link) {
    if (!more_rx.empty()) {
        rx_queues_.push_back(queue_id);
        rx_queues_.insert(rx_queues_.end(), more_rx.begin(), more_rx.end());
    }
    if (unmaps_under_bursts(port_id)) section_ = burst_sections::acquire();
}

ethdev_queue::~ethdev_queue() { burst_sections::release(section_); }

std::uint16_t ethdev_queue::rx_burst(rte_mbuf** pkts, std::uint16_t n) {
    burst_section in_burst(section_);
    if (rx_queues_.empty()) return rte_eth_rx_burst(port_id_, queue_id_, pkts, n);
    // Each burst starts one queue further on, so that a queue that always fills the burst
    // does not starve the others.
    std::uint16_t got = 0;
    const std::size_t count = rx_queues_.size();
    for (std::size_t k = 0; k < count && got < n; ++k)
        got += rte_eth_rx_burst(port_id_, rx_queues_[(rx_next_ + k) % count], pkts + got, std::uint16_t(n - got));
    rx_next_ = (rx_next_ + 1) % count;
    return got;
}

std::uint16_t ethdev_queue::tx_burst(rte_mbuf** pkts, std::uint16_t n) {
    burst_section in_burst(section_);
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
