// RAII for a packet-buffer pool.
#pragma once

#include <cstdint>
#include <string>

#include "tern/result.hpp"

struct rte_mempool;

namespace tern {

// The data room an mbuf needs to hold a whole frame of this IP MTU in one segment: DPDK's
// headroom, the Ethernet header and the MTU, and never less than DPDK's default (2048 bytes
// after the headroom). One segment a frame keeps RX free of scatter and lets TCP copy a full
// segment into one mbuf (tcp::endpoint_core::emit).
std::uint16_t mbuf_data_room(std::uint16_t mtu);

class mbuf_pool {
public:
    // `size` mbufs of `data_room` bytes each (RTE_MBUF_DEFAULT_BUF_SIZE when 0).
    static result<mbuf_pool, std::string> create(const std::string& name, std::uint32_t size,
                                                 std::uint16_t data_room = 0, int socket = -1);

    mbuf_pool(mbuf_pool&& other) noexcept : pool_(other.pool_) { other.pool_ = nullptr; }
    mbuf_pool& operator=(mbuf_pool&&) = delete;
    mbuf_pool(const mbuf_pool&) = delete;
    ~mbuf_pool();

    rte_mempool* get() const { return pool_; }
    // mbufs currently taken from the pool (by anyone: NIC rings, engines, the app).
    std::uint32_t in_use() const;

private:
    explicit mbuf_pool(rte_mempool* pool) : pool_(pool) {}
    rte_mempool* pool_;
};

} // namespace tern
