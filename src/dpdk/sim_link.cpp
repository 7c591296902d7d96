#include "dpdk/sim_link.hpp"

#include <algorithm>
#include <cassert>

#include <rte_mbuf.h>

namespace tern {

status<std::string> sim_link_config::validate() const {
    if (delay < duration::zero()) return unexpected{std::string("delay: must not be negative")};
    if (queue_limit == 0) return unexpected{std::string("queue_limit: must be at least 1")};
    return {};
}

sim_link::sim_link(clock& clk, const sim_link_config& config) : clock_(clk), config_(config) {
    assert(config.validate() && "sim_link_config must validate");
}

sim_link::~sim_link() {
    for (wire* w : {&a_to_b_, &b_to_a_})
        for (auto& f : w->queue) rte_pktmbuf_free(f.pkt);
}

sim_link_counters sim_link::counters(direction dir) const {
    const wire& w = dir == direction::a_to_b ? a_to_b_ : b_to_a_;
    sim_link_counters c = w.counters;
    c.in_flight = w.queue.size();
    return c;
}

std::optional<instant> sim_link::next_arrival() const {
    std::optional<instant> next;
    for (const wire* w : {&a_to_b_, &b_to_a_})
        if (!w->queue.empty() && (!next || w->queue.front().arrival < *next)) next = w->queue.front().arrival;
    return next;
}

duration sim_link::serialisation_time(std::uint32_t bytes) const {
    if (config_.bits_per_second == 0) return duration::zero();
    // 128 bits: bytes * 8 * 1e9 overflows 64 bits beyond about 2 GB.
    __extension__ using u128 = unsigned __int128;
    const u128 bit_ns = u128(bytes) * 8 * 1'000'000'000u;
    const u128 bps = config_.bits_per_second;
    return duration(std::int64_t((bit_ns + bps - 1) / bps));
}

// A transmitter sends one packet at a time: a packet starts when the line is free and
// arrives a propagation delay after its last bit left.
std::uint16_t sim_link::transmit(wire& w, rte_mbuf** pkts, std::uint16_t n) {
    const instant now = clock_.now();
    for (std::uint16_t i = 0; i < n; ++i) {
        if (w.queue.size() >= config_.queue_limit) {
            rte_pktmbuf_free(pkts[i]);
            ++w.counters.dropped;
            continue;
        }
        const instant start = std::max(now, w.line_free);
        w.line_free = start + serialisation_time(pkts[i]->pkt_len);
        w.queue.push_back({w.line_free + config_.delay, pkts[i]});
        ++w.counters.sent;
    }
    return n;
}

std::uint16_t sim_link::receive(wire& w, rte_mbuf** pkts, std::uint16_t n) {
    const instant now = clock_.now();
    std::uint16_t got = 0;
    while (got < n && !w.queue.empty() && w.queue.front().arrival <= now) {
        pkts[got++] = w.queue.front().pkt;
        w.queue.pop_front();
    }
    w.counters.delivered += got;
    return got;
}

std::uint16_t sim_link::end::rx_burst(rte_mbuf** pkts, std::uint16_t n) { return link_.receive(in_, pkts, n); }

std::uint16_t sim_link::end::tx_burst(rte_mbuf** pkts, std::uint16_t n) { return link_.transmit(out_, pkts, n); }

} // namespace tern
