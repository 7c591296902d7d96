#include "core/neighbor_cache.hpp"

#include <bit>
#include <cassert>
#include <cstring>

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
      slots6_(new slot6[std::bit_ceil(capacity < 16 ? 16 : capacity)]),
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

neighbor_cache::snapshot neighbor_cache::read(const entry& s) {
    for (;;) {
        std::uint32_t before = s.seq.load(std::memory_order_acquire);
        if (before & 1) continue; // a writer is inside: it holds the slot for a few stores only
        snapshot snap{s.mac.load(std::memory_order_relaxed), s.expires.load(std::memory_order_relaxed)};
        std::atomic_thread_fence(std::memory_order_acquire);
        if (s.seq.load(std::memory_order_relaxed) == before) return snap;
    }
}

void neighbor_cache::write(entry& s, mac_addr mac, instant expires, bool is_static) {
    std::uint32_t seq = s.seq.load(std::memory_order_relaxed);
    for (;;) {
        if (!(seq & 1) && s.seq.compare_exchange_weak(seq, seq + 1, std::memory_order_acquire)) break;
        seq = s.seq.load(std::memory_order_relaxed);
    }
    // Keeps the stores below from becoming visible before the odd sequence (seqlock rule).
    std::atomic_thread_fence(std::memory_order_release);
    bool held_static = s.mac.load(std::memory_order_relaxed) & static_bit;
    if (!held_static || is_static) {
        s.mac.store(pack(mac) | (is_static ? static_bit : 0), std::memory_order_relaxed);
        s.expires.store(expires.time_since_epoch().count(), std::memory_order_relaxed);
    }
    s.seq.store(seq + 2, std::memory_order_release);
}

std::optional<neighbor_cache::hit> neighbor_cache::live(const entry& s, instant now) {
    snapshot snap = read(s);
    if (snap.expires == 0 || snap.expires <= now.time_since_epoch().count()) return std::nullopt;
    return hit{unpack(snap.mac & ~static_bit), instant(duration(snap.expires))};
}

std::optional<mac_addr> neighbor_cache::lookup(ipv4_addr ip, instant now) const {
    if (auto h = lookup_entry(ip, now)) return h->mac;
    return std::nullopt;
}

std::optional<neighbor_cache::hit> neighbor_cache::lookup_entry(ipv4_addr ip, instant now) const {
    const slot* s = find(ip);
    if (!s) return std::nullopt;
    return live(*s, now);
}

bool neighbor_cache::update(ipv4_addr ip, mac_addr mac, instant expires, bool is_static) {
    assert(!ip.is_unspecified());
    slot* s = find_or_claim(ip);
    if (!s) return false;
    write(*s, mac, expires, is_static);
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

// ---- IPv6 ----------------------------------------------------------------------------

std::size_t neighbor_cache::home(const ipv6_addr& ip) const {
    // The interface identifier's low word tells a link's neighbors apart.
    std::uint64_t w;
    std::memcpy(&w, ip.bytes.data() + 8, 8);
    return std::size_t((w * 0x9e3779b97f4a7c15ull) >> 32) & mask_;
}

bool neighbor_cache::key_is(const slot6& s, const ipv6_addr& ip) {
    std::uint64_t w[2];
    std::memcpy(w, ip.bytes.data(), 16);
    return s.key[0].load(std::memory_order_relaxed) == w[0] && s.key[1].load(std::memory_order_relaxed) == w[1];
}

const neighbor_cache::slot6* neighbor_cache::find(const ipv6_addr& ip) const {
    for (std::size_t i = 0, at = home(ip); i <= mask_; ++i, at = (at + 1) & mask_) {
        const std::uint32_t state = slots6_[at].state.load(std::memory_order_acquire);
        if (state == free_slot) return nullptr;
        if (state == keyed && key_is(slots6_[at], ip)) return &slots6_[at];
    }
    return nullptr;
}

neighbor_cache::slot6* neighbor_cache::find_or_claim(const ipv6_addr& ip) {
    for (std::size_t i = 0, at = home(ip); i <= mask_; ++i, at = (at + 1) & mask_) {
        slot6& s = slots6_[at];
        std::uint32_t state = s.state.load(std::memory_order_acquire);
        if (state == free_slot && s.state.compare_exchange_strong(state, claiming, std::memory_order_acq_rel)) {
            std::uint64_t w[2];
            std::memcpy(w, ip.bytes.data(), 16);
            s.key[0].store(w[0], std::memory_order_relaxed);
            s.key[1].store(w[1], std::memory_order_relaxed);
            s.state.store(keyed, std::memory_order_release);
            return &s;
        }
        while (state == claiming) state = s.state.load(std::memory_order_acquire); // two stores away
        if (key_is(s, ip)) return &s; // ours, or another writer claimed it for the same address
    }
    return nullptr;
}

std::optional<neighbor_cache::hit> neighbor_cache::lookup_entry(const ipv6_addr& ip, instant now) const {
    const slot6* s = find(ip);
    if (!s) return std::nullopt;
    return live(*s, now);
}

bool neighbor_cache::update(const ipv6_addr& ip, mac_addr mac, instant expires) {
    slot6* s = find_or_claim(ip);
    if (!s) return false;
    write(*s, mac, expires, false);
    version6_.fetch_add(1, std::memory_order_acq_rel);
    return true;
}

bool neighbor_cache::claim(const ipv6_addr& ip) { return find_or_claim(ip) != nullptr; }

bool neighbor_cache::holds(const ipv6_addr& ip) const { return find(ip) != nullptr; }

std::vector<neighbor_cache::neighbor6> neighbor_cache::entries6() const {
    std::vector<neighbor6> out;
    for (std::size_t i = 0; i <= mask_; ++i) {
        const slot6& s = slots6_[i];
        if (s.state.load(std::memory_order_acquire) != keyed) continue;
        const snapshot snap = read(s);
        if (snap.expires == 0) continue;
        ipv6_addr ip;
        const std::uint64_t w[2] = {s.key[0].load(std::memory_order_relaxed), s.key[1].load(std::memory_order_relaxed)};
        std::memcpy(ip.bytes.data(), w, 16);
        out.push_back(neighbor6{ip, unpack(snap.mac & ~static_bit), instant(duration(snap.expires))});
    }
    return out;
}

// ---- our IPv6 addresses -------------------------------------------------------------------

void neighbor_cache::hold_addresses(std::size_t count) {
    if (count <= address_count_) return;
    address_states_.reset(new std::atomic<std::uint8_t>[count]);
    for (std::size_t i = 0; i < count; ++i) address_states_[i].store(0, std::memory_order_relaxed);
    address_count_ = count;
}

// A seqlock over the whole array, with one writer: readers retry while it is odd or moved.
void neighbor_cache::publish_addresses(std::span<const std::uint8_t> states) {
    assert(states.size() <= address_count_);
    const std::uint64_t seq = addresses_seq_.load(std::memory_order_relaxed);
    addresses_seq_.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    for (std::size_t i = 0; i < states.size(); ++i) address_states_[i].store(states[i], std::memory_order_relaxed);
    addresses_seq_.store(seq + 2, std::memory_order_release);
}

std::uint64_t neighbor_cache::read_addresses(std::span<std::uint8_t> out) const {
    assert(out.size() <= address_count_);
    for (;;) {
        const std::uint64_t before = addresses_seq_.load(std::memory_order_acquire);
        if (before & 1) continue;
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = address_states_[i].load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (addresses_seq_.load(std::memory_order_relaxed) == before) return before;
    }
}

} // namespace tern
