// Neighbor Discovery for a host's own addresses (RFC 4861 §7) and duplicate address
// detection (RFC 4862 §5.4): which IPv6 destinations are ours, which Neighbor
// Solicitations and Advertisements are valid, what to answer and what to learn from them,
// and the detection's solicitations, verdicts and the advertisements that follow it.
// No I/O and no clock of its own: the engine hands it parsed messages and the time, and
// sends what it gets back; the neighbor cache (what a learned address becomes) is the
// engine's.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "tern/addr.hpp"
#include "tern/drop_reason.hpp"
#include "tern/result.hpp"
#include "tern/time.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv6.hpp"

namespace tern {

namespace nd_constants {
inline constexpr duration retrans_timer = std::chrono::seconds(1); // RFC 4861 §10 RETRANS_TIMER
inline constexpr unsigned dad_transmits = 1;                       // RFC 4862 §5.1 DupAddrDetectTransmits
inline constexpr unsigned unsolicited_advertisements = 3;          // RFC 4861 §10 MAX_NEIGHBOR_ADVERTISEMENT
inline constexpr std::uint8_t hop_limit = 255;                      // RFC 4861 §7.1: on every NS and NA
inline constexpr unsigned max_multicast_solicit = 3;               // RFC 4861 §10 MAX_MULTICAST_SOLICIT
} // namespace nd_constants

// RFC 4862 §5.4: an address is tentative until detection finds no other node using it;
// a duplicate one is never used.
enum class address_state : std::uint8_t { tentative, preferred, duplicate };

struct interface_address {
    ipv6_cidr cidr;
    address_state state = address_state::tentative;
    unsigned solicitations_sent = 0; // detection's
    unsigned advertisements_left = 0; // unsolicited ones still to send once preferred
    instant next{};                   // when the next of those is due
};

// An NS or NA to send: the IPv6 source and destination, the message, and the Ethernet
// destination when it is known without resolution (a multicast group's, or the
// solicitor's own link-layer address).
struct nd_send {
    ipv6_addr src;
    ipv6_addr dst;
    wire::nd_repr message;
    std::optional<mac_addr> eth_dst;
};

// What one valid NS or NA leads to.
struct nd_outcome {
    std::optional<nd_send> reply;
    // A neighbor's link-layer address: from an NS's source (RFC 4861 §7.2.3, the entry
    // made or updated), or an NA's target (§7.2.5, for the cache to take if it has an
    // entry waiting or known for it).
    std::optional<std::pair<ipv6_addr, mac_addr>> learned;
    // One of our tentative addresses is in use elsewhere (RFC 4862 §5.4.3, §5.4.4): it is
    // now duplicate and never used.
    std::optional<ipv6_addr> duplicate;
};

class neighbor_discovery {
public:
    // Our addresses: the link-local one made from `mac` (RFC 4862 §5.3), then `configured`.
    // With `detect_duplicates` false they are preferred at once (RFC 4862 §5.4:
    // DupAddrDetectTransmits 0).
    neighbor_discovery(mac_addr mac, std::span<const ipv6_cidr> configured, bool detect_duplicates = true);

    const std::vector<interface_address>& addresses() const { return addresses_; }
    const mac_addr& mac() const { return mac_; }
    // A preferred address of ours: the only ones packets may come to and go from.
    bool is_ours(const ipv6_addr& a) const;
    // RFC 4861 §5.2: dst is on-link when link-local or on a prefix of one of our addresses.
    bool on_link(const ipv6_addr& dst) const;
    // RFC 4291 §2.8 and RFC 4862 §5.4.2: a host receives at its preferred unicast
    // addresses, all-nodes (ff02::1) and the solicited-node group of each address,
    // tentative ones included (detection listens there).
    bool accepts(const ipv6_addr& dst) const;
    // The address to send to `dst` from: link-local for a link-local destination, else
    // a preferred address whose prefix holds it, else the first preferred global one.
    std::optional<ipv6_addr> source_for(const ipv6_addr& dst) const;

    // `ip` and `icmp` are the packet the message came in; drop reasons nd_invalid,
    // nd_not_for_us, nd_tentative.
    result<nd_outcome, drop_reason> on_solicitation(const wire::ipv6_view& ip, const wire::icmp_view& icmp,
                                                    const wire::nd_message& ns);
    result<nd_outcome, drop_reason> on_advertisement(const wire::ipv6_view& ip, const wire::icmp_view& icmp,
                                                     const wire::nd_message& na);

    // Detection's solicitations and the unsolicited advertisements due at `now`, in order;
    // tentative addresses that waited RetransTimer after their last solicitation become
    // preferred here.
    std::vector<nd_send> poll(instant now);
    // When poll has something to do next; nothing when nothing is left to do.
    std::optional<instant> next_deadline() const;

    // With several engines detection runs on one (engine 0); the others take its verdicts.
    // The addresses' states as bytes (address_state), in addresses()'s order:
    std::vector<std::uint8_t> states() const;
    // ... and another instance's states taken as ours (of the same addresses).
    void adopt(std::span<const std::uint8_t> states);

    // RFC 4861 §7.2.2: the solicitation that resolves `target` to its MAC, from `src` (ours)
    // to the target's solicited-node group, with our MAC in it; from :: (src unspecified),
    // detection's, without it (RFC 4862 §5.4.2).
    nd_send solicitation(const ipv6_addr& target, const ipv6_addr& src) const;

private:
    // A prefix as two masked words in memory order: on_link tests one on every send.
    struct prefix_words {
        std::uint64_t net[2] = {}, mask[2] = {};
        explicit prefix_words(const ipv6_cidr& c);
        bool contains(const ipv6_addr& a) const;
    };

    interface_address* find(const ipv6_addr& a);
    // After any address changes state: preferred_ anew.
    void refresh_preferred();
    void add_preferred(const ipv6_addr& a);
    nd_send advertisement(const ipv6_addr& target, const ipv6_addr& dst, bool solicited,
                          std::optional<mac_addr> eth_dst) const;

    mac_addr mac_;
    std::vector<interface_address> addresses_;
    // The preferred addresses alone, for is_ours (asked for every segment received): with
    // tern-load's source addresses there are a dozen entries, and the scan of addresses_
    // was 4% of an IPv6 connection's instructions. preferred_index_ finds them by a hash of
    // their last word (index_of): 1 + the place in preferred_, 0 for none, `shared` when two
    // or more hash there (those are scanned for).
    std::vector<ipv6_addr> preferred_;
    static constexpr std::uint8_t shared = 0xff;
    std::array<std::uint8_t, 256> preferred_index_{};
    static std::size_t index_of(const ipv6_addr& a);
    // The on-link prefixes of the configured addresses, each once (most configurations
    // have one, however many addresses are on it).
    std::vector<prefix_words> prefixes_;
};

} // namespace tern
