// Port set-up: probe what the ethdev offers, enable what is there, and say what falls
// back to software. One RX and one TX queue per engine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tern/addr.hpp"
#include "tern/result.hpp"

struct rte_mempool;

namespace tern {

// What the port does for us. Everything false means the software path.
struct port_offloads {
    bool rx_ipv4_checksum = false;
    bool rx_tcp_checksum = false;
    bool tx_ipv4_checksum = false;
    bool tx_tcp_checksum = false;
    bool tso = false;
    bool rss = false;
    bool multi_segment_tx = false;
};

struct port_config {
    std::uint16_t queues = 1;          // one per engine
    std::uint16_t rx_ring_size = 1024;
    std::uint16_t tx_ring_size = 1024;
    std::uint16_t mtu = 1500;
    std::vector<rte_mempool*> pools;   // RX buffers, one pool per queue
    bool disable_offloads = false;     // force the software paths (tests use it)
};

// Owns a started ethdev; stops and closes it on destruction.
class port {
public:
    static result<port, std::string> open(std::uint16_t port_id, const port_config& config);
    // The first port DPDK knows (after --vdev/PCI probing), if any.
    static result<std::uint16_t, std::string> first_available();

    port(port&& other) noexcept;
    port& operator=(port&&) = delete;
    port(const port&) = delete;
    ~port();

    std::uint16_t id() const { return id_; }
    mac_addr mac() const { return mac_; }
    const port_offloads& offloads() const { return offloads_; }
    std::uint16_t mtu() const { return mtu_; }
    std::string driver() const { return driver_; }
    // One line a human reads at start: driver, MAC, MTU, queues, each offload on or software.
    std::string describe() const;

private:
    port() = default;

    bool open_ = false;
    std::uint16_t id_ = 0;
    std::uint16_t queues_ = 0;
    std::uint16_t mtu_ = 0;
    mac_addr mac_;
    port_offloads offloads_;
    std::string driver_;
};

} // namespace tern
