#include "core/steering.hpp"

#include <algorithm>
#include <atomic>

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

namespace tern {

result<std::unique_ptr<steering>, std::string> steering::create(std::uint16_t engines, std::uint32_t ring_size,
                                                               std::uint32_t entries) {
    auto fail = [](std::string why) { return unexpected{"steering: " + std::move(why)}; };
    if (engines < 2) return fail("needs two engines or more");
    if (ring_size < 2 || (ring_size & (ring_size - 1)) != 0) return fail("ring size must be a power of two");
    auto reta = rss::redirection_table::round_robin(entries, engines);
    if (!reta) return fail(std::string(rss::to_string(reta.error())));
    std::unique_ptr<steering> s(new steering(rss::toeplitz::symmetric(), std::move(*reta)));
    // Ring names are process-wide in DPDK: a sequence number keeps two runtimes (tests) apart.
    static std::atomic<unsigned> made{0};
    const unsigned serial = made.fetch_add(1);
    s->rings_.assign(std::size_t(engines) * engines, nullptr);
    for (std::uint16_t from = 0; from < engines; ++from) {
        for (std::uint16_t to = 0; to < engines; ++to) {
            if (from == to) continue;
            const std::string name = "tern_st" + std::to_string(serial) + "_" + std::to_string(from) + "_" + std::to_string(to);
            // RING_F_EXACT_SZ: ring_size packets fit, not ring_size - 1.
            rte_ring* r = rte_ring_create(name.c_str(), ring_size, SOCKET_ID_ANY,
                                          RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
            if (r == nullptr) return fail("no ring " + name + ": " + rte_strerror(rte_errno));
            s->rings_[std::size_t(from) * engines + to] = r;
        }
    }
    return s;
}

// The engines have stopped; packets still in a ring go back to their pools.
steering::~steering() {
    for (rte_ring* r : rings_) {
        if (r == nullptr) continue;
        void* m;
        while (rte_ring_sc_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(r);
    }
}

} // namespace tern
