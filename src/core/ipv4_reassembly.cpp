#include "core/ipv4_reassembly.hpp"

#include <algorithm>
#include <cstring>

#include <rte_mbuf.h>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"

namespace tern {

static_assert(RTE_PKTMBUF_HEADROOM >= ipv4_reassembly::max_headers, "fragment zero's headers go into the headroom");

ipv4_reassembly::ipv4_reassembly(const reassembly_config& config, rte_mempool* pool, timer_wheel& timers,
                                 std::uint32_t timer_kind, engine_stats& stats)
    : config_(config), pool_(pool), timers_(timers), timer_kind_(timer_kind), stats_(stats),
      slots_(std::make_unique<datagram[]>(config.max_datagrams)) {
    free_.reserve(config.max_datagrams);
    active_.reserve(config.max_datagrams);
    for (std::size_t i = config.max_datagrams; i-- > 0;) {
        slots_[i].timeout.owner = &slots_[i];
        slots_[i].timeout.kind = timer_kind_;
        free_.push_back(&slots_[i]);
    }
}

ipv4_reassembly::~ipv4_reassembly() {
    while (!active_.empty()) finish(*active_.back());
}

result<rte_mbuf*, drop_reason> ipv4_reassembly::add(rte_mbuf* frame, const wire::ipv4_view& ip, instant now) {
    if (config_.max_datagrams == 0) return unexpected{drop_reason::ipv4_fragment};
    const std::span<const std::uint8_t> data = ip.payload();
    const std::uint32_t begin = std::uint32_t(ip.fragment_offset()) * 8;
    const std::uint32_t end = begin + std::uint32_t(data.size());
    // RFC 791: every fragment but the last carries a multiple of 8 bytes (offsets count
    // in 8-byte units); no datagram is longer than 65,535 bytes with its header.
    if (ip.more_fragments() && (data.empty() || data.size() % 8 != 0))
        return unexpected{drop_reason::ipv4_fragment_malformed};
    if (end + ip.header_length() > 0xffff) return unexpected{drop_reason::ipv4_fragment_malformed};

    datagram* d = find(ip);
    if (d == nullptr) d = start(ip, now);
    if (d == nullptr) return unexpected{drop_reason::ipv4_fragment_no_buffer};
    if (d->discarded) return unexpected{*d->discarded};
    if (end > capacity(*d)) {
        discard(*d, drop_reason::ipv4_fragment_too_large);
        return unexpected{drop_reason::ipv4_fragment_too_large};
    }
    // The last fragment fixes the length; nothing may lie past it, nor a second last differ.
    const std::uint16_t known_end = d->runs > 0 ? d->run_at[d->runs - 1].end : 0;
    const bool beyond = d->length ? end > *d->length : false;
    const bool last_too_short = !ip.more_fragments() && (known_end > end || (d->length && *d->length != end));
    if (beyond || last_too_short) {
        discard(*d, drop_reason::ipv4_fragment_malformed);
        return unexpected{drop_reason::ipv4_fragment_malformed};
    }
    auto taken = take_bytes(*d, std::uint16_t(begin), data);
    if (!taken) {
        if (taken.error() != drop_reason::ipv4_fragment_duplicate) discard(*d, taken.error());
        return unexpected{taken.error()};
    }
    if (!ip.more_fragments()) d->length = std::uint16_t(end);
    if (begin == 0) {
        // Fragment zero's headers lead the datagram (RFC 791: its options are the datagram's).
        const std::size_t headers = wire::ethernet_header_len + ip.header_length();
        std::memcpy(rte_pktmbuf_mtod(d->buffer, std::uint8_t*) - headers, rte_pktmbuf_mtod(frame, const std::uint8_t*),
                    headers);
        d->header_length = std::uint8_t(ip.header_length());
    }
    rte_pktmbuf_free(frame);
    return complete(*d) ? release_whole(*d) : nullptr;
}

ipv4_reassembly::datagram* ipv4_reassembly::find(const wire::ipv4_view& ip) {
    // RFC 791: source, destination, protocol and identification name the datagram.
    for (datagram* d : active_)
        if (d->id == ip.id() && d->src == ip.src() && d->dst == ip.dst() && d->protocol == ip.protocol()) return d;
    return nullptr;
}

ipv4_reassembly::datagram* ipv4_reassembly::start(const wire::ipv4_view& ip, instant now) {
    if (free_.empty()) {
        auto oldest = std::min_element(active_.begin(), active_.end(),
                                       [](const datagram* a, const datagram* b) { return a->started < b->started; });
        finish(**oldest);
        stats_.ipv4_reassembly_evicted.add();
    }
    rte_mbuf* buffer = rte_pktmbuf_alloc(pool_);
    if (buffer == nullptr) return nullptr;
    datagram* d = free_.back();
    free_.pop_back();
    d->src = ip.src();
    d->dst = ip.dst();
    d->id = ip.id();
    d->protocol = ip.protocol();
    d->header_length = 0;
    d->length.reset();
    d->discarded.reset();
    d->runs = 0;
    d->buffer = buffer;
    d->started = now;
    // RFC 1122 §3.3.2: a fixed timeout from the first fragment, not restarted by later ones.
    timers_.arm(d->timeout, now + config_.timeout);
    active_.push_back(d);
    return d;
}

// The datagram keeps its slot until its timer, without its buffer: later fragments of it are
// dropped for the same reason instead of starting it anew.
void ipv4_reassembly::discard(datagram& d, drop_reason why) {
    d.discarded = why;
    rte_pktmbuf_free(d.buffer);
    d.buffer = nullptr;
}

void ipv4_reassembly::finish(datagram& d) {
    timers_.cancel(d.timeout);
    rte_pktmbuf_free(d.buffer); // null is fine
    d.buffer = nullptr;
    active_.erase(std::find(active_.begin(), active_.end(), &d));
    free_.push_back(&d);
}

// Inserts [begin, begin + size) among the runs, merging those it touches, and copies the bytes
// into place. True when they were new; an error for a duplicate, an overlap or one run too many.
result<bool, drop_reason> ipv4_reassembly::take_bytes(datagram& d, std::uint16_t begin,
                                                      std::span<const std::uint8_t> bytes) {
    const auto end = std::uint16_t(begin + bytes.size());
    std::uint8_t* at = rte_pktmbuf_mtod_offset(d.buffer, std::uint8_t*, begin);
    std::size_t i = 0;
    while (i < d.runs && d.run_at[i].end < begin) ++i; // the first run that reaches begin
    if (i < d.runs && d.run_at[i].begin < end && begin < d.run_at[i].end) {
        const run& r = d.run_at[i];
        const bool inside = r.begin <= begin && end <= r.end;
        if (inside && std::memcmp(at, bytes.data(), bytes.size()) == 0)
            return unexpected{drop_reason::ipv4_fragment_duplicate};
        return unexpected{drop_reason::ipv4_fragment_overlap};
    }
    // Runs i.. start at or after begin; run i may end exactly at begin (touching).
    const bool joins_left = i < d.runs && d.run_at[i].end == begin;
    const std::size_t right = joins_left ? i + 1 : i;
    const bool joins_right = right < d.runs && d.run_at[right].begin == end;
    if (right < d.runs && d.run_at[right].begin < end) return unexpected{drop_reason::ipv4_fragment_overlap};
    if (!joins_left && !joins_right && d.runs == max_runs) return unexpected{drop_reason::ipv4_fragment_scattered};
    std::memcpy(at, bytes.data(), bytes.size());
    if (joins_left && joins_right) {
        d.run_at[i].end = d.run_at[right].end;
        std::copy(d.run_at.begin() + right + 1, d.run_at.begin() + d.runs, d.run_at.begin() + right);
        --d.runs;
    } else if (joins_left) {
        d.run_at[i].end = end;
    } else if (joins_right) {
        d.run_at[right].begin = begin;
    } else {
        std::copy_backward(d.run_at.begin() + i, d.run_at.begin() + d.runs, d.run_at.begin() + d.runs + 1);
        d.run_at[i] = run{begin, end};
        ++d.runs;
    }
    return true;
}

// The data one buffer holds (the headers go into its headroom).
std::uint16_t ipv4_reassembly::capacity(const datagram& d) const {
    return std::uint16_t(rte_pktmbuf_tailroom(d.buffer));
}

bool ipv4_reassembly::complete(const datagram& d) const {
    return d.length && d.header_length != 0 && d.runs == 1 && d.run_at[0].begin == 0 && d.run_at[0].end == *d.length;
}

// The buffer becomes the frame: fragment zero's headers, then the data; the IPv4 header
// says a whole datagram (total length, no MF, offset 0), its checksum summed anew.
rte_mbuf* ipv4_reassembly::release_whole(datagram& d) {
    rte_mbuf* m = d.buffer;
    d.buffer = nullptr;
    const std::uint16_t headers = std::uint16_t(wire::ethernet_header_len + d.header_length);
    const std::uint16_t length = *d.length;
    finish(d);
    m->data_off = std::uint16_t(m->data_off - headers);
    m->data_len = std::uint16_t(headers + length);
    m->pkt_len = m->data_len;
    std::uint8_t* ip = rte_pktmbuf_mtod_offset(m, std::uint8_t*, wire::ethernet_header_len);
    const std::uint16_t ihl = std::uint16_t(headers - wire::ethernet_header_len);
    wire::store_be16(ip + wire::ipv4_field::total_length, std::uint16_t(ihl + length));
    wire::store_be16(ip + wire::ipv4_field::flags_fragment,
                     wire::load_be16(ip + wire::ipv4_field::flags_fragment) & wire::ipv4_flag_df);
    wire::store_be16(ip + wire::ipv4_field::checksum, 0);
    wire::store_be16(ip + wire::ipv4_field::checksum, wire::checksum_fold(wire::checksum_add({ip, ihl})));
    stats_.ipv4_reassembled.add();
    return m;
}

rte_mbuf* ipv4_reassembly::expire(timer_hook& hook) {
    datagram& d = owned_timer_hook::owner_of<datagram>(hook);
    stats_.ipv4_reassembly_timeouts.add();
    if (d.buffer == nullptr || d.header_length == 0) {
        finish(d);
        return nullptr;
    }
    // Fragment zero came, so the first run starts at 0 and holds at least its 8 bytes.
    rte_mbuf* m = d.buffer;
    d.buffer = nullptr;
    const std::uint16_t quoted = std::uint16_t(d.header_length + std::min<std::uint16_t>(8, d.run_at[0].end));
    m->data_off = std::uint16_t(m->data_off - d.header_length);
    m->data_len = quoted;
    m->pkt_len = quoted;
    finish(d);
    return m;
}

} // namespace tern
