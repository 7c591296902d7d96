// Drives one engine in-process: a device made of two queues the test fills and reads,
// a virtual clock, and frames built with the wire layer's own reprs.
#pragma once

#include <deque>
#include <vector>

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "core/engine.hpp"
#include "dpdk/mempool.hpp"
#include "script_device.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"

namespace tern::test {

inline const mac_addr our_mac{{0x02, 0, 0, 0, 0, 0x02}};
inline const mac_addr peer_mac{{0x02, 0, 0, 0, 0, 0x01}};
inline const ipv4_addr our_ip = ipv4_addr::from_octets(198, 18, 0, 2);
inline const ipv4_addr peer_ip = ipv4_addr::from_octets(198, 18, 0, 1);
inline const ipv4_addr gateway_ip = ipv4_addr::from_octets(198, 18, 0, 254);

class engine_test : public ::testing::Test {
protected:
    engine_test() : pool_(make_pool()) {}
    ~engine_test() override;

    static mbuf_pool make_pool();
    engine_config default_config() const;
    // Builds the engine (call after adjusting config if needed).
    engine& make_engine(const engine_config& config);
    engine& make_engine() { return make_engine(default_config()); }

    rte_mbuf* frame(std::span<const std::uint8_t> bytes);
    rte_mbuf* arp_frame(wire::arp_op op, mac_addr sha, ipv4_addr spa, mac_addr tha, ipv4_addr tpa,
                        mac_addr eth_dst = mac_addr::broadcast());
    rte_mbuf* echo_request(ipv4_addr src, std::uint16_t id, std::uint16_t seq, std::size_t payload = 56,
                           mac_addr eth_src = peer_mac);
    // Delivers m and runs one round.
    void deliver(rte_mbuf* m);
    // Takes everything the engine sent, in order.
    std::vector<rte_mbuf*> take_sent();
    std::span<const std::uint8_t> bytes(const rte_mbuf* m) const {
        return {rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m)};
    }
    void free_all(std::vector<rte_mbuf*>& v);
    std::uint32_t in_use() const { return pool_.in_use(); }

    mbuf_pool pool_;
    script_device dev_;
    virtual_clock clock_;
    neighbor_cache neighbors_{64};
    std::unique_ptr<engine> engine_;
};

// Checks an echo reply to `to` with identifier/sequence and the data echo_request wrote.
void expect_echo_reply(std::span<const std::uint8_t> frame, std::uint16_t id, std::uint16_t seq, std::size_t payload,
                       ipv4_addr to = peer_ip, mac_addr to_mac = peer_mac);

} // namespace tern::test
