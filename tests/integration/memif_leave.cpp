// memif-leave: a memif peer leaves while the other side is in the middle of draining its
// rings, over and over, in one process (the EAL args bring up port 0 as the memif server
// and port 1 as its client; tests/integration/memif_leave.sh runs it in a namespace).
//
// Each cycle the client fills the server's receive ring, a worker lcore starts draining it
// through ethdev_queue (the engine's path), and the client stops a moment later. The
// server's interrupt thread then handles the disconnect and unmaps the shared memory while
// the worker is, most of the time, inside an rx burst. DPDK's net_memif does not order the
// two (dpdk/burst_section.hpp); without tern's guard this dies with a SEGV within a few
// cycles. It prints "cycles N cut M packets P given_up G" and exits 0 when it ran every cycle.
//
//   memif-leave [EAL args] -- CYCLES
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dpdk/burst_section.hpp"
#include "dpdk/device.hpp"
#include "dpdk/eal.hpp"
#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"

namespace {

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

constexpr std::uint16_t server_port = 0;
constexpr std::uint16_t client_port = 1;
constexpr std::uint16_t burst = 32;
constexpr std::uint32_t fill_packets = 12000; // below the 16,384 slots of rsize=14

struct shared_state {
    tern::ethdev_queue* server = nullptr;
    std::atomic<int> go{0};   // cycle the worker is to drain; -1: stop
    std::atomic<int> done{0}; // last cycle it finished
    std::atomic<std::uint64_t> drained{0};
};

// The worker: for each cycle, drain the server's queue until it stays empty for 20 ms.
int drain(void* arg) {
    auto* s = static_cast<shared_state*>(arg);
    rte_mbuf* pkts[burst];
    for (int cycle = 1;; ++cycle) {
        int go;
        while ((go = s->go.load(std::memory_order_acquire)) < cycle)
            if (go < 0) return 0;
        auto quiet_since = clk::now();
        std::uint64_t n_cycle = 0;
        while (clk::now() - quiet_since < 20ms) {
            const std::uint16_t n = s->server->rx_burst(pkts, burst);
            for (std::uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(pkts[i]);
            if (n > 0) quiet_since = clk::now();
            n_cycle += n;
        }
        s->drained.store(n_cycle, std::memory_order_relaxed);
        s->done.store(cycle, std::memory_order_release);
    }
}

bool both_up(std::chrono::milliseconds patience) {
    const auto give_up = clk::now() + patience;
    while (clk::now() < give_up) {
        rte_eth_link a{}, b{};
        rte_eth_link_get_nowait(server_port, &a);
        rte_eth_link_get_nowait(client_port, &b);
        if (a.link_status == RTE_ETH_LINK_UP && b.link_status == RTE_ETH_LINK_UP) return true;
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

// Fills the server's receive ring with small frames from the client; how many it took.
std::uint32_t fill(rte_mempool* pool, tern::ethdev_queue& client) {
    std::uint32_t sent = 0;
    rte_mbuf* pkts[burst];
    while (sent < fill_packets) {
        if (rte_pktmbuf_alloc_bulk(pool, pkts, burst) != 0) break;
        for (rte_mbuf* m : pkts) {
            char* p = rte_pktmbuf_append(m, 64);
            std::memset(p, 0xab, 64);
        }
        const std::uint16_t n = client.tx_burst(pkts, burst);
        for (std::uint16_t i = n; i < burst; ++i) rte_pktmbuf_free(pkts[i]);
        sent += n;
        if (n < burst) break; // the ring is full
    }
    return sent;
}

void stop_port(void* id) { rte_eth_dev_stop(*static_cast<std::uint16_t*>(id)); }

int fail(const char* what) {
    std::fprintf(stderr, "memif-leave: %s\n", what);
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    const int eal_args = rte_eal_init(argc, argv);
    if (eal_args < 0) return fail("EAL start-up failed");
    argc -= eal_args;
    argv += eal_args;
    const int cycles = argc >= 2 ? std::atoi(argv[1]) : 20;
    if (cycles <= 0) return fail("CYCLES must be a positive number");
    if (rte_eth_dev_count_avail() != 2) return fail("needs two ports: a memif server and its client");
    const unsigned worker = rte_get_next_lcore(-1, 1, 0);
    if (worker >= RTE_MAX_LCORE) return fail("needs a worker lcore (-l 0,1)");

    auto pool = tern::mbuf_pool::create("memif_leave", 32767);
    if (!pool) return fail("no mbuf pool");
    tern::port_config config;
    config.pools = {pool->get()};
    config.rx_ring_size = config.tx_ring_size = 1 << 14;
    auto server = tern::port::open(server_port, config);
    auto client = tern::port::open(client_port, config);
    if (!server || !client) return fail("a port did not open");
    tern::ethdev_link server_link(server_port), client_link(client_port);
    tern::ethdev_queue server_q(server_port, 0, server_link), client_q(client_port, 0, client_link);

    shared_state s;
    s.server = &server_q;
    rte_eal_remote_launch(drain, &s, worker);
    std::minstd_rand pick(12345);
    int cut = 0;
    std::uint64_t packets = 0;
    int cycle = 1;
    const auto give_up = clk::now() + 100s;
    for (; cycle <= cycles && clk::now() < give_up; ++cycle) {
        if (!both_up(5s)) break;
        const std::uint32_t sent = fill(pool->get(), client_q);
        s.go.store(cycle, std::memory_order_release);
        // Leave a moment into the drain: a few microseconds to a fraction of a millisecond.
        std::this_thread::sleep_for(std::chrono::microseconds(pick() % 300));
        std::uint16_t id = client_port;
        if (!tern::run_on_interrupt_thread(stop_port, &id, 2s)) break;
        while (s.done.load(std::memory_order_acquire) < cycle) std::this_thread::sleep_for(1ms);
        const std::uint64_t got = s.drained.load(std::memory_order_relaxed);
        packets += got;
        if (got < sent) ++cut;
        if (rte_eth_dev_start(client_port) != 0) break;
    }
    s.go.store(-1, std::memory_order_release);
    rte_eal_wait_lcore(worker);
    std::printf("cycles %d cut %d packets %llu given_up %llu\n", cycle - 1, cut, (unsigned long long)packets,
                (unsigned long long)tern::burst_sections::waits_given_up());
    return cycle > cycles ? 0 : fail("stopped before the last cycle (link not up, or stop not taken)");
}
