// A packet device as the engine sees it: one RX and one TX queue. Implemented by an
// ethdev queue pair, and by wrappers (capture, fault injection) around any device.
#pragma once

#include <cstdint>

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
};

// One queue pair of a DPDK ethdev.
class ethdev_queue final : public device {
public:
    ethdev_queue(std::uint16_t port_id, std::uint16_t queue_id) : port_id_(port_id), queue_id_(queue_id) {}

    std::uint16_t rx_burst(rte_mbuf** pkts, std::uint16_t n) override;
    std::uint16_t tx_burst(rte_mbuf** pkts, std::uint16_t n) override;

    std::uint16_t port_id() const { return port_id_; }
    std::uint16_t queue_id() const { return queue_id_; }

private:
    std::uint16_t port_id_;
    std::uint16_t queue_id_;
};

} // namespace tern
