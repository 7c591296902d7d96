#include "tcp/syn_cookie.hpp"

#include <algorithm>

#include "tcp/connection.hpp"

namespace tern::tcp {

namespace {

constexpr std::uint32_t mss_bits = 3;
constexpr std::uint32_t tick_bits = 2;
constexpr std::uint32_t hash_shift = mss_bits + tick_bits;
constexpr std::uint32_t ts_bits = 5;
constexpr std::uint8_t no_window_scale = 0xf;
constexpr std::uint32_t sack_bit = 0x10;

std::uint64_t tick_of(instant now) { return std::uint64_t(now.time_since_epoch() / syn_cookie_tick); }

} // namespace

std::uint8_t syn_cookie_mss_index(std::uint16_t mss) {
    std::uint8_t i = 0;
    while (i + 1u < syn_cookie_mss.size() && syn_cookie_mss[i + 1] <= mss) ++i;
    return i;
}

std::uint32_t syn_cookies::hash(const flow& f, seq32 peer_isn, std::uint64_t tick, std::uint8_t mss_index) const {
    const std::uint64_t ports = (std::uint64_t(f.local.port) << 48) | (std::uint64_t(f.remote.port) << 32) |
                                peer_isn.raw();
    const std::uint64_t rest = (tick << 8) | mss_index;
    if (f.local.addr.is_v4()) {
        const std::uint64_t addrs = (std::uint64_t(f.local.addr.v4().value) << 32) | f.remote.addr.v4().value;
        return std::uint32_t(siphash(key_, {addrs, ports, rest}));
    }
    const auto [l0, l1] = address_words(f.local.addr);
    const auto [r0, r1] = address_words(f.remote.addr);
    return std::uint32_t(siphash(key_, {l0, l1, r0, r1, ports, rest}));
}

seq32 syn_cookies::make(const flow& f, seq32 peer_isn, std::uint16_t peer_mss, instant now) const {
    const std::uint64_t tick = tick_of(now);
    const std::uint8_t index = syn_cookie_mss_index(peer_mss);
    const std::uint32_t h = hash(f, peer_isn, tick, index) & ~((std::uint32_t(1) << hash_shift) - 1);
    return seq32(h | std::uint32_t(tick & 3) << mss_bits | index);
}

std::optional<std::uint16_t> syn_cookies::check(const flow& f, seq32 peer_isn, seq32 cookie, instant now) const {
    const std::uint64_t tick = tick_of(now);
    const std::uint64_t age = (tick - ((cookie.raw() >> mss_bits) & 3)) & 3; // ticks since the cookie was made
    if (age > 1 || age > tick) return std::nullopt;
    const auto index = std::uint8_t(cookie.raw() & ((1u << mss_bits) - 1));
    const std::uint32_t h = hash(f, peer_isn, tick - age, index) & ~((std::uint32_t(1) << hash_shift) - 1);
    if ((cookie.raw() & ~((std::uint32_t(1) << hash_shift) - 1)) != h) return std::nullopt;
    return syn_cookie_mss[index];
}

std::uint32_t syn_cookie_tsval(std::uint32_t tsval, std::optional<std::uint8_t> window_scale, bool sack_permitted) {
    // RFC 7323 §2.3: a shift above 14 is taken as 14 (15, the code for "none", must not
    // stand for a peer that did offer scaling).
    const std::uint8_t ws = window_scale ? std::min<std::uint8_t>(*window_scale, 14) : no_window_scale;
    const std::uint32_t bits = ws | (sack_permitted ? sack_bit : 0);
    std::uint32_t v = (tsval & ~((1u << ts_bits) - 1)) | bits;
    if (std::int32_t(v - tsval) > 0) v -= 1u << ts_bits; // TSval must not run ahead of the clock (RFC 7323 §5.4)
    return v;
}

wire::tcp_repr syn_cookie_syn_ack(const segment& syn, seq32 cookie, instant now, const tcp_config& config,
                                  const connection_options& options) {
    const auto& peer = syn.header.options;
    wire::tcp_repr r;
    r.src_port = syn.header.dst_port;
    r.dst_port = syn.header.src_port;
    r.seq = cookie.raw();
    r.ack = (syn.seq() + 1).raw();
    r.flags = wire::tcp_flags::syn | wire::tcp_flags::ack;
    r.window = std::uint16_t(std::min<std::uint32_t>(options.receive_buffer, 0xffff)); // RFC 7323 §2.2: not scaled
    r.options.mss = std::uint16_t(config.mtu - 40);
    if (config.timestamps && peer.timestamp) {
        const bool ws = config.window_scaling && peer.window_scale;
        const bool sack = config.sack && peer.sack_permitted;
        if (ws) r.options.window_scale = window_shift_for(largest_receive_buffer(options));
        r.options.sack_permitted = sack;
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
        const std::uint32_t clock = std::uint32_t(std::uint64_t(ms)) + options.ts_offset.value_or(0); // as connection::ts_clock
        r.options.timestamp = std::pair{
            syn_cookie_tsval(clock, ws ? peer.window_scale : std::nullopt, sack), peer.timestamp->first};
    }
    return r;
}

wire::tcp_options syn_cookie_peer_options(const segment& ack, std::uint16_t mss) {
    wire::tcp_options o;
    o.mss = mss;
    if (const auto& ts = ack.header.options.timestamp) {
        const std::uint8_t ws = ts->second & no_window_scale;
        if (ws != no_window_scale) o.window_scale = ws;
        o.sack_permitted = (ts->second & sack_bit) != 0;
        o.timestamp = ts;
    }
    return o;
}

} // namespace tern::tcp
