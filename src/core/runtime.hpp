// Everything one process needs around its engines: the mbuf pools, the port, optional
// capture, the shared neighbor cache, one engine per lcore, and telemetry. The apps
// build one from their options and run it until the stop flag is set.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/engine.hpp"
#include "dpdk/capture.hpp"
#include "dpdk/device.hpp"
#include "dpdk/fault_device.hpp"
#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"
#include "tern/config.hpp"
#include "tern/result.hpp"

namespace tern {

struct runtime_options {
    engine_config engine;
    std::optional<std::uint16_t> port_id;   // default: the first port DPDK probed
    std::optional<std::string> pcap_path;   // capture every packet in and out
    std::vector<ipv4_addr> resolve;          // addresses to resolve with ARP at start
    // Faults injected between the port and each engine (seed + engine index per engine):
    // loss, duplication, corruption, delay, jitter and reordering on a real device.
    std::optional<fault_config> faults;
};

class runtime {
public:
    // Needs a started EAL with at least `engines` lcores. An MTU the port cannot carry is
    // refused (setup_error about mtu) before any memory is taken.
    static result<std::unique_ptr<runtime>, setup_error> create(const runtime_options& options);
    ~runtime();

    // Runs engine 0 on the calling (main) lcore and the others on worker lcores until
    // `stop` is set; returns when all have stopped.
    void run(const std::atomic<bool>& stop);

    std::size_t engine_count() const { return engines_.size(); }
    engine& engine_at(std::size_t i) { return *engines_[i]; }
    const port& eth_port() const { return *port_; }
    neighbor_cache& neighbors() { return neighbors_; }
    // Counters summed over engines.
    std::vector<std::pair<std::string_view, std::uint64_t>> totals() const;
    const capture_file* capture() const { return capture_.get(); }
    // Which engine owns which flow, with two engines or more (else null).
    const steering* flow_steering() const { return steering_.get(); }
    // The fault wrappers' counters in one direction, summed over engines (all zero without faults).
    fault_counters fault_totals(fault_direction dir) const;
    instant now() const { return clock_->now(); }
    // mbufs taken from the engines' pools, the NIC's RX rings included (DESIGN.md "Memory").
    std::uint64_t mbufs_in_use() const {
        std::uint64_t n = 0;
        for (auto& p : pools_) n += p.in_use();
        return n;
    }

private:
    runtime() = default;
    static int launch(void* arg);

    std::vector<mbuf_pool> pools_;            // one per engine: an engine frees into its own cache
    std::optional<port> port_;
    std::optional<ethdev_link> link_;         // the port's, shared by its queues (devices_)
    std::unique_ptr<capture_file> capture_;
    std::vector<std::unique_ptr<device>> devices_;
    std::vector<const fault_device*> faults_; // those of devices_ that inject faults
    std::unique_ptr<clock> clock_;
    neighbor_cache neighbors_;
    std::unique_ptr<steering> steering_;      // with two engines or more; outlives them
    std::vector<std::unique_ptr<engine>> engines_;
    struct lcore_job {
        engine* eng;
        const std::atomic<bool>* stop;
    };
    std::vector<lcore_job> jobs_;
};

} // namespace tern
