#include "core/engine.hpp"

#include <cassert>
#include <cstring>
#include <thread>

#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "wire/arp.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace tern {

namespace {

std::span<const std::uint8_t> frame_of(const rte_mbuf* m) {
    return {rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m)};
}

// The NIC's verdict on a received checksum: good, bad, or "check it yourself".
enum class hw_check { good, bad, unknown };

hw_check ip_checksum_verdict(const rte_mbuf* m, bool offloaded) {
    if (!offloaded) return hw_check::unknown;
    switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
    case RTE_MBUF_F_RX_IP_CKSUM_GOOD: return hw_check::good;
    case RTE_MBUF_F_RX_IP_CKSUM_BAD: return hw_check::bad;
    default: return hw_check::unknown;
    }
}

hw_check l4_checksum_verdict(const rte_mbuf* m, bool offloaded) {
    if (!offloaded) return hw_check::unknown;
    switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
    case RTE_MBUF_F_RX_L4_CKSUM_GOOD: return hw_check::good;
    case RTE_MBUF_F_RX_L4_CKSUM_BAD: return hw_check::bad;
    default: return hw_check::unknown;
    }
}

} // namespace

engine::engine(std::uint16_t id, const engine_config& config, const engine_port& port, device& dev,
               rte_mempool* pool, neighbor_cache& neighbors, clock& clk)
    : id_(id), config_(config), port_(port), mac_(config.mac.value_or(port.mac)), dev_(dev), pool_(pool),
      neighbors_(neighbors), clock_(clk), now_(clk.now()), timers_(config.timer_tick, now_),
      tx_(config.tx_backlog), pending_(config.arp.max_resolutions, config.arp.max_pending, config.arp.max_pending_total), rx_(config.burst),
      reassembly_(config.reassembly, pool, timers_, std::uint32_t(timer_kind::reassembly), stats_),
      pending_v6_(config.arp.max_resolutions, config.arp.max_pending, config.arp.max_pending_total) {
    if (config_.ipv6.empty()) return;
    nd_.emplace(mac_, config_.ipv6, config_.ipv6_duplicate_detection);
    neighbors_.hold_addresses(nd_->addresses().size());
    if (leads_ipv6()) publish_addresses();
}

engine::~engine() {
    free_received_now();
    for (auto& out : steer_out_)
        for (rte_mbuf* m : out) rte_pktmbuf_free(m);
    for (arp_resolution* r : pending_.all_active()) {
        pending_.drain(*r, [](rte_mbuf* m) { rte_pktmbuf_free(m); });
        timers_.cancel(r->retry);
        pending_.finish(*r);
    }
    for (nd_resolution* r : pending_v6_.all_active()) {
        pending_v6_.drain(*r, [](rte_mbuf* m) { rte_pktmbuf_free(m); });
        timers_.cancel(r->retry);
        pending_v6_.finish(*r);
    }
    for (rte_mbuf* m : tx_.take_all()) rte_pktmbuf_free(m);
    if (nd_timer_.armed()) timers_.cancel(nd_timer_);
}

void engine::start() {
    // RFC 5227 §2.3: announce with an ARP request whose sender and target are our address.
    if (config_.gratuitous_arp) {
        send_arp(std::uint16_t(wire::arp_op::request), config_.address.addr, mac_addr::broadcast());
        stats_.arp_gratuitous_out.add();
    }
    if (nd_ && leads_ipv6()) run_neighbor_discovery(); // RFC 4862 §5.4: detection starts with the interface
}

void engine::run(const std::atomic<bool>& stop) {
    while (!stop.load(std::memory_order_relaxed)) poll();
    flush();
}

void engine::poll() {
    count_stall(std::exchange(now_, clock_.now()));
    stats_.loops.add();
    tx_flush_tried_ = false;
    receive_bursts();
    if (steering_ != nullptr) receive_steered();
    for (auto& p : pollers_) p(now_);
    if (report_asked_.load(std::memory_order_acquire) != report_answered_.load(std::memory_order_relaxed))
        answer_report();
    if (pending_.active() > 0 && neighbors_.version() != neighbors_seen_) check_resolutions();
    if (nd_ && !leads_ipv6() && neighbors_.addresses_version() != addresses_seen_) adopt_addresses();
    if (pending_v6_.active() > 0 && neighbors_.version6() != neighbors6_seen_) check_resolutions_v6();
    std::size_t fired = timers_.advance(timer_horizon(), [this](timer_hook& h) { on_timer(h); });
    stats_.timers_fired.add(fired);
    if (handler_) handler_->after_burst();
    flush();
    free_received_now();
}

void engine::free_received_now() {
    if (received_done_count_ == 0) return;
    rte_pktmbuf_free_bulk(received_done_.data(), unsigned(received_done_count_));
    received_done_count_ = 0;
}

// How far the timers may run this round: to now, once all the input that waited has been
// read. While the RX budget leaves input waiting, only to the start of the last round that
// read everything (at most engine_config::timer_hold behind now): a deadline after that may
// be met by a packet still in the queue, such as the ACK an RTO is about to give up on.
// After a stall of ours the queue holds everything the peer sent meanwhile; the timers that
// came due in it wait until that is read, instead of retransmitting what was acknowledged.
instant engine::timer_horizon() {
    if (!rx_saturated_) drained_at_ = now_;
    return timers_due_by_ = std::max(drained_at_, now_ - config_.timer_hold);
}

// A round that starts stall_threshold or more after the one before: the thread was off its
// CPU, or the round ran long. Either way nothing was read or sent meanwhile, and what came
// due waited; the counters tell a noisy machine from a slow engine.
void engine::count_stall(instant previous_round) {
    const duration gap = now_ - previous_round;
    if (gap < stall_threshold || previous_round == instant{}) return;
    stats_.stalls.add();
    stats_.stalled_us.add(std::uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(gap).count()));
}

// Up to rx_bursts bursts while the device keeps handing over full ones. Each burst is
// processed whole before the next is read, so the mbufs stay few and warm.
void engine::receive_bursts() {
    const auto burst = std::uint16_t(rx_.size());
    // Split only after an empty round: the peer was waiting on us (turn-taking), not busy.
    const std::uint16_t every = rx_idle_ ? config_.flush_every : 0;
    rx_saturated_ = false;
    rx_idle_ = true;
    for (std::uint16_t b = 0; b < config_.rx_bursts; ++b) {
        const std::uint16_t n = dev_.rx_burst(rx_.data(), burst);
        if (n > 0) rx_idle_ = false;
        if (handler_ && n > 1) handler_->look_ahead({rx_.data(), n});
        for (std::uint16_t i = 0; i < n; ++i) {
            if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(rx_[i + 1], void*));
            receive(rx_[i]);
            if (every && (i + 1) % every == 0) flush_partial();
        }
        free_received_now(); // before the next burst takes mbufs from the pool
        if (steering_ != nullptr) flush_steered();
        if (n < burst) return;
    }
    rx_saturated_ = true;
    stats_.rx_budget_spent.add();
}

// Output of the packets received so far goes out now (engine_config::flush_every). A
// device that refused packets this round is not asked again before the round's end.
void engine::flush_partial() {
    if (handler_) handler_->after_burst();
    if (tx_flush_tried_) return;
    flush();
    tx_flush_tried_ = tx_.size() > 0;
}

// RFC 1122 §3.2.2.1: a destination unreachable goes to the transport it quotes. Only a quote
// of a segment from one of our addresses can concern a connection of ours.
void engine::receive_unreachable(rte_mbuf* m, const wire::icmp_view& icmp) {
    const auto quoted = wire::icmp_quoted_tcp::parse(icmp.payload());
    if (!quoted || !is_local(quoted->src)) return drop(m, drop_reason::icmp_bad_quote);
    const std::uint8_t code = icmp.code();
    const std::uint16_t mtu = wire::next_hop_mtu(icmp);
    stats_.icmp_unreachable_in.add();
    rte_pktmbuf_free(m);
    if (handler_) handler_->on_icmp_unreachable(code, mtu, *quoted);
}

// ---- telemetry -----------------------------------------------------------------------

void engine::answer_report() {
    const std::uint64_t asked = report_asked_.load(std::memory_order_acquire);
    std::unique_lock lock(report_mutex_, std::try_to_lock);
    if (!lock) return; // the asker is copying the last report: next round
    report_ = report_now();
    report_answered_.store(asked, std::memory_order_release);
}

handler_report engine::report_now() const {
    handler_report r;
    if (handler_) handler_->report(r);
    if (nd_ && leads_ipv6()) r.ipv6 = ipv6_report();
    return r;
}

std::optional<handler_report> engine::request_report(std::chrono::milliseconds patience) {
    const std::uint64_t ticket = report_asked_.fetch_add(1, std::memory_order_acq_rel) + 1;
    const auto give_up = std::chrono::steady_clock::now() + patience;
    while (report_answered_.load(std::memory_order_acquire) < ticket) {
        if (std::chrono::steady_clock::now() > give_up) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    std::lock_guard lock(report_mutex_);
    return report_;
}

// ---- receive -------------------------------------------------------------------------

void engine::drop(rte_mbuf* m, drop_reason reason) {
    stats_.drop(reason);
    rte_pktmbuf_free(m);
}

void engine::receive(rte_mbuf* m) {
    stats_.rx_packets.add();
    stats_.rx_bytes.add(rte_pktmbuf_pkt_len(m));
    if (steering_ != nullptr)
        if (const std::uint16_t to = owner_of(m); to != id_) return steer(m, to);
    dispatch(m);
}

void engine::dispatch(rte_mbuf* m) {
    // The parsers read the first segment only. Ports are set up without scatter RX, so a
    // chained frame is unexpected: counted as such, not mistaken for a bad IPv4 length.
    if (m->nb_segs > 1) return drop(m, drop_reason::eth_multi_segment);
    auto eth = wire::ethernet_view::parse(frame_of(m));
    if (!eth) return drop(m, eth.error());
    if (eth->dst() != mac_ && !eth->dst().is_broadcast() && !wants_multicast(eth->dst()))
        return drop(m, drop_reason::eth_not_for_us);
    switch (eth->type()) {
    case wire::ether_type::arp: {
        auto arp = wire::arp_view::parse(eth->payload());
        if (!arp) return drop(m, arp.error());
        return receive_arp(m, *arp);
    }
    case wire::ether_type::ipv4:
        return receive_ipv4(m, eth->payload());
    case wire::ether_type::ipv6:
        if (!nd_) return drop(m, drop_reason::eth_unknown_type);
        return receive_ipv6(m, eth->payload());
    default:
        return drop(m, drop_reason::eth_unknown_type);
    }
}

// RFC 826 "Packet Reception", with RFC 5227's probes (sender address 0) not learned.
void engine::receive_arp(rte_mbuf* m, const wire::arp_view& arp) {
    bool request = arp.op() == wire::arp_op::request;
    (request ? stats_.arp_requests_in : stats_.arp_replies_in).add();
    mac_addr sha = arp.sender_mac();
    if (sha.is_multicast() || sha.is_zero()) return drop(m, drop_reason::arp_bad_sender);
    ipv4_addr spa = arp.sender_ip();
    bool for_us = is_local(arp.target_ip());
    if (is_local(spa)) return drop(m, drop_reason::arp_bad_sender); // someone claims our address
    // RFC 826: update an entry we hold; add one only when the packet is for us.
    bool known = neighbors_.lookup(spa, now_).has_value();
    if (!spa.is_unspecified() && config_.address.contains(spa) && (known || for_us)) learn(spa, sha);
    if (!for_us) return drop(m, drop_reason::arp_not_for_us);
    if (request) return reply_arp(m, arp);
    rte_pktmbuf_free(m); // a reply for us: learned above, nothing more to do
}

// Turns the request into its reply in the same mbuf.
void engine::reply_arp(rte_mbuf* m, const wire::arp_view& request) {
    // The address asked for: ours or one of the extra ones.
    wire::arp_repr reply{wire::arp_op::reply, mac_, request.target_ip(), request.sender_mac(), request.sender_ip()};
    wire::ethernet_repr eth{request.sender_mac(), mac_, wire::ether_type::arp};
    auto* frame = rte_pktmbuf_mtod(m, std::uint8_t*);
    eth.emit(frame);
    reply.emit(frame + wire::ethernet_repr::length);
    stats_.arp_replies_out.add();
    transmit(m);
}

// TCP over IPv6 (RFC 8200 §8.1's pseudo-header in the checksum), to a unicast address of
// ours: a segment to a group has no connection to belong to.
void engine::receive_tcp6(rte_mbuf* m, const wire::ipv6_view& ip) {
    if (ip.dst().is_multicast()) return drop(m, drop_reason::ipv6_not_for_us);
    const hw_check l4 = l4_checksum_verdict(m, port_.offloads.rx_tcp_checksum);
    if (l4 == hw_check::bad) return drop(m, drop_reason::tcp_bad_checksum);
    auto tcp = wire::tcp_view::parse(ip.upper(), ip.src(), ip.dst(), l4 != hw_check::good);
    if (!tcp) return drop(m, tcp.error());
    if (!handler_) return drop(m, drop_reason::tcp_no_endpoint);
    handler_->on_tcp6(m, ip, *tcp);
}

void engine::receive_ipv4(rte_mbuf* m, std::span<const std::uint8_t> packet) {
    hw_check verdict = ip_checksum_verdict(m, port_.offloads.rx_ipv4_checksum);
    if (verdict == hw_check::bad) return drop(m, drop_reason::ipv4_bad_checksum);
    auto ip = wire::ipv4_view::parse(packet, verdict != hw_check::good);
    if (!ip) return drop(m, ip.error());
    ipv4_addr src = ip->src();
    if (src.is_broadcast() || src.is_multicast() || is_local(src) || src == config_.address.broadcast())
        return drop(m, drop_reason::ipv4_bad_source);
    if (!is_local(ip->dst())) return drop(m, drop_reason::ipv4_not_for_us);
    if (ip->is_fragment()) return receive_fragment(m, *ip);
    switch (ip->protocol()) {
    case wire::ip_protocol::icmp:
        return receive_icmp(m, *ip);
    case wire::ip_protocol::tcp: {
        hw_check l4 = l4_checksum_verdict(m, port_.offloads.rx_tcp_checksum);
        if (l4 == hw_check::bad) return drop(m, drop_reason::tcp_bad_checksum);
        auto tcp = wire::tcp_view::parse(ip->payload(), src, ip->dst(), l4 != hw_check::good);
        if (!tcp) return drop(m, tcp.error());
        if (!handler_) return drop(m, drop_reason::tcp_no_endpoint);
        return handler_->on_tcp(m, *ip, *tcp);
    }
    default:
        return drop(m, drop_reason::ipv4_unknown_protocol);
    }
}

// RFC 1122 §3.3.2: fragments are put together here (ipv4_reassembly.hpp). The whole
// datagram is then received as if it had come in one frame: on the engine that owns its
// flow, which need not be this one (fragments carry no ports, so they stay where they came in).
void engine::receive_fragment(rte_mbuf* m, const wire::ipv4_view& ip) {
    stats_.ipv4_fragments_in.add();
    auto whole = reassembly_.add(m, ip, now_);
    if (!whole) return drop(m, whole.error());
    if (*whole == nullptr) return; // kept, waiting for the rest
    if (steering_ != nullptr)
        if (const std::uint16_t to = owner_of(*whole); to != id_) return steer(*whole, to);
    dispatch(*whole);
}

void engine::reassembly_expired(timer_hook& hook) {
    if (rte_mbuf* quote = reassembly_.expire(hook)) send_time_exceeded(quote);
}

// RFC 1122 §3.3.2: when a datagram is given up with fragment zero in, its source is told by
// ICMP time exceeded, code "fragment reassembly time exceeded" (RFC 792), quoting fragment
// zero's header and first 8 bytes; but never about an ICMP error (RFC 1122 §3.2.2).
void engine::send_time_exceeded(rte_mbuf* quote) {
    const std::span<const std::uint8_t> quoted = frame_of(quote);
    const std::size_t ihl = std::size_t(quoted[wire::ipv4_field::version_ihl] & 0x0f) * 4;
    const bool about_icmp_error = quoted[wire::ipv4_field::protocol] == wire::ip_protocol::icmp &&
                                  wire::icmp_is_error(quoted[ihl + wire::icmp_field::type]);
    rte_mbuf* m = about_icmp_error ? nullptr : rte_pktmbuf_alloc(pool_);
    if (m == nullptr) {
        rte_pktmbuf_free(quote);
        return;
    }
    const ipv4_addr source{wire::load_be32(quoted.data() + wire::ipv4_field::src)};
    const ipv4_addr ours{wire::load_be32(quoted.data() + wire::ipv4_field::dst)};
    const wire::icmp_error_repr icmp{wire::icmp_type::time_exceeded, wire::icmp_time_exceeded_code::reassembly, 0, quoted};
    const wire::ipv4_repr ip{ours, source, wire::ip_protocol::icmp, 64, 0, std::uint16_t(icmp.length()), true, 0};
    auto* out = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, std::uint16_t(ip.header_length + icmp.length())));
    ip.emit(out, !port_.offloads.tx_ipv4_checksum);
    icmp.emit(out + ip.header_length);
    rte_pktmbuf_free(quote);
    stats_.icmp_time_exceeded_out.add();
    send_ipv4(m, source);
}

// ---- steering (steering.hpp) ------------------------------------------------------------

void engine::set_steering(const steering* s) {
    steering_ = s;
    steer_out_.assign(s != nullptr ? s->engines() : 0, {});
    for (auto& out : steer_out_) out.reserve(rx_.size());
}

// The engine whose flow a frame is: for an IPv4 TCP frame, the NIC's hash when it computed
// one that names flows as tern's does, else the same in software; for an ICMP error about a
// TCP segment, the owner of that segment's flow (the software hash: the NIC hashed the ICMP
// packet's addresses); IPv6 by owner_of_v6; anything else (ARP, other ICMP) stays here.
// Nothing is validated yet: the owner does that, once, and drops what is bad.
std::uint16_t engine::owner_of(const rte_mbuf* m) {
    const std::span<const std::uint8_t> f = frame_of(m);
    const wire::tcp_ipv4_ends ends = wire::peek_tcp_ipv4_ends(f);
    if (!ends.found) {
        const wire::tcp_ipv4_ends quoted = wire::peek_icmp_quoted_ends(f);
        if (quoted.found) return steering_->owner({quoted.src, quoted.dst, quoted.src_port, quoted.dst_port});
        const bool ipv6 = f.size() >= wire::ethernet_header_len &&
                          wire::load_be16(f.data() + wire::ethernet_field::type) == wire::ether_type::ipv6;
        return ipv6 ? owner_of_v6(f) : id_;
    }
    const rss::ipv4_tuple tuple{ends.src, ends.dst, ends.src_port, ends.dst_port};
    // A NIC that hashes the addresses alone names no flow: its hash is not the 4-tuple's.
    if (!port_.offloads.rss_tcp || (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) == 0 || nic_hash_ == nic_hash::distrusted)
        return steering_->owner(tuple);
    if (nic_hash_ == nic_hash::trusted) return steering_->owner_of_hash(m->hash.rss);
    // Not yet known: the NIC must show it hashes with tern's key (a driver may ignore the key
    // it was given). Active opens pick their ports by the software hash; a NIC that disagreed
    // would carry replies to engines without their connections.
    const std::uint32_t soft = steering_->hash().hash(tuple);
    if (soft != m->hash.rss) {
        nic_hash_ = nic_hash::distrusted;
        stats_.rss_hash_mismatch.add();
    } else if (++nic_hash_agreed_ == nic_hash_proof) {
        nic_hash_ = nic_hash::trusted;
    }
    return steering_->owner_of_hash(soft);
}

// IPv6 TCP by its flow, behind extension headers too, and a Packet Too Big by the flow it
// quotes: by the software hash (a NIC's IPv6 hash is not put to the proof IPv4's is). The
// rest (Neighbor Discovery, echo, fragments) goes to engine 0, which answers it and runs
// detection for all (leads_ipv6).
std::uint16_t engine::owner_of_v6(std::span<const std::uint8_t> frame) const {
    wire::tcp_ipv6_ends e = wire::peek_tcp_ipv6_ends(frame);
    if (!e.found) e = wire::peek_ipv6_flow_ends(frame);
    if (!e.found) return 0;
    return steering_->owner(rss::ipv6_tuple{e.src, e.dst, e.src_port, e.dst_port});
}

void engine::steer(rte_mbuf* m, std::uint16_t to) {
    steer_out_[to].push_back(m);
    if (steer_out_[to].size() == rx_.size()) flush_steered();
}

// Once per RX burst: each owner's packets in one enqueue. A full ring drops the rest, as a
// full RX queue would have.
void engine::flush_steered() {
    for (std::uint16_t to = 0; to < steer_out_.size(); ++to) {
        auto& out = steer_out_[to];
        if (out.empty()) continue;
        const unsigned n = rte_ring_sp_enqueue_burst(steering_->ring(id_, to), reinterpret_cast<void* const*>(out.data()),
                                                     unsigned(out.size()), nullptr);
        stats_.steered_out.add(n);
        for (std::size_t i = n; i < out.size(); ++i) drop(out[i], drop_reason::steer_ring_full);
        out.clear();
    }
}

// What the other engines handed over since the last round, up to rx_bursts bursts from each.
void engine::receive_steered() {
    const auto burst = unsigned(rx_.size());
    for (std::uint16_t from = 0; from < steering_->engines(); ++from) {
        if (from == id_) continue;
        rte_ring* ring = steering_->ring(from, id_);
        for (std::uint16_t b = 0; b < config_.rx_bursts; ++b) {
            const unsigned n = rte_ring_sc_dequeue_burst(ring, reinterpret_cast<void**>(rx_.data()), burst, nullptr);
            stats_.steered_in.add(n);
            for (unsigned i = 0; i < n; ++i) dispatch(rx_[i]);
            if (n < burst) break;
        }
    }
}

// RFC 792 / RFC 1122 §3.2.2.6: answer an echo request with the same identifier,
// sequence and data; anything else ICMP is counted and dropped.
void engine::receive_icmp(rte_mbuf* m, const wire::ipv4_view& ip) {
    auto icmp = wire::icmp_view::parse(ip.payload());
    if (!icmp) return drop(m, icmp.error());
    if (icmp->type() == wire::icmp_type::destination_unreachable) return receive_unreachable(m, *icmp);
    if (icmp->type() != wire::icmp_type::echo_request) return drop(m, drop_reason::icmp_unhandled_type);
    stats_.icmp_echo_requests_in.add();

    // Rewrite in place: drop Ethernet and any IP options, trim Ethernet padding.
    std::size_t message_len = icmp->message().size();
    std::uint16_t identifier = icmp->identifier(), sequence = icmp->sequence();
    ipv4_addr peer = ip.src();
    auto reply_ip = wire::ipv4_repr{ip.dst(), peer, wire::ip_protocol::icmp, 64, ip.id(),
                                    std::uint16_t(message_len), true, 0};
    std::size_t strip = wire::ethernet_header_len + ip.header_length() - wire::ipv4_repr::header_length;
    rte_pktmbuf_adj(m, std::uint16_t(strip));
    rte_pktmbuf_trim(m, std::uint16_t(rte_pktmbuf_pkt_len(m) - wire::ipv4_repr::header_length - message_len));
    auto* out = rte_pktmbuf_mtod(m, std::uint8_t*);
    reply_ip.emit(out, !port_.offloads.tx_ipv4_checksum);
    std::uint8_t* msg = out + wire::ipv4_repr::header_length;
    // Written over the request: same identifier, sequence and data, checksum summed anew.
    wire::icmp_echo_repr{wire::icmp_type::echo_reply, identifier, sequence,
                         {msg + wire::icmp_header_length, message_len - wire::icmp_header_length}}
        .emit(msg);
    stats_.icmp_echo_replies_out.add();
    send_ipv4(m, peer);
}

// ---- send ----------------------------------------------------------------------------

std::optional<ipv4_addr> engine::next_hop(ipv4_addr dst) const {
    const ipv4_addr hop = hop_toward(dst);
    if (hop.is_unspecified()) return std::nullopt;
    return hop;
}

// next_hop on a plain value, 0.0.0.0 for no route (never a next hop): the send path's
// form, without the optional GCC builds on the stack in pieces and reads back whole.
ipv4_addr engine::hop_toward(ipv4_addr dst) const {
    if (config_.address.contains(dst)) return dst;
    return config_.gateway.value_or(ipv4_addr{});
}

// The route and the neighbor are worked out on plain values, not through next_hop's and
// lookup's optionals: GCC builds those on the stack in pieces and reads them back whole,
// a store-forwarding stall on every packet sent (perf annotate: 70% of this function).
void engine::send_ipv4(rte_mbuf* m, ipv4_addr dst) {
    const ipv4_addr hop = hop_toward(dst);
    if (hop.is_unspecified()) return drop(m, drop_reason::no_route);
    if (const mac_addr* mac = neighbor_of(hop)) return send_to(m, *mac);
    queue_for_arp(m, hop);
}

// Most packets of a round go to the same next hop: the last answer is kept while the
// shared table has not changed (its version) and the entry has not expired, so a send
// costs no probe of the shared table and no seqlock read. The answer points into that
// copy, valid until the next call.
const mac_addr* engine::neighbor_of(ipv4_addr hop) {
    const std::uint64_t version = neighbors_.version();
    if (last_hop_valid_ && last_hop_.ip == hop && last_hop_.version == version && now_ < last_hop_.expires)
        return &last_hop_.mac;
    auto h = neighbors_.lookup_entry(hop, now_);
    if (!h) return nullptr;
    last_hop_ = cached_hop{hop, h->mac, h->expires, version};
    last_hop_valid_ = true;
    return &last_hop_.mac;
}

const wire::ipv4_frame_prefix* engine::tcp_frame_prefix(ipv4_addr src, ipv4_addr dst) {
    cached_prefix& c = prefixes_[(src.value ^ dst.value ^ (dst.value >> 7)) % prefix_slots];
    const std::uint64_t version = neighbors_.version();
    if (c.src == src && c.dst == dst && c.version == version && now_ < c.expires) return &c.prefix;
    const ipv4_addr hop = hop_toward(dst);
    if (hop.is_unspecified()) return nullptr;
    auto h = neighbors_.lookup_entry(hop, now_);
    if (!h) return nullptr;
    c = cached_prefix{src, dst, h->expires, version,
                      wire::ipv4_frame_prefix{wire::ethernet_repr{h->mac, mac_, wire::ether_type::ipv4},
                                              wire::ipv4_repr{src, dst, wire::ip_protocol::tcp}}};
    return &c.prefix;
}

void engine::send_frame(rte_mbuf* m, std::size_t ip_header_length) {
    m->l2_len = wire::ethernet_header_len;
    m->l3_len = ip_header_length;
    if (port_.offloads.tx_ipv4_checksum) m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
    transmit(m);
}

// Prepends Ethernet and hands the packet to the TX buffer.
void engine::send_to(rte_mbuf* m, mac_addr dst_mac) {
    auto* ip = rte_pktmbuf_mtod(m, std::uint8_t*);
    std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
    auto* frame = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, wire::ethernet_header_len));
    assert(frame && "IPv4 packets are built with headroom for Ethernet");
    wire::ethernet_repr{dst_mac, mac_, wire::ether_type::ipv4}.emit(frame);
    send_frame(m, ihl);
}

void engine::send_arp(std::uint16_t op, ipv4_addr target_ip, mac_addr eth_dst) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (!m) return stats_.drop(drop_reason::no_mbuf);
    constexpr std::size_t len = wire::ethernet_repr::length + wire::arp_repr::length;
    auto* frame = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, len));
    wire::ethernet_repr{eth_dst, mac_, wire::ether_type::arp}.emit(frame);
    wire::arp_repr{wire::arp_op(op), mac_, config_.address.addr, mac_addr{}, target_ip}.emit(
        frame + wire::ethernet_repr::length);
    if (op == std::uint16_t(wire::arp_op::request)) stats_.arp_requests_out.add();
    transmit(m);
}

void engine::transmit(rte_mbuf* m) {
    // A frame longer than the port's MTU + Ethernet header is one no device sends (net_tap
    // refuses it on every call): queued, it would stall everything behind it. Segmentation
    // offload frames are cut to the MTU by the NIC.
    if (rte_pktmbuf_pkt_len(m) > std::uint32_t(port_.mtu) + wire::ethernet_header_len &&
        !(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG))
        return drop(m, drop_reason::tx_oversize);
    // One flush a round when the backlog is full: a device that refused the backlog a
    // moment ago refuses it again, and asking it once per packet made overload dearer.
    if (tx_.full() && !tx_flush_tried_) {
        tx_flush_tried_ = true;
        flush();
    }
    if (tx_.full()) {
        stats_.drop(drop_reason::tx_backlog_full);
        rte_pktmbuf_free(m);
        return;
    }
    tx_.push(m);
}

void engine::flush() {
    auto done = tx_.flush(dev_);
    // A device that takes packets, however few, is busy and its refusals pass. One that
    // has taken nothing for tx_stall_timeout will not take the head of the backlog (a
    // frame it cannot send, a link that is down): the head is dropped, so that one packet
    // cannot hold up all the others for good, and the next one gets the same time.
    if (done.packets == 0 && tx_.size() > 0 && tx_stalled_since_ &&
        now_ - *tx_stalled_since_ >= config_.tx_stall_timeout) {
        drop(tx_.pop_front(), drop_reason::tx_refused);
        tx_stalled_since_.reset();
        done = tx_.flush(dev_);
    }
    stats_.tx_packets.add(done.packets);
    stats_.tx_bytes.add(done.bytes);
    if (tx_.size() > 0) {
        if (link_down(done.packets)) stats_.tx_deferred_link_down.add(tx_.size());
        else stats_.tx_deferred.add(tx_.size());
    }
    if (tx_.size() == 0) tx_stalled_since_.reset();
    else if (done.packets > 0 || !tx_stalled_since_) tx_stalled_since_ = now_;
}

// Whether this round's refusals are a link that is down rather than a busy device. A device
// that took packets has its link up; one that took none is asked, at most every
// link_check_interval: asking may read the NIC or make a syscall (net_tap), and a link that
// is down refuses every round.
bool engine::link_down(std::uint16_t taken) {
    if (taken > 0) {
        link_down_ = false;
        link_checked_ = now_;
    } else if (!link_checked_ || now_ - *link_checked_ >= link_check_interval) {
        link_down_ = !dev_.link_up();
        link_checked_ = now_;
    }
    return link_down_;
}

// ---- ARP resolution ------------------------------------------------------------------

void engine::learn(ipv4_addr ip, mac_addr mac) {
    if (!neighbors_.update(ip, mac, now_ + config_.arp.entry_lifetime)) {
        stats_.arp_cache_full.add();
        return;
    }
    if (arp_resolution* r = pending_.find(ip)) complete(*r, mac);
}

void engine::resolve(ipv4_addr ip) {
    if (neighbors_.lookup(ip, now_) || pending_.find(ip)) return;
    start_resolution(ip);
}

void engine::queue_for_arp(rte_mbuf* m, ipv4_addr hop) {
    arp_resolution* r = pending_.find(hop);
    if (!r) r = start_resolution(hop);
    if (!r || !pending_.wait(*r, m)) return drop(m, drop_reason::arp_queue_full);
}

arp_resolution* engine::start_resolution(ipv4_addr hop) {
    arp_resolution* r = pending_.start(hop);
    if (!r) return nullptr;
    r->retry.owner = r;
    r->retry.kind = std::uint32_t(timer_kind::arp_retry);
    retry_arp(*r);
    return r;
}

void engine::on_timer(timer_hook& hook) {
    switch (timer_kind(hook.kind)) {
    case timer_kind::arp_retry:
        return retry_arp(owned_timer_hook::owner_of<arp_resolution>(hook));
    case timer_kind::upper_layer:
        if (handler_) handler_->on_timer(hook);
        return;
    case timer_kind::reassembly:
        return reassembly_expired(hook);
    case timer_kind::neighbor_discovery:
        return run_neighbor_discovery();
    case timer_kind::nd_retry:
        return retry_nd(owned_timer_hook::owner_of<nd_resolution>(hook));
    }
}

// Another engine may have learned the address meanwhile (ARP replies land on whichever
// queue the NIC picks); otherwise ask again, up to max_requests times.
void engine::retry_arp(arp_resolution& r) {
    if (auto mac = neighbors_.lookup(r.ip, now_)) return complete(r, *mac);
    if (r.requests_sent >= config_.arp.max_requests) return fail(r);
    ++r.requests_sent;
    send_arp(std::uint16_t(wire::arp_op::request), r.ip, mac_addr::broadcast());
    timers_.arm(r.retry, now_ + config_.arp.retry_interval);
}

void engine::complete(arp_resolution& r, mac_addr mac) {
    timers_.cancel(r.retry);
    stats_.arp_resolved.add();
    pending_.drain(r, [&](rte_mbuf* m) { send_to(m, mac); });
    pending_.finish(r);
}

void engine::fail(arp_resolution& r) {
    timers_.cancel(r.retry);
    stats_.arp_failed.add();
    pending_.drain(r, [&](rte_mbuf* m) { drop(m, drop_reason::arp_unresolved); });
    ipv4_addr ip = r.ip;
    pending_.finish(r);
    if (unreachable_handler_) unreachable_handler_(ip);
}

void engine::check_resolutions() {
    neighbors_seen_ = neighbors_.version();
    for (arp_resolution* r : pending_.all_active()) {
        if (auto mac = neighbors_.lookup(r->ip, now_)) complete(*r, *mac);
    }
}

} // namespace tern
