// Port set-up: probe what the ethdev offers, enable what is there, and say what falls
// back to software. One RX and one TX queue per engine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dpdk/setup_error.hpp"
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
    bool rss_tcp = false; // the RSS hash covers TCP ports (NONFRAG_IPV4_TCP): it names a flow as tern's does
    bool multi_segment_tx = false;
};

// What a port says of the frames it takes (rte_eth_dev_info), in plain numbers.
struct port_limits {
    std::uint16_t port_id = 0;
    std::string driver;
    std::uint16_t min_mtu = 0;
    std::uint16_t max_mtu = 0;
    std::uint32_t max_rx_pktlen = 0; // the longest frame it receives, Ethernet header and CRC included
    std::uint32_t memif_buffer = 0;  // net_memif without zero-copy: the bytes of each of its buffers (bsize)
    std::uint32_t memif_zero_copy_slots = 0; // net_memif's client in zero-copy mode: the slots of a ring (2^rsize)
    std::uint16_t max_queue_pairs = 0;
};

// Why a port with these limits cannot carry IP packets of `mtu` bytes in mbufs that hold
// `mbuf_bytes` after their headroom, or nothing when it can. The frame's overhead beyond the
// MTU is reckoned as rte_eth_dev_set_mtu does.
std::optional<std::string> mtu_refusal(const port_limits& limits, std::uint16_t mtu, std::uint32_t mbuf_bytes);

// Why a pool of `pool_size` mbufs cannot serve a queue of a port with these limits, or
// nothing when it can.
std::optional<std::string> pool_refusal(const port_limits& limits, std::uint32_t pool_size);

// net_memif's buffer size (bsize) from its device arguments, "role=server,...,bsize=9216";
// its default, 2048, when they do not say.
std::uint32_t memif_buffer_size(std::string_view devargs);
// The slots of each of its rings (2^rsize; its default rsize is 10).
std::uint32_t memif_ring_slots(std::string_view devargs);
// Whether it is a client in zero-copy mode (zero-copy=yes: only a client's is).
bool memif_zero_copy_client(std::string_view devargs);

struct port_config {
    std::uint16_t queues = 1;          // queue pairs: one per engine, or more (engine_config::queues)
    std::uint16_t rss_queues = 0;      // the queues RSS spreads flows over, the first ones; 0: all
    std::uint16_t rx_ring_size = 1024;
    std::uint16_t tx_ring_size = 1024;
    std::uint16_t mtu = 1500;          // refused (setup_error about mtu) when the port cannot carry it
    std::vector<rte_mempool*> pools;   // RX buffers, one pool per queue, each mbuf a whole frame (mbuf_data_room)
    bool disable_offloads = false;     // force the software paths (tests use it)
};

// Owns a started ethdev; stops and closes it on destruction.
class port {
public:
    static result<port, setup_error> open(std::uint16_t port_id, const port_config& config);
    // The limits port `port_id` reports, for mtu_refusal before anything is allocated.
    static result<port_limits, setup_error> limits(std::uint16_t port_id);
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
    // Entries of the RSS redirection table tern programmed (round robin over the RSS queues, as
    // core/steering's table), or 0 when the port has no RSS or kept its driver's table.
    std::uint32_t redirection_entries() const { return reta_entries_; }
    // One line a human reads at start: driver, MAC, MTU, queues, each offload on or software.
    std::string describe() const;

private:
    port() = default;
    void program_redirection(std::uint16_t reta_size);

    bool open_ = false;
    std::uint16_t id_ = 0;
    std::uint16_t queues_ = 0;
    std::uint16_t rss_queues_ = 0;
    std::uint16_t mtu_ = 0;
    mac_addr mac_;
    port_offloads offloads_;
    std::string driver_;
    std::string note_; // what describe() adds for this driver (net_tap: its kernel queue)
    std::uint32_t reta_entries_ = 0;
};

} // namespace tern
