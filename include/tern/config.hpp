// Engine-wide configuration: what the apps fill from their command lines.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tern/addr.hpp"
#include "tern/time.hpp"

namespace tern {

struct arp_config {
    duration retry_interval = std::chrono::milliseconds(500); // between requests for one address
    std::uint8_t max_requests = 4;          // then the resolution fails and waiters are told
    duration entry_lifetime = std::chrono::minutes(5); // a learned entry expires this long after the last ARP packet that taught it
    // Packets waiting on one address. A server answering the first burst of SYNs from a
    // client's many source addresses queues a SYN,ACK for each (tern-load opening 1000
    // connections from 8 addresses dropped ~385 of them at 16, sent again a second later);
    // Linux holds about 100 a neighbour.
    std::uint16_t max_pending = 128;
    // Packets waiting on all addresses together: the bound on the mbufs ARP may hold,
    // well below a pool (max_resolutions x max_pending would exceed it).
    std::uint16_t max_pending_total = 1024;
    std::uint16_t max_resolutions = 256;    // addresses being resolved at once, per engine
    std::vector<std::pair<ipv4_addr, mac_addr>> static_entries; // never expire, never replaced
};

// A run of consecutive addresses, first .. first + count - 1 (count 0: none).
struct ipv4_range {
    ipv4_addr first;
    std::uint32_t count = 0;
    bool contains(ipv4_addr a) const { return a.value - first.value < count; }
    ipv4_addr at(std::uint32_t i) const { return ipv4_addr{first.value + i}; }
};

// IPv4 fragment reassembly (RFC 1122 §3.3.2), per engine: at most `max_datagrams` in
// progress (each holds one mbuf; a new one evicts the oldest), each given up `timeout`
// after its first fragment came. 0 datagrams: fragments are dropped (ipv4_fragment).
struct reassembly_config {
    std::uint16_t max_datagrams = 64;
    // RFC 1122 §3.3.2: a fixed value, not taken from the TTL; 60-120 s recommended.
    duration timeout = std::chrono::seconds(60);
};

struct engine_config {
    ipv4_cidr address;                       // our address and the on-link prefix
    // More addresses of ours on the same link (a load generator's source addresses): ARP
    // answers for them and IPv4 input takes them; they must lie in address's prefix.
    ipv4_range extra_addresses;
    std::optional<ipv4_addr> gateway;        // next hop for destinations off the prefix
    std::optional<mac_addr> mac;             // overrides the port's MAC
    std::uint16_t engines = 1;               // one per lcore, one queue pair each
    // Queue pairs on the port; 0: one per engine. More than `engines` when the link pairs
    // queues with a peer that has more engines (net_memif connects as many queues as the
    // side with fewer has): engine i then also reads queues i + engines, i + 2 * engines,
    // ..., sends on queue i only, and the RSS redirection table spreads over the engines'
    // own queues.
    std::uint16_t queues = 0;
    std::uint16_t burst = 32;                // packets per rx/tx burst
    // RX bursts read in one round while each comes back full: input the engine has
    // already been sent is served before its pollers make new work (a load generator's
    // opens), so that a busy engine falls behind on what it starts, not on what it owes.
    std::uint16_t rx_bursts = 4;
    // After a round that received nothing, the output of every `flush_every` packets
    // received goes to the device before the rest is read (0: output leaves once, at the
    // end of the round). The peer was waiting on us, and starts on those answers meanwhile:
    // on 32 and 100 connections closed loop over memif, tern-load and tern-server took turns,
    // each idle while the other worked through its whole round; with 16, req/s rose 50-70%.
    // After a round with input the peer is busy too, and more, smaller TX bursts only cost
    // (split always, cps near capacity lost 10-15%).
    std::uint16_t flush_every = 16;
    std::uint32_t pool_size = 8191;          // mbufs per engine, each a whole frame of `mtu`
    std::uint16_t rx_ring = 1024, tx_ring = 1024;
    std::uint16_t tx_backlog = 1024;         // packets kept when the NIC refuses them
    // The packet at the head of the backlog is dropped (tx_refused) once the NIC has taken
    // nothing for this long: a full ring drains in microseconds, so a refusal this long
    // is one the NIC will not lift (a frame it cannot send, a link that is down).
    duration tx_stall_timeout = std::chrono::seconds(1);
    std::uint16_t mtu = 1500;                // IP MTU; runtime::create refuses one the port cannot carry
    duration timer_tick = std::chrono::microseconds(100);
    // While the RX budget leaves input waiting (the engine is behind, as after a stall of
    // its own), timers fire only for deadlines before the last round that read everything,
    // or up to this far behind now: what waits in the queue may meet them (an ACK waiting
    // behind a stall and its backlog would otherwise meet a spurious RTO). Under lasting
    // overload the timers are late by up to this much. 0: timers run to now every round.
    duration timer_hold = std::chrono::milliseconds(200);
    arp_config arp;
    reassembly_config reassembly;
    bool gratuitous_arp = true;              // announce ourselves at start
    // IPv6 addresses of ours with their on-link prefixes, beside the link-local one made
    // from the MAC (RFC 4862 §5.3). Empty: no IPv6 at all (its frames are eth_unknown_type).
    // Engine 0 does Neighbor Discovery and ICMPv6 for all engines (steering hands it every
    // IPv6 frame).
    std::vector<ipv6_cidr> ipv6;
    // The IPv6 next hop for destinations on none of those prefixes (a router's link-local
    // address, or one on a prefix of ours). None: they have no route.
    std::optional<ipv6_addr> ipv6_gateway;
    // RFC 4862 §5.4: each address is checked for duplicates (one solicitation, a second's
    // wait) before it is used; false uses them at once (DupAddrDetectTransmits 0).
    bool ipv6_duplicate_detection = true;
    bool disable_offloads = false;           // software checksums even where the NIC offers
};

} // namespace tern
