// IPv4 -> MAC entries shared by every engine of a port. Written rarely (an ARP packet
// arrives on whichever queue the NIC picks), read on every send: so a fixed open-addressed
// table whose slots are seqlocks. Readers never block and never write shared memory;
// writers take a slot's sequence odd with a CAS. No entry is ever removed, only
// refreshed or left to expire, so a probe chain never breaks.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
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

private:
    struct slot {
        std::atomic<std::uint32_t> seq{0};   // odd while a writer is inside
        std::atomic<std::uint32_t> ip{0};    // 0: free; set once, never cleared
        std::atomic<std::uint64_t> mac{0};   // 48 bits of MAC, bit 63: static
        std::atomic<std::int64_t> expires{0}; // ns; 0: no MAC yet
    };
    struct snapshot {
        std::uint64_t mac;
        std::int64_t expires;
    };

    std::size_t home(ipv4_addr ip) const;
    slot* find_or_claim(ipv4_addr ip);
    const slot* find(ipv4_addr ip) const;
    static snapshot read(const slot& s);

    std::unique_ptr<slot[]> slots_;
    std::size_t mask_;
    std::atomic<std::uint64_t> version_{0};
};

} // namespace tern
