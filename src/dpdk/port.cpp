#include "dpdk/port.hpp"

#include <algorithm>
#include <limits>
#include <charconv>
#include <cstdio>
#include <cstring>

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dpdk/eal.hpp"
#include "dpdk/rss.hpp"
#include "wire/ethernet.hpp"

namespace tern {

namespace {

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
    const std::uint16_t rss_queues = config.rss_queues != 0 ? config.rss_queues : config.queues;
    o.rss = rss_queues > 1 && (info.flow_type_rss_offloads & (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_IPV4));
    o.rss_tcp = o.rss && (info.flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_TCP);
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
        // tern's symmetric key (rss.hpp), which the software hash shares: both directions
        // of a flow land on one queue.
        for (std::size_t i = 0; i < key_len; ++i) rss_key[i] = rss::symmetric_key_byte(i);
        conf.rx_adv_conf.rss_conf.rss_key = rss_key;
        conf.rx_adv_conf.rss_conf.rss_key_len = key_len;
        conf.rx_adv_conf.rss_conf.rss_hf =
            info.flow_type_rss_offloads & (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_IPV4);
    }
    return conf;
}

// net_tap: what the kernel sends us on a TAP waits in a queue of the interface's txqueuelen
// packets (1000 by default) until we read it, one read() a frame, and the rest is dropped.
// The requests of 2000 clients arriving together overflowed it: wrk over a TAP lost 10% of
// its segments there, its retransmission timeouts held requests for over a second, and we
// retransmitted for the ACKs it lost. A queue this deep holds such a burst.
constexpr int tap_queue_packets = 10000;

// Raises the TAP's kernel queue to tap_queue_packets; says what it did, or why not.
std::string deepen_tap_queue(unsigned if_index) {
    char name[IF_NAMESIZE] = {};
    if (if_index == 0 || !if_indextoname(if_index, name)) return "tap: kernel queue unknown (no interface index)";
    const std::string head = std::string("tap ") + name + ": kernel queue ";
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return head + "unknown (" + std::strerror(errno) + ")";
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name, std::min(std::strlen(name), sizeof ifr.ifr_name - 1));
    std::string said;
    if (::ioctl(fd, SIOCGIFTXQLEN, &ifr) != 0) {
        said = head + "unknown (" + std::strerror(errno) + ")";
    } else if (ifr.ifr_qlen >= tap_queue_packets) {
        said = head + std::to_string(ifr.ifr_qlen) + " packets";
    } else {
        const int was = ifr.ifr_qlen;
        ifr.ifr_qlen = tap_queue_packets;
        said = ::ioctl(fd, SIOCSIFTXQLEN, &ifr) == 0
                   ? head + std::to_string(was) + " -> " + std::to_string(tap_queue_packets) + " packets"
                   : head + std::to_string(was) + " packets (not raised: " + std::strerror(errno) + ")";
    }
    ::close(fd);
    return said;
}

port_limits limits_of(std::uint16_t port_id, const rte_eth_dev_info& info) {
    port_limits l{port_id, info.driver_name ? info.driver_name : "?", info.min_mtu, info.max_mtu, info.max_rx_pktlen};
    l.max_queue_pairs = std::min(info.max_rx_queues, info.max_tx_queues);
    if (l.driver == "net_memif") {
        const rte_devargs* args = info.device ? rte_dev_devargs(info.device) : nullptr;
        std::string_view text = args && args->args ? args->args : "";
        // A zero-copy client has no buffers of its own (a server copies all the same).
        if (memif_zero_copy_client(text)) l.memif_zero_copy_slots = memif_ring_slots(text);
        else l.memif_buffer = memif_buffer_size(text);
    }
    return l;
}

std::string port_name(std::uint16_t port_id, const std::string& driver) {
    return "port " + std::to_string(port_id) + " (" + driver + ")";
}

// A port id the user gave that DPDK does not know, with the ids it does know.
setup_error no_such_port(std::uint16_t port_id) {
    std::string known;
    std::uint16_t id;
    RTE_ETH_FOREACH_DEV(id) { // (piece by piece, as hugepages.cpp's describe: GCC 12's warning)
        if (!known.empty()) known += ", ";
        known += std::to_string(id);
    }
    return {"port " + std::to_string(port_id) + " does not exist (DPDK has " + (known.empty() ? "none" : known) + ")",
            setup_error::setting::port_id, true};
}

// Ethernet header and CRC: what a frame adds to the MTU when the driver gives no max_mtu of
// its own to reckon it from (rte_eth_dev_set_mtu's rule).
constexpr std::uint32_t default_frame_overhead = 18;

} // namespace

namespace {

// The value of `key` ("bsize") in device arguments "k=v,k=v", the last one given.
std::optional<std::string_view> devarg(std::string_view devargs, std::string_view key) {
    std::optional<std::string_view> found;
    for (std::size_t at = 0; at <= devargs.size();) {
        std::size_t comma = std::min(devargs.find(',', at), devargs.size());
        std::string_view kv = devargs.substr(at, comma - at);
        if (kv.size() > key.size() && kv.starts_with(key) && kv[key.size()] == '=') found = kv.substr(key.size() + 1);
        at = comma + 1;
    }
    return found;
}

// The same as a number; nullopt when absent or not one.
std::optional<std::uint32_t> devarg_number(std::string_view devargs, std::string_view key) {
    const auto text = devarg(devargs, key);
    std::uint32_t v = 0;
    if (!text) return std::nullopt;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc{} || end != text->data() + text->size()) return std::nullopt;
    return v;
}

} // namespace

std::uint32_t memif_buffer_size(std::string_view devargs) { return devarg_number(devargs, "bsize").value_or(2048); }

std::uint32_t memif_ring_slots(std::string_view devargs) {
    const std::uint32_t log2 = devarg_number(devargs, "rsize").value_or(10);
    return log2 < 32 ? std::uint32_t(1) << log2 : 0;
}

bool memif_zero_copy_client(std::string_view devargs) {
    return devarg(devargs, "zero-copy") == "yes" && devarg(devargs, "role") != "server";
}

// net_memif's client in zero-copy mode fills its receive ring with mbufs of its own pool,
// and the frames it sends stay in the transmit ring until the server has read them: a pool
// that cannot hold both rings and some to spare leaves it nothing to receive into. With
// rsize=14 (16384 slots) and the default pool of 8191 mbufs a client received nothing, not
// even the ARP replies, and said nothing; with 65535 it carried a million connections.
std::optional<std::string> pool_refusal(const port_limits& l, std::uint32_t pool_size) {
    if (l.memif_zero_copy_slots == 0) return std::nullopt;
    const std::uint64_t rings = 2 * std::uint64_t(l.memif_zero_copy_slots), need = rings + 1024;
    if (pool_size >= need) return std::nullopt;
    return std::to_string(pool_size) + " mbufs are too few for " + port_name(l.port_id, l.driver) +
           " in zero-copy mode: its two rings of " + std::to_string(l.memif_zero_copy_slots) + " slots hold up to " +
           std::to_string(rings) + " of them; give at least " + std::to_string(need) + " (or a smaller rsize)";
}

std::optional<std::string> mtu_refusal(const port_limits& l, std::uint16_t mtu, std::uint32_t mbuf_bytes) {
    const std::string head = std::to_string(mtu) + " is ";
    const std::string port = port_name(l.port_id, l.driver);
    if (mtu < l.min_mtu) return head + "less than " + port + " takes (at least " + std::to_string(l.min_mtu) + ")";
    if (mtu > l.max_mtu) return head + "more than " + port + " takes (at most " + std::to_string(l.max_mtu) + ")";
    if (l.driver == "net_memif") {
        // DPDK 22.11's net_memif reports max_rx_pktlen 1518 and has no MTU to set, but keeps
        // no frame length: what limits it is its buffers. Mbufs that fit one (bsize) go one
        // a buffer; longer ones take a path that splits them across several, and on that path
        // a bulk transfer (MTU 9000, bsize 2048) received more frames than were sent, stale
        // and duplicated ones among them (likely its free-slot count, which lets a frame that
        // spans the last free slot write one past it). So the buffers must hold our mbufs, on
        // both sides.
        if (l.memif_buffer != 0 && l.memif_buffer < mbuf_bytes)
            return head + "more than " + port + " carries with buffers of " + std::to_string(l.memif_buffer) +
                   " bytes: add bsize=" + std::to_string(mbuf_bytes) +
                   " (or more) to the net_memif --vdev arguments of both sides";
        return std::nullopt;
    }
    const std::uint32_t overhead = l.max_mtu != UINT16_MAX && l.max_rx_pktlen > l.max_mtu
                                       ? l.max_rx_pktlen - l.max_mtu
                                       : default_frame_overhead;
    if (std::uint32_t(mtu) + overhead > l.max_rx_pktlen)
        return head + "more than " + port + " takes: it receives frames of at most " + std::to_string(l.max_rx_pktlen) +
               " bytes, an MTU of at most " + std::to_string(l.max_rx_pktlen - std::min(l.max_rx_pktlen, overhead));
    return std::nullopt;
}

namespace {

// What the port says of itself, or why it cannot say.
result<rte_eth_dev_info, setup_error> device_info(std::uint16_t port_id) {
    if (!rte_eth_dev_is_valid_port(port_id)) return unexpected{no_such_port(port_id)};
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0)
        return unexpected{setup_error{"port " + std::to_string(port_id) + ": rte_eth_dev_info_get: " + errno_text(rc)}};
    return info;
}

} // namespace

result<port_limits, setup_error> port::limits(std::uint16_t port_id) {
    auto info = device_info(port_id);
    if (!info) return unexpected{info.error()};
    return limits_of(port_id, *info);
}

result<std::uint16_t, std::string> port::first_available() {
    std::uint16_t id;
    RTE_ETH_FOREACH_DEV(id) { return id; }
    return unexpected{std::string("no DPDK port: pass one with EAL arguments, e.g. --vdev=net_tap0,iface=tern0")};
}

result<port, setup_error> port::open(std::uint16_t port_id, const port_config& config) {
    auto got = device_info(port_id);
    if (!got) return unexpected{got.error()};
    const rte_eth_dev_info& info = *got;
    const std::string name = port_name(port_id, info.driver_name ? info.driver_name : "?");
    // The port's word on a call, with the port named: the driver's reason is in DPDK's log.
    auto fail = [&name](std::string message) { return unexpected{setup_error{name + ": " + std::move(message)}}; };
    if (config.pools.size() != config.queues) return fail("one mbuf pool per queue is needed");
    if (config.queues > info.max_rx_queues || config.queues > info.max_tx_queues)
        return unexpected{setup_error{std::to_string(config.queues) + " queue pairs asked; " + name + " has at most " +
                                          std::to_string(std::min(info.max_rx_queues, info.max_tx_queues)),
                                      setup_error::setting::queues, true}};
    if (config.rss_queues > config.queues) return fail("RSS over more queues than the port is given");
    // RX without scatter: every receive buffer holds a whole frame.
    const std::uint32_t frame = config.mtu + std::uint32_t(wire::ethernet_header_len);
    std::uint32_t mbuf_bytes = 0;
    for (rte_mempool* pool : config.pools) {
        const std::uint32_t bytes = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
        if (bytes < frame)
            return fail(std::string("mbuf pool '") + pool->name + "' holds " + std::to_string(bytes) +
                        " bytes a buffer, less than a frame of MTU " + std::to_string(config.mtu) + " (see mbuf_data_room)");
        mbuf_bytes = std::max(mbuf_bytes, bytes);
    }
    const port_limits limits = limits_of(port_id, info);
    if (auto no = mtu_refusal(limits, config.mtu, mbuf_bytes))
        return unexpected{setup_error{*no, setup_error::setting::mtu, true}};
    for (rte_mempool* pool : config.pools)
        if (auto no = pool_refusal(limits, pool->size))
            return unexpected{setup_error{*no, setup_error::setting::pool_size, true}};

    port p;
    p.id_ = port_id;
    p.queues_ = config.queues;
    p.rss_queues_ = config.rss_queues != 0 ? config.rss_queues : config.queues;
    p.driver_ = info.driver_name ? info.driver_name : "?";
    p.offloads_ = pick_offloads(info, config);
    // A key as long as any driver may ask for (hash_key_size is 8 bits): make_eth_conf fills
    // hash_key_size bytes, and a 64-byte array overflowed for a driver that wanted more.
    std::uint8_t rss_key[std::numeric_limits<decltype(info.hash_key_size)>::max()];
    rte_eth_conf conf = make_eth_conf(info, p.offloads_, rss_key);
    if (int rc = rte_eth_dev_configure(port_id, config.queues, config.queues, &conf); rc != 0)
        return fail("rte_eth_dev_configure: " + errno_text(rc));
    p.open_ = true; // from here on the destructor closes the port

    std::uint16_t rx_ring = config.rx_ring_size, tx_ring = config.tx_ring_size;
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_ring, &tx_ring); rc != 0)
        return fail("rte_eth_dev_adjust_nb_rx_tx_desc: " + errno_text(rc));
    int socket = rte_eth_dev_socket_id(port_id);
    for (std::uint16_t q = 0; q < config.queues; ++q) {
        rte_eth_rxconf rxconf = info.default_rxconf;
        rxconf.offloads = conf.rxmode.offloads;
        if (int rc = rte_eth_rx_queue_setup(port_id, q, rx_ring, socket, &rxconf, config.pools[q]); rc != 0)
            return fail("rte_eth_rx_queue_setup: " + errno_text(rc));
        rte_eth_txconf txconf = info.default_txconf;
        txconf.offloads = conf.txmode.offloads;
        if (int rc = rte_eth_tx_queue_setup(port_id, q, tx_ring, socket, &txconf); rc != 0)
            return fail("rte_eth_tx_queue_setup: " + errno_text(rc));
    }

    // A driver with no MTU to set (net_ring, net_memif: -ENOTSUP) passes frames as they come,
    // within the limits checked above. Any other refusal is the port's word on this MTU.
    if (int rc = rte_eth_dev_set_mtu(port_id, config.mtu); rc != 0 && rc != -ENOTSUP)
        return unexpected{setup_error{name + " refused MTU " + std::to_string(config.mtu) + ": " + errno_text(rc),
                                      setup_error::setting::mtu, true}};
    p.mtu_ = config.mtu;

    if (int rc = rte_eth_dev_start(port_id); rc != 0) return fail("rte_eth_dev_start: " + errno_text(rc));
    rte_ether_addr mac;
    if (int rc = rte_eth_macaddr_get(port_id, &mac); rc != 0) return fail("rte_eth_macaddr_get: " + errno_text(rc));
    std::memcpy(p.mac_.bytes.data(), mac.addr_bytes, 6);
    if (p.driver_ == "net_tap") p.note_ = deepen_tap_queue(info.if_index);
    if (p.offloads_.rss) p.program_redirection(info.reta_size);
    return p;
}

port::port(port&& other) noexcept
    : open_(other.open_), id_(other.id_), queues_(other.queues_), rss_queues_(other.rss_queues_), mtu_(other.mtu_), mac_(other.mac_),
      offloads_(other.offloads_), driver_(std::move(other.driver_)), note_(std::move(other.note_)),
      reta_entries_(other.reta_entries_) {
    other.open_ = false;
}

namespace {

void stop_and_close(void* id) {
    const std::uint16_t port_id = *static_cast<std::uint16_t*>(id);
    rte_eth_dev_stop(port_id);
    rte_eth_dev_close(port_id);
}

} // namespace

// net_memif frees the regions it shares with its peer in memif_disconnect, which both its
// stop and its interrupt handler (the peer left) call, with no lock between them: a peer
// leaving while we stopped freed them twice ("EAL: Error: Invalid memory"), and the process
// crashed or hung at exit. On the interrupt thread the two cannot overlap.
port::~port() {
    if (!open_) return;
    std::uint16_t id = id_;
    if (!run_on_interrupt_thread(stop_and_close, &id, std::chrono::seconds(2))) stop_and_close(&id);
}

// The NIC's redirection table as core/steering reckons it: entry i -> queue i % RSS queues. A
// driver that keeps its own (no reta_update, or a table size it does not take) is corrected
// packet by packet by software steering, and says so in describe().
void port::program_redirection(std::uint16_t reta_size) {
    if (reta_size == 0) {
        note_ += std::string(note_.empty() ? "" : "; ") + "rss: no redirection table to program (the driver spreads by its own rule)";
        return;
    }
    auto table = rss::redirection_table::round_robin(reta_size, rss_queues_);
    if (!table) {
        note_ += std::string(note_.empty() ? "" : "; ") + "rss: driver's redirection table (" +
                 std::string(rss::to_string(table.error())) + ", " + std::to_string(reta_size) + " entries)";
        return;
    }
    auto entries = table->reta_update_entries();
    if (int rc = rte_eth_dev_rss_reta_update(id_, entries.data(), reta_size); rc != 0) {
        note_ += std::string(note_.empty() ? "" : "; ") + "rss: driver's redirection table (reta_update: " +
                 errno_text(rc) + ")";
        return;
    }
    reta_entries_ = reta_size;
}

std::string port::describe() const {
    auto on = [](bool b) { return b ? "hw" : "sw"; };
    std::string rss = "off";
    if (offloads_.rss) {
        rss = std::string("on (symmetric key, ") + (offloads_.rss_tcp ? "tcp ports" : "addresses only");
        if (reta_entries_ != 0) rss += ", " + std::to_string(reta_entries_) + " table entries";
        rss += ")";
    }
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "port %u: driver %s, mac %s, mtu %u, %u queue(s); ipv4 csum rx %s tx %s, tcp csum rx %s tx %s, "
                  "tso %s, rss %s, multi-seg tx %s",
                  id_, driver_.c_str(), mac_.to_string().c_str(), mtu_, queues_, on(offloads_.rx_ipv4_checksum),
                  on(offloads_.tx_ipv4_checksum), on(offloads_.rx_tcp_checksum), on(offloads_.tx_tcp_checksum),
                  offloads_.tso ? "on" : "off", rss.c_str(), offloads_.multi_segment_tx ? "on" : "off");
    return note_.empty() ? std::string(buf) : std::string(buf) + "; " + note_;
}

} // namespace tern
