#include "core/neighbor_cache.hpp"

#include <bit>
#include <cassert>

namespace tern {

namespace {

constexpr std::uint64_t static_bit = std::uint64_t(1) << 63;

std::uint64_t pack(mac_addr mac) {
    std::uint64_t v = 0;
    for (auto b : mac.bytes) v = (v << 8) | b;
    return v;
}

mac_addr unpack(std::uint64_t v) {
    mac_addr mac;
    for (int i = 5; i >= 0; --i, v >>= 8) mac.bytes[i] = std::uint8_t(v);
    return mac;
}

} // namespace

neighbor_cache::neighbor_cache(std::size_t capacity)
    : slots_(new slot[std::bit_ceil(capacity < 16 ? 16 : capacity)]),
      mask_(std::bit_ceil(capacity < 16 ? 16 : capacity) - 1) {}

std::size_t neighbor_cache::home(ipv4_addr ip) const {
    // Fibonacci hashing spreads consecutive addresses of one subnet across the table.
    return std::size_t((std::uint64_t(ip.value) * 0x9e3779b97f4a7c15ull) >> 32) & mask_;
}

const neighbor_cache::slot* neighbor_cache::find(ipv4_addr ip) const {
    for (std::size_t i = 0, at = home(ip); i <= mask_; ++i, at = (at + 1) & mask_) {
        std::uint32_t held = slots_[at].ip.load(std::memory_order_acquire);
        if (held == ip.value) return &slots_[at];
        if (held == 0) return nullptr;
    }
    return nullptr;
}

neighbor_cache::slot* neighbor_cache::find_or_claim(ipv4_addr ip) {
    for (std::size_t i = 0, at = home(ip); i <= mask_; ++i, at = (at + 1) & mask_) {
        std::uint32_t held = slots_[at].ip.load(std::memory_order_acquire);
        if (held == 0 && slots_[at].ip.compare_exchange_strong(held, ip.value, std::memory_order_acq_rel)) {
            return &slots_[at];
        }
        if (held == ip.value) return &slots_[at]; // ours, or another writer claimed it for the same address
    }
    return nullptr;
}

neighbor_cache::snapshot neighbor_cache::read(const slot& s) {
    for (;;) {
        std::uint32_t before = s.seq.load(std::memory_order_acquire);
        if (before & 1) continue; // a writer is inside: it holds the slot for a few stores only
        snapshot snap{s.mac.load(std::memory_order_relaxed), s.expires.load(std::memory_order_relaxed)};
        std::atomic_thread_fence(std::memory_order_acquire);
        if (s.seq.load(std::memory_order_relaxed) == before) return snap;
    }
}

std::optional<mac_addr> neighbor_cache::lookup(ipv4_addr ip, instant now) const {
    if (auto h = lookup_entry(ip, now)) return h->mac;
    return std::nullopt;
}

std::optional<neighbor_cache::hit> neighbor_cache::lookup_entry(ipv4_addr ip, instant now) const {
    const slot* s = find(ip);
    if (!s) return std::nullopt;
    snapshot snap = read(*s);
    if (snap.expires == 0 || snap.expires <= now.time_since_epoch().count()) return std::nullopt;
    return hit{unpack(snap.mac & ~static_bit), instant(duration(snap.expires))};
}

bool neighbor_cache::update(ipv4_addr ip, mac_addr mac, instant expires, bool is_static) {
    assert(!ip.is_unspecified());
    slot* s = find_or_claim(ip);
    if (!s) return false;
    std::uint32_t seq = s->seq.load(std::memory_order_relaxed);
    for (;;) {
        if (!(seq & 1) && s->seq.compare_exchange_weak(seq, seq + 1, std::memory_order_acquire)) break;
        seq = s->seq.load(std::memory_order_relaxed);
    }
    // Keeps the stores below from becoming visible before the odd sequence (seqlock rule).
    std::atomic_thread_fence(std::memory_order_release);
    bool held_static = s->mac.load(std::memory_order_relaxed) & static_bit;
    if (!held_static || is_static) {
        s->mac.store(pack(mac) | (is_static ? static_bit : 0), std::memory_order_relaxed);
        s->expires.store(expires.time_since_epoch().count(), std::memory_order_relaxed);
    }
    s->seq.store(seq + 2, std::memory_order_release);
    version_.fetch_add(1, std::memory_order_acq_rel);
    return true;
}

std::vector<neighbor> neighbor_cache::entries() const {
    std::vector<neighbor> out;
    for (std::size_t i = 0; i <= mask_; ++i) {
        std::uint32_t ip = slots_[i].ip.load(std::memory_order_acquire);
        if (ip == 0) continue;
        snapshot snap = read(slots_[i]);
        if (snap.expires == 0) continue;
        out.push_back(neighbor{ipv4_addr{ip}, unpack(snap.mac & ~static_bit), instant(duration(snap.expires)),
                               (snap.mac & static_bit) != 0});
    }
    return out;
}

} // namespace tern
