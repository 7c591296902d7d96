#include "dpdk/rss.hpp"

#include <bit>

#include "tern/tcp.hpp"

namespace tern::rss {

std::string_view to_string(error e) {
    switch (e) {
    case error::key_too_short: return "RSS key shorter than the 16 bytes an IPv4 TCP hash reads";
    case error::no_engines: return "no engines to spread over";
    case error::reta_size_not_power_of_two: return "redirection table size is not a power of two";
    case error::reta_too_large: return "redirection table larger than 32768 entries";
    case error::reta_smaller_than_engines: return "redirection table has fewer entries than there are engines";
    case error::empty_port_range: return "port range is empty or runs past 65535";
    case error::no_ipv6_key: return "RSS key shorter than the 40 bytes an IPv6 TCP hash reads";
    }
    return "?";
}

// ---- toeplitz ---------------------------------------------------------------------------

// Microsoft, "RSS hashing functions": for each input bit from the left, if it is 1 the
// result is XORed with the leftmost 32 bits of K, then K shifts left by one. So input bit n
// (0 = the most significant bit of the first byte) contributes key bits n..n+31 when set,
// whatever the other bits are: the hash is linear, and a byte's contribution depends only on
// its position and value. table_[p][v] is that contribution for value v at byte p.
result<toeplitz, error> toeplitz::make(std::span<const std::uint8_t> key) {
    if (key.size() < key_len_min) return unexpected{error::key_too_short};
    auto key_bit = [&](std::size_t n) { return std::uint32_t(key[n / 8] >> (7 - n % 8)) & 1u; };
    auto window = [&](std::size_t n) {
        std::uint32_t w = 0;
        for (std::size_t b = 0; b < 32; ++b) w = (w << 1) | key_bit(n + b);
        return w;
    };
    toeplitz t;
    t.has_ipv6_ = key.size() >= key_len_ipv6;
    // Byte p's last bit reads key bits up to 8p + 38: as far as the key reaches.
    const std::size_t bytes = t.has_ipv6_ ? t.table_.size() : 12;
    for (std::size_t p = 0; p < bytes; ++p) {
        std::array<std::uint32_t, 8> bit_window; // [j]: the window of the byte's bit j from its top
        for (std::size_t j = 0; j < 8; ++j) bit_window[j] = window(8 * p + j);
        for (std::uint32_t v = 0; v < 256; ++v) {
            std::uint32_t h = 0;
            for (std::size_t j = 0; j < 8; ++j)
                if (v & (0x80u >> j)) h ^= bit_window[j];
            t.table_[p][v] = h;
        }
    }
    return t;
}

toeplitz toeplitz::symmetric() {
    static constexpr auto key = symmetric_key();
    return std::move(make(key).value());
}

// ---- redirection_table ------------------------------------------------------------------

result<redirection_table, error> redirection_table::round_robin(std::uint32_t size, std::uint16_t engines) {
    if (engines == 0) return unexpected{error::no_engines};
    if (!std::has_single_bit(size)) return unexpected{error::reta_size_not_power_of_two};
    if (size > reta_size_max) return unexpected{error::reta_too_large};
    if (size < engines) return unexpected{error::reta_smaller_than_engines};
    redirection_table r;
    r.entries_.resize(size);
    for (std::uint32_t i = 0; i < size; ++i) r.entries_[i] = std::uint16_t(i % engines);
    r.mask_ = size - 1;
    r.engines_ = engines;
    return r;
}

std::vector<rte_eth_rss_reta_entry64> redirection_table::reta_update_entries() const {
    std::vector<rte_eth_rss_reta_entry64> groups((size() + RTE_ETH_RETA_GROUP_SIZE - 1) / RTE_ETH_RETA_GROUP_SIZE);
    for (std::uint32_t i = 0; i < size(); ++i) {
        rte_eth_rss_reta_entry64& g = groups[i / RTE_ETH_RETA_GROUP_SIZE];
        g.mask |= std::uint64_t(1) << (i % RTE_ETH_RETA_GROUP_SIZE);
        g.reta[i % RTE_ETH_RETA_GROUP_SIZE] = entries_[i];
    }
    return groups;
}

// ---- port_pool --------------------------------------------------------------------------

port_range ephemeral_range() { return port_range{tcp::ephemeral_port_first, tcp::ephemeral_port_count}; }

template <class Owner>
result<port_pool, error> port_pool::share_out(std::uint16_t engines, port_range range, Owner owner) {
    if (range.count == 0 || std::uint32_t(range.first) + range.count > 65536u)
        return unexpected{error::empty_port_range};
    // Two passes, counting then placing, so each engine's ports lie together and ascend.
    std::vector<std::uint16_t> owners(range.count);
    std::vector<std::uint32_t> starts(std::size_t(engines) + 1, 0);
    for (std::uint32_t i = 0; i < range.count; ++i) {
        owners[i] = owner(std::uint16_t(range.first + i));
        ++starts[owners[i] + 1];
    }
    for (std::uint16_t e = 0; e < engines; ++e) starts[e + 1] += starts[e];
    port_pool pool;
    pool.ports_.resize(range.count);
    std::vector<std::uint32_t> next(starts.begin(), starts.end() - 1);
    for (std::uint32_t i = 0; i < range.count; ++i) pool.ports_[next[owners[i]]++] = std::uint16_t(range.first + i);
    pool.starts_ = std::move(starts);
    return pool;
}

// The reply, as the receiving port hashes it: remote -> local.
result<port_pool, error> port_pool::make(const toeplitz& hash, const redirection_table& reta, ipv4_addr local,
                                         ipv4_addr remote, std::uint16_t remote_port, port_range range) {
    return share_out(reta.engines(), range, [&](std::uint16_t port) {
        return reta.engine_of(hash.hash(ipv4_tuple{remote, local, remote_port, port}));
    });
}

result<port_pool, error> port_pool::make(const toeplitz& hash, const redirection_table& reta, ipv6_addr local,
                                         ipv6_addr remote, std::uint16_t remote_port, port_range range) {
    if (!hash.has_ipv6()) return unexpected{error::no_ipv6_key};
    return share_out(reta.engines(), range, [&](std::uint16_t port) {
        return reta.engine_of(hash.hash(ipv6_tuple{remote, local, remote_port, port}));
    });
}

} // namespace tern::rss
