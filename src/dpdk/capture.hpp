// Packet capture to pcapng (rte_pcapng), readable by tcpdump, tshark and Wireshark.
// capture_device wraps any device and records what it receives and what it accepts
// for transmission. Capture is a debugging aid: one file shared by every engine,
// written under a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "dpdk/device.hpp"
#include "dpdk/setup_error.hpp"
#include "tern/result.hpp"

struct rte_mempool;
struct rte_pcapng;

namespace tern {

class capture_file {
public:
    static result<std::unique_ptr<capture_file>, setup_error> open(const std::string& path, std::uint16_t mtu);
    ~capture_file();

    enum class direction { in, out };
    // Copies the packets (the originals stay the caller's) and writes them.
    void record(std::uint16_t port_id, std::uint16_t queue, rte_mbuf* const* pkts, std::uint16_t n, direction dir);
    // Hands packets to `inner` and records those it took.
    std::uint16_t transmit(device& inner, std::uint16_t port_id, std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n);
    std::uint64_t written() const { return written_; }
    std::uint64_t missed() const { return missed_; }

private:
    static constexpr std::uint16_t max_batch = 64;

    capture_file(rte_pcapng* file, rte_mempool* pool) : file_(file), pool_(pool) {}
    std::uint16_t copy(std::uint16_t port_id, std::uint16_t queue, rte_mbuf* const* pkts, std::uint16_t n,
                       direction dir, rte_mbuf** copies);
    void write(rte_mbuf** copies, std::uint16_t n, std::uint16_t keep);
    static void stamp(rte_mbuf* copy, std::uint64_t wall_ns);

    std::mutex mutex_;
    rte_pcapng* file_;
    rte_mempool* pool_;
    std::uint64_t written_ = 0;
    std::uint64_t missed_ = 0; // copies that failed (pool empty): said at shutdown
};

class capture_device final : public device {
public:
    capture_device(device& inner, capture_file& file, std::uint16_t port_id, std::uint16_t queue)
        : inner_(inner), file_(file), port_id_(port_id), queue_(queue) {}

    std::uint16_t rx_burst(rte_mbuf** pkts, std::uint16_t n) override;
    std::uint16_t tx_burst(rte_mbuf** pkts, std::uint16_t n) override;
    bool link_up() override { return inner_.link_up(); }

private:
    device& inner_;
    capture_file& file_;
    std::uint16_t port_id_;
    std::uint16_t queue_;
};

} // namespace tern
