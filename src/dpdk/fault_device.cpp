#include "dpdk/fault_device.hpp"

#include <algorithm>
#include <cassert>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"

namespace tern {

namespace {

// SplitMix64's finaliser: turns the one seed into two unrelated stream seeds, so the
// receive and transmit directions draw independently (one direction's traffic never
// shifts the other's outcomes).
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

bool is_probability(double p) { return p >= 0.0 && p <= 1.0; } // false for NaN too

status<std::string> validate_profile(const fault_profile& p, const char* dir) {
    auto bad = [dir](const char* what) { return unexpected{std::string(dir) + "." + what}; };
    if (!is_probability(p.loss)) return bad("loss: probability must be in [0, 1]");
    if (!is_probability(p.duplicate)) return bad("duplicate: probability must be in [0, 1]");
    if (!is_probability(p.corrupt)) return bad("corrupt: probability must be in [0, 1]");
    if (!is_probability(p.mark_ce)) return bad("mark_ce: probability must be in [0, 1]");
    if (!is_probability(p.reorder)) return bad("reorder: probability must be in [0, 1]");
    if (p.delay < duration::zero()) return bad("delay: must not be negative");
    if (p.jitter < duration::zero()) return bad("jitter: must not be negative");
    if (p.reorder_time < duration::zero()) return bad("reorder_time: must not be negative");
    if (p.reorder > 0.0 && p.reorder_packets == 0 && p.reorder_time == duration::zero())
        return bad("reorder: needs reorder_packets or reorder_time to hold a packet back by");
    return {};
}

// A packet may be written in place only if no one else sees its data.
bool writable(const rte_mbuf* m) {
    for (const rte_mbuf* seg = m; seg; seg = seg->next)
        if (!RTE_MBUF_DIRECT(seg) || rte_mbuf_refcnt_read(seg) != 1) return false;
    return true;
}

void flip_bit(rte_mbuf* m, std::uint32_t offset, unsigned bit) {
    rte_mbuf* seg = m;
    while (offset >= seg->data_len) {
        offset -= seg->data_len;
        seg = seg->next;
    }
    *rte_pktmbuf_mtod_offset(seg, std::uint8_t*, offset) ^= std::uint8_t(1u << bit);
}

// Heap order for std::push_heap/pop_heap (a max-heap): "a after b" puts the earliest on top.
struct later {
    template <class T>
    bool operator()(const T& a, const T& b) const {
        return a.due != b.due ? a.due > b.due : a.order > b.order;
    }
};

} // namespace

status<std::string> fault_config::validate() const {
    if (auto s = validate_profile(rx, "rx"); !s) return s;
    if (auto s = validate_profile(tx, "tx"); !s) return s;
    if (max_held < 2) return unexpected{std::string("max_held: must be at least 2 (a packet and its duplicate)")};
    return {};
}

fault_device::fault_device(device& inner, clock& clk, const fault_config& config)
    : inner_(inner), clock_(clk), seed_(config.seed), max_held_(config.max_held), copy_pool_(config.copy_pool) {
    assert(config.validate() && "fault_config must validate");
    rx_.profile = config.rx;
    tx_.profile = config.tx;
    rx_.rng.seed(mix(seed_));
    tx_.rng.seed(mix(seed_ ^ 0x7478'7478'7478'7478ULL));
}

fault_device::~fault_device() {
    free_all(rx_);
    free_all(tx_);
}

void fault_device::free_all(lane& l) {
    for (auto& t : l.timed) rte_pktmbuf_free(t.pkt);
    for (auto& c : l.counted) rte_pktmbuf_free(c.pkt);
    for (auto* m : l.ready) rte_pktmbuf_free(m);
    l.timed.clear();
    l.counted.clear();
    l.ready.clear();
}

status<std::string> fault_device::set_profile(fault_direction dir, const fault_profile& profile) {
    if (auto s = validate_profile(profile, dir == fault_direction::rx ? "rx" : "tx"); !s) return s;
    (dir == fault_direction::rx ? rx_ : tx_).profile = profile;
    return {};
}

fault_counters fault_device::counters(fault_direction dir) const {
    const lane& l = dir == fault_direction::rx ? rx_ : tx_;
    fault_counters c = l.counters;
    c.held = l.held();
    return c;
}

std::optional<instant> fault_device::next_release() const {
    std::optional<instant> next;
    auto consider = [&next](instant t) {
        if (!next || t < *next) next = t;
    };
    for (const lane* l : {&rx_, &tx_}) {
        if (!l->timed.empty()) consider(l->timed.front().due);
        if (!l->counted.empty() && l->counted.front().deadline) consider(*l->counted.front().deadline);
    }
    return next;
}

// --- randomness ---------------------------------------------------------------------

bool fault_device::chance(lane& l, double p) {
    if (p <= 0.0) return false; // no draw: a fault that is off leaves the stream alone
    if (p >= 1.0) return true;
    // 53 random bits make a double in [0, 1) exactly, the same on every platform
    // (std::uniform_real_distribution is not specified bit for bit).
    double u = double(l.rng() >> 11) * 0x1.0p-53;
    return u < p;
}

// Uniform in [0, bound), bound > 0, without modulo bias: draws above the largest multiple
// of bound are redrawn.
std::uint64_t fault_device::below(lane& l, std::uint64_t bound) {
    assert(bound > 0);
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    std::uint64_t x;
    do x = l.rng();
    while (x >= limit);
    return x % bound;
}

// --- the pipeline: intake, schedule, release ----------------------------------------

rte_mbuf* fault_device::copy(rte_mbuf* m) const {
    return rte_pktmbuf_copy(m, copy_pool_ ? copy_pool_ : m->pool, 0, UINT32_MAX);
}

// Decides the packet's fate once (loss), then its duplicate's and its own independently
// (corruption, delay, reordering), as netem does with a duplicate.
void fault_device::intake(lane& l, rte_mbuf* m, instant now) {
    ++l.counters.received;
    if (chance(l, l.profile.loss)) {
        rte_pktmbuf_free(m);
        ++l.counters.dropped;
        return;
    }
    rte_mbuf* dup = nullptr;
    if (chance(l, l.profile.duplicate)) {
        dup = copy(m); // its own data: freeing or corrupting one never touches the other
        if (dup) ++l.counters.duplicated;
        else ++l.counters.copy_failed;
    }
    schedule(l, m, now);
    if (dup) schedule(l, dup, now);
}

void fault_device::schedule(lane& l, rte_mbuf* m, instant now) {
    const fault_profile& p = l.profile;
    if (chance(l, p.corrupt)) m = corrupt(l, m);
    if (chance(l, p.mark_ce)) m = mark_ce(l, m);
    duration d = p.delay;
    if (p.jitter > duration::zero()) d += duration(std::int64_t(below(l, std::uint64_t(p.jitter.count()) + 1)));
    if (d > duration::zero()) ++l.counters.delayed;
    if (chance(l, p.reorder)) {
        ++l.counters.reordered;
        if (p.reorder_packets > 0) {
            std::optional<instant> deadline;
            if (p.reorder_time > duration::zero()) deadline = now + d + p.reorder_time;
            l.counted.push_back({l.emitted + p.reorder_packets, deadline, m});
            return;
        }
        d += p.reorder_time;
    }
    if (d == duration::zero()) {
        // Nothing held is due yet (release_due ran first), so passing now keeps order.
        emit(l, m);
        return;
    }
    l.timed.push_back({now + d, l.order++, m});
    std::push_heap(l.timed.begin(), l.timed.end(), later{});
}

// m itself when no one else sees its data, else a private copy (m freed); nullptr when the
// copy pool is empty (m kept, counted).
rte_mbuf* fault_device::own_copy(lane& l, rte_mbuf* m) const {
    if (writable(m)) return m;
    rte_mbuf* own = copy(m);
    if (!own) {
        ++l.counters.copy_failed;
        return nullptr;
    }
    rte_pktmbuf_free(m);
    return own;
}

rte_mbuf* fault_device::corrupt(lane& l, rte_mbuf* m) {
    // Past the Ethernet header, so that the IPv4 or TCP checksum catches the flip rather
    // than the frame silently going to another MAC address.
    if (m->pkt_len <= RTE_ETHER_HDR_LEN) return m;
    rte_mbuf* own = own_copy(l, m);
    if (!own) return m;
    m = own;
    const std::uint64_t bits = std::uint64_t(m->pkt_len - RTE_ETHER_HDR_LEN) * 8;
    const std::uint64_t at = below(l, bits);
    flip_bit(m, std::uint32_t(RTE_ETHER_HDR_LEN + at / 8), unsigned(at % 8));
    ++l.counters.corrupted;
    return m;
}

rte_mbuf* fault_device::mark_ce(lane& l, rte_mbuf* m) {
    constexpr std::size_t ip_at = wire::ethernet_header_len;
    if (m->data_len < ip_at + wire::ipv4_min_header_length) return m; // the IPv4 header in the first segment only
    const auto* frame = rte_pktmbuf_mtod(m, const std::uint8_t*);
    if (wire::load_be16(frame + wire::ethernet_field::type) != wire::ether_type::ipv4 || (frame[ip_at] >> 4) != 4) return m;
    const std::uint8_t tos = frame[ip_at + wire::ipv4_field::tos];
    const auto ecn = wire::ecn_codepoint(tos & 0x03);
    if (ecn == wire::ecn_codepoint::not_ect || ecn == wire::ecn_codepoint::ce) return m;
    rte_mbuf* own = own_copy(l, m);
    if (!own) return m;
    std::uint8_t* ip = rte_pktmbuf_mtod(own, std::uint8_t*) + ip_at;
    // RFC 1624 equation 3, HC' = ~(~HC + ~m + m'), over the header's first 16-bit word
    // (version and IHL, TOS): the CE bits are added to it as they are.
    const std::uint16_t old_word = wire::load_be16(ip);
    ip[wire::ipv4_field::tos] = std::uint8_t(tos | std::uint8_t(wire::ecn_codepoint::ce));
    const std::uint16_t checksum = wire::load_be16(ip + wire::ipv4_field::checksum);
    wire::store_be16(ip + wire::ipv4_field::checksum,
                     wire::checksum_fold(wire::checksum_add_sums(std::uint16_t(~checksum) + std::uint32_t(std::uint16_t(~old_word)),
                                                                 wire::load_be16(ip))));
    ++l.counters.ce_marked;
    return own;
}

// Moves m to the ready queue; packets held back "by N later packets" follow once enough
// have gone before them.
void fault_device::emit(lane& l, rte_mbuf* m) {
    l.ready.push_back(m);
    ++l.emitted;
    while (!l.counted.empty() && l.emitted >= l.counted.front().after) {
        l.ready.push_back(l.counted.front().pkt);
        l.counted.pop_front();
    }
}

// Everything due by now, earliest first (ties in intake order).
void fault_device::release_due(lane& l, instant now) {
    for (;;) {
        const bool timed_due = !l.timed.empty() && l.timed.front().due <= now;
        const bool counted_due =
            !l.counted.empty() && l.counted.front().deadline && *l.counted.front().deadline <= now;
        if (!timed_due && !counted_due) return;
        if (timed_due && (!counted_due || l.timed.front().due <= *l.counted.front().deadline)) {
            std::pop_heap(l.timed.begin(), l.timed.end(), later{});
            rte_mbuf* m = l.timed.back().pkt;
            l.timed.pop_back();
            emit(l, m);
        } else {
            // Out of time waiting for later packets: released as if they had passed.
            l.ready.push_back(l.counted.front().pkt);
            l.counted.pop_front();
        }
    }
}

void fault_device::flush_tx() {
    constexpr std::uint16_t batch = 64;
    rte_mbuf* out[batch];
    while (!tx_.ready.empty()) {
        const auto n = std::uint16_t(std::min<std::size_t>(batch, tx_.ready.size()));
        std::copy_n(tx_.ready.begin(), n, out);
        const std::uint16_t took = inner_.tx_burst(out, n);
        tx_.ready.erase(tx_.ready.begin(), tx_.ready.begin() + took);
        tx_.counters.passed += took;
        if (took < n) return; // refused ones stay held, first in line for the next call
    }
}

void fault_device::service(instant now) {
    release_due(rx_, now);
    release_due(tx_, now);
    flush_tx();
}

// How many new packets fit, counting room for each one's possible duplicate.
std::size_t fault_device::intake_room(const lane& l) const {
    const std::size_t held = l.held();
    if (held >= max_held_) return 0;
    const std::size_t per_packet = l.profile.duplicate > 0.0 ? 2 : 1;
    return (max_held_ - held) / per_packet;
}

// --- device --------------------------------------------------------------------------

void fault_device::poll() { service(clock_.now()); }

std::uint16_t fault_device::rx_burst(rte_mbuf** pkts, std::uint16_t n) {
    const instant now = clock_.now();
    service(now);
    // Pull only what the caller can take this time (duplicates may still overfill `ready`
    // by one burst; the bound is max_held).
    std::size_t want = n > rx_.ready.size() ? n - rx_.ready.size() : 0;
    want = std::min(want, intake_room(rx_));
    if (want > 0) {
        if (scratch_.size() < want) scratch_.resize(want);
        const std::uint16_t got = inner_.rx_burst(scratch_.data(), std::uint16_t(want));
        for (std::uint16_t i = 0; i < got; ++i) intake(rx_, scratch_[i], now);
    }
    const auto out = std::uint16_t(std::min<std::size_t>(n, rx_.ready.size()));
    std::copy_n(rx_.ready.begin(), out, pkts);
    rx_.ready.erase(rx_.ready.begin(), rx_.ready.begin() + out);
    rx_.counters.passed += out;
    return out;
}

std::uint16_t fault_device::tx_burst(rte_mbuf** pkts, std::uint16_t n) {
    const instant now = clock_.now();
    service(now);
    if (!tx_.ready.empty()) return 0; // the inner device is refusing: push back on the caller
    const auto take = std::uint16_t(std::min<std::size_t>(n, intake_room(tx_)));
    for (std::uint16_t i = 0; i < take; ++i) intake(tx_, pkts[i], now);
    flush_tx();
    return take;
}

} // namespace tern
