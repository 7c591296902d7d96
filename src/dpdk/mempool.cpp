#include "dpdk/mempool.hpp"

#include <algorithm>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "wire/ethernet.hpp"

namespace tern {

std::uint16_t mbuf_data_room(std::uint16_t mtu) {
    std::uint32_t room = RTE_PKTMBUF_HEADROOM + wire::ethernet_header_len + mtu;
    room = (room + RTE_CACHE_LINE_SIZE - 1) / RTE_CACHE_LINE_SIZE * RTE_CACHE_LINE_SIZE;
    return std::uint16_t(std::max<std::uint32_t>(room, RTE_MBUF_DEFAULT_BUF_SIZE));
}

result<mbuf_pool, std::string> mbuf_pool::create(const std::string& name, std::uint32_t size,
                                                 std::uint16_t data_room, int socket) {
    if (data_room == 0) data_room = RTE_MBUF_DEFAULT_BUF_SIZE;
    if (socket < 0) socket = int(rte_socket_id());
    // A per-lcore cache keeps the common alloc/free off the shared ring.
    std::uint32_t cache = size >= 4096 ? 256 : 0;
    rte_mempool* pool = rte_pktmbuf_pool_create(name.c_str(), size, cache, 0, data_room, socket);
    if (!pool)
        return unexpected{"mbuf pool '" + name + "' (" + std::to_string(size) + " mbufs of " + std::to_string(data_room) +
                          " bytes, over " + std::to_string((std::uint64_t(size) * data_room) >> 20) +
                          " MiB): " + rte_strerror(rte_errno)};
    return mbuf_pool(pool);
}

mbuf_pool::~mbuf_pool() {
    if (pool_) rte_mempool_free(pool_);
}

std::uint32_t mbuf_pool::in_use() const { return rte_mempool_in_use_count(pool_); }

} // namespace tern
