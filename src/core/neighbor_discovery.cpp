#include "core/neighbor_discovery.hpp"

#include <algorithm>
#include <cstring>

namespace tern {

namespace {

const ipv6_addr all_nodes = ipv6_addr::all_nodes();

// RFC 4861 §7.1.1 and §7.1.2, the checks both messages share: the hop limit proves the
// message came from this link (no router forwarded it), and the target is a unicast
// address. The checksum, the length and the options' lengths were checked in parsing.
bool valid_common(const wire::ipv6_view& ip, const wire::icmp_view& icmp, const wire::nd_message& m) {
    return ip.hop_limit() == nd_constants::hop_limit && icmp.code() == 0 && !m.target.is_multicast();
}

} // namespace

neighbor_discovery::neighbor_discovery(mac_addr mac, std::span<const ipv6_cidr> configured, bool detect_duplicates)
    : mac_(mac) {
    const address_state start = detect_duplicates ? address_state::tentative : address_state::preferred;
    const unsigned advertisements = detect_duplicates ? 0 : nd_constants::unsolicited_advertisements;
    addresses_.push_back({ipv6_cidr{ipv6_addr::link_local(mac), 64}, start, 0, advertisements, instant{}});
    for (const ipv6_cidr& c : configured) {
        if (!find(c.addr)) addresses_.push_back({c, start, 0, advertisements, instant{}});
        const prefix_words p(c);
        const bool known = std::any_of(prefixes_.begin(), prefixes_.end(), [&](const prefix_words& q) {
            return q.mask[0] == p.mask[0] && q.mask[1] == p.mask[1] && q.net[0] == p.net[0] && q.net[1] == p.net[1];
        });
        if (!known) prefixes_.push_back(p);
    }
    refresh_preferred();
}

neighbor_discovery::prefix_words::prefix_words(const ipv6_cidr& c) {
    ipv6_addr m;
    for (std::size_t bit = 0; bit < c.prefix_len; bit += 8) {
        const std::size_t n = c.prefix_len - bit < 8 ? c.prefix_len - bit : 8;
        m.bytes[bit / 8] = std::uint8_t(0xff00 >> n);
    }
    std::memcpy(mask, m.bytes.data(), 16);
    std::memcpy(net, c.addr.bytes.data(), 16);
    net[0] &= mask[0];
    net[1] &= mask[1];
}

bool neighbor_discovery::prefix_words::contains(const ipv6_addr& a) const {
    std::uint64_t w[2];
    std::memcpy(w, a.bytes.data(), 16);
    return (((w[0] & mask[0]) ^ net[0]) | ((w[1] & mask[1]) ^ net[1])) == 0;
}

void neighbor_discovery::refresh_preferred() {
    preferred_.clear();
    preferred_index_.fill(0);
    for (const interface_address& i : addresses_)
        if (i.state == address_state::preferred) add_preferred(i.cidr.addr);
}

void neighbor_discovery::add_preferred(const ipv6_addr& a) {
    preferred_.push_back(a);
    std::uint8_t& slot = preferred_index_[index_of(a)];
    slot = slot == 0 && preferred_.size() < shared ? std::uint8_t(preferred_.size()) : shared;
}

// Addresses on one prefix differ in their last bytes: those pick the slot.
std::size_t neighbor_discovery::index_of(const ipv6_addr& a) {
    std::uint32_t w;
    std::memcpy(&w, a.bytes.data() + 12, 4);
    w ^= w >> 16;
    return (w ^ (w >> 8)) & 0xff;
}

interface_address* neighbor_discovery::find(const ipv6_addr& a) {
    for (interface_address& i : addresses_)
        if (i.cidr.addr == a) return &i;
    return nullptr;
}

bool neighbor_discovery::is_ours(const ipv6_addr& a) const {
    const std::uint8_t slot = preferred_index_[index_of(a)];
    if (slot == 0) return false;
    if (slot != shared) return preferred_[slot - 1u] == a;
    return std::find(preferred_.begin(), preferred_.end(), a) != preferred_.end();
}

bool neighbor_discovery::accepts(const ipv6_addr& dst) const {
    if (dst == all_nodes || is_ours(dst)) return true;
    return std::any_of(addresses_.begin(), addresses_.end(), [&](const interface_address& i) {
        return i.state != address_state::duplicate && i.cidr.addr.solicited_node() == dst;
    });
}

bool neighbor_discovery::on_link(const ipv6_addr& dst) const {
    if (dst.is_link_local()) return true;
    return std::any_of(prefixes_.begin(), prefixes_.end(), [&](const prefix_words& p) { return p.contains(dst); });
}

std::optional<ipv6_addr> neighbor_discovery::source_for(const ipv6_addr& dst) const {
    const interface_address* global = nullptr;
    for (const interface_address& i : addresses_) {
        if (i.state != address_state::preferred) continue;
        if (dst.is_link_local() == i.cidr.addr.is_link_local() && i.cidr.contains(dst)) return i.cidr.addr;
        if (!global && !i.cidr.addr.is_link_local()) global = &i;
    }
    if (dst.is_link_local()) return std::nullopt;
    return global ? std::optional(global->cidr.addr) : std::nullopt;
}

result<nd_outcome, drop_reason> neighbor_discovery::on_solicitation(const wire::ipv6_view& ip, const wire::icmp_view& icmp,
                                                                    const wire::nd_message& ns) {
    const bool from_unspecified = ip.src().is_unspecified();
    // RFC 4861 §7.1.1: from the unspecified address (detection), only to a solicited-node
    // group and without a Source Link-Layer Address option.
    if (!valid_common(ip, icmp, ns) || (from_unspecified && (ip.dst() != ns.target.solicited_node() || ns.link_layer)))
        return unexpected{drop_reason::nd_invalid};
    interface_address* target = find(ns.target);
    if (!target || target->state == address_state::duplicate) return unexpected{drop_reason::nd_not_for_us};
    nd_outcome out;
    if (target->state == address_state::tentative) {
        // RFC 4862 §5.4.3: another node is detecting the same address: it is a duplicate
        // (we see none of our own solicitations looped back on a point-to-point port). A
        // solicitation from a node that uses an address is not answered for a tentative one.
        if (!from_unspecified) return unexpected{drop_reason::nd_tentative};
        target->state = address_state::duplicate;
        refresh_preferred();
        out.duplicate = ns.target;
        return out;
    }
    // §7.2.3: learn the solicitor's address, and answer: solicited and overriding (we own
    // the target, §7.2.4) to the solicitor, or, to a node detecting our address, an
    // unsolicited one to all nodes so that it finds the address taken (§7.2.4).
    if (from_unspecified) {
        out.reply = advertisement(ns.target, all_nodes, false, all_nodes.multicast_mac());
        return out;
    }
    if (ns.link_layer) out.learned = std::pair{ip.src(), *ns.link_layer};
    out.reply = advertisement(ns.target, ip.src(), true, ns.link_layer);
    return out;
}

result<nd_outcome, drop_reason> neighbor_discovery::on_advertisement(const wire::ipv6_view& ip, const wire::icmp_view& icmp,
                                                                     const wire::nd_message& na) {
    // RFC 4861 §7.1.2: an advertisement to a multicast group is never a solicited one.
    if (!valid_common(ip, icmp, na) || (ip.dst().is_multicast() && na.solicited())) return unexpected{drop_reason::nd_invalid};
    nd_outcome out;
    if (interface_address* target = find(na.target)) {
        // RFC 4862 §5.4.4: an advertisement for a tentative address of ours means another
        // node has it. One for a preferred address is another node's mistake or a
        // conflict found too late; §5.4.4 leaves that to the operator, and it changes
        // nothing here.
        if (target->state == address_state::tentative) {
            target->state = address_state::duplicate;
            refresh_preferred();
            out.duplicate = na.target;
        }
        return out;
    }
    if (na.link_layer) out.learned = std::pair{na.target, *na.link_layer};
    return out;
}

std::vector<std::uint8_t> neighbor_discovery::states() const {
    std::vector<std::uint8_t> out;
    for (const interface_address& i : addresses_) out.push_back(std::uint8_t(i.state));
    return out;
}

void neighbor_discovery::adopt(std::span<const std::uint8_t> states) {
    for (std::size_t i = 0; i < addresses_.size() && i < states.size(); ++i) addresses_[i].state = address_state(states[i]);
    refresh_preferred();
}

std::vector<nd_send> neighbor_discovery::poll(instant now) {
    std::vector<nd_send> out;
    for (interface_address& i : addresses_) {
        if (i.next > now) continue;
        if (i.state == address_state::tentative) {
            if (i.solicitations_sent < nd_constants::dad_transmits) {
                out.push_back(solicitation(i.cidr.addr, ipv6_addr{}));
                ++i.solicitations_sent;
                i.next = now + nd_constants::retrans_timer;
                continue;
            }
            // RFC 4862 §5.4: RetransTimer after the last solicitation and no answer.
            i.state = address_state::preferred;
            add_preferred(i.cidr.addr);
            i.advertisements_left = nd_constants::unsolicited_advertisements;
        }
        if (i.state == address_state::preferred && i.advertisements_left > 0) {
            // RFC 4861 §7.2.6: a few unsolicited advertisements, RetransTimer apart, so
            // that neighbors with an old entry for the address learn our MAC.
            out.push_back(advertisement(i.cidr.addr, all_nodes, false, all_nodes.multicast_mac()));
            --i.advertisements_left;
            i.next = now + nd_constants::retrans_timer;
        }
    }
    return out;
}

std::optional<instant> neighbor_discovery::next_deadline() const {
    std::optional<instant> next;
    for (const interface_address& i : addresses_) {
        const bool pending = i.state == address_state::tentative ||
                             (i.state == address_state::preferred && i.advertisements_left > 0);
        if (pending && (!next || i.next < *next)) next = i.next;
    }
    return next;
}

// RFC 4861 §4.3: from :: (detection, RFC 4862 §5.4.2) it carries no Source Link-Layer
// Address option; from an address of ours it carries our MAC.
nd_send neighbor_discovery::solicitation(const ipv6_addr& target, const ipv6_addr& src) const {
    const ipv6_addr group = target.solicited_node();
    const std::optional<mac_addr> source = src.is_unspecified() ? std::nullopt : std::optional(mac_);
    return nd_send{src, group, wire::nd_repr{wire::icmpv6_type::neighbor_solicitation, 0, target, source},
                   group.multicast_mac()};
}

// RFC 4861 §7.2.4: from the target address itself, overriding (the address is ours), with
// our MAC in the Target Link-Layer Address option.
nd_send neighbor_discovery::advertisement(const ipv6_addr& target, const ipv6_addr& dst, bool solicited,
                                          std::optional<mac_addr> eth_dst) const {
    const std::uint8_t flags = wire::nd_flag::override | (solicited ? wire::nd_flag::solicited : 0);
    return nd_send{target, dst, wire::nd_repr{wire::icmpv6_type::neighbor_advertisement, flags, target, mac_}, eth_dst};
}

} // namespace tern
