// What the engines of a port share about the link: the neighbors' MACs, IPv4 and IPv6, and
// the state of our IPv6 addresses.
//
// Neighbors are written rarely (an ARP packet arrives on whichever queue the NIC picks; a
// Neighbor Advertisement on engine 0) and read on every send: so fixed open-addressed tables
// whose slots are seqlocks. Readers never block and never write shared memory; writers take
// a slot's sequence odd with a CAS. No entry is ever removed, only refreshed or left to
// expire, so a probe chain never breaks.
//
// Our IPv6 addresses go through duplicate address detection on one engine (engine 0, which
// Neighbor Discovery is steered to); it publishes their states here, and the other engines
// take them up when the version moves (addresses_version).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "tern/addr.hpp"
#include "tern/time.hpp"

namespace tern {

struct neighbor {
    ipv4_addr ip;
    mac_addr mac;
    instant expires;   // instant::max() for static entries
    bool is_static = false;
};

class neighbor_cache {
public:
    explicit neighbor_cache(std::size_t capacity = 1024);

    // The entry for `ip` if it is known and not expired at `now`.
    std::optional<mac_addr> lookup(ipv4_addr ip, instant now) const;
    // The same, with the instant the entry expires (for a reader that keeps a copy).
    struct hit {
        mac_addr mac;
        instant expires;
    };
    std::optional<hit> lookup_entry(ipv4_addr ip, instant now) const;
    // Learns or refreshes an entry. A static entry is never replaced by a learned one.
    // Returns false when the table is full (counted by the caller).
    bool update(ipv4_addr ip, mac_addr mac, instant expires, bool is_static = false);
    // Every entry that has a MAC (expired ones too), for listings.
    std::vector<neighbor> entries() const;
    // Bumped by every update: engines with resolutions in flight poll it.
    std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

    // The same for IPv6 neighbors, as many as IPv4's capacity, with a version of their own.
    std::optional<hit> lookup_entry(const ipv6_addr& ip, instant now) const;
    bool update(const ipv6_addr& ip, mac_addr mac, instant expires);
    // An entry for ip without a MAC yet, so that whoever learns one takes it (RFC 4861
    // §7.2.5: an advertisement updates only an entry that exists): an engine soliciting ip
    // claims it first, whichever engine the answer reaches. False when the table is full.
    bool claim(const ipv6_addr& ip);
    // Whether there is an entry for ip, with a MAC or claimed, expired or not.
    bool holds(const ipv6_addr& ip) const;
    struct neighbor6 {
        ipv6_addr ip;
        mac_addr mac;
        instant expires;
    };
    std::vector<neighbor6> entries6() const;
    std::uint64_t version6() const { return version6_.load(std::memory_order_acquire); }

    // Our IPv6 addresses' states (address_state as bytes, in neighbor_discovery::addresses()'s
    // order), written by the engine that runs detection and read by the others. Sized once,
    // before the engines run (hold_addresses, by each engine's constructor).
    void hold_addresses(std::size_t count);
    void publish_addresses(std::span<const std::uint8_t> states);
    // The states into `out` (hold_addresses' count of them); returns the version read.
    std::uint64_t read_addresses(std::span<std::uint8_t> out) const;
    std::uint64_t addresses_version() const { return addresses_seq_.load(std::memory_order_acquire); }

private:
    // What both families' slots hold beside the key.
    struct entry {
        std::atomic<std::uint32_t> seq{0};   // odd while a writer is inside
        std::atomic<std::uint64_t> mac{0};   // 48 bits of MAC, bit 63: static
        std::atomic<std::int64_t> expires{0}; // ns; 0: no MAC yet
    };
    struct slot : entry {
        std::atomic<std::uint32_t> ip{0}; // 0: free; set once, never cleared
    };
    // 16 bytes cannot be set with one CAS: a writer takes the slot free -> claiming with a
    // CAS, stores the key, then marks it keyed. A reader passes a slot being claimed by (the
    // address has no MAC yet); a writer waits the two stores for it to be keyed.
    enum key_state : std::uint32_t { free_slot, claiming, keyed };
    struct slot6 : entry {
        std::atomic<std::uint32_t> state{free_slot};
        std::atomic<std::uint64_t> key[2] = {};
    };
    struct snapshot {
        std::uint64_t mac;
        std::int64_t expires;
    };

    std::size_t home(ipv4_addr ip) const;
    std::size_t home(const ipv6_addr& ip) const;
    slot* find_or_claim(ipv4_addr ip);
    const slot* find(ipv4_addr ip) const;
    slot6* find_or_claim(const ipv6_addr& ip);
    const slot6* find(const ipv6_addr& ip) const;
    static bool key_is(const slot6& s, const ipv6_addr& ip);
    static snapshot read(const entry& s);
    static void write(entry& s, mac_addr mac, instant expires, bool is_static);
    static std::optional<hit> live(const entry& s, instant now);

    std::unique_ptr<slot[]> slots_;
    std::unique_ptr<slot6[]> slots6_;
    std::size_t mask_;
    std::atomic<std::uint64_t> version_{0};
    std::atomic<std::uint64_t> version6_{0};
    std::unique_ptr<std::atomic<std::uint8_t>[]> address_states_;
    std::size_t address_count_ = 0;
    std::atomic<std::uint64_t> addresses_seq_{0}; // odd while the states are written
};

} // namespace tern
