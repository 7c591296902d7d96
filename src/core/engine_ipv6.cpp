// IPv6 on the engine: Neighbor Discovery for our addresses (core/neighbor_discovery.hpp
// decides; this file sends, and keeps the neighbors' MACs in the shared neighbor cache) and
// ICMPv6 echo. Every engine sends and receives TCP over IPv6 for the flows steering gives
// it (owner_of_v6); engine 0 also receives Neighbor Discovery and echo and runs duplicate
// address detection for all (leads_ipv6), whose verdicts the others take up.
#include <algorithm>
#include <cstring>

#include <rte_mbuf.h>

#include "core/engine.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv6.hpp"

namespace tern {

// RFC 4861 §7.2.1 and RFC 2464 §7: the multicast frames a host with these addresses takes,
// those of all-nodes and of each address's solicited-node group.
bool engine::wants_multicast(const mac_addr& dst) const {
    if (!nd_ || dst.bytes[0] != 0x33 || dst.bytes[1] != 0x33) return false;
    if (dst == ipv6_addr::all_nodes().multicast_mac()) return true;
    return std::any_of(nd_->addresses().begin(), nd_->addresses().end(), [&](const interface_address& a) {
        return a.state != address_state::duplicate && a.cidr.addr.solicited_node().multicast_mac() == dst;
    });
}

void engine::receive_ipv6(rte_mbuf* m, std::span<const std::uint8_t> packet) {
    auto ip = wire::ipv6_view::parse(packet);
    if (!ip) return drop(m, ip.error());
    // RFC 4291 §2.7: no packet comes from a group; one from our own address is a loop or
    // another node with it (detection's solicitations come from ::, not from it).
    if (ip->src().is_multicast() || nd_->is_ours(ip->src())) return drop(m, drop_reason::ipv6_bad_source);
    if (!nd_->accepts(ip->dst())) return drop(m, drop_reason::ipv6_not_for_us);
    if (ip->is_fragment()) return drop(m, drop_reason::ipv6_fragment);
    if (ip->upper_protocol() == wire::ip_protocol::tcp) return receive_tcp6(m, *ip);
    if (ip->upper_protocol() != wire::ip_protocol::icmpv6) return drop(m, drop_reason::ipv6_unknown_protocol);
    receive_icmpv6(m, *ip);
}

void engine::receive_icmpv6(rte_mbuf* m, const wire::ipv6_view& ip) {
    auto icmp = wire::icmp_view::parse(ip.upper(), ip.src(), ip.dst());
    if (!icmp) return drop(m, icmp.error());
    switch (icmp->type()) {
    case wire::icmpv6_type::echo_request:
        // RFC 4443 §4.2: the reply comes from the address the request went to; a request
        // to a group (which a reply would come from a unicast address for) is not answered.
        if (ip.dst().is_multicast() || ip.src().is_unspecified()) return drop(m, drop_reason::icmpv6_unhandled_type);
        return reply_echo_v6(m, ip, *icmp);
    case wire::icmpv6_type::packet_too_big:
        return receive_too_big(m, *icmp);
    case wire::icmpv6_type::neighbor_solicitation:
    case wire::icmpv6_type::neighbor_advertisement:
        return receive_nd(m, ip, *icmp);
    default:
        return drop(m, drop_reason::icmpv6_unhandled_type);
    }
}

// RFC 8201 §4 and RFC 4443 §3.2: the quote must be of a packet we sent (from one of our
// addresses); the endpoint checks it against the connection (RFC 5927 §4.1).
void engine::receive_too_big(rte_mbuf* m, const wire::icmp_view& icmp) {
    const auto quoted = wire::icmpv6_quoted_tcp::parse(icmp.payload());
    if (!quoted || !nd_->is_ours(quoted->src)) return drop(m, drop_reason::icmp_bad_quote);
    const std::uint32_t mtu = wire::packet_too_big_mtu(icmp);
    stats_.icmpv6_packet_too_big_in.add();
    rte_pktmbuf_free(m);
    if (handler_) handler_->on_packet_too_big(mtu, *quoted);
}

void engine::receive_nd(rte_mbuf* m, const wire::ipv6_view& ip, const wire::icmp_view& icmp) {
    const bool solicitation = icmp.type() == wire::icmpv6_type::neighbor_solicitation;
    (solicitation ? stats_.nd_solicitations_in : stats_.nd_advertisements_in).add();
    const auto message = wire::nd_message::parse(icmp);
    if (!message) return drop(m, message.error());
    const auto outcome = solicitation ? nd_->on_solicitation(ip, icmp, *message) : nd_->on_advertisement(ip, icmp, *message);
    if (!outcome) return drop(m, outcome.error());
    rte_pktmbuf_free(m); // the outcome holds copies
    if (outcome->learned) {
        // RFC 4861 §7.2.3: a solicitation's source is learned; §7.2.5: an advertisement
        // updates only a neighbor we have an entry for ("no need to create an entry if none
        // exists"), so an unasked one cannot fill the table. Every engine that asks about a
        // neighbor makes its entry first (start_nd).
        const auto& [neighbor, mac] = *outcome->learned;
        if (solicitation || knows_v6(neighbor)) learn_v6(neighbor, mac);
    }
    if (outcome->duplicate) {
        stats_.ipv6_duplicate_addresses.add();
        publish_addresses();
    }
    if (outcome->reply) send_nd(*outcome->reply);
}

// RFC 4443 §4.2: the same identifier, sequence and data, written over the request.
void engine::reply_echo_v6(rte_mbuf* m, const wire::ipv6_view& ip, const wire::icmp_view& icmp) {
    stats_.icmpv6_echo_requests_in.add();
    const std::size_t message_len = icmp.message().size();
    const std::uint16_t identifier = icmp.identifier(), sequence = icmp.sequence();
    const ipv6_addr peer = ip.src(), us = ip.dst();
    // Ethernet and any extension headers off the front, Ethernet padding off the end.
    rte_pktmbuf_adj(m, std::uint16_t(wire::ethernet_header_len + ip.upper_offset() - wire::ipv6_header_length));
    rte_pktmbuf_trim(m, std::uint16_t(rte_pktmbuf_pkt_len(m) - wire::ipv6_header_length - message_len));
    auto* out = rte_pktmbuf_mtod(m, std::uint8_t*);
    wire::ipv6_repr{us, peer, wire::ip_protocol::icmpv6, 64, std::uint16_t(message_len)}.emit(out);
    std::uint8_t* msg = out + wire::ipv6_header_length;
    wire::icmp_echo_repr{wire::icmpv6_type::echo_reply, identifier, sequence,
                         {msg + wire::icmp_header_length, message_len - wire::icmp_header_length}}
        .emit(msg, wire::pseudo_header_sum(us, peer, wire::ip_protocol::icmpv6, std::uint32_t(message_len)));
    stats_.icmpv6_echo_replies_out.add();
    send_ipv6(m, peer);
}

// Detection's solicitations and the advertisements after it, then the timer for the next.
void engine::run_neighbor_discovery() {
    for (const nd_send& s : nd_->poll(now_)) send_nd(s);
    publish_addresses();
    if (auto next = nd_->next_deadline()) timers_.arm(nd_timer_, *next);
}

// For the other engines (adopt_addresses), after anything that may change a state.
void engine::publish_addresses() {
    const std::vector<std::uint8_t> states = nd_->states();
    neighbors_.publish_addresses(states);
}

void engine::adopt_addresses() {
    std::vector<std::uint8_t> states(nd_->addresses().size());
    addresses_seen_ = neighbors_.read_addresses(states);
    nd_->adopt(states);
}

void engine::send_nd(const nd_send& s) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (!m) return stats_.drop(drop_reason::no_mbuf);
    const std::size_t length = s.message.length();
    auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, std::uint16_t(wire::ipv6_header_length + length)));
    wire::ipv6_repr{s.src, s.dst, wire::ip_protocol::icmpv6, nd_constants::hop_limit, std::uint16_t(length)}.emit(p);
    s.message.emit(p + wire::ipv6_header_length,
                   wire::pseudo_header_sum(s.src, s.dst, wire::ip_protocol::icmpv6, std::uint32_t(length)));
    const bool solicitation = s.message.type == wire::icmpv6_type::neighbor_solicitation;
    (solicitation ? stats_.nd_solicitations_out : stats_.nd_advertisements_out).add();
    send_ipv6_to(m, s.dst, s.eth_dst ? s.eth_dst : neighbor_v6(s.dst));
}

// Ethernet in front and out. A neighbor whose MAC is not known is solicited and the
// packet waits for the answer (queue_for_nd).
void engine::send_ipv6_to(rte_mbuf* m, const ipv6_addr& dst, std::optional<mac_addr> eth_dst) {
    if (!eth_dst && dst.is_multicast()) eth_dst = dst.multicast_mac(); // RFC 2464 §7
    if (!eth_dst) return queue_for_nd(m, dst);
    auto* frame = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, wire::ethernet_header_len));
    wire::ethernet_repr{*eth_dst, mac_, wire::ether_type::ipv6}.emit(frame);
    transmit(m);
}

// RFC 4861 §7.2.2: the packet waits in a small queue while solicitations go out, one a
// RetransTimer, MAX_MULTICAST_SOLICIT of them; then what waits is dropped (nd_unresolved).
// Bounded as ARP's queue (engine_config::arp): resolutions at once, packets each and in all.
void engine::queue_for_nd(rte_mbuf* m, const ipv6_addr& dst) {
    nd_resolution* r = pending_v6_.find(dst);
    if (!r) {
        // A solicitation needs a source of ours (RFC 4861 §7.2.2): none before detection is done.
        if (!nd_ || !nd_->source_for(dst)) return drop(m, drop_reason::nd_no_source);
        r = start_nd(dst);
    }
    if (!r || !pending_v6_.wait(*r, m)) return drop(m, drop_reason::nd_queue_full);
}

// A resolution of its own for dst, its first solicitation sent; null when all are in use.
nd_resolution* engine::start_nd(const ipv6_addr& dst) {
    nd_resolution* r = pending_v6_.start(dst);
    if (!r) return nullptr;
    // The answer comes to engine 0 (owner_of_v6), which takes it only for a neighbor with
    // an entry (RFC 4861 §7.2.5): the entry is made now, without a MAC.
    if (!neighbors_.claim(dst)) stats_.nd_cache_full.add();
    r->retry.owner = r;
    r->retry.kind = std::uint32_t(timer_kind::nd_retry);
    retry_nd(*r);
    return r->active ? r : nullptr; // given up at once: no address of ours to ask from
}

bool engine::resolve_v6(const ipv6_addr& dst) {
    if (!nd_) return false;
    const auto hop = next_hop_v6(dst);
    if (!hop) return false;
    if (neighbor_v6(*hop)) return true;
    if (!pending_v6_.find(*hop)) start_nd(*hop);
    return false;
}

void engine::retry_nd(nd_resolution& r) {
    if (auto mac = neighbor_v6(r.ip)) return finish_nd(r, mac);
    const auto src = nd_->source_for(r.ip);
    if (!src || r.requests_sent >= nd_constants::max_multicast_solicit) return finish_nd(r, std::nullopt);
    ++r.requests_sent;
    send_nd(nd_->solicitation(r.ip, *src));
    timers_.arm(r.retry, now_ + nd_constants::retrans_timer);
}

// The neighbor answered (mac) or did not: what waits goes out or is dropped, and those
// sending to a neighbor that never answered hear of it (on_unreachable).
void engine::finish_nd(nd_resolution& r, std::optional<mac_addr> mac) {
    timers_.cancel(r.retry);
    pending_v6_.drain(r, [&](rte_mbuf* m) {
        if (mac) send_ipv6_to(m, r.ip, mac);
        else drop(m, drop_reason::nd_unresolved);
    });
    const ipv6_addr ip = r.ip;
    pending_v6_.finish(r);
    if (!mac && unreachable_handler_) unreachable_handler_(ip);
}

void engine::send_ipv6(rte_mbuf* m, const ipv6_addr& dst) {
    m->l2_len = wire::ethernet_header_len;
    m->l3_len = wire::ipv6_header_length;
    const auto hop = next_hop_v6(dst);
    if (!hop) return drop(m, drop_reason::no_route);
    send_ipv6_to(m, *hop, neighbor_v6(*hop));
}

// As tcp_frame_prefix: the answer for an address pair is kept while the IPv6 neighbors have
// not changed and the entry has not expired. Without it every segment went through
// send_ipv6: the route, a scan of the neighbors and Ethernet prepended.
const wire::ipv6_frame_prefix* engine::tcp_frame_prefix6(const ipv6_addr& src, const ipv6_addr& dst) {
    std::uint32_t s, d;
    std::memcpy(&s, src.bytes.data() + 12, 4);
    std::memcpy(&d, dst.bytes.data() + 12, 4);
    // The addresses' last bytes, which tell a load generator's sources (or a server's
    // peers) apart, are the words' high ones here: folded down to the bits that pick the slot.
    std::uint32_t x = s ^ d;
    x ^= x >> 16;
    x ^= x >> 8;
    cached_prefix6& c = prefixes6_[(x ^ (x >> 4)) % prefix_slots];
    const std::uint64_t version = neighbors_.version6();
    if (c.version == version && now_ < c.expires && c.src == src && c.dst == dst) return &c.prefix;
    const auto hop = next_hop_v6(dst);
    if (!hop) return nullptr;
    const auto n = live_neighbor_v6(*hop);
    if (!n) return nullptr;
    c = cached_prefix6{src, dst, n->expires, version,
                       wire::ipv6_frame_prefix{wire::ethernet_repr{n->mac, mac_, wire::ether_type::ipv6}, src, dst}};
    return &c.prefix;
}

void engine::send_frame_v6(rte_mbuf* m) {
    m->l2_len = wire::ethernet_header_len;
    m->l3_len = wire::ipv6_header_length;
    transmit(m);
}

std::optional<ipv6_addr> engine::next_hop_v6(const ipv6_addr& dst) const {
    if (dst.is_multicast() || (nd_ && nd_->on_link(dst))) return dst;
    return config_.ipv6_gateway;
}

bool engine::is_local_v6(const ipv6_addr& a) const { return nd_ && nd_->is_ours(a); }

std::optional<ipv6_addr> engine::ipv6_source_for(const ipv6_addr& dst) const {
    if (!nd_) return std::nullopt;
    return nd_->source_for(dst);
}

// RFC 4861 §7.2.3 and §7.2.5, simplified: an entry lives for the ARP entry lifetime from
// its last confirmation. The other engines' resolutions see it when version6 moves
// (check_resolutions_v6).
void engine::learn_v6(const ipv6_addr& ip, const mac_addr& mac) {
    if (!neighbors_.update(ip, mac, now_ + config_.arp.entry_lifetime)) stats_.nd_cache_full.add();
    if (nd_resolution* r = pending_v6_.find(ip)) finish_nd(*r, mac);
}

void engine::check_resolutions_v6() {
    neighbors6_seen_ = neighbors_.version6();
    for (nd_resolution* r : pending_v6_.all_active())
        if (auto mac = neighbor_v6(r->ip)) finish_nd(*r, mac);
}

std::vector<std::string> engine::ipv6_report() const {
    static constexpr const char* states[] = {"tentative", "preferred", "duplicate"};
    std::vector<std::string> lines;
    for (const interface_address& a : nd_->addresses())
        lines.push_back("address " + a.cidr.addr.to_string() + "/" + std::to_string(a.cidr.prefix_len) + " " +
                        states[std::size_t(a.state)]);
    for (const neighbor_cache::neighbor6& n : neighbors_.entries6())
        lines.push_back("neighbor " + n.ip.to_string() + " " + n.mac.to_string() + (now_ < n.expires ? " learned" : " expired"));
    return lines;
}

bool engine::knows_v6(const ipv6_addr& ip) const { return neighbors_.holds(ip); }

std::optional<neighbor_cache::hit> engine::live_neighbor_v6(const ipv6_addr& ip) const {
    return neighbors_.lookup_entry(ip, now_);
}

std::optional<mac_addr> engine::neighbor_v6(const ipv6_addr& ip) const {
    const auto n = live_neighbor_v6(ip);
    return n ? std::optional(n->mac) : std::nullopt;
}

} // namespace tern
