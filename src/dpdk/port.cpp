#include "dpdk/port.hpp"

#include <cstdio>
#include <cstring>

#include <rte_errno.h>
#include <rte_ethdev.h>

namespace tern {

namespace {

// A Toeplitz key of one repeated 16-bit pattern hashes (a,b) and (b,a) alike, so both
// directions of a flow land on one queue (Woo & Park, "Scalable TCP session monitoring
// with symmetric receive-side scaling", 2012).
constexpr std::uint8_t symmetric_rss_key_byte(std::size_t i) { return i % 2 == 0 ? 0x6d : 0x5a; }

std::string errno_text(int rc) { return rte_strerror(rc < 0 ? -rc : rc); }

port_offloads pick_offloads(const rte_eth_dev_info& info, const port_config& config) {
    port_offloads o;
    if (config.disable_offloads) return o;
    o.rx_ipv4_checksum = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    o.rx_tcp_checksum = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
    o.tx_ipv4_checksum = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    o.tx_tcp_checksum = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    o.tso = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO;
    o.multi_segment_tx = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
    o.rss = config.queues > 1 && (info.flow_type_rss_offloads & (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_IPV4));
    return o;
}

rte_eth_conf make_eth_conf(const rte_eth_dev_info& info, const port_offloads& o, std::uint8_t* rss_key) {
    rte_eth_conf conf{};
    if (o.rx_ipv4_checksum) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    if (o.rx_tcp_checksum) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
    if (o.tx_ipv4_checksum) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    if (o.tx_tcp_checksum) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    if (o.tso) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
    if (o.multi_segment_tx) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
    if (o.rss) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        std::uint8_t key_len = info.hash_key_size ? info.hash_key_size : 40;
        for (std::size_t i = 0; i < key_len; ++i) rss_key[i] = symmetric_rss_key_byte(i);
        conf.rx_adv_conf.rss_conf.rss_key = rss_key;
        conf.rx_adv_conf.rss_conf.rss_key_len = key_len;
        conf.rx_adv_conf.rss_conf.rss_hf =
            info.flow_type_rss_offloads & (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_IPV4);
    }
    return conf;
}

} // namespace

result<std::uint16_t, std::string> port::first_available() {
    std::uint16_t id;
    RTE_ETH_FOREACH_DEV(id) { return id; }
    return unexpected{std::string("no DPDK port: pass one with EAL arguments, e.g. --vdev=net_tap0,iface=tern0")};
}

result<port, std::string> port::open(std::uint16_t port_id, const port_config& config) {
    if (!rte_eth_dev_is_valid_port(port_id)) return unexpected{"port " + std::to_string(port_id) + " does not exist"};
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) return unexpected{"rte_eth_dev_info_get: " + errno_text(rc)};
    if (config.pools.size() != config.queues) return unexpected{std::string("one mbuf pool per queue is needed")};
    if (config.queues > info.max_rx_queues || config.queues > info.max_tx_queues)
        return unexpected{"port " + std::to_string(port_id) + " (" + info.driver_name + ") has at most " +
                          std::to_string(std::min(info.max_rx_queues, info.max_tx_queues)) + " queues; asked for " +
                          std::to_string(config.queues) + " engines"};

    port p;
    p.id_ = port_id;
    p.queues_ = config.queues;
    p.driver_ = info.driver_name ? info.driver_name : "?";
    p.offloads_ = pick_offloads(info, config);
    std::uint8_t rss_key[64];
    rte_eth_conf conf = make_eth_conf(info, p.offloads_, rss_key);
    if (int rc = rte_eth_dev_configure(port_id, config.queues, config.queues, &conf); rc != 0)
        return unexpected{"rte_eth_dev_configure: " + errno_text(rc)};
    p.open_ = true; // from here on the destructor closes the port

    std::uint16_t rx_ring = config.rx_ring_size, tx_ring = config.tx_ring_size;
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_ring, &tx_ring); rc != 0)
        return unexpected{"rte_eth_dev_adjust_nb_rx_tx_desc: " + errno_text(rc)};
    int socket = rte_eth_dev_socket_id(port_id);
    for (std::uint16_t q = 0; q < config.queues; ++q) {
        rte_eth_rxconf rxconf = info.default_rxconf;
        rxconf.offloads = conf.rxmode.offloads;
        if (int rc = rte_eth_rx_queue_setup(port_id, q, rx_ring, socket, &rxconf, config.pools[q]); rc != 0)
            return unexpected{"rte_eth_rx_queue_setup: " + errno_text(rc)};
        rte_eth_txconf txconf = info.default_txconf;
        txconf.offloads = conf.txmode.offloads;
        if (int rc = rte_eth_tx_queue_setup(port_id, q, tx_ring, socket, &txconf); rc != 0)
            return unexpected{"rte_eth_tx_queue_setup: " + errno_text(rc)};
    }

    // Not every PMD can change its MTU (net_ring cannot): keep what it has then.
    if (rte_eth_dev_set_mtu(port_id, config.mtu) != 0) rte_eth_dev_get_mtu(port_id, &p.mtu_);
    else p.mtu_ = config.mtu;

    if (int rc = rte_eth_dev_start(port_id); rc != 0) return unexpected{"rte_eth_dev_start: " + errno_text(rc)};
    rte_ether_addr mac;
    if (int rc = rte_eth_macaddr_get(port_id, &mac); rc != 0) return unexpected{"rte_eth_macaddr_get: " + errno_text(rc)};
    std::memcpy(p.mac_.bytes.data(), mac.addr_bytes, 6);
    return p;
}

port::port(port&& other) noexcept
    : open_(other.open_), id_(other.id_), queues_(other.queues_), mtu_(other.mtu_), mac_(other.mac_),
      offloads_(other.offloads_), driver_(std::move(other.driver_)) {
    other.open_ = false;
}

port::~port() {
    if (!open_) return;
    rte_eth_dev_stop(id_);
    rte_eth_dev_close(id_);
}

std::string port::describe() const {
    auto on = [](bool b) { return b ? "hw" : "sw"; };
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "port %u: driver %s, mac %s, mtu %u, %u queue(s); ipv4 csum rx %s tx %s, tcp csum rx %s tx %s, "
                  "tso %s, rss %s, multi-seg tx %s",
                  id_, driver_.c_str(), mac_.to_string().c_str(), mtu_, queues_, on(offloads_.rx_ipv4_checksum),
                  on(offloads_.tx_ipv4_checksum), on(offloads_.rx_tcp_checksum), on(offloads_.tx_tcp_checksum),
                  offloads_.tso ? "on" : "off", offloads_.rss ? "on (symmetric key)" : "off",
                  offloads_.multi_segment_tx ? "on" : "off");
    return buf;
}

} // namespace tern
