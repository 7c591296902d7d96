// Per-engine counters. Each engine writes only its own; telemetry reads them from another
// thread, so they are relaxed atomics written by a single writer (no locked instruction).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "tern/counter.hpp"
#include "tern/drop_reason.hpp"

namespace tern {

// X(name): what the engine did, as opposed to what it dropped (drop_reason).
#define TERN_ENGINE_COUNTERS(X)                                                              \
    X(rx_packets) X(rx_bytes) X(tx_packets) X(tx_bytes)                                     \
    X(tx_deferred)           /* packets the NIC refused in a round with its link up, kept */ \
    X(tx_deferred_link_down) /* the same while its link was down (memif: no peer yet)     */ \
    X(arp_requests_in) X(arp_replies_in) X(arp_requests_out) X(arp_replies_out)              \
    X(arp_gratuitous_out) X(arp_resolved) X(arp_failed) X(arp_cache_full)                    \
    X(icmp_echo_requests_in) X(icmp_echo_replies_out)                                        \
    X(icmpv6_echo_requests_in) X(icmpv6_echo_replies_out)                                    \
    X(nd_solicitations_in) X(nd_advertisements_in) X(nd_solicitations_out) X(nd_advertisements_out) \
    X(nd_cache_full) /* an IPv6 neighbor not learned or claimed: the shared table is full */  \
    X(ipv6_duplicate_addresses) /* addresses of ours another node has (RFC 4862 §5.4): unused */ \
    X(icmp_unreachable_in) /* destination unreachable quoting our TCP, handed to the endpoint */ \
    X(icmpv6_packet_too_big_in) /* Packet Too Big quoting our TCP, handed to the endpoint (RFC 8201) */ \
    X(icmp_time_exceeded_out) /* reassembly timed out with fragment zero in (RFC 1122 §3.3.2) */ \
    X(ipv4_fragments_in)        /* fragments received, kept or dropped (ipv4_reassembly.hpp) */ \
    X(ipv4_reassembled)         /* datagrams made whole from them                           */ \
    X(ipv4_reassembly_timeouts) /* datagrams given up after reassembly.timeout               */ \
    X(ipv4_reassembly_evicted)  /* the oldest datagram given up for a new one: table full    */ \
    X(timers_fired) X(loops)                                                                 \
    X(rx_budget_spent) /* rounds that read all of engine_config::rx_bursts full: behind on input */ \
    X(stalls)     /* rounds that began 1 ms or more after the one before (engine::count_stall) */ \
    X(stalled_us) /* and the time between, summed                                        */ \
    X(steered_out) /* packets handed to the engine that owns them (steering.hpp)         */ \
    X(steered_in)  /* and taken from the other engines, for this one                      */ \
    X(rss_hash_mismatch) /* the NIC's RSS hash differed from tern's: software hash from then on */

struct engine_stats {
#define TERN_COUNTER_FIELD(name) counter name;
    TERN_ENGINE_COUNTERS(TERN_COUNTER_FIELD)
#undef TERN_COUNTER_FIELD
    std::array<counter, drop_reason_count> drops;

    void drop(drop_reason r, std::uint64_t n = 1) { drops[std::size_t(r)].add(n); }
    std::uint64_t dropped(drop_reason r) const { return drops[std::size_t(r)].get(); }
    std::uint64_t dropped_total() const {
        std::uint64_t sum = 0;
        for (auto& d : drops) sum += d.get();
        return sum;
    }

    // Every counter by name, drops as "drop_<reason>"; for telemetry and summaries.
    std::vector<std::pair<std::string_view, std::uint64_t>> snapshot() const {
        std::vector<std::pair<std::string_view, std::uint64_t>> out;
#define TERN_COUNTER_SNAP(name) out.emplace_back(#name, name.get());
        TERN_ENGINE_COUNTERS(TERN_COUNTER_SNAP)
#undef TERN_COUNTER_SNAP
#define TERN_DROP_SNAP(name, text) out.emplace_back("drop_" #name, dropped(drop_reason::name));
        TERN_DROP_REASONS(TERN_DROP_SNAP)
#undef TERN_DROP_SNAP
        return out;
    }
};

} // namespace tern
