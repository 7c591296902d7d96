// Software flow steering between a process's engines (DESIGN.md "Flow steering across
// cores"): every TCP packet belongs to the engine its 4-tuple's hash names, whichever queue
// it arrived on. A port without RSS (TAP, memif, ring) spreads packets by its own rule or
// not at all, and a NIC's RSS may disagree with tern's table; the engine that receives a
// packet it does not own hands it to the owner over a single-producer, single-consumer ring.
//
// The hash is rss::toeplitz under tern's symmetric key, the one port.cpp gives a NIC with
// RSS, so the NIC's hash (mbuf hash.rss) and the software one agree, and the ports an active
// open picks from rss::port_pool come home. The redirection table shares its entries out
// round robin.
//
// Built once before the engines run and then only read, except the rings, each of which has
// exactly one producer (engine `from`) and one consumer (engine `to`).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dpdk/rss.hpp"
#include "tern/result.hpp"

struct rte_ring;

namespace tern {

class steering {
public:
    // Redirection table entries: a power of two, at least the engine count; 128 is what
    // most NICs use (rss.hpp).
    static constexpr std::uint32_t table_size = 128;
    // Slots of each ring: a few full RX bursts of every other engine's traffic.
    static constexpr std::uint32_t default_ring_size = 1024;

    // For `engines` engines (2 or more), with rings of `ring_size` packets (a power of two)
    // and a redirection table of `entries` (the port's, when it programmed one: the NIC and
    // the software then agree on every flow; port::redirection_entries).
    static result<std::unique_ptr<steering>, std::string> create(std::uint16_t engines,
                                                                  std::uint32_t ring_size = default_ring_size,
                                                                  std::uint32_t entries = table_size);
    ~steering();
    steering(const steering&) = delete;
    steering& operator=(const steering&) = delete;

    // The engine that owns the flow of a packet that came from `src`:`src_port` to
    // `dst`:`dst_port`; the reply's tuple names the same engine (symmetric key).
    std::uint16_t owner(const rss::ipv4_tuple& t) const { return reta_.engine_of(hash_.hash(t)); }
    std::uint16_t owner(const rss::ipv6_tuple& t) const { return reta_.engine_of(hash_.hash(t)); }
    // The same from a hash the NIC computed under tern's key.
    std::uint16_t owner_of_hash(std::uint32_t hash) const { return reta_.engine_of(hash); }

    std::uint16_t engines() const { return reta_.engines(); }
    // Engine `from`'s packets for engine `to` (from != to).
    rte_ring* ring(std::uint16_t from, std::uint16_t to) const { return rings_[std::size_t(from) * engines() + to]; }
    const rss::toeplitz& hash() const { return hash_; }
    const rss::redirection_table& table() const { return reta_; }

private:
    steering(rss::toeplitz hash, rss::redirection_table reta) : hash_(std::move(hash)), reta_(std::move(reta)) {}

    rss::toeplitz hash_;
    rss::redirection_table reta_;
    std::vector<rte_ring*> rings_; // engines x engines, from-major; the diagonal is null
};

} // namespace tern
