// One engine per lcore: polls its own queue pair, runs every packet of a burst to
// completion, fires its timers, and transmits once per round (DESIGN.md "The engine loop").
// All state here is the engine's own; the only shared objects are the neighbor cache (with
// our IPv6 addresses' states) and the clock, which every engine of a process reads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/arp_pending.hpp"
#include "core/clock.hpp"
#include "core/ipv4_reassembly.hpp"
#include "core/neighbor_cache.hpp"
#include "core/neighbor_discovery.hpp"
#include "core/stats.hpp"
#include "core/steering.hpp"
#include "core/timer_wheel.hpp"
#include "core/tx_buffer.hpp"
#include "dpdk/device.hpp"
#include "dpdk/port.hpp"
#include "tern/config.hpp"
#include "wire/frame.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace tern {

namespace wire {
class arp_view;
class icmp_view;
struct icmp_quoted_tcp;
struct icmpv6_quoted_tcp;
class ipv4_view;
class ipv6_view;
class tcp_view;
} // namespace wire

// What an engine knows of the port it sends through.
struct engine_port {
    std::uint16_t port_id = 0;
    std::uint16_t queue = 0;
    mac_addr mac;
    port_offloads offloads;
    std::uint16_t mtu = 1500; // IP MTU: the longest frame sent is mtu + 14 (Ethernet header)
};

// Timer kinds the engine dispatches on (timer_hook::kind). Hooks of kind upper_layer
// belong to the protocol handler and are handed to it.
enum class timer_kind : std::uint32_t {
    arp_retry = 1,
    upper_layer = 2,
    reassembly = 3,
    neighbor_discovery = 4,
    nd_retry = 5, // address resolution over IPv6 (nd_resolution)
};

// What the protocol handler shows through telemetry (telemetry.hpp): counters, connections
// per state, and a bounded listing of connections, one line each.
struct handler_report {
    std::vector<std::pair<std::string, std::uint64_t>> counters;
    std::vector<std::pair<std::string, std::uint64_t>> states;
    std::vector<std::string> connections; // at most max_listed
    std::uint64_t connections_total = 0;
    static constexpr std::size_t max_listed = 100; // DPDK telemetry answers are at most 16 KiB
    // The engine's own part (the one that runs Neighbor Discovery, with IPv6 on): "address
    // <addr>/<len> <state>" for each of our IPv6 addresses, "neighbor <addr> <mac>
    // learned|expired" for each neighbor.
    std::vector<std::string> ipv6;
};

// The layer above the engine (the TCP endpoint) implements this. Dependencies point
// downwards (DESIGN.md), so the engine calls up only through this interface.
class protocol_handler {
public:
    virtual ~protocol_handler() = default;
    // A validated TCP segment for our address. Takes ownership of m; `ip` and `tcp` are
    // views into it.
    virtual void on_tcp(rte_mbuf* m, const wire::ipv4_view& ip, const wire::tcp_view& tcp) = 0;
    // The same over IPv6.
    virtual void on_tcp6(rte_mbuf* m, const wire::ipv6_view& ip, const wire::tcp_view& tcp) = 0;
    // A burst as it came from the device, before any of it is received: a chance to
    // start loading what its packets will need (flow table slots).
    virtual void look_ahead(std::span<rte_mbuf* const> /*burst*/) {}
    // ICMP destination unreachable (RFC 792) quoting a TCP segment we sent: `code` says why
    // (wire::icmp_unreachable_code), `mtu` is the next hop's for fragmentation needed (RFC
    // 1191 §4; 0 when the router did not say). Whether it concerns a connection is the
    // handler's to judge (RFC 5927 §4.1).
    virtual void on_icmp_unreachable(std::uint8_t /*code*/, std::uint16_t /*mtu*/, const wire::icmp_quoted_tcp& /*quoted*/) {}
    // ICMPv6 Packet Too Big (RFC 4443 §3.2) quoting a TCP segment we sent: the link MTU the
    // router reports (RFC 8201 §4). Whether it concerns a connection is the handler's to judge.
    virtual void on_packet_too_big(std::uint32_t /*mtu*/, const wire::icmpv6_quoted_tcp& /*quoted*/) {}
    // A timer hook of kind upper_layer fired.
    virtual void on_timer(timer_hook& hook) = 0;
    // Once per round after the RX bursts (up to engine_config::rx_bursts), the pollers and
    // the timers, before TX: the place to emit what the round made due, each connection
    // once, its ACK coalesced with its data however many segments of the round were its
    // (DESIGN.md "The engine loop", step 5). Timers that fire send at once.
    virtual void after_burst() = 0;
    // On the engine's core, when telemetry asked (engine::request_report).
    virtual void report(handler_report& /*out*/) const {}
};

class engine {
public:
    engine(std::uint16_t id, const engine_config& config, const engine_port& port, device& dev,
           rte_mempool* pool, neighbor_cache& neighbors, clock& clk);
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    // Announces our address (gratuitous ARP) when configured to.
    void start();
    // One round of the loop: RX bursts (up to rx_bursts) and their dispatch, pollers,
    // timers, the handler's after_burst, one TX burst.
    void poll();
    // Rounds until `stop` becomes true; then a last TX flush.
    void run(const std::atomic<bool>& stop);

    // Sends an IPv4 packet whose data starts at the IPv4 header (with headroom for
    // Ethernet): routes it, resolves the next hop (queueing while ARP runs), and
    // transmits. Takes ownership of m in every case.
    void send_ipv4(rte_mbuf* m, ipv4_addr dst);
    // For a sender that writes whole frames (the TCP endpoint): the Ethernet and IPv4
    // headers of TCP datagrams from `src` (one of ours) to `dst`, when dst has a route and
    // its next hop's MAC is known; else null, and the sender uses send_ipv4, which counts
    // no_route or waits for ARP. Valid until the next call.
    const wire::ipv4_frame_prefix* tcp_frame_prefix(ipv4_addr src, ipv4_addr dst);
    // Sends a frame whose Ethernet and IPv4 headers are written (as tcp_frame_prefix gives
    // them: no IP options). Takes ownership of m.
    void send_frame(rte_mbuf* m, std::size_t ip_header_length = wire::ipv4_min_header_length);
    // Sends an IPv6 packet whose data starts at the IPv6 header (with headroom for Ethernet)
    // to its next hop, soliciting it first when its MAC is not known (RFC 4861 §7.2.2: the
    // packet waits for the answer). Takes ownership of m.
    void send_ipv6(rte_mbuf* m, const ipv6_addr& dst);
    // tcp_frame_prefix for IPv6: null when the next hop's MAC is not known (send_ipv6 then
    // solicits it) or there is no route. Valid until the next call.
    const wire::ipv6_frame_prefix* tcp_frame_prefix6(const ipv6_addr& src, const ipv6_addr& dst);
    // Sends a frame whose Ethernet and IPv6 headers are written (as tcp_frame_prefix6 gives
    // them). Takes ownership of m.
    void send_frame_v6(rte_mbuf* m);
    // Resolves ip without a packet waiting (no-op if already known or in progress).
    void resolve(ipv4_addr ip);
    // Told when a next hop did not answer ARP, or an IPv6 neighbor Neighbor Discovery's
    // solicitations: whoever was sending to it learns of it.
    void on_unreachable(std::function<void(ip_addr)> handler) { unreachable_handler_ = std::move(handler); }
    // Hands every TCP packet whose flow another engine owns to that engine, and takes those
    // the others hand to this one (steering.hpp). Without it (one engine) every packet is
    // this engine's. Set before run(); `s` must outlive the engine.
    void set_steering(const steering* s);
    const steering* flow_steering() const { return steering_; }
    // The TCP layer; without one, every segment is dropped as tcp_no_endpoint.
    void set_protocol_handler(protocol_handler* handler) { handler_ = handler; }
    // Application work run on this core once per round, after the burst's TCP input and
    // before the timers (a load generator's request schedule). Register before run().
    void add_poller(std::function<void(instant now)> poller) { pollers_.push_back(std::move(poller)); }
    // The next hop towards dst: dst itself on-link, else the gateway (none: no route).
    std::optional<ipv4_addr> next_hop(ipv4_addr dst) const;
    // Our address or one of the extra ones (engine_config::extra_addresses).
    bool is_local(ipv4_addr a) const { return a == config_.address.addr || config_.extra_addresses.contains(a); }
    // IPv6 (engine_config::ipv6, every engine): whether it is on, whether `a` is one of our
    // preferred addresses, and the address to send to `dst` from (none before DAD is done).
    bool has_ipv6() const { return nd_.has_value(); }
    bool is_local_v6(const ipv6_addr& a) const;
    std::optional<ipv6_addr> ipv6_source_for(const ipv6_addr& dst) const;
    // The next hop towards dst: dst itself on-link (or a group), else the IPv6 gateway.
    std::optional<ipv6_addr> next_hop_v6(const ipv6_addr& dst) const;
    // True when the MAC of dst's next hop is known; else asks for it (a solicitation,
    // unless one is out).
    bool resolve_v6(const ipv6_addr& dst);

    std::uint16_t id() const { return id_; }
    const engine_stats& stats() const { return stats_; }
    mac_addr mac() const { return mac_; }
    ipv4_cidr address() const { return config_.address; }
    rte_mempool* pool() const { return pool_; }
    // A received packet its handler is done with (our reference: an application may hold
    // more): freed with the others of its burst, in one rte_pktmbuf_free_bulk at the
    // burst's end, rather than one by one (64 instructions a segment). At the latest the
    // round's end frees it, or the engine's.
    void free_received(rte_mbuf* m) {
        received_done_[received_done_count_++] = m;
        if (received_done_count_ == received_done_.size()) free_received_now();
    }
    const port_offloads& offloads() const { return port_.offloads; }
    timer_wheel& timers() { return timers_; }
    instant now() const { return now_; }
    // The time the timers ran to this round (engine_config::timer_hold): now, unless input
    // was left waiting. A hook that fires early must not act on a deadline after it.
    instant timers_due_by() const { return timers_due_by_; }
    std::uint16_t arp_in_progress() const { return pending_.active(); }
    std::uint16_t tx_backlog() const { return tx_.size(); }
    std::uint16_t reassembly_in_progress() const { return reassembly_.in_progress(); }
    // How often, at most, an engine whose device takes nothing asks it whether its link is up,
    // to count the refusals as tx_deferred_link_down rather than tx_deferred.
    static constexpr duration link_check_interval = std::chrono::milliseconds(100);
    // A round that starts this long after the one before is counted a stall (stats: stalls).
    static constexpr duration stall_threshold = std::chrono::milliseconds(1);
    // Behind: the last round read its whole RX budget and found more waiting, or the
    // device keeps refusing what we send. Whoever starts new work (a SYN accepted, a connection
    // opened) holds back while this is so: work we cannot send or answer only returns as
    // retransmissions.
    // A backlog of a quarter of its capacity is more than a ring that is momentarily full.
    bool congested() const { return rx_saturated_ || tx_.size() >= tx_.capacity() / 4; }

    // The protocol handler's report, built on this engine's core. Any thread may ask; the
    // engine answers in its next poll (it never waits on the asker: a try_lock). Returns
    // the report, or nothing when the engine did not answer within `patience` (not polling).
    std::optional<handler_report> request_report(std::chrono::milliseconds patience);
    // The same, built at once; only on the engine's own thread (tests, between polls).
    handler_report report_now() const;

private:
    void count_stall(instant previous_round);
    void receive_bursts();
    void flush_partial();
    void receive(rte_mbuf* m);
    void dispatch(rte_mbuf* m);
    std::uint16_t owner_of(const rte_mbuf* m);
    std::uint16_t owner_of_v6(std::span<const std::uint8_t> frame) const;
    void steer(rte_mbuf* m, std::uint16_t to);
    void flush_steered();
    void receive_steered();
    void receive_arp(rte_mbuf* m, const wire::arp_view& arp);
    void receive_ipv4(rte_mbuf* m, std::span<const std::uint8_t> packet);
    void receive_fragment(rte_mbuf* m, const wire::ipv4_view& ip);
    void reassembly_expired(timer_hook& hook);
    void send_time_exceeded(rte_mbuf* quote);
    void receive_icmp(rte_mbuf* m, const wire::ipv4_view& ip);
    void receive_unreachable(rte_mbuf* m, const wire::icmp_view& icmp);
    void reply_arp(rte_mbuf* m, const wire::arp_view& request);
    void drop(rte_mbuf* m, drop_reason reason);

    // IPv6 (engine_ipv6.cpp): Neighbor Discovery and ICMPv6.
    // The engine that runs duplicate address detection and receives Neighbor Discovery and
    // echo (owner_of steers them to engine 0); the others take its addresses' states.
    bool leads_ipv6() const { return id_ == 0 || config_.engines == 1; }
    void publish_addresses();
    void adopt_addresses();
    void check_resolutions_v6();
    bool wants_multicast(const mac_addr& dst) const;
    void receive_ipv6(rte_mbuf* m, std::span<const std::uint8_t> packet);
    void receive_icmpv6(rte_mbuf* m, const wire::ipv6_view& ip);
    void receive_tcp6(rte_mbuf* m, const wire::ipv6_view& ip);
    void receive_too_big(rte_mbuf* m, const wire::icmp_view& icmp);
    void receive_nd(rte_mbuf* m, const wire::ipv6_view& ip, const wire::icmp_view& icmp);
    void reply_echo_v6(rte_mbuf* m, const wire::ipv6_view& ip, const wire::icmp_view& icmp);
    void run_neighbor_discovery();
    void send_nd(const nd_send& s);
    void send_ipv6_to(rte_mbuf* m, const ipv6_addr& dst, std::optional<mac_addr> eth_dst);
    void learn_v6(const ipv6_addr& ip, const mac_addr& mac);
    std::optional<mac_addr> neighbor_v6(const ipv6_addr& ip) const;
    // The shared entry for ip that has not expired, with its expiry.
    std::optional<neighbor_cache::hit> live_neighbor_v6(const ipv6_addr& ip) const;
    void queue_for_nd(rte_mbuf* m, const ipv6_addr& dst);
    nd_resolution* start_nd(const ipv6_addr& dst);
    void retry_nd(nd_resolution& r);
    void finish_nd(nd_resolution& r, std::optional<mac_addr> mac);
    bool knows_v6(const ipv6_addr& ip) const; // an entry, expired, claimed or learned
    std::vector<std::string> ipv6_report() const;

    void send_to(rte_mbuf* m, mac_addr dst_mac);
    const mac_addr* neighbor_of(ipv4_addr hop);
    ipv4_addr hop_toward(ipv4_addr dst) const;
    void send_arp(std::uint16_t op, ipv4_addr target_ip, mac_addr eth_dst);
    void transmit(rte_mbuf* m);
    void flush();
    bool link_down(std::uint16_t taken);

    void learn(ipv4_addr ip, mac_addr mac);
    void queue_for_arp(rte_mbuf* m, ipv4_addr hop);
    arp_resolution* start_resolution(ipv4_addr hop);
    void on_timer(timer_hook& hook);
    void retry_arp(arp_resolution& r);
    void complete(arp_resolution& r, mac_addr mac);
    void fail(arp_resolution& r);
    void check_resolutions();

    std::uint16_t id_;
    engine_config config_;
    engine_port port_;
    mac_addr mac_;
    device& dev_;
    rte_mempool* pool_;
    neighbor_cache& neighbors_;
    clock& clock_;
    instant now_;
    timer_wheel timers_;
    tx_buffer tx_;
    bool tx_flush_tried_ = false; // this round the device already refused packets (a full backlog, a partial flush)
    bool rx_saturated_ = false;   // the last round read rx_bursts full bursts
    bool rx_idle_ = true;         // the last round received nothing (engine_config::flush_every)
    instant drained_at_{};        // the start of the last round that read all its input (timer_horizon)
    instant timers_due_by_{};     // timer_horizon's answer this round
    std::optional<instant> tx_stalled_since_; // the device has taken nothing since, with a backlog
    bool link_down_ = false;                  // the link as last seen (link_down()),
    std::optional<instant> link_checked_;     // then
    arp_pending pending_;
    std::uint64_t neighbors_seen_ = 0;
    struct cached_hop {
        ipv4_addr ip;
        mac_addr mac;
        instant expires;
        std::uint64_t version; // neighbors_.version() when read
    };
    cached_hop last_hop_{};      // neighbor_of's last answer,
    bool last_hop_valid_ = false; // if it has given one
    // tcp_frame_prefix's answers, by address pair: a load generator sends from several source
    // addresses, a server answers many peers. Each is good while the neighbor table has not
    // changed (its version) and the entry has not expired, as last_hop_.
    struct cached_prefix {
        ipv4_addr src, dst;
        instant expires;
        std::uint64_t version;
        wire::ipv4_frame_prefix prefix;
    };
    // As many as a server's busy peers: with 16, a server answering 240 clients' addresses
    // missed on nearly every segment and built the prefix anew (4% of its cycles at 600 k
    // connections/s). A slot is ~70 bytes; only those in use are ever loaded.
    static constexpr std::size_t prefix_slots = 256;
    std::array<cached_prefix, prefix_slots> prefixes_{}; // direct-mapped; expires 0: empty
    // The same for IPv6, good while the IPv6 neighbors have not changed (version6).
    struct cached_prefix6 {
        ipv6_addr src, dst;
        instant expires;
        std::uint64_t version;
        wire::ipv6_frame_prefix prefix;
    };
    std::array<cached_prefix6, prefix_slots> prefixes6_{};
    std::vector<rte_mbuf*> rx_;
    void free_received_now();
    instant timer_horizon();
    std::array<rte_mbuf*, 64> received_done_; // free_received's, the first received_done_count_
    std::size_t received_done_count_ = 0;
    const steering* steering_ = nullptr;
    // Whether the NIC's RSS hash is tern's (owner_of): believed after nic_hash_proof packets
    // that agree with the software hash, never after one that does not.
    enum class nic_hash : std::uint8_t { unknown, trusted, distrusted };
    static constexpr std::uint32_t nic_hash_proof = 64;
    nic_hash nic_hash_ = nic_hash::unknown;
    std::uint32_t nic_hash_agreed_ = 0;
    std::vector<std::vector<rte_mbuf*>> steer_out_; // by owner: this burst's packets for it
    engine_stats stats_;
    ipv4_reassembly reassembly_; // after timers_ and stats_: it uses both until it is gone
    // IPv6, when engine_config::ipv6 is set: our addresses' state (decided by detection on
    // the engine that leads_ipv6, taken up by the others when addresses_version moves), and
    // the timer of duplicate address detection and the advertisements after it. The
    // neighbors' MACs are in the shared neighbor cache.
    std::optional<neighbor_discovery> nd_;
    std::uint64_t addresses_seen_ = 0;  // neighbors_.addresses_version() last taken up
    std::uint64_t neighbors6_seen_ = 0; // neighbors_.version6() at the last check_resolutions_v6
    timer_hook nd_timer_{std::uint32_t(timer_kind::neighbor_discovery)};
    nd_pending pending_v6_; // address resolution (RFC 4861 §7.2.2), bounded as ARP's
    std::function<void(ip_addr)> unreachable_handler_;
    protocol_handler* handler_ = nullptr;
    std::vector<std::function<void(instant)>> pollers_;
    // Telemetry's mailbox: asked_ > answered_ means a report is wanted.
    void answer_report();
    std::atomic<std::uint64_t> report_asked_{0};
    std::atomic<std::uint64_t> report_answered_{0};
    std::mutex report_mutex_; // guards report_; the engine only try_locks it
    handler_report report_;
};

} // namespace tern
