// Two engines in one process, each with its own endpoint, mbuf pool and neighbor cache,
// joined by a sim_link on one virtual clock, optionally with a seeded fault_device on the
// client's side: the rig of the engine tests (tests/tcp_engine) and of the connection-life
// benchmark (bench/bench_life). Nothing sleeps: when no packet is due, the clock jumps to
// the next arrival or timer.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/engine.hpp"
#include "core/neighbor_cache.hpp"
#include "dpdk/fault_device.hpp"
#include "dpdk/mempool.hpp"
#include "dpdk/sim_link.hpp"
#include "engine_setup.hpp"
#include "tern/clock.hpp"
#include "tern/tcp.hpp"

namespace tern::test {

using namespace std::chrono_literals;

inline const mac_addr client_mac{{0x02, 0, 0, 0, 0, 0x01}};
inline const mac_addr server_mac{{0x02, 0, 0, 0, 0, 0x02}};
inline const ipv4_addr client_ip = ipv4_addr::from_octets(198, 18, 0, 1);
inline const ipv4_addr server_ip = ipv4_addr::from_octets(198, 18, 0, 2);
// RFC 5180's benchmarking prefix, for the rigs that run over IPv6 (two_nodes' `ipv6`).
inline const ipv6_addr client_ip6 = *ipv6_addr::parse("2001:2::1");
inline const ipv6_addr server_ip6 = *ipv6_addr::parse("2001:2::2");
// The i-th extra IPv6 address of a node with extra addresses (2001:2::100 on).
inline ipv6_addr extra_ip6(std::uint32_t i) {
    ipv6_addr a = *ipv6_addr::parse("2001:2::100");
    a.bytes[14] = std::uint8_t(0x01 + (i >> 8));
    a.bytes[15] = std::uint8_t(i);
    return a;
}

// 4095 mbufs: small enough for --no-huge, and under mbuf_pool's threshold for a per-lcore
// cache, so that every mbuf taken is seen in the pool's count at once.
inline mbuf_pool make_pool(std::uint16_t data_room = 0, std::uint32_t size = 4095) {
    static int n = 0;
    auto pool = mbuf_pool::create("tcp_engine_pool_" + std::to_string(n++), size, data_room);
    if (!pool) throw std::runtime_error(pool.error());
    return std::move(*pool);
}

// One side: an engine on `dev` and its endpoint. The pool outlives the node (the link may
// still hold its packets).
struct node {
    node(std::uint16_t id, ipv4_addr ip, mac_addr mac, device& dev, mbuf_pool& p, clock& clk,
         const tcp::tcp_config& tcp, ipv4_range extra = {}, std::size_t max_connections = 4096,
         std::optional<ipv6_addr> ip6 = std::nullopt)
        : pool(p), eng(id, with_ipv6(config_for(ip, mac, extra), ip6), engine_port{0, id, mac, port_offloads{}, tcp.mtu},
                       dev, p.get(), neighbors, clk),
          ep(eng, tcp, max_connections) {}

    // An IPv6 address on the link's /64, preferred at once (no duplicate detection: the
    // rig's clock would have to run a second before the first connection); with `extra`
    // addresses, as many IPv6 ones beside it (extra_ip6), as tern-load's --source-ip adds.
    static engine_config with_ipv6(engine_config c, std::optional<ipv6_addr> ip6) {
        if (ip6) {
            c.ipv6 = {ipv6_cidr{*ip6, 64}};
            for (std::uint32_t i = 0; i < c.extra_addresses.count; ++i) c.ipv6.push_back(ipv6_cidr{extra_ip6(i), 64});
            c.ipv6_duplicate_detection = false;
        }
        return c;
    }

    mbuf_pool& pool;
    neighbor_cache neighbors{256}; // room for every source address of a benchmark
    engine eng;
    tcp::tcp_endpoint ep;
};

// Two nodes over one link; the client's side optionally through a fault_device (its
// profiles act on both directions of the link). Both ports and endpoints use `mtu`, with
// pools whose mbufs hold a whole frame of it (as runtime::create makes them).
class two_nodes {
public:
    explicit two_nodes(std::optional<fault_config> faults = std::nullopt, duration delay = 50us,
                       ipv4_range client_extra = {}, std::size_t client_max_connections = 4096,
                       std::uint16_t mtu = 1500, std::size_t server_max_connections = 4096,
                       const tcp::tcp_config& tcp = {}, std::uint32_t pool_size = 4095, bool ipv6 = false)
        : tcp_config(tcp), client_pool_(make_pool(mbuf_data_room(mtu), pool_size)),
          server_pool_(make_pool(mbuf_data_room(mtu), pool_size)),
          link_(clock_, sim_link_config{delay, 0, 4096}) {
        tcp_config.mtu = mtu;
        device* client_dev = &link_.a();
        if (faults) {
            fault_.emplace(link_.a(), clock_, *faults);
            client_dev = &*fault_;
        }
        client.emplace(0, client_ip, client_mac, *client_dev, client_pool_, clock_, tcp_config, client_extra,
                       client_max_connections, ipv6 ? std::optional(client_ip6) : std::nullopt);
        server.emplace(1, server_ip, server_mac, link_.b(), server_pool_, clock_, tcp_config, ipv4_range{},
                       server_max_connections, ipv6 ? std::optional(server_ip6) : std::nullopt);
        if (faults) {
            // ARP carries no checksum: a bit flipped in an ARP frame (which a real link's
            // FCS would catch) teaches a wrong address instead of being dropped. Over
            // faults the neighbors are static, so only IPv4 crosses the link.
            know_neighbours();
        }
    }
    // Static ARP entries both ways: every frame leaves at once (an ARP queue holds all but a
    // few back while the first resolution runs).
    void know_neighbours() {
        client->neighbors.update(server_ip, server_mac, instant::max(), true);
        server->neighbors.update(client_ip, client_mac, instant::max(), true);
    }
    ~two_nodes() {
        client.reset();
        server.reset();
    }

    instant now() { return clock_.now(); }

    // One round of both engines, then the clock moves to the next thing due.
    void step() {
        client->eng.poll();
        server->eng.poll();
        const instant now = clock_.now();
        std::optional<instant> next;
        auto consider = [&](std::optional<instant> t) {
            if (t && (!next || *t < *next)) next = t;
        };
        consider(link_.next_arrival());
        if (fault_) consider(fault_->next_release());
        consider(client->eng.timers().next_deadline());
        consider(server->eng.timers().next_deadline());
        if (app_deadline) consider(app_deadline());
        if (client->eng.tx_backlog() > 0 || server->eng.tx_backlog() > 0) next = now;
        clock_.set(std::max(next.value_or(now + 1ms), now + 1us));
    }

    template <class P>
    bool run_until(P done, duration limit) {
        const instant end = clock_.now() + limit;
        while (!done()) {
            if (clock_.now() > end) return false;
            step();
        }
        return true;
    }

    // Runs until nothing is in flight, held, queued or armed.
    bool settle(duration limit) {
        return run_until(
            [&] {
                return !link_.next_arrival() && (!fault_ || fault_->counters(fault_direction::rx).held +
                                                                    fault_->counters(fault_direction::tx).held ==
                                                                0) &&
                       client->eng.tx_backlog() == 0 && server->eng.tx_backlog() == 0 &&
                       client->ep.connections() == 0 && server->ep.connections() == 0 &&
                       client->ep.time_wait() == 0 && server->ep.time_wait() == 0;
            },
            limit);
    }

    tcp::tcp_config tcp_config{};
    std::function<std::optional<instant>()> app_deadline; // an application's own schedule
    mbuf_pool client_pool_;
    mbuf_pool server_pool_;
    virtual_clock clock_;
    sim_link link_;
    std::optional<fault_device> fault_;
    std::optional<node> client;
    std::optional<node> server;
};

} // namespace tern::test
