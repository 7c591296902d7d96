// A packet device as the engine sees it: one RX and one TX queue. Implemented by an
// ethdev queue pair, and by wrappers (capture, fault injection) around any device.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "dpdk/burst_section.hpp"

struct rte_mbuf;

namespace tern {

class device {
public:
    virtual ~device() = default;
    // Receives up to n packets into pkts; returns how many.
    virtual std::uint16_t rx_burst(rte_mbuf** pkts, std::uint16_t n) = 0;
    // Hands up to n packets to the device; returns how many it took. The rest stay the
    // caller's (the engine keeps them for the next round).
    virtual std::uint16_t tx_burst(rte_mbuf** pkts, std::uint16_t n) = 0;
    // Whether the link is up as far as the device knows without waiting (memif: a peer is
    // connected); a device with no link of its own says yes. Not for every round: an ethdev
    // asks its driver, which may read the NIC or make a syscall (net_tap).
    virtual bool link_up() { return true; }
};

// The link of one ethdev, shared by its queues: rte_eth_link_get_nowait calls into the
// driver, which need not be thread-safe, so one engine at a time asks; the others take the
// last answer.
class ethdev_link {
public:
    explicit ethdev_link(std::uint16_t port_id) : port_id_(port_id) {}
    bool up();

private:
    std::uint16_t port_id_;
    std::atomic_flag asking_;
    std::atomic<bool> up_{true};
};

// One queue pair of a DPDK ethdev, and optionally more RX queues read by the same engine
// (engine_config::queues). On a driver that unmaps queue memory from the interrupt thread
// (net_memif) each burst runs in a burst_section (burst_section.hpp says why).
class ethdev_queue final : public device {
public:
    // `link` must outlive the queue. `more_rx`: further RX queues this device reads after its
    // own, never sent on.
    ethdev_queue(std::uint16_t port_id, std::uint16_t queue_id, ethdev_link& link,
                 std::vector<std::uint16_t> more_rx = {});
    ~ethdev_queue() override;
    ethdev_queue(const ethdev_queue&) = delete;
    ethdev_queue& operator=(const ethdev_queue&) = delete;

    std::uint16_t rx_burst(rte_mbuf** pkts, std::uint16_t n) override;
    std::uint16_t tx_burst(rte_mbuf** pkts, std::uint16_t n) override;
    bool link_up() override { return link_.up(); }

    std::uint16_t port_id() const { return port_id_; }
    std::uint16_t queue_id() const { return queue_id_; }

private:
    std::uint16_t port_id_;
    std::uint16_t queue_id_;
    std::vector<std::uint16_t> rx_queues_; // own first, then more_rx
    std::size_t rx_next_ = 0;              // where the next burst starts reading, with more_rx
    ethdev_link& link_;
    burst_sections::slot* section_ = nullptr; // null: the driver needs none
};

} // namespace tern
