// A device that a test scripts by hand, shared by the engine and simulation tests.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include <rte_mbuf.h>

#include "dpdk/device.hpp"

namespace tern::test {

// A device the test scripts: `inbox` is what rx_burst returns, `sent` what tx_burst took;
// it takes at most `accept` more packets (then refuses), and stops at the first frame
// longer than `max_frame` as net_tap does (so it refuses that frame every time). Its link is
// `link`; `link_queries` counts the times it was asked. Frees whatever it still holds.
class script_device final : public device {
public:
    ~script_device() override {
        for (auto* m : inbox) rte_pktmbuf_free(m);
        for (auto* m : sent) rte_pktmbuf_free(m);
    }
    std::uint16_t rx_burst(rte_mbuf** pkts, std::uint16_t n) override {
        std::uint16_t got = 0;
        while (got < n && !inbox.empty()) {
            pkts[got++] = inbox.front();
            inbox.pop_front();
        }
        return got;
    }
    std::uint16_t tx_burst(rte_mbuf** pkts, std::uint16_t n) override {
        std::uint16_t took = std::uint16_t(std::min<std::uint64_t>(n, accept));
        for (std::uint16_t i = 0; i < took; ++i)
            if (rte_pktmbuf_pkt_len(pkts[i]) > max_frame) took = i;
        accept -= took;
        for (std::uint16_t i = 0; i < took; ++i) sent.push_back(pkts[i]);
        ++tx_calls;
        took_per_call.push_back(took);
        return took;
    }
    bool link_up() override {
        ++link_queries;
        return link;
    }

    std::deque<rte_mbuf*> inbox;
    std::vector<rte_mbuf*> sent;
    std::uint64_t accept = UINT64_MAX;
    std::uint32_t max_frame = UINT32_MAX;
    std::uint64_t tx_calls = 0;
    std::vector<std::uint16_t> took_per_call; // what each tx_burst took, in order
    bool link = true;
    std::uint64_t link_queries = 0;
};

} // namespace tern::test
