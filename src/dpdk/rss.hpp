// Receive-side scaling in software: the Toeplitz hash a NIC computes for
// RTE_ETH_RSS_NONFRAG_IPV4_TCP, the redirection table (RETA) that maps a hash to an engine,
// and per-engine ephemeral port pools whose replies hash home (DESIGN.md "Flow steering
// across cores": an active open picks its port so the reply lands on the opening engine;
// software steering hands a packet to the engine the same hash names).
//
// Here, in src/dpdk beside port.cpp, because the port programs the key and the table into
// the NIC, and the layers above (core's steering, tcp's port choice) must compute exactly
// what it does: one definition of the key for both.
//
// Everything is set up once (control path, errors returned) and then only read:
// toeplitz::hash and redirection_table::engine_of are safe to call from every engine at once.
#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <rte_ethdev.h>

#include "tern/addr.hpp"
#include "tern/result.hpp"

namespace tern::rss {

// tern's key: one 16-bit pattern repeated. A Toeplitz key of period 16 bits hashes
// (a, b, pa, pb) and (b, a, pb, pa) alike, so both directions of a flow land on one queue
// (Woo & Park, "Scalable TCP session monitoring with symmetric receive-side scaling", 2012).
//
// The price: with a 16-bit period every 16-bit word of the input meets the same key window,
// so the hash is a function of the XOR of the tuple's six 16-bit words only, 65,536 values
// at most. Plenty to pick among engines by the low bits; a poor hash for a flow table
// (flows whose words XOR alike collide in all 32 bits).
constexpr std::uint8_t symmetric_key_byte(std::size_t i) { return i % 2 == 0 ? 0x6d : 0x5a; }

// The longest key among the NICs we know (i40e, ice: 52 bytes; ixgbe, mlx5: 40).
inline constexpr std::size_t key_len_max = 52;
// What the IPv4 + TCP hash reads of a key: input bit i (of 96) takes the 32 key bits from
// bit i on ("shift K left 1 bit" per input bit), so key bits 0..126: 16 bytes. A longer key
// hashes IPv4 TCP as its first 16 bytes do; 40 or 52 bytes matter for IPv6 only.
inline constexpr std::size_t key_len_min = 16;
// The IPv6 + TCP hash's input is 288 bits (two addresses of 16 bytes, two ports): key bits
// 0..318, 40 bytes.
inline constexpr std::size_t key_len_ipv6 = 40;

constexpr std::array<std::uint8_t, key_len_max> symmetric_key() {
    std::array<std::uint8_t, key_len_max> k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = symmetric_key_byte(i);
    return k;
}

// One IPv4 TCP packet's 4-tuple as the packet carries it: src is the sender. Host order,
// as everywhere in tern; the hash reads the fields in network order as the NIC does.
struct ipv4_tuple {
    ipv4_addr src;
    ipv4_addr dst;
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
};

// The same for IPv6 TCP (RTE_ETH_RSS_NONFRAG_IPV6_TCP).
struct ipv6_tuple {
    ipv6_addr src;
    ipv6_addr dst;
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
};

enum class error : std::uint8_t {
    key_too_short,              // fewer than key_len_min bytes
    no_engines,                 // 0 engines
    reta_size_not_power_of_two, // 0, or not a power of two (NICs index the RETA by the hash's low bits)
    reta_too_large,             // more than reta_size_max entries
    reta_smaller_than_engines,  // some engine would own no entry, and so no flow
    empty_port_range,           // no port to share out, or a range that runs past 65535
    no_ipv6_key,                // an IPv6 port pool from a key shorter than key_len_ipv6
};
std::string_view to_string(error e);

// The Toeplitz hash of the IPv4 TCP 4-tuple under one key (Microsoft's "RSS hashing
// functions", ComputeHash over SourceAddress, DestinationAddress, SourcePort,
// DestinationPort in packet order): what the NIC reports in mbuf hash.rss.
//
// Table-driven: for each input byte, the XOR of the key windows of its set bits for all 256
// values, so a hash is a load a byte (12 for IPv4, 36 for IPv6) and their XOR. A byte's
// table depends on its position only, so IPv4 reads the first 12 of IPv6's 36: 12 KiB
// for IPv4, 36 KiB in all with a key long enough for IPv6. Read-only after make(), shared
// by every engine.
class toeplitz {
public:
    static result<toeplitz, error> make(std::span<const std::uint8_t> key);
    // tern's symmetric key (never fails: it is long enough).
    static toeplitz symmetric();

    std::uint32_t hash(const ipv4_tuple& t) const {
        const std::uint32_t s = t.src.value, d = t.dst.value;
        return table_[0][s >> 24] ^ table_[1][(s >> 16) & 0xff] ^ table_[2][(s >> 8) & 0xff] ^
               table_[3][s & 0xff] ^ table_[4][d >> 24] ^ table_[5][(d >> 16) & 0xff] ^
               table_[6][(d >> 8) & 0xff] ^ table_[7][d & 0xff] ^ table_[8][t.src_port >> 8] ^
               table_[9][t.src_port & 0xff] ^ table_[10][t.dst_port >> 8] ^ table_[11][t.dst_port & 0xff];
    }

    // Whether the key was long enough for IPv6 (key_len_ipv6 bytes).
    bool has_ipv6() const { return has_ipv6_; }
    // The Toeplitz hash of the IPv6 TCP 4-tuple: the addresses' bytes in packet order, then
    // the ports, as for IPv4. Only with has_ipv6().
    std::uint32_t hash(const ipv6_tuple& t) const {
        assert(has_ipv6_);
        std::uint32_t h = table_[32][t.src_port >> 8] ^ table_[33][t.src_port & 0xff] ^ table_[34][t.dst_port >> 8] ^
                          table_[35][t.dst_port & 0xff];
        for (std::size_t i = 0; i < 16; ++i) h ^= table_[i][t.src.bytes[i]] ^ table_[16 + i][t.dst.bytes[i]];
        return h;
    }

    static constexpr std::size_t memory_bytes() { return sizeof(table_); }

private:
    toeplitz() = default;
    alignas(64) std::array<std::array<std::uint32_t, 256>, 36> table_{};
    bool has_ipv6_ = false;
};

// The redirection table: entry hash % size (the hash's low log2(size) bits, as every NIC
// indexes it) names the queue, and queue e is engine e's (one RX queue per engine, port.hpp).
//
// port.cpp programs no RETA today: each driver keeps its own default. ixgbe's (and txgbe's,
// ngbe's, fm10k's) is 128 entries, i -> queue i % queues, the same as round_robin(128, N);
// vmxnet3's is 4 x queues entries, not a power of two for 3 queues. A port that steers by
// this table must program it (rte_eth_dev_rss_reta_update with reta_update_entries(), size
// from rte_eth_dev_info::reta_size) so that software and NIC agree; software steering on a
// port without RSS may use any power-of-two size at least the engine count.
class redirection_table {
public:
    // rte_eth_dev_info::reta_size is 16 bits; the NICs we know report 64 to 512.
    static constexpr std::uint32_t reta_size_max = 1u << 15;

    // Entry i -> engine i % engines. With engines not a power of two the engines below
    // size % engines own one entry more than the others (512 entries over 3 engines: 171,
    // 171, 170; 128 over 3: 43, 43, 42), and so that much more of the flows.
    static result<redirection_table, error> round_robin(std::uint32_t size, std::uint16_t engines);

    std::uint16_t engine_of(std::uint32_t hash) const { return entries_[hash & mask_]; }
    std::uint32_t size() const { return std::uint32_t(entries_.size()); }
    std::uint16_t engines() const { return engines_; }
    std::span<const std::uint16_t> entries() const { return entries_; }
    // The table in the form rte_eth_dev_rss_reta_update takes: one group of 64 per 64
    // entries, every entry's mask bit set.
    std::vector<rte_eth_rss_reta_entry64> reta_update_entries() const;

private:
    redirection_table() = default;
    std::vector<std::uint16_t> entries_;
    std::uint32_t mask_ = 0;
    std::uint16_t engines_ = 0;
};

// A range of local ports: [first, first + count).
struct port_range {
    std::uint16_t first = 0;
    std::uint32_t count = 0;
};
// tern's ephemeral ports (tcp::ephemeral_port_first, tcp::ephemeral_port_count).
port_range ephemeral_range();

// The ports of a range, shared out among engines for one (local ip, remote ip, remote port):
// engine e's ports are those whose reply, (remote ip, local ip, remote port, local port) as
// the receiving side sees it, hashes to an entry of e. Every port of the range is in exactly
// one engine's list; each list ascends. A list may be empty (a key whose hash does not vary
// with the port in its low bits): that engine then has no port for this triple, and the
// caller must not fall back to another engine's. The lists hold only where the port hashes
// the 4-tuple (RTE_ETH_RSS_NONFRAG_IPV4_TCP, or _IPV6_TCP for IPv6): a port that hashes the
// addresses alone puts every port of a triple on one queue, whatever they say.
//
// Built once per (local, remote, remote port) triple and then only read: of(e) is a span,
// O(1). Memory: 2 bytes a port of the range plus 4 bytes an engine, whatever the engine
// count — tern's 28,232 ephemeral ports take 56,464 bytes + 4 (engines + 1), shared by every
// engine. Building it hashes every port once (28,232 hashes).
class port_pool {
public:
    static result<port_pool, error> make(const toeplitz& hash, const redirection_table& reta, ipv4_addr local,
                                         ipv4_addr remote, std::uint16_t remote_port,
                                         port_range range = ephemeral_range());
    // The same over IPv6; no_ipv6_key when `hash` has no IPv6 tables (toeplitz::has_ipv6).
    static result<port_pool, error> make(const toeplitz& hash, const redirection_table& reta, ipv6_addr local,
                                         ipv6_addr remote, std::uint16_t remote_port,
                                         port_range range = ephemeral_range());

    std::span<const std::uint16_t> of(std::uint16_t engine) const {
        assert(engine < engines());
        return std::span(ports_).subspan(starts_[engine], starts_[engine + 1] - starts_[engine]);
    }
    std::uint16_t engines() const { return std::uint16_t(starts_.size() - 1); }
    std::size_t memory_bytes() const {
        return ports_.size() * sizeof(std::uint16_t) + starts_.size() * sizeof(std::uint32_t);
    }

private:
    port_pool() = default;
    // Both families' make: `owner(port)` is the engine that port's reply hashes to.
    template <class Owner>
    static result<port_pool, error> share_out(std::uint16_t engines, port_range range, Owner owner);

    std::vector<std::uint16_t> ports_;  // grouped by engine, ascending within each
    std::vector<std::uint32_t> starts_; // engine e's ports are ports_[starts_[e], starts_[e + 1])
};

} // namespace tern::rss
